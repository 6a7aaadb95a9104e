//! Signature V4: `OSS4-HMAC-SHA256`, the default of the current official SDKs.

use super::Request;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use zeroize::Zeroizing;

pub const ALGORITHM: &str = "OSS4-HMAC-SHA256";
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Where a signature is valid: `<yyyymmdd>/<region>/<product>/aliyun_v4_request`.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// `yyyymmdd`, the day of the request's `x-oss-date`.
    pub date: &'a str,
    pub region: &'a str,
    /// `oss` for OSS; other products (such as `oss-cloudbox`) sign the same way.
    pub product: &'a str,
}

impl Scope<'_> {
    /// Appends the scope's text; signing does this for every request, without `fmt`.
    pub fn push_to(&self, out: &mut String) {
        for part in [self.date, "/", self.region, "/", self.product] {
            out.push_str(part);
        }
        out.push_str("/aliyun_v4_request");
    }
}

/// RFC 3986's unreserved characters, which V4 leaves as they are.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// The same with `/`, which a key's path keeps.
const UNRESERVED_AND_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');

/// Percent-encodes every byte outside `A-Za-z0-9-._~` (and `/` when `keep_slash`) as `%XX`.
/// Most keys and query values need no escape: those are borrowed, not copied.
pub fn uri_encode(input: &str, keep_slash: bool) -> Cow<'_, str> {
    let set = if keep_slash {
        UNRESERVED_AND_SLASH
    } else {
        UNRESERVED
    };
    utf8_percent_encode(input, set).into()
}

/// Lowercased, sorted, de-duplicated additional header names that the request carries.
/// Headers that are always signed (`x-oss-*`, `content-type`, `content-md5`) are dropped.
pub fn additional_headers(req: &Request, names: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = names
        .iter()
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !is_default_signed(n) && req.header(n).is_some())
        .collect();
    out.sort();
    out.dedup();
    out
}

fn is_default_signed(lower_name: &str) -> bool {
    lower_name.starts_with("x-oss-") || lower_name == "content-type" || lower_name == "content-md5"
}

/// The canonical request; `additional` as returned by [`additional_headers`].
pub fn canonical_request(req: &Request, additional: &[String]) -> String {
    let mut out = String::with_capacity(req.canonical_capacity());
    out.push_str(req.method);
    out.push('\n');

    out.push('/');
    if let Some(bucket) = req.bucket {
        out.push_str(bucket);
        out.push('/');
        out.push_str(&uri_encode(req.key.unwrap_or(""), true));
    }
    out.push('\n');

    let mut query: Vec<(Cow<str>, Option<Cow<str>>)> = req
        .query
        .iter()
        .map(|(n, v)| (uri_encode(n, false), v.map(|v| uri_encode(v, false))))
        .collect();
    query.sort();
    for (i, (name, value)) in query.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            out.push('=');
            out.push_str(value);
        }
    }
    out.push('\n');

    for (name, value) in
        req.canonical_headers(|n| is_default_signed(n) || additional.iter().any(|a| a == n))
    {
        out.push_str(&name);
        out.push(':');
        out.push_str(value);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&additional.join(";"));
    out.push('\n');
    out.push_str(
        req.header("x-oss-content-sha256")
            .unwrap_or(UNSIGNED_PAYLOAD),
    );
    out
}

/// `OSS4-HMAC-SHA256\n<datetime>\n<scope>\nhex(SHA256(canonical_request))`.
pub fn string_to_sign(datetime: &str, scope: &Scope, canonical_request: &str) -> String {
    let mut out = String::with_capacity(256);
    for part in [ALGORITHM, "\n", datetime, "\n"] {
        out.push_str(part);
    }
    scope.push_to(&mut out);
    out.push('\n');
    push_hex(
        &mut out,
        &Sha256::digest(canonical_request.as_bytes()).into(),
    );
    out
}

/// The key that signs every request of one scope: four HMACs chained from the secret over
/// the scope's parts. It changes once a day, so a client derives it once a day, not per request.
pub fn signing_key(secret: &[u8], scope: &Scope) -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new(b"aliyun_v4".to_vec());
    key.extend_from_slice(secret);
    let mut derived = hmac256(&key, scope.date.as_bytes());
    for part in [scope.region, scope.product, "aliyun_v4_request"] {
        derived = hmac256(&*derived, part.as_bytes());
    }
    derived
}

