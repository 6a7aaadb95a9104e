//! One error type for everything the library reports. Its [`ErrorKind`] is what the C
//! status code will be; the rest is the detail a user of a storage SDK needs: the server's
//! code, message, request id and EC, the object's length where OSS gave it, and both sides'
//! lengths and CRCs when they disagree. A leaf: what an answer means is read in
//! `response`, which builds these.

use std::fmt;

/// What went wrong, in the terms a caller acts on. Each kind is one C status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    InvalidArgument,
    PositionNotEqualToLength,
    ObjectNotAppendable,
    AccessDenied,
    SignatureMismatch,
    InvalidAccessKey,
    SecurityToken,
    NoSuchBucket,
    NoSuchKey,
    ObjectTooLarge,
    RequestTimeSkewed,
    /// The server's CRC-64 of the object differs from the client's.
    CrcMismatch,
    /// Another writer changed the object: neither our append nor nothing is what it holds.
    Conflict,
    /// Throttled or temporarily unavailable (429, 503).
    Unavailable,
    /// Any other 5xx.
    ServerError,
    /// Any other error the service returned.
    Service,
    Timeout,
    Network,
    Tls,
    /// Reading the caller's data (a file, a reader) failed.
    Io,
    Cancelled,
    /// The handle was closed.
    Closed,
    CredentialsMissing,
    Internal,
    /// A buffered write found the buffer full and was told not to wait.
    WouldBlock,
    /// A buffer of the size the caller set could not be allocated.
    OutOfMemory,
    /// The disk spool failed: its directory or a file of it could not be made, written,
    /// synced or read (a full disk, say), or a file in it is not a spool file this library
    /// can use (named in the message, and renamed aside with `.bad`).
    SpoolIo,
    /// Another appender, in this process or another, owns the spool of this object.
    SpoolInUse,
}

impl ErrorKind {
    /// The kind an OSS error code (or, lacking a known code, its HTTP status) means.
    pub fn from_service(status: u16, code: &str) -> ErrorKind {
        match code {
            "PositionNotEqualToLength" => ErrorKind::PositionNotEqualToLength,
            // A sealed object, whatever the status: OSS's SealAppendObject reference gives
            // 409, alibabacloud-oss-v2's (skipped) seal test expects 400.
            "ObjectNotAppendable" | "AppendSealedObjectNotAllowed" => {
                ErrorKind::ObjectNotAppendable
            }
            "AccessDenied" => ErrorKind::AccessDenied,
            "SignatureDoesNotMatch" => ErrorKind::SignatureMismatch,
            "InvalidAccessKeyId" => ErrorKind::InvalidAccessKey,
            "InvalidSecurityToken" | "SecurityTokenExpired" => ErrorKind::SecurityToken,
            "NoSuchBucket" => ErrorKind::NoSuchBucket,
            "NoSuchKey" => ErrorKind::NoSuchKey,
            "EntityTooLarge" => ErrorKind::ObjectTooLarge,
            "RequestTimeTooSkewed" => ErrorKind::RequestTimeSkewed,
            "InvalidArgument"
            | "InvalidObjectName"
            | "InvalidBucketName"
            | "InvalidDigest"
            | "MalformedXML"
            | "MissingContentLength" => ErrorKind::InvalidArgument,
            _ => match status {
                429 | 503 => ErrorKind::Unavailable,
                500..=599 => ErrorKind::ServerError,
                _ => ErrorKind::Service,
            },
        }
    }
}

/// What an OSS error answer says: its status and the fields of its error document.
#[derive(Debug, Default)]
pub(crate) struct ServiceError {
    pub status: u16,
    pub code: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
    pub host_id: Option<String>,
    pub ec: Option<String>,
    /// `x-oss-next-append-position`: the object's length, on a 409.
    pub next_position: Option<u64>,
}

