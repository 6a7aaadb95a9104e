//! `oss_config`: everything a client is made from, set one value at a time.

use super::args::{arg_str, choice, null, UserData};
use super::error::{oss_error, oss_status};
use super::{boundary, handle};
use crate::config::{Config, LogLevel, RetryPolicy, SignatureVersion, UrlStyle};
use crate::credentials::{Credentials, CredentialsProvider};
use crate::error::{Error, ErrorKind, Result};
use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Settings for `oss_client_new`: endpoint, region, credentials, signing, timeouts, retries,
/// TLS and proxy. Made by `oss_config_new`, owned by the caller, freed with
/// `oss_config_free`. A client copies what it needs, so the config may be changed or freed
/// once the client exists, and one config can make many clients. Calls on one config are
/// serialised, so using it from several threads is safe (if rarely useful).
///
/// Defaults: signature V4, virtual-hosted URLs (path style for an IP endpoint), connect
/// timeout 10 s, request timeout 60 s, 3 attempts, the bundled CA roots, no proxy.
///
/// Methods: `oss_config_set_endpoint`, `oss_config_set_region`, `oss_config_set_credentials`,
/// `oss_config_set_credentials_from_env`, `oss_config_set_credentials_callback`,
/// `oss_config_set_signature_version`, `oss_config_set_url_style`,
/// `oss_config_set_connect_timeout_ms`, `oss_config_set_request_timeout_ms`,
/// `oss_config_set_retry`, `oss_config_set_ca_file`, `oss_config_set_proxy`,
/// `oss_config_set_user_agent`, `oss_config_set_log`, `oss_config_free`.
pub struct oss_config {
    config: Mutex<Config>,
}

/// Values for `oss_config_set_signature_version`.
#[repr(C)]
pub enum oss_signature_version {
    /// HMAC-SHA1 over the request: the classic OSS signature.
    OSS_SIGNATURE_V1 = 1,
    /// HMAC-SHA256 with a region-scoped key: the default; needs a region (set, or read from
    /// an `oss-<region>.aliyuncs.com` endpoint).
    OSS_SIGNATURE_V4 = 4,
}

/// Values for `oss_config_set_url_style`.
#[repr(C)]
pub enum oss_url_style {
    /// `https://<bucket>.<endpoint>/<key>`: the default for host names.
    OSS_URL_VIRTUAL_HOSTED = 1,
    /// `https://<endpoint>/<bucket>/<key>`: the default for IP endpoints.
    OSS_URL_PATH = 2,
    /// `https://<endpoint>/<key>`: the endpoint is a custom domain bound to the bucket.
    OSS_URL_CNAME = 3,
}

/// Asked for credentials when the client first needs them and again whenever OSS says the
/// security token is invalid or expired, so it can hand out refreshed STS credentials. It
/// answers by calling `oss_credentials_set` on `out` and returning true; returning false
/// (or true without setting any) fails the request with `OSS_ERR_CREDENTIALS_MISSING`.
/// Called from whichever thread sends a request, so it must be thread-safe.
pub type oss_credentials_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, out: *mut oss_credentials) -> bool>;

/// Values of a log line's `level`.
#[repr(C)]
pub enum oss_log_level {
    /// An operation failed for good (a buffered upload's error, kept for the next call).
    OSS_LOG_ERROR = 1,
    /// Something went wrong and is being mended: a retry, a recovery of an unknown outcome.
    OSS_LOG_WARN = 2,
    /// Worth knowing: the clock corrected from the server, credentials asked for again.
    OSS_LOG_INFO = 3,
}

/// Receives one log line: an `oss_log_level` and a NUL-terminated message valid only during
/// the call. Lines never hold secrets. Called from whichever thread sends requests
/// (including a buffered appender's upload thread), so it must be thread-safe. It may write
/// its line to a buffered appender (a log shipper shipping its own log) if that appender is
/// set not to wait when full: a write that waits for the upload thread, from the upload
/// thread, would wait forever.
pub type oss_log_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, level: c_int, message: *const c_char)>;

/// Releases a `user_data` the library was handed.
pub type oss_free_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// The answer slot of an `oss_credentials_fn`, valid only during that call.
pub struct oss_credentials {
    credentials: Option<Credentials>,
}

/// Makes a config with the defaults. The caller owns it and frees it with `oss_config_free`.
/// Returns NULL only if the library failed internally.
#[no_mangle]
pub extern "C" fn oss_config_new() -> *mut oss_config {
    boundary::value(std::ptr::null_mut(), || {
        handle::new(oss_config {
            config: Mutex::new(Config::new()),
        })
    })
}

/// Frees a config. NULL is a no-op. Clients made from it are not affected.
#[no_mangle]
pub unsafe extern "C" fn oss_config_free(config: *mut oss_config) {
    handle::free(config);
}

