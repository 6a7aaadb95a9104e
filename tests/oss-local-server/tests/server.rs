//! The server's behaviour where the official SDKs cannot reach: faults, concurrency,
//! limits, clock skew, `Expect: 100-continue`, persistence and discard mode. Requests are
//! built byte by byte and signed with V4, so each test controls exactly what is sent.

use oss_append::crc64;
use oss_append::signer::{self, v4};
use oss_local_server::{Action, Config, Fault, Op, Server};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const AK: &str = "rust-ak";
const SK: &str = "rust-secret";
const BUCKET: &str = "rust-bucket";

fn start(config: Config) -> Server {
    Server::start(config.bucket(BUCKET)).expect("server starts")
}

fn config() -> Config {
    Config::new(AK, SK).faults()
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn code(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let start = text.find("<Code>").map(|i| i + 6).unwrap_or(0);
        let end = text.find("</Code>").unwrap_or(start);
        text[start..end].to_string()
    }

    fn u64(&self, name: &str) -> u64 {
        self.header(name)
            .unwrap_or_else(|| panic!("no {name} in {self:?}"))
            .parse()
            .unwrap()
    }
}

/// One request, signed with V4 at the machine's time plus `clock_offset` seconds.
struct Request<'a> {
    method: &'a str,
    key: &'a str,
    query: Vec<(&'a str, Option<String>)>,
    headers: Vec<(&'a str, String)>,
    body: &'a [u8],
    clock_offset: i64,
}

impl<'a> Request<'a> {
    fn new(method: &'a str, key: &'a str) -> Self {
        Request {
            method,
            key,
            query: Vec::new(),
            headers: Vec::new(),
            body: b"",
            clock_offset: 0,
        }
    }

    fn append(key: &'a str, position: u64, body: &'a [u8]) -> Self {
        let mut req = Request::new("POST", key);
        req.query = vec![("append", None), ("position", Some(position.to_string()))];
        req.body = body;
        req
    }

    fn header(mut self, name: &'a str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    /// The request's bytes: head and body.
    fn bytes(&self, host: &str) -> Vec<u8> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let datetime = v4::format_datetime(now.checked_add_signed(self.clock_offset).unwrap());
        let mut headers: Vec<(&str, String)> = self.headers.clone();
        headers.push(("x-oss-date", datetime.clone()));
        headers.push(("x-oss-content-sha256", v4::UNSIGNED_PAYLOAD.into()));
        let view_headers: Vec<(&str, &str)> =
            headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let query: Vec<(&str, Option<&str>)> =
            self.query.iter().map(|(n, v)| (*n, v.as_deref())).collect();
        let view = signer::Request {
            method: self.method,
            bucket: Some(BUCKET),
            key: Some(self.key),
            query: &query,
            headers: &view_headers,
        };
        let scope = v4::Scope {
            date: &datetime[..8],
            region: "cn-hangzhou",
            product: "oss",
        };
        let key = v4::signing_key(SK.as_bytes(), &scope);
        let auth = v4::authorization(AK, &key, &view, &datetime, &scope, &[]);
        let mut target = format!("/{BUCKET}/{}", v4::uri_encode(self.key, true));
        for (i, (name, value)) in query.iter().enumerate() {
            target.push(if i == 0 { '?' } else { '&' });
            target.push_str(&v4::uri_encode(name, false));
            if let Some(value) = value {
                target.push('=');
                target.push_str(&v4::uri_encode(value, false));
            }
        }
        let mut out = format!(
            "{} {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n",
            self.method
        );
        for (name, value) in &headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        {
            out.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(self.body);
        bytes
    }
}

struct Connection {
    reader: BufReader<TcpStream>,
    host: String,
}

impl Connection {
    fn open(server: &Server) -> Connection {
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
    fn with_read_timeout(self, timeout: Duration) -> Connection {
        self.reader
            .get_ref()
            .set_read_timeout(Some(timeout))
            .unwrap();
        self
    }

    fn send(&mut self, req: &Request) -> std::io::Result<Reply> {
        self.reader.get_mut().write_all(&req.bytes(&self.host))?;
        self.read_reply(req.method == "HEAD")
    }

    fn read_reply(&mut self, head_only: bool) -> std::io::Result<Reply> {
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

fn send(server: &Server, req: &Request) -> Reply {
    Connection::open(server).send(req).expect("a reply")
}

fn head(server: &Server, key: &str) -> Reply {
    send(server, &Request::new("HEAD", key))
}

fn get(server: &Server, key: &str) -> Vec<u8> {
    let reply = send(server, &Request::new("GET", key));
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.body
}

fn is_reset(result: std::io::Result<Reply>) -> bool {
    match result {
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
        ),
        Ok(_) => false,
    }
}

#[test]
fn appends_at_one_position_race_and_exactly_one_wins() {
    let server = start(config());
    const WRITERS: usize = 8;
    for round in 0..10u64 {
        let position = head_length(&server, "race");
        let barrier = Arc::new(Barrier::new(WRITERS));
        let replies: Vec<Reply> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..WRITERS)
                .map(|w| {
                    let (barrier, server) = (barrier.clone(), &server);
                    s.spawn(move || {
                        let body = vec![b'a' + w as u8; 100 + w];
                        let mut conn = Connection::open(server);
                        barrier.wait();
                        conn.send(&Request::append("race", position, &body))
                            .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
        assert_eq!(winners.len(), 1, "round {round}: {replies:?}");
        let length = winners[0].u64("x-oss-next-append-position");
        for loser in replies.iter().filter(|r| r.status != 200) {
            assert_eq!(
                (loser.status, loser.code()),
                (409, "PositionNotEqualToLength".into())
            );
            assert_eq!(loser.u64("x-oss-next-append-position"), length);
        }
    }
    let data = get(&server, "race");
    assert_eq!(
        head(&server, "race").u64("x-oss-hash-crc64ecma"),
        crc64::checksum(&data)
    );
}

fn head_length(server: &Server, key: &str) -> u64 {
    let reply = head(server, key);
    if reply.status == 404 {
        0
    } else {
        reply.u64("content-length")
    }
}

#[test]
fn many_keep_alive_connections_append_in_parallel() {
    let server = start(config());
    std::thread::scope(|s| {
        for t in 0..16 {
            let server = &server;
            s.spawn(move || {
                let key = format!("parallel/{t}");
                let mut conn = Connection::open(server);
                let mut expected = Vec::new();
                for i in 0..50u32 {
                    let piece = format!("{t}:{i};").into_bytes();
                    let reply = conn
                        .send(&Request::append(&key, expected.len() as u64, &piece))
                        .unwrap();
                    assert_eq!(reply.status, 200, "{reply:?}");
                    expected.extend_from_slice(&piece);
                    assert_eq!(
                        reply.u64("x-oss-hash-crc64ecma"),
                        crc64::checksum(&expected)
                    );
                }
                assert_eq!(get(server, &key), expected);
            });
        }
    });
}

#[test]
fn an_append_past_the_size_limit_is_entity_too_large_and_changes_nothing() {
    let mut config = config();
    config.max_object_size = 100;
    let server = start(config);
    assert_eq!(
        send(&server, &Request::append("capped", 0, &[1; 60])).status,
        200
    );
    let reply = send(&server, &Request::append("capped", 60, &[2; 41]));
    assert_eq!((reply.status, reply.code()), (400, "EntityTooLarge".into()));
    assert_eq!(
        send(&server, &Request::append("capped", 60, &[3; 40])).status,
        200
    );
    assert_eq!(head_length(&server, "capped"), 100);
}

#[test]
fn reset_before_body_applies_nothing() {
    let server = start(config());
    server.add_fault(Fault::new(Action::ResetBeforeBody, Op::Append).key("k"));
    assert!(is_reset(
        Connection::open(&server).send(&Request::append("k", 0, b"lost"))
    ));
    assert_eq!(head(&server, "k").status, 404);
    assert_eq!(server.pending_faults(), 0);
}

#[test]
fn reset_after_apply_stores_the_bytes_but_the_client_sees_a_broken_connection() {
    let server = start(config());
    server.add_fault(Fault::new(Action::ResetAfterApply, Op::Append).key("k"));
    assert!(is_reset(
        Connection::open(&server).send(&Request::append("k", 0, b"landed"))
    ));
    let reply = head(&server, "k");
    assert_eq!(reply.u64("x-oss-next-append-position"), 6);
    assert_eq!(
        reply.u64("x-oss-hash-crc64ecma"),
        crc64::checksum(b"landed")
    );
    let retry = send(&server, &Request::append("k", 0, b"landed"));
    assert_eq!(
        (retry.status, retry.u64("x-oss-next-append-position")),
        (409, 6)
    );
}

#[test]
fn scripted_500_and_503_apply_nothing_and_count_down() {
    let server = start(config());
    server.add_fault(Fault::new(Action::Error(503), Op::Append).count(2));
    server.add_fault(Fault::new(Action::Error(500), Op::Append));
    for (status, code) in [
        (503, "ServiceUnavailable"),
        (503, "ServiceUnavailable"),
        (500, "InternalError"),
    ] {
        let reply = send(&server, &Request::append("k", 0, b"x"));
        assert_eq!((reply.status, reply.code()), (status, code.to_string()));
        assert!(reply.header("x-oss-request-id").is_some());
    }
    assert_eq!(head(&server, "k").status, 404);
    assert_eq!(send(&server, &Request::append("k", 0, b"x")).status, 200);
}

#[test]
fn faults_match_only_their_operation_and_key() {
    let server = start(config());
    server.add_fault(Fault::new(Action::Error(500), Op::Append).key("target"));
    assert_eq!(
        send(&server, &Request::append("other", 0, b"x")).status,
        200
    );
    assert_eq!(head(&server, "target").status, 404);
    assert_eq!(
        send(&server, &Request::append("target", 0, b"x")).status,
        500
    );
}

#[test]
fn a_delay_after_apply_outlasts_a_client_timeout_yet_the_append_landed() {
    let server = start(config());
    server.add_fault(Fault::new(
        Action::DelayAfterApply(Duration::from_millis(1500)),
        Op::Append,
    ));
    let mut conn = Connection::open(&server).with_read_timeout(Duration::from_millis(200));
    let err = conn.send(&Request::append("slow", 0, b"late")).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err}"
    );
    assert_eq!(head_length(&server, "slow"), 4);
}

#[test]
fn a_delay_before_apply_applies_after_the_delay() {
    let server = start(config());
    server.add_fault(Fault::new(
        Action::DelayBeforeApply(Duration::from_millis(800)),
        Op::Append,
    ));
    let mut conn = Connection::open(&server).with_read_timeout(Duration::from_millis(200));
    assert!(conn.send(&Request::append("slow", 0, b"late")).is_err());
    assert_eq!(head(&server, "slow").status, 404);
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(head_length(&server, "slow"), 4);
}

#[test]
fn corrupt_storage_reports_the_crc_of_what_was_stored() {
    let server = start(config());
    server.add_fault(Fault::new(Action::Corrupt, Op::Append));
    let reply = send(&server, &Request::append("bad", 0, b"payload"));
    assert_eq!(reply.status, 200);
    let stored = get(&server, "bad");
    assert_ne!(stored, b"payload");
    assert_eq!(stored[1..], b"payload"[1..]);
    assert_ne!(
        reply.u64("x-oss-hash-crc64ecma"),
        crc64::checksum(b"payload")
    );
    assert_eq!(reply.u64("x-oss-hash-crc64ecma"), crc64::checksum(&stored));
}

#[test]
fn a_skewed_server_clock_rejects_then_accepts_a_corrected_client() {
    let server = start(config());
    server.set_clock_offset(3600);
    let reply = send(&server, &Request::append("k", 0, b"x"));
    assert_eq!(
        (reply.status, reply.code()),
        (403, "RequestTimeTooSkewed".into())
    );
    let server_date = httpdate::parse_http_date(reply.header("date").unwrap()).unwrap();
    let ahead = server_date
        .duration_since(SystemTime::now())
        .unwrap()
        .as_secs();
    assert!((3500..=3700).contains(&ahead), "{ahead}");
    let mut corrected = Request::append("k", 0, b"x");
    corrected.clock_offset = 3600;
    assert_eq!(send(&server, &corrected).status, 200);
}

#[test]
fn bad_positions_and_missing_length_are_rejected() {
    let server = start(config());
    let mut no_position = Request::new("POST", "k");
    no_position.query = vec![("append", None)];
    let reply = send(&server, &no_position);
    assert_eq!(
        (reply.status, reply.code()),
        (400, "InvalidArgument".into())
    );
    assert!(String::from_utf8_lossy(&reply.body).contains("<EC>0016-00000501</EC>"));
    let mut bad = Request::append("k", 0, b"x");
    bad.query[1].1 = Some("-1".into());
    let reply = send(&server, &bad);
    assert!(
        String::from_utf8_lossy(&reply.body).contains("<EC>0016-00000502</EC>"),
        "{reply:?}"
    );
    let chunked = Request::append("k", 0, b"")
        .header("Transfer-Encoding", "chunked")
        .header("Content-Length", "0");
    let mut conn = Connection::open(&server);
    let reply = conn.send(&chunked).unwrap();
    assert_eq!(
        (reply.status, reply.code()),
        (411, "MissingContentLength".into())
    );
    // The chunked body was never read, so the connection must not be reused.
    assert_eq!(reply.header("connection"), Some("close"));
    assert!(conn.send(&Request::append("k", 0, b"x")).is_err());
}

#[test]
fn expect_continue_gets_100_before_the_body_and_a_wrong_position_gets_no_100() {
    let server = start(config());
    let body = vec![7u8; 100_000];
    let mut conn = Connection::open(&server);
    let bytes = Request::append("e", 0, &body)
        .header("Expect", "100-continue")
        .bytes(&conn.host);
    let head_len = bytes.len() - body.len();
    conn.reader.get_mut().write_all(&bytes[..head_len]).unwrap();
    assert_eq!(conn.read_reply(false).unwrap().status, 100);
    conn.reader.get_mut().write_all(&body).unwrap();
    assert_eq!(conn.read_reply(false).unwrap().status, 200);

    let bytes = Request::append("e", 5, &body)
        .header("Expect", "100-continue")
        .bytes(&conn.host);
    conn.reader.get_mut().write_all(&bytes[..head_len]).unwrap();
    let reply = conn.read_reply(false).unwrap();
    assert_eq!(
        (reply.status, reply.header("connection")),
        (409, Some("close"))
    );
    assert_eq!(head_length(&server, "e"), 100_000);
}

#[test]
fn range_reads_and_unsatisfiable_ranges() {
    let server = start(config());
    send(&server, &Request::append("r", 0, b"0123456789"));
    let reply = send(
        &server,
        &Request::new("GET", "r").header("Range", "bytes=2-4"),
    );
    assert_eq!((reply.status, reply.body.as_slice()), (206, &b"234"[..]));
    assert_eq!(reply.header("content-range"), Some("bytes 2-4/10"));
    let reply = send(
        &server,
        &Request::new("GET", "r").header("Range", "bytes=-3"),
    );
    assert_eq!(reply.body, b"789");
    let reply = send(
        &server,
        &Request::new("GET", "r").header("Range", "bytes=10-"),
    );
    assert_eq!((reply.status, reply.code()), (416, "InvalidRange".into()));
}

#[test]
fn head_errors_have_no_body_and_carry_the_document_in_x_oss_err() {
    use base64::Engine;
    let server = start(config());
    let reply = head(&server, "absent");
    assert_eq!(
        (reply.status, reply.header("x-oss-ec")),
        (404, Some("0026-00000001"))
    );
    let xml = base64::engine::general_purpose::STANDARD
        .decode(reply.header("x-oss-err").unwrap())
        .unwrap();
    let xml = String::from_utf8(xml).unwrap();
    assert!(
        xml.contains("<Code>NoSuchKey</Code>")
            && xml.contains(reply.header("x-oss-request-id").unwrap())
    );
}

#[test]
fn virtual_hosted_requests_route_by_host() {
    let server = start(config());
    let mut conn = Connection::open(&server);
    conn.host = format!("{BUCKET}.oss-cn-hangzhou.example:{}", server.addr().port());
    let bytes = Request::append("vh", 0, b"virtual").bytes(&conn.host);
    // Virtual-hosted: the path has no bucket.
    let text = String::from_utf8(bytes)
        .unwrap()
        .replacen(&format!("/{BUCKET}/vh"), "/vh", 1);
    conn.reader.get_mut().write_all(text.as_bytes()).unwrap();
    assert_eq!(conn.read_reply(false).unwrap().status, 200);
    assert_eq!(get(&server, "vh"), b"virtual");
}

#[test]
fn data_dir_keeps_objects_across_restarts() {
    let dir = std::env::temp_dir().join(format!("oss-local-server-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = config();
    config.data_dir = Some(dir.clone());
    let key = "persisted/日志 1.log";
    let server = start(config.clone());
    let create = Request::append(key, 0, b"first,")
        .header("Content-Type", "text/plain")
        .header("x-oss-meta-who", "me");
    assert_eq!(send(&server, &create).status, 200);
    server.stop();

    let server = start(config);
    assert_eq!(
        send(&server, &Request::append(key, 6, b"second")).status,
        200
    );
    assert_eq!(get(&server, key), b"first,second");
    let reply = head(&server, key);
    assert_eq!(
        reply.u64("x-oss-hash-crc64ecma"),
        crc64::checksum(b"first,second")
    );
    assert_eq!(
        (reply.header("content-type"), reply.header("x-oss-meta-who")),
        (Some("text/plain"), Some("me"))
    );
    server.stop();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn discard_mode_keeps_length_and_crc_only() {
    let mut config = config();
    config.discard = true;
    let server = start(config);
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let (a, b) = data.split_at(1_234_567);
    assert_eq!(send(&server, &Request::append("d", 0, a)).status, 200);
    let reply = send(&server, &Request::append("d", a.len() as u64, b));
    assert_eq!(reply.u64("x-oss-hash-crc64ecma"), crc64::checksum(&data));
    let reply = send(&server, &Request::new("GET", "d"));
    assert_eq!((reply.status, reply.code()), (501, "NotImplemented".into()));
}

#[test]
fn a_zero_length_append_creates_an_empty_appendable_object_and_changes_nothing_after() {
    let server = start(config());
    assert_eq!(send(&server, &Request::append("z", 0, b"")).status, 200);
    assert_eq!(
        head(&server, "z").header("x-oss-object-type"),
        Some("Appendable")
    );
    send(&server, &Request::append("z", 0, b"abc"));
    let reply = send(&server, &Request::append("z", 3, b""));
    assert_eq!(
        (reply.status, reply.u64("x-oss-next-append-position")),
        (200, 3)
    );
    assert_eq!(reply.u64("x-oss-hash-crc64ecma"), crc64::checksum(b"abc"));
}

/// `GET path`, unsigned, on a connection of its own.
fn unsigned_get(server: &Server, path: &str) -> Reply {
    let mut conn = Connection::open(server);
    let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", conn.host);
    conn.reader.get_mut().write_all(request.as_bytes()).unwrap();
    conn.read_reply(false).unwrap()
}

#[test]
fn stats_count_what_arrived_with_or_without_faults() {
    let server = start(Config::new(AK, SK));
    head(&server, "k");
    head(&server, "k");
    let stats = unsigned_get(&server, "/-/stats");
    assert_eq!(stats.status, 200, "{stats:?}");
    let text = String::from_utf8(stats.body).unwrap();
    // Three connections: two HEADs and this request.
    assert!(text.starts_with("connections 3\n"), "{text}");
    assert!(text.contains("\nhead 2\n"), "{text}");
    // Faults stay off: their endpoints are not there.
    let faults = unsigned_get(&server, "/-/faults");
    assert_ne!(faults.status, 200, "{faults:?}");
}
