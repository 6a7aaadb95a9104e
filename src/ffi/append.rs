//! `oss_append`: the appendable-object handle.

use super::args::{arg_bytes, arg_bytes_mut, arg_out, arg_str, write_out, UserData};
use super::client::oss_client;
use super::error::{oss_error, oss_status};
use super::gate::CallbackGate;
use super::options::oss_append_options;
use super::results::oss_object_info;
use super::{boundary, handle};
use crate::append::Appender;
use crate::error::{Error, ErrorKind, Result};
use std::ffi::{c_char, c_int, c_void};
use std::io;
use std::sync::{Arc, Mutex, TryLockError};
use std::time::Duration;

/// An open appendable object: writes go to its end, each byte exactly once. Made by
/// `oss_append_open`, owned by the caller, ended by `oss_append_close` or released by
/// `oss_append_free`. Different appenders may be used from different threads at once, on
/// one shared client.
///
/// One call at a time: a call made while another is running on the same appender (from
/// another thread, or from one of its callbacks) fails with `OSS_ERR_INVALID_ARGUMENT` and
/// changes nothing. `oss_append_free` is the exception: it may be called at any time, from
/// any thread or callback, and never frees memory under a call (see it).
///
/// Buffered (see `oss_append_options_set_buffer`), writes return once copied and a
/// background thread uploads; `oss_append_position` then counts bytes written,
/// `oss_append_crc64` covers the bytes stored, and `oss_append_pending` the difference.
/// Callbacks running on that upload thread (progress, and the client's log and credentials
/// callbacks) may use the appender without waiting for the upload: a call that would wait
/// for it (a write into a full buffer that waits, a flush with bytes pending, a seal, a
/// stat, a close) fails from there with `OSS_ERR_WOULD_BLOCK` or `OSS_ERR_INVALID_ARGUMENT`
/// instead of waiting forever.
///
/// Methods: `oss_append_write`, `oss_append_write_from`, `oss_append_write_file`,
/// `oss_append_flush`, `oss_append_pending`, `oss_append_position`, `oss_append_crc64`,
/// `oss_append_stat`, `oss_append_seal`, `oss_append_close`, `oss_append_free`.
pub struct oss_append {
    appender: Mutex<Appender>,
    /// Closed by the free: the callbacks are not called after it.
    callbacks: Arc<CallbackGate>,
}

/// Fills `buf` with up to `len` bytes of the caller's data: it sets `*read` to the number of
/// bytes (0 at the end of the data) and returns 0, or returns a nonzero error code (such as
/// an errno value) to fail the write with `OSS_ERR_IO`.
pub type oss_read_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        buf: *mut u8,
        len: usize,
        read: *mut usize,
    ) -> c_int,
>;

/// Runs `body` on the appender, held for the call, refusing a second concurrent caller
/// rather than blocking it.
///
/// # Safety
/// `append` is NULL or a live `oss_append`.
unsafe fn with_appender<T>(
    append: *const oss_append,
    body: impl FnOnce(&mut Appender, &Arc<CallbackGate>) -> Result<T>,
) -> Result<T> {
    let handle = handle::get(append, "append")?;
    if handle.callbacks.is_closed() {
        return Err(freed());
    }
    let result = match handle.appender.try_lock() {
        Ok(mut appender) => body(&mut appender, &handle.callbacks),
        Err(TryLockError::WouldBlock) => {
            return Err(Error::invalid_argument(
                "append is in use by another call: use an appender from one thread at a time, \
                 and not from its own callbacks",
            ))
        }
        Err(TryLockError::Poisoned(_)) => {
            return Err(Error::new(
                ErrorKind::Internal,
                "append is unusable after an internal error; free it and open the object again",
            ))
        }
    };
    // Freed during the call: the callbacks it met were refused, which it reports as a
    // cancel or a failed read; the caller is told why.
    match result {
        Err(e)
            if handle.callbacks.is_closed()
                && matches!(e.kind(), ErrorKind::Cancelled | ErrorKind::Io) =>
        {
            Err(Error::new(
                ErrorKind::Closed,
                format!("{} ({})", freed().message(), e.message()),
            ))
        }
        result => result,
    }
}

fn freed() -> Error {
    Error::new(
        ErrorKind::Closed,
        "the appender was freed (oss_append_free)",
    )
}

