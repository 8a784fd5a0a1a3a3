//! `/proc/<pid>/stat`, `/proc/<pid>/task/<tid>/stat` and `/proc/sys/kernel/{threads-max,pid_max}`
//! → `node_processes_{pids,threads,max_processes,max_threads}`, `node_processes_state{state}`,
//! `node_processes_threads_state{thread_state}`; node_exporter's processes collector. A stat
//! file is one line, see proc_pid_stat(5):
//! `1 (systemd) S 0 1 1 0 -1 4194560 9061 9416027 94 2620 36 98 54406 13885 20 0 1 0 29 ...`.
//!
//! # Implementation notes
//!
//! The cost is one `openat` + `pread` + `close` per process and per thread, and a listing of
//! each multi-threaded process's `task` directory: pids come and go between scrapes, so nothing
//! is kept open across them. Paths are opened relative to an fd on the procfs root (or on the `task`
//! directory) held for the walk only, and spelled in a stack buffer; the stat text, the
//! directory entries, the thread ids and the state counts live in buffers the collector owns
//! and reuses, so a scrape allocates nothing once they have grown to the host's size. A process
//! or thread that exits during the walk (its files then fail with `ENOENT` or `ESRCH`) is
//! skipped, as upstream skips it.

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::{c_path, File};
use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags, RawDir};
use rustix::io::Errno;
use std::ffi::{CStr, CString};
use std::mem::MaybeUninit;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "processes", default_enabled: false, flags: &[], blocking: false, build };

const PROC: &str = "proc";
const PID_STAT: &str = "proc/<pid>/stat";
const TASKS: &str = "proc/<pid>/task";
const TID_STAT: &str = "proc/<pid>/task/<tid>/stat";
const THREADS_MAX: &str = "proc/sys/kernel/threads-max";
const PID_MAX: &str = "proc/sys/kernel/pid_max";

/// How much of a stat file is read, as procfs' `ReadFileNoStat` limits it.
const MAX_STAT: usize = 1 << 20;

/// Room a stat file's buffer keeps free before each `pread`: a stat line is at most about a
/// kilobyte (52 numbers and a 64-byte name).
const STAT_ROOM: usize = 4096;

#[derive(Debug)]
struct Processes {
    procfs: CString,
    threads_max: File,
    pid_max: File,
    /// One stat file's text.
    stat: Vec<u8>,
    /// `getdents64` buffers for the procfs root and for a `task` directory.
    root_entries: Vec<MaybeUninit<u8>>,
    task_entries: Vec<MaybeUninit<u8>>,
    /// One process's thread ids, all listed before any is read, as upstream does.
    tids: Vec<i64>,
    counts: Counts,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Processes {
        procfs: c_path(&b.paths.procfs),
        threads_max: File::new(b.paths.proc("sys/kernel/threads-max")),
        pid_max: File::new(b.paths.proc("sys/kernel/pid_max")),
        stat: Vec::new(),
        root_entries: Vec::new(),
        task_entries: Vec::new(),
        tids: Vec::new(),
        counts: Counts::default(),
    }))
}

impl Collector for Processes {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        self.walk()?;
        let src = self.threads_max.read_attr(&mut self.stat).map_err(Error::read(THREADS_MAX))?;
        let threads_max = parse_limit(src).map_err(Error::parse(THREADS_MAX))?;
        let src = self.pid_max.read_attr(&mut self.stat).map_err(Error::read(PID_MAX))?;
        let pid_max = parse_limit(src).map_err(Error::parse(PID_MAX))?;
        emit(enc, &self.counts, threads_max, pid_max);
        Ok(())
    }
}

