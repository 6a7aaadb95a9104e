//! HTTP/1.1 as OSS appends need it, and no more: keep-alive connections pooled per client,
//! http and https (rustls), an optional CONNECT proxy, a deadline per request.
//!
//! Written here rather than taken from a general client because of the body: it goes from
//! the caller's slice to the socket with no copy in between (headers and the first piece in
//! one `writev`), and its CRC-64 is computed piece by piece just before the socket takes each
//! piece, while it is in cache, so the data is read from memory once. A small append is one
//! `writev` and one `read`; nothing else happens per request.

use crate::crc64::Crc64;
use crate::decimal::Decimal;
use crate::error::{Error, ErrorKind, Result};
use base64::Engine;
use rustls::pki_types::{CertificateDer, ServerName};
use std::borrow::Cow;
use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::ops::Range;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

/// Pieces of a body: small enough to stay in cache between the CRC and the socket's copy,
/// large enough that the sender wakes rarely (1 MiB took a quarter less system CPU per GiB
/// than 256 KiB on loopback; 2 MiB no less than 1 MiB).
const PIECE: usize = 1024 * 1024;
/// A response head larger than this is not an OSS answer.
const HEAD_LIMIT: usize = 64 * 1024;
/// The blank line that ends a head; its searcher is built once, not per response.
static HEAD_END: LazyLock<memchr::memmem::Finder> =
    LazyLock::new(|| memchr::memmem::Finder::new(b"\r\n\r\n"));
/// Idle connections kept per client.
const MAX_IDLE: usize = 32;
/// Idle connections older than this are closed rather than reused (OSS closes them at 60 s).
const MAX_IDLE_AGE: Duration = Duration::from_secs(50);
/// Connections idle longer than this are checked for a close by the server before reuse.
const CHECK_AFTER: Duration = Duration::from_secs(2);
/// How long a host name's addresses are reused before it is resolved again.
const DNS_TTL: Duration = Duration::from_secs(60);

/// Where a connection goes: scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    pub https: bool,
    pub host: String,
    pub port: u16,
}

impl Origin {
    /// `host` as an endpoint gives it: a name or address with an optional `:port`.
    pub fn new(https: bool, host: &str) -> Origin {
        let default = if https { 443 } else { 80 };
        let (name, port) = match host.rsplit_once(':') {
            // The colons of a bracketed IPv6 address are not a port's.
            Some((name, port)) if !host.ends_with(']') => (name, port.parse().unwrap_or(default)),
            _ => (host, default),
        };
        Origin {
            https,
            host: name.to_string(),
            port,
        }
    }

    /// Appends the Host header's value (the port only when it is not the scheme's default);
    /// every request does, so without `fmt`.
    pub fn push_host_to(&self, out: &mut String) {
        out.push_str(&self.host);
        if self.port != if self.https { 443 } else { 80 } {
            out.push(':');
            out.push_str(Decimal::new(u64::from(self.port)).as_str());
        }
    }

    fn name(&self) -> &str {
        self.host.trim_start_matches('[').trim_end_matches(']')
    }
}

pub(crate) struct Request<'a> {
    pub method: &'static str,
    pub origin: &'a Origin,
    /// Path and query, already encoded.
    pub target: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    /// Only the first this many bytes of a response body are kept.
    pub body_limit: usize,
}

pub(crate) struct Response {
    pub status: u16,
    pub headers: Headers,
    pub body: Vec<u8>,
    /// CRC-64 of the request body as it was sent.
    pub sent_crc: u64,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }
}

/// A response's header fields: one copy of their text, names lowercased, and where each
/// name and value lies in it. Two allocations per response, however many fields it has.
#[derive(Debug, Default)]
pub(crate) struct Headers {
    text: String,
    fields: Vec<(Range<usize>, Range<usize>)>,
}

