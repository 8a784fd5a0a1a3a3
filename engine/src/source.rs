//! Reading /proc and /sys with kept file descriptors.
//!
//! A [`File`] is opened once and re-read with `pread(2)` at offset 0: procfs and sysfs
//! regenerate a file's text whenever it is read from the start (`seq_read_iter` resets its
//! iterator at position 0), so a kept fd always sees fresh content and a scrape costs one or two
//! `pread`s per file instead of `openat` + `read` + `close`. Directories are listed with
//! `getdents64` through rustix's [`RawDir`] into a reused buffer, after `lseek(fd, 0)`.
//!
//! Kept fds count against a process-wide budget ([`raise_nofile_limit`] sizes it from
//! `RLIMIT_NOFILE`). Past the budget a `File` still works, but opens and closes on every read.
//! A kept fd whose file went away (a network interface or disk removed: reads fail with
//! `ENODEV`) is closed and the path opened afresh once, so a device that came back under the
//! same name is read at once and one that did not reports its error.

use rustix::fd::OwnedFd;
use rustix::fs::{FileType, Mode, OFlags, RawDir, SeekFrom};
use rustix::io::Errno;
use std::ffi::{CStr, CString};
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Largest file read in full; a larger one fails with `EFBIG` rather than growing buffers
/// without bound (the largest /proc files on dense hosts, `/proc/interrupts` on 1,024 CPUs
/// or `/proc/net/dev` with 10,000 interfaces, are a few MiB).
pub const MAX_FILE: usize = 64 << 20;

/// Free space a buffer is given before each `pread`: one page, what sysfs returns at most.
const MIN_SPARE: usize = 4096;

/// Kept fds right now, all threads.
static KEPT: AtomicUsize = AtomicUsize::new(0);
/// How many fds may be kept; set by [`raise_nofile_limit`] or [`set_fd_budget`].
static BUDGET: AtomicUsize = AtomicUsize::new(512);

/// Raises the `RLIMIT_NOFILE` soft limit to the hard limit and gives half of it to kept fds;
/// the other half stays for connections, listeners and transient opens. Returns the new soft
/// limit.
pub fn raise_nofile_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current != lim.maximum {
        let raised = rustix::process::Rlimit { current: lim.maximum, maximum: lim.maximum };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            lim.current = lim.maximum;
        }
    }
    let soft = lim.current.unwrap_or(1 << 20).min(1 << 20);
    set_fd_budget((soft / 2) as usize);
    soft
}

/// Sets how many fds may be kept open across all [`File`]s and [`Dir`]s.
pub fn set_fd_budget(n: usize) {
    BUDGET.store(n, Ordering::Relaxed);
}

/// Kept fds right now, for tests and self-metrics.
pub fn kept_fds() -> usize {
    KEPT.load(Ordering::Relaxed)
}

fn try_keep() -> bool {
    KEPT.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
        (n < BUDGET.load(Ordering::Relaxed)).then_some(n + 1)
    })
    .is_ok()
}

/// An fd held against the budget; returns its slot when dropped.
#[derive(Debug)]
struct Kept(OwnedFd);

impl Drop for Kept {
    fn drop(&mut self) {
        KEPT.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Every open is `O_NONBLOCK`: opening a FIFO for reading blocks in `open(2)` until a writer
/// appears, so a FIFO planted where a file should be would hang the scrape for good. With the
/// flag the open returns at once and the `pread` fails with `ESPIPE`. Regular files, procfs
/// and sysfs ignore the flag.
fn open(path: &CStr, flags: OFlags) -> Result<OwnedFd, Errno> {
    let flags = flags | OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
    rustix::fs::open(path, flags, Mode::empty())
}

/// Whether an error on a kept fd means the file it named is gone (and the path may now name a
/// new one), so that opening the path again is worth a try.
fn is_stale(e: Errno) -> bool {
    matches!(e, Errno::NODEV | Errno::STALE | Errno::NOENT | Errno::NXIO | Errno::BADF)
}

/// Builds the C path of `path`. Allocates; called when a source is built, not per scrape.
pub fn c_path(path: &Path) -> CString {
    // A path from flags or directory entries cannot hold NUL; keep what precedes one if it did.
    let bytes = path.as_os_str().as_bytes();
    let end = memchr::memchr(0, bytes).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).unwrap_or_default()
}

/// A file re-read with `pread` at offset 0 through a kept fd.
#[derive(Debug)]
pub struct File {
    path: CString,
    fd: Option<Kept>,
}

impl File {
    /// A source for `path`; nothing is opened until the first read.
    pub fn new(path: impl AsRef<Path>) -> File {
        File { path: c_path(path.as_ref()), fd: None }
    }

