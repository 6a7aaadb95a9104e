//! The disk spool of a buffered appender ([`crate::SpoolOptions`]): the bytes written and not
//! yet stored, kept in files so that no crash of the process loses one that a write
//! acknowledged, and the next open of the object (or [`crate::drain_spool`]) uploads them.
//!
//! An object's spool is a run of segment files in the spool directory, each a header and
//! then raw bytes, named `<stream>-<start>.seg`: `<stream>` is 32 hex digits of SHA-256 of
//! bucket and key, so one directory holds many objects' spools; `<start>` is 16 hex digits
//! of the object position of the segment's first byte, so names sort in the object's order.
//! Writes go to the last segment, and a new one starts once it holds a request's worth, so
//! the upload thread reads one request from disk at a time and a segment whose bytes the
//! server has all confirmed can be deleted. `<stream>.lock`, locked by the owner, gives one
//! owner at a time.
//!
//! Header, little-endian: magic `OSSSPOOL`, format version (u32), header length (u32), the
//! start position and the object's CRC-64 up to it (u64 each), bucket and key (u32 length
//! and UTF-8 each), the create parameters as the headers of the append that makes the
//! object (a u32 count of name and value texts; only a segment at 0 has any), and a CRC-64
//! of all that (u64).
//!
//! A segment is made under a temporary name (`.seg.tmp`) and renamed once its header is
//! written, so a crash leaves no segment or one with a whole header; a temporary file left
//! holds no data and is removed. A file with a bad header, or one that does not continue
//! the segment before it, is renamed aside (`.bad`): never uploaded, never deleted.

use super::direct::appendable_state;
use super::options::{SpoolOptions, SpoolSync};
use crate::error::{Error, ErrorKind, Result};
use crate::object::{CreateParams, ObjectInfo, ObjectType, MAX_OBJECT_SIZE};
use oss_protocol::crc64::{self, Crc64};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

const MAGIC: &[u8; 8] = b"OSSSPOOL";
const VERSION: u32 = 1;
/// Magic, version and header length: what a header is known by before its length is.
const PREAMBLE: usize = 16;
/// The shortest header: preamble, start and CRC, empty bucket, key and parameters, checksum.
const MIN_HEADER: usize = PREAMBLE + 16 + 12 + 8;
/// The longest header read. Bucket, key and create parameters take far less (OSS limits
/// a request's headers to a few KiB), so a longer length is damage, never an allocation.
const MAX_HEADER: usize = 1 << 20;
const SEGMENT: &str = ".seg";
const TEMPORARY: &str = ".seg.tmp";
const BAD: &str = ".bad";
const LOCK: &str = ".lock";
/// Hex digits of a stream's name and of a segment's start.
const STREAM_DIGITS: usize = 32;
const START_DIGITS: usize = 16;
/// Spooled bytes are checksummed through a buffer of this size.
const READ_CHUNK: usize = 64 << 10;

/// The spool of one object, owned (locked) by one appender.
pub(crate) struct Spool {
    dir: PathBuf,
    /// The object, as `oss://bucket/key`, for messages.
    object: String,
    bucket: String,
    key: String,
    stream: String,
    sync: SpoolSync,
    /// The create parameters a segment at 0 records.
    create: CreateParams,
    /// A segment takes writes until it holds this many bytes.
    segment_size: u64,
    /// Oldest first; contiguous.
    segments: VecDeque<Segment>,
    /// The last segment, open for appending.
    writer: Option<File>,
    /// Where the spool ends, and the object's CRC-64 up to there.
    end: u64,
    end_crc: u64,
    /// When the last `fdatasync` was, and whether a write came since (`Interval`).
    synced_at: Instant,
    unsynced: bool,
    /// Set when a failed write could not be taken back: its bytes may be in the last
    /// segment, so no later write may follow them.
    broken: Option<String>,
    /// Held while this spool is owned: the lock goes with the file.
    _lock: File,
    lock_path: PathBuf,
}

