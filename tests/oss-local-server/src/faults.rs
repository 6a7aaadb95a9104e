//! Scripted faults, only with `--enable-faults`. A rule matches the next `count` requests of
//! an operation (and optionally one key) and makes each of them fail in one way.
//!
//! Over HTTP, on the server's own port (no signature; `-` can never start a bucket name):
//! - `POST /-/faults?action=A[&op=O][&key=K][&count=N][&delay_ms=T][&status=S]`
//! - `GET /-/faults`: `pending N`, the requests still to be faulted
//! - `DELETE /-/faults`: drop every rule
//! - `PUT /-/clock?offset_seconds=S`: the server's clock runs S seconds ahead (or behind),
//!   for signature time checks, the `Date` it sends (a client's clock skew) and the times it
//!   stores (Last-Modified, the sealed time)
//! - `GET /-/held`: `held N` (requests waiting now) and `finished N` (held ones applied or
//!   refused since the start); `POST /-/held?release=N` lets N held requests go on
//!
//! Actions: `reset-before-body`, `reset-after-apply` (the ambiguous case: stored, but the
//! client sees a lost connection), `error` (with `status` 500 or 503), `delay-before-apply`,
//! `delay-after-apply`, `corrupt` (the first stored byte is flipped, so the server's CRC
//! differs from the client's), `answer-early` (with `status` 403, 409, 500 or 503; default
//! 403: the error is answered once the head is read, the body is never read and the
//! connection closes, as a front end that rejects a request does), `bare-head-errors` (the
//! next `count` HEAD errors go out without `x-oss-err` and `x-oss-ec`, as behind a proxy that
//! drops them; `op` is `head`, the default), `hold` (an append whose position is right, its
//! body read, waits until released, however long, and is then applied or refused as the
//! object (and the bucket it found) is at that moment: a request that lands after its client
//! gave up on it, at a moment the test chooses; appends refused before, for a wrong
//! position, are not counted). Ops: `append`, `put`, `get`, `head`, `delete`,
//! `seal`, `put-bucket`, `delete-bucket`, `list-buckets`, `list-objects` (every listing of a
//! bucket), `delete-multiple`, `any`.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Append,
    Put,
    Get,
    Head,
    Delete,
    /// SealAppendObject.
    Seal,
    PutBucket,
    DeleteBucket,
    ListBuckets,
    /// Any listing of a bucket: ListObjects (v1 and v2), ListObjectVersions,
    /// ListMultipartUploads.
    ListObjects,
    /// DeleteMultipleObjects.
    DeleteMultiple,
}

impl Op {
    pub const ALL: [Op; 11] = [
        Op::Append,
        Op::Put,
        Op::Get,
        Op::Head,
        Op::Delete,
        Op::Seal,
        Op::PutBucket,
        Op::DeleteBucket,
        Op::ListBuckets,
        Op::ListObjects,
        Op::DeleteMultiple,
    ];

