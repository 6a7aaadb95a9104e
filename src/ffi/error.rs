//! Status codes and the error object: what a failed call tells its caller.

use super::args::{c_text, text_ptr};
use super::handle;
use crate::error::{Error, ErrorKind};
use std::ffi::{c_char, c_int, CStr, CString};
use std::ptr;

/// What a call did. `OSS_OK` is 0; every other value is a failure with a fixed meaning.
/// The values are stable across releases: new codes are only ever added at the end.
/// `oss_status_str` describes each one.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum oss_status {
    OSS_OK = 0,
    /// An argument is NULL, not UTF-8, out of range or refused by OSS as malformed
    /// (InvalidArgument, InvalidObjectName, InvalidBucketName, ...). Nothing was sent.
    OSS_ERR_INVALID_ARGUMENT = 1,
    /// OSS PositionNotEqualToLength: the object's length is not the position written at.
    /// `oss_error_next_position` gives the object's length.
    OSS_ERR_POSITION_NOT_EQUAL_TO_LENGTH = 2,
    /// OSS ObjectNotAppendable: the object exists and is not an appendable object.
    OSS_ERR_OBJECT_NOT_APPENDABLE = 3,
    /// OSS AccessDenied: the identity may not do this.
    OSS_ERR_ACCESS_DENIED = 4,
    /// OSS SignatureDoesNotMatch: usually a wrong AccessKey secret.
    OSS_ERR_SIGNATURE_MISMATCH = 5,
    /// OSS InvalidAccessKeyId: the AccessKey id is unknown or disabled.
    OSS_ERR_INVALID_ACCESS_KEY = 6,
    /// OSS InvalidSecurityToken or SecurityTokenExpired (STS credentials).
    OSS_ERR_SECURITY_TOKEN = 7,
    /// OSS NoSuchBucket.
    OSS_ERR_NO_SUCH_BUCKET = 8,
    /// OSS NoSuchKey.
    OSS_ERR_NO_SUCH_KEY = 9,
    /// The append would make the object larger than OSS allows (5 GiB); nothing was sent.
    OSS_ERR_OBJECT_TOO_LARGE = 10,
    /// OSS RequestTimeTooSkewed, still failing after the clock was corrected from the server.
    OSS_ERR_REQUEST_TIME_SKEWED = 11,
    /// The server's CRC-64 of the object differs from the client's: data was damaged.
    OSS_ERR_CRC_MISMATCH = 12,
    /// Another writer changed the object: it holds neither what it held before this append
    /// nor what the append would have made. `oss_error_server_state` and
    /// `oss_error_client_state` give both sides.
    OSS_ERR_CONFLICT = 13,
    /// Throttled or temporarily unavailable (HTTP 429, 503), after the retries allowed.
    OSS_ERR_UNAVAILABLE = 14,
    /// Another server-side failure (HTTP 5xx), after the retries allowed.
    OSS_ERR_SERVER_ERROR = 15,
    /// Any other error from OSS: `oss_error_code` has OSS's code.
    OSS_ERR_SERVICE = 16,
    /// No answer in time.
    OSS_ERR_TIMEOUT = 17,
    /// The connection failed (DNS, refused, reset).
    OSS_ERR_NETWORK = 18,
    /// TLS failed (certificate not trusted, handshake).
    OSS_ERR_TLS = 19,
    /// Reading the caller's data failed (a file, a read callback).
    OSS_ERR_IO = 20,
    /// A progress callback asked to stop.
    OSS_ERR_CANCELLED = 21,
    /// The handle is closed.
    OSS_ERR_CLOSED = 22,
    /// No credentials: none configured, the environment lacks them or a callback gave none.
    OSS_ERR_CREDENTIALS_MISSING = 23,
    /// A bug in this library, caught before it could reach the caller.
    OSS_ERR_INTERNAL = 24,
    /// A buffered write found the buffer full and took nothing (the appender was set not
    /// to wait): write again later, or flush.
    OSS_ERR_WOULD_BLOCK = 25,
    /// Memory for a buffer of the size the caller set (a request size, a buffer capacity)
    /// could not be allocated: nothing of the part that needed it was taken or sent (a
    /// buffered write larger than the buffer may have taken earlier parts:
    /// `oss_append_position` tells). Choose a smaller size.
    OSS_ERR_OUT_OF_MEMORY = 26,
    /// The disk spool failed: its directory or a file of it could not be made, written,
    /// synced or read (a full disk, say), or a file in it is not a usable spool file: the
    /// message names it, and it was renamed aside with `.bad`, never uploaded or deleted. The
    /// part of a write that failed this way was not taken: a write larger than the buffer is
    /// taken in parts, and those before are kept (`oss_append_position` says how far), as is
    /// everything taken before.
    OSS_ERR_SPOOL_IO = 27,
    /// Another appender, in this process or another, owns the spool of this object.
    OSS_ERR_SPOOL_IN_USE = 28,
}

/// Highest value of `oss_status`, for range checks.
const LAST: oss_status = oss_status::OSS_ERR_SPOOL_IN_USE;