impl Processes {
    /// Reads every process's and every thread's stat file into `self.counts`.
    fn walk(&mut self) -> Result<(), Error> {
        let Processes { procfs, stat, root_entries, task_entries, tids, counts, .. } = self;
        counts.clear();
        for entries in [&mut *root_entries, &mut *task_entries] {
            if entries.is_empty() {
                entries.resize(32 << 10, MaybeUninit::uninit());
            }
        }
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let root =
            rustix::fs::open(procfs.as_c_str(), flags, Mode::empty()).map_err(Error::read(PROC))?;
        // On the kernel's procfs a process with one thread has just its own id in `task`,
        // whose state is the process's: the listing (open, two getdents, close) is skipped.
        // A tree that only looks like procfs (a copy, a test fixture) is listed as upstream
        // lists it.
        let is_procfs = rustix::fs::fstatfs(&root)
            .is_ok_and(|st| st.f_type as u64 == rustix::fs::PROC_SUPER_MAGIC as u64);
        let mut pids = RawDir::new(&root, root_entries);
        while let Some(entry) = pids.next() {
            let entry = entry.map_err(Error::read(PROC))?;
            // As upstream: any entry whose name is a decimal `int64` is a process.
            let Some(pid) = lex::parse_i64(entry.file_name().to_bytes()) else { continue };
            let Some(proc) = read_stat(&root, &StackPath::new(pid, b"/stat"), stat, PID_STAT)?
            else {
                continue;
            };
            counts.pids += 1;
            counts.threads = counts.threads.wrapping_add(proc.num_threads);
            let state = counts.add(proc.state, Table::Procs);
            if is_procfs && proc.num_threads == 1 {
                counts.add_again(state, Table::Tasks);
                continue;
            }

            let task = match rustix::fs::openat(
                &root,
                StackPath::new(pid, b"/task").as_c_str(),
                flags,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                Err(e) if is_gone(e) => continue,
                Err(e) => return Err(Error::Read { path: TASKS, errno: e }),
            };
            tids.clear();
            let mut listing = RawDir::new(&task, task_entries);
            let listed = loop {
                match listing.next() {
                    None => break Ok(()),
                    Some(Ok(e)) => tids.extend(lex::parse_i64(e.file_name().to_bytes())),
                    Some(Err(e)) => break Err(e),
                }
            };
            match listed {
                Ok(()) => {}
                Err(e) if is_gone(e) => continue,
                Err(e) => return Err(Error::Read { path: TASKS, errno: e }),
            }
            for &tid in tids.iter() {
                // The leader's state is the process's, read already.
                if tid == pid {
                    counts.add_again(state, Table::Tasks);
                    continue;
                }
                let path = StackPath::new(tid, b"/stat");
                if let Some(thread) = read_stat(&task, &path, stat, TID_STAT)? {
                    counts.add(thread.state, Table::Tasks);
                }
            }
        }
        Ok(())
    }
}

/// Whether an error means the process or thread is gone: upstream skips `ENOENT`, and any
/// error whose text says "no such process" (`ESRCH`).
fn is_gone(e: Errno) -> bool {
    matches!(e, Errno::NOENT | Errno::SRCH)
}

/// A relative path spelled on the stack: an id and a tail (`1234/stat`, `1234/task`).
struct StackPath {
    /// The path and its NUL; the longest, `-9223372036854775808/stat`, takes 26 bytes.
    buf: [u8; 32],
}

impl StackPath {
    fn new(id: i64, tail: &[u8; 5]) -> StackPath {
        let mut buf = [0u8; 32];
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(id).as_bytes();
        buf[..digits.len()].copy_from_slice(digits);
        buf[digits.len()..digits.len() + tail.len()].copy_from_slice(tail);
        StackPath { buf }
    }

    fn as_c_str(&self) -> &CStr {
        // Digits and the tails hold no NUL, and the buffer ends in NULs.
        CStr::from_bytes_until_nul(&self.buf).unwrap_or_default()
    }
}

/// Reads the stat file at `path` (relative to `dir`) into `buf` and parses it; `None` when the
/// process or thread is gone. `what` names the file in errors.
fn read_stat<'b>(
    dir: &OwnedFd,
    path: &StackPath,
    buf: &'b mut Vec<u8>,
    what: &'static str,
) -> Result<Option<Stat<'b>>, Error> {
    match read_at(dir, path.as_c_str(), buf) {
        Ok(()) => {}
        Err(e) if is_gone(e) => return Ok(None),
        Err(e) => return Err(Error::Read { path: what, errno: e }),
    }
    match parse_stat(buf) {
        Ok(stat) => Ok(Some(stat)),
        Err(StatError::NoSuchProcess) => Ok(None),
        Err(StatError::Malformed(what_failed)) => {
            Err(Error::Parse { path: what, err: ParseError::at(1, what_failed) })
        }
    }
}

