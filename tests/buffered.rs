//! The buffered appender against the local server: writes return at once, a background
//! thread uploads; order and exactly-once hold under every fault, flush waits (or times
//! out) for storage, a full buffer blocks or says so, and upload errors surface on the next
//! call without losing a byte.

mod common;

use oss_append::{AppendOptions, Appender, BufferOptions, Client, Config, ErrorKind, LogLevel};
use oss_local_server::{Action, Fault, Op, Server};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const AK: &str = "buffered-ak";
const SK: &str = "buffered-secret";
const BUCKET: &str = "buffered-bucket";

fn start() -> Server {
    common::start_server(AK, SK, BUCKET)
}

fn client(server: &Server, timeout: Duration) -> Client {
    Client::new(&config(server, timeout)).unwrap()
}

fn config(server: &Server, timeout: Duration) -> Config {
    common::client_config(server, AK, SK)
        .request_timeout(timeout)
        .unwrap()
}

fn open(client: &Client, key: &str, request_size: usize, buffer: BufferOptions) -> Appender {
    let options = AppendOptions {
        request_size,
        ..AppendOptions::default()
    };
    let options = AppendOptions {
        buffer: Some(buffer),
        ..options
    };
    Appender::open(client, BUCKET, key, options).unwrap()
}

fn buffer(capacity: usize, block_when_full: bool) -> BufferOptions {
    BufferOptions {
        capacity,
        max_delay: Duration::from_secs(60),
        block_when_full,
        spool: None,
    }
}

/// A buffer that uploads a byte 10 ms after it came.
fn soon() -> BufferOptions {
    BufferOptions {
        max_delay: Duration::from_millis(10),
        ..buffer(10_000, true)
    }
}

fn lines(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| format!("{i:06} a line of a log stream\n").into_bytes())
        .collect()
}

