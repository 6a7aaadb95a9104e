//! The disk spool of a buffered appender ([`crate::SpoolOptions`]): the bytes written and not
//! yet stored, kept in files so that no crash of the process loses one that a write
//! acknowledged, and the next open of the object (or [`crate::drain_spool`]) uploads them.
//!
//! An object's spool is a run of segment files in the spool directory, each a header and
//! then raw bytes, named `<stream>-<start>.seg`: `<stream>` is 32 hex digits of SHA-256 of
//! bucket and key, so one directory holds many objects' spools; `<start>` is 16 hex digits
//! of the object position of the segment's first byte, so names sort in the object's order.
//! Writes go to the last segment, and a new one starts once it holds a request's worth (or
//! a write does not fit), so the upload thread reads one request from disk at a time and a
//! segment whose bytes the server has all confirmed can be deleted. The last segment is
//! mapped shared: a write is a copy into the page cache and then a store of the committed
//! length, no system call, and survives the process at once. Its file is given blocks
//! ahead (`fallocate`, a MiB at a time), so a full disk fails a write that takes nothing,
//! never a page fault; pages written are let go of from memory as the file grows, and a
//! finished segment is unmapped and cut to its data. `<stream>.lock`, locked by the owner, gives one
//! owner at a time.
//!
//! Header, little-endian: magic `OSSSPOOL`, format version (u32), header length (u32), the
//! start position and the object's CRC-64 up to it (u64 each), bucket and key (u32 length
//! and UTF-8 each), the create parameters as the headers of the append that makes the
//! object (a u32 count of name and value texts; only a segment at 0 has any), the boot id
//! of the boot that made it (text), and a CRC-64 of all that (u64). Then, 8-aligned, two
//! u64 words outside the checksum: the committed length (how many data bytes are whole
//! writes, stored after each write's copy) and the synced length (how many are on disk:
//! stored after an `fdatasync` with a sync policy, with each write under `None`); then the
//! data. A read in the boot that wrote the segment takes the committed length, a read after
//! a reboot the synced one (the committed word may reach the disk before its bytes); bytes
//! past it, such as a write a crash cut, are not the spool's. Version 1 (no words, the
//! data the rest of the file) is another version: set aside.
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
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use rustix::mm::{self, MapFlags, ProtFlags};

const MAGIC: &[u8; 8] = b"OSSSPOOL";
/// 2: the data follows two length words that say how much of it is the spool's (1: the data
/// was the rest of the file).
const VERSION: u32 = 2;
/// Magic, version and header length: what a header is known by before its length is.
const PREAMBLE: usize = 16;
/// The shortest header: preamble, start and CRC, empty bucket, key, parameters and boot,
/// checksum.
const MIN_HEADER: usize = PREAMBLE + 16 + 16 + 8;
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
    /// The last segment, mapped for writing; none after an open (a recovered segment takes
    /// no writes: new ones start a segment of their own).
    writer: Option<Writer>,
    /// Segments finished under the interval policy and not yet synced, by start: the upload
    /// thread's next sync covers them, then unmaps them and cuts them to their data (the
    /// writer never waits for that disk).
    closing: Vec<(u64, Writer, u64)>,
    /// A stored segment's file kept for the next segment: its pages are in memory already,
    /// where a new file's must each be allocated and zeroed, and a deleted one's freed.
    spare: Spare,
    /// Where the spare is: a temporary's name, which an open removes.
    spare_path: PathBuf,
    /// Where the spool ends, and the object's CRC-64 up to there (fed a write at a time).
    end: u64,
    end_crc: StagedCrc,
    /// When the last `fdatasync` was, and whether a write came since (`Interval`).
    synced_at: Instant,
    unsynced: bool,
    /// Where the bytes known to be on disk end (the interval policy sends no byte past it).
    synced_end: u64,
    /// Held while this spool is owned: the lock goes with the file.
    _lock: File,
    lock_path: PathBuf,
}

