//! The object model every layer takes from: what an object is (its info and type), what an
//! append returns, the attributes and parameters sent with appends, the values OSS accepts
//! for them, and the checks of names, header values and sizes made before anything is sent.

use crate::error::{Error, ErrorKind, Result};
use std::time::SystemTime;

/// OSS's limit on an appendable object's size.
pub(crate) const MAX_OBJECT_SIZE: u64 = 5 << 30;

/// The values OSS accepts for `x-oss-object-acl`.
pub(crate) const ACLS: &[&str] = &["private", "public-read", "public-read-write", "default"];
/// The values OSS accepts for `x-oss-storage-class`.
pub(crate) const STORAGE_CLASSES: &[&str] = &[
    "Standard",
    "IA",
    "Archive",
    "ColdArchive",
    "DeepColdArchive",
];
/// The values OSS accepts for `x-oss-server-side-encryption`.
pub(crate) const SERVER_SIDE_ENCRYPTIONS: &[&str] = &["AES256", "KMS", "SM4"];

/// Attributes an appendable object gets when an append creates it. OSS ignores them on
/// later appends, so they are sent only while the object does not exist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateParams {
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    pub expires: Option<String>,
    /// User metadata, sent as `x-oss-meta-<name>`.
    pub metadata: Vec<(String, String)>,
    /// `private`, `public-read`, `public-read-write` or `default`.
    pub acl: Option<String>,
    /// `Standard`, `IA`, `Archive`, `ColdArchive` or `DeepColdArchive`.
    pub storage_class: Option<String>,
    /// `k1=v1&k2=v2`, URL-encoded.
    pub tagging: Option<String>,
    /// `AES256`, `KMS` or `SM4`.
    pub server_side_encryption: Option<String>,
    pub server_side_encryption_key_id: Option<String>,
    pub server_side_data_encryption: Option<String>,
}

/// Parameters sent with every append.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestParams {
    /// `requester`, for requester-pays buckets.
    pub request_payer: Option<String>,
    /// Bandwidth limit in bit/s, 245760 to 838860800.
    pub traffic_limit: Option<u64>,
}

impl CreateParams {
    pub(crate) fn validate(&self) -> Result<()> {
        one_of("acl", &self.acl, ACLS)?;
        one_of("storage class", &self.storage_class, STORAGE_CLASSES)?;
        one_of(
            "server-side encryption",
            &self.server_side_encryption,
            SERVER_SIDE_ENCRYPTIONS,
        )?;
        for (name, value) in &self.metadata {
            let token = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !token {
                return Err(Error::invalid_argument(format!(
                    "metadata name {name:?}: use letters, digits, '-', '_' and '.'"
                )));
            }
            header_value(&format!("metadata {name}"), value)?;
        }
        for (what, value) in self.headers() {
            header_value(&what, &value)?;
        }
        Ok(())
    }

    pub(crate) fn headers(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, value) in [
            ("content-type", &self.content_type),
            ("cache-control", &self.cache_control),
            ("content-disposition", &self.content_disposition),
            ("content-encoding", &self.content_encoding),
            ("expires", &self.expires),
            ("x-oss-object-acl", &self.acl),
            ("x-oss-storage-class", &self.storage_class),
            ("x-oss-tagging", &self.tagging),
            ("x-oss-server-side-encryption", &self.server_side_encryption),
            (
                "x-oss-server-side-encryption-key-id",
                &self.server_side_encryption_key_id,
            ),
            (
                "x-oss-server-side-data-encryption",
                &self.server_side_data_encryption,
            ),
        ] {
            if let Some(value) = value {
                out.push((name.to_string(), value.clone()));
            }
        }
        for (name, value) in &self.metadata {
            out.push((
                format!("x-oss-meta-{}", name.to_ascii_lowercase()),
                value.clone(),
            ));
        }
        out
    }
}

impl RequestParams {
    pub(crate) fn validate(&self) -> Result<()> {
        if let Some(limit) = self.traffic_limit {
            if !(245_760..=838_860_800).contains(&limit) {
                return Err(Error::invalid_argument(format!(
                    "traffic limit {limit} bit/s: OSS accepts 245760 to 838860800"
                )));
            }
        }
        if let Some(payer) = &self.request_payer {
            header_value("request payer", payer)?;
        }
        Ok(())
    }
}