/// `openat` + `pread` + `close`. A stat file is a few hundred bytes and procfs renders it
/// whole on the first read, so a `pread` that leaves room in the buffer has read all of it and
/// no second read for end of file is made. Reads at most [`MAX_STAT`] bytes.
fn read_at(dir: &OwnedFd, path: &CStr, buf: &mut Vec<u8>) -> Result<(), Errno> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY;
    let fd = rustix::fs::openat(dir, path, flags, Mode::empty())?;
    buf.clear();
    while buf.len() < MAX_STAT {
        if buf.capacity() - buf.len() < STAT_ROOM {
            buf.reserve(buf.len().max(STAT_ROOM));
        }
        let (room, offset) = (buf.capacity() - buf.len(), buf.len() as u64);
        let n = loop {
            match rustix::io::pread(&fd, rustix::buffer::spare_capacity(buf), offset) {
                Err(Errno::INTR) => continue,
                r => break r?,
            }
        };
        if n < room {
            break;
        }
    }
    buf.truncate(MAX_STAT);
    Ok(())
}

/// What the collector uses of a stat file.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Stat<'a> {
    /// The state word (`R`, `S`, ...) as the file has it. It is counted as Go reads it: each
    /// byte of an invalid UTF-8 sequence as U+FFFD.
    pub state: &'a [u8],
    /// Field 20, `num_threads`.
    pub num_threads: i64,
}

/// Why a stat file was not used.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum StatError {
    /// No parentheses around the name, and the text says "no such process": upstream's error
    /// quotes the text, and it skips any error whose text says that.
    NoSuchProcess,
    /// Malformed: what was wrong.
    Malformed(&'static str),
}

/// Signedness of the 41 numbers procfs scans after the state: `true` for Go `int`/`int64`
/// fields (which take a sign), `false` for `uint`/`uint64` ones.
const SIGNED: [bool; 41] = {
    let mut s = [false; 41];
    // ppid, pgrp, session, tty_nr, tpgid.
    let mut i = 0;
    while i < 5 {
        s[i] = true;
        i += 1;
    }
    // cutime, cstime, priority, nice, num_threads, itrealvalue.
    let mut i = 12;
    while i < 18 {
        s[i] = true;
        i += 1;
    }
    s[20] = true; // rss
    s[34] = true; // exit_signal
    s[39] = true; // guest_time
    s[40] = true; // cguest_time
    s
};

/// Index of `num_threads` among the numbers after the state.
const NUM_THREADS: usize = 16;

/// Parses a stat file as procfs' `Proc.Stat` does: the name runs from the first `(` to the
/// last `)`, one byte after that is skipped, and then `fmt.Fscan` reads the state word and 41
/// integers, each in Go's `%v` syntax (an optional sign for signed fields, a `0b`/`0o`/`0x`
/// or `0` base prefix, `_` separators). Whatever follows the 41st is ignored.
///
/// # Errors
/// [`StatError::NoSuchProcess`] or [`StatError::Malformed`] as described there; a `)` before
/// the first `(`, or a `)` that is the last byte, are errors where upstream panics.
pub fn parse_stat(src: &[u8]) -> Result<Stat<'_>, StatError> {
    let (Some(l), Some(r)) = (memchr::memchr(b'(', src), memchr::memrchr(b')', src)) else {
        return Err(match memchr::memmem::find(src, b"no such process") {
            Some(_) => StatError::NoSuchProcess,
            None => StatError::Malformed("no `(name)`"),
        });
    };
    if r < l || r + 2 > src.len() {
        return Err(StatError::Malformed("nothing after `(name)`"));
    }
    let mut scan = GoScan { rest: &src[r + 2..] };
    let state = scan.word().ok_or(StatError::Malformed("no state"))?;
    let mut num_threads = 0;
    for (i, &signed) in SIGNED.iter().enumerate() {
        let n = scan.integer(signed).ok_or(StatError::Malformed("invalid or missing number"))?;
        if i == NUM_THREADS {
            num_threads = n;
        }
    }
    Ok(Stat { state, num_threads })
}

