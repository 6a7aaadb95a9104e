//! Bucket operations: PutBucket (`PUT /` on a bucket, with an optional
//! CreateBucketConfiguration), DeleteBucket and ListBuckets (`GET /` on the service host).
//! Every bucket belongs to the server's one account and lives in its one region.

use crate::error::OssError;
use crate::http::{Head, Response};
use crate::store::{BucketInfo, Store, STORAGE_CLASSES};
use crate::time::iso8601;
use crate::uri::Query;
use crate::xml::{self, Writer};
use std::time::SystemTime;

/// The canned ACLs a bucket takes (PutBucket reference); `default` is for objects only.
const BUCKET_ACLS: &[&str] = &["private", "public-read", "public-read-write"];
const DATA_REDUNDANCY_TYPES: &[&str] = &["LRS", "ZRS"];

/// PutBucket: `body` is the request's document, empty when none was sent.
pub fn create(
    store: &Store,
    bucket: &str,
    head: &Head,
    body: &[u8],
    now: SystemTime,
) -> Result<Response, OssError> {
    let mut info = BucketInfo::new(now);
    let mut asked_class = None;
    if let Some(acl) = head.header("x-oss-acl") {
        check_value("x-oss-acl", acl, BUCKET_ACLS)?;
    }
    if !body.iter().all(u8::is_ascii_whitespace) {
        let config = xml::parse(body)
            .filter(|root| root.name == "CreateBucketConfiguration")
            .ok_or_else(OssError::malformed_xml)?;
        if let Some(class) = config.child("StorageClass") {
            check_value("StorageClass", &class.text, STORAGE_CLASSES)?;
            info.storage_class = class.text.clone();
            asked_class = Some(class.text.clone());
        }
        if let Some(redundancy) = config.child("DataRedundancyType") {
            check_value(
                "DataRedundancyType",
                &redundancy.text,
                DATA_REDUNDANCY_TYPES,
            )?;
        }
    }
    // OSS's PutBucket reference (alibabacloud.com doc 31959): from the account that owns the
    // bucket (here, every bucket's), PutBucket again succeeds, changing only metadata; yet a
    // bucket's storage class never changes (OSS's "HTTP status code 409" page:
    // BucketAlreadyExists), so asking another is refused. EC 0015-00000102, a bucket of
    // another account, cannot happen here.
    if let Some(existing) = store.create_bucket(bucket, info)? {
        if asked_class.is_some_and(|class| class != existing.storage_class) {
            return Err(OssError::storage_class_is_fixed(bucket));
        }
    }
    let mut response = Response::new(200);
    response.header("Location", format!("/{bucket}"));
    Ok(response)
}

/// The EC is ours; OSS documents none for this case.
fn check_value(name: &str, value: &str, allowed: &[&str]) -> Result<(), OssError> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(
        OssError::invalid_argument("0015-00000401", format!("{name} is not valid: {value}"))
            .detail("ArgumentName", name)
            .detail("ArgumentValue", value),
    )
}

pub fn delete(store: &Store, bucket: &str) -> Result<Response, OssError> {
    store.delete_bucket(bucket)?;
    Ok(Response::new(204))
}

/// ListBuckets: `prefix`, `marker` (names after it) and `max-keys` (default 100). As OSS's
/// ListBuckets reference says, Prefix, Marker, MaxKeys, IsTruncated and NextMarker are in
/// the answer only when some buckets were left out.
pub fn list(store: &Store, query: &Query, region: &str) -> Result<Response, OssError> {
    let prefix = query.name_argument("prefix")?;
    let marker = query.name_argument("marker")?;
    let max = query.page_size("max-keys", 100)?;
    let mut matching = store
        .buckets()
        .into_iter()
        .filter(|(name, _)| name.starts_with(prefix) && name.as_str() > marker);
    let page: Vec<(String, BucketInfo)> = matching.by_ref().take(max).collect();
    let truncated = matching.next().is_some();
    let mut w = Writer::default();
    w.open("ListAllMyBucketsResult");
    if truncated {
        w.element("Prefix", prefix)
            .element("Marker", marker)
            .element("MaxKeys", &max.to_string())
            .element("IsTruncated", "true")
            .element("NextMarker", page.last().map_or("", |(name, _)| name));
    }
    w.owner().open("Buckets");
    for (name, info) in &page {
        // In the order OSS gives them, as in the Go SDK v2's `api_op_service_test.go`.
        w.open("Bucket")
            .element("CreationDate", &iso8601(info.created))
            .element("ExtranetEndpoint", &format!("oss-{region}.aliyuncs.com"))
            .element(
                "IntranetEndpoint",
                &format!("oss-{region}-internal.aliyuncs.com"),
            )
            .element("Location", &format!("oss-{region}"))
            .element("Name", name)
            .element("Region", region)
            .element("StorageClass", &info.storage_class)
            .close("Bucket");
    }
    w.close("Buckets").close("ListAllMyBucketsResult");
    Ok(w.into_response())
}
