//! oss-append: stream data into Alibaba Cloud OSS appendable objects.
//!
//! A blocking Rust core with a C ABI on top. Data flows one way, and every module imports
//! only from those below it in this list:
//!
//! - `ffi/`: the C ABI, thin: pointer checks, the panic boundary, conversions, handles;
//! - `append/`: the appendable-file handle, [`Appender`]: the facade, its options, the
//!   chunking helpers, the direct and the buffered engines, the buffered one's disk spool;
//! - `client`: [`Client`]'s OSS requests (AppendObject, SealAppendObject, HeadObject);
//! - `retry`: the one retry policy (attempts, backoff, what may be sent again);
//! - `transport`: one request signed (with the workspace's `oss-protocol` signers) and sent;
//!   learns the server's clock;
//! - `response`: what an OSS answer says (error documents, an append's answer, a HEAD's);
//! - `http/`: ureq, our TCP layer under it, its resolver and connector links;
//! - `config`, `credentials`: a client's settings and where its keys come from;
//! - `object`: the object model every layer takes from (object info, append results,
//!   create and request parameters, the accepted values and the checks of names, header
//!   values and sizes);
//! - `error`: [`Error`] and [`ErrorKind`], a leaf.
//!
//! The public API is what a Rust user needs, re-exported here; the modules are private.

mod append;
mod client;
mod config;
mod credentials;
mod error;
mod ffi;
mod http;
mod object;
mod response;
mod retry;
#[cfg(test)]
mod testing;
mod transport;

pub use append::{
    drain_spool, AppendOptions, Appender, BufferOptions, Progress, RollCallback, RollOptions,
    SpoolOptions, SpoolSync, MAX_BUFFER_CAPACITY,
};
pub use client::{Client, Listing};
pub use config::{Config, LogLevel, Logger, RetryPolicy, SignatureVersion, UrlStyle};
pub use credentials::{Credentials, CredentialsProvider};
pub use error::{Error, ErrorKind, Result};
pub use object::{
    AppendObjectOptions, AppendResult, CreateParams, ListedObject, ObjectInfo, ObjectType,
    RequestParams,
};
