//! Buckets and objects. Each bucket's objects sit behind one mutex, so the position check
//! and the apply of an append are one atomic step: of two writers at the same position,
//! exactly one wins. Bodies are read before the lock is taken; only the apply holds it.
//! The map of buckets is locked only to find or change an entry, never for file I/O or while
//! a bucket's own lock is awaited, so a slow bucket never stalls the others. A request may
//! find its bucket before a DeleteBucket and lock it after: the bucket's `deleted` mark,
//! set under its lock, makes that request's operation NoSuchBucket rather than a write into
//! a bucket that is gone.
//!
//! Three modes: memory; a directory (a folder per bucket holding data files, small metadata
//! files and the bucket's own `.bucket` file, reloaded at start); discard (only each
//! object's length and CRC, for throughput benchmarks). Buckets and keys are kept sorted, as
//! listings return them in byte order.

use crate::error::OssError;
use crate::time::{from_unix_seconds, unix_seconds, whole_seconds};
use md5::{Digest, Md5};
use oss_protocol::crc64;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufRead, Read, Seek, Write};
use std::ops::{Bound, ControlFlow};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone)]
pub enum Mode {
    Memory,
    Dir(PathBuf),
    Discard,
}

/// The storage class of a bucket or object that names none.
pub const STANDARD: &str = "Standard";

/// The storage classes OSS documents, for buckets and objects alike: the server's own list,
/// not the client's, so that a wrong list in the library is refused here rather than
/// agreed with.
pub const STORAGE_CLASSES: &[&str] = &[STANDARD, "IA", "Archive", "ColdArchive", "DeepColdArchive"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectType {
    Appendable,
    Normal,
}

impl ObjectType {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectType::Appendable => "Appendable",
            ObjectType::Normal => "Normal",
        }
    }
}

/// Attributes set when an object is created, as the request headers named them.
/// Kept as `(header name, value)` so they are returned exactly as they were given.
#[derive(Debug, Clone, Default)]
pub struct Attributes {
    pub headers: Vec<(String, String)>,
}

impl Attributes {
    pub fn get(&self, name: &str) -> Option<&str> {
        crate::http::header_value(&self.headers, name)
    }
}

#[derive(Debug, Clone)]
pub struct ObjectMeta {
    pub kind: ObjectType,
    pub len: u64,
    pub crc: u64,
    pub etag: String,
    pub last_modified: SystemTime,
    pub attributes: Attributes,
    /// When SealAppendObject first sealed it; a sealed object takes no more appends.
    pub sealed: Option<SystemTime>,
}

/// A request body as read off the wire: its bytes unless the store discards them.
pub struct Ingest {
    pub bytes: Option<Vec<u8>>,
    pub len: u64,
    pub crc: u64,
    /// Computed only where needed (PutObject's ETag, a `Content-MD5` check).
    pub md5: Option<[u8; 16]>,
}

/// Bytes `[start, end)` of an object, read under its bucket's lock.
pub struct Slice {
    pub meta: ObjectMeta,
    pub start: u64,
    pub end: u64,
    pub bytes: Vec<u8>,
}

struct Object {
    meta: ObjectMeta,
    /// Memory mode only.
    data: Vec<u8>,
}

type Objects = BTreeMap<String, Object>;

/// What a bucket is created with, as ListBuckets reports it.
#[derive(Debug, Clone)]
pub struct BucketInfo {
    pub created: SystemTime,
    pub storage_class: String,
}

impl BucketInfo {
    /// A Standard bucket created at `now`.
    pub fn new(now: SystemTime) -> Self {
        BucketInfo {
            created: whole_seconds(now),
            storage_class: STANDARD.into(),
        }
    }
}

struct Bucket {
    info: BucketInfo,
    contents: Arc<Mutex<Contents>>,
}

/// What a bucket's lock guards.
#[derive(Default)]
struct Contents {
    /// Set by DeleteBucket under the lock, before the bucket leaves the map.
    deleted: bool,
    objects: Objects,
}

/// A bucket as a request found it: its operations lock it, and find it deleted when a
/// DeleteBucket came in between.
pub struct BucketRef {
    name: String,
    contents: Arc<Mutex<Contents>>,
}

