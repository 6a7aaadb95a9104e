//! `oss_client`: one endpoint and identity, shared by every appender made from it.

use super::config::oss_config;
use super::error::{oss_error, oss_status};
use super::{arg_out, arg_ref, boundary, write_out};
use crate::client::Client;

/// A connection to one OSS endpoint with one identity: a connection pool, a credentials
/// cache and a clock correction, shared by every appender opened on it. Made by
/// `oss_client_new`, owned by the caller, freed with `oss_client_free`. Thread-safe: any
/// number of threads may use one client at once. Appenders keep what they need of it, so
/// the client may be freed while they are still open.
pub struct oss_client {
    pub(super) client: Client,
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
        let config = arg_ref(config, "config")?.snapshot();
        let out = arg_out(out, "out")?;
        let client = Client::new(&config)?;
        write_out(out, Box::into_raw(Box::new(oss_client { client })));
        Ok(())
    })
}

/// Frees a client. NULL is a no-op. Open appenders keep working; the connection pool goes
/// when the last of them is freed.
#[no_mangle]
pub unsafe extern "C" fn oss_client_free(client: *mut oss_client) {
    boundary::release(client);
}
