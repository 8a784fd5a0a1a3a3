//! Start-up: find the files of `--persistence.file`, check every frame of them, import a
//! Pushgateway file, keep copies of damaged files, then replay.
//!
//! Recovery reads twice. [`open`] checks everything (checksums, sequence numbers, that each
//! record decodes) and so knows, before the store sees a single op, exactly which prefix of
//! which file is good; [`Recovery::replay`] then streams that prefix into the store. Both
//! passes hold one record in memory at a time.

use super::frame::{Bad, FileHeader, FileKind, Frames, HeaderError, Next, FILE_HEADER};
use super::gob::{self, GobError};
use super::wal::{create_segment, FileJournal};
use super::{fsync_dir, upstream, Paths};
use crate::op::{DecodeError, Op};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::time::{SystemTime, UNIX_EPOCH};

/// Why persistence could not start. Each names the file concerned; the caller adds the flag.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A file operation failed.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done (`"open"`, `"read"`, `"create"`, ...).
        op: &'static str,
        /// The error.
        source: io::Error,
    },
    /// The file is neither nodegate's nor a Pushgateway's persistence file.
    Foreign {
        /// The file.
        path: PathBuf,
    },
    /// A nodegate persistence file of a format version this build cannot read.
    Version {
        /// The file.
        path: PathBuf,
        /// Its version.
        version: u32,
    },
    /// A Pushgateway persistence file that could not be read; it is left as it was.
    Upstream {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        error: GobError,
    },
    /// Log segments sit next to a Pushgateway file: a state this build never leaves behind.
    Mixed {
        /// The Pushgateway file.
        path: PathBuf,
        /// A segment with records.
        segment: PathBuf,
    },
    /// A file changed between the check and the replay.
    Changed {
        /// The file.
        path: PathBuf,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, op, source } => write!(f, "{}: {op}: {source}", path.display()),
            Error::Foreign { path } => write!(
                f,
                "{}: not a nodegate or Pushgateway persistence file; refusing to overwrite it",
                path.display()
            ),
            Error::Version { path, version } => write!(
                f,
                "{}: nodegate persistence format version {version} is not supported by this build",
                path.display()
            ),
            Error::Upstream { path, error } => write!(
                f,
                "{}: looks like a Pushgateway persistence file but cannot be read ({error}); \
                 it was left untouched",
                path.display()
            ),
            Error::Mixed { path, segment } => write!(
                f,
                "{}: a Pushgateway persistence file, but the nodegate log {} holds records; \
                 move one of them away",
                path.display(),
                segment.display()
            ),
            Error::Changed { path } => {
                write!(f, "{}: changed while it was being recovered", path.display())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Upstream { error, .. } => Some(error),
            _ => None,
        }
    }
}

fn io_err<'p>(path: &'p Path, op: &'static str) -> impl FnOnce(io::Error) -> Error + 'p {
    move |source| Error::Io { path: path.to_owned(), op, source }
}

/// What is wrong with a damaged file.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Reason {
    /// The file ends inside a frame (a write cut short).
    Truncated,
    /// A frame's checksum does not match.
    Checksum,
    /// A frame is intact but its sequence number is not the one expected: records are
    /// missing before it (from this file or an earlier one).
    Sequence {
        /// The number expected.
        expected: u64,
        /// The number found.
        found: u64,
    },
    /// The file's header is damaged; nothing in it can be trusted.
    Header,
    /// A frame is intact but its record does not decode.
    Record(DecodeError),
    /// A snapshot ends without its end frame.
    Unterminated,
    /// Bytes follow a snapshot's end frame.
    Trailing,
    /// The log segment of the snapshot's generation is missing; records may be lost.
    Missing,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Truncated => f.write_str("truncated record"),
            Reason::Checksum => f.write_str("checksum mismatch"),
            Reason::Sequence { expected, found } => {
                write!(f, "records missing: expected sequence number {expected}, found {found}")
            }
            Reason::Header => f.write_str("damaged file header"),
            Reason::Record(e) => write!(f, "undecodable record: {e}"),
            Reason::Unterminated => f.write_str("snapshot without its end marker"),
            Reason::Trailing => f.write_str("bytes after the snapshot's end marker"),
            Reason::Missing => f.write_str("log segment missing"),
        }
    }
}

