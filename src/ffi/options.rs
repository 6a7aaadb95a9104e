//! `oss_append_options`: how an appender writes and what a new object is created with.

use super::args::{arg_str, c_text, choice, UserData};
use super::error::{oss_error, oss_status};
use super::gate::CallbackGate;
use super::{boundary, handle};
use crate::append::{
    check_request_size, AppendOptions, BufferOptions, RollCallback, RollOptions, SpoolOptions,
    SpoolSync,
};
use crate::error::{Error, Result};
use crate::object::{AppendObjectOptions, CreateParams, RequestParams};
use std::ffi::{c_char, c_int, c_void};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The largest request size `oss_append_options_set_request_size` takes: 5 GiB, the largest
/// appendable object.
pub const OSS_MAX_REQUEST_SIZE: u64 = 5_368_709_120;
/// The largest buffer `oss_append_options_set_buffer` takes: 1 GiB.
pub const OSS_MAX_BUFFER_CAPACITY: usize = 1 << 30;
// The header's numbers are the core's.
const _: () = assert!(OSS_MAX_REQUEST_SIZE == crate::object::MAX_OBJECT_SIZE);
const _: () = assert!(OSS_MAX_BUFFER_CAPACITY == crate::append::MAX_BUFFER_CAPACITY);

/// Options for `oss_append_open` and `oss_append_object`. Made by `oss_append_options_new`,
/// owned by the caller, freed with `oss_append_options_free`. Opening copies them, so they
/// may be changed or freed afterwards and reused for many appenders. Calls on one options
/// object are serialised, so it may be shared between threads.
///
/// The create parameters (content type, metadata, ACL, storage class, tagging, cache control,
/// content disposition, content encoding, expires, server-side encryption) go with the
/// append that creates the object; OSS ignores them later. Request payer and traffic limit
/// go with every append. Every setter checks its value at once and, on failure, leaves the
/// options as they were.
pub struct oss_append_options {
    options: Mutex<Options>,
}

/// Called after each request that landed: `increment` bytes just stored, `transferred` so
/// far in this call, `total` the call's size or -1 when unknown (a stream). Never goes
/// backwards, even across retries. Return false to stop: the call fails with
/// `OSS_ERR_CANCELLED`, keeping what was stored. Called on the writing thread.
pub type oss_progress_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        increment: u64,
        transferred: u64,
        total: i64,
    ) -> bool,
>;

/// Called when a rolling stream has finished an object, after its last append (and seal,
/// with `seal_on_close`) landed, on the thread that finished it (the writing thread, or a
/// buffered appender's upload thread):
/// `finished_key` (valid during the call only), and the length and CRC-64 the server
/// confirmed. Called once for each object this appender finished.
pub type oss_roll_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        finished_key: *const c_char,
        length: u64,
        crc64: u64,
    ),
>;

#[derive(Clone)]
struct Options {
    create: CreateParams,
    request: RequestParams,
    check_crc: bool,
    request_size: usize,
    seal_on_close: bool,
    buffer: Option<BufferOptions>,
    /// Apart from the buffer, so either may be set first; joined at open.
    spool: Option<SpoolOptions>,
    progress: Option<(
        unsafe extern "C" fn(*mut c_void, u64, u64, i64) -> bool,
        UserData,
    )>,
    /// The roll limits: size, and age in ms (0: none).
    roll: Option<(u64, u64)>,
    roll_callback: Option<(
        unsafe extern "C" fn(*mut c_void, *const c_char, u64, u64),
        UserData,
    )>,
}

impl From<AppendOptions> for Options {
    /// The core's defaults, so the C API's are the same.
    fn from(o: AppendOptions) -> Options {
        Options {
            create: o.create,
            request: o.request,
            check_crc: o.check_crc,
            request_size: o.request_size,
            seal_on_close: o.seal_on_close,
            buffer: o.buffer,
            spool: None,
            progress: None,
            roll: None,
            roll_callback: None,
        }
    }
}

impl oss_append_options {
    /// The options as they are now; the defaults for a NULL `options`.
    ///
    /// # Safety
    /// `options` is NULL or a live `oss_append_options`.
    unsafe fn read(options: *const oss_append_options) -> Options {
        handle::read(options, None, |o| {
            Some(
                o.options
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone(),
            )
        })
        .unwrap_or_else(|| Options::from(AppendOptions::default()))
    }

