//! One error type for everything the library reports. Its [`ErrorKind`] is what the C
//! status code will be; the rest is the detail a user of a storage SDK needs: the server's
//! code, message, request id and EC, the object's length where OSS gave it, and both sides'
//! lengths and CRCs when they disagree.

use crate::http::Headers;
use std::fmt;

/// What went wrong, in the terms a caller acts on. Each kind is one C status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    InvalidArgument,
    PositionNotEqualToLength,
    ObjectNotAppendable,
    AccessDenied,
    SignatureMismatch,
    InvalidAccessKey,
    SecurityToken,
    NoSuchBucket,
    NoSuchKey,
    ObjectTooLarge,
    RequestTimeSkewed,
    /// The server's CRC-64 of the object differs from the client's.
    CrcMismatch,
    /// Another writer changed the object: neither our append nor nothing is what it holds.
    Conflict,
    /// Throttled or temporarily unavailable (429, 503).
    Unavailable,
    /// Any other 5xx.
    ServerError,
    /// Any other error the service returned.
    Service,
    Timeout,
    Network,
    Tls,
    /// Reading the caller's data (a file, a reader) failed.
    Io,
    Cancelled,
    /// The handle was closed.
    Closed,
    CredentialsMissing,
    Internal,
    /// A buffered write found the buffer full and was told not to wait.
    WouldBlock,
}

impl ErrorKind {
    /// The kind an OSS error code (or, lacking a known code, its HTTP status) means.
    pub fn from_service(status: u16, code: &str) -> ErrorKind {
        match code {
            "PositionNotEqualToLength" => ErrorKind::PositionNotEqualToLength,
            "ObjectNotAppendable" => ErrorKind::ObjectNotAppendable,
            "AccessDenied" => ErrorKind::AccessDenied,
            "SignatureDoesNotMatch" => ErrorKind::SignatureMismatch,
            "InvalidAccessKeyId" => ErrorKind::InvalidAccessKey,
            "InvalidSecurityToken" | "SecurityTokenExpired" => ErrorKind::SecurityToken,
            "NoSuchBucket" => ErrorKind::NoSuchBucket,
            "NoSuchKey" => ErrorKind::NoSuchKey,
            "EntityTooLarge" => ErrorKind::ObjectTooLarge,
            "RequestTimeTooSkewed" => ErrorKind::RequestTimeSkewed,
            "InvalidArgument"
            | "InvalidObjectName"
            | "InvalidBucketName"
            | "InvalidDigest"
            | "MalformedXML"
            | "MissingContentLength" => ErrorKind::InvalidArgument,
            _ => match status {
                429 | 503 => ErrorKind::Unavailable,
                500..=599 => ErrorKind::ServerError,
                _ => ErrorKind::Service,
            },
        }
    }
}

