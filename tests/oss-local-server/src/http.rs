//! A minimal HTTP/1.1 connection: request heads parsed by httparse, bodies read straight
//! into the caller's buffer, keep-alive, `Expect: 100-continue`, and a reset (RST) for
//! scripted faults. Our own loop rather than a framework's, because faults need the socket.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const HEAD_LIMIT: usize = 64 * 1024;
const MAX_HEADERS: usize = 128;

pub trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

pub struct Head {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    /// HTTP/1.0, or `Connection: close`.
    pub close: bool,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }
}

/// The first value of a header, by case-insensitive name.
pub fn header_value<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

pub struct Conn {
    stream: Box<dyn Stream>,
    /// The socket under `stream` (a TLS stream hides it), for SO_LINGER on reset.
    tcp: TcpStream,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

pub enum HeadError {
    /// The peer closed the connection between requests.
    Closed,
    /// The connection failed or ended mid-head.
    Broken,
    /// A head we cannot parse or that is too large: answer 400 and close.
    Malformed(String),
}

impl Conn {
    pub fn new(stream: Box<dyn Stream>, tcp: TcpStream) -> Self {
        Conn {
            stream,
            tcp,
            buf: vec![0; HEAD_LIMIT].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    pub fn read_head(&mut self) -> Result<Head, HeadError> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&self.buf[..self.end]) {
                Ok(httparse::Status::Complete(len)) => {
                    let mut parsed = Vec::with_capacity(req.headers.len());
                    for h in req.headers.iter() {
                        let value = std::str::from_utf8(h.value).map_err(|_| {
                            HeadError::Malformed(format!("header {} is not UTF-8", h.name))
                        })?;
                        parsed.push((h.name.to_string(), value.trim().to_string()));
                    }
                    let mut head = Head {
                        method: req.method.unwrap_or("").to_string(),
                        target: req.path.unwrap_or("/").to_string(),
                        close: req.version == Some(0),
                        headers: parsed,
                    };
                    if let Some(c) = head.header("connection") {
                        head.close = c.eq_ignore_ascii_case("close");
                    }
                    self.start = len;
                    return Ok(head);
                }
                Ok(httparse::Status::Partial) if self.end == self.buf.len() => {
                    return Err(HeadError::Malformed("request head too large".into()))
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => return Err(HeadError::Malformed(format!("bad request head: {e}"))),
            }
            let n = self
                .stream
                .read(&mut self.buf[self.end..])
                .map_err(|_| HeadError::Broken)?;
            if n == 0 {
                return Err(if self.end == 0 {
                    HeadError::Closed
                } else {
                    HeadError::Broken
                });
            }
            self.end += n;
        }
    }

    /// A reader of the next `len` body bytes.
    pub fn body(&mut self, len: u64) -> Body<'_> {
        Body {
            conn: self,
            remaining: len,
        }
    }

    pub fn send_continue(&mut self) -> io::Result<()> {
        self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        self.stream.flush()
    }

    pub fn send(&mut self, response: &Response, head_only: bool, close: bool) -> io::Result<()> {
        let mut out = Vec::with_capacity(512 + if head_only { 0 } else { response.body.len() });
        write!(
            out,
            "HTTP/1.1 {} {}\r\n",
            response.status,
            reason(response.status)
        )?;
        for (name, value) in &response.headers {
            write!(out, "{name}: {value}\r\n")?;
        }
        if !response
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        {
            write!(out, "Content-Length: {}\r\n", response.body.len())?;
        }
        out.extend_from_slice(if close {
            b"Connection: close\r\n\r\n"
        } else {
            b"Connection: keep-alive\r\n\r\n"
        });
        if !head_only {
            out.extend_from_slice(&response.body);
        }
        self.stream.write_all(&out)?;
        self.stream.flush()
    }

    /// Aborts the connection with a TCP reset, as a crashed server or a middlebox would.
    pub fn reset(self) {
        let _ = socket2::SockRef::from(&self.tcp).set_linger(Some(Duration::ZERO));
        // Dropping both handles closes the socket; with linger 0 that sends RST.
    }
}

pub struct Body<'c> {
    conn: &'c mut Conn,
    remaining: u64,
}

impl Body<'_> {
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Reads and throws away the rest, so the connection can serve the next request.
    pub fn drain(&mut self) -> io::Result<()> {
        let mut scratch = vec![0u8; 64 * 1024];
        while self.read(&mut scratch)? > 0 {}
        Ok(())
    }
}

impl Read for Body<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || out.is_empty() {
            return Ok(0);
        }
        let want = out
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let conn = &mut *self.conn;
        let n = if conn.start < conn.end {
            let n = want.min(conn.end - conn.start);
            out[..n].copy_from_slice(&conn.buf[conn.start..conn.start + n]);
            conn.start += n;
            n
        } else {
            // Large reads go straight from the socket into the caller's buffer.
            let n = conn.stream.read(&mut out[..want])?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            n
        };
        self.remaining -= n as u64;
        Ok(n)
    }
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        411 => "Length Required",
        416 => "Requested Range Not Satisfiable",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}
