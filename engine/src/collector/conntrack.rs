//! `/proc/sys/net/netfilter/nf_conntrack_{count,max}` and `/proc/net/stat/nf_conntrack` →
//! `node_nf_conntrack_entries`, `node_nf_conntrack_entries_limit` and
//! `node_nf_conntrack_stat_*` (gauges); node_exporter's conntrack collector.
//!
//! The two sysctls hold one decimal number each (the kernel's
//! Documentation/networking/nf_conntrack-sysctl.rst): `123`. The statistics file has a header,
//! then one line of 16 or 17 hexadecimal counters per CPU (net/netfilter/
//! nf_conntrack_standalone.c `ct_cpu_seq_show`), which are summed over the CPUs:
//! `00000021  00000000 00000000 00000000 00000003 0000588a ...`. Without the conntrack
//! module the files are absent and the collector has no data.

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::File;
use rustix::io::Errno;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "conntrack", default_enabled: true, flags: &[], blocking: false, build };

const PATHS: [&str; 3] = [
    "proc/sys/net/netfilter/nf_conntrack_count",
    "proc/sys/net/netfilter/nf_conntrack_max",
    "proc/net/stat/nf_conntrack",
];

#[derive(Debug)]
struct Conntrack {
    files: [File; 3],
    buf: Vec<u8>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Conntrack {
        files: PATHS.map(|p| File::new(b.paths.proc(&p["proc/".len()..]))),
        buf: Vec::new(),
    }))
}

/// Upstream's handling of every failure: "not found" is no data, the rest fail.
fn read_error(path: &'static str) -> impl FnOnce(Errno) -> Error {
    move |errno| match errno {
        Errno::NOENT => Error::NoData,
        errno => Error::Read { path, errno },
    }
}

impl Collector for Conntrack {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let [count, max, stat] = &mut self.files;
        let mut sysctl = |file: &mut File, path: &'static str| -> Result<u64, Error> {
            let src = file.read(&mut self.buf).map_err(read_error(path))?;
            lex::parse_u64(lex::trim(src))
                .ok_or(Error::Parse { path, err: ParseError::at(1, "expected an integer") })
        };
        let entries = sysctl(count, PATHS[0])?;
        let limit = sysctl(max, PATHS[1])?;
        // Upstream reports the two sysctls before reading the statistics, and keeps them when
        // that read fails; here a failed update reports nothing.
        let src = stat.read(&mut self.buf).map_err(read_error(PATHS[2]))?;
        let sums = scan(src).map_err(Error::parse(PATHS[2]))?;

        let f = enc.family(
            "node_nf_conntrack_entries",
            "Number of currently allocated flow entries for connection tracking.",
            Kind::Gauge,
        );
        enc.sample_u64(f, &[], entries);
        let f = enc.family(
            "node_nf_conntrack_entries_limit",
            "Maximum size of connection tracking table.",
            Kind::Gauge,
        );
        enc.sample_u64(f, &[], limit);
        for ((name, help, _), v) in STATS.iter().zip(sums) {
            let f = enc.family_parts(
                &[b"node_nf_conntrack_stat_", name.as_bytes()],
                &[help.as_bytes()],
                Kind::Gauge,
            );
            enc.sample_u64(f, &[], v);
        }
        Ok(())
    }
}

/// The counters reported: family suffix, HELP, column in the statistics file.
const STATS: [(&str, &str, usize); 8] = [
    ("found", "Number of searched entries which were successful.", 2),
    ("invalid", "Number of packets seen which can not be tracked.", 4),
    ("ignore", "Number of packets seen which are already connected to a conntrack entry.", 5),
    ("insert", "Number of entries inserted into the list.", 8),
    ("insert_failed", "Number of entries for which list insertion was attempted but failed.", 9),
    ("drop", "Number of packets dropped due to conntrack failure.", 10),
    (
        "early_drop",
        "Number of dropped conntrack entries to make room for new ones, if maximum table size \
         was reached.",
        11,
    ),
    (
        "search_restart",
        "Number of conntrack table lookups which had to be restarted due to hashtable resizes.",
        16,
    ),
];

