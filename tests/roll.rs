//! Rolling streams against the local server: the key is a template, and the stream goes on
//! in the next numbered object by size or age, continues where it was on reopen, moves past
//! objects in its way, and under faults at the roll point loses and repeats nothing; each
//! unbuffered and buffered (where the writer decides the cuts and the upload thread rolls).

mod common;

use oss_append::{
    AppendOptions, Appender, BufferOptions, Client, ErrorKind, RetryPolicy, RollOptions,
};
use oss_local_server::{Action, Fault, Op, Server};
use oss_protocol::crc64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const AK: &str = "roll-ak";
const SK: &str = "roll-secret";
const BUCKET: &str = "roll-bucket";

type Finished = Arc<Mutex<Vec<(String, u64, u64)>>>;

/// Options rolling at `size` bytes (and `age`), reporting finished objects into the list.
fn rolling(size: u64, age: Option<Duration>) -> (AppendOptions, Finished) {
    let finished = Finished::default();
    let seen = finished.clone();
    let options = AppendOptions {
        roll: Some(RollOptions {
            max_object_size: size,
            max_age: age,
            on_roll: Some(Box::new(move |key, length, crc| {
                seen.lock().unwrap().push((key.to_string(), length, crc));
            })),
        }),
        ..AppendOptions::default()
    };
    (options, finished)
}

/// How a stream is written: unbuffered, or through a buffer.
#[derive(Debug, Clone, Copy)]
enum Mode {
    Direct,
    Buffered,
}

const MODES: [Mode; 2] = [Mode::Direct, Mode::Buffered];

impl Mode {
    fn options(
        self,
        (mut options, finished): (AppendOptions, Finished),
    ) -> (AppendOptions, Finished) {
        if let Mode::Buffered = self {
            options.buffer = Some(BufferOptions::default());
        }
        (options, finished)
    }
}

/// Writes `data` and waits until it is stored (buffered, a flush; unbuffered, the write).
fn store(stream: &mut Appender, data: &[u8]) -> oss_append::Result<()> {
    stream.write(data)?;
    stream.flush(None)
}

/// The stream's objects in key order, as the server holds them.
fn objects(client: &Client, server: &Server, prefix: &str) -> Vec<(String, Vec<u8>)> {
    client
        .list_objects(BUCKET, prefix)
        .map(|o| {
            let key = o.unwrap().key;
            let bytes = server.object_bytes(BUCKET, &key).unwrap();
            (key, bytes)
        })
        .collect()
}

/// Writes of sizes from a fixed pseudo-random sequence, a few larger than `limit`.
fn writes(count: usize, limit: usize) -> Vec<Vec<u8>> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..count)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = if i % 17 == 16 {
                limit * 2 + (state % 100) as usize
            } else {
                1 + (state % (limit as u64 / 3)) as usize
            };
            vec![b'a' + (i % 26) as u8; len]
        })
        .collect()
}

#[test]
fn a_stream_rolls_at_write_boundaries_and_its_objects_concatenate_to_it() {
    for mode in MODES {
        rolls_at_write_boundaries(mode);
    }
}

