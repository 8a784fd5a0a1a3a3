//! `/proc/sys/<a>/<b>/...` → `node_sysctl_<a>_<b>[_<field>]`, `node_sysctl_info{name,value,index}`;
//! node_exporter's sysctl collector. A sysctl `a.b.c` is the file `/proc/sys/a/b/c`, holding
//! one or more whitespace-separated values, see sysctl(8) and proc_sys(5):
//! `fs.file-nr` = `1024\t0\t1631329`.
//!
//! `--collector.sysctl.include=name[:field0,field1,...]` (repeatable) reports a numeric sysctl:
//! one value as `node_sysctl_<name>`, several as `node_sysctl_<name>{index="i"}`, or, with
//! field names, one `node_sysctl_<name>_<field>` each. `--collector.sysctl.include-info=name`
//! reports a sysctl's words as `node_sysctl_info{name,value,index}` = 1.

use super::{Build, Collector, Error, Flag, FlagKind, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::glob;
use crate::lex;
use crate::source::File;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// Registration.
pub const SPEC: Spec = Spec {
    name: "sysctl",
    default_enabled: false,
    flags: &[
        Flag {
            name: INCLUDE,
            help: "Select sysctl metrics to include",
            kind: FlagKind::Strings,
            default: "",
            aliases: &[],
        },
        Flag {
            name: INCLUDE_INFO,
            help: "Select sysctl metrics to include as info metrics",
            kind: FlagKind::Strings,
            default: "",
            aliases: &[],
        },
    ],
    blocking: false,
    build,
};

const INCLUDE: &str = "collector.sysctl.include";
const INCLUDE_INFO: &str = "collector.sysctl.include-info";

const PATH: &str = "proc/sys";

/// How much of a sysctl file upstream reads: one `read(2)` of 128 bytes (procfs'
/// `SysReadFile`). Longer values are cut there, and are cut here the same way.
const READ_SIZE: usize = 128;

#[derive(Debug)]
struct Sysctl {
    sysctls: Vec<Entry>,
    buf: Vec<u8>,
}

/// One `--collector.sysctl.include[-info]` value, with everything a scrape needs spelled out.
#[derive(Debug)]
struct Entry {
    /// The name as given (`fs.file-nr`).
    name: String,
    /// `node_sysctl_` and the name with each run of other characters than `[0-9A-Za-z_]`,
    /// together with the underscores around it, made one `_`.
    metric: String,
    /// `sysctl <name>`.
    help: String,
    /// How its values are reported.
    kind: EntryKind,
    file: File,
}

#[derive(Debug)]
enum EntryKind {
    /// `include`, without field names.
    Numeric,
    /// `include` with field names: the metric name and HELP text of each field.
    Fields(Vec<(String, String)>),
    /// `include-info`.
    Info {
        /// Whether field names were given, which upstream refuses at scrape time.
        has_fields: bool,
    },
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let mut sysctls = Vec::new();
    for (flag, numeric) in [(INCLUDE, true), (INCLUDE_INFO, false)] {
        for value in b.settings.strs(flag) {
            sysctls.push(entry(b, flag, value, numeric)?);
        }
    }
    Ok(Box::new(Sysctl { sysctls, buf: Vec::new() }))
}

fn entry(b: &Build<'_>, flag: &str, value: &str, numeric: bool) -> Result<Entry, String> {
    let (name, fields) = match value.split_once(':') {
        Some((name, fields)) => (name, Some(fields.split(',').collect::<Vec<_>>())),
        None => (value, None),
    };
    let metric = format!("node_sysctl_{}", sanitize(name));
    let help = format!("sysctl {name}");
    let kind = match (numeric, fields) {
        (true, None) => EntryKind::Numeric,
        (true, Some(fields)) => {
            let mut named = Vec::new();
            for (i, field) in fields.iter().enumerate() {
                // Upstream panics on the first scrape that reports such a name.
                if !lex::is_name_tail(field.as_bytes()) {
                    return Err(format!(
                        "--{flag}={value}: field {field:?} does not make a valid metric name"
                    ));
                }
                named.push((format!("{metric}_{field}"), format!("sysctl {name}, field {i}")));
            }
            EntryKind::Fields(named)
        }
        (false, fields) => EntryKind::Info { has_fields: fields.is_some() },
    };
    // procfs' `filepath.Join(procfs, "sys", strings.Replace(name, ".", "/", -1))`.
    let mut sys = Vec::new();
    glob::join(&mut sys, b.paths.procfs.as_os_str().as_bytes(), b"sys");
    let mut path = Vec::new();
    glob::join(&mut path, &sys, name.replace('.', "/").as_bytes());
    let file = File::new(OsStr::from_bytes(&path));
    Ok(Entry { name: name.to_owned(), metric, help, kind, file })
}

/// Upstream's `SanitizeMetricName`: each match of `_*[^0-9A-Za-z_]+_*` becomes `_`.
fn sanitize(name: &str) -> String {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        // A match starts at a run of underscores followed by another character, or at such a
        // character itself.
        let underscores = bytes[i..].iter().take_while(|&&b| b == b'_').count();
        let bad = bytes[i + underscores..].iter().take_while(|&&b| !is_word(b)).count();
        if bad == 0 {
            out.extend_from_slice(&bytes[i..i + underscores.max(1)]);
            i += underscores.max(1);
            continue;
        }
        let mut end = i + underscores + bad;
        end += bytes[end..].iter().take_while(|&&b| b == b'_').count();
        out.push(b'_');
        i = end;
    }
    // Only ASCII was replaced, and whole runs of other bytes: the result is still UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

impl Collector for Sysctl {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let cp = enc.checkpoint();
        for entry in &mut self.sysctls {
            let r =
                entry.file.read_attr(&mut self.buf).map_err(Error::read(PATH)).and_then(|src| {
                    let src = &src[..src.len().min(READ_SIZE)];
                    report(entry, src, enc).map_err(Error::parse(PATH))
                });
            if r.is_err() {
                enc.rollback(cp);
                return r;
            }
        }
        Ok(())
    }
}

