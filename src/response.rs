//! What OSS answers mean: an error answer read into an [`Error`] (its XML document, or for
//! a HEAD the same document base64 in `x-oss-err`, plus `x-oss-ec`, the request id and the
//! object's length), an append's answer, a HEAD's object attributes. Every value read here
//! came from the network: a missing or malformed one is absent, never a panic or a guess.

use crate::error::{Error, ErrorKind, Result, ServiceError};
use crate::http::Response;
use crate::object::{ListedObject, ObjectInfo, ObjectType};

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

/// `Code`, `Message`, `RequestId`... : the text of each child of `<Error>`, as far as the
/// document reads.
fn error_document(xml: &[u8]) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    xml_elements(xml, |path, text| {
        if let [root, field] = path {
            if root == "Error" {
                fields.push((field.clone(), text.to_string()));
            }
        }
    });
    fields
}

/// The deepest nesting read: OSS's documents go three levels down. A deeper one is no
/// answer of OSS's, and reading it on would cost time and memory for nothing.
const MAX_XML_DEPTH: usize = 8;

/// Calls `each` with every element of a document as it ends: its path from the root and its
/// text (empty for one holding elements), in document order. Returns whether the document
/// read to its end, whole, no deeper than [`MAX_XML_DEPTH`].
fn xml_elements(xml: &[u8], mut each: impl FnMut(&[String], &str)) -> bool {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(start)) => {
                if path.len() == MAX_XML_DEPTH {
                    return false;
                }
                path.push(String::from_utf8_lossy(start.name().as_ref()).into_owned());
                text.clear();
            }
            Ok(Event::End(_)) => {
                each(&path, &text);
                text.clear();
                path.pop();
            }
            Ok(Event::Empty(empty)) => {
                path.push(String::from_utf8_lossy(empty.name().as_ref()).into_owned());
                each(&path, "");
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
            Ok(Event::Eof) => return path.is_empty(),
            Err(_) => return false,
            _ => {}
        }
    }
}

/// One page of ListObjectsV2, asked with `encoding-type=url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListPage {
    pub objects: Vec<ListedObject>,
    /// The token of the next page; `None` on the last.
    pub next: Option<String>,
}

