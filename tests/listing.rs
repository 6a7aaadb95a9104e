//! Listing the objects under a prefix (ListObjectsV2, page by page): against the local
//! server with pages of 1, a few and 1,000 and keys that need URL encoding; and against
//! peers whose answers a listing must not believe (a page that promises more without a
//! token, keys outside the prefix or going back, a cut document, an answer beyond the limit).

mod common;
mod peers;

use oss_append::{Client, Config, Credentials, ErrorKind, ListedObject, RetryPolicy};
use peers::answer;

const AK: &str = "list-ak";
const SK: &str = "list-secret";
const BUCKET: &str = "list-bucket";

fn keys(listing: impl Iterator<Item = oss_append::Result<ListedObject>>) -> Vec<String> {
    listing.map(|object| object.unwrap().key).collect()
}

#[test]
fn every_key_under_the_prefix_comes_once_in_order_whatever_the_page_size() {
    let (server, client) = common::start_with_client(AK, SK, BUCKET);
    let mut expected: Vec<String> = (0..1203)
        .map(|i| format!("logs/app {i:05}+%é\u{1F600}.log"))
        .collect();
    expected.extend(["logs/", "logs/a\u{7f}b", "logs/z?x#y&a=b"].map(String::from));
    expected.sort();
    for (i, key) in expected.iter().enumerate() {
        server.put_object(BUCKET, key, &vec![b'x'; i % 7]).unwrap();
    }
    for other in ["log", "logs", "logt/a", "a/logs/b"] {
        server.put_object(BUCKET, other, b"not listed").unwrap();
    }
    for page_size in [1, 7, 1000] {
        let listed: Vec<ListedObject> = client
            .list_objects(BUCKET, "logs/")
            .page_size(page_size)
            .map(Result::unwrap)
            .collect();
        let listed_keys: Vec<&str> = listed.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(listed_keys, expected, "pages of {page_size}");
        for object in &listed {
            let i = expected.iter().position(|k| *k == object.key).unwrap();
            assert_eq!(object.size, (i % 7) as u64, "{}", object.key);
        }
    }
    assert_eq!(keys(client.list_objects(BUCKET, "nothing/")).len(), 0);
    assert_eq!(
        keys(client.list_objects(BUCKET, "")).len(),
        expected.len() + 4
    );
}

#[test]
fn a_bucket_that_does_not_exist_or_a_bad_page_size_is_an_error() {
    let (_server, client) = common::start_with_client(AK, SK, BUCKET);
    let mut listing = client.list_objects("no-such-bucket", "");
    let err = listing.next().unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoSuchBucket, "{err}");
    assert!(listing.next().is_none(), "an error ends the listing");
    for size in [0, 1001] {
        let err = client
            .list_objects(BUCKET, "")
            .page_size(size)
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{size}");
    }
}

fn page(keys: &[&str], truncated: bool, token: Option<&str>) -> Vec<u8> {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult><Name>list-bucket</Name>\
         <EncodingType>url</EncodingType>",
    );
    for key in keys {
        xml.push_str(&format!(
            "<Contents><Key>{key}</Key><Size>1</Size><Type>Appendable</Type></Contents>"
        ));
    }
    xml.push_str(&format!("<IsTruncated>{truncated}</IsTruncated>"));
    if let Some(token) = token {
        xml.push_str(&format!(
            "<NextContinuationToken>{token}</NextContinuationToken>"
        ));
    }
    xml.push_str("</ListBucketResult>");
    xml.into_bytes()
}

/// A client of a peer that answers every request with the next of `pages` (the last one
/// again once they run out), once each: no retries, so each answer is judged on its own.
fn listing_from(pages: Vec<Vec<u8>>) -> (peers::Peer, Client) {
    let peer = peers::serve(move |mut conn| {
        let mut answers = pages.iter().cycle();
        while conn.request(false).is_some() {
            let body = answers.next().unwrap();
            let headers = [("content-type", "application/xml")];
            if !conn.send(&answer("200 OK", &headers, body)) {
                return;
            }
        }
    });
    let config = Config::new()
        .endpoint(&peer.url())
        .unwrap()
        .region("cn-hangzhou")
        .unwrap()
        .credentials(Credentials::new(AK, SK, None).unwrap())
        .retry(RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        })
        .unwrap();
    (peer, Client::new(&config).unwrap())
}

fn listing_error(pages: Vec<Vec<u8>>, prefix: &str) -> (Vec<String>, oss_append::Error) {
    let (_peer, client) = listing_from(pages);
    let mut listed = Vec::new();
    for object in client.list_objects(BUCKET, prefix) {
        match object {
            Ok(object) => listed.push(object.key),
            Err(e) => return (listed, e),
        }
    }
    panic!("the listing ended without an error after {listed:?}");
}

#[test]
fn answers_inconsistent_with_the_listing_asked_end_it_with_an_error() {
    let cases: Vec<(&str, Vec<Vec<u8>>, &str)> = vec![
        ("more promised, no token", vec![page(&["p/a"], true, None)], "no continuation token"),
        ("a key outside the prefix", vec![page(&["p/a", "q/b"], false, None)], "outside"),
        ("keys out of order", vec![page(&["p/b", "p/a"], false, None)], "out of order"),
        (
            "a next page going back",
            vec![page(&["p/b"], true, Some("t1")), page(&["p/a"], false, None)],
            "not after",
        ),
        (
            "the same page for ever",
            vec![page(&["p/a"], true, Some("t1"))],
            "not after",
        ),
        (
            "an empty page promising more",
            vec![page(&[], true, Some("t1"))],
            "empty page",
        ),
        ("a cut document", vec![page(&["p/a"], false, None)[..60].to_vec()], "cut"),
        ("a size that is no number", vec![b"<ListBucketResult><Contents><Key>p/a</Key><Size>-1</Size></Contents><IsTruncated>false</IsTruncated></ListBucketResult>".to_vec()], "numeric size"),
        ("another document", vec![b"<Other/>".to_vec()], "no ListBucketResult"),
        (
            "a document nested far too deep",
            vec![["<a>".repeat(4000), "</a>".repeat(4000)].concat().into_bytes()],
            "too deep",
        ),
    ];
    for (what, pages, says) in cases {
        let (_, err) = listing_error(pages, "p/");
        assert_eq!(err.kind(), ErrorKind::Service, "{what}: {err}");
        assert!(err.message().contains(says), "{what}: {err}");
    }
    // What came before the inconsistent page was handed out, once.
    let (listed, _) = listing_error(
        vec![
            page(&["p/a", "p/b"], true, Some("t1")),
            page(&["p/b"], false, None),
        ],
        "p/",
    );
    assert_eq!(listed, ["p/a", "p/b"]);
}

#[test]
fn an_answer_larger_than_a_listing_page_can_be_is_refused_unread() {
    // Ten megabytes of one key: more than 1,000 keys of at most 1,023 bytes could make.
    let key = format!("p/{}", "a".repeat(10 << 20));
    let (_, err) = listing_error(vec![page(&[&key], false, None)], "p/");
    assert_ne!(err.kind(), ErrorKind::Service, "{err}");
    assert!(err.message().to_lowercase().contains("limit"), "{err}");
}
