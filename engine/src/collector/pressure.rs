//! `/proc/pressure/{cpu,io,memory}` → `node_pressure_*_seconds_total`; node_exporter's pressure
//! collector. Pressure stall information, see the kernel's Documentation/accounting/psi.rst:
//! a `some` line and (io and memory; cpu since 5.13) a `full` line, totals in microseconds:
//! `some avg10=0.06 avg60=0.21 avg300=0.99 total=8537362`.
//!
//! Reported: cpu `some` as waiting; io and memory `some` as waiting and `full` as stalled. cpu's
//! `full` line is not reported, as upstream. Without PSI (kernel before 4.20, `CONFIG_PSI` off:
//! no files; `psi=0`: `EOPNOTSUPP`) the collector reports no data, as upstream.

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::File;
use rustix::io::Errno;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "pressure", default_enabled: true, flags: &[], blocking: false, build };

/// The resources in upstream's order (the first failure decides the error), with their paths.
const RESOURCES: [(Resource, &str); 3] = [
    (Resource::Cpu, "proc/pressure/cpu"),
    (Resource::Io, "proc/pressure/io"),
    (Resource::Memory, "proc/pressure/memory"),
];

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Resource {
    Cpu,
    Io,
    Memory,
}

#[derive(Debug)]
struct Pressure {
    files: [File; 3],
    buf: Vec<u8>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Pressure {
        files: [
            File::new(b.paths.proc("pressure/cpu")),
            File::new(b.paths.proc("pressure/io")),
            File::new(b.paths.proc("pressure/memory")),
        ],
        buf: Vec::new(),
    }))
}

/// The totals of one file, in microseconds.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Stall {
    /// The `some` line's total, if the file has one.
    pub some: Option<u64>,
    /// The `full` line's total, if the file has one.
    pub full: Option<u64>,
}

impl Collector for Pressure {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        // All three files are read and checked before anything is added.
        let mut totals = [(0u64, 0u64); 3];
        for ((file, (res, path)), total) in self.files.iter_mut().zip(RESOURCES).zip(&mut totals) {
            let src = match file.read(&mut self.buf) {
                Ok(src) => src,
                Err(e) if e == Errno::NOENT || e == Errno::NOTSUP => return Err(Error::NoData),
                Err(errno) => return Err(Error::Read { path, errno }),
            };
            let stall = parse(src).map_err(Error::parse(path))?;
            *total = match (stall.some, stall.full) {
                // cpu's `full` (5.13+) is not reported, so not required.
                (Some(some), _) if res == Resource::Cpu => (some, 0),
                (Some(some), Some(full)) => (some, full),
                _ => return Err(Error::NoData),
            };
        }
        emit(enc, totals[0].0, totals[1], totals[2]);
        Ok(())
    }
}

/// Adds the five families: cpu waiting, then io and memory as `(waiting, stalled)` totals in
/// microseconds.
pub fn emit(enc: &mut Encoder, cpu: u64, io: (u64, u64), memory: (u64, u64)) {
    let families = [
        (
            "node_pressure_cpu_waiting_seconds_total",
            "Total time in seconds that processes have waited for CPU time",
            cpu,
        ),
        (
            "node_pressure_io_waiting_seconds_total",
            "Total time in seconds that processes have waited due to IO congestion",
            io.0,
        ),
        (
            "node_pressure_io_stalled_seconds_total",
            "Total time in seconds no process could make progress due to IO congestion",
            io.1,
        ),
        (
            "node_pressure_memory_waiting_seconds_total",
            "Total time in seconds that processes have waited for memory",
            memory.0,
        ),
        (
            "node_pressure_memory_stalled_seconds_total",
            "Total time in seconds no process could make progress due to memory congestion",
            memory.1,
        ),
    ];
    for (name, help, us) in families {
        let f = enc.family(name, help, Kind::Counter);
        // Upstream's arithmetic, in its order: float64(total)/1000.0/1000.0.
        enc.sample(f, &[], us as f64 / 1000.0 / 1000.0);
    }
}