struct Segment {
    start: u64,
    /// The object's CRC-64 up to `start`.
    start_crc: u64,
    path: PathBuf,
    header_len: u64,
    /// Bytes after the header.
    len: u64,
}

impl Segment {
    fn end(&self) -> u64 {
        self.start + self.len
    }
}

/// Where spooled bytes are: `len` of them at `offset` in the file at `path`.
pub(crate) struct Piece {
    path: PathBuf,
    offset: u64,
    len: usize,
}

/// A spool header as read from a file.
struct Header {
    start: u64,
    start_crc: u64,
    bucket: String,
    key: String,
    create: Vec<(String, String)>,
    len: u64,
    /// The bytes after it.
    data_len: u64,
}

/// Why a spool file cannot be read: the disk failed, or the file is not a usable spool
/// file (said why).
enum Unreadable {
    Io(io::Error),
    Bad(String),
}

impl From<io::Error> for Unreadable {
    fn from(e: io::Error) -> Unreadable {
        Unreadable::Io(e)
    }
}

fn io_error(what: String, e: io::Error) -> Error {
    Error::new(ErrorKind::SpoolIo, format!("{what}: {e}"))
}

fn unreadable(path: &Path, problem: Unreadable) -> std::result::Result<(PathBuf, String), Error> {
    match problem {
        Unreadable::Io(e) => Err(io_error(format!("reading {}", path.display()), e)),
        Unreadable::Bad(why) => Ok((path.to_path_buf(), why)),
    }
}

impl Spool {
    /// Takes (locks) the spool of `bucket`/`key` in the directory, made if missing, and reads
    /// what an earlier owner left. Files that are not a usable part of it are renamed aside
    /// and reported, by name, with [`ErrorKind::SpoolIo`]; the rest is kept for the next open.
    pub(crate) fn open(
        options: &SpoolOptions,
        bucket: &str,
        key: &str,
        segment_size: usize,
        create: &CreateParams,
    ) -> Result<Spool> {
        let dir = options.dir.clone();
        fs::create_dir_all(&dir)
            .map_err(|e| io_error(format!("making the spool directory {}", dir.display()), e))?;
        let object = format!("oss://{bucket}/{key}");
        let stream = stream_name(bucket, key);
        let (lock, lock_path) = lock(&dir, &stream, &object)?;
        let mut spool = Spool {
            dir,
            object,
            bucket: bucket.to_string(),
            key: key.to_string(),
            stream,
            sync: options.sync,
            create: create.clone(),
            segment_size: segment_size as u64,
            segments: VecDeque::new(),
            writer: None,
            end: 0,
            end_crc: 0,
            synced_at: Instant::now(),
            unsynced: false,
            broken: None,
            _lock: lock,
            lock_path,
        };
        spool.load()?;
        Ok(spool)
    }

    /// Reads the segments an earlier owner left, checks that each continues the one before
    /// it (position and CRC-64), and opens the last one for appending.
    fn load(&mut self) -> Result<()> {
        let mut bad = Vec::new();
        let mut found = Vec::new();
        for (path, name) in files_of(&self.dir)?
            .remove(&self.stream)
            .unwrap_or_default()
        {
            match name {
                Name::Segment(start) => found.push((start, path)),
                Name::Temporary => remove_temporary(&path)?,
                Name::Lock => {}
                Name::Unknown => bad.push((
                    path,
                    format!(
                        "not named {}-<start: {START_DIGITS} hex digits>{SEGMENT}",
                        self.stream
                    ),
                )),
            }
        }
        found.sort();
        for (start, path) in found {
            let header = match read_header(&path) {
                Ok(header) => header,
                Err(problem) => {
                    bad.push(unreadable(&path, problem)?);
                    continue;
                }
            };
            let why = if header.bucket != self.bucket || header.key != self.key {
                Some(format!(
                    "a spool file of oss://{}/{}, not of {}",
                    header.bucket, header.key, self.object
                ))
            } else if header.start != start {
                Some(format!(
                    "its header says it starts at {}, its name at {start}",
                    header.start
                ))
            } else if start
                .checked_add(header.data_len)
                .is_none_or(|end| end > MAX_OBJECT_SIZE)
            {
                // The header's checksum holds, but what it says is not ours to believe: no
                // appendable object goes past 5 GiB.
                Some(format!(
                    "its {} bytes from {start} would pass the 5 GiB of an appendable object",
                    header.data_len
                ))
            } else {
                match CreateParams::from_headers(header.create) {
                    Err(name) => Some(format!("an unknown create parameter {name:?}")),
                    Ok(create) if start == 0 => {
                        self.create = create;
                        None
                    }
                    Ok(_) => None,
                }
            };
            if let Some(why) = why {
                bad.push((path, why));
                continue;
            }
            self.segments.push_back(Segment {
                start,
                start_crc: header.start_crc,
                header_len: header.len,
                len: header.data_len,
                path,
            });
        }
        bad.extend(self.check_chain()?);
        if !bad.is_empty() {
            return Err(set_aside(bad, &self.object));
        }
        if let Some(last) = self.segments.back() {
            let opened = OpenOptions::new().append(true).open(&last.path);
            self.writer =
                Some(opened.map_err(|e| io_error(format!("opening {}", last.path.display()), e))?);
        }
        Ok(())
    }