impl From<ErrorKind> for oss_status {
    fn from(kind: ErrorKind) -> oss_status {
        use oss_status::*;
        match kind {
            ErrorKind::InvalidArgument => OSS_ERR_INVALID_ARGUMENT,
            ErrorKind::PositionNotEqualToLength => OSS_ERR_POSITION_NOT_EQUAL_TO_LENGTH,
            ErrorKind::ObjectNotAppendable => OSS_ERR_OBJECT_NOT_APPENDABLE,
            ErrorKind::AccessDenied => OSS_ERR_ACCESS_DENIED,
            ErrorKind::SignatureMismatch => OSS_ERR_SIGNATURE_MISMATCH,
            ErrorKind::InvalidAccessKey => OSS_ERR_INVALID_ACCESS_KEY,
            ErrorKind::SecurityToken => OSS_ERR_SECURITY_TOKEN,
            ErrorKind::NoSuchBucket => OSS_ERR_NO_SUCH_BUCKET,
            ErrorKind::NoSuchKey => OSS_ERR_NO_SUCH_KEY,
            ErrorKind::ObjectTooLarge => OSS_ERR_OBJECT_TOO_LARGE,
            ErrorKind::RequestTimeSkewed => OSS_ERR_REQUEST_TIME_SKEWED,
            ErrorKind::CrcMismatch => OSS_ERR_CRC_MISMATCH,
            ErrorKind::Conflict => OSS_ERR_CONFLICT,
            ErrorKind::Unavailable => OSS_ERR_UNAVAILABLE,
            ErrorKind::ServerError => OSS_ERR_SERVER_ERROR,
            ErrorKind::Service => OSS_ERR_SERVICE,
            ErrorKind::Timeout => OSS_ERR_TIMEOUT,
            ErrorKind::Network => OSS_ERR_NETWORK,
            ErrorKind::Tls => OSS_ERR_TLS,
            ErrorKind::Io => OSS_ERR_IO,
            ErrorKind::Cancelled => OSS_ERR_CANCELLED,
            ErrorKind::Closed => OSS_ERR_CLOSED,
            ErrorKind::CredentialsMissing => OSS_ERR_CREDENTIALS_MISSING,
            ErrorKind::Internal => OSS_ERR_INTERNAL,
            ErrorKind::WouldBlock => OSS_ERR_WOULD_BLOCK,
            ErrorKind::OutOfMemory => OSS_ERR_OUT_OF_MEMORY,
            ErrorKind::SpoolIo => OSS_ERR_SPOOL_IO,
            ErrorKind::SpoolInUse => OSS_ERR_SPOOL_IN_USE,
        }
    }
}

/// Descriptions, indexed by status value.
const DESCRIPTIONS: [&CStr; LAST as usize + 1] = [
    c"success",
    c"invalid argument",
    c"position not equal to the object's length",
    c"object is not appendable",
    c"access denied",
    c"signature does not match",
    c"invalid AccessKey id",
    c"security token invalid or expired",
    c"no such bucket",
    c"no such key",
    c"object too large",
    c"request time too skewed",
    c"CRC-64 mismatch",
    c"conflict with another writer",
    c"service throttled or unavailable",
    c"server error",
    c"service error",
    c"timed out",
    c"network error",
    c"TLS error",
    c"local I/O error",
    c"cancelled",
    c"handle closed",
    c"credentials missing",
    c"internal error",
    c"buffer full, would block",
    c"out of memory",
    c"spool I/O error",
    c"spool in use by another appender",
];

/// A short English description of a status code: a static string, never NULL, never freed.
/// Takes an `int` so that any value is safe to pass; an unknown one gives "unknown status".
/// Thread-safe.
#[no_mangle]
pub extern "C" fn oss_status_str(status: c_int) -> *const c_char {
    usize::try_from(status)
        .ok()
        .and_then(|index| DESCRIPTIONS.get(index))
        .unwrap_or(&c"unknown status")
        .as_ptr()
}

/// The details of a failure: status, message and, where the server answered, its code,
/// request id, EC and more. Made by the library, handed to the caller through an
/// `oss_error **err` out-parameter; the caller owns it and frees it with `oss_error_free`.
/// Its strings live as long as it does. Immutable: may be read from any thread.
///
/// Methods: `oss_error_status`, `oss_error_message`, `oss_error_code`,
/// `oss_error_request_id`, `oss_error_ec`, `oss_error_host_id`, `oss_error_http_status`,
/// `oss_error_next_position`, `oss_error_server_state`, `oss_error_client_state`,
/// `oss_error_free`.
pub struct oss_error {
    error: Error,
    message: CString,
    code: Option<CString>,
    request_id: Option<CString>,
    ec: Option<CString>,
    host_id: Option<CString>,
}

impl oss_error {
    pub(super) fn into_raw(error: Error) -> *mut oss_error {
        let text = |s: Option<&str>| s.map(c_text);
        handle::new(oss_error {
            message: c_text(&error.to_string()),
            code: text(error.code()),
            request_id: text(error.request_id()),
            ec: text(error.ec()),
            host_id: text(error.host_id()),
            error,
        })
    }
}

