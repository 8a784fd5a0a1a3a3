//! `/proc/meminfo` → `node_memory_<Key>[_bytes]`; node_exporter's meminfo collector. One
//! `Key: value [kB]` per line, see proc_meminfo(5): `Active(anon):    2020004 kB`.
//!
//! As upstream (v1.8.2, its own parser rather than procfs'): a value with a unit is taken as kB,
//! multiplied by 1024 and named `..._bytes`; `(x)` in a key becomes `_x`
//! (`node_memory_Active_anon_bytes`); a name ending in `_total` is a counter, any other a gauge.

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::File;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "meminfo", default_enabled: true, flags: &[], blocking: false, build };

const PATH: &str = "proc/meminfo";

#[derive(Debug)]
struct Meminfo {
    file: File,
    buf: Vec<u8>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Meminfo { file: File::new(b.paths.proc("meminfo")), buf: Vec::new() }))
}

impl Collector for Meminfo {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = self.file.read(&mut self.buf).map_err(Error::read(PATH))?;
        scan(src, enc).map_err(Error::parse(PATH))
    }
}

/// Scans the file's text into `enc`; adds nothing if any line is malformed.
///
/// Empty lines are skipped (some 3.10 kernels print them). A line with a key but no value, or
/// whose key does not make a valid metric name, is an error; upstream panics on both.
pub fn scan(src: &[u8], enc: &mut Encoder) -> Result<(), ParseError> {
    let cp = enc.checkpoint();
    let r = scan_rows(src, enc);
    if r.is_err() {
        enc.rollback(cp);
    }
    r
}

fn scan_rows(src: &[u8], enc: &mut Encoder) -> Result<(), ParseError> {
    // Upstream stores the lines in a map, so of two lines giving one name the later wins. The
    // encoder keeps the first of two equal series, so rows go in from the last.
    let body = src.strip_suffix(b"\n").unwrap_or(src);
    for (from_end, row) in body.rsplit(|&b| b == b'\n').enumerate() {
        let at = |what| {
            let rows = memchr::memchr_iter(b'\n', body).count() + 1;
            ParseError::at(rows - from_end, what)
        };
        let mut fields = lex::fields(row);
        let Some(key) = fields.next() else { continue };
        let value = fields.next().ok_or_else(|| at("expected a value"))?;
        let mut value = lex::parse_f64(value).ok_or_else(|| at("invalid value"))?;
        let suffix: &[u8] = match (fields.next(), fields.next()) {
            (None, _) => b"",
            (Some(_), None) => {
                // Whatever the unit says, it is kB.
                value *= 1024.0;
                b"_bytes"
            }
            (Some(_), Some(_)) => return Err(at("expected `key: value [unit]`")),
        };
        // Upstream drops the key's last byte unseen: the colon.
        let key = &key[..key.len() - 1];
        let [pre, sep, inner, post] = split_parens(key);
        let parts = [pre, sep, inner, post];
        if key.is_empty() || !parts.iter().all(|p| lex::is_name_tail(p)) {
            return Err(at("key is not a valid metric name"));
        }
        let kind = match suffix.is_empty() && ends_with(&parts, b"_total") {
            true => Kind::Counter,
            false => Kind::Gauge,
        };
        let f = enc.family_parts(
            &[b"node_memory_", pre, sep, inner, post, suffix],
            &[b"Memory information field ", pre, sep, inner, post, suffix, b"."],
            kind,
        );
        enc.sample(f, &[], value);
    }
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

/// Whether the concatenation of `parts` ends with `suffix`.
fn ends_with(parts: &[&[u8]], suffix: &[u8]) -> bool {
    let mut want = suffix;
    for part in parts.iter().rev() {
        let n = part.len().min(want.len());
        if part[part.len() - n..] != want[want.len() - n..] {
            return false;
        }
        want = &want[..want.len() - n];
        if want.is_empty() {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{assert_e2e_families, render};

    #[test]
    fn fixture_matches_upstream() {
        assert_e2e_families("proc/meminfo", |src, enc| scan(src, enc).unwrap());
        let Some(src) = crate::collector::testing::fixture("proc/meminfo") else { return };
        let text = render(|enc| scan(&src, enc).unwrap());
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 42);
    }

    #[test]
    fn names_units_and_types() {
        let src = b"MemTotal:  16 kB\nActive(anon):   2 kB\nHugePages_Total:  0\n\
                    No_total: 5\nX_total: 6 kB\n\n";
        let text = render(|enc| scan(src, enc).unwrap());
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            [
                "# HELP node_memory_Active_anon_bytes Memory information field Active_anon_bytes.",
                "# TYPE node_memory_Active_anon_bytes gauge",
                "node_memory_Active_anon_bytes 2048",
                "# HELP node_memory_HugePages_Total Memory information field HugePages_Total.",
                "# TYPE node_memory_HugePages_Total gauge",
                "node_memory_HugePages_Total 0",
                "# HELP node_memory_MemTotal_bytes Memory information field MemTotal_bytes.",
                "# TYPE node_memory_MemTotal_bytes gauge",
                "node_memory_MemTotal_bytes 16384",
                "# HELP node_memory_No_total Memory information field No_total.",
                "# TYPE node_memory_No_total counter",
                "node_memory_No_total 5",
                "# HELP node_memory_X_total_bytes Memory information field X_total_bytes.",
                "# TYPE node_memory_X_total_bytes gauge",
                "node_memory_X_total_bytes 6144",
            ]
        );
        // Parentheses nest greedily, from the first `(` to the last `)`.
        assert_eq!(split_parens(b"A(b)c(d)e"), [&b"A"[..], b"_", b"b)c(d", b"e"]);
        assert_eq!(split_parens(b"A)b(c"), [&b"A)b(c"[..], b"", b"", b""]);
        assert_eq!(split_parens(b"A(b)"), [&b"A"[..], b"_", b"b", b""]);
    }

    #[test]
    fn later_line_wins() {
        let text = render(|enc| scan(b"A: 1\nB(x): 2\nA: 3\nB_x: 4\n", enc).unwrap());
        assert!(text.contains("\nnode_memory_A 3\n"), "{text}");
        assert!(text.contains("\nnode_memory_B_x 4\n"), "{text}");
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 2);
    }

    #[test]
    fn bad_input() {
        let cases: [(&[u8], u32); 8] = [
            (b"MemTotal: 1 kB\nMemFree:\n", 2),
            (b"MemTotal: x kB\n", 1),
            (b"MemTotal: 1 kB extra\nMemFree: 2\n", 1),
            (b"Mem-Total: 1 kB\n", 1),
            (b"A: 1\n: 5\n", 2),
            (b"A: 1\nB: 1e400x\nC: 3", 2),
            (b"A: 1\n\nB(:) 2\n", 3),
            (b"Caf\xc3\xa9: 1\n", 1),
        ];
        for (src, line) in cases {
            let mut enc = Encoder::new();
            let err = scan(src, &mut enc).unwrap_err();
            assert_eq!(err.line, line, "{:?}: {err}", String::from_utf8_lossy(src));
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "a failed scan left samples behind");
        }
        // Empty input and a huge value are fine: there is nothing to report, or a float.
        assert_eq!(render(|enc| scan(b"", enc).unwrap()), "");
        let text = render(|enc| scan(b"Big: 99999999999999999999999 kB\n", enc).unwrap());
        assert!(text.contains("node_memory_Big_bytes 1.024e+26\n"), "{text}");
    }
}
