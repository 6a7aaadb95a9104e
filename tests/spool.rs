//! The disk spool of a buffered appender against the local server: every acknowledged write
//! reaches the object exactly once through kill -9 (the next open or a drain uploads what a
//! killed process spooled), a spool is settled with its object before anything of it is
//! sent (a conflict otherwise, with the spool kept), bad spool files are set aside and
//! named, one owner at a time, a full disk and an unusable directory fail the write or the
//! open and keep what was acknowledged, and faults during recovery lose or repeat nothing.
//!
//! Children are this test binary run again with `CHILD` naming what they do.

mod common;

use oss_append::{
    drain_spool, AppendOptions, Appender, BufferOptions, Client, ErrorKind, LogLevel, SpoolSync,
};
use oss_local_server::{Action, Fault, Op, Server};
use std::hash::{BuildHasher, RandomState};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const AK: &str = "spool-ak";
const SK: &str = "spool-secret";
const BUCKET: &str = "spool-bucket";
/// What a child does; `ENDPOINT`, `DIR` and `KEYS` (comma-separated) say where.
const CHILD: &str = "OSS_APPEND_SPOOL_CHILD";
const ENDPOINT: &str = "OSS_APPEND_SPOOL_ENDPOINT";
const DIR: &str = "OSS_APPEND_SPOOL_DIR";
const KEYS: &str = "OSS_APPEND_SPOOL_KEYS";
/// The request size of the writing children and of what reopens after them: small, so
/// that segments roll over and are deleted often.
const REQUEST: usize = 1024;

fn client(server: &Server) -> Client {
    Client::new(&common::client_config(server, AK, SK)).unwrap()
}

fn start_with_client() -> (Server, Client) {
    common::start_with_client(AK, SK, BUCKET)
}

/// A server, a client of it and a spool directory named `name`.
fn start(name: &str) -> (Server, Client, Dir) {
    let (server, client) = start_with_client();
    (server, client, Dir::new(name))
}

