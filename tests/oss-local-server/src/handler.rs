//! One request: route, authenticate, apply faults, run the operation, answer.

use crate::auth::{self, Credentials};
use crate::encryption;
use crate::error::{Document, OssError};
use crate::faults::{Action, Fault, Faults, Op};
use crate::http::{BodyError, Conn, Framing, Head, Response};
use crate::names::{check_bucket, check_key, check_version};
use crate::store::{Attributes, Ingest, ObjectMeta, ObjectType, Store, STORAGE_CLASSES};
use crate::tagging;
use crate::time;
use crate::traffic_limit::TrafficLimit;
use crate::uri::{self, Query};
use crate::xml::Writer;
use crate::{batch_delete, buckets, listing, presign};
use base64::Engine;
use md5::{Digest, Md5};
use oss_protocol::crc64::Crc64;
use oss_protocol::signer;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

// The values OSS documents for these headers: the server's own lists, not the client's, so
// that a wrong list in the library is refused here rather than agreed with.
const ACLS: &[&str] = &["private", "public-read", "public-read-write", "default"];

/// How the server behaves besides its credentials and storage.
pub struct Options {
    pub faults: bool,
    /// HEAD errors carry no `x-oss-err`/`x-oss-ec`, as behind a proxy that drops them.
    pub bare_head_errors: bool,
    /// Added before every answer, as a network's round trip would.
    pub latency: Duration,
}

pub struct Shared {
    pub creds: Credentials,
    pub store: Store,
    /// `None` unless the server was started with faults enabled.
    pub faults: Option<Faults>,
    bare_head_errors: bool,
    latency: Duration,
    /// Seconds the server's clock is ahead of the machine's.
    pub clock_offset: AtomicI64,
    requests: AtomicU64,
    /// Requests received per operation (indexed by [`Op::index`]), whatever their outcome.
    received: [AtomicU64; Op::ALL.len()],
    /// Connections accepted so far; also the next connection's id.
    pub accepted: AtomicU64,
}

impl Shared {
    pub fn new(creds: Credentials, store: Store, options: Options) -> Self {
        Shared {
            creds,
            store,
            faults: options.faults.then(Faults::default),
            bare_head_errors: options.bare_head_errors,
            latency: options.latency,
            clock_offset: AtomicI64::new(0),
            requests: AtomicU64::new(0),
            received: Default::default(),
            accepted: AtomicU64::new(0),
        }
    }

    /// How many requests of `op` arrived (signed or not, faulted or not).
    pub fn received(&self, op: Op) -> u64 {
        self.received[op.index()].load(Ordering::SeqCst)
    }

    pub fn now(&self) -> SystemTime {
        signer::offset_now(self.clock_offset.load(Ordering::Relaxed))
    }

    fn request_id(&self) -> String {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let secs = time::unix_seconds(SystemTime::now());
        format!(
            "{:08X}{:08X}{:08X}",
            secs as u32,
            std::process::id(),
            n as u32
        )
    }
}

/// What the connection does after a request.
pub enum Outcome {
    KeepAlive,
    Close,
    Reset,
}

enum Reply {
    Respond(Response),
    Reset,
    /// The body could not be read: the client is gone or broke the framing.
    Drop,
}

/// The request in flight, and how much of its body has been taken from the connection.
struct Exchange<'a> {
    shared: &'a Shared,
    conn: &'a mut Conn,
    head: &'a Head,
    request_id: String,
    /// `None`: neither Content-Length nor chunked, so no body.
    framing: Option<Framing>,
    body_taken: bool,
    continue_sent: bool,
    /// The connection closes after the answer: a body left unread cannot be skipped, or
    /// the request's framing is not to be trusted.
    close: bool,
}

