//! What a small append on a pooled connection asks of the kernel, as strace sees it: four
//! system calls (the request in one `writev`, the answer in one read, and one peek for
//! unread bytes each time the pool takes the connection back and hands it out), no
//! `setsockopt` or `ioctl`, no thread started (a name lookup bounded by the request's
//! deadline would run on one), no name looked up, no connection opened. The test runs
//! itself again under `strace -f`: the child (told by an environment variable) appends, the
//! parent reads the trace.

mod common;

use oss_append::{AppendOptions, Appender, Client, Config, Credentials, UrlStyle};
use std::process::Command;

const AK: &str = "trace-ak";
const SK: &str = "trace-secret";
const BUCKET: &str = "trace-bucket";
const CHILD: &str = "OSS_APPEND_TRACED_ENDPOINT";
const TEST: &str = "small_appends_on_a_pooled_connection_make_four_system_calls_each";
/// The small appends between the markers.
const APPENDS: usize = 50;
/// Files the child tries to open, so that the trace shows where the measured part starts
/// and ends.
const BEGIN: &str = "/nonexistent/oss-append-trace-begin";
const END: &str = "/nonexistent/oss-append-trace-end";

#[test]
fn small_appends_on_a_pooled_connection_make_four_system_calls_each() {
    if let Ok(endpoint) = std::env::var(CHILD) {
        return appends(&endpoint);
    }
    let server = common::start_server(AK, SK, BUCKET);
    // A name, not an address: the client has to resolve it (once).
    let endpoint = format!("http://localhost:{}", server.addr().port());
    let text = traced(TEST, CHILD, &endpoint, &[]);
    let lines: Vec<&str> = text.lines().collect();
    let (begin, end) = markers(&lines);
    // The trace sees what is asked of it: the first append resolved the name (on a thread)
    // and connected.
    let before = &lines[..begin];
    assert!(before.iter().any(|l| l.contains("clone")), "{text}");
    assert!(before.iter().any(|l| l.contains("connect(")), "{text}");
    assert!(before.iter().any(|l| l.contains("/etc/hosts")), "{text}");
    let measured = &lines[begin + 1..end];
    let calls: Vec<&str> = measured.iter().filter_map(|l| call_name(l)).collect();
    let listing = measured.join("\n");
    for call in &calls {
        assert!(["writev", "recvfrom"].contains(call), "{call}:\n{listing}");
    }
    let count = |name: &str| calls.iter().filter(|c| **c == name).count();
    assert_eq!(count("writev"), APPENDS, "{listing}");
    assert!(
        calls.len() <= 4 * APPENDS,
        "{} calls:\n{listing}",
        calls.len()
    );
    assert_eq!(
        server.object_bytes(BUCKET, "k").unwrap().len(),
        5 + APPENDS * 4096
    );
}

/// The child: one append that resolves and connects, then 50 small appends on that
/// connection between the two markers.
fn appends(endpoint: &str) {
    let client = Client::new(&child_config(endpoint)).unwrap();
    let mut handle = Appender::open(&client, BUCKET, "k", AppendOptions::default()).unwrap();
    handle.write(b"first").unwrap();
    let _ = std::fs::File::open(BEGIN);
    for _ in 0..APPENDS {
        handle.write(&[7u8; 4096]).unwrap();
    }
    let _ = std::fs::File::open(END);
}

/// The system call a line of `strace -f` shows (`PID name(args) = result`); `None` for the
/// second half of a call another thread interrupted (`<... name resumed>`).
fn call_name(line: &str) -> Option<&str> {
    let call = line.split_once(' ')?.1.trim_start();
    if call.starts_with("<...") {
        return None;
    }
    call.split_once('(').map(|(name, _)| name)
}

const REFUSED: &str = "OSS_APPEND_TRACED_REFUSED_ENDPOINT";
const REFUSED_TEST: &str = "a_host_whose_every_address_refused_is_resolved_again";

/// Connecting to every address of a host failed: its cached addresses are forgotten, so the
/// next request looks the name up again (a moved endpoint is found at once, not after the
/// cache's minute). Seen in the trace as `/etc/hosts` read once per request.
#[test]
fn a_host_whose_every_address_refused_is_resolved_again() {
    if let Ok(endpoint) = std::env::var(REFUSED) {
        return refused_twice(&endpoint);
    }
    // A port nothing listens on: bound, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://localhost:{port}");
    let text = traced(
        REFUSED_TEST,
        REFUSED,
        &endpoint,
        &["-e", "trace=openat,connect"],
    );
    let lines: Vec<&str> = text.lines().collect();
    let (begin, end) = markers(&lines);
    let lookups = lines[begin..end]
        .iter()
        .filter(|l| l.contains("/etc/hosts"))
        .count();
    assert_eq!(lookups, 2, "{}", lines[begin..end].join("\n"));
}