struct Segment {
    start: u64,
    /// The object's CRC-64 up to `start`.
    start_crc: u64,
    path: PathBuf,
    /// Where its data starts: after the header and the two length words.
    data_offset: u64,
    /// Bytes of data (its committed length, see [`read_header`]).
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
    /// The boot (Linux's boot id) in which the segment was made.
    boot: String,
    /// Where the data starts, and how much of it is the spool's.
    data_offset: u64,
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
        let spare_path = dir.join(format!("{stream}-spare{TEMPORARY}"));
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
            closing: Vec::new(),
            spare: Spare::Absent,
            spare_path,
            end: 0,
            end_crc: StagedCrc::resume(0),
            synced_at: Instant::now(),
            unsynced: false,
            synced_end: 0,
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
                data_offset: header.data_offset,
                len: header.data_len,
                path,
            });
        }
        bad.extend(self.check_chain()?);
        if !bad.is_empty() {
            return Err(set_aside(bad, &self.object));
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
            let data = checksum_file(&segment.path, segment.data_offset, segment.len)
                .map_err(|e| io_error(format!("reading {}", segment.path.display()), e))?;
            ends.push((
                segment.end(),
                crc64::combine(segment.start_crc, data, segment.len),
            ));
        }
        if let Some(&(end, crc)) = ends.last() {
            (self.end, self.end_crc) = (end, StagedCrc::resume(crc));
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
            (self.end, self.end_crc) = (object.0, StagedCrc::resume(object.1));
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
            return Err(self.conflict(&what, object, (self.end, self.end_crc.value())));
        }
        let expected = self.crc_at(length)?;
        if crc != expected {
            return Err(self.conflict(&what, object, (length, expected)));
        }
        let spare = self.discard_to(length).put_away();
        if let Some(made) = spare {
            self.spare_made(made);
        }
        Ok(object)
    }

    fn conflict(&self, what: &str, found: (u64, u64), ours: (u64, u64)) -> Error {
        let (start, start_crc) = self
            .segments
            .front()
            .map_or((self.end, self.end_crc.value()), |s| (s.start, s.start_crc));
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
        let data = checksum_file(&segment.path, segment.data_offset, len)
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
    /// A write never splits over segments: one that does not fit in the last segment starts
    /// a new one (a request's worth, or the write's size if larger). The bytes are copied
    /// into the segment's mapping, then its committed length moves past them, so a crash at
    /// any moment leaves the write there whole or not at all; a write that fails is taken
    /// back by leaving the committed length where it was.
    pub(crate) fn append(&mut self, data: &[u8]) -> Result<()> {
        let len = data.len() as u64;
        let fits = match (&self.writer, self.segments.back()) {
            (Some(writer), Some(last)) => {
                last.len < self.segment_size && last.len + len <= writer.capacity
            }
            _ => false,
        };
        if !fits {
            self.start_segment(len)?;
        }
        let (Some(writer), Some(segment)) = (&mut self.writer, self.segments.back_mut()) else {
            unreachable!("a segment was just started");
        };
        let (from, to) = (segment.len, segment.len + len);
        let written = writer.reserve(from, to).and_then(|()| {
            writer.copy(from, data);
            match self.sync {
                SpoolSync::EveryWrite => {
                    writer.commit(to, false);
                    writer.sync(to)
                }
                // Synced by the upload thread, which the writer never waits for.
                SpoolSync::Interval(_) => {
                    writer.commit(to, false);
                    self.unsynced = true;
                    Ok(())
                }
                // Nothing is synced, so what the system writes back is taken after a
                // reboot too (see `read_header`).
                SpoolSync::None => {
                    writer.commit(to, true);
                    Ok(())
                }
            }
        });
        if let Err(e) = written {
            // Not acknowledged, so not kept: a write made again must not find part of it
            // stored already.
            writer.take_back(from);
            return Err(io_error(
                format!(
                    "spooling {} bytes to {} (the write was not taken)",
                    data.len(),
                    segment.path.display()
                ),
                e,
            ));
        }
        segment.len = to;
        self.end += len;
        self.end_crc.update(data);
        Ok(())
    }

    /// Starts a segment at the spool's end, with room for `first` bytes at least: written
    /// under a temporary name and renamed once whole (both synced unless the policy is
    /// [`SpoolSync::None`]). The segment before is unmapped and cut to its data, once
    /// synced under the interval policy (by the upload thread's next sync, see `closing`).
    fn start_segment(&mut self, first: u64) -> Result<()> {
        let syncs = self.sync != SpoolSync::None;
        if let (Some(mut writer), Some(last)) = (self.writer.take(), self.segments.back()) {
            if matches!(self.sync, SpoolSync::Interval(_)) && writer.synced < last.len {
                // For the upload thread's next sync, which needs its synced-length word
                // (mapped still); its data pages need no mapping, and the sync no TLB
                // flush for each.
                writer.release_to(last.len);
                self.closing.push((last.start, writer, last.len));
            } else {
                writer.finish(last.len);
            }
        }
        let start = self.end;
        let name = format!("{}-{start:0START_DIGITS$x}", self.stream);
        let path = self.dir.join(format!("{name}{SEGMENT}"));
        let temporary = self.dir.join(format!("{name}{TEMPORARY}"));
        let mut prefix = self.header()?;
        // The two length words (committed, synced), at 0, after the header's padding.
        let data_offset = words_at(prefix.len() as u64) + WORDS;
        prefix.resize(data_offset as usize, 0);
        let capacity = self.segment_size.max(first);
        // The spare's bytes past the new header stay, uncounted: its lengths say 0.
        let temporary = match std::mem::replace(&mut self.spare, Spare::Absent) {
            Spare::Ready => self.spare_path.clone(),
            _ => temporary,
        };
        let made = (|| {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(temporary != self.spare_path)
                .open(&temporary)?;
            file.write_all(&prefix)?;
            let writer = Writer::new(file, data_offset, capacity)?;
            if syncs {
                writer.file.sync_data()?;
            }
            fs::rename(&temporary, &path)?;
            if syncs {
                sync_dir(&self.dir)?;
            }
            Ok(writer)
        })();
        let writer = made.map_err(|e| {
            let _ = fs::remove_file(&temporary);
            io_error(format!("making the spool file {}", path.display()), e)
        })?;
        self.segments.push_back(Segment {
            start,
            start_crc: self.end_crc.value(),
            path,
            data_offset,
            len: 0,
        });
        self.writer = Some(writer);
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
        out.extend_from_slice(&self.end_crc.value().to_le_bytes());
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
        put_text(&mut out, boot_id());
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

    /// Starts the interval policy's sync of what is not synced yet, for the upload thread to
    /// run without the spool's lock ([`SyncJob::run`], so writes never wait on the disk)
    /// and end with [`Spool::synced`]. `None`: everything is on disk.
    pub(crate) fn begin_sync(&mut self) -> Option<SyncJob> {
        if !self.unsynced {
            self.synced_end = self.end;
            return None;
        }
        self.unsynced = false;
        self.synced_at = Instant::now();
        let mut files: Vec<_> = self
            .closing
            .iter()
            .map(|(start, writer, len)| (writer.file.clone(), *start, *len))
            .collect();
        if let (Some(writer), Some(segment)) = (&self.writer, self.segments.back()) {
            files.push((writer.file.clone(), segment.start, segment.len));
        }
        Some(SyncJob {
            files,
            end: self.end,
        })
    }

    /// Goes on with a sync begun by [`Spool::begin_sync`] once its data `ran` to disk (or
    /// not): the synced length then counts it, and a second run of the job puts that on
    /// disk, which [`Spool::sync_ended`] hears of.
    pub(crate) fn data_synced(&mut self, job: &SyncJob, ran: io::Result<()>) -> Result<()> {
        self.check_synced(ran)?;
        let current = self.segments.back().map(|s| s.start);
        for &(_, start, len) in &job.files {
            let writer = match self.closing.iter_mut().find(|(s, ..)| *s == start) {
                Some((_, writer, _)) => Some(writer),
                None => self.writer.as_mut().filter(|_| current == Some(start)),
            };
            if let Some(writer) = writer.filter(|w| w.synced < len) {
                writer.mark_synced(len);
            }
        }
        Ok(())
    }

    /// Ends a sync whose synced length `ran` to disk: its bytes may be sent from now on.
    pub(crate) fn sync_ended(&mut self, job: &SyncJob, ran: io::Result<()>) -> Result<()> {
        self.check_synced(ran)?;
        // The finished segments it covered are done with: unmapped, cut to their data.
        let covered = |start: u64| job.files.iter().any(|f| f.1 == start);
        for (start, writer, len) in std::mem::take(&mut self.closing) {
            if covered(start) && writer.synced == len {
                writer.finish(len);
            } else {
                self.closing.push((start, writer, len));
            }
        }
        self.synced_end = self.synced_end.max(job.end);
        Ok(())
    }

    fn check_synced(&mut self, ran: io::Result<()>) -> Result<()> {
        ran.map_err(|e| {
            self.unsynced = true;
            io_error(format!("syncing the spool of {}", self.object), e)
        })
    }

    /// Where the bytes that may be sent end: under the interval policy, those on disk (a
    /// power cut could otherwise leave the object longer than its spool, which the next
    /// open could only take for another writer's change); else all of them.
    pub(crate) fn sendable_end(&self) -> u64 {
        match self.sync {
            SpoolSync::Interval(_) => self.synced_end,
            _ => self.end,
        }
    }

    /// Lets go of the segments whose bytes are all stored (the object is `position` long),
    /// but for a last one that still takes writes, and returns their files for the caller
    /// to delete with no lock held (unlinking a file of many pages takes a while). A file
    /// left undeleted (a crash first, an error) holds bytes the object has, which a later
    /// open sees as such.
    pub(crate) fn discard_to(&mut self, position: u64) -> Stored {
        let mut done = Stored::default();
        while let Some(first) = self.segments.front() {
            let last = self.segments.len() == 1;
            let stored = match self.segments.get(1) {
                Some(next) => next.start <= position,
                None => {
                    first.end() <= position
                        && (self.writer.is_none() || first.len >= self.segment_size)
                }
            };
            if !stored {
                break;
            }
            let Some(segment) = self.segments.pop_front() else {
                break;
            };
            if last {
                self.writer = None;
            }
            // Never one a finished writer still holds (it cuts its file to its length).
            let held = self.closing.iter().any(|c| c.0 == segment.start);
            if self.spare == Spare::Absent && !held {
                self.spare = Spare::Coming;
                done.recycle = Some((segment.path, self.spare_path.clone()));
            } else {
                done.delete.push(segment.path);
            }
        }
        done
    }

    /// Hears whether the file [`Stored::put_away`] was to keep became the spare.
    pub(crate) fn spare_made(&mut self, made: bool) {
        if self.spare == Spare::Coming {
            self.spare = if made { Spare::Ready } else { Spare::Absent };
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
                offset: segment.data_offset + (at - segment.start),
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
        self.closing.clear();
        if self.spare != Spare::Absent {
            let _ = fs::remove_file(&self.spare_path);
            self.spare = Spare::Absent;
        }
        // Still held until this spool is dropped; a new owner makes a new one.
        let _ = fs::remove_file(&self.lock_path);
    }
}

/// Reads the spooled bytes `pieces` locate into `out`, which they must fill exactly.
pub(crate) fn read(pieces: &[Piece], out: &mut [u8]) -> Result<()> {
    let located = pieces
        .iter()
        .try_fold(0usize, |sum, piece| sum.checked_add(piece.len));
    if located != Some(out.len()) {
        return Err(Error::new(
            ErrorKind::SpoolIo,
            format!(
                "the spool holds {} of the {} bytes to read (it lost bytes it had taken)",
                located.map_or_else(|| "more than".into(), |n| n.to_string()),
                out.len()
            ),
        ));
    }
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
    let mut header = parse_header(Fields(&body[PREAMBLE..]), len as u64)
        .ok_or_else(|| bad("a damaged header"))?;
    let mut words = [0; WORDS as usize];
    file.seek(SeekFrom::Start(words_at(len as u64)))?;
    if read_full(&mut file, &mut words)? < words.len() {
        return Err(bad("cut inside its header (its length words)"));
    }
    let mut words = Fields(&words);
    let (Some(committed), Some(synced)) = (words.u64(), words.u64()) else {
        unreachable!("the words were read whole");
    };
    // In the boot that wrote it, the file is as the writer left it (the page cache outlives
    // the process): the committed length holds. After a reboot the length word may have
    // reached the disk before the bytes it counts; the synced length was stored only once
    // they were on disk.
    let same_boot = !header.boot.is_empty() && header.boot == boot_id();
    let counted = if same_boot { committed } else { synced };
    // A file cut short (by hand, or a file system that lost its end) holds what it holds.
    let held = file.metadata()?.len().saturating_sub(header.data_offset);
    header.data_len = counted.min(held);
    Ok(header)
}

/// The fields after the preamble of a header whose checksum is right.
fn parse_header(mut fields: Fields<'_>, len: u64) -> Option<Header> {
    let start = fields.u64()?;
    let start_crc = fields.u64()?;
    let bucket = fields.text()?;
    let key = fields.text()?;
    let mut create = Vec::new();
    for _ in 0..fields.u32()? {
        create.push((fields.text()?, fields.text()?));
    }
    let boot = fields.text()?;
    fields.0.is_empty().then_some(Header {
        start,
        start_crc,
        bucket,
        key,
        create,
        boot,
        data_offset: words_at(len) + WORDS,
        data_len: 0,
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

/// The two length words after a header of `header_len` bytes are at this offset (8-aligned).
fn words_at(header_len: u64) -> u64 {
    header_len.next_multiple_of(8)
}

/// The committed length (u64) and the synced length (u64).
const WORDS: u64 = 16;
/// A segment's file grows this much at a time (its last step to the segment's size).
const GROW: u64 = 1 << 20;
/// The pages a writer maps in ahead of its writes, a call at a time, and those it has
/// written that it lets go of at once (each call flushes the TLBs of every CPU the process
/// runs on). A sync's writeback write-protects each mapped dirty page, with a TLB flush of
/// its own: few stay mapped.
const AHEAD: u64 = 256 << 10;
const BEHIND: u64 = 1 << 20;

/// This boot's id (empty where unknown: every segment is then read as from another boot).
fn boot_id() -> &'static str {
    static BOOT: OnceLock<String> = OnceLock::new();
    BOOT.get_or_init(|| {
        fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|id| id.trim().to_string())
            .unwrap_or_default()
    })
}

/// The CRC-64 of the spool's bytes, fed writes of any size but computed a few KiB at a
/// time: a write of a log line is then a copy here, and the checksum takes the fast path
/// of long inputs.
#[derive(Clone)]
struct StagedCrc {
    crc: Crc64,
    staged: Vec<u8>,
}

impl StagedCrc {
    const STAGE: usize = 4 << 10;

    fn resume(crc: u64) -> StagedCrc {
        StagedCrc {
            crc: Crc64::resume(crc),
            staged: Vec::new(),
        }
    }

    fn update(&mut self, data: &[u8]) {
        if self.staged.len() + data.len() > Self::STAGE {
            self.crc.update(&self.staged);
            self.staged.clear();
            if data.len() > Self::STAGE {
                self.crc.update(data);
                return;
            }
        }
        if self.staged.capacity() == 0 {
            // At most STAGE bytes: a size of our own, never a caller's.
            self.staged.reserve_exact(Self::STAGE);
        }
        self.staged.extend_from_slice(data);
    }

    fn value(&self) -> u64 {
        let mut crc = self.crc.clone();
        crc.update(&self.staged);
        crc.value()
    }
}

/// Whether a spool has a [`Spool::spare`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Spare {
    Absent,
    /// Being renamed into place, with no lock held.
    Coming,
    Ready,
}

/// Segment files whose bytes are all stored, to put away with no lock held (unlinking a
/// file of many pages takes a while).
#[derive(Default)]
pub(crate) struct Stored {
    delete: Vec<PathBuf>,
    /// The one to become the spare (from, to) instead.
    recycle: Option<(PathBuf, PathBuf)>,
}

impl Stored {
    pub(crate) fn is_empty(&self) -> bool {
        self.delete.is_empty() && self.recycle.is_none()
    }

    /// Deletes the files, but the one renamed to be the spare; whether it was, for
    /// [`Spool::spare_made`] (`None`: none was to be).
    pub(crate) fn put_away(self) -> Option<bool> {
        for path in self.delete {
            let _ = fs::remove_file(path);
        }
        self.recycle.map(|(from, to)| {
            let made = fs::rename(&from, to).is_ok();
            if !made {
                let _ = fs::remove_file(from);
            }
            made
        })
    }
}

/// A sync of the last segment's data, run without the spool's lock (see
/// [`Spool::begin_sync`]): its file, and what it covers.
pub(crate) struct SyncJob {
    /// The segments' files, with each one's start and length when the sync began.
    files: Vec<(Arc<File>, u64, u64)>,
    /// The spool's end then.
    end: u64,
}

impl SyncJob {
    pub(crate) fn run(&self) -> io::Result<()> {
        self.files
            .iter()
            .try_for_each(|(file, ..)| file.sync_data())
    }
}

/// The last segment, taking writes through a shared mapping of its file: a write is a copy
/// into the page cache, no system call, and outlives the process the moment it is made.
struct Writer {
    /// Shared with a sync the upload thread runs without the spool's lock.
    file: Arc<File>,
    map: Map,
    data_offset: u64,
    /// Data bytes the mapping holds: the segment's size.
    capacity: u64,
    /// Data bytes the file has blocks for. The mapping is never written past them: the file
    /// ends there, and a page past a file's end is SIGBUS; space is taken (or refused, disk
    /// full) by `fallocate` before a write, never by a page fault.
    allocated: u64,
    /// Data bytes before this were let go of from this process's memory.
    released: u64,
    /// Data bytes before this were mapped in ahead of the writes.
    mapped: u64,
    /// What the synced length word says.
    synced: u64,
}

impl Writer {
    /// Maps the segment file whose first `data_offset` bytes (header, length words) are
    /// written, with room for `capacity` data bytes.
    fn new(file: File, data_offset: u64, capacity: u64) -> io::Result<Writer> {
        let len = data_offset
            .checked_add(capacity)
            .and_then(|len| usize::try_from(len).ok())
            .ok_or_else(|| io::Error::other("a segment larger than the address space"))?;
        let map = Map::new(&file, len)?;
        Ok(Writer {
            file: Arc::new(file),
            map,
            data_offset,
            capacity,
            allocated: 0,
            released: 0,
            mapped: 0,
            synced: 0,
        })
    }

    /// Makes room in the file for data up to `to` (the data ends at `from`): a step of
    /// [`GROW`] at a time, or just what is needed when a step does not fit. Past the
    /// pages mapped ahead, the next [`AHEAD`] is mapped in, and once [`BEHIND`] were
    /// written the pages before `from` are let go of: memory stays the two's worth.
    fn reserve(&mut self, from: u64, to: u64) -> io::Result<()> {
        if to > self.allocated {
            let step = to.max(self.allocated + GROW).min(self.capacity);
            let at = self.data_offset + self.allocated;
            if preallocate(&self.file, at, step - self.allocated).is_err() {
                preallocate(&self.file, at, to - self.allocated)?;
                self.allocated = to;
            } else {
                self.allocated = step;
            }
        }
        if to > self.mapped {
            // Mapped in one call rather than one fault a page (a fault every 41 log lines
            // was a writer's slowest step).
            let end = to.max(self.mapped + AHEAD).min(self.allocated);
            let offset = |at: u64| (self.data_offset + at) as usize;
            self.map.populate(offset(self.mapped), offset(end));
            self.mapped = end;
            if from - self.released >= BEHIND {
                self.release_to(from);
            }
        }
        Ok(())
    }

    /// Lets go of the pages written before data offset `to`.
    fn release_to(&mut self, to: u64) {
        let offset = |at: u64| (self.data_offset + at) as usize;
        self.map.release(offset(self.released), offset(to));
        self.released = to;
    }

    /// Copies `data` to data offset `at`, within what is reserved.
    fn copy(&mut self, at: u64, data: &[u8]) {
        assert!(
            at + data.len() as u64 <= self.allocated,
            "a copy past the reserved"
        );
        self.map.write((self.data_offset + at) as usize, data);
    }

    /// Says the data is `len` long (and, with `synced`, that it is synced that far).
    fn commit(&mut self, len: u64, synced: bool) {
        self.map.store((self.data_offset - WORDS) as usize, len);
        if synced {
            self.map.store((self.data_offset - WORDS / 2) as usize, len);
            self.synced = len;
        }
    }

    /// Takes back a write after `len`: the lengths say `len` at most again.
    fn take_back(&mut self, len: u64) {
        self.commit(len, self.synced > len);
    }

    /// Syncs the data up to `len` (committed), then the synced length that says so: the
    /// synced length on disk never counts bytes that are not.
    fn sync(&mut self, len: u64) -> io::Result<()> {
        self.file.sync_data()?;
        self.mark_synced(len);
        self.file.sync_data()
    }

    /// Says the data is synced up to `len` (which the next sync puts on disk).
    fn mark_synced(&mut self, len: u64) {
        self.map.store((self.data_offset - WORDS / 2) as usize, len);
        self.synced = len;
    }

    /// Unmaps a segment that takes no more writes, and cuts the room it did not use.
    fn finish(self, len: u64) {
        let Writer { file, map, .. } = self;
        drop(map);
        let _ = file.set_len(self.data_offset + len);
    }
}

/// A file mapped shared, read and write, of which this process holds the only mapping.
/// No Rust reference is ever made into it: bytes go in by copies, words by atomic stores.
struct Map {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a Map is a mapping its owner alone writes (the spool, behind the buffered
// appender's mutex); nothing in it is tied to the thread that made it.
unsafe impl Send for Map {}

impl Map {
    fn new(file: &File, len: usize) -> io::Result<Map> {
        let (prot, flags) = (ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED);
        // SAFETY: a new mapping at an address the kernel picks, so it replaces nothing; the
        // file is open for reading and writing.
        let ptr = unsafe { mm::mmap(std::ptr::null_mut(), len, prot, flags, file, 0) }?;
        let ptr = NonNull::new(ptr.cast()).ok_or_else(|| io::Error::other("mmap gave NULL"))?;
        Ok(Map { ptr, len })
    }

    fn write(&mut self, at: usize, data: &[u8]) {
        assert!(at
            .checked_add(data.len())
            .is_some_and(|end| end <= self.len));
        // SAFETY: the range is inside the mapping (checked above), which no reference
        // points into, so `data` cannot overlap it.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(at), data.len())
        }
    }

    /// Stores `value` (little-endian) in the 8-byte word at `at`, with release ordering: a
    /// length stored after a copy counts bytes that are there.
    fn store(&self, at: usize, value: u64) {
        assert!(at.is_multiple_of(8) && at + 8 <= self.len);
        // SAFETY: inside the mapping and 8-aligned (checked above; a mapping starts on a
        // page), and the word is only ever accessed atomically while mapped.
        let word = unsafe { AtomicU64::from_ptr(self.ptr.as_ptr().add(at).cast()) };
        word.store(value.to_le(), Ordering::Release);
    }

    /// Maps the pages between `from` and `to` in ahead of the writes to them. An error (a
    /// kernel without MADV_POPULATE_WRITE) leaves them to be faulted in as written.
    fn populate(&mut self, from: usize, to: usize) {
        let page = rustix::param::page_size();
        let (from, to) = (from / page * page, to.min(self.len));
        if from >= to {
            return;
        }
        // SAFETY: a range inside the mapping, whose file has blocks for it (reserved just
        // before); populating writes nothing to it.
        let _ = unsafe {
            mm::madvise(
                self.ptr.as_ptr().add(from).cast(),
                to - from,
                mm::Advice::LinuxPopulateWrite,
            )
        };
    }

    /// Lets go of the whole pages between `from` and `to` from this process's memory: their
    /// bytes stay in the file (the page cache writes them back as before).
    fn release(&mut self, from: usize, to: usize) {
        let page = rustix::param::page_size();
        let (from, to) = (from.next_multiple_of(page), to / page * page);
        if from >= to || to > self.len {
            return;
        }
        // SAFETY: whole pages inside the mapping; for a shared file mapping DONTNEED only
        // unmaps them (dirty ones stay dirty in the page cache), and a later access maps
        // them again. An error leaves them mapped, which costs memory only.
        let _ = unsafe {
            mm::madvise(
                self.ptr.as_ptr().add(from).cast(),
                to - from,
                mm::Advice::LinuxDontNeed,
            )
        };
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: the mapping this Map made, unmapped once, with nothing pointing into it.
        let _ = unsafe { mm::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// Gives `file` blocks for `len` bytes at `offset` (and that size), or fails (a full disk,
/// a file size limit) taking none.
fn preallocate(file: &File, offset: u64, len: u64) -> io::Result<()> {
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), offset, len) {
        Err(rustix::io::Errno::OPNOTSUPP) => {}
        done => return done.map_err(io::Error::from),
    }
    // A file system that cannot allocate ahead: zeros written take the blocks as well.
    use std::os::unix::fs::FileExt;
    let zeros = vec![0; READ_CHUNK];
    let mut at = offset;
    while at < offset + len {
        let n = zeros.len().min((offset + len - at) as usize);
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_refuses_pieces_that_do_not_fill_the_buffer() {
        let path = std::env::temp_dir().join(format!("oss-append-read-{}", std::process::id()));
        fs::write(&path, b"0123456789").unwrap();
        let piece = |offset, len| Piece {
            path: path.clone(),
            offset,
            len,
        };
        let mut out = [0; 6];
        read(&[piece(0, 2), piece(4, 4)], &mut out).unwrap();
        assert_eq!(&out, b"014567");
        for pieces in [vec![piece(0, 4)], vec![piece(0, 4), piece(0, 4)], vec![]] {
            let mut out = [7; 6];
            let error = read(&pieces, &mut out).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::SpoolIo, "{error}");
            assert_eq!(out, [7; 6], "nothing read");
        }
        fs::remove_file(&path).unwrap();
    }
}
