//! `/proc/vmstat` → `node_vmstat_<field>` (untyped); node_exporter's vmstat collector. One
//! `name value` per line, see proc_vmstat(5): `pgfault 2185216`. Only the fields matching
//! `--collector.vmstat.fields` are reported.
//!
//! The kernel lists the same fields in the same order every time, so [`Fields`] keeps each
//! line's verdict from the last scrape and runs the regex only for a line whose name changed:
//! matching ~180 names per scrape was a tenth of a scrape's own instructions.

use super::{Build, Collector, Error, Flag, FlagKind, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::File;
use regex::Regex;

/// Registration.
pub const SPEC: Spec = Spec {
    name: "vmstat",
    default_enabled: true,
    flags: &[Flag {
        name: FIELDS,
        help: "Regexp of fields to return for vmstat collector.",
        kind: FlagKind::Regex,
        default: "^(oom_kill|pgpg|pswp|pg.*fault).*",
        aliases: &[],
    }],
    blocking: false,
    build,
};

const FIELDS: &str = "collector.vmstat.fields";
const PATH: &str = "proc/vmstat";

#[derive(Debug)]
struct Vmstat {
    file: File,
    buf: Vec<u8>,
    fields: Fields,
}

/// The `--collector.vmstat.fields` filter, with each line's verdict from the last scan.
#[derive(Debug)]
pub struct Fields {
    /// `None` for an empty flag, which (as Go's empty regexp) matches every field.
    re: Option<Regex>,
    /// The last scan's names, one after another; `seen[n]` is line `n`'s name (as a range of
    /// `names`) and verdict. Both grow to the file's size once and are reused.
    names: Vec<u8>,
    seen: Vec<(u32, u32, bool)>,
}

impl Fields {
    /// A filter of fields matching `re` (all for `None`).
    pub fn new(re: Option<Regex>) -> Fields {
        Fields { re, names: Vec::new(), seen: Vec::new() }
    }

    /// Whether `name`, on line `n` (0-based) of the file, is reported: the verdict kept for
    /// line `n` if it had the same name last time, else the regex's, which is then kept
    /// (and those of the lines after it forgotten, as the file has changed there).
    fn wants(&mut self, n: usize, name: &[u8]) -> bool {
        let Some(re) = &self.re else { return true };
        if let Some(&(start, end, keep)) = self.seen.get(n) {
            if &self.names[start as usize..end as usize] == name {
                return keep;
            }
            self.names.truncate(start as usize);
            self.seen.truncate(n);
        }
        // The kernel's names are ASCII; one that is not UTF-8 could not be reported anyway.
        let keep = std::str::from_utf8(name).is_ok_and(|s| re.is_match(s));
        // Lines skipped as empty leave no entry: record this one at `n` only if it follows on.
        if self.seen.len() == n {
            let start = self.names.len() as u32;
            self.names.extend_from_slice(name);
            self.seen.push((start, self.names.len() as u32, keep));
        }
        keep
    }
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Vmstat {
        file: File::new(b.paths.proc("vmstat")),
        buf: Vec::new(),
        fields: Fields::new(b.settings.regex(FIELDS)?),
    }))
}

impl Collector for Vmstat {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = self.file.read(&mut self.buf).map_err(Error::read(PATH))?;
        scan(src, enc, &mut self.fields).map_err(Error::parse(PATH))
    }
}

/// Scans the file's text into `enc`, reporting the fields `fields` matches; adds nothing if
/// any line is malformed.
///
/// As upstream, every line's value must parse as a float, reported or not. A line with a name
/// but no value, or a reported name that is not a valid metric name, is an error (upstream
/// panics on both); empty lines are skipped (upstream panics on those too).
pub fn scan(src: &[u8], enc: &mut Encoder, fields: &mut Fields) -> Result<(), ParseError> {
    let cp = enc.checkpoint();
    let r = scan_rows(src, enc, fields);
    if r.is_err() {
        enc.rollback(cp);
    }
    r
}