pub fn handle(shared: &Shared, conn: &mut Conn, head: &Head) -> Outcome {
    let request_id = shared.request_id();
    let is_head = head.method == "HEAD";
    let host = head.header("host").unwrap_or("").to_string();
    // Both headers could be a smuggling attempt: answer, then close (RFC 9112 section 6.3).
    let both =
        head.header("transfer-encoding").is_some() && head.header("content-length").is_some();
    let mut ex = Exchange {
        shared,
        conn,
        head,
        request_id,
        framing: None,
        body_taken: false,
        continue_sent: false,
        close: head.close || both,
    };
    let mut host_id = host.clone();
    let mut key = None;
    let reply = match framing(head) {
        Err(e) => {
            ex.close = true;
            Err(e)
        }
        Ok(framing) => {
            ex.framing = framing;
            parse(&ex, &host).and_then(|parsed| {
                if let Some(bucket) = &parsed.bucket {
                    if !host.starts_with(&format!("{bucket}.")) {
                        host_id = format!("{bucket}.{host}");
                    }
                }
                key.clone_from(&parsed.key);
                dispatch(&mut ex, &parsed)
            })
        }
    };
    let response = match reply {
        Ok(Reply::Respond(r)) => r,
        Ok(Reply::Reset) => return Outcome::Reset,
        Ok(Reply::Drop) => return Outcome::Close,
        Err(e) => {
            let document = if !is_head {
                Document::Body
            } else if shared.bare_head_errors
                || shared
                    .faults
                    .as_ref()
                    .is_some_and(|f| f.take_bare_head_error(key.as_deref()))
            {
                Document::Omitted
            } else {
                Document::Headers
            };
            e.into_response(&ex.request_id, &host_id, document)
        }
    };
    let unread = !ex.body_taken && ex.framing.is_some_and(|f| f != Framing::Length(0));
    // A client still waiting for `100 Continue` will not send its body: answer and close.
    if unread && is_expect_continue(head) && !ex.continue_sent {
        ex.close = true;
    }
    let mut response = response;
    response.header("Server", "AliyunOSS");
    response.header("Date", httpdate::fmt_http_date(shared.now()));
    response.header("x-oss-request-id", ex.request_id.clone());
    std::thread::sleep(shared.latency);
    if ex.conn.send(&response, is_head, ex.close).is_err() || ex.close {
        return Outcome::Close;
    }
    // An unread body must leave the connection before the next request can be read. It is
    // skipped after the answer, so a client that waits for the answer before sending the
    // rest (or instead of it) is not kept waiting.
    if unread && drain(&mut ex).is_err() {
        return Outcome::Close;
    }
    Outcome::KeepAlive
}

fn drain(ex: &mut Exchange) -> Result<(), BodyError> {
    match ex.framing {
        Some(framing) => ex.conn.body(framing, u64::MAX).drain(),
        None => Ok(()),
    }
}

fn is_expect_continue(head: &Head) -> bool {
    head.header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
}

struct Parsed {
    path: String,
    bucket: Option<String>,
    key: Option<String>,
    query: Query,
}

impl Parsed {
    fn has(&self, name: &str) -> bool {
        self.query.has(name)
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.query.value(name)
    }
}

fn parse(ex: &Exchange, host: &str) -> Result<Parsed, OssError> {
    let (raw_path, raw_query) = ex
        .head
        .target
        .split_once('?')
        .unwrap_or((&ex.head.target, ""));
    let bad_uri = || {
        OssError::invalid_argument(
            "0002-00000001",
            "The request URI is not valid UTF-8 after decoding.",
        )
    };
    let path = uri::decode(raw_path).ok_or_else(bad_uri)?;
    let query = Query::parse(raw_query).ok_or_else(bad_uri)?;
    let (bucket, key) = route(host, &path);
    Ok(Parsed {
        path,
        bucket,
        key,
        query,
    })
}

/// How the body is delimited (RFC 9112 section 6.3): chunked wins over a Content-Length
/// sent with it. Any other transfer coding is refused, as OSS documents only chunked.
fn framing(head: &Head) -> Result<Option<Framing>, OssError> {
    let codings: Vec<&str> = head
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("transfer-encoding"))
        .flat_map(|(_, value)| value.split(','))
        .map(str::trim)
        .collect();
    match codings.as_slice() {
        [] => {}
        [coding] if coding.eq_ignore_ascii_case("chunked") => return Ok(Some(Framing::Chunked)),
        // Understood framing around a coding we do not decode (RFC 9112 section 6.1).
        [.., last] if last.eq_ignore_ascii_case("chunked") => {
            return Err(OssError::new(
                501,
                "NotImplemented",
                "0000-00000001",
                format!(
                    "Transfer-Encoding {} is not implemented.",
                    codings.join(", ")
                ),
            ))
        }
        // Without chunked last the body's end cannot be known (RFC 9112 section 6.3).
        _ => {
            return Err(OssError::invalid_argument(
                "0002-00000003",
                format!(
                    "Transfer-Encoding {} does not end in chunked.",
                    codings.join(", ")
                ),
            ))
        }
    }
    match head.header("content-length") {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(|len| Some(Framing::Length(len)))
            .map_err(|_| {
                OssError::invalid_argument(
                    "0002-00000002",
                    format!("Content-Length is not a number: {v}"),
                )
            }),
    }
}

