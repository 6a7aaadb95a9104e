//! The Rust core against the local OSS server over real HTTP: create and resume, both
//! signature versions, credentials, and every server fault. After each fault the object
//! must hold exactly the bytes that `write` reported written, in order, once.

mod common;

use oss_append::{
    AppendObjectOptions, AppendOptions, Appender, Client, Config, CreateParams, Credentials,
    ErrorKind, ObjectType, SignatureVersion,
};
use oss_local_server::{Action, Fault, Op, Server};
use oss_protocol::crc64;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const AK: &str = "core-ak";
const SK: &str = "core-secret";
const BUCKET: &str = "core-bucket";

fn start() -> Server {
    common::start_server(AK, SK, BUCKET)
}

fn config(server: &Server) -> Config {
    common::client_config(server, AK, SK)
}

fn client(server: &Server) -> Client {
    Client::new(&config(server)).unwrap()
}

/// A client that gives up on a request after `millis`.
fn client_with_timeout(server: &Server, millis: u64) -> Client {
    Client::new(
        &config(server)
            .request_timeout(Duration::from_millis(millis))
            .unwrap(),
    )
    .unwrap()
}

fn open(client: &Client, key: &str) -> Appender {
    Appender::open(client, BUCKET, key, AppendOptions::default()).unwrap()
}

type Reports = Arc<Mutex<Vec<(u64, u64, i64)>>>;

/// Options whose progress callback records every `(increment, transferred, total)`.
fn recording_options(request_size: usize) -> (Reports, AppendOptions) {
    let reports = Reports::default();
    let seen = reports.clone();
    let options = AppendOptions {
        request_size,
        progress: Some(Box::new(move |inc, done, total| {
            seen.lock().unwrap().push((inc, done, total));
            true
        })),
        ..AppendOptions::default()
    };
    (reports, options)
}

fn stored(server: &Server, key: &str) -> Vec<u8> {
    server.object_bytes(BUCKET, key).unwrap_or_default()
}

#[test]
fn create_then_resume_continues_length_and_crc() {
    let server = start();
    let client = client(&server);
    let mut first = open(&client, "log");
    assert_eq!((first.position(), first.crc64()), (0, 0));
    first.write(b"hi oss,append object").unwrap();
    assert_eq!(first.crc64(), 2313496259928504459);
    first.close().unwrap();

    let mut again = open(&client, "log");
    assert_eq!((again.position(), again.crc64()), (20, 2313496259928504459));
    again.write(b",this is a demo").unwrap();
    assert_eq!((again.position(), again.crc64()), (35, 8586970469916596321));
    let info = again.stat().unwrap();
    assert_eq!(
        (info.object_type, info.length, info.crc64),
        (ObjectType::Appendable, 35, Some(8586970469916596321))
    );
    assert_eq!(
        stored(&server, "log"),
        b"hi oss,append object,this is a demo"
    );
}

#[test]
fn v1_signing_works_end_to_end() {
    let server = start();
    let client = Client::new(&config(&server).signature_version(SignatureVersion::V1)).unwrap();
    let mut handle = open(&client, "dir/with space+plus%é");
    handle.write(b"v1").unwrap();
    assert_eq!(stored(&server, "dir/with space+plus%é"), b"v1");
}

#[test]
fn large_writes_are_split_into_requests_of_the_request_size() {
    let server = start();
    let (sizes, options) = recording_options(1000);
    let mut handle = Appender::open(&client(&server), BUCKET, "split", options).unwrap();
    let data: Vec<u8> = (0..2500u32).map(|i| i as u8).collect();
    handle.write(&data).unwrap();
    assert_eq!(
        *sizes.lock().unwrap(),
        [(1000, 1000, 2500), (1000, 2000, 2500), (500, 2500, 2500)]
    );
    assert_eq!(stored(&server, "split"), data);
}

