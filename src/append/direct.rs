//! The unbuffered engine of an [`crate::Appender`]: each write is stored before it returns,
//! and no byte is lost or duplicated when a request's outcome is unknown.
//!
//! Recovery: an append that timed out, lost its connection or got a 5xx may or may not have
//! been applied, so it is never blindly resent. A HEAD decides: length and CRC-64 equal to
//! what the append would have made means it landed (done, nothing resent); the old length
//! and CRC mean it did not, as of that HEAD (resent, within the retry budget). The server
//! may still apply a send after that HEAD (one it held past our timeout), so every send of
//! unknown outcome is remembered by length and CRC: an object that later shows one of
//! them, or a prefix of the piece being sent (a failed send written again with more), holds
//! our bytes, and the position moves on. Only what no send of ours explains means another
//! writer changed the object, reported as a conflict with both sides' length and CRC. A 409
//! PositionNotEqualToLength goes through the same check. Unlike the official Go SDK, which
//! compares lengths only, the CRC tells "our bytes landed" from "someone else's did".

use super::chunks::for_each_chunk;
use super::options::{check_request_size, report, AppendOptions};
use crate::client::Client;
use crate::config::LogLevel;
use crate::error::{Error, ErrorKind, Result};
use crate::object::{
    check_crc, check_size, validate_bucket, validate_key, AppendResult, ObjectInfo, ObjectType,
};
use crate::retry::{self, Attempts};
use oss_protocol::crc64;
use std::io::Read;
use std::time::SystemTime;

/// An open appendable object written straight through. One thread uses it at a time
/// (`&mut self`); the [`Client`] behind it may be shared by many handles.
pub(crate) struct DirectAppender {
    client: Client,
    bucket: String,
    key: String,
    options: AppendOptions,
    position: u64,
    crc: u64,
    /// Whether the object exists: create parameters go only with the append that makes it.
    exists: bool,
    /// When this handle sealed the object: it then takes no more writes.
    sealed: Option<SystemTime>,
    closed: bool,
    /// Appends sent at `position` whose outcome was unknown and that a HEAD showed not
    /// stored: the server may still apply one of them (a request it held past our timeout),
    /// and its bytes are then recognised by length and CRC-64 as ours.
    unsettled: Vec<Sent>,
}

/// An append sent at the handle's position: its length and the CRC-64 of its body.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Sent {
    length: u64,
    crc: u64,
}

/// The most unsettled sends kept: each is 16 bytes, and repeated sends of the same bytes
/// are kept once, so this is reached only by a caller resending ever-different bytes at one
/// position; the oldest is then forgotten.
const MAX_UNSETTLED: usize = 1024;

/// What a HEAD after an append of unknown outcome shows.
enum Settled {
    /// The object is as before the append: not stored as of this HEAD.
    NotStored,
    /// The first `n` bytes of the piece are stored (all of it, or a prefix that an earlier,
    /// shorter send of the same bytes put there).
    Stored(u64),
    /// An earlier send of ours at this position, of other bytes, is stored.
    Earlier(Sent),
}

impl std::fmt::Debug for DirectAppender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectAppender")
            .field("bucket", &self.bucket)
            .field("key", &self.key)
            .field("position", &self.position)
            .field("crc64", &self.crc)
            .finish_non_exhaustive()
    }
}

impl DirectAppender {
    /// HEADs the object: absent, it is created by the first write; appendable, writing
    /// resumes at its end; any other type fails with ObjectNotAppendable before any data.
    pub(crate) fn open(
        client: &Client,
        bucket: &str,
        key: &str,
        options: AppendOptions,
    ) -> Result<DirectAppender> {
        check_options(bucket, key, &options)?;
        let found = look_up(client, bucket, key)?;
        DirectAppender::at(client, bucket, key, options, found.as_ref())
    }