/// An error with everything known about it. Cheap to move (one box).
#[derive(Clone, PartialEq, Eq)]
pub struct Error(Box<Detail>);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Detail {
    kind: Option<ErrorKind>,
    message: String,
    http_status: Option<u16>,
    code: Option<String>,
    request_id: Option<String>,
    host_id: Option<String>,
    ec: Option<String>,
    next_position: Option<u64>,
    server_length: Option<u64>,
    server_crc: Option<u64>,
    client_length: Option<u64>,
    client_crc: Option<u64>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error(Box::new(Detail {
            kind: Some(kind),
            message: message.into(),
            ..Detail::default()
        }))
    }

    pub fn invalid_argument(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    /// An error response: status, headers (lowercased names) and body as received.
    /// An XML error document is parsed; anything else keeps the status and the raw text.
    pub(crate) fn from_response(status: u16, headers: &Headers, body: &[u8]) -> Error {
        let header = |name: &str| headers.get(name);
        // HEAD answers carry no body: the document is base64 in x-oss-err.
        let decoded;
        let document: &[u8] = match (body.is_empty(), header("x-oss-err")) {
            (true, Some(encoded)) => {
                use base64::Engine;
                decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .unwrap_or_default();
                &decoded
            }
            _ => body,
        };
        let fields = parse_error_document(document);
        let field = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let code = field("Code");
        let message = field("Message").unwrap_or_else(|| {
            let text = String::from_utf8_lossy(document);
            let text = text.trim();
            if text.is_empty() {
                format!("HTTP {status} with no error document")
            } else {
                text.chars().take(512).collect()
            }
        });
        let kind = ErrorKind::from_service(status, code.as_deref().unwrap_or(""));
        Error(Box::new(Detail {
            kind: Some(kind),
            message,
            http_status: Some(status),
            request_id: field("RequestId").or_else(|| header("x-oss-request-id").map(String::from)),
            host_id: field("HostId"),
            ec: field("EC").or_else(|| header("x-oss-ec").map(String::from)),
            next_position: header("x-oss-next-append-position").and_then(|v| v.parse().ok()),
            code,
            ..Detail::default()
        }))
    }

    pub fn kind(&self) -> ErrorKind {
        self.0.kind.unwrap_or(ErrorKind::Internal)
    }

    pub fn message(&self) -> &str {
        &self.0.message
    }

    pub fn http_status(&self) -> Option<u16> {
        self.0.http_status
    }

    /// The OSS error code, such as `PositionNotEqualToLength`.
    pub fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }

    pub fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    pub fn host_id(&self) -> Option<&str> {
        self.0.host_id.as_deref()
    }

    pub fn ec(&self) -> Option<&str> {
        self.0.ec.as_deref()
    }

    /// The object's length as the server gave it (`x-oss-next-append-position`).
    pub fn next_position(&self) -> Option<u64> {
        self.0.next_position
    }

    /// The object's length and CRC-64 as the server reported them, on a mismatch or conflict.
    pub fn server_state(&self) -> Option<(u64, u64)> {
        self.0.server_length.zip(self.0.server_crc)
    }

    /// The length and CRC-64 the client expected, on a mismatch or conflict.
    pub fn client_state(&self) -> Option<(u64, u64)> {
        self.0.client_length.zip(self.0.client_crc)
    }

    pub(crate) fn with_message(mut self, message: impl Into<String>) -> Error {
        self.0.message = message.into();
        self
    }

    pub(crate) fn with_states(mut self, server: (u64, u64), client: (u64, u64)) -> Error {
        (self.0.server_length, self.0.server_crc) = (Some(server.0), Some(server.1));
        (self.0.client_length, self.0.client_crc) = (Some(client.0), Some(client.1));
        self
    }

    pub(crate) fn with_request_id(mut self, request_id: Option<String>) -> Error {
        self.0.request_id = request_id;
        self
    }
}