/// One damaged file: what was recovered from it and what was not.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Damage {
    /// The file.
    pub file: PathBuf,
    /// Where the damage starts; the bytes before it were recovered.
    pub offset: u64,
    /// Bytes from `offset` to the end of the file, which were not replayed.
    pub dropped: u64,
    /// What is wrong.
    pub reason: Reason,
    /// Where the damaged file was kept (a hard link or copy), before anything could replace
    /// or remove it; `None` when there was nothing to keep or keeping it failed.
    pub kept_as: Option<PathBuf>,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} at byte {}, {} bytes not recovered",
            self.file.display(),
            self.reason,
            self.offset,
            self.dropped
        )?;
        if let Some(k) = &self.kept_as {
            write!(f, " (damaged file kept as {})", k.display())?;
        }
        Ok(())
    }
}

/// What recovery found.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Report {
    /// Ops in the snapshot.
    pub snapshot_ops: u64,
    /// Ops in the log segments after it.
    pub log_ops: u64,
    /// Damaged files: empty unless something went wrong. A torn last record of the newest
    /// segment (a crash during a commit, whose appends were never acknowledged) shows here
    /// too, as `Truncated` or `Checksum` at the end of that file.
    pub damage: Vec<Damage>,
    /// The Pushgateway file imported on this start, kept under this name.
    pub migrated_from: Option<PathBuf>,
}

/// A checked state waiting to be replayed; [`replay`](Recovery::replay) hands over the
/// journal, so nothing can be appended before the store holds the recovered state.
#[derive(Debug)]
pub struct Recovery {
    sources: Vec<Source>,
    report: Report,
    journal: FileJournal,
}

/// A checked file: replay its first `records` records.
#[derive(Debug)]
struct Source {
    path: PathBuf,
    records: u64,
    end: u64,
}