/// hex(HMAC-SHA256(signing key, string_to_sign)).
pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    let mut out = String::with_capacity(64);
    push_signature(&mut out, signing_key, string_to_sign);
    out
}

fn push_signature(out: &mut String, signing_key: &[u8; 32], string_to_sign: &str) {
    push_hex(out, &hmac256(signing_key, string_to_sign.as_bytes()));
}

fn hmac256(key: &[u8], data: &[u8]) -> Zeroizing<[u8; 32]> {
    let mac: Hmac<Sha256> = super::hmac(key, data);
    Zeroizing::new(mac.finalize().into_bytes().into())
}

/// Lowercase hex of a SHA-256 digest, written whole rather than a character at a time.
fn push_hex(out: &mut String, digest: &[u8; 32]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = [0u8; 64];
    for (pair, &b) in text.chunks_exact_mut(2).zip(digest) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 15)];
    }
    out.push_str(std::str::from_utf8(&text).expect("hex digits are ASCII"));
}

/// The `Authorization` header value. `req` must already carry `x-oss-date` (equal to
/// `datetime`), `x-oss-content-sha256` and, with STS, `x-oss-security-token`; `signing_key`
/// is [`signing_key`] of `scope`.
pub fn authorization(
    access_key_id: &str,
    signing_key: &[u8; 32],
    req: &Request,
    datetime: &str,
    scope: &Scope,
    additional_header_names: &[&str],
) -> String {
    let additional = additional_headers(req, additional_header_names);
    // The canonical request holds the STS token: wiped once hashed.
    let canonical = Zeroizing::new(canonical_request(req, &additional));
    let string_to_sign = string_to_sign(datetime, scope, &canonical);
    let mut out = String::with_capacity(256);
    for part in [ALGORITHM, " Credential=", access_key_id, "/"] {
        out.push_str(part);
    }
    scope.push_to(&mut out);
    if !additional.is_empty() {
        out.push_str(",AdditionalHeaders=");
        out.push_str(&additional.join(";"));
    }
    out.push_str(",Signature=");
    push_signature(&mut out, signing_key, &string_to_sign);
    out
}

/// `yyyymmddTHHMMSSZ` for seconds since the Unix epoch.
pub fn format_datetime(unix_seconds: u64) -> String {
    format_fields(unix_seconds, ["", "", "T", "", "", "Z"])
}

/// `yyyy-mm-ddTHH:MM:SS.000Z` (ISO 8601, milliseconds always 0) for seconds since the Unix
/// epoch: how OSS writes times in XML (LastModified, CreationDate, an error's ServerTime).
pub fn format_iso8601(unix_seconds: u64) -> String {
    format_fields(unix_seconds, ["-", "-", "T", ":", ":", ".000Z"])
}

/// Year, month, day, hours, minutes and seconds, zero-padded, each followed by its separator.
fn format_fields(unix_seconds: u64, separators: [&str; 6]) -> String {
    let secs = unix_seconds % 86_400;
    let (y, m, d) = civil_from_days((unix_seconds / 86_400) as i64);
    // Without `format!`: this runs for every request, and `fmt` costs more than the rest of
    // the date.
    let mut out = String::with_capacity(24);
    let fields = [
        (y as u64, 4),
        (u64::from(m), 2),
        (u64::from(d), 2),
        (secs / 3600, 2),
        (secs / 60 % 60, 2),
        (secs % 60, 2),
    ];
    for ((value, width), separator) in fields.into_iter().zip(separators) {
        let mut text = itoa::Buffer::new();
        let digits = text.format(value);
        for _ in digits.len()..width {
            out.push('0');
        }
        out.push_str(digits);
        out.push_str(separator);
    }
    out
}

