//! OSS errors as the service returns them: an HTTP status, an XML body in OSS's shape with
//! the request id, and for HEAD requests (which have no body) the same XML base64-encoded in
//! `x-oss-err` with the EC in `x-oss-ec`.

use crate::http::Response;
use crate::xml::Writer;
use base64::Engine;

/// Where an error answer carries its document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    Body,
    /// A HEAD answer: base64 in `x-oss-err`, the EC in `x-oss-ec`.
    Headers,
    /// A HEAD answer whose headers a proxy or gateway dropped: the status alone.
    Omitted,
}

#[derive(Debug, Clone)]
pub struct OssError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub ec: &'static str,
    /// Further elements of the error document, after `HostId` (StringToSign, ServerTime...).
    pub details: Vec<(&'static str, String)>,
    /// Headers the error response carries besides the standard ones.
    pub headers: Vec<(&'static str, String)>,
}

impl OssError {
    pub fn new(
        status: u16,
        code: &'static str,
        ec: &'static str,
        message: impl Into<String>,
    ) -> Self {
        OssError {
            status,
            code,
            message: message.into(),
            ec,
            details: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn detail(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.details.push((name, value.into()));
        self
    }

    /// The same error under the EC OSS documents for a particular case of it.
    pub fn with_ec(mut self, ec: &'static str) -> Self {
        self.ec = ec;
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn invalid_argument(ec: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, "InvalidArgument", ec, message)
    }

    /// A query argument OSS refuses: InvalidArgument naming it and the `rule` it breaks. The
    /// EC is ours; OSS documents none for these.
    pub fn bad_argument(name: &str, value: &str, rule: &str) -> Self {
        Self::invalid_argument("0016-00000902", format!("Argument {name} {rule}."))
            .detail("ArgumentName", name)
            .detail("ArgumentValue", value)
    }

    pub fn access_denied() -> Self {
        Self::new(
            403,
            "AccessDenied",
            "0003-00000001",
            "You have no right to access this object because of bucket acl.",
        )
    }

    pub fn internal_error() -> Self {
        Self::new(
            500,
            "InternalError",
            "0000-00000003",
            "We encountered an internal error. Please try again.",
        )
    }

    pub fn service_unavailable() -> Self {
        Self::new(
            503,
            "ServiceUnavailable",
            "0000-00000004",
            "Please reduce your request rate.",
        )
    }

    /// `adding` bytes onto an object of `existing` bytes would pass `max`.
    pub fn entity_too_large(existing: u64, adding: u64, max: u64) -> Self {
        Self::new(
            400,
            "EntityTooLarge",
            "0026-00000018",
            format!(
                "Your proposed upload exceeds the maximum allowed object size: \
                 {existing} + {adding} > {max}."
            ),
        )
    }

    pub fn no_such_bucket(bucket: &str) -> Self {
        Self::new(
            404,
            "NoSuchBucket",
            "0015-00000101",
            "The specified bucket does not exist.",
        )
        .detail("BucketName", bucket)
    }

    /// DeleteBucket's answer while objects remain: the code, message and EC of the example in
    /// Alibaba Cloud's DeleteBucket reference.
    pub fn bucket_not_empty(bucket: &str) -> Self {
        Self::new(
            409,
            "BucketNotEmpty",
            "0015-00000301",
            "The bucket has objects. Please delete them first.",
        )
        .detail("BucketName", bucket)
    }

    /// PutBucket again asking another storage class: the code and message OSS's "HTTP status
    /// code 409" page gives. The EC is ours; OSS documents none for this case.
    pub fn storage_class_is_fixed(bucket: &str) -> Self {
        Self::new(
            409,
            "BucketAlreadyExists",
            "0015-00000201",
            "Cannot modify existing bucket's storage class.",
        )
        .detail("BucketName", bucket)
    }

    /// A request document that is not XML or not the one expected. The EC is ours, for the
    /// cases OSS documents none for (see [`OssError::with_ec`]).
    pub fn malformed_xml() -> Self {
        Self::new(
            400,
            "MalformedXML",
            "0016-00000602",
            "The XML you provided was not well-formed or did not validate against our \
             published schema.",
        )
    }

    pub fn invalid_digest(message: &str) -> Self {
        Self::new(400, "InvalidDigest", "0016-00000402", message)
    }

    pub fn invalid_bucket_name(bucket: &str) -> Self {
        Self::new(
            400,
            "InvalidBucketName",
            "0015-00000001",
            "The specified bucket is not valid.",
        )
        .detail("BucketName", bucket)
    }

    pub fn invalid_object_name(key: &str) -> Self {
        Self::new(
            400,
            "InvalidObjectName",
            "0016-00000005",
            "The specified object is not valid.",
        )
        .detail("ObjectName", key)
    }

    pub fn no_such_key(key: &str) -> Self {
        Self::new(
            404,
            "NoSuchKey",
            "0026-00000001",
            "The specified key does not exist.",
        )
        .detail("Key", key)
    }

    pub fn position_not_equal_to_length(length: u64) -> Self {
        Self::new(
            409,
            "PositionNotEqualToLength",
            "0026-00000016",
            "Position is not equal to file length",
        )
        .header("x-oss-next-append-position", length.to_string())
    }

    pub fn object_not_appendable() -> Self {
        Self::new(
            409,
            "ObjectNotAppendable",
            "0026-00000017",
            "The object is not appendable",
        )
    }

    /// An append to a sealed object. Status 409 as the SealAppendObject reference lists this
    /// code; the EC is ours, as OSS documents none for it.
    pub fn append_sealed_object_not_allowed() -> Self {
        Self::new(
            409,
            "AppendSealedObjectNotAllowed",
            "0002-00000019",
            "The object is sealed and takes no more appends.",
        )
    }

    pub fn not_implemented(what: &str) -> Self {
        Self::new(
            501,
            "NotImplemented",
            "0000-00000001",
            format!("{what} is not implemented by the local OSS server."),
        )
    }

    fn xml(&self, request_id: &str, host_id: &str) -> String {
        let mut w = Writer::indented();
        w.open("Error")
            .element("Code", self.code)
            .element("Message", &self.message)
            .element("RequestId", request_id)
            .element("HostId", host_id);
        for (name, value) in &self.details {
            w.element(name, value);
        }
        w.element("EC", self.ec)
            .element(
                "RecommendDoc",
                &format!("https://api.aliyun.com/troubleshoot?q={}", self.ec),
            )
            .close("Error");
        w.into_document()
    }

    /// The response for this error, its document where `document` says.
    pub fn into_response(self, request_id: &str, host_id: &str, document: Document) -> Response {
        let mut response = Response::new(self.status);
        for (name, value) in &self.headers {
            response.header(name, value.clone());
        }
        match document {
            Document::Body => {
                response.header("Content-Type", "application/xml");
                response.body = self.xml(request_id, host_id).into_bytes();
            }
            Document::Headers => {
                let xml = self.xml(request_id, host_id);
                response.header(
                    "x-oss-err",
                    base64::engine::general_purpose::STANDARD.encode(xml),
                );
                response.header("x-oss-ec", self.ec);
            }
            Document::Omitted => {}
        }
        response
    }
}
