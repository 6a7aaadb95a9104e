//! Authentication, recomputed from the request as received: V1 and V4 header signatures,
//! the STS security token, and the 15-minute clock tolerance. Signatures in the query string
//! (presigned URLs) are checked in [`crate::presign`], with the same checks of key, token,
//! scope and signature as here.

use crate::error::OssError;
use crate::presign;
use crate::time;
use oss_protocol::signer::{self, v1, v4};
use std::time::SystemTime;

pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub security_token: Option<String>,
    pub region: String,
}

pub(crate) const MAX_SKEW_SECONDS: u64 = 15 * 60;

pub fn verify(creds: &Credentials, req: &signer::Request, now: SystemTime) -> Result<(), OssError> {
    let presigned = presign::is_presigned(req);
    let Some(authorization) = req.header("authorization") else {
        return if presigned {
            presign::verify(creds, req, now)
        } else {
            Err(OssError::access_denied())
        };
    };
    if presigned {
        return Err(presign::both_header_and_query());
    }
    if let Some(v4) = authorization.strip_prefix(v4::ALGORITHM) {
        verify_v4(creds, req, v4.trim(), now)
    } else if let Some(v1) = authorization.strip_prefix("OSS ") {
        verify_v1(creds, req, v1.trim(), now)
    } else {
        Err(OssError::invalid_argument(
            "0002-00000007",
            "Authorization header is invalid.",
        ))
    }
}

fn verify_v1(
    creds: &Credentials,
    req: &signer::Request,
    value: &str,
    now: SystemTime,
) -> Result<(), OssError> {
    let (access_key_id, provided) = value.split_once(':').ok_or_else(|| {
        OssError::invalid_argument("0002-00000007", "Authorization header is invalid.")
    })?;
    check_key_and_token(creds, access_key_id, req.header("x-oss-security-token"))?;
    let date = req
        .header("x-oss-date")
        .or(req.header("date"))
        .ok_or_else(|| {
            OssError::new(
                403,
                "AccessDenied",
                "0002-00000020",
                "Date header not found.",
            )
        })?;
    let time = httpdate::parse_http_date(date).map_err(|_| {
        OssError::new(
            403,
            "AccessDenied",
            "0002-00000021",
            format!("Invalid date format: {date}"),
        )
    })?;
    check_skew(time, now)?;
    let date = req.header("date").unwrap_or("");
    check_signature(creds, req, access_key_id, provided, Scheme::V1 { date })
}

fn verify_v4(
    creds: &Credentials,
    req: &signer::Request,
    value: &str,
    now: SystemTime,
) -> Result<(), OssError> {
    let invalid = |what: &str| {
        OssError::invalid_argument(
            "0002-00000007",
            format!("Authorization header is invalid: {what}."),
        )
    };
    let (mut credential, mut additional, mut provided) = (None, "", None);
    for part in value.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("AdditionalHeaders", v)) => additional = v,
            Some(("Signature", v)) => provided = Some(v),
            _ => return Err(invalid("unknown element")),
        }
    }
    let credential = credential.ok_or_else(|| invalid("no Credential"))?;
    let provided = provided.ok_or_else(|| invalid("no Signature"))?;
    let (access_key_id, scope) =
        parse_credential(credential).ok_or_else(|| invalid("malformed Credential"))?;
    check_key_and_token(creds, access_key_id, req.header("x-oss-security-token"))?;
    check_scope(creds, &scope, "Authorization header")?;
    let datetime = req.header("x-oss-date").ok_or_else(|| {
        OssError::new(
            403,
            "AccessDenied",
            "0002-00000020",
            "x-oss-date header not found.",
        )
    })?;
    let time = v4::parse_datetime(datetime).ok_or_else(|| {
        OssError::new(
            403,
            "AccessDenied",
            "0002-00000021",
            format!("Invalid x-oss-date: {datetime}"),
        )
    })?;
    if !is_signing_day(&scope, datetime) {
        return Err(invalid("the Credential date is not the x-oss-date day"));
    }
    check_skew(time::from_unix_seconds(time), now)?;
    if req.header("x-oss-content-sha256").is_none() {
        return Err(OssError::invalid_argument(
            "0002-00000038",
            "x-oss-content-sha256 header is required for V4 signatures.",
        ));
    }
    let scheme = Scheme::V4 {
        scope,
        datetime,
        additional,
    };
    check_signature(creds, req, access_key_id, provided, scheme)
}

/// A V4 credential, `<key id>/<yyyymmdd>/<region>/<product>/aliyun_v4_request`, as the
/// Authorization header and a presigned URL's `x-oss-credential` give it: the key id and the
/// scope; `None` for any other shape. Its day is checked by [`is_signing_day`].
pub(crate) fn parse_credential(credential: &str) -> Option<(&str, v4::Scope<'_>)> {
    let fields: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, product, "aliyun_v4_request"] = fields[..] else {
        return None;
    };
    let scope = v4::Scope {
        date,
        region,
        product,
    };
    Some((access_key_id, scope))
}

