//! A stream that outlives one object: the key is a template holding `{n}`, and the stream
//! rolls on to the next number before a write that would take the object past its size
//! limit, or once it has been written to for longer than its age limit. Each object is
//! written by a [`DirectAppender`], so recovery and CRC checks are the unbuffered ones; a
//! write is split across objects only when it alone is larger than the size limit.
//!
//! Where a stream goes on at open: the listing of the template's prefix gives the highest
//! number; that object is continued when it is appendable, not sealed and below the limit,
//! and otherwise the next number is started. A roll later on starts an object of its own:
//! one already at the next number with bytes in it (another writer's), a Normal one or a
//! sealed one is never written over or mixed with: the stream moves past it, and says so
//! in the log.
//!
//! Buffered, the caller's thread decides where objects end ([`Limits::step`], at its write
//! boundaries) and the upload thread writes each object's bytes with
//! [`RollingAppender::write_here`] and rolls where told ([`RollingAppender::roll_at`]).

use super::chunks::for_each_chunk;
use super::direct::upload_error_log;
use super::direct::DirectAppender;
use super::options::{report, AppendOptions, Progress, RollCallback, RollOptions};
use crate::client::Client;
use crate::config::LogLevel;
use crate::error::{Error, ErrorKind, Result};
use crate::object::{validate_key, ObjectInfo, ObjectType, MAX_OBJECT_SIZE};
use std::io::Read;
use std::time::{Duration, Instant, SystemTime};

/// The marker a key template holds once.
const MARKER: &str = "{n}";

/// A key with `{n}` in it: the text around the marker.
#[derive(Debug, Clone)]
struct KeyTemplate {
    before: String,
    after: String,
}

impl KeyTemplate {
    fn parse(template: &str) -> Result<KeyTemplate> {
        let bad = |why: &str| {
            Err(Error::invalid_argument(format!(
                "key template {template:?}: {why}"
            )))
        };
        let Some((before, after)) = template.split_once(MARKER) else {
            return bad("it must hold {n} once, where the object's number goes");
        };
        if after.contains(MARKER) {
            return bad("it holds {n} more than once");
        }
        let parsed = KeyTemplate {
            before: before.to_string(),
            after: after.to_string(),
        };
        // The longest key it makes (a 20-digit number) must be a key OSS takes.
        if let Err(e) = validate_key(&parsed.key(u64::MAX)) {
            return bad(e.message());
        }
        Ok(parsed)
    }

    /// The key of object `n`: zero-padded to 6 digits, so keys sort in stream order.
    fn key(&self, n: u64) -> String {
        format!("{}{n:06}{}", self.before, self.after)
    }

    /// The number of `key`, if the template makes it (as [`KeyTemplate::key`] writes it:
    /// a number of more than 6 digits has no leading zero).
    fn number(&self, key: &str) -> Option<u64> {
        let digits = key.strip_prefix(&self.before)?.strip_suffix(&self.after)?;
        let n = digits.parse::<u64>().ok()?;
        (digits.bytes().all(|b| b.is_ascii_digit()) && self.key(n) == key).then_some(n)
    }
}

/// A rolling stream's limits on each object.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_object_size: u64,
    pub(crate) max_age: Option<Duration>,
}

/// What to do with the rest of a write.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Finish the current object first; the rest goes to the next one.
    Roll,
    /// Put this many of its bytes in the current object.
    Take(u64),
}

impl Limits {
    /// Where the next of `len` bytes left of a write go, for a current object of `length`
    /// bytes that this appender first wrote to at `first_write`: a write that the object
    /// cannot take whole goes to the next one (unless no object can: then it fills this
    /// one), and an object past its age takes nothing more.
    pub(crate) fn step(&self, length: u64, first_write: Option<Instant>, len: u64) -> Step {
        let room = self.max_object_size.saturating_sub(length);
        let fits = len <= room;
        let whole_fits_an_object = len <= self.max_object_size;
        let too_old = match (self.max_age, first_write) {
            (Some(limit), Some(first)) => length > 0 && first.elapsed() >= limit,
            _ => false,
        };
        if (!fits && (whole_fits_an_object || room == 0)) || too_old {
            Step::Roll
        } else {
            Step::Take(len.min(room))
        }
    }
}

