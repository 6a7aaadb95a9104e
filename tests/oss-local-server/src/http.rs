//! A minimal HTTP/1.1 connection: request heads parsed by httparse, bodies (Content-Length
//! or chunked) read straight into the caller's buffer, keep-alive, `Expect: 100-continue`,
//! a lingering close, and a reset (RST) for scripted faults. Our own loop rather than a
//! framework's, because faults need the socket.

use crate::traffic_limit::TrafficLimit;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::ops::Range;
use std::time::{Duration, Instant};

const HEAD_LIMIT: usize = 64 * 1024;
const MAX_HEADERS: usize = 128;
/// A chunk-size line with its extensions, which we read and ignore.
const CHUNK_LINE_LIMIT: usize = 4096;
/// All trailer fields of a chunked body together; they are read and ignored.
const TRAILERS_LIMIT: usize = 16 * 1024;
/// How long a closing connection keeps reading what the client still sends.
const LINGER: Duration = Duration::from_secs(2);

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
        self.compact();
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

    /// Moves the unread bytes to the front of the buffer, making room to read more.
    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// A reader of the request body. A chunked body whose chunk sizes add up to more than
    /// `limit` fails with [`BodyError::TooLarge`] as soon as the size is announced.
    pub fn body(&mut self, framing: Framing, limit: u64) -> Body<'_> {
        let state = match framing {
            Framing::Length(0) => State::Done,
            Framing::Length(left) => State::Data {
                left,
                chunked: false,
            },
            Framing::Chunked => State::Size,
        };
        Body {
            conn: self,
            state,
            limit,
            announced: 0,
        }
    }

    /// Body bytes: what is buffered first, then large reads straight from the socket into
    /// the caller's buffer.
    fn read_some(&mut self, out: &mut [u8]) -> Result<usize, BodyError> {
        if self.start < self.end {
            let n = out.len().min(self.end - self.start);
            out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
            self.start += n;
            return Ok(n);
        }
        match self.stream.read(out) {
            Ok(0) | Err(_) => Err(BodyError::Broken),
            Ok(n) => Ok(n),
        }
    }

    /// The next line of a chunked body's framing, without its CRLF, as a range of the
    /// buffer. A line longer than `max` bytes, or ended by a bare LF, is malformed.
    fn take_line(&mut self, max: usize) -> Result<Range<usize>, BodyError> {
        let mut searched = 0;
        loop {
            let pending = &self.buf[self.start..self.end];
            if let Some(i) = pending[searched..].iter().position(|&b| b == b'\n') {
                let lf = searched + i;
                if lf == 0 || pending[lf - 1] != b'\r' {
                    return Err(BodyError::Malformed("a framing line does not end in CRLF"));
                }
                if lf - 1 > max {
                    return Err(BodyError::Malformed("a framing line is too long"));
                }
                let line = self.start..self.start + lf - 1;
                self.start += lf + 1;
                return Ok(line);
            }
            // The CR of a CRLF may already be here, its LF not yet.
            if pending.len() > max + 1 {
                return Err(BodyError::Malformed("a framing line is too long"));
            }
            searched = pending.len();
            self.compact();
            match self.stream.read(&mut self.buf[self.end..]) {
                Ok(0) | Err(_) => return Err(BodyError::Broken),
                Ok(n) => self.end += n,
            }
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
        match response.traffic_limit.filter(|_| !head_only) {
            Some(limit) => {
                self.stream.write_all(&out)?;
                // Each piece waits for its turn, so the last byte goes out no sooner than
                // the limit allows.
                let pace = limit.start();
                let mut sent = 0;
                for piece in response.body.chunks(pace.piece()) {
                    sent += piece.len() as u64;
                    pace.wait(sent);
                    self.stream.write_all(piece)?;
                }
            }
            None => {
                if !head_only {
                    out.extend_from_slice(&response.body);
                }
                self.stream.write_all(&out)?;
            }
        }
        self.stream.flush()
    }

    /// Closes after an answer that may have left request bytes unread (RFC 9112 section 9.6):
    /// half-close, then read and discard what the client still sends, for a bounded time.
    /// Closing at once would make the kernel answer those bytes with a reset, which can
    /// destroy our answer before the client has read it.
    pub fn close(self) {
        if self.tcp.shutdown(Shutdown::Write).is_err() {
            return;
        }
        let deadline = Instant::now() + LINGER;
        let mut scratch = [0u8; 16 * 1024];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.tcp.set_read_timeout(Some(left)).is_err() {
                return;
            }
            if matches!((&self.tcp).read(&mut scratch), Ok(0) | Err(_)) {
                return;
            }
        }
    }

    /// Aborts the connection with a TCP reset, as a crashed server or a middlebox would.
    pub fn reset(self) {
        let _ = socket2::SockRef::from(&self.tcp).set_linger(Some(Duration::ZERO));
        // Dropping both handles closes the socket; with linger 0 that sends RST.
    }
}

