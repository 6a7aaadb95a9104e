//! Property tests of every parser and validator: random and mutated input gives a correct
//! value or a clean error, never a panic. Where one exists, the oracle is code other than
//! ours: the http crate for header values and URLs, httpdate for dates,
//! quick-xml's escaping and the base64 crate for error documents. `make test` runs
//! proptest's default 256 cases each; `make fuzz` sets PROPTEST_CASES far higher.

use crate::config::{Config, Endpoint};
use crate::credentials::Credentials;
use crate::error::{Error, ErrorKind};
use crate::http::Response;
use crate::object::{
    header_value, validate_bucket, validate_key, CreateParams, RequestParams, ACLS,
    SERVER_SIDE_ENCRYPTIONS, STORAGE_CLASSES,
};
use crate::response::{append_answer, object_info, sealed_time, service_error};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, UNIX_EPOCH};
use ureq::http::{HeaderMap, HeaderName, HeaderValue, Uri};

/// Proptest's defaults, PROPTEST_CASES included, so `make fuzz` scales every property. No
/// failure file is written into the tree: a failure found is kept as a named test below.
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

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

/// A refusal of a bad argument: InvalidArgument, its message naming the value as `{:?}`
/// shows it.
fn names_the_value(error: &Error, value: &str) -> bool {
    error.kind() == ErrorKind::InvalidArgument && error.message().contains(&format!("{value:?}"))
}

/// Bytes a header value may hold (the http crate's rule): no control character but tab, no
/// DEL; bytes above 0x7f (not text to `to_str`) included.
fn header_bytes(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![4 => 0x20u8..0x7f, 1 => 0x80u8..=0xff, 1 => Just(b'\t')],
        len,
    )
}

/// Text for header values: mostly printable ASCII, with line breaks, other control
/// characters, DEL and non-ASCII mixed in.
fn header_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => proptest::char::range(' ', '~'),
            1 => select(vec!['\r', '\n', '\t', '\0', '\x7f', '\x0b', 'é', '\u{85}', '\u{2028}']),
            1 => any::<char>(),
        ],
        0..40,
    )
    .prop_map(String::from_iter)
}

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
        let mut headers = header_map(&[("x-oss-next-append-position", position_text.as_bytes())]);
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
                    .filter(|(n, v)| n.as_str().starts_with("x-oss-meta-") && v.to_str().is_ok())
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
        let [modified, sealed] = [modified, sealed].map(|s| UNIX_EPOCH + Duration::from_secs(s));
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

// ---- Endpoints and proxies ----

/// A DNS name in mixed case, an IPv4 address or a bracketed IPv6 address; true for the IPs.
fn host() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        prop::collection::vec("[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?", 1..5)
            .prop_map(|labels| (labels.join("."), false)),
        any::<Ipv4Addr>().prop_map(|ip| (ip.to_string(), true)),
        any::<Ipv6Addr>().prop_map(|ip| (format!("[{ip}]"), true)),
    ]
}

/// Port text that is no port: zero, above 65535, empty, or not only digits (with the
/// characters a host may hold, so that the port itself is what is wrong).
fn bad_port() -> impl Strategy<Value = String> {
    prop_oneof![
        "0{1,5}",
        (65_536..=u64::MAX).prop_map(|p| p.to_string()),
        Just(String::new()),
        "[0-9]{0,3}[a-zA-Z.:\\[\\]+-][0-9a-zA-Z:\\]]{0,3}",
    ]
}

/// Text shaped like an endpoint or a proxy URL: a scheme or not, then the characters of
/// hosts, ports and user information; or any text.
fn url_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "(https?://|ftp://|HTTP://|)[a-zA-Z0-9.:@%\\[\\]-]{0,24}/?",
    ]
}

/// The port a text names, if it is one: digits only, 1 to 65535.
fn port_number(text: &str) -> Option<u16> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    text.parse().ok().filter(|&p| digits && p != 0)
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A proxy URL with a user and a password, and what was written: its scheme is http or
/// https or another, its port good, bad or absent, a path or not, the credentials
/// percent-encoded or (some of the time) the password raw.
#[derive(Debug, Clone)]
struct ProxyUrl {
    url: String,
    user: String,
    password: String,
    host: String,
    /// The port as written, if one was.
    port: Option<String>,
    /// The password not encoded: a '/', '?' or '#' in it ends the authority early.
    raw: bool,
    well_formed: bool,
}

