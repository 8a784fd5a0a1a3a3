//! `/proc/slabinfo` → `node_slabinfo_{active_objects,objects,object_size_bytes,
//! objects_per_slab,pages_per_slab}{slab}`; node_exporter's slabinfo collector. Version 2.1 of
//! the file: two header lines, then one line per slab cache, see slabinfo(5):
//! `kmalloc-8192  132  148  8192  4  8 : tunables  0  0  0 : slabdata  37  37  0`.
//!
//! The file is mode 0400: only root can read it.

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, FamilyId, Kind};
use crate::lex;
use crate::source::File;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "slabinfo", default_enabled: false, flags: &[], blocking: false, build };

const PATH: &str = "proc/slabinfo";

/// The reported columns: position on the line, metric name, HELP.
const COLUMNS: [(usize, &str, &str); 5] = [
    (
        1,
        "node_slabinfo_active_objects",
        "The number of objects that are currently active (i.e., in use).",
    ),
    (
        2,
        "node_slabinfo_objects",
        "The total number of allocated objects (i.e., objects that are both in use and not in \
         use).",
    ),
    (3, "node_slabinfo_object_size_bytes", "The size of objects in this slab, in bytes."),
    (4, "node_slabinfo_objects_per_slab", "The number of objects stored in each slab."),
    (5, "node_slabinfo_pages_per_slab", "The number of pages allocated for each slab."),
];

/// The columns procfs parses as integers, reported or not.
const NUMERIC: [usize; 11] = [1, 2, 3, 4, 5, 8, 9, 10, 13, 14, 15];

#[derive(Debug)]
struct Slabinfo {
    file: File,
    buf: Vec<u8>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Slabinfo { file: File::new(b.paths.proc("slabinfo")), buf: Vec::new() }))
}

impl Collector for Slabinfo {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = self.file.read(&mut self.buf).map_err(Error::read(PATH))?;
        scan(src, enc).map_err(Error::parse(PATH))
    }
}

/// Scans the file's text into `enc`; adds nothing if a slab line is malformed.
///
/// As procfs reads version 2.1: lines holding `slabinfo -` or `# name` are headers; on every
/// other line each run of spaces, tabs, CRs and form feeds counts as one separator and there
/// must be exactly 16 fields (so leading or trailing blanks, and blank lines, are errors), of
/// which 11 are integers.
///
/// # Errors
/// The first malformed line, or a slab name that is not UTF-8 (upstream panics on such a
/// label value).
pub fn scan(src: &[u8], enc: &mut Encoder) -> Result<(), ParseError> {
    let fams = COLUMNS.map(|(_, name, help)| enc.family(name, help, Kind::Gauge));
    let cp = enc.checkpoint();
    for (n, line) in lex::lines(src).enumerate() {
        // Go's line scanner drops one CR before the newline.
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if contains(line, b"slabinfo -") || contains(line, b"# name") {
            continue;
        }
        if let Err(what) = scan_line(line, enc, &fams) {
            enc.rollback(cp);
            return Err(ParseError::at(n + 1, what));
        }
    }
    Ok(())
}

fn scan_line(line: &[u8], enc: &mut Encoder, fams: &[FamilyId; 5]) -> Result<(), &'static str> {
    let mut fields = [&line[..0]; 16];
    let mut parts = split_blank_runs(line);
    for f in &mut fields {
        *f = parts.next().ok_or("expected 16 fields")?;
    }
    if parts.next().is_some() {
        return Err("expected 16 fields");
    }
    let mut values = [0i64; 16];
    for i in NUMERIC {
        values[i] = lex::parse_i64(fields[i]).ok_or("invalid number")?;
    }
    let name = fields[0];
    std::str::from_utf8(name).map_err(|_| "slab name is not UTF-8")?;
    for (&(col, _, _), &f) in COLUMNS.iter().zip(fams) {
        enc.sample(f, &[("slab", name)], values[col] as f64);
    }
    Ok(())
}

