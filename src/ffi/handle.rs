//! How C holds the library's objects. Every handle is an `Arc` behind the pointer C sees:
//! a call takes a reference of its own for as long as it runs, so a `*_free` made during
//! the call (from one of the handle's callbacks, or on another thread) only gives up the
//! caller's reference, and the object goes when the last call on it returns, never under
//! one (rustls-ffi's `Arc` handles).
//!
//! What stays the caller's duty, as with any pointer: not to use a handle once its free
//! has returned, which includes starting a call that races with the free.

use super::args::null;
use crate::error::Result;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// A new handle owning `value`, for the caller to free with [`free`].
pub(super) fn new<T>(value: T) -> *mut T {
    Arc::into_raw(Arc::new(value)).cast_mut()
}

/// The object behind a handle argument, held for the call.
///
/// # Safety
/// `handle` is NULL or came from [`new`] for this `T` and its free has not returned.
pub(super) unsafe fn get<T>(handle: *const T, name: &str) -> Result<Arc<T>> {
    hold(handle).ok_or_else(|| null(name))
}

/// # Safety
/// As [`get`].
unsafe fn hold<T>(handle: *const T) -> Option<Arc<T>> {
    if handle.is_null() {
        return None;
    }
    // SAFETY: the caller still holds its reference, so the count is at least one here.
    Arc::increment_strong_count(handle);
    Some(Arc::from_raw(handle))
}

/// Gives up the caller's reference; NULL is a no-op. The object is dropped now, or when
/// the last call under way on it returns.
///
/// # Safety
/// `handle` is NULL or came from [`new`] for this `T`, and the caller does not use it again.
pub(super) unsafe fn free<T>(handle: *const T) {
    if !handle.is_null() {
        // A panic in a drop must not unwind into C.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Arc::from_raw(handle))));
    }
}

/// Runs an accessor on a handle that may be NULL (then `fallback`, as after a panic).
///
/// # Safety
/// As [`get`].
pub(super) unsafe fn read<T, R>(handle: *const T, fallback: R, read: impl FnOnce(&T) -> R) -> R {
    match hold(handle) {
        Some(object) => catch_unwind(AssertUnwindSafe(|| read(&object))).unwrap_or(fallback),
        None => fallback,
    }
}
