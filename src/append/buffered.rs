//! The buffered appender, for callers that cannot wait for the network (a game's frame
//! loop, a log shipper writing thousands of lines a second): `write` copies into a bounded
//! buffer and returns; a background thread turns the buffer into appends of up to the
//! request size through a [`DirectAppender`], so recovery and CRC checks are the unbuffered
//! ones.
//!
//! Bytes leave the buffer only once they are stored, so an upload error loses nothing: it
//! is kept, returned once by the next write, flush or close, and the upload resumes after
//! that call (a close that failed can simply be called again).
//!
//! Rolling ([`crate::RollOptions`]), the caller's thread decides where each object ends, at
//! its write boundaries, and records those cuts beside the bytes; the upload thread writes
//! through a [`RollingAppender`], never sends a request across a cut, and rolls on at each.
//!
//! With a spool ([`crate::SpoolOptions`]) the buffer is a run of files instead of memory
//! (see `spool`): a write returns once its bytes are in the file, the upload thread reads a
//! request at a time from it, and an open first settles what an earlier owner left there.

use super::chunks::{for_each_chunk, try_buffer};
use super::direct::{check_options, look_up, DirectAppender};
use super::options::{AppendOptions, BufferOptions, Progress, RollCallback, SpoolOptions};
use super::roll::{Limits, RollingAppender, Step};
use super::spool::{self, Piece, Spool};
use crate::client::Client;
use crate::config::LogLevel;
use crate::error::{Error, ErrorKind, Result};
use crate::object::{check_size, ObjectInfo};
use std::collections::VecDeque;
use std::io::Read;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::{Duration, Instant, SystemTime};

/// An appendable object written through a buffer and a background upload thread.
/// One thread uses it at a time (`&mut self`); many may exist on one [`Client`].
pub(crate) struct BufferedAppender {
    shared: Arc<Shared>,
    /// The caller's callbacks, as the upload thread reaches them.
    progress: Arc<Slot<Progress>>,
    rolled: Arc<Slot<RollCallback>>,
    /// Rolling: where the caller's writes end objects.
    roll: Option<Cutter>,
    worker: Option<JoinHandle<()>>,
    /// The upload thread's id: callbacks run there, and a call from them must not wait for
    /// the thread it is on.
    upload_thread: ThreadId,
    options: BufferOptions,
    sealed: bool,
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the upload thread: data to send, a flush, a stop, an error taken.
    work: Condvar,
    /// Wakes callers: bytes stored (room, flush progress) or an error.
    stored: Condvar,
    appender: Mutex<Target>,
    /// Logs an upload error that is kept for the caller.
    log_error: ErrorLog,
}

/// Logs an upload error and how many bytes stay buffered.
type ErrorLog = Box<dyn Fn(&Error, usize) + Send + Sync>;

/// Where the upload thread finds one of the caller's callbacks. Drop empties it, waiting
/// out a call under way; dropped from that very call (a callback that frees its own
/// appender) it cannot wait, and marks it abandoned instead.
struct Slot<F> {
    callback: Mutex<Option<F>>,
    abandoned: AtomicBool,
}

impl<F> Slot<F> {
    fn new(callback: Option<F>) -> Arc<Slot<F>> {
        Arc::new(Slot {
            callback: Mutex::new(callback),
            abandoned: AtomicBool::new(false),
        })
    }

    /// Calls the callback, unless it was let go of: then returns `otherwise`.
    fn call<R>(&self, call: impl FnOnce(&mut F) -> R, otherwise: R) -> R {
        if self.abandoned.load(Ordering::Acquire) {
            return otherwise;
        }
        match lock(&self.callback).as_mut() {
            Some(callback) => call(callback),
            None => otherwise,
        }
    }

    /// Lets go of the callback: it is never called again once this returns, but from the
    /// thread it runs on (`wait` false) a call under way cannot be waited for.
    fn let_go(&self, wait: bool) {
        self.abandoned.store(true, Ordering::Release);
        if wait {
            lock(&self.callback).take();
        }
    }
}

/// What the upload thread writes through: one object, or a rolling stream's current one.
enum Target {
    Object(Box<DirectAppender>),
    Stream(Box<RollingAppender>),
}

impl Target {
    fn write(&mut self, data: &[u8]) -> Result<()> {
        match self {
            Target::Object(object) => object.write(data),
            Target::Stream(stream) => stream.write_here(data),
        }
    }

    /// Rolls on to the next object, to start at `at` in the stream.
    fn roll_at(&mut self, at: u64) -> Result<()> {
        match self {
            Target::Object(_) => Err(Error::new(
                ErrorKind::Internal,
                "a cut in the buffer of an appender that does not roll (please report it)",
            )),
            Target::Stream(stream) => stream.roll_at(at),
        }
    }

