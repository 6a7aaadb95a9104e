//! Where real OSS meets the Rust core, against the local server: sealing an appendable
//! object (SealAppendObject) at the handle's own position only, settled by a HEAD when its
//! outcome is unknown, on close when asked, after a flush when buffered; and an opening HEAD
//! whose 404 lost its error document on the way (a gateway drops `x-oss-err`).

mod common;
mod peers;

use oss_append::{AppendOptions, Appender, BufferOptions, Client, ErrorKind, ObjectInfo};
use oss_local_server::{Action, Fault, Op, Server};
use std::time::{Duration, SystemTime};

const AK: &str = "seal-ak";
const SK: &str = "seal-secret";
const BUCKET: &str = "seal-bucket";

fn start() -> (Server, Client) {
    common::start_with_client(AK, SK, BUCKET)
}

fn open(client: &Client, key: &str) -> Appender {
    Appender::open(client, BUCKET, key, AppendOptions::default()).unwrap()
}

fn head(client: &Client, key: &str) -> ObjectInfo {
    client.head_object(BUCKET, key).unwrap()
}

/// How far the server's clock runs ahead of ours: a sealed time taken from our clock is that
/// far off. Within the 15 minutes a signature may be off, so the client never corrects its
/// signing clock to the server's either.
const SERVER_AHEAD: Duration = Duration::from_secs(600);

#[test]
fn a_sealed_object_takes_no_more_appends_and_says_since_when() {
    let (server, client) = start();
    server.set_clock_offset(SERVER_AHEAD.as_secs() as i64);
    let mut log = open(&client, "k");
    log.write(b"final words").unwrap();
    let before = SystemTime::now() + SERVER_AHEAD;
    let sealed = log.seal().unwrap();
    let after = SystemTime::now() + SERVER_AHEAD;
    // The server's time, which it sends in whole seconds.
    assert!(
        before - Duration::from_secs(1) < sealed && sealed <= after,
        "sealed at {sealed:?}, the server's clock read {before:?} to {after:?}"
    );
    assert_eq!(head(&client, "k").sealed_time, Some(sealed));
    assert_eq!(log.stat().unwrap().sealed_time, Some(sealed));

    let err = log.write(b"more").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ObjectNotAppendable, "{err:?}");
    // Sealing again is no new request and gives the same time.
    let seals = server.requests_received(Op::Seal);
    assert_eq!(log.seal().unwrap(), sealed);
    assert_eq!(server.requests_received(Op::Seal), seals);
    log.close().unwrap();

    let err = Appender::open(&client, BUCKET, "k", AppendOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ObjectNotAppendable, "{err:?}");
    assert!(err.message().contains("sealed"), "{err}");
    assert_eq!(server.object_bytes(BUCKET, "k").unwrap(), b"final words");
}

#[test]
fn a_seal_never_cuts_off_another_writers_bytes() {
    let (server, client) = start();
    let mut mine = open(&client, "k");
    mine.write(b"mine;").unwrap();
    let mut theirs = open(&client, "k");
    theirs.write(b"theirs").unwrap();
    let err = mine.seal().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err:?}");
    assert_eq!(err.server_state().map(|s| s.0), Some(11));
    assert_eq!(err.client_state(), Some((mine.position(), mine.crc64())));
    assert_eq!(head(&client, "k").sealed_time, None);
    assert_eq!(server.object_bytes(BUCKET, "k").unwrap(), b"mine;theirs");
}

/// Another writer seals the object `mine` writes to; `mine`'s next write is then refused
/// with the server's code for a sealed object, at once: one append, no HEAD to settle it, no
/// retry, the position where it was.
fn sealed_under_a_writer(server: &Server, client: &Client, key: &str, status: u16) {
    let mut mine = open(client, key);
    mine.write(b"mine").unwrap();
    open(client, key).seal().unwrap();
    let (appends, heads) = (
        server.requests_received(Op::Append),
        server.requests_received(Op::Head),
    );
    let err = mine.write(b", more").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ObjectNotAppendable, "{err:?}");
    assert_eq!(
        (err.http_status(), err.code()),
        (Some(status), Some("AppendSealedObjectNotAllowed")),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("AppendSealedObjectNotAllowed"),
        "{err}"
    );
    assert_eq!(server.requests_received(Op::Append), appends + 1);
    assert_eq!(server.requests_received(Op::Head), heads);
    assert_eq!(mine.position(), 4);
    assert_eq!(server.object_bytes(BUCKET, key).unwrap(), b"mine");
}

