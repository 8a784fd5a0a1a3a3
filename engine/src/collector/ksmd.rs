//! `/sys/kernel/mm/ksm/*` → `node_ksmd_*`; node_exporter's ksmd collector. Each file holds one
//! number (`255\n`), see the kernel's Documentation/admin-guide/mm/ksm.rst.

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::File;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "ksmd", default_enabled: false, flags: &[], blocking: false, build };

/// The files read, in upstream's order: the path under sysfs, the metric name, the HELP text.
const FILES: [(&str, &str, &str); 9] = [
    ("sys/kernel/mm/ksm/full_scans", "node_ksmd_full_scans_total", "ksmd 'full_scans' file."),
    (
        "sys/kernel/mm/ksm/merge_across_nodes",
        "node_ksmd_merge_across_nodes",
        "ksmd 'merge_across_nodes' file.",
    ),
    ("sys/kernel/mm/ksm/pages_shared", "node_ksmd_pages_shared", "ksmd 'pages_shared' file."),
    ("sys/kernel/mm/ksm/pages_sharing", "node_ksmd_pages_sharing", "ksmd 'pages_sharing' file."),
    ("sys/kernel/mm/ksm/pages_to_scan", "node_ksmd_pages_to_scan", "ksmd 'pages_to_scan' file."),
    ("sys/kernel/mm/ksm/pages_unshared", "node_ksmd_pages_unshared", "ksmd 'pages_unshared' file."),
    ("sys/kernel/mm/ksm/pages_volatile", "node_ksmd_pages_volatile", "ksmd 'pages_volatile' file."),
    ("sys/kernel/mm/ksm/run", "node_ksmd_run", "ksmd 'run' file."),
    (
        "sys/kernel/mm/ksm/sleep_millisecs",
        "node_ksmd_sleep_seconds",
        "ksmd 'sleep_millisecs' file.",
    ),
];

const FULL_SCANS: usize = 0;
const SLEEP_MILLISECS: usize = 8;

#[derive(Debug)]
struct Ksmd {
    files: [File; 9],
    buf: Vec<u8>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let files =
        FILES.map(|(path, _, _)| File::new(b.paths.sys(path.strip_prefix("sys/").unwrap_or(path))));
    Ok(Box::new(Ksmd { files, buf: Vec::new() }))
}

impl Collector for Ksmd {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        // Every file is read before anything is reported: one that fails fails the lot.
        let mut values = [0u64; 9];
        for ((file, v), (path, _, _)) in self.files.iter_mut().zip(&mut values).zip(FILES) {
            let src = file.read_attr(&mut self.buf).map_err(Error::read(path))?;
            *v = parse(src).map_err(Error::parse(path))?;
        }
        emit(enc, &values);
        Ok(())
    }
}

/// Parses one file: a decimal number with surrounding whitespace, as upstream's
/// `readUintFromFile`.
pub fn parse(src: &[u8]) -> Result<u64, ParseError> {
    lex::parse_u64(lex::trim(src)).ok_or(ParseError::at(1, "expected an unsigned integer"))
}

/// Adds the nine families, from the files' values in upstream's order: `full_scans`,
/// `merge_across_nodes`, `pages_shared`, `pages_sharing`, `pages_to_scan`, `pages_unshared`,
/// `pages_volatile`, `run`, `sleep_millisecs`.
pub fn emit(enc: &mut Encoder, values: &[u64; 9]) {
    for (i, ((_, name, help), &v)) in FILES.iter().zip(values).enumerate() {
        let kind = if i == FULL_SCANS { Kind::Counter } else { Kind::Gauge };
        let f = enc.family(name, help, kind);
        if i == SLEEP_MILLISECS {
            enc.sample(f, &[], v as f64 / 1000.0);
        } else {
            enc.sample_u64(f, &[], v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fixtures, put, scrape, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        assert_matches_e2e(&text);
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 9);
        assert_eq!(scrape(c.as_mut()), text);
    }

    #[test]
    fn values_and_bad_files() {
        let root = tmpdir("ksmd");
        for (path, _, _) in FILES {
            put(&root, path, "1\n");
        }
        put(&root, "sys/kernel/mm/ksm/sleep_millisecs", " 1500 ");
        put(&root, "sys/kernel/mm/ksm/full_scans", "18446744073709551615");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = try_scrape(c.as_mut()).unwrap();
        assert!(text.contains("\nnode_ksmd_sleep_seconds 1.5\n"), "{text}");
        assert!(text.contains("\nnode_ksmd_full_scans_total 1.8446744073709552e+19\n"));
        assert!(text.contains("# TYPE node_ksmd_full_scans_total counter\n"));
        assert!(text.contains("# TYPE node_ksmd_run gauge\n"));

        for bad in ["", "-1", "1.5", "18446744073709551616", "x"] {
            put(&root, "sys/kernel/mm/ksm/run", bad);
            assert!(matches!(try_scrape(c.as_mut()), Err(Error::Parse { .. })), "{bad:?}");
        }
        // A kernel without the file (before 3.9 for merge_across_nodes).
        std::fs::remove_file(root.join("sys/kernel/mm/ksm/run")).unwrap();
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert!(matches!(try_scrape(c.as_mut()), Err(Error::Read { .. })));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            if let Err(e) = try_scrape(c.as_mut()) {
                // Older kernels lack some of the files (merge_across_nodes, pages_volatile).
                assert!(matches!(e, Error::Read { .. }), "{e}");
            }
        }
    }
}
