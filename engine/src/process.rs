//! `process_*`: the serving process's own CPU time, memory, file descriptors and start time,
//! with the names and HELP texts the Prometheus Go client's process collector uses, so
//! dashboards written for Go exporters work unchanged.
//!
//! Reads the real `/proc/self` (not `--path.procfs`, as upstream): `stat` for CPU ticks, vsize
//! and rss (see proc(5); the command name in parentheses may itself hold spaces and `)`),
//! `limits` for the open-files and address-space soft limits (`unlimited` is `2^64 - 1`), and
//! the size of the `fd` directory, which Linux 6.2+ reports as the number of open fds (older
//! kernels report 0, and the directory is listed instead).

use crate::collector::ParseError;
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::{Dir, File};
use rustix::io::Errno;

/// Clock ticks per second of `/proc` times; fixed at 100 on Linux's user-space ABI.
const USER_HZ: f64 = 100.0;

/// Reader of the process's own metrics; one per serving thread, fds kept.
#[derive(Debug)]
pub struct Process {
    stat: File,
    limits: File,
    fd_dir: Dir,
    buf: Vec<u8>,
    start_time: Option<f64>,
    page_size: u64,
}

impl Default for Process {
    fn default() -> Self {
        Process::new()
    }
}

impl Process {
    /// Opens nothing yet; reads the boot time once to fix the start time.
    pub fn new() -> Process {
        let mut p = Process {
            stat: File::new("/proc/self/stat"),
            limits: File::new("/proc/self/limits"),
            fd_dir: Dir::new("/proc/self/fd"),
            buf: Vec::new(),
            start_time: None,
            page_size: rustix::param::page_size() as u64,
        };
        p.start_time = p.read_start_time();
        p
    }

    fn read_start_time(&mut self) -> Option<f64> {
        let boot = {
            let src = File::new("/proc/stat").read(&mut self.buf).ok()?;
            lex::lines(src)
                .find_map(|l| l.strip_prefix(b"btime "))
                .and_then(|v| lex::parse_u64(lex::trim(v)))?
        };
        let src = self.stat.read(&mut self.buf).ok()?;
        let stat = scan_stat(src).ok()?;
        Some(boot as f64 + stat.start_ticks as f64 / USER_HZ)
    }

    /// Adds the `process_*` families to `enc`. A file that cannot be read leaves its families
    /// out, as the Go collector does.
    pub fn collect(&mut self, enc: &mut Encoder) {
        if let Ok(src) = self.stat.read(&mut self.buf) {
            if let Ok(stat) = scan_stat(src) {
                let f = enc.family(
                    "process_cpu_seconds_total",
                    "Total user and system CPU time spent in seconds.",
                    Kind::Counter,
                );
                enc.sample(f, &[], stat.cpu_ticks as f64 / USER_HZ);
                let f = enc.family(
                    "process_virtual_memory_bytes",
                    "Virtual memory size in bytes.",
                    Kind::Gauge,
                );
                enc.sample_u64(f, &[], stat.vsize);
                let f = enc.family(
                    "process_resident_memory_bytes",
                    "Resident memory size in bytes.",
                    Kind::Gauge,
                );
                enc.sample_u64(f, &[], stat.rss_pages.saturating_mul(self.page_size));
            }
        }
        if let Some(t) = self.start_time {
            let f = enc.family(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                Kind::Gauge,
            );
            enc.sample(f, &[], t);
        }
        if let Ok(n) = self.open_fds() {
            let f = enc.family("process_open_fds", "Number of open file descriptors.", Kind::Gauge);
            enc.sample_u64(f, &[], n);
        }
        if let Ok(src) = self.limits.read(&mut self.buf) {
            if let Ok(lim) = scan_limits(src) {
                let f = enc.family(
                    "process_max_fds",
                    "Maximum number of open file descriptors.",
                    Kind::Gauge,
                );
                enc.sample_u64(f, &[], lim.open_files);
                let f = enc.family(
                    "process_virtual_memory_max_bytes",
                    "Maximum amount of virtual memory available in bytes.",
                    Kind::Gauge,
                );
                enc.sample_u64(f, &[], lim.address_space);
            }
        }
    }

    fn open_fds(&mut self) -> Result<u64, Errno> {
        // The kept fd of the directory is itself open and counted, as the fd of a listing is.
        let size = self.fd_dir.size()?;
        if size > 0 {
            return Ok(size);
        }
        let mut n = 0;
        self.fd_dir.for_each(|_, _| n += 1)?;
        Ok(n)
    }
}

/// The fields of `/proc/self/stat` the collector uses.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Stat {
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    /// Start time after boot, in clock ticks.
    pub start_ticks: u64,
    /// Virtual memory size in bytes.
    pub vsize: u64,
    /// Resident set size in pages.
    pub rss_pages: u64,
}

