//! The C ABI. Thin on purpose: check pointers, convert C types, call the core, turn its
//! result into a status code and an error object, and never let a panic unwind into C.
//! Protocol logic lives in the core; nothing here knows what a request looks like.
//!
//! Ownership follows one rule: a `*_new`/`*_open` result is the caller's until its `*_free`
//! (or `oss_append_close`). Every handle is an `Arc` ([`handle`]), so a free during a call
//! on the same handle waits for nothing and frees nothing under the call; an appender also
//! closes the door to its callbacks then ([`gate`]). Every object guards its own state, so
//! misuse from several threads is refused, not a race.

// The exported types carry their C names.
#![allow(non_camel_case_types)]

mod append;
mod boundary;
mod client;
mod config;
mod error;
mod gate;
mod handle;
mod options;
mod results;

use crate::error::{Error, Result};
use error::{oss_error, oss_status};
use std::ffi::{c_char, c_void, CStr, CString};

/// A caller's `void *user_data`, handed back to its callbacks. The caller promises the
/// callbacks may be called from any thread (documented on every function taking one).
#[derive(Clone, Copy)]
struct UserData(*mut c_void);

// SAFETY: the pointer is never dereferenced here, only passed back to the caller's callback,
// which the documentation requires to be callable from any thread.
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

impl UserData {
    /// A method, not the field, so closures capture the whole `Send` wrapper.
    fn get(self) -> *mut c_void {
        self.0
    }
}

fn null(name: &str) -> Error {
    Error::invalid_argument(format!("{name} is NULL"))
}

/// A NUL-terminated UTF-8 argument, borrowed for the call.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives the call.
unsafe fn arg_str<'a>(p: *const c_char, name: &str) -> Result<&'a str> {
    if p.is_null() {
        return Err(null(name));
    }
    CStr::from_ptr(p)
        .to_str()
        .map_err(|_| Error::invalid_argument(format!("{name} is not valid UTF-8")))
}

/// `len` bytes at `p`; NULL is allowed with length 0.
///
/// # Safety
/// `p` is NULL or points to `len` readable bytes that outlive the call.
unsafe fn arg_bytes<'a>(p: *const u8, len: usize, name: &str) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::invalid_argument(format!(
            "{name} is NULL with a length of {len}"
        )));
    }
    if len > isize::MAX as usize {
        return Err(Error::invalid_argument(format!(
            "{name}: length {len} is larger than any buffer"
        )));
    }
    Ok(std::slice::from_raw_parts(p, len))
}

/// `len` writable bytes at `p`; NULL is allowed with length 0.
///
/// # Safety
/// `p` is NULL or points to `len` writable bytes that outlive the call.
unsafe fn arg_bytes_mut<'a>(p: *mut u8, len: usize, name: &str) -> Result<&'a mut [u8]> {
    arg_bytes(p, len, name)?;
    if len == 0 {
        return Ok(&mut []);
    }
    Ok(std::slice::from_raw_parts_mut(p, len))
}

/// Checks a required out-parameter before any work, so a NULL one fails without effects.
fn arg_out<T>(p: *mut T, name: &str) -> Result<*mut T> {
    if p.is_null() {
        return Err(null(name));
    }
    Ok(p)
}

/// Writes an out-parameter checked by [`arg_out`]; called only once the call has succeeded.
///
/// # Safety
/// `p` came from [`arg_out`] and points to writable memory for a `T`.
unsafe fn write_out<T>(p: *mut T, value: T) {
    // `write`, not assignment: the caller's memory may hold anything, and is not dropped.
    p.write(value)
}

/// A C string of `text`; a NUL inside (never from OSS: HTTP headers cannot hold one)
/// would end it early, so it is dropped.
fn c_text(text: &str) -> CString {
    CString::new(text.replace('\0', "")).unwrap_or_default()
}

/// The C string of an optional text, NULL when absent; it lives as long as `text`.
fn text_ptr(text: &Option<CString>) -> *const c_char {
    text.as_ref().map_or(std::ptr::null(), |t| t.as_ptr())
}

/// The library's version, such as "1.0.0": the one running, which may be newer than the
/// header's `OSS_APPEND_VERSION_*` a program was compiled with. A static string: never
/// freed, never NULL. Thread-safe.
#[no_mangle]
pub extern "C" fn oss_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The running library's version as one number, major * 1000000 + minor * 1000 + patch
/// (1.2.3 is 1002003), to compare with the header's `OSS_APPEND_VERSION_NUMBER`: a program
/// runs on any library of its major version that is at least as new. Thread-safe.
#[no_mangle]
pub extern "C" fn oss_version_number() -> u32 {
    boundary::value(0, || {
        let part = |text: &str| text.parse::<u32>().unwrap_or(0);
        part(env!("CARGO_PKG_VERSION_MAJOR")) * 1_000_000
            + part(env!("CARGO_PKG_VERSION_MINOR")) * 1_000
            + part(env!("CARGO_PKG_VERSION_PATCH"))
    })
}

/// Continues the CRC-64 (ECMA-182, as OSS reports in `x-oss-hash-crc64ecma`) in `*crc` with
/// `len` more bytes; start from 0. Lets a caller check an object against its local data.
/// `data` may be NULL when `len` is 0. `*crc` is updated only on success. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn oss_crc64_update(
    crc: *mut u64,
    data: *const u8,
    len: usize,
    err: *mut *mut oss_error,
) -> oss_status {
    boundary::call(err, || {
        let crc = arg_out(crc, "crc")?;
        let bytes = arg_bytes(data, len, "data")?;
        let mut digest = oss_protocol::crc64::Crc64::resume(crc.read());
        digest.update(bytes);
        write_out(crc, digest.value());
        Ok(())
    })
}