    /// Where the next byte goes: in the stream when rolling, else in the object.
    fn stream_position(&self) -> u64 {
        match self {
            Target::Object(object) => object.position(),
            Target::Stream(stream) => stream.stream_position(),
        }
    }

    /// Where in the stream the current object starts.
    fn object_start(&self) -> u64 {
        match self {
            Target::Object(_) => 0,
            Target::Stream(stream) => stream.object_start(),
        }
    }

    fn key(&self) -> String {
        match self {
            Target::Object(object) => object.key().to_string(),
            Target::Stream(stream) => stream.key(),
        }
    }

    fn crc64(&self) -> u64 {
        match self {
            Target::Object(object) => object.crc64(),
            Target::Stream(stream) => stream.crc64(),
        }
    }

    fn stat(&self) -> Result<ObjectInfo> {
        match self {
            Target::Object(object) => object.stat(),
            Target::Stream(stream) => stream.stat(),
        }
    }

    fn seal(&mut self) -> Result<SystemTime> {
        match self {
            Target::Object(object) => object.seal(),
            Target::Stream(stream) => stream.seal(),
        }
    }

    fn close(&mut self) -> Result<()> {
        match self {
            Target::Object(object) => object.close(),
            Target::Stream(stream) => stream.close(),
        }
    }

    fn error_log(&self) -> ErrorLog {
        match self {
            Target::Object(object) => Box::new(object.error_log()),
            Target::Stream(stream) => Box::new(stream.error_log()),
        }
    }
}

/// Where a rolling stream's writes end objects, decided on the caller's thread.
struct Cutter {
    limits: Limits,
    /// Where the object the next write goes to starts in the stream.
    start: u64,
    /// When the first write to that object came.
    first_write: Option<Instant>,
}

impl Cutter {
    /// For `len` bytes left of a write, the stream `accepted` bytes long: whether the
    /// current object ends before them, and how many of them the object they go to takes.
    fn place(&self, accepted: u64, len: usize) -> (bool, usize) {
        match self
            .limits
            .step(accepted - self.start, self.first_write, len as u64)
        {
            Step::Take(take) => (false, take as usize),
            Step::Roll => (true, len.min(self.whole())),
        }
    }

