//! The buffered appender, for callers that cannot wait for the network (a game's frame
//! loop, a log shipper writing thousands of lines a second): `write` copies into a bounded
//! buffer and returns; a background thread turns the buffer into appends of up to the
//! request size through an [`Appender`], so recovery and CRC checks are the unbuffered ones.
//!
//! Bytes leave the buffer only once they are stored, so an upload error loses nothing: it
//! is kept, returned once by the next write, flush or close, and the upload resumes after
//! that call (a close that failed can simply be called again).

use crate::append::{for_each_chunk, with_file, AppendOptions, Appender};
use crate::client::{check_size, Client, ObjectInfo};
use crate::error::{Error, ErrorKind, Result};
use std::collections::VecDeque;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How a [`BufferedAppender`] buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferOptions {
    /// The most bytes the buffer holds.
    pub capacity: usize,
    /// The longest a written byte waits before an upload of it starts.
    pub max_delay: Duration,
    /// When the buffer is full, `write` waits for room (true) or fails with
    /// [`ErrorKind::WouldBlock`] without taking anything (false).
    pub block_when_full: bool,
}

impl Default for BufferOptions {
    fn default() -> Self {
        BufferOptions {
            capacity: 32 << 20,
            max_delay: Duration::from_secs(1),
            block_when_full: true,
        }
    }
}

impl BufferOptions {
    pub(crate) fn validate(&self) -> Result<()> {
        if self.capacity == 0 {
            return Err(Error::invalid_argument(
                "buffer capacity must be at least 1 byte",
            ));
        }
        Ok(())
    }
}

