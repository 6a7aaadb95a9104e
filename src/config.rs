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

/// Property tests of endpoints, proxies, regions and user agents: any text gives a correct
/// value or a clean refusal, never a panic; the http crate's URL and header parsers are the
/// oracle for what can be sent.
#[cfg(test)]
mod properties {
    use super::{Config, Endpoint};
    use crate::error::ErrorKind;
    use crate::testing::{config, header_text, names_the_value};
    use proptest::prelude::*;
    use proptest::sample::select;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use ureq::http::{HeaderValue, Uri};

    /// A DNS name in mixed case, an IPv4 address or a bracketed IPv6 address; true for the IPs.
    fn host() -> impl Strategy<Value = (String, bool)> {
        prop_oneof![
            prop::collection::vec("[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?", 1..5)
                .prop_map(|labels| (labels.join("."), false)),
            any::<Ipv4Addr>().prop_map(|ip| (ip.to_string(), true)),
            any::<Ipv6Addr>().prop_map(|ip| (format!("[{ip}]"), true)),
        ]
    }

    /// Port text that is no port: zero, above 65535, empty, or not only digits (with the
    /// characters a host may hold, so that the port itself is what is wrong).
    fn bad_port() -> impl Strategy<Value = String> {
        prop_oneof![
            "0{1,5}",
            (65_536..=u64::MAX).prop_map(|p| p.to_string()),
            Just(String::new()),
            "[0-9]{0,3}[a-zA-Z.:\\[\\]+-][0-9a-zA-Z:\\]]{0,3}",
        ]
    }