    /// The appender's options; `options` may be NULL for the defaults. The progress
    /// callback goes through `callbacks`, the appender's door to its callbacks: once the
    /// appender is freed it is not called, and the call under way is stopped.
    ///
    /// # Safety
    /// `options` is NULL or a live `oss_append_options`.
    pub(super) unsafe fn for_appender(
        options: *const oss_append_options,
        callbacks: &Arc<CallbackGate>,
    ) -> Result<AppendOptions> {
        let o = Self::read(options);
        let buffer = match (o.buffer, o.spool) {
            (buffer, None) => buffer,
            (Some(buffer), spool) => Some(BufferOptions { spool, ..buffer }),
            (None, Some(_)) => {
                return Err(Error::invalid_argument(
                    "options: a spool is set without a buffer; only a buffered appender \
                     spools (oss_append_options_set_buffer)",
                ))
            }
        };
        if o.roll.is_none() && o.roll_callback.is_some() {
            return Err(Error::invalid_argument(
                "options: a roll callback is set without rolling; only a rolling stream \
                 finishes objects (oss_append_options_set_roll)",
            ));
        }
        Ok(AppendOptions {
            create: o.create,
            request: o.request,
            check_crc: o.check_crc,
            request_size: o.request_size,
            seal_on_close: o.seal_on_close,
            buffer,
            roll: o.roll.map(|(max_object_size, age_ms)| RollOptions {
                max_object_size,
                max_age: (age_ms > 0).then(|| Duration::from_millis(age_ms)),
                on_roll: o
                    .roll_callback
                    .map(|(callback, user_data)| -> RollCallback {
                        let callbacks = callbacks.clone();
                        Box::new(move |key, length, crc| {
                            let key = c_text(key);
                            callbacks.enter(|| {
                                // SAFETY: the caller's callback with its own user_data
                                // (documented); the key lives through the call.
                                unsafe { callback(user_data.get(), key.as_ptr(), length, crc) }
                            });
                        })
                    }),
            }),
            progress: o.progress.map(|(callback, user_data)| -> crate::Progress {
                let callbacks = callbacks.clone();
                // A free during the callback (by it, or by another thread) stops the call
                // here too, whatever the callback answered.
                Box::new(move |increment, transferred, total| {
                    callbacks
                        .enter(|| {
                            // SAFETY: the caller's callback with its own user_data (documented).
                            unsafe { callback(user_data.get(), increment, transferred, total) }
                        })
                        .unwrap_or(false)
                        && !callbacks.is_closed()
                })
            }),
        })
    }

    /// The one-request append's options; `options` may be NULL for the defaults.
    ///
    /// # Safety
    /// `options` is NULL or a live `oss_append_options`.
    pub(super) unsafe fn for_append_object(
        options: *const oss_append_options,
        previous_crc: Option<u64>,
    ) -> AppendObjectOptions {
        let o = Self::read(options);
        AppendObjectOptions {
            create: o.create,
            request: o.request,
            previous_crc,
        }
    }
}

/// Makes options with the defaults: no create parameters, CRC check on, 8 MiB requests, no
/// progress callback. The caller owns them and frees them with `oss_append_options_free`.
/// Returns NULL only if the library failed internally.
#[no_mangle]
pub extern "C" fn oss_append_options_new() -> *mut oss_append_options {
    boundary::value(std::ptr::null_mut(), || {
        handle::new(oss_append_options {
            options: Mutex::new(Options::from(AppendOptions::default())),
        })
    })
}

/// Frees options. NULL is a no-op. Appenders opened with them are not affected.
#[no_mangle]
pub unsafe extern "C" fn oss_append_options_free(options: *mut oss_append_options) {
    handle::free(options);
}

/// Applies one setter to a copy, checks the copy, and keeps it only if it is valid.
///
/// # Safety
/// `options` is NULL or a live `oss_append_options`.
unsafe fn update(
    options: *mut oss_append_options,
    err: *mut *mut oss_error,
    change: impl FnOnce(&mut Options) -> Result<()>,
) -> oss_status {
    boundary::call(err, || {
        let options = handle::get(options, "options")?;
        let mut current = options
            .options
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut next = current.clone();
        change(&mut next)?;
        // The core's own checks, so a bad value fails here rather than at open.
        check_request_size(next.request_size)?;
        next.create.validate()?;
        next.request.validate()?;
        if let Some(buffer) = &next.buffer {
            buffer.validate()?;
        }
        *current = next;
        Ok(())
    })
}

