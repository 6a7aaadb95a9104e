//! DeleteMultipleObjects (`POST /?delete` on a bucket): a `Delete` document names up to
//! 1000 keys; each goes as a DeleteObject would (a key that is not there counts as deleted).
//! The verbose answer lists every key in a `Deleted`; the quiet one lists only failures, and
//! as none can fail here, it has no body (DeleteMultipleObjects reference).

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
    let document = xml::parse(body)
        .filter(|root| root.name == "Delete")
        .ok_or_else(OssError::malformed_xml)?;
    let quiet = match document.child("Quiet").map(|q| q.text.trim()) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(OssError::malformed_xml()),
    };
    let mut targets = Vec::new();
    for object in document.children("Object") {
        let key = object
            .child("Key")
            .ok_or_else(OssError::malformed_xml)?
            .text
            .clone();
        check_key(&key)?;
        let version = object.child("VersionId").map(|v| v.text.clone());
        if let Some(version) = &version {
            check_version(version)?;
        }
        targets.push(Target { key, version });
    }
    if targets.is_empty() || targets.len() > MAX_OBJECTS {
        return Err(OssError::malformed_xml());
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