impl Headers {
    /// From the field lines of a head (`name: value`, one per line); lines without a colon
    /// are skipped.
    pub fn parse(lines: &str) -> Headers {
        // Names and values are trimmed of ASCII white space only, so every range falls on
        // a character boundary.
        let bytes = lines.as_bytes();
        let trim = |mut range: Range<usize>| {
            while range.start < range.end && bytes[range.start].is_ascii_whitespace() {
                range.start += 1;
            }
            while range.end > range.start && bytes[range.end - 1].is_ascii_whitespace() {
                range.end -= 1;
            }
            range
        };
        let mut text = lines.to_string();
        let mut fields = Vec::with_capacity(16);
        let mut start = 0;
        while start < bytes.len() {
            let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
            if let Some(colon) = memchr::memchr(b':', &bytes[start..end]) {
                let name = trim(start..start + colon);
                text[name.clone()].make_ascii_lowercase();
                fields.push((name, trim(start + colon + 1..end)));
            }
            start = end + 1;
        }
        Headers { text, fields }
    }

    /// The first value of the field `name` (lowercase).
    pub fn get(&self, name: &str) -> Option<&str> {
        let text = self.text.as_bytes();
        let (_, value) = self
            .fields
            .iter()
            .find(|(n, _)| text[n.clone()] == *name.as_bytes())?;
        Some(&self.text[value.clone()])
    }

    /// `(lowercased name, value)` in the order received.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .map(|(n, v)| (&self.text[n.clone()], &self.text[v.clone()]))
    }
}

/// `http://[user:password@]host[:port]`: HTTP and HTTPS both go through it with CONNECT.
#[derive(Debug, Clone)]
struct Proxy {
    origin: Origin,
    authorization: Option<String>,
}

impl Proxy {
    fn parse(url: &str) -> Result<Proxy> {
        let bad = |why: &str| Error::invalid_argument(format!("config: proxy {url:?}: {why}"));
        let rest = match url.split_once("://") {
            Some(("http", rest)) => rest,
            Some((scheme, _)) => return Err(bad(&format!("scheme {scheme:?} is not http"))),
            None => url,
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (userinfo, host) = match rest.rsplit_once('@') {
            Some((userinfo, host)) => (Some(userinfo), host),
            None => (None, rest),
        };
        if host.is_empty() || host.contains('/') {
            return Err(bad("no host"));
        }
        Ok(Proxy {
            origin: Origin::new(false, host),
            authorization: userinfo.map(|u| {
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(u)
                )
            }),
        })
    }
}

pub(crate) struct Settings {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub user_agent: String,
    pub proxy: Option<String>,
    /// PEM file of the CAs to trust instead of the bundled roots.
    pub ca_file: Option<std::path::PathBuf>,
}

pub(crate) struct Http {
    settings: Settings,
    proxy: Option<Proxy>,
    tls: Arc<rustls::ClientConfig>,
    idle: Mutex<Vec<Idle>>,
    resolved: Mutex<Vec<Resolved>>,
}

struct Resolved {
    host: String,
    port: u16,
    addrs: Vec<SocketAddr>,
    at: Instant,
}

struct Idle {
    conn: Conn,
    since: Instant,
}