/// Opens `oss://bucket/key` for appending: an absent object is created by the first write
/// (with the create parameters of `options`), an appendable one is continued at its end
/// (one HEAD request), any other kind fails with `OSS_ERR_OBJECT_NOT_APPENDABLE`.
/// `options` may be NULL for the defaults; it and the strings are copied. On success `*out`
/// receives an appender the caller owns, ended with `oss_append_close` or `oss_append_free`.
/// Thread-safe with respect to `client`.
#[no_mangle]
pub unsafe extern "C" fn oss_append_open(
    client: *const oss_client,
    bucket: *const c_char,
    key: *const c_char,
    options: *const oss_append_options,
    out: *mut *mut oss_append,
    err: *mut *mut oss_error,
) -> oss_status {
    boundary::call(err, || {
        let (client, bucket, key) = oss_client::object(client, bucket, key)?;
        let out = arg_out(out, "out")?;
        let callbacks = Arc::new(CallbackGate::default());
        let options = oss_append_options::for_appender(options, &callbacks)?;
        let appender = Appender::open(&client.client, bucket, key, options)?;
        write_out(
            out,
            handle::new(oss_append {
                appender: Mutex::new(appender),
                callbacks,
            }),
        );
        Ok(())
    })
}

/// Appends `len` bytes at `data` (NULL is allowed with `len` 0), in requests of at most the
/// request size, and returns once all are stored. The data is only read during the call.
/// On failure, the requests before the failing one are stored and `oss_append_position`
/// tells how far; no byte is ever stored twice.
#[no_mangle]
pub unsafe extern "C" fn oss_append_write(
    append: *mut oss_append,
    data: *const u8,
    len: usize,
    err: *mut *mut oss_error,
) -> oss_status {
    boundary::call(err, || {
        let data = arg_bytes(data, len, "data")?;
        with_appender(append, |a, _| a.write(data))
    })
}

/// Appends everything `read` gives (see `oss_read_fn`) until it reports the end, through one
/// buffer of the request size, so memory stays flat however long the stream. `read` is
/// called on this thread with `user_data`. On success `*written` (when not NULL) receives
/// the number of bytes appended; on failure `oss_append_position` tells what was stored
/// (buffered: taken). Buffered, bytes once read are always taken: this waits for room even
/// when writes are set not to wait, and an upload error kept from earlier is returned after
/// the piece that met it was taken.
#[no_mangle]
pub unsafe extern "C" fn oss_append_write_from(
    append: *mut oss_append,
    read: oss_read_fn,
    user_data: *mut c_void,
    written: *mut u64,
    err: *mut *mut oss_error,
) -> oss_status {
    boundary::call(err, || {
        let read = read.ok_or_else(|| super::args::null("read"))?;
        let count = with_appender(append, |a, callbacks| {
            a.write_from(CallbackReader {
                read,
                user_data: UserData(user_data),
                callbacks,
            })
        })?;
        if !written.is_null() {
            write_out(written, count);
        }
        Ok(())
    })
}

/// Appends the whole file at `path` (copied), streaming it as `oss_append_write_from` does.
/// A file that cannot be opened or read fails with `OSS_ERR_IO` naming it. On success
/// `*written` (when not NULL) receives the number of bytes appended.
#[no_mangle]
pub unsafe extern "C" fn oss_append_write_file(
    append: *mut oss_append,
    path: *const c_char,
    written: *mut u64,
    err: *mut *mut oss_error,
) -> oss_status {
    boundary::call(err, || {
        let path = arg_str(path, "path")?;
        let count = with_appender(append, |a, _| a.write_file(path))?;
        if !written.is_null() {
            write_out(written, count);
        }
        Ok(())
    })
}

/// Writes to `*out` the object's length as far as this appender knows: where the next byte
/// goes. No request is sent.
#[no_mangle]
pub unsafe extern "C" fn oss_append_position(
    append: *const oss_append,
    out: *mut u64,
    err: *mut *mut oss_error,
) -> oss_status {
    read_state(append, out, err, Appender::position)
}

/// Writes to `*out` the CRC-64 of the whole object as far as this appender knows (it equals
/// the server's after every successful write). No request is sent.
#[no_mangle]
pub unsafe extern "C" fn oss_append_crc64(
    append: *const oss_append,
    out: *mut u64,
    err: *mut *mut oss_error,
) -> oss_status {
    read_state(append, out, err, Appender::crc64)
}

