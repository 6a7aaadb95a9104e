//! The HTTP layer against the local server over real TCP: keep-alive connections shared by
//! a client's handles, connections the server closed while idle, error answers to large
//! bodies, and answers framed in chunks.

mod common;

use oss_append::{AppendOptions, Appender, Client, Config, Credentials, ErrorKind, RetryPolicy};
use oss_local_server::Server;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

const AK: &str = "conn-ak";
const SK: &str = "conn-secret";
const BUCKET: &str = "conn-bucket";

fn start() -> (Server, Client) {
    common::start_with_client(AK, SK, BUCKET)
}

fn open(client: &Client, key: &str) -> Appender {
    Appender::open(client, BUCKET, key, AppendOptions::default()).unwrap()
}

/// Waits until no connection of ours to `port` is still open at the server's end: each is
/// in CLOSE_WAIT (the kernel has taken the peer's FIN) or gone, as `/proc/net/tcp` shows.
fn wait_until_closed_by_peer(port: u16) {
    const ESTABLISHED: &str = "01";
    let remote = format!(":{port:04X}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
        let open = table.lines().skip(1).any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields[2].ends_with(&remote) && fields[3] == ESTABLISHED
        });
        if !open {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server's FIN never arrived"
        );
        std::thread::yield_now();
    }
}

#[test]
fn one_connection_carries_every_append_of_every_handle_of_a_client() {
    let (server, client) = start();
    for key in ["a", "b", "c"] {
        let mut handle = open(&client, key);
        for i in 0..10u8 {
            handle.write(&[i; 100]).unwrap();
        }
        handle.close().unwrap();
    }
    // Three opens (HEAD each) and thirty appends.
    assert_eq!(server.connections_accepted(), 1);
    assert_eq!(server.object_bytes(BUCKET, "c").unwrap().len(), 1000);
}

/// A kept-alive connection the server closed while it idled costs the next request nothing:
/// with a single attempt it succeeds on a new connection, each byte stored once. Nothing is
/// sent again (the HTTP layer never resends); the close is seen before the connection is
/// used (before reusing an idle connection, the pool peeks at it without blocking).
#[test]
fn connections_the_server_closed_while_idle_are_replaced_without_an_error_or_a_lost_byte() {
    let server = common::start_server(AK, SK, BUCKET);
    // No retries above the HTTP layer: the replacement must happen there.
    let once = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    let config = common::client_config(&server, AK, SK).retry(once).unwrap();
    let client = Client::new(&config).unwrap();
    let mut handle = open(&client, "idle");
    handle.write(b"one,").unwrap();

    // Closed just before the request: once the server's FIN has reached our end.
    server.close_connections();
    wait_until_closed_by_peer(server.addr().port());
    handle.write(b"two,").unwrap();

    // Closed seconds before: the same (a pool may check only connections idle a while, as
    // ours once did past 2 s, so here the idle time itself is the point).
    server.close_connections();
    wait_until_closed_by_peer(server.addr().port());
    std::thread::sleep(Duration::from_millis(2100));
    handle.write(b"three").unwrap();

    assert_eq!(
        server.object_bytes(BUCKET, "idle").unwrap(),
        b"one,two,three"
    );
    assert_eq!(server.connections_accepted(), 3);
}

#[test]
fn a_large_body_refused_by_the_server_reports_the_servers_error() {
    let server = common::start_server(AK, SK, BUCKET);
    let config = common::client_config(&server, AK, SK)
        .credentials(Credentials::new(AK, "not-the-secret", None).unwrap());
    let client = Client::new(&config).unwrap();
    // AppendObject at once: an Appender's opening HEAD would fail first, with no body sent.
    let err = client
        .append_object(BUCKET, "big", 0, &vec![7u8; 32 << 20], &Default::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SignatureMismatch, "{err:?}");
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"));
}

/// A server that answers every request with `answer`, reading only the request head.
fn answering(answer: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut head = Vec::new();
            let mut byte = [0u8];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let _ = stream.write_all(answer);
        }
    });
    url
}

#[test]
fn an_error_document_in_chunks_is_read_whole() {
    let url = answering(
        b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\nx-oss-request-id: 5C3D9175B6FC201293AD4890\r\n\r\n\
          2d\r\n<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error>\r\n\
          5c\r\n<Code>AccessDenied</Code><Message>You have no right to access this object.</Message></Error>\r\n\
          0\r\n\r\n",
    );
    let config = Config::new()
        .endpoint(&url)
        .unwrap()
        .region("cn-hangzhou")
        .unwrap()
        .credentials(Credentials::new(AK, SK, None).unwrap());
    let client = Client::new(&config).unwrap();
    let err = client.head_object(BUCKET, "k").unwrap_err();
    // A HEAD answer has no body, whatever its headers say: the status alone tells.
    assert_eq!(err.http_status(), Some(403), "{err:?}");
    let err = client
        .append_object(BUCKET, "k", 0, b"x", &Default::default())
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"), "{err:?}");
    assert_eq!(err.message(), "You have no right to access this object.");
    assert_eq!(err.request_id(), Some("5C3D9175B6FC201293AD4890"));
}
