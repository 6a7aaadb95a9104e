//! Secrets in memory: once every handle is freed, the AccessKey secret is nowhere in the
//! process's writable memory, and the STS token only inside request heads as ureq serialised
//! them (`x-oss-security-token: <token>\r\n`), which the header says may remain. V1 and V4,
//! over http and https. The scan runs in a child process (this test run again), so no other
//! test's memory is in it; the child derives both values from a seed, and looks for them
//! masked, so that the needle is not itself a copy.

mod common;

use oss_append::{AppendOptions, Appender, Client, Config, Credentials, SignatureVersion};
use oss_local_server::Server;
use std::io::{Read, Seek, SeekFrom};
use std::process::Command;
use zeroize::Zeroizing;

const AK: &str = "wipe-ak";
const BUCKET: &str = "wipe-bucket";
const CHILD: &str = "OSS_APPEND_WIPE_CHILD";
const TEST: &str = "freed_handles_leave_no_secret_and_the_token_only_in_sent_heads";
const MASK: u8 = 0xA5;
/// What a freed block keeps of its first bytes: glibc's allocator writes two pointers there.
const KEPT_BY_FREE: usize = 16;

/// The secret and the token for `seed`, written a character at a time into buffers that are
/// never reallocated: formatting would leave digits on the stack, and a reallocation an
/// unwiped copy on the heap.
fn secrets(seed: u64) -> (Zeroizing<String>, Zeroizing<String>) {
    let derive = |prefix: &str, mut x: u64, len: usize| {
        let mut out = Zeroizing::new(String::with_capacity(prefix.len() + len));
        out.push_str(prefix);
        for _ in 0..len {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            out.push(char::from(b'a' + ((x >> 58) % 26) as u8));
        }
        out
    };
    // Real STS tokens run to well over a thousand characters: longer than the signer's
    // first guess at a buffer, so a buffer that grew would show here.
    (
        derive("wipe-secret-", seed, 24),
        derive("wipe-token-", !seed, 1500),
    )
}

#[test]
fn freed_handles_leave_no_secret_and_the_token_only_in_sent_heads() {
    if let Ok(spec) = std::env::var(CHILD) {
        return child(&spec);
    }
    let seed = u64::from(std::process::id()).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let (secret, token) = secrets(seed);
    let config = || {
        let mut config = oss_local_server::Config::new(AK, &secret).bucket(BUCKET);
        config.security_token = Some(token.to_string());
        config
    };
    let http = Server::start(config()).unwrap();
    let cert = common::Certificate::new("wipe");
    let https = cert.serve(config());
    let spec = format!(
        "{seed}|{}|{}|{}",
        http.url(),
        https.url(),
        cert.path().display()
    );
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST, "--test-threads=1", "--nocapture"])
        .env(CHILD, spec)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&child.stdout) + String::from_utf8_lossy(&child.stderr);
    assert!(child.status.success(), "{said}");
    for server in [&http, &https] {
        assert_eq!(
            server.object_bytes(BUCKET, "v1").unwrap(),
            b"signed with V1"
        );
        assert_eq!(
            server.object_bytes(BUCKET, "v4").unwrap(),
            b"signed with V4"
        );
    }
}

fn child(spec: &str) {
    let parts: Vec<&str> = spec.split('|').collect();
    let seed: u64 = parts[0].parse().unwrap();
    let (http, https, ca) = (parts[1], parts[2], parts[3]);
    // A value kept alive on the heap: the scan must find it, or it proves nothing.
    let canary = std::hint::black_box(format!("wipe-canary-{seed:016x}"));
    let (secret_needle, token_needle) = {
        let (secret, token) = secrets(seed);
        (masked(&secret), masked(&token))
    };
    // Each case is scanned as soon as it is freed: later allocations reuse freed memory, and
    // would hide what an earlier case left there.
    for endpoint in [http, https] {
        for (version, key) in [(SignatureVersion::V1, "v1"), (SignatureVersion::V4, "v4")] {
            {
                let (secret, token) = secrets(seed);
                let config = Config::new()
                    .endpoint(endpoint)
                    .unwrap()
                    .region("cn-hangzhou")
                    .unwrap()
                    .ca_file(ca)
                    .signature_version(version)
                    .credentials(Credentials::new(AK, &secret, Some(&token)).unwrap());
                let client = Client::new(&config).unwrap();
                let mut handle =
                    Appender::open(&client, BUCKET, key, AppendOptions::default()).unwrap();
                handle
                    .write(format!("signed with {version:?}").as_bytes())
                    .unwrap();
                handle.close().unwrap();
            }
            let case = format!("{version:?} to {endpoint}");
            let memory = writable_memory();
            assert!(!occurrences(&memory, &masked(&canary)).is_empty());
            // The allocator writes its own pointers over the first 16 bytes of a freed
            // block, so a copy that began a block is found by the rest of it.
            let secrets = occurrences(&memory, &secret_needle[KEPT_BY_FREE..]);
            assert!(secrets.is_empty(), "{case}: the secret is in memory");
            let head = [&b"x-oss-security-token: "[..], &unmasked(&token_needle)].concat();
            for at in occurrences(&memory, &token_needle[KEPT_BY_FREE..]) {
                let end = at - KEPT_BY_FREE + token_needle.len();
                let whole = end >= head.len()
                    && memory[end - head.len()..end] == head[..]
                    && memory[end..end + 2] == *b"\r\n";
                assert!(
                    whole,
                    "{case}: the token is in memory outside a request head: {:?}",
                    String::from_utf8_lossy(&memory[at.saturating_sub(40)..end])
                );
            }
        }
    }
}

fn masked(text: &str) -> Vec<u8> {
    text.bytes().map(|b| b ^ MASK).collect()
}

fn unmasked(needle: &[u8]) -> Vec<u8> {
    needle.iter().map(|b| b ^ MASK).collect()
}

/// Where `needle` (masked) is in `memory`.
fn occurrences(memory: &[u8], needle: &[u8]) -> Vec<usize> {
    let first = needle[0] ^ MASK;
    (0..memory.len().saturating_sub(needle.len()))
        .filter(|&at| {
            memory[at] == first
                && memory[at..at + needle.len()]
                    .iter()
                    .zip(needle)
                    .all(|(m, n)| m ^ MASK == *n)
        })
        .collect()
}

/// Every readable and writable mapping of this process, one after another (a match never
/// spans two: a gap of zero bytes is put between them).
fn writable_memory() -> Vec<u8> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let mut mem = std::fs::File::open("/proc/self/mem").unwrap();
    let mut out = Vec::new();
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (range, perms) = (fields.next().unwrap(), fields.next().unwrap());
        let name = fields.nth(3).unwrap_or("");
        if !perms.starts_with("rw") || name.starts_with("[v") {
            continue;
        }
        let (start, end) = range.split_once('-').unwrap();
        let start = u64::from_str_radix(start, 16).unwrap();
        let end = u64::from_str_radix(end, 16).unwrap();
        let mut region = vec![0u8; (end - start) as usize];
        if mem.seek(SeekFrom::Start(start)).is_ok() && mem.read_exact(&mut region).is_ok() {
            out.extend_from_slice(&region);
            out.push(0);
        }
    }
    out
}