impl BucketRef {
    /// Runs `f` on the objects under the bucket's lock, unless the bucket was deleted.
    fn with<T>(&self, f: impl FnOnce(&mut Objects) -> Result<T, OssError>) -> Result<T, OssError> {
        let mut contents = lock(&self.contents);
        if contents.deleted {
            return Err(OssError::no_such_bucket(&self.name));
        }
        f(&mut contents.objects)
    }
}

fn lock(contents: &Mutex<Contents>) -> std::sync::MutexGuard<'_, Contents> {
    contents.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Store {
    mode: Mode,
    max_object_size: u64,
    buckets: RwLock<BTreeMap<String, Bucket>>,
    /// Held through a PutBucket (its check, its files, its entry), so two creations of one
    /// name cannot both write its bucket file; requests to buckets do not wait for it.
    creating: Mutex<()>,
}

impl Store {
    pub fn open(mode: Mode, max_object_size: u64) -> io::Result<Store> {
        let store = Store {
            mode,
            max_object_size,
            buckets: RwLock::default(),
            creating: Mutex::default(),
        };
        if let Mode::Dir(dir) = &store.mode {
            fs::create_dir_all(dir)?;
            for entry in fs::read_dir(dir)? {
                let entry = entry?;
                if entry.file_type()?.is_dir() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let contents = Contents {
                        deleted: false,
                        objects: load_bucket(&entry.path())?,
                    };
                    let bucket = Bucket {
                        info: load_bucket_info(&entry.path())?,
                        contents: Arc::new(Mutex::new(contents)),
                    };
                    store.lock_buckets_mut().insert(name, bucket);
                }
            }
        }
        Ok(store)
    }

    pub fn keeps_data(&self) -> bool {
        !matches!(self.mode, Mode::Discard)
    }

    pub fn max_object_size(&self) -> u64 {
        self.max_object_size
    }

    fn lock_buckets_mut(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Bucket>> {
        self.buckets.write().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_buckets(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Bucket>> {
        self.buckets.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates the bucket unless it exists: `None` when it did, else the details of the one
    /// there.
    pub fn create_bucket(&self, name: &str, info: BucketInfo) -> io::Result<Option<BucketInfo>> {
        let _creating = self.creating.lock().unwrap_or_else(|e| e.into_inner());
        let existing = self
            .lock_buckets()
            .get(name)
            .map(|bucket| (bucket.info.clone(), bucket.contents.clone()));
        if let Some((info, contents)) = existing {
            if !lock(&contents).deleted {
                return Ok(Some(info));
            }
        }
        if let Mode::Dir(dir) = &self.mode {
            let folder = dir.join(name);
            fs::create_dir_all(&folder)?;
            let text = format!(
                "created\t{}\nstorage\t{}\n",
                unix_seconds(info.created),
                info.storage_class
            );
            write_atomically(&folder.join(BUCKET_FILE), text)?;
        }
        // A deleted bucket still in the map is replaced.
        self.lock_buckets_mut().insert(
            name.to_string(),
            Bucket {
                info,
                contents: Arc::default(),
            },
        );
        Ok(None)
    }

    /// DeleteBucket: only an empty bucket goes. Its folder is removed under its own lock,
    /// which is then marked deleted; the map is locked only to drop the entry, and only if
    /// it is still this bucket's (a PutBucket may have made a new one since).
    pub fn delete_bucket(&self, name: &str) -> Result<(), OssError> {
        let bucket = self.bucket(name)?;
        {
            let mut contents = lock(&bucket.contents);
            if contents.deleted {
                return Err(OssError::no_such_bucket(name));
            }
            if !contents.objects.is_empty() {
                return Err(OssError::bucket_not_empty(name));
            }
            if let Mode::Dir(dir) = &self.mode {
                fs::remove_dir_all(dir.join(name))?;
            }
            contents.deleted = true;
        }
        let mut buckets = self.lock_buckets_mut();
        if buckets
            .get(name)
            .is_some_and(|entry| Arc::ptr_eq(&entry.contents, &bucket.contents))
        {
            buckets.remove(name);
        }
        Ok(())
    }

    pub fn has_bucket(&self, name: &str) -> bool {
        self.lock_buckets().contains_key(name)
    }

    /// Every bucket with its creation details, in name order.
    pub fn buckets(&self) -> Vec<(String, BucketInfo)> {
        self.lock_buckets()
            .iter()
            .map(|(name, bucket)| (name.clone(), bucket.info.clone()))
            .collect()
    }

    /// The bucket a request is about, found now and locked by each of its operations.
    pub fn bucket(&self, name: &str) -> Result<BucketRef, OssError> {
        let contents = self
            .lock_buckets()
            .get(name)
            .map(|bucket| bucket.contents.clone())
            .ok_or_else(|| OssError::no_such_bucket(name))?;
        Ok(BucketRef {
            name: name.to_string(),
            contents,
        })
    }

    /// Shows `visit` the objects whose keys start with `prefix` and sort after `after`, in
    /// key order, under the bucket's lock, until it answers `Break`.
    pub fn list(
        &self,
        bucket: &str,
        prefix: &str,
        after: &str,
        mut visit: impl FnMut(&str, &ObjectMeta) -> ControlFlow<()>,
    ) -> Result<(), OssError> {
        // The keys with a prefix are one run of the sorted keys: start at the later of its
        // start and `after`, and stop at its end.
        let start = if after >= prefix {
            Bound::Excluded(after)
        } else {
            Bound::Included(prefix)
        };
        self.bucket(bucket)?.with(|objects| {
            for (key, object) in objects.range::<str, _>((start, Bound::Unbounded)) {
                if !key.starts_with(prefix) || visit(key, &object.meta).is_break() {
                    break;
                }
            }
            Ok(())
        })
    }

    pub fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta, OssError> {
        self.bucket(bucket)?.with(|objects| {
            objects
                .get(key)
                .map(|o| o.meta.clone())
                .ok_or_else(|| OssError::no_such_key(key))
        })
    }

    /// The rules an append must pass, checked before its body is read (to answer early)
    /// and again, atomically, when it is applied.
    pub fn check_append(
        &self,
        current: Option<&ObjectMeta>,
        position: u64,
        len: u64,
    ) -> Result<(), OssError> {
        let length = match current {
            Some(meta) if meta.kind != ObjectType::Appendable => {
                return Err(OssError::object_not_appendable())
            }
            Some(meta) if meta.sealed.is_some() => {
                return Err(OssError::append_sealed_object_not_allowed())
            }
            Some(meta) => meta.len,
            None => 0,
        };
        if position != length {
            return Err(OssError::position_not_equal_to_length(length));
        }
        if length.saturating_add(len) > self.max_object_size {
            return Err(OssError::entity_too_large(
                length,
                len,
                self.max_object_size,
            ));
        }
        Ok(())
    }

    /// SealAppendObject at `now` (the server's clock): `position` must be the object's length.
    /// Sealing again answers the first seal's time.
    pub fn seal(
        &self,
        bucket: &str,
        key: &str,
        position: u64,
        now: SystemTime,
    ) -> Result<SystemTime, OssError> {
        self.bucket(bucket)?.with(|objects| {
            let object = objects
                .get_mut(key)
                .ok_or_else(|| OssError::no_such_key(key))?;
            let meta = &mut object.meta;
            if meta.kind != ObjectType::Appendable {
                return Err(OssError::object_not_appendable());
            }
            if position != meta.len {
                return Err(OssError::position_not_equal_to_length(meta.len));
            }
            if let Some(time) = meta.sealed {
                return Ok(time);
            }
            let time = whole_seconds(now);
            meta.sealed = Some(time);
            self.save_meta(bucket, key, meta)?;
            Ok(time)
        })
    }

    /// AppendObject into `bucket`, found when the request began (so a DeleteBucket since
    /// makes it NoSuchBucket); `attributes` are made only if the append creates the object.
    pub fn append(
        &self,
        bucket: &BucketRef,
        key: &str,
        position: u64,
        body: Ingest,
        attributes: impl FnOnce() -> Attributes,
        now: SystemTime,
    ) -> Result<ObjectMeta, OssError> {
        bucket.with(|objects| {
            self.check_append(objects.get(key).map(|o| &o.meta), position, body.len)?;
            let object = objects.entry(key.to_string()).or_insert_with(|| Object {
                meta: ObjectMeta {
                    kind: ObjectType::Appendable,
                    len: 0,
                    crc: 0,
                    etag: String::new(),
                    last_modified: whole_seconds(now),
                    attributes: attributes(),
                    sealed: None,
                },
                data: Vec::new(),
            });
            match (&self.mode, &body.bytes) {
                (Mode::Memory, Some(bytes)) => object.data.extend_from_slice(bytes),
                (Mode::Dir(dir), Some(bytes)) => {
                    let path = data_path(dir, &bucket.name, key);
                    let mut file = fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)?;
                    file.write_all(bytes)?;
                }
                _ => {}
            }
            let meta = &mut object.meta;
            meta.crc = crc64::combine(meta.crc, body.crc, body.len);
            meta.len += body.len;
            meta.etag = format!("\"{:016X}{:08X}\"", meta.crc, meta.len as u32);
            meta.last_modified = whole_seconds(now);
            self.save_meta(&bucket.name, key, meta)?;
            Ok(meta.clone())
        })
    }

    /// PutObject: replaces whatever was there with a Normal object.
    pub fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Ingest,
        attributes: Attributes,
        now: SystemTime,
    ) -> Result<ObjectMeta, OssError> {
        let meta = ObjectMeta {
            kind: ObjectType::Normal,
            len: body.len,
            crc: body.crc,
            etag: format!("\"{}\"", hex_upper(&body.md5.unwrap_or_default())),
            last_modified: whole_seconds(now),
            attributes,
            sealed: None,
        };
        self.bucket(bucket)?.with(|objects| {
            let mut data = Vec::new();
            match (&self.mode, body.bytes) {
                (Mode::Memory, Some(bytes)) => data = bytes,
                (Mode::Dir(dir), Some(bytes)) => fs::write(data_path(dir, bucket, key), bytes)?,
                _ => {}
            }
            self.save_meta(bucket, key, &meta)?;
            objects.insert(
                key.to_string(),
                Object {
                    meta: meta.clone(),
                    data,
                },
            );
            Ok(meta)
        })
    }

    /// The object's metadata and the bytes of `range` (already checked against its length).
    pub fn read(
        &self,
        bucket: &str,
        key: &str,
        range: impl FnOnce(u64) -> Result<(u64, u64), OssError>,
    ) -> Result<Slice, OssError> {
        self.bucket(bucket)?.with(|objects| {
            let object = objects.get(key).ok_or_else(|| OssError::no_such_key(key))?;
            let (start, end) = range(object.meta.len)?;
            let bytes = match &self.mode {
                Mode::Memory => object.data[start as usize..end as usize].to_vec(),
                Mode::Dir(dir) => {
                    let mut file = fs::File::open(data_path(dir, bucket, key))?;
                    file.seek(io::SeekFrom::Start(start))?;
                    let mut bytes = vec![0; (end - start) as usize];
                    file.read_exact(&mut bytes)?;
                    bytes
                }
                Mode::Discard => {
                    return Err(OssError::not_implemented(
                        "GetObject on a server started with --discard",
                    ))
                }
            };
            Ok(Slice {
                meta: object.meta.clone(),
                start,
                end,
                bytes,
            })
        })
    }

    pub fn delete(&self, bucket: &str, key: &str) -> Result<(), OssError> {
        self.bucket(bucket)?.with(|objects| {
            if objects.remove(key).is_some() {
                if let Mode::Dir(dir) = &self.mode {
                    let data = data_path(dir, bucket, key);
                    let _ = fs::remove_file(&data);
                    let _ = fs::remove_file(data.with_extension("meta"));
                }
            }
            Ok(())
        })
    }

    fn save_meta(&self, bucket: &str, key: &str, meta: &ObjectMeta) -> io::Result<()> {
        let Mode::Dir(dir) = &self.mode else {
            return Ok(());
        };
        let path = data_path(dir, bucket, key).with_extension("meta");
        let mut text = format!(
            "key-encoded\t{}\ntype\t{}\nlen\t{}\ncrc\t{}\netag\t{}\nmtime\t{}\n",
            utf8_percent_encode(key, KEY_ENCODED),
            meta.kind.as_str(),
            meta.len,
            meta.crc,
            meta.etag,
            unix_seconds(meta.last_modified)
        );
        if let Some(sealed) = meta.sealed {
            text.push_str(&format!("sealed\t{}\n", unix_seconds(sealed)));
        }
        for (name, value) in &meta.attributes.headers {
            text.push_str(&format!("header\t{name}\t{value}\n"));
        }
        write_atomically(&path, text)
    }
}

/// What a key keeps encoded in its metadata file, which is a line a field: control
/// characters (a key may hold a newline) and `%` itself.
const KEY_ENCODED: &AsciiSet = &CONTROLS.add(b'%');

/// Written beside the objects of each bucket in directory mode; not a `.meta` file, so no
/// object is read from it.
const BUCKET_FILE: &str = ".bucket";

/// A file is replaced whole or not at all, so a crash never leaves half of one.
fn write_atomically(path: &Path, text: String) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    fs::write(&tmp, text)?;
    fs::rename(tmp, path)
}

