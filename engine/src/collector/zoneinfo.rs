//! `/proc/zoneinfo` → `node_zoneinfo_*{node,zone}`; node_exporter's zoneinfo collector. One
//! block per memory zone, `Node N, zone NAME` and then `key value` lines (the first zone of each
//! node also carries the node's `per-node stats`), see the kernel's
//! Documentation/filesystems/proc.rst and `zoneinfo_show_print`:
//!
//! ```text
//! Node 0, zone    DMA32
//!   pages free     759
//!         min      11
//!         protection: (0, 0, 5953, 5953, 5953)
//! ```

use super::{Build, Collector, Error, Spec};
use crate::encode::{Encoder, FamilyId, Kind};
use crate::lex;
use crate::source::File;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "zoneinfo", default_enabled: false, flags: &[], blocking: false, build };

const PATH: &str = "proc/zoneinfo";

/// The fields procfs reads, in its struct's order: the file's key, the metric name, HELP, and
/// whether it is a counter.
const FIELDS: [(&str, &str, &str, bool); 34] = [
    ("nr_free_pages", "nr_free_pages", "Total number of free pages in the zone", false),
    ("min", "min_pages", "Zone watermark pages_min", false),
    ("low", "low_pages", "Zone watermark pages_low", false),
    ("high", "high_pages", "Zone watermark pages_high", false),
    ("scanned", "scanned_pages", "Pages scanned since last reclaim", false),
    ("spanned", "spanned_pages", "Total pages spanned by the zone, including holes", false),
    ("present", "present_pages", "Physical pages existing within the zone", false),
    ("managed", "managed_pages", "Present pages managed by the buddy system", false),
    (
        "nr_active_anon",
        "nr_active_anon_pages",
        "Number of anonymous pages recently more used",
        false,
    ),
    (
        "nr_inactive_anon",
        "nr_inactive_anon_pages",
        "Number of anonymous pages recently less used",
        false,
    ),
    ("nr_isolated_anon", "nr_isolated_anon_pages", "Temporary isolated pages from anon lru", false),
    (
        "nr_anon_pages",
        "nr_anon_pages",
        "Number of anonymous pages currently used by the system",
        false,
    ),
    (
        "nr_anon_transparent_hugepages",
        "nr_anon_transparent_hugepages",
        "Number of anonymous transparent huge pages currently used by the system",
        false,
    ),
    ("nr_active_file", "nr_active_file_pages", "Number of active pages with file-backing", false),
    (
        "nr_inactive_file",
        "nr_inactive_file_pages",
        "Number of inactive pages with file-backing",
        false,
    ),
    ("nr_isolated_file", "nr_isolated_file_pages", "Temporary isolated pages from file lru", false),
    ("nr_file_pages", "nr_file_pages", "Number of file pages", false),
    ("nr_slab_reclaimable", "nr_slab_reclaimable_pages", "Number of reclaimable slab pages", false),
    (
        "nr_slab_unreclaimable",
        "nr_slab_unreclaimable_pages",
        "Number of unreclaimable slab pages",
        false,
    ),
    ("nr_mlock_stack", "nr_mlock_stack_pages", "mlock()ed pages found and moved off LRU", false),
    ("nr_kernel_stack", "nr_kernel_stacks", "Number of kernel stacks", false),
    ("nr_mapped", "nr_mapped_pages", "Number of mapped pages", false),
    ("nr_dirty", "nr_dirty_pages", "Number of dirty pages", false),
    ("nr_writeback", "nr_writeback_pages", "Number of writeback pages", false),
    ("nr_unevictable", "nr_unevictable_pages", "Number of unevictable pages", false),
    ("nr_shmem", "nr_shmem_pages", "Number of shmem pages (included tmpfs/GEM pages)", false),
    ("nr_dirtied", "nr_dirtied_total", "Page dirtyings since bootup", true),
    ("nr_written", "nr_written_total", "Page writings since bootup", true),
    ("numa_hit", "numa_hit_total", "Allocated in intended node", true),
    ("numa_miss", "numa_miss_total", "Allocated in non intended node", true),
    ("numa_foreign", "numa_foreign_total", "Was intended here, hit elsewhere", true),
    ("numa_interleave", "numa_interleave_total", "Interleaver preferred this zone", true),
    ("numa_local", "numa_local_total", "Allocation from local node", true),
    ("numa_other", "numa_other_total", "Allocation from other node", true),
];

#[derive(Debug)]
struct Zoneinfo {
    file: File,
    buf: Vec<u8>,
    scratch: Scratch,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Zoneinfo {
        file: File::new(b.paths.proc("zoneinfo")),
        buf: Vec::new(),
        scratch: Scratch::default(),
    }))
}

