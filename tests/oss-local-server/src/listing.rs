//! Listings of a bucket (`GET /` on it): ListObjects, ListObjectsV2 (`list-type=2`),
//! ListObjectVersions (`versions`; buckets here have no versioning, so each object is its one
//! version, `null`, the latest) and ListMultipartUploads (`uploads`; the server has no
//! multipart uploads, so the list is empty). Keys come in byte order; with a delimiter, the
//! keys that share the text up to it after the prefix roll up into one CommonPrefixes entry,
//! which counts as one against the page size. Elements come in the order of the answers in
//! Alibaba Cloud's API reference.

use crate::error::OssError;
use crate::http::Response;
use crate::store::{ObjectMeta, Store};
use crate::time::iso8601;
use crate::uri::Query;
use crate::xml::{Names, Writer};
use base64::Engine;
use std::ops::ControlFlow;

/// The query parameters of the four listings; a request with any other is not a listing.
pub const PARAMETERS: &[&str] = &[
    "prefix",
    "marker",
    "delimiter",
    "max-keys",
    "encoding-type",
    "list-type",
    "continuation-token",
    "start-after",
    "fetch-owner",
    "versions",
    "key-marker",
    "version-id-marker",
    "uploads",
    "upload-id-marker",
    "max-uploads",
];

/// OSS's page size when none is asked (ListObjects reference); ListMultipartUploads' is the
/// largest a page may be.
const DEFAULT_KEYS: usize = 100;
const DEFAULT_UPLOADS: usize = 1000;

pub fn answer(store: &Store, bucket: &str, query: &Query) -> Result<Response, OssError> {
    if query.has("uploads") {
        return multipart_uploads(bucket, query);
    }
    if query.has("versions") {
        return versions(store, bucket, query);
    }
    match query.value("list-type") {
        None if !query.has("list-type") => objects(store, bucket, query),
        Some("2") => objects_v2(store, bucket, query),
        value => Err(OssError::bad_argument(
            "list-type",
            value.unwrap_or(""),
            "must be 2",
        )),
    }
}

/// What every listing of objects is asked.
struct Scope<'q> {
    prefix: &'q str,
    delimiter: &'q str,
    names: Names,
}

impl<'q> Scope<'q> {
    fn from_query(query: &'q Query) -> Result<Self, OssError> {
        Ok(Scope {
            prefix: query.name_argument("prefix")?,
            delimiter: query.name_argument("delimiter")?,
            names: Names::from_query(query)?,
        })
    }
}

enum Entry {
    Object(String, ObjectMeta),
    Prefix(String),
}

impl Entry {
    fn name(&self) -> &str {
        match self {
            Entry::Object(key, _) | Entry::Prefix(key) => key,
        }
    }
}

struct Page {
    entries: Vec<Entry>,
    /// More entries follow the page.
    truncated: bool,
}