fn proxy_url() -> impl Strategy<Value = ProxyUrl> {
    let port = prop_oneof![
        3 => (1..=65_535u16).prop_map(|p| Some(p.to_string())),
        1 => bad_port().prop_map(Some),
        1 => Just(None),
    ];
    (
        prop_oneof![
            3 => select(vec!["http", "https"]),
            1 => select(vec!["HTTP", "socks5", "ftp", ""]),
        ],
        "[a-zA-Z0-9]{1,8}|.{1,8}",
        // Long enough that no fixed message text holds it by chance.
        prop::collection::vec(any::<char>(), 8..24).prop_map(String::from_iter),
        host(),
        port,
        select(vec!["", "/", "/path?q"]),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(scheme, user, password, (host, _), port, path, raw)| {
            let well_formed = matches!(scheme, "http" | "https")
                && port.as_deref().is_none_or(|p| port_number(p).is_some())
                && path.len() <= 1
                && !raw;
            let mut url = String::new();
            if !scheme.is_empty() {
                url.push_str(scheme);
                url.push_str("://");
            }
            url.push_str(&percent_encode(&user));
            url.push(':');
            url.push_str(&if raw {
                password.clone()
            } else {
                percent_encode(&password)
            });
            url.push('@');
            url.push_str(&host);
            if let Some(port) = &port {
                url.push(':');
                url.push_str(port);
            }
            url.push_str(path);
            ProxyUrl {
                url,
                user,
                password,
                host,
                port,
                raw,
                well_formed,
            }
        })
}

proptest! {
    #![proptest_config(config())]

    /// `http(s)://host:port` and the host alone parse, keeping scheme, host (lowercased)
    /// and port; IP hosts are known as IPs.
    #[test]
    fn endpoints_keep_host_and_port(
        scheme in prop::option::of(select(vec!["http", "https"])),
        (host, ip) in host(),
        port in prop::option::of(1..=65_535u16),
        slash in any::<bool>(),
    ) {
        let authority = match port {
            Some(port) => format!("{host}:{port}"),
            None => host,
        };
        let text = format!(
            "{}{authority}{}",
            scheme.map_or(String::new(), |s| format!("{s}://")),
            if slash { "/" } else { "" }
        );
        let e = Endpoint::parse(&text).unwrap();
        prop_assert_eq!(e.https, scheme != Some("http"));
        prop_assert_eq!(&e.host, &authority.to_ascii_lowercase());
        prop_assert!(!ip || e.is_ip());
    }

    /// A port of 0, above 65535, empty or not all digits is refused, naming the endpoint.
    #[test]
    fn endpoints_with_bad_ports_are_refused(
        scheme in select(vec!["http://", "https://", ""]),
        (host, _) in host(),
        port in bad_port(),
    ) {
        let text = format!("{scheme}{host}:{port}");
        let e = Endpoint::parse(&text);
        prop_assert!(e.as_ref().is_err_and(|e| names_the_value(e, &text)), "{:?}", e);
    }

    /// Any text: refused naming it, or an endpoint whose host is the authority of a URL the
    /// http crate parses (so every request URL built on it can be sent).
    #[test]
    fn any_endpoint_is_a_url_authority_or_refused(text in url_like()) {
        match Endpoint::parse(&text) {
            Ok(e) => {
                let url = format!("{}://{}/", if e.https { "https" } else { "http" }, e.host);
                let uri = url.parse::<Uri>();
                prop_assert_eq!(
                    uri.as_ref().ok().and_then(|u| u.authority()).map(|a| a.as_str()),
                    Some(e.host.as_str()),
                    "{:?} gave {:?}", text, uri
                );
            }
            Err(e) => prop_assert!(names_the_value(&e, &text), "{:?}", e),
        }
    }

    /// A proxy URL never has its password (as written or decoded) in an error or in the
    /// config's Debug; a well-formed one is taken with its user, decoded password, host and
    /// port; with encoded credentials, one is taken with a port only if that port is 1 to
    /// 65535, and keeps it.
    #[test]
    fn proxies_keep_their_parts_and_never_repeat_passwords(p in proxy_url()) {
        let secrets = [p.password.clone(), percent_encode(&p.password)];
        match Config::new().proxy(&p.url) {
            Ok(config) => {
                let shown = format!("{config:?}");
                prop_assert!(secrets.iter().all(|s| !shown.contains(s.as_str())));
                let proxy = config.proxy.unwrap();
                if let (Some(port), false) = (&p.port, p.raw) {
                    prop_assert_eq!(Some(proxy.port()), port_number(port), "{}", p.url);
                }
                if p.well_formed {
                    prop_assert_eq!(proxy.username(), Some(p.user.as_str()));
                    prop_assert_eq!(proxy.password(), Some(p.password.as_str()));
                    prop_assert_eq!(proxy.host(), p.host.as_str());
                }
            }
            Err(e) => {
                prop_assert!(!p.well_formed, "{} refused: {}", p.url, e);
                prop_assert_eq!(e.kind(), ErrorKind::InvalidArgument);
                let shown = format!("{e} {e:?}");
                prop_assert!(secrets.iter().all(|s| !shown.contains(s.as_str())), "{}", shown);
            }
        }
    }

    /// Any text as a proxy: accepted, or refused as an invalid argument; never a panic.
    #[test]
    fn any_proxy_text_is_taken_or_refused(text in url_like()) {
        if let Err(e) = Config::new().proxy(&text) {
            prop_assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        }
    }
}

