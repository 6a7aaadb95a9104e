//! HTTP for OSS requests, on ureq. One [`ureq::Agent`] per client carries every request of
//! its handles and threads: a keep-alive pool, rustls (ring) with the webpki roots or a CA
//! file, an HTTP CONNECT proxy, and the request timeout as one deadline for the whole
//! request (connect, TLS handshake, sending, receiving). What is ours: the settings
//! ([`Http::new`]), the address cache ([`resolver`]), the TCP layer under ureq that holds
//! the deadline at any pace and sends a small request in one write ([`tcp`]), a link of the
//! connector chain that sends TLS records in whole buffers ([`coalesce`]), one that keeps a proxy's tunnel silent
//! ([`tunnel`]), the body reader that takes the CRC-64 as ureq sends ([`body`]) and the
//! mapping of ureq's errors onto ours ([`transport_error`]).
mod body;
mod coalesce;
mod resolver;
mod tcp;
mod tunnel;

use crate::error::{Error, ErrorKind, Result};
use bytes::Bytes;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use ureq::http::{HeaderMap, HeaderName, HeaderValue};
use ureq::tls::{PemItem, RootCerts, TlsConfig};
use ureq::unversioned::transport::{ConnectProxyConnector, Connector, RustlsConnector};
use ureq::{Agent, SendBody};
use zeroize::Zeroizing;

/// The most of an answer body read, per kind of request: error documents and the other
/// answers are small; a listing page of 1,000 keys is not. A larger body is an error (and
/// its connection closed), never read on without bound.
pub(crate) const ANSWER_LIMIT: u64 = 64 * 1024;
pub(crate) const LISTING_LIMIT: u64 = 8 << 20;
/// ureq's output buffer, which a body is read into before each write to the socket: 1 MiB
/// pieces took a quarter less system CPU per GiB than 256 KiB on loopback.
const PIECE: usize = 1024 * 1024;
/// Idle connections kept per host (and in all): many handles of one client append at once.
const MAX_IDLE: usize = 32;
/// OSS closes idle connections at 60 s; reusing one close to that races its close.
const MAX_IDLE_AGE: Duration = Duration::from_secs(50);

pub(crate) struct Settings<'a> {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub user_agent: &'a str,
    /// `http://[user:password@]host:port` or `https://...`; checked by [`crate::Config`].
    pub proxy: Option<&'a ureq::Proxy>,
    /// PEM file of the CAs to trust instead of the webpki roots.
    pub ca_file: Option<&'a Path>,
}

pub(crate) struct Request<'a> {
    pub method: &'static str,
    /// Absolute, already percent-encoded.
    pub url: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    /// Names of headers whose values are secrets: ureq gets them in memory that is wiped
    /// when it lets go of them.
    pub secret: &'a [&'a str],
    pub body: &'a [u8],
    /// The most of the answer's body to read ([`ANSWER_LIMIT`], [`LISTING_LIMIT`]).
    pub answer_limit: u64,
}

/// An answer, whatever its status: headers, the body (up to the request's `answer_limit`), and the CRC-64
/// of the request body as ureq took it.
pub(crate) struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub sent_crc: u64,
}

impl Response {
    /// A header's value, if it is text (a value that is not is as good as absent).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub(crate) struct Http {
    agent: Agent,
}