impl oss_config {
    /// A copy of the settings, for `oss_client_new`.
    pub(super) fn snapshot(&self) -> Config {
        self.config
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Applies one setter: the config changes only if the new value is valid.
///
/// # Safety
/// `config` is NULL or a live `oss_config`.
unsafe fn update(
    config: *mut oss_config,
    err: *mut *mut oss_error,
    change: impl FnOnce(Config) -> Result<Config>,
) -> oss_status {
    boundary::call(err, || {
        let config = handle::get(config, "config")?;
        // A setter cannot panic halfway through an assignment, so a poisoned lock still
        // guards a whole config.
        let mut current = config.config.lock().unwrap_or_else(PoisonError::into_inner);
        *current = change(current.clone())?;
        Ok(())
    })
}

/// The OSS endpoint: `oss-cn-hangzhou.aliyuncs.com`, `https://host:port` or `http://host`
/// (https when no scheme is given). No path. `endpoint` is copied. Fails with
/// `OSS_ERR_INVALID_ARGUMENT` on a malformed endpoint, leaving the config as it was.
#[no_mangle]
pub unsafe extern "C" fn oss_config_set_endpoint(
    config: *mut oss_config,
    endpoint: *const c_char,
    err: *mut *mut oss_error,
) -> oss_status {
    update(config, err, |c| c.endpoint(arg_str(endpoint, "endpoint")?))
}

/// The region, such as `cn-hangzhou`, for V4 signing. Needed only when the endpoint is not
/// `oss-<region>[-internal].aliyuncs.com`. Copied.
#[no_mangle]
pub unsafe extern "C" fn oss_config_set_region(
    config: *mut oss_config,
    region: *const c_char,
    err: *mut *mut oss_error,
) -> oss_status {
    update(config, err, |c| c.region(arg_str(region, "region")?))
}

/// Static credentials: AccessKey id and secret, and an STS security token or NULL. All are
/// copied, and kept out of every message and log line. When the last client using them is
/// freed, the library's copies of the secret and the token are wiped from memory, and so are
/// the signing keys and signed texts derived from them. The token is sent in a request
/// header, though, and the HTTP client (ureq) writes each request head into a buffer of its
/// own that is reused and freed without wiping: a copy of the token, in the form
/// `x-oss-security-token: <token>`, may remain in freed memory. The secret is never sent.
#[no_mangle]
pub unsafe extern "C" fn oss_config_set_credentials(
    config: *mut oss_config,
    access_key_id: *const c_char,
    access_key_secret: *const c_char,
    security_token: *const c_char,
    err: *mut *mut oss_error,
) -> oss_status {
    update(config, err, |c| {
        Ok(c.credentials(credentials(
            access_key_id,
            access_key_secret,
            security_token,
        )?))
    })
}

/// Credentials from the environment, read whenever they are needed: `OSS_ACCESS_KEY_ID`,
/// `OSS_ACCESS_KEY_SECRET` and, for STS, `OSS_SESSION_TOKEN`. A missing variable fails the
/// request with `OSS_ERR_CREDENTIALS_MISSING`.
#[no_mangle]
pub unsafe extern "C" fn oss_config_set_credentials_from_env(
    config: *mut oss_config,
    err: *mut *mut oss_error,
) -> oss_status {
    update(config, err, |c| Ok(c.credentials_from_env()))
}

/// Credentials from `callback`, called with `user_data` (see `oss_credentials_fn`). On
/// success the library owns the release of `user_data`: it calls `free_user_data` (when not
/// NULL) once the config and every client made from it are freed. On failure nothing is
/// taken. `callback` and `free_user_data` may be called from any thread.
#[no_mangle]
pub unsafe extern "C" fn oss_config_set_credentials_callback(
    config: *mut oss_config,
    callback: oss_credentials_fn,
    user_data: *mut c_void,
    free_user_data: oss_free_fn,
    err: *mut *mut oss_error,
) -> oss_status {
    update(config, err, |c| {
        let callback = callback.ok_or_else(|| null("callback"))?;
        Ok(c.credentials_provider(Arc::new(CallbackProvider {
            callback,
            user_data: OwnedUserData(UserData(user_data), free_user_data),
        })))
    })
}

/// Called by an `oss_credentials_fn` to give its answer. All strings are copied, so they may
/// be freed once this returns; `security_token` is NULL for a plain AccessKey. Fails with
/// `OSS_ERR_INVALID_ARGUMENT` for NULL or non-UTF-8 strings and
/// `OSS_ERR_CREDENTIALS_MISSING` for an empty id or secret.
#[no_mangle]
pub unsafe extern "C" fn oss_credentials_set(
    out: *mut oss_credentials,
    access_key_id: *const c_char,
    access_key_secret: *const c_char,
    security_token: *const c_char,
    err: *mut *mut oss_error,
) -> oss_status {
    boundary::call(err, || {
        let out = out.as_mut().ok_or_else(|| null("out"))?;
        out.credentials = Some(credentials(
            access_key_id,
            access_key_secret,
            security_token,
        )?);
        Ok(())
    })
}

unsafe fn credentials(
    access_key_id: *const c_char,
    access_key_secret: *const c_char,
    security_token: *const c_char,
) -> Result<Credentials> {
    let token = if security_token.is_null() {
        None
    } else {
        Some(arg_str(security_token, "security_token")?)
    };
    Credentials::new(
        arg_str(access_key_id, "access_key_id")?,
        arg_str(access_key_secret, "access_key_secret")?,
        token,
    )
}

/// A `user_data` the library was given to release, with its release function.
struct OwnedUserData(UserData, oss_free_fn);

impl OwnedUserData {
    fn get(&self) -> *mut c_void {
        self.0.get()
    }
}

impl Drop for OwnedUserData {
    fn drop(&mut self) {
        if let Some(free) = self.1 {
            // SAFETY: the caller handed us the release of user_data; this is the last use.
            unsafe { free(self.0.get()) }
        }
    }
}

struct CallbackProvider {
    callback: unsafe extern "C" fn(*mut c_void, *mut oss_credentials) -> bool,
    user_data: OwnedUserData,
}

impl CredentialsProvider for CallbackProvider {
    fn credentials(&self) -> Result<Credentials> {
        let mut slot = oss_credentials { credentials: None };
        // SAFETY: the caller's callback, with the user_data it gave; `slot` outlives the call.
        let answered = unsafe { (self.callback)(self.user_data.get(), &mut slot) };
        match (answered, slot.credentials) {
            (true, Some(credentials)) => Ok(credentials),
            (true, None) => Err(Error::new(
                ErrorKind::CredentialsMissing,
                "the credentials callback returned true without calling oss_credentials_set",
            )),
            (false, _) => Err(Error::new(
                ErrorKind::CredentialsMissing,
                "the credentials callback returned false",
            )),
        }
    }
}

/// Sends the library's log lines (retries, recoveries, errors) to `callback` with
/// `user_data`; without it the library is silent. On success the library owns the release
/// of `user_data`: `free_user_data` (when not NULL) is called once the config and every
/// client made from it are freed. On failure nothing is taken.
#[no_mangle]
pub unsafe extern "C" fn oss_config_set_log(
    config: *mut oss_config,
    callback: oss_log_fn,
    user_data: *mut c_void,
    free_user_data: oss_free_fn,
    err: *mut *mut oss_error,
) -> oss_status {
    update(config, err, |c| {
        let callback = callback.ok_or_else(|| null("callback"))?;
        let sink = Arc::new(LogCallback {
            callback,
            user_data: OwnedUserData(UserData(user_data), free_user_data),
        });
        Ok(c.logger(Arc::new(move |level: LogLevel, line: &str| {
            sink.send(level, line)
        })))
    })
}

struct LogCallback {
    callback: unsafe extern "C" fn(*mut c_void, c_int, *const c_char),
    user_data: OwnedUserData,
}

impl LogCallback {
    fn send(&self, level: LogLevel, line: &str) {
        // Library lines hold no NUL; should one appear, it is dropped rather than cut the line.
        let line = CString::new(line.replace('\0', "")).unwrap_or_default();
        let level = match level {
            LogLevel::Error => oss_log_level::OSS_LOG_ERROR,
            LogLevel::Warn => oss_log_level::OSS_LOG_WARN,
            LogLevel::Info => oss_log_level::OSS_LOG_INFO,
        };
        // SAFETY: the caller's callback with its own user_data; `line` outlives the call.
        unsafe { (self.callback)(self.user_data.get(), level as c_int, line.as_ptr()) }
    }
}

/// `OSS_SIGNATURE_V1` or `OSS_SIGNATURE_V4` (the default). An `int`, so an unknown value is
/// refused with `OSS_ERR_INVALID_ARGUMENT` rather than being undefined behaviour.
#[no_mangle]
pub unsafe extern "C" fn oss_config_set_signature_version(
    config: *mut oss_config,
    version: c_int,
    err: *mut *mut oss_error,
) -> oss_status {
    use oss_signature_version::*;
    update(config, err, |c| {
        let version = choice(
            "version",
            version,
            &[
                (
                    OSS_SIGNATURE_V1 as c_int,
                    "OSS_SIGNATURE_V1",
                    SignatureVersion::V1,
                ),
                (
                    OSS_SIGNATURE_V4 as c_int,
                    "OSS_SIGNATURE_V4",
                    SignatureVersion::V4,
                ),
            ],
        )?;
        Ok(c.signature_version(version))
    })
}

/// `OSS_URL_VIRTUAL_HOSTED`, `OSS_URL_PATH` or `OSS_URL_CNAME`. Without this call, IP
/// endpoints use path style and host names virtual-hosted style.
#[no_mangle]
pub unsafe extern "C" fn oss_config_set_url_style(
    config: *mut oss_config,
    style: c_int,
    err: *mut *mut oss_error,
) -> oss_status {
    use oss_url_style::*;
    update(config, err, |c| {
        let style = choice(
            "style",
            style,
            &[
                (
                    OSS_URL_VIRTUAL_HOSTED as c_int,
                    "OSS_URL_VIRTUAL_HOSTED",
                    UrlStyle::VirtualHosted,
                ),
                (OSS_URL_PATH as c_int, "OSS_URL_PATH", UrlStyle::Path),
                (OSS_URL_CNAME as c_int, "OSS_URL_CNAME", UrlStyle::Cname),
            ],
        )?;
        Ok(c.url_style(style))
    })
}

/// How long to wait for a connection, in milliseconds (default 10000; 0 is refused).
#[no_mangle]
pub unsafe extern "C" fn oss_config_set_connect_timeout_ms(
    config: *mut oss_config,
    milliseconds: u64,
    err: *mut *mut oss_error,
) -> oss_status {
    update(config, err, |c| {
        c.connect_timeout(Duration::from_millis(milliseconds))
    })
}

/// The longest one request may take, in milliseconds (default 60000; 0 is refused): one
/// deadline from connecting to the answer's last byte (TLS handshake and body included), not
/// a limit per read. A large request size on a slow link needs a longer timeout.
#[no_mangle]
pub unsafe extern "C" fn oss_config_set_request_timeout_ms(
    config: *mut oss_config,
    milliseconds: u64,
    err: *mut *mut oss_error,
) -> oss_status {
    update(config, err, |c| {
        c.request_timeout(Duration::from_millis(milliseconds))
    })
}

/// Retries: `max_attempts` tries per request in all (1 = no retry; default 3), waiting a
/// random time up to `base_delay_ms` doubled per attempt and capped at `max_delay_ms`
/// (defaults 200 and 20000). Appends whose outcome is unknown are settled before any retry,
/// so a retry never duplicates data.
#[no_mangle]
pub unsafe extern "C" fn oss_config_set_retry(
    config: *mut oss_config,
    max_attempts: u32,
    base_delay_ms: u64,
    max_delay_ms: u64,
    err: *mut *mut oss_error,
) -> oss_status {
    update(config, err, |c| {
        c.retry(RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(base_delay_ms),
            max_delay: Duration::from_millis(max_delay_ms),
        })
    })
}

/// A PEM file of CA certificates to trust instead of the bundled roots. The path is copied;
/// the file is read by `oss_client_new`.
#[no_mangle]
pub unsafe extern "C" fn oss_config_set_ca_file(
    config: *mut oss_config,
    path: *const c_char,
    err: *mut *mut oss_error,
) -> oss_status {
    update(config, err, |c| Ok(c.ca_file(arg_str(path, "path")?)))
}

/// An HTTP CONNECT proxy, `http://[user:password@]host:port` (`https://` for TLS to the
/// proxy); http and https endpoints are both reached through it. The user and password are
/// percent-decoded (`%3A` for a colon) and never appear in an error or log line. Checked
/// and copied here: another scheme or a malformed URL is `OSS_ERR_INVALID_ARGUMENT`. A
/// proxy that sends anything before the request is refused (`OSS_ERR_NETWORK`); to an http
/// endpoint the proxy still sees every request, so prefer https.
#[no_mangle]
pub unsafe extern "C" fn oss_config_set_proxy(
    config: *mut oss_config,
    proxy: *const c_char,
    err: *mut *mut oss_error,
) -> oss_status {
    update(config, err, |c| c.proxy(arg_str(proxy, "proxy")?))
}

/// Text added to the User-Agent header after `oss-append/<version>`. Copied. Printable
/// ASCII only: a control character (a line break would start a header or a request of its
/// own) is `OSS_ERR_INVALID_ARGUMENT` naming `user_agent`.
#[no_mangle]
pub unsafe extern "C" fn oss_config_set_user_agent(
    config: *mut oss_config,
    user_agent: *const c_char,
    err: *mut *mut oss_error,
) -> oss_status {
    update(config, err, |c| {
        c.user_agent(arg_str(user_agent, "user_agent")?)
    })
}