fn missing_content_length() -> OssError {
    OssError::new(
        411,
        "MissingContentLength",
        "0016-00000201",
        "You must provide the Content-Length HTTP header.",
    )
}

/// Bucket and key from the Host (virtual-hosted style, `<bucket>.<endpoint>`) or the path.
/// An IP, `localhost`, a single label or an `oss-*` service endpoint means path style.
fn route(host: &str, path: &str) -> (Option<String>, Option<String>) {
    let name = if host.starts_with('[') {
        host.split(']').next().unwrap_or(host)
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    let virtual_bucket = match name.split_once('.') {
        Some((first, _))
            if name.parse::<std::net::IpAddr>().is_err()
                && !first.starts_with("oss-")
                && !name.starts_with('[') =>
        {
            Some(first.to_string())
        }
        _ => None,
    };
    let rest = path.strip_prefix('/').unwrap_or(path);
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    match virtual_bucket {
        Some(bucket) => (Some(bucket), non_empty(rest)),
        None => match rest.split_once('/') {
            Some((bucket, key)) => (non_empty(bucket), non_empty(key)),
            None => (non_empty(rest), None),
        },
    }
}

fn dispatch(ex: &mut Exchange, req: &Parsed) -> Result<Reply, OssError> {
    // Counting what arrived changes nothing, so `/-/stats` answers with or without faults.
    if req.path.starts_with("/-/") && (ex.shared.faults.is_some() || req.path == "/-/stats") {
        return control(ex, req).map(Reply::Respond);
    }
    if let Some(bucket) = req.bucket.as_deref() {
        check_bucket(bucket)?;
    }
    if let Some(key) = req.key.as_deref() {
        check_key(key)?;
    }
    let op = operation(ex.head.method.as_str(), req)?;
    ex.shared.received[op.index()].fetch_add(1, Ordering::SeqCst);
    let bucket = req.bucket.as_deref().unwrap_or("");
    if !matches!(op, Op::ListBuckets | Op::PutBucket) && !ex.shared.store.has_bucket(bucket) {
        return Err(OssError::no_such_bucket(bucket));
    }
    authenticate(ex, req)?;
    if matches!(op, Op::Append | Op::Put) && ex.framing.is_none() {
        return Err(missing_content_length());
    }
    let fault = ex
        .shared
        .faults
        .as_ref()
        .and_then(|f| f.take(op, req.key.as_deref()));
    let key = req.key.as_deref().unwrap_or("");
    match fault {
        Some(Action::ResetBeforeBody) => return Ok(Reply::Reset),
        Some(Action::Error(status)) => return Err(scripted_error(ex, bucket, key, status)),
        // A front end's refusal: the body stays unread, so the connection cannot go on.
        Some(Action::AnswerEarly(status)) => {
            ex.close = true;
            return Err(scripted_error(ex, bucket, key, status));
        }
        _ => {}
    }
    let shared = ex.shared;
    let store = &shared.store;
    match op {
        Op::Append => append(ex, req, bucket, key, fault),
        Op::Put => put(ex, req, bucket, key, fault),
        Op::Seal => {
            let position = position(req)?;
            applied(fault, || {
                let sealed = store.seal(bucket, key, position, shared.now())?;
                let mut response = Response::new(200);
                response.header("x-oss-sealed-time", httpdate::fmt_http_date(sealed));
                Ok(response)
            })
        }
        Op::Get => applied(fault, || get(ex, req, bucket, key)),
        Op::Head => applied(fault, || {
            let meta = store.head(bucket, key)?;
            let mut response = Response::new(200);
            object_headers(&mut response, &meta);
            response.header("Content-Length", meta.len.to_string());
            Ok(response)
        }),
        Op::Delete => {
            // `versionId=null` names the one version an object has without versioning.
            if req.has("versionId") {
                check_version(req.value("versionId").unwrap_or(""))?;
            }
            applied(fault, || {
                store.delete(bucket, key)?;
                Ok(Response::new(204))
            })
        }
        Op::PutBucket => {
            let Some(body) = read_document(ex, false)? else {
                return Ok(Reply::Drop);
            };
            applied(fault, || {
                buckets::create(store, bucket, ex.head, &body, shared.now())
            })
        }
        Op::DeleteBucket => applied(fault, || buckets::delete(store, bucket)),
        Op::ListBuckets => applied(fault, || {
            buckets::list(store, &req.query, &shared.creds.region)
        }),
        Op::ListObjects => applied(fault, || listing::answer(store, bucket, &req.query)),
        Op::DeleteMultiple => {
            let Some(body) = read_document(ex, true)? else {
                return Ok(Reply::Drop);
            };
            applied(fault, || {
                batch_delete::apply(store, bucket, &req.query, &body)
            })
        }
    }
}

/// The operation a request asks for; NotImplemented for one this server does not have.
/// A presigned URL's signature parameters ask for nothing: they are left out here.
fn operation(method: &str, req: &Parsed) -> Result<Op, OssError> {
    let query = &req.query.without(presign::is_signing_parameter);
    let op = match (method, req.bucket.is_some(), req.key.is_some()) {
        ("POST", _, true) if query.has("append") => Op::Append,
        ("POST", _, true) if query.has("seal") => Op::Seal,
        ("PUT", _, true) if !query.has("acl") && !query.has("tagging") => Op::Put,
        ("GET", _, true) => Op::Get,
        ("HEAD", _, true) => Op::Head,
        // DeleteObject takes a version at most: DELETE ?tagging, ?uploadId=... are other
        // operations, which this server does not have.
        ("DELETE", _, true) if query.only(&["versionId"]) => Op::Delete,
        ("PUT", true, false) if query.is_empty() => Op::PutBucket,
        ("DELETE", true, false) if query.is_empty() => Op::DeleteBucket,
        ("GET", true, false) if query.only(listing::PARAMETERS) => Op::ListObjects,
        ("POST", true, false)
            if query.has("delete") && query.only(&["delete", "encoding-type"]) =>
        {
            Op::DeleteMultiple
        }
        ("GET", false, false) if query.only(&["prefix", "marker", "max-keys"]) => Op::ListBuckets,
        _ => {
            return Err(OssError::not_implemented(&format!(
                "{method} with sub-resources {:?}",
                query
                    .pairs()
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
            )))
        }
    };
    Ok(op)
}

/// The error a fault scripts with `status`, with the document OSS sends for it.
fn scripted_error(ex: &Exchange, bucket: &str, key: &str, status: u16) -> OssError {
    match status {
        403 => OssError::access_denied(),
        409 => {
            let length = ex.shared.store.head(bucket, key).map_or(0, |meta| meta.len);
            OssError::position_not_equal_to_length(length)
        }
        503 => OssError::service_unavailable(),
        _ => OssError::internal_error(),
    }
}

fn authenticate(ex: &Exchange, req: &Parsed) -> Result<(), OssError> {
    let headers: Vec<(&str, &str)> = ex
        .head
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let query: Vec<(&str, Option<&str>)> = req
        .query
        .pairs()
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_deref()))
        .collect();
    let view = signer::Request {
        method: &ex.head.method,
        bucket: req.bucket.as_deref(),
        key: req.key.as_deref(),
        query: &query,
        headers: &headers,
    };
    auth::verify(&ex.shared.creds, &view, ex.shared.now())
}