    /// Reads every segment's bytes to check that each segment starts where the one before
    /// ends, with the CRC-64 they make, and sets the spool's end. What breaks the chain is
    /// taken out and returned (the open then fails), with why, and all after it: after a gap (the segment before
    /// was cut short, by a power cut before a sync: what it holds is good) the segment that
    /// does not follow; after a CRC-64 that differs, the segment before, whose bytes are not
    /// those written.
    fn check_chain(&mut self) -> Result<Vec<(PathBuf, String)>> {
        let mut ends: Vec<(u64, u64)> = Vec::new();
        for (i, segment) in self.segments.iter().enumerate() {
            let broken = match ends.last() {
                Some(&(end, _)) if segment.start != end => Some((
                    i,
                    format!(
                        "starts at {}, where the segment before it ends at {end}",
                        segment.start
                    ),
                )),
                Some(&(_, crc)) if segment.start_crc != crc => Some((
                    i - 1,
                    format!(
                        "its bytes are damaged: they end with CRC-64 {crc}, where the next \
                         segment's header says {}",
                        segment.start_crc
                    ),
                )),
                _ => None,
            };
            if let Some((from, why)) = broken {
                let taken = self.segments.split_off(from);
                let follows = "follows a segment that does not continue the spool";
                let mut bad = vec![(taken[0].path.clone(), why)];
                bad.extend(
                    taken
                        .iter()
                        .skip(1)
                        .map(|s| (s.path.clone(), follows.into())),
                );
                return Ok(bad);
            }
            let data = checksum_file(&segment.path, segment.header_len, segment.len)
                .map_err(|e| io_error(format!("reading {}", segment.path.display()), e))?;
            ends.push((
                segment.end(),
                crc64::combine(segment.start_crc, data, segment.len),
            ));
        }
        if let Some(&end) = ends.last() {
            (self.end, self.end_crc) = end;
        }
        Ok(Vec::new())
    }

