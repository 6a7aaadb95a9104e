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
mod args;
mod boundary;
mod client;
mod config;
mod error;
mod gate;
mod handle;
mod options;
mod results;

use args::{arg_bytes, arg_out, write_out};
use error::{oss_error, oss_status};
use std::ffi::c_char;

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