impl Recovery {
    /// What was found: counts, damage, migration.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Feeds every recovered op to `apply`, snapshot first then the log in order, and
    /// returns the journal to append to from now on.
    ///
    /// # Errors
    /// A file could not be read again, or no longer holds what [`open`] checked.
    pub fn replay(self, mut apply: impl FnMut(&Op<'_>)) -> Result<FileJournal, Error> {
        for src in &self.sources {
            let file = File::open(&src.path).map_err(io_err(&src.path, "open"))?;
            let mut frames = Frames::new(file, FILE_HEADER as u64, src.end)
                .map_err(io_err(&src.path, "read"))?;
            for _ in 0..src.records {
                match frames.next().map_err(io_err(&src.path, "read"))? {
                    Next::Record { record, .. } => match Op::decode(record) {
                        Ok(op) => apply(&op),
                        Err(_) => return Err(Error::Changed { path: src.path.clone() }),
                    },
                    _ => return Err(Error::Changed { path: src.path.clone() }),
                }
            }
        }
        Ok(self.journal)
    }
}

/// Opens `--persistence.file`: checks the snapshot and log segments beside it (importing a
/// Pushgateway file first if that is what it is), keeps copies of damaged files, logs each
/// damage at error level, and starts a fresh log segment for new appends.
///
/// Files: `<file>` (snapshot), `<file>.wal.<generation>` (log segments), `<file>.tmp` and
/// `<file>.wal.<generation>.tmp` (being written; removed here), `<file>.damaged-<time>`
/// (kept damage), `<file>.pushgateway-<time>` (an imported Pushgateway file).
///
/// # Errors
/// [`Error`]: the directory is missing or unwritable, the file is someone else's, or a
/// Pushgateway file cannot be read. Damage is not an error: it is in the [`Report`].
pub fn open(path: &Path) -> Result<Recovery, Error> {
    let paths = Paths::new(path);
    let fsyncs = AtomicU64::new(0);
    let _ = fs::remove_file(paths.snapshot_tmp());
    for (_, p) in paths.segment_tmps().map_err(io_err(&paths.dir, "list"))? {
        let _ = fs::remove_file(p);
    }
    let mut report = Report::default();
    if is_upstream(&paths.snapshot)? {
        report.migrated_from = Some(migrate(&paths)?);
    }

    let mut sources = Vec::new();
    let mut damage = Vec::new();
    let snap = check_snapshot(&paths.snapshot, &mut sources, &mut damage)?;
    report.snapshot_ops = sources.iter().map(|s| s.records).sum();

    let segments = paths.segments().map_err(io_err(&paths.dir, "list"))?;
    let base = snap.map_or(1, |h| h.generation);
    let mut expect = snap.map_or(1, |h| h.seq);
    let mut next_seq = expect;
    if snap.is_some() && !segments.iter().any(|&(g, _)| g == base) {
        damage.push(Damage {
            file: paths.segment(base),
            offset: 0,
            dropped: 0,
            reason: Reason::Missing,
            kept_as: None,
        });
    }
    for (g, seg) in segments.iter().filter(|&&(g, _)| g >= base) {
        let n = check_log(seg, *g, &mut expect, &mut sources, &mut damage)?;
        report.log_ops += n;
        next_seq = next_seq.max(expect);
    }

    for d in &mut damage {
        if d.reason != Reason::Missing {
            d.kept_as = keep_copy(&d.file);
        }
        log::error!(
            file:? = d.file, offset = d.offset, bytes_dropped = d.dropped, reason:% = d.reason,
            kept_as:? = d.kept_as;
            "persistence file damaged: recovering what precedes the damage"
        );
    }
    report.damage = damage;

    let generation = segments.last().map_or(0, |&(g, _)| g).max(base.saturating_sub(1)) + 1;
    let file = create_segment(&paths, generation, &fsyncs)
        .map_err(io_err(&paths.segment(generation), "create"))?;
    Ok(Recovery { sources, report, journal: FileJournal::new(paths, file, generation, next_seq) })
}

/// Whether `<file>` is a Pushgateway file; `Err` if it is nobody's.
fn is_upstream(path: &Path) -> Result<bool, Error> {
    let mut head = [0; FILE_HEADER];
    let n = match File::open(path) {
        Ok(f) => read_up_to(f, &mut head).map_err(io_err(path, "read"))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_err(path, "open")(e)),
    };
    match FileHeader::decode(&head[..n]) {
        Ok(_) | Err(HeaderError::Checksum) => Ok(false),
        Err(HeaderError::Version(version)) => {
            Err(Error::Version { path: path.to_owned(), version })
        }
        // A short file with our magic's first bytes: a crash cannot leave one (files are
        // renamed into place whole), so it is not ours either.
        Err(HeaderError::Short | HeaderError::Magic) if gob::looks_like_gob(&head[..n]) => Ok(true),
        Err(HeaderError::Short | HeaderError::Magic) => {
            Err(Error::Foreign { path: path.to_owned() })
        }
    }
}

