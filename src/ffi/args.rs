//! Arguments from C and results for it: pointer checks that name the argument, C strings
//! made and lent, and the caller's `user_data`. Every export takes these; they take nothing
//! from the other files of `ffi`.

use crate::error::{Error, Result};
use std::ffi::{c_char, c_int, c_void, CStr, CString};

/// A caller's `void *user_data`, handed back to its callbacks. The caller promises the
/// callbacks may be called from any thread (documented on every function taking one).
#[derive(Clone, Copy)]
pub(super) struct UserData(pub(super) *mut c_void);

// SAFETY: the pointer is never dereferenced here, only passed back to the caller's callback,
// which the documentation requires to be callable from any thread.
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

impl UserData {
    /// A method, not the field, so closures capture the whole `Send` wrapper.
    pub(super) fn get(self) -> *mut c_void {
        self.0
    }
}

pub(super) fn null(name: &str) -> Error {
    Error::invalid_argument(format!("{name} is NULL"))
}

/// A NUL-terminated UTF-8 argument, borrowed for the call.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives the call.
pub(super) unsafe fn arg_str<'a>(p: *const c_char, name: &str) -> Result<&'a str> {
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
pub(super) unsafe fn arg_bytes<'a>(p: *const u8, len: usize, name: &str) -> Result<&'a [u8]> {
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
pub(super) unsafe fn arg_bytes_mut<'a>(p: *mut u8, len: usize, name: &str) -> Result<&'a mut [u8]> {
    arg_bytes(p, len, name)?;
    if len == 0 {
        return Ok(&mut []);
    }
    Ok(std::slice::from_raw_parts_mut(p, len))
}

/// Checks a required out-parameter before any work, so a NULL one fails without effects.
pub(super) fn arg_out<T>(p: *mut T, name: &str) -> Result<*mut T> {
    if p.is_null() {
        return Err(null(name));
    }
    Ok(p)
}

/// Writes an out-parameter checked by [`arg_out`]; called only once the call has succeeded.
///
/// # Safety
/// `p` came from [`arg_out`] and points to writable memory for a `T`.
pub(super) unsafe fn write_out<T>(p: *mut T, value: T) {
    // `write`, not assignment: the caller's memory may hold anything, and is not dropped.
    p.write(value)
}

/// A C string of `text`; a NUL inside (never from OSS: HTTP headers cannot hold one)
/// would end it early, so it is dropped.
pub(super) fn c_text(text: &str) -> CString {
    CString::new(text.replace('\0', "")).unwrap_or_default()
}

/// The C string of an optional text, NULL when absent; it lives as long as `text`.
pub(super) fn text_ptr(text: &Option<CString>) -> *const c_char {
    text.as_ref().map_or(std::ptr::null(), |t| t.as_ptr())
}

/// The meaning of a C enum value passed as an `int`; any other value is refused by name.
pub(super) fn choice<T: Copy>(name: &str, value: c_int, choices: &[(c_int, &str, T)]) -> Result<T> {
    choices
        .iter()
        .find(|(v, _, _)| *v == value)
        .map(|(_, _, meaning)| *meaning)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(_, n, _)| *n).collect();
            Error::invalid_argument(format!("{name} {value}: use {}", names.join(" or ")))
        })
}