/// Runs an operation inside the delay and reset faults scripted for it.
fn applied(
    fault: Option<Action>,
    apply: impl FnOnce() -> Result<Response, OssError>,
) -> Result<Reply, OssError> {
    if let Some(Action::DelayBeforeApply(d)) = fault {
        std::thread::sleep(d);
    }
    let response = apply()?;
    match fault {
        Some(Action::ResetAfterApply) => Ok(Reply::Reset),
        Some(Action::DelayAfterApply(d)) => {
            std::thread::sleep(d);
            Ok(Reply::Respond(response))
        }
        _ => Ok(Reply::Respond(response)),
    }
}

const CREATE_HEADERS: &[&str] = &[
    "content-type",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "expires",
    "x-oss-object-acl",
    "x-oss-storage-class",
    "x-oss-tagging",
];

/// Checks the attributes an object would be created with, as OSS does. The tags are checked
/// only when the request `creates` the object: OSS ignores a later append's, even invalid
/// ones (oss2's `test_append_object_with_tagging_wrong_num`).
fn check_attributes(head: &Head, creates: bool) -> Result<(), OssError> {
    let allowed = |name: &str, values: &[&str]| match head.header(name) {
        Some(v) if !values.contains(&v) => Err(OssError::invalid_argument(
            "0016-00000102",
            format!("{name} is not valid: {v}"),
        )),
        _ => Ok(()),
    };
    allowed("x-oss-object-acl", ACLS)?;
    allowed("x-oss-storage-class", STORAGE_CLASSES)?;
    allowed(encryption::ALGORITHM, encryption::ALGORITHMS)?;
    if encryption::wants_kms(head) {
        allowed(encryption::DATA_ALGORITHM, encryption::DATA_ALGORITHMS)?;
    }
    if let Some(tags) = head.header("x-oss-tagging").filter(|_| creates) {
        tagging::check(tags)?;
    }
    Ok(())
}

