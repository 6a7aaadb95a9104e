//! Authentication, recomputed from the request as received: V1 and V4 header signatures,
//! the STS security token, and the 15-minute clock tolerance.

use crate::error::OssError;
use oss_protocol::signer::{self, v1, v4};
use std::time::{SystemTime, UNIX_EPOCH};

pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub security_token: Option<String>,
    pub region: String,
}

const MAX_SKEW_SECONDS: u64 = 15 * 60;

pub fn verify(creds: &Credentials, req: &signer::Request, now: SystemTime) -> Result<(), OssError> {
    let Some(authorization) = req.header("authorization") else {
        return Err(OssError::access_denied());
    };
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
    check_key_and_token(creds, req, access_key_id)?;
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
    check_skew(date, time, now)?;
    let string_to_sign = v1::string_to_sign(req);
    if v1::signature(creds.access_key_secret.as_bytes(), &string_to_sign) != provided {
        return Err(signature_mismatch(access_key_id, provided, &string_to_sign));
    }
    Ok(())
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
    let fields: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, product, "aliyun_v4_request"] = fields[..] else {
        return Err(invalid("malformed Credential"));
    };
    check_key_and_token(creds, req, access_key_id)?;
    if region != creds.region || product != "oss" {
        return Err(OssError::invalid_argument(
            "0002-00000036",
            format!(
                "Invalid signing region or product in Authorization header: {region}/{product}."
            ),
        ));
    }
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
    if !datetime.starts_with(date) {
        return Err(invalid("the Credential date is not the x-oss-date day"));
    }
    check_skew(
        datetime,
        UNIX_EPOCH + std::time::Duration::from_secs(time),
        now,
    )?;
    if req.header("x-oss-content-sha256").is_none() {
        return Err(OssError::invalid_argument(
            "0002-00000038",
            "x-oss-content-sha256 header is required for V4 signatures.",
        ));
    }
    let names: Vec<&str> = additional.split(';').filter(|n| !n.is_empty()).collect();
    let additional = v4::additional_headers(req, &names);
    let canonical = v4::canonical_request(req, &additional);
    let scope = v4::Scope {
        date,
        region,
        product,
    };
    let string_to_sign = v4::string_to_sign(datetime, &scope, &canonical);
    let key = v4::signing_key(creds.access_key_secret.as_bytes(), &scope);
    if v4::signature(&key, &string_to_sign) != provided {
        return Err(signature_mismatch(access_key_id, provided, &string_to_sign)
            .detail("CanonicalRequest", canonical));
    }
    Ok(())
}

fn check_key_and_token(
    creds: &Credentials,
    req: &signer::Request,
    access_key_id: &str,
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
    if req.header("x-oss-security-token") != creds.security_token.as_deref() {
        return Err(OssError::new(
            403,
            "InvalidSecurityToken",
            "0002-00000903",
            "The security token you provided is invalid.",
        ));
    }
    Ok(())
}

fn check_skew(given: &str, time: SystemTime, now: SystemTime) -> Result<(), OssError> {
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
        .detail("RequestTime", given)
        .detail("ServerTime", httpdate::fmt_http_date(now))
        .detail(
            "MaxAllowedSkewMilliseconds",
            (MAX_SKEW_SECONDS * 1000).to_string(),
        ));
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
