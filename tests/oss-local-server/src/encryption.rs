//! Server-side encryption as OSS keeps it: fixed by the request that creates the object (the
//! first append, or a PutObject), then answered on every append, HEAD and GET, whatever
//! later appends ask for. The facts are those the official SDKs' suites check against OSS
//! (oss2's `test_server_side_encryotion.py`): KMS always answers a key id, the one named or
//! one OSS chose; a data algorithm (SM4) is kept only with KMS; AES256 and SM4 have no key id.

use crate::http::{Head, Response};
use crate::store::Attributes;
use crate::time::since_epoch;
use md5::{Digest, Md5};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

pub const ALGORITHM: &str = "x-oss-server-side-encryption";
pub const DATA_ALGORITHM: &str = "x-oss-server-side-data-encryption";
pub const KEY_ID: &str = "x-oss-server-side-encryption-key-id";

/// The values OSS documents: the server's own lists, not the client's, so that a wrong list
/// in the library is refused here rather than agreed with.
pub const ALGORITHMS: &[&str] = &["AES256", "KMS", "SM4"];
pub const DATA_ALGORITHMS: &[&str] = &["SM4"];

/// Whether the request asks for KMS, the one algorithm a data algorithm goes with.
pub fn wants_kms(head: &Head) -> bool {
    head.header(ALGORITHM) == Some("KMS")
}

/// The encryption an object created by `head` keeps, as `(header, value)` pairs stored with
/// its other attributes (so `--data-dir` keeps them): nothing without an algorithm. The
/// algorithm is taken as already checked against [`ALGORITHMS`].
pub fn settle(head: &Head) -> Vec<(String, String)> {
    let Some(algorithm) = head.header(ALGORITHM) else {
        return Vec::new();
    };
    let mut kept = vec![(ALGORITHM.to_string(), algorithm.to_string())];
    if algorithm == "KMS" {
        if let Some(data) = head.header(DATA_ALGORITHM) {
            kept.push((DATA_ALGORITHM.to_string(), data.to_string()));
        }
        let named = head.header(KEY_ID).filter(|id| !id.is_empty());
        let key_id = named.map_or_else(new_key_id, str::to_string);
        kept.push((KEY_ID.to_string(), key_id));
    }
    kept
}

/// Adds the object's encryption (algorithm, data algorithm, key id) to an answer about it.
pub fn answer(response: &mut Response, attributes: &Attributes) {
    for name in [ALGORITHM, DATA_ALGORITHM, KEY_ID] {
        if let Some(value) = attributes.get(name) {
            response.header(name, value);
        }
    }
}

/// A key id in the shape of KMS's (a UUID), for an object that named none: made once, when
/// the object is created, and kept with it.
fn new_key_id() -> String {
    static MADE: AtomicU64 = AtomicU64::new(0);
    let mut seed = Md5::new();
    seed.update(std::process::id().to_le_bytes());
    seed.update(MADE.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    seed.update(since_epoch(SystemTime::now()).as_nanos().to_le_bytes());
    let hex = crate::store::hex_upper(&seed.finalize()).to_ascii_lowercase();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}
