//! The request target, percent-decoded (RFC 3986 section 2.1): the path, and the query as
//! name/value pairs in the order sent. A `%` not followed by two hex digits stays as it is.
//! In the query a `+` is a space, as in a form: oss2 sends its parameters through
//! `requests`, which encodes a space so (a listing's `marker=a+b` means `a b`), and clients
//! that mean `+` send `%2B`.

use crate::error::OssError;
use std::borrow::Cow;

/// The largest page a listing gives (ListObjects reference).
const MAX_PAGE: usize = 1000;
/// Prefix, Marker and Delimiter "must be shorter than 1024 bytes" (ListObjects reference).
const MAX_NAME_ARGUMENT: usize = 1023;

/// `None` when the decoded bytes are not UTF-8.
pub fn decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(Cow::into_owned)
}

/// Query parameters; a value of `None` is a bare name such as `append`.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, Option<String>)>);

impl Query {
    /// `name[=value]` pairs joined by `&`; `None` when one does not decode to UTF-8.
    pub fn parse(raw: &str) -> Option<Query> {
        let mut pairs = Vec::new();
        let form_decode = |text: &str| decode(&text.replace('+', " "));
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.split_once('=') {
                Some((name, value)) => (name, Some(form_decode(value)?)),
                None => (pair, None),
            };
            pairs.push((form_decode(name)?, value));
        }
        Some(Query(pairs))
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    /// The value of the first parameter so named (`None` also for a bare name).
    pub fn value(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn pairs(&self) -> &[(String, Option<String>)] {
        &self.0
    }

    /// The query without the parameters `dropped` names.
    pub fn without(&self, dropped: impl Fn(&str) -> bool) -> Query {
        Query(
            self.0
                .iter()
                .filter(|(name, _)| !dropped(name))
                .cloned()
                .collect(),
        )
    }

    /// A page size (`max-keys`, `max-uploads`): 1 to 1000, `default` when absent. The
    /// message is the one OSS answers a ListBuckets with `max-keys=100000`.
    pub fn page_size(&self, name: &str, default: usize) -> Result<usize, OssError> {
        if !self.has(name) {
            return Ok(default);
        }
        let value = self.value(name).unwrap_or("");
        value
            .parse()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                OssError::bad_argument(name, value, "must be an integer between 1 and 1000")
            })
    }

    /// A prefix, marker or delimiter: empty when absent.
    pub fn name_argument(&self, name: &str) -> Result<&str, OssError> {
        let value = self.value(name).unwrap_or("");
        if value.len() > MAX_NAME_ARGUMENT {
            return Err(OssError::bad_argument(
                name,
                value,
                "must be shorter than 1024 bytes",
            ));
        }
        Ok(value)
    }

    /// Whether every parameter is one of `names`.
    pub fn only(&self, names: &[&str]) -> bool {
        self.0.iter().all(|(n, _)| names.contains(&n.as_str()))
    }
}