fn rolls_at_write_boundaries(mode: Mode) {
    let (server, client) = common::start_with_client(AK, SK, BUCKET);
    let limit = 1000;
    let (options, finished) = mode.options(rolling(limit, None));
    let mut stream = Appender::open(&client, BUCKET, "logs/app-{n}.log", options).unwrap();
    assert_eq!(stream.key(), "logs/app-000000.log");
    let data = writes(120, limit as usize);
    let mut boundaries = vec![0u64];
    for write in &data {
        stream.write(write).unwrap();
        boundaries.push(boundaries.last().unwrap() + write.len() as u64);
    }
    let total = *boundaries.last().unwrap();
    assert_eq!(stream.stream_position(), total);
    stream.close().unwrap();
    assert_eq!(stream.stream_position(), total);

    let stored = objects(&client, &server, "logs/app-");
    let all: Vec<u8> = stored.iter().flat_map(|(_, b)| b.clone()).collect();
    assert_eq!(
        all,
        data.concat(),
        "{mode:?}: the objects in key order are the stream"
    );
    assert_eq!(stream.key(), stored.last().unwrap().0, "{mode:?}");
    assert_eq!(
        stream.position(),
        stored.last().unwrap().1.len() as u64,
        "{mode:?}"
    );
    let mut offset = 0;
    for (i, (key, bytes)) in stored.iter().enumerate() {
        assert_eq!(*key, format!("logs/app-{i:06}.log"));
        assert!(bytes.len() as u64 <= limit, "{key}: {} bytes", bytes.len());
        offset += bytes.len() as u64;
        // An object ends on a write boundary, or inside a write larger than the limit.
        if !boundaries.contains(&offset) {
            let inside = boundaries.iter().rposition(|b| *b < offset).unwrap();
            assert!(
                data[inside].len() as u64 > limit,
                "{mode:?}: {key} ends inside a write of {} bytes, which an object could hold",
                data[inside].len()
            );
        }
    }
    // Every object but the last was reported once, with the server's length and CRC.
    let finished = finished.lock().unwrap().clone();
    let expected: Vec<(String, u64, u64)> = stored[..stored.len() - 1]
        .iter()
        .map(|(key, bytes)| (key.clone(), bytes.len() as u64, crc64::checksum(bytes)))
        .collect();
    assert_eq!(finished, expected, "{mode:?}");
    assert!(stored.len() > 10, "{mode:?}: {} objects", stored.len());
}

#[test]
fn an_age_limit_rolls_before_the_first_write_after_it() {
    for mode in MODES {
        an_age_limit_rolls(mode);
    }
}

fn an_age_limit_rolls(mode: Mode) {
    let (server, client) = common::start_with_client(AK, SK, BUCKET);
    // An age of zero: every write after an object's first finds it too old.
    let (options, finished) = mode.options(rolling(1 << 20, Some(Duration::ZERO)));
    let mut stream = Appender::open(&client, BUCKET, "aged/{n}", options).unwrap();
    for line in ["one\n", "two\n", "three\n"] {
        stream.write(line.as_bytes()).unwrap();
    }
    stream.close().unwrap();
    let stored = objects(&client, &server, "aged/");
    assert_eq!(
        stored,
        [
            ("aged/000000".to_string(), b"one\n".to_vec()),
            ("aged/000001".to_string(), b"two\n".to_vec()),
            ("aged/000002".to_string(), b"three\n".to_vec()),
        ],
        "{mode:?}"
    );
    assert_eq!(finished.lock().unwrap().len(), 2, "{mode:?}");

    // An age limit not reached keeps one object.
    let (options, _) = mode.options(rolling(1 << 20, Some(Duration::from_secs(3600))));
    let mut stream = Appender::open(&client, BUCKET, "young/{n}", options).unwrap();
    for line in ["one\n", "two\n"] {
        stream.write(line.as_bytes()).unwrap();
    }
    stream.close().unwrap();
    assert_eq!(objects(&client, &server, "young/").len(), 1, "{mode:?}");
}

#[test]
fn a_reopened_stream_continues_its_last_object_or_the_next_number() {
    for mode in MODES {
        reopened_stream_continues(mode);
    }
}

