//! The appendable-file handle: open an object (creating or resuming it), write bytes to its
//! end, seal it. One type, written straight through or through a buffer as its options say:
//!
//! - `options`: how a handle writes ([`AppendOptions`], [`BufferOptions`]) and their limits;
//! - `direct`: the engine that stores each write before it returns and settles every
//!   unknown outcome;
//! - `buffered`: the engine that copies writes into a buffer a background thread uploads
//!   through the direct one;
//! - `roll`: a stream whose key is a template, going on in the next object by size or age,
//!   each object written through the direct engine;
//! - `spool`: the buffered engine's buffer on disk, which survives a crash of the process:
//!   its files, their one owner, and what an earlier owner left there;
//! - `chunks`: a caller's input read in request-sized pieces, into buffers allocated without
//!   aborting.

mod buffered;
mod chunks;
mod direct;
mod options;
mod roll;
mod spool;

pub(crate) use options::check_request_size;
pub use options::{
    AppendOptions, BufferOptions, Progress, RollCallback, RollOptions, SpoolOptions, SpoolSync,
    MAX_BUFFER_CAPACITY,
};

use crate::client::Client;
use crate::error::Result;
use crate::object::ObjectInfo;
use buffered::BufferedAppender;
use chunks::with_file;
use direct::DirectAppender;
use roll::RollingAppender;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// An open appendable object. One thread uses it at a time (`&mut self`); the [`Client`]
/// behind it may be shared by many handles. Buffered or not (see [`AppendOptions::buffer`]),
/// it has one set of methods: unbuffered, a write returns once stored and `flush` and
/// `pending` have nothing to wait for.
#[derive(Debug)]
pub struct Appender {
    engine: Engine,
    /// The key given at open (for a rolling stream, its template).
    key: String,
}

#[derive(Debug)]
enum Engine {
    Direct(Box<DirectAppender>),
    Buffered(BufferedAppender),
    Rolling(Box<RollingAppender>),
}

impl Appender {
    /// HEADs the object: absent, it is created by the first write; appendable, writing resumes at
    /// its end; any other type, or a sealed object, fails with
    /// [`ErrorKind::ObjectNotAppendable`](crate::ErrorKind::ObjectNotAppendable) before any data.
    /// Buffered, it starts the upload thread.
    pub fn open(
        client: &Client,
        bucket: &str,
        key: &str,
        mut options: AppendOptions,
    ) -> Result<Appender> {
        // Buffered, the buffer's upload thread writes the objects, rolling or not.
        let engine = match (options.buffer.take(), options.roll.take()) {
            (None, None) => Engine::Direct(Box::new(DirectAppender::open(
                client, bucket, key, options,
            )?)),
            (Some(buffer), roll) => Engine::Buffered(BufferedAppender::open(
                client,
                bucket,
                key,
                AppendOptions { roll, ..options },
                buffer,
            )?),
            (None, Some(roll)) => Engine::Rolling(Box::new(RollingAppender::open(
                client, bucket, key, options, roll,
            )?)),
        };
        Ok(Appender {
            engine,
            key: key.to_string(),
        })
    }