    /// The most bytes an object takes.
    fn whole(&self) -> usize {
        usize::try_from(self.limits.max_object_size).unwrap_or(usize::MAX)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    Run,
    /// Close: send everything, then end.
    Drain,
    /// The handle was freed: end after the request in flight.
    Abandon,
}

struct State {
    /// The bytes waiting for upload.
    store: Store,
    /// Buffered bytes that make a full request.
    threshold: usize,
    max_delay: Duration,
    /// The object's length once everything accepted is stored (rolling: the stream's).
    accepted: u64,
    /// The object's length as stored (rolling: the stream's), and the object's CRC-64.
    durable: u64,
    crc: u64,
    /// Rolling: where in the stream objects start that the upload has not reached, in order.
    cuts: VecDeque<u64>,
    /// The key of the object the upload writes to.
    key: String,
    /// When the oldest buffered byte came (at least as old as any byte still buffered).
    oldest: Option<Instant>,
    /// Send partial requests until `durable` reaches this (a flush).
    flush_to: u64,
    error: Option<Error>,
    stop: Stop,
    /// A request is being sent (in memory, its chunk is out of the store).
    in_flight: bool,
}

/// Where the bytes waiting for upload are.
enum Store {
    /// In memory.
    Memory(Chunks),
    /// In the spool's files, which the upload thread reads a request at a time.
    Spool(Box<Spool>),
}

#[derive(Default)]
struct Chunks {
    /// Bytes waiting for upload, in chunks of at most `threshold` (one request each), so the
    /// upload thread takes a request with a pointer move, never a copy under the lock.
    queue: VecDeque<Vec<u8>>,
    /// Emptied chunks, kept so steady writing neither allocates nor faults in new pages.
    spare: Vec<Vec<u8>>,
    /// Bytes at the start of the front chunk that are stored already (it was sent up to a
    /// cut, or in part): skipped rather than moved out.
    front_sent: usize,
}

/// The request the upload thread sends next.
enum Request {
    /// A chunk taken out of memory, and the bytes of it sent (not those stored already,
    /// nor past a cut); put back unless all of it is stored.
    Chunk(Vec<u8>, Range<usize>),
    /// Where in the spool its bytes are, and how many.
    Spooled(Vec<Piece>, usize),
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic on the upload thread is turned into an error before the lock is let go, so a
    // poisoned lock still guards consistent state.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl BufferedAppender {
    /// Opens the object as [`DirectAppender::open`] does and starts the upload thread.
    pub(crate) fn open(
        client: &Client,
        bucket: &str,
        key: &str,
        mut options: AppendOptions,
        buffer: BufferOptions,
    ) -> Result<BufferedAppender> {
        buffer.validate()?;
        let threshold = options.request_size.min(buffer.capacity);
        // The upload thread calls the caller's callbacks through slots, which drop empties:
        // the thread may outlive the handle by a request, the callbacks may not.
        let mut roll = options.roll.take();
        let progress = Slot::new(options.progress.take());
        let rolled = Slot::new(roll.as_mut().and_then(|r| r.on_roll.take()));
        if let Some(roll) = &mut roll {
            let slot = rolled.clone();
            roll.on_roll = Some(Box::new(move |key, length, crc| {
                slot.call(|report| report(key, length, crc), ())
            }));
        }
        let had_progress = lock(&progress.callback).is_some();
        let slot = progress.clone();
        let options = AppendOptions {
            progress: had_progress.then(|| -> Progress {
                Box::new(move |increment, transferred, total| {
                    slot.call(|report| report(increment, transferred, total), true)
                })
            }),
            ..options
        };
        let (appender, store) = match (&buffer.spool, roll) {
            (None, None) => (
                Target::Object(Box::new(DirectAppender::open(
                    client, bucket, key, options,
                )?)),
                Store::Memory(Chunks::default()),
            ),
            (None, Some(roll)) => (
                Target::Stream(Box::new(RollingAppender::open(
                    client, bucket, key, options, roll,
                )?)),
                Store::Memory(Chunks::default()),
            ),
            (Some(spool), None) => {
                let (appender, spool) =
                    open_spooled(client, bucket, key, options, spool, threshold)?;
                (
                    Target::Object(Box::new(appender)),
                    Store::Spool(Box::new(spool)),
                )
            }
            (Some(_), Some(_)) => {
                return Err(Error::invalid_argument(
                    "options: a rolling stream cannot be spooled yet (choose one)",
                ))
            }
        };
        let roll = match &appender {
            Target::Stream(stream) => Some(Cutter {
                limits: stream.limits(),
                start: stream.object_start(),
                first_write: None,
            }),
            Target::Object(_) => None,
        };
        // The upload thread reads spooled requests into one buffer, had here or refused.
        let scratch = match store {
            Store::Spool(_) => {
                let mut scratch = try_buffer(threshold)?;
                scratch.resize(threshold, 0);
                scratch
            }
            Store::Memory(_) => Vec::new(),
        };
        let (position, crc) = (appender.stream_position(), appender.crc64());
        let accepted = match &store {
            Store::Spool(spool) => spool.end(),
            Store::Memory(_) => position,
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                store,
                threshold,
                max_delay: buffer.max_delay,
                accepted,
                durable: position,
                crc,
                oldest: (accepted > position).then(Instant::now),
                // What an earlier owner spooled goes at once.
                flush_to: accepted,
                error: None,
                stop: Stop::Run,
                in_flight: false,
                cuts: VecDeque::new(),
                key: appender.key(),
            }),
            work: Condvar::new(),
            stored: Condvar::new(),
            log_error: appender.error_log(),
            appender: Mutex::new(appender),
        });
        let worker = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("oss-append-upload".into())
                .spawn(move || upload(&shared, scratch))
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Internal,
                        format!("starting the upload thread: {e}"),
                    )
                })?
        };
        Ok(BufferedAppender {
            shared,
            progress,
            rolled,
            roll,
            upload_thread: worker.thread().id(),
            worker: Some(worker),
            options: buffer,
            sealed: false,
            closed: false,
        })
    }

    /// Where the next byte goes: the object's length once everything written is stored.
    pub(crate) fn position(&self) -> u64 {
        let start = self.roll.as_ref().map_or(0, |roll| roll.start);
        lock(&self.shared.state).accepted - start
    }

    /// The stream's length once everything written is stored (not rolling: the object's).
    pub(crate) fn stream_position(&self) -> u64 {
        lock(&self.shared.state).accepted
    }

    /// The key of the object the upload writes to (rolling, it rolls on as the upload
    /// reaches the end of each object).
    pub(crate) fn key(&self) -> String {
        lock(&self.shared.state).key.clone()
    }

    /// CRC-64 of the object's stored bytes (as of [`BufferedAppender::pending`] bytes ago).
    pub(crate) fn crc64(&self) -> u64 {
        lock(&self.shared.state).crc
    }

    /// Bytes written but not yet stored in OSS.
    pub(crate) fn pending(&self) -> u64 {
        lock(&self.shared.state).held() as u64
    }

    /// Copies the bytes written but not stored, from `offset` among them (0 is the first,
    /// at `position - pending`), into `buf`; returns how many (0 past the end). Waits for a
    /// request in flight, whose bytes are out of the buffer while it is sent.
    pub(crate) fn read_pending(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        self.check_not_upload_thread("read_pending")?;
        let mut state = lock(&self.shared.state);
        while state.in_flight {
            state = self
                .shared
                .stored
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let chunks = match &state.store {
            Store::Memory(chunks) => chunks,
            Store::Spool(spool) => {
                let held = state.held() as u64;
                let n = buf.len().min(held.saturating_sub(offset) as usize);
                spool::read(&spool.locate(state.durable + offset, n), &mut buf[..n])?;
                return Ok(n);
            }
        };
        let mut skip = offset + chunks.front_sent as u64;
        let mut copied = 0;
        for chunk in &chunks.queue {
            if copied == buf.len() {
                break;
            }
            let len = chunk.len() as u64;
            if skip >= len {
                skip -= len;
                continue;
            }
            let from = &chunk[skip as usize..];
            let n = from.len().min(buf.len() - copied);
            buf[copied..copied + n].copy_from_slice(&from[..n]);
            copied += n;
            skip = 0;
        }
        Ok(copied)
    }

    /// The object as the server sees it now (a HEAD, after the request in flight).
    pub(crate) fn stat(&self) -> Result<ObjectInfo> {
        self.check_open()?;
        self.check_not_upload_thread("stat")?;
        lock(&self.shared.appender).stat()
    }

    /// Copies `data` into the buffer. A write that fits is taken whole or not at all; when
    /// the buffer is full it waits for room or fails with [`ErrorKind::WouldBlock`], as
    /// chosen. A write larger than the buffer is taken in parts when blocking is allowed
    /// (on error, [`BufferedAppender::position`] tells how much was taken). A kept upload
    /// error is returned instead, and nothing of `data` is taken.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<()> {
        self.check_writable()?;
        let capacity = self.options.capacity;
        if !self.options.block_when_full && data.len() > capacity {
            return Err(Error::invalid_argument(format!(
                "a write of {} bytes can never fit a buffer of {capacity} bytes; \
                 write less at a time or let writes block",
                data.len()
            )));
        }
        self.put(data, self.options.block_when_full, Kept::Refuse)
    }

    /// Writes everything `reader` gives, a request's worth at a time. Returns the bytes taken.
    /// Bytes read from `reader` cannot be given back, so each chunk is taken whatever
    /// happens: it waits for room even when writes do not, and a kept upload error is
    /// returned after the chunk that met it was taken.
    pub(crate) fn write_from(&mut self, reader: impl Read) -> Result<u64> {
        self.check_writable()?;
        let size = lock(&self.shared.state).threshold;
        for_each_chunk(reader, size, |chunk, _| self.put(chunk, true, Kept::After))
    }

    /// Copies `data` into the buffer, waiting for room (`block`) or failing with
    /// [`ErrorKind::WouldBlock`]; a kept upload error is returned before anything is taken
    /// or, with [`Kept::After`], once all of `data` is.
    fn put(&mut self, data: &[u8], block: bool, kept_errors: Kept) -> Result<()> {
        let capacity = self.options.capacity;
        let shared = &*self.shared;
        let mut state = lock(&shared.state);
        let mut kept = None;
        let mut take_error = |state: &mut State| match (shared.take_error(state), kept_errors) {
            (Err(e), Kept::After) => {
                kept.get_or_insert(e);
                Ok(())
            }
            (result, _) => result,
        };
        take_error(&mut state)?;
        if self.roll.is_none() {
            check_size(state.accepted, data.len() as u64)?;
        }
        // Rolling, where the write goes is decided once, as the write comes (a wait for
        // room changes nothing of it): whether the object before it ends first, and how
        // many bytes the object it goes to takes; only a write larger than an object has
        // more pieces, each the start of an object.
        let (mut cut, mut piece) = match &self.roll {
            None => (false, data.len()),
            Some(roll) => roll.place(state.accepted, data.len()),
        };
        let mut rest = data;
        while !rest.is_empty() {
            if piece == 0 {
                let whole = self.roll.as_ref().map_or(usize::MAX, Cutter::whole);
                (cut, piece) = (true, rest.len().min(whole));
            }
            // A spool an earlier owner left may hold more than this capacity. A write that
            // fits the buffer waits for room for all of it, so it is taken whole, or (an
            // error, a full buffer) not at all.
            let room = capacity.saturating_sub(state.held());
            let needed = rest.len().min(capacity);
            if room < needed {
                let from_upload = self.on_upload_thread();
                if !block || from_upload {
                    return Err(Error::new(
                        ErrorKind::WouldBlock,
                        format!(
                            "the buffer is full: {} of {capacity} bytes wait for upload{}",
                            state.held(),
                            if from_upload {
                                ", and this write comes from the appender's own upload \
                                 thread (a callback), which cannot wait for itself"
                            } else {
                                ""
                            }
                        ),
                    ));
                }
                // Room comes only from uploads: send what is buffered, even short of a
                // full request, rather than wait for the delay.
                state.flush_to = state.flush_to.max(state.accepted);
                shared.work.notify_one();
                state = shared
                    .stored
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                take_error(&mut state)?;
                continue;
            }
            let (taken, later) = rest.split_at(room.min(piece));
            let was_empty = state.held() == 0;
            let full_before = state.full();
            state.push(taken)?;
            if let Some(roll) = &mut self.roll {
                if std::mem::take(&mut cut) {
                    roll.start = state.cut();
                    roll.first_write = None;
                }
                roll.first_write.get_or_insert_with(Instant::now);
            }
            piece -= taken.len();
            state.accepted += taken.len() as u64;
            state.oldest.get_or_insert_with(Instant::now);
            // Wake the upload thread only when it has something new to do: start timing
            // the first byte, or send a full request. Other writes stay a plain copy.
            if was_empty || (state.full() && !full_before) {
                shared.work.notify_one();
            }
            rest = later;
        }
        kept.map_or(Ok(()), Err)
    }

    /// Waits until everything written so far is stored, `timeout` passes (None: no limit;
    /// [`ErrorKind::Timeout`], nothing lost) or an upload error is known (returned).
    pub(crate) fn flush(&mut self, timeout: Option<Duration>) -> Result<()> {
        self.check_open()?;
        if self.pending() > 0 {
            self.check_not_upload_thread("flush")?;
        }
        flush(&self.shared, timeout)
    }

    /// Flushes, then seals the object as [`DirectAppender::seal`] does; later writes fail with
    /// [`ErrorKind::ObjectNotAppendable`]. A failed flush or seal leaves the handle as it was.
    /// Rolling, the sealed object is finished and the next write starts the next one, also
    /// after a failed seal (the stream seals it before it goes on: see
    /// [`RollingAppender::seal`]).
    pub(crate) fn seal(&mut self) -> Result<SystemTime> {
        self.check_open()?;
        self.check_not_upload_thread("seal")?;
        if self.sealed {
            // Sealing again changes nothing: the appender gives the first seal's time.
            return lock(&self.shared.appender).seal();
        }
        flush(&self.shared, None)?;
        let sealed = lock(&self.shared.appender).seal();
        match &mut self.roll {
            None => self.sealed = sealed.is_ok(),
            Some(roll) => {
                let mut state = lock(&self.shared.state);
                if roll.start < state.accepted {
                    roll.start = state.cut();
                    roll.first_write = None;
                }
            }
        }
        sealed
    }

    /// Flushes, then ends the upload thread; later writes fail with [`ErrorKind::Closed`].
    /// On failure (of the flush, or of the seal that `seal_on_close` asks for) the handle
    /// stays open with its bytes, and close can be called again.
    pub(crate) fn close(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.check_not_upload_thread("close")?;
        flush(&self.shared, None)?;
        // Everything is stored, so the upload thread is idle while the appender closes.
        lock(&self.shared.appender).close()?;
        lock(&self.shared.state).stop = Stop::Drain;
        self.shared.work.notify_one();
        if let Some(worker) = self.worker.take() {
            // The thread only ends between requests; a panic in it was already reported.
            let _ = worker.join();
        }
        if let Store::Spool(spool) = &mut lock(&self.shared.state).store {
            spool.remove();
        }
        self.closed = true;
        Ok(())
    }

    fn check_open(&self) -> Result<()> {
        if self.closed {
            return Err(Error::new(ErrorKind::Closed, "the appender was closed"));
        }
        Ok(())
    }

    fn on_upload_thread(&self) -> bool {
        thread::current().id() == self.upload_thread
    }

    /// Refuses a call that would wait for the upload thread when made on it (from a
    /// callback): it would wait forever.
    fn check_not_upload_thread(&self, call: &str) -> Result<()> {
        if self.on_upload_thread() {
            return Err(Error::invalid_argument(format!(
                "{call} called from the appender's own upload thread (one of its callbacks), \
                 where it would wait for itself"
            )));
        }
        Ok(())
    }

    fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        if self.sealed {
            return Err(Error::new(
                ErrorKind::ObjectNotAppendable,
                "the object was sealed by this handle and takes no more appends",
            ));
        }
        Ok(())
    }
}