    /// Settles the spool with the object as a HEAD `found` it (`None`: absent), and returns
    /// the object's length and CRC-64, where the upload resumes. An empty spool takes the
    /// object as it is. A spool with bytes takes it when its length falls inside the spooled
    /// range and its CRC-64 is the spool's up to that length: the bytes before it are
    /// stored, and are discarded. Anything else (shorter than the spool's start, longer than
    /// its end, another CRC-64, not an appendable object) means another writer changed the
    /// object: a [`ErrorKind::Conflict`] with both sides, and the spool is kept as it is.
    pub(crate) fn recover(&mut self, found: Option<&ObjectInfo>) -> Result<(u64, u64)> {
        let Some(first) = self.segments.front() else {
            let object = match found {
                Some(info) => appendable_state(info, &self.key)?,
                None => (0, 0),
            };
            (self.end, self.end_crc) = object;
            return Ok(object);
        };
        let spooled = (first.start, first.start_crc);
        let object = match found {
            Some(info) if info.object_type != ObjectType::Appendable => {
                let state = (info.length, info.crc64.unwrap_or(0));
                let what = format!(
                    "is a {:?} object of {} bytes",
                    info.object_type, info.length
                );
                return Err(self.conflict(&what, state, spooled));
            }
            Some(info) => appendable_state(info, &self.key)?,
            None if spooled.0 == 0 => (0, 0),
            None => return Err(self.conflict("is absent", (0, 0), spooled)),
        };
        let (length, crc) = object;
        let what = format!("is {length} bytes long with CRC-64 {crc}");
        if length < spooled.0 {
            return Err(self.conflict(&what, object, spooled));
        }
        if length > self.end {
            return Err(self.conflict(&what, object, (self.end, self.end_crc)));
        }
        let expected = self.crc_at(length)?;
        if crc != expected {
            return Err(self.conflict(&what, object, (length, expected)));
        }
        self.discard_to(length);
        Ok(object)
    }

    fn conflict(&self, what: &str, found: (u64, u64), ours: (u64, u64)) -> Error {
        let (start, start_crc) = self
            .segments
            .front()
            .map_or((self.end, self.end_crc), |s| (s.start, s.start_crc));
        Error::new(
            ErrorKind::Conflict,
            format!(
                "the spool in {} holds bytes {start} to {} of {} (from an object of {start} \
                 bytes with CRC-64 {start_crc}), but the object {what}: another writer \
                 changed it, so nothing of the spool was uploaded, and it is kept",
                self.dir.display(),
                self.end,
                self.object
            ),
        )
        .with_states(found, ours)
    }

    /// The object's CRC-64 up to `position`, within the spool.
    fn crc_at(&self, position: u64) -> Result<u64> {
        let segment = self
            .segments
            .iter()
            .rev()
            .find(|s| s.start <= position)
            .expect("a position within the spool");
        let len = position - segment.start;
        let data = checksum_file(&segment.path, segment.header_len, len)
            .map_err(|e| io_error(format!("reading {}", segment.path.display()), e))?;
        Ok(crc64::combine(segment.start_crc, data, len))
    }

    /// The create parameters of the append that makes the object: those the spool's first
    /// segment recorded, when an earlier owner started it at 0.
    pub(crate) fn create_params(&self) -> &CreateParams {
        &self.create
    }

    /// Whether the spool holds nothing (beyond stored bytes it keeps).
    pub(crate) fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Where the spool ends: the object's length once all of it is stored.
    pub(crate) fn end(&self) -> u64 {
        self.end
    }

    /// Appends `data` to the spool, synced as the policy says; taken whole or not at all.
    /// A write never splits over segments: one that finds the last segment full starts a new
    /// one, so a failed write is taken back by cutting one file to its old length.
    pub(crate) fn append(&mut self, data: &[u8]) -> Result<()> {
        if let Some(why) = &self.broken {
            return Err(Error::new(ErrorKind::SpoolIo, why.clone()));
        }
        if self.writer.is_none()
            || self
                .segments
                .back()
                .is_some_and(|s| s.len >= self.segment_size)
        {
            self.start_segment()?;
        }
        let (Some(writer), Some(segment)) = (&mut self.writer, self.segments.back_mut()) else {
            unreachable!("a segment was just started");
        };
        let written = writer.write_all(data).and_then(|()| match self.sync {
            SpoolSync::EveryWrite => writer.sync_data(),
            SpoolSync::Interval(interval) if self.synced_at.elapsed() >= interval => {
                writer.sync_data()?;
                self.synced_at = Instant::now();
                self.unsynced = false;
                Ok(())
            }
            SpoolSync::Interval(_) => {
                self.unsynced = true;
                Ok(())
            }
            SpoolSync::None => Ok(()),
        });
        if let Err(e) = written {
            let what = format!(
                "spooling {} bytes to {} (the write was not taken)",
                data.len(),
                segment.path.display()
            );
            // Not acknowledged, so not kept: a write made again must not find part of it
            // stored already.
            if let Err(undo) = writer.set_len(segment.header_len + segment.len) {
                self.broken = Some(format!(
                    "{} could not be cut back to its length after a failed write ({undo}), \
                     so it takes no more",
                    segment.path.display()
                ));
            }
            return Err(io_error(what, e));
        }
        segment.len += data.len() as u64;
        self.end += data.len() as u64;
        self.end_crc = crc64::combine(self.end_crc, crc64::checksum(data), data.len() as u64);
        Ok(())
    }