impl Http {
    pub fn new(settings: &Settings) -> Result<Http> {
        let mut tls = TlsConfig::builder();
        if let Some(path) = settings.ca_file {
            tls = tls.root_certs(read_ca_file(path)?);
        }
        let config = Agent::config_builder()
            // Statuses are answers to map, not errors; OSS never redirects an append.
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(settings.request_timeout))
            .timeout_connect(Some(settings.connect_timeout))
            .user_agent(settings.user_agent)
            .tls_config(tls.build())
            .proxy(settings.proxy.cloned())
            .max_idle_connections(MAX_IDLE)
            .max_idle_connections_per_host(MAX_IDLE)
            .max_idle_age(MAX_IDLE_AGE)
            .output_buffer_size(PIECE)
            .build();
        // ureq's default chain with our TCP layer: a CONNECT proxy's connection, or a
        // plain one, then (under TLS only) records gathered into whole buffers, then TLS,
        // then the check that a tunnel stays silent.
        let addresses = Arc::new(resolver::AddressCache::default());
        let connector =
            ().chain(ConnectProxyConnector::default())
                .chain(tcp::TcpConnector::new(addresses.clone()))
                .chain(coalesce::Coalescing)
                .chain(RustlsConnector::default())
                .chain(tunnel::SilentTunnel);
        let agent = Agent::with_parts(config, connector, resolver::CachingResolver::new(addresses));
        Ok(Http { agent })
    }

    /// Sends `req` once and reads the answer. Never resent here: whether a request may be
    /// sent again is the retry policy's to say ([`crate::retry`]).
    pub fn send(&self, req: &Request) -> Result<Response> {
        let mut builder = ureq::http::Request::builder()
            .method(req.method)
            .uri(req.url);
        let headers = builder
            .headers_mut()
            .ok_or_else(|| Error::invalid_argument(format!("request URL {:?}", req.url)))?;
        for (name, value) in req.headers {
            let value = if req.secret.contains(name) {
                secret_header_value(name, value)?
            } else {
                header_value(name, value)?
            };
            headers.append(header_name(name)?, value);
        }
        let mut body = body::CrcReader::new(req.body);
        let bad = |e: ureq::http::Error| Error::invalid_argument(format!("request: {e}"));
        let response = if req.method == "HEAD" || req.method == "GET" {
            self.agent.run(builder.body(()).map_err(bad)?)
        } else {
            headers.insert(
                ureq::http::header::CONTENT_LENGTH,
                HeaderValue::from(req.body.len() as u64),
            );
            let request = builder
                .body(SendBody::from_reader(&mut body))
                .map_err(bad)?;
            self.agent.run(request)
        }
        .map_err(transport_error)?;
        let (parts, answer) = response.into_parts();
        // Read to its end (or its limit) so that a clean connection goes back to the pool.
        let answer = answer
            .into_with_config()
            .limit(req.answer_limit)
            .read_to_vec()
            .map_err(transport_error)?;
        Ok(Response {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: answer,
            sent_crc: body.crc(),
        })
    }
}

fn header_name(name: &str) -> Result<HeaderName> {
    HeaderName::try_from(name)
        .map_err(|_| Error::invalid_argument(format!("header name {name:?} is not a token")))
}

/// Values are checked where they are set; this refuses, never forwards, any that was not.
fn header_value(name: &str, value: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(value).map_err(|_| {
        Error::invalid_argument(format!("header {name}: a value with control characters"))
    })
}

/// A header value in memory of its own that is zeroed when the last reference to it goes
/// (ureq's copy of the request is dropped after sending). What ureq writes of it into its
/// output buffer is beyond reach.
fn secret_header_value(name: &str, value: &str) -> Result<HeaderValue> {
    let owned = Bytes::from_owner(Zeroizing::new(value.as_bytes().to_vec()));
    let mut value = HeaderValue::from_maybe_shared(owned).map_err(|_| {
        Error::invalid_argument(format!("header {name}: a value with control characters"))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

fn read_ca_file(path: &Path) -> Result<RootCerts> {
    let bad =
        |why: String| Error::invalid_argument(format!("config: CA file {}: {why}", path.display()));
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(cert)) => Some(cert),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(bad("holds no PEM certificate".into()));
    }
    Ok(RootCerts::new_with_certs(&certs))
}

/// ureq's errors in our kinds. The messages name no URL: a proxy's may carry a password.
pub(crate) fn transport_error(e: ureq::Error) -> Error {
    use ureq::Error as U;
    let kind = match &e {
        U::Timeout(_) => ErrorKind::Timeout,
        U::Tls(_) | U::Pem(_) | U::Rustls(_) | U::TlsRequired => ErrorKind::Tls,
        U::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ) =>
        {
            ErrorKind::Timeout
        }
        U::Io(io)
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>()) =>
        {
            ErrorKind::Tls
        }
        U::BadUri(_) | U::Http(_) => ErrorKind::InvalidArgument,
        _ => ErrorKind::Network,
    };
    Error::new(kind, format!("request failed: {e}"))
}