/// How a request body is delimited (RFC 9112 section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Length(u64),
    Chunked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// The connection failed or ended before the body did.
    Broken,
    /// The chunked framing is not valid; what is wrong.
    Malformed(&'static str),
    /// The chunk sizes announced so far add up to `at_least`, more than the limit.
    TooLarge { at_least: u64 },
}

/// A request body, decoded as it streams in: only framing lines are buffered, never data.
pub struct Body<'c> {
    conn: &'c mut Conn,
    state: State,
    limit: u64,
    /// Chunked: the sum of the chunk sizes announced so far.
    announced: u64,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Bytes still to come of a Content-Length body or of the current chunk.
    Data {
        left: u64,
        chunked: bool,
    },
    /// The CRLF after a chunk's data.
    ChunkEnd,
    /// The next chunk-size line.
    Size,
    /// The trailer section after the last chunk.
    Trailers,
    Done,
}

impl Body<'_> {
    /// Whether the whole body, framing included, has been read.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Decoded body bytes into `out`; 0 once the body is done (or `out` is empty).
    pub fn read(&mut self, out: &mut [u8]) -> Result<usize, BodyError> {
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::Data { left, chunked } => {
                    if out.is_empty() {
                        return Ok(0);
                    }
                    let want = out.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = self.conn.read_some(&mut out[..want])?;
                    let left = left - n as u64;
                    self.state = match (left, chunked) {
                        (0, true) => State::ChunkEnd,
                        (0, false) => State::Done,
                        _ => State::Data { left, chunked },
                    };
                    return Ok(n);
                }
                State::ChunkEnd => {
                    // A line of nothing: the CRLF must follow the data at once.
                    self.conn.take_line(0).map_err(|e| match e {
                        BodyError::Malformed(_) => {
                            BodyError::Malformed("chunk data is not followed by CRLF")
                        }
                        e => e,
                    })?;
                    self.state = State::Size;
                }
                State::Size => {
                    let line = self.conn.take_line(CHUNK_LINE_LIMIT)?;
                    let size = chunk_size(&self.conn.buf[line]).map_err(BodyError::Malformed)?;
                    self.announced = self.announced.saturating_add(size);
                    if self.announced > self.limit {
                        return Err(BodyError::TooLarge {
                            at_least: self.announced,
                        });
                    }
                    self.state = match size {
                        0 => State::Trailers,
                        left => State::Data {
                            left,
                            chunked: true,
                        },
                    };
                }
                State::Trailers => {
                    let mut room = TRAILERS_LIMIT;
                    loop {
                        let line = self.conn.take_line(room)?;
                        if line.is_empty() {
                            break;
                        }
                        if !is_field_line(&self.conn.buf[line.clone()]) {
                            return Err(BodyError::Malformed("a trailer is not a header field"));
                        }
                        room -= line.len();
                    }
                    self.state = State::Done;
                }
            }
        }
    }

    /// Reads and throws away the rest, so the connection can serve the next request.
    pub fn drain(&mut self) -> Result<(), BodyError> {
        let mut scratch = vec![0u8; 64 * 1024];
        while self.read(&mut scratch)? > 0 {}
        Ok(())
    }
}

/// `chunk-size [ chunk-ext ]` (RFC 9112 section 7.1): hex digits, then optionally `;`
/// extensions (after optional whitespace), which we ignore as the RFC allows.
fn chunk_size(line: &[u8]) -> Result<u64, &'static str> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let (size, rest) = line.split_at(digits);
    if rest.iter().any(|&b| b.is_ascii_control() && b != b'\t') {
        return Err("a chunk-size line has a control character");
    }
    let extensions = rest.trim_ascii_start();
    if digits == 0 || !(extensions.is_empty() || extensions[0] == b';') {
        return Err("a chunk size is not a hexadecimal number");
    }
    let zeros = size.iter().take_while(|&&b| b == b'0').count();
    if digits - zeros > 16 {
        return Err("a chunk size does not fit in 64 bits");
    }
    Ok(size[zeros..].iter().fold(0, |n, &digit| {
        let value = match digit {
            b'0'..=b'9' => digit - b'0',
            b'a'..=b'f' => digit - b'a' + 10,
            _ => digit - b'A' + 10,
        };
        n << 4 | u64::from(value)
    }))
}

/// `name ":" value` with a token for a name and no control characters but tabs.
fn is_field_line(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    let tchar = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
    !name.is_empty()
        && name.iter().all(tchar)
        && value.iter().all(|&b| !b.is_ascii_control() || b == b'\t')
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body is sent no faster than this (a GetObject's `x-oss-traffic-limit`).
    pub traffic_limit: Option<TrafficLimit>,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            traffic_limit: None,
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
