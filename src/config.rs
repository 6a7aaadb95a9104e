//! Client configuration: where OSS is, how to sign, how long to wait, how often to retry.

use crate::credentials::{Credentials, CredentialsProvider, EnvironmentProvider};
use crate::error::{Error, Result};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureVersion {
    V1,
    /// The default, as in the current official SDKs.
    #[default]
    V4,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UrlStyle {
    /// `https://<bucket>.<endpoint>/<key>`; the default, except for IP endpoints.
    #[default]
    VirtualHosted,
    /// `https://<endpoint>/<bucket>/<key>`.
    Path,
    /// `https://<custom domain>/<key>`: the domain is bound to one bucket.
    Cname,
}

/// Retries for requests that failed in a way a retry can mend (the Go v2 SDK's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included; 1 means no retry.
    pub max_attempts: u32,
    /// Backoff before retry n is `random[0, 1) * min(base_delay * 2^n, max_delay)`.
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
        }
    }
}

/// `http` or `https` and a host (with an optional port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(crate) https: bool,
    pub(crate) host: String,
}

impl Endpoint {
    /// `https://oss-cn-hangzhou.aliyuncs.com`, `oss-cn-hangzhou.aliyuncs.com` (https) or
    /// `http://127.0.0.1:9000`.
    pub fn parse(text: &str) -> Result<Endpoint> {
        let bad = |why: &str| Error::invalid_argument(format!("endpoint {text:?}: {why}"));
        let (https, rest) = match text.split_once("://") {
            Some(("https", rest)) => (true, rest),
            Some(("http", rest)) => (false, rest),
            Some((scheme, _)) => {
                return Err(bad(&format!("scheme {scheme:?} is not http or https")))
            }
            None => (true, text),
        };
        let host = rest.strip_suffix('/').unwrap_or(rest);
        if let Some(c) = host
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-.:[]".contains(*c)))
        {
            return Err(bad(&format!("{c:?} is not allowed in a host")));
        }
        // The colons of a bracketed IPv6 address are not a port's.
        let (name, port) = match host.rsplit_once(':') {
            Some((name, port)) if !port.ends_with(']') => (name, Some(port)),
            _ => (host, None),
        };
        if name.is_empty() || name == "[]" {
            return Err(bad("no host"));
        }
        // Colons and brackets belong only to a bracketed IPv6 address: "a::1" or "a]" is
        // no host a URL can carry.
        let host_ok = match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
            Some(ip) => ip.parse::<std::net::Ipv6Addr>().is_ok(),
            None => !name.contains([':', '[', ']']),
        };
        if !host_ok {
            return Err(bad(&format!(
                "{name:?} is not a host name, an IPv4 address or a bracketed IPv6 address"
            )));
        }
        if let Some(port) = port {
            if !valid_port(port) {
                return Err(bad(&format!(
                    "port {port:?} is not a number from 1 to 65535"
                )));
            }
        }
        Ok(Endpoint {
            https,
            host: host.to_ascii_lowercase(),
        })
    }

    /// The host without its port.
    fn hostname(&self) -> &str {
        if let Some(v6) = self.host.strip_prefix('[') {
            return v6.split(']').next().unwrap_or(v6);
        }
        self.host.rsplit_once(':').map_or(&self.host, |(h, _)| h)
    }

    pub(crate) fn is_ip(&self) -> bool {
        self.hostname().parse::<std::net::IpAddr>().is_ok()
    }

    /// `cn-hangzhou` from `oss-cn-hangzhou.aliyuncs.com` or `oss-cn-hangzhou-internal...`.
    fn region(&self) -> Option<String> {
        let first = self.hostname().strip_suffix(".aliyuncs.com")?;
        let region = first.strip_prefix("oss-")?;
        Some(
            region
                .strip_suffix("-internal")
                .unwrap_or(region)
                .to_string(),
        )
    }
}

/// How much a log line matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// An operation failed for good.
    Error = 1,
    /// Something went wrong and is being mended: a retry, a recovery.
    Warn = 2,
    /// Something worth knowing: a clock correction, refreshed credentials.
    Info = 3,
}

/// Receives the library's log lines, from whichever thread sends requests. The lines never
/// hold secrets (keys, tokens, signatures).
pub type Logger = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

