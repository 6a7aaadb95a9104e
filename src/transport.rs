//! Sends one signed request and hands back its answer. Shared by every handle of a client:
//! one HTTP agent ([`crate::http`]), one credentials cache, one clock offset. It never resends
//! ([`crate::retry`] decides that); on the way back it learns from two refusals, so that a
//! resend can succeed: RequestTimeTooSkewed corrects the clock, a token error drops the
//! cached credentials.

use crate::config::{Config, Endpoint, LogLevel, Logger, SignatureVersion, UrlStyle};
use crate::credentials::{Credentials, CredentialsProvider};
use crate::error::{Error, ErrorKind, Result};
use crate::http::{self, Http, Response};
use crate::response;
use oss_protocol::signer::{self, v1, v4};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use zeroize::Zeroizing;

pub(crate) struct Request<'a> {
    pub method: &'static str,
    pub bucket: &'a str,
    pub key: &'a str,
    /// Decoded; `None` is a bare name such as `append`.
    pub query: &'a [(&'static str, Option<&'a str>)],
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    /// The most of the answer's body read: [`http::ANSWER_LIMIT`] but for listings.
    pub answer_limit: u64,
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
    style: UrlStyle,
    region: Option<String>,
    version: SignatureVersion,
    provider: Arc<dyn CredentialsProvider>,
    signing: Mutex<Option<Arc<Signing>>>,
    /// Server time minus local time, in seconds, learnt from RequestTimeTooSkewed.
    clock_offset: AtomicI64,
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
        let http = Http::new(&http::Settings {
            connect_timeout: config.connect_timeout,
            request_timeout: config.request_timeout,
            user_agent: &user_agent,
            proxy: config.proxy.as_ref(),
            ca_file: config.ca_file.as_deref(),
        })?;
        Ok(Transport {
            http,
            style: config.effective_url_style(&endpoint),
            endpoint,
            region,
            version: config.signature_version,
            provider,
            signing: Mutex::new(None),
            clock_offset: AtomicI64::new(0),
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

    /// The absolute URL of `req`, key and query values percent-encoded.
    fn url(&self, req: &Request) -> String {
        let key = v4::uri_encode(req.key, true);
        let host = &self.endpoint.host;
        let mut url = String::with_capacity(key.len() + host.len() + req.bucket.len() + 64);
        url.push_str(if self.endpoint.https {
            "https://"
        } else {
            "http://"
        });
        match self.style {
            UrlStyle::VirtualHosted => {
                for part in [req.bucket, ".", host, "/"] {
                    url.push_str(part);
                }
            }
            UrlStyle::Path => {
                for part in [host.as_str(), "/", req.bucket, "/"] {
                    url.push_str(part);
                }
            }
            UrlStyle::Cname => {
                url.push_str(host);
                url.push('/');
            }
        }
        url.push_str(&key);
        for (i, (name, value)) in req.query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(name);
            if let Some(value) = value {
                url.push('=');
                url.push_str(&v4::uri_encode(value, false));
            }
        }
        url
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
    ) -> Zeroizing<String> {
        let view = signer::Request {
            method: req.method,
            bucket: Some(req.bucket),
            key: (!req.key.is_empty()).then_some(req.key),
            query: req.query,
            headers,
        };
        let creds = &signing.creds;
        Zeroizing::new(match &signing.v4_key {
            None => v1::authorization(creds.access_key_id(), creds.secret(), &view),
            Some((date, key)) => v4::authorization(
                creds.access_key_id(),
                key,
                &view,
                datetime,
                &self.scope(date),
                &[],
            ),
        })
    }

    /// One attempt, signed at the (corrected) current time. A 2xx answer comes back as it
    /// is; any other as the [`Error`] it reports.
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
        let url = self.url(req);
        let response = self.http.send(&http::Request {
            method: req.method,
            url: &url,
            headers: &headers,
            secret: &["x-oss-security-token"],
            body: req.body,
            answer_limit: req.answer_limit,
        })?;
        if (200..300).contains(&response.status) {
            return Ok(response);
        }
        let error = response::service_error(&response);
        match error.kind() {
            ErrorKind::RequestTimeSkewed => {
                let server = response
                    .header("date")
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

    fn log(&self, level: LogLevel, line: impl FnOnce() -> String) {
        if let Some(logger) = &self.logger {
            logger(level, &line());
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
        t.url(&Request {
            method: "POST",
            bucket: "bucket",
            key: "dir/a b+c.log",
            query: &[("append", None), ("position", Some("42"))],
            headers: &[],
            body: b"",
            answer_limit: http::ANSWER_LIMIT,
        })
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
    fn v4_without_a_region_is_refused_at_creation() {
        let config = Config::new()
            .endpoint("http://127.0.0.1:9000")
            .unwrap()
            .credentials(Credentials::new("ak", "sk", None).unwrap());
        let err = Transport::new(&config).err().unwrap();
        assert!(err.message().contains("region"), "{err}");
    }
}
