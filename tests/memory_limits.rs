//! Sizes a caller sets never abort the host process. Sizes past their ceiling are refused
//! where they are set; a size within it whose memory cannot be had is an error
//! (`OutOfMemory`), not Rust's abort on a failed allocation. The second is shown by running
//! this test again under `prlimit --as`, an address-space limit below the buffers asked for.

mod common;

use oss_append::{AppendOptions, Appender, BufferOptions, Client, ErrorKind, MAX_BUFFER_CAPACITY};
use std::process::Command;

const AK: &str = "mem-ak";
const SK: &str = "mem-secret";
const BUCKET: &str = "mem-bucket";
const CHILD: &str = "OSS_APPEND_LIMITED_ENDPOINT";
const TEST: &str = "buffers_that_cannot_be_allocated_are_errors_not_aborts";
/// The child's address space: room for its threads and libraries, not for 1 GiB more.
const ADDRESS_SPACE: u64 = 768 << 20;

fn buffered(options: AppendOptions, buffer: BufferOptions) -> AppendOptions {
    AppendOptions {
        buffer: Some(buffer),
        ..options
    }
}

fn client(endpoint: &str) -> Client {
    Client::new(&common::client_config_for(endpoint, AK, SK)).unwrap()
}

#[test]
fn sizes_past_their_ceiling_are_refused_where_they_are_set() {
    let server = common::start_server(AK, SK, BUCKET);
    let client = client(&server.url());
    let huge = AppendOptions {
        request_size: 1 << 40,
        ..AppendOptions::default()
    };
    let err = Appender::open(&client, BUCKET, "k", huge).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err:?}");
    assert!(err.message().contains("request size"), "{err}");

    let buffer = BufferOptions {
        capacity: MAX_BUFFER_CAPACITY + 1,
        ..BufferOptions::default()
    };
    let err = Appender::open(
        &client,
        BUCKET,
        "k",
        buffered(AppendOptions::default(), buffer),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err:?}");
    assert!(err.message().contains("capacity"), "{err}");
}

#[test]
fn buffers_that_cannot_be_allocated_are_errors_not_aborts() {
    if let Ok(endpoint) = std::env::var(CHILD) {
        return within_the_limit(&endpoint);
    }
    let server = common::start_server(AK, SK, BUCKET);
    let child = Command::new("prlimit")
        .arg(format!("--as={ADDRESS_SPACE}"))
        .arg("--")
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", TEST, "--test-threads=1", "--nocapture"])
        .env(CHILD, server.url())
        .output()
        .expect("prlimit (util-linux)");
    let said = String::from_utf8_lossy(&child.stdout) + String::from_utf8_lossy(&child.stderr);
    assert!(child.status.success(), "{said}");
    // The failures came before any request: only the direct write was sent.
    assert_eq!(
        server.object_bytes(BUCKET, "stream").unwrap(),
        b"written directly"
    );
    assert_eq!(server.object_bytes(BUCKET, "buffered"), None);
}

/// The child: a stream read through a 4 GiB request buffer, and a buffered appender whose
/// chunks are 1 GiB, in an address space of less than 1 GiB.
fn within_the_limit(endpoint: &str) {
    let client = client(endpoint);
    let big_requests = AppendOptions {
        request_size: 4 << 30,
        ..AppendOptions::default()
    };
    let mut stream = Appender::open(&client, BUCKET, "stream", big_requests).unwrap();
    let err = stream.write_from(&b"a small stream"[..]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfMemory, "{err:?}");
    // The handle is still usable with data that needs no large buffer.
    stream.write(b"written directly").unwrap();

    let gib_chunks = AppendOptions {
        request_size: MAX_BUFFER_CAPACITY,
        ..AppendOptions::default()
    };
    let buffer = BufferOptions {
        capacity: MAX_BUFFER_CAPACITY,
        ..BufferOptions::default()
    };
    let mut log =
        Appender::open(&client, BUCKET, "buffered", buffered(gib_chunks, buffer)).unwrap();
    let err = log.write(b"one line\n").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfMemory, "{err:?}");
    assert_eq!((log.position(), log.pending()), (0, 0));
}