/// The reading side of Go's `fmt.Fscan` over a byte string, for `%v` of strings and integers.
struct GoScan<'a> {
    rest: &'a [u8],
}

impl<'a> GoScan<'a> {
    fn skip_space(&mut self) {
        loop {
            let n = lex::unicode_space_len(self.rest);
            if n == 0 {
                return;
            }
            self.rest = &self.rest[n..];
        }
    }

    /// The next space-delimited word; `None` at the end of the text.
    fn word(&mut self) -> Option<&'a [u8]> {
        self.skip_space();
        if self.rest.is_empty() {
            return None;
        }
        let mut end = 0;
        while end < self.rest.len() && lex::unicode_space_len(&self.rest[end..]) == 0 {
            end += 1;
        }
        let (word, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(word)
    }

    /// The next integer, as Go's `scanInt`/`scanUint` with the `v` verb: the token is the
    /// longest run of acceptable characters (so `12x` yields 12 and leaves `x` for the next
    /// scan), then parsed by `strconv.ParseInt`/`ParseUint` with base 0. Unsigned values are
    /// returned as their `i64` bit pattern; only `num_threads`, a signed field, is used.
    fn integer(&mut self, signed: bool) -> Option<i64> {
        const DEC: &[u8] = b"0123456789_";
        const BIN: &[u8] = b"01_";
        const OCT: &[u8] = b"01234567_";
        const HEX: &[u8] = b"0123456789aAbBcCdDeEfF_";
        self.skip_space();
        let s = self.rest;
        let mut n = 0;
        if signed && matches!(s.first(), Some(b'+' | b'-')) {
            n = 1;
        }
        let digits = if s.get(n) == Some(&b'0') {
            n += 1;
            let prefixed = match s.get(n).map(|b| b | 0x20) {
                Some(b'b') => Some(BIN),
                Some(b'o') => Some(OCT),
                Some(b'x') => Some(HEX),
                _ => None,
            };
            if prefixed.is_some() {
                n += 1;
            }
            // A bare `0` is itself the digit that must follow.
            prefixed.unwrap_or(OCT)
        } else {
            // At least one digit must follow.
            if !s.get(n).is_some_and(|b| DEC.contains(b)) {
                return None;
            }
            DEC
        };
        while s.get(n).is_some_and(|b| digits.contains(b)) {
            n += 1;
        }
        let (token, rest) = s.split_at(n);
        self.rest = rest;
        if signed {
            lex::parse_int(token, 0, 64)
        } else {
            lex::parse_uint(token, 0, 64).map(|v| v as i64)
        }
    }
}

/// The state counts of one walk. State words are kept once each in `words`.
#[derive(Debug, Default)]
struct Counts {
    pids: u64,
    threads: i64,
    words: Vec<u8>,
    /// `(word start, word end, count)` per process state, and per thread state.
    procs: Vec<(u32, u32, u64)>,
    tasks: Vec<(u32, u32, u64)>,
}

#[derive(Clone, Copy, Debug)]
enum Table {
    Procs,
    Tasks,
}

impl Counts {
    fn clear(&mut self) {
        self.pids = 0;
        self.threads = 0;
        self.words.clear();
        self.procs.clear();
        self.tasks.clear();
    }

