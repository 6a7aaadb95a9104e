//! oss-append: stream data into Alibaba Cloud OSS appendable objects.
//!
//! The crate is a blocking Rust core with a C ABI on top. Data flows one way:
//! C caller -> `ffi` -> `append` handle -> `client` (OSS requests, `retry` policy) ->
//! `transport` ([`signer`]) -> `http` (ureq) -> OSS, and back through `response`.
//! The pieces here are the ones every layer shares: the CRC-64 OSS reports for whole
//! objects ([`crc64`]) and the two request signature versions ([`signer`]).

pub mod append;
pub mod client;
pub mod config;
pub mod credentials;
pub mod error;
mod ffi;
mod http;
mod object;
#[cfg(test)]
mod properties;
mod response;
mod retry;
mod transport;

pub use append::{AppendOptions, Appender, BufferOptions, Progress, MAX_BUFFER_CAPACITY};
pub use client::Client;
pub use config::{Config, LogLevel, Logger, RetryPolicy, SignatureVersion, UrlStyle};
pub use credentials::{Credentials, CredentialsProvider};
pub use error::{Error, ErrorKind, Result};
pub use object::{
    AppendObjectOptions, AppendResult, CreateParams, ObjectInfo, ObjectType, RequestParams,
};