/// A create parameter that is one string: set from `value`, copied.
///
/// # Safety
/// As [`update`]; `value` is NULL or a NUL-terminated string.
unsafe fn set_create_text(
    options: *mut oss_append_options,
    value: *const c_char,
    err: *mut *mut oss_error,
    field: fn(&mut CreateParams) -> &mut Option<String>,
) -> oss_status {
    update(options, err, |o| {
        *field(&mut o.create) = Some(arg_str(value, "value")?.to_string());
        Ok(())
    })
}

/// `Content-Type` of the new object, such as "text/plain". Copied.
#[no_mangle]
pub unsafe extern "C" fn oss_append_options_set_content_type(
    options: *mut oss_append_options,
    value: *const c_char,
    err: *mut *mut oss_error,
) -> oss_status {
    set_create_text(options, value, err, |c| &mut c.content_type)
}

/// `Cache-Control` of the new object. Copied.
#[no_mangle]
pub unsafe extern "C" fn oss_append_options_set_cache_control(
    options: *mut oss_append_options,
    value: *const c_char,
    err: *mut *mut oss_error,
) -> oss_status {
    set_create_text(options, value, err, |c| &mut c.cache_control)
}

/// `Content-Disposition` of the new object. Copied.
#[no_mangle]
pub unsafe extern "C" fn oss_append_options_set_content_disposition(
    options: *mut oss_append_options,
    value: *const c_char,
    err: *mut *mut oss_error,
) -> oss_status {
    set_create_text(options, value, err, |c| &mut c.content_disposition)
}

/// `Content-Encoding` of the new object. Copied.
#[no_mangle]
pub unsafe extern "C" fn oss_append_options_set_content_encoding(
    options: *mut oss_append_options,
    value: *const c_char,
    err: *mut *mut oss_error,
) -> oss_status {
    set_create_text(options, value, err, |c| &mut c.content_encoding)
}

/// `Expires` of the new object, an HTTP date. Copied.
#[no_mangle]
pub unsafe extern "C" fn oss_append_options_set_expires(
    options: *mut oss_append_options,
    value: *const c_char,
    err: *mut *mut oss_error,
) -> oss_status {
    set_create_text(options, value, err, |c| &mut c.expires)
}

/// The new object's ACL: "private", "public-read", "public-read-write" or "default".
#[no_mangle]
pub unsafe extern "C" fn oss_append_options_set_acl(
    options: *mut oss_append_options,
    value: *const c_char,
    err: *mut *mut oss_error,
) -> oss_status {
    set_create_text(options, value, err, |c| &mut c.acl)
}

/// The new object's storage class: "Standard", "IA", "Archive", "ColdArchive" or
/// "DeepColdArchive".
#[no_mangle]
pub unsafe extern "C" fn oss_append_options_set_storage_class(
    options: *mut oss_append_options,
    value: *const c_char,
    err: *mut *mut oss_error,
) -> oss_status {
    set_create_text(options, value, err, |c| &mut c.storage_class)
}

/// The new object's tags, URL-encoded: "k1=v1&k2=v2". Copied.
#[no_mangle]
pub unsafe extern "C" fn oss_append_options_set_tagging(
    options: *mut oss_append_options,
    value: *const c_char,
    err: *mut *mut oss_error,
) -> oss_status {
    set_create_text(options, value, err, |c| &mut c.tagging)
}

/// Adds user metadata `x-oss-meta-<name>: value` to the new object. The name takes letters,
/// digits, '-', '_' and '.' (OSS stores it lowercased); both are copied. Adding a name again
/// adds another value.
#[no_mangle]
pub unsafe extern "C" fn oss_append_options_add_metadata(
    options: *mut oss_append_options,
    name: *const c_char,
    value: *const c_char,
    err: *mut *mut oss_error,
) -> oss_status {
    update(options, err, |o| {
        let name = arg_str(name, "name")?;
        let value = arg_str(value, "value")?;
        o.create
            .metadata
            .push((name.to_string(), value.to_string()));
        Ok(())
    })
}