/// Splits `line` at each run of Go's `\s` (`[\t\n\f\r ]`), keeping the empty fields that
/// leading or trailing runs make, as `strings.Split(regexp("\s+").ReplaceAll(line, " "), " ")`.
fn split_blank_runs(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    let blank = |b: &u8| matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ');
    let mut rest = Some(line);
    std::iter::from_fn(move || {
        let s = rest?;
        match s.iter().position(blank) {
            Some(i) => {
                let end = s[i..].iter().position(|b| !blank(b)).map_or(s.len(), |j| i + j);
                rest = Some(&s[end..]);
                Some(&s[..i])
            }
            None => {
                rest = None;
                Some(s)
            }
        }
    })
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fixtures, put, render, scrape, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    const LINE: &str =
        "kmalloc-8192  132  148  8192  4  8 : tunables  0  0  0 : slabdata  37  37  0";

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        assert_matches_e2e(&text);
        assert_eq!(scrape(c.as_mut()), text);
    }

    #[test]
    fn fields_as_procfs_splits_them() {
        let split = |s: &str| -> Vec<String> {
            split_blank_runs(s.as_bytes()).map(|p| String::from_utf8(p.to_vec()).unwrap()).collect()
        };
        assert_eq!(split("a  b\t\x0cc"), ["a", "b", "c"]);
        assert_eq!(split(" a b "), ["", "a", "b", ""]);
        assert_eq!(split(""), [""]);
        // Go's \s has no vertical tab.
        assert_eq!(split("a\x0bb"), ["a\x0bb"]);

        let text = render(|enc| {
            scan(format!("slabinfo - version: 2.1\r\n# name <x>\n{LINE}\r\n").as_bytes(), enc)
                .unwrap()
        });
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            [
                "node_slabinfo_active_objects{slab=\"kmalloc-8192\"} 132",
                "node_slabinfo_object_size_bytes{slab=\"kmalloc-8192\"} 8192",
                "node_slabinfo_objects{slab=\"kmalloc-8192\"} 148",
                "node_slabinfo_objects_per_slab{slab=\"kmalloc-8192\"} 4",
                "node_slabinfo_pages_per_slab{slab=\"kmalloc-8192\"} 8",
            ]
        );
        // The separators and the unreported words are not checked.
        let loose = "x 1 2 3 4 5 ; what 1 2 3 ; ever 1 2 3";
        assert!(render(|enc| scan(loose.as_bytes(), enc).unwrap()).contains("{slab=\"x\"} 5\n"));
    }

    #[test]
    fn bad_lines_leave_nothing() {
        let bad_lines = [
            format!(" {LINE}"),
            format!("{LINE} "),
            format!("{LINE} 1"),
            LINE.replace(" 37  0", " 37"),
            LINE.replace("148", "x"),
            LINE.replace(" 0 : slabdata", " 1.5 : slabdata"),
            LINE.replace("  37  0", "  37  9223372036854775808"),
            String::new(),
        ];
        for bad in &bad_lines {
            let src = format!("{LINE}\n{bad}\n{LINE}\n");
            let mut enc = Encoder::new();
            assert_eq!(scan(src.as_bytes(), &mut enc).unwrap_err().line, 2, "{bad:?}");
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "a failed scan left samples behind");
        }
        let src = [LINE.as_bytes(), b"\n\xff", &LINE.as_bytes()[12..]].concat();
        assert!(scan(&src, &mut Encoder::new()).is_err());
    }

    #[test]
    fn missing_file_and_live_host() {
        let root = tmpdir("slabinfo");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert!(matches!(try_scrape(c.as_mut()), Err(Error::Read { .. })));
        put(&root, "proc/slabinfo", &format!("{LINE}\n"));
        assert!(try_scrape(c.as_mut()).unwrap().contains("{slab=\"kmalloc-8192\"} 132\n"));
        std::fs::remove_dir_all(&root).unwrap();

        // Readable by root only: an error elsewhere.
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            match try_scrape(c.as_mut()) {
                Ok(text) => assert!(text.contains("node_slabinfo_objects{")),
                Err(e) => assert!(matches!(e, Error::Read { .. }), "{e}"),
            }
        }
    }
}