impl From<io::Error> for OssError {
    fn from(e: io::Error) -> Self {
        OssError::new(
            500,
            "InternalError",
            "0000-00000002",
            format!("storage: {e}"),
        )
    }
}

/// Keys may be 1023 bytes of anything; file names are their MD5.
fn data_path(dir: &Path, bucket: &str, key: &str) -> PathBuf {
    dir.join(bucket)
        .join(format!("{}.data", hex_upper(&Md5::digest(key.as_bytes()))))
}

pub fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn load_bucket(dir: &Path) -> io::Result<Objects> {
    let mut objects = Objects::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "meta") {
            let (key, meta) = load_meta(&path)?;
            objects.insert(
                key,
                Object {
                    meta,
                    data: Vec::new(),
                },
            );
        }
    }
    Ok(objects)
}

/// A bucket folder from before bucket files were kept counts as a Standard bucket created
/// when its folder last changed.
fn load_bucket_info(folder: &Path) -> io::Result<BucketInfo> {
    let path = folder.join(BUCKET_FILE);
    let text = match fs::read_to_string(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(BucketInfo::new(fs::metadata(folder)?.modified()?))
        }
        result => result?,
    };
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad bucket file {}", path.display()),
        )
    };
    let mut info = BucketInfo::new(UNIX_EPOCH);
    for line in text.lines() {
        match line.split_once('\t').ok_or_else(bad)? {
            ("created", secs) => info.created = from_unix_seconds(secs.parse().map_err(|_| bad())?),
            ("storage", class) => info.storage_class = class.to_string(),
            _ => return Err(bad()),
        }
    }
    Ok(info)
}