fn reopened_stream_continues(mode: Mode) {
    let (server, client) = common::start_with_client(AK, SK, BUCKET);
    let open = |template: &str, seal: bool| {
        let (mut options, _) = mode.options(rolling(10, None));
        options.seal_on_close = seal;
        Appender::open(&client, BUCKET, template, options).unwrap()
    };
    // Continued: the last object is appendable, unsealed and below the limit.
    let mut stream = open("c/{n}", false);
    stream.write(b"12345").unwrap();
    stream.close().unwrap();
    let mut stream = open("c/{n}", false);
    assert_eq!((stream.key(), stream.position()), ("c/000000".into(), 5));
    stream.write(b"678").unwrap();
    stream.close().unwrap();
    assert_eq!(
        server.object_bytes(BUCKET, "c/000000").unwrap(),
        b"12345678"
    );

    // Sealed at close: the next number.
    let mut stream = open("s/{n}", true);
    stream.write(b"abc").unwrap();
    stream.close().unwrap();
    let stream = open("s/{n}", true);
    assert_eq!(
        (stream.key(), stream.stream_position()),
        ("s/000001".into(), 3)
    );

    // Full: the next number.
    let mut stream = open("f/{n}", false);
    stream.write(b"0123456789").unwrap();
    stream.close().unwrap();
    assert_eq!(open("f/{n}", false).key(), "f/000001");

    // A Normal object at the last number, and another at the next: moved past, never
    // written over.
    server.put_object(BUCKET, "n/000000", b"normal").unwrap();
    server.put_object(BUCKET, "n/000001", b"normal").unwrap();
    let mut stream = open("n/{n}", false);
    assert_eq!(stream.key(), "n/000002");
    store(&mut stream, b"x").unwrap();
    assert_eq!(server.object_bytes(BUCKET, "n/000000").unwrap(), b"normal");
    assert_eq!(server.object_bytes(BUCKET, "n/000001").unwrap(), b"normal");

    // Keys the template does not make are not the stream's.
    server.put_object(BUCKET, "k/000009.bak", b"no").unwrap();
    server.put_object(BUCKET, "k/00001", b"no").unwrap();
    assert_eq!(open("k/{n}", false).key(), "k/000000");
}

#[test]
fn the_last_object_is_found_past_several_pages_of_listing() {
    let (server, client) = common::start_with_client(AK, SK, BUCKET);
    for n in 0..2100 {
        server
            .put_object(BUCKET, &format!("p/{n:06}"), b"old")
            .unwrap();
    }
    client
        .append_object(BUCKET, "p/002100", 0, b"last", &Default::default())
        .unwrap();
    let (options, _) = rolling(100, None);
    let stream = Appender::open(&client, BUCKET, "p/{n}", options).unwrap();
    assert_eq!(stream.key(), "p/002100");
    // The Normal objects before it are not the stream's bytes.
    assert_eq!(stream.stream_position(), 4);
}

#[test]
fn faults_at_the_roll_point_lose_and_repeat_nothing() {
    for (mode, action) in MODES.into_iter().flat_map(|mode| {
        [
            Action::ResetAfterApply,
            Action::ResetBeforeBody,
            Action::Error(503),
            Action::DelayAfterApply(Duration::from_secs(6)),
        ]
        .map(|action| (mode, action))
    }) {
        let (server, client) = common::start_with_client(AK, SK, BUCKET);
        let (options, finished) = mode.options(rolling(100, None));
        let mut stream = Appender::open(&client, BUCKET, "fault/{n}", options).unwrap();
        store(&mut stream, &[b'a'; 60]).unwrap();
        // The write that rolls, and the one after, meet the fault: their appends are
        // the first ones to the next object.
        server.add_fault(Fault::new(action, Op::Append).count(1));
        store(&mut stream, &[b'b'; 60]).unwrap();
        server.add_fault(Fault::new(action, Op::Append).count(1));
        store(&mut stream, &[b'c'; 30]).unwrap();
        stream.close().unwrap();
        assert_eq!(server.pending_faults(), 0, "{mode:?}: {action:?} was met");
        let stored = objects(&client, &server, "fault/");
        let expected = vec![
            ("fault/000000".to_string(), vec![b'a'; 60]),
            (
                "fault/000001".to_string(),
                [vec![b'b'; 60], vec![b'c'; 30]].concat(),
            ),
        ];
        assert_eq!(stored, expected, "{mode:?}: {action:?}");
        assert_eq!(finished.lock().unwrap().len(), 1, "{mode:?}: {action:?}");
    }
}

#[test]
fn a_stream_longer_than_the_servers_object_limit_goes_on_in_the_next_object() {
    for mode in MODES {
        longer_than_the_servers_limit(mode);
    }
}