impl Collector for Zoneinfo {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = self.file.read(&mut self.buf).map_err(Error::read(PATH))?;
        scan(src, enc, &mut self.scratch);
        Ok(())
    }
}

/// Storage [`scan`] reuses: a zone's protection array, and room to parse the next one.
#[derive(Debug, Default)]
pub struct Scratch {
    protection: Vec<i64>,
    parsed: Vec<i64>,
    text: Vec<u8>,
}

/// Scans the file's text into `enc`. Never fails: procfs ignores what it cannot parse.
///
/// As procfs reads it: the text is cut into blocks before each line starting with `Node`; in a
/// block, a line matching `(\d+), zone\s+(\w+)` names the node and the zone, and of the other
/// lines (split into words) the known keys set their field from the second word, parsed as
/// Go's `ParseInt` with base 0 — a value that does not parse unsets the field, the last line
/// for a key wins. `protection: (a, b, ...)` sets the protection array if every entry parses.
/// Each block reports its set fields, even a block without a `Node` line (labels empty).
pub fn scan(src: &[u8], enc: &mut Encoder, scratch: &mut Scratch) {
    let fams = FIELDS.map(|(_, name, help, counter)| {
        let kind = if counter { Kind::Counter } else { Kind::Gauge };
        enc.family_parts(&[b"node_zoneinfo_", name.as_bytes()], &[help.as_bytes()], kind)
    });
    let mut rest = src;
    loop {
        let (block, next) = match memchr::memmem::find(rest, b"\nNode") {
            Some(i) => (&rest[..i], Some(&rest[i + 5..])),
            None => (rest, None),
        };
        scan_block(block, enc, &fams, scratch);
        match next {
            Some(next) => rest = next,
            None => return,
        }
    }
}

fn scan_block(block: &[u8], enc: &mut Encoder, fams: &[FamilyId; 34], scratch: &mut Scratch) {
    let (mut node, mut zone): (&[u8], &[u8]) = (b"", b"");
    let mut values: [Option<i64>; 34] = [None; 34];
    scratch.protection.clear();
    for line in lex::lines(block) {
        if let Some((n, z)) = node_zone(line) {
            (node, zone) = (n, z);
            continue;
        }
        let trimmed = lex::trim(line);
        if trimmed.starts_with(b"per-node stats") {
            continue;
        }
        let mut words = lex::fields(trimmed);
        let (Some(key), Some(value)) = (words.next(), words.next()) else { continue };
        if key == b"protection:" {
            parse_protection(line, scratch);
        } else if let Some(i) = FIELDS.iter().position(|f| f.0.as_bytes() == key) {
            values[i] = lex::parse_int(value, 0, 64);
        }
    }
    let labels = [("node", node), ("zone", zone)];
    for (&f, v) in fams.iter().zip(values) {
        if let Some(v) = v {
            enc.sample(f, &labels, v as f64);
        }
    }
    let mut i = itoa::Buffer::new();
    for (n, &v) in scratch.protection.iter().enumerate() {
        let i = i.format(n).as_bytes();
        let f = enc.family_parts(
            &[b"node_zoneinfo_protection_", i],
            &[b"Protection array ", i, b". field"],
            Kind::Gauge,
        );
        enc.sample(f, &labels, v as f64);
    }
}

