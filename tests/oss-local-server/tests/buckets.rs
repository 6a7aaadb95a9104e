//! Buckets, listings and batch deletes over HTTP: PutBucket, DeleteBucket, ListBuckets,
//! ListObjects (v1 and v2), ListObjectVersions, ListMultipartUploads, DeleteMultipleObjects
//! and DeleteObject with `versionId=null`, with their errors, faults and counters. Requests
//! are signed with V1 (server.rs signs V4), path style, each on a connection of its own.

mod common;

use common::{target, unsigned, Connection, Reply};
use oss_local_server::{Action, Config, Fault, Op, Server};
use oss_protocol::signer::{self, v1};
use std::time::Duration;

const AK: &str = "bucket-ak";
const SK: &str = "bucket-secret";
const BUCKET: &str = "home-bucket";

fn start() -> Server {
    Server::start(Config::new(AK, SK).bucket(BUCKET).faults()).expect("server starts")
}

/// A server whose bucket holds `keys`, each object its own key's bytes.
fn start_with(keys: &[&str]) -> Server {
    let server = start();
    for key in keys {
        put_object(&server, key);
    }
    server
}

/// One V1-signed request, path style.
struct Call<'a> {
    method: &'a str,
    bucket: Option<&'a str>,
    key: &'a str,
    query: Vec<(&'a str, Option<&'a str>)>,
    headers: Vec<(&'a str, String)>,
    body: Vec<u8>,
    signed: bool,
}

impl<'a> Call<'a> {
    fn new(method: &'a str, bucket: Option<&'a str>) -> Self {
        Call {
            method,
            bucket,
            key: "",
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
            signed: true,
        }
    }

    /// On the server's own bucket.
    fn home(method: &'a str) -> Self {
        Call::new(method, Some(BUCKET))
    }

    fn key(mut self, key: &'a str) -> Self {
        self.key = key;
        self
    }

    fn param(mut self, name: &'a str, value: &'a str) -> Self {
        self.query.push((name, Some(value)));
        self
    }

    fn flag(mut self, name: &'a str) -> Self {
        self.query.push((name, None));
        self
    }

    fn header(mut self, name: &'a str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The body, with the Content-MD5 DeleteMultipleObjects requires.
    fn document(self, xml: &str) -> Self {
        use base64::Engine;
        use md5::Digest;
        let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(xml));
        self.header("Content-MD5", &md5).body(xml)
    }

    fn unsigned(mut self) -> Self {
        self.signed = false;
        self
    }

    fn send(&self, server: &Server) -> Reply {
        self.exchange(server).expect("an answer")
    }

    /// The answer, which must be a success.
    fn ok(&self, server: &Server) -> Reply {
        let answer = self.send(server);
        assert!(answer.status / 100 == 2, "{answer:?}");
        answer
    }

    /// The request on a connection of its own, and its answer.
    fn exchange(&self, server: &Server) -> std::io::Result<Reply> {
        let mut headers = self.headers.clone();
        headers.push((
            "Date",
            httpdate::fmt_http_date(std::time::SystemTime::now()),
        ));
        if self.signed {
            let signed_headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let view = signer::Request {
                method: self.method,
                bucket: self.bucket,
                key: (!self.key.is_empty()).then_some(self.key),
                query: &self.query,
                headers: &signed_headers,
            };
            headers.push(("Authorization", v1::authorization(AK, SK.as_bytes(), &view)));
        }
        let mut conn = Connection::open(server);
        let mut request = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.method,
            target(self.bucket, self.key, &self.query),
            conn.host,
            self.body.len()
        );
        for (name, value) in &headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(&self.body);
        conn.exchange(&bytes, self.method == "HEAD")
    }
}

fn put_object(server: &Server, key: &str) {
    put_object_in(server, BUCKET, key);
}

fn put_object_in(server: &Server, bucket: &str, key: &str) {
    let answer = Call::new("PUT", Some(bucket))
        .key(key)
        .body(key)
        .send(server);
    assert_eq!(answer.status, 200, "{answer:?}");
}