/// Everything a [`crate::Client`] is made from.
#[derive(Clone)]
pub struct Config {
    pub(crate) endpoint: Option<Endpoint>,
    pub(crate) region: Option<String>,
    pub(crate) credentials: Option<Arc<dyn CredentialsProvider>>,
    pub(crate) signature_version: SignatureVersion,
    pub(crate) url_style: Option<UrlStyle>,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) user_agent: Option<String>,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) proxy: Option<ureq::Proxy>,
    pub(crate) logger: Option<Logger>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            endpoint: None,
            region: None,
            credentials: None,
            signature_version: SignatureVersion::V4,
            url_style: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            user_agent: None,
            ca_file: None,
            proxy: None,
            logger: None,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<provider>"),
            )
            .field("signature_version", &self.signature_version)
            .field("url_style", &self.url_style)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Config {
    pub fn new() -> Self {
        Config::default()
    }

    pub fn endpoint(mut self, endpoint: &str) -> Result<Self> {
        self.endpoint = Some(Endpoint::parse(endpoint)?);
        Ok(self)
    }

    pub fn region(mut self, region: &str) -> Result<Self> {
        let valid = !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(Error::invalid_argument(format!(
                "region {region:?}: expected lowercase letters, digits and '-', such as cn-hangzhou"
            )));
        }
        self.region = Some(region.to_string());
        Ok(self)
    }

    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(Arc::new(credentials));
        self
    }

    /// `OSS_ACCESS_KEY_ID`, `OSS_ACCESS_KEY_SECRET`, `OSS_SESSION_TOKEN`, read when needed.
    pub fn credentials_from_env(mut self) -> Self {
        self.credentials = Some(Arc::new(EnvironmentProvider));
        self
    }

    pub fn credentials_provider(mut self, provider: Arc<dyn CredentialsProvider>) -> Self {
        self.credentials = Some(provider);
        self
    }

    pub fn signature_version(mut self, version: SignatureVersion) -> Self {
        self.signature_version = version;
        self
    }

    pub fn url_style(mut self, style: UrlStyle) -> Self {
        self.url_style = Some(style);
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Result<Self> {
        self.connect_timeout = nonzero("connect timeout", timeout)?;
        Ok(self)
    }

    /// The longest one request may take, body included.
    pub fn request_timeout(mut self, timeout: Duration) -> Result<Self> {
        self.request_timeout = nonzero("request timeout", timeout)?;
        Ok(self)
    }

    pub fn retry(mut self, retry: RetryPolicy) -> Result<Self> {
        if retry.max_attempts == 0 {
            return Err(Error::invalid_argument(
                "retry max_attempts must be at least 1 (the first attempt)",
            ));
        }
        self.retry = retry;
        Ok(self)
    }

    /// Text added to the `User-Agent` after `oss-append/<version>`: printable ASCII only (a
    /// line break would let the value write headers, or a request, of its own).
    pub fn user_agent(mut self, user_agent: &str) -> Result<Self> {
        crate::object::header_value("user agent", user_agent)?;
        self.user_agent = Some(user_agent.to_string());
        Ok(self)
    }

    /// PEM file of the CA certificates to trust instead of the bundled roots.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// An HTTP CONNECT proxy, `http://[user:password@]host:port` (or `https://` for TLS to
    /// the proxy), through which both http and https endpoints are reached. The user and
    /// password are percent-decoded. Errors never repeat the URL: it may hold a password.
    pub fn proxy(mut self, proxy: &str) -> Result<Self> {
        let bad = |why: &str| Error::invalid_argument(format!("config: proxy URL: {why}"));
        let scheme = proxy.split_once("://").map(|(scheme, _)| scheme);
        if !matches!(scheme, None | Some("http" | "https")) {
            return Err(bad("the scheme must be http or https"));
        }
        let parsed = ureq::Proxy::new(proxy)
            .map_err(|_| bad("expected http://[user:password@]host:port"))?;
        if parsed.host().is_empty() {
            return Err(bad("no host"));
        }
        // Ports as endpoints have them: ureq would read 99999, or nothing after the colon,
        // as the default port, which is another proxy than the one named.
        let host_port = parsed.uri().authority().map_or("", |a| a.as_str());
        let after_host = host_port.rsplit('@').next().unwrap_or("");
        let port = after_host
            .strip_prefix(parsed.host())
            .and_then(|p| p.strip_prefix(':'));
        if port.is_some_and(|port| !valid_port(port)) {
            return Err(bad("the port must be a number from 1 to 65535"));
        }
        self.proxy = Some(parsed);
        Ok(self)
    }

    /// Where log lines go: retries, recoveries and errors. Silent without one.
    pub fn logger(mut self, logger: Logger) -> Self {
        self.logger = Some(logger);
        self
    }

    /// The URL style to use: as set, or path-style for an IP endpoint, else virtual-hosted.
    pub(crate) fn effective_url_style(&self, endpoint: &Endpoint) -> UrlStyle {
        self.url_style.unwrap_or(if endpoint.is_ip() {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHosted
        })
    }

    /// The region: as set, or read from an `oss-<region>.aliyuncs.com` endpoint.
    pub(crate) fn effective_region(&self, endpoint: &Endpoint) -> Option<String> {
        self.region.clone().or_else(|| endpoint.region())
    }
}