// ---- Buckets, keys, header values, parameters, credentials ----

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
            proptest::char::ranges(vec!['\0'..=',', '.'..='/', ':'..='`', '{'..=char::MAX].into())
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

/// A secret or token with a mark that no message's fixed text holds, or a blank one.
fn secret(mark: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        1 => select(vec!["", " \t"]).prop_map(String::from),
        4 => header_text().prop_map(move |t| format!("{mark}{t}")),
    ]
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
        let in_range = limit.is_none_or(|l| (245_760..=838_860_800).contains(&l));
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

    /// A region of lowercase letters, digits and '-' is taken; anything taken can name an
    /// OSS host; a refusal names the text. A user agent taken can follow ours in the
    /// header; one with a line break is refused.
    #[test]
    fn regions_and_user_agents_are_checked(
        valid in "[a-z0-9-]{1,20}",
        region in any::<String>(),
        agent in header_text(),
    ) {
        prop_assert!(Config::new().region(&valid).is_ok(), "{:?}", valid);
        match Config::new().region(&region) {
            Ok(_) => {
                let host = format!("oss-{region}.aliyuncs.com");
                let uri = format!("https://{host}/").parse::<Uri>().ok();
                prop_assert_eq!(uri.as_ref().and_then(|u| u.host()), Some(host.as_str()));
            }
            Err(e) => prop_assert!(names_the_value(&e, &region), "{:?}", e),
        }
        match Config::new().user_agent(&agent) {
            Ok(_) => {
                let header = format!("oss-append/{} {agent}", env!("CARGO_PKG_VERSION"));
                prop_assert!(HeaderValue::from_str(&header).is_ok(), "{:?}", agent);
            }
            Err(e) => prop_assert!(names_the_value(&e, &agent), "{:?}", e),
        }
        if agent.contains(['\r', '\n']) {
            prop_assert!(Config::new().user_agent(&agent).is_err());
        }
    }

    /// Credentials: what is taken can be sent in headers; a refusal is CredentialsMissing
    /// or InvalidArgument; neither an error nor Debug ever shows the secret or the token.
    #[test]
    fn credentials_are_checked_and_never_shown(
        id in prop_oneof![header_text(), "[A-Za-z0-9]{1,24}"],
        secret in secret("s3cr3t:"),
        token in prop::option::of(secret("t0ken:")),
    ) {
        // The marked ones: a blank one is in any text.
        let hidden: Vec<&str> = [Some(secret.as_str()), token.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| s.contains(':'))
            .collect();
        let shown = match Credentials::new(&id, &secret, token.as_deref()) {
            Ok(c) => {
                prop_assert!(HeaderValue::from_str(c.access_key_id()).is_ok());
                prop_assert!(!c.access_key_id().contains(' '));
                if let Some(t) = c.security_token() {
                    prop_assert!(HeaderValue::from_str(t).is_ok() && !t.contains(' '));
                }
                format!("{c:?}")
            }
            Err(e) => {
                prop_assert!(matches!(
                    e.kind(),
                    ErrorKind::CredentialsMissing | ErrorKind::InvalidArgument
                ));
                format!("{e} {e:?}")
            }
        };
        prop_assert!(hidden.iter().all(|s| !shown.contains(s)), "{}", shown);
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

#[test]
fn colons_and_brackets_outside_an_ipv6_address_make_no_host() {
    for bad in [
        "http://a::1",
        "::1",
        "]",
        "example.com:80]",
        "http://example.com:1:2",
        "[x]",
        "[1.2.3.4]:80",
    ] {
        let e = Endpoint::parse(bad);
        assert!(
            e.as_ref().is_err_and(|e| names_the_value(e, bad)),
            "{bad}: {e:?}"
        );
    }
    assert_eq!(
        Endpoint::parse("[::ffff:1.2.3.4]:80").unwrap().host,
        "[::ffff:1.2.3.4]:80"
    );
}

#[test]
fn a_proxy_port_that_is_no_port_is_refused() {
    for bad in [
        "http://u:hunter2@proxy.local:65536",
        "http://proxy.local:99999",
        "http://proxy.local:",
        "http://proxy.local:0",
    ] {
        let e = Config::new().proxy(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
        assert!(!e.message().contains("hunter2"), "{e}");
    }
    let proxy = Config::new()
        .proxy("http://proxy.local:65535")
        .unwrap()
        .proxy
        .unwrap();
    assert_eq!(proxy.port(), 65535);
}