/// The upload error `log` keeps, once the upload has met it (empty writes ask for it).
fn kept_error(log: &mut Appender) -> oss_append::Error {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match log.write(b"") {
            Err(e) => return e,
            Ok(()) => assert!(Instant::now() < deadline, "the error never surfaced"),
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn stored(server: &Server, key: &str) -> Vec<u8> {
    server.object_bytes(BUCKET, key).unwrap_or_default()
}

#[test]
fn small_writes_are_stored_in_order_exactly_once() {
    let server = start();
    let client = client(&server, Duration::from_secs(5));
    let mut log = open(&client, "small", 4096, buffer(64 << 10, true));
    let lines = lines(20_000);
    for line in &lines {
        log.write(line).unwrap();
    }
    log.flush(None).unwrap();
    assert_eq!(log.pending(), 0);
    assert!(stored(&server, "small") == lines.concat());
    let expected_crc = oss_protocol::crc64::checksum(&lines.concat());
    assert_eq!(log.crc64(), expected_crc);
    log.close().unwrap();
}

#[test]
fn every_server_fault_keeps_order_and_exactly_once() {
    let faults = [
        Action::ResetBeforeBody,
        Action::ResetAfterApply,
        Action::Error(500),
        Action::Error(503),
        Action::DelayBeforeApply(Duration::from_millis(400)),
        Action::DelayAfterApply(Duration::from_millis(400)),
    ];
    for action in faults {
        let server = start();
        let client = client(&server, Duration::from_millis(200));
        let mut log = open(&client, "faults", 1000, buffer(8000, true));
        let lines = lines(500);
        for (i, line) in lines.iter().enumerate() {
            if i == 100 {
                server.add_fault(Fault::new(action, Op::Append).count(2));
            }
            log.write(line).unwrap();
        }
        log.close().unwrap_or_else(|e| panic!("{action:?}: {e}"));
        assert!(stored(&server, "faults") == lines.concat(), "{action:?}");
    }
}

#[test]
fn flush_times_out_while_the_network_is_slow_and_loses_nothing() {
    let server = start();
    let client = client(&server, Duration::from_secs(5));
    let mut log = open(&client, "slow", 1000, buffer(10_000, true));
    // Held until the flush has timed out, however slow the machine.
    server.add_fault(Fault::new(Action::Hold, Op::Append));
    log.write(b"slow bytes").unwrap();
    let error = log.flush(Some(Duration::from_millis(50))).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert_eq!(log.pending(), 10);
    server.release_held(1);
    log.flush(None).unwrap();
    assert_eq!(log.pending(), 0);
    assert_eq!(stored(&server, "slow"), b"slow bytes");
}

#[test]
fn the_maximum_delay_uploads_without_a_flush() {
    let server = start();
    let client = client(&server, Duration::from_secs(5));
    let delay = BufferOptions {
        max_delay: Duration::from_millis(50),
        ..buffer(1 << 20, true)
    };
    let mut log = open(&client, "delay", 1 << 20, delay);
    log.write(b"tick").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    // The server stores the bytes a moment before the upload thread hears back, so both are
    // awaited.
    while stored(&server, "delay") != b"tick" || log.pending() != 0 {
        assert!(Instant::now() < deadline, "never uploaded");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_full_buffer_says_would_block_when_told_not_to_wait() {
    let server = start();
    let client = client(&server, Duration::from_secs(5));
    let mut log = open(&client, "full", 1000, buffer(1000, false));
    // The buffer stays full until the test releases the upload.
    server.add_fault(Fault::new(Action::Hold, Op::Append));
    log.write(&[b'a'; 1000]).unwrap();
    let error = log.write(b"b").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::WouldBlock, "{error}");
    assert_eq!(
        log.position(),
        1000,
        "nothing of the refused write was taken"
    );
    let too_big = log.write(&[0; 1001]).unwrap_err();
    assert_eq!(too_big.kind(), ErrorKind::InvalidArgument);
    server.release_held(1);
    log.flush(None).unwrap();
    log.write(b"b").unwrap();
    log.close().unwrap();
    assert!(stored(&server, "full") == [&[b'a'; 1000][..], b"b"].concat());
}

#[test]
fn a_full_buffer_waits_for_room_when_allowed() {
    let server = start();
    let client = client(&server, Duration::from_secs(5));
    let mut log = open(&client, "wait", 1000, buffer(1000, true));
    server.add_fault(Fault::new(
        Action::DelayBeforeApply(Duration::from_millis(300)),
        Op::Append,
    ));
    log.write(&[b'a'; 1000]).unwrap();
    // Waits until the first request is stored, then is taken whole.
    log.write(b"b").unwrap();
    assert_eq!(log.position(), 1001);
    // Larger than the buffer: taken in parts as room comes.
    let big: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    log.write(&big).unwrap();
    log.close().unwrap();
    assert!(stored(&server, "wait") == [&[b'a'; 1000][..], b"b", &big].concat());
}

#[test]
fn an_upload_error_surfaces_on_the_next_call_then_the_upload_resumes() {
    let server = start();
    let client = client(&server, Duration::from_secs(5));
    let mut log = open(&client, "surfaces", 1000, buffer(10_000, true));
    // Every attempt the retry policy allows fails.
    server.add_fault(Fault::new(Action::Error(503), Op::Append).count(3));
    log.write(b"first").unwrap();
    let error = log.flush(None).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    assert!(
        error.request_id().is_some(),
        "the server's details are kept: {error:?}"
    );
    // Not lost: still buffered, or stored by the upload that resumed once the error was
    // returned.
    let pending = log.pending();
    assert!(
        pending == 5 || stored(&server, "surfaces") == b"first",
        "{pending} bytes pending"
    );
    log.write(b" second").unwrap();
    log.flush(None).unwrap();
    assert_eq!(stored(&server, "surfaces"), b"first second");
}

/// Once a kept error has been returned, the upload resumes by itself: the max delay holds
/// again, with no flush to prod it.
#[test]
fn the_upload_resumes_without_a_flush_once_a_kept_error_was_returned() {
    let server = start();
    let client = client(&server, Duration::from_secs(5));
    let max_delay = Duration::from_millis(100);
    let buffer = BufferOptions {
        max_delay,
        ..buffer(10_000, true)
    };
    let mut log = open(&client, "resumes", 1000, buffer);
    server.add_fault(Fault::new(Action::Error(503), Op::Append).count(3));
    log.write(b"first").unwrap();
    let error = kept_error(&mut log);
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    log.write(b" second").unwrap();
    // Far longer than the max delay, far shorter than a stalled upload waits.
    let deadline = Instant::now() + Duration::from_secs(3);
    while log.pending() > 0 {
        assert!(
            Instant::now() < deadline,
            "{} bytes still wait",
            log.pending()
        );
        std::thread::sleep(max_delay / 4);
    }
    assert_eq!(stored(&server, "resumes"), b"first second");
}

/// A freed handle's upload thread may finish the request in flight, but never calls the
/// progress callback again: the caller frees what the callback uses once the handle is gone.
#[test]
fn no_progress_is_reported_once_the_handle_is_dropped() {
    let server = start();
    let client = client(&server, Duration::from_secs(5));
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    // Dropped with the callback: once it is, the callback can never be called again, which
    // no wait could show.
    struct Released(Arc<AtomicBool>);
    impl Drop for Released {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let released = Arc::new(AtomicBool::new(false));
    let guard = Released(released.clone());
    let options = AppendOptions {
        progress: Some(Box::new(move |_, _, _| {
            let _ = &guard;
            counted.fetch_add(1, Ordering::SeqCst);
            true
        })),
        buffer: Some(BufferOptions {
            max_delay: Duration::ZERO,
            ..buffer(10_000, true)
        }),
        ..AppendOptions::default()
    };
    let mut log = Appender::open(&client, BUCKET, "dropped", options).unwrap();
    server.add_fault(Fault::new(Action::Hold, Op::Append));
    log.write(b"in flight").unwrap();
    // The upload has reached the server, which holds it, when the handle goes.
    let patience = Duration::from_secs(10);
    assert!(
        server.wait_held(patience, |waiting, _| waiting == 1),
        "the upload never started"
    );
    drop(log);
    assert!(
        released.load(Ordering::SeqCst),
        "the callback outlived its handle"
    );
    let after_drop = calls.load(Ordering::SeqCst);
    server.release_held(1);
    assert!(
        server.wait_held(patience, |_, finished| finished == 1),
        "the request never finished"
    );
    assert_eq!(stored(&server, "dropped"), b"in flight");
    assert_eq!(calls.load(Ordering::SeqCst), after_drop);
}

#[test]
fn a_failed_close_keeps_the_handle_and_can_be_retried() {
    let server = start();
    let client = client(&server, Duration::from_secs(5));
    let mut log = open(&client, "close", 1000, buffer(10_000, true));
    log.write(b"must not be lost").unwrap();
    server.add_fault(Fault::new(Action::Error(503), Op::Append).count(3));
    let error = log.close().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    // Not lost: still buffered, or stored by the upload that resumed after the error.
    let pending = log.pending();
    assert!(
        pending == 16 || stored(&server, "close") == b"must not be lost",
        "{pending} bytes pending"
    );
    log.close().unwrap();
    assert_eq!(stored(&server, "close"), b"must not be lost");
    assert_eq!(log.write(b"late").unwrap_err().kind(), ErrorKind::Closed);
}

#[test]
fn a_write_after_an_error_is_refused_whole() {
    let server = start();
    let client = client(&server, Duration::from_secs(5));
    let mut log = open(&client, "refused", 4, buffer(10_000, true));
    server.add_fault(Fault::new(Action::Error(503), Op::Append).count(3));
    log.write(b"abcd").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let error = loop {
        match log.write(b"efgh") {
            Err(e) => break e,
            Ok(()) => assert!(Instant::now() < deadline, "the error never surfaced"),
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    let taken = log.position() as usize;
    log.close().unwrap();
    let all = b"abcd"
        .iter()
        .chain(b"efgh".iter().cycle())
        .take(taken)
        .copied()
        .collect::<Vec<u8>>();
    assert!(stored(&server, "refused") == all);
}

#[test]
fn many_buffered_handles_share_one_client_across_threads() {
    let server = start();
    let client = client(&server, Duration::from_secs(5));
    let lines = lines(3000);
    std::thread::scope(|scope| {
        for t in 0..8 {
            let (client, lines) = (&client, &lines);
            scope.spawn(move || {
                let mut log = open(client, &format!("thread-{t}"), 2048, buffer(16 << 10, true));
                for line in lines {
                    log.write(line).unwrap();
                }
                log.close().unwrap();
            });
        }
    });
    for t in 0..8 {
        assert!(
            stored(&server, &format!("thread-{t}")) == lines.concat(),
            "thread-{t}"
        );
    }
}

#[test]
fn the_log_hears_recoveries_retries_and_errors_without_secrets() {
    let server = start();
    let lines: Arc<Mutex<Vec<(LogLevel, String)>>> = Arc::default();
    let sink = lines.clone();
    let config =
        config(&server, Duration::from_secs(5)).logger(Arc::new(move |level, line: &str| {
            sink.lock().unwrap().push((level, line.to_string()))
        }));
    let client = Client::new(&config).unwrap();
    let mut log = open(&client, "logged", 1000, buffer(10_000, true));
    server.add_fault(Fault::new(Action::ResetAfterApply, Op::Append));
    log.write(b"landed").unwrap();
    log.flush(None).unwrap();
    server.add_fault(Fault::new(Action::Error(503), Op::Append).count(3));
    log.write(b" failed").unwrap();
    assert_eq!(log.flush(None).unwrap_err().kind(), ErrorKind::Unavailable);
    log.close().unwrap();
    assert_eq!(stored(&server, "logged"), b"landed failed");

    let lines = lines.lock().unwrap();
    let has =
        |level: LogLevel, text: &str| lines.iter().any(|(l, m)| *l == level && m.contains(text));
    assert!(
        has(LogLevel::Warn, "the object shows it was stored"),
        "{lines:?}"
    );
    assert!(has(LogLevel::Warn, "was not stored: "), "{lines:?}");
    assert!(has(LogLevel::Error, "7 bytes stay buffered"), "{lines:?}");
    assert!(lines.iter().all(|(_, m)| !m.contains(SK)), "{lines:?}");
}

/// The upload thread logs a kept error with no lock held: a logger that takes its time (or
/// writes to the appender itself, as a log shipper shipping its own log would) stalls no
/// write of the caller.
#[test]
fn a_slow_logger_stalls_no_write() {
    let server = start();
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let hold = Mutex::new(hold);
    let config = config(&server, Duration::from_secs(5)).logger(Arc::new(move |level, _: &str| {
        if level == LogLevel::Error {
            let _ = hold.lock().unwrap().recv_timeout(Duration::from_secs(10));
        }
    }));
    let client = Client::new(&config).unwrap();
    let mut log = open(&client, "slow-log", 1000, soon());
    server.add_fault(Fault::new(Action::Error(503), Op::Append).count(3));
    log.write(b"first").unwrap();
    // The error is kept while the logger still holds the upload thread.
    let (done, finished) = std::sync::mpsc::channel();
    let writer = std::thread::spawn(move || {
        let error = kept_error(&mut log);
        done.send(error.kind()).unwrap();
        log
    });
    let kind = finished.recv_timeout(Duration::from_secs(8));
    release.send(()).unwrap();
    assert_eq!(
        kind,
        Ok(ErrorKind::Unavailable),
        "a write waited for the logger"
    );
    let mut log = writer.join().unwrap();
    log.flush(None).unwrap();
    assert_eq!(stored(&server, "slow-log"), b"first");
}

/// Bytes a buffered `write_from` has read from its reader are never dropped: a kept upload
/// error is returned after the piece that met it was taken.
#[test]
fn write_from_takes_what_it_read_before_it_reports_a_kept_error() {
    let server = start();
    let (errors, logged) = std::sync::mpsc::channel();
    let errors = Mutex::new(errors);
    let config = config(&server, Duration::from_secs(5)).logger(Arc::new(move |level, _: &str| {
        if level == LogLevel::Error {
            let _ = errors.lock().unwrap().send(());
        }
    }));
    let client = Client::new(&config).unwrap();
    let mut log = open(&client, "from", 10, soon());
    server.add_fault(Fault::new(Action::Error(503), Op::Append).count(3));
    log.write(b"abc").unwrap();
    // The upload thread logs its error (at Error, its only line there) once it has kept it.
    logged
        .recv_timeout(Duration::from_secs(10))
        .expect("the upload never failed");
    let mut reader: &[u8] = b"0123456789abcdefghij";
    let err = log.write_from(&mut reader).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
    // The first request's worth was read, and taken.
    assert_eq!(reader, b"abcdefghij");
    assert_eq!(log.position(), 13);
    log.flush(None).unwrap();
    assert_eq!(stored(&server, "from"), b"abc0123456789");
}

/// A panic in a callback the upload thread runs (after its piece was stored) is an error,
/// not a second copy of the piece or a hang.
#[test]
fn a_panicking_progress_callback_neither_duplicates_nor_hangs() {
    let server = start();
    let client = client(&server, Duration::from_secs(5));
    let options = AppendOptions {
        request_size: 1000,
        progress: Some(Box::new(|_, _, _| panic!("a callback's bug"))),
        buffer: Some(buffer(10_000, true)),
        ..AppendOptions::default()
    };
    let mut log = Appender::open(&client, BUCKET, "panics", options).unwrap();
    log.write(b"once").unwrap();
    let err = log.flush(None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal, "{err:?}");
    log.flush(None).unwrap();
    assert_eq!(stored(&server, "panics"), b"once");
    assert_eq!(log.pending(), 0);
}
