//! `/proc/stat` → `node_intr_total`, `node_context_switches_total`, `node_forks_total`,
//! `node_boot_time_seconds`, `node_procs_{running,blocked}` and, with
//! `--collector.stat.softirq`, `node_softirqs_total{vector}`; node_exporter's stat collector.
//! `key value...` lines, see proc_stat(5): `ctxt 38014093`, `softirq 5057579 250191 1481983 ..`.
//!
//! The file is parsed here for both this collector and the cpu one ([`parse`]), as procfs'
//! `Stat()` parses it for both upstream: every line either collector relies on must be valid
//! for either to report, so a malformed `cpuN` line fails this collector too, and a malformed
//! `btime` the cpu one.

use super::{Build, Collector, Error, Flag, FlagKind, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::File;

/// Registration.
pub const SPEC: Spec = Spec {
    name: "stat",
    default_enabled: true,
    flags: &[Flag {
        name: SOFTIRQ,
        help: "Export softirq calls per vector",
        kind: FlagKind::Bool,
        default: "false",
        aliases: &[],
    }],
    blocking: false,
    build,
};

const SOFTIRQ: &str = "collector.stat.softirq";
/// The path errors name, shared with the cpu collector.
pub(super) const PATH: &str = "proc/stat";

/// The ticks per second of `/proc/stat`'s times: `USER_HZ`, 100 on every architecture Linux
/// exports to user space, as procfs assumes.
const USER_HZ: f64 = 100.0;

/// The softirq vectors of the `softirq` line, in the kernel's order.
const VECTORS: [&str; 10] = [
    "hi",
    "timer",
    "net_tx",
    "net_rx",
    "block",
    "block_iopoll",
    "tasklet",
    "sched",
    "hrtimer",
    "rcu",
];

#[derive(Debug)]
struct Stat {
    file: File,
    buf: Vec<u8>,
    softirq: bool,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Stat {
        file: File::new(b.paths.proc("stat")),
        buf: Vec::new(),
        softirq: b.settings.bool(SOFTIRQ),
    }))
}

impl Collector for Stat {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = self.file.read(&mut self.buf).map_err(Error::read(PATH))?;
        scan(src, enc, self.softirq).map_err(Error::parse(PATH))
    }
}

/// The system-wide lines of `/proc/stat`; a line that is absent leaves its field 0, as procfs
/// leaves it.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Totals {
    /// `btime`: boot time, seconds since the epoch.
    pub boot_time: u64,
    /// `intr`: interrupts serviced (its first number; the per-IRQ ones are only checked).
    pub intr: u64,
    /// `ctxt`: context switches.
    pub ctxt: u64,
    /// `processes`: forks.
    pub processes: u64,
    /// `procs_running`.
    pub procs_running: u64,
    /// `procs_blocked`.
    pub procs_blocked: u64,
    /// `softirq`: calls per vector, in `VECTORS` order (its total is not reported).
    pub softirq: [u64; 10],
    /// Lines with a key this parser knows (`cpu*` included).
    pub keys: u32,
}

/// One CPU's times in seconds: user, nice, system, idle, iowait, irq, softirq, steal, guest,
/// guest_nice. Those a short line lacks are 0.
pub type CpuTimes = [f64; 10];

/// Parses the whole file as procfs' `Stat()` does, handing each `cpuN` line's number and times
/// to `cpu` in file order (the `cpu` total line is checked, not handed on).
///
/// Lines with fewer than two fields, and unknown keys, are skipped. `btime`, `ctxt`,
/// `processes`, `procs_running`, `procs_blocked` and every number of `intr` must be unsigned
/// integers; `softirq` needs eleven, after Go's `Sscanf("%s %d %d ..")`; a `cpu*` line needs
/// a decimal CPU number and up to ten floats, after `Sscanf("%s %f %f ..")`, which lets a short
/// line through. Nothing is known to be valid before this returns, so callers emit after.
///
/// # Errors
/// The first line procfs rejects.
pub fn parse(src: &[u8], mut cpu: impl FnMut(i64, &CpuTimes)) -> Result<Totals, ParseError> {
    let mut t = Totals::default();
    for (n, line) in lex::lines(src).enumerate() {
        let at = |what| ParseError::at(n + 1, what);
        let mut fields = lex::fields(line);
        let (Some(key), Some(first)) = (fields.next(), fields.next()) else { continue };
        let known = matches!(
            key,
            b"btime"
                | b"intr"
                | b"ctxt"
                | b"processes"
                | b"procs_running"
                | b"procs_blocked"
                | b"softirq"
        );
        t.keys += u32::from(known || key.starts_with(b"cpu"));
        let slot = match key {
            b"btime" => &mut t.boot_time,
            b"intr" => {
                // Only the total is reported, but procfs parses every per-IRQ count.
                if !fields.all(|f| lex::parse_u64(f).is_some()) {
                    return Err(at("invalid intr count"));
                }
                &mut t.intr
            }
            b"ctxt" => &mut t.ctxt,
            b"processes" => &mut t.processes,
            b"procs_running" => &mut t.procs_running,
            b"procs_blocked" => &mut t.procs_blocked,
            b"softirq" => {
                lex::parse_u64(first).ok_or(at("invalid softirq total"))?;
                scan_uints(fields, &mut t.softirq).ok_or(at("expected eleven softirq counts"))?;
                continue;
            }
            _ if key.starts_with(b"cpu") => {
                let (id, times) = cpu_line(key, first, fields).ok_or(at("invalid cpu line"))?;
                // procfs files `cpu` (and, by the same test, `cpu-1`) as the total.
                if id != -1 {
                    cpu(id, &times);
                }
                continue;
            }
            _ => continue,
        };
        *slot = lex::parse_u64(first).ok_or(at("expected an unsigned integer"))?;
    }
    Ok(t)
}

