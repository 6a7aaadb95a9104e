//! The answers calls hand back: `oss_object_info` (`oss_append_stat`) and
//! `oss_append_result` (`oss_append_object`). Opaque objects read through accessors, so a
//! later release can tell more without changing any size a program was compiled with, and
//! strings of any length are handed back whole.

use super::args::{c_text, text_ptr};
use super::handle;
use crate::object::{AppendResult, ObjectInfo, ObjectType};
use std::ffi::{c_char, CString};
use std::ptr;
use std::time::{SystemTime, UNIX_EPOCH};

/// What kind of object OSS says it is.
#[repr(C)]
#[derive(Clone, Copy)]
pub enum oss_object_type {
    OSS_OBJECT_APPENDABLE = 1,
    OSS_OBJECT_NORMAL = 2,
    OSS_OBJECT_MULTIPART = 3,
    OSS_OBJECT_OTHER = 4,
}

/// An object as the server described it (`oss_append_stat`): length, CRC-64, type, times,
/// ETag, content type, user metadata, version id and the HEAD's request id. Made by the
/// library, owned by the caller, freed with `oss_object_info_free`; its strings live as long
/// as it does. Immutable: may be read from any thread. Every accessor takes NULL and then
/// gives its "absent" value.
///
/// Methods: `oss_object_info_length`, `oss_object_info_crc64`, `oss_object_info_type`,
/// `oss_object_info_last_modified`, `oss_object_info_sealed_time`, `oss_object_info_etag`,
/// `oss_object_info_content_type`, `oss_object_info_version_id`,
/// `oss_object_info_request_id`, `oss_object_info_metadata_count`,
/// `oss_object_info_metadata`, `oss_object_info_free`.
pub struct oss_object_info {
    length: u64,
    crc64: Option<u64>,
    object_type: oss_object_type,
    last_modified: i64,
    sealed_time: i64,
    etag: Option<CString>,
    content_type: Option<CString>,
    version_id: Option<CString>,
    request_id: Option<CString>,
    metadata: Vec<(CString, CString)>,
}

impl oss_object_info {
    pub(super) fn new(info: ObjectInfo) -> oss_object_info {
        let text = |s: Option<String>| s.as_deref().map(c_text);
        oss_object_info {
            length: info.length,
            crc64: info.crc64,
            object_type: match info.object_type {
                ObjectType::Appendable => oss_object_type::OSS_OBJECT_APPENDABLE,
                ObjectType::Normal => oss_object_type::OSS_OBJECT_NORMAL,
                ObjectType::Multipart => oss_object_type::OSS_OBJECT_MULTIPART,
                ObjectType::Other => oss_object_type::OSS_OBJECT_OTHER,
            },
            last_modified: seconds(info.last_modified),
            sealed_time: seconds(info.sealed_time),
            etag: text(info.etag),
            content_type: text(info.content_type),
            version_id: text(info.version_id),
            request_id: text(info.request_id),
            metadata: info
                .metadata
                .iter()
                .map(|(name, value)| (c_text(name), c_text(value)))
                .collect(),
        }
    }
}

/// Seconds since 1970, or -1 for a time the server did not give (or one before 1970).
fn seconds(time: Option<SystemTime>) -> i64 {
    time.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .unwrap_or(-1)
}

/// The object's length in bytes; 0 for a NULL `info`.
#[no_mangle]
pub unsafe extern "C" fn oss_object_info_length(info: *const oss_object_info) -> u64 {
    handle::read(info, 0, |i| i.length)
}

/// Writes the CRC-64 of the whole object (`x-oss-hash-crc64ecma`) to `*out` and returns
/// true; returns false, writing nothing, when the server sent none or an argument is NULL.
#[no_mangle]
pub unsafe extern "C" fn oss_object_info_crc64(
    info: *const oss_object_info,
    out: *mut u64,
) -> bool {
    handle::read(info, false, |i| match i.crc64 {
        Some(crc) if !out.is_null() => {
            out.write(crc);
            true
        }
        _ => false,
    })
}

/// The object's type; `OSS_OBJECT_OTHER` for a NULL `info`.
#[no_mangle]
pub unsafe extern "C" fn oss_object_info_type(info: *const oss_object_info) -> oss_object_type {
    handle::read(info, oss_object_type::OSS_OBJECT_OTHER, |i| i.object_type)
}

/// When the object was last modified, in seconds since 1970; -1 when the server did not
/// say (or `info` is NULL).
#[no_mangle]
pub unsafe extern "C" fn oss_object_info_last_modified(info: *const oss_object_info) -> i64 {
    handle::read(info, -1, |i| i.last_modified)
}

/// When the object was sealed (`x-oss-sealed-time`), in seconds since 1970; -1 while it is
/// not sealed (or `info` is NULL).
#[no_mangle]
pub unsafe extern "C" fn oss_object_info_sealed_time(info: *const oss_object_info) -> i64 {
    handle::read(info, -1, |i| i.sealed_time)
}

