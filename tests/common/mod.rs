//! What the integration tests share: a local OSS server with one bucket and faults enabled.

use oss_local_server::{Config, Server};

pub fn start_server(access_key_id: &str, secret: &str, bucket: &str) -> Server {
    Server::start(Config::new(access_key_id, secret).bucket(bucket).faults()).unwrap()
}
