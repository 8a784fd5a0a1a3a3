//! `/sys/devices/system/edac/mc/mc*/{ce,ue,ce_noinfo,ue_noinfo}_count` and
//! `mc*/csrow*/{ce,ue}_count` → `node_edac_{correctable,uncorrectable}_errors_total{controller}`
//! and `node_edac_csrow_{correctable,uncorrectable}_errors_total{controller,csrow}`;
//! node_exporter's edac collector.
//!
//! Each file holds one count (`5`), see the kernel's Documentation/admin-guide/ras.rst; errors
//! the driver could not place on a csrow (`*_noinfo_count`) are reported under
//! `csrow="unknown"`. Controllers (`mc[0-9]*`) and their csrows (`csrow[0-9]*`) are found as
//! upstream's globs find them, in name order, labelled by the digits after `mc` and `csrow`.
//! Without EDAC there is nothing to report, which is no failure; an unreadable or non-numeric
//! count fails the collector, with nothing reported.

use super::sysfs::{self, trim_space};
use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::{Dir, Entries, File};
use std::path::{Path, PathBuf};

/// Registration.
pub const SPEC: Spec =
    Spec { name: "edac", default_enabled: true, flags: &[], blocking: false, build };

const CE: &str = "devices/system/edac/mc/mc*/ce_count";
const CE_NOINFO: &str = "devices/system/edac/mc/mc*/ce_noinfo_count";
const UE: &str = "devices/system/edac/mc/mc*/ue_count";
const UE_NOINFO: &str = "devices/system/edac/mc/mc*/ue_noinfo_count";
const CSROW_CE: &str = "devices/system/edac/mc/mc*/csrow*/ce_count";
const CSROW_UE: &str = "devices/system/edac/mc/mc*/csrow*/ue_count";

#[derive(Debug)]
struct Edac {
    mc: Dir,
    mc_path: PathBuf,
    controllers: Entries<Controller>,
    buf: Vec<u8>,
}

/// A memory controller's files, its csrows, and this scrape's counts.
#[derive(Debug)]
struct Controller {
    files: [File; 4],
    /// `ce_count`, `ce_noinfo_count`, `ue_count`, `ue_noinfo_count`.
    counts: [u64; 4],
    dir: Dir,
    path: PathBuf,
    csrows: Entries<Csrow>,
}

/// A csrow's files and this scrape's counts.
#[derive(Debug)]
struct Csrow {
    ce: File,
    ue: File,
    counts: (u64, u64),
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let mc_path = b.paths.sys("devices/system/edac/mc");
    Ok(Box::new(Edac {
        mc: Dir::new(&mc_path),
        mc_path,
        controllers: Entries::new(),
        buf: Vec::new(),
    }))
}

impl Collector for Edac {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let Edac { mc, mc_path, controllers, buf } = self;
        sysfs::glob_into(
            mc,
            controllers,
            |name| sysfs::is_numbered(name, b"mc"),
            |name| Controller::new(&mc_path.join(sysfs::path(name))),
        );
        for (name, controller) in controllers.iter_mut() {
            controller.refresh(name, buf)?;
        }
        emit(enc, controllers);
        Ok(())
    }
}

impl Controller {
    fn new(dir: &Path) -> Controller {
        Controller {
            files: ["ce_count", "ce_noinfo_count", "ue_count", "ue_noinfo_count"]
                .map(|f| File::new(dir.join(f))),
            counts: [0; 4],
            dir: Dir::new(dir),
            path: dir.to_path_buf(),
            csrows: Entries::new(),
        }
    }

    fn refresh(&mut self, name: &[u8], buf: &mut Vec<u8>) -> Result<(), Error> {
        for ((file, count), path) in
            self.files.iter_mut().zip(&mut self.counts).zip([CE, CE_NOINFO, UE, UE_NOINFO])
        {
            *count = read_count(file, buf, path)?;
        }
        let Controller { dir, path, csrows, .. } = self;
        sysfs::glob_into(
            dir,
            csrows,
            |name| sysfs::is_numbered(name, b"csrow"),
            |name| Csrow::new(&path.join(sysfs::path(name))),
        );
        // Upstream takes the csrow number from the path with a pattern that wants the
        // controller's name to be `mc` and digits only, and fails where it does not match.
        if !csrows.is_empty() && !name[2..].iter().all(u8::is_ascii_digit) {
            return Err(Error::Parse {
                path: CSROW_CE,
                err: ParseError { line: 0, what: "csrow path did not match upstream's pattern" },
            });
        }
        for (_, row) in csrows.iter_mut() {
            row.counts =
                (read_count(&mut row.ce, buf, CSROW_CE)?, read_count(&mut row.ue, buf, CSROW_UE)?);
        }
        Ok(())
    }
}