    /// Starts a segment at the spool's end: written under a temporary name and renamed once
    /// whole (both synced unless the policy is [`SpoolSync::None`]). The segment before is
    /// synced first, so an interval's sync of the new one covers everything written.
    fn start_segment(&mut self) -> Result<()> {
        let syncs = self.sync != SpoolSync::None;
        if let (Some(writer), true) = (&self.writer, syncs && self.unsynced) {
            let last = self.segments.back().map(|s| s.path.display().to_string());
            writer
                .sync_data()
                .map_err(|e| io_error(format!("syncing {}", last.unwrap_or_default()), e))?;
            self.synced_at = Instant::now();
            self.unsynced = false;
        }
        let start = self.end;
        let name = format!("{}-{start:0START_DIGITS$x}", self.stream);
        let path = self.dir.join(format!("{name}{SEGMENT}"));
        let temporary = self.dir.join(format!("{name}{TEMPORARY}"));
        let header = self.header()?;
        let made = (|| {
            let mut file = OpenOptions::new()
                .append(true)
                .create(true)
                .open(&temporary)?;
            file.set_len(0)?;
            file.write_all(&header)?;
            if syncs {
                file.sync_data()?;
            }
            fs::rename(&temporary, &path)?;
            if syncs {
                sync_dir(&self.dir)?;
            }
            Ok(file)
        })();
        let file = made.map_err(|e| {
            let _ = fs::remove_file(&temporary);
            io_error(format!("making the spool file {}", path.display()), e)
        })?;
        self.segments.push_back(Segment {
            start,
            start_crc: self.end_crc,
            path,
            header_len: header.len() as u64,
            len: 0,
        });
        self.writer = Some(file);
        Ok(())
    }

