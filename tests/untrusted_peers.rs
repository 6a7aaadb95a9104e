//! The client against peers that misbehave (`tests/peers`): everything a server, a proxy or
//! a middlebox sends is untrusted. A request timeout is a deadline for the whole request; a
//! kept-alive connection is reused only with nothing left unread; an answer is believed only
//! when it is consistent with the request; an outcome that is unknown is found out before
//! anything is resent; the one-request API never resends once a body may have arrived.

mod common;
mod peers;

use oss_append::{AppendOptions, Appender, Client, Config, Credentials, ErrorKind, RetryPolicy};
use oss_local_server::{Action, Fault, Op, Server};
use oss_protocol::crc64;
use peers::{answer, Request, Step};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const AK: &str = "peer-ak";
const SK: &str = "peer-secret";
const BUCKET: &str = "peer-bucket";
const TIMEOUT: Duration = Duration::from_secs(2);
/// How far past its deadline a request may end: scheduling, and the last read's wake-up.
const SLACK: Duration = Duration::from_millis(1500);

/// A client of `endpoint` with a 2 s request timeout and `attempts` attempts.
fn config(endpoint: &str, attempts: u32) -> Config {
    Config::new()
        .endpoint(endpoint)
        .unwrap()
        .region("cn-hangzhou")
        .unwrap()
        .credentials(Credentials::new(AK, SK, None).unwrap())
        .request_timeout(TIMEOUT)
        .unwrap()
        .retry(RetryPolicy {
            max_attempts: attempts,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
        })
        .unwrap()
}

fn client(endpoint: &str) -> Client {
    Client::new(&config(endpoint, 3)).unwrap()
}

fn server() -> Server {
    common::start_server(AK, SK, BUCKET)
}

fn appends(server: &Server) -> u64 {
    server.requests_received(Op::Append)
}

fn options(check_crc: bool) -> AppendOptions {
    AppendOptions {
        check_crc,
        ..AppendOptions::default()
    }
}

/// A 200 to AppendObject that is consistent with `request`: the next position is its
/// position plus its length. The CRC is a number, not the object's.
fn appended(request: &Request) -> Vec<u8> {
    let next = request.position() + request.body.len() as u64;
    answer(
        "200 OK",
        &[
            ("x-oss-next-append-position", &next.to_string()),
            ("x-oss-hash-crc64ecma", "1"),
            ("x-oss-request-id", "SCRIPTED"),
        ],
        b"",
    )
}

fn access_denied_document() -> Vec<u8> {
    b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
      <Message>You have no right to access this object.</Message>\
      <RequestId>EARLY403</RequestId></Error>"
        .to_vec()
}

// Proxies.

#[test]
fn a_proxy_cannot_answer_for_an_https_server() {
    let (server, cert) = common::start_tls_server("forged", AK, SK, BUCKET);
    // As consistent as a forgery can be: the right next position and CRC-64.
    let crc = crc64::checksum(b"data").to_string();
    let forged = answer(
        "200 OK",
        &[
            ("x-oss-next-append-position", "4"),
            ("x-oss-hash-crc64ecma", &crc),
            ("x-oss-request-id", "FORGED"),
        ],
        b"",
    );
    let proxy = peers::forging_proxy(forged);
    let config = config(&server.url(), 3)
        .ca_file(cert.path())
        .proxy(&proxy.url())
        .unwrap();
    let client = Client::new(&config).unwrap();
    let err = client
        .append_object(BUCKET, "k", 0, b"data", &Default::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err:?}");
    assert_ne!(err.request_id(), Some("FORGED"));
    let err = client.head_object(BUCKET, "k").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err:?}");
    assert_eq!(server.object_bytes(BUCKET, "k"), None);
}