#[test]
fn create_parameters_go_with_the_first_append_only() {
    let server = start();
    let options = AppendOptions {
        create: CreateParams {
            content_type: Some("text/plain".into()),
            metadata: vec![("author".into(), "alice".into())],
            storage_class: Some("IA".into()),
            ..CreateParams::default()
        },
        ..AppendOptions::default()
    };
    let mut handle = Appender::open(&client(&server), BUCKET, "meta", options).unwrap();
    handle.write(b"a").unwrap();
    handle.write(b"b").unwrap();
    let info = handle.stat().unwrap();
    assert_eq!(info.content_type.as_deref(), Some("text/plain"));
    assert_eq!(info.metadata, [("author".to_string(), "alice".to_string())]);
}

#[test]
fn opening_a_normal_object_fails_before_any_data_is_sent() {
    let server = start();
    server.put_object(BUCKET, "normal", b"put").unwrap();
    let err =
        Appender::open(&client(&server), BUCKET, "normal", AppendOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ObjectNotAppendable);
    assert_eq!(stored(&server, "normal"), b"put");
}

#[test]
fn bad_names_and_parameters_fail_before_any_request() {
    let server = start();
    let client = client(&server);
    for (bucket, key) in [("Bad_Bucket", "k"), (BUCKET, ""), (BUCKET, "/abs")] {
        let err = Appender::open(&client, bucket, key, AppendOptions::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bucket} {key}");
    }
    let options = AppendOptions {
        create: CreateParams {
            acl: Some("everyone".into()),
            ..CreateParams::default()
        },
        ..AppendOptions::default()
    };
    let err = Appender::open(&client, BUCKET, "k", options).unwrap_err();
    assert!(err.message().contains("everyone"), "{err}");
}

/// OSS refuses the coldest storage classes on an append (ECs 0016-00000503, 0013-00000109):
/// refused here before anything is sent, not left to the server.
#[test]
fn the_storage_classes_an_append_cannot_take_fail_before_any_request() {
    let server = start();
    for class in ["ColdArchive", "DeepColdArchive"] {
        let options = AppendObjectOptions {
            create: CreateParams {
                storage_class: Some(class.into()),
                ..CreateParams::default()
            },
            ..AppendObjectOptions::default()
        };
        let err = client(&server)
            .append_object(BUCKET, "cold", 0, b"x", &options)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{class}");
        assert!(err.message().contains(class), "{err}");
    }
    assert_eq!(server.requests_received(Op::Append), 0);
}

#[test]
fn the_5_gib_rule_is_checked_before_sending() {
    let server = start();
    let limit = 5u64 << 30;
    let err = client(&server)
        .append_object(
            BUCKET,
            "huge",
            limit - 10,
            &[0; 11],
            &AppendObjectOptions::default(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ObjectTooLarge);
    assert!(err.message().contains(&(limit - 10).to_string()), "{err}");
    assert!(server.object_bytes(BUCKET, "huge").is_none());
}

#[test]
fn append_object_reports_the_servers_length_on_a_wrong_position() {
    let server = start();
    let client = client(&server);
    let options = AppendObjectOptions::default();
    let first = client
        .append_object(BUCKET, "one", 0, b"12345", &options)
        .unwrap();
    assert_eq!(
        (first.next_position, first.crc64),
        (5, crc64::checksum(b"12345"))
    );
    assert!(first.request_id.is_some());
    let err = client
        .append_object(BUCKET, "one", 2, b"x", &options)
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.next_position(), err.code()),
        (
            ErrorKind::PositionNotEqualToLength,
            Some(5),
            Some("PositionNotEqualToLength")
        )
    );
    assert_eq!(err.http_status(), Some(409));
    assert_eq!(err.request_id().map(str::len), Some(24));
}

#[test]
fn applied_then_reset_is_recovered_without_a_duplicate() {
    let server = start();
    let mut handle = open(&client(&server), "k");
    handle.write(b"first,").unwrap();
    server.add_fault(Fault::new(Action::ResetAfterApply, Op::Append));
    handle.write(b"second").unwrap();
    assert_eq!(stored(&server, "k"), b"first,second");
    assert_eq!(handle.position(), 12);
}

