//! [`FileJournal`]: the write-ahead log with group commit, and its compaction into a
//! snapshot.
//!
//! # Implementation notes
//!
//! Group commit: an appender copies its record into the pending batch under the journal's
//! mutex. If no commit is running, it becomes the *leader*: it takes the batch, leaves the
//! mutex, stamps sequence numbers and checksums, writes the batch with one `pwrite` and one
//! `fdatasync`, then publishes the outcome to everyone in that batch and wakes them. Records
//! arriving meanwhile gather in the next batch, whose first waiter leads next. So one sync
//! serves every append that arrived while the previous sync ran, with no timer and no added
//! latency for a lone appender.
//!
//! Memory: two batch buffers (the one filling, the one being written) of at most
//! [`MAX_BATCH`] bytes each; an appender whose record would overflow the filling batch waits
//! for the commit in progress. A record longer than the limit travels alone, and the buffer
//! it grew is shrunk back to the limit after its commit.
//!
//! A failed commit (`ENOSPC`, `EIO`) fails every append in its batch, and the segment is cut
//! back to its last committed length and synced, so what is on disk stays a valid log and a
//! later append, once space returns, continues it. If the cut fails too, the next commit
//! retries it before writing anything.
//!
//! Sequence numbers are assigned by the leader at write time, so a failed batch leaves no gap.

use super::frame::{self, FileHeader, FileKind, FRAME_HEADER};
use super::{fsync_dir, Paths};
use crate::op::{Journal, Op};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// The pending batch's size limit; see the module's implementation notes.
pub const MAX_BATCH: usize = 4 << 20;

/// The durable journal of `--persistence.file`: appends go to the current log segment, and
/// [`compact`](FileJournal::compact) folds everything into the snapshot.
#[derive(Debug)]
pub struct FileJournal {
    paths: Paths,
    state: Mutex<State>,
    wake: Condvar,
    /// Held for a whole compaction, so that two never interleave.
    compacting: Mutex<()>,
    stats: Counters,
    #[cfg(test)]
    crash_at: std::sync::atomic::AtomicU8,
}

#[derive(Debug)]
struct State {
    /// Framed records waiting for the next commit.
    pending: Vec<u8>,
    /// The buffer the last leader handed back, reused for the next batch.
    spare: Vec<u8>,
    /// Where the pending batch's appenders will find its outcome.
    batch: Arc<Batch>,
    /// Committed batches, kept for reuse once their last appender has read the outcome, so
    /// that a commit allocates nothing; at most [`RETIRED`], allocated up front.
    retired: Vec<Arc<Batch>>,
    /// A leader is committing (and holds the segment).
    flushing: bool,
    /// The segment being appended to; `None` while a leader has it.
    seg: Option<Segment>,
    /// The sequence number of the next record written.
    next_seq: u64,
    /// Records were appended since the last compaction (or the log was just recovered).
    dirty: bool,
}

#[derive(Debug)]
struct Segment {
    file: File,
    generation: u64,
    /// Bytes committed (durable).
    len: u64,
    /// A failed commit may have left bytes after `len`; cut them before writing.
    needs_cut: bool,
    /// Test hook: the segment behaves like a full disk past this length.
    #[cfg(test)]
    limit: Option<u64>,
}

#[derive(Debug, Default)]
struct Batch {
    outcome: OnceLock<Result<(), Failure>>,
}

/// Committed batches kept for reuse. Appenders of a batch usually read its outcome before the
/// next commit ends, so two would do; a few more cover appenders slow to be scheduled.
const RETIRED: usize = 8;

/// An `io::Error` reduced to what can be handed to every appender of a batch.
#[derive(Clone, Copy, Debug)]
struct Failure {
    kind: io::ErrorKind,
    code: Option<i32>,
}

impl Failure {
    fn of(e: &io::Error) -> Failure {
        Failure { kind: e.kind(), code: e.raw_os_error() }
    }