/// The ETag, quotes included as OSS sends it; NULL when absent. Owned by `info`.
#[no_mangle]
pub unsafe extern "C" fn oss_object_info_etag(info: *const oss_object_info) -> *const c_char {
    handle::read(info, ptr::null(), |i| text_ptr(&i.etag))
}

/// The object's `Content-Type`; NULL when absent. Owned by `info`.
#[no_mangle]
pub unsafe extern "C" fn oss_object_info_content_type(
    info: *const oss_object_info,
) -> *const c_char {
    handle::read(info, ptr::null(), |i| text_ptr(&i.content_type))
}

/// On a versioned bucket, the version the HEAD described; NULL when absent. Owned by `info`.
#[no_mangle]
pub unsafe extern "C" fn oss_object_info_version_id(info: *const oss_object_info) -> *const c_char {
    handle::read(info, ptr::null(), |i| text_ptr(&i.version_id))
}

/// The HEAD's `x-oss-request-id`; NULL when absent. Owned by `info`.
#[no_mangle]
pub unsafe extern "C" fn oss_object_info_request_id(info: *const oss_object_info) -> *const c_char {
    handle::read(info, ptr::null(), |i| text_ptr(&i.request_id))
}

/// How many user metadata entries (`x-oss-meta-*`) the object has; 0 for a NULL `info`.
#[no_mangle]
pub unsafe extern "C" fn oss_object_info_metadata_count(info: *const oss_object_info) -> usize {
    handle::read(info, 0, |i| i.metadata.len())
}

/// User metadata entry `index` (from 0 to the count less one): writes its name (without
/// `x-oss-meta-`, lowercase as OSS stores it) to `*name` and its value to `*value` and
/// returns true. Both strings are owned by `info`. Returns false, writing nothing, for an
/// index past the end or a NULL argument.
#[no_mangle]
pub unsafe extern "C" fn oss_object_info_metadata(
    info: *const oss_object_info,
    index: usize,
    name: *mut *const c_char,
    value: *mut *const c_char,
) -> bool {
    handle::read(info, false, |i| match i.metadata.get(index) {
        Some((n, v)) if !name.is_null() && !value.is_null() => {
            name.write(n.as_ptr());
            value.write(v.as_ptr());
            true
        }
        _ => false,
    })
}

/// Frees an object info and its strings. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn oss_object_info_free(info: *mut oss_object_info) {
    handle::free(info);
}

/// What one AppendObject returned (`oss_append_object`): the next position, the CRC-64 of
/// the whole object, and the answer's ETag, version id and request id. Made by the library,
/// owned by the caller, freed with `oss_append_result_free`; its strings live as long as it
/// does. Immutable: may be read from any thread. Every accessor takes NULL and then gives its
/// "absent" value.
///
/// Methods: `oss_append_result_next_position`, `oss_append_result_crc64`,
/// `oss_append_result_etag`, `oss_append_result_version_id`,
/// `oss_append_result_request_id`, `oss_append_result_free`.
pub struct oss_append_result {
    next_position: u64,
    crc64: u64,
    etag: Option<CString>,
    version_id: Option<CString>,
    request_id: Option<CString>,
}

impl oss_append_result {
    pub(super) fn new(result: AppendResult) -> oss_append_result {
        let text = |s: Option<String>| s.as_deref().map(c_text);
        oss_append_result {
            next_position: result.next_position,
            crc64: result.crc64,
            etag: text(result.etag),
            version_id: text(result.version_id),
            request_id: text(result.request_id),
        }
    }
}

/// The object's length after the append: where the next one goes. 0 for a NULL `result`.
#[no_mangle]
pub unsafe extern "C" fn oss_append_result_next_position(result: *const oss_append_result) -> u64 {
    handle::read(result, 0, |r| r.next_position)
}

/// The CRC-64 of the whole object after the append, as the server computed it. 0 for a NULL
/// `result`.
#[no_mangle]
pub unsafe extern "C" fn oss_append_result_crc64(result: *const oss_append_result) -> u64 {
    handle::read(result, 0, |r| r.crc64)
}

/// The object's ETag after the append; NULL when absent. Owned by `result`.
#[no_mangle]
pub unsafe extern "C" fn oss_append_result_etag(result: *const oss_append_result) -> *const c_char {
    handle::read(result, ptr::null(), |r| text_ptr(&r.etag))
}

/// On a versioned bucket, the version the append made; NULL when absent. Owned by `result`.
#[no_mangle]
pub unsafe extern "C" fn oss_append_result_version_id(
    result: *const oss_append_result,
) -> *const c_char {
    handle::read(result, ptr::null(), |r| text_ptr(&r.version_id))
}

/// The append's `x-oss-request-id`; NULL when absent. Owned by `result`.
#[no_mangle]
pub unsafe extern "C" fn oss_append_result_request_id(
    result: *const oss_append_result,
) -> *const c_char {
    handle::read(result, ptr::null(), |r| text_ptr(&r.request_id))
}

/// Frees an append result and its strings. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn oss_append_result_free(result: *mut oss_append_result) {
    handle::free(result);
}
