//! Sends one signed request and maps the answer. Shared by every handle of a client: one
//! HTTP connection pool, one credentials cache, one clock offset.

use crate::config::{Config, Endpoint, LogLevel, Logger, RetryPolicy, SignatureVersion, UrlStyle};
use crate::credentials::{Credentials, CredentialsProvider};
use crate::error::{Error, ErrorKind, Result};
use crate::http::{self, Http, Origin};
use crate::signer::{self, v1, v4};
use std::borrow::Cow;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use zeroize::Zeroizing;

/// Error documents are small; a larger body is cut rather than held.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

pub(crate) struct Request<'a> {
    pub method: &'static str,
    pub bucket: &'a str,
    pub key: &'a str,
    /// Decoded; `None` is a bare name such as `append`.
    pub query: &'a [(&'static str, Option<&'a str>)],
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// A successful answer: its headers (names lowercased), and the CRC-64 of the body sent.
pub(crate) use crate::http::Response;

impl Response {
    pub fn request_id(&self) -> Option<String> {
        self.header("x-oss-request-id").map(String::from)
    }
}

/// Credentials as the provider last handed them out, with the V4 key derived from them for
/// one day (region and product are the client's own, so only the day changes it).
struct Signing {
    creds: Credentials,
    v4_key: Option<(String, Zeroizing<[u8; 32]>)>,
}

pub(crate) struct Transport {
    http: Http,
    endpoint: Endpoint,
    /// Where path-style and CNAME requests go; virtual-hosted ones put the bucket first.
    origin: Origin,
    style: UrlStyle,
    region: Option<String>,
    version: SignatureVersion,
    provider: Arc<dyn CredentialsProvider>,
    signing: Mutex<Option<Arc<Signing>>>,
    /// Server time minus local time, in seconds, learnt from RequestTimeTooSkewed.
    clock_offset: AtomicI64,
    pub retry: RetryPolicy,
    jitter: AtomicU64,
    logger: Option<Logger>,
}