/// One of the appender's own numbers, into `*out`.
///
/// # Safety
/// `append` is NULL or a live `oss_append`; `out` is NULL or writable.
unsafe fn read_state(
    append: *const oss_append,
    out: *mut u64,
    err: *mut *mut oss_error,
    read: fn(&Appender) -> u64,
) -> oss_status {
    boundary::call(err, || {
        let out = arg_out(out, "out")?;
        let value = with_appender(append, |a, _| Ok(read(a)))?;
        write_out(out, value);
        Ok(())
    })
}

/// Writes to `*out` how many bytes were written but are not stored in OSS yet (always 0
/// for an unbuffered appender).
#[no_mangle]
pub unsafe extern "C" fn oss_append_pending(
    append: *const oss_append,
    out: *mut u64,
    err: *mut *mut oss_error,
) -> oss_status {
    read_state(append, out, err, Appender::pending)
}

/// Writes to `*out` the stream's length as far as this appender knows: `oss_append_position`,
/// but for a rolling stream the lengths of all its objects. No request is sent.
#[no_mangle]
pub unsafe extern "C" fn oss_append_stream_position(
    append: *const oss_append,
    out: *mut u64,
    err: *mut *mut oss_error,
) -> oss_status {
    read_state(append, out, err, Appender::stream_position)
}

/// Copies the key of the object being written (the key given at open; for a rolling stream,
/// its current object's) into `buf` as a NUL-terminated string, cut to `size - 1` bytes
/// when longer, as snprintf does, and writes its whole length (without the NUL) to
/// `*length`: a `*length` of `size` or more says it was cut. `buf` may be NULL with `size`
/// 0, to learn the length. No request is sent.
#[no_mangle]
pub unsafe extern "C" fn oss_append_key(
    append: *const oss_append,
    buf: *mut c_char,
    size: usize,
    length: *mut usize,
    err: *mut *mut oss_error,
) -> oss_status {
    boundary::call(err, || {
        let length = arg_out(length, "length")?;
        let buf = arg_bytes_mut(buf.cast(), size, "buf")?;
        let key = with_appender(append, |a, _| Ok(a.key()))?;
        if let Some(room) = size.checked_sub(1) {
            let n = key.len().min(room);
            buf[..n].copy_from_slice(&key.as_bytes()[..n]);
            buf[n] = 0;
        }
        write_out(length, key.len());
        Ok(())
    })
}

/// Copies up to `len` of the bytes written but not stored in OSS yet into `buf`, starting
/// at `offset` among them (0 is the first, at `oss_append_position` less
/// `oss_append_pending`), in the order written, and writes how many to `*copied` (0 past
/// the end, and always for an unbuffered appender). The bytes stay buffered. After an error
/// no retry mends (`OSS_ERR_CONFLICT`, `OSS_ERR_OBJECT_NOT_APPENDABLE`), this is how the
/// caller takes back what it handed over before freeing the appender: read until `*copied`
/// is 0, advancing `offset`. Waits for a request in flight (its bytes are out of the buffer
/// while it is sent). `buf` may be NULL with `len` 0.
#[no_mangle]
pub unsafe extern "C" fn oss_append_read_pending(
    append: *const oss_append,
    offset: u64,
    buf: *mut u8,
    len: usize,
    copied: *mut usize,
    err: *mut *mut oss_error,
) -> oss_status {
    boundary::call(err, || {
        let copied = arg_out(copied, "copied")?;
        let buf = arg_bytes_mut(buf, len, "buf")?;
        let count = with_appender(append, |a, _| a.read_pending(offset, buf))?;
        write_out(copied, count);
        Ok(())
    })
}

/// Waits until everything written so far is stored in OSS, at most `timeout_ms`
/// milliseconds (0: no limit). Fails with `OSS_ERR_TIMEOUT` when time runs out (the bytes
/// stay buffered and keep uploading), or with a kept upload error and all its details. An
/// unbuffered appender has nothing to wait for.
#[no_mangle]
pub unsafe extern "C" fn oss_append_flush(
    append: *mut oss_append,
    timeout_ms: u64,
    err: *mut *mut oss_error,
) -> oss_status {
    boundary::call(err, || {
        let timeout = (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms));
        with_appender(append, |a, _| a.flush(timeout))
    })
}