pub(crate) struct RollingAppender {
    client: Client,
    bucket: String,
    template: KeyTemplate,
    /// What each object is opened with (no progress, no seal on close: both are the
    /// stream's).
    each: AppendOptions,
    limits: Limits,
    on_roll: Option<RollCallback>,
    progress: Option<Progress>,
    seal_on_close: bool,
    /// The caller sealed the current object, which is then finished even should that seal
    /// have failed: it is tried again before the stream goes on (a seal that landed though
    /// reported failed would otherwise leave the stream writing to a sealed object).
    seal_asked: bool,
    number: u64,
    current: DirectAppender,
    /// The number of the last object reported finished.
    reported: Option<u64>,
    /// When this appender first wrote to the current object: its age counts from there.
    first_write: Option<Instant>,
    /// The lengths of the stream's objects before the current one.
    before: u64,
    closed: bool,
}

impl std::fmt::Debug for RollingAppender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RollingAppender")
            .field("current", &self.current)
            .field("number", &self.number)
            .finish_non_exhaustive()
    }
}

impl RollingAppender {
    pub(crate) fn open(
        client: &Client,
        bucket: &str,
        template: &str,
        mut options: AppendOptions,
        roll: RollOptions,
    ) -> Result<RollingAppender> {
        let template = KeyTemplate::parse(template)?;
        roll.validate()?;
        let limits = roll.limits();
        let progress = options.progress.take();
        let seal_on_close = std::mem::take(&mut options.seal_on_close);
        // The stream's objects so far, from the listing: the highest number, and the
        // lengths of its objects (the highest one's apart: it is the current one if
        // continued), summed as they come, so that a long stream costs no memory here.
        let (mut highest, mut total, mut highest_size) = (None, 0u64, 0);
        for object in client.list_objects(bucket, &template.before) {
            let object = object?;
            let Some(n) = template.number(&object.key) else {
                continue;
            };
            // Objects the stream moved past (Normal ones) are not its bytes.
            let size = match object.object_type {
                ObjectType::Appendable => object.size,
                _ => 0,
            };
            if highest.is_none_or(|h| n > h) {
                total += highest_size;
                (highest, highest_size) = (Some(n), size);
            } else {
                total += size;
            }
        }
        let template_ref = &template;
        // The last object goes on if it has room; one past it only if it is empty.
        let (number, current) = first_taking_more(
            client,
            bucket,
            highest.unwrap_or(0),
            |n| template_ref.key(n),
            || options.for_each_object(),
            |n, length| length < limits.max_object_size && (length == 0 || Some(n) == highest),
        )?;
        let before = match highest {
            Some(h) if h < number => total + highest_size,
            _ => total,
        };
        Ok(RollingAppender {
            client: client.clone(),
            bucket: bucket.to_string(),
            template,
            each: options,
            limits,
            on_roll: roll.on_roll,
            progress,
            seal_on_close,
            seal_asked: false,
            number,
            current,
            reported: None,
            first_write: None,
            before,
            closed: false,
        })
    }

    /// The current object's key.
    pub(crate) fn key(&self) -> String {
        self.template.key(self.number)
    }

    /// Where the next byte goes in the object it goes to: after a seal, the start of the
    /// next one (which the next write opens).
    pub(crate) fn position(&self) -> u64 {
        if self.finishing() {
            return 0;
        }
        self.current.position()
    }

    pub(crate) fn crc64(&self) -> u64 {
        self.current.crc64()
    }

    /// The stream's length: its objects' lengths before the current one, and this one's.
    pub(crate) fn stream_position(&self) -> u64 {
        self.before + self.current.position()
    }

    pub(crate) fn stat(&self) -> Result<ObjectInfo> {
        self.current.stat()
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        self.current.check_open()
    }