#[test]
fn a_proxy_cannot_answer_for_an_http_server_before_the_request_is_sent() {
    let server = server();
    let forged = answer(
        "200 OK",
        &[
            ("x-oss-object-type", "Appendable"),
            ("x-oss-next-append-position", "999"),
            ("x-oss-hash-crc64ecma", "1"),
            ("x-oss-request-id", "FORGED"),
        ],
        b"",
    );
    let proxy = peers::forging_proxy(forged);
    let config = config(&server.url(), 1).proxy(&proxy.url()).unwrap();
    let client = Client::new(&config).unwrap();
    let err = Appender::open(&client, BUCKET, "k", AppendOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err:?}");
    assert!(err.message().contains("proxy sent bytes"), "{err}");
    assert_ne!(err.request_id(), Some("FORGED"));
    assert_eq!(server.requests_received(Op::Head), 0);
}

#[test]
fn proxy_credentials_are_sent_decoded_and_never_printed() {
    let (proxy, seen) = peers::refusing_proxy();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let log = lines.clone();
    let port = proxy.addr.port();
    let config = config("http://127.0.0.1:9", 1)
        .proxy(&format!("http://user:pa%3Ass@127.0.0.1:{port}"))
        .unwrap()
        .logger(Arc::new(move |_, line: &str| {
            log.lock().unwrap().push(line.to_string())
        }));
    let client = Client::new(&config).unwrap();
    let err = client.head_object(BUCKET, "k").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err:?}");
    use base64::Engine;
    let sent = base64::engine::general_purpose::STANDARD.encode("user:pa:ss");
    assert_eq!(*seen.lock().unwrap(), [format!("Basic {sent}")]);
    let mut printed = vec![err.to_string(), format!("{err:?}")];
    printed.extend(lines.lock().unwrap().iter().cloned());
    for text in printed {
        for secret in ["pa:ss", "pa%3Ass", &sent] {
            assert!(!text.contains(secret), "{text}");
        }
    }
}

// Deadlines.

/// `run`'s error, which must be a timeout that came no later than the deadline allows.
fn ends_at_the_deadline(run: impl FnOnce() -> oss_append::Error) {
    let started = Instant::now();
    let err = run();
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(took < TIMEOUT + SLACK, "took {took:?}");
}

#[test]
fn a_tls_handshake_relayed_a_byte_at_a_time_ends_at_the_request_timeout() {
    let (server, cert) = common::start_tls_server("handshake", AK, SK, BUCKET);
    let slow_now = Arc::new(AtomicBool::new(true));
    let slow = peers::slow_relay(server.addr(), slow_now, Duration::from_millis(20));
    let endpoint = format!("https://{}", slow.addr);
    let config = config(&endpoint, 1).ca_file(cert.path());
    let client = Client::new(&config).unwrap();
    ends_at_the_deadline(|| client.head_object(BUCKET, "k").unwrap_err());
}

#[test]
fn a_tls_answer_that_slows_down_ends_at_the_request_timeout() {
    let (server, cert) = common::start_tls_server("slow-answer", AK, SK, BUCKET);
    let slow_now = Arc::new(AtomicBool::new(false));
    let slow = peers::slow_relay(server.addr(), slow_now.clone(), Duration::from_millis(50));
    let endpoint = format!("https://{}", slow.addr);
    let client = Client::new(&config(&endpoint, 1).ca_file(cert.path())).unwrap();
    // The handshake and a first answer at full speed; the next answer on the same
    // connection, a byte at a time.
    let err = client.head_object(BUCKET, "k").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoSuchKey, "{err:?}");
    slow_now.store(true, Ordering::SeqCst);
    ends_at_the_deadline(|| client.head_object(BUCKET, "k").unwrap_err());
    assert_eq!(slow.connections(), 1);
}

