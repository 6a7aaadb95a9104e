//! Times as the server keeps and writes them: whole seconds since the Unix epoch (HTTP dates
//! and OSS's XML times have no finer part), ISO 8601 in XML answers, and the Unix seconds a
//! presigned URL carries.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long after the Unix epoch `time` is (zero for a time before it).
pub fn since_epoch(time: SystemTime) -> Duration {
    time.duration_since(UNIX_EPOCH).unwrap_or_default()
}

pub fn unix_seconds(time: SystemTime) -> u64 {
    since_epoch(time).as_secs()
}

pub fn from_unix_seconds(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// `time` without its fraction of a second: what an HTTP date of it gives back, so a stored
/// time round-trips through Last-Modified.
pub fn whole_seconds(time: SystemTime) -> SystemTime {
    from_unix_seconds(unix_seconds(time))
}

/// `2012-02-24T08:43:07.000Z`, as OSS gives LastModified, CreationDate and the times of its
/// error documents.
pub fn iso8601(time: SystemTime) -> String {
    oss_protocol::signer::v4::format_iso8601(unix_seconds(time))
}

/// Unix seconds written in decimal digits alone (a V1 URL's `Expires`, a V4 URL's
/// `x-oss-expires`); `None` for anything else, a sign included.
pub fn parse_unix_seconds(text: &str) -> Option<u64> {
    text.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| text.parse().ok())
        .flatten()
}