    /// The path this source reads.
    pub fn path(&self) -> &CStr {
        &self.path
    }

    /// Reads the whole file into `buf` (cleared first) and returns its bytes.
    ///
    /// # Errors
    /// The `openat` or `pread` error, or `EFBIG` past [`MAX_FILE`]. `buf` grows to the file's
    /// size in steps of at least a page; after that nothing is allocated. A file refused for
    /// its size leaves `buf` freed.
    pub fn read<'b>(&mut self, buf: &'b mut Vec<u8>) -> Result<&'b [u8], Errno> {
        self.read_with(buf, false)
    }

    /// Reads a sysfs attribute: a single `pread` of up to one page, which sysfs fills
    /// whole. Saves the second `pread` that [`File::read`] needs to see end of file.
    ///
    /// # Errors
    /// As [`File::read`].
    pub fn read_attr<'b>(&mut self, buf: &'b mut Vec<u8>) -> Result<&'b [u8], Errno> {
        self.read_with(buf, true)
    }

    fn read_with<'b>(&mut self, buf: &'b mut Vec<u8>, once: bool) -> Result<&'b [u8], Errno> {
        buf.clear();
        if let Some(kept) = &self.fd {
            match read_fd(&kept.0, buf, once) {
                Ok(()) => return Ok(buf),
                Err(e) if is_stale(e) => self.fd = None,
                Err(e) => return Err(e),
            }
        }
        let fd = open(&self.path, OFlags::empty())?;
        read_fd(&fd, buf, once)?;
        if try_keep() {
            self.fd = Some(Kept(fd));
        }
        Ok(buf)
    }

    /// Closes the kept fd, if any; the next read opens the path again.
    pub fn close(&mut self) {
        self.fd = None;
    }

    /// Reads the file from the start in blocks of about `block` bytes, calling `f` with each
    /// block's whole lines (newlines included; a last line without one comes last), so that a
    /// file of any length is read in bounded memory: `/proc/net/udp` on a host with many
    /// sockets. `f` returning an error stops the read.
    ///
    /// # Errors
    /// The outer error is the `openat` or `pread` error (or `EFBIG` for a single line longer
    /// than [`MAX_FILE`]); lines before it may have been passed to `f`. The inner one is the
    /// first error `f` returned. `buf` (cleared first) grows to `block` plus the longest
    /// line's length and stays there.
    pub fn read_lines<E>(
        &mut self,
        buf: &mut Vec<u8>,
        block: usize,
        mut f: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<Result<(), E>, Errno> {
        if let Some(kept) = &self.fd {
            match stream_fd(&kept.0, buf, block, &mut f) {
                // Gone before anything was read: the path may name a new file.
                Err((e, 0)) if is_stale(e) => self.fd = None,
                r => return r.map_err(|(e, _)| e),
            }
        }
        let fd = open(&self.path, OFlags::empty())?;
        let r = stream_fd(&fd, buf, block, &mut f).map_err(|(e, _)| e);
        if try_keep() {
            self.fd = Some(Kept(fd));
        }
        r
    }
}