/// The attributes of an object this request creates, as [`check_attributes`] took them. Made
/// only for a request that does create one: it settles the encryption (a KMS key id made).
fn new_attributes(head: &Head) -> Attributes {
    let mut headers = Vec::new();
    for (name, value) in &head.headers {
        let lower = name.to_ascii_lowercase();
        if CREATE_HEADERS.contains(&lower.as_str()) || lower.starts_with("x-oss-meta-") {
            headers.push((lower, value.clone()));
        }
    }
    headers.extend(encryption::settle(head));
    Attributes { headers }
}

/// An appendable object never takes the coldest classes, whatever the bucket allows: OSS
/// documents an EC for each (0016-00000503, 0013-00000109), not the code, so InvalidArgument
/// is ours.
fn appendable_storage_class(head: &Head) -> Result<(), OssError> {
    match head.header("x-oss-storage-class") {
        Some("ColdArchive") => Err(OssError::invalid_argument(
            "0016-00000503",
            "The storage class of an appendable object cannot be ColdArchive.",
        )),
        Some("DeepColdArchive") => Err(OssError::invalid_argument(
            "0013-00000109",
            "The storage class of an appendable object cannot be DeepColdArchive.",
        )),
        _ => Ok(()),
    }
}

/// The `position` of an append or a seal.
fn position(req: &Parsed) -> Result<u64, OssError> {
    match req.value("position") {
        None if !req.has("position") => Err(OssError::invalid_argument(
            "0016-00000501",
            "Position is not specified.",
        )),
        value => value
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| OssError::invalid_argument("0016-00000502", "Position is not valid.")),
    }
}

fn append(
    ex: &mut Exchange,
    req: &Parsed,
    bucket: &str,
    key: &str,
    fault: Option<Action>,
) -> Result<Reply, OssError> {
    let position = position(req)?;
    let limit = TrafficLimit::of(ex.head, &req.query)?;
    // Answer a wrong position or size before the body is read; the store checks again
    // atomically when it applies. A chunked body's size is checked as it arrives.
    let current = match ex.shared.store.head(bucket, key) {
        Ok(meta) => Some(meta),
        Err(e) if e.code == "NoSuchKey" => None,
        Err(e) => return Err(e),
    };
    check_attributes(ex.head, current.is_none())?;
    appendable_storage_class(ex.head)?;
    let announced = match ex.framing {
        Some(Framing::Length(len)) => len,
        _ => 0,
    };
    ex.shared
        .store
        .check_append(current.as_ref(), position, announced)?;
    let existing = current.map_or(0, |meta| meta.len);
    // The bucket as found before the body (and any hold): one deleted since is NoSuchBucket.
    let target = ex.shared.store.bucket(bucket)?;
    let corrupt = fault == Some(Action::Corrupt);
    let Some(body) = read_body(ex, corrupt, false, existing, limit)? else {
        return Ok(Reply::Drop);
    };
    let (shared, head) = (ex.shared, ex.head);
    let apply = || {
        applied(fault, || {
            let attributes = || new_attributes(head);
            let meta =
                shared
                    .store
                    .append(&target, key, position, body, attributes, shared.now())?;
            let mut response = Response::new(200);
            response.header("x-oss-next-append-position", meta.len.to_string());
            response.header("x-oss-hash-crc64ecma", meta.crc.to_string());
            response.header("ETag", meta.etag.clone());
            encryption::answer(&mut response, &meta.attributes);
            Ok(response)
        })
    };
    match &shared.faults {
        Some(faults) if faults.take_hold(Some(key)) => faults.hold(apply),
        _ => apply(),
    }
}

fn put(
    ex: &mut Exchange,
    req: &Parsed,
    bucket: &str,
    key: &str,
    fault: Option<Action>,
) -> Result<Reply, OssError> {
    let limit = TrafficLimit::of(ex.head, &req.query)?;
    check_attributes(ex.head, true)?;
    let attributes = new_attributes(ex.head);
    let max = ex.shared.store.max_object_size();
    match ex.framing {
        Some(Framing::Length(len)) if len > max => {
            return Err(OssError::entity_too_large(0, len, max))
        }
        _ => {}
    }
    // A Normal object's ETag is the MD5 of its bytes.
    let Some(body) = read_body(ex, fault == Some(Action::Corrupt), true, 0, limit)? else {
        return Ok(Reply::Drop);
    };
    applied(fault, || {
        let meta = ex
            .shared
            .store
            .put(bucket, key, body, attributes, ex.shared.now())?;
        let mut response = Response::new(200);
        response.header("ETag", meta.etag.clone());
        response.header("x-oss-hash-crc64ecma", meta.crc.to_string());
        encryption::answer(&mut response, &meta.attributes);
        Ok(response)
    })
}

