//! The object model every layer takes from: what an object is (its info and type), what an
//! append returns, the attributes and parameters sent with appends, the values OSS accepts
//! for them, and the checks of names, header values and sizes made before anything is sent.

use crate::error::{Error, ErrorKind, Result};
use std::time::SystemTime;

/// OSS's limit on an appendable object's size.
pub(crate) const MAX_OBJECT_SIZE: u64 = 5 << 30;

/// The values OSS accepts for `x-oss-object-acl`.
pub(crate) const ACLS: &[&str] = &["private", "public-read", "public-read-write", "default"];
/// The values OSS accepts for `x-oss-storage-class` on an AppendObject: not ColdArchive
/// (EC 0016-00000503) nor DeepColdArchive (EC 0013-00000109), which appendable objects can
/// never have.
pub(crate) const STORAGE_CLASSES: &[&str] = &["Standard", "IA", "Archive"];
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
    /// `Standard`, `IA` or `Archive`: OSS refuses the colder classes on an append.
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
    /// Bandwidth limit in bit/s, 819200 (100 KiB/s) to 838860800 (100 MiB/s), as OSS documents.
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

    /// The request headers these parameters are sent as.
    pub(crate) fn headers(&self) -> Vec<(String, String)> {
        // The fields are reached through CREATE_HEADERS' accessors, which take them mutably.
        let mut params = self.clone();
        let mut out = Vec::new();
        for (name, field) in CREATE_HEADERS {
            if let Some(value) = field(&mut params).take() {
                out.push((name.to_string(), value));
            }
        }
        for (name, value) in params.metadata {
            out.push((
                format!("{METADATA_PREFIX}{}", name.to_ascii_lowercase()),
                value,
            ));
        }
        out
    }

    /// The parameters [`CreateParams::headers`] made `headers` from (metadata names in
    /// lower case, as OSS keeps them); an error names a header that is none of them.
    pub(crate) fn from_headers(
        headers: impl IntoIterator<Item = (String, String)>,
    ) -> std::result::Result<CreateParams, String> {
        let mut params = CreateParams::default();
        for (name, value) in headers {
            if let Some(meta) = name.strip_prefix(METADATA_PREFIX) {
                params.metadata.push((meta.to_string(), value));
                continue;
            }
            let (_, field) = CREATE_HEADERS
                .iter()
                .find(|(header, _)| *header == name)
                .ok_or(name)?;
            *field(&mut params) = Some(value);
        }
        Ok(params)
    }
}

/// A single-valued create parameter, reached in a [`CreateParams`].
type CreateField = fn(&mut CreateParams) -> &mut Option<String>;

/// Each single-valued create parameter and the header it is sent as.
const CREATE_HEADERS: [(&str, CreateField); 11] = [
    ("content-type", |p| &mut p.content_type),
    ("cache-control", |p| &mut p.cache_control),
    ("content-disposition", |p| &mut p.content_disposition),
    ("content-encoding", |p| &mut p.content_encoding),
    ("expires", |p| &mut p.expires),
    ("x-oss-object-acl", |p| &mut p.acl),
    ("x-oss-storage-class", |p| &mut p.storage_class),
    ("x-oss-tagging", |p| &mut p.tagging),
    ("x-oss-server-side-encryption", |p| {
        &mut p.server_side_encryption
    }),
    ("x-oss-server-side-encryption-key-id", |p| {
        &mut p.server_side_encryption_key_id
    }),
    ("x-oss-server-side-data-encryption", |p| {
        &mut p.server_side_data_encryption
    }),
];

const METADATA_PREFIX: &str = "x-oss-meta-";

