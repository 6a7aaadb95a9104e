//! Object tags as `x-oss-tagging` gives them when an object is created: `k1=v1&k2=v2`, keys
//! and values URL-encoded. OSS's limits (PutObjectTagging's reference and its EC pages
//! 0010-00000211 to 0010-00000219): at most 10 tags, keys of at most 128 characters and
//! values of at most 256, no key twice, each part `key` or `key=value`, UTF-8 once decoded.
//! OSS documents the ECs but not the codes: InvalidArgument, its code for a request
//! parameter it refuses, is our choice.

use crate::error::OssError;
use crate::http::Response;
use crate::xml::Writer;
use percent_encoding::percent_decode_str;

const MAX_TAGS: usize = 10;
const MAX_KEY: usize = 128;
const MAX_VALUE: usize = 256;

/// The tags of a well-formed header, in order; `None` when it is not (see [`check`]).
pub fn parse(text: &str) -> Option<Vec<(String, String)>> {
    decode(text).ok()
}

fn decode(text: &str) -> Result<Vec<(String, String)>, OssError> {
    let utf8 = |part: &str, ec, what| {
        percent_decode_str(part)
            .decode_utf8()
            .map(String::from)
            .map_err(|_| OssError::invalid_argument(ec, format!("A tag {what} is not UTF-8.")))
    };
    text.split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            if value.contains('=') {
                return Err(OssError::invalid_argument(
                    "0010-00000219",
                    "x-oss-tagging is not in the form key1=value1&key2=value2.",
                ));
            }
            Ok((
                utf8(key, "0010-00000211", "key")?,
                utf8(value, "0010-00000216", "value")?,
            ))
        })
        .collect()
}

/// GetObjectTagging's answer for an object created with `text` (its `x-oss-tagging`).
pub fn answer(text: &str) -> Response {
    let mut w = Writer::default();
    w.open("Tagging").open("TagSet");
    for (key, value) in parse(text).unwrap_or_default() {
        w.open("Tag")
            .element("Key", &key)
            .element("Value", &value)
            .close("Tag");
    }
    w.close("TagSet").close("Tagging");
    w.into_response()
}

/// Whether an object may be created with these tags: OSS's error when not.
pub fn check(text: &str) -> Result<(), OssError> {
    let tags = decode(text)?;
    if tags.len() > MAX_TAGS {
        return Err(OssError::invalid_argument(
            "0010-00000218",
            format!(
                "An object can have at most {MAX_TAGS} tags, not {}.",
                tags.len()
            ),
        ));
    }
    let invalid = |why: String| OssError::invalid_argument("0010-00000217", why);
    for (i, (key, value)) in tags.iter().enumerate() {
        if key.chars().count() > MAX_KEY {
            return Err(invalid(format!(
                "A tag key can be at most {MAX_KEY} characters long."
            )));
        }
        if value.chars().count() > MAX_VALUE {
            return Err(invalid(format!(
                "A tag value can be at most {MAX_VALUE} characters long."
            )));
        }
        if tags[..i].iter().any(|(earlier, _)| earlier == key) {
            return Err(invalid(format!("The tag key {key:?} is given twice.")));
        }
    }
    Ok(())
}
