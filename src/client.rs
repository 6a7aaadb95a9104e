//! The client: one shared transport and retry policy, the single AppendObject request and
//! HeadObject.

use crate::config::{Config, LogLevel};
use crate::error::{Error, ErrorKind, Result};
use crate::http::Response;
use crate::http::{ANSWER_LIMIT, LISTING_LIMIT};
use crate::object::{
    check_crc, check_size, validate_bucket, validate_key, AppendObjectOptions, AppendResult,
    CreateParams, ListedObject, ObjectInfo, RequestParams,
};
use crate::response::{self, AppendAnswer, ListPage};
use crate::retry::{self, Attempts, Retrier};
use crate::transport::{Request, Transport};
use oss_protocol::crc64;
use std::sync::Arc;
use std::time::SystemTime;

/// A connection to one OSS endpoint with one identity. Cheap to clone and to share across
/// threads: clones share the connection pool, the credentials and the clock correction.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

struct Shared {
    transport: Transport,
    retrier: Retrier,
}

impl Client {
    pub fn new(config: &Config) -> Result<Client> {
        Ok(Client {
            shared: Arc::new(Shared {
                transport: Transport::new(config)?,
                retrier: Retrier::new(config.retry, config.logger.clone()),
            }),
        })
    }

    /// A budget of attempts for one request, under the client's retry policy.
    pub(crate) fn attempts(&self) -> Attempts<'_> {
        self.shared.retrier.attempts()
    }

    /// Hands a line to the caller's logger, if there is one.
    pub(crate) fn log(&self, level: LogLevel, line: impl FnOnce() -> String) {
        self.shared.retrier.log(level, line)
    }

    /// One AppendObject at `position`. Resent only after an answer that refused it before
    /// anything was applied (clock skew, an expired token); never when its outcome is
    /// unknown (a timeout, a lost connection, a 5xx), which is reported: the caller owns the
    /// position. [`crate::Appender`] finds out such outcomes on its own.
    pub fn append_object(
        &self,
        bucket: &str,
        key: &str,
        position: u64,
        data: &[u8],
        options: &AppendObjectOptions,
    ) -> Result<AppendResult> {
        validate_bucket(bucket)?;
        validate_key(key)?;
        options.create.validate()?;
        options.request.validate()?;
        check_size(position, data.len() as u64)?;
        let create = (position == 0).then_some(&options.create);
        let mut attempts = self.attempts();
        let answer = loop {
            match self.append_request(bucket, key, position, data, create, &options.request) {
                Err(e)
                    if retry::corrected_at_once(&e)
                        && attempts.again(&e, || format!("append to oss://{bucket}/{key}")) => {}
                answer => break answer?,
            }
        };
        let end = position + data.len() as u64;
        let result = answer.consistent(end, true)?;
        if let Some(previous) = options.previous_crc {
            let expected = crc64::combine(previous, result.body_crc64, data.len() as u64);
            check_crc(&result, end, expected)?;
        }
        Ok(result)
    }

    /// One AppendObject request, sent once. `create` goes with the append that creates the
    /// object.
    pub(crate) fn append_request(
        &self,
        bucket: &str,
        key: &str,
        position: u64,
        data: &[u8],
        create: Option<&CreateParams>,
        params: &RequestParams,
    ) -> Result<AppendAnswer> {
        let create = create.map(CreateParams::headers).unwrap_or_default();
        let mut limit_text = itoa::Buffer::new();
        let traffic_limit = params.traffic_limit.map(|limit| limit_text.format(limit));
        let mut headers: Vec<(&str, &str)> = create
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        if let Some(payer) = &params.request_payer {
            headers.push(("x-oss-request-payer", payer));
        }
        if let Some(limit) = traffic_limit {
            headers.push(("x-oss-traffic-limit", limit));
        }
        let mut position_text = itoa::Buffer::new();
        let position = position_text.format(position);
        let response = self.shared.transport.send(&Request {
            method: "POST",
            bucket,
            key,
            query: &[("append", None), ("position", Some(position))],
            headers: &headers,
            body: data,
            answer_limit: ANSWER_LIMIT,
        })?;
        Ok(response::append_answer(&response))
    }

    /// One SealAppendObject request at `position` (the length the object must have), sent
    /// once. A 200 is believed only with the sealed time, which OSS always gives: without it
    /// the answer is `None`, and whether the object was sealed is unknown.
    pub(crate) fn seal_request(
        &self,
        bucket: &str,
        key: &str,
        position: u64,
    ) -> Result<Option<SystemTime>> {
        let mut position_text = itoa::Buffer::new();
        let position = position_text.format(position);
        let response = self.shared.transport.send(&Request {
            method: "POST",
            bucket,
            key,
            query: &[("seal", None), ("position", Some(position))],
            headers: &[],
            body: b"",
            answer_limit: ANSWER_LIMIT,
        })?;
        Ok(response::sealed_time(&response))
    }

    /// HeadObject, resent as the retry policy allows.
    pub fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectInfo> {
        validate_bucket(bucket)?;
        validate_key(key)?;
        let request = Request {
            method: "HEAD",
            bucket,
            key,
            query: &[],
            headers: &[],
            body: b"",
            answer_limit: ANSWER_LIMIT,
        };
        self.read(
            &request,
            || format!("HEAD oss://{bucket}/{key}"),
            response::object_info,
        )
    }

    /// The objects whose keys start with `prefix`, in key order, read a page of 1,000 at a
    /// time as the iterator is advanced (ListObjectsV2). An error ends the iteration.
    pub fn list_objects<'a>(&'a self, bucket: &'a str, prefix: &'a str) -> Listing<'a> {
        Listing {
            client: self,
            bucket,
            prefix,
            page_size: 1000,
            page: Vec::new().into_iter(),
            next: Some(None),
            last_key: None,
        }
    }

    /// One page of ListObjectsV2: up to `max_keys` (1 to 1000) keys under `prefix`, after the
    /// page `token` came with; resent as the retry policy allows. Keys come URL-encoded
    /// (`encoding-type=url`), so any key survives the XML, and are decoded here.
    pub(crate) fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        token: Option<&str>,
        max_keys: usize,
    ) -> Result<ListPage> {
        validate_bucket(bucket)?;
        if !(1..=1000).contains(&max_keys) {
            return Err(Error::invalid_argument(format!(
                "max keys {max_keys}: OSS lists 1 to 1000 a page"
            )));
        }
        let mut max_text = itoa::Buffer::new();
        let mut query = vec![
            ("list-type", Some("2")),
            ("encoding-type", Some("url")),
            ("max-keys", Some(max_text.format(max_keys))),
            ("prefix", Some(prefix)),
        ];
        if let Some(token) = token {
            query.push(("continuation-token", Some(token)));
        }
        let request = Request {
            method: "GET",
            bucket,
            key: "",
            query: &query,
            headers: &[],
            body: b"",
            answer_limit: LISTING_LIMIT,
        };
        self.read(
            &request,
            || format!("ListObjectsV2 oss://{bucket}/{prefix}"),
            |response| response::list_page(response, prefix, max_keys),
        )
    }

    /// Sends a request that changes nothing until `parse` takes its answer, again as the retry
    /// policy allows for what a further attempt may mend.
    fn read<T>(
        &self,
        request: &Request,
        what: impl Fn() -> String,
        parse: impl Fn(&Response) -> Result<T>,
    ) -> Result<T> {
        let mut attempts = self.attempts();
        loop {
            match self.shared.transport.send(request).and_then(|r| parse(&r)) {
                Err(e) if retry::mendable(&e) && attempts.again(&e, &what) => {}
                answer => return answer,
            }
        }
    }
}

