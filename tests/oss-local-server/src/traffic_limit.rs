//! `x-oss-traffic-limit`: one request's bandwidth cap in bit/s, on an upload's body (read no
//! faster than the limit) or a download's (sent no faster). OSS's range, from its
//! single-connection bandwidth throttling guide and EC page 0004-00000502: 819200 (100 KB/s)
//! to 838860800 (100 MB/s). It is a header or, in a presigned URL, a query parameter (V1
//! signs it as a sub-resource); EC page 0004-00000501 refuses a request giving both.

use crate::error::OssError;
use crate::http::Head;
use crate::uri::Query;
use std::time::{Duration, Instant};

const NAME: &str = "x-oss-traffic-limit";
const MIN: u64 = 819_200;
const MAX: u64 = 838_860_800;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrafficLimit {
    bits_per_second: u64,
}

/// A transfer under way at a limit: bytes are due no sooner than the limit allows since
/// `started`, so the pace holds against a deadline however the waits fall.
pub struct Pace {
    limit: TrafficLimit,
    started: Instant,
}

impl TrafficLimit {
    /// The request's limit, if it sets one (in a header or the query); outside OSS's range,
    /// OSS's error.
    pub fn of(head: &Head, query: &Query) -> Result<Option<TrafficLimit>, OssError> {
        let text = match (head.header(NAME), query.has(NAME)) {
            (None, false) => return Ok(None),
            (Some(text), false) => text,
            (None, true) => query.value(NAME).unwrap_or(""),
            // OSS documents the EC; the code and message are ours.
            (Some(_), true) => {
                return Err(OssError::invalid_argument(
                    "0004-00000501",
                    "x-oss-traffic-limit is given both as a header and as a query parameter.",
                ))
            }
        };
        match text.parse::<u64>() {
            Ok(bits_per_second) if (MIN..=MAX).contains(&bits_per_second) => {
                Ok(Some(TrafficLimit { bits_per_second }))
            }
            // OSS documents the EC; the message is ours.
            _ => Err(OssError::invalid_argument(
                "0004-00000502",
                format!("x-oss-traffic-limit must be between {MIN} and {MAX} bit/s, not {text}."),
            )),
        }
    }

    pub fn start(self) -> Pace {
        Pace {
            limit: self,
            started: Instant::now(),
        }
    }
}

impl Pace {
    /// The most bytes to move before the next wait: a tenth of a second's worth, so the
    /// transfer is paced evenly rather than in one burst and one long wait.
    pub fn piece(&self) -> usize {
        usize::try_from(self.limit.bits_per_second / 80).unwrap_or(usize::MAX)
    }

    /// Waits until `moved` bytes in all are within the limit.
    pub fn wait(&self, moved: u64) {
        let nanos = u128::from(moved) * 8 * 1_000_000_000 / u128::from(self.limit.bits_per_second);
        let due = self.started + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
}