/// Scans `/proc/<pid>/stat`.
///
/// # Errors
/// A missing `)` after the command name, or fewer than 24 fields.
pub fn scan_stat(src: &[u8]) -> Result<Stat, ParseError> {
    let close = memchr::memrchr(b')', src).ok_or(ParseError::at(1, "no ')' after the command"))?;
    // Fields from the state (field 3) on; utime is field 14.
    let mut f = lex::fields(&src[close + 1..]).skip(11);
    let mut next = |what| f.next().and_then(lex::parse_u64).ok_or(ParseError::at(1, what));
    let utime = next("expected utime")?;
    let stime = next("expected stime")?;
    let mut f = lex::fields(&src[close + 1..]).skip(19);
    let mut next = |what| f.next().and_then(lex::parse_u64).ok_or(ParseError::at(1, what));
    let start_ticks = next("expected starttime")?;
    let vsize = next("expected vsize")?;
    let rss = f.next().and_then(lex::parse_i64).ok_or(ParseError::at(1, "expected rss"))?;
    Ok(Stat {
        cpu_ticks: utime.saturating_add(stime),
        start_ticks,
        vsize,
        rss_pages: rss.max(0) as u64,
    })
}

/// The soft limits the collector reports.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Limits {
    /// `Max open files`.
    pub open_files: u64,
    /// `Max address space` in bytes; `unlimited` is `u64::MAX`.
    pub address_space: u64,
}

/// Scans `/proc/<pid>/limits`: a header line, then `Max <name>  <soft>  <hard>  [<units>]`
/// with the name padded to a fixed column.
///
/// # Errors
/// A limit line whose soft value is neither a number nor `unlimited`, or a missing limit.
pub fn scan_limits(src: &[u8]) -> Result<Limits, ParseError> {
    let mut open_files = None;
    let mut address_space = None;
    for (n, line) in lex::lines(src).enumerate().skip(1) {
        let slot = if line.starts_with(b"Max open files ") {
            &mut open_files
        } else if line.starts_with(b"Max address space ") {
            &mut address_space
        } else {
            continue;
        };
        // The soft value is the first field after the (space-separated) name.
        let soft =
            lex::fields(line).nth(3).ok_or(ParseError::at(n + 1, "expected a soft limit"))?;
        *slot = Some(match soft {
            b"unlimited" => u64::MAX,
            v => lex::parse_u64(v).ok_or(ParseError::at(n + 1, "expected a number"))?,
        });
    }
    match (open_files, address_space) {
        (Some(open_files), Some(address_space)) => Ok(Limits { open_files, address_space }),
        _ => Err(ParseError::at(0, "limits missing")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::render;

    const STAT: &[u8] = b"4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 125 0 0 \
20 0 3 0 98765 123456789 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

    const LIMITS: &[u8] =
        b"Limit                     Soft Limit           Hard Limit           Units     \n\
Max cpu time              unlimited            unlimited            seconds   \n\
Max open files            1048576              1048576              files     \n\
Max address space         unlimited            unlimited            bytes     \n";

    #[test]
    fn stat_fields() {
        let s = scan_stat(STAT).unwrap();
        assert_eq!(
            s,
            Stat { cpu_ticks: 375, start_ticks: 98765, vsize: 123456789, rss_pages: 2048 }
        );
        assert!(scan_stat(b"1 (x) S 1 2 3").is_err());
        assert!(scan_stat(b"no parens").is_err());
        assert!(scan_stat(b"").is_err());
    }

    #[test]
    fn limits_fields() {
        let l = scan_limits(LIMITS).unwrap();
        assert_eq!(l, Limits { open_files: 1048576, address_space: u64::MAX });
        assert!(scan_limits(b"Limit\nMax open files  x  y  files\n").is_err());
        assert!(scan_limits(b"Limit\n").is_err());
    }

    #[test]
    fn live_process_families() {
        let mut p = Process::new();
        let text = render(|enc| p.collect(enc));
        for family in [
            "process_cpu_seconds_total",
            "process_max_fds",
            "process_open_fds",
            "process_resident_memory_bytes",
            "process_start_time_seconds",
            "process_virtual_memory_bytes",
            "process_virtual_memory_max_bytes",
        ] {
            assert!(text.contains(&format!("\n{family} ")), "{family} missing:\n{text}");
        }
        // Open fds as the kernel counts them, against a listing done here.
        let listed = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
        let reported = p.open_fds().unwrap();
        assert!(reported.abs_diff(listed) <= 2, "reported {reported}, listed {listed}");
    }
}