#[test]
fn reset_before_the_body_is_resent_once() {
    let server = start();
    let mut handle = open(&client(&server), "k");
    server.add_fault(Fault::new(Action::ResetBeforeBody, Op::Append));
    handle.write(b"payload").unwrap();
    assert_eq!(stored(&server, "k"), b"payload");
    assert_eq!(server.pending_faults(), 0);
}

#[test]
fn server_errors_are_retried_then_reported_with_nothing_stored() {
    let server = start();
    let mut handle = open(&client(&server), "k");
    server.add_fault(Fault::new(Action::Error(503), Op::Append).count(2));
    handle.write(b"ok").unwrap();
    assert_eq!(stored(&server, "k"), b"ok");

    server.add_fault(Fault::new(Action::Error(500), Op::Append).count(3));
    let err = handle.write(b"lost").unwrap_err();
    assert_eq!(
        (err.kind(), err.code(), err.http_status()),
        (ErrorKind::ServerError, Some("InternalError"), Some(500))
    );
    assert!(
        err.message()
            .contains("not stored as of the HEAD that followed"),
        "{err}"
    );
    assert_eq!(stored(&server, "k"), b"ok");
    assert_eq!(handle.position(), 2);
}

/// One retry budget for every path: whatever mix of faults a piece meets (clock skew, server
/// errors, lost connections), it is sent at most `max_attempts` (3) times in all; the HEAD
/// that settles an unknown outcome has a budget of its own.
#[test]
fn a_piece_is_sent_at_most_max_attempts_times_whatever_the_faults() {
    let mixes: [&[Action]; 3] = [
        &[Action::Error(503); 5],
        &[
            Action::Error(500),
            Action::ResetBeforeBody,
            Action::Error(503),
        ],
        &[
            Action::ResetBeforeBody,
            Action::ResetBeforeBody,
            Action::Error(500),
        ],
    ];
    for (i, mix) in mixes.into_iter().enumerate() {
        let server = start();
        let client = client(&server);
        let mut handle = open(&client, "k");
        // The first mix alone; the others start with a clock the server refuses.
        if i > 0 {
            server.set_clock_offset(3600);
        }
        for action in mix {
            server.add_fault(Fault::new(*action, Op::Append));
        }
        let err = handle.write(b"never stored").unwrap_err();
        assert!(
            err.message()
                .contains("not stored as of the HEAD that followed"),
            "{mix:?}: {err}"
        );
        assert_eq!(server.requests_received(Op::Append), 3, "{mix:?}");
        assert_eq!(stored(&server, "k"), b"");
    }

    let server = start();
    server.add_fault(Fault::new(Action::Error(503), Op::Head).count(5));
    let err = Appender::open(&client(&server), BUCKET, "k", AppendOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
    assert_eq!(server.requests_received(Op::Head), 3);
}

#[test]
fn a_timeout_after_the_server_applied_is_recovered() {
    let server = start();
    let client = client_with_timeout(&server, 300);
    let mut handle = open(&client, "k");
    server.add_fault(Fault::new(
        Action::DelayAfterApply(Duration::from_millis(1000)),
        Op::Append,
    ));
    handle.write(b"slow").unwrap();
    assert_eq!(stored(&server, "k"), b"slow");
}

#[test]
fn a_timeout_before_the_server_applied_is_resent_and_the_late_original_is_refused() {
    let server = start();
    let client = client_with_timeout(&server, 300);
    let mut handle = open(&client, "k");
    // The original is held past the timeout; the resend after the HEAD is not.
    server.add_fault(Fault::new(Action::Hold, Op::Append).key("k"));
    handle.write(b"once").unwrap();
    // The held original goes on now, at a stale position, and is refused.
    server.release_held(1);
    assert!(server.wait_held(Duration::from_secs(60), |_, finished| finished == 1));
    assert_eq!(stored(&server, "k"), b"once");
}

#[test]
fn corrupted_storage_is_a_crc_mismatch_with_both_crcs() {
    let server = start();
    let mut handle = open(&client(&server), "k");
    server.add_fault(Fault::new(Action::Corrupt, Op::Append));
    let err = handle.write(b"payload").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CrcMismatch);
    let (server_state, client_state) = (err.server_state().unwrap(), err.client_state().unwrap());
    assert_eq!(client_state, (7, crc64::checksum(b"payload")));
    assert_eq!(server_state, (7, crc64::checksum(&stored(&server, "k"))));
    assert!(err.to_string().contains("crc is inconsistent"), "{err}");
}

