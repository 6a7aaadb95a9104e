//! Signature V1: `Authorization: OSS <AccessKeyId>:base64(HMAC-SHA1(secret, StringToSign))`.

use super::Request;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use zeroize::Zeroizing;

/// Query parameters that are part of the V1 canonical resource; all others are not signed.
/// This is the official SDKs' list: a parameter missing here would fail against real OSS.
/// It includes `seal`, which the SDKs sign as SealAppendObject's own sub-resource.
pub const SIGNED_SUBRESOURCES: &[&str] = &[
    "acl",
    "append",
    "asyncFetch",
    "bucketInfo",
    "callback",
    "callback-var",
    "cname",
    "comp",
    "continuation-token",
    "cors",
    "delete",
    "encryption",
    "endTime",
    "group",
    "inventory",
    "inventoryId",
    "lifecycle",
    "link",
    "live",
    "location",
    "logging",
    "metaQuery",
    "objectInfo",
    "objectMeta",
    "partNumber",
    "policy",
    "position",
    "qos",
    "qosInfo",
    "referer",
    "regionList",
    "replication",
    "replicationLocation",
    "replicationProgress",
    "requestPayment",
    "resourceGroup",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "seal",
    "security-token",
    "sequential",
    "startTime",
    "stat",
    "status",
    "style",
    "styleName",
    "symlink",
    "tagging",
    "transferAcceleration",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "vod",
    "website",
    "worm",
    "wormExtend",
    "wormId",
    "x-oss-ac-forward-allow",
    "x-oss-ac-source-ip",
    "x-oss-ac-subnet-mask",
    "x-oss-ac-vpc-id",
    "x-oss-async-process",
    "x-oss-process",
    "x-oss-request-payer",
    "x-oss-traffic-limit",
];

/// `VERB\nContent-MD5\nContent-Type\nDate\nCanonicalizedOSSHeaders CanonicalizedResource`.
pub fn string_to_sign(req: &Request) -> String {
    string_to_sign_at(req, req.header("date").unwrap_or(""))
}

/// [`string_to_sign`] with `date` in the Date position. A presigned URL puts its `Expires`
/// (Unix seconds, as written in the URL) there, whatever Date header the request carries;
/// its `OSSAccessKeyId`, `Expires` and `Signature` are no sub-resources, so they are not signed,
/// while `security-token` is.
pub fn string_to_sign_at(req: &Request, date: &str) -> String {
    let mut out = String::with_capacity(req.canonical_capacity());
    for part in [
        req.method,
        req.header("content-md5").unwrap_or(""),
        req.header("content-type").unwrap_or(""),
        date,
    ] {
        out.push_str(part);
        out.push('\n');
    }
    for (name, value) in req.canonical_headers(|n| n.starts_with("x-oss-")) {
        out.push_str(&name);
        out.push(':');
        out.push_str(value);
        out.push('\n');
    }
    out.push('/');
    if let Some(bucket) = req.bucket {
        out.push_str(bucket);
        out.push('/');
        out.push_str(req.key.unwrap_or(""));
    }
    let mut subresources: Vec<_> = req
        .query
        .iter()
        .filter(|(name, _)| SIGNED_SUBRESOURCES.contains(name))
        .collect();
    subresources.sort();
    for (i, (name, value)) in subresources.into_iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(name);
        // An empty value is signed as a bare name (`append=` is `append`), as OSS does.
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            out.push('=');
            out.push_str(value);
        }
    }
    out
}