    /// A handle on the object as a HEAD just `found` it (`None`: absent), with options
    /// [`check_options`] accepted: appendable, writing resumes at its end; sealed or of any
    /// other type, ObjectNotAppendable.
    pub(crate) fn at(
        client: &Client,
        bucket: &str,
        key: &str,
        options: AppendOptions,
        found: Option<&ObjectInfo>,
    ) -> Result<DirectAppender> {
        let (position, crc, exists) = match found {
            Some(info) => {
                if let Some(time) = info.sealed_time {
                    return Err(Error::new(
                        ErrorKind::ObjectNotAppendable,
                        format!(
                            "{key:?} was sealed at {} and takes no more appends",
                            httpdate::fmt_http_date(time)
                        ),
                    ));
                }
                let (length, crc) = appendable_state(info, key)?;
                (length, crc, true)
            }
            None => (0, 0, false),
        };
        Ok(DirectAppender {
            client: client.clone(),
            bucket: bucket.to_string(),
            key: key.to_string(),
            options,
            position,
            crc,
            exists,
            sealed: None,
            closed: false,
            unsettled: Vec::new(),
        })
    }

    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// The object's length as far as this handle knows: where the next write goes.
    pub(crate) fn position(&self) -> u64 {
        self.position
    }

    /// Settles sends reported as failed whose outcome was unknown, before the position is
    /// relied on elsewhere (a rolling stream leaving the object, or measuring its room): a
    /// HEAD, and an earlier send of ours that landed since moves the position past it. One
    /// not landed as of that HEAD stays remembered; anything else is left for the next
    /// append to find (it is refused at the old position and settled as always).
    pub(crate) fn settle_unsettled(&mut self) -> Result<()> {
        if self.unsettled.is_empty() {
            return Ok(());
        }
        let found = match look_up(&self.client, &self.bucket, &self.key)? {
            Some(info) => appendable_state(&info, &self.key)?,
            None => (0, 0),
        };
        if let Some(Settled::Earlier(earlier)) = self.earlier(found) {
            self.client.log(LogLevel::Warn, || {
                format!(
                    "oss://{}/{}: an append of {} bytes reported as failed was stored after                      all; the object is {} bytes long",
                    self.bucket, self.key, earlier.length, found.0
                )
            });
            self.advance(found.0, found.1);
        }
        Ok(())
    }

    /// Whether this handle sealed the object.
    pub(crate) fn is_sealed(&self) -> bool {
        self.sealed.is_some()
    }

    /// CRC-64 of the whole object as far as this handle knows.
    pub(crate) fn crc64(&self) -> u64 {
        self.crc
    }

    /// The object as the server sees it now (a HEAD; errors are reported, never swallowed).
    pub(crate) fn stat(&self) -> Result<ObjectInfo> {
        self.check_open()?;
        self.client.head_object(&self.bucket, &self.key)
    }

