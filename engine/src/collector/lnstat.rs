//! `/proc/net/stat/*` → `node_lnstat_<field>_total{subsystem,cpu}`; node_exporter's lnstat
//! collector, after iproute2's lnstat(8).
//!
//! Each file (`arp_cache`, `ndisc_cache`, `nf_conntrack`, `rt_cache`, ...) has a header of
//! field names, then one line of hexadecimal counters per CPU (the kernel's
//! net/core/neighbour.c `neigh_stat_seq_show`): `entries  allocs destroys ...` over
//! `00000014  00000001 00000002 ...`. The `subsystem` label is the file's name; `cpu` counts
//! a field's values in file order, as upstream appends them to one list per field name.
//!
//! Each file's header is kept with its field positions, validity and the first position of
//! each name, and remade only when the header line changes; a scrape then walks the values by
//! position.

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, FamilyId, Kind};
use crate::lex;
use crate::source::{Dir, Entries, File};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "lnstat", default_enabled: false, flags: &[], blocking: false, build };

const DIR: &str = "proc/net/stat";

#[derive(Debug)]
struct Lnstat {
    path: PathBuf,
    dir: Dir,
    files: Entries<StatFile>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let path = b.paths.proc("net/stat");
    Ok(Box::new(Lnstat { dir: Dir::new(&path), path, files: Entries::new() }))
}

impl Collector for Lnstat {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let Lnstat { path, dir, files } = self;
        let cp = enc.checkpoint();
        let mut failure = None;
        files.begin();
        // Upstream globs `net/stat/*`, and a glob ignores a directory it cannot read: no
        // directory is no files, and no error.
        let _ = dir.for_each(|name, _| {
            let file = files.get_or_insert_with(name, || {
                StatFile::new(File::new(path.join(OsStr::from_bytes(name))))
            });
            // Every entry is still marked seen after a failure, so its fd stays open.
            if failure.is_none() {
                failure = file.update(name, enc).err();
            }
        });
        files.end();
        match failure {
            Some(e) => {
                enc.rollback(cp);
                Err(e)
            }
            None => Ok(()),
        }
    }
}

/// One file's source and the decisions made from its header line.
#[derive(Debug)]
struct StatFile {
    file: File,
    buf: Vec<u8>,
    header: Header,
}

impl StatFile {
    fn new(file: File) -> StatFile {
        StatFile { file, buf: Vec::new(), header: Header::default() }
    }

    fn update(&mut self, name: &[u8], enc: &mut Encoder) -> Result<(), Error> {
        let src = match self.file.read(&mut self.buf) {
            Ok(src) => src,
            // A directory opens, and upstream's scanner reads nothing from it.
            Err(Errno::ISDIR) => return Ok(()),
            Err(errno) => return Err(Error::Read { path: DIR, errno }),
        };
        scan(src, name, enc, &mut self.header).map_err(|err| Error::Parse { path: DIR, err })
    }
}

/// A header line and what it decides for each field position.
#[derive(Debug, Default)]
pub struct Header {
    line: Vec<u8>,
    /// Each field's bytes within `line`.
    spans: Vec<(u32, u32)>,
    /// Each position's first position with the same name: values of equal names share one
    /// list, and one CPU count.
    first: Vec<u32>,
    /// Whether `node_lnstat_<name>_total` is a valid metric name.
    valid: Vec<bool>,
    /// Per scrape: each first position's family, and how many values it has had so far.
    families: Vec<Option<FamilyId>>,
    counts: Vec<u32>,
}

