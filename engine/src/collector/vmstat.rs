//! `/proc/vmstat` → `node_vmstat_<field>` (untyped); node_exporter's vmstat collector. One
//! `name value` per line, see proc_vmstat(5): `pgfault 2185216`. Only the fields matching
//! `--collector.vmstat.fields` are reported.

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
    /// `None` for an empty flag, which (as Go's empty regexp) matches every field.
    fields: Option<Regex>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Vmstat {
        file: File::new(b.paths.proc("vmstat")),
        buf: Vec::new(),
        fields: b.settings.regex(FIELDS)?,
    }))
}

impl Collector for Vmstat {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = self.file.read(&mut self.buf).map_err(Error::read(PATH))?;
        scan(src, enc, self.fields.as_ref()).map_err(Error::parse(PATH))
    }
}

/// Scans the file's text into `enc`, reporting the fields `fields` matches (all for `None`);
/// adds nothing if any line is malformed.
///
/// As upstream, every line's value must parse as a float, reported or not. A line with a name
/// but no value, or a reported name that is not a valid metric name, is an error (upstream
/// panics on both); empty lines are skipped (upstream panics on those too).
pub fn scan(src: &[u8], enc: &mut Encoder, fields: Option<&Regex>) -> Result<(), ParseError> {
    let cp = enc.checkpoint();
    let r = scan_rows(src, enc, fields);
    if r.is_err() {
        enc.rollback(cp);
    }
    r
}

fn scan_rows(src: &[u8], enc: &mut Encoder, fields: Option<&Regex>) -> Result<(), ParseError> {
    for (n, row) in lex::lines(src).enumerate() {
        let at = |what| ParseError::at(n + 1, what);
        let mut parts = lex::fields(row);
        let Some(name) = parts.next() else { continue };
        let value = parts.next().ok_or(at("expected `name value`"))?;
        let value = lex::parse_f64(value).ok_or(at("invalid value"))?;
        // The kernel's names are ASCII; one that is not UTF-8 could not be reported anyway.
        let Ok(name_str) = std::str::from_utf8(name) else { continue };
        if fields.is_some_and(|re| !re.is_match(name_str)) {
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

    fn default_fields() -> Regex {
        Regex::new(SPEC.flags[0].default).unwrap()
    }

    #[test]
    fn fixture_matches_upstream() {
        let re = default_fields();
        assert_e2e_families("proc/vmstat", |src, enc| scan(src, enc, Some(&re)).unwrap());
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
        let re = default_fields();
        let text = render(|enc| scan(src, enc, Some(&re)).unwrap());
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
        let all = render(|enc| scan(src, enc, None).unwrap());
        assert!(all.contains("\nnode_vmstat_nr_free_pages 5\n"));
        let re = Regex::new("free").unwrap();
        let some = render(|enc| scan(src, enc, Some(&re)).unwrap());
        assert_eq!(some.lines().filter(|l| !l.starts_with('#')).count(), 1);
        // The first of two equal names is kept, as the registry keeps it.
        let dup = render(|enc| scan(b"pgfault 1\npgfault 2\n", enc, None).unwrap());
        assert!(dup.contains("\nnode_vmstat_pgfault 1\n") && !dup.contains(" 2\n"));
    }

    #[test]
    fn bad_input() {
        let re = default_fields();
        let cases: [(&[u8], Option<&Regex>, u32); 6] = [
            (b"pgfault 1\npgmajfault\n", Some(&re), 2),
            // Every value must parse, even one not reported.
            (b"pgfault 1\nnr_free_pages x\n", Some(&re), 2),
            (b"pgfault 1\nnr_free_pages 1e400\n", Some(&re), 2),
            (b"pgfault 1\npg-fault 3\n", None, 2),
            (b"pgfault 1\npg.fault 3\n", Some(&re), 2),
            (b"pgfault 18446744073709551616x\n", None, 1),
        ];
        for (src, fields, line) in cases {
            let mut enc = Encoder::new();
            let err = scan(src, &mut enc, fields).unwrap_err();
            assert_eq!(err.line, line, "{:?}", String::from_utf8_lossy(src));
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "a failed scan left samples behind");
        }
        // An invalid name that is not reported is no error; nor are empty lines or extra columns.
        let text = render(|enc| scan(b"\nx-y 1\n\npgfault 2 3\n", enc, Some(&re)).unwrap());
        assert!(text.ends_with("\nnode_vmstat_pgfault 2\n"));
        assert_eq!(render(|enc| scan(b"", enc, None).unwrap()), "");
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