/// Server-side encryption of the new object: `algorithm` "AES256", "KMS" or "SM4";
/// `kms_key_id` (KMS only) and `data_encryption` ("SM4", KMS only) may be NULL. Copied.
#[no_mangle]
pub unsafe extern "C" fn oss_append_options_set_server_side_encryption(
    options: *mut oss_append_options,
    algorithm: *const c_char,
    kms_key_id: *const c_char,
    data_encryption: *const c_char,
    err: *mut *mut oss_error,
) -> oss_status {
    update(options, err, |o| {
        let optional = |p: *const c_char, name| -> Result<Option<String>> {
            if p.is_null() {
                return Ok(None);
            }
            Ok(Some(arg_str(p, name)?.to_string()))
        };
        o.create.server_side_encryption = Some(arg_str(algorithm, "algorithm")?.to_string());
        o.create.server_side_encryption_key_id = optional(kms_key_id, "kms_key_id")?;
        o.create.server_side_data_encryption = optional(data_encryption, "data_encryption")?;
        Ok(())
    })
}

/// `x-oss-request-payer` on every append, "requester" for requester-pays buckets. Copied.
#[no_mangle]
pub unsafe extern "C" fn oss_append_options_set_request_payer(
    options: *mut oss_append_options,
    value: *const c_char,
    err: *mut *mut oss_error,
) -> oss_status {
    update(options, err, |o| {
        o.request.request_payer = Some(arg_str(value, "value")?.to_string());
        Ok(())
    })
}

/// A bandwidth limit for every append, in bit/s: 245760 (30 KiB/s) to 838860800
/// (100 MiB/s), as OSS allows.
#[no_mangle]
pub unsafe extern "C" fn oss_append_options_set_traffic_limit(
    options: *mut oss_append_options,
    bits_per_second: u64,
    err: *mut *mut oss_error,
) -> oss_status {
    update(options, err, |o| {
        o.request.traffic_limit = Some(bits_per_second);
        Ok(())
    })
}

/// Whether to check the server's CRC-64 of the whole object after every append (default
/// true). Off, only the length is checked.
#[no_mangle]
pub unsafe extern "C" fn oss_append_options_set_check_crc(
    options: *mut oss_append_options,
    check: bool,
    err: *mut *mut oss_error,
) -> oss_status {
    update(options, err, |o| {
        o.check_crc = check;
        Ok(())
    })
}

/// Whether `oss_append_close` seals the object (see `oss_append_seal`; default false). A
/// failed seal fails the close and leaves the appender open.
#[no_mangle]
pub unsafe extern "C" fn oss_append_options_set_seal_on_close(
    options: *mut oss_append_options,
    seal: bool,
    err: *mut *mut oss_error,
) -> oss_status {
    update(options, err, |o| {
        o.seal_on_close = seal;
        Ok(())
    })
}

/// The largest body of one request, in bytes (default 8 MiB; 1 to `OSS_MAX_REQUEST_SIZE`). A
/// longer write is split; `oss_append_write_from` reads through one buffer of this size, and
/// fails with `OSS_ERR_OUT_OF_MEMORY` if it cannot be had.
#[no_mangle]
pub unsafe extern "C" fn oss_append_options_set_request_size(
    options: *mut oss_append_options,
    bytes: usize,
    err: *mut *mut oss_error,
) -> oss_status {
    update(options, err, |o| {
        o.request_size = bytes;
        Ok(())
    })
}

/// Buffered mode: `oss_append_write` copies into a buffer of `capacity` bytes (1 to
/// `OSS_MAX_BUFFER_CAPACITY`; memory is taken as data comes, a request's worth at a time,
/// and a write that cannot have it fails with `OSS_ERR_OUT_OF_MEMORY`, taking nothing of the
/// part that needed it) and returns at once, and a background thread uploads it in requests
/// of up to the request size, sending a shorter one once a byte has waited `max_delay_ms`. When the buffer is full, a write
/// waits for room if `block_when_full`, else fails with `OSS_ERR_WOULD_BLOCK` taking
/// nothing. `oss_append_flush` waits for storage and `oss_append_pending` counts what is not
/// stored yet; an upload error is returned by the next write, flush or close, and the upload
/// resumes after it. The progress callback then runs on the upload thread.
#[no_mangle]
pub unsafe extern "C" fn oss_append_options_set_buffer(
    options: *mut oss_append_options,
    capacity: usize,
    max_delay_ms: u64,
    block_when_full: bool,
    err: *mut *mut oss_error,
) -> oss_status {
    update(options, err, |o| {
        o.buffer = Some(BufferOptions {
            capacity,
            max_delay: Duration::from_millis(max_delay_ms),
            block_when_full,
            // Joined from the options' own at open.
            spool: None,
        });
        Ok(())
    })
}