impl Csrow {
    fn new(dir: &Path) -> Csrow {
        Csrow {
            ce: File::new(dir.join("ce_count")),
            ue: File::new(dir.join("ue_count")),
            counts: (0, 0),
        }
    }
}

/// A count as node_exporter's `readUintFromFile`: the whole file, trimmed, a decimal `u64`.
fn read_count(file: &mut File, buf: &mut Vec<u8>, path: &'static str) -> Result<u64, Error> {
    let src = file.read_attr(buf).map_err(Error::read(path))?;
    lex::parse_u64(trim_space(src))
        .ok_or(ParseError::at(1, "expected an unsigned integer"))
        .map_err(Error::parse(path))
}

/// The digits `name` has after `prefix` (which the glob guarantees it starts with).
fn number<'a>(name: &'a [u8], prefix: &[u8]) -> &'a [u8] {
    let rest = &name[prefix.len()..];
    &rest[..rest.iter().position(|b| !b.is_ascii_digit()).unwrap_or(rest.len())]
}

fn emit(enc: &mut Encoder, controllers: &Entries<Controller>) {
    let ce = enc.family(
        "node_edac_correctable_errors_total",
        "Total correctable memory errors.",
        Kind::Counter,
    );
    let ue = enc.family(
        "node_edac_uncorrectable_errors_total",
        "Total uncorrectable memory errors.",
        Kind::Counter,
    );
    let row_ce = enc.family(
        "node_edac_csrow_correctable_errors_total",
        "Total correctable memory errors for this csrow.",
        Kind::Counter,
    );
    let row_ue = enc.family(
        "node_edac_csrow_uncorrectable_errors_total",
        "Total uncorrectable memory errors for this csrow.",
        Kind::Counter,
    );
    for (name, c) in controllers.iter() {
        let controller = ("controller", number(name, b"mc"));
        let [ce_count, ce_noinfo, ue_count, ue_noinfo] = c.counts;
        enc.sample_u64(ce, &[controller], ce_count);
        enc.sample_u64(row_ce, &[controller, ("csrow", b"unknown")], ce_noinfo);
        enc.sample_u64(ue, &[controller], ue_count);
        enc.sample_u64(row_ue, &[controller, ("csrow", b"unknown")], ue_noinfo);
        for (row_name, row) in c.csrows.iter() {
            let labels = [controller, ("csrow", number(row_name, b"csrow"))];
            enc.sample_u64(row_ce, &labels, row.counts.0);
            enc.sample_u64(row_ue, &labels, row.counts.1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build, fds_under, fixtures, put, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;
    use rustix::io::Errno;

    fn collector(root: &Path) -> Box<dyn Collector> {
        build(&SPEC, &Paths::under(root), &Settings::new()).unwrap()
    }

    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = collector(&root);
        let text = try_scrape(&mut *c).unwrap();
        assert_matches_e2e(&text);
        assert_eq!(samples(&text).len(), 6);
        assert_eq!(try_scrape(&mut *c).unwrap(), text);
    }

    fn controller(d: &Path, name: &str, counts: [&str; 4]) {
        let files = ["ce_count", "ce_noinfo_count", "ue_count", "ue_noinfo_count"];
        for (f, v) in files.iter().zip(counts) {
            put(d, &format!("sys/devices/system/edac/mc/{name}/{f}"), v);
        }
    }

    fn csrow(d: &Path, mc: &str, row: &str, ce: &str, ue: &str) {
        put(d, &format!("sys/devices/system/edac/mc/{mc}/{row}/ce_count"), ce);
        put(d, &format!("sys/devices/system/edac/mc/{mc}/{row}/ue_count"), ue);
    }

    #[test]
    fn controllers_and_csrows_come_and_go() {
        let d = tmpdir("edac-churn");
        let mut c = collector(&d);
        // No EDAC: nothing, and no failure.
        assert_eq!(try_scrape(&mut *c).unwrap(), "");
        controller(&d, "mc0", ["1\n", "2\n", "3\n", "4\n"]);
        controller(&d, "mc10", [" 18446744073709551615 \n", "0", "0", "0"]);
        csrow(&d, "mc0", "csrow0", "5\n", "6\n");
        csrow(&d, "mc0", "csrow12", "7\n", "8\n");
        // Not matched by the globs.
        controller(&d, "mcx", ["x", "x", "x", "x"]);
        csrow(&d, "mc0", "csrowx", "x", "x");
        put(&d, "sys/devices/system/edac/mc/power/x", "");
        let text = try_scrape(&mut *c).unwrap();
        assert_eq!(
            samples(&text),
            [
                "node_edac_correctable_errors_total{controller=\"0\"} 1",
                "node_edac_correctable_errors_total{controller=\"10\"} 1.8446744073709552e+19",
                "node_edac_csrow_correctable_errors_total{controller=\"0\",csrow=\"0\"} 5",
                "node_edac_csrow_correctable_errors_total{controller=\"0\",csrow=\"12\"} 7",
                "node_edac_csrow_correctable_errors_total{controller=\"0\",csrow=\"unknown\"} 2",
                "node_edac_csrow_correctable_errors_total{controller=\"10\",csrow=\"unknown\"} 0",
                "node_edac_csrow_uncorrectable_errors_total{controller=\"0\",csrow=\"0\"} 6",
                "node_edac_csrow_uncorrectable_errors_total{controller=\"0\",csrow=\"12\"} 8",
                "node_edac_csrow_uncorrectable_errors_total{controller=\"0\",csrow=\"unknown\"} 4",
                "node_edac_csrow_uncorrectable_errors_total{controller=\"10\",csrow=\"unknown\"} 0",
                "node_edac_uncorrectable_errors_total{controller=\"0\"} 3",
                "node_edac_uncorrectable_errors_total{controller=\"10\"} 0",
            ]
        );
        let mc = d.join("sys/devices/system/edac/mc");
        // Four files and the directory per controller, two files per csrow, and `mc` itself.
        assert_eq!(fds_under(&mc), 2 * 5 + 2 * 2 + 1);
        std::fs::remove_dir_all(mc.join("mc0/csrow12")).unwrap();
        std::fs::remove_dir_all(mc.join("mc10")).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        assert_eq!(samples(&text).len(), 6);
        assert_eq!(fds_under(&mc), 5 + 2 + 1);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn failures() {
        let d = tmpdir("edac-bad");
        controller(&d, "mc0", ["1\n", "2\n", "3\n", "4\n"]);
        csrow(&d, "mc0", "csrow0", "5\n", "6\n");
        let mut c = collector(&d);
        try_scrape(&mut *c).unwrap();
        for bad in ["", "-1", "1.0", "18446744073709551616", "many"] {
            put(&d, "sys/devices/system/edac/mc/mc0/ue_noinfo_count", bad);
            assert!(matches!(try_scrape(&mut *c), Err(Error::Parse { path: UE_NOINFO, .. })));
            put(&d, "sys/devices/system/edac/mc/mc0/ue_noinfo_count", "4\n");
            put(&d, "sys/devices/system/edac/mc/mc0/csrow0/ue_count", bad);
            assert!(matches!(try_scrape(&mut *c), Err(Error::Parse { path: CSROW_UE, .. })));
            put(&d, "sys/devices/system/edac/mc/mc0/csrow0/ue_count", "6\n");
        }
        std::fs::remove_file(d.join("sys/devices/system/edac/mc/mc0/ce_count")).unwrap();
        assert!(matches!(
            try_scrape(&mut *collector(&d)),
            Err(Error::Read { path: CE, errno: Errno::NOENT })
        ));
        // A controller named `mc1a` is found by the glob, but its csrows' paths do not match
        // upstream's pattern: a failure, though one without csrows reports fine.
        std::fs::remove_dir_all(d.join("sys/devices/system/edac/mc/mc0")).unwrap();
        controller(&d, "mc1a", ["1", "1", "1", "1"]);
        let text = try_scrape(&mut *collector(&d)).unwrap();
        assert!(text.contains("node_edac_correctable_errors_total{controller=\"1\"} 1\n"));
        csrow(&d, "mc1a", "csrow0", "1", "1");
        assert!(matches!(
            try_scrape(&mut *collector(&d)),
            Err(Error::Parse { path: CSROW_CE, .. })
        ));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            try_scrape(&mut *c).unwrap();
        }
    }
}