impl Drop for BufferedAppender {
    /// Without a close, unsent bytes are dropped (the caller chose to; `pending` said how
    /// many). The thread is not waited for: it ends after the request in flight. The
    /// callbacks (progress, roll) are: once this returns, they are never called again (a
    /// call under way finishes first), so the caller may free what they use. Dropped on the upload thread
    /// itself (by one of its callbacks), there is nothing to wait for: the thread ends when
    /// the callback returns.
    ///
    /// A spooled appender keeps its unsent bytes in the spool, for the next open, and waits
    /// for the request in flight: the spool stays locked until the thread ends, and a
    /// handle opened next must not race a request of this one.
    fn drop(&mut self) {
        lock(&self.shared.state).stop = Stop::Abandon;
        self.shared.work.notify_one();
        // The upload thread may be in a callback: wait for it to return, unless this is
        // that callback.
        let wait = !self.on_upload_thread();
        self.rolled.let_go(wait);
        self.progress.let_go(wait);
        if wait {
            if let (Some(worker), Some(_)) = (self.worker.take(), &self.options.spool) {
                let _ = worker.join();
            }
        }
    }
}

impl std::fmt::Debug for BufferedAppender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufferedAppender")
            .field("position", &self.position())
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

impl State {
    /// Bytes held (buffered or in flight): bytes leave only once stored.
    fn held(&self) -> usize {
        (self.accepted - self.durable) as usize
    }

