//! `/proc/schedstat` → `node_schedstat_{running_seconds,waiting_seconds,timeslices}_total{cpu}`;
//! node_exporter's schedstat collector. Per CPU, a `cpu<N>` line of nine counters, the last
//! three being time on the CPU (ns), time waiting for it (ns) and timeslices run, see the
//! kernel's Documentation/scheduler/sched-stats.rst:
//! `cpu0 0 0 3533438 2553969 3853684 2465731 2045936778163 343796328169 4767485`.

use super::{Build, Collector, Error, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::File;
use rustix::io::Errno;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "schedstat", default_enabled: true, flags: &[], blocking: false, build };

const PATH: &str = "proc/schedstat";

#[derive(Debug)]
struct Schedstat {
    file: File,
    buf: Vec<u8>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Schedstat { file: File::new(b.paths.proc("schedstat")), buf: Vec::new() }))
}

impl Collector for Schedstat {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = match self.file.read(&mut self.buf) {
            Ok(src) => src,
            // No CONFIG_SCHEDSTATS.
            Err(Errno::NOENT) => return Err(Error::NoData),
            Err(errno) => return Err(Error::Read { path: PATH, errno }),
        };
        scan(src, enc);
        Ok(())
    }
}

/// Scans the file's text into `enc`. As procfs, which cannot fail here: lines that do not
/// match are skipped, and so are those whose last three counters overflow a `u64`.
pub fn scan(src: &[u8], enc: &mut Encoder) {
    let running = enc.family(
        "node_schedstat_running_seconds_total",
        "Number of seconds CPU spent running a process.",
        Kind::Counter,
    );
    let waiting = enc.family(
        "node_schedstat_waiting_seconds_total",
        "Number of seconds spent by processing waiting for this CPU.",
        Kind::Counter,
    );
    let timeslices = enc.family(
        "node_schedstat_timeslices_total",
        "Number of timeslices executed by CPU.",
        Kind::Counter,
    );
    for line in lex::lines(src) {
        let Some((cpu, counters)) = cpu_line(line) else { continue };
        let [.., run_ns, wait_ns, slices] = counters.map(lex::parse_u64);
        let (Some(run_ns), Some(wait_ns), Some(slices)) = (run_ns, wait_ns, slices) else {
            continue;
        };
        let labels = [("cpu", cpu)];
        enc.sample(running, &labels, run_ns as f64 / 1e9);
        enc.sample(waiting, &labels, wait_ns as f64 / 1e9);
        enc.sample_u64(timeslices, &labels, slices);
    }
}

/// The CPU number and nine counters of the leftmost match of procfs'
/// `cpu(\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)` in `line`. The pattern is
/// unanchored and its groups are single-space separated digit runs, so a match at a given
/// start is decided without backtracking.
fn cpu_line(line: &[u8]) -> Option<(&[u8], [&[u8]; 9])> {
    memchr::memmem::find_iter(line, b"cpu").find_map(|at| {
        let mut rest = &line[at + 3..];
        let cpu = digits(&mut rest)?;
        let mut counters: [&[u8]; 9] = [b""; 9];
        for c in &mut counters {
            rest = rest.strip_prefix(b" ")?;
            *c = digits(&mut rest)?;
        }
        Some((cpu, counters))
    })
}

/// Takes the run of digits `\d+` at the start of `rest`, greedily; `None` if there is none.
fn digits<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let (digits, tail) = rest.split_at(n);
    *rest = tail;
    (n > 0).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_e2e_families, build_with, fixtures, put, render, tmpdir, try_scrape,
    };
    use crate::collector::{Settings, Shared};
    use crate::source::Paths;

    #[test]
    fn fixture_matches_upstream() {
        assert_e2e_families("proc/schedstat", scan);
        let Some(root) = fixtures() else { return };
        let mut c =
            build_with(&SPEC, &Paths::under(root), &Settings::new(), &Shared::default(), &[])
                .unwrap();
        let text = try_scrape(&mut *c).unwrap();
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 6);
    }

    #[test]
    fn lines() {
        let src = b"version 15\ntimestamp 4295\n\
                    cpu12 1 2 3 4 5 6 1500000000 250 7 extra\n\
                    domain0 00000003 1 2 3\n\
                    xcpu007 0 0 0 0 0 0 1 2 3x\n";
        let text = render(|enc| scan(src, enc));
        assert_eq!(
            text.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>(),
            [
                "node_schedstat_running_seconds_total{cpu=\"007\"} 1e-09",
                "node_schedstat_running_seconds_total{cpu=\"12\"} 1.5",
                "node_schedstat_timeslices_total{cpu=\"007\"} 3",
                "node_schedstat_timeslices_total{cpu=\"12\"} 7",
                "node_schedstat_waiting_seconds_total{cpu=\"007\"} 2e-09",
                "node_schedstat_waiting_seconds_total{cpu=\"12\"} 2.5e-07",
            ]
        );
    }

    #[test]
    fn skipped_lines() {
        for line in [
            &b""[..],
            b"cpu0 1 2 3 4 5 6 7 8",
            b"cpu0  1 2 3 4 5 6 7 8 9",
            b"cpu0 1 2 3 4 5 6 7 8 -9",
            b"cpu 1 2 3 4 5 6 7 8 9",
            b"cpu0\t1 2 3 4 5 6 7 8 9",
            b"cpu0 1 2 3 4 5 6 18446744073709551616 8 9",
            b"cpu0 1 2 3 4 5 6 7 8 99999999999999999999",
        ] {
            assert_eq!(render(|enc| scan(line, enc)), "", "{}", String::from_utf8_lossy(line));
        }
        // A `cpu` that starts no match is passed over for a later one that does.
        let text = render(|enc| scan(b"cpu1 x cpu2 1 2 3 4 5 6 7 8 9", enc));
        assert!(text.contains("{cpu=\"2\"} 9\n"), "{text}");
    }

    #[test]
    fn missing_file_is_no_data() {
        let d = tmpdir("schedstat");
        let mut c = build_with(&SPEC, &Paths::under(&d), &Settings::new(), &Shared::default(), &[])
            .unwrap();
        assert_eq!(try_scrape(&mut *c), Err(Error::NoData));
        put(&d, "proc/schedstat", "version 15\n");
        assert_eq!(try_scrape(&mut *c), Ok(String::new()));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