/// Values for `oss_append_options_set_spool`: when spooled bytes are forced to disk.
#[repr(C)]
pub enum oss_spool_sync {
    /// Never: the operating system writes them back when it likes. A crash of the process
    /// loses no acknowledged write; a power cut may lose what the system had not written.
    OSS_SPOOL_SYNC_NONE = 0,
    /// `fdatasync` at most every `interval_ms`: a power cut loses at most about that much of
    /// the latest writes (more while a request is in flight), a crash of the process none.
    OSS_SPOOL_SYNC_INTERVAL = 1,
    /// A write returns once its bytes are on disk (`fdatasync`, and the directory synced
    /// when a spool file is made): a power cut loses no acknowledged write.
    OSS_SPOOL_SYNC_EVERY_WRITE = 2,
}

/// A buffered appender (see `oss_append_options_set_buffer`, which must be set too, or the
/// open fails) keeps its unsent bytes in files under `dir` (made if missing) instead of
/// memory: a write returns once its bytes are in the spool file (and on disk, as `sync`
/// says: an `oss_spool_sync` value as an `int`; `interval_ms`, from 1, is read for
/// `OSS_SPOOL_SYNC_INTERVAL` only). The buffer's capacity is then the spool's size on disk;
/// memory stays bounded by the request size. A write the disk refuses (full, or an I/O
/// error) fails with `OSS_ERR_SPOOL_IO` and is not taken; what was taken before is kept.
///
/// What survives: everything a write acknowledged, through a crash of the process; through
/// a power cut, as `sync` says. Opening the same bucket and key with the same `dir` first
/// settles what an earlier appender left there: a HEAD, and if the object's length falls
/// inside the spooled bytes with their CRC-64, the rest is uploaded ahead of new writes;
/// any other state (shorter, longer, other bytes, not appendable) is `OSS_ERR_CONFLICT`
/// with both sides, and the spool is kept, never uploaded blindly. A spool file that is
/// not usable (not one, of an unknown version, damaged, cut inside its header) fails the
/// open with `OSS_ERR_SPOOL_IO` naming it, and is renamed aside with `.bad`, never
/// uploaded or deleted; the next open goes on without it. A spool has one owner: another
/// appender on it, in this process or another, is refused with `OSS_ERR_SPOOL_IN_USE`
/// (the lock is on a close-on-exec file: a child forked without an exec keeps it). A clean
/// `oss_append_close` removes the spool; `oss_append_free` without one keeps it, and waits
/// for the request in flight so that the spool is free when it returns.
/// `oss_spool_drain` uploads spools a program will not reopen. A NULL `dir` removes the
/// spool from the options.
#[no_mangle]
pub unsafe extern "C" fn oss_append_options_set_spool(
    options: *mut oss_append_options,
    dir: *const c_char,
    sync: c_int,
    interval_ms: u32,
    err: *mut *mut oss_error,
) -> oss_status {
    use oss_spool_sync::*;
    let dir = (!dir.is_null()).then(|| arg_str(dir, "dir"));
    update(options, err, |o| {
        let Some(dir) = dir.transpose()? else {
            o.spool = None;
            return Ok(());
        };
        let sync = choice(
            "sync",
            sync,
            &[
                (OSS_SPOOL_SYNC_NONE as c_int, "OSS_SPOOL_SYNC_NONE", None),
                (
                    OSS_SPOOL_SYNC_INTERVAL as c_int,
                    "OSS_SPOOL_SYNC_INTERVAL",
                    Some(SpoolSync::Interval(Duration::from_millis(
                        interval_ms.into(),
                    ))),
                ),
                (
                    OSS_SPOOL_SYNC_EVERY_WRITE as c_int,
                    "OSS_SPOOL_SYNC_EVERY_WRITE",
                    Some(SpoolSync::EveryWrite),
                ),
            ],
        )?
        .unwrap_or(SpoolSync::None);
        if sync == SpoolSync::Interval(Duration::ZERO) {
            return Err(Error::invalid_argument(
                "interval_ms 0: from 1 (or OSS_SPOOL_SYNC_EVERY_WRITE)",
            ));
        }
        if dir.is_empty() {
            return Err(Error::invalid_argument("dir is empty"));
        }
        o.spool = Some(SpoolOptions {
            dir: PathBuf::from(dir),
            sync,
        });
        Ok(())
    })
}