#[test]
fn a_server_that_reads_the_body_slowly_holds_an_append_no_longer_than_its_timeout() {
    let peer = peers::serve(|mut conn| {
        if conn.request(false).is_some() {
            while conn.take(64 * 1024).is_some() {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });
    let client = Client::new(&config(&peer.url(), 1)).unwrap();
    let data = vec![5u8; 32 << 20];
    ends_at_the_deadline(|| {
        client
            .append_object(BUCKET, "k", 0, &data, &Default::default())
            .unwrap_err()
    });
}

/// How far past the request timeout a call may end in the tests of steady slow peers.
const PACED_SLACK: Duration = Duration::from_millis(500);

/// One AppendObject of 32 MiB (more than loopback's socket buffers hold) through a peer
/// that takes the body at each steady pace, to a server (`tls`: over TLS), ends with a
/// timeout within the request timeout and [`PACED_SLACK`]; the cut body is not stored, and
/// written again straight to the server, the object holds it once.
fn slow_steady_readers_end_at_the_deadline(tls: bool) {
    // Loopback's segments are 64 KiB, and the receiver opens its window a segment at a
    // time: the slower paces let a send progress only every few hundred ms, each time
    // within any socket timeout a transport set once for the whole send.
    let paces = [
        (1, Duration::from_secs(1)),
        (4 * 1024, Duration::from_millis(300)),
        (16 * 1024, Duration::from_millis(100)),
        (64 * 1024, Duration::from_millis(300)),
        (64 * 1024, Duration::from_millis(100)),
    ];
    for (bytes, every) in paces {
        let (server, cert) = if tls {
            let (server, cert) = common::start_tls_server("paced", AK, SK, BUCKET);
            (server, Some(cert))
        } else {
            (server(), None)
        };
        let scheme = if tls { "https" } else { "http" };
        let reader = peers::paced_reader(server.addr(), bytes, every);
        let config = |endpoint: &str| {
            let config = config(endpoint, 1);
            match &cert {
                Some(cert) => config.ca_file(cert.path()),
                None => config,
            }
        };
        let slow = Client::new(&config(&format!("{scheme}://{}", reader.addr))).unwrap();
        let data = vec![9u8; 32 << 20];
        let started = Instant::now();
        let err = slow
            .append_object(BUCKET, "paced", 0, &data, &Default::default())
            .unwrap_err();
        let took = started.elapsed();
        assert_eq!(
            err.kind(),
            ErrorKind::Timeout,
            "{bytes} B every {every:?}: {err:?}"
        );
        assert!(
            took < TIMEOUT + PACED_SLACK,
            "{bytes} B every {every:?}: took {took:?}"
        );
        let direct = Client::new(&config(&server.url())).unwrap();
        let mut again = Appender::open(&direct, BUCKET, "paced", AppendOptions::default()).unwrap();
        assert_eq!(again.position(), 0, "a cut body is never applied");
        again.write(&data).unwrap();
        assert!(server.object_bytes(BUCKET, "paced").unwrap() == data);
    }
}

#[test]
fn servers_that_read_the_body_slowly_but_steadily_hold_an_append_no_longer_than_its_timeout() {
    slow_steady_readers_end_at_the_deadline(false);
}

#[test]
fn tls_servers_that_read_the_body_slowly_but_steadily_hold_an_append_no_longer_than_its_timeout() {
    slow_steady_readers_end_at_the_deadline(true);
}

#[test]
fn a_server_that_never_answers_or_answers_a_byte_at_a_time_ends_at_the_deadline() {
    let silent = peers::serve(|mut conn| {
        if conn.request(true).is_some() {
            conn.drain();
        }
    });
    let dribbling = peers::serve(|mut conn| {
        if conn.request(true).is_some() {
            let answer = answer("200 OK", &[("x-oss-next-append-position", "4")], b"");
            for byte in answer.chunks(1) {
                if !conn.send(byte) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    });
    for peer in [&silent, &dribbling] {
        let client = Client::new(&config(&peer.url(), 1)).unwrap();
        let started = Instant::now();
        let err = client
            .append_object(BUCKET, "k", 0, b"data", &Default::default())
            .unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
        assert!(took < TIMEOUT + PACED_SLACK, "took {took:?}");
    }
}

// Stray answers on kept-alive connections.

#[test]
fn a_duplicate_answer_is_never_read_as_a_later_ones() {
    for check_crc in [true, false] {
        let server = server();
        // Each append's answer comes twice: the second once the client has read the first
        // (the test says `go`), and the test goes on once the relay has sent it, so the stray
        // answer waits in the client's socket before the next request, whatever the timing.
        let (go, went) = channel::<()>();
        let went = Arc::new(Mutex::new(went));
        let (sent, duplicated) = channel::<()>();
        // Each request's connection, and whether it was an append.
        let carried: Arc<Mutex<Vec<(usize, bool)>>> = Arc::default();
        let log = carried.clone();
        let relay = peers::relay(server.addr(), move |request, answer| {
            log.lock()
                .unwrap()
                .push((request.connection, request.is_append()));
            if !request.is_append() {
                return vec![Step::Send(answer)];
            }
            let (went, sent) = (went.clone(), sent.clone());
            vec![
                Step::Send(answer.clone()),
                Step::Run(Box::new(move || {
                    let _ = went.lock().unwrap().recv_timeout(peers::LIMIT);
                })),
                Step::Send(answer),
                Step::Run(Box::new(move || {
                    let _ = sent.send(());
                })),
            ]
        });
        let client = client(&relay.url());
        let mut handle = Appender::open(&client, BUCKET, "k", options(check_crc)).unwrap();
        for piece in ["one,", "two,", "three,", "four"] {
            handle.write(piece.as_bytes()).unwrap();
            go.send(()).unwrap();
            duplicated
                .recv_timeout(peers::LIMIT)
                .expect("the relay sent the duplicate answer");
        }
        assert_eq!(
            server.object_bytes(BUCKET, "k").unwrap(),
            b"one,two,three,four"
        );
        assert_eq!(appends(&server), 4, "check_crc {check_crc}");
        // A connection with a stray answer waiting carried no other request.
        let carried = carried.lock().unwrap();
        for (i, (connection, append)) in carried.iter().enumerate() {
            let reused = carried[i + 1..].iter().any(|(c, _)| c == connection);
            assert!(
                !(*append && reused),
                "check_crc {check_crc}: connection {connection} was reused: {carried:?}"
            );
        }
    }
}

#[test]
fn an_answer_to_an_earlier_append_is_not_believed() {
    // Late: the stale answer and the right one come in one write, so the client finds the
    // right one left over; later still, the right one comes 50 ms after the stale one, when
    // the connection is back in the pool and carries the HEAD that settles the append (which
    // reads that append answer, believes it no answer to a HEAD, and asks again).
    let late = [
        (true, None),
        (false, None),
        (true, Some(50)),
        (false, Some(50)),
    ];
    for (check_crc, gap) in late {
        let server = server();
        let last = Mutex::new(None::<Vec<u8>>);
        // Every append after the first is answered first with the previous append's answer.
        let relay = peers::relay(server.addr(), move |request, answer| {
            if !request.is_append() {
                return vec![Step::Send(answer)];
            }
            let previous = last.lock().unwrap().replace(answer.clone());
            match (previous, gap) {
                (None, _) => vec![Step::Send(answer)],
                (Some(previous), None) => vec![Step::Send([previous, answer].concat())],
                (Some(previous), Some(ms)) => vec![
                    Step::Send(previous),
                    Step::Wait(Duration::from_millis(ms)),
                    Step::Send(answer),
                ],
            }
        });
        let client = client(&relay.url());
        let mut handle = Appender::open(&client, BUCKET, "k", options(check_crc)).unwrap();
        for piece in ["one,", "two,", "three"] {
            handle.write(piece.as_bytes()).unwrap();
        }
        let case = format!("check_crc {check_crc}, gap {gap:?}");
        assert_eq!(
            server.object_bytes(BUCKET, "k").unwrap(),
            b"one,two,three",
            "{case}"
        );
        assert_eq!(appends(&server), 3, "{case}");
        assert_eq!(handle.position(), 13, "{case}");
    }
}

// Answers that leave the outcome unknown.

#[test]
fn an_append_answer_without_numbers_is_settled_by_a_head() {
    type Edit = fn(&[u8]) -> Vec<u8>;
    let edits: [(Edit, bool); 4] = [
        (
            |a| peers::without_header(a, "x-oss-next-append-position"),
            true,
        ),
        (
            |a| peers::with_header(a, "x-oss-next-append-position", "12x"),
            false,
        ),
        (|a| peers::without_header(a, "x-oss-hash-crc64ecma"), true),
        (
            |a| peers::with_header(a, "x-oss-hash-crc64ecma", "-1"),
            true,
        ),
    ];
    for (edit, check_crc) in edits {
        let server = server();
        let first = AtomicUsize::new(0);
        let relay = peers::relay(server.addr(), move |request, answer| {
            let tampered = request.is_append() && first.fetch_add(1, Ordering::SeqCst) == 0;
            vec![Step::Send(if tampered { edit(&answer) } else { answer })]
        });
        let client = client(&relay.url());
        let mut handle = Appender::open(&client, BUCKET, "k", options(check_crc)).unwrap();
        handle.write(b"one,").unwrap();
        // Not blamed on another writer: the first append is known to be stored.
        handle.write(b"two").unwrap();
        assert_eq!(server.object_bytes(BUCKET, "k").unwrap(), b"one,two");
        assert_eq!(appends(&server), 2);
    }
}

#[test]
fn a_seal_answer_without_its_sealed_time_is_settled_by_a_head() {
    let server = server();
    let relay = peers::relay(server.addr(), |request, answer| {
        let seal = request.method == "POST" && request.target.contains("?seal");
        vec![Step::Send(if seal {
            peers::without_header(&answer, "x-oss-sealed-time")
        } else {
            answer
        })]
    });
    let client = client(&relay.url());
    let mut handle = Appender::open(&client, BUCKET, "k", AppendOptions::default()).unwrap();
    handle.write(b"sealed").unwrap();
    let sealed = handle.seal().unwrap();
    assert_eq!(
        client.head_object(BUCKET, "k").unwrap().sealed_time,
        Some(sealed)
    );
    // The seal was stored the first time: the HEAD told, and nothing was sent again.
    assert_eq!(server.requests_received(Op::Seal), 1);
}

#[test]
fn append_object_reports_an_answer_without_a_next_position_as_unknown() {
    let server = server();
    let relay = peers::relay(server.addr(), |_, answer| {
        vec![Step::Send(peers::without_header(
            &answer,
            "x-oss-next-append-position",
        ))]
    });
    let err = client(&relay.url())
        .append_object(BUCKET, "k", 0, b"data", &Default::default())
        .unwrap_err();
    assert!(err.message().contains("unknown"), "{err}");
    assert_eq!(appends(&server), 1);
}

#[test]
fn append_object_never_resends_once_the_body_may_have_arrived() {
    let server = server();
    let client = client(&server.url());
    let faults = [
        (Action::ResetAfterApply, ErrorKind::Network, true),
        (Action::ResetBeforeBody, ErrorKind::Network, false),
        // Held past the request timeout, applied once released.
        (Action::Hold, ErrorKind::Timeout, true),
    ];
    for (i, (action, kind, stored)) in faults.into_iter().enumerate() {
        let key = format!("k{i}");
        server.add_fault(Fault::new(action, Op::Append));
        let before = appends(&server);
        let err = client
            .append_object(BUCKET, &key, 0, b"data", &Default::default())
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{action:?}: {err:?}");
        if action == Action::Hold {
            // The held append lands after the client gave up.
            server.release_held(1);
            assert!(
                server.wait_held(peers::LIMIT, |_, finished| finished == 1),
                "the held append was never applied"
            );
        }
        // The resets come after the apply (or instead of it): what is stored is settled.
        assert_eq!(appends(&server) - before, 1, "{action:?}");
        let expected = stored.then(|| b"data".to_vec());
        assert_eq!(server.object_bytes(BUCKET, &key), expected, "{action:?}");
    }
}

// Answers that are not HTTP as it should be.

/// A scripted server that reads each request (with its body) and writes `reply` to it.
fn replying(reply: impl Fn(&Request) -> Vec<u8> + Send + Sync + 'static) -> peers::Peer {
    peers::serve(move |mut conn| {
        while let Some(request) = conn.request(true) {
            if !conn.send(&reply(&request)) {
                return;
            }
        }
    })
}

#[test]
fn garbage_instead_of_a_status_line_is_a_network_error() {
    let peer = replying(|_| b"HELLO WORLD\r\n\r\n".to_vec());
    let client = client(&peer.url());
    let err = client.head_object(BUCKET, "k").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err:?}");
    let err = client
        .append_object(BUCKET, "k", 0, b"x", &Default::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err:?}");
}

#[test]
fn an_http_1_0_answer_is_read_and_its_connection_not_kept() {
    let peer = replying(|_| {
        b"HTTP/1.0 404 Not Found\r\nx-oss-request-id: OLD\r\nContent-Length: 0\r\n\r\n".to_vec()
    });
    let client = Client::new(&config(&peer.url(), 1)).unwrap();
    for _ in 0..2 {
        let err = client.head_object(BUCKET, "k").unwrap_err();
        assert_eq!(
            (err.http_status(), err.request_id()),
            (Some(404), Some("OLD"))
        );
    }
    assert_eq!(peer.connections(), 2);
}

#[test]
fn interim_answers_are_skipped_for_the_final_one() {
    let peer = replying(|request| {
        let mut out = b"HTTP/1.1 100 Continue\r\n\r\n\
                        HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
            .to_vec();
        out.extend(appended(request));
        out
    });
    let result = client(&peer.url())
        .append_object(BUCKET, "k", 10, b"abc", &Default::default())
        .unwrap();
    assert_eq!(
        (result.next_position, result.request_id.as_deref()),
        (13, Some("SCRIPTED"))
    );
}

#[test]
fn a_huge_answer_head_is_refused_without_waiting_for_it() {
    let peer = peers::serve(|mut conn| {
        if conn.request(true).is_some() {
            conn.send(b"HTTP/1.1 200 OK\r\nx-oss-pad: ");
            conn.send(&vec![b'a'; 10 << 20]);
            conn.send(b"\r\n\r\n");
        }
    });
    let err = client(&peer.url()).head_object(BUCKET, "k").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err:?}");
}

#[test]
fn conflicting_content_lengths_are_not_believed() {
    let peer = replying(|request| {
        let next = (request.position() + request.body.len() as u64).to_string();
        format!(
            "HTTP/1.1 200 OK\r\nx-oss-next-append-position: {next}\r\n\
             x-oss-hash-crc64ecma: 1\r\nContent-Length: 0\r\nContent-Length: 20\r\n\r\n"
        )
        .into_bytes()
    });
    let err = client(&peer.url())
        .append_object(BUCKET, "k", 0, b"abc", &Default::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err:?}");
}

#[test]
fn broken_chunked_answers_are_network_errors() {
    for body in [
        &b"zz\r\nabc\r\n0\r\n\r\n"[..],
        b"ffffffffffffffffffff\r\nabc",
        b"7fffffffffffffff\r\nabc",
        b"10\r\nabc",
    ] {
        let reply = [
            &b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            body,
        ]
        .concat();
        // The connection closes after the broken body.
        let peer = peers::serve(move |mut conn| {
            if conn.request(true).is_some() {
                conn.send(&reply);
            }
        });
        let err = client(&peer.url())
            .append_object(BUCKET, "k", 0, b"abc", &Default::default())
            .unwrap_err();
        let body = String::from_utf8_lossy(body);
        assert_eq!(err.kind(), ErrorKind::Network, "{body:?}: {err:?}");
    }
}

#[test]
fn an_answer_shorter_than_it_said_is_a_network_error() {
    let document = access_denied_document();
    let peer = peers::serve(move |mut conn| {
        if conn.request(true).is_some() {
            let full = answer("403 Forbidden", &[], &document);
            conn.send(&full[..full.len() - 20]);
        }
    });
    let err = client(&peer.url())
        .append_object(BUCKET, "k", 0, b"abc", &Default::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err:?}");
}

/// A server that takes the opening HEAD (an empty appendable object), then answers each
/// append with 403 AccessDenied as soon as its head is read. `drain`: it reads the body
/// before it closes (the client can read the answer); otherwise it closes at once with
/// the body unread (the client's send fails, and the answer is lost). Later HEADs get the
/// same 403, its document in `x-oss-err` as OSS sends it.
fn refusing_early(drain: bool) -> peers::Peer {
    use base64::Engine;
    let heads = Arc::new(AtomicUsize::new(0));
    peers::serve(move |mut conn| {
        while let Some(request) = conn.request(false) {
            if request.method == "HEAD" {
                let reply = if heads.fetch_add(1, Ordering::SeqCst) == 0 {
                    answer(
                        "200 OK",
                        &[
                            ("x-oss-object-type", "Appendable"),
                            ("x-oss-next-append-position", "0"),
                            ("x-oss-hash-crc64ecma", "0"),
                        ],
                        b"",
                    )
                } else {
                    let document =
                        base64::engine::general_purpose::STANDARD.encode(access_denied_document());
                    answer(
                        "403 Forbidden",
                        &[("x-oss-err", &document), ("x-oss-request-id", "HEAD403")],
                        b"",
                    )
                };
                conn.send(&reply);
                continue;
            }
            let refusal = answer(
                "403 Forbidden",
                &[("x-oss-request-id", "EARLY403"), ("Connection", "close")],
                &access_denied_document(),
            );
            conn.send(&refusal);
            if drain {
                conn.drain();
            }
            return;
        }
    })
}

#[test]
fn an_early_refusal_of_a_large_append_reaches_the_caller_when_it_can_be_read() {
    let peer = refusing_early(true);
    let client = client(&peer.url());
    let err = client
        .append_object(BUCKET, "k", 0, &vec![1u8; 16 << 20], &Default::default())
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.code(), err.request_id()),
        (
            ErrorKind::AccessDenied,
            Some("AccessDenied"),
            Some("EARLY403")
        ),
        "{err:?}"
    );
}

