//! write_from streams an input far larger than the memory it may use: a generated stream of
//! several GiB goes into a `--discard` server while the process's peak resident memory stays
//! bounded. Its own test binary, so the peak belongs to this test alone.

mod common;

use oss_append::{AppendOptions, Appender, Client, Config, Credentials};
use oss_local_server::Server;
use std::io::Read;

const TOTAL: u64 = 3 << 30;
const REQUEST: usize = 8 << 20;

/// Deterministic bytes without holding them: a 64 KiB block, repeated and shifted.
struct Generated {
    block: Vec<u8>,
    left: u64,
    offset: usize,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf
            .len()
            .min(self.left.min(self.block.len() as u64) as usize);
        let start = self.offset % self.block.len();
        let first = n.min(self.block.len() - start);
        buf[..first].copy_from_slice(&self.block[start..start + first]);
        buf[first..n].copy_from_slice(&self.block[..n - first]);
        self.offset += n + 1;
        self.left -= n as u64;
        Ok(n)
    }
}

#[test]
fn several_gib_stream_through_one_buffer_with_bounded_memory() {
    let mut server_config = oss_local_server::Config::new("ak", "sk").bucket("stream");
    server_config.discard = true;
    let server = Server::start(server_config).unwrap();
    let config = Config::new()
        .endpoint(&server.url())
        .unwrap()
        .region("cn-hangzhou")
        .unwrap()
        .credentials(Credentials::new("ak", "sk", None).unwrap());
    let client = Client::new(&config).unwrap();
    let options = AppendOptions {
        request_size: REQUEST,
        ..AppendOptions::default()
    };
    let mut handle = Appender::open(&client, "stream", "big", options).unwrap();
    let block = (0..65_536u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let before = common::peak_rss();
    let written = handle
        .write_from(Generated {
            block,
            left: TOTAL,
            offset: 0,
        })
        .unwrap();
    let growth = common::peak_rss().saturating_sub(before);
    assert_eq!(written, TOTAL);
    let info = handle.stat().unwrap();
    // Every request's CRC was checked against the server's; the totals agree too.
    assert_eq!((info.length, info.crc64), (TOTAL, Some(handle.crc64())));
    assert!(
        growth < 64 << 20,
        "peak RSS grew by {} MiB streaming {} GiB",
        growth >> 20,
        TOTAL >> 30
    );
}
