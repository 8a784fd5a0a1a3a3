//! `/sys/devices/system/node/node<N>/{meminfo,numastat}` → `node_memory_numa_<Key>{node}` and
//! `node_memory_numa_<stat>_total{node}`; node_exporter's meminfo_numa collector. See the
//! kernel's Documentation/ABI/stable/sysfs-devices-node. `meminfo` holds
//! `Node 0 Active(anon):   691324 kB` lines, `numastat` holds `numa_hit 193460335812` lines.
//!
//! As upstream: a `meminfo` value with a unit is taken as kB and multiplied by 1024, but the
//! name gets no `_bytes`; `(x)` in a key becomes `_x`; the `node` label of a `meminfo` line is
//! the number the line itself gives, that of a `numastat` line comes from the directory name.

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::{Dir, Entries, File};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "meminfo_numa", default_enabled: false, flags: &[], blocking: false, build };

const MEMINFO: &str = "sys/devices/system/node/nodeN/meminfo";
const NUMASTAT: &str = "sys/devices/system/node/nodeN/numastat";

#[derive(Debug)]
struct MeminfoNuma {
    dir: Dir,
    dir_path: PathBuf,
    nodes: Entries<NodeFiles>,
    buf: Vec<u8>,
}

/// One `node<N>` directory's files, and its number.
#[derive(Debug)]
struct NodeFiles {
    meminfo: File,
    numastat: File,
    number: Box<[u8]>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let dir_path = b.paths.sys("devices/system/node");
    Ok(Box::new(MeminfoNuma {
        dir: Dir::new(&dir_path),
        dir_path,
        nodes: Entries::new(),
        buf: Vec::new(),
    }))
}

impl Collector for MeminfoNuma {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let MeminfoNuma { dir, dir_path, nodes, buf } = self;
        // Upstream globs `node[0-9]*`, and a glob ignores I/O errors: no directory, no nodes.
        nodes.begin();
        let _ = dir.for_each(|name, _| {
            if name.len() > 4 && name.starts_with(b"node") && name[4].is_ascii_digit() {
                nodes.get_or_insert_with(name, || {
                    let path = dir_path.join(OsStr::from_bytes(name));
                    let digits = name[4..].iter().take_while(|b| b.is_ascii_digit()).count();
                    NodeFiles {
                        meminfo: File::new(path.join("meminfo")),
                        numastat: File::new(path.join("numastat")),
                        number: name[4..4 + digits].into(),
                    }
                });
            }
        });
        nodes.end();

        let cp = enc.checkpoint();
        for (_, node) in nodes.iter_mut() {
            let r = node
                .meminfo
                .read_attr(buf)
                .map_err(Error::read(MEMINFO))
                .and_then(|src| scan_meminfo(src, enc).map_err(Error::parse(MEMINFO)))
                .and_then(|()| node.numastat.read_attr(buf).map_err(Error::read(NUMASTAT)))
                .and_then(|src| {
                    scan_numastat(src, &node.number, enc).map_err(Error::parse(NUMASTAT))
                });
            if r.is_err() {
                enc.rollback(cp);
                return r;
            }
        }
        Ok(())
    }
}

/// Scans a node's `meminfo` into `enc`; adds nothing if a line is malformed.
///
/// Blank lines are skipped; every other line needs `Node N Key: value`, with `kB` as the only
/// unit allowed after the value.
///
/// # Errors
/// The first malformed line: too few fields or a bad unit (on a short line upstream panics),
/// a value that is not a float, a key that does not make a valid metric name or a node number
/// that is not UTF-8 (upstream panics on both).
pub fn scan_meminfo(src: &[u8], enc: &mut Encoder) -> Result<(), ParseError> {
    let cp = enc.checkpoint();
    for (n, line) in lex::lines(src).enumerate() {
        if let Err(what) = meminfo_line(line, enc) {
            enc.rollback(cp);
            return Err(ParseError::at(n + 1, what));
        }
    }
    Ok(())
}

