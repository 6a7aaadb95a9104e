//! Query-string authentication: presigned URLs, signed with V1 (`OSSAccessKeyId`, `Expires`,
//! `Signature`, `security-token`) or V4 (`x-oss-signature-version=OSS4-HMAC-SHA256`,
//! `x-oss-credential`, `x-oss-date`, `x-oss-expires`, `x-oss-signature`, and optionally
//! `x-oss-additional-headers` and `x-oss-security-token`), valid until they expire by the
//! server's clock (its `/-/clock` offset included).
//!
//! The string to sign is the header signature's: V1 puts `Expires` in the Date position and
//! signs the sub-resources only; V4 signs every query parameter but `x-oss-signature`, with
//! UNSIGNED-PAYLOAD as the payload hash, as the official SDKs sign (oss2's `_sign_url`, the
//! Go SDK v2's `authQuery`). The request's own headers (`Content-Type`, `x-oss-*`...) are
//! signed as with a header signature, so a client must send those the URL was signed with.

use crate::auth::{self, Credentials, Scheme, MAX_SKEW_SECONDS};
use crate::error::OssError;
use crate::time::{parse_unix_seconds, unix_seconds};
use oss_protocol::signer::{self, v4};
use std::time::SystemTime;

const V1_PARAMETERS: [&str; 3] = ["OSSAccessKeyId", "Expires", "Signature"];
const V4_PARAMETERS: [&str; 3] = [
    "x-oss-signature-version",
    "x-oss-credential",
    "x-oss-signature",
];
/// Every parameter a presigned URL's signature takes, which asks nothing of the operation.
const SIGNING_PARAMETERS: [&str; 11] = [
    "OSSAccessKeyId",
    "Expires",
    "Signature",
    "security-token",
    "x-oss-signature-version",
    "x-oss-credential",
    "x-oss-date",
    "x-oss-expires",
    "x-oss-signature",
    "x-oss-additional-headers",
    "x-oss-security-token",
];
/// OSS's longest V4 validity, 7 days (EC 0002-00000232).
const MAX_V4_EXPIRES_SECONDS: u64 = 7 * 24 * 3600;

/// Whether the request carries a signature in its URL (or part of one).
pub fn is_presigned(req: &signer::Request) -> bool {
    req.query
        .iter()
        .any(|(name, _)| V1_PARAMETERS.contains(name) || V4_PARAMETERS.contains(name))
}

/// Whether a query parameter belongs to a URL's signature, so routing looks past it: a
/// presigned ListObjects is a ListObjects.
pub fn is_signing_parameter(name: &str) -> bool {
    SIGNING_PARAMETERS.contains(&name)
}

/// OSS takes one signature per request: in the Authorization header or in the URL. OSS
/// documents the EC (0002-00000039) but not the code; InvalidArgument is S3's for the same.
pub fn both_header_and_query() -> OssError {
    OssError::invalid_argument(
        "0002-00000039",
        "A request cannot carry a signature both in the Authorization header and in the URL.",
    )
}

pub fn verify(creds: &Credentials, req: &signer::Request, now: SystemTime) -> Result<(), OssError> {
    match param(req, "x-oss-signature-version") {
        Some(v4::ALGORITHM) => verify_v4(creds, req, now),
        Some("OSS2") => Err(OssError::not_implemented(
            "Signature version OSS2 (x-oss-signature-version=OSS2)",
        )),
        None if !V4_PARAMETERS.iter().any(|name| param(req, name).is_some()) => {
            verify_v1(creds, req, now)
        }
        version => Err(denied(
            "0002-00000066",
            format!(
                "Invalid signature version in the URL: {}.",
                version.unwrap_or("(none)")
            ),
        )),
    }
}

fn verify_v1(creds: &Credentials, req: &signer::Request, now: SystemTime) -> Result<(), OssError> {
    // OSS's message for a URL missing one of its three parameters; each has its own EC
    // (0002-00000067/68 no or an empty Expires, 71 no OSSAccessKeyId, 75 an empty Signature),
    // and we give an absent parameter the EC of its empty form where OSS documents only one.
    let required = |ec| {
        denied(
            ec,
            "Query-string authentication requires the Signature, Expires and OSSAccessKeyId \
             parameters",
        )
    };
    let access_key_id =
        non_empty(req, "OSSAccessKeyId").ok_or_else(|| required("0002-00000071"))?;
    let expires = match param(req, "Expires") {
        None => return Err(required("0002-00000067")),
        Some("") => return Err(required("0002-00000068")),
        Some(expires) => expires,
    };
    let provided = non_empty(req, "Signature").ok_or_else(|| required("0002-00000075"))?;
    let expiry = parse_unix_seconds(expires).ok_or_else(|| {
        denied(
            "0002-00000070",
            format!("Expires is not a Unix time in seconds: {expires}."),
        )
    })?;
    auth::check_key_and_token(creds, access_key_id, param(req, "security-token"))?;
    check_not_expired(expiry, now, "0002-00000069")?;
    // The Expires text as sent is what was signed.
    let scheme = Scheme::V1 { date: expires };
    auth::check_signature(creds, req, access_key_id, provided, scheme)
}

