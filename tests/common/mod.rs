//! What the integration tests share: a local OSS server with one bucket and faults enabled,
//! and a client configuration for it with quick retries.

// Each test crate compiles this module and uses part of it.
#![allow(dead_code)]

use oss_append::{Client, Config, Credentials, RetryPolicy};
use oss_local_server::Server;
use std::path::PathBuf;
use std::time::Duration;

pub fn start_server(access_key_id: &str, secret: &str, bucket: &str) -> Server {
    Server::start(
        oss_local_server::Config::new(access_key_id, secret)
            .bucket(bucket)
            .faults(),
    )
    .unwrap()
}

/// A server's certificate as a PEM file, removed (with its directory) on drop.
pub struct Certificate {
    dir: PathBuf,
}

impl Certificate {
    pub fn path(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }
}

impl Drop for Certificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Certificate {
    /// A self-signed certificate for 127.0.0.1 and its key, in a directory of their own
    /// (`name` keeps each test's files apart).
    pub fn new(name: &str) -> Certificate {
        let dir = std::env::temp_dir().join(format!("oss-append-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let certificate = Certificate { dir };
        let made = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=127.0.0.1"])
            // A leaf, not a CA: webpki refuses a CA certificate as the server's own.
            .args(["-addext", "subjectAltName=IP:127.0.0.1"])
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .arg("-keyout")
            .arg(certificate.key_path())
            .arg("-out")
            .arg(certificate.path())
            .output()
            .unwrap();
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        certificate
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    /// `config` serving HTTPS with this certificate.
    pub fn serve(&self, mut config: oss_local_server::Config) -> Server {
        config.tls = Some((self.path(), self.key_path()));
        let server = Server::start(config).unwrap();
        assert!(server.url().starts_with("https://"));
        server
    }
}

/// A TLS server like [`start_server`]'s (no faults), with a certificate for 127.0.0.1 that
/// only the returned one trusts.
pub fn start_tls_server(
    name: &str,
    access_key_id: &str,
    secret: &str,
    bucket: &str,
) -> (Server, Certificate) {
    let certificate = Certificate::new(name);
    let config = oss_local_server::Config::new(access_key_id, secret).bucket(bucket);
    (certificate.serve(config), certificate)
}

/// [`start_server`] and a client of it ([`client_config`]).
pub fn start_with_client(access_key_id: &str, secret: &str, bucket: &str) -> (Server, Client) {
    let server = start_server(access_key_id, secret, bucket);
    let client = Client::new(&client_config(&server, access_key_id, secret)).unwrap();
    (server, client)
}

/// The server's endpoint and region, these credentials, a 5 s request timeout and three
/// attempts with short waits.
pub fn client_config(server: &Server, access_key_id: &str, secret: &str) -> Config {
    client_config_for(&server.url(), access_key_id, secret)
}

/// [`client_config`] for a server known only by its URL (in a child process, say).
pub fn client_config_for(endpoint: &str, access_key_id: &str, secret: &str) -> Config {
    Config::new()
        .endpoint(endpoint)
        .unwrap()
        .region("cn-hangzhou")
        .unwrap()
        .credentials(Credentials::new(access_key_id, secret, None).unwrap())
        .request_timeout(Duration::from_secs(5))
        .unwrap()
        .retry(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
        })
        .unwrap()
}

/// Peak resident memory of this process so far, in bytes.
pub fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}