/// Seconds since the Unix epoch of a `yyyymmddTHHMMSSZ` time.
pub fn parse_datetime(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u64> {
        let s = text.get(range)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let days = days_from_civil(y as i64, m as i64, d as i64);
    u64::try_from(days)
        .ok()
        .map(|days| days * 86_400 + hh * 3600 + mm * 60 + ss)
}

// Howard Hinnant's proleptic Gregorian calendar algorithms.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERY: &[(&str, Option<&str>)] = &[
        ("param1", Some("value1")),
        ("+param1", Some("value3")),
        ("|param1", Some("value4")),
        ("+param2", None),
        ("|param2", None),
        ("param2", None),
    ];

    /// Signs the vector request at `unix` time; returns (canonical request, authorization).
    fn sign_vector(
        unix: u64,
        token: Option<&str>,
        region: &str,
        product: &str,
        additional: &[&str],
    ) -> (String, String) {
        let datetime = format_datetime(unix);
        let mut headers = vec![
            ("x-oss-head1", "value"),
            ("abc", "value"),
            ("ZAbc", "value"),
            ("XYZ", "value"),
            ("content-type", "text/plain"),
            ("x-oss-content-sha256", UNSIGNED_PAYLOAD),
            ("x-oss-date", datetime.as_str()),
        ];
        if let Some(token) = token {
            headers.push(("x-oss-security-token", token));
        }
        let req = Request {
            method: "PUT",
            bucket: Some("bucket"),
            key: Some("1234+-/123/1.txt"),
            query: QUERY,
            headers: &headers,
        };
        let scope = Scope {
            date: &datetime[..8],
            region,
            product,
        };
        let canonical = canonical_request(&req, &additional_headers(&req, additional));
        let key = signing_key(b"sk", &scope);
        let auth = authorization("ak", &key, &req, &datetime, &scope, additional);
        (canonical, auth)
    }

    fn signature_of(auth: &str) -> &str {
        auth.rsplit_once("Signature=").unwrap().1
    }

    #[test]
    fn v4_1_canonical_request_and_signature() {
        let (canonical, auth) = sign_vector(1702743657, None, "cn-hangzhou", "oss", &[]);
        assert_eq!(
            canonical,
            "PUT\n/bucket/1234%2B-/123/1.txt\n\
             %2Bparam1=value3&%2Bparam2&%7Cparam1=value4&%7Cparam2&param1=value1&param2\n\
             content-type:text/plain\nx-oss-content-sha256:UNSIGNED-PAYLOAD\n\
             x-oss-date:20231216T162057Z\nx-oss-head1:value\n\n\nUNSIGNED-PAYLOAD"
        );
        assert_eq!(
            auth,
            "OSS4-HMAC-SHA256 Credential=ak/20231216/cn-hangzhou/oss/aliyun_v4_request,\
             Signature=e21d18daa82167720f9b1047ae7e7f1ce7cb77a31e8203a7d5f4624fa0284afe"
        );
    }

    #[test]
    fn v4_2_security_token_is_signed() {
        let (_, auth) = sign_vector(1702784856, Some("token"), "cn-hangzhou", "oss", &[]);
        assert_eq!(
            signature_of(&auth),
            "b94a3f999cf85bcdc00d332fbd3734ba03e48382c36fa4d5af5df817395bd9ea"
        );
    }

    #[test]
    fn v4_3_additional_headers_are_lowercased_and_sorted() {
        let (_, auth) = sign_vector(1702747512, None, "cn-hangzhou", "oss", &["ZAbc", "abc"]);
        assert!(auth.contains(",AdditionalHeaders=abc;zabc,"), "{auth}");
        assert_eq!(
            signature_of(&auth),
            "4a4183c187c07c8947db7620deb0a6b38d9fbdd34187b6dbaccb316fa251212f"
        );
    }

    #[test]
    fn v4_4_other_region_and_product() {
        let (_, auth) = sign_vector(1702743657, None, "cb-123", "oss-cloudbox", &[]);
        assert_eq!(
            signature_of(&auth),
            "94ce1f12c17d148ea681030275a94449d3357f5b5b21133996eec80af3e08a43"
        );
    }

    /// Signs the vector request as a presigned URL made at `unix`, valid 599 s: the signing
    /// parameters are in the query (all of it is signed but `x-oss-signature`), there is no
    /// `x-oss-content-sha256` header, so the payload is UNSIGNED-PAYLOAD.
    fn presign_vector(unix: u64, token: Option<&str>, additional: &[&str]) -> String {
        let datetime = format_datetime(unix);
        let headers = [
            ("x-oss-head1", "value"),
            ("abc", "value"),
            ("ZAbc", "value"),
            ("XYZ", "value"),
            ("content-type", "application/octet-stream"),
        ];
        let scope = Scope {
            date: &datetime[..8],
            region: "cn-hangzhou",
            product: "oss",
        };
        let mut credential = String::from("ak/");
        scope.push_to(&mut credential);
        let mut req = Request {
            method: "PUT",
            bucket: Some("bucket"),
            key: Some("1234+-/123/1.txt"),
            query: &[],
            headers: &headers,
        };
        let names = additional_headers(&req, additional).join(";");
        let mut query = QUERY.to_vec();
        query.extend([
            ("x-oss-signature-version", Some(ALGORITHM)),
            ("x-oss-date", Some(datetime.as_str())),
            ("x-oss-expires", Some("599")),
            ("x-oss-credential", Some(credential.as_str())),
        ]);
        if let Some(token) = token {
            query.push(("x-oss-security-token", Some(token)));
        }
        if !names.is_empty() {
            query.push(("x-oss-additional-headers", Some(names.as_str())));
        }
        req.query = &query;
        let canonical = canonical_request(&req, &additional_headers(&req, additional));
        assert!(
            canonical.ends_with(&format!("\n{UNSIGNED_PAYLOAD}")),
            "{canonical}"
        );
        let to_sign = string_to_sign(&datetime, &scope, &canonical);
        signature(&signing_key(b"sk", &scope), &to_sign)
    }

    // The official Go SDK v2's query-signing vectors (signer_test.go, TestV4AuthQuery*): the
    // header signer's canonical request serves presigned URLs unchanged.
    #[test]
    fn v4_query_1_presigned_url() {
        assert_eq!(
            presign_vector(1702781677, None, &[]),
            "a39966c61718be0d5b14e668088b3fa07601033f6518ac7b523100014269c0fe"
        );
    }

    #[test]
    fn v4_query_2_presigned_url_with_security_token() {
        assert_eq!(
            presign_vector(1702785388, Some("token"), &[]),
            "3817ac9d206cd6dfc90f1c09c00be45005602e55898f26f5ddb06d7892e1f8b5"
        );
    }

    #[test]
    fn v4_query_3_presigned_url_with_additional_headers() {
        assert_eq!(
            presign_vector(1702783809, None, &["ZAbc", "abc"]),
            "6bd984bfe531afb6db1f7550983a741b103a8c58e5e14f83ea474c2322dfa2b7"
        );
    }

    #[test]
    fn datetime_round_trips_and_rejects_garbage() {
        assert_eq!(format_datetime(1702743657), "20231216T162057Z");
        assert_eq!(format_datetime(951782400), "20000229T000000Z");
        for t in [0, 951782400, 1702743657, 4102444800] {
            assert_eq!(parse_datetime(&format_datetime(t)), Some(t));
        }
        for bad in [
            "",
            "20231216 162057Z",
            "2023121xT162057Z",
            "20231316T162057Z",
            "+0231216T162057Z",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn iso8601_is_the_same_time_with_separators_and_milliseconds() {
        assert_eq!(format_iso8601(1702743657), "2023-12-16T16:20:57.000Z");
        assert_eq!(format_iso8601(951782400), "2000-02-29T00:00:00.000Z");
        assert_eq!(format_iso8601(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn uri_encode_keeps_unreserved_and_optionally_slash() {
        assert_eq!(uri_encode("a b+c/~d%é", true), "a%20b%2Bc/~d%25%C3%A9");
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
        // Text that needs no escape is handed back, not copied.
        assert!(matches!(
            uri_encode("logs/app-1.log", true),
            Cow::Borrowed(_)
        ));
        assert!(matches!(uri_encode("logs/app", false), Cow::Owned(_)));
    }
}