fn put_bucket(server: &Server, bucket: &str) -> Reply {
    Call::new("PUT", Some(bucket)).send(server)
}

fn bucket_names(answer: &Reply) -> Vec<&str> {
    answer.all("Name")
}

/// Whether ListBuckets names the server's own bucket alone.
fn only_home_bucket(server: &Server) -> bool {
    bucket_names(&Call::new("GET", None).send(server)) == [BUCKET]
}

// Buckets.

#[test]
fn a_created_bucket_is_listed_with_its_storage_class_and_creating_it_again_keeps_it() {
    let server = start();
    let config = "<CreateBucketConfiguration><StorageClass>IA</StorageClass>\
                  </CreateBucketConfiguration>";
    let created = Call::new("PUT", Some("made-here")).body(config).ok(&server);
    assert_eq!(created.header("location"), Some("/made-here"));

    let list = Call::new("GET", None).ok(&server);
    assert_eq!(bucket_names(&list), ["home-bucket", "made-here"]);
    assert_eq!(list.all("StorageClass"), ["Standard", "IA"]);
    assert_eq!(list.all("Region"), ["cn-hangzhou", "cn-hangzhou"]);
    assert_eq!(list.one("Location"), Some("oss-cn-hangzhou"));
    assert_eq!(
        list.one("ExtranetEndpoint"),
        Some("oss-cn-hangzhou.aliyuncs.com")
    );
    let created_at = list.all("CreationDate")[1];
    assert!(
        created_at.len() == 24 && created_at.ends_with(".000Z"),
        "{created_at}"
    );

    // Made again by its own account: 200 and its Location, the bucket as it was, objects and
    // all; another storage class is refused.
    put_object_in(&server, "made-here", "kept");
    for body in ["", config] {
        let again = Call::new("PUT", Some("made-here")).body(body).ok(&server);
        assert_eq!(again.header("location"), Some("/made-here"));
    }
    let standard = "<CreateBucketConfiguration><StorageClass>Standard</StorageClass>\
                    </CreateBucketConfiguration>";
    let refused = Call::new("PUT", Some("made-here"))
        .body(standard)
        .send(&server);
    assert_eq!(
        refused.error(),
        (409, "BucketAlreadyExists", "0015-00000201")
    );
    assert_eq!(
        refused.one("Message"),
        Some("Cannot modify existing bucket's storage class.")
    );
    let after = Call::new("GET", None).ok(&server);
    assert_eq!(after.all("StorageClass"), ["Standard", "IA"]);
    assert_eq!(after.all("CreationDate")[1], created_at);
    let listing = Call::new("GET", Some("made-here")).ok(&server);
    assert_eq!(keys(&listing), ["kept"]);
}

#[test]
fn bucket_names_outside_the_rules_are_invalid_bucket_name() {
    let server = start();
    for name in ["ab", "-abc", "abc-", "ab_c", &"a".repeat(64)] {
        let answer = put_bucket(&server, name);
        assert_eq!(
            answer.error(),
            (400, "InvalidBucketName", "0015-00000001"),
            "{name}"
        );
    }
    // Upper case is valid in a URL path but not in a name.
    let answer = put_bucket(&server, "Upper");
    assert_eq!(answer.error().1, "InvalidBucketName");
    assert!(only_home_bucket(&server));
}

#[test]
fn a_bucket_configuration_is_checked_before_the_bucket_is_made() {
    let server = start();
    let cases = [
        (
            "<CreateBucketConfiguration><StorageClass>Cold",
            "MalformedXML",
        ),
        ("<Other/>", "MalformedXML"),
        (
            "<CreateBucketConfiguration><StorageClass>Hot</StorageClass>\
             </CreateBucketConfiguration>",
            "InvalidArgument",
        ),
        (
            "<CreateBucketConfiguration><DataRedundancyType>XRS</DataRedundancyType>\
             </CreateBucketConfiguration>",
            "InvalidArgument",
        ),
    ];
    for (body, code) in cases {
        let answer = Call::new("PUT", Some("config-bucket"))
            .body(body)
            .send(&server);
        assert_eq!((answer.status, answer.error().1), (400, code), "{body}");
    }
    let answer = Call::new("PUT", Some("config-bucket"))
        .header("x-oss-acl", "everyone")
        .send(&server);
    assert_eq!(answer.error().1, "InvalidArgument");
    assert!(only_home_bucket(&server));
}