/// Parses one file. Lines whose first space-separated word is neither `some` nor `full` are
/// skipped; of two lines with the same word the later counts.
///
/// # Errors
/// A `some` or `full` line that procfs' `Sscanf` with
/// `avg10=%f avg60=%f avg300=%f total=%d` rejects.
pub fn parse(src: &[u8]) -> Result<Stall, ParseError> {
    let mut stall = Stall::default();
    for (n, line) in lex::lines(src).enumerate() {
        let word = line.split(|&b| b == b' ').next().unwrap_or_default();
        let slot = match word {
            b"some" => &mut stall.some,
            b"full" => &mut stall.full,
            _ => continue,
        };
        *slot = Some(scan_line(&line[word.len()..]).map_err(|what| ParseError::at(n + 1, what))?);
    }
    Ok(stall)
}

/// Scans what follows `some`/`full` as Go's `Sscanf` does with the format
/// ` avg10=%f avg60=%f avg300=%f total=%d`: a space in the format takes one or more spaces
/// (or the end of input), a verb first skips spaces, `%f` takes Go's float token, `%d` a run of
/// digits; whatever follows the total is ignored. Returns the total.
fn scan_line(mut rest: &[u8]) -> Result<u64, &'static str> {
    let [avgs @ .., total] = [&b"avg10="[..], b"avg60=", b"avg300=", b"total="];
    for key in avgs {
        rest = scan_key(rest, key)?;
        let n = lex::float_token_len(rest);
        lex::parse_f64(&rest[..n]).ok_or("invalid average")?;
        rest = &rest[n..];
    }
    rest = scan_key(rest, total)?;
    match rest.iter().take_while(|b| b.is_ascii_digit()).count() {
        0 => Err("expected integer"),
        n => lex::parse_u64(&rest[..n]).ok_or("total out of range"),
    }
}

