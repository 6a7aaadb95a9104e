//! The appendable-file handle: open an object (creating or resuming it), write bytes to its
//! end, seal it. One type, written straight through or through a buffer as its options say:
//! `direct` stores each write before it returns and settles every unknown outcome;
//! `buffered` copies writes into a buffer that a background thread uploads through
//! the direct engine.

use crate::buffered::{BufferOptions, BufferedAppender};
use crate::client::Client;
use crate::direct::DirectAppender;
use crate::error::{Error, ErrorKind, Result};
use crate::object::{CreateParams, ObjectInfo, RequestParams, MAX_OBJECT_SIZE};
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, SystemTime};

pub const DEFAULT_REQUEST_SIZE: usize = 8 << 20;

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
    /// [`Appender::close`] seals the object ([`Appender::seal`]).
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

/// An open appendable object. One thread uses it at a time (`&mut self`); the [`Client`]
/// behind it may be shared by many handles. Buffered or not (see [`AppendOptions::buffer`]),
/// it has one set of methods: unbuffered, a write returns once stored and `flush` and
/// `pending` have nothing to wait for.
#[derive(Debug)]
pub struct Appender {
    engine: Engine,
}

#[derive(Debug)]
enum Engine {
    Direct(Box<DirectAppender>),
    Buffered(BufferedAppender),
}

impl Appender {
    /// HEADs the object: absent, it is created by the first write; appendable, writing
    /// resumes at its end; any other type, or a sealed object, fails with
    /// [`ErrorKind::ObjectNotAppendable`] before any data. Buffered, it starts the upload
    /// thread.
    pub fn open(
        client: &Client,
        bucket: &str,
        key: &str,
        options: AppendOptions,
    ) -> Result<Appender> {
        let engine = match options.buffer {
            None => Engine::Direct(Box::new(DirectAppender::open(
                client, bucket, key, options,
            )?)),
            Some(buffer) => Engine::Buffered(BufferedAppender::open(
                client, bucket, key, options, buffer,
            )?),
        };
        Ok(Appender { engine })
    }