/// Reports one sysctl's value `src` (as read, at most 128 bytes) into `enc`.
///
/// # Errors
/// No value; a numeric value that is not an integer (Go's `ParseInt` with base 0: `0x1f`,
/// `010`, `1_000` are numbers); one value where field names were given, or another number of
/// values than of names; field names on an info sysctl with several values; an info value
/// that is not UTF-8 (upstream panics on such a label value).
fn report(entry: &Entry, src: &[u8], enc: &mut Encoder) -> Result<(), ParseError> {
    let err = |what| ParseError::at(0, what);
    let words = lex::fields(lex::trim(src));
    let count = words.clone().count();
    let mut index = itoa::Buffer::new();
    match &entry.kind {
        EntryKind::Numeric | EntryKind::Fields(_) => {
            // Every value must parse before any count is looked at, as in procfs.
            if words.clone().any(|w| lex::parse_int(w, 0, 64).is_none()) {
                return Err(err("value is not an integer"));
            }
            let mut values = words.map(|w| lex::parse_int(w, 0, 64).unwrap_or_default() as f64);
            match (&entry.kind, count) {
                (_, 0) => return Err(err("sysctl has no values")),
                (EntryKind::Fields(_), 1) => {
                    return Err(err("sysctl has one value, but fields were named"));
                }
                (EntryKind::Fields(named), n) if n != named.len() => {
                    return Err(err("sysctl has another number of values than of fields"));
                }
                (EntryKind::Fields(named), _) => {
                    for ((name, help), v) in named.iter().zip(values) {
                        let f = enc.family(name, help, Kind::Untyped);
                        enc.sample(f, &[], v);
                    }
                }
                (_, 1) => {
                    let f = enc.family(&entry.metric, &entry.help, Kind::Untyped);
                    enc.sample(f, &[], values.next().unwrap_or_default());
                }
                _ => {
                    let f = enc.family(&entry.metric, &entry.help, Kind::Untyped);
                    for (i, v) in values.enumerate() {
                        enc.sample(f, &[("index", index.format(i).as_bytes())], v);
                    }
                }
            }
        }
        EntryKind::Info { has_fields } => {
            match (count, has_fields) {
                (0, _) => return Err(err("sysctl has no values")),
                (1, true) => return Err(err("sysctl has one value, but fields were named")),
                (_, true) => return Err(err("fields are not supported for info sysctls")),
                (_, false) => {}
            }
            if words.clone().any(|w| std::str::from_utf8(w).is_err()) {
                return Err(err("value is not UTF-8"));
            }
            let f = enc.family("node_sysctl_info", "sysctl info", Kind::Gauge);
            for (i, word) in words.enumerate() {
                let labels = [
                    ("name", entry.name.as_bytes()),
                    ("value", word),
                    ("index", index.format(i).as_bytes()),
                ];
                enc.sample(f, &labels, 1.0);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fixtures, put, scrape, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    /// The flags of upstream's end-to-end run.
    fn e2e_settings() -> Settings {
        let mut s = Settings::new();
        for v in ["kernel.threads-max", "fs.file-nr", "fs.file-nr:total,current,max"] {
            s.push(INCLUDE, v);
        }
        s.push(INCLUDE_INFO, "kernel.seccomp.actions_avail");
        s
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(&root), &e2e_settings()).unwrap();
        let text = scrape(c.as_mut());
        assert_matches_e2e(&text);
        assert_eq!(scrape(c.as_mut()), text);
    }

    #[test]
    fn sanitized_names() {
        // Expected values from Go's regexp.ReplaceAllString.
        for (name, want) in [
            ("fs.file-nr", "fs_file_nr"),
            ("a_.b", "a_b"),
            ("a._b", "a_b"),
            ("a__b", "a__b"),
            ("a_._.b", "a__b"),
            ("a.-_.b", "a__b"),
            ("_a.", "_a_"),
            ("net.ipv4.conf.eth0/1.rp_filter", "net_ipv4_conf_eth0_1_rp_filter"),
            ("ünï", "_n_"),
            ("", ""),
        ] {
            assert_eq!(sanitize(name), want, "{name}");
        }
    }

    fn tree(files: &[(&str, &str)]) -> std::path::PathBuf {
        let root = tmpdir("sysctl");
        for (path, text) in files {
            put(&root, &format!("proc/sys/{path}"), text);
        }
        root
    }

    fn settings(include: &[&str], info: &[&str]) -> Settings {
        let mut s = Settings::new();
        include.iter().for_each(|v| s.push(INCLUDE, *v));
        info.iter().for_each(|v| s.push(INCLUDE_INFO, *v));
        s
    }

    #[test]
    fn values_as_go_parses_them() {
        let root = tree(&[
            ("a/one", " 0x1f\n"),
            ("a/many", "-1\t010  1_000\n"),
            ("a/words", "α β\n"),
            ("a/long", &"1 ".repeat(100)),
        ]);
        let s = settings(&["a.one", "a/many", "a.many:x,y,z", "a.long"], &["a.words"]);
        let mut c = build_spec(&SPEC, &Paths::under(&root), &s).unwrap();
        let text = try_scrape(c.as_mut()).unwrap();
        for line in [
            "# HELP node_sysctl_a_one sysctl a.one",
            "# TYPE node_sysctl_a_one untyped",
            "node_sysctl_a_one 31",
            "# HELP node_sysctl_a_many sysctl a/many",
            "node_sysctl_a_many{index=\"0\"} -1",
            "node_sysctl_a_many{index=\"1\"} 8",
            "node_sysctl_a_many{index=\"2\"} 1000",
            "# HELP node_sysctl_a_many_y sysctl a.many, field 1",
            "node_sysctl_a_many_z 1000",
            "node_sysctl_info{index=\"1\",name=\"a.words\",value=\"β\"} 1",
            // Only the first 128 bytes are read: 64 values.
            "node_sysctl_a_long{index=\"63\"} 1",
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line} missing from\n{text}");
        }
        assert!(!text.contains("node_sysctl_a_long{index=\"64\"}"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn errors_fail_the_scrape_whole() {
        let root = tree(&[
            ("ok", "1\n"),
            ("empty", "\n"),
            ("two", "1 2\n"),
            ("word", "x\n"),
            ("big", "9223372036854775808\n"),
            ("bad", "\u{80}x"),
        ]);
        let bad_utf8 = root.join("proc/sys/bad");
        std::fs::write(&bad_utf8, b"a \xff").unwrap();
        for (include, info) in [
            (&["ok", "empty"][..], &[][..]),
            (&["ok", "word"][..], &[][..]),
            (&["ok", "big"][..], &[][..]),
            (&["ok", "ok:a"][..], &[][..]),
            (&["ok", "two:a,b,c"][..], &[][..]),
            (&["ok", "missing"][..], &[][..]),
            (&["ok"][..], &["empty"][..]),
            (&["ok"][..], &["two:a,b"][..]),
            (&["ok"][..], &["word:a"][..]),
            (&["ok"][..], &["bad"][..]),
        ] {
            let mut c = build_spec(&SPEC, &Paths::under(&root), &settings(include, info)).unwrap();
            assert!(try_scrape(c.as_mut()).is_err(), "{include:?} {info:?}");
        }
        // A field name that makes no metric name is refused when the collector is built.
        let err = build_spec(&SPEC, &Paths::under(&root), &settings(&["two:a-b,c"], &[]));
        assert!(err.unwrap_err().contains("--collector.sysctl.include=two:a-b,c"));
        // Nothing asked for, nothing reported.
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert_eq!(try_scrape(c.as_mut()).unwrap(), "");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn live_host() {
        let s = settings(&["kernel.threads-max", "fs.file-nr:a,b,c"], &["kernel.ostype"]);
        let mut c = build_spec(&SPEC, &Paths::default(), &s).unwrap();
        for _ in 0..2 {
            let text = try_scrape(c.as_mut()).unwrap();
            assert!(text.contains(
                "node_sysctl_info{index=\"0\",name=\"kernel.ostype\",value=\"Linux\"} 1\n"
            ));
            assert!(text.contains("\nnode_sysctl_fs_file_nr_c "));
        }
    }
}
