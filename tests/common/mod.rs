//! What the integration tests share: a local OSS server with one bucket and faults enabled,
//! and a client configuration for it with quick retries.

// Each test crate compiles this module and uses part of it.
#![allow(dead_code)]

use oss_append::{Config, Credentials, RetryPolicy};
use oss_local_server::Server;
use std::time::Duration;

pub fn start_server(access_key_id: &str, secret: &str, bucket: &str) -> Server {
    Server::start(
        oss_local_server::Config::new(access_key_id, secret)
            .bucket(bucket)
            .faults(),
    )
    .unwrap()
}

/// The server's endpoint and region, these credentials, a 5 s request timeout and three
/// attempts with short waits.
pub fn client_config(server: &Server, access_key_id: &str, secret: &str) -> Config {
    Config::new()
        .endpoint(&server.url())
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
