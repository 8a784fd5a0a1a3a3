//! `/proc/net/sockstat` and `/proc/net/sockstat6` → `node_sockstat_sockets_used` and
//! `node_sockstat_<PROTO>_<state>` (gauges); node_exporter's sockstat collector.
//!
//! One protocol per line, then `key value` pairs separated by single spaces (the kernel's
//! net/ipv4/proc.c `sockstat_seq_show`, proc_net(5)): `TCP: inuse 4 orphan 0 tw 4 alloc 17
//! mem 1`. The `sockets: used N` line gives the IPv4 total. `mem` counts pages, so a
//! `<PROTO>_mem_bytes` is added with `mem` times this host's page size, whatever tree the
//! files come from (upstream multiplies by `os.Getpagesize()`).

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::File;
use rustix::io::Errno;
use std::path::PathBuf;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "sockstat", default_enabled: true, flags: &[], blocking: false, build };

const PATHS: [&str; 2] = ["proc/net/sockstat", "proc/net/sockstat6"];

#[derive(Debug)]
struct Sockstat {
    files: [File; 2],
    bufs: [Vec<u8>; 2],
    procfs: PathBuf,
    page_size: i64,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Sockstat {
        files: [File::new(b.paths.proc("net/sockstat")), File::new(b.paths.proc("net/sockstat6"))],
        bufs: Default::default(),
        procfs: b.paths.procfs.clone(),
        page_size: i64::try_from(rustix::param::page_size()).unwrap_or(4096),
    }))
}

impl Collector for Sockstat {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let cp = enc.checkpoint();
        let mut missing = 0;
        for (i, (file, buf)) in self.files.iter_mut().zip(&mut self.bufs).enumerate() {
            // IPv4 or IPv6 compiled out or disabled: that family is skipped.
            let src = match file.read(buf) {
                Ok(src) => src,
                Err(Errno::NOENT) => {
                    missing += 1;
                    continue;
                }
                Err(errno) => {
                    enc.rollback(cp);
                    return Err(Error::Read { path: PATHS[i], errno });
                }
            };
            if let Err(err) = scan(src, enc, i == 1, self.page_size) {
                enc.rollback(cp);
                return Err(Error::Parse { path: PATHS[i], err });
            }
        }
        // Upstream opens the procfs mount point first and fails if it is not a directory;
        // checked only here, where it makes a difference, to save a `stat` per scrape.
        if missing == 2 && !crate::source::is_dir(&crate::source::c_path(&self.procfs)) {
            return Err(Error::Read { path: "proc", errno: Errno::NOENT });
        }
        Ok(())
    }
}

/// The per-protocol keys reported, in the order upstream's table lists them.
const STATES: [&str; 6] = ["inuse", "orphan", "tw", "alloc", "mem", "memory"];

/// Scans one file's text into `enc` (`is_v6` for `sockstat6`, whose `sockets` line is not
/// reported); `mem_bytes` is `mem` times `page_size`, wrapping as Go's `int` does.
///
/// # Errors
/// The first line with fewer than three space-separated fields, an odd number of fields after
/// the protocol, a value that is not an integer (Go's `ParseInt(s, 0, 64)`), or a reported
/// name that is not a valid metric name (upstream panics there); nothing of this file is then
/// left in `enc`.
pub fn scan(src: &[u8], enc: &mut Encoder, is_v6: bool, page_size: i64) -> Result<(), ParseError> {
    let cp = enc.checkpoint();
    let r = scan_lines(src, enc, is_v6, page_size);
    if r.is_err() {
        enc.rollback(cp);
    }
    r
}