#[test]
fn crc_checks_can_be_switched_off() {
    let server = start();
    let options = AppendOptions {
        check_crc: false,
        ..AppendOptions::default()
    };
    let mut handle = Appender::open(&client(&server), BUCKET, "k", options).unwrap();
    server.add_fault(Fault::new(Action::Corrupt, Op::Append));
    handle.write(b"payload").unwrap();
}

#[test]
fn a_skewed_clock_is_corrected_from_the_servers_date() {
    let server = start();
    server.set_clock_offset(-3600);
    let client = client(&server);
    let mut handle = Appender::open(&client, BUCKET, "k", AppendOptions::default()).unwrap();
    handle.write(b"on time").unwrap();
    assert_eq!(stored(&server, "k"), b"on time");
}

/// V4 keys are derived per day and cached: a correction that moves the signing time to
/// another day must sign with that day's key, and so must one that moves it back.
#[test]
fn a_correction_to_another_day_signs_with_that_days_key() {
    let server = start();
    let client = client(&server);
    let mut handle = Appender::open(&client, BUCKET, "k", AppendOptions::default()).unwrap();
    handle.write(b"today;").unwrap();
    server.set_clock_offset(2 * 86_400);
    handle.write(b"in two days;").unwrap();
    server.set_clock_offset(0);
    handle.write(b"today again").unwrap();
    assert_eq!(stored(&server, "k"), b"today;in two days;today again");
}

#[test]
fn another_writer_between_two_writes_is_a_conflict_and_nothing_is_overwritten() {
    let server = start();
    let client = client(&server);
    let mut mine = open(&client, "shared");
    mine.write(b"mine;").unwrap();
    client
        .append_object(
            BUCKET,
            "shared",
            5,
            b"theirs;",
            &AppendObjectOptions::default(),
        )
        .unwrap();
    let err = mine.write(b"mine again").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.server_state().map(|s| s.0), Some(12));
    assert_eq!(stored(&server, "shared"), b"mine;theirs;");
}

#[test]
fn another_writer_of_the_same_length_is_told_apart_by_the_crc() {
    let server = start();
    let client = client_with_timeout(&server, 1000);
    let mut mine = open(&client, "same");
    // Our append is held past our timeout; meanwhile, once it is held, another writer
    // appends 8 other bytes. A length-only check would take the object's 8 bytes for ours.
    server.add_fault(Fault::new(Action::Hold, Op::Append).key("same"));
    let other = client.clone();
    let held = &server;
    let err = std::thread::scope(|scope| {
        let theirs = scope.spawn(|| {
            assert!(held.wait_held(Duration::from_secs(60), |waiting, _| waiting == 1));
            other.append_object(
                BUCKET,
                "same",
                0,
                b"EXACTLY?",
                &AppendObjectOptions::default(),
            )
        });
        let err = mine.write(b"exactly!").unwrap_err();
        theirs.join().unwrap().unwrap();
        err
    });
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err:?}");
    assert_eq!(err.server_state(), Some((8, crc64::checksum(b"EXACTLY?"))));
    assert_eq!(err.client_state(), Some((8, crc64::checksum(b"exactly!"))));
    // Our held original goes on now, and is refused.
    server.release_held(1);
    assert!(server.wait_held(Duration::from_secs(60), |_, finished| finished == 1));
    assert_eq!(stored(&server, "same"), b"EXACTLY?");
    assert_eq!(mine.position(), 0);
}

#[test]
fn the_progress_callback_can_cancel() {
    let server = start();
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let options = AppendOptions {
        request_size: 4,
        progress: Some(Box::new(move |_, done, _| {
            counter.fetch_add(1, Ordering::SeqCst);
            done < 8
        })),
        ..AppendOptions::default()
    };
    let mut handle = Appender::open(&client(&server), BUCKET, "k", options).unwrap();
    let err = handle.write(b"0123456789abcdef").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert_eq!((calls.load(Ordering::SeqCst), handle.position()), (2, 8));
    assert_eq!(stored(&server, "k"), b"01234567");
}

