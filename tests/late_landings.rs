//! Appends that land after the appender gave up on them. The local server's `hold` fault
//! keeps an append (its position right, its body read) until the test releases it, after
//! the client timed out and a HEAD showed nothing stored; the test then waits for the held
//! append to be applied, and goes on. Each late landing must be recognised by its length
//! and CRC-64 as ours: never a conflict, no byte lost or stored twice. Only a change none of
//! our sends explains, another writer's, is a conflict.

mod common;

use oss_append::{
    AppendOptions, Appender, BufferOptions, Client, Config, ErrorKind, LogLevel, RetryPolicy,
};
use oss_local_server::{Action, Fault, Op, Server};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const AK: &str = "late-ak";
const SK: &str = "late-secret";
const BUCKET: &str = "late-bucket";
/// How long the test waits for an event before failing: far beyond any real wait.
const PATIENCE: Duration = Duration::from_secs(60);

fn start() -> Server {
    common::start_server(AK, SK, BUCKET)
}

/// Requests given up after 300 ms, one attempt each: every held append is one failure.
fn config(server: &Server) -> Config {
    common::client_config(server, AK, SK)
        .request_timeout(Duration::from_millis(300))
        .unwrap()
        .retry(RetryPolicy {
            max_attempts: 1,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        })
        .unwrap()
}

/// A client whose error log lines arrive on the receiver.
fn logged_client(server: &Server) -> (Client, Receiver<String>) {
    let (lines, received) = channel();
    let lines = Mutex::new(lines);
    let config = config(server).logger(Arc::new(move |level: LogLevel, line: &str| {
        if level == LogLevel::Error {
            let _ = lines.lock().unwrap().send(line.to_string());
        }
    }));
    (Client::new(&config).unwrap(), received)
}

/// The next `count` appends to `key` that reach the server's store wait for a release.
fn hold(server: &Server, key: &str, count: u32) {
    server.add_fault(Fault::new(Action::Hold, Op::Append).key(key).count(count));
}

/// Releases one held append and waits until the server has applied (or refused) it, its
/// `finished`-th held append.
fn land_one(server: &Server, finished: u64) {
    assert!(
        server.wait_held(PATIENCE, |waiting, _| waiting >= 1),
        "no append is held"
    );
    server.release_held(1);
    assert!(
        server.wait_held(PATIENCE, |_, done| done >= finished),
        "the held append was not applied"
    );
}

/// Waits for the buffered upload's error log line, logged once its error is kept: the
/// client has given up on the held append.
fn given_up(lines: &Receiver<String>) -> String {
    let line = lines
        .recv_timeout(PATIENCE)
        .expect("an upload error logged");
    assert!(
        line.contains("not stored as of the HEAD that followed"),
        "{line}"
    );
    line
}

fn buffered(client: &Client, key: &str) -> Appender {
    let options = AppendOptions {
        request_size: 64 << 10,
        buffer: Some(BufferOptions {
            capacity: 1 << 20,
            max_delay: Duration::from_millis(10),
            block_when_full: true,
            spool: None,
        }),
        ..AppendOptions::default()
    };
    Appender::open(client, BUCKET, key, options).unwrap()
}

fn unbuffered(client: &Client, key: &str) -> Appender {
    Appender::open(client, BUCKET, key, AppendOptions::default()).unwrap()
}

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn stored(server: &Server, key: &str) -> Vec<u8> {
    server.object_bytes(BUCKET, key).unwrap_or_default()
}

/// A timed-out append's error says what is known, not more.
fn assert_not_stored_as_of_head(error: &oss_append::Error) {
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(
        error
            .message()
            .contains("not stored as of the HEAD that followed"),
        "{error}"
    );
}

#[test]
fn buffered_a_late_landing_that_a_merged_resend_extends_is_ours() {
    let server = start();
    let (client, lines) = logged_client(&server);
    hold(&server, "merged", 1);
    let mut log = buffered(&client, "merged");
    let (a, b) = (bytes(50, 1), bytes(65_000, 2));
    log.write(&a).unwrap();
    given_up(&lines);
    land_one(&server, 1);
    // Taken into the chunk the failed one went back to, then the kept error is told.
    let kept = log.write_from(&b[..]).unwrap_err();
    assert_not_stored_as_of_head(&kept);
    log.flush(None).unwrap();
    let stream = [a, b].concat();
    assert_eq!(log.position(), stream.len() as u64);
    log.close().unwrap();
    assert!(stored(&server, "merged") == stream);
}

