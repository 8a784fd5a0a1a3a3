//! `/proc/buddyinfo` → `node_buddyinfo_blocks{node,zone,size}`; node_exporter's buddyinfo
//! collector. One line per memory zone: its node, its name, then the number of free blocks of
//! each order (a block of order `n` is 2^n pages), see proc(5) and the kernel's
//! Documentation/filesystems/proc.rst: `Node 0, zone   Normal   4381   1093    185 ...`.

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, FamilyId, Kind};
use crate::lex;
use crate::source::File;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "buddyinfo", default_enabled: false, flags: &[], blocking: false, build };

const PATH: &str = "proc/buddyinfo";

#[derive(Debug)]
struct Buddyinfo {
    file: File,
    buf: Vec<u8>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Buddyinfo { file: File::new(b.paths.proc("buddyinfo")), buf: Vec::new() }))
}

impl Collector for Buddyinfo {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = self.file.read(&mut self.buf).map_err(Error::read(PATH))?;
        scan(src, enc).map_err(Error::parse(PATH))
    }
}

/// Scans the file's text into `enc`; adds nothing if any line is malformed.
///
/// As procfs reads it: every line needs at least four fields (`Node 0, zone DMA`), trailing
/// commas are cut from the node and the zone, and every line must have as many counts as the
/// first. The `size` label is the count's position, its order.
///
/// # Errors
/// The first line procfs rejects, or a node or zone name that is not UTF-8 (upstream panics
/// on such a label value).
pub fn scan(src: &[u8], enc: &mut Encoder) -> Result<(), ParseError> {
    let f =
        enc.family("node_buddyinfo_blocks", "Count of free blocks according to size.", Kind::Gauge);
    let cp = enc.checkpoint();
    let r = scan_rows(src, enc, f);
    if r.is_err() {
        enc.rollback(cp);
    }
    r
}

fn scan_rows(src: &[u8], enc: &mut Encoder, f: FamilyId) -> Result<(), ParseError> {
    let mut buckets = None;
    let mut size = itoa::Buffer::new();
    for (n, line) in lex::lines(src).enumerate() {
        let at = |what| ParseError::at(n + 1, what);
        let mut fields = lex::fields(line);
        let (Some(_), Some(node), Some(_), Some(zone)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(at("expected `Node N, zone NAME` before the counts"));
        };
        let (node, zone) = (trim_commas(node), trim_commas(zone));
        if std::str::from_utf8(node).is_err() || std::str::from_utf8(zone).is_err() {
            return Err(at("node or zone is not UTF-8"));
        }
        let count = fields.clone().count();
        if *buckets.get_or_insert(count) != count {
            return Err(at("number of counts differs from the first line's"));
        }
        for (order, value) in fields.enumerate() {
            let value = lex::parse_f64(value).ok_or(at("invalid count"))?;
            let labels = [("node", node), ("zone", zone), ("size", size.format(order).as_bytes())];
            enc.sample(f, &labels, value);
        }
    }
    Ok(())
}

/// `s` without trailing commas, as `strings.TrimRight(s, ",")`.
fn trim_commas(s: &[u8]) -> &[u8] {
    let end = s.iter().rposition(|&b| b != b',').map_or(0, |i| i + 1);
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fixtures, put, render, scrape, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    fn scan_text(src: &str) -> Result<String, ParseError> {
        let mut r = Ok(());
        let text = render(|enc| r = scan(src.as_bytes(), enc));
        r.map(|()| text)
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        assert_matches_e2e(&text);
        assert_eq!(scrape(c.as_mut()), text);
    }

    #[test]
    fn values_and_labels() {
        let text =
            scan_text("Node 1,, zone Movable,  7 1.5e3\nNode 1, zone   Normal 0 3\n").unwrap();
        assert_eq!(
            text,
            "# HELP node_buddyinfo_blocks Count of free blocks according to size.\n\
             # TYPE node_buddyinfo_blocks gauge\n\
             node_buddyinfo_blocks{node=\"1\",size=\"0\",zone=\"Movable\"} 7\n\
             node_buddyinfo_blocks{node=\"1\",size=\"0\",zone=\"Normal\"} 0\n\
             node_buddyinfo_blocks{node=\"1\",size=\"1\",zone=\"Movable\"} 1500\n\
             node_buddyinfo_blocks{node=\"1\",size=\"1\",zone=\"Normal\"} 3\n"
        );
        // A zone without counts is no error, and reports nothing.
        assert_eq!(scan_text("Node 0, zone DMA\n").unwrap(), "");
        assert_eq!(scan_text("").unwrap(), "");
        // Counts are floats: huge ones do not overflow.
        assert!(scan_text("Node 0, zone DMA 18446744073709551616\n")
            .unwrap()
            .contains("} 1.8446744073709552e+19\n"));
    }

    #[test]
    fn bad_input_leaves_nothing() {
        for bytes in [
            &b"Node 0, zone\n"[..],
            b"Node 0, zone DMA 1 2\n\nNode 0, zone DMA32 1 2\n",
            b"Node 0, zone DMA 1 2\nNode 0, zone DMA32 1\n",
            b"Node 0, zone DMA 1 2\nNode 0, zone DMA32 1 2 3\n",
            b"Node 0, zone DMA 1 x\n",
            b"Node 0, zone DMA 1 -\n",
            b"Node \x80, zone DMA 1\n",
        ] {
            let mut enc = Encoder::new();
            assert!(scan(bytes, &mut enc).is_err(), "{:?}", String::from_utf8_lossy(bytes));
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "a failed scan left samples behind");
        }
    }

    #[test]
    fn missing_file_and_live_host() {
        let root = tmpdir("buddyinfo");
        let paths = Paths::under(&root);
        let mut c = build_spec(&SPEC, &paths, &Settings::new()).unwrap();
        assert!(matches!(try_scrape(c.as_mut()), Err(Error::Read { .. })));
        put(&root, "proc/buddyinfo", "Node 0, zone DMA 1 2\n");
        assert!(try_scrape(c.as_mut()).unwrap().contains("size=\"1\",zone=\"DMA\"} 2\n"));
        put(&root, "proc/buddyinfo", "Node 0, zone DMA 1 2\nNode 0, zone DMA32 1\n");
        assert!(matches!(try_scrape(c.as_mut()), Err(Error::Parse { .. })));
        std::fs::remove_dir_all(&root).unwrap();

        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            match try_scrape(c.as_mut()) {
                Ok(text) => assert!(text.contains("node_buddyinfo_blocks{")),
                Err(e) => assert!(!std::path::Path::new("/proc/buddyinfo").exists(), "{e}"),
            }
        }
    }
}