/// Up to `max` entries whose names sort after `after`. A common prefix at or before `after`
/// was given on an earlier page: its keys are passed over.
fn page(
    store: &Store,
    bucket: &str,
    scope: &Scope,
    after: &str,
    max: usize,
) -> Result<Page, OssError> {
    let mut entries: Vec<Entry> = Vec::new();
    store.list(bucket, scope.prefix, after, |key, meta| {
        let rolled_up = (!scope.delimiter.is_empty())
            .then(|| key[scope.prefix.len()..].find(scope.delimiter))
            .flatten()
            .map(|at| &key[..scope.prefix.len() + at + scope.delimiter.len()]);
        let entry = match rolled_up {
            Some(common) if common <= after => return ControlFlow::Continue(()),
            Some(common) if entries.last().is_some_and(|e| e.name() == common) => {
                return ControlFlow::Continue(())
            }
            Some(common) => Entry::Prefix(common.to_string()),
            None => Entry::Object(key.to_string(), meta.clone()),
        };
        entries.push(entry);
        // One past the page tells whether more follow.
        if entries.len() > max {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    let truncated = entries.len() > max;
    entries.truncate(max);
    Ok(Page { entries, truncated })
}

/// A listing of objects: the page it asked for, and its answer, begun.
struct Listing<'q> {
    root: &'static str,
    scope: Scope<'q>,
    max: usize,
    page: Page,
    w: Writer,
}

impl<'q> Listing<'q> {
    /// The page after `after`, and the answer's `root` opened with Name and Prefix.
    fn new(
        store: &Store,
        bucket: &str,
        query: &'q Query,
        root: &'static str,
        after: &str,
    ) -> Result<Self, OssError> {
        let scope = Scope::from_query(query)?;
        let max = query.page_size("max-keys", DEFAULT_KEYS)?;
        let page = page(store, bucket, &scope, after, max)?;
        let mut w = Writer::default();
        w.open(root).element("Name", bucket);
        scope.names.element(&mut w, "Prefix", scope.prefix);
        Ok(Listing {
            root,
            scope,
            max,
            page,
            w,
        })
    }

    /// `<name>` holding `value`, encoded as the request asked.
    fn name(&mut self, name: &str, value: &str) -> &mut Self {
        self.scope.names.element(&mut self.w, name, value);
        self
    }

    fn max_keys(&mut self) -> &mut Self {
        self.w.element("MaxKeys", &self.max.to_string());
        self
    }

    /// EncodingType (when asked) and IsTruncated; the last entry when more follow.
    fn truncation(&mut self) -> Option<&Entry> {
        self.scope.names.declare(&mut self.w);
        self.w
            .element("IsTruncated", &self.page.truncated.to_string());
        self.page.entries.last().filter(|_| self.page.truncated)
    }

    /// The page's objects (`tag` elements) then its common prefixes; the answer closed.
    fn finish(mut self, tag: &str, shown: Shown) -> Response {
        let names = self.scope.names;
        let w = &mut self.w;
        for entry in &self.page.entries {
            if let Entry::Object(key, meta) = entry {
                w.open(tag);
                names.element(w, "Key", key);
                if shown.version {
                    w.element("VersionId", "null").element("IsLatest", "true");
                }
                w.element("LastModified", &iso8601(meta.last_modified))
                    .element("ETag", &meta.etag)
                    .element("Type", meta.kind.as_str())
                    .element("Size", &meta.len.to_string())
                    .element(
                        "StorageClass",
                        meta.attributes
                            .get("x-oss-storage-class")
                            .unwrap_or("Standard"),
                    );
                if shown.owner {
                    w.owner();
                }
                w.close(tag);
            }
        }
        for entry in &self.page.entries {
            if let Entry::Prefix(common) = entry {
                w.open("CommonPrefixes");
                names.element(w, "Prefix", common);
                w.close("CommonPrefixes");
            }
        }
        if shown.key_count {
            w.element("KeyCount", &self.page.entries.len().to_string());
        }
        w.close(self.root);
        self.w.into_response()
    }
}

/// What each object of a listing shows of itself.
#[derive(Clone, Copy)]
struct Shown {
    owner: bool,
    /// As the one version of an unversioned object.
    version: bool,
    /// KeyCount after the entries (ListObjectsV2).
    key_count: bool,
}

/// ListObjects: `marker` pages; NextMarker, when truncated, is the page's last name.
fn objects(store: &Store, bucket: &str, query: &Query) -> Result<Response, OssError> {
    let marker = query.name_argument("marker")?;
    let mut listing = Listing::new(store, bucket, query, "ListBucketResult", marker)?;
    let delimiter = listing.scope.delimiter;
    listing
        .name("Marker", marker)
        .max_keys()
        .name("Delimiter", delimiter);
    if let Some(last) = listing.truncation() {
        let next = last.name().to_string();
        listing.name("NextMarker", &next);
    }
    let shown = Shown {
        owner: true,
        version: false,
        key_count: false,
    };
    Ok(listing.finish("Contents", shown))
}

/// ListObjectsV2: an opaque `continuation-token` pages (it wins over `start-after`, which
/// only starts the first page); Owner only with `fetch-owner=true`; KeyCount counts the
/// page's objects and common prefixes.
fn objects_v2(store: &Store, bucket: &str, query: &Query) -> Result<Response, OssError> {
    let start_after = query.name_argument("start-after")?;
    let token = query.value("continuation-token");
    let after = match token {
        Some(token) => token_position(token)?,
        None => start_after.to_string(),
    };
    let mut listing = Listing::new(store, bucket, query, "ListBucketResult", &after)?;
    if query.has("start-after") {
        listing.name("StartAfter", start_after);
    }
    if let Some(token) = token {
        listing.name("ContinuationToken", token);
    }
    listing.max_keys();
    let delimiter = listing.scope.delimiter;
    if !delimiter.is_empty() {
        listing.name("Delimiter", delimiter);
    }
    if let Some(last) = listing.truncation() {
        let next = position_token(last.name());
        listing.name("NextContinuationToken", &next);
    }
    let shown = Shown {
        owner: query.value("fetch-owner") == Some("true"),
        version: false,
        key_count: true,
    };
    Ok(listing.finish("Contents", shown))
}

/// A continuation token names the position after which the next page starts. It is ours
/// to shape: OSS's are opaque too.
fn position_token(name: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(name)
}

fn token_position(token: &str) -> Result<String, OssError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            OssError::bad_argument(
                "continuation-token",
                token,
                "is not a token this server gave",
            )
        })
}