    /// The header of a segment starting at the spool's end.
    fn header(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        // The length, set below.
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&self.end.to_le_bytes());
        out.extend_from_slice(&self.end_crc.to_le_bytes());
        put_text(&mut out, &self.bucket);
        put_text(&mut out, &self.key);
        let create = if self.end == 0 {
            self.create.headers()
        } else {
            Vec::new()
        };
        out.extend_from_slice(&(create.len() as u32).to_le_bytes());
        for (name, value) in &create {
            put_text(&mut out, name);
            put_text(&mut out, value);
        }
        let len = out.len() + 8;
        if len > MAX_HEADER {
            return Err(Error::invalid_argument(format!(
                "the create parameters take {len} bytes in a spool header, more than the \
                 {MAX_HEADER} allowed"
            )));
        }
        out[12..16].copy_from_slice(&(len as u32).to_le_bytes());
        let crc = crc64::checksum(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    /// When the interval policy wants the last writes synced (`None`: nothing waits).
    pub(crate) fn sync_due(&self) -> Option<Instant> {
        match self.sync {
            SpoolSync::Interval(interval) if self.unsynced => Some(self.synced_at + interval),
            _ => None,
        }
    }

    /// Syncs writes the interval policy has not synced yet.
    pub(crate) fn sync(&mut self) -> Result<()> {
        if let (Some(writer), true) = (&self.writer, self.unsynced) {
            writer
                .sync_data()
                .map_err(|e| io_error(format!("syncing the spool of {}", self.object), e))?;
        }
        self.synced_at = Instant::now();
        self.unsynced = false;
        Ok(())
    }

    /// Deletes the segments whose bytes are all stored (the object is `position` long),
    /// but for a last one that still takes writes. A segment that cannot be deleted is kept:
    /// its bytes are the object's, which a later open sees.
    pub(crate) fn discard_to(&mut self, position: u64) {
        while let Some(first) = self.segments.front() {
            let last = self.segments.len() == 1;
            let stored = match self.segments.get(1) {
                Some(next) => next.start <= position,
                None => first.end() <= position && first.len >= self.segment_size,
            };
            if !stored || fs::remove_file(&first.path).is_err() {
                return;
            }
            self.segments.pop_front();
            if last {
                self.writer = None;
            }
        }
    }

    /// Where the `len` spooled bytes from object position `at` are.
    pub(crate) fn locate(&self, mut at: u64, mut len: usize) -> Vec<Piece> {
        let mut pieces = Vec::new();
        for segment in &self.segments {
            if len == 0 {
                break;
            }
            if at >= segment.end() {
                continue;
            }
            let n = len.min(usize::try_from(segment.end() - at).unwrap_or(usize::MAX));
            pieces.push(Piece {
                path: segment.path.clone(),
                offset: segment.header_len + (at - segment.start),
                len: n,
            });
            at += n as u64;
            len -= n;
        }
        pieces
    }

    /// Removes the spool: its files, the lock file last. What cannot be removed stays: a
    /// later open finds the object holds its bytes, and removes it then.
    pub(crate) fn remove(&mut self) {
        for segment in self.segments.drain(..) {
            let _ = fs::remove_file(&segment.path);
        }
        self.writer = None;
        // Still held until this spool is dropped; a new owner makes a new one.
        let _ = fs::remove_file(&self.lock_path);
    }
}

/// Reads the spooled bytes `pieces` locate into `out`, as long as they are together.
pub(crate) fn read(pieces: &[Piece], out: &mut [u8]) -> Result<()> {
    let mut filled = 0;
    for piece in pieces {
        let into = &mut out[filled..filled + piece.len];
        File::open(&piece.path)
            .and_then(|mut file| {
                file.seek(SeekFrom::Start(piece.offset))?;
                file.read_exact(into)
            })
            .map_err(|e| io_error(format!("reading {}", piece.path.display()), e))?;
        filled += piece.len;
    }
    Ok(())
}

/// The objects (bucket, key) whose spools are in `dir`, each from the header of its first
/// readable segment; a stream with none gives the error of setting its files aside. The lock
/// file of a stream with no segment (its owner ended before writing) is removed on the way,
/// unless it is in use.
pub(crate) fn streams(dir: &Path) -> Result<Vec<Result<(String, String)>>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (stream, files) in files_of(dir)? {
        let mut starts: Vec<(u64, PathBuf)> = files
            .iter()
            .filter_map(|(path, name)| match name {
                Name::Segment(start) => Some((*start, path.clone())),
                _ => None,
            })
            .collect();
        if starts.is_empty() {
            // Nothing to upload: what its owner left is removed, once it is no one's.
            if let Ok((_held, lock)) = lock(dir, &stream, &format!("stream {stream}")) {
                for (path, name) in &files {
                    if matches!(name, Name::Temporary) {
                        remove_temporary(path)?;
                    }
                }
                let _ = fs::remove_file(lock);
            }
            continue;
        }
        starts.sort();
        if let Some(named) = named(&stream, &starts).transpose() {
            out.push(named);
        }
    }
    Ok(out)
}

/// The object whose stream `stream` is, from the first of its segments that tells.
fn named(stream: &str, segments: &[(u64, PathBuf)]) -> Result<Option<(String, String)>> {
    let mut bad = Vec::new();
    for (_, path) in segments {
        match read_header(path) {
            Ok(header) if stream_name(&header.bucket, &header.key) == stream => {
                return Ok(Some((header.bucket, header.key)))
            }
            Ok(header) => bad.push((
                path.clone(),
                format!(
                    "a spool file of oss://{}/{}, under another's name",
                    header.bucket, header.key
                ),
            )),
            Err(problem) => bad.push(unreadable(path, problem)?),
        }
    }
    if bad.is_empty() {
        return Ok(None);
    }
    Err(set_aside(bad, &format!("stream {stream}")))
}