/// The objects under a prefix, as [`Client::list_objects`] reads them.
pub struct Listing<'a> {
    client: &'a Client,
    bucket: &'a str,
    prefix: &'a str,
    page_size: usize,
    page: std::vec::IntoIter<ListedObject>,
    /// The token of the page to read next (`Some(None)`: the first); `None` once the last
    /// page was read or an error ended the listing.
    next: Option<Option<String>>,
    /// The last key handed out: every page must start after it, so a peer that pages back
    /// (or round in a circle) ends the listing with an error instead of looping.
    last_key: Option<String>,
}

impl Listing<'_> {
    /// Pages of `size` keys (1 to 1000) instead of 1,000.
    pub fn page_size(mut self, size: usize) -> Self {
        self.page_size = size;
        self
    }
}

impl Iterator for Listing<'_> {
    type Item = Result<ListedObject>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(object) = self.page.next() {
                self.last_key = Some(object.key.clone());
                return Some(Ok(object));
            }
            let token = self.next.take()?;
            match self
                .client
                .list_page(self.bucket, self.prefix, token.as_deref(), self.page_size)
            {
                Ok(page) => {
                    let first = page.objects.first().map(|o| o.key.as_str());
                    if let (Some(first), Some(last)) = (first, &self.last_key) {
                        if first <= last.as_str() {
                            return Some(Err(Error::new(
                                ErrorKind::Service,
                                format!(
                                    "ListObjectsV2 answered a page starting at {first:?}, \
                                     not after {last:?}"
                                ),
                            )));
                        }
                    }
                    if page.objects.is_empty() && page.next.is_some() {
                        // An empty page that promises more would never end either.
                        return Some(Err(Error::new(
                            ErrorKind::Service,
                            "ListObjectsV2 answered an empty page that says more follow",
                        )));
                    }
                    self.next = page.next.map(Some);
                    self.page = page.objects.into_iter();
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl AppendAnswer {
    /// The result, if the answer is one to the append that made the object `end` bytes long
    /// (and, with `need_crc`, says the object's CRC-64). Anything else (a stray answer to an
    /// earlier request, a middlebox's 200) leaves the outcome unknown, reported as such.
    pub(crate) fn consistent(&self, end: u64, need_crc: bool) -> Result<AppendResult> {
        let unknown = |what: String| {
            Err(Error::new(
                ErrorKind::Service,
                format!(
                    "AppendObject answered 200 with {what}; whether the data was stored is \
                     unknown (a HEAD of the object tells)"
                ),
            )
            .with_request_id(self.request_id.clone()))
        };
        let crc64 = match (self.crc64, need_crc) {
            (Some(crc), _) => crc,
            (None, false) => 0,
            (None, true) => return unknown("no numeric x-oss-hash-crc64ecma".into()),
        };
        match self.next_position {
            Some(next) if next == end => Ok(AppendResult {
                next_position: next,
                crc64,
                request_id: self.request_id.clone(),
                etag: self.etag.clone(),
                version_id: self.version_id.clone(),
                body_crc64: self.body_crc64,
            }),
            Some(next) => unknown(format!("next position {next}, not {end}")),
            None => unknown("no numeric x-oss-next-append-position".into()),
        }
    }
}