/// An appendable object written through a buffer and a background upload thread.
/// One thread uses it at a time (`&mut self`); many may exist on one [`Client`].
pub struct BufferedAppender {
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
    options: BufferOptions,
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the upload thread: data to send, a flush, a stop, an error taken.
    work: Condvar,
    /// Wakes callers: bytes stored (room, flush progress) or an error.
    stored: Condvar,
    appender: Mutex<Appender>,
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
    /// Bytes waiting for upload, in chunks of at most `threshold` (one request each), so the
    /// upload thread takes a request with a pointer move, never a copy under the lock.
    chunks: VecDeque<Vec<u8>>,
    /// Emptied chunks, kept so steady writing neither allocates nor faults in new pages.
    spare: Vec<Vec<u8>>,
    /// Buffered bytes that make a full request.
    threshold: usize,
    max_delay: Duration,
    /// The object's length once everything accepted is stored.
    accepted: u64,
    /// The object's length and CRC-64 as stored.
    durable: u64,
    crc: u64,
    /// When the oldest buffered byte came (at least as old as any byte still buffered).
    oldest: Option<Instant>,
    /// Send partial requests until `durable` reaches this (a flush).
    flush_to: u64,
    error: Option<Error>,
    stop: Stop,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic on the upload thread is turned into an error before the lock is let go, so a
    // poisoned lock still guards consistent state.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl BufferedAppender {
    /// Opens the object as [`Appender::open`] does and starts the upload thread.
    pub fn open(
        client: &Client,
        bucket: &str,
        key: &str,
        options: AppendOptions,
        buffer: BufferOptions,
    ) -> Result<BufferedAppender> {
        buffer.validate()?;
        let threshold = options.request_size.min(buffer.capacity);
        let appender = Appender::open(client, bucket, key, options)?;
        let (position, crc) = (appender.position(), appender.crc64());
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                chunks: VecDeque::new(),
                spare: Vec::new(),
                threshold,
                max_delay: buffer.max_delay,
                accepted: position,
                durable: position,
                crc,
                oldest: None,
                flush_to: 0,
                error: None,
                stop: Stop::Run,
            }),
            work: Condvar::new(),
            stored: Condvar::new(),
            appender: Mutex::new(appender),
        });
        let worker = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("oss-append-upload".into())
                .spawn(move || upload(&shared))
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Internal,
                        format!("starting the upload thread: {e}"),
                    )
                })?
        };
        Ok(BufferedAppender {
            shared,
            worker: Some(worker),
            options: buffer,
            closed: false,
        })
    }

    /// Where the next byte goes: the object's length once everything written is stored.
    pub fn position(&self) -> u64 {
        lock(&self.shared.state).accepted
    }

    /// CRC-64 of the object's stored bytes (as of [`BufferedAppender::pending`] bytes ago).
    pub fn crc64(&self) -> u64 {
        lock(&self.shared.state).crc
    }

    /// Bytes written but not yet stored in OSS.
    pub fn pending(&self) -> u64 {
        lock(&self.shared.state).held() as u64
    }

    /// The object as the server sees it now (a HEAD, after the request in flight).
    pub fn stat(&self) -> Result<ObjectInfo> {
        self.check_open()?;
        lock(&self.shared.appender).stat()
    }

    /// Copies `data` into the buffer. A write that fits is taken whole or not at all; when
    /// the buffer is full it waits for room or fails with [`ErrorKind::WouldBlock`], as
    /// chosen. A write larger than the buffer is taken in parts when blocking is allowed
    /// (on error, [`BufferedAppender::position`] tells how much was taken). A kept upload
    /// error is returned instead, and nothing of `data` is taken.
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        self.check_open()?;
        let capacity = self.options.capacity;
        let block = self.options.block_when_full;
        if !block && data.len() > capacity {
            return Err(Error::invalid_argument(format!(
                "a write of {} bytes can never fit a buffer of {capacity} bytes; \
                 write less at a time or let writes block",
                data.len()
            )));
        }
        let shared = &*self.shared;
        let mut state = lock(&shared.state);
        take_error(&mut state)?;
        check_size(state.accepted, data.len() as u64)?;
        let mut rest = data;
        while !rest.is_empty() {
            let room = capacity - state.held();
            let needed = rest.len().min(capacity);
            if room < needed {
                if !block {
                    return Err(Error::new(
                        ErrorKind::WouldBlock,
                        format!(
                            "the buffer is full: {} of {capacity} bytes wait for upload",
                            state.held()
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
            let (taken, later) = rest.split_at(room.min(rest.len()));
            let was_empty = state.held() == 0;
            let full_before = state
                .chunks
                .front()
                .is_some_and(|c| c.len() >= state.threshold);
            state.push(taken);
            state.accepted += taken.len() as u64;
            state.oldest.get_or_insert_with(Instant::now);
            // Wake the upload thread only when it has something new to do: start timing
            // the first byte, or send a full request. Other writes stay a plain copy.
            let full_now = state
                .chunks
                .front()
                .is_some_and(|c| c.len() >= state.threshold);
            if was_empty || (full_now && !full_before) {
                shared.work.notify_one();
            }
            rest = later;
        }
        Ok(())
    }

    /// Writes everything `reader` gives, a request's worth at a time. Returns the bytes taken.
    pub fn write_from(&mut self, reader: impl Read) -> Result<u64> {
        self.check_open()?;
        let size = lock(&self.shared.state).threshold;
        for_each_chunk(reader, size, |chunk, _| self.write(chunk))
    }

    /// [`BufferedAppender::write_from`] a file, named in any error about it.
    pub fn write_file(&mut self, path: impl AsRef<Path>) -> Result<u64> {
        with_file(path.as_ref(), |file| self.write_from(file))
    }

    /// Waits until everything written so far is stored, `timeout` passes (None: no limit;
    /// [`ErrorKind::Timeout`], nothing lost) or an upload error is known (returned).
    pub fn flush(&mut self, timeout: Option<Duration>) -> Result<()> {
        self.check_open()?;
        flush(&self.shared, timeout)
    }

    /// Flushes, then ends the upload thread; later writes fail with [`ErrorKind::Closed`].
    /// On failure the handle stays open with its bytes, and close can be called again.
    pub fn close(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        flush(&self.shared, None)?;
        lock(&self.shared.state).stop = Stop::Drain;
        self.shared.work.notify_one();
        if let Some(worker) = self.worker.take() {
            // The thread only ends between requests; a panic in it was already reported.
            let _ = worker.join();
        }
        self.closed = true;
        lock(&self.shared.appender).close()
    }

    fn check_open(&self) -> Result<()> {
        if self.closed {
            return Err(Error::new(ErrorKind::Closed, "the appender was closed"));
        }
        Ok(())
    }
}

impl Drop for BufferedAppender {
    /// Without a close, unsent bytes are dropped (the caller chose to; `pending` said how
    /// many). The thread is not waited for: it ends after the request in flight.
    fn drop(&mut self) {
        lock(&self.shared.state).stop = Stop::Abandon;
        self.shared.work.notify_one();
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

    /// Appends `data` to the chunks, starting a new one at each request's worth.
    fn push(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let threshold = self.threshold;
            if self.chunks.back().is_none_or(|c| c.len() >= threshold) {
                let chunk = self
                    .spare
                    .pop()
                    .unwrap_or_else(|| Vec::with_capacity(threshold));
                self.chunks.push_back(chunk);
            }
            let chunk = self.chunks.back_mut().expect("a chunk was just ensured");
            let (now, later) = data.split_at((threshold - chunk.len()).min(data.len()));
            chunk.extend_from_slice(now);
            data = later;
        }
    }
}

/// Returns a kept upload error once; the upload thread resumes after it.
fn take_error(state: &mut State) -> Result<()> {
    match state.error.take() {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

fn flush(shared: &Shared, timeout: Option<Duration>) -> Result<()> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut state = lock(&shared.state);
    take_error(&mut state)?;
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
        take_error(&mut state)?;
    }
    Ok(())
}

/// The upload thread: sends the front chunk, removing its bytes once stored.
fn upload(shared: &Shared) {
    let mut state = lock(&shared.state);
    loop {
        if state.stop == Stop::Abandon {
            return;
        }
        let due = state.error.is_none()
            && state.chunks.front().is_some_and(|front| {
                front.len() >= state.threshold
                    || state.flush_to > state.durable
                    || state.stop == Stop::Drain
                    || state.oldest.is_some_and(|t| t.elapsed() >= state.max_delay)
            });
        if !due {
            if state.stop == Stop::Drain && state.held() == 0 {
                return;
            }
            let wait = match state.oldest {
                Some(t) if state.error.is_none() => state.max_delay.saturating_sub(t.elapsed()),
                _ => Duration::from_secs(3600),
            };
            state = shared
                .work
                .wait_timeout(state, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            continue;
        }
        let mut chunk = state.chunks.pop_front().expect("due means a chunk");
        drop(state);

        let sent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut appender = lock(&shared.appender);
            let result = appender.write(&chunk);
            (result, appender.position(), appender.crc64())
        }));
        state = lock(&shared.state);
        let (result, position, crc) = match sent {
            Ok(sent) => sent,
            Err(_) => (
                Err(Error::new(
                    ErrorKind::Internal,
                    "internal error in the upload thread (please report it)",
                )),
                state.durable,
                state.crc,
            ),
        };
        let stored = (position - state.durable) as usize;
        state.durable = position;
        state.crc = crc;
        if stored == chunk.len() {
            chunk.clear();
            if state.spare.len() < 2 {
                state.spare.push(chunk);
            }
        } else {
            // Not (all) stored: what is left goes back to the front, in order.
            chunk.drain(..stored);
            state.chunks.push_front(chunk);
        }
        if state.held() == 0 {
            state.oldest = None;
        }
        if let Err(error) = result {
            lock(&shared.appender).log_error(&error, state.held());
            state.error = Some(error);
        }
        shared.stored.notify_all();
    }
}