/// ListObjectsV2's 2xx answer to a request for up to `max_keys` keys under `prefix`,
/// believed only when consistent with it: a whole document, every key under the prefix and
/// in order, no more of them than asked, and a token whenever the page says more follow
/// (else a caller would stop early, or go round for ever).
pub(crate) fn list_page(response: &Response, prefix: &str, max_keys: usize) -> Result<ListPage> {
    let bad = |why: &str| {
        Err(Error::new(
            ErrorKind::Service,
            format!("ListObjectsV2 answered 200 with {why}"),
        )
        .with_request_id(response.request_id()))
    };
    // Keys and the token as written; decoded once the document says how they are encoded.
    let (mut objects, mut next, mut truncated) = (Vec::new(), None, false);
    let (mut key, mut size, mut object_type) = (None, None, ObjectType::Other);
    let (mut url_encoded, mut rooted, mut incomplete) = (false, false, false);
    let whole = xml_elements(&response.body, |path, text| match path {
        [root, ..] if root != "ListBucketResult" => {}
        [_] => rooted = true,
        [_, field] if field == "EncodingType" => url_encoded = text == "url",
        [_, field] if field == "IsTruncated" => truncated = text == "true",
        [_, field] if field == "NextContinuationToken" && !text.is_empty() => {
            next = Some(text.to_string())
        }
        [_, contents] if contents == "Contents" => match (key.take(), size.take()) {
            (Some(key), Some(size)) => objects.push(ListedObject {
                key,
                size,
                object_type: std::mem::replace(&mut object_type, ObjectType::Other),
            }),
            _ => incomplete = true,
        },
        [_, contents, field] if contents == "Contents" => match field.as_str() {
            "Key" => key = Some(text.to_string()),
            "Size" => size = text.parse::<u64>().ok(),
            "Type" => object_type = ObjectType::named(text),
            _ => {}
        },
        _ => {}
    });
    if !whole {
        return bad("a document that is cut, too deep or not XML");
    }
    if !rooted {
        return bad("no ListBucketResult");
    }
    if incomplete {
        return bad("an object without a key or a numeric size");
    }
    let decode = |text: String| -> Option<String> {
        if !url_encoded {
            return Some(text);
        }
        percent_encoding::percent_decode_str(&text)
            .decode_utf8()
            .ok()
            .map(|t| t.into_owned())
    };
    let mut decoded = Vec::with_capacity(objects.len());
    for object in objects {
        match decode(object.key) {
            Some(key) => decoded.push(ListedObject { key, ..object }),
            None => return bad("a key that is not URL-encoded UTF-8"),
        }
    }
    let objects = decoded;
    let next = match next.map(decode) {
        Some(None) => return bad("a continuation token that is not URL-encoded UTF-8"),
        Some(token) => token,
        None => None,
    };
    if objects.len() > max_keys {
        return bad(&format!(
            "{} keys where {max_keys} were asked",
            objects.len()
        ));
    }
    if let Some(stray) = objects.iter().find(|o| !o.key.starts_with(prefix)) {
        return bad(&format!(
            "key {:?} outside the prefix {prefix:?}",
            stray.key
        ));
    }
    if objects.windows(2).any(|pair| pair[0].key >= pair[1].key) {
        return bad("keys out of order");
    }
    match (truncated, next) {
        (true, None) => bad("more keys to come but no continuation token"),
        (false, _) => Ok(ListPage {
            objects,
            next: None,
        }),
        (true, next) => Ok(ListPage { objects, next }),
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
        Some(name) => ObjectType::named(name),
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

/// Property tests of the answer readers: random and damaged error documents, headers and
/// bodies give the right values or a clean error, never a panic. The oracles are code other
/// than ours: quick-xml's escaping and the base64 crate write the error documents, httpdate
/// the dates.
#[cfg(test)]
mod properties {
    use super::{append_answer, object_info, sealed_time, service_error};
    use crate::error::ErrorKind;
    use crate::http::Response;
    use crate::testing::config;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use base64::Engine;
    use proptest::prelude::*;
    use proptest::sample::{select, Index};
    use std::time::{Duration, UNIX_EPOCH};
    use ureq::http::{HeaderMap, HeaderName, HeaderValue};

    fn answer(status: u16, headers: HeaderMap, body: Vec<u8>) -> Response {
        Response {
            status,
            headers,
            body,
            sent_crc: 0,
        }
    }

    fn header_map(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        map
    }

    /// Bytes a header value may hold (the http crate's rule): no control character but tab, no
    /// DEL; bytes above 0x7f (not text to `to_str`) included.
    fn header_bytes(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![4 => 0x20u8..0x7f, 1 => 0x80u8..=0xff, 1 => Just(b'\t')],
            len,
        )
    }

    // ---- OSS error documents ----

    const ERROR_FIELDS: [&str; 5] = ["Code", "Message", "RequestId", "HostId", "EC"];
    /// An element unknown to us whose children have the known names: they are not the
    /// document's fields.
    const DECOY: &str = "<Detail><Code>decoy</Code><Message>decoy</Message><EC>decoy</EC></Detail>";

    /// A character XML 1.0 allows in text, markup characters and line ends weighted up.
    fn xml_char() -> impl Strategy<Value = char> {
        prop_oneof![
            3 => proptest::char::ranges(
                vec![
                    '\t'..='\n',
                    '\r'..='\r',
                    ' '..='\u{D7FF}',
                    '\u{E000}'..='\u{FFFD}',
                    '\u{10000}'..='\u{10FFFF}',
                ]
                .into()
            ),
            1 => select(vec!['<', '>', '&', '\'', '"', ';', '#', ']', '\r', '\n', ' ']),
        ]
    }

    /// A field's value and its XML text: quick-xml's escaping, with some characters written as
    /// numeric references instead (always CR: XML reads a literal one as a line end).
    fn xml_value() -> impl Strategy<Value = (String, String)> {
        prop::collection::vec((xml_char(), prop::bool::weighted(0.2)), 0..40).prop_map(|chars| {
            let mut value = String::new();
            let mut text = String::new();
            for (c, reference) in chars {
                value.push(c);
                if reference || c == '\r' {
                    if (c as u32).is_multiple_of(2) {
                        text.push_str(&format!("&#{};", c as u32));
                    } else {
                        text.push_str(&format!("&#x{:x};", c as u32));
                    }
                } else {
                    text.push_str(&quick_xml::escape::escape(c.to_string()));
                }
            }
            (value, text)
        })
    }

    /// A well-formed error document and the fields it holds (in [`ERROR_FIELDS`] order): any of
    /// them, in any order, between random white space, with or without a prolog, with the
    /// [`DECOY`] somewhere or not.
    fn error_document() -> impl Strategy<Value = ([Option<String>; 5], String)> {
        (
            prop::array::uniform5(prop::option::of(xml_value())),
            Just((0..ERROR_FIELDS.len()).collect::<Vec<_>>()).prop_shuffle(),
            any::<bool>(),
            prop::option::of(any::<Index>()),
            "[ \t\n]{0,3}",
        )
            .prop_map(|(values, order, prolog, decoy, space)| {
                let mut elements: Vec<String> = order
                    .iter()
                    .filter_map(|&i| {
                        let (_, text) = values[i].as_ref()?;
                        Some(format!("<{0}>{text}</{0}>", ERROR_FIELDS[i]))
                    })
                    .collect();
                if let Some(at) = decoy {
                    elements.insert(at.index(elements.len() + 1), DECOY.to_string());
                }
                let mut document = String::new();
                if prolog {
                    document.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
                }
                document.push_str("<Error>");
                for element in elements {
                    document.push_str(&space);
                    document.push_str(&element);
                }
                document.push_str(&space);
                document.push_str("</Error>");
                document.push_str(&space);
                (values.map(|v| v.map(|(value, _)| value)), document)
            })
    }

    /// Damage done to a document: cut short, a byte overwritten, bytes inserted, a range cut out.
    #[derive(Debug, Clone)]
    enum Damage {
        Truncate(Index),
        Overwrite(Index, u8),
        Insert(Index, Vec<u8>),
        Remove(Index, Index),
    }

    fn damage() -> impl Strategy<Value = Damage> {
        let markup = prop_oneof![select(b"<>/&;#x!?[]=\"' \r\n".to_vec()), any::<u8>()];
        prop_oneof![
            any::<Index>().prop_map(Damage::Truncate),
            (any::<Index>(), markup.clone()).prop_map(|(at, b)| Damage::Overwrite(at, b)),
            (any::<Index>(), prop::collection::vec(markup, 1..8))
                .prop_map(|(at, bytes)| Damage::Insert(at, bytes)),
            (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Damage::Remove(a, b)),
        ]
    }

    fn apply(damage: &Damage, bytes: &mut Vec<u8>) {
        let len = bytes.len();
        match damage {
            Damage::Truncate(at) => bytes.truncate(at.index(len + 1)),
            Damage::Overwrite(at, b) if len > 0 => bytes[at.index(len)] = *b,
            Damage::Overwrite(..) => {}
            Damage::Insert(at, new) => {
                let at = at.index(len + 1);
                bytes.splice(at..at, new.iter().copied());
            }
            Damage::Remove(a, b) => {
                let (a, b) = (a.index(len + 1), b.index(len + 1));
                bytes.drain(a.min(b)..a.max(b));
            }
        }
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    proptest! {
        #![proptest_config(config())]

        /// A well-formed document reads back exactly its fields, in the body or (for a HEAD,
        /// whose answer has no body) base64 in `x-oss-err`; the status is kept.
        #[test]
        fn error_documents_read_back_their_fields(
            status in any::<u16>(),
            (fields, document) in error_document(),
            in_header in any::<bool>(),
        ) {
            let (headers, body) = if in_header {
                let encoded = BASE64.encode(&document);
                (header_map(&[("x-oss-err", encoded.as_bytes())]), Vec::new())
            } else {
                (HeaderMap::new(), document.into_bytes())
            };
            let e = service_error(&answer(status, headers, body));
            let [code, message, request_id, host_id, ec] = fields;
            prop_assert_eq!(e.http_status(), Some(status));
            prop_assert_eq!(e.code(), code.as_deref());
            if let Some(message) = &message {
                prop_assert_eq!(e.message(), message);
            }
            prop_assert_eq!(e.request_id(), request_id.as_deref());
            prop_assert_eq!(e.host_id(), host_id.as_deref());
            prop_assert_eq!(e.ec(), ec.as_deref());
        }

        /// A damaged document, in the body or in `x-oss-err`, still gives an error with its
        /// status and the object's length from its header.
        #[test]
        fn damaged_error_documents_give_clean_errors(
            status in any::<u16>(),
            (_, document) in error_document(),
            damages in prop::collection::vec(damage(), 1..4),
            in_header in any::<bool>(),
            position in any::<u64>(),
        ) {
            let mut bytes = document.into_bytes();
            for d in &damages {
                apply(d, &mut bytes);
            }
            let position_text = position.to_string();
            let mut headers =
                header_map(&[("x-oss-next-append-position", position_text.as_bytes())]);
            let body = if in_header {
                let encoded = BASE64.encode(&bytes);
                headers.append("x-oss-err", HeaderValue::from_str(&encoded).unwrap());
                Vec::new()
            } else {
                bytes
            };
            let e = service_error(&answer(status, headers, body));
            prop_assert_eq!(e.http_status(), Some(status));
            prop_assert_eq!(e.next_position(), Some(position));
        }

        /// Any answer body, or any `x-oss-err` (base64 of anything, or not base64 at all), gives
        /// an error with its status and a message: when there is no `Message` to take, at most
        /// 512 characters of the raw text, or a note that there was none.
        #[test]
        fn any_error_answer_gives_a_status_and_a_message(
            status in any::<u16>(),
            bytes in prop::collection::vec(any::<u8>(), 0..2048),
            raw_header in header_bytes(0..200),
            delivery in 0..3u8,
        ) {
            let (headers, body, document) = match delivery {
                0 => (HeaderMap::new(), bytes.clone(), bytes),
                1 => {
                    let encoded = BASE64.encode(&bytes);
                    (header_map(&[("x-oss-err", encoded.as_bytes())]), Vec::new(), bytes)
                }
                _ => {
                    // Not text (bytes above 0x7f) or not base64: no document.
                    let decoded = std::str::from_utf8(&raw_header)
                        .ok()
                        .and_then(|text| BASE64.decode(text).ok())
                        .unwrap_or_default();
                    (header_map(&[("x-oss-err", &raw_header)]), Vec::new(), decoded)
                }
            };
            let e = service_error(&answer(status, headers, body));
            prop_assert_eq!(e.http_status(), Some(status));
            if !contains(&document, b"Message") {
                let length = e.message().chars().count();
                prop_assert!((1..=512).contains(&length), "{:?}", e.message());
            }
        }
    }

    // ---- Numbers, dates and attributes read from answers ----

    /// Header names the answer readers look at, and a few `x-oss-meta-*`.
    const ANSWER_HEADERS: &[&str] = &[
        "x-oss-next-append-position",
        "x-oss-hash-crc64ecma",
        "content-length",
        "x-oss-object-type",
        "last-modified",
        "x-oss-sealed-time",
        "etag",
        "content-type",
        "x-oss-request-id",
        "x-oss-version-id",
        "x-oss-ec",
        "x-oss-err",
        "x-oss-meta-a",
        "x-oss-meta-",
    ];

    /// 9999-12-31 23:59:59 in seconds since 1970: the last time an HTTP date can hold.
    const LAST_HTTP_DATE: u64 = 253_402_300_799;

    /// A header value as a peer might send it: a number, a number with something around it, an
    /// object type, a date, or any bytes.
    fn answer_value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            any::<u64>().prop_map(|n| n.to_string().into_bytes()),
            (
                select(vec!["", "+", "-", " ", "0", "0x", "\t", "1"]),
                any::<u64>(),
                select(vec!["", " ", "x", ".0", "0", "e3", "9"]),
            )
                .prop_map(|(before, n, after)| format!("{before}{n}{after}").into_bytes()),
            select(vec!["Appendable", "Normal", "Multipart", "Symlink", ""])
                .prop_map(|t| t.as_bytes().to_vec()),
            (0..=LAST_HTTP_DATE).prop_map(|s| {
                httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(s)).into_bytes()
            }),
            header_bytes(0..40),
        ]
    }

    /// A header map with any of [`ANSWER_HEADERS`] and other `x-oss-meta-*`, some repeated.
    fn answer_headers() -> impl Strategy<Value = HeaderMap> {
        let name = prop_oneof![
            3 => select(ANSWER_HEADERS.to_vec()).prop_map(String::from),
            1 => "x-oss-meta-[a-z0-9._-]{0,8}",
        ];
        prop::collection::vec((name, answer_value()), 0..16).prop_map(|pairs| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.append(
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_bytes(&value).unwrap(),
                );
            }
            map
        })
    }

    /// What a header says as a number: decimal digits only (HTTP's `1*DIGIT`: no sign, no
    /// space) within u64; anything else is no number.
    fn numeral(headers: &HeaderMap, name: &str) -> Option<u64> {
        let text = headers.get(name)?.to_str().ok()?;
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok()
    }

    proptest! {
        #![proptest_config(config())]

        /// Any status, headers and body: the readers never panic, keep the status and give a
        /// number exactly where the header is one. A HEAD's answer is one only with a type.
        #[test]
        fn answers_give_numbers_only_where_numeric(
            status in any::<u16>(),
            headers in answer_headers(),
            body in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            let response = answer(status, headers, body);
            let headers = &response.headers;
            let position = numeral(headers, "x-oss-next-append-position");
            let crc = numeral(headers, "x-oss-hash-crc64ecma");
            let e = service_error(&response);
            prop_assert_eq!(e.http_status(), Some(status));
            prop_assert_eq!(e.next_position(), position);
            let a = append_answer(&response);
            prop_assert_eq!((a.next_position, a.crc64), (position, crc));
            let typed = headers.get("x-oss-object-type").is_some_and(|v| v.to_str().is_ok());
            match object_info(&response) {
                Ok(info) => {
                    prop_assert!(typed);
                    prop_assert_eq!(info.length, numeral(headers, "content-length").unwrap_or(0));
                    prop_assert_eq!((info.next_position, info.crc64), (position, crc));
                    // Each `x-oss-meta-*` header that is text, and nothing else.
                    let text_meta = headers
                        .iter()
                        .filter(|(n, v)| {
                            n.as_str().starts_with("x-oss-meta-") && v.to_str().is_ok()
                        })
                        .count();
                    prop_assert_eq!(info.metadata.len(), text_meta);
                    for (name, value) in &info.metadata {
                        let sent = headers.get_all(format!("x-oss-meta-{name}"));
                        prop_assert!(sent.iter().any(|v| v.as_bytes() == value.as_bytes()));
                    }
                }
                Err(e) => prop_assert_eq!((typed, e.kind()), (false, ErrorKind::Network)),
            }
        }

        /// Any u64 we write in decimal reads back as that number, wherever a number is read.
        #[test]
        fn any_number_in_a_header_reads_back(
            position in any::<u64>(),
            crc in any::<u64>(),
            length in any::<u64>(),
            status in any::<u16>(),
        ) {
            let mut texts = [itoa::Buffer::new(), itoa::Buffer::new(), itoa::Buffer::new()];
            let [position_text, crc_text, length_text] = &mut texts;
            let (position_text, crc_text, length_text) =
                (position_text.format(position), crc_text.format(crc), length_text.format(length));
            let response = answer(status, header_map(&[
                ("x-oss-next-append-position", position_text.as_bytes()),
                ("x-oss-hash-crc64ecma", crc_text.as_bytes()),
                ("content-length", length_text.as_bytes()),
                ("x-oss-object-type", b"Appendable"),
            ]), Vec::new());
            let a = append_answer(&response);
            prop_assert_eq!((a.next_position, a.crc64), (Some(position), Some(crc)));
            let info = object_info(&response).unwrap();
            prop_assert_eq!(
                (info.length, info.next_position, info.crc64),
                (length, Some(position), Some(crc))
            );
            prop_assert_eq!(service_error(&response).next_position(), Some(position));
        }

        /// Any times (to the second, years 1970 to 9999) written as HTTP dates read back, each
        /// from its own header.
        #[test]
        fn any_date_in_a_header_reads_back(
            modified in 0..=LAST_HTTP_DATE,
            sealed in 0..=LAST_HTTP_DATE,
        ) {
            let [modified, sealed] =
                [modified, sealed].map(|s| UNIX_EPOCH + Duration::from_secs(s));
            let (modified_text, sealed_text) =
                (httpdate::fmt_http_date(modified), httpdate::fmt_http_date(sealed));
            let response = answer(200, header_map(&[
                ("x-oss-object-type", b"Appendable"),
                ("last-modified", modified_text.as_bytes()),
                ("x-oss-sealed-time", sealed_text.as_bytes()),
            ]), Vec::new());
            let info = object_info(&response).unwrap();
            prop_assert_eq!((info.last_modified, info.sealed_time), (Some(modified), Some(sealed)));
            prop_assert_eq!(sealed_time(&response), Some(sealed));
        }
    }

    // ---- Regressions: inputs the properties above found wrongly taken ----

    #[test]
    fn a_signed_number_in_a_header_is_no_number() {
        let signed = answer(
            200,
            header_map(&[
                ("x-oss-next-append-position", b"+5"),
                ("x-oss-hash-crc64ecma", b"+0"),
                ("content-length", b"+5"),
                ("x-oss-object-type", b"Appendable"),
            ]),
            Vec::new(),
        );
        let a = append_answer(&signed);
        assert_eq!((a.next_position, a.crc64), (None, None));
        assert_eq!(object_info(&signed).unwrap().length, 0);
    }
}