/// The status of the failure; `OSS_ERR_INVALID_ARGUMENT` for a NULL `error`.
#[no_mangle]
pub unsafe extern "C" fn oss_error_status(error: *const oss_error) -> oss_status {
    handle::read(error, oss_status::OSS_ERR_INVALID_ARGUMENT, |e| {
        oss_status::from(e.error.kind())
    })
}

/// A message for people: what failed and why, with the server's code, request id and
/// EC when it answered. Never NULL (a NULL `error` gives a static text); owned by `error`.
#[no_mangle]
pub unsafe extern "C" fn oss_error_message(error: *const oss_error) -> *const c_char {
    let null_error = c"oss_error_message: error is NULL".as_ptr();
    handle::read(error, null_error, |e| e.message.as_ptr())
}

/// OSS's error code, such as "PositionNotEqualToLength"; NULL when the server did not
/// answer with one. Owned by `error`.
#[no_mangle]
pub unsafe extern "C" fn oss_error_code(error: *const oss_error) -> *const c_char {
    handle::read(error, ptr::null(), |e| text_ptr(&e.code))
}

/// The `x-oss-request-id` of the failed request, to quote to Alibaba Cloud support; NULL
/// when there was none. Owned by `error`.
#[no_mangle]
pub unsafe extern "C" fn oss_error_request_id(error: *const oss_error) -> *const c_char {
    handle::read(error, ptr::null(), |e| text_ptr(&e.request_id))
}

/// OSS's EC (error detail code, such as "0026-00000001"); NULL when absent. Owned by `error`.
#[no_mangle]
pub unsafe extern "C" fn oss_error_ec(error: *const oss_error) -> *const c_char {
    handle::read(error, ptr::null(), |e| text_ptr(&e.ec))
}

/// OSS's HostId; NULL when absent. Owned by `error`.
#[no_mangle]
pub unsafe extern "C" fn oss_error_host_id(error: *const oss_error) -> *const c_char {
    handle::read(error, ptr::null(), |e| text_ptr(&e.host_id))
}

/// The HTTP status of the server's answer; 0 when there was no answer (or `error` is NULL).
#[no_mangle]
pub unsafe extern "C" fn oss_error_http_status(error: *const oss_error) -> c_int {
    handle::read(error, 0, |e| e.error.http_status().map_or(0, c_int::from))
}

/// Writes the object's length as the server reported it (`x-oss-next-append-position`, sent
/// with PositionNotEqualToLength) to `*out` and returns true; returns false, leaving `*out`
/// alone, when the server did not say or an argument is NULL.
#[no_mangle]
pub unsafe extern "C" fn oss_error_next_position(error: *const oss_error, out: *mut u64) -> bool {
    handle::read(error, false, |e| {
        match (e.error.next_position(), out.is_null()) {
            (Some(position), false) => {
                out.write(position);
                true
            }
            _ => false,
        }
    })
}

/// For `OSS_ERR_CONFLICT` and `OSS_ERR_CRC_MISMATCH`: the object's length and CRC-64 on the
/// server. Returns false, writing nothing, for other errors or NULL arguments.
#[no_mangle]
pub unsafe extern "C" fn oss_error_server_state(
    error: *const oss_error,
    length: *mut u64,
    crc64: *mut u64,
) -> bool {
    handle::read(error, false, |e| {
        write_pair(e.error.server_state(), length, crc64)
    })
}

/// For `OSS_ERR_CONFLICT` and `OSS_ERR_CRC_MISMATCH`: the length and CRC-64 this client
/// expected. Returns false, writing nothing, for other errors or NULL arguments.
#[no_mangle]
pub unsafe extern "C" fn oss_error_client_state(
    error: *const oss_error,
    length: *mut u64,
    crc64: *mut u64,
) -> bool {
    handle::read(error, false, |e| {
        write_pair(e.error.client_state(), length, crc64)
    })
}

unsafe fn write_pair(state: Option<(u64, u64)>, length: *mut u64, crc64: *mut u64) -> bool {
    match state {
        Some((l, c)) if !length.is_null() && !crc64.is_null() => {
            length.write(l);
            crc64.write(c);
            true
        }
        _ => false,
    }
}

/// Frees an error and its strings. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn oss_error_free(error: *mut oss_error) {
    handle::free(error);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe(status: c_int) -> &'static str {
        // SAFETY: oss_status_str returns a static C string.
        unsafe { CStr::from_ptr(oss_status_str(status)) }
            .to_str()
            .unwrap()
    }

    #[test]
    fn every_status_has_its_own_description_and_others_are_unknown() {
        let descriptions: Vec<&str> = (0..=LAST as c_int).map(describe).collect();
        assert!(!descriptions.contains(&"unknown status"));
        let mut unique = descriptions.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), descriptions.len());
        assert_eq!(
            describe(oss_status::OSS_ERR_CONFLICT as c_int),
            "conflict with another writer"
        );
        for outside in [-1, LAST as c_int + 1, c_int::MAX, c_int::MIN] {
            assert_eq!(describe(outside), "unknown status");
        }
    }
}