#[test]
fn an_append_to_an_object_another_writer_sealed_fails_once_whatever_the_status() {
    let (server, client) = start();
    // 409, as the local server answers with OSS's SealAppendObject reference.
    sealed_under_a_writer(&server, &client, "409", 409);
    // 400, as alibabacloud-oss-v2's own seal test expects of OSS.
    let relay = peers::relay(server.addr(), |request, answer| {
        let conflict = b"HTTP/1.1 409 Conflict\r\n";
        let answer = match answer.strip_prefix(conflict) {
            Some(rest) if request.is_append() => [b"HTTP/1.1 400 Bad Request\r\n", rest].concat(),
            _ => answer,
        };
        vec![peers::Step::Send(answer)]
    });
    let client = Client::new(&common::client_config_for(&relay.url(), AK, SK)).unwrap();
    sealed_under_a_writer(&server, &client, "400", 400);
}

#[test]
fn a_seal_whose_outcome_is_unknown_is_settled_by_a_head() {
    let (server, client) = start();
    // Applied, then the connection is lost: the HEAD shows the seal; nothing is resent.
    let mut applied = open(&client, "applied");
    applied.write(b"x").unwrap();
    server.add_fault(Fault::new(Action::ResetAfterApply, Op::Seal));
    let sealed = applied.seal().unwrap();
    assert_eq!(head(&client, "applied").sealed_time, Some(sealed));
    assert_eq!(server.requests_received(Op::Seal), 1);

    // Lost before it was applied: the HEAD shows no seal, and it is sent again.
    let mut lost = open(&client, "lost");
    lost.write(b"y").unwrap();
    server.add_fault(Fault::new(Action::ResetBeforeBody, Op::Seal));
    let sealed = lost.seal().unwrap();
    assert_eq!(head(&client, "lost").sealed_time, Some(sealed));
    assert_eq!(server.requests_received(Op::Seal), 3);

    // Refused every time: the retry budget ends it, and the object is not sealed.
    let mut refused = open(&client, "refused");
    refused.write(b"z").unwrap();
    server.add_fault(Fault::new(Action::Error(503), Op::Seal).count(5));
    let err = refused.seal().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
    assert!(err.message().contains("not sealed"), "{err}");
    assert_eq!(server.requests_received(Op::Seal), 6);
    assert_eq!(head(&client, "refused").sealed_time, None);
    refused.write(b" still open").unwrap();
}

#[test]
fn close_seals_when_asked_and_a_failed_seal_keeps_the_handle_open() {
    let (server, client) = start();
    let options = || AppendOptions {
        seal_on_close: true,
        ..AppendOptions::default()
    };
    let mut log = Appender::open(&client, BUCKET, "direct", options()).unwrap();
    log.write(b"direct").unwrap();
    server.add_fault(Fault::new(Action::Error(500), Op::Seal).count(3));
    assert_eq!(log.close().unwrap_err().kind(), ErrorKind::ServerError);
    log.write(b", still open").unwrap();
    log.close().unwrap();
    assert!(head(&client, "direct").sealed_time.is_some());
    assert_eq!(
        server.object_bytes(BUCKET, "direct").unwrap(),
        b"direct, still open"
    );

    // Buffered: everything written is stored before the seal.
    let buffer = BufferOptions {
        max_delay: Duration::from_secs(3600),
        ..BufferOptions::default()
    };
    let buffered = AppendOptions {
        buffer: Some(buffer),
        ..options()
    };
    let mut log = Appender::open(&client, BUCKET, "buffered", buffered).unwrap();
    log.write(b"buffered").unwrap();
    log.close().unwrap();
    assert!(head(&client, "buffered").sealed_time.is_some());
    assert_eq!(
        server.object_bytes(BUCKET, "buffered").unwrap(),
        b"buffered"
    );

    // Nothing written to an object that never existed: nothing to seal, and close succeeds.
    let mut unused = Appender::open(&client, BUCKET, "unused", options()).unwrap();
    unused.close().unwrap();
    assert_eq!(server.object_bytes(BUCKET, "unused"), None);
}