#[test]
fn sts_tokens_are_sent_and_a_provider_is_asked_again_after_a_token_error() {
    let mut config = oss_local_server::Config::new(AK, SK).bucket(BUCKET);
    config.security_token = Some("fresh-token".into());
    let server = Server::start(config).unwrap();
    let asked = Arc::new(AtomicU32::new(0));
    let count = asked.clone();
    let provider = move || {
        // The first answer is an expired token, later ones a fresh one.
        let token = if count.fetch_add(1, Ordering::SeqCst) == 0 {
            "expired-token"
        } else {
            "fresh-token"
        };
        Credentials::new(AK, SK, Some(token))
    };
    let client = Client::new(
        &oss_append::Config::new()
            .endpoint(&server.url())
            .unwrap()
            .region("cn-hangzhou")
            .unwrap()
            .credentials_provider(Arc::new(provider)),
    )
    .unwrap();
    let mut handle = Appender::open(&client, BUCKET, "sts", AppendOptions::default()).unwrap();
    handle.write(b"token").unwrap();
    assert_eq!(asked.load(Ordering::SeqCst), 2);
    assert_eq!(server.object_bytes(BUCKET, "sts").unwrap(), b"token");
}

#[test]
fn a_wrong_secret_is_reported_at_once_with_the_server_details() {
    let server = start();
    let client =
        Client::new(&config(&server).credentials(Credentials::new(AK, "wrong", None).unwrap()))
            .unwrap();
    let err = Appender::open(&client, BUCKET, "k", AppendOptions::default()).unwrap_err();
    assert_eq!(
        (err.kind(), err.http_status()),
        (ErrorKind::SignatureMismatch, Some(403))
    );
    assert!(!format!("{err} {err:?}").contains(SK));
}

#[test]
fn write_from_streams_in_one_reusable_buffer() {
    let server = start();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 13) as u8).collect();
    let options = AppendOptions {
        request_size: 64 * 1024,
        ..AppendOptions::default()
    };
    let mut handle = Appender::open(&client(&server), BUCKET, "stream", options).unwrap();
    // A reader that hands out small, uneven pieces, as a pipe does.
    struct Trickle<'a>(&'a [u8]);
    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(777).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    assert_eq!(handle.write_from(Trickle(&data)).unwrap(), 300_000);
    assert_eq!(stored(&server, "stream"), data);
}

/// A CONNECT proxy that tunnels every connection to `target`, whatever host it was asked
/// for: how a test reaches virtual-hosted names (`bucket.endpoint`) without DNS. Returns its
/// URL and the `host:port` of each CONNECT it served.
fn tunnel_proxy(target: std::net::SocketAddr) -> (String, Arc<Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = asked.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(client.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let authority = line.split_whitespace().nth(1).unwrap_or_default();
                seen.lock().unwrap().push(authority.to_string());
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap() <= 2 {
                        break;
                    }
                }
                let upstream = TcpStream::connect(target).unwrap();
                let mut to_client = client;
                to_client
                    .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                    .unwrap();
                let (mut from_upstream, mut to_upstream) =
                    (upstream.try_clone().unwrap(), upstream);
                let back = std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_upstream, &mut to_client);
                });
                let _ = std::io::copy(&mut reader, &mut to_upstream);
                let _ = to_upstream.shutdown(Shutdown::Write);
                let _ = back.join();
            });
        }
    });
    (url, asked)
}

#[test]
fn virtual_hosted_requests_reach_bucket_dot_endpoint_through_a_proxy() {
    let server = start();
    let (proxy, asked) = tunnel_proxy(server.addr());
    let port = server.addr().port();
    let config = config(&server)
        .endpoint(&format!("http://oss-cn-hangzhou.oss-test:{port}"))
        .unwrap()
        .proxy(&proxy)
        .unwrap();
    let client = Client::new(&config).unwrap();
    let mut handle = open(&client, "vh/key");
    handle.write(b"virtual").unwrap();
    assert_eq!(stored(&server, "vh/key"), b"virtual");
    let asked = asked.lock().unwrap();
    assert!(!asked.is_empty());
    let expected = format!("{BUCKET}.oss-cn-hangzhou.oss-test:{port}");
    assert!(asked.iter().all(|a| *a == expected), "{asked:?}");
}