/// Sums the statistics file's per-CPU lines (after its header), wrapping as Go's `uint64`
/// does, in `STATS` order. `search_restart` is 0 on a 16-column line (before Linux 2.6.35).
///
/// # Errors
/// The first line with a field that is not a 64-bit hexadecimal number, or with other than
/// 16 or 17 fields (an empty line included).
pub fn scan(src: &[u8]) -> Result<[u64; 8], ParseError> {
    let mut sums = [0u64; 8];
    for (n, line) in lex::go_lines(src).enumerate().skip(1) {
        let at = |what| ParseError::at(n + 1, what);
        let mut cols = [0u64; 17];
        let mut width = 0;
        for field in lex::fields(line) {
            let v = lex::parse_hex_u64(field).ok_or(at("field is not a hexadecimal number"))?;
            if let Some(col) = cols.get_mut(width) {
                *col = v;
            }
            width += 1;
        }
        if !(16..=17).contains(&width) {
            return Err(at("expected 16 or 17 fields"));
        }
        for (sum, &(_, _, col)) in sums.iter_mut().zip(&STATS) {
            *sum = sum.wrapping_add(cols[col]);
        }
    }
    Ok(sums)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fds_under, fixtures, put, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    const HEADER: &str = "entries  searched found new invalid ignore delete delete_list insert \
                          insert_failed drop early_drop icmp_error  expect_new expect_create \
                          expect_delete search_restart\n";

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(root), &Settings::new()).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        assert_matches_e2e(&text);
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 10);
        assert_eq!(try_scrape(&mut *c).unwrap(), text);
    }

    #[test]
    fn sums() {
        let row17 = "1 2 3 4 5 6 7 8 9 a b c d e f 10 11\n";
        let row16 = "1 2 3 4 5 6 7 8 9 a b c d e f 10\n";
        let src = format!("{HEADER}{row17}{row16}ffffffffffffffff 0 ffffffffffffffff 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
        // found wraps: 3 + 3 + (2^64 - 1) = 5.
        assert_eq!(scan(src.as_bytes()), Ok([5, 10, 12, 18, 20, 22, 24, 17]));
        // The header line is skipped whatever it holds; an empty file or a header alone sums 0.
        assert_eq!(scan(b"garbage\n"), Ok([0; 8]));
        assert_eq!(scan(b""), Ok([0; 8]));
    }

    #[test]
    fn bad_lines() {
        let good = "1 2 3 4 5 6 7 8 9 a b c d e f 10 11\n";
        for bad in [
            "1 2 3 4 5 6 7 8 9 a b c d e f",
            "1 2 3 4 5 6 7 8 9 a b c d e f 10 11 12",
            "",
            "1 2 3 4 5 6 7 8 9 a b c d e f 10 xx",
            "1 2 3 4 5 6 7 8 9 a b c d e f 10 11 xx",
            "0x1 2 3 4 5 6 7 8 9 a b c d e f 10 11",
            "10000000000000000 2 3 4 5 6 7 8 9 a b c d e f 10 11",
        ] {
            let src = format!("{HEADER}{good}{bad}\n");
            assert_eq!(scan(src.as_bytes()).unwrap_err().line, 3, "{bad:?}");
        }
    }

    #[test]
    fn missing_and_bad_files() {
        let root = tmpdir("conntrack");
        let paths = Paths::under(&root);
        let mut c = build_spec(&SPEC, &paths, &Settings::new()).unwrap();
        // Module not loaded: no data.
        assert_eq!(try_scrape(&mut *c), Err(Error::NoData));
        put(&root, "proc/sys/net/netfilter/nf_conntrack_count", "7\n");
        put(&root, "proc/sys/net/netfilter/nf_conntrack_max", "  262144 \n");
        // The sysctls alone (no statistics file) are no data too, and report nothing.
        assert_eq!(try_scrape(&mut *c), Err(Error::NoData));
        put(
            &root,
            "proc/net/stat/nf_conntrack",
            &format!("{HEADER}0 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 2\n"),
        );
        let text = try_scrape(&mut *c).unwrap();
        assert!(text.contains("\nnode_nf_conntrack_entries 7\n"));
        assert!(text.contains("\nnode_nf_conntrack_entries_limit 262144\n"));
        assert!(text.contains("\nnode_nf_conntrack_stat_found 1\n"));
        assert!(text.contains("\nnode_nf_conntrack_stat_search_restart 2\n"));
        assert_eq!(fds_under(&root), 3);
        for (rel, bad) in [
            ("proc/sys/net/netfilter/nf_conntrack_count", "x\n"),
            ("proc/sys/net/netfilter/nf_conntrack_count", "-1\n"),
            ("proc/sys/net/netfilter/nf_conntrack_max", "18446744073709551616\n"),
            ("proc/sys/net/netfilter/nf_conntrack_max", ""),
            ("proc/net/stat/nf_conntrack", "h\n1 2\n"),
        ] {
            let old = std::fs::read_to_string(root.join(rel)).unwrap();
            put(&root, rel, bad);
            assert!(matches!(try_scrape(&mut *c), Err(Error::Parse { .. })), "{rel}: {bad:?}");
            put(&root, rel, &old);
        }
        assert!(try_scrape(&mut *c).is_ok());
        drop(c);
        assert_eq!(fds_under(&root), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            match try_scrape(&mut *c) {
                Ok(text) => assert!(text.contains("node_nf_conntrack_entries ")),
                Err(Error::NoData) => {}
                // An unprivileged container may not read the statistics.
                Err(e @ Error::Read { errno: Errno::ACCESS | Errno::PERM, .. }) => eprintln!("{e}"),
                Err(e) => panic!("{e}"),
            }
        }
    }
}
