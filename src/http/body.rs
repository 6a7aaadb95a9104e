//! A request body read from the caller's slice into ureq's output buffer, its CRC-64 folded
//! in as each piece is copied (while the piece is in cache): one pass over the data.

use oss_protocol::crc64::Crc64;
use std::io::Read;

pub(crate) struct CrcReader<'a> {
    rest: &'a [u8],
    crc: Crc64,
}

impl<'a> CrcReader<'a> {
    pub fn new(body: &'a [u8]) -> Self {
        CrcReader {
            rest: body,
            crc: Crc64::new(),
        }
    }

    /// The CRC-64 of what ureq has taken so far (all of it once the request was sent).
    pub fn crc(&self) -> u64 {
        self.crc.value()
    }
}

impl Read for CrcReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.rest.len());
        let (piece, rest) = self.rest.split_at(n);
        buf[..n].copy_from_slice(piece);
        self.crc.update(&buf[..n]);
        self.rest = rest;
        Ok(n)
    }
}