/// The node and zone of a line matching `(\d+), zone\s+(\w+)` (Go's ASCII classes: `\s` is
/// `[\t\n\f\r ]`, `\w` is `[0-9A-Za-z_]`), at its leftmost match.
fn node_zone(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let is_space = |b: &u8| matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ');
    let is_word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    let mut i = 0;
    while i < line.len() {
        if !line[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // A run of digits: the match, if any, starts at its first digit.
        let end = i + line[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if let Some(after) = line[end..].strip_prefix(b", zone") {
            let spaces = after.iter().take_while(|b| is_space(b)).count();
            let word = after[spaces..].iter().take_while(|b| is_word(b)).count();
            if spaces > 0 && word > 0 {
                return Some((&line[i..end], &after[spaces..spaces + word]));
            }
        }
        i = end;
    }
    None
}

/// Parses `protection: (a, b, ...)` as procfs does: the text between the line's first and
/// second colon, without its first `(` and first `)`, trimmed and split at `", "`; the array is
/// replaced only if every entry is a decimal `i64`.
fn parse_protection(line: &[u8], scratch: &mut Scratch) {
    let mut parts = line.split(|&b| b == b':');
    let segment = parts.nth(1).unwrap_or_default();
    let text = &mut scratch.text;
    text.clear();
    text.extend_from_slice(segment);
    for c in [b'(', b')'] {
        if let Some(i) = memchr::memchr(c, text) {
            text.remove(i);
        }
    }
    let text = lex::trim(text);
    scratch.parsed.clear();
    let mut rest = text;
    loop {
        let (item, next) = match memchr::memmem::find(rest, b", ") {
            Some(i) => (&rest[..i], Some(&rest[i + 2..])),
            None => (rest, None),
        };
        match lex::parse_i64(item) {
            Some(v) => scratch.parsed.push(v),
            None => return,
        }
        match next {
            Some(next) => rest = next,
            None => break,
        }
    }
    std::mem::swap(&mut scratch.protection, &mut scratch.parsed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fixtures, put, render, scrape, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    fn scan_text(src: &str) -> String {
        render(|enc| scan(src.as_bytes(), enc, &mut Scratch::default()))
    }

    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
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
    fn blocks_and_values() {
        let text = scan_text(
            "Node 0, zone      DMA\n  per-node stats\n      nr_dirtied 0x10\n  pages free 5\n\
             \x20       min 1\n        min x\n        low 010\n        high 2\n        high 1_0\n\
             \x20       protection: (0, 2039, -3)\n        protection: (1, y)\n\
             Node 12, zone\tMovable_1\n  numa_hit 7\n",
        );
        assert_eq!(
            samples(&text),
            [
                "node_zoneinfo_high_pages{node=\"0\",zone=\"DMA\"} 10",
                "node_zoneinfo_low_pages{node=\"0\",zone=\"DMA\"} 8",
                "node_zoneinfo_nr_dirtied_total{node=\"0\",zone=\"DMA\"} 16",
                "node_zoneinfo_numa_hit_total{node=\"12\",zone=\"Movable_1\"} 7",
                "node_zoneinfo_protection_0{node=\"0\",zone=\"DMA\"} 0",
                "node_zoneinfo_protection_1{node=\"0\",zone=\"DMA\"} 2039",
                "node_zoneinfo_protection_2{node=\"0\",zone=\"DMA\"} -3",
            ]
        );
        assert!(text.contains("# HELP node_zoneinfo_protection_1 Protection array 1. field\n"));
        assert!(text.contains("# TYPE node_zoneinfo_nr_dirtied_total counter\n"));
    }

    #[test]
    fn odd_input_is_no_error() {
        assert_eq!(scan_text(""), "");
        assert_eq!(scan_text("\n\n"), "");
        // Lines before any `Node` line report with empty labels.
        assert_eq!(
            samples(&scan_text("  spanned 4\nNodeX 1, zone A\n  present 3\n")),
            [
                "node_zoneinfo_present_pages{node=\"1\",zone=\"A\"} 3",
                "node_zoneinfo_spanned_pages{node=\"\",zone=\"\"} 4",
            ]
        );
        for bad in ["min", "min 9223372036854775808", "protection: ()", "protection: 1, 2"] {
            let text = scan_text(&format!("Node 0, zone DMA\n  {bad}\n"));
            let want = usize::from(bad == "protection: 1, 2") * 2;
            assert_eq!(samples(&text).len(), want, "{bad}");
        }
    }

    #[test]
    fn node_zone_match() {
        assert_eq!(node_zone(b"Node 0, zone      DMA"), Some((&b"0"[..], &b"DMA"[..])));
        assert_eq!(node_zone(b" 10, zone Normal x"), Some((&b"10"[..], &b"Normal"[..])));
        assert_eq!(node_zone(b"a1b 2, zone\x0cZ!"), Some((&b"2"[..], &b"Z"[..])));
        assert_eq!(node_zone(b"1, zone"), None);
        assert_eq!(node_zone(b"1, zoneDMA"), None);
        assert_eq!(node_zone(b"1, zone\x0bDMA"), None);
        assert_eq!(node_zone(b"1,zone DMA"), None);
    }

    #[test]
    fn missing_file_and_live_host() {
        let root = tmpdir("zoneinfo");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert!(matches!(try_scrape(c.as_mut()), Err(Error::Read { .. })));
        put(&root, "proc/zoneinfo", "Node 0, zone DMA\n  managed 3\n");
        assert!(try_scrape(c.as_mut()).unwrap().contains("zone=\"DMA\"} 3\n"));
        std::fs::remove_dir_all(&root).unwrap();

        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            assert!(try_scrape(c.as_mut()).unwrap().contains("node_zoneinfo_managed_pages{"));
        }
    }
}