/// [`File::read_lines`] on an open fd; an I/O error comes with the offset it happened at.
fn stream_fd<E>(
    fd: &OwnedFd,
    buf: &mut Vec<u8>,
    block: usize,
    f: &mut impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<Result<(), E>, (Errno, u64)> {
    buf.clear();
    buf.reserve(block.max(MIN_SPARE));
    let mut off = 0u64;
    loop {
        // Only a line longer than the block makes the buffer grow.
        if buf.capacity() - buf.len() < MIN_SPARE {
            if buf.len() > MAX_FILE {
                release(buf);
                return Err((Errno::FBIG, off));
            }
            grow(buf);
        }
        let n = loop {
            match rustix::io::pread(fd, rustix::buffer::spare_capacity(buf), off) {
                Err(Errno::INTR) => continue,
                r => break r.map_err(|e| (e, off))?,
            }
        };
        if n == 0 {
            return Ok(if buf.is_empty() { Ok(()) } else { f(buf) });
        }
        off += n as u64;
        if let Some(end) = memchr::memrchr(b'\n', buf) {
            if let Err(e) = f(&buf[..=end]) {
                return Ok(Err(e));
            }
            buf.drain(..=end);
        }
    }
}

/// Doubles `buf`'s capacity (for at least a page of room), as `reserve` does, but never past
/// [`MAX_FILE`] and a page: `reserve` would double a 64 MiB buffer to 128 MiB just before the
/// limit refuses the file. Called with `buf.len() <= MAX_FILE`.
fn grow(buf: &mut Vec<u8>) {
    let target = (buf.capacity() * 2).max(buf.len() + MIN_SPARE).min(MAX_FILE + MIN_SPARE);
    buf.reserve_exact(target.saturating_sub(buf.len()));
}

/// Frees a buffer that grew to the limit for a file that was then refused, so that a file
/// over the limit does not pin [`MAX_FILE`] bytes between scrapes.
#[cold]
fn release(buf: &mut Vec<u8>) {
    *buf = Vec::new();
}

fn read_fd(fd: &OwnedFd, buf: &mut Vec<u8>, once: bool) -> Result<(), Errno> {
    let mut off = 0u64;
    loop {
        if buf.capacity() - buf.len() < MIN_SPARE {
            if buf.len() > MAX_FILE {
                release(buf);
                return Err(Errno::FBIG);
            }
            grow(buf);
        }
        let n = loop {
            match rustix::io::pread(fd, rustix::buffer::spare_capacity(buf), off) {
                Err(Errno::INTR) => continue,
                r => break r?,
            }
        };
        if n == 0 || once {
            return Ok(());
        }
        off += n as u64;
    }
}

/// Opens `path`, reads it whole into `buf` (cleared first) and closes it again, for files that
/// are replaced by `rename(2)` rather than rewritten, where a kept fd would go on reading the old
/// copy. Returns the `fstat` of the fd the bytes came from, so a caller comparing it later with
/// a `stat` of the path knows whether the bytes it holds are still current.
///
/// # Errors
/// The `openat`, `fstat` or `pread` error, or `EFBIG` past [`MAX_FILE`]. `buf` grows as in
/// [`File::read`]; the fd is not counted against the kept-fd budget since it is closed at once.
pub fn read_once(path: &CStr, buf: &mut Vec<u8>) -> Result<rustix::fs::Stat, Errno> {
    buf.clear();
    let fd = open(path, OFlags::empty())?;
    let stat = rustix::fs::fstat(&fd)?;
    read_fd(&fd, buf, false)?;
    Ok(stat)
}

/// A directory listed again on every scrape through a kept fd.
#[derive(Debug)]
pub struct Dir {
    path: CString,
    fd: Option<Kept>,
    buf: Vec<MaybeUninit<u8>>,
}

impl Dir {
    /// A source for the directory `path`; nothing is opened until the first listing.
    pub fn new(path: impl AsRef<Path>) -> Dir {
        Dir { path: c_path(path.as_ref()), fd: None, buf: Vec::new() }
    }

    /// The path this source lists.
    pub fn path(&self) -> &CStr {
        &self.path
    }

    /// Calls `f` with the name and type of every entry but `.` and `..`, in the order the
    /// file system returns them.
    ///
    /// # Errors
    /// The `openat`, `lseek` or `getdents64` error. Entries seen before a `getdents64` error
    /// have been passed to `f`. The 32 KiB entry buffer is allocated on the first listing.
    pub fn for_each(&mut self, mut f: impl FnMut(&[u8], FileType)) -> Result<(), Errno> {
        if self.buf.is_empty() {
            self.buf.resize(32 << 10, MaybeUninit::uninit());
        }
        if let Some(kept) = &self.fd {
            match rustix::fs::seek(&kept.0, SeekFrom::Start(0)) {
                Ok(_) => return list(&kept.0, &mut self.buf, &mut f),
                Err(e) if is_stale(e) => self.fd = None,
                Err(e) => return Err(e),
            }
        }
        let fd = open(&self.path, OFlags::DIRECTORY)?;
        list(&fd, &mut self.buf, &mut f)?;
        if try_keep() {
            self.fd = Some(Kept(fd));
        }
        Ok(())
    }
}

impl Dir {
    /// The directory's `st_size`, through the kept fd (for `/proc/<pid>/fd`, the number of
    /// open fds on Linux 6.2+).
    ///
    /// # Errors
    /// The `openat` or `fstat` error.
    pub fn size(&mut self) -> Result<u64, Errno> {
        if let Some(kept) = &self.fd {
            match rustix::fs::fstat(&kept.0) {
                Ok(st) => return Ok(st.st_size as u64),
                Err(e) if is_stale(e) => self.fd = None,
                Err(e) => return Err(e),
            }
        }
        let fd = open(&self.path, OFlags::DIRECTORY)?;
        let st = rustix::fs::fstat(&fd)?;
        if try_keep() {
            self.fd = Some(Kept(fd));
        }
        Ok(st.st_size as u64)
    }
}

fn list(
    fd: &OwnedFd,
    buf: &mut [MaybeUninit<u8>],
    f: &mut impl FnMut(&[u8], FileType),
) -> Result<(), Errno> {
    let mut dir = RawDir::new(fd, buf);
    while let Some(entry) = dir.next() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        f(name, entry.file_type());
    }
    Ok(())
}

