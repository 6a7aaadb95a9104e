//! What OSS answers mean: an error answer read into an [`Error`] (its XML document, or for
//! a HEAD the same document base64 in `x-oss-err`, plus `x-oss-ec`, the request id and the
//! object's length), an append's answer, a HEAD's object attributes. Every value read here
//! came from the network: a missing or malformed one is absent, never a panic or a guess.

use crate::error::{Error, ErrorKind, Result, ServiceError};
use crate::http::Response;
use crate::object::{ObjectInfo, ObjectType};

impl Response {
    pub fn request_id(&self) -> Option<String> {
        self.header("x-oss-request-id").map(String::from)
    }

    /// A header holding a decimal number: digits only (`parse` alone would take a `+`).
    pub fn number(&self, name: &str) -> Option<u64> {
        self.header(name)
            .filter(|v| v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse().ok())
    }
}

/// The error a non-2xx answer reports. An XML error document is parsed; anything else keeps
/// the status and (some of) the raw text.
pub(crate) fn service_error(response: &Response) -> Error {
    let decoded;
    let document: &[u8] = match (response.body.is_empty(), response.header("x-oss-err")) {
        (true, Some(encoded)) => {
            use base64::Engine;
            decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap_or_default();
            &decoded
        }
        _ => &response.body,
    };
    let mut fields = error_document(document);
    let mut field = |name: &str| {
        let at = fields.iter().position(|(n, _)| n == name)?;
        Some(fields.swap_remove(at).1)
    };
    let status = response.status;
    let message = field("Message").unwrap_or_else(|| {
        let text = String::from_utf8_lossy(document);
        let text = text.trim();
        if text.is_empty() {
            format!("HTTP {status} with no error document")
        } else {
            text.chars().take(512).collect()
        }
    });
    Error::from_service(ServiceError {
        status,
        code: field("Code"),
        message,
        request_id: field("RequestId").or_else(|| response.request_id()),
        host_id: field("HostId"),
        ec: field("EC").or_else(|| response.header("x-oss-ec").map(String::from)),
        next_position: response.number("x-oss-next-append-position"),
    })
}

/// `Code`, `Message`, `RequestId`... : the text of each child of `<Error>`.
fn error_document(xml: &[u8]) -> Vec<(String, String)> {
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

/// What a 2xx answer to AppendObject says, each value only if it is there and numeric.
#[derive(Debug, Clone)]
pub(crate) struct AppendAnswer {
    pub next_position: Option<u64>,
    pub crc64: Option<u64>,
    pub request_id: Option<String>,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    /// CRC-64 of the body as it was sent.
    pub body_crc64: u64,
}

pub(crate) fn append_answer(response: &Response) -> AppendAnswer {
    AppendAnswer {
        next_position: response.number("x-oss-next-append-position"),
        crc64: response.number("x-oss-hash-crc64ecma"),
        request_id: response.request_id(),
        etag: response.header("etag").map(String::from),
        version_id: response.header("x-oss-version-id").map(String::from),
        body_crc64: response.sent_crc,
    }
}

/// `x-oss-sealed-time`, an RFC 1123 date, on an answer about a sealed object.
pub(crate) fn sealed_time(response: &Response) -> Option<std::time::SystemTime> {
    response
        .header("x-oss-sealed-time")
        .and_then(|v| httpdate::parse_http_date(v).ok())
}

/// HeadObject's 2xx answer. OSS types every object; an answer without a type is no answer
/// to a HEAD (a stray answer to an earlier request, say), and another HEAD may get the real
/// one.
pub(crate) fn object_info(response: &Response) -> Result<ObjectInfo> {
    let object_type = match response.header("x-oss-object-type") {
        Some("Appendable") => ObjectType::Appendable,
        Some("Normal") => ObjectType::Normal,
        Some("Multipart") => ObjectType::Multipart,
        Some(_) => ObjectType::Other,
        None => {
            return Err(Error::new(
                ErrorKind::Network,
                "HeadObject answered 200 without x-oss-object-type: not an answer to this HEAD",
            )
            .with_request_id(response.request_id()))
        }
    };
    Ok(ObjectInfo {
        object_type,
        length: response.number("content-length").unwrap_or(0),
        next_position: response.number("x-oss-next-append-position"),
        crc64: response.number("x-oss-hash-crc64ecma"),
        etag: response.header("etag").map(String::from),
        last_modified: response
            .header("last-modified")
            .and_then(|v| httpdate::parse_http_date(v).ok()),
        content_type: response.header("content-type").map(String::from),
        metadata: response
            .headers
            .iter()
            .filter_map(|(name, value)| {
                let name = name.as_str().strip_prefix("x-oss-meta-")?;
                Some((name.to_string(), value.to_str().ok()?.to_string()))
            })
            .collect(),
        sealed_time: sealed_time(response),
        version_id: response.header("x-oss-version-id").map(String::from),
        request_id: response.request_id(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    const DOCUMENT: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  \
        <Code>PositionNotEqualToLength</Code>\n  <Message>Position is not equal to file length</Message>\n  \
        <RequestId>5C3D8D2A0ACA54D87B43****</RequestId>\n  <HostId>bucket.oss-cn-hangzhou.aliyuncs.com</HostId>\n  \
        <EC>0026-00000016</EC>\n</Error>\n";

    fn answer(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Response {
        let mut map = ureq::http::HeaderMap::new();
        for (name, value) in headers {
            map.append(
                ureq::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        Response {
            status,
            headers: map,
            body: body.to_vec(),
            sent_crc: 0,
        }
    }

    #[test]
    fn an_error_document_gives_every_field() {
        let e = service_error(&answer(
            409,
            &[("x-oss-next-append-position", "35")],
            DOCUMENT.as_bytes(),
        ));
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
        let e = service_error(&answer(409, &[("x-oss-err", &encoded)], b""));
        assert_eq!(e.code(), Some("PositionNotEqualToLength"));
        assert_eq!(e.ec(), Some("0026-00000016"));
    }

    #[test]
    fn an_unparseable_body_keeps_the_status_and_raw_text() {
        let e = service_error(&answer(
            502,
            &[("x-oss-request-id", "RID"), ("x-oss-ec", "0002-00000001")],
            b"<html>Bad Gateway</html>",
        ));
        assert_eq!(e.kind(), ErrorKind::ServerError);
        assert_eq!((e.http_status(), e.code()), (Some(502), None));
        assert_eq!(e.message(), "<html>Bad Gateway</html>");
        assert_eq!(e.request_id(), Some("RID"));
        assert_eq!(e.ec(), Some("0002-00000001"));
        let e = service_error(&answer(503, &[], b""));
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert_eq!(e.message(), "HTTP 503 with no error document");
    }

    #[test]
    fn escaped_text_is_unescaped() {
        let e = service_error(&answer(
            400,
            &[],
            b"<Error><Code>InvalidArgument</Code><Message>a &lt; b &amp; c</Message></Error>",
        ));
        assert_eq!(
            (e.kind(), e.message()),
            (ErrorKind::InvalidArgument, "a < b & c")
        );
    }

    #[test]
    fn numbers_that_are_not_numbers_are_absent() {
        let a = append_answer(&answer(
            200,
            &[
                ("x-oss-next-append-position", "12x"),
                ("x-oss-hash-crc64ecma", "-1"),
            ],
            b"",
        ));
        assert_eq!((a.next_position, a.crc64), (None, None));
    }
}