fn load_meta(path: &Path) -> io::Result<(String, ObjectMeta)> {
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad metadata file {}", path.display()),
        )
    };
    let time = |secs: &str| secs.parse().map(from_unix_seconds).map_err(|_| bad());
    let mut key = None;
    let mut meta = ObjectMeta {
        kind: ObjectType::Appendable,
        len: 0,
        crc: 0,
        etag: String::new(),
        last_modified: UNIX_EPOCH,
        attributes: Attributes::default(),
        sealed: None,
    };
    for line in io::BufReader::new(fs::File::open(path)?).lines() {
        let line = line?;
        let (field, value) = line.split_once('\t').ok_or_else(bad)?;
        match field {
            "key-encoded" => {
                let decoded = percent_decode_str(value).decode_utf8().map_err(|_| bad())?;
                key = Some(decoded.into_owned());
            }
            // Files written before keys were encoded hold them as they are.
            "key" => key = Some(value.to_string()),
            "type" => {
                meta.kind = if value == "Normal" {
                    ObjectType::Normal
                } else {
                    ObjectType::Appendable
                }
            }
            "len" => meta.len = value.parse().map_err(|_| bad())?,
            "crc" => meta.crc = value.parse().map_err(|_| bad())?,
            "etag" => meta.etag = value.to_string(),
            "mtime" => meta.last_modified = time(value)?,
            "sealed" => meta.sealed = Some(time(value)?),
            "header" => {
                let (name, value) = value.split_once('\t').ok_or_else(bad)?;
                meta.attributes
                    .headers
                    .push((name.to_string(), value.to_string()));
            }
            _ => return Err(bad()),
        }
    }
    Ok((key.ok_or_else(bad)?, meta))
}