/// Reads the whole body, hashing it as it arrives; `None` when the client went away.
/// Bytes are kept only when the store keeps data. A `Content-MD5` is checked against the
/// bytes received (for a chunked body too: the digest is of the decoded bytes, which the
/// client knew before sending); `corrupt` then flips the first stored byte. MD5 (slower than
/// the network here) is computed only when `Content-MD5` was sent or `want_md5` asks for it.
/// The body goes onto an object of `existing` bytes: a chunked body fails as soon as its
/// chunks announce more than the maximum object size allows. Under a traffic `limit` it is
/// read in paced pieces, so the client cannot send faster than the limit.
fn read_body(
    ex: &mut Exchange,
    corrupt: bool,
    want_md5: bool,
    existing: u64,
    limit: Option<TrafficLimit>,
) -> Result<Option<Ingest>, OssError> {
    let expected_md5 = content_md5(ex.head)?;
    if !begin_body(ex) {
        return Ok(None);
    }
    let framing = ex.framing.unwrap_or(Framing::Length(0));
    let max = ex.shared.store.max_object_size();
    let keep = ex.shared.store.keeps_data();
    let mut crc = Crc64::new();
    let mut md5 = (want_md5 || expected_md5.is_some()).then(Md5::new);
    // Kept bodies are read straight into their final buffer; discarded ones pass through a
    // scratch buffer.
    let mut kept = match framing {
        Framing::Length(len) if keep => vec![0u8; len as usize],
        _ => Vec::new(),
    };
    let mut scratch = if keep {
        Vec::new()
    } else {
        vec![0u8; 256 * 1024]
    };
    let mut body = ex.conn.body(framing, max.saturating_sub(existing));
    let pace = limit.map(TrafficLimit::start);
    let mut received = 0usize;
    while !body.is_done() {
        let window = if keep {
            if received == kept.len() {
                // A chunked body's length is known only at its end: grow as it arrives.
                kept.resize(received + received.clamp(64 << 10, 64 << 20), 0);
            }
            &mut kept[received..]
        } else {
            &mut scratch[..]
        };
        let most = pace
            .as_ref()
            .map_or(window.len(), |p| p.piece().min(window.len()));
        let window = &mut window[..most];
        let n = match body.read(window) {
            Ok(n) => n,
            Err(BodyError::Broken) => return Ok(None),
            Err(BodyError::Malformed(why)) => {
                ex.close = true;
                return Err(malformed_chunking(why));
            }
            Err(BodyError::TooLarge { at_least }) => {
                ex.close = true;
                return Err(OssError::entity_too_large(existing, at_least, max));
            }
        };
        let piece = &mut window[..n];
        if let Some(md5) = &mut md5 {
            md5.update(&*piece);
        }
        if corrupt && received == 0 && n > 0 {
            piece[0] ^= 0xFF;
        }
        crc.update(piece);
        received += n;
        if let Some(pace) = &pace {
            pace.wait(received as u64);
        }
    }
    kept.truncate(received);
    kept.shrink_to_fit();
    let md5: Option<[u8; 16]> = md5.map(|m| m.finalize().into());
    if expected_md5.is_some_and(|e| Some(e) != md5) {
        return Err(digest_mismatch());
    }
    Ok(Some(Ingest {
        bytes: keep.then_some(kept),
        len: received as u64,
        crc: crc.value(),
        md5,
    }))
}

/// The digest a `Content-MD5` header announces, if one was sent.
fn content_md5(head: &Head) -> Result<Option<[u8; 16]>, OssError> {
    let Some(value) = head.header("content-md5") else {
        return Ok(None);
    };
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .ok()
        .and_then(|digest| <[u8; 16]>::try_from(digest).ok())
        .map(Some)
        .ok_or_else(|| OssError::invalid_digest("The Content-MD5 you specified is not valid."))
}

fn digest_mismatch() -> OssError {
    OssError::invalid_digest("The Content-MD5 you specified did not match what we received.")
}

/// Takes the body on: a client waiting for `100 Continue` gets it. False when the client
/// went away.
fn begin_body(ex: &mut Exchange) -> bool {
    if is_expect_continue(ex.head) {
        std::thread::sleep(ex.shared.latency);
        if ex.conn.send_continue().is_err() {
            return false;
        }
    }
    ex.continue_sent = true;
    ex.body_taken = true;
    true
}