#[test]
fn deleting_a_bucket_needs_it_empty_and_then_it_is_gone() {
    let server = start();
    let missing = Call::new("DELETE", Some("never-made")).send(&server);
    assert_eq!(missing.error(), (404, "NoSuchBucket", "0015-00000101"));

    assert_eq!(put_bucket(&server, "short-lived").status, 200);
    let answer = Call::new("PUT", Some("short-lived"))
        .key("k")
        .body("x")
        .send(&server);
    assert_eq!(answer.status, 200);
    let full = Call::new("DELETE", Some("short-lived")).send(&server);
    assert_eq!(full.error(), (409, "BucketNotEmpty", "0015-00000301"));
    assert_eq!(
        full.one("Message"),
        Some("The bucket has objects. Please delete them first.")
    );

    let deleted = Call::new("DELETE", Some("short-lived"))
        .key("k")
        .send(&server);
    assert_eq!(deleted.status, 204);
    assert_eq!(
        Call::new("DELETE", Some("short-lived"))
            .send(&server)
            .status,
        204
    );
    let gone = Call::new("GET", Some("short-lived")).key("k").send(&server);
    assert_eq!(gone.error(), (404, "NoSuchBucket", "0015-00000101"));
    assert_eq!(
        gone.one("Message"),
        Some("The specified bucket does not exist.")
    );
    let listing = Call::new("GET", Some("short-lived")).send(&server);
    assert_eq!(listing.error().1, "NoSuchBucket");
    assert!(only_home_bucket(&server));
}

#[test]
fn list_buckets_pages_by_prefix_marker_and_max_keys() {
    let server = start();
    for name in ["pre-a", "pre-b", "pre-c", "zzz"] {
        assert_eq!(put_bucket(&server, name).status, 200);
    }
    let mut seen = Vec::new();
    let mut marker = String::new();
    loop {
        let page = Call::new("GET", None)
            .param("prefix", "pre-")
            .param("marker", &marker)
            .param("max-keys", "1")
            .ok(&server);
        let names = bucket_names(&page);
        assert_eq!(names.len(), 1);
        seen.push(names[0].to_string());
        if page.one("IsTruncated") != Some("true") {
            // A page that ends the list carries none of the paging elements.
            assert_eq!(page.one("NextMarker"), None);
            assert_eq!(page.one("MaxKeys"), None);
            break;
        }
        assert_eq!(page.one("Prefix"), Some("pre-"));
        assert_eq!(page.one("MaxKeys"), Some("1"));
        marker = page.one("NextMarker").unwrap().to_string();
        assert_eq!(marker, names[0]);
    }
    assert_eq!(seen, ["pre-a", "pre-b", "pre-c"]);
}

#[test]
fn list_buckets_refuses_max_keys_outside_1_to_1000_and_anonymous_callers() {
    let server = start();
    for bad in ["0", "1001", "ten", "-1", ""] {
        let answer = Call::new("GET", None).param("max-keys", bad).send(&server);
        assert_eq!((answer.status, answer.error().1), (400, "InvalidArgument"));
        assert_eq!(
            answer.one("Message"),
            Some("Argument max-keys must be an integer between 1 and 1000.")
        );
        assert_eq!(answer.one("ArgumentValue"), Some(bad));
    }
    assert_eq!(
        Call::new("GET", None)
            .param("max-keys", "1000")
            .send(&server)
            .status,
        200
    );
    let anonymous = Call::new("GET", None).unsigned().send(&server);
    assert_eq!(anonymous.error().0, 403);
}