    /// The name in `op=` of a fault and in `/-/stats`.
    pub fn name(self) -> &'static str {
        match self {
            Op::Append => "append",
            Op::Put => "put",
            Op::Get => "get",
            Op::Head => "head",
            Op::Delete => "delete",
            Op::Seal => "seal",
            Op::PutBucket => "put-bucket",
            Op::DeleteBucket => "delete-bucket",
            Op::ListBuckets => "list-buckets",
            Op::ListObjects => "list-objects",
            Op::DeleteMultiple => "delete-multiple",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    fn parse(name: &str) -> Option<Option<Op>> {
        if name == "any" {
            return Some(None);
        }
        Op::ALL.into_iter().find(|op| op.name() == name).map(Some)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ResetBeforeBody,
    ResetAfterApply,
    /// 500 InternalError or 503 ServiceUnavailable, nothing applied.
    Error(u16),
    DelayBeforeApply(Duration),
    DelayAfterApply(Duration),
    Corrupt,
    /// This error (403, 409, 500 or 503) as soon as the head is read; the body is never read
    /// and the connection closes.
    AnswerEarly(u16),
    /// A HEAD error without its document (`x-oss-err`, `x-oss-ec`): the status alone.
    BareHeadErrors,
    /// Waits until released ([`Faults::release`]), then is applied.
    Hold,
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub action: Action,
    /// `None`: any operation.
    pub op: Option<Op>,
    /// `None`: any key.
    pub key: Option<String>,
    pub count: u32,
}

impl Fault {
    pub fn new(action: Action, op: Op) -> Self {
        Fault {
            action,
            op: Some(op),
            key: None,
            count: 1,
        }
    }

    pub fn key(mut self, key: &str) -> Self {
        self.key = Some(key.to_string());
        self
    }

    pub fn count(mut self, count: u32) -> Self {
        self.count = count;
        self
    }

    fn matches(&self, op: Op, key: Option<&str>) -> bool {
        self.op.is_none_or(|o| o == op) && self.key.as_deref().is_none_or(|k| Some(k) == key)
    }

    /// From the decoded query of a `POST /-/faults`.
    pub fn from_query(query: &[(String, Option<String>)]) -> Result<Fault, String> {
        let get = |name: &str| {
            query
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| v.as_deref())
        };
        let number = |name: &str, default: u64| -> Result<u64, String> {
            get(name).map_or(Ok(default), |v| {
                v.parse()
                    .map_err(|_| format!("{name} must be a whole number, not {v:?}"))
            })
        };
        let delay = Duration::from_millis(number("delay_ms", 0)?);
        let status = |default: u64, allowed: &[u16]| match number("status", default)? {
            s if allowed.iter().any(|a| u64::from(*a) == s) => Ok(s as u16),
            s => Err(format!("status must be one of {allowed:?}, not {s}")),
        };
        let action = match get("action").ok_or("action is required")? {
            "reset-before-body" => Action::ResetBeforeBody,
            "reset-after-apply" => Action::ResetAfterApply,
            "error" => Action::Error(status(500, &[500, 503])?),
            "delay-before-apply" => Action::DelayBeforeApply(delay),
            "delay-after-apply" => Action::DelayAfterApply(delay),
            "corrupt" => Action::Corrupt,
            "answer-early" => Action::AnswerEarly(status(403, &[403, 409, 500, 503])?),
            "hold" => Action::Hold,
            "bare-head-errors" => Action::BareHeadErrors,
            other => return Err(format!("unknown action {other:?}")),
        };
        let op = match get("op") {
            None if action == Action::BareHeadErrors => Some(Op::Head),
            None => None,
            Some(name) => Op::parse(name).ok_or_else(|| format!("unknown op {name:?}"))?,
        };
        if action == Action::BareHeadErrors && op.is_some_and(|o| o != Op::Head) {
            return Err("bare-head-errors applies to op=head only".into());
        }
        let count = u32::try_from(number("count", 1)?).map_err(|_| "count is too large")?;
        Ok(Fault {
            action,
            op,
            key: get("key").map(str::to_string),
            count,
        })
    }
}

#[derive(Default)]
pub struct Faults {
    rules: Mutex<Vec<Fault>>,
    holds: Mutex<Holds>,
    /// Signalled when a request is held, released or finished.
    held_changed: Condvar,
}

#[derive(Default, Clone, Copy)]
struct Holds {
    /// Held requests waiting now.
    waiting: u64,
    /// Releases not yet taken by a held request.
    releases: u64,
    /// Held requests applied or refused since the start.
    finished: u64,
}

impl Faults {
    pub fn add(&self, fault: Fault) {
        if fault.count > 0 {
            self.lock().push(fault);
        }
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    pub fn pending(&self) -> u64 {
        self.lock().iter().map(|f| u64::from(f.count)).sum()
    }

    /// The action for this request, if a rule matches it; uses up one of the rule's count.
    /// `bare-head-errors` rules are not taken here: they count HEAD errors, not requests.
    pub fn take(&self, op: Op, key: Option<&str>) -> Option<Action> {
        self.take_first(|f| {
            !matches!(f.action, Action::BareHeadErrors | Action::Hold) && f.matches(op, key)
        })
    }

    /// Whether this append, about to be applied, is held; uses up one of a `hold` rule's
    /// count. Taken only here, so an append refused before (a wrong position) holds nothing.
    pub fn take_hold(&self, key: Option<&str>) -> bool {
        self.take_first(|f| f.action == Action::Hold && f.matches(Op::Append, key))
            .is_some()
    }

    /// Whether this HEAD error goes out bare; uses up one of a `bare-head-errors` rule's count.
    pub fn take_bare_head_error(&self, key: Option<&str>) -> bool {
        self.take_first(|f| f.action == Action::BareHeadErrors && f.matches(Op::Head, key))
            .is_some()
    }

    fn take_first(&self, wanted: impl Fn(&Fault) -> bool) -> Option<Action> {
        let mut rules = self.lock();
        let index = rules.iter().position(wanted)?;
        let action = rules[index].action;
        rules[index].count -= 1;
        if rules[index].count == 0 {
            rules.remove(index);
        }
        Some(action)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Fault>> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `apply` for a held request once a release lets it.
    pub fn hold<T>(&self, apply: impl FnOnce() -> T) -> T {
        let mut holds = self.holds();
        holds.waiting += 1;
        self.held_changed.notify_all();
        while holds.releases == 0 {
            holds = self
                .held_changed
                .wait(holds)
                .unwrap_or_else(|e| e.into_inner());
        }
        holds.releases -= 1;
        holds.waiting -= 1;
        drop(holds);
        let result = apply();
        self.holds().finished += 1;
        self.held_changed.notify_all();
        result
    }

    /// Lets `count` held requests (now or to come) go on.
    pub fn release(&self, count: u64) {
        self.holds().releases += count;
        self.held_changed.notify_all();
    }

    /// Held requests waiting now, and held requests finished since the start.
    pub fn held(&self) -> (u64, u64) {
        let holds = *self.holds();
        (holds.waiting, holds.finished)
    }

    /// Waits until `done` holds of (waiting, finished), at most `limit`; whether it did.
    pub fn wait_held(&self, limit: Duration, done: impl Fn(u64, u64) -> bool) -> bool {
        let deadline = std::time::Instant::now() + limit;
        let mut holds = self.holds();
        while !done(holds.waiting, holds.finished) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            holds = self
                .held_changed
                .wait_timeout(holds, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    fn holds(&self) -> std::sync::MutexGuard<'_, Holds> {
        self.holds.lock().unwrap_or_else(|e| e.into_inner())
    }
}