/// Scans `%d %d ..` into `out` as `Sscanf` does: each needs a run of digits that is the whole
/// field, but for the last, after which the format ends and anything may follow.
fn scan_uints<'a>(mut fields: impl Iterator<Item = &'a [u8]>, out: &mut [u64]) -> Option<()> {
    let last = out.len() - 1;
    for (i, v) in out.iter_mut().enumerate() {
        let field = fields.next()?;
        let n = field.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 || (n < field.len() && i < last) {
            return None;
        }
        *v = lex::parse_u64(&field[..n])?;
    }
    Some(())
}

/// A `cpu*` line: the CPU number (`-1` for the `cpu` total) and the times in seconds, the
/// ticks divided by [`USER_HZ`] as procfs divides them.
fn cpu_line<'a>(
    key: &[u8],
    first: &'a [u8],
    rest: impl Iterator<Item = &'a [u8]>,
) -> Option<(i64, CpuTimes)> {
    let id = match &key[3..] {
        b"" => -1,
        n => lex::parse_i64(n)?,
    };
    let mut times = [0.0; 10];
    // `Sscanf` stops quietly at the end of the line, so missing times stay 0; a float token
    // that is not the whole field is an error but for the last, after which the format ends.
    for (i, (field, t)) in std::iter::once(first).chain(rest).zip(&mut times).enumerate() {
        let n = lex::float_token_len(field);
        if n < field.len() && i < 9 {
            return None;
        }
        *t = lex::parse_f64(&field[..n])? / USER_HZ;
    }
    Some((id, times))
}