fn verify_v4(creds: &Credentials, req: &signer::Request, now: SystemTime) -> Result<(), OssError> {
    let credential = match param(req, "x-oss-credential") {
        None => return Err(denied("0002-00000217", "x-oss-credential is missing.")),
        Some("") => return Err(denied("0002-00000218", "x-oss-credential is empty.")),
        Some(credential) => credential,
    };
    let provided = match param(req, "x-oss-signature") {
        None => return Err(denied("0002-00000219", "x-oss-signature is missing.")),
        Some("") => return Err(denied("0002-00000220", "x-oss-signature is empty.")),
        Some(provided) => provided,
    };
    let (access_key_id, scope) = auth::parse_credential(credential).ok_or_else(|| {
        denied(
            "0002-00000224",
            format!("Invalid x-oss-credential: {credential}."),
        )
    })?;
    let datetime = non_empty(req, "x-oss-date")
        .ok_or_else(|| denied("0002-00000503", "x-oss-date is missing."))?;
    let signed_at = v4::parse_datetime(datetime)
        .ok_or_else(|| denied("0002-00000502", format!("Invalid x-oss-date: {datetime}.")))?;
    if !auth::is_signing_day(&scope, datetime) {
        return Err(denied(
            "0002-00000223",
            format!(
                "Invalid signing date in x-oss-credential: {} (x-oss-date {datetime}).",
                scope.date
            ),
        ));
    }
    let valid_for = match param(req, "x-oss-expires") {
        None => return Err(denied("0002-00000215", "x-oss-expires is missing.")),
        Some("") => return Err(denied("0002-00000216", "x-oss-expires is empty.")),
        Some(expires) => parse_unix_seconds(expires)
            .filter(|s| (1..=MAX_V4_EXPIRES_SECONDS).contains(s))
            .ok_or_else(|| {
                denied(
                    "0002-00000232",
                    format!(
                        "x-oss-expires must be from 1 to {MAX_V4_EXPIRES_SECONDS} seconds: \
                         {expires}."
                    ),
                )
            })?,
    };
    auth::check_key_and_token(creds, access_key_id, param(req, "x-oss-security-token"))?;
    auth::check_scope(creds, &scope, "x-oss-credential")?;
    // x-oss-date may run up to 15 minutes ahead of the server, as a header date may.
    if signed_at > unix_seconds(now) + MAX_SKEW_SECONDS {
        return Err(denied(
            "0002-00000235",
            "Request is not valid yet: x-oss-date is more than 15 minutes ahead.",
        )
        .detail("RequestTime", v4::format_iso8601(signed_at))
        .detail("ServerTime", v4::format_iso8601(unix_seconds(now))));
    }
    check_not_expired(signed_at + valid_for, now, "0002-00000236")?;
    let query: Vec<(&str, Option<&str>)> = req
        .query
        .iter()
        .filter(|(name, _)| *name != "x-oss-signature")
        .copied()
        .collect();
    let signed = signer::Request {
        query: &query,
        ..*req
    };
    let scheme = Scheme::V4 {
        scope,
        datetime,
        additional: param(req, "x-oss-additional-headers").unwrap_or(""),
    };
    auth::check_signature(creds, &signed, access_key_id, provided, scheme)
}

/// OSS's answer to a URL used after its expiry: `Expires` and `ServerTime` as real OSS sends
/// them for V1 (ISO 8601 with milliseconds); V4's document is modelled on it.
fn check_not_expired(expiry: u64, now: SystemTime, ec: &'static str) -> Result<(), OssError> {
    let now = unix_seconds(now);
    if now > expiry {
        return Err(denied(ec, "Request has expired.")
            .detail("Expires", v4::format_iso8601(expiry))
            .detail("ServerTime", v4::format_iso8601(now)));
    }
    Ok(())
}

/// A query parameter's value, `""` for a bare name; `None` when absent.
fn param<'a>(req: &signer::Request<'a>, name: &str) -> Option<&'a str> {
    req.query
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.unwrap_or(""))
}

fn non_empty<'a>(req: &signer::Request<'a>, name: &str) -> Option<&'a str> {
    param(req, name).filter(|v| !v.is_empty())
}

fn denied(ec: &'static str, message: impl Into<String>) -> OssError {
    OssError::new(403, "AccessDenied", ec, message)
}