/// Seals the object at the appender's position (SealAppendObject); a buffered appender is
/// flushed first (no time limit). OSS refuses the seal unless the object's length is that
/// position, so a seal never cuts off another writer's bytes: a mismatch fails with
/// `OSS_ERR_CONFLICT` and both sides' length and CRC-64. A sealed object takes no more
/// appends: this appender's writes then fail with `OSS_ERR_OBJECT_NOT_APPENDABLE`, and so
/// does opening it again; `oss_append_stat` reports its sealed time. Sealing again succeeds
/// and changes nothing. A seal whose outcome is unknown (a timeout, a lost connection) is
/// settled with a HEAD before it is sent again. The appender stays open (close or free it).
#[no_mangle]
pub unsafe extern "C" fn oss_append_seal(
    append: *mut oss_append,
    err: *mut *mut oss_error,
) -> oss_status {
    boundary::call(err, || with_appender(append, |a, _| a.seal().map(drop)))
}

/// Asks the server (a HEAD) for the object's length, CRC-64, type, times, ETag, content
/// type, user metadata and version id. On success `*out` receives an `oss_object_info` the
/// caller owns and frees with `oss_object_info_free`. Fails with `OSS_ERR_NO_SUCH_KEY` if
/// nothing was written yet (or, where a gateway dropped OSS's error document, with
/// `OSS_ERR_SERVICE` and HTTP status 404).
#[no_mangle]
pub unsafe extern "C" fn oss_append_stat(
    append: *const oss_append,
    out: *mut *mut oss_object_info,
    err: *mut *mut oss_error,
) -> oss_status {
    boundary::call(err, || {
        let out = arg_out(out, "out")?;
        let info = with_appender(append, |a, _| a.stat())?;
        write_out(out, handle::new(oss_object_info::new(info)));
        Ok(())
    })
}

/// Ends the appender; a buffered one is flushed first (no time limit), and with
/// `oss_append_options_set_seal_on_close` the object is then sealed. On success it is
/// freed and must not be used again. On failure it stays valid with its unsent bytes, so
/// nothing is lost silently: inspect it (`oss_append_pending`), call close again (the upload
/// resumes), or release it with `oss_append_free`.
#[no_mangle]
pub unsafe extern "C" fn oss_append_close(
    append: *mut oss_append,
    err: *mut *mut oss_error,
) -> oss_status {
    let status = boundary::call(err, || with_appender(append, |a, _| a.close()));
    if status == oss_status::OSS_OK {
        // The caller gives the appender up with a successful close.
        oss_append_free(append);
    }
    status
}

/// Releases an appender, whatever its state; a buffered one's unsent bytes (see
/// `oss_append_pending`) are dropped. NULL is a no-op. Does not wait for a request in
/// flight, but once it returns the appender's progress and read callbacks are never called
/// again: one under way on another thread is waited for (so it must not itself wait for
/// the thread calling this).
///
/// May be called at any time: from another thread while a call on the appender is under
/// way, or from one of its callbacks (progress, read, or the client's log and credentials
/// callbacks). Memory is then never freed under that call: the call goes on without its
/// callbacks, stopping with `OSS_ERR_CLOSED` where it would have called one, and the
/// appender is released when it returns. Any other use of the appender after this returns
/// is the caller's error, as with any freed pointer.
#[no_mangle]
pub unsafe extern "C" fn oss_append_free(append: *mut oss_append) {
    boundary::value((), || {
        if let Ok(handle) = handle::get(append, "append") {
            handle.callbacks.close();
        }
    });
    handle::free(append);
}

/// The caller's read callback as a [`std::io::Read`], through the appender's door to its
/// callbacks.
struct CallbackReader<'a> {
    read: unsafe extern "C" fn(*mut c_void, *mut u8, usize, *mut usize) -> c_int,
    user_data: UserData,
    callbacks: &'a CallbackGate,
}

impl io::Read for CallbackReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut count = 0usize;
        let code = self
            .callbacks
            .enter(|| {
                // SAFETY: the caller's callback with its own user_data; `buf` is valid for
                // its length.
                unsafe {
                    (self.read)(
                        self.user_data.get(),
                        buf.as_mut_ptr(),
                        buf.len(),
                        &mut count,
                    )
                }
            })
            .ok_or_else(|| io::Error::other("the read callback's appender was freed"))?;
        if code != 0 {
            return Err(io::Error::other(format!(
                "the read callback returned error {code} ({})",
                io::Error::from_raw_os_error(code)
            )));
        }
        if count > buf.len() {
            return Err(io::Error::other(format!(
                "the read callback reported {count} bytes read into a buffer of {}",
                buf.len()
            )));
        }
        Ok(count)
    }
}