impl Http {
    pub fn new(settings: Settings) -> Result<Http> {
        let proxy = settings.proxy.as_deref().map(Proxy::parse).transpose()?;
        let mut roots = rustls::RootCertStore::empty();
        match &settings.ca_file {
            Some(path) => {
                use rustls::pki_types::pem::PemObject;
                let bad = |why: String| {
                    Error::invalid_argument(format!("config: CA file {}: {why}", path.display()))
                };
                let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
                let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
                    .filter_map(|c| c.ok())
                    .collect();
                if certs.is_empty() {
                    return Err(bad("holds no PEM certificate".into()));
                }
                for cert in certs {
                    roots
                        .add(cert)
                        .map_err(|e| bad(format!("unusable certificate: {e}")))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Tls, format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Http {
            settings,
            proxy,
            tls: Arc::new(tls),
            idle: Mutex::new(Vec::new()),
            resolved: Mutex::new(Vec::new()),
        })
    }

    /// Sends `req` and reads the answer, whatever its status. On a reused connection that
    /// turns out closed before any answer arrived, sends once more on a new one: safe for
    /// every request this library makes (HEAD, and appends, which carry their position).
    pub fn send(&self, req: &Request) -> Result<Response> {
        let deadline = Instant::now() + self.settings.request_timeout;
        let head = request_head(req, &self.settings.user_agent);
        let (mut conn, reused) = match self.take_idle(req.origin) {
            Some(conn) => (conn, true),
            None => (self.connect(req.origin, deadline)?, false),
        };
        let full = self.settings.request_timeout;
        let exchanged = match conn.exchange(&head, req, deadline, full) {
            Err(Failure::Closed(_)) if reused => {
                conn = self.connect(req.origin, deadline)?;
                conn.exchange(&head, req, deadline, full)
            }
            other => other,
        };
        let (response, keep) = exchanged.map_err(|f| f.into_error(req.origin))?;
        if keep {
            self.put_idle(conn);
        }
        Ok(response)
    }

    fn take_idle(&self, origin: &Origin) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        idle.retain(|i| now.duration_since(i.since) < MAX_IDLE_AGE);
        while let Some(at) = idle.iter().rposition(|i| &i.conn.origin == origin) {
            let entry = idle.swap_remove(at);
            if now.duration_since(entry.since) < CHECK_AFTER || entry.conn.is_open() {
                return Some(entry.conn);
            }
        }
        None
    }

    fn put_idle(&self, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() >= MAX_IDLE {
            idle.remove(0);
        }
        idle.push(Idle {
            conn,
            since: Instant::now(),
        });
    }

    fn resolve(&self, origin: &Origin) -> Result<Vec<SocketAddr>> {
        let mut cache = self.resolved.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        cache.retain(|r| now.duration_since(r.at) < DNS_TTL);
        if let Some(r) = cache
            .iter()
            .find(|r| r.host == origin.name() && r.port == origin.port)
        {
            return Ok(r.addrs.clone());
        }
        // Resolved under the lock: concurrent first requests wait for one lookup.
        let addrs: Vec<SocketAddr> = (origin.name(), origin.port)
            .to_socket_addrs()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Network,
                    format!("request failed: resolving {}: {e}", origin.host),
                )
            })?
            .collect();
        cache.push(Resolved {
            host: origin.name().to_string(),
            port: origin.port,
            addrs: addrs.clone(),
            at: now,
        });
        Ok(addrs)
    }

    fn connect(&self, origin: &Origin, deadline: Instant) -> Result<Conn> {
        let first_hop = self.proxy.as_ref().map_or(origin, |p| &p.origin);
        let mut last = None;
        let mut tcp = None;
        for addr in self.resolve(first_hop)? {
            match TcpStream::connect_timeout(&addr, self.settings.connect_timeout) {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let tcp = tcp.ok_or_else(|| {
            let e = last.unwrap_or_else(|| io::Error::other("no address"));
            let kind = if e.kind() == io::ErrorKind::TimedOut {
                ErrorKind::Timeout
            } else {
                ErrorKind::Network
            };
            Error::new(
                kind,
                format!(
                    "request failed: connecting to {}:{}: {e}",
                    first_hop.host, first_hop.port
                ),
            )
        })?;
        let fail = |e: io::Error| Failure::Io(e).into_error(origin);
        tcp.set_nodelay(true).map_err(fail)?;
        let mut conn =
            Conn::new(Stream::Plain(tcp), origin, self.settings.request_timeout).map_err(fail)?;
        if let Some(proxy) = &self.proxy {
            conn.tunnel(proxy, origin, deadline)?;
        }
        if origin.https {
            let name = ServerName::try_from(origin.name().to_string()).map_err(|e| {
                Error::new(
                    ErrorKind::Tls,
                    format!(
                        "request failed: {} is not a TLS server name: {e}",
                        origin.host
                    ),
                )
            })?;
            let session = rustls::ClientConnection::new(self.tls.clone(), name)
                .map_err(|e| Error::new(ErrorKind::Tls, format!("request failed: {e}")))?;
            let Stream::Plain(tcp) = conn.stream else {
                unreachable!("a new connection is plain until TLS starts")
            };
            conn.stream = Stream::Tls(Box::new(rustls::StreamOwned::new(session, tcp)));
        }
        Ok(conn)
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => &tls.sock,
        }
    }
}

