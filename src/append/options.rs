//! How a handle writes: its options, the buffer's, and the limits both are held to.

use crate::error::{Error, Result};
use crate::object::{CreateParams, RequestParams, MAX_OBJECT_SIZE};
use std::path::PathBuf;
use std::time::Duration;

pub(crate) const DEFAULT_REQUEST_SIZE: usize = 8 << 20;

/// `(increment, transferred, total)` after each request that landed; `total` is -1 when
/// unknown. Never goes backwards. Returning `false` cancels the operation.
pub type Progress = Box<dyn FnMut(u64, u64, i64) -> bool + Send>;

/// Calls `progress`, if there is one; its `false` cancels what is under way.
pub(crate) fn report(
    progress: &mut Option<Progress>,
    increment: u64,
    transferred: u64,
    total: i64,
) -> Result<()> {
    if let Some(progress) = progress {
        if !progress(increment, transferred, total) {
            return Err(Error::new(
                crate::error::ErrorKind::Cancelled,
                format!("cancelled by the progress callback after {transferred} bytes"),
            ));
        }
    }
    Ok(())
}

/// How a handle writes.
pub struct AppendOptions {
    pub create: CreateParams,
    pub request: RequestParams,
    /// Check the server's CRC-64 of the whole object after every append (on by default).
    pub check_crc: bool,
    /// The largest body of one request; a larger write is split.
    pub request_size: usize,
    pub progress: Option<Progress>,
    /// [`Appender::close`](crate::Appender::close) seals the object
    /// ([`Appender::seal`](crate::Appender::seal)).
    pub seal_on_close: bool,
    /// Buffered: writes copy into a buffer and return, and a background thread uploads.
    pub buffer: Option<BufferOptions>,
    /// Rolling: the key is a template holding `{n}`, and the stream goes on in the next
    /// object as these limits say.
    pub roll: Option<RollOptions>,
}

/// Called once for each object a rolling stream has finished, on the thread that finished
/// it, after its last append (and seal) landed: its key, and the length and CRC-64 the server
/// confirmed.
pub type RollCallback = Box<dyn FnMut(&str, u64, u64) + Send>;

/// When a rolling stream goes on in its next object ([`AppendOptions::roll`]).
pub struct RollOptions {
    /// The most bytes an object gets, 1 byte to 5 GiB: the stream rolls on before a write
    /// that would pass it (a write larger than this fills objects in turn).
    pub max_object_size: u64,
    /// Rolls on before the first write after an object was written to for this long
    /// (counted from this appender's first write to it); `None`: no age limit.
    pub max_age: Option<Duration>,
    pub on_roll: Option<RollCallback>,
}

impl Default for AppendOptions {
    fn default() -> Self {
        AppendOptions {
            create: CreateParams::default(),
            request: RequestParams::default(),
            check_crc: true,
            request_size: DEFAULT_REQUEST_SIZE,
            progress: None,
            seal_on_close: false,
            buffer: None,
            roll: None,
        }
    }
}

impl AppendOptions {
    /// What a rolling stream opens each of its objects with: these options but for the
    /// progress callback and the seal on close, which are the stream's.
    pub(crate) fn for_each_object(&self) -> AppendOptions {
        AppendOptions {
            create: self.create.clone(),
            request: self.request.clone(),
            check_crc: self.check_crc,
            request_size: self.request_size,
            ..AppendOptions::default()
        }
    }
}

/// A request carries 1 byte to 5 GiB: no object is larger, so nor is a useful request.
pub(crate) fn check_request_size(request_size: usize) -> Result<()> {
    if request_size == 0 || request_size as u64 > MAX_OBJECT_SIZE {
        return Err(Error::invalid_argument(format!(
            "request size {request_size}: from 1 byte to {MAX_OBJECT_SIZE} (5 GiB, the largest \
             appendable object)"
        )));
    }
    Ok(())
}

/// How an appender buffers ([`crate::AppendOptions::buffer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferOptions {
    /// The most bytes the buffer holds (with a spool, on disk, not in memory).
    pub capacity: usize,
    /// The longest a written byte waits before an upload of it starts.
    pub max_delay: Duration,
    /// When the buffer is full, `write` waits for room (true) or fails with
    /// [`ErrorKind::WouldBlock`](crate::ErrorKind::WouldBlock) without taking anything (false).
    pub block_when_full: bool,
    /// Keep the bytes not yet stored in files under a directory instead of memory, so that
    /// they survive a crash of the process and are uploaded by the next open of the object
    /// (or [`crate::drain_spool`]).
    pub spool: Option<SpoolOptions>,
}

impl Default for BufferOptions {
    fn default() -> Self {
        BufferOptions {
            capacity: 32 << 20,
            max_delay: Duration::from_secs(1),
            block_when_full: true,
            spool: None,
        }
    }
}

/// Where a buffered appender spools ([`BufferOptions::spool`]) and how often it syncs.
///
/// A write returns once its bytes are in the spool file, so a crash of the process loses
/// none of them whatever the sync; the sync decides what a power cut may lose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolOptions {
    /// The directory, made if missing. Several objects may share one; each object's spool
    /// has one owner at a time.
    pub dir: PathBuf,
    pub sync: SpoolSync,
}

/// When spooled bytes are forced to disk (`fdatasync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpoolSync {
    /// Never: the operating system writes them back when it likes.
    None,
    /// At most this often: a power cut loses at most about this much of the latest writes.
    Interval(Duration),
    /// Before every write returns (and the directory when a spool file is made), so a power
    /// cut loses nothing acknowledged.
    EveryWrite,
}

/// The largest buffer an appender may have: 1 GiB. A buffer holds what has not reached OSS
/// yet, so more only adds to what a crash loses.
pub const MAX_BUFFER_CAPACITY: usize = 1 << 30;

impl BufferOptions {
    /// The default buffer, spooled under `dir` with `sync`.
    pub fn spooled(dir: impl Into<PathBuf>, sync: SpoolSync) -> BufferOptions {
        BufferOptions {
            spool: Some(SpoolOptions {
                dir: dir.into(),
                sync,
            }),
            ..BufferOptions::default()
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.capacity == 0 || self.capacity > MAX_BUFFER_CAPACITY {
            return Err(Error::invalid_argument(format!(
                "buffer capacity {}: from 1 byte to {MAX_BUFFER_CAPACITY} (1 GiB)",
                self.capacity
            )));
        }
        if self
            .spool
            .as_ref()
            .is_some_and(|spool| spool.dir.as_os_str().is_empty())
        {
            return Err(Error::invalid_argument("spool directory: an empty path"));
        }
        Ok(())
    }
}
