//! `/sys/class/scsi_tape/st<N>/stats/*` → `node_tape_*`{device}; node_exporter's tapestats
//! collector.
//!
//! The SCSI tape driver keeps ten counters per drive, one file each (`read_cnt` holds `3741\n`,
//! times in nanoseconds), see the kernel's Documentation/scsi/st.rst, "Sysfs and statistics
//! for tape devices". Only the `st<N>` entries are drives; `nst0`, `st0a` ... are other
//! minor devices of the same drives.
//!
//! As upstream: every drive is read before anything is reported, including drives the
//! `--collector.tapestats.ignored-devices` pattern leaves out (upstream filters after
//! parsing), and a failure to read or parse a counter fails the collector; a missing
//! `scsi_tape` or `stats` directory reports no data. Each drive keeps its counter files open
//! ([`Entries`]); directories are listed afresh. A file in `stats` that is not one of the ten is not
//! read; upstream reads it and ignores the value.

use super::sysattr;
use super::{Build, Collector, Error, Flag, FlagKind, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::source::{c_path, Entries, File, Lister};
use regex::bytes::Regex;
use rustix::io::Errno;
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Registration.
pub const SPEC: Spec =
    Spec { name: "tapestats", default_enabled: true, flags: FLAGS, blocking: false, build };

const IGNORED: &str = "collector.tapestats.ignored-devices";

const FLAGS: &[Flag] = &[Flag {
    name: IGNORED,
    help: "Regexp of devices to ignore for tapestats.",
    kind: FlagKind::Regex,
    default: "^$",
    aliases: &[],
}];

const PATH: &str = "sys/class/scsi_tape";

/// The counter files, sorted (for lookup by name), and how each is reported: metric name,
/// HELP, type, and whether it counts nanoseconds (reported in seconds).
const COUNTERS: [(&str, &str, &str, Kind, bool); 10] = [
    (
        "in_flight",
        "node_tape_io_now",
        "The number of I/Os currently outstanding to this device.",
        Kind::Gauge,
        false,
    ),
    (
        "io_ns",
        "node_tape_io_time_seconds_total",
        "The amount of time spent waiting for all I/O to complete (including read and write). \
         This includes tape movement commands such as seeking between file or set marks and \
         implicit tape movement such as when rewind on close tape devices are used.",
        Kind::Counter,
        true,
    ),
    (
        "other_cnt",
        "node_tape_io_others_total",
        "The number of I/Os issued to the tape drive other than read or write commands. The \
         time taken to complete these commands uses the following calculation \
         io_time_seconds_total-read_time_seconds_total-write_time_seconds_total",
        Kind::Counter,
        false,
    ),
    (
        "read_byte_cnt",
        "node_tape_read_bytes_total",
        "The number of bytes read from the tape drive.",
        Kind::Counter,
        false,
    ),
    (
        "read_cnt",
        "node_tape_reads_completed_total",
        "The number of read requests issued to the tape drive.",
        Kind::Counter,
        false,
    ),
    (
        "read_ns",
        "node_tape_read_time_seconds_total",
        "The amount of time spent waiting for read requests to complete.",
        Kind::Counter,
        true,
    ),
    (
        "resid_cnt",
        "node_tape_residual_total",
        "The number of times during a read or write we found the residual amount to be \
         non-zero. This should mean that a program is issuing a read larger thean the block \
         size on tape. For write not all data made it to tape.",
        Kind::Counter,
        false,
    ),
    (
        "write_byte_cnt",
        "node_tape_written_bytes_total",
        "The number of bytes written to the tape drive.",
        Kind::Counter,
        false,
    ),
    (
        "write_cnt",
        "node_tape_writes_completed_total",
        "The number of write requests issued to the tape drive.",
        Kind::Counter,
        false,
    ),
    (
        "write_ns",
        "node_tape_write_time_seconds_total",
        "The amount of time spent waiting for write requests to complete.",
        Kind::Counter,
        true,
    ),
];

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    // Compiled as given: upstream's empty pattern ignores every drive.
    let ignored = Regex::new(b.settings.str(IGNORED))
        .map_err(|e| format!("invalid regular expression for --{IGNORED}: {e}"))?;
    let root = b.paths.sys("class/scsi_tape");
    Ok(Box::new(Tapestats {
        root_c: c_path(&root),
        root,
        lister: Lister::new(),
        ignored,
        tapes: Entries::new(),
        buf: Vec::new(),
    }))
}