#[test]
fn a_buffered_seal_flushes_first() {
    let (server, client) = start();
    let buffer = BufferOptions {
        max_delay: Duration::from_secs(3600),
        ..BufferOptions::default()
    };
    let mut log = Appender::open(
        &client,
        BUCKET,
        "k",
        AppendOptions {
            buffer: Some(buffer),
            ..Default::default()
        },
    )
    .unwrap();
    log.write(b"held, ").unwrap();
    log.write(b"then sealed").unwrap();
    let sealed = log.seal().unwrap();
    assert_eq!(log.pending(), 0);
    assert_eq!(head(&client, "k").sealed_time, Some(sealed));
    assert_eq!(
        server.object_bytes(BUCKET, "k").unwrap(),
        b"held, then sealed"
    );
    let err = log.write(b"!").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ObjectNotAppendable, "{err:?}");
    // Sealing again changes nothing.
    assert_eq!(log.seal().unwrap(), sealed);
}

#[test]
fn an_opening_head_404_without_its_error_document_is_an_absent_object() {
    let server = Server::start(
        oss_local_server::Config::new(AK, SK)
            .bucket(BUCKET)
            .bare_head_errors(),
    )
    .unwrap();
    let client = Client::new(&common::client_config(&server, AK, SK)).unwrap();
    let mut log = open(&client, "new");
    assert_eq!(log.position(), 0);
    log.write(b"created").unwrap();
    assert_eq!(server.object_bytes(BUCKET, "new").unwrap(), b"created");

    // A 404 that hides a missing bucket: the first append says which.
    let mut lost =
        Appender::open(&client, "no-such-bucket", "k", AppendOptions::default()).unwrap();
    let err = lost.write(b"x").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoSuchBucket, "{err:?}");

    // Any other bare HEAD error is reported with its status.
    let config = common::client_config(&server, AK, "not-the-secret");
    let err = Appender::open(
        &Client::new(&config).unwrap(),
        BUCKET,
        "new",
        Default::default(),
    )
    .unwrap_err();
    assert_eq!(
        (err.http_status(), err.code()),
        (Some(403), None),
        "{err:?}"
    );
}

/// The local server keeps no versions; a scripted one answers as a versioned bucket does.
#[test]
fn a_head_reports_the_version_id_and_sealed_time_oss_sends() {
    let version = "CAEQNhiBgMDJgZCA0BYiIDc4MGZjZGI2OTBjOTRmNTE5NmU5NmFmZjM2NmUwMzM0";
    let peer = peers::serve(move |mut conn| {
        while conn.request(false).is_some() {
            conn.send(&peers::answer(
                "200 OK",
                &[
                    ("x-oss-object-type", "Appendable"),
                    ("x-oss-hash-crc64ecma", "0"),
                    ("x-oss-version-id", version),
                    ("x-oss-sealed-time", "Wed, 02 Dec 2026 09:30:00 GMT"),
                ],
                b"",
            ));
        }
    });
    let client = Client::new(&common::client_config_for(&peer.url(), AK, SK)).unwrap();
    let info = head(&client, "k");
    assert_eq!(info.version_id.as_deref(), Some(version));
    let sealed = httpdate::parse_http_date("Wed, 02 Dec 2026 09:30:00 GMT").unwrap();
    assert_eq!(info.sealed_time, Some(sealed));
    let err = Appender::open(&client, BUCKET, "k", AppendOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ObjectNotAppendable, "{err:?}");
    assert!(
        err.message()
            .contains("sealed at Wed, 02 Dec 2026 09:30:00 GMT"),
        "{err}"
    );
}