    fn to_io(self) -> io::Error {
        match self.code {
            Some(code) => io::Error::from_raw_os_error(code),
            None => io::Error::new(self.kind, "journal commit failed"),
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    records: AtomicU64,
    commits: AtomicU64,
    fsyncs: AtomicU64,
    bytes: AtomicU64,
    failed_commits: AtomicU64,
    compactions: AtomicU64,
}

/// What the journal has done since it was opened, for the gateway's own metrics and for
/// measuring group commit.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Stats {
    /// Records made durable.
    pub records: u64,
    /// Commits (each one `fdatasync` of the log); `records / commits` is the batching.
    pub commits: u64,
    /// Every `fsync`/`fdatasync`, of logs, snapshots and directories.
    pub fsyncs: u64,
    /// Log bytes made durable, frames included.
    pub bytes: u64,
    /// Commits that failed (their appends returned errors).
    pub failed_commits: u64,
    /// Snapshots written.
    pub compactions: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere cannot leave `State` half-updated in a way that matters more than
    // stopping persistence would, so keep going.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FileJournal {
    /// A journal appending to the segment `generation` (already created, header synced) from
    /// sequence number `next_seq`.
    pub(crate) fn new(paths: Paths, seg_file: File, generation: u64, next_seq: u64) -> Self {
        let seg = Segment {
            file: seg_file,
            generation,
            len: frame::FILE_HEADER as u64,
            needs_cut: false,
            #[cfg(test)]
            limit: None,
        };
        FileJournal {
            paths,
            state: Mutex::new(State {
                pending: Vec::new(),
                spare: Vec::new(),
                batch: Arc::default(),
                retired: Vec::with_capacity(RETIRED),
                flushing: false,
                seg: Some(seg),
                next_seq,
                dirty: true,
            }),
            wake: Condvar::new(),
            compacting: Mutex::new(()),
            stats: Counters::default(),
            #[cfg(test)]
            crash_at: std::sync::atomic::AtomicU8::new(0),
        }
    }

    /// Counters since open.
    pub fn stats(&self) -> Stats {
        let s = &self.stats;
        Stats {
            records: s.records.load(Relaxed),
            commits: s.commits.load(Relaxed),
            fsyncs: s.fsyncs.load(Relaxed),
            bytes: s.bytes.load(Relaxed),
            failed_commits: s.failed_commits.load(Relaxed),
            compactions: s.compactions.load(Relaxed),
        }
    }

    /// The current log segment's path.
    pub fn segment_path(&self) -> PathBuf {
        let st = self.wait_idle();
        self.paths.segment(st.seg.as_ref().map_or(0, |s| s.generation))
    }

    /// Waits until no commit is running; the segment is then in `State`.
    fn wait_idle(&self) -> MutexGuard<'_, State> {
        let mut st = lock(&self.state);
        while st.flushing {
            st = self.wake.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        st
    }

    /// Commits the pending batch: called with the mutex held and no commit running; returns
    /// with the mutex held again and the batch's outcome published.
    fn lead<'a>(&'a self, mut st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        let spare = std::mem::take(&mut st.spare);
        let mut buf = std::mem::replace(&mut st.pending, spare);
        let fresh = match st.retired.iter_mut().position(|b| Arc::get_mut(b).is_some()) {
            Some(i) => {
                let mut b = st.retired.swap_remove(i);
                if let Some(b) = Arc::get_mut(&mut b) {
                    b.outcome.take();
                }
                b
            }
            None => Arc::default(),
        };
        let batch = std::mem::replace(&mut st.batch, fresh);
        let first_seq = st.next_seq;
        let Some(mut seg) = st.seg.take() else {
            // Unreachable: only a leader takes the segment and it always puts it back.
            let _ = batch.outcome.set(Err(Failure { kind: io::ErrorKind::Other, code: None }));
            self.wake.notify_all();
            return st;
        };
        st.flushing = true;
        drop(st);

        let n = frame::stamp(&mut buf, first_seq);
        let outcome = self.commit(&mut seg, &buf);
        let s = &self.stats;
        match &outcome {
            Ok(()) => {
                s.records.fetch_add(n, Relaxed);
                s.bytes.fetch_add(buf.len() as u64, Relaxed);
            }
            Err(_) => {
                s.failed_commits.fetch_add(1, Relaxed);
            }
        }
        buf.clear();
        if buf.capacity() > MAX_BATCH {
            buf.shrink_to(MAX_BATCH);
        }

        let mut st = lock(&self.state);
        st.seg = Some(seg);
        st.spare = buf;
        if outcome.is_ok() {
            st.next_seq += n;
            st.dirty = true;
        }
        st.flushing = false;
        let _ = batch.outcome.set(outcome.map_err(|e| Failure::of(&e)));
        if st.retired.len() < RETIRED {
            st.retired.push(batch);
        }
        self.wake.notify_all();
        st
    }