/// Lists directories by path, each through an fd opened for that listing only.
///
/// For directories that may be replaced between scrapes (a textfile directory recreated by
/// configuration management): a kept fd, as [`Dir`] holds, would go on listing the replaced
/// directory, which is empty and raises no error. One entry buffer serves every path.
#[derive(Debug, Default)]
pub struct Lister {
    buf: Vec<MaybeUninit<u8>>,
}

impl Lister {
    /// A lister; the 32 KiB entry buffer is allocated on the first listing.
    pub fn new() -> Lister {
        Lister::default()
    }

    /// Calls `f` with the name and type of every entry of `path` but `.` and `..`, in the
    /// order the file system returns them.
    ///
    /// # Errors
    /// The `openat` or `getdents64` error; entries seen before a `getdents64` error have been
    /// passed to `f`.
    pub fn list(&mut self, path: &CStr, mut f: impl FnMut(&[u8], FileType)) -> Result<(), Errno> {
        if self.buf.is_empty() {
            self.buf.resize(32 << 10, MaybeUninit::uninit());
        }
        let fd = open(path, OFlags::DIRECTORY)?;
        list(&fd, &mut self.buf, &mut f)
    }
}

/// Whether `path` names a directory, following symbolic links (`stat(2)`); false if it
/// cannot be stat'ed.
pub fn is_dir(path: &CStr) -> bool {
    rustix::fs::stat(path).is_ok_and(|st| FileType::from_raw_mode(st.st_mode).is_dir())
}

/// Whether `path` exists, without following a final symbolic link (`lstat(2)`).
pub fn exists(path: &CStr) -> bool {
    rustix::fs::lstat(path).is_ok()
}

/// A modification time as `stat(2)` reports it: whole seconds since the epoch (negative
/// before it) and nanoseconds into the second.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Mtime {
    /// Seconds since the epoch, rounded down.
    pub sec: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub nsec: u32,
}

/// A file opened for one scrape and closed when dropped.
///
/// For files replaced by rename between scrapes (the textfile collector's): a kept fd, as
/// [`File`] holds, would go on reading the replaced inode. Not counted against the fd budget,
/// since it is closed before the scrape ends. Like every source, opened with `O_NONBLOCK`, so
/// that a FIFO fails the read instead of blocking the scrape.
#[derive(Debug)]
pub struct Transient(OwnedFd);

impl Transient {
    /// Opens `path` for reading.
    ///
    /// # Errors
    /// The `openat` error.
    pub fn open(path: &CStr) -> Result<Transient, Errno> {
        open(path, OFlags::empty()).map(Transient)
    }

