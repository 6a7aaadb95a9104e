//! A local Alibaba Cloud OSS server for the tests, demo and benchmarks of oss-append.
//!
//! It verifies V1 and V4 signatures (in the Authorization header or a presigned URL),
//! enforces append (and seal) semantics, takes bodies with Content-Length or chunked, keeps
//! each object's CRC-64 incrementally and answers with OSS's error documents; the official
//! Python SDKs referee its fidelity (`tests/interop`). Use it as a binary
//! (`oss-local-server --help`) or from Rust:
//!
//! ```no_run
//! let server = oss_local_server::Server::start(
//!     oss_local_server::Config::new("id", "secret").bucket("bucket"),
//! ).unwrap();
//! println!("{}", server.url()); // http://127.0.0.1:PORT
//! server.stop();
//! ```

mod auth;
mod batch_delete;
mod buckets;
mod encryption;
mod error;
pub mod faults;
mod handler;
mod http;
mod listing;
mod names;
mod presign;
mod store;
mod tagging;
mod time;
mod traffic_limit;
mod uri;
mod xml;

pub use faults::{Action, Fault, Op};

use handler::{Options, Outcome, Shared};
use http::{Conn, HeadError, Stream};
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

pub const DEFAULT_MAX_OBJECT_SIZE: u64 = 5 << 30;

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub access_key_id: String,
    pub access_key_secret: String,
    /// When set, every request must carry this `x-oss-security-token` (an STS identity).
    pub security_token: Option<String>,
    pub region: String,
    pub buckets: Vec<String>,
    /// Keep objects in files under this directory instead of memory.
    pub data_dir: Option<PathBuf>,
    pub max_object_size: u64,
    /// Keep only each object's length and CRC.
    pub discard: bool,
    /// PEM certificate chain and private key: serve HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub enable_faults: bool,
    /// HEAD errors carry the status alone, without `x-oss-err` and `x-oss-ec`, as behind a
    /// proxy or gateway that drops them.
    pub bare_head_errors: bool,
    /// Every answer waits this long before it is sent, as over a network's round trip.
    pub latency: Duration,
}

impl Config {
    /// 127.0.0.1 on a free port, region cn-hangzhou, memory storage, no buckets yet.
    pub fn new(access_key_id: &str, access_key_secret: &str) -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            access_key_id: access_key_id.into(),
            access_key_secret: access_key_secret.into(),
            security_token: None,
            region: "cn-hangzhou".into(),
            buckets: Vec::new(),
            data_dir: None,
            max_object_size: DEFAULT_MAX_OBJECT_SIZE,
            discard: false,
            tls: None,
            enable_faults: false,
            bare_head_errors: false,
            latency: Duration::ZERO,
        }
    }

    pub fn bucket(mut self, name: &str) -> Self {
        self.buckets.push(name.into());
        self
    }

    pub fn faults(mut self) -> Self {
        self.enable_faults = true;
        self
    }

    pub fn bare_head_errors(mut self) -> Self {
        self.bare_head_errors = true;
        self
    }

    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }
}

type Connections = Arc<Mutex<HashMap<u64, TcpStream>>>;