/// What a file name in a spool directory says.
enum Name {
    Segment(u64),
    Temporary,
    Lock,
    /// A stream's name, then not a start or not a segment's ending.
    Unknown,
}

/// The files of each stream in `dir`, by stream name; files of other names are not ours
/// and are left alone (those set aside among them).
fn files_of(dir: &Path) -> Result<BTreeMap<String, Vec<(PathBuf, Name)>>> {
    let listing = |e| io_error(format!("listing the spool directory {}", dir.display()), e);
    let mut out: BTreeMap<String, Vec<(PathBuf, Name)>> = BTreeMap::new();
    for entry in fs::read_dir(dir).map_err(listing)? {
        let entry = entry.map_err(listing)?;
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            continue;
        };
        let Some((stream, rest)) = name
            .strip_suffix(LOCK)
            .map(|stream| (stream, LOCK))
            .or_else(|| name.split_once('-'))
        else {
            continue;
        };
        if stream.len() != STREAM_DIGITS || !stream.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let kind = if rest == LOCK {
            Name::Lock
        } else if rest.ends_with(TEMPORARY) {
            Name::Temporary
        } else if let Some(start) = rest.strip_suffix(SEGMENT) {
            match (start.len(), u64::from_str_radix(start, 16)) {
                (START_DIGITS, Ok(start)) => Name::Segment(start),
                _ => Name::Unknown,
            }
        } else if rest.ends_with(BAD) {
            continue;
        } else {
            Name::Unknown
        };
        out.entry(stream.to_string())
            .or_default()
            .push((entry.path(), kind));
    }
    Ok(out)
}

/// Removes a temporary file a crash left between making a segment and naming it: it holds
/// a header, no data.
fn remove_temporary(path: &Path) -> Result<()> {
    fs::remove_file(path).map_err(|e| io_error(format!("removing {}", path.display()), e))
}

/// Renames `bad` files aside with `.bad` and tells which and why.
fn set_aside(bad: Vec<(PathBuf, String)>, object: &str) -> Error {
    let said: Vec<String> = bad
        .into_iter()
        .map(|(path, why)| {
            let mut aside = path.clone().into_os_string();
            aside.push(BAD);
            let aside = PathBuf::from(aside);
            match fs::rename(&path, &aside) {
                Ok(()) => format!("{}: {why}; renamed to {}", path.display(), aside.display()),
                Err(e) => format!("{}: {why}; renaming it aside failed: {e}", path.display()),
            }
        })
        .collect();
    Error::new(
        ErrorKind::SpoolIo,
        format!(
            "the spool of {object} has files it cannot use, not uploaded: {}",
            said.join("; ")
        ),
    )
}