    /// Appends all of `data`, in requests of at most the request size. On error, the bytes
    /// before the failing request are stored and [`DirectAppender::position`] says how far.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<()> {
        self.check_writable()?;
        check_size(self.position, data.len() as u64)?;
        let total = i64::try_from(data.len()).unwrap_or(-1);
        let mut transferred = 0;
        for piece in data.chunks(self.options.request_size) {
            self.append_piece(piece)?;
            transferred += piece.len() as u64;
            self.report(piece.len() as u64, transferred, total)?;
        }
        Ok(())
    }

    /// Streams `reader` to its end through one reusable buffer of the request size, so
    /// memory does not grow with the input. Returns the bytes written.
    pub(crate) fn write_from(&mut self, reader: impl Read) -> Result<u64> {
        self.check_writable()?;
        let size = self.options.request_size;
        for_each_chunk(reader, size, |chunk, transferred| {
            check_size(self.position, chunk.len() as u64)?;
            self.append_piece(chunk)?;
            self.report(chunk.len() as u64, transferred, -1)
        })
    }

    /// Seals the object at this handle's position (SealAppendObject). OSS refuses a seal
    /// unless the object's length is that position, so a seal never cuts off another
    /// writer's bytes. A sealed object takes no more appends (this handle's writes fail with
    /// [`ErrorKind::ObjectNotAppendable`]), and its HEAD and GET carry the sealed time, which
    /// this returns. Sealing again returns the same time. A seal whose outcome is unknown is
    /// settled with a HEAD before it is sent again, as an append is.
    pub(crate) fn seal(&mut self) -> Result<SystemTime> {
        self.check_open()?;
        if let Some(time) = self.sealed {
            return Ok(time);
        }
        let client = self.client.clone();
        let mut attempts = client.attempts();
        loop {
            let what = || {
                format!(
                    "seal of oss://{}/{} at {}",
                    self.bucket, self.key, self.position
                )
            };
            let cause = match client.seal_request(&self.bucket, &self.key, self.position) {
                Ok(Some(time)) => {
                    self.sealed = Some(time);
                    return Ok(time);
                }
                Ok(None) => Error::new(
                    ErrorKind::Service,
                    "SealAppendObject answered 200 without x-oss-sealed-time",
                ),
                Err(e) => match after_failure(e, &mut attempts, what) {
                    Next::Resend => continue,
                    Next::Settle(e) => e,
                    Next::Fail(e) => return Err(e),
                },
            };
            let found = self.observe(&cause)?;
            let state = match &found {
                Some(info) => appendable_state(info, &self.key)?,
                None => (0, 0),
            };
            if state != (self.position, self.crc) {
                if let Some(Settled::Earlier(earlier)) = self.earlier(state) {
                    // Our own append, reported as failed, landed since: seal after it.
                    client.log(LogLevel::Warn, || {
                        format!(
                            "{}: {cause}; the object shows an earlier append of {} bytes, \
                             reported as failed, was stored after all; sealing after it",
                            what(),
                            earlier.length
                        )
                    });
                    self.advance(state.0, state.1);
                    continue;
                }
                let expected = format!("length {} (CRC-64 {}) to seal", self.position, self.crc);
                let here = (self.position, self.crc);
                return Err(self.conflict(&expected, state, here, &cause));
            }
            if let Some(time) = found.and_then(|info| info.sealed_time) {
                client.log(LogLevel::Warn, || {
                    format!("{}: {cause}; the object shows it was sealed", what())
                });
                self.sealed = Some(time);
                return Ok(time);
            }
            let not_applied = || format!("{} was not applied", what());
            resend_or_report(
                &mut attempts,
                cause,
                not_applied,
                "not sealed as of the HEAD that followed",
            )?;
        }
    }

    /// Ends the handle: later writes fail with [`ErrorKind::Closed`]. Unbuffered writes are
    /// already stored, so nothing is left to send; with `seal_on_close` the object is sealed
    /// first, and a failed seal leaves the handle open.
    pub(crate) fn close(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        // An object never created has nothing to seal (and a seal of it would fail forever).
        if self.options.seal_on_close && self.exists {
            self.seal()?;
        }
        self.closed = true;
        Ok(())
    }

    /// Logs an error a background upload keeps for the caller, through a logger of its own
    /// (called with no lock held, so it may itself write to the appender).
    pub(crate) fn error_log(&self) -> impl Fn(&Error, usize) + Send + Sync + 'static {
        upload_error_log(&self.client, &self.bucket, &self.key)
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed {
            return Err(Error::new(
                ErrorKind::Closed,
                format!(
                    "oss://{}/{} was closed by this handle",
                    self.bucket, self.key
                ),
            ));
        }
        Ok(())
    }

    fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        if self.sealed.is_some() {
            return Err(Error::new(
                ErrorKind::ObjectNotAppendable,
                format!(
                    "oss://{}/{} was sealed by this handle and takes no more appends",
                    self.bucket, self.key
                ),
            ));
        }
        Ok(())
    }

    fn report(&mut self, increment: u64, transferred: u64, total: i64) -> Result<()> {
        report(&mut self.options.progress, increment, transferred, total)
    }

    /// One request's worth of bytes, landed exactly once or reported. The piece is sent at
    /// most the retry policy's `max_attempts` times in all, whatever mix of faults it meets;
    /// a HEAD that shows an earlier send of ours landed late moves the position on, and
    /// what is left of the piece goes on without using up an attempt (each such step stores
    /// bytes, so there are at most as many as bytes).
    fn append_piece(&mut self, whole: &[u8]) -> Result<()> {
        let client = self.client.clone();
        let mut attempts = client.attempts();
        let mut piece = whole;
        loop {
            let expected_length = self.position + piece.len() as u64;
            let what = || {
                format!(
                    "append of {} bytes at {} to oss://{}/{}",
                    piece.len(),
                    self.position,
                    self.bucket,
                    self.key
                )
            };
            let sent = client.append_request(
                &self.bucket,
                &self.key,
                self.position,
                piece,
                (!self.exists).then_some(&self.options.create),
                &self.options.request,
            );
            // An answer is believed only when it is one to this append.
            let cause = match sent {
                Ok(answer) => match answer.consistent(expected_length, self.options.check_crc) {
                    Ok(result) => {
                        let body_crc = result.body_crc64;
                        let expected_crc = crc64::combine(self.crc, body_crc, piece.len() as u64);
                        return self.landed(&result, expected_length, expected_crc);
                    }
                    Err(unbelieved) => unbelieved,
                },
                Err(e) => match after_failure(e, &mut attempts, what) {
                    Next::Resend => continue,
                    Next::Settle(e) => e,
                    Next::Fail(e) => return Err(e),
                },
            };
            // The CRC of the piece was taken as it was sent; for an answer not believed, it
            // is taken here.
            let this = Sent {
                length: piece.len() as u64,
                crc: crc64::checksum(piece),
            };
            remember(&mut self.unsettled, this);
            let found = self.server_state(&cause)?;
            match self.settle(found, piece) {
                Some(Settled::Stored(n)) => {
                    client.log(LogLevel::Warn, || {
                        if n == this.length {
                            format!("{}: {cause}; the object shows it was stored", what())
                        } else {
                            format!(
                                "{}: {cause}; the object shows an earlier send of its first \
                                 {n} bytes was stored, the rest follows",
                                what()
                            )
                        }
                    });
                    self.advance(found.0, found.1);
                    piece = &piece[n as usize..];
                    if piece.is_empty() {
                        return Ok(());
                    }
                }
                Some(Settled::Earlier(earlier)) => {
                    client.log(LogLevel::Warn, || {
                        format!(
                            "{}: {cause}; the object shows an earlier append of {} bytes at \
                             this position, reported as failed, was stored after all; this \
                             one follows it",
                            what(),
                            earlier.length
                        )
                    });
                    self.advance(found.0, found.1);
                }
                Some(Settled::NotStored) => {
                    let not_stored = || format!("{} was not stored", what());
                    resend_or_report(
                        &mut attempts,
                        cause,
                        not_stored,
                        "not stored as of the HEAD that followed",
                    )?;
                }
                None => {
                    let expected_crc = crc64::combine(self.crc, this.crc, this.length);
                    let expected = format!(
                        "length {expected_length} (CRC-64 {expected_crc}) or {} (CRC-64 {})",
                        self.position, self.crc
                    );
                    let ours = (expected_length, expected_crc);
                    return Err(self.conflict(&expected, found, ours, &cause));
                }
            }
        }
    }

    /// Which of our own sends explain the object's `found` length and CRC-64: `piece` (what
    /// is being sent now) or a prefix of it, or another send made at this position. `None`:
    /// none of ours, another writer's change. Without CRC checks, lengths alone decide.
    fn settle(&self, found: (u64, u64), piece: &[u8]) -> Option<Settled> {
        let (length, crc) = found;
        if length == self.position && (crc == self.crc || !self.options.check_crc) {
            return Some(Settled::NotStored);
        }
        let stored = length.checked_sub(self.position)?;
        if stored == 0 || stored > piece.len() as u64 {
            return self.earlier(found);
        }
        let prefix = crc64::checksum(&piece[..stored as usize]);
        if !self.options.check_crc || crc64::combine(self.crc, prefix, stored) == crc {
            return Some(Settled::Stored(stored));
        }
        self.earlier(found)
    }

    /// An earlier send at this position that makes the object `found`.
    fn earlier(&self, found: (u64, u64)) -> Option<Settled> {
        self.unsettled
            .iter()
            .find(|sent| {
                self.position + sent.length == found.0
                    && crc64::combine(self.crc, sent.crc, sent.length) == found.1
            })
            .map(|sent| Settled::Earlier(*sent))
    }

    /// The object's length and CRC now, to settle an append whose outcome is unknown.
    fn server_state(&self, cause: &Error) -> Result<(u64, u64)> {
        match self.observe(cause)? {
            Some(info) => appendable_state(&info, &self.key),
            None => Ok((0, 0)),
        }
    }

    /// The object as a HEAD shows it now (`None`: absent), to settle a request whose outcome
    /// is unknown. A failed HEAD is reported with `cause`, the request's own failure.
    fn observe(&self, cause: &Error) -> Result<Option<ObjectInfo>> {
        match look_up(&self.client, &self.bucket, &self.key) {
            Ok(found) => Ok(found),
            // The server's refusal of the HEAD (an AccessDenied, say) is what the caller can
            // act on; the request's own failure may be a lost answer saying the same.
            Err(e) if e.http_status().is_some() => {
                let message = format!(
                    "{} (the HEAD that was to tell whether the request was applied, after: \
                     {cause})",
                    e.message()
                );
                Err(e.with_message(message))
            }
            Err(e) => Err(cause.clone().with_message(format!(
                "{}; whether it was applied is unknown, the HEAD to find out failed: {e}",
                cause.message()
            ))),
        }
    }

    /// Another writer changed the object: it is `found` (length, CRC-64), where this handle
    /// `expected` it (`ours` in the error's client state).
    fn conflict(
        &self,
        expected: &str,
        found: (u64, u64),
        ours: (u64, u64),
        cause: &Error,
    ) -> Error {
        Error::new(
            ErrorKind::Conflict,
            format!(
                "another writer changed oss://{}/{}: expected {expected}, found length {} \
                 (CRC-64 {})",
                self.bucket, self.key, found.0, found.1
            ),
        )
        .with_states(found, ours)
        .with_request_id(cause.request_id().map(String::from))
    }

    /// `result` already answers this append ([`crate::AppendResult`]'s length is checked);
    /// with checks on, its CRC must be ours too.
    fn landed(
        &mut self,
        result: &AppendResult,
        expected_length: u64,
        expected_crc: u64,
    ) -> Result<()> {
        if self.options.check_crc {
            check_crc(result, expected_length, expected_crc)?;
        }
        // Unchecked, the CRC is still ours to keep: the server's may be absent.
        let crc = if self.options.check_crc {
            result.crc64
        } else {
            expected_crc
        };
        self.advance(result.next_position, crc);
        Ok(())
    }

    /// The object is now `length` long with this CRC-64, stored by us. Sends at the old
    /// position can no longer land: OSS applies an append only at the object's length.
    fn advance(&mut self, length: u64, crc: u64) {
        self.position = length;
        self.crc = crc;
        self.exists = true;
        self.unsettled.clear();
    }
}

