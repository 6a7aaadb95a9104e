//! What the test files share: a raw HTTP/1.1 client (requests written byte by byte, answers'
//! heads parsed by httparse) and answers' XML read with quick-xml.

// Each test file is a crate of its own and uses a part of this.
#![allow(dead_code)]

use oss_local_server::Server;
use oss_protocol::signer::v4::uri_encode;
use quick_xml::events::Event;
use std::cell::OnceCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// An answer as it came: status, headers in order, body.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body's elements, read when first asked for.
    elements: OnceCell<Vec<Element>>,
}

/// An element of an XML answer: where it is (`Root/Parent/Name`) and the text directly in
/// it, unescaped.
struct Element {
    path: String,
    text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        let (_, value) = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))?;
        Some(value)
    }

    /// A header that must be there, as a number.
    pub fn u64(&self, name: &str) -> u64 {
        self.header(name)
            .unwrap_or_else(|| panic!("no {name} in {self:?}"))
            .parse()
            .unwrap()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The text of every element at `path`, in document order: `Name` is any element so
    /// named, `Parent/Name` one directly inside a `Parent`.
    pub fn all(&self, path: &str) -> Vec<&str> {
        let suffix = format!("/{path}");
        self.elements
            .get_or_init(|| elements(&self.body))
            .iter()
            .filter(|e| e.path == path || e.path.ends_with(&suffix))
            .map(|e| e.text.as_str())
            .collect()
    }

    /// The names of the elements directly inside the first `parent`, in document order.
    pub fn names_in(&self, parent: &str) -> Vec<&str> {
        let elements = self.elements.get_or_init(|| elements(&self.body));
        let Some(parent) = elements
            .iter()
            .find(|e| e.path.rsplit('/').next() == Some(parent))
        else {
            return Vec::new();
        };
        let prefix = format!("{}/", parent.path);
        elements
            .iter()
            .filter_map(|e| e.path.strip_prefix(&prefix))
            .filter(|name| !name.contains('/'))
            .collect()
    }

    /// The first element at `path` (see [`Reply::all`]), if there is one.
    pub fn one(&self, path: &str) -> Option<&str> {
        self.all(path).first().copied()
    }

    /// [`Reply::one`], or `""` when there is none.
    pub fn element(&self, path: &str) -> &str {
        self.one(path).unwrap_or("")
    }

    pub fn code(&self) -> &str {
        self.element("Error/Code")
    }

    pub fn ec(&self) -> &str {
        self.element("Error/EC")
    }

    /// Status, error code and EC.
    pub fn error(&self) -> (u16, &str, &str) {
        (self.status, self.code(), self.ec())
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &self.text())
            .finish()
    }
}

/// Every element of an XML document, in document order; none when the body is not XML.
fn elements(body: &[u8]) -> Vec<Element> {
    let Ok(text) = std::str::from_utf8(body) else {
        return Vec::new();
    };
    let mut reader = quick_xml::Reader::from_str(text);
    let mut found: Vec<Element> = Vec::new();
    // The open elements, as indexes into `found`, each with its raw text so far.
    let mut open: Vec<(usize, String)> = Vec::new();
    let path_of = |open: &[(usize, String)], found: &[Element], name: &[u8]| {
        let name = String::from_utf8_lossy(name);
        match open.last() {
            Some((parent, _)) => format!("{}/{name}", found[*parent].path),
            None => name.into_owned(),
        }
    };
    loop {
        match reader.read_event() {
            Ok(Event::Start(start)) => {
                let path = path_of(&open, &found, start.name().as_ref());
                found.push(Element {
                    path,
                    text: String::new(),
                });
                open.push((found.len() - 1, String::new()));
            }
            Ok(Event::Empty(start)) => {
                let path = path_of(&open, &found, start.name().as_ref());
                found.push(Element {
                    path,
                    text: String::new(),
                });
            }
            Ok(Event::Text(text)) => {
                if let (Some((_, raw)), Ok(text)) = (open.last_mut(), text.decode()) {
                    raw.push_str(&text);
                }
            }
            // quick-xml hands over `&amp;` and the like apart from the text around them.
            Ok(Event::GeneralRef(reference)) => {
                if let (Some((_, raw)), Ok(name)) = (open.last_mut(), reference.decode()) {
                    raw.push('&');
                    raw.push_str(&name);
                    raw.push(';');
                }
            }
            Ok(Event::End(_)) => {
                if let Some((index, raw)) = open.pop() {
                    found[index].text = quick_xml::escape::unescape(&raw)
                        .map(|text| text.into_owned())
                        .unwrap_or(raw);
                }
            }
            Ok(Event::Eof) | Err(_) => return found,
            Ok(_) => {}
        }
    }
}