fn scan_lines(
    src: &[u8],
    enc: &mut Encoder,
    is_v6: bool,
    page_size: i64,
) -> Result<(), ParseError> {
    // A later `sockets` line replaces an earlier one, as upstream keeps one `Used`.
    let mut sockets_used = None;
    for (n, line) in lex::go_lines(src).enumerate() {
        let at = |what| ParseError::at(n + 1, what);
        let mut fields = line.split(|&b| b == b' ');
        let first = fields.next().unwrap_or(b"");
        let count = memchr::memchr_iter(b' ', line).count() + 1;
        if count < 3 {
            return Err(at("expected a protocol and key/value pairs"));
        }
        if count % 2 == 0 {
            return Err(at("odd number of fields in key/value pairs"));
        }
        // The last value of a repeated key wins, as in upstream's map.
        let mut values: [Option<i64>; 6] = [None; 6];
        let mut used = None;
        while let (Some(key), Some(value)) = (fields.next(), fields.next()) {
            let v = lex::parse_int(value, 0, 64).ok_or(at("invalid value"))?;
            if let Some(i) = STATES.iter().position(|s| s.as_bytes() == key) {
                values[i] = Some(v);
            } else if key == b"used" {
                used = Some(v);
            }
        }
        let proto = first.strip_suffix(b":").unwrap_or(first);
        if proto == b"sockets" {
            sockets_used = Some(used.unwrap_or(0));
            continue;
        }
        if !lex::is_name_tail(proto) {
            return Err(at("protocol is not valid in a metric name"));
        }
        // `inuse` is always reported (zero when absent); the others only when present.
        values[0] = values[0].or(Some(0));
        let mem_bytes = values[4].map(|m| m.wrapping_mul(page_size));
        let states = STATES.iter().zip(values).chain([(&"mem_bytes", mem_bytes)]);
        for (state, v) in states {
            let Some(v) = v else { continue };
            let state = state.as_bytes();
            let f = enc.family_parts(
                &[b"node_sockstat_", proto, b"_", state],
                &[b"Number of ", proto, b" sockets in state ", state, b"."],
                Kind::Gauge,
            );
            enc.sample(f, &[], v as f64);
        }
    }
    if let (Some(used), false) = (sockets_used, is_v6) {
        let f =
            enc.family("node_sockstat_sockets_used", "Number of IPv4 sockets in use.", Kind::Gauge);
        enc.sample(f, &[], used as f64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fds_under, fixture, fixtures, put, render, tmpdir,
        try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        // The fixture's `TCP mem 1` shows 4096 bytes: upstream's run had 4 KiB pages.
        if rustix::param::page_size() == 4096 {
            assert_matches_e2e(&text);
        }
        assert_eq!(samples(&text).len(), 20);
        assert_eq!(try_scrape(&mut *c).unwrap(), text);
        // Through the scanner with 4 KiB pages, whatever this host's size.
        let (Some(v4), Some(v6)) = (fixture(PATHS[0]), fixture(PATHS[1])) else { return };
        let text = render(|enc| {
            scan(&v4, enc, false, 4096).unwrap();
            scan(&v6, enc, true, 4096).unwrap();
        });
        assert_matches_e2e(&text);
    }

    #[test]
    fn values_and_page_size() {
        let src = b"sockets: used 7\nTCP: inuse 4 orphan 1 tw 2 alloc 3 mem 5\nUDP: mem 2\n\
                    FRAG: inuse 0 memory 9 unknown 3\nX: inuse 0x10\n";
        let text = render(|enc| scan(src, enc, false, 65536).unwrap());
        assert_eq!(
            samples(&text),
            [
                "node_sockstat_FRAG_inuse 0",
                "node_sockstat_FRAG_memory 9",
                "node_sockstat_TCP_alloc 3",
                "node_sockstat_TCP_inuse 4",
                "node_sockstat_TCP_mem 5",
                "node_sockstat_TCP_mem_bytes 327680",
                "node_sockstat_TCP_orphan 1",
                "node_sockstat_TCP_tw 2",
                "node_sockstat_UDP_inuse 0",
                "node_sockstat_UDP_mem 2",
                "node_sockstat_UDP_mem_bytes 131072",
                "node_sockstat_X_inuse 16",
                "node_sockstat_sockets_used 7",
            ]
        );
        assert!(text.contains(
            "# HELP node_sockstat_TCP_mem_bytes Number of TCP sockets in state mem_bytes.\n\
             # TYPE node_sockstat_TCP_mem_bytes gauge\n"
        ));
        // IPv6's file: no sockets_used; the last of repeated keys and lines wins.
        let text = render(|enc| {
            scan(b"sockets: used 3\nTCP6: inuse 1 inuse 2\n", enc, true, 4096).unwrap()
        });
        assert_eq!(samples(&text), ["node_sockstat_TCP6_inuse 2"]);
        let text =
            render(|enc| scan(b"sockets: used 3\nsockets: inuse 1\n", enc, false, 4096).unwrap());
        assert_eq!(samples(&text), ["node_sockstat_sockets_used 0"]);
        // Negative and huge values, mem_bytes wrapping as Go's int multiply does.
        let src = b"TCP: inuse -1 mem 9223372036854775807\n";
        let text = render(|enc| scan(src, enc, false, 4096).unwrap());
        assert!(text.contains("\nnode_sockstat_TCP_inuse -1\n"));
        assert!(text.contains("\nnode_sockstat_TCP_mem_bytes -4096\n"));
        assert_eq!(render(|enc| scan(b"", enc, false, 4096).unwrap()), "");
    }

    #[test]
    fn bad_input() {
        for (src, line) in [
            (&b"TCP: inuse 1\nUDP: inuse\n"[..], 2),
            (b"TCP: inuse 1\n\n", 2),
            (b"TCP: inuse 1 mem\n", 1),
            (b"TCP:  inuse 1\n", 1),
            (b"TCP: inuse 1 \n", 1),
            (b"TCP: inuse x\n", 1),
            (b"TCP: inuse 1.5\n", 1),
            (b"TCP: inuse 9223372036854775808\n", 1),
            (b"TCP: inuse 1\nT-P: inuse 1\n", 2),
        ] {
            let mut enc = Encoder::new();
            let err = scan(src, &mut enc, false, 4096).unwrap_err();
            assert_eq!(err.line, line, "{:?}", String::from_utf8_lossy(src));
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "a failed scan left samples behind");
        }
    }

    #[test]
    fn missing_files() {
        let root = tmpdir("sockstat-files");
        put(&root, "proc/net/sockstat", "sockets: used 1\nTCP: inuse 2\n");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert_eq!(samples(&try_scrape(&mut *c).unwrap()).len(), 2);
        put(&root, "proc/net/sockstat6", "TCP6: inuse 3\n");
        assert_eq!(samples(&try_scrape(&mut *c).unwrap()).len(), 3);
        // A bad IPv6 file fails the whole update, IPv4's samples included.
        put(&root, "proc/net/sockstat6", "TCP6: inuse\n");
        assert!(matches!(
            try_scrape(&mut *c),
            Err(Error::Parse { path: "proc/net/sockstat6", .. })
        ));
        assert_eq!(fds_under(&root), 2);
        drop(c);
        assert_eq!(fds_under(&root), 0);
        // Neither file: nothing to report, and no error while the procfs directory is there.
        std::fs::remove_file(root.join("proc/net/sockstat")).unwrap();
        std::fs::remove_file(root.join("proc/net/sockstat6")).unwrap();
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert_eq!(try_scrape(&mut *c).unwrap(), "");
        let mut gone =
            build_spec(&SPEC, &Paths::under(root.join("nope")), &Settings::new()).unwrap();
        assert!(matches!(try_scrape(&mut *gone), Err(Error::Read { .. })));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            let text = try_scrape(&mut *c).unwrap();
            if std::path::Path::new("/proc/net/sockstat").exists() {
                assert!(text.contains("node_sockstat_sockets_used "));
            }
        }
    }
}