type Io<T> = std::result::Result<T, Failure>;

/// Why an exchange failed: the connection was found closed before any answer (worth one
/// more try on a new connection), or anything else.
enum Failure {
    Closed(io::Error),
    Io(io::Error),
    Protocol(String),
    Timeout,
}

impl Failure {
    fn into_error(self, origin: &Origin) -> Error {
        let host = &origin.host;
        match self {
            Failure::Timeout => Error::new(
                ErrorKind::Timeout,
                format!("request failed: no answer from {host} within the request timeout"),
            ),
            Failure::Protocol(why) => Error::new(
                ErrorKind::Network,
                format!("request failed: {host} answered with {why}"),
            ),
            Failure::Closed(e) | Failure::Io(e) => {
                let kind = match e.kind() {
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ErrorKind::Timeout,
                    _ if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) => {
                        ErrorKind::Tls
                    }
                    _ => ErrorKind::Network,
                };
                Error::new(kind, format!("request failed: {host}: {e}"))
            }
        }
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Failure::Timeout,
            _ => Failure::Io(e),
        }
    }
}

struct Head {
    status: u16,
    headers: Headers,
    /// The server will close the connection after this response.
    close: bool,
}

struct Conn {
    stream: Stream,
    /// Where it goes, which the pool matches requests against.
    origin: Origin,
    /// Bytes read and not yet parsed are `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The socket's read and write timeout as last set.
    timeout: Duration,
}

impl Conn {
    fn new(stream: Stream, origin: &Origin, timeout: Duration) -> io::Result<Conn> {
        stream.tcp().set_read_timeout(Some(timeout))?;
        stream.tcp().set_write_timeout(Some(timeout))?;
        Ok(Conn {
            stream,
            origin: origin.clone(),
            buf: vec![0; 16 * 1024],
            start: 0,
            end: 0,
            timeout,
        })
    }