impl Transport {
    pub fn new(config: &Config) -> Result<Transport> {
        let endpoint = config
            .endpoint
            .clone()
            .ok_or_else(|| Error::invalid_argument("config: no endpoint is set"))?;
        let provider = config.credentials.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::CredentialsMissing,
                "config: no credentials are set",
            )
        })?;
        let region = config.effective_region(&endpoint);
        if config.signature_version == SignatureVersion::V4 && region.is_none() {
            return Err(Error::invalid_argument(
                "config: signature V4 needs a region (set one, or use an oss-<region>.aliyuncs.com endpoint)",
            ));
        }
        let user_agent = match &config.user_agent {
            Some(extra) => format!("oss-append/{} {extra}", env!("CARGO_PKG_VERSION")),
            None => format!("oss-append/{}", env!("CARGO_PKG_VERSION")),
        };
        let http = Http::new(http::Settings {
            connect_timeout: config.connect_timeout,
            request_timeout: config.request_timeout,
            user_agent,
            proxy: config.proxy.clone(),
            ca_file: config.ca_file.clone(),
        })?;
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64;
        Ok(Transport {
            http,
            style: config.effective_url_style(&endpoint),
            origin: Origin::new(endpoint.https, &endpoint.host),
            endpoint,
            region,
            version: config.signature_version,
            provider,
            signing: Mutex::new(None),
            clock_offset: AtomicI64::new(0),
            retry: config.retry,
            jitter: AtomicU64::new(seed | 1),
            logger: config.logger.clone(),
        })
    }

    /// The credentials to sign with and, for V4, their key for `date` (`yyyymmdd`): asked of
    /// the provider once, derived once a day, then shared by every request.
    fn signing(&self, date: &str) -> Result<Arc<Signing>> {
        let mut cached = self.signing.lock().unwrap_or_else(|e| e.into_inner());
        let creds = match cached.as_ref() {
            Some(s) if s.v4_key.as_ref().is_none_or(|(day, _)| day == date) => {
                return Ok(Arc::clone(s))
            }
            Some(s) => s.creds.clone(),
            None => self.provider.credentials()?,
        };
        let v4_key = match self.version {
            SignatureVersion::V1 => None,
            SignatureVersion::V4 => {
                let key = v4::signing_key(creds.secret(), &self.scope(date));
                Some((date.to_string(), key))
            }
        };
        let signing = Arc::new(Signing { creds, v4_key });
        *cached = Some(Arc::clone(&signing));
        Ok(signing)
    }

    fn scope<'a>(&'a self, date: &'a str) -> v4::Scope<'a> {
        v4::Scope {
            date,
            region: self.region.as_deref().unwrap_or_default(),
            product: "oss",
        }
    }

    /// Where `req` goes: the origin to connect to, and the path and query to ask for.
    fn locate(&self, req: &Request) -> (Cow<'_, Origin>, String) {
        let key = v4::uri_encode(req.key, true);
        let mut target = String::with_capacity(key.len() + req.bucket.len() + 64);
        let origin = match self.style {
            UrlStyle::VirtualHosted => Cow::Owned(Origin::new(
                self.endpoint.https,
                &[req.bucket, ".", &self.endpoint.host].concat(),
            )),
            UrlStyle::Path => {
                target.push('/');
                target.push_str(req.bucket);
                Cow::Borrowed(&self.origin)
            }
            UrlStyle::Cname => Cow::Borrowed(&self.origin),
        };
        target.push('/');
        target.push_str(&key);
        for (i, (name, value)) in req.query.iter().enumerate() {
            target.push(if i == 0 { '?' } else { '&' });
            target.push_str(name);
            if let Some(value) = value {
                target.push('=');
                target.push_str(&v4::uri_encode(value, false));
            }
        }
        (origin, target)
    }

    fn now(&self) -> SystemTime {
        signer::offset_now(self.clock_offset.load(Ordering::Relaxed))
    }

    /// The `Authorization` of `req` carrying `headers`, which hold the date (`datetime`
    /// for V4) and any token.
    fn authorization(
        &self,
        signing: &Signing,
        req: &Request,
        headers: &[(&str, &str)],
        datetime: &str,
    ) -> String {
        let view = signer::Request {
            method: req.method,
            bucket: Some(req.bucket),
            key: (!req.key.is_empty()).then_some(req.key),
            query: req.query,
            headers,
        };
        let creds = &signing.creds;
        match &signing.v4_key {
            None => v1::authorization(creds.access_key_id(), creds.secret(), &view),
            Some((date, key)) => v4::authorization(
                creds.access_key_id(),
                key,
                &view,
                datetime,
                &self.scope(date),
                &[],
            ),
        }
    }

    /// One attempt, signed at the (corrected) current time. A service error comes back as
    /// an [`Error`] with its HTTP status; on the way, a RequestTimeTooSkewed corrects the
    /// clock and a token error drops the cached credentials, so that a retry signs anew.
    pub fn send(&self, req: &Request) -> Result<Response> {
        let now = self.now();
        let unix = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let datetime = v4::format_datetime(unix);
        let signing = self.signing(&datetime[..8])?;
        let http_date;
        let mut headers = Vec::with_capacity(req.headers.len() + 4);
        headers.extend_from_slice(req.headers);
        if let Some(token) = signing.creds.security_token() {
            headers.push(("x-oss-security-token", token));
        }
        if signing.v4_key.is_some() {
            headers.push(("x-oss-date", &datetime));
            headers.push(("x-oss-content-sha256", v4::UNSIGNED_PAYLOAD));
        } else {
            http_date = httpdate::fmt_http_date(now);
            headers.push(("date", &http_date));
        }
        let authorization = self.authorization(&signing, req, &headers, &datetime);
        headers.push(("authorization", &authorization));
        let (origin, target) = self.locate(req);
        let response = self.http.send(&http::Request {
            method: req.method,
            origin: &origin,
            target: &target,
            headers: &headers,
            body: req.body,
            body_limit: ERROR_BODY_LIMIT,
        })?;
        if (200..300).contains(&response.status) {
            return Ok(response);
        }
        let (status, headers) = (response.status, &response.headers);
        let body = &response.body;
        let error = Error::from_response(status, headers, body);
        match error.kind() {
            ErrorKind::RequestTimeSkewed => {
                let server = headers
                    .get("date")
                    .and_then(|v| httpdate::parse_http_date(v).ok());
                if let Some(server) = server {
                    let local = SystemTime::now();
                    let offset = match server.duration_since(local) {
                        Ok(ahead) => ahead.as_secs() as i64,
                        Err(behind) => -(behind.duration().as_secs() as i64),
                    };
                    self.clock_offset.store(offset, Ordering::Relaxed);
                    self.log(LogLevel::Info, || {
                        format!("the server's clock is {offset} s from ours; signing with its time")
                    });
                }
            }
            ErrorKind::SecurityToken | ErrorKind::InvalidAccessKey => {
                *self.signing.lock().unwrap_or_else(|e| e.into_inner()) = None;
                self.log(LogLevel::Info, || {
                    format!("{}; credentials will be asked for again", error.message())
                });
            }
            _ => {}
        }
        Err(error)
    }

    /// Whether another attempt can mend `error` (the Go v2 SDK's rules, plus a token the
    /// provider may since have refreshed).
    pub fn is_retryable(&self, error: &Error) -> bool {
        match error.kind() {
            ErrorKind::Timeout | ErrorKind::Network => true,
            ErrorKind::RequestTimeSkewed | ErrorKind::SecurityToken => true,
            ErrorKind::Unavailable | ErrorKind::ServerError => true,
            _ => {
                matches!(error.http_status(), Some(401 | 408 | 429))
                    || error.code() == Some("BadRequest")
            }
        }
    }

    /// Full-jitter backoff before retry `n` (1 for the first retry).
    pub fn backoff(&self, n: u32) -> Duration {
        let cap = self
            .retry
            .base_delay
            .saturating_mul(1u32.checked_shl(n.min(20)).unwrap_or(u32::MAX))
            .min(self.retry.max_delay);
        // xorshift64: enough randomness to spread retries, no crate needed.
        let mut x = self.jitter.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.jitter.store(x, Ordering::Relaxed);
        cap.mul_f64((x >> 11) as f64 / (1u64 << 53) as f64)
    }

    /// Sleeps the backoff before attempt `attempt + 1`, logging why (`what`) and for how long.
    pub fn wait_to_retry(&self, attempt: u32, what: impl FnOnce() -> String) {
        let wait = self.backoff(attempt);
        self.log(LogLevel::Warn, || {
            format!(
                "{} in {} ms (attempt {} of {})",
                what(),
                wait.as_millis(),
                attempt + 1,
                self.retry.max_attempts
            )
        });
        std::thread::sleep(wait);
    }

    /// Hands a line to the caller's logger; the line is only built when there is one.
    pub fn log(&self, level: LogLevel, line: impl FnOnce() -> String) {
        if let Some(logger) = &self.logger {
            logger(level, &line());
        }
    }

    /// Sends `req`, retrying what [`Transport::is_retryable`] allows. Only for requests
    /// that are safe to repeat (HEAD); appends have their own recovery.
    pub fn send_idempotent(&self, req: &Request) -> Result<Response> {
        let mut attempt = 1;
        loop {
            match self.send(req) {
                Err(e) if attempt < self.retry.max_attempts && self.is_retryable(&e) => {
                    self.wait_to_retry(attempt, || {
                        format!("{} {}/{}: {e}; retrying", req.method, req.bucket, req.key)
                    });
                    attempt += 1;
                }
                result => return result,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(endpoint: &str, style: Option<UrlStyle>) -> Transport {
        let mut config = Config::new()
            .endpoint(endpoint)
            .unwrap()
            .region("cn-hangzhou")
            .unwrap()
            .credentials(Credentials::new("ak", "sk", None).unwrap());
        if let Some(style) = style {
            config = config.url_style(style);
        }
        Transport::new(&config).unwrap()
    }

    fn append_url(t: &Transport) -> String {
        let scheme = if t.endpoint.https { "https" } else { "http" };
        let (origin, target) = t.locate(&Request {
            method: "POST",
            bucket: "bucket",
            key: "dir/a b+c.log",
            query: &[("append", None), ("position", Some("42"))],
            headers: &[],
            body: b"",
        });
        let mut url = format!("{scheme}://");
        origin.push_host_to(&mut url);
        url + &target
    }

    #[test]
    fn urls_for_each_style_encode_the_key_and_keep_bare_query_names() {
        let virtual_hosted = transport("oss-cn-hangzhou.aliyuncs.com", None);
        assert_eq!(
            append_url(&virtual_hosted),
            "https://bucket.oss-cn-hangzhou.aliyuncs.com/dir/a%20b%2Bc.log?append&position=42"
        );
        let path = transport("http://127.0.0.1:9000", None);
        assert_eq!(
            append_url(&path),
            "http://127.0.0.1:9000/bucket/dir/a%20b%2Bc.log?append&position=42"
        );
        let cname = transport("https://logs.example.com", Some(UrlStyle::Cname));
        assert_eq!(
            append_url(&cname),
            "https://logs.example.com/dir/a%20b%2Bc.log?append&position=42"
        );
    }

    #[test]
    fn backoff_is_full_jitter_under_the_cap() {
        let t = transport("http://127.0.0.1:1", None);
        for n in 1..10 {
            let cap = (t.retry.base_delay * (1 << n)).min(t.retry.max_delay);
            assert!(t.backoff(n) < cap);
        }
        let delays: std::collections::HashSet<_> = (0..20).map(|_| t.backoff(3)).collect();
        assert!(delays.len() > 10, "backoff does not vary: {delays:?}");
    }

    #[test]
    fn v4_without_a_region_is_refused_at_creation() {
        let config = Config::new()
            .endpoint("http://127.0.0.1:9000")
            .unwrap()
            .credentials(Credentials::new("ak", "sk", None).unwrap());
        let err = Transport::new(&config).err().unwrap();
        assert!(err.message().contains("region"), "{err}");
    }
}