    /// Whether a full request waits: a request's worth, or the last bytes of an object
    /// (rolling: a cut after them), or a front chunk no later write adds to.
    fn full(&self) -> bool {
        if self.cuts.iter().any(|&cut| cut > self.durable) {
            return true;
        }
        match &self.store {
            Store::Memory(chunks) => {
                chunks.queue.len() > 1
                    || chunks
                        .queue
                        .front()
                        .is_some_and(|c| c.len() >= self.threshold)
            }
            Store::Spool(_) => self.held() >= self.threshold,
        }
    }

    /// Ends the current object of a rolling stream where the bytes accepted end; returns
    /// where the next one starts.
    fn cut(&mut self) -> u64 {
        self.cuts.push_back(self.accepted);
        self.accepted
    }

    /// Takes `data` after what is held, whole or (with an error) not at all.
    fn push(&mut self, data: &[u8]) -> Result<()> {
        match &mut self.store {
            Store::Memory(chunks) => {
                chunks.reserve(data.len(), self.threshold)?;
                chunks.push(data, self.threshold);
                Ok(())
            }
            Store::Spool(spool) => spool.append(data),
        }
    }

    /// The request to send next: at most a request's worth from the front, and never
    /// past the next cut (rolling: a request goes to one object).
    fn next_request(&mut self) -> Request {
        let to_cut = self
            .cuts
            .iter()
            .find(|&&cut| cut > self.durable)
            .map_or(usize::MAX, |&cut| (cut - self.durable) as usize);
        let len = self.held().min(self.threshold).min(to_cut);
        match &mut self.store {
            Store::Memory(chunks) => {
                let chunk = chunks.queue.pop_front().expect("data held");
                let from = std::mem::take(&mut chunks.front_sent);
                let len = (chunk.len() - from).min(to_cut);
                Request::Chunk(chunk, from..from + len)
            }
            Store::Spool(spool) => {
                let len = len.min((spool.sendable_end() - self.durable) as usize);
                Request::Spooled(spool.locate(self.durable, len), len)
            }
        }
    }

