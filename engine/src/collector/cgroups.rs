//! `/proc/cgroups` → `node_cgroups_cgroups{subsys_name}`, `node_cgroups_enabled{subsys_name}`;
//! node_exporter's cgroups collector. A `#` header, then one line per cgroup v1 controller:
//! name, hierarchy id, number of cgroups, enabled flag, see cgroups(7): `memory\t7\t234\t1`.

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::File;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "cgroups", default_enabled: false, flags: &[], blocking: false, build };

const PATH: &str = "proc/cgroups";

/// Upstream gives both families the same HELP text.
const HELP: &str = "Current cgroup number of the subsystem.";

#[derive(Debug)]
struct Cgroups {
    file: File,
    buf: Vec<u8>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Cgroups { file: File::new(b.paths.proc("cgroups")), buf: Vec::new() }))
}

impl Collector for Cgroups {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = self.file.read(&mut self.buf).map_err(Error::read(PATH))?;
        scan(src, enc).map_err(Error::parse(PATH))
    }
}

/// Scans the file's text into `enc`; adds nothing if any line is malformed.
///
/// As procfs reads it: lines starting with `#` are skipped; every other line, blank ones
/// included, needs four fields, the last three integers (Go's `Atoi`: an optional sign, then
/// decimal digits, within 64 bits). Fields past the fourth are ignored.
///
/// # Errors
/// The first line procfs rejects, or a controller name that is not UTF-8 (upstream panics on
/// such a label value).
pub fn scan(src: &[u8], enc: &mut Encoder) -> Result<(), ParseError> {
    let cgroups = enc.family("node_cgroups_cgroups", HELP, Kind::Gauge);
    let enabled = enc.family("node_cgroups_enabled", HELP, Kind::Gauge);
    let cp = enc.checkpoint();
    for (n, line) in lex::lines(src).enumerate() {
        if line.starts_with(b"#") {
            continue;
        }
        match parse_line(line) {
            Ok((name, count, on)) => {
                enc.sample(cgroups, &[("subsys_name", name)], count as f64);
                enc.sample(enabled, &[("subsys_name", name)], on as f64);
            }
            Err(what) => {
                enc.rollback(cp);
                return Err(ParseError::at(n + 1, what));
            }
        }
    }
    Ok(())
}

/// One controller's line: its name, number of cgroups and enabled flag.
fn parse_line(line: &[u8]) -> Result<(&[u8], i64, i64), &'static str> {
    let mut fields = lex::fields(line);
    let (Some(name), Some(hierarchy), Some(count), Some(on)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err("expected four fields");
    };
    lex::parse_i64(hierarchy).ok_or("invalid hierarchy id")?;
    let count = lex::parse_i64(count).ok_or("invalid number of cgroups")?;
    let on = lex::parse_i64(on).ok_or("invalid enabled flag")?;
    std::str::from_utf8(name).map_err(|_| "controller name is not UTF-8")?;
    Ok((name, count, on))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fixtures, put, render, scrape, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        assert_matches_e2e(&text);
        assert_eq!(scrape(c.as_mut()), text);
    }

    #[test]
    fn values() {
        let src = b"#subsys_name\thierarchy\tnum_cgroups\tenabled\n\
                    cpu\t0\t+9223372036854775807\t0\textra\n#comment\nmisc 1 -3 1";
        let text = render(|enc| scan(src, enc).unwrap());
        assert_eq!(
            text,
            "# HELP node_cgroups_cgroups Current cgroup number of the subsystem.\n\
             # TYPE node_cgroups_cgroups gauge\n\
             node_cgroups_cgroups{subsys_name=\"cpu\"} 9.223372036854776e+18\n\
             node_cgroups_cgroups{subsys_name=\"misc\"} -3\n\
             # HELP node_cgroups_enabled Current cgroup number of the subsystem.\n\
             # TYPE node_cgroups_enabled gauge\n\
             node_cgroups_enabled{subsys_name=\"cpu\"} 0\n\
             node_cgroups_enabled{subsys_name=\"misc\"} 1\n"
        );
        assert_eq!(render(|enc| scan(b"", enc).unwrap()), "");
        assert_eq!(render(|enc| scan(b"#only a header\n", enc).unwrap()), "");
    }

    #[test]
    fn bad_input_leaves_nothing() {
        for src in [
            &b"cpu 1 2 1\n\n"[..],
            b"cpu 1 2 1\nmemory 1 2\n",
            b"cpu 1 2 1\nmemory x 2 1\n",
            b"cpu 1 2 1\nmemory 1 2.5 1\n",
            b"cpu 1 2 1\nmemory 1 2 9223372036854775808\n",
            b"cpu 1 2 1\n\xff 1 2 1\n",
        ] {
            let mut enc = Encoder::new();
            let err = scan(src, &mut enc).unwrap_err();
            assert_eq!(err.line, 2, "{:?}", String::from_utf8_lossy(src));
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "a failed scan left samples behind");
        }
    }

    #[test]
    fn missing_file_and_live_host() {
        let root = tmpdir("cgroups");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert!(matches!(try_scrape(c.as_mut()), Err(Error::Read { .. })));
        put(&root, "proc/cgroups", "cpu 1 2 1\n");
        assert!(try_scrape(c.as_mut()).unwrap().contains("{subsys_name=\"cpu\"} 2\n"));
        std::fs::remove_dir_all(&root).unwrap();

        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            if let Err(e) = try_scrape(c.as_mut()) {
                assert!(!std::path::Path::new("/proc/cgroups").exists(), "{e}");
            }
        }
    }
}