    /// Appends `data` to the current object, rolling on first when it would not fit or the
    /// object is too old; only a write larger than the size limit fills objects in turn.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<()> {
        self.check_open()?;
        let total = i64::try_from(data.len()).unwrap_or(-1);
        let mut transferred = 0;
        let mut rest = data;
        while !rest.is_empty() {
            // An earlier write reported failed may have landed since: the room is measured
            // from where the object really ends.
            self.current.settle_unsettled()?;
            let step =
                self.limits
                    .step(self.current.position(), self.first_write, rest.len() as u64);
            let take = match step {
                Step::Take(take) if !self.finishing() => take as usize,
                _ => {
                    self.roll_on()?;
                    continue;
                }
            };
            let (now, later) = rest.split_at(take);
            self.put(now, &mut transferred, total)?;
            rest = later;
        }
        Ok(())
    }

    /// Appends `data` to the current object, as a buffer's upload thread does: where
    /// objects end was decided when the bytes were written ([`Limits::step`]), so no roll
    /// happens here, and bytes the object would not take are an error, never sent.
    pub(crate) fn write_here(&mut self, data: &[u8]) -> Result<()> {
        self.check_open()?;
        let end = self.current.position() + data.len() as u64;
        if end > self.limits.max_object_size {
            return Err(Error::new(
                ErrorKind::Internal,
                format!(
                    "{} would end at {end}, past the stream's object size of {} \
                     (please report it)",
                    self.key(),
                    self.limits.max_object_size
                ),
            ));
        }
        let total = i64::try_from(data.len()).unwrap_or(-1);
        self.put(data, &mut 0, total)
    }

    /// Rolls on so that the current object starts at `offset` in the stream: where the
    /// object before it ends. Done already (the write after it failed), nothing happens.
    pub(crate) fn roll_at(&mut self, offset: u64) -> Result<()> {
        if self.before == offset {
            return Ok(());
        }
        self.roll_on()?;
        if self.before != offset {
            return Err(Error::new(
                ErrorKind::Internal,
                format!(
                    "the buffer ends an object at {offset} in the stream, the objects at {} \
                     (please report it)",
                    self.before
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn limits(&self) -> Limits {
        self.limits
    }

    /// Whether the current object takes no more bytes: sealed, or a seal was asked for.
    fn finishing(&self) -> bool {
        self.current.is_sealed() || self.seal_asked
    }

    /// Where the current object starts in the stream.
    pub(crate) fn object_start(&self) -> u64 {
        self.before
    }

    /// Appends `data` to the current object in requests, reporting each.
    fn put(&mut self, data: &[u8], transferred: &mut u64, total: i64) -> Result<()> {
        for piece in data.chunks(self.each.request_size) {
            self.first_write.get_or_insert_with(Instant::now);
            self.current.write(piece)?;
            *transferred += piece.len() as u64;
            report(&mut self.progress, piece.len() as u64, *transferred, total)?;
        }
        Ok(())
    }

    /// Logs an error a buffer's upload keeps for the caller, naming the stream.
    pub(crate) fn error_log(&self) -> impl Fn(&Error, usize) + Send + Sync + 'static {
        let template = format!("{}{MARKER}{}", self.template.before, self.template.after);
        upload_error_log(&self.client, &self.bucket, &template)
    }

    /// Streams `reader` to its end in chunks of the request size, each a write of its own.
    pub(crate) fn write_from(&mut self, reader: impl Read) -> Result<u64> {
        self.check_open()?;
        let size = self.each.request_size;
        let mut progress = self.progress.take();
        let result = for_each_chunk(reader, size, |chunk, transferred| {
            self.write(chunk)?;
            report(&mut progress, chunk.len() as u64, transferred, -1)
        });
        self.progress = progress;
        result
    }

    /// Seals the current object, which finishes it: the next write starts the next number.
    /// Should the seal fail, the object is finished all the same, and sealed by the next
    /// seal, roll or close before the stream goes on.
    pub(crate) fn seal(&mut self) -> Result<SystemTime> {
        self.seal_asked = true;
        self.current.settle_unsettled()?;
        let time = self.current.seal()?;
        self.finished();
        Ok(time)
    }

    /// Ends the stream; with `seal_on_close` the current object is sealed (and reported
    /// finished), else a reopen continues it.
    pub(crate) fn close(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        let sealing = self.seal_on_close || self.seal_asked;
        if sealing && self.current.position() > 0 && !self.current.is_sealed() {
            self.seal()?;
        }
        self.current.close()?;
        self.closed = true;
        Ok(())
    }

    /// Finishes the current object (sealing it with `seal_on_close`; one sealed already was
    /// reported when it was) and opens the next.
    fn roll_on(&mut self) -> Result<()> {
        // Its length as reported must include a write reported failed that landed after all.
        self.current.settle_unsettled()?;
        if !self.current.is_sealed() {
            if self.seal_on_close || self.seal_asked {
                self.current.seal()?;
            }
            self.finished();
        }
        self.open_next()
    }

    /// Reports the current object finished, once (a second seal, or a roll whose next open
    /// failed and is tried again, reports nothing more).
    fn finished(&mut self) {
        if self.reported == Some(self.number) {
            return;
        }
        self.reported = Some(self.number);
        if let Some(callback) = &mut self.on_roll {
            callback(
                &self.template.key(self.number),
                self.current.position(),
                self.current.crc64(),
            );
        }
    }

    /// Opens the first number after the current one whose object takes more bytes.
    fn open_next(&mut self) -> Result<()> {
        let template = &self.template;
        let each = &self.each;
        let (number, next) = first_taking_more(
            &self.client,
            &self.bucket,
            self.number + 1,
            |n| template.key(n),
            || each.for_each_object(),
            |_, length| length == 0,
        )?;
        self.before += self.current.position();
        (self.number, self.current) = (number, next);
        self.first_write = None;
        self.seal_asked = false;
        Ok(())
    }
}

/// From number `from` on, the first object the stream may write to (absent, or appendable,
/// not sealed, and of a length `takes` accepts), opened; objects in the way are moved past,
/// never written over, and the log says so.
fn first_taking_more(
    client: &Client,
    bucket: &str,
    from: u64,
    key: impl Fn(u64) -> String,
    options: impl Fn() -> AppendOptions,
    takes: impl Fn(u64, u64) -> bool,
) -> Result<(u64, DirectAppender)> {
    let mut number = from;
    loop {
        let key = key(number);
        match DirectAppender::open(client, bucket, &key, options()) {
            Ok(appender) if takes(number, appender.position()) => return Ok((number, appender)),
            Ok(appender) => client.log(LogLevel::Info, || {
                format!(
                    "oss://{bucket}/{key} holds {} bytes that are not this stream's to go on \
                     from; the stream goes on after it",
                    appender.position()
                )
            }),
            Err(e) if skippable(&e) => client.log(LogLevel::Warn, || {
                format!("oss://{bucket}/{key}: {e}; the stream goes on after it")
            }),
            Err(e) => return Err(e),
        }
        number = number.checked_add(1).ok_or_else(|| {
            Error::invalid_argument("the stream has used every number its template can hold")
        })?;
    }
}

/// An object the stream cannot write to (not appendable, or sealed), which it moves past.
fn skippable(e: &Error) -> bool {
    e.kind() == ErrorKind::ObjectNotAppendable
}

impl RollOptions {
    pub(crate) fn limits(&self) -> Limits {
        Limits {
            max_object_size: self.max_object_size,
            max_age: self.max_age,
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.max_object_size == 0 || self.max_object_size > MAX_OBJECT_SIZE {
            return Err(Error::invalid_argument(format!(
                "roll size {}: from 1 byte to {MAX_OBJECT_SIZE} (5 GiB)",
                self.max_object_size
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::KeyTemplate;

    #[test]
    fn keys_are_numbered_in_sorting_order_and_read_back() {
        let t = KeyTemplate::parse("logs/app-{n}.log").unwrap();
        assert_eq!(t.key(0), "logs/app-000000.log");
        assert_eq!(t.key(1_234_567), "logs/app-1234567.log");
        assert!(t.key(9) < t.key(10) && t.key(99_999) < t.key(100_000));
        for n in [0, 7, 999_999, 1_000_000, u64::MAX] {
            assert_eq!(t.number(&t.key(n)), Some(n));
        }
        for other in [
            "logs/app-00001.log",
            "logs/app-0000001.log",
            "logs/app-+00001.log",
            "logs/app-00000a.log",
            "logs/app-000001.logx",
            "logs/app-.log",
        ] {
            assert_eq!(t.number(other), None, "{other}");
        }
    }

    #[test]
    fn templates_hold_the_marker_once_and_make_valid_keys() {
        for bad in ["logs/app.log", "{n}/{n}", "/abs/{n}"] {
            let err = KeyTemplate::parse(bad).unwrap_err();
            assert!(
                err.message().contains(&format!("{bad:?}")) || err.message().contains("key"),
                "{err}"
            );
        }
        assert!(KeyTemplate::parse(&format!("{}{{n}}", "a".repeat(1010))).is_err());
        assert!(KeyTemplate::parse("{n}").is_ok());
    }
}