    /// After `request` was sent and `stored` bytes of it were stored (`durable` moved on);
    /// returns the spool files no longer needed, to put away with the lock let go of.
    fn sent(&mut self, request: Request, stored: u64) -> spool::Stored {
        match (&mut self.store, request) {
            (Store::Memory(chunks), Request::Chunk(mut chunk, sent)) => {
                // One request is one write, so at most all of it was stored.
                let end = sent.start + (stored as usize).min(sent.len());
                if end == chunk.len() {
                    chunk.clear();
                    if chunks.spare.len() < 2 {
                        chunks.spare.push(chunk);
                    }
                } else {
                    // Not (all) stored, or sent up to a cut: the rest goes back to the
                    // front, in order.
                    chunks.front_sent = end;
                    chunks.queue.push_front(chunk);
                }
                spool::Stored::default()
            }
            (Store::Spool(spool), _) => spool.discard_to(self.durable),
            (Store::Memory(_), Request::Spooled(..)) => unreachable!("a spooled request"),
        }
    }
}

impl Chunks {
    /// Makes room in the chunks for `len` more bytes, so that [`Chunks::push`] cannot fail: a
    /// chunk has a request's worth of room, set by the caller, and an allocation that fails
    /// is an error that takes nothing rather than an abort of the host process.
    fn reserve(&mut self, len: usize, threshold: usize) -> Result<()> {
        let room = self
            .queue
            .back()
            .map_or(0, |c| c.capacity().min(threshold) - c.len());
        let mut missing = len.saturating_sub(room);
        while missing > 0 {
            let chunk = match self.spare.pop() {
                Some(chunk) => chunk,
                None => try_buffer(threshold)?,
            };
            self.queue.push_back(chunk);
            missing = missing.saturating_sub(threshold);
        }
        Ok(())
    }