/// A running server; stopped by [`Server::stop`] or on drop.
pub struct Server {
    addr: SocketAddr,
    scheme: &'static str,
    shared: Arc<Shared>,
    stopping: Arc<AtomicBool>,
    connections: Connections,
    acceptor: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(config: Config) -> io::Result<Server> {
        let mode = match (&config.data_dir, config.discard) {
            (_, true) => store::Mode::Discard,
            (Some(dir), false) => store::Mode::Dir(dir.clone()),
            (None, false) => store::Mode::Memory,
        };
        let store = store::Store::open(mode, config.max_object_size)?;
        // A bucket kept in the data directory from an earlier run keeps its creation time.
        for bucket in &config.buckets {
            store.create_bucket(bucket, store::BucketInfo::new(SystemTime::now()))?;
        }
        let tls = match &config.tls {
            Some((cert, key)) => Some(tls_config(cert, key)?),
            None => None,
        };
        let creds = auth::Credentials {
            access_key_id: config.access_key_id,
            access_key_secret: config.access_key_secret,
            security_token: config.security_token,
            region: config.region,
        };
        let options = Options {
            faults: config.enable_faults,
            bare_head_errors: config.bare_head_errors,
            latency: config.latency,
        };
        let shared = Arc::new(Shared::new(creds, store, options));
        let listener = TcpListener::bind(config.listen)?;
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let connections = Connections::default();
        let acceptor = {
            let (shared, stopping, connections) =
                (shared.clone(), stopping.clone(), connections.clone());
            std::thread::Builder::new()
                .name("oss-accept".into())
                .spawn(move || accept(listener, shared, tls, stopping, connections))?
        };
        Ok(Server {
            addr,
            scheme: if config.tls.is_some() {
                "https"
            } else {
                "http"
            },
            shared,
            stopping,
            connections,
            acceptor: Some(acceptor),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (https with TLS).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Scripts a fault (the server must have been started with faults enabled).
    pub fn add_fault(&self, fault: Fault) {
        if let Some(faults) = &self.shared.faults {
            faults.add(fault);
        }
    }

    /// Drops every scripted fault not yet used up.
    pub fn clear_faults(&self) {
        if let Some(faults) = &self.shared.faults {
            faults.clear();
        }
    }

    /// Lets `count` requests held by a `hold` fault (now or to come) go on.
    pub fn release_held(&self, count: u64) {
        if let Some(faults) = &self.shared.faults {
            faults.release(count);
        }
    }

    /// Waits (at most `limit`) until `done(waiting, finished)` holds of the requests held by
    /// `hold` faults: waiting now, and applied or refused since the start. Whether it did.
    pub fn wait_held(&self, limit: Duration, done: impl Fn(u64, u64) -> bool) -> bool {
        self.shared
            .faults
            .as_ref()
            .is_some_and(|faults| faults.wait_held(limit, done))
    }

    /// Requests still to be faulted by the scripted rules.
    pub fn pending_faults(&self) -> u64 {
        self.shared.faults.as_ref().map_or(0, |f| f.pending())
    }

    /// Runs the server's clock `seconds` ahead of the machine's (negative: behind): the time
    /// signatures are checked against, its `Date`, and the times it stores.
    pub fn set_clock_offset(&self, seconds: i64) {
        self.shared.clock_offset.store(seconds, Ordering::Relaxed);
    }

    /// Test set-up: stores a Normal object as PutObject would, without a request.
    pub fn put_object(&self, bucket: &str, key: &str, data: &[u8]) -> io::Result<()> {
        use md5::Digest;
        let body = store::Ingest {
            bytes: self.shared.store.keeps_data().then(|| data.to_vec()),
            len: data.len() as u64,
            crc: oss_protocol::crc64::checksum(data),
            md5: Some(md5::Md5::digest(data).into()),
        };
        self.shared
            .store
            .put(
                bucket,
                key,
                body,
                store::Attributes::default(),
                self.shared.now(),
            )
            .map(drop)
            .map_err(|e| io::Error::other(e.message))
    }

    /// Test inspection: the bytes an object holds (`None` when absent, or in discard mode).
    pub fn object_bytes(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.shared
            .store
            .read(bucket, key, |len| Ok((0, len)))
            .ok()
            .map(|slice| slice.bytes)
    }

    /// Test inspection: how many connections have been accepted (keep-alive shows as few).
    pub fn connections_accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Test inspection: how many requests of `op` arrived, whatever their outcome.
    pub fn requests_received(&self, op: Op) -> u64 {
        self.shared.received(op)
    }

    /// Test control: closes every open connection, as a server's idle timeout would.
    pub fn close_connections(&self) {
        for (_, stream) in self
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
        {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept; it sees the flag and returns.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        // Held requests would otherwise keep their threads forever.
        self.release_held(u64::MAX / 2);
        self.close_connections();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> io::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let invalid =
        |e: &dyn std::fmt::Display| io::Error::new(io::ErrorKind::InvalidInput, e.to_string());
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| invalid(&format!("{}: {e}", cert.display())))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| invalid(&format!("{}: {e}", key.display())))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| invalid(&e))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| invalid(&e))?;
    Ok(Arc::new(config))
}

fn accept(
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Option<Arc<rustls::ServerConfig>>,
    stopping: Arc<AtomicBool>,
    connections: Connections,
) {
    for stream in listener.incoming() {
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(tcp) = stream else { continue };
        let _ = tcp.set_nodelay(true);
        let (Ok(control), Ok(registered)) = (tcp.try_clone(), tcp.try_clone()) else {
            continue;
        };
        let id = shared.accepted.fetch_add(1, Ordering::SeqCst);
        connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, registered);
        let stream: Box<dyn Stream> = match &tls {
            Some(config) => match rustls::ServerConnection::new(config.clone()) {
                Ok(session) => Box::new(rustls::StreamOwned::new(session, tcp)),
                Err(_) => continue,
            },
            None => Box::new(tcp),
        };
        let (conn_shared, registry) = (shared.clone(), connections.clone());
        let spawned = std::thread::Builder::new()
            .name("oss-conn".into())
            .spawn(move || {
                let _registered = Registered { registry, id };
                serve(&conn_shared, Conn::new(stream, control));
            });
        if spawned.is_err() {
            // No thread to serve it: forget the socket, which closes when dropped.
            connections
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
        }
    }
}

/// A connection's entry in the registry, dropped when its thread ends, even by a panic: the
/// registered handle would otherwise keep the socket open and its client waiting forever.
struct Registered {
    registry: Connections,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

fn serve(shared: &Shared, mut conn: Conn) {
    loop {
        let head = match conn.read_head() {
            Ok(head) => head,
            Err(HeadError::Closed | HeadError::Broken) => return,
            Err(HeadError::Malformed(message)) => {
                let mut response = http::Response::new(400);
                response.body = message.into_bytes();
                let _ = conn.send(&response, false, true);
                return conn.close();
            }
        };
        match handler::handle(shared, &mut conn, &head) {
            Outcome::KeepAlive => {}
            Outcome::Close => return conn.close(),
            Outcome::Reset => return conn.reset(),
        }
    }
}
