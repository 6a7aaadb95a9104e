//! How a handle writes: its options, the buffer's, and the limits both are held to.

use crate::error::{Error, Result};
use crate::object::{CreateParams, RequestParams, MAX_OBJECT_SIZE};
use std::time::Duration;

pub(crate) const DEFAULT_REQUEST_SIZE: usize = 8 << 20;

/// `(increment, transferred, total)` after each request that landed; `total` is -1 when
/// unknown. Never goes backwards. Returning `false` cancels the operation.
pub type Progress = Box<dyn FnMut(u64, u64, i64) -> bool + Send>;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferOptions {
    /// The most bytes the buffer holds.
    pub capacity: usize,
    /// The longest a written byte waits before an upload of it starts.
    pub max_delay: Duration,
    /// When the buffer is full, `write` waits for room (true) or fails with
    /// [`ErrorKind::WouldBlock`](crate::ErrorKind::WouldBlock) without taking anything (false).
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

/// The largest buffer an appender may have: 1 GiB. A buffer holds what has not reached OSS
/// yet, so more only adds to what a crash loses.
pub const MAX_BUFFER_CAPACITY: usize = 1 << 30;

impl BufferOptions {
    pub(crate) fn validate(&self) -> Result<()> {
        if self.capacity == 0 || self.capacity > MAX_BUFFER_CAPACITY {
            return Err(Error::invalid_argument(format!(
                "buffer capacity {}: from 1 byte to {MAX_BUFFER_CAPACITY} (1 GiB)",
                self.capacity
            )));
        }
        Ok(())
    }
}