    /// Reads the whole file into `buf` (cleared first) and returns its bytes.
    ///
    /// # Errors
    /// The `pread` error, or `EFBIG` past [`MAX_FILE`]. `buf` grows as for [`File::read`].
    pub fn read<'b>(&self, buf: &'b mut Vec<u8>) -> Result<&'b [u8], Errno> {
        buf.clear();
        read_fd(&self.0, buf, false)?;
        Ok(buf)
    }

    /// The file's modification time, from `fstat(2)` on the open fd.
    ///
    /// # Errors
    /// The `fstat` error.
    // `st_mtime` and `st_mtime_nsec` have other integer types on other architectures.
    #[allow(clippy::unnecessary_cast)]
    pub fn mtime(&self) -> Result<Mtime, Errno> {
        let st = rustix::fs::fstat(&self.0)?;
        Ok(Mtime { sec: st.st_mtime as i64, nsec: st.st_mtime_nsec as u32 })
    }
}

/// Per-entry state for a directory whose entries come and go (CPUs, disks, interfaces),
/// kept sorted by name. Between [`Entries::begin`] and [`Entries::end`] a scan marks the
/// entries it still sees; `end` drops the others, closing their fds, so no series and no fd of
/// a vanished entry outlives the scrape that stopped seeing it.
#[derive(Debug)]
pub struct Entries<T> {
    items: Vec<Entry<T>>,
    generation: u32,
}

#[derive(Debug)]
struct Entry<T> {
    name: Box<[u8]>,
    seen: u32,
    value: T,
}

impl<T> Default for Entries<T> {
    fn default() -> Self {
        Entries { items: Vec::new(), generation: 0 }
    }
}

impl<T> Entries<T> {
    /// An empty set.
    pub fn new() -> Entries<T> {
        Entries::default()
    }

    /// Starts a scan: every entry is unseen until [`Entries::get_or_insert_with`] names it.
    pub fn begin(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    /// The state for `name`, created with `make` if the entry is new, and marked seen.
    /// Allocates only for a new entry.
    pub fn get_or_insert_with(&mut self, name: &[u8], make: impl FnOnce() -> T) -> &mut T {
        let i = match self.items.binary_search_by(|e| (*e.name).cmp(name)) {
            Ok(i) => i,
            Err(i) => {
                self.items.insert(i, Entry { name: name.into(), seen: 0, value: make() });
                i
            }
        };
        let e = &mut self.items[i];
        e.seen = self.generation;
        &mut e.value
    }

    /// Ends a scan, dropping the entries it did not see.
    pub fn end(&mut self) {
        let g = self.generation;
        self.items.retain(|e| e.seen == g);
    }

    /// The entries, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &T)> {
        self.items.iter().map(|e| (&*e.name, &e.value))
    }

    /// The entries, sorted by name, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&[u8], &mut T)> {
        self.items.iter_mut().map(|e| (&*e.name, &mut e.value))
    }

    /// How many entries are held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Where the exporter finds the host's files: node_exporter's `--path.*` flags.
#[derive(Clone, Debug)]
pub struct Paths {
    /// `--path.procfs`, default `/proc`.
    pub procfs: PathBuf,
    /// `--path.sysfs`, default `/sys`.
    pub sysfs: PathBuf,
    /// `--path.rootfs`, default `/`.
    pub rootfs: PathBuf,
    /// `--path.udev.data`, default `/run/udev/data`.
    pub udev_data: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            procfs: "/proc".into(),
            sysfs: "/sys".into(),
            rootfs: "/".into(),
            udev_data: "/run/udev/data".into(),
        }
    }
}

impl Paths {
    /// All four trees under one directory laid out as upstream's fixtures:
    /// `proc/`, `sys/`, `udev/data/`, with the directory itself as rootfs.
    pub fn under(root: impl AsRef<Path>) -> Paths {
        let root = root.as_ref();
        Paths {
            procfs: root.join("proc"),
            sysfs: root.join("sys"),
            rootfs: root.to_path_buf(),
            udev_data: root.join("udev/data"),
        }
    }

    /// `rel` under the procfs mount point.
    pub fn proc(&self, rel: &str) -> PathBuf {
        self.procfs.join(rel)
    }

    /// `rel` under the sysfs mount point.
    pub fn sys(&self, rel: &str) -> PathBuf {
        self.sysfs.join(rel)
    }