/// The largest request document OSS takes: more is MalformedXML (DeleteMultipleObjects
/// reference).
const MAX_DOCUMENT: u64 = 2 << 20;

/// A request's XML document (PutBucket's configuration, DeleteMultipleObjects' list), at most
/// [`MAX_DOCUMENT`] bytes, checked against its `Content-MD5`; `md5_required` makes the header
/// itself required, as DeleteMultipleObjects does (OSS answers its absence with
/// MissingArgument, as seen by stormkit-io/stormkit-io#142, and EC 0016-00000606, its EC
/// page). `None` when the client went away.
fn read_document(ex: &mut Exchange, md5_required: bool) -> Result<Option<Vec<u8>>, OssError> {
    let expected_md5 = content_md5(ex.head)?;
    if md5_required && expected_md5.is_none() {
        return Err(OssError::new(
            400,
            "MissingArgument",
            "0016-00000606",
            "Missing Some Required Arguments.",
        )
        .detail("ArgumentName", "Content-MD5"));
    }
    let Some(framing) = ex.framing else {
        return Ok(Some(Vec::new()));
    };
    if matches!(framing, Framing::Length(len) if len > MAX_DOCUMENT) {
        return Err(OssError::malformed_xml());
    }
    if !begin_body(ex) {
        return Ok(None);
    }
    let mut document = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut body = ex.conn.body(framing, MAX_DOCUMENT);
    while !body.is_done() {
        match body.read(&mut chunk) {
            Ok(n) => document.extend_from_slice(&chunk[..n]),
            Err(BodyError::Broken) => return Ok(None),
            Err(BodyError::Malformed(why)) => {
                ex.close = true;
                return Err(malformed_chunking(why));
            }
            Err(BodyError::TooLarge { .. }) => {
                ex.close = true;
                return Err(OssError::malformed_xml());
            }
        }
    }
    if expected_md5.is_some_and(|e| e != <[u8; 16]>::from(Md5::digest(&document))) {
        return Err(digest_mismatch());
    }
    Ok(Some(document))
}

/// InvalidArgument, the code OSS gives a request part it cannot accept: the chunked framing
/// is part of the request, not an XML document (MalformedXML), and not a missing length
/// (MissingContentLength). The EC is ours; OSS documents none for this case.
fn malformed_chunking(why: &str) -> OssError {
    OssError::invalid_argument(
        "0002-00000004",
        format!("The chunked request body is malformed: {why}."),
    )
}

fn get(ex: &Exchange, req: &Parsed, bucket: &str, key: &str) -> Result<Response, OssError> {
    let store = &ex.shared.store;
    let traffic_limit = TrafficLimit::of(ex.head, &req.query)?;
    if req.has("acl") {
        let meta = store.head(bucket, key)?;
        let acl = meta.attributes.get("x-oss-object-acl").unwrap_or("default");
        let mut w = Writer::default();
        w.open("AccessControlPolicy")
            .owner()
            .open("AccessControlList")
            .element("Grant", acl)
            .close("AccessControlList")
            .close("AccessControlPolicy");
        return Ok(w.into_response());
    }
    if req.has("tagging") {
        let meta = store.head(bucket, key)?;
        return Ok(tagging::answer(
            meta.attributes.get("x-oss-tagging").unwrap_or(""),
        ));
    }
    let range = ex.head.header("range").and_then(parse_range);
    let slice = store.read(bucket, key, |len| match range {
        None => Ok((0, len)),
        Some(r) => r.resolve(len).ok_or_else(|| {
            OssError::new(
                416,
                "InvalidRange",
                "0017-00000101",
                "The requested range cannot be satisfied.",
            )
            .header("Content-Range", format!("bytes */{len}"))
        }),
    })?;
    let mut response = Response::new(if range.is_some() { 206 } else { 200 });
    object_headers(&mut response, &slice.meta);
    if range.is_some() {
        let last = slice.end.saturating_sub(1).max(slice.start);
        response.header(
            "Content-Range",
            format!("bytes {}-{last}/{}", slice.start, slice.meta.len),
        );
    }
    response.body = slice.bytes;
    response.traffic_limit = traffic_limit;
    Ok(response)
}

#[derive(Clone, Copy)]
enum Range {
    From(u64, Option<u64>),
    Suffix(u64),
}

