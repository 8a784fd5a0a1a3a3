//! Mounted file systems → `node_filesystem_*`: node_exporter's filesystem collector.
//!
//! The mount list is `<procfs>/1/mounts` (`<procfs>/mounts` where hidepid hides pid 1), see
//! proc_pid_mounts(5): `/dev/sda1 / ext4 rw,relatime 0 0`, mount points with `\040` for a
//! space and `\011` for a tab. Sizes come from statfs(2) on `<rootfs>/<mount point>`.
//!
//! # Stuck mounts
//!
//! `statfs` on a mount whose server is gone (NFS, FUSE, CIFS) can block for minutes. Calls
//! run on a small shared pool of threads (`--collector.filesystem.stat-workers`), and a scrape
//! waits for each at most `--collector.filesystem.mount-timeout` from when it was asked for.
//! A mount not answered by then is reported as upstream reports it,
//! `node_filesystem_device_error{device_error="mountpoint timeout"} 1`, and is not asked
//! again while its call hangs: later scrapes report it at once, and the thread stuck in it is
//! replaced so that other mounts keep their workers. When the call returns, the mount is
//! reported normally again. Upstream marks a mount stuck only after the scrape that hit the
//! hang has itself waited for the call to return (#244, #3058); here no scrape waits longer
//! than the timeout. The collector is also `blocking`, so the scrape deadline bounds it too.
//!
//! A scrape queues all its mounts' calls at once and wakes one thread, which makes them one
//! after another (a `statfs` that answers takes about a microsecond, a wake-up more than
//! that), and is woken once, when the queue is empty. Should the queue stand still for
//! [`STALL`] (a hung call at its head), the waiting scrape wakes another thread to go on.
//!
//! Mounts listed twice with the same labels (bind mounts, or mounts differing only in their
//! options) give one series: the encoder keeps the first of identical series.

use super::{Build, Collector, Error, Flag, FlagKind, ParseError, Spec};
use crate::encode::{Encoder, FamilyId, Kind};
use crate::lex;
use crate::source::{c_path, Entries, File};
use regex::Regex;
use rustix::fs::StatFs;
use rustix::io::Errno;
use std::collections::VecDeque;
use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Registration.
pub const SPEC: Spec =
    Spec { name: "filesystem", default_enabled: true, flags: FLAGS, blocking: true, build };

const MOUNT_POINTS_EXCLUDE: &str = "collector.filesystem.mount-points-exclude";
const FS_TYPES_EXCLUDE: &str = "collector.filesystem.fs-types-exclude";
const MOUNT_TIMEOUT: &str = "collector.filesystem.mount-timeout";
const STAT_WORKERS: &str = "collector.filesystem.stat-workers";

const FLAGS: &[Flag] = &[
    Flag {
        name: MOUNT_POINTS_EXCLUDE,
        help: "Regexp of mount points to exclude for filesystem collector.",
        kind: FlagKind::Regex,
        default: "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)",
        aliases: &["collector.filesystem.ignored-mount-points"],
    },
    Flag {
        name: FS_TYPES_EXCLUDE,
        help: "Regexp of filesystem types to exclude for filesystem collector.",
        kind: FlagKind::Regex,
        default: "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|\
                  hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|\
                  securityfs|selinuxfs|squashfs|sysfs|tracefs)$",
        aliases: &["collector.filesystem.ignored-fs-types"],
    },
    Flag {
        name: MOUNT_TIMEOUT,
        help: "how long to wait for a mount to respond before marking it as stale",
        kind: FlagKind::Duration,
        default: "5s",
        aliases: &[],
    },
    Flag {
        name: STAT_WORKERS,
        help: "how many stat calls to process simultaneously",
        kind: FlagKind::Int,
        default: "4",
        aliases: &[],
    },
];

const MOUNTS: &str = "proc/1/mounts";

/// How long the queue of calls may stand still before another thread is woken to take
/// from it: far above a healthy call, far below the mount timeout.
const STALL: Duration = Duration::from_millis(10);

