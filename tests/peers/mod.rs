//! Peers that misbehave, for the client's tests: a scripted server, a relay in front of the
//! local OSS server that edits its answers, a byte relay that slows its answers down, and
//! CONNECT proxies that forge or refuse. Raw sockets on 127.0.0.1; every socket reads and
//! writes under [`LIMIT`], so no scenario outlives its test by more than that.

// Each test crate compiles this module and uses part of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest any peer waits on a socket before it drops the connection.
pub const LIMIT: Duration = Duration::from_secs(15);

/// A request as a peer read it.
pub struct Request {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    /// Empty when the peer did not read it.
    pub body: Vec<u8>,
    /// The request as it came, for relaying.
    pub raw: Vec<u8>,
    /// The connection it came on: its peer's accept order, from 0.
    pub connection: usize,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn is_append(&self) -> bool {
        self.method == "POST" && self.target.contains("?append")
    }

    fn content_length(&self) -> usize {
        self.header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// The `position` of an AppendObject.
    pub fn position(&self) -> u64 {
        let query = self.target.split_once('?').map_or("", |(_, q)| q);
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("position="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

/// One end of a connection; what was read past a message stays buffered for the next.
pub struct Conn {
    pub stream: TcpStream,
    buffered: Vec<u8>,
    /// Its peer's accept order (0 for a connection the peer opened).
    id: usize,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Conn {
        // Every write goes out at once, not held back (Nagle) for the peer's delayed ACK: a
        // test told that bytes were sent can count on the other end having them.
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        stream.set_write_timeout(Some(LIMIT)).unwrap();
        Conn {
            stream,
            buffered: Vec::new(),
            id: 0,
        }
    }

    /// Reads until `whole` finds a complete message in what is buffered and says how long it
    /// is; `None` at the end of the stream, on an error or on a time-out.
    fn read_until(&mut self, whole: impl Fn(&[u8]) -> Option<usize>) -> Option<Vec<u8>> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            if let Some(n) = whole(&self.buffered) {
                return Some(self.buffered.drain(..n).collect());
            }
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buffered.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Exactly `n` bytes.
    pub fn take(&mut self, n: usize) -> Option<Vec<u8>> {
        self.read_until(|b| (b.len() >= n).then_some(n))
    }

    /// The next request's head, and with `with_body` its (Content-Length) body.
    pub fn request(&mut self, with_body: bool) -> Option<Request> {
        let head = self.read_until(|b| head_length(b, true))?;
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Request::new(&mut headers);
        parsed.parse(&head).ok()?;
        let mut request = Request {
            method: parsed.method?.to_string(),
            target: parsed.path?.to_string(),
            headers: header_list(parsed.headers),
            body: Vec::new(),
            raw: head,
            connection: self.id,
        };
        if with_body {
            request.body = self.take(request.content_length())?;
            request.raw.extend_from_slice(&request.body);
        }
        Some(request)
    }

    /// The next answer as it came: head, and the Content-Length body unless it answers a
    /// HEAD.
    pub fn answer(&mut self, to_head: bool) -> Option<Vec<u8>> {
        let mut answer = self.read_until(|b| head_length(b, false))?;
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Response::new(&mut headers);
        parsed.parse(&answer).ok()?;
        let length = header_list(parsed.headers)
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        if !to_head {
            answer.extend(self.take(length)?);
        }
        Some(answer)
    }

    /// Whether all of `bytes` were written.
    pub fn send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    /// Reads and drops what comes until the other end stops sending (or [`LIMIT`]).
    pub fn drain(&mut self) {
        let _ = std::io::copy(&mut self.stream, &mut std::io::sink());
    }
}

/// The length of the request (or answer) head at the start of `buffered`, once all of it
/// has come.
fn head_length(buffered: &[u8], request: bool) -> Option<usize> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let status = if request {
        httparse::Request::new(&mut headers).parse(buffered)
    } else {
        httparse::Response::new(&mut headers).parse(buffered)
    };
    match status {
        Ok(httparse::Status::Complete(n)) => Some(n),
        _ => None,
    }
}

fn header_list(headers: &[httparse::Header]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

/// A peer listening on 127.0.0.1.
pub struct Peer {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl Peer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Runs `script` on every connection (each on a thread of its own) until the test ends.
pub fn serve(script: impl Fn(Conn) + Send + Sync + 'static) -> Peer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let script = Arc::new(script);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let id = counter.fetch_add(1, Ordering::SeqCst);
            let script = script.clone();
            std::thread::spawn(move || {
                script(Conn {
                    id,
                    ..Conn::new(stream)
                })
            });
        }
    });
    Peer { addr, accepted }
}

/// An answer with these headers and a Content-Length for `body`.
pub fn answer(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// What a step of a relay's edited answer does.
pub enum Step {
    Send(Vec<u8>),
    Wait(Duration),
    /// Runs the test's code at this point of the answer: to wait for an event of the test's,
    /// or tell it that the steps before were taken.
    Run(Box<dyn FnOnce() + Send>),
}

/// Forwards each request to the local OSS server at `upstream` (one upstream connection per
/// client connection) and hands its answer to `edit`, whose steps are what the client gets.
pub fn relay(
    upstream: SocketAddr,
    edit: impl Fn(&Request, Vec<u8>) -> Vec<Step> + Send + Sync + 'static,
) -> Peer {
    serve(move |mut client| {
        let mut server = Conn::new(TcpStream::connect(upstream).unwrap());
        while let Some(request) = client.request(true) {
            if !server.send(&request.raw) {
                return;
            }
            let Some(answer) = server.answer(request.method == "HEAD") else {
                return;
            };
            for step in edit(&request, answer) {
                match step {
                    Step::Send(bytes) if !client.send(&bytes) => return,
                    Step::Send(_) => {}
                    Step::Wait(time) => std::thread::sleep(time),
                    Step::Run(run) => run(),
                }
            }
        }
    })
}

/// `answer` without its header `name`.
pub fn without_header(answer: &[u8], name: &str) -> Vec<u8> {
    edit_head(answer, |line| {
        let named = line
            .split_once(':')
            .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name));
        (!named).then(|| line.to_string())
    })
}

/// `answer` with header `name` set to `value` (where it was present).
pub fn with_header(answer: &[u8], name: &str, value: &str) -> Vec<u8> {
    edit_head(answer, |line| match line.split_once(':') {
        Some((n, _)) if n.trim().eq_ignore_ascii_case(name) => Some(format!("{name}: {value}")),
        _ => Some(line.to_string()),
    })
}

fn edit_head(answer: &[u8], mut line: impl FnMut(&str) -> Option<String>) -> Vec<u8> {
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = std::str::from_utf8(&answer[..end - 4]).unwrap();
    let mut out: Vec<String> = Vec::new();
    for l in head.split("\r\n") {
        out.extend(line(l));
    }
    let mut bytes = (out.join("\r\n") + "\r\n\r\n").into_bytes();
    bytes.extend_from_slice(&answer[end..]);
    bytes
}

/// Forwards bytes both ways between each client and `upstream`, as they come while `slow`
/// is false; once it is true, what `upstream` sends goes on one byte every `every`.
pub fn slow_relay(upstream: SocketAddr, slow: Arc<AtomicBool>, every: Duration) -> Peer {
    serve(move |client| {
        let started = Instant::now();
        let server = TcpStream::connect(upstream).unwrap();
        let (mut up_in, mut up_out) = (server.try_clone().unwrap(), server);
        let (mut client_in, mut client_out) = (client.stream.try_clone().unwrap(), client.stream);
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut client_in, &mut up_out);
        });
        let mut chunk = [0u8; 16 * 1024];
        while let Ok(n @ 1..) = up_in.read(&mut chunk) {
            let fast = !slow.load(Ordering::SeqCst);
            let pieces: Vec<&[u8]> = if fast {
                vec![&chunk[..n]]
            } else {
                chunk[..n].chunks(1).collect()
            };
            for piece in pieces {
                if started.elapsed() > LIMIT || client_out.write_all(piece).is_err() {
                    return;
                }
                if !fast {
                    std::thread::sleep(every);
                }
            }
        }
    })
}