    /// Whether the server has not closed the connection while it was idle: a peek that
    /// would block means nothing has come, which is what an idle open connection shows.
    fn is_open(&self) -> bool {
        let tcp = self.stream.tcp();
        if tcp.set_nonblocking(true).is_err() {
            return false;
        }
        let mut byte = [0u8];
        let open = matches!(tcp.peek(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        tcp.set_nonblocking(false).is_ok() && open
    }

    /// Keeps the socket timeouts within an eighth of what is left before `deadline`, so a
    /// request ends near its deadline without a system call per read or write.
    fn limit(&mut self, deadline: Instant, full: Duration) -> Io<()> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::Timeout);
        }
        if left + full / 8 >= self.timeout && self.timeout + full / 8 >= left {
            return Ok(());
        }
        let tcp = self.stream.tcp();
        tcp.set_read_timeout(Some(left))?;
        tcp.set_write_timeout(Some(left))?;
        self.timeout = left;
        Ok(())
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.stream {
            Stream::Plain(tcp) => tcp.write_all(data),
            Stream::Tls(tls) => tls.write_all(data),
        }
    }

    /// The request: head and body, the body's CRC taken piece by piece as it goes.
    fn write_request(
        &mut self,
        head: &[u8],
        body: &[u8],
        deadline: Instant,
        full: Duration,
    ) -> Io<u64> {
        let mut crc = Crc64::new();
        let mut pieces = body.chunks(PIECE);
        let first = pieces.next().unwrap_or_default();
        crc.update(first);
        self.limit(deadline, full)?;
        match &mut self.stream {
            Stream::Plain(tcp) => {
                let mut slices = [IoSlice::new(head), IoSlice::new(first)];
                let mut slices = &mut slices[..];
                while !slices.is_empty() {
                    match tcp.write_vectored(slices) {
                        Ok(0) => return Err(Failure::Io(io::ErrorKind::WriteZero.into())),
                        Ok(n) => IoSlice::advance_slices(&mut slices, n),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Stream::Tls(tls) => {
                tls.write_all(head)?;
                tls.write_all(first)?;
            }
        }
        for piece in pieces {
            crc.update(piece);
            self.limit(deadline, full)?;
            self.write_all(piece)?;
        }
        if let Stream::Tls(tls) = &mut self.stream {
            tls.flush()?;
        }
        Ok(crc.value())
    }

    /// Reads more bytes into the buffer; `Ok(false)` at the end of the stream.
    fn fill(&mut self, deadline: Instant, full: Duration) -> Io<bool> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.end == self.buf.len() {
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
        self.limit(deadline, full)?;
        let window = &mut self.buf[self.end..];
        let n = loop {
            let read = match &mut self.stream {
                Stream::Plain(tcp) => tcp.read(window),
                Stream::Tls(tls) => tls.read(window),
            };
            match read {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        };
        self.end += n;
        Ok(n > 0)
    }

    /// One request and its response; whether the connection can carry another.
    fn exchange(
        &mut self,
        head: &str,
        req: &Request,
        deadline: Instant,
        full: Duration,
    ) -> Io<(Response, bool)> {
        let sent = self.write_request(head.as_bytes(), req.body, deadline, full);
        let sent_crc = match sent {
            Ok(crc) => crc,
            // The server may have answered early (an error) and closed: that answer is
            // worth more than the broken pipe.
            Err(Failure::Io(e)) => {
                return match self.read_response(req, deadline, full, 0) {
                    Ok((response, _)) => Ok((response, false)),
                    Err(_) => Err(Failure::Closed(e)),
                }
            }
            Err(other) => return Err(other),
        };
        self.read_response(req, deadline, full, sent_crc)
    }

    fn read_response(
        &mut self,
        req: &Request,
        deadline: Instant,
        full: Duration,
        sent_crc: u64,
    ) -> Io<(Response, bool)> {
        loop {
            let Head {
                status,
                headers,
                close,
            } = self.read_head(deadline, full)?;
            if (100..200).contains(&status) {
                continue; // 100 Continue and the like: the answer follows.
            }
            let no_body = req.method == "HEAD" || status == 204 || status == 304;
            let chunked = headers
                .get("transfer-encoding")
                .is_some_and(|v| contains_ignore_case(v, "chunked"));
            let length = headers
                .get("content-length")
                .and_then(|v| v.parse::<u64>().ok());
            let mut body = Vec::new();
            let complete = if no_body {
                true
            } else if chunked {
                self.read_chunked(&mut body, req.body_limit, deadline, full)?
            } else if let Some(length) = length {
                self.read_exact_body(&mut body, length, req.body_limit, deadline, full)?
            } else {
                self.read_to_end(&mut body, req.body_limit, deadline, full)?;
                false
            };
            let response = Response {
                status,
                headers,
                body,
                sent_crc,
            };
            // Bytes past the answer mean the two sides disagree on framing: not reusable.
            let clean = self.start == self.end;
            return Ok((response, complete && clean && !close));
        }
    }

    /// Status, lowercased headers, and whether the server will close the connection.
    fn read_head(&mut self, deadline: Instant, full: Duration) -> Io<Head> {
        let mut received_any = false;
        let head_end = loop {
            if let Some(at) = HEAD_END.find(&self.buf[self.start..self.end]) {
                break self.start + at + 4;
            }
            if self.end - self.start > HEAD_LIMIT {
                return Err(Failure::Protocol("a response head over 64 KiB".into()));
            }
            if !self.fill(deadline, full).map_err(|f| match f {
                Failure::Io(e) if !received_any => Failure::Closed(e),
                other => other,
            })? {
                let e = io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the connection closed before an answer",
                );
                return Err(if received_any || self.end > self.start {
                    Failure::Io(e)
                } else {
                    Failure::Closed(e)
                });
            }
            received_any = true;
        };
        let raw = &self.buf[self.start..head_end - 4];
        // Heads are ASCII in practice: checked fast, replaced only when they are not.
        let text = match std::str::from_utf8(raw) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(raw),
        };
        let (status_line, fields) = text.split_once('\n').unwrap_or((&text, ""));
        let status_line = status_line.trim_end_matches('\r');
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        let status = parts
            .next()
            .and_then(|s| s.parse::<u16>().ok())
            .filter(|_| version.starts_with("HTTP/1."))
            .ok_or_else(|| Failure::Protocol(format!("a bad status line {status_line:?}")))?;
        let headers = Headers::parse(fields);
        let connection = headers.get("connection").unwrap_or_default();
        let close = if contains_ignore_case(connection, "close") {
            true
        } else if contains_ignore_case(connection, "keep-alive") {
            false
        } else {
            version == "HTTP/1.0"
        };
        self.start = head_end;
        Ok(Head {
            status,
            headers,
            close,
        })
    }

    /// Takes up to `n` buffered bytes, keeping those under `limit` in `body`.
    fn take(&mut self, n: usize, body: &mut Vec<u8>, limit: usize) -> usize {
        let n = n.min(self.end - self.start);
        let keep = n.min(limit.saturating_sub(body.len()));
        body.extend_from_slice(&self.buf[self.start..self.start + keep]);
        self.start += n;
        n
    }

    /// A body of known length; `Ok(false)` when it was too long to read to its end.
    fn read_exact_body(
        &mut self,
        body: &mut Vec<u8>,
        length: u64,
        limit: usize,
        deadline: Instant,
        full: Duration,
    ) -> Io<bool> {
        if length > (limit as u64).max(HEAD_LIMIT as u64) {
            // Not worth reading to reuse the connection: keep what is here, close it.
            self.take(usize::MAX, body, limit);
            return Ok(false);
        }
        self.read_into(length as usize, body, limit, deadline, full)?;
        Ok(true)
    }

    /// Reads exactly `n` body bytes, keeping those under `limit` in `body`.
    fn read_into(
        &mut self,
        mut n: usize,
        body: &mut Vec<u8>,
        limit: usize,
        deadline: Instant,
        full: Duration,
    ) -> Io<()> {
        while n > 0 {
            if self.start == self.end && !self.fill(deadline, full)? {
                return Err(Failure::Io(io::ErrorKind::UnexpectedEof.into()));
            }
            n -= self.take(n, body, limit);
        }
        Ok(())
    }

    fn read_to_end(
        &mut self,
        body: &mut Vec<u8>,
        limit: usize,
        deadline: Instant,
        full: Duration,
    ) -> Io<()> {
        loop {
            self.take(usize::MAX, body, limit);
            if body.len() >= limit || !self.fill(deadline, full)? {
                return Ok(());
            }
        }
    }

    /// A chunked body; `Ok(true)` when read to its end.
    fn read_chunked(
        &mut self,
        body: &mut Vec<u8>,
        limit: usize,
        deadline: Instant,
        full: Duration,
    ) -> Io<bool> {
        loop {
            let line = self.read_line(deadline, full)?;
            let size = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| Failure::Protocol(format!("a bad chunk size {line:?}")))?;
            if size == 0 {
                // Trailers, then the empty line.
                while !self.read_line(deadline, full)?.is_empty() {}
                return Ok(true);
            }
            if body.len() + size > limit.max(HEAD_LIMIT) {
                self.take(usize::MAX, body, limit);
                return Ok(false);
            }
            self.read_into(size, body, limit, deadline, full)?;
            self.read_line(deadline, full)?;
        }
    }

    fn read_line(&mut self, deadline: Instant, full: Duration) -> Io<String> {
        loop {
            if let Some(at) = memchr::memmem::find(&self.buf[self.start..self.end], b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[self.start..self.start + at]);
                let line = line.into_owned();
                self.start += at + 2;
                return Ok(line);
            }
            if self.end - self.start > HEAD_LIMIT {
                return Err(Failure::Protocol("a chunk line over 64 KiB".into()));
            }
            if !self.fill(deadline, full)? {
                return Err(Failure::Io(io::ErrorKind::UnexpectedEof.into()));
            }
        }
    }

    /// Asks `proxy` for a tunnel to `origin`.
    fn tunnel(&mut self, proxy: &Proxy, origin: &Origin, deadline: Instant) -> Result<()> {
        let authority = format!("{}:{}", origin.host, origin.port);
        let mut head = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
        if let Some(auth) = &proxy.authorization {
            head.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
        }
        head.push_str("\r\n");
        let full = self.timeout;
        let fail = |f: Failure| f.into_error(&proxy.origin);
        self.limit(deadline, full).map_err(fail)?;
        self.write_all(head.as_bytes())
            .map_err(|e| fail(Failure::Io(e)))?;
        let status = self.read_head(deadline, full).map_err(fail)?.status;
        if !(200..300).contains(&status) {
            return Err(Error::new(
                ErrorKind::Network,
                format!(
                    "request failed: proxy {}:{} refused a tunnel to {authority}: HTTP {status}",
                    proxy.origin.host, proxy.origin.port
                ),
            ));
        }
        Ok(())
    }
}