/// Takes ` key` from `rest` as `Sscanf` does, and the spaces a verb skips after it.
fn scan_key<'a>(rest: &'a [u8], key: &[u8]) -> Result<&'a [u8], &'static str> {
    let spaces = rest.iter().take_while(|&&b| lex::is_space(b)).count();
    if spaces == 0 && !rest.is_empty() {
        return Err("expected space in input to match format");
    }
    let rest = rest[spaces..].strip_prefix(key).ok_or("input does not match format")?;
    Ok(&rest[rest.iter().take_while(|&&b| lex::is_space(b)).count()..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build_with, fixtures, put, tmpdir, try_scrape,
    };
    use crate::collector::{Settings, Shared};
    use crate::source::Paths;

    fn collector(paths: &Paths) -> Box<dyn Collector> {
        build_with(&SPEC, paths, &Settings::new(), &Shared::default(), &[]).unwrap()
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let text = try_scrape(&mut *collector(&Paths::under(root))).unwrap();
        assert_matches_e2e(&text);
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 5);
    }

    #[test]
    fn lines() {
        let src = b"some avg10=0.06 avg60=0.21 avg300=0.99 total=8537362\n\
                    full avg10=0.00 avg60=0.13 avg300=0.96 total=8183134\n";
        assert_eq!(parse(src), Ok(Stall { some: Some(8537362), full: Some(8183134) }));
        assert_eq!(
            parse(b"some avg10=0.00 avg60=0.00 avg300=0.00 total=14036781\n").unwrap().full,
            None
        );
        // What Go's Sscanf lets through: more spaces, spaces after `=`, tabs between fields,
        // anything after the total, other words, a later line over an earlier one.
        for line in [
            &b"some avg10=0.06  avg60=0.21 avg300=0.99 total=5"[..],
            b"some avg10= 0.06 avg60=0.21 avg300=0.99 total= 5",
            b"some avg10=0.06\tavg60=0.21 avg300=0.99 total=5",
            b"some avg10=0.06 avg60=0.21 avg300=0.99 total=5abc",
            b"some avg10=1e3 avg60=inf avg300=nan total=005 more",
            b"some avg10=9 avg60=9 avg300=9 total=9\nsome avg10=0 avg60=0 avg300=0 total=5",
            b"other line\nsome avg10=0 avg60=0 avg300=0 total=5\nsome\tx\n",
        ] {
            assert_eq!(parse(line).unwrap().some, Some(5), "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn bad_lines() {
        for line in [
            &b"some"[..],
            b"some ",
            b"some avg10=0.06 avg60=0.21 avg300=0.99",
            b"some avg10=0.06 avg60=0.21 avg300=0.99 total=",
            b"some avg10=0.06 avg60=0.21 avg300=0.99 total=-5",
            b"some avg10=0.06 avg60=0.21 avg300=0.99 total=+5",
            b"some avg10=0.06 avg60=0.21 avg300=0.99 total=18446744073709551616",
            b"some avg10=x avg60=0.21 avg300=0.99 total=5",
            b"some avg10=0.06avg60=0.21 avg300=0.99 total=5",
            b"full avg10=0.06 avg60=0.21 avg300=1e400 total=5",
            b"full avg10=0.06 avg60=0.21 avg30=0.99 total=5",
        ] {
            assert!(parse(line).is_err(), "{}", String::from_utf8_lossy(line));
        }
        let err = parse(b"some avg10=0 avg60=0 avg300=0 total=1\nfull avg10=0\n").unwrap_err();
        assert_eq!(err.line, 2);
    }

    #[test]
    fn no_data_and_errors() {
        let d = tmpdir("pressure");
        let paths = Paths::under(&d);
        let mut c = collector(&paths);
        let ok = "some avg10=0 avg60=0 avg300=0 total=2500000\n\
                  full avg10=0 avg60=0 avg300=0 total=1000\n";
        // No files: no PSI in this kernel.
        assert_eq!(try_scrape(&mut *c), Err(Error::NoData));
        // Before 5.13 the cpu file has only `some`: still reported.
        put(&d, "proc/pressure/cpu", "some avg10=0 avg60=0 avg300=0 total=14036781\n");
        put(&d, "proc/pressure/io", ok);
        assert_eq!(try_scrape(&mut *c), Err(Error::NoData), "memory missing");
        put(&d, "proc/pressure/memory", ok);
        let text = try_scrape(&mut *c).unwrap();
        assert!(text.contains("\nnode_pressure_cpu_waiting_seconds_total 14.036781000000001\n"));
        assert!(text.contains("\nnode_pressure_memory_waiting_seconds_total 2.5\n"));
        assert!(text.contains("\nnode_pressure_io_stalled_seconds_total 0.001\n"));
        // io or memory without `full`, any file without `some`: no data, nothing added.
        put(&d, "proc/pressure/memory", "some avg10=0 avg60=0 avg300=0 total=1\n");
        assert_eq!(try_scrape(&mut *c), Err(Error::NoData));
        put(&d, "proc/pressure/memory", ok);
        put(&d, "proc/pressure/cpu", "");
        assert_eq!(try_scrape(&mut *c), Err(Error::NoData));
        // A malformed line fails the collector, naming the file.
        put(&d, "proc/pressure/cpu", "some avg10=0 avg60=0 avg300=0 total=x\n");
        assert!(matches!(
            try_scrape(&mut *c),
            Err(Error::Parse { path: "proc/pressure/cpu", err: ParseError { line: 1, .. } })
        ));
        // Huge totals are floats.
        put(&d, "proc/pressure/cpu", "some avg10=0 avg60=0 avg300=0 total=18446744073709551615\n");
        let text = try_scrape(&mut *c).unwrap();
        assert!(text.contains("\nnode_pressure_cpu_waiting_seconds_total 1.844674407370955e+13\n"));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