/// A spool directory of its own, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir =
            std::env::temp_dir().join(format!("oss-append-spool-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Dir(dir)
    }

    /// The names of the files in it, sorted.
    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = match std::fs::read_dir(&self.0) {
            Ok(entries) => entries
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
    }

    /// The segment files in it.
    fn segments(&self) -> Vec<PathBuf> {
        self.files()
            .into_iter()
            .filter(|name| name.ends_with(".seg"))
            .map(|name| self.0.join(name))
            .collect()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn spooled(dir: &Path, sync: SpoolSync, request_size: usize, max_delay: Duration) -> AppendOptions {
    AppendOptions {
        request_size,
        buffer: Some(BufferOptions {
            capacity: 1 << 20,
            max_delay,
            ..BufferOptions::spooled(dir, sync)
        }),
        ..AppendOptions::default()
    }
}

/// What reopens a spool after a child: uploads at once.
fn reopening(dir: &Path) -> AppendOptions {
    spooled(
        dir,
        SpoolSync::EveryWrite,
        REQUEST,
        Duration::from_millis(5),
    )
}

fn line(key: &str, i: usize) -> Vec<u8> {
    format!("{i:06} a line of {key}\n").into_bytes()
}

fn lines(key: &str, count: usize) -> Vec<u8> {
    (0..count).flat_map(|i| line(key, i)).collect()
}

fn stored(server: &Server, key: &str) -> Vec<u8> {
    server.object_bytes(BUCKET, key).unwrap_or_default()
}

/// The object holds lines 0..K of `key`, in order and each once, K at least `acked`, and
/// after them at most the start of the next line (a write the kill cut short, never
/// acknowledged).
fn assert_lines(server: &Server, key: &str, acked: usize, context: &str) {
    let object = stored(server, key);
    let whole = lines(key, object.len() / line(key, 0).len() + 1);
    assert!(
        whole.starts_with(&object),
        "{context}: {key} is not its lines in order, each once: {:?}",
        String::from_utf8_lossy(&object)
    );
    assert!(
        object.len() >= lines(key, acked).len(),
        "{context}: {key} holds {} bytes, fewer than the {acked} lines acknowledged",
        object.len()
    );
}

/// A number below `n`, different each call.
fn random(n: u64) -> u64 {
    RandomState::new().hash_one(()) % n
}

/// Held while a child is spawned, and while a spool is taken: a child forked by one test
/// shares this process's open files (a spool's locked lock file with them) until it execs,
/// so a spool given up by another test stays locked that long.
static SPAWNING: Mutex<()> = Mutex::new(());

fn open(
    client: &Client,
    bucket: &str,
    key: &str,
    options: AppendOptions,
) -> oss_append::Result<Appender> {
    let _spawning = SPAWNING.lock().unwrap_or_else(|e| e.into_inner());
    Appender::open(client, bucket, key, options)
}

fn drain(client: &Client, dir: impl AsRef<Path>) -> oss_append::Result<()> {
    let _spawning = SPAWNING.lock().unwrap_or_else(|e| e.into_inner());
    drain_spool(client, dir)
}

/// A child process, killed (SIGKILL) if the test ends before it does.
struct Running {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Running {
    /// This test binary again, running `test` alone as the child `role`.
    fn spawn(test: &str, role: &str, server: &Server, dir: &Path, keys: &[&str]) -> Running {
        Running::spawn_with(test, role, server, dir, keys, Stdio::null())
    }

    fn spawn_with(
        test: &str,
        role: &str,
        server: &Server,
        dir: &Path,
        keys: &[&str],
        stdin: Stdio,
    ) -> Running {
        let _spawning = SPAWNING.lock().unwrap_or_else(|e| e.into_inner());
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(CHILD, role)
            .env(ENDPOINT, server.url())
            .env(DIR, dir)
            .env(KEYS, keys.join(","))
            .stdin(stdin)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        Running { child, out }
    }

    /// The next line the child said (libtest's own lines skipped); `None` at its end.
    fn said(&mut self) -> Option<String> {
        let mut line = String::new();
        while self.out.read_line(&mut line).unwrap() > 0 {
            // libtest's `test ... ` may start the line.
            if let Some((_, said)) = line.trim_end().split_once("child: ") {
                return Some(said.to_string());
            }
            line.clear();
        }
        None
    }

    /// Reads until the child says `what`.
    fn wait_for(&mut self, what: &str) {
        while let Some(said) = self.said() {
            if said == what {
                return;
            }
        }
        panic!(
            "the child ended before saying {what:?}: {:?}",
            self.child.wait()
        );
    }

    /// SIGKILL, then what the child said before it died.
    fn kill(mut self) -> Vec<String> {
        self.child.kill().unwrap();
        let said = std::iter::from_fn(|| self.said()).collect();
        self.child.wait().unwrap();
        said
    }

    fn finish(mut self) -> Vec<String> {
        let said = std::iter::from_fn(|| self.said()).collect();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the child failed: {status}");
        said
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn say(what: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "child: {what}").unwrap();
    out.flush().unwrap();
}

/// When this process is a child: does what `CHILD` says and returns true.
fn child_role() -> bool {
    let Ok(role) = std::env::var(CHILD) else {
        return false;
    };
    let endpoint = std::env::var(ENDPOINT).unwrap();
    let client = Client::new(&common::client_config_for(&endpoint, AK, SK)).unwrap();
    let dir = PathBuf::from(std::env::var(DIR).unwrap());
    let keys = std::env::var(KEYS).unwrap();
    let keys: Vec<&str> = keys.split(',').collect();
    match role.as_str() {
        "write" => write_lines(&client, &dir, &keys),
        "reopen" => {
            let mut log = open(&client, BUCKET, keys[0], reopening(&dir)).unwrap();
            say("opened");
            log.close().unwrap();
            say("closed");
        }
        "own" => {
            let mut log = open(&client, BUCKET, keys[0], reopening(&dir)).unwrap();
            say("opened");
            // Owns the spool until the parent closes stdin.
            std::io::stdin().lines().for_each(drop);
            log.close().unwrap();
        }
        "full" => fill_the_file_size_limit(&client, &dir, keys[0]),
        "memory" => spool_much_in_little_memory(&client, &dir, keys[0]),
        other => panic!("no child role {other:?}"),
    }
    true
}

/// Writes numbered lines to each of `keys` in turn, through spooled appenders that sync
/// every write, saying `ack <key index> <line>` once each write returned: until killed.
fn write_lines(client: &Client, dir: &Path, keys: &[&str]) {
    let options = || {
        spooled(
            dir,
            SpoolSync::EveryWrite,
            REQUEST,
            Duration::from_millis(5),
        )
    };
    let mut logs: Vec<Appender> = keys
        .iter()
        .map(|key| open(client, BUCKET, key, options()).unwrap())
        .collect();
    // An end, should the parent never kill.
    for i in 0..100_000 {
        for (k, log) in logs.iter_mut().enumerate() {
            let line = line(keys[k], i);
            // A kept upload error is returned instead of taking the line: write it again.
            while let Err(e) = log.write(&line) {
                assert_ne!(e.kind(), ErrorKind::SpoolIo, "{e}");
            }
            say(format_args!("ack {k} {i}"));
        }
    }
}

/// The most lines acknowledged of each of `keys` in what a child said.
fn acked(said: &[String], keys: usize) -> Vec<usize> {
    let mut acked = vec![0; keys];
    for said in said {
        if let Some(ack) = said.strip_prefix("ack ") {
            let (k, i) = ack.split_once(' ').unwrap();
            let (k, i): (usize, usize) = (k.parse().unwrap(), i.parse().unwrap());
            acked[k] = acked[k].max(i + 1);
        }
    }
    acked
}

/// How a run's server treats the writing child's appends.
#[derive(Debug, Clone, Copy)]
enum Weather {
    Fair,
    /// Every append waits 20 ms first, so the spool holds what the uploads lag behind.
    Slow,
    /// The first appends are refused with 503, past the retries.
    Refusing,
    /// The first append waits until after the kill, then lands.
    Held,
}

const WEATHERS: [Weather; 4] = [
    Weather::Fair,
    Weather::Slow,
    Weather::Refusing,
    Weather::Held,
];

fn set_weather(server: &Server, weather: Weather, key: &str) {
    let fault = match weather {
        Weather::Fair => return,
        Weather::Slow => Fault::new(
            Action::DelayBeforeApply(Duration::from_millis(20)),
            Op::Append,
        )
        .count(100_000),
        Weather::Refusing => Fault::new(Action::Error(503), Op::Append).count(7),
        Weather::Held => Fault::new(Action::Hold, Op::Append),
    };
    server.add_fault(fault.key(key));
}

/// Runs a writing child on `keys` and kills it after a random number of acknowledged lines;
/// returns the lines acknowledged of each key.
fn write_and_kill(
    test: &str,
    server: &Server,
    dir: &Path,
    keys: &[&str],
    weather: Weather,
) -> Vec<usize> {
    for key in keys {
        set_weather(server, weather, key);
    }
    let mut child = Running::spawn(test, "write", server, dir, keys);
    let target = random(300) as usize;
    let mut said = Vec::new();
    while said.len() < target {
        said.push(child.said().expect("the writing child ended"));
    }
    said.extend(child.kill());
    if let Weather::Held = weather {
        // The held append lands after the kill (or, if the child sent none, the next one
        // goes on): recovery meets what a dead process sent.
        server.release_held(1);
    }
    acked(&said, keys.len())
}

/// Runs `recover` until it succeeds: the refusals a killed child did not meet meet the
/// recovery, which the next one resumes.
fn until_done(context: &str, mut recover: impl FnMut() -> oss_append::Result<()>) {
    for _ in 0..5 {
        match recover() {
            Ok(()) => return,
            Err(e) if e.kind() == ErrorKind::Unavailable => {}
            Err(e) => panic!("{context}: {e}"),
        }
    }
    panic!("{context}: still refused");
}

/// `runs` runs of a writing child on `streams` keys of its own, each killed, then of
/// `recover` uploading what it left: each object holds its acknowledged lines, and the
/// spools are gone.
fn kill_runs(
    test: &str,
    runs: usize,
    streams: usize,
    recover: impl Fn(&Server, &Client, &Dir, &[&str]) -> oss_append::Result<()>,
) {
    let (server, client, dir) = start(test);
    for run in 0..runs {
        let weather = WEATHERS[run % WEATHERS.len()];
        let keys: Vec<String> = (0..streams).map(|k| format!("run-{run}-{k}")).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let context = format!("{test}, run {run}, {weather:?}");
        let acked = write_and_kill(test, &server, &dir.0, &keys, weather);
        until_done(&context, || recover(&server, &client, &dir, &keys));
        for (key, acked) in keys.iter().zip(acked) {
            assert_lines(&server, key, acked, &context);
        }
        assert_eq!(
            dir.files(),
            Vec::<String>::new(),
            "{context}: the spools are removed"
        );
    }
}

#[test]
fn kill_9_loses_and_repeats_nothing_acknowledged_and_the_next_open_uploads_it() {
    const TEST: &str = "kill_9_loses_and_repeats_nothing_acknowledged_and_the_next_open_uploads_it";
    if child_role() {
        return;
    }
    let reopenings = std::cell::Cell::new(0);
    kill_runs(TEST, 24, 1, |server, client, dir, keys| {
        reopenings.set(reopenings.get() + 1);
        if reopenings.get() % 3 == 1 {
            // A second process starts recovering and is killed too.
            let mut reopened = Running::spawn(TEST, "reopen", server, &dir.0, keys);
            reopened.wait_for("opened");
            reopened.kill();
        }
        open(client, BUCKET, keys[0], reopening(&dir.0))?.close()
    });
}

#[test]
fn kill_9_then_a_drain_uploads_every_stream_left() {
    const TEST: &str = "kill_9_then_a_drain_uploads_every_stream_left";
    if child_role() {
        return;
    }
    kill_runs(TEST, 8, 3, |_, client, dir, _| drain(client, &dir.0));
    // An empty directory, and one never made, have nothing to drain.
    let (_server, client, dir) = start("drain-nothing");
    drain(&client, &dir.0).unwrap();
    drain(&client, dir.0.join("never-made")).unwrap();
}

/// A client whose error log lines arrive on the receiver (a buffered upload logs its error
/// once it is kept), and that waits a minute for an answer, so that an append the server
/// holds is never given up on, however loaded the machine.
fn logged_client(server: &Server) -> (Client, Receiver<String>) {
    let (lines, received) = channel();
    let lines = Mutex::new(lines);
    let config = common::client_config(server, AK, SK);
    let config = config.request_timeout(Duration::from_secs(60)).unwrap();
    let config = config.logger(Arc::new(move |level: LogLevel, line: &str| {
        if level == LogLevel::Error {
            let _ = lines.lock().unwrap().send(line.to_string());
        }
    }));
    (Client::new(&config).unwrap(), received)
}

#[test]
fn spooled_writes_are_stored_in_order_and_the_spool_goes_on_close() {
    let server = common::start_server(AK, SK, BUCKET);
    for (i, sync) in [
        SpoolSync::None,
        SpoolSync::Interval(Duration::from_millis(5)),
        SpoolSync::EveryWrite,
    ]
    .into_iter()
    .enumerate()
    {
        let (client, errors) = logged_client(&server);
        let dir = Dir::new(&format!("order-{i}"));
        let key = format!("order-{i}");
        let options = spooled(&dir.0, sync, 1000, Duration::from_millis(5));
        let mut log = open(&client, BUCKET, &key, options).unwrap();
        // The first append waits, so what follows it stays spooled.
        server.add_fault(Fault::new(Action::Hold, Op::Append));
        let data = lines(&key, 2000);
        for piece in data.chunks(28) {
            log.write(piece).unwrap();
        }
        // A request's worth to a segment: several are on disk, none much larger (the header,
        // with the boot id, and the two length words take under 200 bytes).
        let segments = dir.segments();
        assert!(segments.len() > 10, "{sync:?}: {:?}", dir.files());
        for segment in &segments {
            let len = std::fs::metadata(segment).unwrap().len();
            assert!(
                len < 1000 + 28 + 200,
                "{sync:?}: {} is {len} bytes",
                segment.display()
            );
        }
        // The next append fails past its retries: the upload then waits for the caller.
        // (Added once the first append is held, so that it is the next one's.)
        assert!(server.wait_held(Duration::from_secs(10), |waiting, _| waiting == 1));
        server.add_fault(Fault::new(Action::Error(503), Op::Append).count(3));
        server.release_held(1);
        errors
            .recv_timeout(Duration::from_secs(10))
            .expect("the upload error logged");
        let mut pending = vec![0; log.pending() as usize];
        assert_eq!(log.read_pending(0, &mut pending).unwrap(), pending.len());
        let stored_now = stored(&server, &key);
        assert!(
            !stored_now.is_empty() && !pending.is_empty(),
            "{sync:?}: {} bytes stored, {} pending, of {}",
            stored_now.len(),
            pending.len(),
            data.len()
        );
        assert!(
            [&stored_now[..], &pending].concat() == data,
            "{sync:?}: the pending bytes come back from the spool, in order"
        );
        let kept = log.close().unwrap_err();
        assert_eq!(kept.kind(), ErrorKind::Unavailable, "{sync:?}: {kept}");
        log.close().unwrap();
        assert!(stored(&server, &key) == data, "{sync:?}");
        assert_eq!(dir.files(), Vec::<String>::new(), "{sync:?}");
    }
}

#[test]
fn a_full_spool_waits_or_says_would_block_as_a_full_buffer_does() {
    let (server, client, dir) = start("capacity");
    let mut options = spooled(&dir.0, SpoolSync::None, 100, Duration::from_millis(5));
    let buffer = options.buffer.as_mut().unwrap();
    (buffer.capacity, buffer.block_when_full) = (100, false);
    let mut log = open(&client, BUCKET, "capacity", options).unwrap();
    server.add_fault(Fault::new(Action::Hold, Op::Append));
    log.write(&[b'a'; 60]).unwrap();
    let error = log.write(&[b'b'; 60]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::WouldBlock, "{error}");
    server.release_held(1);
    log.flush(None).unwrap();
    log.write(&[b'b'; 60]).unwrap();
    log.close().unwrap();
    assert!(stored(&server, "capacity") == [[b'a'; 60], [b'b'; 60]].concat());
}

/// A spool that keeps what is written until a close or a request's worth (1 MiB).
fn keeping(dir: &Path) -> AppendOptions {
    spooled(
        dir,
        SpoolSync::EveryWrite,
        1 << 20,
        Duration::from_secs(3600),
    )
}

/// Leaves `data` spooled for `key` as a crash would: written through a spooled appender that
/// uploads nothing yet ([`keeping`]), dropped unclosed.
fn leave_spool(client: &Client, dir: &Path, key: &str, data: &[u8]) {
    let mut log = open(client, BUCKET, key, keeping(dir)).unwrap();
    log.write(data).unwrap();
    drop(log);
}

/// Reopens `key` and closes it: the spool's bytes uploaded.
fn reopen_and_close(client: &Client, dir: &Path, key: &str) {
    let mut log = open(client, BUCKET, key, reopening(dir)).unwrap();
    log.close().unwrap();
}

#[test]
fn an_unclosed_appenders_spool_is_uploaded_by_the_next_open_before_new_writes() {
    let (server, client, dir) = start("next-open");
    // The object already holds bytes: the spool starts after them.
    let mut direct = open(&client, BUCKET, "next", AppendOptions::default()).unwrap();
    direct.write(b"stored before; ").unwrap();
    leave_spool(&client, &dir.0, "next", b"spooled; ");
    assert!(!dir.segments().is_empty());
    let mut log = open(&client, BUCKET, "next", reopening(&dir.0)).unwrap();
    log.write(b"written after").unwrap();
    log.close().unwrap();
    assert_eq!(
        stored(&server, "next"),
        b"stored before; spooled; written after"
    );
    assert_eq!(dir.files(), Vec::<String>::new());
}

#[test]
fn a_stored_segments_file_holds_the_next_segment_and_its_old_bytes_are_never_uploaded() {
    let server = common::start_server(AK, SK, BUCKET);
    let (client, errors) = logged_client(&server);
    let dir = Dir::new("spare");
    let options = spooled(&dir.0, SpoolSync::EveryWrite, 10, Duration::from_millis(5));
    let mut log = open(&client, BUCKET, "spare", options).unwrap();
    log.write(b"0123456789").unwrap();
    log.flush(None).unwrap();
    // Once stored, the segment's file is kept (as a temporary) for the next segment.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let spare = loop {
        if let Some(name) = dir
            .files()
            .into_iter()
            .find(|f| f.ends_with("-spare.seg.tmp"))
        {
            break dir.0.join(name);
        }
        assert!(std::time::Instant::now() < deadline, "{:?}", dir.files());
        std::thread::sleep(Duration::from_millis(1));
    };
    let inode =
        |path: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).unwrap());
    let kept = inode(&spare);
    // Its appends fail, so what comes next stays spooled, in that file.
    server.add_fault(Fault::new(Action::Error(503), Op::Append).count(3));
    log.write(b"abcde").unwrap();
    let segments = dir.segments();
    assert_eq!(segments.len(), 1, "{:?}", dir.files());
    assert_eq!(inode(&segments[0]), kept);
    errors
        .recv_timeout(Duration::from_secs(10))
        .expect("the upload error logged");
    drop(log);
    // The file still holds "56789" past the new segment's 5 bytes: never uploaded.
    let mut log = open(&client, BUCKET, "spare", reopening(&dir.0)).unwrap();
    log.write(b"!").unwrap();
    log.close().unwrap();
    assert_eq!(stored(&server, "spare"), b"0123456789abcde!");
    assert_eq!(dir.files(), Vec::<String>::new());
}

#[test]
fn a_spare_left_by_an_unclosed_appender_is_removed_by_the_next_open_never_uploaded() {
    let (server, client, dir) = start("spare-left");
    let options = spooled(&dir.0, SpoolSync::EveryWrite, 10, Duration::from_millis(5));
    let mut log = open(&client, BUCKET, "left", options).unwrap();
    log.write(b"0123456789").unwrap();
    log.flush(None).unwrap();
    // A spooled appender's drop waits for its upload thread, the spare's maker.
    drop(log);
    let files = dir.files();
    assert!(
        files.iter().any(|f| f.ends_with("-spare.seg.tmp")),
        "{files:?}"
    );
    // It holds a whole segment of stored bytes, header and all.
    reopen_and_close(&client, &dir.0, "left");
    assert_eq!(stored(&server, "left"), b"0123456789");
    assert_eq!(dir.files(), Vec::<String>::new());
}

#[test]
fn a_spool_cut_inside_its_data_uploads_what_is_there() {
    let (server, client, dir) = start("cut-data");
    leave_spool(&client, &dir.0, "cut", b"0123456789");
    let segment = &dir.segments()[0];
    // The file is made with room for a request's worth: cut it 4 bytes into what was written.
    let bytes = std::fs::read(segment).unwrap();
    let data = bytes.windows(10).position(|w| w == b"0123456789").unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(segment)
        .unwrap()
        .set_len((data + 6) as u64)
        .unwrap();
    reopen_and_close(&client, &dir.0, "cut");
    assert_eq!(stored(&server, "cut"), b"012345");
}

#[test]
fn a_torn_write_past_the_committed_length_is_not_uploaded() {
    let (server, client, dir) = start("torn");
    leave_spool(&client, &dir.0, "torn", b"0123456789");
    let segment = &dir.segments()[0];
    // What a crash inside a write leaves: part of its bytes copied after the data, the
    // committed length not moved past them.
    let mut bytes = std::fs::read(segment).unwrap();
    let data = bytes.windows(10).position(|w| w == b"0123456789").unwrap();
    bytes[data + 10..data + 14].copy_from_slice(b"TORN");
    std::fs::write(segment, &bytes).unwrap();
    reopen_and_close(&client, &dir.0, "torn");
    assert_eq!(stored(&server, "torn"), b"0123456789");
}

/// The spool's one segment file, rewritten by `damage`.
fn damage_the_segment(dir: &Dir, damage: impl FnOnce(&mut Vec<u8>)) -> (PathBuf, Vec<u8>) {
    let segments = dir.segments();
    assert_eq!(segments.len(), 1, "{:?}", dir.files());
    let mut bytes = std::fs::read(&segments[0]).unwrap();
    damage(&mut bytes);
    std::fs::write(&segments[0], &bytes).unwrap();
    (segments[0].clone(), bytes)
}

#[test]
fn a_bad_spool_file_is_named_set_aside_and_never_uploaded() {
    let (server, client) = start_with_client();
    type Damage = fn(&mut Vec<u8>);
    let damages: [(&str, Damage, &str); 5] = [
        (
            "not-ours",
            |b| b[..8].copy_from_slice(b"NOTSPOOL"),
            "not a spool file",
        ),
        (
            "version",
            // Version 1, the format before the length words, is another version too.
            |b| b[8..12].copy_from_slice(&1u32.to_le_bytes()),
            "version 1",
        ),
        ("header-crc", |b| b[40] ^= 1, "damaged header"),
        (
            "header-length",
            |b| b[12..16].copy_from_slice(&u32::MAX.to_le_bytes()),
            "damaged header",
        ),
        ("cut-header", |b| b.truncate(30), "cut inside its header"),
    ];
    for (name, damage, said) in damages {
        let dir = Dir::new(&format!("bad-{name}"));
        let key = format!("bad-{name}");
        leave_spool(&client, &dir.0, &key, b"never to be uploaded");
        let (path, bytes) = damage_the_segment(&dir, damage);
        let error = open(&client, BUCKET, &key, reopening(&dir.0)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::SpoolIo, "{name}: {error}");
        let message = error.message();
        assert!(
            message.contains(&path.display().to_string()),
            "{name}: {message}"
        );
        assert!(message.contains(said), "{name}: {message}");
        let aside = PathBuf::from(format!("{}.bad", path.display()));
        assert!(!path.exists(), "{name}");
        assert_eq!(
            std::fs::read(&aside).unwrap(),
            bytes,
            "{name}: set aside as it was"
        );
        // Set aside, it no longer stands in the way, and is never deleted.
        reopen_and_close(&client, &dir.0, &key);
        assert_eq!(
            server.object_bytes(BUCKET, &key),
            None,
            "{name}: nothing uploaded"
        );
        assert!(aside.exists(), "{name}");
    }
}

/// A close that sealed the object and ended before it removed its spool (a crash between
/// the two): every spooled byte is stored, so the next open removes the spool and reports
/// the sealed object, instead of keeping a spool no open can ever take.
#[test]
fn a_spool_whose_bytes_a_sealed_object_holds_is_removed_by_the_next_open() {
    let (server, client) = start_with_client();
    let dir = Dir::new("sealed-after");
    leave_spool(&client, &dir.0, "sealed", b"all of it");
    let mut direct = open(&client, BUCKET, "sealed", AppendOptions::default()).unwrap();
    direct.write(b"all of it").unwrap();
    direct.seal().unwrap();
    let error = open(&client, BUCKET, "sealed", reopening(&dir.0)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ObjectNotAppendable, "{error}");
    assert_eq!(dir.files(), Vec::<String>::new());
    assert_eq!(stored(&server, "sealed"), b"all of it");
}

/// A header whose checksum holds but whose start would take the object past 5 GiB (past
/// u64 here) is not believed: the file is set aside, nothing is uploaded, nothing overflows.
#[test]
fn a_segment_claiming_a_start_past_any_object_is_set_aside() {
    let (server, client) = start_with_client();
    let dir = Dir::new("huge-start");
    leave_spool(&client, &dir.0, "huge", b"never to be uploaded");
    let start = u64::MAX - 5;
    let (path, _) = damage_the_segment(&dir, |b| {
        b[16..24].copy_from_slice(&start.to_le_bytes());
        let len = u32::from_le_bytes(b[12..16].try_into().unwrap()) as usize;
        let crc = oss_protocol::crc64::checksum(&b[..len - 8]);
        b[len - 8..len].copy_from_slice(&crc.to_le_bytes());
    });
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let (stream, _) = name.rsplit_once('-').unwrap();
    let renamed = path.with_file_name(format!("{stream}-{start:016x}.seg"));
    std::fs::rename(&path, &renamed).unwrap();
    let error = open(&client, BUCKET, "huge", reopening(&dir.0)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::SpoolIo, "{error}");
    assert!(error.message().contains("5 GiB"), "{error}");
    assert!(PathBuf::from(format!("{}.bad", renamed.display())).exists());
    reopen_and_close(&client, &dir.0, "huge");
    assert_eq!(server.object_bytes(BUCKET, "huge"), None);
}

/// Leaves a spool of five segments of 10 bytes, `a` to `e`, for `key`: written while every
/// append fails (on a server of its own), dropped unclosed.
fn leave_five_segments(dir: &Dir, key: &str) -> Vec<PathBuf> {
    let (refusing, client) = start_with_client();
    refusing.add_fault(Fault::new(Action::Error(503), Op::Append).count(1000));
    let options = spooled(&dir.0, SpoolSync::EveryWrite, 10, Duration::from_secs(3600));
    let mut log = open(&client, BUCKET, key, options).unwrap();
    for letter in b'a'..=b'e' {
        // A kept upload error is returned instead of taking the write.
        while log.write(&[letter; 10]).is_err() {}
    }
    drop(log);
    let segments = dir.segments();
    assert_eq!(segments.len(), 5);
    segments
}

#[test]
fn segments_that_do_not_continue_the_spool_are_set_aside_with_what_follows() {
    let (server, client) = start_with_client();
    // A segment missing: the two after the gap cannot be placed; what is before it goes.
    let dir = Dir::new("gap");
    let segments = leave_five_segments(&dir, "gap");
    std::fs::remove_file(&segments[2]).unwrap();
    let error = open(&client, BUCKET, "gap", reopening(&dir.0)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::SpoolIo, "{error}");
    for aside in &segments[3..] {
        assert!(
            error.message().contains(&aside.display().to_string()),
            "{error}"
        );
        assert!(PathBuf::from(format!("{}.bad", aside.display())).exists());
    }
    reopen_and_close(&client, &dir.0, "gap");
    assert_eq!(stored(&server, "gap"), b"aaaaaaaaaabbbbbbbbbb");
    // A byte changed in a segment: the next one's header tells, and the changed one is set
    // aside with all after it.
    let dir = Dir::new("damaged");
    let segments = leave_five_segments(&dir, "damaged");
    let mut bytes = std::fs::read(&segments[1]).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    std::fs::write(&segments[1], bytes).unwrap();
    let error = open(&client, BUCKET, "damaged", reopening(&dir.0)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::SpoolIo, "{error}");
    assert!(error.message().contains("damaged"), "{error}");
    assert_eq!(dir.segments(), segments[..1]);
    reopen_and_close(&client, &dir.0, "damaged");
    assert_eq!(stored(&server, "damaged"), b"aaaaaaaaaa");
}

#[test]
fn another_objects_spool_file_under_this_ones_name_is_set_aside() {
    let (server, client, dir) = start("swapped");
    leave_spool(&client, &dir.0, "mine", b"mine");
    let mine = dir.segments()[0].clone();
    let theirs = Dir::new("swapped-theirs");
    leave_spool(&client, &theirs.0, "theirs", b"theirs");
    std::fs::copy(&theirs.segments()[0], &mine).unwrap();
    let error = open(&client, BUCKET, "mine", reopening(&dir.0)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::SpoolIo, "{error}");
    assert!(
        error.message().contains("oss://spool-bucket/theirs"),
        "{error}"
    );
    assert!(!mine.exists());
    // A drain meets the same file under the same name, set aside now: nothing to upload.
    drain(&client, &dir.0).unwrap();
    assert_eq!(server.object_bytes(BUCKET, "mine"), None);
    assert_eq!(server.object_bytes(BUCKET, "theirs"), None);
}

/// Opening `key` with its spool in `dir` is a conflict with both sides' states, and
/// leaves the spool and the object as they were.
fn assert_conflict(server: &Server, dir: &Dir, key: &str) {
    let (files, before) = (dir.files(), stored(server, key));
    let error = open(&client(server), BUCKET, key, reopening(&dir.0)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Conflict, "{key}: {error}");
    assert!(
        error.server_state().is_some() && error.client_state().is_some(),
        "{key}: {error:?}"
    );
    assert_eq!(dir.files(), files, "{key}: the spool is kept");
    assert!(
        stored(server, key) == before,
        "{key}: nothing of it uploaded"
    );
}

#[test]
fn a_spool_another_writer_overtook_is_a_conflict_and_is_kept() {
    let (server, client) = start_with_client();
    type Overtake = fn(&Server, &Client, &str);
    let overtakes: [(&str, Overtake); 3] = [
        // Longer than the spool reaches.
        ("longer", |_, client, key| {
            append(client, key, b"spooled bytes and more")
        }),
        // A length within the spool, other bytes.
        ("other-bytes", |_, client, key| {
            append(client, key, b"SPOOLED")
        }),
        ("normal", |server, _, key| {
            server.put_object(BUCKET, key, b"spooled bytes").unwrap()
        }),
    ];
    for (key, overtake) in overtakes {
        let dir = Dir::new(&format!("conflict-{key}"));
        leave_spool(&client, &dir.0, key, b"spooled bytes");
        overtake(&server, &client, key);
        assert_conflict(&server, &dir, key);
    }
    // A spool from 4: against a server where the object is absent, then 2 bytes long.
    let dir = Dir::new("conflict-shorter");
    append(&client, "shorter", b"1234");
    leave_spool(&client, &dir.0, "shorter", b"spooled bytes");
    let elsewhere = common::start_server(AK, SK, BUCKET);
    assert_conflict(&elsewhere, &dir, "shorter");
    append(&self::client(&elsewhere), "shorter", b"12");
    assert_conflict(&elsewhere, &dir, "shorter");
    // Against the object it was spooled for, it is uploaded.
    reopen_and_close(&client, &dir.0, "shorter");
    assert_eq!(stored(&server, "shorter"), b"1234spooled bytes");
}

fn append(client: &Client, key: &str, data: &[u8]) {
    let mut log = open(client, BUCKET, key, AppendOptions::default()).unwrap();
    log.write(data).unwrap();
    log.close().unwrap();
}

#[test]
fn a_spool_has_one_owner_in_this_process_or_another() {
    const TEST: &str = "a_spool_has_one_owner_in_this_process_or_another";
    if child_role() {
        return;
    }
    let (server, client, dir) = start("owner");
    let mut first = open(&client, BUCKET, "owned", reopening(&dir.0)).unwrap();
    first.write(b"first").unwrap();
    let error = open(&client, BUCKET, "owned", reopening(&dir.0)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::SpoolInUse, "{error}");
    // Another object's spool in the same directory is another owner's.
    let mut other = open(&client, BUCKET, "other", reopening(&dir.0)).unwrap();
    other.close().unwrap();
    first.close().unwrap();
    // Closed, the spool (its lock file too) is gone, and the next owner makes it anew.
    let mut second = open(&client, BUCKET, "owned", reopening(&dir.0)).unwrap();
    second.write(b", second").unwrap();
    second.close().unwrap();
    assert_eq!(stored(&server, "owned"), b"first, second");

    let mut owner = Running::spawn_with(TEST, "own", &server, &dir.0, &["owned"], Stdio::piped());
    owner.wait_for("opened");
    let error = open(&client, BUCKET, "owned", reopening(&dir.0)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::SpoolInUse, "{error}");
    drop(owner.child.stdin.take());
    owner.finish();
    reopen_and_close(&client, &dir.0, "owned");
}

#[test]
fn a_full_disk_fails_the_write_and_keeps_what_was_acknowledged() {
    const TEST: &str = "a_full_disk_fails_the_write_and_keeps_what_was_acknowledged";
    if child_role() {
        return;
    }
    let (server, client, dir) = start("full");
    let said = Running::spawn(TEST, "full", &server, &dir.0, &["full"]).finish();
    let acked: usize = said
        .iter()
        .find_map(|s| s.strip_prefix("acked "))
        .expect("the child said how many lines were acknowledged")
        .parse()
        .unwrap();
    assert!(acked > 0);
    reopen_and_close(&client, &dir.0, "full");
    assert!(
        stored(&server, "full") == lines("full", acked),
        "exactly the lines acknowledged, nothing of the refused one"
    );
}

/// The child: the file size limit (RLIMIT_FSIZE, its signal ignored) stands for a full
/// disk; lines are written until one fails, and the process ends without a close.
fn fill_the_file_size_limit(client: &Client, dir: &Path, key: &str) {
    let limit = libc::rlimit {
        rlim_cur: 16 << 10,
        rlim_max: 16 << 10,
    };
    // SAFETY: plain system calls on this process; the signal is set to be ignored.
    unsafe {
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let mut log = open(client, BUCKET, key, keeping(dir)).unwrap();
    let mut i = 0;
    let error = loop {
        match log.write(&line(key, i)) {
            Ok(()) => i += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(error.kind(), ErrorKind::SpoolIo, "{error}");
    let position = log.position();
    let again = log.write(&line(key, i)).unwrap_err();
    assert_eq!(again.kind(), ErrorKind::SpoolIo, "{again}");
    assert_eq!(log.position(), position, "a refused write takes nothing");
    say(format_args!("acked {i}"));
    // As a crash: no close, no drop.
    std::process::exit(0);
}

#[test]
fn a_spool_directory_that_cannot_be_made_or_written_fails_the_open() {
    let (server, client, dir) = start("unmade");
    std::fs::create_dir_all(&dir.0).unwrap();
    let file = dir.0.join("a-file");
    std::fs::write(&file, b"").unwrap();
    // Under a file no directory can be made, and in /proc no file, whoever runs this.
    for unusable in [file.join("spool"), PathBuf::from("/proc")] {
        let error = open(&client, BUCKET, "k", reopening(&unusable)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::SpoolIo, "{error}");
        assert!(
            error.message().contains(&unusable.display().to_string()),
            "{error}"
        );
    }
    assert_eq!(server.object_bytes(BUCKET, "k"), None);
}

#[test]
fn a_recovery_whose_head_fails_is_resumed_by_the_next_open() {
    let (server, client, dir) = start("recover-head");
    leave_spool(&client, &dir.0, "head", b"spooled");
    let files = dir.files();
    // Every attempt the retry policy allows.
    server.add_fault(Fault::new(Action::ResetBeforeBody, Op::Head).count(3));
    let error = open(&client, BUCKET, "head", reopening(&dir.0)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Network, "{error}");
    assert_eq!(dir.files(), files);
    reopen_and_close(&client, &dir.0, "head");
    assert_eq!(stored(&server, "head"), b"spooled");
}

#[test]
fn a_recovery_whose_upload_fails_is_resumed_by_the_next_open_repeating_nothing() {
    type Step = fn(&Server);
    let cases: [(&str, Step, Step, ErrorKind); 2] = [
        // Every attempt at the recovery's first append is refused.
        (
            "refused",
            |server| server.add_fault(Fault::new(Action::Error(503), Op::Append).count(3)),
            |_| {},
            ErrorKind::Unavailable,
        ),
        // The recovery's append is applied, its answer lost, and the HEADs that would
        // tell fail: the next open must find it stored, not send it again.
        (
            "landed",
            |server| {
                server.add_fault(Fault::new(Action::ResetAfterApply, Op::Append));
                server.add_fault(Fault::new(Action::Hold, Op::Append));
            },
            |server| {
                assert!(server.wait_held(Duration::from_secs(10), |waiting, _| waiting == 1));
                server.add_fault(Fault::new(Action::ResetBeforeBody, Op::Head).count(3));
                server.release_held(1);
            },
            ErrorKind::Network,
        ),
    ];
    for (key, before_open, after_open, kind) in cases {
        let (server, client, dir) = start(&format!("recover-{key}"));
        leave_spool(&client, &dir.0, key, b"spooled");
        before_open(&server);
        let mut log = open(&client, BUCKET, key, reopening(&dir.0)).unwrap();
        after_open(&server);
        let error = log.close().unwrap_err();
        assert_eq!(error.kind(), kind, "{key}: {error}");
        drop(log);
        reopen_and_close(&client, &dir.0, key);
        assert_eq!(stored(&server, key), b"spooled", "{key}");
        assert_eq!(dir.files(), Vec::<String>::new(), "{key}");
    }
}

#[test]
fn memory_stays_bounded_by_the_request_size_whatever_the_spool_holds() {
    const TEST: &str = "memory_stays_bounded_by_the_request_size_whatever_the_spool_holds";
    if child_role() {
        return;
    }
    let mut config = oss_local_server::Config::new(AK, SK)
        .bucket(BUCKET)
        .faults();
    config.discard = true;
    let server = Server::start(config).unwrap();
    let dir = Dir::new("memory");
    // Nothing is stored until the child has spooled all it writes.
    server.add_fault(Fault::new(Action::Hold, Op::Append));
    let mut child = Running::spawn(TEST, "memory", &server, &dir.0, &["memory"]);
    let spooled = child.said().expect("the child spooled");
    server.release_held(1);
    let closed = child.finish();
    for said in [spooled].iter().chain(&closed) {
        let (what, peak) = said.rsplit_once(' ').unwrap();
        let peak: u64 = peak.parse().unwrap();
        assert!(
            peak < MEMORY_BOUND,
            "{what}: peak resident memory {peak} bytes"
        );
    }
}

/// Written by the memory test's child, in 64 KiB writes through 1 MiB requests.
const SPOOLED: usize = 128 << 20;
/// The child's peak resident memory stays under this, far below what it spools.
const MEMORY_BOUND: u64 = 20 << 20;

/// The child: spools `SPOOLED` bytes while the server holds the first append, says its
/// peak memory, then closes (uploading all of it) and says it again.
fn spool_much_in_little_memory(client: &Client, dir: &Path, key: &str) {
    let mut options = spooled(dir, SpoolSync::None, 1 << 20, Duration::from_secs(3600));
    options.buffer.as_mut().unwrap().capacity = oss_append::MAX_BUFFER_CAPACITY;
    let mut log = open(client, BUCKET, key, options).unwrap();
    let block: Vec<u8> = (0..64 << 10).map(|i| (i % 251) as u8).collect();
    for _ in 0..SPOOLED / block.len() {
        log.write(&block).unwrap();
    }
    assert!(log.pending() as usize > SPOOLED - (1 << 20));
    say(format_args!("spooled {}", common::peak_rss()));
    log.close().unwrap();
    say(format_args!("closed {}", common::peak_rss()));
}