/// Decimal digits only (no sign) for 1 to 65535.
fn valid_port(port: &str) -> bool {
    port.bytes().all(|b| b.is_ascii_digit()) && matches!(port.parse::<u16>(), Ok(1..))
}

/// A zero timeout would fail every request at once, so it is refused where it is set.
fn nonzero(what: &str, timeout: Duration) -> Result<Duration> {
    if timeout.is_zero() {
        return Err(Error::invalid_argument(format!(
            "{what} must be above zero"
        )));
    }
    Ok(timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_default_to_https_and_keep_ports() {
        let e = Endpoint::parse("oss-cn-hangzhou.aliyuncs.com").unwrap();
        assert!(e.https && e.host == "oss-cn-hangzhou.aliyuncs.com");
        let e = Endpoint::parse("http://127.0.0.1:9000/").unwrap();
        assert!(!e.https && e.host == "127.0.0.1:9000" && e.is_ip());
        assert!(Endpoint::parse("ftp://x").is_err());
        assert!(Endpoint::parse("https://").is_err());
        assert!(Endpoint::parse("https://host/path").is_err());
        let e = Endpoint::parse("http://[::1]:8080").unwrap();
        assert_eq!((e.hostname(), e.is_ip()), ("::1", true));
    }

    #[test]
    fn ports_that_are_not_ports_are_refused() {
        for bad in [
            "http://127.0.0.1:99999",
            "http://127.0.0.1:abc",
            "http://127.0.0.1:",
            "http://127.0.0.1:0",
            "http://127.0.0.1:+80",
            "http://:80",
            "http://[]:80",
        ] {
            let err = Endpoint::parse(bad).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument, "{bad}");
            assert!(err.message().contains(bad), "{err}");
        }
        assert_eq!(
            Endpoint::parse("127.0.0.1:65535").unwrap().host,
            "127.0.0.1:65535"
        );
    }

    #[test]
    fn proxies_are_http_urls_and_their_passwords_are_never_repeated() {
        let config = Config::new()
            .proxy("http://user:pa%3Ass@proxy.local:3128")
            .unwrap();
        let proxy = config.proxy.unwrap();
        assert_eq!(proxy.password(), Some("pa:ss"));
        assert_eq!((proxy.host(), proxy.port()), ("proxy.local", 3128));
        for bad in [
            "socks5://u:hunter2@127.0.0.1:1080",
            "ftp://u:hunter2@x",
            "http://u:hunter2@",
        ] {
            let err = Config::new().proxy(bad).unwrap_err();
            assert!(!err.message().contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn a_user_agent_with_a_line_break_is_refused() {
        let err = Config::new().user_agent("app/1\r\nX-Evil: 1").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
        assert!(err.message().contains("user agent"), "{err}");
        assert!(Config::new().user_agent("game/2.1 (build 7)").is_ok());
    }

    #[test]
    fn ip_endpoints_imply_path_style_and_regions_come_from_the_host() {
        let config = Config::new();
        let ip = Endpoint::parse("http://[::1]:80").unwrap();
        assert_eq!(config.effective_url_style(&ip), UrlStyle::Path);
        let oss = Endpoint::parse("oss-cn-shanghai-internal.aliyuncs.com").unwrap();
        assert_eq!(config.effective_url_style(&oss), UrlStyle::VirtualHosted);
        assert_eq!(
            config.effective_region(&oss).as_deref(),
            Some("cn-shanghai")
        );
        assert_eq!(config.effective_region(&ip), None);
    }

    #[test]
    fn bad_values_are_invalid_arguments_naming_the_value() {
        let e = Config::new().region("CN Hangzhou").unwrap_err();
        assert!(e.message().contains("CN Hangzhou"));
        let zero = RetryPolicy {
            max_attempts: 0,
            ..RetryPolicy::default()
        };
        assert!(Config::new()
            .retry(zero)
            .unwrap_err()
            .message()
            .contains("max_attempts"));
    }
}