fn read_up_to(mut f: File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Imports a Pushgateway file: keeps it under another name, then writes its state as
/// nodegate's snapshot in its place. Returns the name it is kept under.
///
/// Crash-safe: until the final rename `<file>` is still the Pushgateway file, and the next
/// start imports it again.
fn migrate(paths: &Paths) -> Result<PathBuf, Error> {
    let path = &paths.snapshot;
    let bytes = fs::read(path).map_err(io_err(path, "read"))?;
    let groups =
        gob::decode(&bytes).map_err(|error| Error::Upstream { path: path.clone(), error })?;
    let imported = upstream::import(&groups);

    // Segments can only be left over from an import that crashed, and then they are empty.
    let segments = paths.segments().map_err(io_err(&paths.dir, "list"))?;
    for (_, seg) in &segments {
        let len = fs::metadata(seg).map_err(io_err(seg, "stat"))?.len();
        if len > FILE_HEADER as u64 {
            return Err(Error::Mixed { path: path.clone(), segment: seg.clone() });
        }
    }
    for (_, seg) in &segments {
        fs::remove_file(seg).map_err(io_err(seg, "remove"))?;
    }

    let kept = keep_original(paths).map_err(io_err(path, "keep a copy of"))?;
    // A journal at generation 0 whose compaction creates segment 1, then renames the
    // snapshot over the Pushgateway file: the same crash-safe steps as any compaction.
    let journal = FileJournal::new(paths.clone(), stub(paths)?, 0, 1);
    journal
        .compact(|emit| imported.iter().for_each(|g| g.for_each_op(emit)))
        .map_err(io_err(path, "write"))?;
    let ops: usize = imported.iter().map(|g| g.ops.len()).sum();
    log::info!(
        file:? = path, groups = imported.len(), ops = ops, original_kept_as:? = kept;
        "imported the Pushgateway persistence file"
    );
    Ok(kept)
}

/// A handle standing in for segment 0 while importing: `compact` moves to segment 1 before
/// anything could be appended, and never writes to this one.
fn stub(paths: &Paths) -> Result<File, Error> {
    File::open(&paths.dir).map_err(io_err(&paths.dir, "open"))
}

/// Hard-links the Pushgateway file to `<file>.pushgateway-<time>` (copying if links are not
/// supported), unless a previous, interrupted import already did.
fn keep_original(paths: &Paths) -> io::Result<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(&paths.snapshot)?;
    for entry in fs::read_dir(&paths.dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if paths.is_named(&name, ".pushgateway-") {
            let m = entry.metadata()?;
            if m.ino() == meta.ino() && m.dev() == meta.dev() {
                return Ok(entry.path());
            }
        }
    }
    let kept = paths.with_suffix(&format!(".pushgateway-{}", unix_now()));
    link_or_copy(&paths.snapshot, &kept)?;
    fsync_dir(&paths.dir)?;
    Ok(kept)
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn link_or_copy(from: &Path, to: &Path) -> io::Result<()> {
    if fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    fs::copy(from, to)?;
    File::open(to)?.sync_all()
}

/// Keeps a damaged file's bytes as `<it>.damaged-<time>` before compaction may replace or
/// remove it. A hard link costs nothing and nobody writes to a recovered file again.
fn keep_copy(file: &Path) -> Option<PathBuf> {
    let mut name = file.as_os_str().to_owned();
    name.push(format!(".damaged-{}", unix_now()));
    let kept = PathBuf::from(name);
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    match link_or_copy(file, &kept).and_then(|()| fsync_dir(dir)) {
        Ok(()) => Some(kept),
        Err(e) => {
            log::error!(file:? = file, err:% = e; "could not keep a copy of the damaged file");
            None
        }
    }
}

/// Checks the snapshot, if there is one, and adds it to `sources`.
fn check_snapshot(
    path: &Path,
    sources: &mut Vec<Source>,
    damage: &mut Vec<Damage>,
) -> Result<Option<FileHeader>, Error> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path, "open")(e)),
    };
    let (header, len) = match header_of(&file, path)? {
        (Some(h), len) if h.kind == FileKind::Snapshot => (h, len),
        (_, len) => {
            // Ours (is_upstream said so) but unreadable: everything is damage, and with no
            // generation to go by, the logs are read from the first.
            damage.push(Damage {
                file: path.to_owned(),
                offset: 0,
                dropped: len,
                reason: Reason::Header,
                kept_as: None,
            });
            return Ok(None);
        }
    };
    let mut frames = Frames::new(file, FILE_HEADER as u64, len).map_err(io_err(path, "read"))?;
    let mut count = 0u64;
    let bad = loop {
        let at = frames.offset();
        match frames.next().map_err(io_err(path, "read"))? {
            Next::Record { seq, record } if record.is_empty() && seq == count => {
                break (frames.offset() < len).then_some((frames.offset(), Reason::Trailing));
            }
            Next::Record { seq, .. } if seq != count => {
                break Some((at, Reason::Sequence { expected: count, found: seq }))
            }
            Next::Record { record, .. } => match Op::decode(record) {
                Ok(_) => count += 1,
                Err(e) => break Some((at, Reason::Record(e))),
            },
            Next::End => break Some((at, Reason::Unterminated)),
            Next::Bad(b) => break Some((at, reason_of(b))),
        }
    };
    let end = match bad {
        Some((offset, reason)) => {
            damage.push(Damage {
                file: path.to_owned(),
                offset,
                dropped: len - offset,
                reason,
                kept_as: None,
            });
            offset
        }
        None => len,
    };
    sources.push(Source { path: path.to_owned(), records: count, end });
    Ok(Some(header))
}