#[derive(Debug)]
struct Tapestats {
    root: PathBuf,
    root_c: CString,
    /// Lists `scsi_tape` and each drive's `stats` afresh on every scrape: a kept fd on a
    /// directory that was removed (the `st` module reloaded, a drive replaced) would go on
    /// listing nothing.
    lister: Lister,
    ignored: Regex,
    tapes: Entries<Tape>,
    buf: Vec<u8>,
}

#[derive(Debug)]
struct Tape {
    stats: CString,
    stats_path: PathBuf,
    /// The counter files `stats` listed this scrape, by [`COUNTERS`] index; others closed.
    files: [Option<File>; 10],
    /// This scrape's counters; 0 for a file not listed, as upstream's zeroed struct.
    values: [u64; 10],
    is_ignored: bool,
}

impl Tape {
    fn new(dir: &Path, is_ignored: bool) -> Tape {
        let stats_path = dir.join("stats");
        Tape {
            stats: c_path(&stats_path),
            stats_path,
            files: Default::default(),
            values: [0; 10],
            is_ignored,
        }
    }

    /// Lists `stats` and reads the counters it holds into `values`.
    fn read(&mut self, buf: &mut Vec<u8>, lister: &mut Lister) -> Result<(), Error> {
        let Tape { stats, stats_path, files, values, .. } = self;
        let mut listed = [false; 10];
        lister
            .list(stats, |name, _| {
                if let Ok(i) = COUNTERS.binary_search_by(|c| c.0.as_bytes().cmp(name)) {
                    listed[i] = true;
                    files[i]
                        .get_or_insert_with(|| File::new(stats_path.join(OsStr::from_bytes(name))));
                }
            })
            .map_err(|errno| {
                // Gone or unreadable: its files go too, and are opened afresh should it return.
                *files = Default::default();
                match sysattr::is_not_exist(errno) {
                    true => Error::NoData,
                    false => Error::Read { path: PATH, errno },
                }
            })?;
        for ((file, value), listed) in files.iter_mut().zip(values.iter_mut()).zip(listed) {
            *value = 0;
            if !listed {
                *file = None;
                continue;
            }
            let Some(file) = file else { continue };
            // Upstream wraps this error, so a vanished file is a failure here, not no data.
            let raw = file.read_attr(buf).map_err(|errno| Error::Read { path: PATH, errno })?;
            // Upstream dereferences the failed parse's nil and panics; fail instead.
            *value = sysattr::parse_u64(sysattr::value(raw)).ok_or(Error::Parse {
                path: PATH,
                err: ParseError::at(0, "tape counter is not an unsigned integer"),
            })?;
        }
        Ok(())
    }
}

/// Whether a `scsi_tape` entry is a drive: `st` and digits, as upstream's `^st[0-9]+$`.
fn is_drive(name: &[u8]) -> bool {
    name.len() > 2 && name.starts_with(b"st") && name[2..].iter().all(u8::is_ascii_digit)
}

impl Collector for Tapestats {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let Tapestats { root, root_c, lister, ignored, tapes, buf } = self;
        tapes.begin();
        lister
            .list(root_c, |name, _| {
                if is_drive(name) {
                    tapes.get_or_insert_with(name, || {
                        Tape::new(&root.join(OsStr::from_bytes(name)), ignored.is_match(name))
                    });
                }
            })
            .map_err(|errno: Errno| match sysattr::is_not_exist(errno) {
                true => Error::NoData,
                false => Error::Read { path: PATH, errno },
            })?;
        tapes.end();

