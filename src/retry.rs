//! The one retry policy: how many times a request may be sent, how long to wait between
//! sends, and which failures another send can mend. Every path spends it the same way (the
//! HEAD, an append refused for clock skew or an expired token, an append resent after a HEAD
//! showed it was not stored), and no loop nests in another: each request is sent at most
//! `max_attempts` times in all, whatever mix of faults it meets.

use crate::config::{LogLevel, Logger, RetryPolicy};
use crate::error::{Error, ErrorKind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A client's policy and the state its waits share.
pub(crate) struct Retrier {
    policy: RetryPolicy,
    jitter: AtomicU64,
    logger: Option<Logger>,
}

/// One request's budget: made by [`Retrier::attempts`] before its first send.
pub(crate) struct Attempts<'a> {
    retrier: &'a Retrier,
    made: u32,
}

impl Retrier {
    pub fn new(policy: RetryPolicy, logger: Option<Logger>) -> Retrier {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64;
        Retrier {
            policy,
            jitter: AtomicU64::new(seed | 1),
            logger,
        }
    }

    pub fn attempts(&self) -> Attempts<'_> {
        Attempts {
            retrier: self,
            made: 1,
        }
    }

    /// Hands a line to the caller's logger; the line is only built when there is one.
    pub fn log(&self, level: LogLevel, line: impl FnOnce() -> String) {
        if let Some(logger) = &self.logger {
            logger(level, &line());
        }
    }

    /// Full-jitter backoff before retry `n` (1 for the first retry):
    /// `random[0, 1) * min(base_delay * 2^n, max_delay)`.
    fn backoff(&self, n: u32) -> Duration {
        let cap = self
            .policy
            .base_delay
            .saturating_mul(1u32.checked_shl(n.min(20)).unwrap_or(u32::MAX))
            .min(self.policy.max_delay);
        // xorshift64: enough randomness to spread retries, no crate needed.
        let mut x = self.jitter.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.jitter.store(x, Ordering::Relaxed);
        cap.mul_f64((x >> 11) as f64 / (1u64 << 53) as f64)
    }
}

impl Attempts<'_> {
    /// Sends made so far, the first included.
    pub fn made(&self) -> u32 {
        self.made
    }

    /// Whether the request may be sent once more after `error`, which the caller has found
    /// safe to resend; if so, waits first (not after a clock correction or a token refresh,
    /// which mend the request at once) and logs why, what and for how long.
    pub fn again(&mut self, error: &Error, what: impl FnOnce() -> String) -> bool {
        let policy = &self.retrier.policy;
        if self.made >= policy.max_attempts {
            return false;
        }
        let wait = if corrected_at_once(error) {
            Duration::ZERO
        } else {
            self.retrier.backoff(self.made)
        };
        self.made += 1;
        self.retrier.log(LogLevel::Warn, || {
            format!(
                "{}: {error}; retrying in {} ms (attempt {} of {})",
                what(),
                wait.as_millis(),
                self.made,
                policy.max_attempts
            )
        });
        std::thread::sleep(wait);
        true
    }
}

/// Refused before anything was applied, for a reason the client has since mended: a retry
/// signs with the server's time, or with credentials asked for again.
pub(crate) fn corrected_at_once(error: &Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::RequestTimeSkewed | ErrorKind::SecurityToken
    )
}

/// Whether another send of a request that is safe to repeat (a HEAD) can mend `error`:
/// the Go v2 SDK's rules, plus a token the provider may since have refreshed.
pub(crate) fn mendable(error: &Error) -> bool {
    match error.kind() {
        ErrorKind::Timeout | ErrorKind::Network => true,
        ErrorKind::RequestTimeSkewed | ErrorKind::SecurityToken => true,
        ErrorKind::Unavailable | ErrorKind::ServerError => true,
        _ => {
            matches!(error.http_status(), Some(401 | 408 | 429))
                || error.code() == Some("BadRequest")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_full_jitter_under_the_cap() {
        let policy = RetryPolicy::default();
        let retrier = Retrier::new(policy, None);
        for n in 1..10 {
            let cap = (policy.base_delay * (1 << n)).min(policy.max_delay);
            assert!(retrier.backoff(n) < cap);
        }
        let delays: std::collections::HashSet<_> = (0..20).map(|_| retrier.backoff(3)).collect();
        assert!(delays.len() > 10, "backoff does not vary: {delays:?}");
    }

    #[test]
    fn a_budget_allows_max_attempts_sends_in_all() {
        let policy = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
        };
        let retrier = Retrier::new(policy, None);
        let mut attempts = retrier.attempts();
        let error = Error::new(ErrorKind::Network, "reset");
        assert!(attempts.again(&error, String::new));
        assert!(attempts.again(&error, String::new));
        assert!(!attempts.again(&error, String::new));
        assert_eq!(attempts.made(), 3);
    }
}