/// Checks log segment `generation`; `expect` is the sequence number its first record should
/// have and becomes the one after its last. Returns how many records it contributes.
fn check_log(
    path: &Path,
    generation: u64,
    expect: &mut u64,
    sources: &mut Vec<Source>,
    damage: &mut Vec<Damage>,
) -> Result<u64, Error> {
    let file = File::open(path).map_err(io_err(path, "open"))?;
    let (header, len) = header_of(&file, path)?;
    if !matches!(header, Some(h) if h.kind == FileKind::Log && h.generation == generation) {
        damage.push(Damage {
            file: path.to_owned(),
            offset: 0,
            dropped: len,
            reason: Reason::Header,
            kept_as: None,
        });
        return Ok(0);
    }
    let mut frames = Frames::new(file, FILE_HEADER as u64, len).map_err(io_err(path, "read"))?;
    let mut count = 0u64;
    let bad = loop {
        let at = frames.offset();
        match frames.next().map_err(io_err(path, "read"))? {
            Next::Record { seq, record } => {
                if count == 0 && seq != *expect {
                    // Records before this file's first are gone, but this one and those after
                    // it are intact and newer: report the gap and replay them.
                    damage.push(Damage {
                        file: path.to_owned(),
                        offset: at,
                        dropped: 0,
                        reason: Reason::Sequence { expected: *expect, found: seq },
                        kept_as: None,
                    });
                    *expect = seq;
                }
                if seq != *expect {
                    break Some((at, Reason::Sequence { expected: *expect, found: seq }));
                }
                if let Err(e) = Op::decode(record) {
                    break Some((at, Reason::Record(e)));
                }
                count += 1;
                *expect += 1;
            }
            Next::End => break None,
            Next::Bad(b) => break Some((at, reason_of(b))),
        }
    };
    let end = match bad {
        Some((offset, reason)) => {
            damage.push(Damage {
                file: path.to_owned(),
                offset,
                dropped: len - offset,
                reason,
                kept_as: None,
            });
            offset
        }
        None => len,
    };
    sources.push(Source { path: path.to_owned(), records: count, end });
    Ok(count)
}

fn reason_of(b: Bad) -> Reason {
    match b {
        Bad::Truncated => Reason::Truncated,
        Bad::Checksum => Reason::Checksum,
    }
}

/// The file's header (`None` if damaged) and length.
fn header_of(file: &File, path: &Path) -> Result<(Option<FileHeader>, u64), Error> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata().map_err(io_err(path, "stat"))?.len();
    let mut head = [0; FILE_HEADER];
    let mut n = 0;
    while n < FILE_HEADER {
        match file.read_at(&mut head[n..], n as u64).map_err(io_err(path, "read"))? {
            0 => break,
            k => n += k,
        }
    }
    Ok((FileHeader::decode(&head[..n]).ok(), len))
}