#[test]
fn buffered_a_whole_late_landing_is_not_sent_again() {
    let server = start();
    let (client, lines) = logged_client(&server);
    hold(&server, "whole", 1);
    let mut log = buffered(&client, "whole");
    let a = bytes(5000, 3);
    log.write(&a).unwrap();
    given_up(&lines);
    land_one(&server, 1);
    assert_not_stored_as_of_head(&log.flush(None).unwrap_err());
    log.flush(None).unwrap();
    log.close().unwrap();
    assert!(stored(&server, "whole") == a);
    assert_eq!(server.requests_received(Op::Append), 2);
}

#[test]
fn buffered_two_late_landings_in_a_row() {
    let server = start();
    let (client, lines) = logged_client(&server);
    hold(&server, "twice", 2);
    let mut log = buffered(&client, "twice");
    let (a, b, c) = (bytes(50, 4), bytes(70, 5), bytes(90, 6));
    log.write(&a).unwrap();
    given_up(&lines);
    land_one(&server, 1);
    // The resend of a + b finds a stored; b follows, and is held in its turn.
    assert_not_stored_as_of_head(&log.write_from(&b[..]).unwrap_err());
    given_up(&lines);
    land_one(&server, 2);
    assert_not_stored_as_of_head(&log.write_from(&c[..]).unwrap_err());
    log.close().unwrap();
    assert!(stored(&server, "twice") == [a, b, c].concat());
}

#[test]
fn buffered_a_late_landing_during_close() {
    let server = start();
    let (client, lines) = logged_client(&server);
    let options = AppendOptions {
        buffer: Some(BufferOptions {
            capacity: 1 << 20,
            max_delay: Duration::from_secs(3600),
            block_when_full: true,
            spool: None,
        }),
        seal_on_close: true,
        ..AppendOptions::default()
    };
    let mut log = Appender::open(&client, BUCKET, "closing", options).unwrap();
    let a = bytes(3000, 7);
    log.write(&a).unwrap();
    hold(&server, "closing", 1);
    assert_not_stored_as_of_head(&log.close().unwrap_err());
    given_up(&lines);
    land_one(&server, 1);
    log.close().unwrap();
    assert!(stored(&server, "closing") == a);
    let info = Appender::open(&client, BUCKET, "closing", AppendOptions::default()).unwrap_err();
    assert_eq!(info.kind(), ErrorKind::ObjectNotAppendable, "{info}");
}

#[test]
fn unbuffered_a_late_landing_of_a_prefix_of_the_next_write() {
    let server = start();
    let client = Client::new(&config(&server)).unwrap();
    hold(&server, "prefix", 1);
    let mut log = unbuffered(&client, "prefix");
    let (a, b) = (bytes(100, 8), bytes(200, 9));
    assert_not_stored_as_of_head(&log.write(&a).unwrap_err());
    assert_eq!(log.position(), 0);
    land_one(&server, 1);
    // The caller writes the failed bytes again, with more.
    log.write(&[a.clone(), b.clone()].concat()).unwrap();
    assert_eq!(log.position(), 300);
    assert!(stored(&server, "prefix") == [a, b].concat());
}

#[test]
fn unbuffered_two_late_landings_in_a_row() {
    let server = start();
    let client = Client::new(&config(&server)).unwrap();
    hold(&server, "row", 2);
    let mut log = unbuffered(&client, "row");
    let (a, b, c) = (bytes(10, 10), bytes(20, 11), bytes(30, 12));
    assert_not_stored_as_of_head(&log.write(&a).unwrap_err());
    land_one(&server, 1);
    // a is found stored; b, the rest, is held in its turn.
    assert_not_stored_as_of_head(&log.write(&[a.clone(), b.clone()].concat()).unwrap_err());
    assert_eq!(log.position(), 10);
    land_one(&server, 2);
    log.write(&[b.clone(), c.clone()].concat()).unwrap();
    assert_eq!(log.position(), 60);
    assert!(stored(&server, "row") == [a, b, c].concat());
}

