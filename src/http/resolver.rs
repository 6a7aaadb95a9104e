//! Host names resolved once a minute, not once a request: ureq's own resolver asks the
//! system (on a thread of its own, to keep the request's deadline), and its answer is kept
//! until then, or until connecting to every one of its addresses failed (the TCP layer
//! forgets them then, so a moved endpoint is found again at once).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How long a host's addresses are used before it is resolved again.
const TTL: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub(crate) struct CachingResolver {
    system: DefaultResolver,
    cache: Arc<AddressCache>,
}

/// `(host, port)`, when resolved, addresses. A client talks to a handful of hosts.
#[derive(Debug, Default)]
pub(crate) struct AddressCache {
    entries: Mutex<Vec<(String, u16, Instant, ResolvedSocketAddrs)>>,
}

impl AddressCache {
    /// Drops what is known of `host`: it is resolved again on the next request.
    pub(crate) fn forget(&self, host: &str, port: u16) {
        self.lock().retain(|(h, p, ..)| !(h == host && *p == port));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(String, u16, Instant, ResolvedSocketAddrs)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl CachingResolver {
    pub(crate) fn new(cache: Arc<AddressCache>) -> CachingResolver {
        CachingResolver {
            system: DefaultResolver::default(),
            cache,
        }
    }
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let (Some(host), Some(port)) = (uri.host(), port(uri)) else {
            return self.system.resolve(uri, config, timeout);
        };
        // An address needs no lookup (and no thread to bound one).
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            let mut addrs = self.system.empty();
            addrs.push(SocketAddr::new(ip, port));
            return Ok(addrs);
        }
        let now = Instant::now();
        {
            let mut cache = self.cache.lock();
            cache.retain(|(_, _, at, _)| now.duration_since(*at) < TTL);
            if let Some((.., addrs)) = cache.iter().find(|(h, p, ..)| h == host && *p == port) {
                return Ok(addrs.clone());
            }
        }
        let addrs = self.system.resolve(uri, config, timeout)?;
        self.cache
            .lock()
            .push((host.to_string(), port, now, addrs.clone()));
        Ok(addrs)
    }
}

/// The port a URI names, or its scheme's.
pub(crate) fn port(uri: &Uri) -> Option<u16> {
    uri.port_u16().or(match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    })
}