/// The child: two requests, one attempt each, to a host that refuses every connection.
fn refused_twice(endpoint: &str) {
    let config = child_config(endpoint)
        .retry(oss_append::RetryPolicy {
            max_attempts: 1,
            ..Default::default()
        })
        .unwrap();
    let client = Client::new(&config).unwrap();
    let _ = std::fs::File::open(BEGIN);
    for _ in 0..2 {
        let error = client.head_object(BUCKET, "k").unwrap_err();
        assert_eq!(error.kind(), oss_append::ErrorKind::Network, "{error}");
    }
    let _ = std::fs::File::open(END);
}

/// Runs the test named `test` again under `strace -f` (with `args`), told by the variable
/// `child` to be the traced child for `endpoint`; returns the trace.
fn traced(test: &str, child: &str, endpoint: &str, args: &[&str]) -> String {
    let trace = std::env::temp_dir().join(format!("oss-append-{test}-{}", std::process::id()));
    let run = Command::new("strace")
        .args(["-f", "-qq"])
        .args(args)
        .arg("-o")
        .arg(&trace)
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", test, "--test-threads=1", "--nocapture"])
        .env(child, endpoint)
        .output()
        .expect("strace (apt-get install strace)");
    let said = String::from_utf8_lossy(&run.stdout) + String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{said}");
    let text = std::fs::read_to_string(&trace).unwrap();
    std::fs::remove_file(&trace).unwrap();
    text
}

/// Where the child's markers stand in the trace's lines.
fn markers(lines: &[&str]) -> (usize, usize) {
    let at = |marker: &str| lines.iter().position(|l| l.contains(marker)).unwrap();
    (at(BEGIN), at(END))
}

/// A child's client of `endpoint`, with path-style URLs (the name is a plain host).
fn child_config(endpoint: &str) -> Config {
    Config::new()
        .endpoint(endpoint)
        .unwrap()
        .region("cn-hangzhou")
        .unwrap()
        .url_style(UrlStyle::Path)
        .credentials(Credentials::new(AK, SK, None).unwrap())
}

const TLS_CHILD: &str = "OSS_APPEND_TRACED_TLS";
const TLS_TEST: &str = "an_https_body_goes_to_the_socket_in_whole_buffers_not_a_send_per_record";
const TLS_BODY: usize = 8 << 20;

/// rustls cuts a body into 16 KiB records, each handed down to the TCP layer as a write of
/// its own: 256 sends or more for 8 MiB unless they are gathered (`src/http/coalesce.rs`).
#[test]
fn an_https_body_goes_to_the_socket_in_whole_buffers_not_a_send_per_record() {
    if let Ok(child) = std::env::var(TLS_CHILD) {
        let (endpoint, ca_file) = child.split_once(' ').unwrap();
        return https_append(endpoint, ca_file);
    }
    let (server, cert) = common::start_tls_server("trace-tls", AK, SK, BUCKET);
    let child = format!("{} {}", server.url(), cert.path().display());
    let args = ["-e", "trace=sendto,sendmsg,write,writev,openat"];
    let text = traced(TLS_TEST, TLS_CHILD, &child, &args);
    let lines: Vec<&str> = text.lines().collect();
    let (begin, end) = markers(&lines);
    let measured = &lines[begin + 1..end];
    let sends = measured
        .iter()
        .filter_map(|l| call_name(l))
        .filter(|c| *c != "openat")
        .count();
    // 1 MiB buffers: about 9 for the head and the body; 256 and more a record or two a time.
    let listing = measured.join("\n");
    assert!(
        (1..=32).contains(&sends),
        "{sends} sends for {TLS_BODY} bytes:\n{listing}"
    );
    assert_eq!(
        server.object_bytes(BUCKET, "tls").unwrap().len(),
        5 + TLS_BODY
    );
}

/// The child: one small append that connects (the handshake), then one of 8 MiB between the
/// markers.
fn https_append(endpoint: &str, ca_file: &str) {
    let config = common::client_config_for(endpoint, AK, SK).ca_file(ca_file);
    let client = Client::new(&config).unwrap();
    let mut handle = Appender::open(&client, BUCKET, "tls", AppendOptions::default()).unwrap();
    handle.write(b"first").unwrap();
    let body = vec![7u8; TLS_BODY];
    let _ = std::fs::File::open(BEGIN);
    handle.write(&body).unwrap();
    let _ = std::fs::File::open(END);
}
