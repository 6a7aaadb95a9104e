//! The pieces of the OSS protocol that oss-append and its local test server share, private to
//! this workspace: the two request signature versions ([`signer`]) and the CRC-64 OSS reports
//! for whole objects ([`crc64`]). Sharing them hides no bug in either: the official SDKs
//! referee the server's signature checks and CRCs in `make test` (`tests/interop`).

pub mod crc64;
pub mod signer;