/// Scans the file's text into `enc`, with the per-vector softirq counts if `softirq`; adds
/// nothing unless the whole file parses.
///
/// Unlike node_exporter, a file without a single known key fails: it is not `/proc/stat` at
/// all (garbage, an empty file, another file in its place), and a boot time and counters of 0
/// would pass it off as data. (The cpu collector, which only lists the `cpu*` lines it finds,
/// keeps procfs' leniency.)
pub fn scan(src: &[u8], enc: &mut Encoder, softirq: bool) -> Result<(), ParseError> {
    let t = parse(src, |_, _| {})?;
    if t.keys == 0 {
        return Err(ParseError::at(0, "no known key: not a /proc/stat file"));
    }
    let plain = [
        ("node_intr_total", "Total number of interrupts serviced.", Kind::Counter, t.intr),
        ("node_context_switches_total", "Total number of context switches.", Kind::Counter, t.ctxt),
        ("node_forks_total", "Total number of forks.", Kind::Counter, t.processes),
        ("node_boot_time_seconds", "Node boot time, in unixtime.", Kind::Gauge, t.boot_time),
        (
            "node_procs_running",
            "Number of processes in runnable state.",
            Kind::Gauge,
            t.procs_running,
        ),
        (
            "node_procs_blocked",
            "Number of processes blocked waiting for I/O to complete.",
            Kind::Gauge,
            t.procs_blocked,
        ),
    ];
    for (name, help, kind, v) in plain {
        let f = enc.family(name, help, kind);
        enc.sample_u64(f, &[], v);
    }
    if softirq {
        let f = enc.family("node_softirqs_total", "Number of softirq calls.", Kind::Counter);
        for (vector, v) in VECTORS.iter().zip(t.softirq) {
            enc.sample_u64(f, &[("vector", vector.as_bytes())], v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_e2e_families, assert_matches_e2e, build_with, fixtures, render, try_scrape,
    };
    use crate::collector::{Settings, Shared};
    use crate::source::Paths;

    #[test]
    fn fixture_matches_upstream() {
        assert_e2e_families("proc/stat", |src, enc| scan(src, enc, true).unwrap());
        let Some(root) = fixtures() else { return };
        let mut settings = Settings::new();
        settings.set(SOFTIRQ, "true");
        let mut c =
            build_with(&SPEC, &Paths::under(&root), &settings, &Shared::default(), &[]).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        assert_matches_e2e(&text);
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 16);
        // Without the flag (its default), no per-vector counts.
        let mut c =
            build_with(&SPEC, &Paths::under(&root), &Settings::new(), &Shared::default(), &[])
                .unwrap();
        assert!(!try_scrape(&mut *c).unwrap().contains("node_softirqs_total"));
    }

    #[test]
    fn values_and_cpu_lines() {
        let src = b"cpu  10 20 30 40 50 60 70 80 90 100\n\
                    cpu0 1 2 3 4 5 6 7 8 9 10 11 12\n\
                    cpu1 150 0 0 0\n\
                    cpu007 1 2 3 4 5 6 7 8 9 10x\n\
                    intr 12 1 0 11\n\
                    ctxt 18446744073709551615\n\
                    btime 1418183276\n\
                    processes 26442\n\
                    procs_running 2\n\
                    procs_blocked 1\n\
                    softirq 66 1 2 3 4 5 6 7 8 9 10 11x\n\
                    future_key x\n\
                    lonely\n";
        let mut cpus = Vec::new();
        let t = parse(src, |id, times| cpus.push((id, *times))).unwrap();
        assert_eq!(
            t,
            Totals {
                boot_time: 1418183276,
                intr: 12,
                ctxt: u64::MAX,
                processes: 26442,
                procs_running: 2,
                procs_blocked: 1,
                softirq: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
                keys: 11,
            }
        );
        assert_eq!(cpus.len(), 3);
        assert_eq!(cpus[0], (0, [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1]));
        assert_eq!(cpus[1], (1, [1.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]));
        assert_eq!(cpus[2].0, 7);
        let text = render(|enc| scan(src, enc, true).unwrap());
        assert!(text.contains("\nnode_context_switches_total 1.8446744073709552e+19\n"));
        assert!(text.contains("\nnode_softirqs_total{vector=\"rcu\"} 10\n"));
        assert!(text.contains("\nnode_procs_blocked 1\n"));
        // Missing lines report 0, as upstream.
        let text = render(|enc| scan(b"ctxt 5\n", enc, true).unwrap());
        assert!(text.contains("\nnode_boot_time_seconds 0\n"));
        assert!(text.contains("\nnode_softirqs_total{vector=\"hi\"} 0\n"));
        // A file without one known key is not /proc/stat: refused, not reported as zeros.
        for bad in [&b""[..], b"\n", b"garbage {{ x\nnot: proc 1 2\n"] {
            let err = scan(bad, &mut Encoder::new(), false).unwrap_err();
            assert_eq!(err.to_string(), "no known key: not a /proc/stat file", "{bad:?}");
        }
    }

    #[test]
    fn bad_input() {
        let cases: [&[u8]; 16] = [
            b"btime x\n",
            b"btime -1\n",
            b"ctxt 18446744073709551616\n",
            b"processes 1.5\n",
            b"procs_running 2 \nprocs_blocked +1\n",
            b"intr 5 1 2 x\n",
            b"intr 5 1 2 -3\n",
            b"softirq 66 1 2 3 4 5 6 7 8 9\n",
            b"softirq 66 1 2 3 4 5 6 7 8 9 +10\n",
            b"softirq 66 1 2 3 4x 5 6 7 8 9 10\n",
            b"softirq x 1 2 3 4 5 6 7 8 9 10\n",
            b"cpu0 1 2 x\n",
            b"cpu0 1x 2 3\n",
            b"cpux 1 2 3\n",
            b"cpu0 1 2 3 1e400\n",
            b"cpu0 1 2 0x10 4\n",
        ];
        for src in cases {
            let full = [b"btime 1\nctxt 2\n", src].concat();
            let mut enc = Encoder::new();
            let err = scan(&full, &mut enc, true).unwrap_err();
            assert!(err.line >= 3, "{:?}: {err}", String::from_utf8_lossy(src));
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "a failed scan left samples behind");
        }
        // What procfs lets through: short lines, a bare `cpu0`, odd but valid floats.
        let ok = b"cpu0\nbtime\ncpu1 1e2 +3 -0 .5 5. inf nan 1E1 7 8\n\
                   softirq 1 2 3 4 5 6 7 8 9 10 11 12\n";
        let mut cpus = Vec::new();
        parse(ok, |id, times| cpus.push((id, times[0]))).unwrap();
        assert_eq!(cpus, [(1, 1.0)]);
        // The CPU number is Go's ParseInt: a sign is allowed, and `cpu-1` is taken for the total.
        let mut cpus = Vec::new();
        parse(b"cpu-1 5 5\ncpu+3 5\n", |id, times| cpus.push((id, times[0]))).unwrap();
        assert_eq!(cpus, [(3, 0.05)]);
        assert!(parse(b"cpu1 1 2 3 4 5 6 7 8 9x 10\n", |_, _| {}).is_err());
    }
}