/// What the scrape reports for a mount whose `statfs` did not answer in time.
const TIMEOUT_TEXT: &[u8] = b"mountpoint timeout";

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let mount_points = b.settings.regex(MOUNT_POINTS_EXCLUDE)?;
    let fs_types = b.settings.regex(FS_TYPES_EXCLUDE)?;
    let timeout = b.settings.duration(MOUNT_TIMEOUT)?;
    let workers = b
        .settings
        .str(STAT_WORKERS)
        .parse::<i64>()
        .map_err(|e| format!("--{STAT_WORKERS}: {e}"))?
        .clamp(1, 256) as usize;
    let pool = b.shared.get::<Pool>("filesystem");
    pool.configure(workers, statfs);
    let rootfs = b.paths.rootfs.as_os_str().as_bytes().to_vec();
    Ok(Box::new(Filesystem {
        mounts_file: File::new(b.paths.proc("1/mounts")),
        fallback: File::new(b.paths.proc("mounts")),
        root: b.paths.rootfs.clone(),
        rootfs: if rootfs == b"/" { Vec::new() } else { rootfs },
        buf: Vec::new(),
        mount_points,
        fs_types,
        timeout,
        pool,
        mounts: Entries::new(),
    }))
}

/// The call the pool makes; tests put a hanging one in its place.
type StatfsFn = fn(&CStr) -> Result<StatFs, Errno>;

fn statfs(path: &CStr) -> Result<StatFs, Errno> {
    loop {
        match rustix::fs::statfs(path) {
            Err(Errno::INTR) => continue,
            r => return r,
        }
    }
}

#[derive(Debug)]
struct Filesystem {
    mounts_file: File,
    fallback: File,
    root: std::path::PathBuf,
    /// `--path.rootfs` as bytes, empty when it is `/` (nothing to strip).
    rootfs: Vec<u8>,
    buf: Vec<u8>,
    mount_points: Option<Regex>,
    fs_types: Option<Regex>,
    timeout: Duration,
    pool: Arc<Pool>,
    /// Mounts by their line in the mount list (a remount with new options is a new entry).
    mounts: Entries<Mount>,
}

/// One mount as reported: its labels, and its shared `statfs` call.
#[derive(Debug)]
struct Mount {
    device: Box<[u8]>,
    mount_point: Box<[u8]>,
    fs_type: Box<[u8]>,
    readonly: bool,
    job: Arc<Job>,
    /// Whether it passed the filters.
    wanted: bool,
}

/// The fields of one mount-list line, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MountLine<'a> {
    /// The mounted device (`/dev/sda1`, `tmpfs`, `server:/export`).
    pub device: &'a [u8],
    /// The mount point, still escaped (`\040` for a space).
    pub mount_point: &'a [u8],
    /// The file system type.
    pub fs_type: &'a [u8],
    /// The mount options (`rw,relatime`).
    pub options: &'a [u8],
}

/// Calls `f` for each line of a mount list.
///
/// # Errors
/// A line with fewer than four fields (upstream fails the whole collector on one).
pub fn scan_mounts<'a>(
    src: &'a [u8],
    mut f: impl FnMut(&'a [u8], MountLine<'a>),
) -> Result<(), ParseError> {
    for (n, line) in lex::lines(src).enumerate() {
        let mut fields = lex::fields(line);
        let (Some(device), Some(mount_point), Some(fs_type), Some(options)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(ParseError::at(n + 1, "malformed mount point information"));
        };
        f(line, MountLine { device, mount_point, fs_type, options });
    }
    Ok(())
}

/// The mount point as the kernel meant it: `\040` → space and `\011` → tab, the two escapes
/// upstream decodes (fstab(5)).
pub fn unescape_mount_point(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw.get(i..i + 4) {
            Some(b"\\040") => {
                out.push(b' ');
                i += 4;
            }
            Some(b"\\011") => {
                out.push(b'\t');
                i += 4;
            }
            _ => {
                out.push(raw[i]);
                i += 1;
            }
        }
    }
    out
}

fn is_readonly(options: &[u8]) -> bool {
    options.split(|&b| b == b',').any(|o| o == b"ro")
}

/// Families, declared once per scrape.
struct Families {
    size: FamilyId,
    free: FamilyId,
    avail: FamilyId,
    files: FamilyId,
    files_free: FamilyId,
    readonly: FamilyId,
    device_error: FamilyId,
}

