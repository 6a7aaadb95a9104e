//! The panic boundary: every export runs its body through here, so a bug in the library
//! becomes `OSS_ERR_INTERNAL` with a message instead of unwinding into (and aborting) the
//! host program.

use super::error::{oss_error, oss_status};
use crate::error::{Error, ErrorKind, Result};
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs a fallible export. On failure the error goes to `*err` (when `err` is not NULL)
/// and its status is returned; on success `*err` is left untouched.
pub(super) fn call(err: *mut *mut oss_error, body: impl FnOnce() -> Result<()>) -> oss_status {
    let outcome =
        catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| Err(internal(&panic)));
    match outcome {
        Ok(()) => oss_status::OSS_OK,
        Err(error) => {
            let status = oss_status::from(error.kind());
            if !err.is_null() {
                // SAFETY: a non-NULL `err` points to a writable `oss_error *` (documented).
                unsafe { err.write(oss_error::into_raw(error)) };
            }
            status
        }
    }
}

/// Runs an export that cannot report an error (an accessor, a `_free`): a panic gives
/// `fallback`.
pub(super) fn value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

fn internal(panic: &Box<dyn Any + Send>) -> Error {
    let what = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic");
    Error::new(
        ErrorKind::Internal,
        format!("internal error in oss-append (please report it): {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_internal_error_with_its_message() {
        let mut err: *mut oss_error = std::ptr::null_mut();
        let status = call(&mut err, || panic!("deliberate test panic"));
        assert_eq!(status, oss_status::OSS_ERR_INTERNAL);
        assert!(!err.is_null());
        // SAFETY: `call` just made it, and it is freed once, after its message is read.
        let message = unsafe {
            let text = std::ffi::CStr::from_ptr(super::super::error::oss_error_message(err))
                .to_string_lossy()
                .into_owned();
            super::super::error::oss_error_free(err);
            text
        };
        assert!(message.contains("deliberate test panic"), "{message:?}");
        assert_eq!(
            call(std::ptr::null_mut(), || panic!("no err")),
            oss_status::OSS_ERR_INTERNAL
        );
        assert_eq!(value(7, || panic!("in an accessor")), 7);
    }
}
