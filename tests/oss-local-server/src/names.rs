//! OSS's naming rules: a bucket is 3 to 63 characters of `a-z`, `0-9` and `-`, neither
//! starting nor ending with `-`; a key is 1 to 1023 bytes and starts with neither `/` nor
//! `\`; buckets here have no versioning, so the one version id there is, is `null`.

use crate::error::OssError;

pub fn check_bucket(name: &str) -> Result<(), OssError> {
    let bytes = name.as_bytes();
    let valid = matches!(bytes.len(), 3..=63)
        && bytes
            .iter()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-');
    valid
        .then_some(())
        .ok_or_else(|| OssError::invalid_bucket_name(name))
}

pub fn check_key(key: &str) -> Result<(), OssError> {
    let valid = (1..=1023).contains(&key.len()) && !key.starts_with(['/', '\\']);
    valid
        .then_some(())
        .ok_or_else(|| OssError::invalid_object_name(key))
}

/// The EC is ours; OSS documents none for this case.
pub fn check_version(version: &str) -> Result<(), OssError> {
    if version == "null" {
        return Ok(());
    }
    Err(
        OssError::invalid_argument("0016-00000903", "Invalid version id specified")
            .detail("ArgumentName", "versionId")
            .detail("ArgumentValue", version),
    )
}