impl Families {
    fn declare(enc: &mut Encoder) -> Families {
        let mut g = |name, help| enc.family(name, help, Kind::Gauge);
        Families {
            size: g("node_filesystem_size_bytes", "Filesystem size in bytes."),
            free: g("node_filesystem_free_bytes", "Filesystem free space in bytes."),
            avail: g(
                "node_filesystem_avail_bytes",
                "Filesystem space available to non-root users in bytes.",
            ),
            files: g("node_filesystem_files", "Filesystem total file nodes."),
            files_free: g("node_filesystem_files_free", "Filesystem total free file nodes."),
            readonly: g("node_filesystem_readonly", "Filesystem read-only status."),
            device_error: g(
                "node_filesystem_device_error",
                "Whether an error occurred while getting statistics for the given device.",
            ),
        }
    }
}

impl Filesystem {
    fn read_mounts(&mut self) -> Result<(), Error> {
        match self.mounts_file.read(&mut self.buf) {
            Ok(_) => Ok(()),
            // pid 1 is hidden (hidepid): the calling process's own view.
            Err(Errno::NOENT) => {
                self.fallback.read(&mut self.buf).map(|_| ()).map_err(Error::read("proc/mounts"))
            }
            Err(e) => Err(Error::Read { path: MOUNTS, errno: e }),
        }
    }

    /// `mount_point` with `--path.rootfs` taken off its front, as upstream's
    /// `rootfsStripPrefix`.
    fn strip_rootfs<'m>(&self, mount_point: &'m [u8]) -> &'m [u8] {
        if self.rootfs.is_empty() {
            return mount_point;
        }
        match mount_point.strip_prefix(&self.rootfs[..]) {
            Some(b"") => b"/",
            Some(rest) => rest,
            None => mount_point,
        }
    }
}

impl Collector for Filesystem {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        self.read_mounts()?;
        let src = std::mem::take(&mut self.buf);
        let mut mounts = std::mem::take(&mut self.mounts);
        mounts.begin();
        // A line is a mount's key, so what follows from it (the unescaped mount point, the
        // filters' verdict, the statfs job) is worked out once, when the line first appears.
        let scanned = scan_mounts(&src, |line, m| {
            mounts.get_or_insert_with(line, || {
                let unescaped = unescape_mount_point(m.mount_point);
                let mount_point = self.strip_rootfs(&unescaped);
                let excluded =
                    self.mount_points.as_ref().is_some_and(|re| matches(re, mount_point))
                        || self.fs_types.as_ref().is_some_and(|re| matches(re, m.fs_type));
                Mount {
                    device: m.device.into(),
                    mount_point: mount_point.into(),
                    fs_type: m.fs_type.into(),
                    readonly: is_readonly(m.options),
                    job: self.pool.job(&self.root, mount_point),
                    wanted: !excluded,
                }
            });
        });
        mounts.end();
        self.buf = src;
        if let Err(e) = scanned {
            self.mounts = mounts;
            return Err(Error::Parse { path: MOUNTS, err: e });
        }

        let wanted = mounts.iter().filter(|(_, m)| m.wanted).map(|(_, m)| &m.job);
        self.pool.submit(wanted, Instant::now(), self.timeout);
        let fams = Families::declare(enc);
        for (_, m) in mounts.iter().filter(|(_, m)| m.wanted) {
            let result = self.pool.wait(&m.job, self.timeout);
            emit(enc, &fams, m, result);
        }
        self.mounts = mounts;
        Ok(())
    }
}

/// The unescaped mount point may not be UTF-8; regexes see it as text as Go's do (invalid
/// bytes never match a literal).
fn matches(re: &Regex, bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(s) => re.is_match(s),
        Err(_) => re.is_match(&String::from_utf8_lossy(bytes)),
    }
}