/// `Code`, `Message`, `RequestId`... : the text of each child of `<Error>`.
fn parse_error_document(xml: &[u8]) -> Vec<(String, String)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut fields = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(start)) => {
                path.push(String::from_utf8_lossy(start.name().as_ref()).into_owned());
                text.clear();
            }
            Ok(Event::End(_)) => {
                if path.len() == 2 && path[0] == "Error" {
                    fields.push((path[1].clone(), std::mem::take(&mut text)));
                }
                path.pop();
            }
            Ok(Event::Text(t)) => text.push_str(&t.decode().unwrap_or_default()),
            // Entities come as events of their own: `&lt;` is a reference to `lt`.
            Ok(Event::GeneralRef(r)) => {
                let name = r.decode().unwrap_or_default();
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text.push(c);
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&name) {
                    text.push_str(s);
                }
            }
            Ok(Event::Eof) | Err(_) => return fields,
            _ => {}
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        write!(f, "{}", d.message)?;
        let mut extra = Vec::new();
        if let Some(status) = d.http_status {
            extra.push(format!("HTTP {status}"));
        }
        if let Some(code) = &d.code {
            extra.push(code.clone());
        }
        if let Some(ec) = &d.ec {
            extra.push(format!("EC {ec}"));
        }
        if let Some(id) = &d.request_id {
            extra.push(format!("request id {id}"));
        }
        if !extra.is_empty() {
            write!(f, " ({})", extra.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Error");
        s.field("kind", &self.kind())
            .field("message", &self.0.message);
        let d = &self.0;
        for (name, value) in [
            ("http_status", d.http_status.map(|v| v.to_string())),
            ("code", d.code.clone()),
            ("request_id", d.request_id.clone()),
            ("ec", d.ec.clone()),
            ("next_position", d.next_position.map(|v| v.to_string())),
            ("server_length", d.server_length.map(|v| v.to_string())),
            ("server_crc", d.server_crc.map(|v| v.to_string())),
            ("client_length", d.client_length.map(|v| v.to_string())),
            ("client_crc", d.client_crc.map(|v| v.to_string())),
        ] {
            if let Some(value) = value {
                s.field(name, &value);
            }
        }
        s.finish()
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCUMENT: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  \
        <Code>PositionNotEqualToLength</Code>\n  <Message>Position is not equal to file length</Message>\n  \
        <RequestId>5C3D8D2A0ACA54D87B43****</RequestId>\n  <HostId>bucket.oss-cn-hangzhou.aliyuncs.com</HostId>\n  \
        <EC>0026-00000016</EC>\n</Error>\n";

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        let lines: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}: {v}\r")).collect();
        Headers::parse(&lines.join("\n"))
    }

    #[test]
    fn an_error_document_gives_every_field() {
        let e = Error::from_response(
            409,
            &headers(&[("x-oss-next-append-position", "35")]),
            DOCUMENT.as_bytes(),
        );
        assert_eq!(e.kind(), ErrorKind::PositionNotEqualToLength);
        assert_eq!(e.code(), Some("PositionNotEqualToLength"));
        assert_eq!(e.message(), "Position is not equal to file length");
        assert_eq!(e.request_id(), Some("5C3D8D2A0ACA54D87B43****"));
        assert_eq!(e.host_id(), Some("bucket.oss-cn-hangzhou.aliyuncs.com"));
        assert_eq!(e.ec(), Some("0026-00000016"));
        assert_eq!(e.next_position(), Some(35));
        assert_eq!(
            e.to_string(),
            "Position is not equal to file length (HTTP 409, PositionNotEqualToLength, \
             EC 0026-00000016, request id 5C3D8D2A0ACA54D87B43****)"
        );
    }

    #[test]
    fn a_head_error_is_read_from_x_oss_err() {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(DOCUMENT);
        let e = Error::from_response(409, &headers(&[("x-oss-err", &encoded)]), b"");
        assert_eq!(e.code(), Some("PositionNotEqualToLength"));
        assert_eq!(e.ec(), Some("0026-00000016"));
    }

    #[test]
    fn an_unparseable_body_keeps_the_status_and_raw_text() {
        let e = Error::from_response(
            502,
            &headers(&[("x-oss-request-id", "RID")]),
            b"<html>Bad Gateway</html>",
        );
        assert_eq!(e.kind(), ErrorKind::ServerError);
        assert_eq!((e.http_status(), e.code()), (Some(502), None));
        assert_eq!(e.message(), "<html>Bad Gateway</html>");
        assert_eq!(e.request_id(), Some("RID"));
        let e = Error::from_response(503, &headers(&[]), b"");
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert_eq!(e.message(), "HTTP 503 with no error document");
    }

    #[test]
    fn escaped_text_is_unescaped() {
        let e = Error::from_response(
            400,
            &headers(&[]),
            b"<Error><Code>InvalidArgument</Code><Message>a &lt; b &amp; c</Message></Error>",
        );
        assert_eq!(
            (e.kind(), e.message()),
            (ErrorKind::InvalidArgument, "a < b & c")
        );
    }
}