/// ListObjectVersions on a bucket without versioning: `key-marker` pages (the one version of
/// a key is `null`, so `version-id-marker` moves nothing further).
fn versions(store: &Store, bucket: &str, query: &Query) -> Result<Response, OssError> {
    let key_marker = query.name_argument("key-marker")?;
    let version_marker = query.value("version-id-marker").unwrap_or("");
    let mut listing = Listing::new(store, bucket, query, "ListVersionsResult", key_marker)?;
    listing.name("KeyMarker", key_marker);
    listing.w.element("VersionIdMarker", version_marker);
    let delimiter = listing.scope.delimiter;
    listing.max_keys().name("Delimiter", delimiter);
    if let Some(last) = listing.truncation() {
        let (next, version) = match last {
            Entry::Object(key, _) => (key.clone(), "null"),
            Entry::Prefix(common) => (common.clone(), ""),
        };
        listing.name("NextKeyMarker", &next);
        listing.w.element("NextVersionIdMarker", version);
    }
    let shown = Shown {
        owner: true,
        version: true,
        key_count: false,
    };
    Ok(listing.finish("Version", shown))
}

/// ListMultipartUploads: its arguments are checked as OSS checks them, and the answer is the
/// empty list, every element present (oss2 reads NextKeyMarker and NextUploadIdMarker even
/// when the list is complete).
fn multipart_uploads(bucket: &str, query: &Query) -> Result<Response, OssError> {
    let scope = Scope::from_query(query)?;
    let key_marker = query.name_argument("key-marker")?;
    let upload_marker = query.value("upload-id-marker").unwrap_or("");
    let max = query.page_size("max-uploads", DEFAULT_UPLOADS)?;
    let names = scope.names;
    let mut w = Writer::default();
    w.open("ListMultipartUploadsResult")
        .element("Bucket", bucket);
    names.element(&mut w, "KeyMarker", key_marker);
    w.element("UploadIdMarker", upload_marker);
    names.element(&mut w, "NextKeyMarker", "");
    w.element("NextUploadIdMarker", "");
    names.element(&mut w, "Delimiter", scope.delimiter);
    names.element(&mut w, "Prefix", scope.prefix);
    w.element("MaxUploads", &max.to_string());
    names.declare(&mut w);
    w.element("IsTruncated", "false")
        .close("ListMultipartUploadsResult");
    Ok(w.into_response())
}