    /// Text shaped like an endpoint or a proxy URL: a scheme or not, then the characters of
    /// hosts, ports and user information; or any text.
    fn url_like() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "(https?://|ftp://|HTTP://|)[a-zA-Z0-9.:@%\\[\\]-]{0,24}/?",
        ]
    }

    /// The port a text names, if it is one: digits only, 1 to 65535.
    fn port_number(text: &str) -> Option<u16> {
        let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        text.parse().ok().filter(|&p| digits && p != 0)
    }

    /// Percent-encodes all but RFC 3986's unreserved characters.
    fn percent_encode(text: &str) -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    /// A proxy URL with a user and a password, and what was written: its scheme is http or
    /// https or another, its port good, bad or absent, a path or not, the credentials
    /// percent-encoded or (some of the time) the password raw.
    #[derive(Debug, Clone)]
    struct ProxyUrl {
        url: String,
        user: String,
        password: String,
        host: String,
        /// The port as written, if one was.
        port: Option<String>,
        /// The password not encoded: a '/', '?' or '#' in it ends the authority early.
        raw: bool,
        well_formed: bool,
    }

    fn proxy_url() -> impl Strategy<Value = ProxyUrl> {
        let port = prop_oneof![
            3 => (1..=65_535u16).prop_map(|p| Some(p.to_string())),
            1 => bad_port().prop_map(Some),
            1 => Just(None),
        ];
        (
            prop_oneof![
                3 => select(vec!["http", "https"]),
                1 => select(vec!["HTTP", "socks5", "ftp", ""]),
            ],
            "[a-zA-Z0-9]{1,8}|.{1,8}",
            // Long enough that no fixed message text holds it by chance.
            prop::collection::vec(any::<char>(), 8..24).prop_map(String::from_iter),
            host(),
            port,
            select(vec!["", "/", "/path?q"]),
            prop::bool::weighted(0.2),
        )
            .prop_map(|(scheme, user, password, (host, _), port, path, raw)| {
                let well_formed = matches!(scheme, "http" | "https")
                    && port.as_deref().is_none_or(|p| port_number(p).is_some())
                    && path.len() <= 1
                    && !raw;
                let mut url = String::new();
                if !scheme.is_empty() {
                    url.push_str(scheme);
                    url.push_str("://");
                }
                url.push_str(&percent_encode(&user));
                url.push(':');
                url.push_str(&if raw {
                    password.clone()
                } else {
                    percent_encode(&password)
                });
                url.push('@');
                url.push_str(&host);
                if let Some(port) = &port {
                    url.push(':');
                    url.push_str(port);
                }
                url.push_str(path);
                ProxyUrl {
                    url,
                    user,
                    password,
                    host,
                    port,
                    raw,
                    well_formed,
                }
            })
    }

    proptest! {
        #![proptest_config(config())]

        /// `http(s)://host:port` and the host alone parse, keeping scheme, host (lowercased)
        /// and port; IP hosts are known as IPs.
        #[test]
        fn endpoints_keep_host_and_port(
            scheme in prop::option::of(select(vec!["http", "https"])),
            (host, ip) in host(),
            port in prop::option::of(1..=65_535u16),
            slash in any::<bool>(),
        ) {
            let authority = match port {
                Some(port) => format!("{host}:{port}"),
                None => host,
            };
            let text = format!(
                "{}{authority}{}",
                scheme.map_or(String::new(), |s| format!("{s}://")),
                if slash { "/" } else { "" }
            );
            let e = Endpoint::parse(&text).unwrap();
            prop_assert_eq!(e.https, scheme != Some("http"));
            prop_assert_eq!(&e.host, &authority.to_ascii_lowercase());
            prop_assert!(!ip || e.is_ip());
        }

        /// A port of 0, above 65535, empty or not all digits is refused, naming the endpoint.
        #[test]
        fn endpoints_with_bad_ports_are_refused(
            scheme in select(vec!["http://", "https://", ""]),
            (host, _) in host(),
            port in bad_port(),
        ) {
            let text = format!("{scheme}{host}:{port}");
            let e = Endpoint::parse(&text);
            prop_assert!(e.as_ref().is_err_and(|e| names_the_value(e, &text)), "{:?}", e);
        }

        /// Any text: refused naming it, or an endpoint whose host is the authority of a URL the
        /// http crate parses (so every request URL built on it can be sent).
        #[test]
        fn any_endpoint_is_a_url_authority_or_refused(text in url_like()) {
            match Endpoint::parse(&text) {
                Ok(e) => {
                    let url = format!("{}://{}/", if e.https { "https" } else { "http" }, e.host);
                    let uri = url.parse::<Uri>();
                    prop_assert_eq!(
                        uri.as_ref().ok().and_then(|u| u.authority()).map(|a| a.as_str()),
                        Some(e.host.as_str()),
                        "{:?} gave {:?}", text, uri
                    );
                }
                Err(e) => prop_assert!(names_the_value(&e, &text), "{:?}", e),
            }
        }

        /// A proxy URL never has its password (as written or decoded) in an error or in the
        /// config's Debug; a well-formed one is taken with its user, decoded password, host and
        /// port; with encoded credentials, one is taken with a port only if that port is 1 to
        /// 65535, and keeps it.
        #[test]
        fn proxies_keep_their_parts_and_never_repeat_passwords(p in proxy_url()) {
            let secrets = [p.password.clone(), percent_encode(&p.password)];
            match Config::new().proxy(&p.url) {
                Ok(config) => {
                    let shown = format!("{config:?}");
                    prop_assert!(secrets.iter().all(|s| !shown.contains(s.as_str())));
                    let proxy = config.proxy.unwrap();
                    if let (Some(port), false) = (&p.port, p.raw) {
                        prop_assert_eq!(Some(proxy.port()), port_number(port), "{}", p.url);
                    }
                    if p.well_formed {
                        prop_assert_eq!(proxy.username(), Some(p.user.as_str()));
                        prop_assert_eq!(proxy.password(), Some(p.password.as_str()));
                        prop_assert_eq!(proxy.host(), p.host.as_str());
                    }
                }
                Err(e) => {
                    prop_assert!(!p.well_formed, "{} refused: {}", p.url, e);
                    prop_assert_eq!(e.kind(), ErrorKind::InvalidArgument);
                    let shown = format!("{e} {e:?}");
                    prop_assert!(secrets.iter().all(|s| !shown.contains(s.as_str())), "{}", shown);
                }
            }
        }

        /// Any text as a proxy: accepted, or refused as an invalid argument; never a panic.
        #[test]
        fn any_proxy_text_is_taken_or_refused(text in url_like()) {
            if let Err(e) = Config::new().proxy(&text) {
                prop_assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            }
        }

        /// A region of lowercase letters, digits and '-' is taken; anything taken can name an
        /// OSS host; a refusal names the text. A user agent taken can follow ours in the
        /// header; one with a line break is refused.
        #[test]
        fn regions_and_user_agents_are_checked(
            valid in "[a-z0-9-]{1,20}",
            region in any::<String>(),
            agent in header_text(),
        ) {
            prop_assert!(Config::new().region(&valid).is_ok(), "{:?}", valid);
            match Config::new().region(&region) {
                Ok(_) => {
                    let host = format!("oss-{region}.aliyuncs.com");
                    let uri = format!("https://{host}/").parse::<Uri>().ok();
                    prop_assert_eq!(uri.as_ref().and_then(|u| u.host()), Some(host.as_str()));
                }
                Err(e) => prop_assert!(names_the_value(&e, &region), "{:?}", e),
            }
            match Config::new().user_agent(&agent) {
                Ok(_) => {
                    let header = format!("oss-append/{} {agent}", env!("CARGO_PKG_VERSION"));
                    prop_assert!(HeaderValue::from_str(&header).is_ok(), "{:?}", agent);
                }
                Err(e) => prop_assert!(names_the_value(&e, &agent), "{:?}", e),
            }
            if agent.contains(['\r', '\n']) {
                prop_assert!(Config::new().user_agent(&agent).is_err());
            }
        }
    }

    // ---- Regressions: inputs the properties above found wrongly taken ----

    #[test]
    fn colons_and_brackets_outside_an_ipv6_address_make_no_host() {
        for bad in [
            "http://a::1",
            "::1",
            "]",
            "example.com:80]",
            "http://example.com:1:2",
            "[x]",
            "[1.2.3.4]:80",
        ] {
            let e = Endpoint::parse(bad);
            assert!(
                e.as_ref().is_err_and(|e| names_the_value(e, bad)),
                "{bad}: {e:?}"
            );
        }
        assert_eq!(
            Endpoint::parse("[::ffff:1.2.3.4]:80").unwrap().host,
            "[::ffff:1.2.3.4]:80"
        );
    }

    #[test]
    fn a_proxy_port_that_is_no_port_is_refused() {
        for bad in [
            "http://u:hunter2@proxy.local:65536",
            "http://proxy.local:99999",
            "http://proxy.local:",
            "http://proxy.local:0",
        ] {
            let e = Config::new().proxy(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
            assert!(!e.message().contains("hunter2"), "{e}");
        }
        let proxy = Config::new()
            .proxy("http://proxy.local:65535")
            .unwrap()
            .proxy
            .unwrap();
        assert_eq!(proxy.port(), 65535);
    }
}