/// Checks what an open is given, so a bad parameter fails at open, not at the first write.
/// Logs an error a background upload to `key` keeps for the caller, and how many bytes stay
/// buffered.
pub(crate) fn upload_error_log(
    client: &Client,
    bucket: &str,
    key: &str,
) -> impl Fn(&Error, usize) + Send + Sync + 'static {
    let (client, name) = (client.clone(), format!("oss://{bucket}/{key}"));
    move |error, buffered| {
        client.log(LogLevel::Error, || {
            format!("upload to {name} failed: {error}; {buffered} bytes stay buffered")
        })
    }
}

pub(crate) fn check_options(bucket: &str, key: &str, options: &AppendOptions) -> Result<()> {
    validate_bucket(bucket)?;
    validate_key(key)?;
    check_request_size(options.request_size)?;
    options.create.validate()?;
    options.request.validate()
}

/// The object as a HEAD shows it (`None`: absent).
pub(crate) fn look_up(client: &Client, bucket: &str, key: &str) -> Result<Option<ObjectInfo>> {
    match client.head_object(bucket, key) {
        Ok(info) => Ok(Some(info)),
        Err(e) if absent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Keeps a send whose outcome is unknown, once per length and CRC.
fn remember(unsettled: &mut Vec<Sent>, sent: Sent) {
    if !unsettled.contains(&sent) {
        if unsettled.len() == MAX_UNSETTLED {
            unsettled.remove(0);
        }
        unsettled.push(sent);
    }
}

/// What to do after a request (an append, a seal) failed.
enum Next {
    /// Send it again at once: it was refused for a reason the client has since mended.
    Resend,
    /// Find out with a HEAD whether it was applied: its outcome is unknown.
    Settle(Error),
    /// Report it: refused before anything was applied (a 4xx), or out of attempts.
    Fail(Error),
}

fn after_failure(error: Error, attempts: &mut Attempts, what: impl FnOnce() -> String) -> Next {
    if retry::corrected_at_once(&error) {
        if attempts.again(&error, what) {
            return Next::Resend;
        }
        return Next::Fail(error);
    }
    if outcome_unknown(&error) {
        Next::Settle(error)
    } else {
        Next::Fail(error)
    }
}

/// After a HEAD showed that a request was not applied: `Ok` to send it again, within the
/// budget, or `cause` saying how many attempts it had and that `ended`.
fn resend_or_report(
    attempts: &mut Attempts,
    cause: Error,
    what: impl FnOnce() -> String,
    ended: &str,
) -> Result<()> {
    if attempts.again(&cause, what) {
        return Ok(());
    }
    let message = format!(
        "{} (after {} attempts; {ended})",
        cause.message(),
        attempts.made()
    );
    Err(cause.with_message(message))
}

/// Whether an append that failed this way may have been applied anyway: nothing answered it
/// for sure (a timeout, a lost connection, a 5xx), or the object's
/// length is not our position (409), which an earlier send of ours may have made.
fn outcome_unknown(error: &Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::Timeout
            | ErrorKind::Network
            | ErrorKind::ServerError
            | ErrorKind::Unavailable
            | ErrorKind::PositionNotEqualToLength
    )
}

/// Whether a HEAD's error says the object is not there: NoSuchKey, or a 404 whose error
/// document a gateway dropped (as the official Go SDK v2's AppendFile takes any 404). When
/// the bucket is what is missing, the first append says NoSuchBucket.
fn absent(error: &Error) -> bool {
    error.kind() == ErrorKind::NoSuchKey
        || (error.http_status() == Some(404) && error.code().is_none())
}

/// The length and CRC-64 of an object written by appends, sealed or not: a HEAD that settles
/// a request compares them before anything else (our append may have landed just before
/// another writer sealed the object).
pub(crate) fn appendable_state(info: &ObjectInfo, key: &str) -> Result<(u64, u64)> {
    if info.object_type != ObjectType::Appendable {
        return Err(Error::new(
            ErrorKind::ObjectNotAppendable,
            format!(
                "{key:?} is a {:?} object, not an appendable one",
                info.object_type
            ),
        ));
    }
    let crc = info.crc64.ok_or_else(|| {
        Error::new(
            ErrorKind::Service,
            format!("HEAD of {key:?} gave no x-oss-hash-crc64ecma"),
        )
    })?;
    Ok((info.length, crc))
}