    /// Appends `data` to the chunks reserved for it, a request's worth in each.
    fn push(&mut self, mut data: &[u8], threshold: usize) {
        // The last chunk holding bytes if it has room, else the first one reserve() added.
        let mut at = self.queue.len() - 1;
        while at > 0 && self.queue[at].is_empty() && self.queue[at - 1].len() < threshold {
            at -= 1;
        }
        while !data.is_empty() {
            let chunk = &mut self.queue[at];
            let (now, later) = data.split_at((threshold - chunk.len()).min(data.len()));
            chunk.extend_from_slice(now);
            data = later;
            at += 1;
        }
    }
}

/// When a write reports an upload error kept from earlier.
#[derive(Clone, Copy)]
enum Kept {
    /// Before taking anything: the write may simply be made again.
    Refuse,
    /// After taking all of it: its bytes had already been read from a reader.
    After,
}

impl Shared {
    /// Returns a kept upload error once, and wakes the upload thread: it waits without a
    /// deadline while an error is kept, and resumes (its max delay with it) once the caller
    /// has heard of it.
    fn take_error(&self, state: &mut State) -> Result<()> {
        match state.error.take() {
            Some(error) => {
                self.work.notify_one();
                Err(error)
            }
            None => Ok(()),
        }
    }
}

fn flush(shared: &Shared, timeout: Option<Duration>) -> Result<()> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut state = lock(&shared.state);
    shared.take_error(&mut state)?;
    let target = state.accepted;
    state.flush_to = state.flush_to.max(target);
    shared.work.notify_one();
    while state.durable < target {
        state = match deadline {
            None => shared
                .stored
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        format!(
                            "flush timed out with {} bytes not yet stored (they stay buffered)",
                            target - state.durable
                        ),
                    ));
                }
                shared
                    .stored
                    .wait_timeout(state, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
        };
        shared.take_error(&mut state)?;
    }
    Ok(())
}

/// The upload thread: sends the front of what is held, a request at a time, and lets go of
/// its bytes once stored. `scratch` takes a spooled request (a request's worth).
fn upload(shared: &Shared, mut scratch: Vec<u8>) {
    let mut state = lock(&shared.state);
    loop {
        if state.stop == Stop::Abandon {
            return;
        }
        let due = state.error.is_none()
            && state.held() > 0
            && (state.full()
                || state.flush_to > state.durable
                || state.stop == Stop::Drain
                || state.oldest.is_some_and(|t| t.elapsed() >= state.max_delay));
        if !due {
            if state.stop == Stop::Drain && state.held() == 0 {
                return;
            }
            let mut wait = match state.oldest {
                Some(t) if state.error.is_none() => state.max_delay.saturating_sub(t.elapsed()),
                _ => Duration::from_secs(3600),
            };
            if let (Store::Spool(spool), None) = (&state.store, &state.error) {
                // The interval policy's sync of the writes since the last one.
                if let Some(at) = spool.sync_due() {
                    let left = at.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        state = sync_spool(shared, state);
                        continue;
                    }
                    wait = wait.min(left);
                }
            }
            state = shared
                .work
                .wait_timeout(state, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            continue;
        }
        if let Store::Spool(spool) = &state.store {
            // Under the interval policy, bytes go to OSS only once they are on disk (see
            // `Spool::sendable_end`). The sync that puts them there waits for its interval,
            // so syncs stay one an interval however fast writes come (each is a device
            // flush), unless a caller waits for the bytes (a flush, a full buffer, a close)
            // or the max delay is up.
            let starved = spool.sendable_end() <= state.durable;
            let urgent = starved
                && (state.flush_to > state.durable
                    || state.stop == Stop::Drain
                    || state.oldest.is_some_and(|t| t.elapsed() >= state.max_delay));
            match spool.sync_due() {
                Some(at) if starved && !urgent && at > Instant::now() => {
                    let left = at.saturating_duration_since(Instant::now());
                    state = shared
                        .work
                        .wait_timeout(state, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    continue;
                }
                Some(at) if starved || at <= Instant::now() => {
                    state = sync_spool(shared, state);
                    continue;
                }
                None if starved => {
                    state = sync_spool(shared, state);
                    continue;
                }
                _ => {}
            }
        }
        // Rolling, the request after a cut goes to the next object.
        let roll_at = state
            .cuts
            .front()
            .copied()
            .filter(|&at| at == state.durable);
        let request = state.next_request();
        state.in_flight = true;
        drop(state);

        let sent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let data = match &request {
                Request::Chunk(chunk, sent) => &chunk[sent.clone()],
                Request::Spooled(pieces, len) => {
                    spool::read(pieces, &mut scratch[..*len])?;
                    &scratch[..*len]
                }
            };
            let mut target = lock(&shared.appender);
            if let Some(at) = roll_at {
                target.roll_at(at)?;
            }
            target.write(data)
        }));
        // What is stored is the appender's account, also after a panic in a callback it ran
        // (a piece may have landed before it): anything else would send those bytes again.
        let (position, crc, rolled_to) = {
            let target = lock(&shared.appender);
            let rolled = roll_at.filter(|&at| target.object_start() == at);
            (
                target.stream_position(),
                target.crc64(),
                rolled.map(|_| target.key()),
            )
        };
        let result = sent.unwrap_or_else(|_| {
            Err(Error::new(
                ErrorKind::Internal,
                "internal error in the upload thread (please report it)",
            ))
        });
        state = lock(&shared.state);
        state.in_flight = false;
        if let Some(key) = rolled_to {
            state.cuts.pop_front();
            state.key = key;
        }
        let stored = position - state.durable;
        state.durable = position;
        state.crc = crc;
        let stored_files = state.sent(request, stored);
        if !stored_files.is_empty() {
            drop(state);
            let spare = stored_files.put_away();
            state = lock(&shared.state);
            if let (Some(made), Store::Spool(spool)) = (spare, &mut state.store) {
                spool.spare_made(made);
            }
        }
        if state.held() == 0 {
            state.oldest = None;
        }
        if let Err(error) = result {
            let held = state.held();
            state.error = Some(error.clone());
            shared.stored.notify_all();
            if error.kind() != ErrorKind::Cancelled {
                // The caller's logger runs with no lock of ours held: it may write to this
                // very appender (a log shipper shipping its own log), and a slow one stalls
                // no write. A cancel is the caller's own word, no failure to log.
                drop(state);
                (shared.log_error)(&error, held);
                state = lock(&shared.state);
            }
            continue;
        }
        shared.stored.notify_all();
    }
}