/// A stream's name: 32 hex digits of SHA-256 of bucket and key (a bucket name has no '/').
fn stream_name(bucket: &str, key: &str) -> String {
    let digest = Sha256::digest(format!("{bucket}/{key}").as_bytes());
    digest[..STREAM_DIGITS / 2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The header of the spool file at `path`.
fn read_header(path: &Path) -> std::result::Result<Header, Unreadable> {
    let bad = |why: &str| Unreadable::Bad(why.to_string());
    let mut file = File::open(path)?;
    let mut header = vec![0; PREAMBLE];
    let n = read_full(&mut file, &mut header)?;
    let magic = n.min(MAGIC.len());
    if header[..magic] != MAGIC[..magic] {
        return Err(bad("not a spool file (no OSSSPOOL magic)"));
    }
    if n < PREAMBLE {
        return Err(bad("cut inside its header"));
    }
    let mut preamble = Fields(&header[MAGIC.len()..]);
    let (version, len) = (preamble.u32(), preamble.u32());
    let (Some(version), Some(len)) = (version, len.map(|len| len as usize)) else {
        unreachable!("the preamble was read whole");
    };
    if version != VERSION {
        return Err(Unreadable::Bad(format!(
            "spool format version {version}, where this library reads {VERSION}"
        )));
    }
    if !(MIN_HEADER..=MAX_HEADER).contains(&len) {
        return Err(bad("a damaged header (its length)"));
    }
    header.resize(len, 0);
    if read_full(&mut file, &mut header[PREAMBLE..])? < len - PREAMBLE {
        return Err(bad("cut inside its header"));
    }
    let (body, checksum) = header.split_at(len - 8);
    if Fields(checksum).u64() != Some(crc64::checksum(body)) {
        return Err(bad("a damaged header (its CRC-64)"));
    }
    let data_len = file.metadata()?.len() - len as u64;
    parse_header(Fields(&body[PREAMBLE..]), len as u64, data_len)
        .ok_or_else(|| bad("a damaged header"))
}

/// The fields after the preamble of a header whose checksum is right.
fn parse_header(mut fields: Fields<'_>, len: u64, data_len: u64) -> Option<Header> {
    let start = fields.u64()?;
    let start_crc = fields.u64()?;
    let bucket = fields.text()?;
    let key = fields.text()?;
    let mut create = Vec::new();
    for _ in 0..fields.u32()? {
        create.push((fields.text()?, fields.text()?));
    }
    fields.0.is_empty().then_some(Header {
        start,
        start_crc,
        bucket,
        key,
        create,
        len,
        data_len,
    })
}

/// A header's fields, read from the front.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (now, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(now)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn text(&mut self) -> Option<String> {
        let len = self.u32()? as usize;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
}

/// Appends a header's text field: its length, then its UTF-8.
fn put_text(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// Reads into `buf` until it is full or the file ends; how many bytes came.
fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// CRC-64 of `len` bytes at `offset` in the file at `path`, read a chunk at a time.
fn checksum_file(path: &Path, offset: u64, len: u64) -> io::Result<u64> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut crc = Crc64::new();
    let mut buf = vec![0; READ_CHUNK];
    let mut left = len;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = read_full(&mut file, &mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{left} spooled bytes missing"),
            ));
        }
        crc.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(crc.value())
}

/// Locks the stream's lock file, refusing with [`ErrorKind::SpoolInUse`] while another
/// handle holds it. `flock` (std's `File::try_lock`) locks an open file, so a second
/// appender of this process is refused as another process's is.
fn lock(dir: &Path, stream: &str, object: &str) -> Result<(File, PathBuf)> {
    let path = dir.join(format!("{stream}{LOCK}"));
    let failed = |what: &str, e| io_error(format!("{what} the spool lock {}", path.display()), e);
    loop {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| failed("making", e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(Error::new(
                    ErrorKind::SpoolInUse,
                    format!(
                        "the spool of {object} in {} is in use by another appender, of this \
                         process or another ({} is locked)",
                        dir.display(),
                        path.display()
                    ),
                ))
            }
            Err(TryLockError::Error(e)) => return Err(failed("locking", e)),
        }
        // An owner that closed cleanly removes the lock file before letting it go; one
        // opened before that removal is locked by no one else: open the new one.
        if still_named(&file, &path).map_err(|e| failed("reading", e))? {
            return Ok((file, path));
        }
    }
}

/// Whether `path` still names `file`.
#[cfg(unix)]
fn still_named(file: &File, path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let held = file.metadata()?;
    match fs::metadata(path) {
        Ok(named) => Ok((held.dev(), held.ino()) == (named.dev(), named.ino())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether `path` still names `file`: elsewhere a file that is open is not removed.
#[cfg(not(unix))]
fn still_named(_: &File, _: &Path) -> io::Result<bool> {
    Ok(true)
}

/// Makes the creation or renaming of a file in `dir` durable: on Linux only an fsync of the
/// directory does.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Elsewhere (NTFS journals its metadata) a directory is not opened as a file.
#[cfg(not(unix))]
fn sync_dir(_: &Path) -> io::Result<()> {
    Ok(())
}