fn longer_than_the_servers_limit(mode: Mode) {
    let mut config = oss_local_server::Config::new(AK, SK)
        .bucket(BUCKET)
        .faults();
    config.max_object_size = 256;
    let server = Server::start(config).unwrap();
    let client = Client::new(&common::client_config(&server, AK, SK)).unwrap();
    let (options, finished) = mode.options(rolling(256, None));
    let mut stream = Appender::open(&client, BUCKET, "big/{n}.bin", options).unwrap();
    let data: Vec<u8> = (0..2000u32).map(|i| i as u8).collect();
    stream.write(&data).unwrap();
    stream.close().unwrap();
    let stored = objects(&client, &server, "big/");
    assert_eq!(stored.len(), 8, "{mode:?}");
    assert!(stored.iter().all(|(_, b)| b.len() <= 256), "{mode:?}");
    assert_eq!(
        stored
            .iter()
            .flat_map(|(_, b)| b.clone())
            .collect::<Vec<_>>(),
        data
    );
    assert_eq!(finished.lock().unwrap().len(), 7, "{mode:?}");

    // Without rolling, the server's limit is an error, as before.
    let (plain, _) = mode.options((AppendOptions::default(), Finished::default()));
    let mut plain = Appender::open(&client, BUCKET, "plain", plain).unwrap();
    let err = store(&mut plain, &data).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ObjectTooLarge, "{err}");
}

#[test]
fn bad_templates_and_limits_fail_at_open_naming_them() {
    let (_server, client) = common::start_with_client(AK, SK, BUCKET);
    for template in ["no-marker", "twice-{n}-{n}", "/abs-{n}"] {
        let (options, _) = rolling(100, None);
        let err = Appender::open(&client, BUCKET, template, options).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{template}");
        assert!(err.message().contains(template), "{err}");
    }
    for size in [0, (5 << 30) + 1] {
        let (options, _) = rolling(size, None);
        let err = Appender::open(&client, BUCKET, "ok-{n}", options).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{size}");
    }
}

/// A write reported failed whose append lands later (held by the server past the client's
/// timeout, then let go) is found before the next write measures the room: the object keeps
/// to its limit, the callback reports its real length, and nothing is stored twice.
#[test]
fn a_write_reported_failed_that_lands_later_counts_before_the_next_roll() {
    for mode in MODES {
        late_landing_counts_before_the_roll(mode);
    }
}

fn late_landing_counts_before_the_roll(mode: Mode) {
    let server = common::start_server(AK, SK, BUCKET);
    let config = common::client_config(&server, AK, SK)
        .request_timeout(Duration::from_millis(500))
        .unwrap()
        .retry(RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        })
        .unwrap();
    let client = Client::new(&config).unwrap();
    let (options, finished) = mode.options(rolling(10, None));
    let mut stream = Appender::open(&client, BUCKET, "late/{n}", options).unwrap();
    server.add_fault(Fault::new(Action::Hold, Op::Append));
    let err = store(&mut stream, b"aaaaaa").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{mode:?}: {err}");
    server.release_held(1);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while server.object_bytes(BUCKET, "late/000000").as_deref() != Some(b"aaaaaa") {
        assert!(
            std::time::Instant::now() < deadline,
            "the held append never landed"
        );
        std::thread::yield_now();
    }
    stream.write(b"bbbbbb").unwrap();
    stream.close().unwrap();
    assert_eq!(
        objects(&client, &server, "late/"),
        [
            ("late/000000".to_string(), b"aaaaaa".to_vec()),
            ("late/000001".to_string(), b"bbbbbb".to_vec()),
        ],
        "{mode:?}"
    );
    let finished = finished.lock().unwrap().clone();
    assert_eq!(
        finished,
        [("late/000000".to_string(), 6, crc64::checksum(b"aaaaaa"))],
        "{mode:?}"
    );
    assert_eq!(stream.stream_position(), 12, "{mode:?}");
}

/// Each finished object is reported once: a roll whose next open failed, tried again by the
/// next write, and a second seal report nothing more.
#[test]
fn an_object_is_reported_once_whatever_is_tried_again() {
    for mode in MODES {
        reported_once(mode);
    }
}