        for (_, tape) in tapes.iter_mut() {
            tape.read(buf, lister)?;
        }
        let fams = COUNTERS.map(|(_, name, help, kind, _)| enc.family(name, help, kind));
        for (name, tape) in tapes.iter().filter(|(_, t)| !t.is_ignored) {
            for ((&fam, &value), counter) in fams.iter().zip(&tape.values).zip(&COUNTERS) {
                let v = match counter.4 {
                    true => value as f64 * 0.000000001,
                    false => value as f64,
                };
                enc.sample(fam, &[("device", name)], v);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        build as build_spec, fds_under, fixture_scrape_matches_e2e, put, scrape, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    #[test]
    fn fixture_matches_upstream() {
        fixture_scrape_matches_e2e(&SPEC);
    }

    #[test]
    fn counters_sorted_for_lookup() {
        assert!(COUNTERS.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(is_drive(b"st0") && is_drive(b"st12"));
        assert!(!is_drive(b"st") && !is_drive(b"nst0") && !is_drive(b"st0a"));
    }

    fn drive(root: &Path, name: &str, read_cnt: &str) {
        for (file, _, _, _, _) in COUNTERS {
            put(root, &format!("sys/class/scsi_tape/{name}/stats/{file}"), "7\n");
        }
        put(root, &format!("sys/class/scsi_tape/{name}/stats/read_cnt"), read_cnt);
    }

    #[test]
    fn drives_values_and_filter() {
        let root = tmpdir("tapestats-drives");
        drive(&root, "st0", "0x10\n");
        drive(&root, "st1", "5\n");
        put(&root, "sys/class/scsi_tape/nst0", "");
        // A counter file missing counts 0; an unknown one is not read.
        std::fs::remove_file(root.join("sys/class/scsi_tape/st1/stats/write_ns")).unwrap();
        put(&root, "sys/class/scsi_tape/st1/stats/future_cnt", "not a number\n");
        let mut s = Settings::new();
        s.set(IGNORED, "^st1$");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &s).unwrap();
        let text = scrape(c.as_mut());
        assert!(text.contains("node_tape_reads_completed_total{device=\"st0\"} 16\n"));
        assert!(text
            .contains("node_tape_io_time_seconds_total{device=\"st0\"} 7.000000000000001e-09\n"));
        assert!(!text.contains("st1"), "{text}");
        let text =
            scrape(build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap().as_mut());
        assert!(text.contains("node_tape_write_time_seconds_total{device=\"st1\"} 0\n"));
        assert!(text.contains("node_tape_reads_completed_total{device=\"st1\"} 5\n"));

        // An ignored drive is still read, as upstream: its bad counter fails the collector.
        put(&root, "sys/class/scsi_tape/st1/stats/read_cnt", "-1\n");
        let r = try_scrape(c.as_mut());
        assert!(matches!(r, Err(Error::Parse { .. })), "{r:?}");

        // A drive going away takes its fds along.
        std::fs::remove_dir_all(root.join("sys/class/scsi_tape/st1")).unwrap();
        assert!(scrape(c.as_mut()).contains("device=\"st0\""));
        assert_eq!(fds_under(&root.join("sys/class/scsi_tape/st1")), 0);
        assert_eq!(fds_under(&root.join("sys/class/scsi_tape/st0")), 10);
        drop(c);
        assert_eq!(fds_under(&root), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn missing_and_unreadable() {
        let root = tmpdir("tapestats-errors");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert_eq!(try_scrape(c.as_mut()), Err(Error::NoData));
        // A drive without stats: no data.
        std::fs::create_dir_all(root.join("sys/class/scsi_tape/st0")).unwrap();
        assert_eq!(try_scrape(c.as_mut()), Err(Error::NoData));
        // A counter that cannot be read (a directory): an error.
        drive(&root, "st0", "1\n");
        std::fs::remove_file(root.join("sys/class/scsi_tape/st0/stats/io_ns")).unwrap();
        std::fs::create_dir(root.join("sys/class/scsi_tape/st0/stats/io_ns")).unwrap();
        let r = try_scrape(c.as_mut());
        assert!(matches!(r, Err(Error::Read { errno: Errno::ISDIR, .. })), "{r:?}");
        // Empty, overflowing, non-numeric counters: errors.
        std::fs::remove_dir(root.join("sys/class/scsi_tape/st0/stats/io_ns")).unwrap();
        for bad in ["", "18446744073709551616\n", "12 3\n", "x\n"] {
            put(&root, "sys/class/scsi_tape/st0/stats/io_ns", bad);
            let r = try_scrape(c.as_mut());
            assert!(matches!(r, Err(Error::Parse { .. })), "{bad:?}: {r:?}");
        }
        put(&root, "sys/class/scsi_tape/st0/stats/io_ns", "18446744073709551615\n");
        assert!(scrape(c.as_mut())
            .contains("io_time_seconds_total{device=\"st0\"} 1.8446744073709553e+10\n"));
        let mut s = Settings::new();
        s.set(IGNORED, "(");
        assert!(build_spec(&SPEC, &Paths::under(&root), &s).unwrap_err().contains(IGNORED));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            if let Err(e) = try_scrape(c.as_mut()) {
                assert!(e.is_no_data(), "{e}");
            }
        }
    }
}
