//! `oss_client`: one endpoint and identity, shared by every appender made from it, and the
//! single AppendObject request made on it.

use super::args::{arg_bytes, arg_out, arg_str, write_out};
use super::config::oss_config;
use super::error::{oss_error, oss_status};
use super::options::oss_append_options;
use super::results::oss_append_result;
use super::{boundary, handle};
use crate::append::drain_spool;
use crate::client::Client;
use crate::error::Result;
use std::ffi::c_char;
use std::sync::Arc;

/// A connection to one OSS endpoint with one identity: a connection pool, a credentials
/// cache and a clock correction, shared by every appender opened on it. Made by
/// `oss_client_new`, owned by the caller, freed with `oss_client_free`. Thread-safe: any
/// number of threads may use one client at once. Appenders keep what they need of it, so
/// the client may be freed while they are still open, and also during a call on it (from
/// another thread, or from its credentials or log callback): the call goes on, and the
/// client is released when the last call returns.
pub struct oss_client {
    pub(super) client: Client,
}

impl oss_client {
    /// The client (held for the call) and the object named by the arguments of
    /// `oss_append_open` and `oss_append_object`.
    ///
    /// # Safety
    /// Each pointer is NULL or valid: a live `oss_client`, NUL-terminated strings.
    pub(super) unsafe fn object<'a>(
        client: *const oss_client,
        bucket: *const c_char,
        key: *const c_char,
    ) -> Result<(Arc<oss_client>, &'a str, &'a str)> {
        let client = handle::get(client, "client")?;
        Ok((client, arg_str(bucket, "bucket")?, arg_str(key, "key")?))
    }
}

/// Makes a client from `config` (read, not taken: the caller still owns and frees it).
/// On success `*out` receives a client the caller owns and frees with `oss_client_free`.
/// Fails with `OSS_ERR_INVALID_ARGUMENT` when the config lacks an endpoint, a V4 region,
/// or has an unreadable CA file or a bad proxy; nothing is sent over the network.
#[no_mangle]
pub unsafe extern "C" fn oss_client_new(
    config: *const oss_config,
    out: *mut *mut oss_client,
    err: *mut *mut oss_error,
) -> oss_status {
    boundary::call(err, || {
        let config = handle::get(config, "config")?.snapshot();
        let out = arg_out(out, "out")?;
        let client = Client::new(&config)?;
        write_out(out, handle::new(oss_client { client }));
        Ok(())
    })
}

/// Frees a client. NULL is a no-op. Open appenders keep working; the connection pool goes
/// when the last of them is freed. May be called during a call on the client (see
/// `oss_client`).
#[no_mangle]
pub unsafe extern "C" fn oss_client_free(client: *mut oss_client) {
    handle::free(client);
}

/// One AppendObject request: appends `len` bytes at `data` to `oss://bucket/key` at
/// `position`, which must be the object's length (0 creates it, with the create parameters
/// of `options`, which may be NULL). Not retried when its outcome is unknown (a timeout,
/// a lost connection, a 5xx): the caller owns the position and must find out (the appender
/// does this itself). With `previous_crc` (the object's CRC-64 before, or NULL) the server's
/// CRC-64 afterwards is checked. On success `*out` (when not NULL) receives a result the
/// caller owns and frees with `oss_append_result_free`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn oss_append_object(
    client: *const oss_client,
    bucket: *const c_char,
    key: *const c_char,
    position: u64,
    data: *const u8,
    len: usize,
    options: *const oss_append_options,
    previous_crc: *const u64,
    out: *mut *mut oss_append_result,
    err: *mut *mut oss_error,
) -> oss_status {
    boundary::call(err, || {
        let (client, bucket, key) = oss_client::object(client, bucket, key)?;
        let data = arg_bytes(data, len, "data")?;
        let options =
            oss_append_options::for_append_object(options, previous_crc.as_ref().copied());
        let result = client
            .client
            .append_object(bucket, key, position, data, &options)?;
        if !out.is_null() {
            write_out(out, handle::new(oss_append_result::new(result)));
        }
        Ok(())
    })
}

/// Uploads every object's spool left in `dir` by appenders that did not close (a process
/// that crashed, say), each settled with its object as `oss_append_open` settles it (see
/// `oss_append_options_set_spool`), then removes those spools: for a program that will not
/// open those objects again (a crash reporter at its next start). A spool that cannot be
/// drained (a conflict, one in use, a file set aside, the network) is kept while the others
/// are drained, and the first such error is returned, saying how many there were. A
/// directory that does not exist has nothing to drain. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn oss_spool_drain(
    client: *const oss_client,
    dir: *const c_char,
    err: *mut *mut oss_error,
) -> oss_status {
    boundary::call(err, || {
        let client = handle::get(client, "client")?;
        drain_spool(&client.client, arg_str(dir, "dir")?)
    })
}
