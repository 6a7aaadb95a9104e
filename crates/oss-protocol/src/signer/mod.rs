//! Request signatures: V1 (HMAC-SHA1) and V4 (OSS4-HMAC-SHA256).
//!
//! Both versions are pure functions of a [`Request`] view, so the client signs and the local
//! test server verifies with the same canonicalisation; the official SDKs referee that it is
//! the one real OSS uses (`tests/interop`).

pub mod v1;
pub mod v4;

use std::borrow::Cow;

/// What a signature covers of a request. Keys, query names and values are decoded
/// (not percent-encoded); header names are as sent, in any case.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    pub bucket: Option<&'a str>,
    pub key: Option<&'a str>,
    /// Query parameters; `None` is a bare name such as `append`.
    pub query: &'a [(&'a str, Option<&'a str>)],
    pub headers: &'a [(&'a str, &'a str)],
}

impl<'a> Request<'a> {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// More than any canonical text of the request takes (a key or a query part at most
    /// triples when percent-encoded; a header name may appear twice): a buffer of this
    /// capacity never reallocates, so no copy of a signed value (the STS token) is left
    /// behind in freed memory when it grows.
    fn canonical_capacity(&self) -> usize {
        let key = 3 * self.key.map_or(0, str::len);
        let query: usize = self
            .query
            .iter()
            .map(|(n, v)| 3 * (n.len() + v.map_or(0, str::len)) + 2)
            .sum();
        let headers: usize = self
            .headers
            .iter()
            .map(|(n, v)| 2 * n.len() + v.len() + 3)
            .sum();
        256 + self.method.len() + self.bucket.map_or(0, str::len) + key + query + headers
    }

    /// Headers whose lowercased name passes `wanted`, as sorted `(name, trimmed value)`.
    fn canonical_headers(&self, wanted: impl Fn(&str) -> bool) -> Vec<(Cow<'a, str>, &'a str)> {
        // Names are mostly sent lowercase already: those are borrowed, not copied.
        let lower = |n: &'a str| {
            if n.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(n.to_ascii_lowercase())
            } else {
                Cow::Borrowed(n)
            }
        };
        let mut out: Vec<(Cow<str>, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (lower(n), v.trim()))
            .filter(|(n, _)| wanted(n))
            .collect();
        out.sort();
        out
    }
}

/// The machine's time moved by `offset_seconds`: the time to sign with once a server has
/// said how far off the local clock is (and, in the test server, its scripted skew).
pub fn offset_now(offset_seconds: i64) -> std::time::SystemTime {
    let now = std::time::SystemTime::now();
    let magnitude = std::time::Duration::from_secs(offset_seconds.unsigned_abs());
    if offset_seconds >= 0 {
        now + magnitude
    } else {
        now - magnitude
    }
}

fn hmac<M: hmac::Mac + hmac::KeyInit>(key: &[u8], data: &[u8]) -> M {
    // Any key length is valid for HMAC; new_from_slice only fails for fixed-size MACs.
    let mut mac = <M as hmac::KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac
}