fn meminfo_line(line: &[u8], enc: &mut Encoder) -> Result<(), &'static str> {
    let mut fields = lex::fields(line);
    let Some(_) = fields.next() else { return Ok(()) };
    let (Some(node), Some(key), Some(value)) = (fields.next(), fields.next(), fields.next()) else {
        return Err("expected `Node N Key: value [kB]`");
    };
    let mut value = lex::parse_f64(value).ok_or("invalid value")?;
    match (fields.next(), fields.next()) {
        (None, _) => {}
        (Some(b"kB"), None) => value *= 1024.0,
        _ => return Err("expected `Node N Key: value [kB]`"),
    }
    std::str::from_utf8(node).map_err(|_| "node is not UTF-8")?;
    let key = &key[..key.iter().rposition(|&b| b != b':').map_or(0, |i| i + 1)];
    let parts = split_parens(key);
    if key.is_empty() || !parts.iter().all(|p| lex::is_name_tail(p)) {
        return Err("key is not a valid metric name");
    }
    let [pre, sep, inner, post] = parts;
    let f = enc.family_parts(
        &[b"node_memory_numa_", pre, sep, inner, post],
        &[b"Memory information field ", pre, sep, inner, post, b"."],
        Kind::Gauge,
    );
    enc.sample(f, &[("node", node)], value);
    Ok(())
}

/// `key` as `[before, "_", inside, after]` around its outermost parentheses, as upstream's
/// `\((.*)\)` → `_${1}` rewrite: from the first `(` to the last `)` after it. A key without
/// such a pair is `[key, "", "", ""]`.
fn split_parens(key: &[u8]) -> [&[u8]; 4] {
    if let Some(open) = memchr::memchr(b'(', key) {
        if let Some(close) = memchr::memrchr(b')', key).filter(|&c| c > open) {
            return [&key[..open], b"_", &key[open + 1..close], &key[close + 1..]];
        }
    }
    [key, b"", b"", b""]
}