#[test]
fn an_early_refusal_that_cannot_be_read_is_settled_by_the_head() {
    let peer = refusing_early(false);
    let client = client(&peer.url());
    let mut handle = Appender::open(&client, BUCKET, "k", AppendOptions::default()).unwrap();
    let err = handle.write(&vec![1u8; 16 << 20]).unwrap_err();
    // Whichever the client saw, the refusal's code reaches the caller.
    assert_eq!(
        (err.kind(), err.code()),
        (ErrorKind::AccessDenied, Some("AccessDenied")),
        "{err:?}"
    );
    assert_eq!(handle.position(), 0);
}

// Certificates.

#[test]
fn a_certificate_for_another_name_is_refused() {
    let (server, cert) = common::start_tls_server("wrong-name", AK, SK, BUCKET);
    // Trusted, but issued to 127.0.0.1, not to localhost.
    let endpoint = format!("https://localhost:{}", server.addr().port());
    let wrong = config(&endpoint, 1)
        .ca_file(cert.path())
        .url_style(oss_append::UrlStyle::Path);
    let err = Client::new(&wrong)
        .unwrap()
        .head_object(BUCKET, "k")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err:?}");
    let right = config(&server.url(), 1).ca_file(cert.path());
    let info = Client::new(&right).unwrap().head_object(BUCKET, "k");
    assert_eq!(info.unwrap_err().kind(), ErrorKind::NoSuchKey);
}