fn emit(enc: &mut Encoder, f: &Families, m: &Mount, result: Answer) {
    // Go prints an errno it has no text for as `errno N`.
    let mut unknown = [0u8; 32];
    let (error_text, stats): (&[u8], _) = match result {
        Answer::Stats(st) => (b"", Some(st)),
        Answer::Failed(e) => match crate::errno::go_text(e) {
            Some(t) => (t.as_bytes(), None),
            None => {
                let mut b = itoa::Buffer::new();
                let digits = b.format(e.raw_os_error()).as_bytes();
                unknown[..6].copy_from_slice(b"errno ");
                unknown[6..6 + digits.len()].copy_from_slice(digits);
                (&unknown[..6 + digits.len()], None)
            }
        },
        Answer::TimedOut => (TIMEOUT_TEXT, None),
    };
    let labels = [
        ("device", &*m.device),
        ("device_error", error_text),
        ("fstype", &*m.fs_type),
        ("mountpoint", &*m.mount_point),
    ];
    enc.sample(f.device_error, &labels, if stats.is_some() { 0.0 } else { 1.0 });
    // A mount that timed out has no options read for it upstream: readonly is 0.
    let ro = m.readonly && !matches!(result, Answer::TimedOut);
    enc.sample(f.readonly, &labels, if ro { 1.0 } else { 0.0 });
    if let Some(st) = stats {
        let bsize = st.f_bsize as f64;
        // Go multiplies the two as float64s, so the same rounding happens here.
        enc.sample(f.size, &labels, st.f_blocks as f64 * bsize);
        enc.sample(f.free, &labels, st.f_bfree as f64 * bsize);
        enc.sample(f.avail, &labels, st.f_bavail as f64 * bsize);
        enc.sample(f.files, &labels, st.f_files as f64);
        enc.sample(f.files_free, &labels, st.f_ffree as f64);
    }
}

/// How one mount's `statfs` came out for a scrape.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Stats(StatFs),
    Failed(Errno),
    TimedOut,
}

/// One mount's `statfs` call, shared by every exporter instance that reports the mount, so
/// that a hung mount ties up one thread however many scrapes ask for it.
#[derive(Debug)]
struct Job {
    path: CString,
    state: Mutex<JobState>,
}

#[derive(Debug)]
struct JobState {
    /// A call was asked for and has not returned.
    running: bool,
    /// When the running call was asked for.
    since: Instant,
    /// It outlived the timeout; its thread was replaced.
    stuck: bool,
    result: Result<StatFs, Errno>,
}

impl Job {
    fn lock(&self) -> MutexGuard<'_, JobState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The threads that run `statfs`, shared by all instances of the collector.
///
/// Lock order: the pool's state, then a job's; a thread holding a job's lock takes no other.
#[derive(Debug, Default)]
pub struct Pool {
    state: Mutex<PoolState>,
    /// Idle threads wait here for calls to make.
    work: Condvar,
    /// Scrapes wait here for answers: signalled when a call returns to an empty queue.
    done: Condvar,
    /// Jobs by path, sorted, so instances share them.
    jobs: Mutex<Vec<Arc<Job>>>,
}

#[derive(Debug, Default)]
struct PoolState {
    queue: VecDeque<Arc<Job>>,
    /// When a thread last took from the queue, or when it last became non-empty.
    moved: Option<Instant>,
    /// Threads alive, and how many of them are stuck in a call that timed out.
    threads: usize,
    stuck: usize,
    /// Threads wanted besides the stuck ones (`--collector.filesystem.stat-workers`).
    workers: usize,
    call: Option<StatfsFn>,
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the worker count and the call (the first instance built decides), and starts
    /// the workers.
    fn configure(self: &Arc<Self>, workers: usize, call: StatfsFn) {
        let mut st = self.lock();
        if st.call.is_none() {
            st.call = Some(call);
            st.workers = workers;
            st.queue.reserve(64);
        }
        self.top_up(&mut st);
    }

    /// Starts threads until `workers` are not stuck.
    fn top_up(self: &Arc<Self>, st: &mut PoolState) {
        while st.threads < st.workers + st.stuck {
            let pool = Arc::clone(self);
            let spawned =
                std::thread::Builder::new().name("statfs".into()).spawn(move || pool.work());
            match spawned {
                Ok(_) => st.threads += 1,
                Err(e) => {
                    log::error!(err:% = e; "cannot start a statfs thread");
                    break;
                }
            }
        }
    }