    /// Writes and syncs one stamped batch at the segment's end, or leaves the segment as it
    /// was. Runs without the mutex.
    fn commit(&self, seg: &mut Segment, buf: &[u8]) -> io::Result<()> {
        if seg.needs_cut {
            self.cut(seg)?;
        }
        let written = write_at(seg, buf).and_then(|()| {
            self.stats.fsyncs.fetch_add(1, Relaxed);
            self.stats.commits.fetch_add(1, Relaxed);
            seg.file.sync_data()
        });
        match written {
            Ok(()) => {
                seg.len += buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                seg.needs_cut = true;
                // Best effort now; if this fails too, the next commit tries again first.
                let _ = self.cut(seg);
                Err(e)
            }
        }
    }

    /// Cuts whatever a failed commit left after the committed length, durably.
    fn cut(&self, seg: &mut Segment) -> io::Result<()> {
        seg.file.set_len(seg.len)?;
        self.stats.fsyncs.fetch_add(1, Relaxed);
        seg.file.sync_data()?;
        seg.needs_cut = false;
        Ok(())
    }

    /// Writes a snapshot of the state and drops the log it covers, if anything was appended
    /// since the last one. Returns whether it did.
    ///
    /// `snapshot` is handed an `emit` callback and must call it once per op that recreates
    /// the state (the store's `snapshot`: one `Put` per group). It runs after the log has
    /// moved to a new segment, so appends go on meanwhile; the store must read each group
    /// under the same lock it holds across a write's append and apply (see the
    /// [module docs](super) on consistency).
    ///
    /// Steps, each safe to crash after: (1) create the next segment (temp name, header,
    /// fsync, rename, fsync the directory); (2) switch appends to it; (3) write the snapshot
    /// to `<file>.tmp` and fsync it; (4) rename it over `<file>` and fsync the directory;
    /// (5) remove the older segments and fsync the directory.
    ///
    /// # Errors
    /// Creating or writing a file failed. Appends are unaffected; the next compaction starts
    /// over, and recovery reads the older segments until one succeeds.
    pub fn compact(&self, snapshot: impl FnOnce(&mut dyn FnMut(&Op<'_>))) -> io::Result<bool> {
        let _one = lock(&self.compacting);
        let generation = {
            let st = self.wait_idle();
            if !st.dirty {
                return Ok(false);
            }
            st.seg.as_ref().map_or(0, |s| s.generation) + 1
        };
        // (1)
        let file = create_segment(&self.paths, generation, &self.stats.fsyncs)?;
        self.crash_point(1)?;
        // (2) Records still pending now go to the new segment: they get sequence numbers
        // from `first_seq` on, which the snapshot's header records.
        let (mut old, first_seq) = {
            let mut st = self.wait_idle();
            let new = Segment {
                file,
                generation,
                len: frame::FILE_HEADER as u64,
                needs_cut: false,
                #[cfg(test)]
                limit: st.seg.as_ref().and_then(|s| s.limit),
            };
            st.dirty = false;
            let old = st.seg.replace(new);
            (old, st.next_seq)
        };
        if let Some(old) = old.as_mut().filter(|s| s.needs_cut) {
            // Leave no failed batch behind in a segment that recovery will read.
            let _ = self.cut(old);
        }
        drop(old);
        self.crash_point(2)?;
        // (3)
        let tmp = self.paths.snapshot_tmp();
        let written = self.write_snapshot(&tmp, generation, first_seq, snapshot);
        self.crash_point(3)?;
        // (4)
        let installed = written.and_then(|()| fs::rename(&tmp, &self.paths.snapshot));
        if let Err(e) = installed {
            let _ = fs::remove_file(&tmp);
            lock(&self.state).dirty = true;
            return Err(e);
        }
        self.stats.fsyncs.fetch_add(1, Relaxed);
        fsync_dir(&self.paths.dir)?;
        self.crash_point(4)?;
        // (5)
        let mut removed = false;
        for (g, path) in self.paths.segments()? {
            if g < generation {
                fs::remove_file(&path)?;
                removed = true;
            }
        }
        if removed {
            self.stats.fsyncs.fetch_add(1, Relaxed);
            fsync_dir(&self.paths.dir)?;
        }
        self.stats.compactions.fetch_add(1, Relaxed);
        Ok(true)
    }

    /// Writes the snapshot to `tmp` and syncs it.
    fn write_snapshot(
        &self,
        tmp: &Path,
        generation: u64,
        first_seq: u64,
        snapshot: impl FnOnce(&mut dyn FnMut(&Op<'_>)),
    ) -> io::Result<()> {
        let file = OpenOptions::new().write(true).create(true).truncate(true).open(tmp)?;
        let mut out = BufWriter::with_capacity(256 << 10, file);
        let header = FileHeader { kind: FileKind::Snapshot, generation, seq: first_seq };
        out.write_all(&header.encode())?;
        let mut count = 0u64;
        let mut failed: Option<io::Error> = None;
        let mut record = Vec::new();
        let mut framed = Vec::new();
        snapshot(&mut |op: &Op<'_>| {
            if failed.is_some() {
                return;
            }
            record.clear();
            op.encode(&mut record);
            framed.clear();
            frame::frame(&mut framed, count, &record);
            count += 1;
            if let Err(e) = out.write_all(&framed) {
                failed = Some(e);
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        // The end frame: an empty record whose sequence number is the count of records, so a
        // snapshot cut short is told apart from a complete one.
        framed.clear();
        frame::frame(&mut framed, count, &[]);
        out.write_all(&framed)?;
        let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        self.stats.fsyncs.fetch_add(1, Relaxed);
        file.sync_all()
    }

    /// Test hook: a compaction stops dead after step `k` (1 to 4), as if the process died
    /// there, leaving its files as they are.
    #[cfg(test)]
    pub(crate) fn crash_after(&self, k: u8) {
        self.crash_at.store(k, Relaxed);
    }

    fn crash_point(&self, _k: u8) -> io::Result<()> {
        #[cfg(test)]
        if self.crash_at.load(Relaxed) == _k {
            return Err(io::Error::other("simulated crash"));
        }
        Ok(())
    }

    /// Test hook: commits past `limit` bytes of the current segment fail with `ENOSPC`
    /// after writing what fits, as a full disk does.
    #[cfg(test)]
    pub(crate) fn set_space_limit(&self, limit: Option<u64>) {
        if let Some(seg) = self.wait_idle().seg.as_mut() {
            seg.limit = limit;
        }
    }
}

fn write_at(seg: &Segment, buf: &[u8]) -> io::Result<()> {
    #[cfg(test)]
    if let Some(limit) = seg.limit {
        let room = limit.saturating_sub(seg.len);
        if (buf.len() as u64) > room {
            // `room` is below `buf.len()`, which is a usize.
            seg.file.write_all_at(&buf[..room as usize], seg.len)?;
            return Err(io::Error::from_raw_os_error(28)); // ENOSPC
        }
    }
    seg.file.write_all_at(buf, seg.len)
}

/// Creates log segment `generation` atomically: a temp name, the header, fsync, rename,
/// fsync of the directory. Returns it open for writing.
pub(crate) fn create_segment(
    paths: &Paths,
    generation: u64,
    fsyncs: &AtomicU64,
) -> io::Result<File> {
    let path = paths.segment(generation);
    let tmp = paths.segment_tmp(generation);
    let made = (|| {
        let file =
            OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&tmp)?;
        let header = FileHeader { kind: FileKind::Log, generation, seq: 0 };
        file.write_all_at(&header.encode(), 0)?;
        fsyncs.fetch_add(2, Relaxed);
        file.sync_all()?;
        fs::rename(&tmp, &path)?;
        fsync_dir(&paths.dir)?;
        Ok(file)
    })();
    if made.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    made
}

impl Journal for FileJournal {
    fn append(&self, record: &[u8]) -> io::Result<()> {
        if record.is_empty() || record.len() > frame::MAX_RECORD {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "record empty or too long"));
        }
        let need = FRAME_HEADER + record.len();
        let mut st = lock(&self.state);
        while !st.pending.is_empty() && st.pending.len() + need > MAX_BATCH {
            st = if st.flushing {
                self.wake.wait(st).unwrap_or_else(PoisonError::into_inner)
            } else {
                self.lead(st)
            };
        }
        frame::push(&mut st.pending, record);
        let batch = Arc::clone(&st.batch);
        loop {
            if let Some(outcome) = batch.outcome.get() {
                return outcome.map_err(Failure::to_io);
            }
            st = if st.flushing {
                self.wake.wait(st).unwrap_or_else(PoisonError::into_inner)
            } else {
                self.lead(st)
            };
        }
    }
}

/// Runs [`FileJournal::compact`] every interval on its own thread, and once more at
/// [`shutdown`](Compactor::shutdown).
pub struct Compactor {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
    journal: Arc<FileJournal>,
    snapshot: Arc<SnapshotFn>,
}

impl std::fmt::Debug for Compactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compactor").field("journal", &self.journal).finish_non_exhaustive()
    }
}

type SnapshotFn = dyn Fn(&mut dyn FnMut(&Op<'_>)) + Send + Sync;

impl Compactor {
    /// Starts the thread. `interval` is `--persistence.interval`; below one second it is
    /// taken as one second, since each compaction rewrites the whole state.
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub fn spawn(
        journal: Arc<FileJournal>,
        interval: Duration,
        snapshot: impl Fn(&mut dyn FnMut(&Op<'_>)) + Send + Sync + 'static,
    ) -> io::Result<Compactor> {
        let interval = interval.max(Duration::from_secs(1));
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let snapshot: Arc<SnapshotFn> = Arc::new(snapshot);
        let thread = {
            let (stop, journal, snapshot) = (stop.clone(), journal.clone(), snapshot.clone());
            std::thread::Builder::new().name("persistence".into()).spawn(move || {
                let (flag, cv) = &*stop;
                let mut next = Instant::now() + interval;
                let mut stopped = lock(flag);
                // The flag is checked before every wait, so a stop that comes before the
                // thread first waits is not missed.
                while !*stopped {
                    let now = Instant::now();
                    if now < next {
                        stopped = cv.wait_timeout(stopped, next - now).unwrap_or_else(PoisonError::into_inner).0;
                        continue;
                    }
                    drop(stopped);
                    match journal.compact(|emit| snapshot(emit)) {
                        Ok(true) => log::debug!(file:? = journal.paths.snapshot; "state persisted"),
                        Ok(false) => {}
                        Err(e) => log::error!(file:? = journal.paths.snapshot, err:% = e; "error persisting metrics"),
                    }
                    next = Instant::now() + interval;
                    stopped = lock(flag);
                }
            })?
        };
        Ok(Compactor { stop, thread: Some(thread), journal, snapshot })
    }

    /// Stops the thread and writes a final snapshot (the graceful-shutdown persist).
    ///
    /// # Errors
    /// The final compaction's.
    pub fn shutdown(mut self) -> io::Result<bool> {
        self.halt();
        let snapshot = self.snapshot.clone();
        self.journal.compact(|emit| snapshot(emit))
    }

    fn halt(&mut self) {
        *lock(&self.stop.0) = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Compactor {
    fn drop(&mut self) {
        self.halt();
    }
}