/// Rolling: the key given to `oss_append_open` is then a template holding "{n}" once, and
/// the stream goes on in the next numbered object (the number zero-padded to 6 digits, so
/// keys sort in stream order) before a write that would take the current one past
/// `max_object_size` (1 byte to `OSS_MAX_REQUEST_SIZE`, 5 GiB; only a write larger than that
/// is split, filling objects in turn), and before the first write after the current object
/// was written to for `max_age_ms` (0: no age limit). At open the stream lists the
/// template's prefix and continues its highest-numbered object when that is appendable, not
/// sealed and below the limit, else starts the next number, moving past objects in its way
/// (never writing over them). A template without exactly one "{n}", or making keys OSS
/// does not take, fails at open with `OSS_ERR_INVALID_ARGUMENT`. Later rolls start an object
/// of their own (one at the next number that already holds bytes is moved past). With a
/// buffer, objects still end at write boundaries (the writing thread decides where, the
/// upload thread rolls there); not with a spool yet (open fails, naming it).
/// `oss_append_position` and `oss_append_crc64` then tell of the current object (buffered:
/// position as written, CRC-64 as stored), `oss_append_stream_position` of the whole stream,
/// `oss_append_key` which object (buffered: the one the upload is at). `oss_append_seal`
/// finishes the current object even when it fails: the seal is tried again before the
/// stream goes on.
#[no_mangle]
pub unsafe extern "C" fn oss_append_options_set_roll(
    options: *mut oss_append_options,
    max_object_size: u64,
    max_age_ms: u64,
    err: *mut *mut oss_error,
) -> oss_status {
    update(options, err, |o| {
        if max_object_size == 0 || max_object_size > OSS_MAX_REQUEST_SIZE {
            return Err(Error::invalid_argument(format!(
                "max_object_size {max_object_size}: from 1 byte to {OSS_MAX_REQUEST_SIZE} (5 GiB)"
            )));
        }
        o.roll = Some((max_object_size, max_age_ms));
        Ok(())
    })
}

/// Calls `callback` with `user_data` for each object a rolling stream finished (see
/// `oss_roll_fn`). `user_data` must stay valid while any appender opened with these options
/// is open; the library does not free it. Once `oss_append_close` succeeds or
/// `oss_append_free` returns, the callback is not called again. The callback may free its
/// own appender (it is released once the call under way returns); calling anything else on
/// it from the callback is refused. Pass a NULL callback to remove it. Without
/// `oss_append_options_set_roll`, an open with these options fails, naming it.
#[no_mangle]
pub unsafe extern "C" fn oss_append_options_set_roll_callback(
    options: *mut oss_append_options,
    callback: oss_roll_fn,
    user_data: *mut c_void,
    err: *mut *mut oss_error,
) -> oss_status {
    update(options, err, |o| {
        o.roll_callback = callback.map(|callback| (callback, UserData(user_data)));
        Ok(())
    })
}

/// Calls `callback` with `user_data` after each request that landed (see `oss_progress_fn`).
/// `user_data` must stay valid while any appender opened with these options is open; the
/// library does not free it. Once `oss_append_close` succeeds or `oss_append_free` returns,
/// the callback is not called again (a buffered appender's upload thread may still finish a
/// request, silently), so `user_data` may then be freed. The callback may free its own
/// appender (the call under way then stops with `OSS_ERR_CLOSED`); calling anything else on
/// it is refused while the call that runs the callback is under way. A buffered appender
/// calls it on its upload thread, where calls that would wait for that thread are refused
/// (see `oss_append`). Pass a NULL callback to remove it.
#[no_mangle]
pub unsafe extern "C" fn oss_append_options_set_progress(
    options: *mut oss_append_options,
    callback: oss_progress_fn,
    user_data: *mut c_void,
    err: *mut *mut oss_error,
) -> oss_status {
    update(options, err, |o| {
        o.progress = callback.map(|callback| (callback, UserData(user_data)));
        Ok(())
    })
}