/// Scans a node's `numastat` into `enc` for node `number`; adds nothing if a line is
/// malformed.
///
/// Blank lines are skipped; every other line needs exactly `name value`.
///
/// # Errors
/// The first malformed line: not two fields, a value that is not a float, or a name that does
/// not make a valid metric name (on which upstream panics).
pub fn scan_numastat(src: &[u8], number: &[u8], enc: &mut Encoder) -> Result<(), ParseError> {
    let cp = enc.checkpoint();
    for (n, line) in lex::lines(src).enumerate() {
        let mut fields = lex::fields(line);
        let r = match (fields.next(), fields.next(), fields.next()) {
            (None, _, _) => continue,
            (Some(name), Some(value), None) => match lex::parse_f64(value) {
                None => Err("invalid value"),
                Some(_) if !lex::is_name_tail(name) => Err("name is not a valid metric name"),
                Some(v) => {
                    let f = enc.family_parts(
                        &[b"node_memory_numa_", name, b"_total"],
                        &[b"Memory information field ", name, b"_total."],
                        Kind::Counter,
                    );
                    enc.sample(f, &[("node", number)], v);
                    Ok(())
                }
            },
            _ => Err("expected `name value`"),
        };
        if let Err(what) = r {
            enc.rollback(cp);
            return Err(ParseError::at(n + 1, what));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fds_under, fixtures, put, render, scrape, tmpdir,
        try_scrape,
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
    fn meminfo_lines() {
        let src = b"Node 3 MemTotal:  10 kB\n\nNode 7 HugePages_Total:     2\n\
                    Node 3 Active(anon)::: 1.5\n";
        let text = render(|enc| scan_meminfo(src, enc).unwrap());
        assert_eq!(
            text,
            "# HELP node_memory_numa_Active_anon Memory information field Active_anon.\n\
             # TYPE node_memory_numa_Active_anon gauge\n\
             node_memory_numa_Active_anon{node=\"3\"} 1.5\n\
             # HELP node_memory_numa_HugePages_Total Memory information field HugePages_Total.\n\
             # TYPE node_memory_numa_HugePages_Total gauge\n\
             node_memory_numa_HugePages_Total{node=\"7\"} 2\n\
             # HELP node_memory_numa_MemTotal Memory information field MemTotal.\n\
             # TYPE node_memory_numa_MemTotal gauge\n\
             node_memory_numa_MemTotal{node=\"3\"} 10240\n"
        );
    }

    #[test]
    fn bad_lines_leave_nothing() {
        for bad in [
            &b"Node 0 MemTotal:\n"[..],
            b"Node 0 MemTotal: x kB\n",
            b"Node 0 MemTotal: 1 MB\n",
            b"Node 0 MemTotal: 1 kB extra\n",
            b"Node 0 Mem-Total: 1 kB\n",
            b"Node 0 : 1 kB\n",
            b"Node 0 A(b)c(d): 1 kB\n",
            b"Node \xff MemTotal: 1 kB\n",
        ] {
            let src = [&b"Node 0 MemFree: 1 kB\n"[..], bad].concat();
            let mut enc = Encoder::new();
            let err = scan_meminfo(&src, &mut enc).unwrap_err();
            assert_eq!(err.line, 2, "{:?}", String::from_utf8_lossy(bad));
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "a failed scan left samples behind");
        }
        for bad in [&b"numa_hit\n"[..], b"numa_hit 1 2\n", b"numa_hit x\n", b"numa-hit 1\n"] {
            let src = [&b"numa_miss 1\n"[..], bad].concat();
            let mut enc = Encoder::new();
            assert_eq!(scan_numastat(&src, b"0", &mut enc).unwrap_err().line, 2);
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "a failed scan left samples behind");
        }
    }

    #[test]
    fn nodes_come_and_go() {
        let root = tmpdir("meminfo-numa");
        let node = |n: &str| {
            put(&root, &format!("sys/devices/system/node/node{n}/meminfo"), "Node 9 MemFree: 1\n");
            put(&root, &format!("sys/devices/system/node/node{n}/numastat"), "numa_hit 5\n");
        };
        node("0");
        node("12x");
        put(&root, "sys/devices/system/node/nodex/meminfo", "garbage");
        put(&root, "sys/devices/system/node/possible", "0-1\n");
        let paths = Paths::under(&root);
        let mut c = build_spec(&SPEC, &paths, &Settings::new()).unwrap();
        let text = try_scrape(c.as_mut()).unwrap();
        assert!(text.contains("node_memory_numa_numa_hit_total{node=\"0\"} 5\n"), "{text}");
        assert!(text.contains("node_memory_numa_numa_hit_total{node=\"12\"} 5\n"));
        assert!(text.contains("node_memory_numa_MemFree{node=\"9\"} 1\n"));

        std::fs::remove_dir_all(root.join("sys/devices/system/node/node12x")).unwrap();
        let text = try_scrape(c.as_mut()).unwrap();
        assert!(!text.contains("node=\"12\""));
        // The node list and node0's two files.
        assert_eq!(fds_under(&root), 3);

        // A node without numastat fails the scrape.
        std::fs::create_dir_all(root.join("sys/devices/system/node/node1")).unwrap();
        put(&root, "sys/devices/system/node/node1/meminfo", "");
        assert!(matches!(try_scrape(c.as_mut()), Err(Error::Read { .. })));
        drop(c);
        assert_eq!(fds_under(&root), 0);

        // No node directory: nothing to report, and no error.
        std::fs::remove_dir_all(root.join("sys")).unwrap();
        let mut c = build_spec(&SPEC, &paths, &Settings::new()).unwrap();
        assert_eq!(try_scrape(c.as_mut()).unwrap(), "");
        std::fs::remove_dir_all(&root).unwrap();

        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            try_scrape(c.as_mut()).unwrap();
        }
    }
}