/// The signing key is derived from the scope's day, which must be the whole day of the
/// request's `x-oss-date` (already parsed, so all digits).
pub(crate) fn is_signing_day(scope: &v4::Scope, datetime: &str) -> bool {
    scope.date.len() == 8 && datetime.starts_with(scope.date)
}

/// The region and product a V4 signature is scoped to must be the server's (`place` names
/// where the scope was read).
pub(crate) fn check_scope(
    creds: &Credentials,
    scope: &v4::Scope,
    place: &str,
) -> Result<(), OssError> {
    let (region, product) = (scope.region, scope.product);
    if region != creds.region || product != "oss" {
        return Err(OssError::invalid_argument(
            "0002-00000036",
            format!("Invalid signing region or product in {place}: {region}/{product}."),
        ));
    }
    Ok(())
}

/// How a request was signed, besides by whom.
pub(crate) enum Scheme<'a> {
    /// `date` is what the Date position holds: the Date header, or a URL's `Expires`.
    V1 { date: &'a str },
    /// Made at `datetime` in `scope`, over the `;`-separated `additional` header names.
    V4 {
        scope: v4::Scope<'a>,
        datetime: &'a str,
        additional: &'a str,
    },
}

/// `provided` must be the signature of `req` under `scheme` by `access_key_id`'s secret.
/// A mismatch shows what the server signed: the string to sign, and V4's canonical request.
pub(crate) fn check_signature(
    creds: &Credentials,
    req: &signer::Request,
    access_key_id: &str,
    provided: &str,
    scheme: Scheme,
) -> Result<(), OssError> {
    let secret = creds.access_key_secret.as_bytes();
    let (string_to_sign, expected, canonical) = match scheme {
        Scheme::V1 { date } => {
            let string_to_sign = v1::string_to_sign_at(req, date);
            let expected = v1::signature(secret, &string_to_sign);
            (string_to_sign, expected, None)
        }
        Scheme::V4 {
            scope,
            datetime,
            additional,
        } => {
            let names: Vec<&str> = additional.split(';').filter(|n| !n.is_empty()).collect();
            let canonical = v4::canonical_request(req, &v4::additional_headers(req, &names));
            let string_to_sign = v4::string_to_sign(datetime, &scope, &canonical);
            let expected = v4::signature(&v4::signing_key(secret, &scope), &string_to_sign);
            (string_to_sign, expected, Some(canonical))
        }
    };
    if expected == provided {
        return Ok(());
    }
    let mismatch = signature_mismatch(access_key_id, provided, &string_to_sign);
    Err(match canonical {
        Some(canonical) => mismatch.detail("CanonicalRequest", canonical),
        None => mismatch,
    })
}

/// The access key must be the server's, and `token` (from a header or the query, as the
/// request was signed) its STS token when it has one.
pub(crate) fn check_key_and_token(
    creds: &Credentials,
    access_key_id: &str,
    token: Option<&str>,
) -> Result<(), OssError> {
    if access_key_id != creds.access_key_id {
        return Err(OssError::new(
            403,
            "InvalidAccessKeyId",
            "0002-00000902",
            "The OSS Access Key Id you provided does not exist in our records.",
        )
        .detail("OSSAccessKeyId", access_key_id));
    }
    if token != creds.security_token.as_deref() {
        return Err(OssError::new(
            403,
            "InvalidSecurityToken",
            "0002-00000903",
            "The security token you provided is invalid.",
        ));
    }
    Ok(())
}

fn check_skew(time: SystemTime, now: SystemTime) -> Result<(), OssError> {
    let skew = match now.duration_since(time) {
        Ok(d) => d,
        Err(e) => e.duration(),
    };
    if skew.as_secs() > MAX_SKEW_SECONDS {
        return Err(OssError::new(
            403,
            "RequestTimeTooSkewed",
            "0002-00000504",
            "The difference between the request time and the current time is too large.",
        )
        // As real OSS answered (aliyun/aliyun-oss-android-sdk#167): this order, ISO 8601.
        .detail(
            "MaxAllowedSkewMilliseconds",
            (MAX_SKEW_SECONDS * 1000).to_string(),
        )
        .detail("RequestTime", time::iso8601(time))
        .detail("ServerTime", time::iso8601(now)));
    }
    Ok(())
}

fn signature_mismatch(access_key_id: &str, provided: &str, string_to_sign: &str) -> OssError {
    let bytes: String = string_to_sign
        .bytes()
        .map(|b| format!("{b:02X} "))
        .collect();
    OssError::new(
        403,
        "SignatureDoesNotMatch",
        "0002-00000040",
        "The request signature we calculated does not match the signature you provided. \
         Check your key and signing method.",
    )
    .detail("OSSAccessKeyId", access_key_id)
    .detail("SignatureProvided", provided)
    .detail("StringToSign", string_to_sign)
    .detail("StringToSignBytes", bytes.trim_end())
}