/// An error with everything known about it. Cheap to move (one box).
#[derive(Clone, PartialEq, Eq)]
pub struct Error(Box<Detail>);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Detail {
    kind: Option<ErrorKind>,
    message: String,
    http_status: Option<u16>,
    code: Option<String>,
    request_id: Option<String>,
    host_id: Option<String>,
    ec: Option<String>,
    next_position: Option<u64>,
    server_length: Option<u64>,
    server_crc: Option<u64>,
    client_length: Option<u64>,
    client_crc: Option<u64>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error(Box::new(Detail {
            kind: Some(kind),
            message: message.into(),
            ..Detail::default()
        }))
    }

    pub fn invalid_argument(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    /// An error OSS answered with, as [`crate::response`] read it.
    pub(crate) fn from_service(answer: ServiceError) -> Error {
        let kind = ErrorKind::from_service(answer.status, answer.code.as_deref().unwrap_or(""));
        Error(Box::new(Detail {
            kind: Some(kind),
            message: answer.message,
            http_status: Some(answer.status),
            code: answer.code,
            request_id: answer.request_id,
            host_id: answer.host_id,
            ec: answer.ec,
            next_position: answer.next_position,
            ..Detail::default()
        }))
    }

    pub fn kind(&self) -> ErrorKind {
        self.0.kind.unwrap_or(ErrorKind::Internal)
    }

    pub fn message(&self) -> &str {
        &self.0.message
    }

    pub fn http_status(&self) -> Option<u16> {
        self.0.http_status
    }

    /// The OSS error code, such as `PositionNotEqualToLength`.
    pub fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }

    pub fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    pub fn host_id(&self) -> Option<&str> {
        self.0.host_id.as_deref()
    }

    pub fn ec(&self) -> Option<&str> {
        self.0.ec.as_deref()
    }

    /// The object's length as the server gave it (`x-oss-next-append-position`).
    pub fn next_position(&self) -> Option<u64> {
        self.0.next_position
    }

    /// The object's length and CRC-64 as the server reported them, on a mismatch or conflict.
    pub fn server_state(&self) -> Option<(u64, u64)> {
        self.0.server_length.zip(self.0.server_crc)
    }

    /// The length and CRC-64 the client expected, on a mismatch or conflict.
    pub fn client_state(&self) -> Option<(u64, u64)> {
        self.0.client_length.zip(self.0.client_crc)
    }

    pub(crate) fn with_message(mut self, message: impl Into<String>) -> Error {
        self.0.message = message.into();
        self
    }

    pub(crate) fn with_states(mut self, server: (u64, u64), client: (u64, u64)) -> Error {
        (self.0.server_length, self.0.server_crc) = (Some(server.0), Some(server.1));
        (self.0.client_length, self.0.client_crc) = (Some(client.0), Some(client.1));
        self
    }

    pub(crate) fn with_request_id(mut self, request_id: Option<String>) -> Error {
        self.0.request_id = request_id;
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        write!(f, "{}", d.message)?;
        let mut extra = Vec::new();
        if let Some(status) = d.http_status {
            extra.push(format!("HTTP {status}"));
        }
        if let Some(code) = &d.code {
            extra.push(code.clone());
        }
        if let Some(ec) = &d.ec {
            extra.push(format!("EC {ec}"));
        }
        if let Some(id) = &d.request_id {
            extra.push(format!("request id {id}"));
        }
        if !extra.is_empty() {
            write!(f, " ({})", extra.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Error");
        s.field("kind", &self.kind())
            .field("message", &self.0.message);
        let d = &self.0;
        for (name, value) in [
            ("http_status", d.http_status.map(|v| v.to_string())),
            ("code", d.code.clone()),
            ("request_id", d.request_id.clone()),
            ("ec", d.ec.clone()),
            ("next_position", d.next_position.map(|v| v.to_string())),
            ("server_length", d.server_length.map(|v| v.to_string())),
            ("server_crc", d.server_crc.map(|v| v.to_string())),
            ("client_length", d.client_length.map(|v| v.to_string())),
            ("client_crc", d.client_crc.map(|v| v.to_string())),
        ] {
            if let Some(value) = value {
                s.field(name, &value);
            }
        }
        s.finish()
    }
}

impl std::error::Error for Error {}