/// base64(HMAC-SHA1(secret, string_to_sign)).
pub fn signature(secret: &[u8], string_to_sign: &str) -> String {
    let mac: Hmac<Sha1> = super::hmac(secret, string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The `Authorization` header value for `req`, which must already carry its `Date`
/// (and, with STS, its `x-oss-security-token`) header.
pub fn authorization(access_key_id: &str, secret: &[u8], req: &Request) -> String {
    // The string to sign holds the STS token: wiped once signed.
    let to_sign = Zeroizing::new(string_to_sign(req));
    format!("OSS {access_key_id}:{}", signature(secret, &to_sign))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "Wed, 28 Dec 2022 10:27:41 GMT";

    fn with_vector_headers(
        method: &str,
        key: Option<&str>,
        query: &[(&str, Option<&str>)],
        full: bool,
    ) -> String {
        let mut headers = vec![("x-oss-date", DATE), ("Date", DATE)];
        if full {
            headers.extend([
                ("Content-MD5", "eB5eJF1ptWaXm4bijSPyxw=="),
                ("Content-Type", "text/html"),
                ("x-oss-meta-author", "alice"),
                ("x-oss-meta-magic", "abracadabra"),
            ]);
        }
        let req = Request {
            method,
            bucket: Some("examplebucket"),
            key,
            query,
            headers: &headers,
        };
        authorization("ak", b"sk", &req)
    }

    #[test]
    fn v1_1_put_object_string_to_sign_and_signature() {
        let headers = [
            ("Content-MD5", "eB5eJF1ptWaXm4bijSPyxw=="),
            ("Content-Type", "text/html"),
            ("x-oss-meta-magic", "abracadabra"),
            ("x-oss-date", DATE),
            ("Date", DATE),
            ("x-oss-meta-author", "alice"),
        ];
        let req = Request {
            method: "PUT",
            bucket: Some("examplebucket"),
            key: Some("nelson"),
            query: &[],
            headers: &headers,
        };
        assert_eq!(
            string_to_sign(&req),
            "PUT\neB5eJF1ptWaXm4bijSPyxw==\ntext/html\nWed, 28 Dec 2022 10:27:41 GMT\n\
             x-oss-date:Wed, 28 Dec 2022 10:27:41 GMT\nx-oss-meta-author:alice\n\
             x-oss-meta-magic:abracadabra\n/examplebucket/nelson"
        );
        assert_eq!(
            authorization("ak", b"sk", &req),
            "OSS ak:kSHKmLxlyEAKtZPkJhG9bZb5k7M="
        );
    }

    #[test]
    fn v1_2_signed_subresource() {
        let auth = with_vector_headers("PUT", Some("nelson"), &[("acl", None)], true);
        assert_eq!(auth, "OSS ak:/afkugFbmWDQ967j1vr6zygBLQk=");
    }

    #[test]
    fn v1_3_unsigned_query_parameter_is_left_out() {
        let query = [("resourceGroup", None), ("non-resousce", Some("null"))];
        let auth = with_vector_headers("GET", None, &query, false);
        assert_eq!(auth, "OSS ak:vkQmfuUDyi1uDi3bKt67oemssIs=");
    }

    #[test]
    fn v1_4_subresources_are_sorted() {
        let query = [("resourceGroup", None), ("acl", None)];
        let auth = with_vector_headers("GET", None, &query, false);
        assert_eq!(auth, "OSS ak:x3E5TgOvl/i7PN618s5mEvpJDYk=");
    }

    // The official Go SDK v2's query-signing vectors (signer_test.go, TestV1AuthQuery): a
    // presigned URL's query as received, the SDK's parameters beside the request's own, and
    // a Date header that the URL's Expires replaces.
    #[test]
    fn v1_query_vectors_sign_expires_as_the_date_and_only_sub_resources() {
        let plain: &[(&str, Option<&str>)] = &[
            ("versionId", Some("versionId")),
            ("OSSAccessKeyId", Some("ak")),
            ("Expires", Some("1699807420")),
            ("Signature", Some("anything")),
        ];
        let sts: &[(&str, Option<&str>)] = &[
            ("versionId", Some("versionId")),
            ("security-token", Some("token")),
            ("OSSAccessKeyId", Some("ak")),
            ("Expires", Some("1699808204")),
        ];
        let vectors = [
            (
                "key",
                plain,
                "1699807420",
                "/bucket/key?versionId=versionId",
                "dcLTea+Yh9ApirQ8o8dOPqtvJXQ=",
            ),
            (
                "key+123",
                sts,
                "1699808204",
                "/bucket/key+123?security-token=token&versionId=versionId",
                "jzKYRrM5y6Br0dRFPaTGOsbrDhY=",
            ),
        ];
        for (key, query, expires, resource, expected) in vectors {
            let req = Request {
                method: "GET",
                bucket: Some("bucket"),
                key: Some(key),
                query,
                headers: &[("Date", DATE)],
            };
            let to_sign = string_to_sign_at(&req, expires);
            assert_eq!(to_sign, format!("GET\n\n\n{expires}\n{resource}"));
            assert_eq!(signature(b"sk", &to_sign), expected);
        }
    }

    #[test]
    fn append_position_is_signed_with_its_value() {
        let headers = [("Date", DATE)];
        let query = [("position", Some("42")), ("append", None)];
        let req = Request {
            method: "POST",
            bucket: Some("b"),
            key: Some("dir/k"),
            query: &query,
            headers: &headers,
        };
        assert!(string_to_sign(&req).ends_with("\n/b/dir/k?append&position=42"));
        let empty = [("append", Some("")), ("position", Some("0"))];
        let req = Request {
            query: &empty,
            ..req
        };
        assert!(string_to_sign(&req).ends_with("\n/b/dir/k?append&position=0"));
    }
}