fn one_of(what: &str, value: &Option<String>, allowed: &[&str]) -> Result<()> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => Err(Error::invalid_argument(format!(
            "{what} {v:?}: expected one of {}",
            allowed.join(", ")
        ))),
        _ => Ok(()),
    }
}

/// HTTP header values are visible ASCII (and spaces); anything else would be mangled, and a
/// line break would end the header (and could start a request of its own).
pub(crate) fn header_value(what: &str, value: &str) -> Result<()> {
    if value
        .bytes()
        .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
    {
        Ok(())
    } else {
        Err(Error::invalid_argument(format!(
            "{what} {value:?}: header values must be printable ASCII"
        )))
    }
}

/// Bucket: 3..63 of `[a-z0-9-]`, not starting or ending with `-`.
pub(crate) fn validate_bucket(bucket: &str) -> Result<()> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !bucket.starts_with('-')
        && !bucket.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_argument(format!(
            "bucket name {bucket:?}: 3 to 63 of a-z, 0-9 and '-', not starting or ending with '-'"
        )))
    }
}

/// Key: 1..1023 bytes of UTF-8, not starting with `/` or `\`.
pub(crate) fn validate_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > 1023 || key.starts_with('/') || key.starts_with('\\') {
        return Err(Error::invalid_argument(format!(
            "object key {key:?}: 1 to 1023 bytes, not starting with '/' or '\\'"
        )));
    }
    Ok(())
}

/// Options of a single [`Client::append_object`](crate::Client::append_object).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendObjectOptions {
    /// Sent only at position 0.
    pub create: CreateParams,
    pub request: RequestParams,
    /// The object's CRC-64 before this append: when given, the server's CRC of the whole
    /// object afterwards is checked against ours.
    pub previous_crc: Option<u64>,
}

/// What one successful AppendObject returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendResult {
    /// The object's length after the append: the position of the next one.
    pub next_position: u64,
    /// CRC-64 of the whole object after the append.
    pub crc64: u64,
    pub request_id: Option<String>,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    /// CRC-64 of this request's body, computed as the body was sent.
    pub body_crc64: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectType {
    Appendable,
    Normal,
    Multipart,
    Other,
}

/// HeadObject's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub object_type: ObjectType,
    pub length: u64,
    /// For appendable objects.
    pub next_position: Option<u64>,
    pub crc64: Option<u64>,
    pub etag: Option<String>,
    pub last_modified: Option<SystemTime>,
    pub content_type: Option<String>,
    /// `x-oss-meta-*` headers, without the prefix.
    pub metadata: Vec<(String, String)>,
    /// When the object was sealed (SealAppendObject); `None` while it is not.
    pub sealed_time: Option<SystemTime>,
    /// On a versioned bucket, the version this HEAD describes.
    pub version_id: Option<String>,
    pub request_id: Option<String>,
}

/// The server's length and CRC after an append must be ours.
pub(crate) fn check_crc(
    result: &AppendResult,
    expected_length: u64,
    expected_crc: u64,
) -> Result<()> {
    if (result.next_position, result.crc64) == (expected_length, expected_crc) {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::CrcMismatch,
        format!(
            "crc is inconsistent: client {expected_crc} at length {expected_length}, \
             server {} at length {}",
            result.crc64, result.next_position
        ),
    )
    .with_states(
        (result.next_position, result.crc64),
        (expected_length, expected_crc),
    )
    .with_request_id(result.request_id.clone()))
}

/// Appending `len` bytes at `position` must keep the object within 5 GiB.
pub(crate) fn check_size(position: u64, len: u64) -> Result<()> {
    match position.checked_add(len) {
        Some(end) if end <= MAX_OBJECT_SIZE => Ok(()),
        _ => Err(Error::new(
            ErrorKind::ObjectTooLarge,
            format!(
                "appending {len} bytes at position {position} would pass the 5 GiB \
                 ({MAX_OBJECT_SIZE} bytes) limit of an appendable object"
            ),
        )),
    }
}