#[test]
fn unbuffered_an_earlier_write_of_other_bytes_that_lands_late_is_ours() {
    let server = start();
    let client = Client::new(&config(&server)).unwrap();
    hold(&server, "other", 1);
    let mut log = unbuffered(&client, "other");
    let (x, y) = (bytes(40, 13), bytes(60, 14));
    assert_not_stored_as_of_head(&log.write(&x).unwrap_err());
    land_one(&server, 1);
    // Not the failed bytes again: x is still recognised, and y follows it.
    log.write(&y).unwrap();
    assert_eq!(log.position(), 100);
    assert!(stored(&server, "other") == [x, y].concat());
}

#[test]
fn unbuffered_a_late_landing_before_a_seal_is_sealed_in() {
    let server = start();
    let client = Client::new(&config(&server)).unwrap();
    let mut log = unbuffered(&client, "seal");
    let (a, b) = (bytes(25, 15), bytes(35, 16));
    log.write(&a).unwrap();
    hold(&server, "seal", 1);
    assert_not_stored_as_of_head(&log.write(&b).unwrap_err());
    land_one(&server, 1);
    log.seal().unwrap();
    assert_eq!(log.position(), 60);
    let info = log.stat().unwrap();
    assert_eq!(info.length, 60);
    assert!(info.sealed_time.is_some());
    assert!(stored(&server, "seal") == [a, b].concat());
}

#[test]
fn another_writer_is_still_a_conflict_with_both_positions() {
    let server = start();
    let client = Client::new(&config(&server)).unwrap();
    let mut ours = unbuffered(&client, "shared");
    ours.write(b"0123").unwrap();
    let mut theirs = unbuffered(&client, "shared");
    theirs.write(b"theirs").unwrap();
    let error = ours.write(b"ours").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Conflict, "{error}");
    let crc_theirs = oss_protocol::crc64::checksum(b"0123theirs");
    assert_eq!(error.server_state(), Some((10, crc_theirs)));
    let crc_ours = oss_protocol::crc64::checksum(b"0123ours");
    assert_eq!(error.client_state(), Some((8, crc_ours)));
    assert_eq!(ours.position(), 4);
}

#[test]
fn buffered_after_a_conflict_the_pending_bytes_come_back_whole_and_in_order() {
    let server = start();
    let client = Client::new(&config(&server)).unwrap();
    let options = AppendOptions {
        request_size: 1000,
        buffer: Some(BufferOptions {
            capacity: 1 << 20,
            max_delay: Duration::from_secs(3600),
            block_when_full: true,
            spool: None,
        }),
        ..AppendOptions::default()
    };
    let mut log = Appender::open(&client, BUCKET, "taken-back", options).unwrap();
    unbuffered(&client, "taken-back").write(b"another").unwrap();
    let writes: Vec<Vec<u8>> = (0..7).map(|i| bytes(700 + i * 13, i as u8)).collect();
    for write in &writes {
        log.write(write).unwrap();
    }
    let error = log.flush(None).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Conflict, "{error}");
    // Read back in pieces of an awkward size, across the chunks.
    let mut back = Vec::new();
    let mut piece = [0u8; 333];
    loop {
        let n = log.read_pending(back.len() as u64, &mut piece).unwrap();
        if n == 0 {
            break;
        }
        back.extend_from_slice(&piece[..n]);
    }
    assert_eq!(back.len() as u64, log.pending());
    assert!(back == writes.concat());
    // Terminal: the next close meets the same conflict, and nothing was stored by us.
    assert_eq!(log.close().unwrap_err().kind(), ErrorKind::Conflict);
    assert!(stored(&server, "taken-back") == b"another");
}

/// A small deterministic generator (xorshift64*), one per thread, so a run is repeatable
/// up to the threads' interleaving.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What a caller knows of one stream: the bytes it knows are stored (or taken, buffered),
/// and, unbuffered, the bytes of failed writes not stored as far as it knows, which it
/// writes again in front of its next ones.
struct Stream {
    key: String,
    log: Appender,
    buffered: bool,
    known: Vec<u8>,
    unconfirmed: Vec<u8>,
}