/// Forwards each client's bytes to `upstream` at a pace, `bytes` every `every` (a peer
/// that reads a request's body slowly but steadily), and `upstream`'s answers as they come.
/// Stops when the client goes.
pub fn paced_reader(upstream: SocketAddr, bytes: usize, every: Duration) -> Peer {
    serve(move |client| {
        let started = Instant::now();
        let server = TcpStream::connect(upstream).unwrap();
        let (mut up_in, mut up_out) = (server.try_clone().unwrap(), server);
        small_receive_buffer(&client.stream, bytes);
        let (mut client_in, mut client_out) = (client.stream.try_clone().unwrap(), client.stream);
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut up_in, &mut client_out);
        });
        let mut chunk = vec![0u8; bytes];
        while started.elapsed() < LIMIT {
            match client_in.read(&mut chunk) {
                Ok(n @ 1..) if up_out.write_all(&chunk[..n]).is_ok() => {}
                _ => return,
            }
            std::thread::sleep(every);
        }
    })
}

/// Shrinks the socket's receive buffer to about `bytes` twice over: the window it offers the
/// sender then opens by what each paced read takes, so the sender progresses at every read
/// (with the default buffer, the kernel waits for a whole segment's room, which loopback
/// makes 64 KiB, and a sender sees long stalls instead of steady progress).
fn small_receive_buffer(stream: &TcpStream, bytes: usize) {
    use std::os::fd::AsRawFd;
    let size = libc::c_int::try_from(2 * bytes.max(1024)).unwrap_or(libc::c_int::MAX);
    // SAFETY: a valid socket, and an int option of the size given.
    let done = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(
        done,
        0,
        "setsockopt(SO_RCVBUF): {}",
        std::io::Error::last_os_error()
    );
}

/// A CONNECT proxy that reaches no server: it answers every CONNECT with 200 and, in the
/// same write, `forged`, then waits for the client to go.
pub fn forging_proxy(forged: Vec<u8>) -> Peer {
    serve(move |mut client| {
        if client.request(false).is_some() {
            let mut reply = b"HTTP/1.1 200 Connection established\r\n\r\n".to_vec();
            reply.extend_from_slice(&forged);
            client.send(&reply);
            client.drain();
        }
    })
}

/// A CONNECT proxy that keeps each `Proxy-Authorization` it is sent and answers 407.
pub fn refusing_proxy() -> (Peer, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = seen.clone();
    let peer = serve(move |mut client| {
        if let Some(request) = client.request(false) {
            let auth = request.header("proxy-authorization").unwrap_or_default();
            kept.lock().unwrap().push(auth.to_string());
            client.send(&answer("407 Proxy Authentication Required", &[], b""));
        }
    });
    (peer, seen)
}