impl Range {
    /// `[start, end)` within an object of `len` bytes, or `None` when unsatisfiable.
    fn resolve(self, len: u64) -> Option<(u64, u64)> {
        match self {
            Range::From(start, _) if start >= len => None,
            // `last` may be u64::MAX: one past it saturates, as the object ends sooner.
            Range::From(start, last) => {
                Some((start, last.map_or(len, |l| l.saturating_add(1).min(len))))
            }
            Range::Suffix(0) => None,
            Range::Suffix(n) => Some((len.saturating_sub(n), len)),
        }
    }
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n`; anything else (as OSS does) means the whole object.
fn parse_range(header: &str) -> Option<Range> {
    let spec = header.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    match (a.trim(), b.trim()) {
        ("", n) => n.parse().ok().map(Range::Suffix),
        (a, "") => a.parse().ok().map(|a| Range::From(a, None)),
        (a, b) => {
            let (a, b) = (a.parse().ok()?, b.parse().ok()?);
            (a <= b).then_some(Range::From(a, Some(b)))
        }
    }
}

fn object_headers(response: &mut Response, meta: &ObjectMeta) {
    let attrs = &meta.attributes;
    response.header(
        "Content-Type",
        attrs
            .get("content-type")
            .unwrap_or("application/octet-stream"),
    );
    response.header("ETag", meta.etag.clone());
    response.header("Last-Modified", httpdate::fmt_http_date(meta.last_modified));
    response.header("Accept-Ranges", "bytes");
    response.header("x-oss-object-type", meta.kind.as_str());
    response.header("x-oss-hash-crc64ecma", meta.crc.to_string());
    response.header(
        "x-oss-storage-class",
        attrs.get("x-oss-storage-class").unwrap_or("Standard"),
    );
    if meta.kind == ObjectType::Appendable {
        response.header("x-oss-next-append-position", meta.len.to_string());
    }
    if let Some(sealed) = meta.sealed {
        response.header("x-oss-sealed-time", httpdate::fmt_http_date(sealed));
    }
    encryption::answer(response, attrs);
    for (name, value) in &attrs.headers {
        let passed_through = matches!(
            name.as_str(),
            "cache-control" | "content-disposition" | "content-encoding" | "expires"
        ) || name.starts_with("x-oss-meta-");
        if passed_through {
            response.header(&http_case(name), value.clone());
        }
    }
    if let Some(tags) = attrs.get("x-oss-tagging").and_then(tagging::parse) {
        response.header("x-oss-tagging-count", tags.len().to_string());
    }
}

/// `cache-control` -> `Cache-Control`, as OSS spells standard headers; `x-oss-*` stay lowercase.
fn http_case(lower: &str) -> String {
    if lower.starts_with("x-oss-") {
        return lower.to_string();
    }
    lower
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or(String::new(), |c| {
                c.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn control(ex: &mut Exchange, req: &Parsed) -> Result<Response, OssError> {
    let bad = |message: String| OssError::invalid_argument("0000-00000000", message);
    let faults = || {
        ex.shared
            .faults
            .as_ref()
            .ok_or_else(|| bad("faults are not enabled".into()))
    };
    let mut response = Response::new(200);
    match (ex.head.method.as_str(), req.path.as_str()) {
        ("POST", "/-/faults") => faults()?.add(Fault::from_query(req.query.pairs()).map_err(bad)?),
        ("DELETE", "/-/faults") => faults()?.clear(),
        ("GET", "/-/faults") => {
            response.body = format!("pending {}\n", faults()?.pending()).into_bytes()
        }
        // What arrived: connections accepted, then requests per operation, a line each.
        ("GET", "/-/stats") => {
            let mut text = format!(
                "connections {}\n",
                ex.shared.accepted.load(Ordering::SeqCst)
            );
            for op in Op::ALL {
                text.push_str(&format!("{} {}\n", op.name(), ex.shared.received(op)));
            }
            response.body = text.into_bytes();
        }
        ("GET", "/-/held") => {
            let (waiting, finished) = faults()?.held();
            response.body = format!("held {waiting}\nfinished {finished}\n").into_bytes()
        }
        ("POST", "/-/held") => {
            let count = req
                .value("release")
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| bad("release must be a whole number".into()))?;
            faults()?.release(count);
        }
        ("PUT", "/-/clock") => {
            let offset = req
                .value("offset_seconds")
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or_else(|| bad("offset_seconds must be a whole number".into()))?;
            ex.shared.clock_offset.store(offset, Ordering::Relaxed);
        }
        (method, path) => return Err(bad(format!("no control endpoint {method} {path}"))),
    }
    Ok(response)
}