impl Stream {
    fn write(&mut self, data: &[u8]) {
        if self.buffered {
            // Refused whole on a kept error: written again until taken.
            for _ in 0..50 {
                match self.log.write(data) {
                    Ok(()) => {
                        self.known.extend_from_slice(data);
                        return;
                    }
                    Err(e) => assert_ne!(e.kind(), ErrorKind::Conflict, "{}: {e}", self.key),
                }
            }
            panic!("{}: a write was never taken", self.key);
        }
        let attempt = [&self.unconfirmed[..], data].concat();
        let result = self.log.write(&attempt);
        let stored = (self.log.position() - self.known.len() as u64) as usize;
        self.known.extend_from_slice(&attempt[..stored]);
        self.unconfirmed = attempt[stored..].to_vec();
        if let Err(e) = result {
            assert_ne!(e.kind(), ErrorKind::Conflict, "{}: {e}", self.key);
        }
    }

    fn finish(mut self) -> (String, Vec<u8>) {
        for _ in 0..50 {
            if self.unconfirmed.is_empty() {
                break;
            }
            self.write(&[]);
        }
        assert!(self.unconfirmed.is_empty(), "{}: never stored", self.key);
        for _ in 0..50 {
            match self.log.close() {
                Ok(()) => return (self.key, self.known),
                Err(e) => assert_ne!(e.kind(), ErrorKind::Conflict, "{}: {e}", self.key),
            }
        }
        panic!("{}: close never succeeded", self.key);
    }
}

#[test]
fn many_appenders_on_one_client_under_random_faults_and_late_landings() {
    let server = start();
    let client = Client::new(
        &config(&server)
            .retry(RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(20),
            })
            .unwrap(),
    )
    .unwrap();
    let server = &server;
    let results: Vec<(String, Vec<u8>)> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..4u64)
            .map(|thread| {
                let client = client.clone();
                scope.spawn(move || {
                    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((thread + 1) * 0x1234_5678));
                    let mut streams: Vec<Stream> = (0..4)
                        .map(|i| {
                            let key = format!("many/{thread}-{i}");
                            let buffered = i % 2 == 0;
                            let options = AppendOptions {
                                request_size: 64 << 10,
                                buffer: buffered.then_some(BufferOptions {
                                    capacity: 128 << 10,
                                    max_delay: Duration::from_millis(20),
                                    block_when_full: true,
                                    spool: None,
                                }),
                                ..AppendOptions::default()
                            };
                            let log = Appender::open(&client, BUCKET, &key, options).unwrap();
                            Stream {
                                key,
                                log,
                                buffered,
                                known: Vec::new(),
                                unconfirmed: Vec::new(),
                            }
                        })
                        .collect();
                    for step in 0..40 {
                        let at = rng.below(streams.len() as u64) as usize;
                        let key = streams[at].key.clone();
                        // One write in five meets a fault; a late landing (every attempt
                        // held past the timeout, the first landing after the client gave
                        // up) one in four of those.
                        let mut held = false;
                        if rng.below(5) == 0 {
                            let fault = match rng.below(4) {
                                // Unbuffered, every attempt held until the write gave up
                                // (released below); buffered, held past the timeout.
                                0 if !streams[at].buffered => {
                                    held = true;
                                    Fault::new(Action::Hold, Op::Append).count(3)
                                }
                                0 => Fault::new(
                                    Action::DelayBeforeApply(Duration::from_millis(1500)),
                                    Op::Append,
                                )
                                .count(3),
                                1 => Fault::new(Action::ResetAfterApply, Op::Append),
                                2 => Fault::new(Action::ResetBeforeBody, Op::Append),
                                _ => Fault::new(Action::Error(503), Op::Append),
                            };
                            server.add_fault(fault.key(&key));
                        }
                        let len = 1 + rng.below(32 << 10) as usize;
                        streams[at].write(&bytes(len, (step + thread as usize) as u8));
                        if held {
                            // Another thread's release may have let these go already.
                            server.release_held(3);
                        }
                    }
                    streams.into_iter().map(Stream::finish).collect::<Vec<_>>()
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    });
    for (key, known) in results {
        assert!(stored(server, &key) == known, "{key}");
    }
}