impl RequestParams {
    pub(crate) fn validate(&self) -> Result<()> {
        if let Some(limit) = self.traffic_limit {
            if !(819_200..=838_860_800).contains(&limit) {
                return Err(Error::invalid_argument(format!(
                    "traffic limit {limit} bit/s: OSS accepts 819200 to 838860800"
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

impl ObjectType {
    /// The type OSS names (`x-oss-object-type`, a listing's `Type`).
    pub(crate) fn named(name: &str) -> ObjectType {
        match name {
            "Appendable" => ObjectType::Appendable,
            "Normal" => ObjectType::Normal,
            "Multipart" => ObjectType::Multipart,
            _ => ObjectType::Other,
        }
    }
}

/// An object as a listing names it ([`Client::list_objects`](crate::Client::list_objects)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub size: u64,
    pub object_type: ObjectType,
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

/// Property tests of the checks made before anything is sent (bucket names, keys, header
/// values, creation and request parameters): valid input is taken and spoiled input refused
/// naming the value, never a panic; the http crate is the oracle for headers and URLs.
#[cfg(test)]
mod properties {
    use super::{
        header_value, validate_bucket, validate_key, CreateParams, RequestParams, ACLS,
        SERVER_SIDE_ENCRYPTIONS, STORAGE_CLASSES,
    };
    use crate::error::ErrorKind;
    use crate::testing::{config, header_text, names_the_value};
    use proptest::prelude::*;
    use proptest::sample::{select, Index};
    use ureq::http::{HeaderName, HeaderValue, Uri};

    /// What our header values promise to take: printable ASCII, spaces and tabs.
    fn printable(text: &str) -> bool {
        text.bytes()
            .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
    }

    /// A character our header values refuse, and so metadata names too: a control character
    /// but tab, DEL, or anything beyond ASCII.
    fn unsendable_char() -> impl Strategy<Value = char> {
        prop_oneof![
            select(vec!['\r', '\n', '\0', '\x7f']),
            proptest::char::ranges(
                vec![
                    '\0'..='\x08',
                    '\n'..='\x1f',
                    '\x7f'..='\x7f',
                    '\u{80}'..=char::MAX
                ]
                .into()
            ),
        ]
    }

    fn insert_at(text: &mut String, at: Index, c: char) {
        let offsets: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .chain([text.len()])
            .collect();
        text.insert(offsets[at.index(offsets.len())], c);
    }

    /// A bucket name OSS allows: 3 to 63 of a-z, 0-9 and '-', not starting or ending with '-'.
    const BUCKET: &str = "[a-z0-9][a-z0-9-]{1,61}[a-z0-9]";

    /// What makes a good bucket name bad.
    #[derive(Debug, Clone)]
    enum BucketDamage {
        /// One character outside a-z, 0-9 and '-', anywhere.
        Insert(Index, char),
        /// '-' first or last.
        Dash(bool),
        /// Too short or too long.
        Length(String),
    }

    fn bucket_damage() -> impl Strategy<Value = BucketDamage> {
        prop_oneof![
            (
                any::<Index>(),
                // All but a-z, 0-9 and '-'.
                proptest::char::ranges(
                    vec!['\0'..=',', '.'..='/', ':'..='`', '{'..=char::MAX].into()
                )
            )
                .prop_map(|(at, c)| BucketDamage::Insert(at, c)),
            any::<bool>().prop_map(BucketDamage::Dash),
            "[a-z0-9]{0,2}|[a-z0-9]{64,80}".prop_map(BucketDamage::Length),
        ]
    }

    /// A key OSS allows: 1 to 1023 bytes of UTF-8 not starting with '/' or '\', sometimes
    /// exactly 1023.
    fn valid_key() -> impl Strategy<Value = String> {
        (
            // All but '/' and '\'.
            proptest::char::ranges(vec!['\0'..='.', '0'..='[', ']'..=char::MAX].into()),
            prop::collection::vec(any::<char>(), 0..400),
            any::<bool>(),
        )
            .prop_map(|(first, rest, full)| {
                let mut key = String::from(first);
                for c in rest {
                    if key.len() + c.len_utf8() > 1023 {
                        break;
                    }
                    key.push(c);
                }
                if full {
                    key.extend(std::iter::repeat_n('k', 1023 - key.len()));
                }
                key
            })
    }

    fn valid_create_params() -> impl Strategy<Value = CreateParams> {
        let text = || prop::option::of("[ -~\t]{0,24}");
        (
            prop::array::uniform5(text()),
            prop::collection::vec(("[A-Za-z0-9._-]{1,12}", "[ -~\t]{0,24}"), 0..4),
            prop::option::of(select(ACLS)),
            prop::option::of(select(STORAGE_CLASSES)),
            text(),
            prop::option::of(select(SERVER_SIDE_ENCRYPTIONS)),
            text(),
            text(),
        )
            .prop_map(
                |(headers, metadata, acl, class, tagging, sse, key_id, data_sse)| {
                    let [content_type, cache_control, content_disposition, content_encoding, expires] =
                        headers;
                    CreateParams {
                        content_type,
                        cache_control,
                        content_disposition,
                        content_encoding,
                        expires,
                        metadata,
                        acl: acl.map(String::from),
                        storage_class: class.map(String::from),
                        tagging,
                        server_side_encryption: sse.map(String::from),
                        server_side_encryption_key_id: key_id,
                        server_side_data_encryption: data_sse,
                    }
                },
            )
    }

    /// Puts `bad` into one value of `params` (a header, one of the listed values, or a metadata
    /// name or value) and returns that value.
    fn spoil(params: &mut CreateParams, slot: Index, at: Index, bad: char) -> String {
        if params.metadata.is_empty() {
            params.metadata.push(("m".into(), "v".into()));
        }
        let (name, value) = &mut params.metadata[0];
        let values = [
            &mut params.content_type,
            &mut params.cache_control,
            &mut params.content_disposition,
            &mut params.content_encoding,
            &mut params.expires,
            &mut params.acl,
            &mut params.storage_class,
            &mut params.tagging,
            &mut params.server_side_encryption,
            &mut params.server_side_encryption_key_id,
            &mut params.server_side_data_encryption,
        ];
        let slots = values.len() + 2;
        let target = match slot.index(slots) {
            i if i < values.len() => values[i].get_or_insert_with(String::new),
            i if i == values.len() => name,
            _ => value,
        };
        insert_at(target, at, bad);
        target.clone()
    }

    proptest! {
        #![proptest_config(config())]

        /// Valid bucket names are accepted; one forbidden character, a dash at either end or a
        /// length outside 3..=63 makes it refused, naming it.
        #[test]
        fn buckets_valid_and_spoiled(bucket in BUCKET, damage in bucket_damage()) {
            prop_assert!(validate_bucket(&bucket).is_ok(), "{}", bucket);
            let bad = match damage {
                BucketDamage::Insert(at, c) => {
                    let mut bad = bucket;
                    insert_at(&mut bad, at, c);
                    bad
                }
                BucketDamage::Dash(true) => format!("-{bucket}"),
                BucketDamage::Dash(false) => format!("{bucket}-"),
                BucketDamage::Length(bad) => bad,
            };
            let e = validate_bucket(&bad);
            prop_assert!(e.as_ref().is_err_and(|e| names_the_value(e, &bad)), "{:?}", e);
        }

        /// Any text as a bucket: refused naming it, or a name that can lead a virtual host.
        #[test]
        fn any_bucket_is_a_host_label_or_refused(
            bucket in prop_oneof![any::<String>(), "[a-z0-9.-]{0,70}"],
        ) {
            match validate_bucket(&bucket) {
                Ok(()) => {
                    let host = format!("{bucket}.oss-cn-hangzhou.aliyuncs.com");
                    let uri = format!("https://{host}/").parse::<Uri>().ok();
                    prop_assert_eq!(uri.as_ref().and_then(|u| u.host()), Some(host.as_str()));
                }
                Err(e) => prop_assert!(names_the_value(&e, &bucket), "{:?}", e),
            }
        }

        /// Valid keys are accepted; a leading '/' or '\', emptiness or more than 1023 bytes is
        /// refused, naming the key.
        #[test]
        fn keys_valid_and_spoiled(key in valid_key(), damage in 0..4u8, more in 1..8usize) {
            prop_assert!(validate_key(&key).is_ok(), "{:?}", key);
            let bad = match damage {
                0 => format!("/{key}"),
                1 => format!("\\{key}"),
                2 => String::new(),
                _ => format!("{key}{}", "k".repeat(1023 + more - key.len())),
            };
            let e = validate_key(&bad);
            prop_assert!(e.as_ref().is_err_and(|e| names_the_value(e, &bad)), "{:?}", e);
        }

        /// What we accept as a header value the http crate accepts too; printable ASCII is
        /// always accepted and a line break never; a refusal names the value and what it is.
        #[test]
        fn header_values_agree_with_the_http_crate(what in "[a-z ]{1,12}", value in header_text()) {
            let ours = header_value(&what, &value);
            if ours.is_ok() {
                prop_assert!(HeaderValue::from_str(&value).is_ok(), "{:?}", value);
            }
            if printable(&value) {
                prop_assert!(ours.is_ok(), "{:?}", value);
            }
            if value.contains(['\r', '\n']) {
                prop_assert!(ours.is_err(), "{:?}", value);
            }
            if let Err(e) = ours {
                prop_assert!(names_the_value(&e, &value) && e.message().contains(&what), "{:?}", e);
            }
        }

        /// Valid creation parameters pass and give headers the http crate can send; one bad
        /// character in any value, or a value outside its list, is refused naming the value.
        #[test]
        fn create_params_valid_and_spoiled(
            params in valid_create_params(),
            slot in any::<Index>(),
            at in any::<Index>(),
            bad in unsendable_char(),
        ) {
            prop_assert!(params.validate().is_ok(), "{:?}", params);
            for (name, value) in &params.metadata {
                let header = format!("x-oss-meta-{}", name.to_ascii_lowercase());
                prop_assert!(HeaderName::from_bytes(header.as_bytes()).is_ok(), "{}", header);
                prop_assert!(HeaderValue::from_str(value).is_ok(), "{:?}", value);
            }
            let mut spoiled = params;
            let value = spoil(&mut spoiled, slot, at, bad);
            let e = spoiled.validate();
            prop_assert!(e.as_ref().is_err_and(|e| names_the_value(e, &value)), "{:?}", e);
        }

        /// Parameters come back from their headers (metadata names in lower case, as OSS
        /// keeps them), as a spool records them; a header of none of them is named.
        #[test]
        fn create_params_come_back_from_their_headers(params in valid_create_params()) {
            let mut expected = params.clone();
            for (name, _) in &mut expected.metadata {
                name.make_ascii_lowercase();
            }
            prop_assert_eq!(CreateParams::from_headers(params.headers()), Ok(expected));
            let mut stray = params.headers();
            stray.push(("x-oss-other".into(), "v".into()));
            prop_assert_eq!(CreateParams::from_headers(stray), Err("x-oss-other".to_string()));
        }

        /// Traffic limits are kept to OSS's range and the request payer to header values; a
        /// refusal names the number or the payer.
        #[test]
        fn request_params_are_checked(
            limit in prop::option::of(prop_oneof![
                any::<u64>(),
                245_000..250_000u64,
                838_860_000..838_861_000u64,
            ]),
            payer in prop::option::of(header_text()),
        ) {
            let params = RequestParams { request_payer: payer.clone(), traffic_limit: limit };
            let in_range = limit.is_none_or(|l| (819_200..=838_860_800).contains(&l));
            match params.validate() {
                Ok(()) => {
                    prop_assert!(in_range, "{:?}", limit);
                    prop_assert!(payer.as_deref().is_none_or(|p| HeaderValue::from_str(p).is_ok()));
                }
                Err(e) => {
                    prop_assert!(!in_range || !payer.as_deref().is_none_or(printable), "{}", e);
                    let named = limit.is_some_and(|l| e.message().contains(&l.to_string()))
                        || payer.as_deref().is_some_and(|p| names_the_value(&e, p));
                    prop_assert!(e.kind() == ErrorKind::InvalidArgument && named, "{:?}", e);
                }
            }
        }
    }
}