    /// Counts `state` once in `table`, and returns where its word is kept. A word that is not
    /// UTF-8 is kept as Go's scanner reads it, each invalid byte replaced by U+FFFD.
    fn add(&mut self, state: &[u8], table: Table) -> (u32, u32) {
        let start = self.words.len();
        push_go_string(&mut self.words, state);
        let end = self.words.len();
        let word = (start as u32, end as u32);
        let table = match table {
            Table::Procs => &mut self.procs,
            Table::Tasks => &mut self.tasks,
        };
        let words = &self.words;
        match table.iter_mut().find(|(a, b, _)| words[*a as usize..*b as usize] == words[start..]) {
            Some((a, b, n)) => {
                *n += 1;
                let kept = (*a, *b);
                self.words.truncate(start);
                kept
            }
            None => {
                table.push((word.0, word.1, 1));
                word
            }
        }
    }

    /// Counts again, in `table`, a word kept by [`Counts::add`].
    fn add_again(&mut self, word: (u32, u32), table: Table) {
        let table = match table {
            Table::Procs => &mut self.procs,
            Table::Tasks => &mut self.tasks,
        };
        let w = &self.words[word.0 as usize..word.1 as usize];
        match table.iter_mut().find(|(a, b, _)| &self.words[*a as usize..*b as usize] == w) {
            Some((_, _, n)) => *n += 1,
            None => table.push((word.0, word.1, 1)),
        }
    }
}

/// Appends `s` to `out`, each byte of an invalid UTF-8 sequence replaced by U+FFFD, as Go's
/// rune-by-rune reading does.
fn push_go_string(out: &mut Vec<u8>, mut s: &[u8]) {
    loop {
        match std::str::from_utf8(s) {
            Ok(valid) => {
                out.extend_from_slice(valid.as_bytes());
                return;
            }
            Err(e) => {
                let (valid, rest) = s.split_at(e.valid_up_to());
                out.extend_from_slice(valid);
                let bad = e.error_len().unwrap_or(rest.len());
                for _ in 0..bad {
                    out.extend_from_slice("\u{fffd}".as_bytes());
                }
                s = &rest[bad..];
            }
        }
    }
}

/// Parses `threads-max` or `pid_max`, as upstream's `readUintFromFile`.
fn parse_limit(src: &[u8]) -> Result<u64, ParseError> {
    lex::parse_u64(lex::trim(src)).ok_or(ParseError::at(1, "expected an unsigned integer"))
}