    /// `rel` under the root file system.
    pub fn root(&self, rel: &str) -> PathBuf {
        self.rootfs.join(rel.trim_start_matches('/'))
    }

    /// `rel` under the udev database.
    pub fn udev(&self, rel: &str) -> PathBuf {
        self.udev_data.join(rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("nodegate-source-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn rereads_fresh_content_through_kept_fd() {
        let d = tmpdir("reread");
        let p = d.join("f");
        std::fs::write(&p, b"one\n").unwrap();
        let mut f = File::new(&p);
        let mut buf = Vec::new();
        assert_eq!(f.read(&mut buf).unwrap(), b"one\n");
        assert!(f.fd.is_some());
        // Rewritten in place (same inode): the kept fd sees the new bytes.
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&p)
            .unwrap()
            .write_all(b"two, longer\n")
            .unwrap();
        assert_eq!(f.read(&mut buf).unwrap(), b"two, longer\n");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn large_file_is_read_whole() {
        let d = tmpdir("large");
        let p = d.join("big");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let mut buf = Vec::new();
        assert_eq!(File::new(&p).read(&mut buf).unwrap(), &data[..]);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_file_past_the_limit_is_refused_and_its_buffer_freed() {
        let d = tmpdir("toolarge");
        let p = d.join("huge");
        std::fs::File::create(&p).unwrap().set_len(MAX_FILE as u64 + 1).unwrap();
        let mut f = File::new(&p);
        let mut buf = Vec::new();
        assert_eq!(f.read(&mut buf).map(<[u8]>::len), Err(Errno::FBIG));
        assert_eq!(buf.capacity(), 0, "a refused file left its buffer behind");
        // At the limit exactly, the file is read and the buffer stops a page past it.
        std::fs::File::create(&p).unwrap().set_len(MAX_FILE as u64).unwrap();
        assert_eq!(f.read(&mut buf).map(<[u8]>::len), Ok(MAX_FILE));
        assert!(buf.capacity() <= MAX_FILE + MIN_SPARE, "{}", buf.capacity());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn missing_file_errors_and_recovers() {
        let d = tmpdir("missing");
        let p = d.join("later");
        let mut f = File::new(&p);
        let mut buf = Vec::new();
        assert_eq!(f.read(&mut buf), Err(Errno::NOENT));
        std::fs::write(&p, b"now\n").unwrap();
        assert_eq!(f.read(&mut buf).unwrap(), b"now\n");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_fifo_fails_the_read_instead_of_blocking() {
        let d = tmpdir("fifo");
        let p = d.join("pipe");
        let fifo = FileType::Fifo;
        rustix::fs::mknodat(rustix::fs::CWD, &p, fifo, Mode::RUSR | Mode::WUSR, 0).unwrap();
        // On a thread, so that a regression shows as a failure rather than a hung test.
        let (tx, rx) = std::sync::mpsc::channel();
        let path = p.clone();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let kept = File::new(&path).read(&mut buf).map(<[u8]>::len);
            let once = read_once(&c_path(&path), &mut buf).map(|_| ());
            let transient =
                Transient::open(&c_path(&path)).and_then(|t| t.read(&mut buf).map(|_| ()));
            tx.send((kept, once, transient)).unwrap();
        });
        let got = rx.recv_timeout(std::time::Duration::from_secs(30)).expect("reading a FIFO hung");
        assert_eq!(got, (Err(Errno::SPIPE), Err(Errno::SPIPE), Err(Errno::SPIPE)));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn read_lines_in_blocks() {
        let d = tmpdir("blocks");
        let p = d.join("lines");
        let text: String =
            (0..5000).map(|i| format!("line {i} {}\n", "x".repeat(i % 97))).collect();
        std::fs::write(&p, format!("{text}tail without newline")).unwrap();
        let mut f = File::new(&p);
        let mut buf = Vec::new();
        for _ in 0..2 {
            let mut got = Vec::new();
            let mut calls = 0;
            f.read_lines(&mut buf, 4096, |lines| {
                assert!(lines.ends_with(b"\n") || lines.ends_with(b"newline"));
                got.extend_from_slice(lines);
                calls += 1;
                Ok::<_, ()>(())
            })
            .unwrap()
            .unwrap();
            assert_eq!(got, format!("{text}tail without newline").into_bytes());
            assert!(calls > 10, "{calls}");
            assert!(buf.capacity() < 16 << 10, "{}", buf.capacity());
        }
        // A line longer than the block grows the buffer to hold it.
        let long = format!("{}\nshort\n", "y".repeat(50_000));
        std::fs::write(&p, &long).unwrap();
        let mut got = Vec::new();
        f.read_lines(&mut buf, 4096, |l| {
            got.extend_from_slice(l);
            Ok::<_, ()>(())
        })
        .unwrap()
        .unwrap();
        assert_eq!(got, long.as_bytes());
        // The callback's error stops the read; a missing file is the outer error.
        let r = f.read_lines(&mut buf, 4096, |_| Err("stop")).unwrap();
        assert_eq!(r, Err("stop"));
        let mut gone = File::new(d.join("gone"));
        assert_eq!(gone.read_lines(&mut buf, 4096, |_| Ok::<_, ()>(())), Err(Errno::NOENT));
        // Empty: no call at all.
        std::fs::write(&p, b"").unwrap();
        f.read_lines(&mut buf, 4096, |_| -> Result<(), ()> { panic!("called") }).unwrap().unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn proc_file_through_kept_fd() {
        // /proc/self/stat changes between reads; a kept fd must not serve a cached copy.
        let mut f = File::new("/proc/self/stat");
        let mut buf = Vec::new();
        let first = f.read(&mut buf).unwrap().to_vec();
        assert!(first.starts_with(std::process::id().to_string().as_bytes()));
        assert!(f.read(&mut buf).unwrap().ends_with(b"\n"));
    }

    #[test]
    fn read_once_reports_the_file_it_read() {
        let d = tmpdir("once");
        let p = d.join("entry");
        std::fs::write(&p, b"first\n").unwrap();
        let path = c_path(&p);
        let mut buf = Vec::new();
        let a = read_once(&path, &mut buf).unwrap();
        assert_eq!(buf, b"first\n");
        // Replaced by rename, as udev does: another inode, and the new bytes.
        std::fs::write(d.join("tmp"), b"second\n").unwrap();
        std::fs::rename(d.join("tmp"), &p).unwrap();
        let b = read_once(&path, &mut buf).unwrap();
        assert_eq!(buf, b"second\n");
        assert_ne!(a.st_ino, b.st_ino);
        assert_eq!(b.st_ino, rustix::fs::stat(path.as_c_str()).unwrap().st_ino);
        std::fs::remove_file(&p).unwrap();
        assert_eq!(read_once(&path, &mut buf).unwrap_err(), Errno::NOENT);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn dir_lists_entries_and_sees_changes() {
        let d = tmpdir("dir");
        std::fs::write(d.join("a"), b"").unwrap();
        std::fs::create_dir(d.join("b")).unwrap();
        let mut dir = Dir::new(&d);
        let mut names = Vec::new();
        dir.for_each(|n, t| names.push((n.to_vec(), t.is_dir()))).unwrap();
        names.sort();
        assert_eq!(names, [(b"a".to_vec(), false), (b"b".to_vec(), true)]);
        std::fs::write(d.join("c"), b"").unwrap();
        std::fs::remove_file(d.join("a")).unwrap();
        let mut again = Vec::new();
        dir.for_each(|n, _| again.push(n.to_vec())).unwrap();
        again.sort();
        assert_eq!(again, [b"b".to_vec(), b"c".to_vec()]);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn entries_drop_unseen() {
        let mut e: Entries<u32> = Entries::new();
        e.begin();
        *e.get_or_insert_with(b"eth1", || 1) += 10;
        e.get_or_insert_with(b"eth0", || 0);
        e.end();
        assert_eq!(
            e.iter().map(|(n, v)| (n.to_vec(), *v)).collect::<Vec<_>>(),
            [(b"eth0".to_vec(), 0), (b"eth1".to_vec(), 11)]
        );
        e.begin();
        e.get_or_insert_with(b"eth1", || 99);
        e.end();
        assert_eq!(e.len(), 1);
        assert_eq!(e.iter().next().map(|(_, v)| *v), Some(11));
    }
}