fn reported_once(mode: Mode) {
    let (server, client) = common::start_with_client(AK, SK, BUCKET);
    let (options, finished) = mode.options(rolling(10, None));
    let mut stream = Appender::open(&client, BUCKET, "once/{n}", options).unwrap();
    // The next object's HEAD fails at every attempt: the roll fails, and is tried again
    // (unbuffered by the write made again, buffered by the upload thread once the error
    // was heard of, so there the HEADs fail until the buffer has been looked at).
    let heads = match mode {
        Mode::Direct => 3,
        Mode::Buffered => u32::MAX,
    };
    server.add_fault(Fault::new(Action::Error(503), Op::Head).count(heads));
    stream.write(b"123456").unwrap();
    let err = store(&mut stream, b"abcdef").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{mode:?}: {err}");
    match mode {
        Mode::Direct => stream.write(b"abcdef").unwrap(),
        Mode::Buffered => {
            // The first object's bytes were sent from the chunk both writes share; the
            // rest of it is still there to read back.
            let mut back = [0; 16];
            assert_eq!(stream.pending(), 6);
            assert_eq!(stream.read_pending(0, &mut back).unwrap(), 6);
            assert_eq!(&back[..6], b"abcdef");
            assert_eq!(stream.read_pending(4, &mut back).unwrap(), 2);
            assert_eq!(&back[..2], b"ef");
            server.clear_faults();
            // An attempt begun before the faults went may still report its 503, once.
            if stream.flush(None).is_err() {
                stream.flush(None).unwrap()
            }
        }
    }
    stream.seal().unwrap();
    stream.seal().unwrap();
    let keys: Vec<String> = finished
        .lock()
        .unwrap()
        .iter()
        .map(|f| f.0.clone())
        .collect();
    assert_eq!(keys, ["once/000000", "once/000001"], "{mode:?}");
    assert_eq!(
        server.object_bytes(BUCKET, "once/000001").unwrap(),
        b"abcdef",
        "{mode:?}"
    );
}

/// Reopened, a stream counts only its own objects: a Normal object it moved past is no part
/// of its length.
#[test]
fn a_reopened_stream_counts_only_its_own_objects() {
    for mode in MODES {
        counts_only_its_own(mode);
    }
}

fn counts_only_its_own(mode: Mode) {
    let (server, client) = common::start_with_client(AK, SK, BUCKET);
    server
        .put_object(BUCKET, "own/000000", &[b'n'; 1000])
        .unwrap();
    let (options, _) = mode.options(rolling(10, None));
    let mut stream = Appender::open(&client, BUCKET, "own/{n}", options).unwrap();
    stream.write(b"0123456789").unwrap();
    stream.write(b"ab").unwrap();
    assert_eq!(stream.stream_position(), 12, "{mode:?}");
    stream.close().unwrap();
    let (options, _) = mode.options(rolling(10, None));
    let stream = Appender::open(&client, BUCKET, "own/{n}", options).unwrap();
    assert_eq!(
        (stream.key(), stream.stream_position()),
        ("own/000002".into(), 12),
        "{mode:?}"
    );
}

/// A roll starts an object of its own: an object at the next number that already holds
/// bytes (another writer's) is moved past, neither mixed with nor written over.
#[test]
fn a_roll_moves_past_an_object_another_writer_started() {
    for mode in MODES {
        let (server, client) = common::start_with_client(AK, SK, BUCKET);
        let (options, finished) = mode.options(rolling(10, None));
        let mut stream = Appender::open(&client, BUCKET, "mid/{n}", options).unwrap();
        store(&mut stream, b"12345678").unwrap();
        client
            .append_object(BUCKET, "mid/000001", 0, b"other", &Default::default())
            .unwrap();
        stream.write(b"abcde").unwrap();
        stream.close().unwrap();
        assert_eq!(
            objects(&client, &server, "mid/"),
            [
                ("mid/000000".to_string(), b"12345678".to_vec()),
                ("mid/000001".to_string(), b"other".to_vec()),
                ("mid/000002".to_string(), b"abcde".to_vec()),
            ],
            "{mode:?}"
        );
        assert_eq!(stream.key(), "mid/000002", "{mode:?}");
        assert_eq!(stream.stream_position(), 13, "{mode:?}");
        assert_eq!(finished.lock().unwrap().len(), 1, "{mode:?}");
    }
}