    /// Appends all of `data`. Unbuffered, in requests of at most the request size: on error, the
    /// bytes before the failing request are stored and [`Appender::position`] says how far.
    /// Buffered, a write that fits the buffer is taken whole or not at all; a full buffer makes it
    /// wait, or fail with [`ErrorKind::WouldBlock`](crate::ErrorKind::WouldBlock) taking nothing,
    /// as [`BufferOptions::block_when_full`] says; a kept upload error is returned (once) instead.
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        match &mut self.engine {
            Engine::Direct(a) => a.write(data),
            Engine::Buffered(b) => b.write(data),
            Engine::Rolling(r) => r.write(data),
        }
    }

    /// Streams `reader` to its end through one reusable buffer of the request size, so
    /// memory does not grow with the input. Returns the bytes written.
    pub fn write_from(&mut self, reader: impl Read) -> Result<u64> {
        match &mut self.engine {
            Engine::Direct(a) => a.write_from(reader),
            Engine::Buffered(b) => b.write_from(reader),
            Engine::Rolling(r) => r.write_from(reader),
        }
    }

    /// [`Appender::write_from`] a file, named in any error about opening or reading it.
    pub fn write_file(&mut self, path: impl AsRef<Path>) -> Result<u64> {
        with_file(path.as_ref(), |file| self.write_from(file))
    }

    /// Waits until everything written is stored, at most `timeout` (None: no limit;
    /// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout), nothing lost), or returns a kept upload
    /// error.
    pub fn flush(&mut self, timeout: Option<Duration>) -> Result<()> {
        match &mut self.engine {
            Engine::Direct(a) => a.check_open(),
            Engine::Buffered(b) => b.flush(timeout),
            Engine::Rolling(r) => r.check_open(),
        }
    }

    /// Bytes written but not yet stored in OSS (0 unless buffered).
    pub fn pending(&self) -> u64 {
        match &self.engine {
            Engine::Direct(_) => 0,
            Engine::Buffered(b) => b.pending(),
            Engine::Rolling(_) => 0,
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
            Engine::Rolling(_) => Ok(0),
        }
    }

    /// Where the next byte goes: the object's length once everything written is stored.
    pub fn position(&self) -> u64 {
        match &self.engine {
            Engine::Direct(a) => a.position(),
            Engine::Buffered(b) => b.position(),
            Engine::Rolling(r) => r.position(),
        }
    }

    /// The key of the object being written: the key given at open, or for a rolling stream
    /// its current object's (buffered: the object the upload is at, which moves on as the
    /// upload reaches the end of each object).
    pub fn key(&self) -> String {
        match &self.engine {
            Engine::Direct(_) => self.key.clone(),
            Engine::Buffered(b) => b.key(),
            Engine::Rolling(r) => r.key(),
        }
    }

    /// The stream's length once everything written is stored: [`Appender::position`], but
    /// for a rolling stream the lengths of all its objects.
    pub fn stream_position(&self) -> u64 {
        match &self.engine {
            Engine::Direct(a) => a.position(),
            Engine::Buffered(b) => b.stream_position(),
            Engine::Rolling(r) => r.stream_position(),
        }
    }

    /// CRC-64 of the object's stored bytes (buffered: as of [`Appender::pending`] bytes ago).
    pub fn crc64(&self) -> u64 {
        match &self.engine {
            Engine::Direct(a) => a.crc64(),
            Engine::Buffered(b) => b.crc64(),
            Engine::Rolling(r) => r.crc64(),
        }
    }

    /// The object as the server sees it now (a HEAD; errors are reported, never swallowed).
    pub fn stat(&self) -> Result<ObjectInfo> {
        match &self.engine {
            Engine::Direct(a) => a.stat(),
            Engine::Buffered(b) => b.stat(),
            Engine::Rolling(r) => r.stat(),
        }
    }

    /// Seals the object at this handle's position (SealAppendObject), after a flush when buffered.
    /// OSS refuses a seal unless the object's length is that position, so a seal never cuts off
    /// another writer's bytes ([`ErrorKind::Conflict`](crate::ErrorKind::Conflict)). A sealed
    /// object takes no more appends (this handle's writes fail with
    /// [`ErrorKind::ObjectNotAppendable`](crate::ErrorKind::ObjectNotAppendable)), and its HEAD and
    /// GET carry the sealed time, which this returns. Sealing again returns the same time. A seal
    /// whose outcome is unknown is settled with a HEAD before it is sent again, as an append is.
    /// Rolling, it finishes the current object and the next write starts the next one, also
    /// when it fails: the seal is then tried again before the stream goes on.
    pub fn seal(&mut self) -> Result<SystemTime> {
        match &mut self.engine {
            Engine::Direct(a) => a.seal(),
            Engine::Buffered(b) => b.seal(),
            Engine::Rolling(r) => r.seal(),
        }
    }

    /// Ends the handle, flushing a buffered one first and sealing the object if `seal_on_close`
    /// says so; later writes fail with [`ErrorKind::Closed`](crate::ErrorKind::Closed). On failure
    /// the handle stays open with its bytes, and close can be called again.
    pub fn close(&mut self) -> Result<()> {
        match &mut self.engine {
            Engine::Direct(a) => a.close(),
            Engine::Buffered(b) => b.close(),
            Engine::Rolling(r) => r.close(),
        }
    }
}

/// Uploads every object's spool left in `dir` by appenders that did not close (a process
/// that crashed, say), as opening each object with the spool and closing it would, then
/// removes those spools: for a program that will not open those objects again (a crash
/// reporter at the next start). Each spool is settled with its object as
/// [`Appender::open`] settles it; one that cannot be (a conflict, a spool in use, a file
/// set aside, the network) is kept, the others are still drained, and the first such error
/// is returned, saying how many there were.
pub fn drain_spool(client: &Client, dir: impl AsRef<Path>) -> Result<()> {
    let dir = dir.as_ref();
    let mut failed = Vec::new();
    for stream in spool::streams(dir)? {
        let drained = stream.and_then(|(bucket, key)| {
            let options = AppendOptions {
                buffer: Some(BufferOptions::spooled(dir, SpoolSync::None)),
                ..AppendOptions::default()
            };
            Appender::open(client, &bucket, &key, options)?.close()
        });
        failed.extend(drained.err());
    }
    let count = failed.len();
    match failed.into_iter().next() {
        None => Ok(()),
        Some(first) if count == 1 => Err(first),
        Some(first) => {
            let message = format!(
                "{} (and {} more spools in {} could not be drained)",
                first.message(),
                count - 1,
                dir.display()
            );
            Err(first.with_message(message))
        }
    }
}