fn scan_rows(src: &[u8], enc: &mut Encoder, fields: &mut Fields) -> Result<(), ParseError> {
    for (n, row) in lex::lines(src).enumerate() {
        let at = |what| ParseError::at(n + 1, what);
        let mut parts = lex::fields(row);
        let Some(name) = parts.next() else { continue };
        let value = parts.next().ok_or(at("expected `name value`"))?;
        let value = lex::parse_f64(value).ok_or(at("invalid value"))?;
        if !fields.wants(n, name) {
            continue;
        }
        if !lex::is_name_tail(name) {
            return Err(at("field name is not a valid metric name"));
        }
        let f = enc.family_parts(
            &[b"node_vmstat_", name],
            &[b"/proc/vmstat information field ", name, b"."],
            Kind::Untyped,
        );
        enc.sample(f, &[], value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_e2e_families, build_with, fixtures, render, try_scrape,
    };
    use crate::collector::{Settings, Shared};
    use crate::source::Paths;

    fn default_fields() -> Fields {
        Fields::new(Some(Regex::new(SPEC.flags[0].default).unwrap()))
    }

    #[test]
    fn fixture_matches_upstream() {
        let mut re = default_fields();
        assert_e2e_families("proc/vmstat", |src, enc| scan(src, enc, &mut re).unwrap());
        // Through the collector, with the flag at its default.
        let Some(root) = fixtures() else { return };
        let mut c =
            build_with(&SPEC, &Paths::under(root), &Settings::new(), &Shared::default(), &[])
                .unwrap();
        let text = try_scrape(&mut *c).unwrap();
        crate::collector::testing::assert_matches_e2e(&text);
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 7);
    }

    #[test]
    fn selection() {
        let src = b"nr_free_pages 5\npgfault 2185216\npgmajfault 7\noom_kill 0\npswpin 1.5e3\n";
        let mut re = default_fields();
        let text = render(|enc| scan(src, enc, &mut re).unwrap());
        assert_eq!(
            text.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>(),
            [
                "node_vmstat_oom_kill 0",
                "node_vmstat_pgfault 2.185216e+06",
                "node_vmstat_pgmajfault 7",
                "node_vmstat_pswpin 1500"
            ]
        );
        assert!(text.contains(
            "# HELP node_vmstat_pgfault /proc/vmstat information field pgfault.\n\
             # TYPE node_vmstat_pgfault untyped\n"
        ));
        // No filter: everything; unanchored: a match anywhere in the name.
        let all = render(|enc| scan(src, enc, &mut Fields::new(None)).unwrap());
        assert!(all.contains("\nnode_vmstat_nr_free_pages 5\n"));
        let mut re = Fields::new(Some(Regex::new("free").unwrap()));
        let some = render(|enc| scan(src, enc, &mut re).unwrap());
        assert_eq!(some.lines().filter(|l| !l.starts_with('#')).count(), 1);
        // The first of two equal names is kept, as the registry keeps it.
        let dup =
            render(|enc| scan(b"pgfault 1\npgfault 2\n", enc, &mut Fields::new(None)).unwrap());
        assert!(dup.contains("\nnode_vmstat_pgfault 1\n") && !dup.contains(" 2\n"));
    }

    #[test]
    fn bad_input() {
        let cases: [(&[u8], bool, u32); 6] = [
            (b"pgfault 1\npgmajfault\n", true, 2),
            // Every value must parse, even one not reported.
            (b"pgfault 1\nnr_free_pages x\n", true, 2),
            (b"pgfault 1\nnr_free_pages 1e400\n", true, 2),
            (b"pgfault 1\npg-fault 3\n", false, 2),
            (b"pgfault 1\npg.fault 3\n", true, 2),
            (b"pgfault 18446744073709551616x\n", false, 1),
        ];
        for (src, filtered, line) in cases {
            let mut enc = Encoder::new();
            let mut fields = if filtered { default_fields() } else { Fields::new(None) };
            let err = scan(src, &mut enc, &mut fields).unwrap_err();
            assert_eq!(err.line, line, "{:?}", String::from_utf8_lossy(src));
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "a failed scan left samples behind");
        }
        // An invalid name that is not reported is no error; nor are empty lines or extra columns.
        let mut re = default_fields();
        let text = render(|enc| scan(b"\nx-y 1\n\npgfault 2 3\n", enc, &mut re).unwrap());
        assert!(text.ends_with("\nnode_vmstat_pgfault 2\n"));
        assert_eq!(render(|enc| scan(b"", enc, &mut Fields::new(None)).unwrap()), "");
    }

    /// Kept verdicts give what the regex gives, scan after scan, as lines come, go, move and
    /// get renamed (oracle: a fresh filter each time).
    #[test]
    fn kept_verdicts_match_the_regex() {
        let lists: [&[u8]; 6] = [
            b"nr_free_pages 5\npgfault 1\npgmajfault 7\noom_kill 0\n",
            b"nr_free_pages 5\npgfault 1\npgmajfault 7\noom_kill 0\n",
            b"nr_free_pages 5\npswpin 3\npgmajfault 7\noom_kill 0\n",
            b"pgfault 1\n\nnr_free_pages 5\npgmajfault 7\n",
            b"pgfault 1\n\nnr_free_pages 5\npgmajfault 7\nnr_dirty 2\npgpgin 9\n",
            b"oom_kill 0\n",
        ];
        let mut kept = default_fields();
        for src in lists.iter().chain(lists.iter().rev()) {
            let cached = render(|enc| scan(src, enc, &mut kept).unwrap());
            let fresh = render(|enc| scan(src, enc, &mut default_fields()).unwrap());
            assert_eq!(cached, fresh, "{:?}", String::from_utf8_lossy(src));
        }
    }

    #[test]
    fn bad_regex_is_a_build_error() {
        let mut settings = Settings::new();
        settings.set(FIELDS, "(");
        let err =
            build_with(&SPEC, &Paths::default(), &settings, &Shared::default(), &[]).unwrap_err();
        assert!(err.contains("--collector.vmstat.fields"), "{err}");
        // An empty flag matches every field, as Go's empty regexp does.
        settings.set(FIELDS, "");
        assert!(build_with(&SPEC, &Paths::default(), &settings, &Shared::default(), &[]).is_ok());
    }
}