/// With `seal_on_close`, each object is sealed as the stream rolls past it, and the last one
/// at close; a seal by the caller finishes the object, and the next write starts the next.
#[test]
fn finished_objects_are_sealed_and_a_seal_starts_the_next_object() {
    for mode in MODES {
        let (server, client) = common::start_with_client(AK, SK, BUCKET);
        let (mut options, finished) = mode.options(rolling(10, None));
        options.seal_on_close = true;
        let mut stream = Appender::open(&client, BUCKET, "sealed/{n}", options).unwrap();
        for write in [&b"aaaaaa"[..], b"bbbbbb", b"cc"] {
            stream.write(write).unwrap();
        }
        stream.seal().unwrap();
        assert_eq!(
            stream.position(),
            0,
            "{mode:?}: the next write starts an object"
        );
        stream.write(b"dd").unwrap();
        stream.close().unwrap();
        let stored = objects(&client, &server, "sealed/");
        let bytes: Vec<&[u8]> = stored.iter().map(|(_, b)| &b[..]).collect();
        assert_eq!(bytes, [&b"aaaaaa"[..], b"bbbbbbcc", b"dd"], "{mode:?}");
        for (key, _) in &stored {
            let info = client.head_object(BUCKET, key).unwrap();
            assert!(info.sealed_time.is_some(), "{mode:?}: {key} is not sealed");
        }
        let reported: Vec<String> = finished
            .lock()
            .unwrap()
            .iter()
            .map(|f| f.0.clone())
            .collect();
        assert_eq!(
            reported,
            ["sealed/000000", "sealed/000001", "sealed/000002"],
            "{mode:?}"
        );
    }
}

/// Past 999999 the numbers outgrow six digits, and the listing's order (by key) is no
/// longer the stream's: the highest number is still the one continued, and the stream's
/// length still counts every object before it.
#[test]
fn the_highest_number_is_continued_past_six_digits() {
    let (_server, client) = common::start_with_client(AK, SK, BUCKET);
    for (key, bytes) in [
        ("wide/999998", &b"a"[..]),
        ("wide/999999", b"bb"),
        ("wide/1000000", b"ccc"),
    ] {
        client
            .append_object(BUCKET, key, 0, bytes, &Default::default())
            .unwrap();
    }
    let (options, _) = rolling(100, None);
    let stream = Appender::open(&client, BUCKET, "wide/{n}", options).unwrap();
    assert_eq!(
        (stream.key(), stream.position(), stream.stream_position()),
        ("wide/1000000".into(), 3, 6)
    );
}

fn small_buffer(capacity: usize, block_when_full: bool) -> BufferOptions {
    BufferOptions {
        capacity,
        max_delay: Duration::from_millis(1),
        block_when_full,
        spool: None,
    }
}

/// A buffered write that fits the buffer is taken whole or not at all, also when it ends an
/// object and starts the next: a write refused (a full buffer, a kept error) took nothing,
/// so the caller making it again stores it once.
#[test]
fn a_buffered_write_across_objects_is_taken_whole_or_not_at_all() {
    for block_when_full in [false, true] {
        let server = common::start_server(AK, SK, BUCKET);
        let config = common::client_config(&server, AK, SK)
            .request_timeout(Duration::from_millis(300))
            .unwrap()
            .retry(RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::default()
            })
            .unwrap();
        let client = Client::new(&config).unwrap();
        let (mut options, _) = rolling(50, None);
        options.buffer = Some(small_buffer(100, block_when_full));
        let mut stream = Appender::open(&client, BUCKET, "whole/{n}", options).unwrap();
        server.add_fault(Fault::new(Action::Hold, Op::Append).count(1));
        stream.write(&[b'a'; 45]).unwrap();
        assert!(server.wait_held(Duration::from_secs(10), |waiting, _| waiting == 1));
        // 60 bytes, more than an object takes: it fills this one (5) and the next, and
        // starts a third.
        let err = stream.write(&[b'b'; 60]).unwrap_err();
        let want = if block_when_full {
            ErrorKind::Timeout
        } else {
            ErrorKind::WouldBlock
        };
        assert_eq!(err.kind(), want, "{err}");
        assert_eq!(
            stream.stream_position(),
            45,
            "{err}: the refused write took bytes"
        );
        server.release_held(1);
        while stream.flush(None).is_err() {}
        stream.write(&[b'b'; 60]).unwrap();
        stream.close().unwrap();
        let sizes: Vec<usize> = objects(&client, &server, "whole/")
            .iter()
            .map(|(_, b)| b.len())
            .collect();
        assert_eq!(sizes, [50, 50, 5], "blocking {block_when_full}");
    }
}