#[test]
fn created_and_deleted_buckets_persist_in_the_data_directory() {
    let dir = std::env::temp_dir().join(format!("oss-local-server-buckets-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = Config::new(AK, SK).bucket(BUCKET);
    config.data_dir = Some(dir.clone());
    let server = Server::start(config.clone()).unwrap();
    let archive = "<CreateBucketConfiguration><StorageClass>Archive</StorageClass>\
                   </CreateBucketConfiguration>";
    assert_eq!(
        Call::new("PUT", Some("kept"))
            .body(archive)
            .send(&server)
            .status,
        200
    );
    assert_eq!(put_bucket(&server, "dropped").status, 200);
    assert_eq!(
        Call::new("DELETE", Some("dropped")).send(&server).status,
        204
    );
    let before = Call::new("GET", None).send(&server);
    server.stop();

    let server = Server::start(config).unwrap();
    let after = Call::new("GET", None).send(&server);
    assert_eq!(bucket_names(&after), [BUCKET, "kept"]);
    assert_eq!(after.all("StorageClass"), ["Standard", "Archive"]);
    assert_eq!(after.all("CreationDate"), before.all("CreationDate"));
    assert_eq!(put_bucket(&server, "kept").status, 200);
    let again = Call::new("GET", None).send(&server);
    assert_eq!(again.all("StorageClass"), ["Standard", "Archive"]);
    assert_eq!(again.all("CreationDate"), before.all("CreationDate"));
    server.stop();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_append_in_flight_into_a_bucket_deleted_meanwhile_is_no_such_bucket() {
    // The append finds its bucket, reads its body and is held; the bucket is deleted (and,
    // in the second round, made again) before it is applied. It must not land in the
    // bucket that is gone, nor in the new one, nor bring back its folder.
    let dir = std::env::temp_dir().join(format!("oss-local-server-doomed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = Config::new(AK, SK).bucket(BUCKET).faults();
    config.data_dir = Some(dir.clone());
    let server = Server::start(config).unwrap();
    for remade in [false, true] {
        assert_eq!(put_bucket(&server, "doomed").status, 200);
        server.add_fault(Fault::new(Action::Hold, Op::Append).key("late"));
        let answer = std::thread::scope(|s| {
            let append = s.spawn(|| {
                Call::new("POST", Some("doomed"))
                    .key("late")
                    .flag("append")
                    .param("position", "0")
                    .body("held")
                    .send(&server)
            });
            assert!(server.wait_held(Duration::from_secs(30), |waiting, _| waiting == 1));
            let deleted = Call::new("DELETE", Some("doomed")).send(&server);
            assert_eq!(deleted.status, 204, "{deleted:?}");
            if remade {
                assert_eq!(put_bucket(&server, "doomed").status, 200);
            }
            server.release_held(1);
            append.join().unwrap()
        });
        assert_eq!(
            answer.error(),
            (404, "NoSuchBucket", "0015-00000101"),
            "remade: {remade}"
        );
        let listing = Call::new("GET", Some("doomed")).send(&server);
        if remade {
            assert_eq!(keys(&listing), Vec::<&str>::new());
            assert_eq!(
                Call::new("DELETE", Some("doomed")).send(&server).status,
                204
            );
        } else {
            assert_eq!(listing.error().1, "NoSuchBucket");
        }
        assert!(!dir.join("doomed").exists(), "remade: {remade}");
    }
    server.stop();
    std::fs::remove_dir_all(dir).unwrap();
}

// Listings.

fn keys(answer: &Reply) -> Vec<&str> {
    answer.all("Key")
}

/// The `Prefix` of each CommonPrefixes entry.
fn common_prefixes(answer: &Reply) -> Vec<&str> {
    answer.all("CommonPrefixes/Prefix")
}

#[test]
fn list_objects_describes_each_object() {
    let server = start_with(&["normal"]);
    let appended = Call::home("POST")
        .key("appendable")
        .flag("append")
        .param("position", "0")
        .body("12345")
        .send(&server);
    assert_eq!(appended.status, 200);
    let list = Call::home("GET").ok(&server);
    assert!(list.text().starts_with(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult><Name>home-bucket</Name>\
         <Prefix></Prefix><Marker></Marker><MaxKeys>100</MaxKeys><Delimiter></Delimiter>\
         <IsTruncated>false</IsTruncated><Contents><Key>appendable</Key>"
    ));
    assert_eq!(keys(&list), ["appendable", "normal"]);
    assert_eq!(list.all("Type"), ["Appendable", "Normal"]);
    assert_eq!(list.all("Size"), ["5", "6"]);
    assert_eq!(list.all("ID"), ["local", "local"]);
    // The ETag as HeadObject gives it (its quotes escaped in the XML).
    let head = Call::home("HEAD").key("normal").send(&server);
    assert_eq!(Some(list.all("ETag")[1]), head.header("etag"));
    assert!(list.text().contains("<ETag>&quot;"), "{list:?}");
    let modified = list.all("LastModified")[1];
    let since_epoch = httpdate::parse_http_date(head.header("last-modified").unwrap()).unwrap();
    let expected = oss_protocol::signer::v4::format_datetime(
        since_epoch
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    );
    assert_eq!(
        modified.replace(['-', ':'], "").replace(".000Z", "Z"),
        expected
    );
}

#[test]
fn list_objects_pages_with_marker_and_rolls_up_common_prefixes() {
    let server = start_with(&["a/1", "a/2", "a/b/3", "b", "c/4", "d"]);
    // Pages of 1 end on a common prefix: the next page must pass over its keys.
    for size in [1, 2, 1000] {
        let mut entries = Vec::new();
        let mut marker = String::new();
        for _ in 0..10 {
            let page = Call::home("GET")
                .param("delimiter", "/")
                .param("marker", &marker)
                .param("max-keys", &size.to_string())
                .ok(&server);
            let mut names: Vec<String> = keys(&page).into_iter().map(str::to_string).collect();
            names.extend(common_prefixes(&page).into_iter().map(str::to_string));
            assert!(names.len() <= size);
            names.sort();
            entries.extend(names.iter().cloned());
            if page.one("IsTruncated") == Some("false") {
                assert_eq!(page.one("NextMarker"), None);
                break;
            }
            marker = page.one("NextMarker").unwrap().to_string();
            assert_eq!(&marker, names.last().unwrap());
        }
        assert_eq!(entries, ["a/", "b", "c/", "d"], "pages of {size}");
    }

    let inside = Call::home("GET")
        .param("prefix", "a/")
        .param("delimiter", "/")
        .send(&server);
    assert_eq!(keys(&inside), ["a/1", "a/2"]);
    assert_eq!(common_prefixes(&inside), ["a/b/"]);
}

#[test]
fn encoding_type_url_encodes_every_name_in_a_listing() {
    let server = start();
    let odd = "dir one/+%ü\u{1}x";
    put_object(&server, odd);
    put_object(&server, "dir one/later");
    let page = Call::home("GET")
        .param("prefix", "dir one/")
        .param("marker", "dir one/")
        .param("delimiter", "\u{1}")
        .param("max-keys", "1")
        .param("encoding-type", "url")
        .ok(&server);
    assert_eq!(page.one("EncodingType"), Some("url"));
    assert_eq!(page.one("Prefix"), Some("dir%20one%2F"));
    assert_eq!(page.one("Marker"), Some("dir%20one%2F"));
    assert_eq!(page.one("Delimiter"), Some("%01"));
    assert_eq!(common_prefixes(&page), ["dir%20one%2F%2B%25%C3%BC%01"]);
    assert_eq!(page.one("NextMarker"), Some("dir%20one%2F%2B%25%C3%BC%01"));
    // Without it, names go as they are (escaped for XML).
    let plain = Call::home("GET").param("prefix", "dir one/l").send(&server);
    assert_eq!(keys(&plain), ["dir one/later"]);
}

#[test]
fn list_objects_v2_pages_by_continuation_token_and_counts_keys() {
    let server = start_with(&["k1", "k2", "k3", "p/x", "p/y"]);
    let first = Call::home("GET")
        .param("list-type", "2")
        .param("start-after", "k1")
        .param("delimiter", "/")
        .param("max-keys", "2")
        .ok(&server);
    assert_eq!(keys(&first), ["k2", "k3"]);
    assert_eq!(first.one("KeyCount"), Some("2"));
    assert_eq!(first.one("StartAfter"), Some("k1"));
    assert_eq!(first.one("Owner"), None);
    let token = first.one("NextContinuationToken").unwrap().to_string();

    let second = Call::home("GET")
        .param("list-type", "2")
        .param("start-after", "k1")
        .param("continuation-token", &token)
        .param("delimiter", "/")
        .param("max-keys", "2")
        .param("fetch-owner", "true")
        .send(&server);
    assert_eq!(keys(&second), Vec::<&str>::new());
    assert_eq!(common_prefixes(&second), ["p/"]);
    assert_eq!(second.one("KeyCount"), Some("1"));
    assert_eq!(second.one("ContinuationToken"), Some(token.as_str()));
    assert_eq!(second.one("IsTruncated"), Some("false"));

    let owned = Call::home("GET")
        .param("list-type", "2")
        .param("fetch-owner", "true")
        .send(&server);
    assert_eq!(owned.all("ID").len(), 5);

    let forged = Call::home("GET")
        .param("list-type", "2")
        .param("continuation-token", "not/a token")
        .send(&server);
    assert_eq!(forged.error().1, "InvalidArgument");
    let version = Call::home("GET").param("list-type", "3").send(&server);
    assert_eq!(version.error().1, "InvalidArgument");
}

#[test]
fn listings_refuse_bad_page_sizes_names_and_encodings() {
    let server = start();
    let long = "p".repeat(1024);
    let cases: [(&str, &str); 6] = [
        ("max-keys", "0"),
        ("max-keys", "1001"),
        ("max-keys", "x"),
        ("prefix", &long),
        ("marker", &long),
        ("encoding-type", "base64"),
    ];
    for (name, value) in cases {
        let answer = Call::home("GET").param(name, value).send(&server);
        assert_eq!(
            (answer.status, answer.error().1),
            (400, "InvalidArgument"),
            "{name}"
        );
        assert_eq!(answer.one("ArgumentName"), Some(name));
    }
    let uploads = Call::home("GET")
        .flag("uploads")
        .param("max-uploads", "1001")
        .send(&server);
    assert_eq!(
        uploads.one("Message"),
        Some("Argument max-uploads must be an integer between 1 and 1000.")
    );
    // A bucket sub-resource the server does not have is not a listing.
    let acl = Call::home("GET").flag("acl").send(&server);
    assert_eq!(acl.error().1, "NotImplemented");
}

#[test]
fn an_unversioned_bucket_lists_each_object_once_as_its_null_version() {
    let server = start_with(&["v/1", "v/2", "w"]);
    let first = Call::home("GET")
        .flag("versions")
        .param("max-keys", "2")
        .ok(&server);
    assert_eq!(first.names_in("ListVersionsResult").first(), Some(&"Name"));
    assert_eq!(first.one("ListVersionsResult/Name"), Some("home-bucket"));
    assert_eq!(keys(&first), ["v/1", "v/2"]);
    assert_eq!(first.all("VersionId"), ["null", "null"]);
    assert_eq!(first.all("IsLatest"), ["true", "true"]);
    assert_eq!(first.one("NextKeyMarker"), Some("v/2"));
    assert_eq!(first.one("NextVersionIdMarker"), Some("null"));
    let rest = Call::home("GET")
        .flag("versions")
        .param("key-marker", "v/2")
        .param("version-id-marker", "null")
        .send(&server);
    assert_eq!(keys(&rest), ["w"]);
    assert_eq!(rest.one("IsTruncated"), Some("false"));
}

#[test]
fn multipart_uploads_list_empty_and_whole() {
    let server = start_with(&["not-an-upload"]);
    let answer = Call::home("GET")
        .flag("uploads")
        .param("prefix", "a b")
        .param("encoding-type", "url")
        .ok(&server);
    assert_eq!(
        answer.text(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListMultipartUploadsResult>\
         <Bucket>home-bucket</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>\
         <NextKeyMarker></NextKeyMarker><NextUploadIdMarker></NextUploadIdMarker>\
         <Delimiter></Delimiter><Prefix>a%20b</Prefix><MaxUploads>1000</MaxUploads>\
         <EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>\
         </ListMultipartUploadsResult>"
    );
}

// Batch deletes.

fn delete_document(quiet: bool, keys: &[&str]) -> String {
    let objects: String = keys
        .iter()
        .map(|k| format!("<Object><Key>{k}</Key></Object>"))
        .collect();
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>{quiet}</Quiet>{objects}</Delete>")
}

fn stored(server: &Server, key: &str) -> bool {
    server.object_bytes(BUCKET, key).is_some()
}

#[test]
fn a_verbose_batch_delete_names_every_key_even_one_not_there() {
    let server = start_with(&["one", "two &", "three"]);
    // Keys in the document are XML text: `&amp;` is `&`.
    let document = delete_document(false, &["one", "two &amp;", "missing"]);
    let answer = Call::home("POST")
        .flag("delete")
        .param("encoding-type", "url")
        .document(&document)
        .ok(&server);
    assert_eq!(answer.one("EncodingType"), Some("url"));
    assert_eq!(keys(&answer), ["one", "two%20%26", "missing"]);
    assert!(!stored(&server, "one") && !stored(&server, "two &"));
    assert!(stored(&server, "three"));
}

#[test]
fn a_quiet_batch_delete_answers_without_a_body() {
    let server = start_with(&["quiet"]);
    let answer = Call::home("POST")
        .flag("delete")
        .document(&delete_document(true, &["quiet"]))
        .send(&server);
    assert_eq!((answer.status, answer.body.as_slice()), (200, &b""[..]));
    assert!(!stored(&server, "quiet"));
}

#[test]
fn a_refused_batch_delete_deletes_nothing() {
    let server = start_with(&["kept"]);
    let good = delete_document(false, &["kept"]);
    let too_many: Vec<String> = (0..1001).map(|i| format!("k{i}")).collect();
    let too_many: Vec<&str> = too_many.iter().map(String::as_str).collect();
    let batch = || Call::home("POST").flag("delete");
    let object = |inside: &str| format!("<Delete><Object>{inside}</Object></Delete>");
    // Each with the EC OSS's EC pages give it (those of InvalidDigest and InvalidObjectName
    // are the server's usual ones).
    let cases = [
        (
            batch().body(good.clone()),
            "MissingArgument",
            "0016-00000606",
        ),
        (
            batch()
                .header("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg==")
                .body(good.clone()),
            "InvalidDigest",
            "0016-00000402",
        ),
        (
            batch().header("Content-MD5", "short").body(good.clone()),
            "InvalidDigest",
            "0016-00000402",
        ),
        (
            batch().document("<Delete><Object>"),
            "MalformedXML",
            "0016-00000607",
        ),
        (
            batch().document("<BatchDelete><Object><Key>kept</Key></Object></BatchDelete>"),
            "MalformedXML",
            "0016-00000608",
        ),
        (
            batch().document(&delete_document(false, &too_many)),
            "MalformedXML",
            "0016-00000609",
        ),
        (
            batch().document(&good.replace("false", "yes")),
            "MalformedXML",
            "0016-00000610",
        ),
        (
            batch().document(&object("<Key></Key>")),
            "InvalidObjectName",
            "0016-00000611",
        ),
        (
            batch().document(&object("<Key>kept</Key><VersionId></VersionId>")),
            "InvalidArgument",
            "0016-00000612",
        ),
        (
            batch().document(&object("<VersionId>null</VersionId>")),
            "MalformedXML",
            "0016-00000613",
        ),
        (
            batch().document("<Delete><Quiet>false</Quiet></Delete>"),
            "MalformedXML",
            "0016-00000615",
        ),
        (
            batch().document(&delete_document(false, &["kept", "/rooted"])),
            "InvalidObjectName",
            "0016-00000005",
        ),
        (
            batch().document(&object("<Key>kept</Key><VersionId>v2</VersionId>")),
            "InvalidArgument",
            "0016-00000903",
        ),
    ];
    for (call, code, ec) in cases {
        let answer = call.send(&server);
        assert_eq!(answer.error(), (400, code, ec), "{answer:?}");
        assert!(stored(&server, "kept"));
    }
    let answer = Call::new("POST", Some("no-such-bucket"))
        .flag("delete")
        .document(&good)
        .send(&server);
    assert_eq!(answer.error(), (404, "NoSuchBucket", "0015-00000101"));
}

#[test]
fn a_delete_naming_the_null_version_is_a_plain_delete() {
    let server = start_with(&["versioned"]);
    let delete = |version| {
        Call::home("DELETE")
            .key("versioned")
            .param("versionId", version)
            .send(&server)
    };
    assert_eq!(delete("CAEQ").error().1, "InvalidArgument");
    assert!(stored(&server, "versioned"));
    // Other operations on a key that DELETE names by their sub-resource are not DeleteObject.
    for call in [
        Call::home("DELETE").key("versioned").flag("tagging"),
        Call::home("DELETE")
            .key("versioned")
            .param("uploadId", "0004B9894A22E5B1888A1E29F823****"),
        Call::home("DELETE")
            .key("versioned")
            .param("versionId", "null")
            .flag("tagging"),
    ] {
        let answer = call.send(&server);
        assert_eq!(
            answer.error(),
            (501, "NotImplemented", "0000-00000001"),
            "{answer:?}"
        );
        assert!(stored(&server, "versioned"));
    }
    assert_eq!(delete("null").status, 204);
    assert!(!stored(&server, "versioned"));
    let document = "<Delete><Object><Key>gone</Key><VersionId>null</VersionId></Object></Delete>";
    let batch = Call::home("POST")
        .flag("delete")
        .document(document)
        .send(&server);
    assert_eq!(batch.all("VersionId"), ["null"]);
}

// Faults and counters.

#[test]
fn the_new_operations_are_counted_and_faulted_by_name() {
    let server = start();
    assert_eq!(put_bucket(&server, "counted").status, 200);
    Call::new("GET", None).send(&server);
    Call::home("GET").send(&server);
    Call::home("GET").flag("uploads").send(&server);
    Call::new("DELETE", Some("counted")).send(&server);
    Call::home("POST")
        .flag("delete")
        .document(&delete_document(true, &["x"]))
        .send(&server);
    for (op, count) in [
        (Op::PutBucket, 1),
        (Op::ListBuckets, 1),
        (Op::ListObjects, 2),
        (Op::DeleteBucket, 1),
        (Op::DeleteMultiple, 1),
    ] {
        assert_eq!(server.requests_received(op), count, "{op:?}");
    }

    server.add_fault(Fault::new(Action::Error(503), Op::ListObjects));
    let faulted = Call::home("GET").send(&server);
    assert_eq!(faulted.error().1, "ServiceUnavailable");
    assert_eq!(Call::home("GET").send(&server).status, 200);

    // A batch delete applied, its answer lost.
    put_object(&server, "lost-answer");
    server.add_fault(Fault::new(Action::ResetAfterApply, Op::DeleteMultiple));
    let lost = Call::home("POST")
        .flag("delete")
        .document(&delete_document(false, &["lost-answer"]))
        .exchange(&server);
    // The connection is reset: no answer at all.
    assert!(lost.is_err(), "{lost:?}");
    assert!(!stored(&server, "lost-answer"));

    // Faults are scripted by the new names over HTTP too.
    let scripted = unsigned(
        &server,
        "POST",
        "/-/faults?action=error&status=500&op=list-buckets",
    );
    assert_eq!(scripted.status, 200, "{scripted:?}");
    assert_eq!(
        Call::new("GET", None).send(&server).error().1,
        "InternalError"
    );
    assert_eq!(Call::new("GET", None).send(&server).status, 200);
    let stats = unsigned(&server, "GET", "/-/stats");
    assert!(stats.text().contains("\nlist-buckets 3\n"), "{stats:?}");
}