impl Header {
    /// Takes `line` as the header, unless it already is. Allocates only for a new header.
    fn set(&mut self, line: &[u8]) {
        if self.line == line {
            return;
        }
        self.line.clear();
        self.line.extend_from_slice(line);
        self.spans.clear();
        let base = line.as_ptr() as usize;
        for field in lex::fields(line) {
            let start = (field.as_ptr() as usize - base) as u32;
            self.spans.push((start, start + field.len() as u32));
        }
        self.first.clear();
        self.valid.clear();
        for (i, &(s, e)) in self.spans.iter().enumerate() {
            let name = &line[s as usize..e as usize];
            let first =
                self.spans[..i].iter().position(|&(s, e)| &line[s as usize..e as usize] == name);
            self.first.push(first.unwrap_or(i) as u32);
            self.valid.push(lex::is_name_tail(name));
        }
    }

    fn name(&self, pos: usize) -> &[u8] {
        let (s, e) = self.spans[pos];
        &self.line[s as usize..e as usize]
    }
}

/// Scans one file's text into `enc` under `subsystem`, through `header`'s kept decisions.
///
/// # Errors
/// The first value that is not a 64-bit hexadecimal number, a line with more values than the
/// header has names, or a value under a name that makes no valid metric name (upstream
/// panics on the last two); what this file added to `enc` is then rolled back.
pub fn scan(
    src: &[u8],
    subsystem: &[u8],
    enc: &mut Encoder,
    header: &mut Header,
) -> Result<(), ParseError> {
    let mut lines = lex::go_lines(src);
    header.set(lines.next().unwrap_or(b""));
    header.families.clear();
    for pos in 0..header.spans.len() {
        let family = (header.first[pos] as usize == pos && header.valid[pos]).then(|| {
            enc.family_parts(
                &[b"node_lnstat_", header.name(pos), b"_total"],
                &[b"linux network cache stats"],
                Kind::Counter,
            )
        });
        header.families.push(family);
    }
    header.counts.clear();
    header.counts.resize(header.spans.len(), 0);

    let cp = enc.checkpoint();
    for (n, line) in lines.enumerate() {
        let at = |what| ParseError::at(n + 2, what);
        for (pos, field) in lex::fields(line).enumerate() {
            let r = lex::parse_uint(field, 16, 64)
                .ok_or(at("value is not a hexadecimal number"))
                .and_then(|v| {
                    let first =
                        *header.first.get(pos).ok_or(at("more values than names"))? as usize;
                    let family = header.families[first]
                        .ok_or(at("field name is not a valid metric name"))?;
                    Ok((v, first, family))
                });
            let (v, first, family) = match r {
                Ok(x) => x,
                Err(e) => {
                    enc.rollback(cp);
                    return Err(e);
                }
            };
            let mut cpu = itoa::Buffer::new();
            let labels =
                [("subsystem", subsystem), ("cpu", cpu.format(header.counts[first]).as_bytes())];
            header.counts[first] += 1;
            enc.sample_u64(family, &labels, v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fds_under, fixtures, put, render, tmpdir,
        try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    fn scan_text(src: &str) -> Result<String, ParseError> {
        let mut header = Header::default();
        let mut r = Ok(());
        let text = render(|enc| r = scan(src.as_bytes(), b"t", enc, &mut header));
        r.map(|()| text)
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(root), &Settings::new()).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        assert_matches_e2e(&text);
        assert_eq!(text.lines().filter(|l| l.starts_with("# TYPE")).count(), 29);
        assert_eq!(try_scrape(&mut *c).unwrap(), text);
    }

    #[test]
    fn values_by_name_and_position() {
        let text = scan_text("entries hits\n0000000a 000000ff\nffffffffffffffff 1\n").unwrap();
        assert_eq!(
            samples(&text),
            [
                "node_lnstat_entries_total{cpu=\"0\",subsystem=\"t\"} 10",
                "node_lnstat_entries_total{cpu=\"1\",subsystem=\"t\"} 1.8446744073709552e+19",
                "node_lnstat_hits_total{cpu=\"0\",subsystem=\"t\"} 255",
                "node_lnstat_hits_total{cpu=\"1\",subsystem=\"t\"} 1",
            ]
        );
        assert!(text.starts_with(
            "# HELP node_lnstat_entries_total linux network cache stats\n\
             # TYPE node_lnstat_entries_total counter\n"
        ));
        // A short line gives fewer values: a field's CPU is its count of values so far. A
        // repeated name shares one list. Empty lines and a header alone give nothing.
        let text = scan_text("a b a\n1\n\n2 3 4\n").unwrap();
        assert_eq!(
            samples(&text),
            [
                "node_lnstat_a_total{cpu=\"0\",subsystem=\"t\"} 1",
                "node_lnstat_a_total{cpu=\"1\",subsystem=\"t\"} 2",
                "node_lnstat_a_total{cpu=\"2\",subsystem=\"t\"} 4",
                "node_lnstat_b_total{cpu=\"0\",subsystem=\"t\"} 3",
            ]
        );
        assert_eq!(scan_text("entries hits\n").unwrap(), "");
        assert_eq!(scan_text("").unwrap(), "");
        // A name that makes no metric name is fine while it has no values.
        assert_eq!(scan_text("a-b\n").unwrap(), "");
    }

    #[test]
    fn header_kept_and_remade() {
        let mut header = Header::default();
        let mut run =
            |src: &str| render(|enc| scan(src.as_bytes(), b"t", enc, &mut header).unwrap());
        run("x y\n1 2\n");
        let text = run("y x\n1 2\n");
        assert!(text.contains("node_lnstat_x_total{cpu=\"0\",subsystem=\"t\"} 2\n"));
        let text = run("y x\n5 6\n");
        assert!(text.contains("node_lnstat_y_total{cpu=\"0\",subsystem=\"t\"} 5\n"));
    }

    #[test]
    fn bad_input() {
        for (src, line) in [
            ("a b\n1 2\n1 2 3\n", 3),
            ("a b\n1 x\n", 2),
            ("a b\n1 0x2\n", 2),
            ("a b\n1 10000000000000000\n", 2),
            ("a-b c\n1 2\n", 2),
            ("\n1\n", 2),
        ] {
            let mut header = Header::default();
            let mut enc = Encoder::new();
            let err = scan(src.as_bytes(), b"t", &mut enc, &mut header).unwrap_err();
            assert_eq!(err.line, line, "{src:?}");
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "a failed scan left samples behind: {src:?}");
        }
    }

    #[test]
    fn files_come_and_go() {
        let root = tmpdir("lnstat");
        let paths = Paths::under(&root);
        // No directory: nothing, and no error (upstream's glob finds no file).
        let mut c = build_spec(&SPEC, &paths, &Settings::new()).unwrap();
        assert_eq!(try_scrape(&mut *c).unwrap(), "");
        put(&root, "proc/net/stat/arp_cache", "entries\n00000001\n00000002\n");
        put(&root, "proc/net/stat/rt_cache", "in_hit\n00000003\n");
        // A directory in there reads as nothing, as upstream's scanner reads nothing from it.
        std::fs::create_dir_all(root.join("proc/net/stat/sub")).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        assert_eq!(samples(&text).len(), 3);
        assert!(text.contains("node_lnstat_in_hit_total{cpu=\"0\",subsystem=\"rt_cache\"} 3\n"));
        assert_eq!(fds_under(&root), 3, "the directory and two files are kept open");
        std::fs::remove_file(root.join("proc/net/stat/rt_cache")).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        assert_eq!(samples(&text).len(), 2);
        assert_eq!(fds_under(&root), 2, "a vanished file's fd is closed");
        // One bad file fails the update, the good file's samples included.
        put(&root, "proc/net/stat/zz", "a\nxyz\n");
        assert!(matches!(try_scrape(&mut *c), Err(Error::Parse { path: DIR, .. })));
        drop(c);
        assert_eq!(fds_under(&root), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            let text = try_scrape(&mut *c).unwrap();
            if std::path::Path::new("/proc/net/stat/arp_cache").exists() {
                assert!(text.contains("subsystem=\"arp_cache\""));
            }
        }
    }
}
