//! DeleteMultipleObjects (`POST /?delete` on a bucket): a `Delete` document names up to
//! 1000 keys; each goes as a DeleteObject would (a key that is not there counts as deleted).
//! The verbose answer lists every key in a `Deleted`; the quiet one lists only failures, and
//! as none can fail here, it has no body (DeleteMultipleObjects reference).
//!
//! A refused document gets the EC OSS's EC pages give its fault: 0016-00000607 not
//! well-formed, -608 a root other than Delete, -609 more than 1000 objects, -610 a Quiet
//! neither true nor false, -611 an empty Key, -612 an empty VersionId, -613 an Object
//! without a Key, -615 no Object. The pages give no codes: MalformedXML (the reference's code
//! for a document it refuses) for the document's shape, InvalidObjectName and
//! InvalidArgument (those of a bad key or version id elsewhere) for the values, are ours.

use crate::error::OssError;
use crate::http::Response;
use crate::names::{check_key, check_version};
use crate::store::Store;
use crate::uri::Query;
use crate::xml::{self, Names, Writer};

/// The most keys one request may name (DeleteMultipleObjects reference).
const MAX_OBJECTS: usize = 1000;

struct Target {
    key: String,
    /// Given only as `null`, the one version of an object in a bucket without versioning.
    version: Option<String>,
}

pub fn apply(
    store: &Store,
    bucket: &str,
    query: &Query,
    body: &[u8],
) -> Result<Response, OssError> {
    let names = Names::from_query(query)?;
    let malformed = |ec| OssError::malformed_xml().with_ec(ec);
    let document = xml::parse(body).ok_or_else(|| malformed("0016-00000607"))?;
    if document.name != "Delete" {
        return Err(malformed("0016-00000608"));
    }
    let quiet = match document.child("Quiet").map(|q| q.text.trim()) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(malformed("0016-00000610")),
    };
    let mut targets = Vec::new();
    for object in document.children("Object") {
        let key = object
            .child("Key")
            .ok_or_else(|| malformed("0016-00000613"))?
            .text
            .clone();
        if key.is_empty() {
            return Err(OssError::invalid_object_name(&key).with_ec("0016-00000611"));
        }
        check_key(&key)?;
        let version = object.child("VersionId").map(|v| v.text.clone());
        match version.as_deref() {
            Some("") => return Err(empty_version()),
            Some(version) => check_version(version)?,
            None => {}
        }
        targets.push(Target { key, version });
    }
    if targets.is_empty() {
        return Err(malformed("0016-00000615"));
    }
    if targets.len() > MAX_OBJECTS {
        return Err(malformed("0016-00000609"));
    }
    // Every key is checked before any is deleted: a refused request changes nothing.
    for target in &targets {
        store.delete(bucket, &target.key)?;
    }
    if quiet {
        return Ok(Response::new(200));
    }
    let mut w = Writer::default();
    w.open("DeleteResult");
    names.declare(&mut w);
    for target in &targets {
        w.open("Deleted");
        names.element(&mut w, "Key", &target.key);
        if let Some(version) = &target.version {
            w.element("VersionId", version);
        }
        w.close("Deleted");
    }
    w.close("DeleteResult");
    Ok(w.into_response())
}

fn empty_version() -> OssError {
    OssError::invalid_argument("0016-00000612", "The VersionId of an Object is empty.")
        .detail("ArgumentName", "VersionId")
        .detail("ArgumentValue", "")
}
