//! `oss-local-server`: serves until killed; the first stdout line is `listening on URL`.

use oss_local_server::{Config, Server};
use std::io::Write;
use std::process::ExitCode;

const USAGE: &str = "usage: oss-local-server --access-key-id ID --access-key-secret SECRET
    [--listen 127.0.0.1:0] [--security-token T] [--region cn-hangzhou] [--bucket NAME]...
    [--data-dir DIR] [--max-object-size BYTES] [--discard]
    [--tls-cert PEM --tls-key PEM] [--enable-faults] [--bare-head-errors] [--latency-ms N]";

fn parse(args: &[String]) -> Result<Config, String> {
    let mut config = Config::new("", "");
    let (mut id, mut secret, mut cert, mut key) = (None, None, None, None);
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--listen" => {
                let v = value()?;
                config.listen = v
                    .parse()
                    .map_err(|_| format!("--listen: not an address: {v}"))?
            }
            "--access-key-id" => id = Some(value()?),
            "--access-key-secret" => secret = Some(value()?),
            "--security-token" => config.security_token = Some(value()?),
            "--region" => config.region = value()?,
            "--bucket" => config.buckets.push(value()?),
            "--data-dir" => config.data_dir = Some(value()?.into()),
            "--max-object-size" => {
                let v = value()?;
                config.max_object_size = v
                    .parse()
                    .map_err(|_| format!("--max-object-size: not a byte count: {v}"))?
            }
            "--discard" => config.discard = true,
            "--tls-cert" => cert = Some(value()?),
            "--tls-key" => key = Some(value()?),
            "--enable-faults" => config.enable_faults = true,
            "--bare-head-errors" => config.bare_head_errors = true,
            "--latency-ms" => {
                let v = value()?;
                config.latency = v
                    .parse()
                    .map(std::time::Duration::from_millis)
                    .map_err(|_| format!("--latency-ms: not a whole number of milliseconds: {v}"))?
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    config.access_key_id = id.ok_or("--access-key-id is required")?;
    config.access_key_secret = secret.ok_or("--access-key-secret is required")?;
    config.tls = match (cert, key) {
        (Some(c), Some(k)) => Some((c.into(), k.into())),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    Ok(config)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse(&args) {
        Ok(config) => config,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("oss-local-server: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let server = match Server::start(config) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("oss-local-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", server.url());
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}
