//! Durable persistence for the gateway: a write-ahead log with group commit, periodic
//! snapshots, recovery that reports damage instead of hiding it, and the import of an
//! upstream Pushgateway persistence file.
//!
//! ```text
//!   push ─► Op::encode ─► FileJournal::append ─► <file>.wal.<gen>   (fdatasync, group commit)
//!                                                    │ every --persistence.interval
//!   store.snapshot ─► FileJournal::compact ────────► <file>          (snapshot, renamed in)
//!   start: open(<file>) ─► Recovery::replay ─► store.apply, then the FileJournal
//! ```
//!
//! # Files
//!
//! Everything lives beside `--persistence.file` (`<file>`), in its directory:
//!
//! | name | what |
//! |---|---|
//! | `<file>` | the snapshot: the state as ops, as of its log generation |
//! | `<file>.wal.<gen>` | a log segment, `<gen>` 16 hex digits; the newest takes appends |
//! | `<file>.tmp`, `<file>.wal.<gen>.tmp` | being written; removed at start |
//! | `<file>.damaged-<unix time>` (or `.wal.<gen>.damaged-…`) | a damaged file, kept |
//! | `<file>.pushgateway-<unix time>` | an imported Pushgateway file, kept |
//!
//! Both file types start with a 32-byte header, then frames. All integers little-endian:
//!
//! ```text
//! header: [u8; 8] magic   b"\x89NGSNAP\n" (snapshot) or b"\x89NGWLOG\n" (log)
//!         u32     format version (1)
//!         u32     CRC-32 (IEEE) of bytes 16..32
//!         u64     generation
//!         u64     snapshot: sequence number of the first log record it does not cover
//!                 log: 0
//! frame:  u32     record length n
//!         u32     CRC-32 (IEEE) of the length field, the sequence number and the record
//!         u64     sequence number
//!         [u8; n] record: an Op as Op::encode writes it
//! ```
//!
//! Log records are numbered across segments, one more each, so a lost or stale record shows
//! as a gap. Snapshot records are numbered from 0 and end with an *end frame*: an empty
//! record whose number is the count of records before it; a snapshot without it is
//! incomplete.
//!
//! # Compaction
//!
//! [`FileJournal::compact`], every `--persistence.interval` and at shutdown: (1) create
//! segment `g+1` (under a temp name, synced, renamed, directory synced); (2) move appends to
//! it; (3) write the snapshot of generation `g+1` to `<file>.tmp` and fsync it; (4) rename it
//! over `<file>` and fsync the directory; (5) remove segments below `g+1`. A crash after (1)
//! or (2) leaves snapshot `g` with segments `g` and `g+1`, after (3) the same plus a temp file
//! that recovery removes, after (4) snapshot `g+1` with a stale segment `g` that recovery
//! ignores: each replays to the state before the crash.
//!
//! # Consistency with the store
//!
//! The snapshot is taken while appends continue, so it is not a single instant: each group
//! is as of some point at or after the switch in (2), and the new segment holds every op
//! from that switch on, some of them already in the snapshot. Replaying them again is
//! harmless because every op sets what it touches to a value that does not depend on the
//! values before (a `Put`, `Post`, `Delete` or `Wipe` overwrites; a `Failure` sets the
//! failure time; the "create with zero if absent" parts keep an existing value), so replaying
//! a log suffix over a state that already includes part of it ends in the same state.
//! That holds given two things the store guarantees:
//! - a write holds its group's lock (all groups', for a wipe) from before `append` until
//!   after `apply`, so the log's order is the order of application per group, and no op is
//!   in the log but missing from a snapshot taken after it was appended;
//! - the snapshot reads each group under that lock.
//!
//! # Recovery
//!
//! [`open`] checks the snapshot, then each segment from the snapshot's generation on: every
//! checksum, sequence number and record. The first bad frame of a file ends what is taken
//! from it; the damage (file, offset, bytes dropped, reason) is logged at error level,
//! returned in the [`Report`], and the file is hard-linked to `….damaged-<time>` before
//! anything can replace it. A damaged file is never written to again: new appends go to a
//! new segment. A file with a foreign magic is an error, unless it is a Pushgateway file,
//! which is imported ([`gob`], and the import rules in `upstream.rs`): its state becomes a
//! nodegate snapshot and the original is kept as `<file>.pushgateway-<time>`.

mod frame;
pub mod gob;
mod recover;
mod upstream;
mod wal;

pub use recover::{open, Damage, Error, Reason, Recovery, Report};
pub use wal::{Compactor, FileJournal, Stats, MAX_BATCH};

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// The names of `--persistence.file`'s files.
#[derive(Clone, Debug)]
pub(crate) struct Paths {
    /// `<file>`: the snapshot.
    pub snapshot: PathBuf,
    /// Its directory.
    pub dir: PathBuf,
    /// Its file name, the prefix of every other file's.
    name: OsString,
}

const WAL: &str = ".wal.";

impl Paths {
    pub(crate) fn new(file: &Path) -> Paths {
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = file.file_name().map_or_else(OsString::new, OsStr::to_owned);
        Paths { snapshot: file.to_owned(), dir, name }
    }

    pub(crate) fn with_suffix(&self, suffix: &str) -> PathBuf {
        let mut s = self.snapshot.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    }

    pub(crate) fn snapshot_tmp(&self) -> PathBuf {
        self.with_suffix(".tmp")
    }

    pub(crate) fn segment(&self, generation: u64) -> PathBuf {
        self.with_suffix(&format!("{WAL}{generation:016x}"))
    }

    pub(crate) fn segment_tmp(&self, generation: u64) -> PathBuf {
        self.with_suffix(&format!("{WAL}{generation:016x}.tmp"))
    }

    /// Whether a directory entry is `<file><infix>…`.
    pub(crate) fn is_named(&self, entry: &OsStr, infix: &str) -> bool {
        let (e, n) = (entry.as_encoded_bytes(), self.name.as_encoded_bytes());
        e.starts_with(n) && e[n.len()..].starts_with(infix.as_bytes())
    }

    /// Entries `<file>.wal.<16 hex><tail>`, sorted by generation.
    fn list(&self, tail: &str) -> io::Result<Vec<(u64, PathBuf)>> {
        let mut out = Vec::new();
        let prefix = self.name.as_encoded_bytes().len() + WAL.len();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if !self.is_named(&name, WAL) {
                continue;
            }
            let rest = &name.as_encoded_bytes()[prefix..];
            if rest.len() != 16 + tail.len() || !rest.ends_with(tail.as_bytes()) {
                continue;
            }
            let hex = std::str::from_utf8(&rest[..16]).ok();
            if let Some(g) = hex.and_then(|h| u64::from_str_radix(h, 16).ok()) {
                out.push((g, self.dir.join(&name)));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Log segments, oldest first.
    pub(crate) fn segments(&self) -> io::Result<Vec<(u64, PathBuf)>> {
        self.list("")
    }

    /// Segments left half-created by a crash.
    pub(crate) fn segment_tmps(&self) -> io::Result<Vec<(u64, PathBuf)>> {
        self.list(".tmp")
    }
}

/// Makes a directory's entries (files created, renamed or removed in it) durable.
pub(crate) fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests;