/// A client connection that writes requests as given and reads answers.
pub struct Connection {
    pub reader: BufReader<TcpStream>,
    /// What requests send as `Host`.
    pub host: String,
}

impl Connection {
    pub fn open(server: &Server) -> Connection {
        let stream = TcpStream::connect(server.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Connection {
            reader: BufReader::new(stream),
            host: server.addr().to_string(),
        }
    }

    /// A client that gives up waiting for a reply after `timeout`.
    pub fn with_read_timeout(self, timeout: Duration) -> Connection {
        self.reader
            .get_ref()
            .set_read_timeout(Some(timeout))
            .unwrap();
        self
    }

    pub fn write(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).unwrap();
    }

    /// `bytes` sent, then the answer (without a body for a HEAD).
    pub fn exchange(&mut self, bytes: &[u8], head_only: bool) -> std::io::Result<Reply> {
        self.reader.get_mut().write_all(bytes)?;
        self.read_reply(head_only)
    }

    /// Ends what this client sends; the server then sees the end of the stream.
    pub fn finish_sending(&mut self) {
        self.reader
            .get_ref()
            .shutdown(std::net::Shutdown::Write)
            .unwrap();
    }

    /// Whether the server closed the connection: the next read finds its end (or a reset),
    /// not more bytes and not a timeout.
    pub fn is_closed_by_server(&mut self) -> bool {
        let mut byte = [0u8; 1];
        match self.reader.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }

    /// The next answer: its head, then as many body bytes as its Content-Length says.
    pub fn read_reply(&mut self, head_only: bool) -> std::io::Result<Reply> {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            if self.reader.read_until(b'\n', &mut head)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
        let mut parsed_headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut parsed_headers);
        response.parse(&head).expect("a valid response head");
        let headers: Vec<(String, String)> = response
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_string(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect();
        let mut reply = Reply {
            status: response.code.unwrap(),
            headers,
            body: Vec::new(),
            elements: OnceCell::new(),
        };
        if !head_only && reply.status != 100 {
            let len = reply
                .header("content-length")
                .map_or(0, |v| v.parse().unwrap());
            reply.body = vec![0; len];
            self.reader.read_exact(&mut reply.body)?;
        }
        Ok(reply)
    }
}

/// `/<bucket>/<key>?<query>`, or `/?<query>` on the service (`None`), each part
/// percent-encoded as the SDKs send it; a key of `""` is the bucket itself.
pub fn target(bucket: Option<&str>, key: &str, query: &[(&str, Option<&str>)]) -> String {
    let mut target = match bucket {
        Some(bucket) => format!("/{bucket}/{}", uri_encode(key, true)),
        None => "/".to_string(),
    };
    for (i, (name, value)) in query.iter().enumerate() {
        target.push(if i == 0 { '?' } else { '&' });
        target.push_str(&uri_encode(name, false));
        if let Some(value) = value {
            target.push('=');
            target.push_str(&uri_encode(value, false));
        }
    }
    target
}

/// `METHOD target` with `headers` and `body` exactly as given (no signature added), on a
/// connection of its own.
pub fn send_raw(
    server: &Server,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut conn = Connection::open(server);
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
        conn.host,
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    conn.exchange(&bytes, method == "HEAD").unwrap()
}

/// `METHOD path`, unsigned (the server's `/-/` control endpoints), on a connection of its own.
pub fn unsigned(server: &Server, method: &str, path: &str) -> Reply {
    send_raw(server, method, path, &[], b"")
}