    /// Appends all of `data`. Unbuffered, in requests of at most the request size: on error,
    /// the bytes before the failing request are stored and [`Appender::position`] says how
    /// far. Buffered, a write that fits the buffer is taken whole or not at all; a full
    /// buffer makes it wait, or fail with [`ErrorKind::WouldBlock`] taking nothing, as
    /// [`BufferOptions::block_when_full`] says; a kept upload error is returned (once)
    /// instead.
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        match &mut self.engine {
            Engine::Direct(a) => a.write(data),
            Engine::Buffered(b) => b.write(data),
        }
    }

    /// Streams `reader` to its end through one reusable buffer of the request size, so
    /// memory does not grow with the input. Returns the bytes written.
    pub fn write_from(&mut self, reader: impl Read) -> Result<u64> {
        match &mut self.engine {
            Engine::Direct(a) => a.write_from(reader),
            Engine::Buffered(b) => b.write_from(reader),
        }
    }

    /// [`Appender::write_from`] a file, named in any error about opening or reading it.
    pub fn write_file(&mut self, path: impl AsRef<Path>) -> Result<u64> {
        with_file(path.as_ref(), |file| self.write_from(file))
    }

    /// Waits until everything written is stored, at most `timeout` (None: no limit;
    /// [`ErrorKind::Timeout`], nothing lost), or returns a kept upload error.
    pub fn flush(&mut self, timeout: Option<Duration>) -> Result<()> {
        match &mut self.engine {
            Engine::Direct(a) => a.check_open(),
            Engine::Buffered(b) => b.flush(timeout),
        }
    }

    /// Bytes written but not yet stored in OSS (0 unless buffered).
    pub fn pending(&self) -> u64 {
        match &self.engine {
            Engine::Direct(_) => 0,
            Engine::Buffered(b) => b.pending(),
        }
    }

    /// Copies the bytes written but not yet stored, from `offset` among them (0 is the
    /// first, at `position() - pending()`), into `buf`, in the order written; returns how
    /// many (0 past the end, and always unbuffered). After an error that no retry mends (a
    /// conflict, an object that is not appendable), this is how a caller takes back what
    /// it handed over. Buffered, it waits for a request in flight.
    pub fn read_pending(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        match &self.engine {
            Engine::Direct(_) => Ok(0),
            Engine::Buffered(b) => b.read_pending(offset, buf),
        }
    }

    /// Where the next byte goes: the object's length once everything written is stored.
    pub fn position(&self) -> u64 {
        match &self.engine {
            Engine::Direct(a) => a.position(),
            Engine::Buffered(b) => b.position(),
        }
    }

    /// CRC-64 of the object's stored bytes (buffered: as of [`Appender::pending`] bytes ago).
    pub fn crc64(&self) -> u64 {
        match &self.engine {
            Engine::Direct(a) => a.crc64(),
            Engine::Buffered(b) => b.crc64(),
        }
    }

    /// The object as the server sees it now (a HEAD; errors are reported, never swallowed).
    pub fn stat(&self) -> Result<ObjectInfo> {
        match &self.engine {
            Engine::Direct(a) => a.stat(),
            Engine::Buffered(b) => b.stat(),
        }
    }

    /// Seals the object at this handle's position (SealAppendObject), after a flush when
    /// buffered. OSS refuses a seal unless the object's length is that position, so a seal
    /// never cuts off another writer's bytes ([`ErrorKind::Conflict`]). A sealed object takes
    /// no more appends (this handle's writes fail with [`ErrorKind::ObjectNotAppendable`]),
    /// and its HEAD and GET carry the sealed time, which this returns. Sealing again returns
    /// the same time. A seal whose outcome is unknown is settled with a HEAD before it is
    /// sent again, as an append is.
    pub fn seal(&mut self) -> Result<SystemTime> {
        match &mut self.engine {
            Engine::Direct(a) => a.seal(),
            Engine::Buffered(b) => b.seal(),
        }
    }

    /// Ends the handle, flushing a buffered one first and sealing the object if
    /// `seal_on_close` says so; later writes fail with [`ErrorKind::Closed`]. On failure the
    /// handle stays open with its bytes, and close can be called again.
    pub fn close(&mut self) -> Result<()> {
        match &mut self.engine {
            Engine::Direct(a) => a.close(),
            Engine::Buffered(b) => b.close(),
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

/// An empty buffer with room for `size` bytes, or an error: sizes come from the caller, and
/// an allocation that fails must not abort the host process.
pub(crate) fn try_buffer(size: usize) -> Result<Vec<u8>> {
    let mut buffer = Vec::new();
    buffer.try_reserve_exact(size).map_err(|_| {
        Error::new(
            ErrorKind::OutOfMemory,
            format!("no memory for a buffer of {size} bytes; use a smaller request size"),
        )
    })?;
    Ok(buffer)
}

/// Reads `reader` to its end in chunks of `size` (the last may be shorter) through one
/// buffer, calling `each` with every chunk and the bytes read so far. Returns the total.
pub(crate) fn for_each_chunk(
    mut reader: impl Read,
    size: usize,
    mut each: impl FnMut(&[u8], u64) -> Result<()>,
) -> Result<u64> {
    let mut buffer = try_buffer(size)?;
    buffer.resize(size, 0);
    let mut transferred = 0;
    loop {
        let mut filled = 0;
        while filled < buffer.len() {
            match reader.read(&mut buffer[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::new(
                        ErrorKind::Io,
                        format!(
                            "reading the input after {} bytes: {e}",
                            transferred + filled as u64
                        ),
                    ))
                }
            }
        }
        if filled == 0 {
            return Ok(transferred);
        }
        transferred += filled as u64;
        each(&buffer[..filled], transferred)?;
    }
}

/// Opens `path` and runs `write` on it, naming the file in any I/O error.
pub(crate) fn with_file(path: &Path, write: impl FnOnce(File) -> Result<u64>) -> Result<u64> {
    let file = File::open(path)
        .map_err(|e| Error::new(ErrorKind::Io, format!("opening {}: {e}", path.display())))?;
    write(file).map_err(|e| {
        if e.kind() == ErrorKind::Io {
            let message = format!("{}: {}", path.display(), e.message());
            e.with_message(message)
        } else {
            e
        }
    })
}