/// Runs the interval policy's sync of the spool with the state lock let go of, so writes
/// never wait on the disk: the data, then (under the lock) the synced length that counts it,
/// then that length. A failure is kept for the caller, as an upload error is.
fn sync_spool<'a>(shared: &'a Shared, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
    let Store::Spool(spool) = &mut state.store else {
        return state;
    };
    let Some(job) = spool.begin_sync() else {
        return state;
    };
    drop(state);
    let ran = job.run();
    let mut state = lock(&shared.state);
    let Store::Spool(spool) = &mut state.store else {
        unreachable!("a spool stays a spool")
    };
    let mut result = spool.data_synced(&job, ran);
    if result.is_ok() {
        drop(state);
        let ran = job.run();
        state = lock(&shared.state);
        if let Store::Spool(spool) = &mut state.store {
            result = spool.sync_ended(&job, ran);
        }
    }
    if let Err(error) = result {
        state.error = Some(error);
        shared.stored.notify_all();
    }
    state
}

/// Opens the object through its spool, which is first settled with the object: what an
/// earlier owner spooled and the object does not hold yet is held for upload, ahead of new
/// writes (see [`Spool::recover`]).
fn open_spooled(
    client: &Client,
    bucket: &str,
    key: &str,
    mut options: AppendOptions,
    spool_options: &SpoolOptions,
    segment_size: usize,
) -> Result<(DirectAppender, Spool)> {
    check_options(bucket, key, &options)?;
    let mut spool = Spool::open(spool_options, bucket, key, segment_size, &options.create)?;
    let mut stored = None;
    let opened = look_up(client, bucket, key).and_then(|found| {
        let left = !spool.is_empty();
        let (length, _) = spool.recover(found.as_ref())?;
        stored = Some(length);
        // Bytes spooled from 0 make the object with the parameters they were written with.
        options.create = spool.create_params().clone();
        let appender = DirectAppender::at(client, bucket, key, options, found.as_ref())?;
        if left {
            client.log(LogLevel::Warn, || {
                format!(
                    "oss://{bucket}/{key}: resuming {} bytes an earlier appender spooled in {} \
                     at {length}, the object's length",
                    spool.end() - length,
                    spool_options.dir.display()
                )
            });
        }
        Ok(appender)
    });
    match opened {
        Ok(appender) => Ok((appender, spool)),
        Err(e) => {
            // A spool this open would have started leaves nothing behind, and one whose
            // every byte the object holds has nothing left to give (an object sealed by a
            // close that ended before it removed its spool, say).
            if spool.is_empty() || stored == Some(spool.end()) {
                spool.remove();
            }
            Err(e)
        }
    }
}