/// Where a buffered write goes is decided once, as it comes: a write split by a small
/// buffer fills objects as it would unbuffered, and a wait for room past the age limit
/// does not cut it.
#[test]
fn a_buffered_write_through_a_small_buffer_is_placed_once() {
    let mut layouts = Vec::new();
    for mode in MODES {
        let (server, client) = common::start_with_client(AK, SK, BUCKET);
        let (mut options, _) = mode.options(rolling(100, None));
        if let Mode::Buffered = mode {
            options.buffer = Some(small_buffer(30, true));
        }
        let mut stream = Appender::open(&client, BUCKET, "big/{n}", options).unwrap();
        stream.write(&[b'x'; 150]).unwrap();
        stream.close().unwrap();
        layouts.push(
            objects(&client, &server, "big/")
                .iter()
                .map(|(_, b)| b.len())
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(layouts, [[100, 50], [100, 50]]);

    // The upload is slowed (each request's progress waits) until the write has waited for
    // room longer than the age limit.
    let (server, client) = common::start_with_client(AK, SK, BUCKET);
    let (mut options, _) = rolling(1000, Some(Duration::from_millis(200)));
    options.buffer = Some(small_buffer(10, true));
    let started = std::time::Instant::now();
    options.progress = Some(Box::new(move |_, _, _| {
        while started.elapsed() < Duration::from_millis(250) {
            std::thread::yield_now();
        }
        true
    }));
    let mut stream = Appender::open(&client, BUCKET, "slow/{n}", options).unwrap();
    stream.write(&[b'x'; 40]).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(250));
    stream.close().unwrap();
    let sizes: Vec<usize> = objects(&client, &server, "slow/")
        .iter()
        .map(|(_, b)| b.len())
        .collect();
    assert_eq!(sizes, [40], "one write, one object");
}

/// A seal that landed though reported failed (its answer lost, the HEAD after it failing)
/// still finishes the object: the stream seals it again before it goes on, and the next
/// write starts the next object, unbuffered and buffered alike.
#[test]
fn a_seal_reported_failed_still_finishes_the_object() {
    for mode in MODES {
        let (server, client) = common::start_with_client(AK, SK, BUCKET);
        let (options, finished) = mode.options(rolling(100, None));
        let mut stream = Appender::open(&client, BUCKET, "sf/{n}", options).unwrap();
        store(&mut stream, b"first").unwrap();
        server.add_fault(Fault::new(Action::ResetAfterApply, Op::Seal).count(1));
        server.add_fault(Fault::new(Action::Error(503), Op::Head).count(10));
        stream.seal().unwrap_err();
        // The seal landed: HEADs (using up the faults left) say so.
        let info = loop {
            if let Ok(info) = client.head_object(BUCKET, "sf/000000") {
                break info;
            }
        };
        assert_eq!(server.pending_faults(), 0);
        assert!(info.sealed_time.is_some(), "{mode:?}");
        assert_eq!(
            stream.position(),
            0,
            "{mode:?}: the next write starts an object"
        );
        let mut more = store(&mut stream, b"more");
        for _ in 0..10 {
            if more.is_ok() {
                break;
            }
            more = stream.flush(None);
        }
        more.unwrap();
        stream.close().unwrap();
        let stored = objects(&client, &server, "sf/");
        assert_eq!(
            stored,
            [
                ("sf/000000".to_string(), b"first".to_vec()),
                ("sf/000001".to_string(), b"more".to_vec()),
            ],
            "{mode:?}"
        );
        let info = client.head_object(BUCKET, "sf/000000").unwrap();
        assert!(info.sealed_time.is_some(), "{mode:?}");
        assert_eq!(finished.lock().unwrap().len(), 1, "{mode:?}");
    }
}