/// Adds the six families.
fn emit(enc: &mut Encoder, counts: &Counts, threads_max: u64, pid_max: u64) {
    let f = enc.family("node_processes_threads", "Allocated threads in system", Kind::Gauge);
    enc.sample(f, &[], counts.threads as f64);
    let f = enc.family("node_processes_max_threads", "Limit of threads in the system", Kind::Gauge);
    enc.sample_u64(f, &[], threads_max);
    let f = enc.family("node_processes_state", "Number of processes in each state.", Kind::Gauge);
    for &(a, b, n) in &counts.procs {
        enc.sample_u64(f, &[("state", &counts.words[a as usize..b as usize])], n);
    }
    let f =
        enc.family("node_processes_threads_state", "Number of threads in each state.", Kind::Gauge);
    for &(a, b, n) in &counts.tasks {
        enc.sample_u64(f, &[("thread_state", &counts.words[a as usize..b as usize])], n);
    }
    let f = enc.family("node_processes_pids", "Number of PIDs", Kind::Gauge);
    enc.sample_u64(f, &[], counts.pids);
    let f = enc.family("node_processes_max_processes", "Number of max PIDs limit", Kind::Gauge);
    enc.sample_u64(f, &[], pid_max);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fds_under, fixtures, put, scrape, tmpdir,
        try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    const SYSTEMD: &[u8] = b"1 (systemd) S 0 1 1 0 -1 4194560 9061 9416027 94 2620 36 98 54406 \
        13885 20 0 1 0 29 109604864 2507 18446744073709551615 1 1 0 0 0 0 671173123 4096 1260 \
        0 0 0 17 0 0 0 19 0 0 0 0 0 0 0 0 0 0\n";

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        assert_matches_e2e(&text);
        assert_eq!(scrape(c.as_mut()), text);
    }

    #[test]
    fn stat_fields() {
        assert_eq!(parse_stat(SYSTEMD), Ok(Stat { state: b"S", num_threads: 1 }));
        // A name with spaces and parentheses runs to the last `)`.
        let odd =
            b"7 (a) b (c)) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 -3 0 0 0 0 0 0 0 0 0 0 0 \
                    0 0 0 0 0 0 0 0 0 0 0 0 0";
        assert_eq!(parse_stat(odd), Ok(Stat { state: b"R", num_threads: -3 }));
        // Go's %v integers: prefixes, underscores, and a token ending where the digits do.
        // Expected values checked against Go's fmt.Fscan into procfs' field types.
        let zeros = |n: usize| vec!["0"; n].join(" ");
        let go = format!("1 (x) D 0x10 0b1 0o7 010 1_0 {} +4_2 {} 12x", zeros(11), zeros(23));
        assert_eq!(parse_stat(go.as_bytes()), Ok(Stat { state: b"D", num_threads: 42 }));
        // `08` is two numbers to Go's scanner: 0, then 8.
        let split = format!("1 (x) Z 08 {} 5 {}", zeros(14), zeros(24));
        assert_eq!(parse_stat(split.as_bytes()), Ok(Stat { state: b"Z", num_threads: 5 }));
        // Spaces Go knows beyond ASCII separate words too.
        let nbsp = format!("1 (x) S\u{a0}0 {} 1 {}", zeros(15), zeros(24));
        assert_eq!(parse_stat(nbsp.as_bytes()), Ok(Stat { state: b"S", num_threads: 1 }));
        let nel = format!("1 (x) S 0\u{85}0 {}", zeros(39));
        assert_eq!(parse_stat(nel.as_bytes()), Ok(Stat { state: b"S", num_threads: 0 }));
        let bad_utf8 = [&b"1 (x) \xe2\x82A "[..], zeros(41).as_bytes()].concat();
        assert_eq!(parse_stat(&bad_utf8), Ok(Stat { state: b"\xe2\x82A", num_threads: 0 }));
        for bad in ["0x1f_", "0_", "-_1", "00x1"] {
            let line = format!("1 (x) S {} {bad} {}", zeros(16), zeros(24));
            assert!(parse_stat(line.as_bytes()).is_err(), "{line}");
        }
        assert!(parse_stat(format!("1 (x) S {}", zeros(40)).as_bytes()).is_err());
        assert!(parse_stat(format!("1 (x) S {} -", zeros(40)).as_bytes()).is_err());
    }

    #[test]
    fn bad_stat_files() {
        let malformed = |s: &[u8]| matches!(parse_stat(s), Err(StatError::Malformed(_)));
        for bad in [&b""[..], b"1 (x", b"1 x) S", b"1 ) (x S 1", b"1 (x)", b"1 (x) ", b"1 (x) S"] {
            assert!(malformed(bad), "{:?}", String::from_utf8_lossy(bad));
        }
        // One number changed in an otherwise valid line.
        for (i, v) in [
            (5, "-1"), // a sign on an unsigned field (flags)
            (0, "9223372036854775808"),
            (5, "18446744073709551616"),
            (0, "x"),
            (0, "0x"),
            (0, "_1"),
            (40, "-"),
        ] {
            let mut numbers = ["0"; 41];
            numbers[i] = v;
            let line = format!("1 (x) S {}", numbers.join(" "));
            assert!(malformed(line.as_bytes()), "{line}");
            numbers[i] = "0";
            assert!(parse_stat(format!("1 (x) S {}", numbers.join(" ")).as_bytes()).is_ok());
        }
        assert_eq!(parse_stat(b"no such process"), Err(StatError::NoSuchProcess));
    }

    #[test]
    fn states_as_go_reads_them() {
        let mut counts = Counts::default();
        let r = counts.add(b"R", Table::Procs);
        counts.add(b"S", Table::Procs);
        counts.add(b"R", Table::Procs);
        counts.add_again(r, Table::Tasks);
        counts.add(b"\xe2\x82\x41", Table::Tasks);
        let words = |t: &[(u32, u32, u64)]| -> Vec<(String, u64)> {
            t.iter()
                .map(|&(a, b, n)| {
                    (String::from_utf8(counts.words[a as usize..b as usize].to_vec()).unwrap(), n)
                })
                .collect()
        };
        assert_eq!(words(&counts.procs), [("R".to_owned(), 2), ("S".to_owned(), 1)]);
        assert_eq!(
            words(&counts.tasks),
            [("R".to_owned(), 1), ("\u{fffd}\u{fffd}A".to_owned(), 1)]
        );
    }

    fn stat_line(pid: u32, state: &str, threads: u32) -> String {
        format!(
            "{pid} (p {pid}) {state} 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 {threads} 0 1 0 0 0 0 0 0 \
             0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
        )
    }

    #[test]
    fn processes_and_threads_come_and_go() {
        let root = tmpdir("processes");
        put(&root, "proc/sys/kernel/threads-max", "100\n");
        put(&root, "proc/sys/kernel/pid_max", "4194304\n");
        put(&root, "proc/1/stat", &stat_line(1, "S", 1));
        put(&root, "proc/1/task/1/stat", &stat_line(1, "X", 1));
        put(&root, "proc/42/stat", &stat_line(42, "R", 3));
        put(&root, "proc/42/task/42/stat", "ignored: the process's own state is used");
        put(&root, "proc/42/task/43/stat", &stat_line(43, "D", 3));
        put(&root, "proc/42/task/44/stat", &stat_line(44, "S", 3));
        // Gone between listing and reading: no stat file.
        std::fs::create_dir_all(root.join("proc/42/task/45")).unwrap();
        std::fs::create_dir_all(root.join("proc/77")).unwrap();
        put(&root, "proc/net/dev", "");
        put(&root, "proc/+9/stat", &stat_line(9, "Z", 0));
        put(&root, "proc/9/stat", &stat_line(9, "Z", 0));
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = try_scrape(c.as_mut()).unwrap();
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        // `+9` names pid 9, whose file is read twice, as upstream reads it.
        assert_eq!(
            samples,
            [
                "node_processes_max_processes 4.194304e+06",
                "node_processes_max_threads 100",
                "node_processes_pids 4",
                "node_processes_state{state=\"R\"} 1",
                "node_processes_state{state=\"S\"} 1",
                "node_processes_state{state=\"Z\"} 2",
                "node_processes_threads 4",
                "node_processes_threads_state{thread_state=\"D\"} 1",
                "node_processes_threads_state{thread_state=\"R\"} 1",
                "node_processes_threads_state{thread_state=\"S\"} 2",
            ]
        );
        assert_eq!(fds_under(&root), 2, "only threads-max and pid_max stay open");

        std::fs::remove_dir_all(root.join("proc/42")).unwrap();
        std::fs::remove_dir_all(root.join("proc/+9")).unwrap();
        let text = try_scrape(c.as_mut()).unwrap();
        assert!(text.contains("\nnode_processes_pids 2\n"), "{text}");
        assert!(!text.contains("thread_state=\"D\""));

        // A stat file procfs cannot parse fails the scrape.
        put(&root, "proc/5/stat", "5 (x) S 1 2");
        assert!(matches!(try_scrape(c.as_mut()), Err(Error::Parse { .. })));
        std::fs::remove_dir_all(root.join("proc/5")).unwrap();
        // So does a missing limit file.
        std::fs::remove_file(root.join("proc/sys/kernel/pid_max")).unwrap();
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert!(matches!(try_scrape(c.as_mut()), Err(Error::Read { .. })));
        std::fs::remove_dir_all(&root).unwrap();
        // And a missing procfs.
        assert!(matches!(try_scrape(c.as_mut()), Err(Error::Read { .. })));
    }

    #[test]
    fn live_host() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            let text = try_scrape(c.as_mut()).unwrap();
            let pids = text
                .lines()
                .find_map(|l| l.strip_prefix("node_processes_pids "))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap();
            assert!(pids >= 1.0, "{text}");
            assert!(text.contains("node_processes_threads_state{thread_state=\""));
        }
    }
}