    fn work(&self) {
        let mut st = self.lock();
        loop {
            // More threads than needed (a stuck call returned): this one goes.
            if st.threads > st.workers + st.stuck {
                st.threads -= 1;
                return;
            }
            let Some(job) = st.queue.pop_front() else {
                st = self.work.wait(st).unwrap_or_else(|e| e.into_inner());
                continue;
            };
            st.moved = Some(Instant::now());
            let call = st.call.unwrap_or(statfs);
            drop(st);
            let result = call(&job.path);
            let was_stuck = {
                let mut js = job.lock();
                js.result = result;
                js.running = false;
                std::mem::replace(&mut js.stuck, false)
            };
            st = self.lock();
            if st.queue.is_empty() {
                self.done.notify_all();
            }
            if was_stuck {
                st.stuck -= 1;
                log::debug!(mountpoint:% = job.path.to_string_lossy(); "Mount point has recovered, monitoring will resume");
            }
        }
    }

    /// The shared job for a mount point under `root`. Allocates for a mount seen first.
    fn job(&self, root: &Path, mount_point: &[u8]) -> Arc<Job> {
        let rel = std::ffi::OsStr::from_bytes(mount_point);
        let path = c_path(&root.join(Path::new(rel).strip_prefix("/").unwrap_or(Path::new(rel))));
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        // Jobs of mounts no instance reports any more (and no call holds) are dropped here,
        // when the list changes, so churning mounts (containers) do not pile up.
        jobs.retain(|j| Arc::strong_count(j) > 1);
        match jobs.binary_search_by(|j| j.path.as_bytes().cmp(path.as_bytes())) {
            Ok(i) => Arc::clone(&jobs[i]),
            Err(i) => {
                let job = Arc::new(Job {
                    path,
                    state: Mutex::new(JobState {
                        running: false,
                        since: Instant::now(),
                        stuck: false,
                        result: Err(Errno::AGAIN),
                    }),
                });
                jobs.insert(i, Arc::clone(&job));
                job
            }
        }
    }

    /// Asks for a call for each of `jobs` unless one is running, all at once with one
    /// wake-up; a running call that outlived `timeout` is marked stuck and its thread
    /// replaced.
    fn submit<'j>(
        self: &Arc<Self>,
        jobs: impl Iterator<Item = &'j Arc<Job>>,
        now: Instant,
        timeout: Duration,
    ) {
        let mut st = self.lock();
        let was_empty = st.queue.is_empty();
        for job in jobs {
            let mut js = job.lock();
            if js.running {
                if !js.stuck && now.duration_since(js.since) >= timeout {
                    js.stuck = true;
                    drop(js);
                    self.mark_stuck(&mut st, job);
                }
                continue;
            }
            js.running = true;
            js.since = now;
            drop(js);
            st.queue.push_back(Arc::clone(job));
        }
        if was_empty && !st.queue.is_empty() {
            st.moved = Some(now);
            self.work.notify_one();
        }
    }

    fn mark_stuck(self: &Arc<Self>, st: &mut PoolState, job: &Job) {
        log::debug!(mountpoint:% = job.path.to_string_lossy(); "Mount point timed out, it is being labeled as stuck and will not be monitored");
        st.stuck += 1;
        self.top_up(st);
    }