fn request_head(req: &Request, user_agent: &str) -> String {
    let mut head = String::with_capacity(512);
    for part in [req.method, " ", req.target, " HTTP/1.1\r\nHost: "] {
        head.push_str(part);
    }
    req.origin.push_host_to(&mut head);
    for part in ["\r\nUser-Agent: ", user_agent, "\r\n"] {
        head.push_str(part);
    }
    for (name, value) in req.headers {
        for part in [name, ": ", value, "\r\n"] {
            head.push_str(part);
        }
    }
    if req.method != "HEAD" && req.method != "GET" {
        let length = Decimal::new(req.body.len() as u64);
        for part in ["Content-Length: ", length.as_str(), "\r\n"] {
            head.push_str(part);
        }
    }
    head.push_str("\r\n");
    head
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_are_found_by_lowercased_name_with_values_trimmed() {
        let headers = Headers::parse(
            "Content-Length: 0\r\nX-Oss-Request-Id:  RID \r\nnot a field\r\n\
             Date: Mon, 23 Nov 2026 20:02:20 GMT\r\nx-oss-request-id: second\r",
        );
        assert_eq!(headers.get("content-length"), Some("0"));
        assert_eq!(headers.get("x-oss-request-id"), Some("RID"));
        assert_eq!(headers.get("date"), Some("Mon, 23 Nov 2026 20:02:20 GMT"));
        assert_eq!(headers.get("Date"), None);
        assert_eq!(
            headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            [
                "content-length",
                "x-oss-request-id",
                "date",
                "x-oss-request-id"
            ]
        );
        assert_eq!(Headers::parse("").iter().count(), 0);
    }

    #[test]
    fn origins_split_host_and_port_and_name_the_default_port_only_when_needed() {
        let host = |o: &Origin| {
            let mut out = String::new();
            o.push_host_to(&mut out);
            out
        };
        let o = Origin::new(false, "127.0.0.1:9000");
        assert_eq!((o.host.as_str(), o.port), ("127.0.0.1", 9000));
        assert_eq!(host(&o), "127.0.0.1:9000");
        let o = Origin::new(true, "b.oss-cn-hangzhou.aliyuncs.com");
        assert_eq!(o.port, 443);
        assert_eq!(host(&o), "b.oss-cn-hangzhou.aliyuncs.com");
        let o = Origin::new(false, "[::1]:8080");
        assert_eq!((o.name(), o.port), ("::1", 8080));
        assert_eq!(host(&o), "[::1]:8080");
    }

    #[test]
    fn proxies_are_http_urls_with_optional_credentials() {
        let p = Proxy::parse("http://user:pa%3Ass@proxy.local:3128").unwrap();
        assert_eq!(p.origin, Origin::new(false, "proxy.local:3128"));
        assert_eq!(p.authorization.unwrap(), "Basic dXNlcjpwYSUzQXNz");
        assert!(Proxy::parse("socks5://127.0.0.1:1080").is_err());
        assert!(Proxy::parse("http://").is_err());
    }
}