#[test]
fn https_with_a_ca_file_is_verified_and_an_unknown_certificate_refused() {
    let (server, cert) = common::start_tls_server("tls", AK, SK, BUCKET);

    let trusted = Client::new(&config(&server).ca_file(cert.path())).unwrap();
    let mut handle = open(&trusted, "tls");
    handle.write(b"secure").unwrap();
    assert_eq!(stored(&server, "tls"), b"secure");

    let untrusted = Client::new(&config(&server)).unwrap();
    let err = Appender::open(&untrusted, BUCKET, "tls", AppendOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err:?}");
}

#[test]
fn a_missing_or_empty_ca_file_is_an_invalid_argument() {
    let server = start();
    let err = Client::new(&config(&server).ca_file("/nonexistent/ca.pem"))
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("/nonexistent/ca.pem"), "{err}");
}

#[test]
fn credentials_come_from_the_environment_when_asked() {
    let server = start();
    // The only test that touches these variables.
    std::env::set_var("OSS_ACCESS_KEY_ID", AK);
    std::env::set_var("OSS_ACCESS_KEY_SECRET", SK);
    std::env::remove_var("OSS_SESSION_TOKEN");
    let client = Client::new(&config(&server).credentials_from_env()).unwrap();
    let mut handle = open(&client, "env");
    handle.write(b"from env").unwrap();
    assert_eq!(stored(&server, "env"), b"from env");
}

#[test]
fn one_client_serves_many_threads_with_their_own_handles() {
    let server = start();
    let client = client(&server);
    std::thread::scope(|s| {
        for t in 0..8 {
            let (client, server) = (client.clone(), &server);
            s.spawn(move || {
                let key = format!("thread/{t}");
                let mut handle = open(&client, &key);
                let mut expected = Vec::new();
                for i in 0..20 {
                    let line = format!("{t}:{i}\n");
                    handle.write(line.as_bytes()).unwrap();
                    expected.extend_from_slice(line.as_bytes());
                }
                assert_eq!(stored(server, &key), expected);
            });
        }
    });
}

#[test]
fn append_object_checks_the_servers_crc_against_previous_crc() {
    let server = start();
    let client = client(&server);
    let first = client
        .append_object(
            BUCKET,
            "k",
            0,
            b"hi oss,append object",
            &AppendObjectOptions::default(),
        )
        .unwrap();
    let options = AppendObjectOptions {
        previous_crc: Some(first.crc64),
        ..AppendObjectOptions::default()
    };
    let second = client
        .append_object(BUCKET, "k", 20, b",this is a demo", &options)
        .unwrap();
    assert_eq!(second.crc64, 8586970469916596321);
    server.add_fault(Fault::new(Action::Corrupt, Op::Append));
    let options = AppendObjectOptions {
        previous_crc: Some(second.crc64),
        ..AppendObjectOptions::default()
    };
    let err = client
        .append_object(BUCKET, "k", 35, b"!", &options)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CrcMismatch);
}

#[test]
fn progress_never_goes_backwards_across_retries() {
    let server = start();
    let (reports, options) = recording_options(4);
    let mut handle = Appender::open(&client(&server), BUCKET, "k", options).unwrap();
    server.add_fault(Fault::new(Action::ResetBeforeBody, Op::Append));
    server.add_fault(Fault::new(Action::Error(503), Op::Append));
    server.add_fault(Fault::new(Action::ResetAfterApply, Op::Append));
    handle.write(b"0123456789").unwrap();
    assert_eq!(
        *reports.lock().unwrap(),
        [(4, 4, 10), (4, 8, 10), (2, 10, 10)]
    );
    assert_eq!(stored(&server, "k"), b"0123456789");
}