    /// Waits for the job's call until `timeout` after it was asked for.
    fn wait(self: &Arc<Self>, job: &Arc<Job>, timeout: Duration) -> Answer {
        let mut st = self.lock();
        loop {
            let mut js = job.lock();
            if !js.running {
                return match js.result {
                    Ok(st) => Answer::Stats(st),
                    Err(e) => Answer::Failed(e),
                };
            }
            if js.stuck {
                return Answer::TimedOut;
            }
            let now = Instant::now();
            let mut left = (js.since + timeout).saturating_duration_since(now);
            if left.is_zero() {
                js.stuck = true;
                drop(js);
                self.mark_stuck(&mut st, job);
                return Answer::TimedOut;
            }
            drop(js);
            if let (false, Some(moved)) = (st.queue.is_empty(), st.moved) {
                let stalled = moved + STALL;
                if now >= stalled {
                    // A call at the head of the queue hangs: wake another thread to go on,
                    // and give it a while to start before the next.
                    st.moved = Some(now);
                    self.work.notify_one();
                    continue;
                }
                left = left.min(stalled - now);
            }
            st = self.done.wait_timeout(st, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{build, put, render, tmpdir, try_scrape};
    use crate::collector::{Settings, Shared};
    use crate::source::Paths;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn mount_lines_and_escapes() {
        let src = b"/dev/sda1 / ext4 rw,relatime 0 0\n\
                    server:/export /mnt/with\\040space\\011tab nfs4 ro,vers=4.2 0 0\n";
        let mut seen = Vec::new();
        scan_mounts(src, |_, m| {
            seen.push((unescape_mount_point(m.mount_point), is_readonly(m.options)))
        })
        .unwrap();
        assert_eq!(seen, [(b"/".to_vec(), false), (b"/mnt/with space\ttab".to_vec(), true)]);
        for bad in [&b"/dev/sda1 / ext4\n"[..], b"x\n", b"a b c\nd e f g\n"] {
            assert!(scan_mounts(bad, |_, _| ()).is_err(), "{bad:?}");
        }
        assert!(scan_mounts(b"", |_, _| ()).is_ok());
        assert!(!is_readonly(b"rw,errors=remount-ro"));
    }

    /// Upstream's fixture mount list, with its default excludes: the mount points left.
    #[test]
    fn fixture_mounts_and_default_excludes() {
        let Some(root) = crate::collector::testing::fixtures() else { return };
        let src = std::fs::read(root.join("proc/1/mounts")).unwrap();
        let mp = Regex::new(FLAGS[0].default).unwrap();
        let fs = Regex::new(FLAGS[1].default).unwrap();
        let mut kept = Vec::new();
        scan_mounts(&src, |_, m| {
            let p = unescape_mount_point(m.mount_point);
            if !matches(&mp, &p) && !matches(&fs, m.fs_type) {
                kept.push(String::from_utf8(p).unwrap());
            }
        })
        .unwrap();
        assert!(kept.contains(&"/".to_owned()), "{kept:?}");
        assert!(kept.iter().all(|p| !p.starts_with("/proc") && !p.starts_with("/sys")), "{kept:?}");
    }

    fn tree(mounts: &str) -> std::path::PathBuf {
        let d = tmpdir(&format!("fs-{}", mounts.len()));
        put(&d, "proc/1/mounts", mounts);
        d
    }

    #[test]
    fn statfs_on_real_paths_with_rootfs_stripped() {
        // The tree itself is the rootfs; its mount list names paths under it.
        let d = tmpdir("fs-rootfs");
        std::fs::create_dir_all(d.join("data/a b")).unwrap();
        let root = d.to_string_lossy().into_owned();
        put(
            &d,
            "proc/1/mounts",
            &format!(
                "/dev/sdb1 {root}/data ext4 rw 0 0\n\
                 /dev/sdb2 {root}/data/a\\040b xfs ro 0 0\n\
                 /dev/sdb1 {root}/data ext4 rw,noatime 0 0\n\
                 proc {root}/proc proc rw 0 0\n"
            ),
        );
        let mut c = build(&SPEC, &Paths::under(&d), &Settings::new()).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        assert!(text.contains(
            "node_filesystem_device_error{device=\"/dev/sdb1\",device_error=\"\",fstype=\"ext4\",mountpoint=\"/data\"} 0\n"
        ), "{text}");
        assert!(text.contains(
            "node_filesystem_readonly{device=\"/dev/sdb2\",device_error=\"\",fstype=\"xfs\",mountpoint=\"/data/a b\"} 1\n"
        ));
        assert!(text.contains("node_filesystem_size_bytes{device=\"/dev/sdb1\""));
        // The second /data line differs only in options: one series, not two.
        assert_eq!(text.matches("node_filesystem_files{device=\"/dev/sdb1\"").count(), 1);
        assert!(!text.contains("mountpoint=\"/proc\""), "proc is excluded by default");
    }

    #[test]
    fn statfs_errors_are_labels_and_bad_lists_fail() {
        let d = tree("/dev/x /nonexistent/mount ext4 rw 0 0\n");
        let mut c = build(&SPEC, &Paths::under(&d), &Settings::new()).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        assert!(text.contains(
            "node_filesystem_device_error{device=\"/dev/x\",device_error=\"no such file or directory\",fstype=\"ext4\",mountpoint=\"/nonexistent/mount\"} 1\n"
        ), "{text}");
        assert!(!text.contains("node_filesystem_size_bytes"));

        put(&d, "proc/1/mounts", "short line\n");
        assert!(matches!(try_scrape(&mut *c), Err(Error::Parse { .. })));
        std::fs::remove_file(d.join("proc/1/mounts")).unwrap();
        let mut c = build(&SPEC, &Paths::under(&d), &Settings::new()).unwrap();
        assert!(matches!(try_scrape(&mut *c), Err(Error::Read { .. })));
    }

    #[test]
    fn hidepid_falls_back_to_proc_mounts() {
        let d = tmpdir("fs-hidepid");
        put(&d, "proc/mounts", "/dev/root / ext4 rw 0 0\n");
        let mut c = build(&SPEC, &Paths::under(&d), &Settings::new()).unwrap();
        assert!(try_scrape(&mut *c).unwrap().contains("mountpoint=\"/\""));
    }

    static HANG: AtomicBool = AtomicBool::new(false);

    /// Hangs on any path ending in `hung` while `HANG` is set, as statfs on a dead NFS
    /// server does; answers the others at once.
    fn fake_statfs(path: &CStr) -> Result<StatFs, Errno> {
        if path.to_bytes().ends_with(b"hung") {
            while HANG.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        statfs(c"/")
    }

    #[test]
    fn a_hung_mount_times_out_alone_and_recovers() {
        HANG.store(true, Ordering::SeqCst);
        let d = tree("srv:/x /mnt/hung nfs rw 0 0\n/dev/sda1 / ext4 rw 0 0\n");
        let mut settings = Settings::new();
        settings.set(MOUNT_TIMEOUT, "200ms");
        let shared = Shared::default();
        shared.get::<Pool>("filesystem").configure(2, fake_statfs);
        let b =
            Build { paths: &Paths::under(&d), settings: &settings, shared: &shared, enabled: &[] };
        let mut c = (SPEC.build)(&b).unwrap();

        let text = render(|enc| c.update(enc).unwrap());
        let stuck = "node_filesystem_device_error{device=\"srv:/x\",device_error=\"mountpoint timeout\",fstype=\"nfs\",mountpoint=\"/mnt/hung\"} 1\n";
        assert!(text.contains(stuck), "{text}");
        assert!(text.contains("node_filesystem_readonly{device=\"srv:/x\",device_error=\"mountpoint timeout\",fstype=\"nfs\",mountpoint=\"/mnt/hung\"} 0\n"));
        assert!(text.contains("node_filesystem_size_bytes{device=\"/dev/sda1\""), "{text}");

        // Still hung: reported at once, the other mount still answered by a live worker.
        let before = Instant::now();
        let text = render(|enc| c.update(enc).unwrap());
        assert!(before.elapsed() < Duration::from_secs(10));
        assert!(text.contains(stuck));
        assert!(text.contains("node_filesystem_size_bytes{device=\"/dev/sda1\""));

        // The call returns: the mount is reported normally again.
        HANG.store(false, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = render(|enc| c.update(enc).unwrap());
            if text.contains("node_filesystem_size_bytes{device=\"srv:/x\"") {
                break;
            }
            assert!(Instant::now() < deadline, "the mount never recovered");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn bad_flags_are_build_errors() {
        let d = tree("");
        for (flag, value) in
            [(MOUNT_TIMEOUT, "soon"), (STAT_WORKERS, "many"), (FS_TYPES_EXCLUDE, "(")]
        {
            let mut s = Settings::new();
            s.set(flag, value);
            let err = build(&SPEC, &Paths::under(&d), &s).unwrap_err();
            assert!(err.contains(flag), "{err}");
        }
    }

    #[test]
    fn live_host() {
        let mut c = build(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            let text = try_scrape(&mut *c).unwrap();
            assert!(text.contains("node_filesystem_size_bytes"), "{text}");
        }
    }
}
