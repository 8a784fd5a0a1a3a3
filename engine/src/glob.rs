//! Go's `path/filepath` on Unix: `Match`, `Glob`, `Clean` and `Join`, for flags that
//! node_exporter passes through them (`--collector.textfile.directory`).
//!
//! Patterns are Go's: `*` matches any run of bytes but `/`, `?` one rune but `/`, `[...]` /
//! `[^...]` a rune in (or not in) a set of runes and `lo-hi` ranges, and `\` quotes the next
//! byte. A malformed pattern is [`BadPattern`], as Go's `ErrBadPattern` — though, as in Go,
//! only where matching gets to look at the bad part, and `Glob` checks just the first chunk
//! up front. Names are bytes; runes are decoded as Go's `utf8.DecodeRune` decodes them, an
//! invalid byte being U+FFFD.
//!
//! [`Glob`] keeps every buffer between expansions (matched paths, directory entries, the
//! C path under construction), so expanding the same pattern over the same tree again
//! allocates nothing.

use crate::source::{self, Lister};
use std::ffi::CStr;

/// A malformed pattern: Go's `filepath.ErrBadPattern`.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct BadPattern;

impl std::fmt::Display for BadPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("syntax error in pattern")
    }
}

impl std::error::Error for BadPattern {}

/// Go's `filepath.Match`: whether all of `name` matches `pattern`.
///
/// # Errors
/// [`BadPattern`] for a malformed pattern, when matching reaches the malformed part.
pub fn matches(mut pattern: &[u8], mut name: &[u8]) -> Result<bool, BadPattern> {
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing star matches the rest of the name unless it has a separator.
            return Ok(!name.contains(&b'/'));
        }
        // Match here; as the last chunk, only if that exhausts the name.
        match match_chunk(chunk, name)? {
            Some(t) if t.is_empty() || !pattern.is_empty() => {
                name = t;
                continue;
            }
            _ => {}
        }
        if star {
            // Let the star take one more byte at a time, never a separator.
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                if let Some(t) = match_chunk(chunk, &name[i + 1..])? {
                    // As the last chunk, it must exhaust the name.
                    if !pattern.is_empty() || t.is_empty() {
                        name = t;
                        continue 'pattern;
                    }
                }
                i += 1;
            }
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// The next chunk of `pattern`: whether stars lead it, the chunk up to the next star outside
/// a class, and the rest.
fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while let [b'*', rest @ ..] = pattern {
        pattern = rest;
        star = true;
    }
    let mut in_class = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            // An escape at the very end is left for match_chunk to reject.
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_class = true,
            b']' => in_class = false,
            b'*' if !in_class => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

/// Matches `chunk` (no stars) against the start of `s`: the rest of `s` on a match. After a
/// mismatch the chunk is still read to the end, so that a malformed one is always reported.
fn match_chunk<'s>(mut chunk: &[u8], mut s: &'s [u8]) -> Result<Option<&'s [u8]>, BadPattern> {
    let mut failed = false;
    while let Some(&c) = chunk.first() {
        failed |= s.is_empty();
        match c {
            b'[' => {
                let mut r = 0;
                if !failed {
                    let (rune, n) = decode_rune(s);
                    r = rune;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if ranges > 0 && chunk.first() == Some(&b']') {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = class_rune(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if let [b'-', rest @ ..] = chunk {
                        (hi, chunk) = class_rune(rest)?;
                    }
                    matched |= lo <= r && r <= hi;
                    ranges += 1;
                }
                failed |= matched == negated;
            }
            b'?' => {
                if !failed {
                    failed = s[0] == b'/';
                    s = &s[decode_rune(s).1..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                if c == b'\\' {
                    chunk = &chunk[1..];
                    if chunk.is_empty() {
                        return Err(BadPattern);
                    }
                }
                if !failed {
                    failed = chunk[0] != s[0];
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    Ok((!failed).then_some(s))
}

/// Go's `getEsc`: one possibly escaped rune of a class, and what follows it (which must not
/// be empty: the class still needs its `]`).
fn class_rune(chunk: &[u8]) -> Result<(u32, &[u8]), BadPattern> {
    let chunk = match chunk {
        [] | [b'-' | b']', ..] => return Err(BadPattern),
        [b'\\', rest @ ..] => rest,
        _ => chunk,
    };
    if chunk.is_empty() {
        return Err(BadPattern);
    }
    let (r, n) = decode_rune(chunk);
    if (r == 0xfffd && n == 1) || n == chunk.len() {
        return Err(BadPattern);
    }
    Ok((r, &chunk[n..]))
}

/// Go's `utf8.DecodeRune` on non-empty input: the rune and its width, or U+FFFD and width 1
/// for a byte that does not start a valid sequence.
pub(crate) fn decode_rune(s: &[u8]) -> (u32, usize) {
    let width = match s[0] {
        0x00..=0x7f => return (u32::from(s[0]), 1),
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return (0xfffd, 1),
    };
    match s.get(..width).map(std::str::from_utf8) {
        Some(Ok(text)) => (text.chars().next().map_or(0xfffd, u32::from), width),
        _ => (0xfffd, 1),
    }
}

/// Whether `path` has any of the bytes that make it a pattern (`*?[\`).
pub fn has_meta(path: &[u8]) -> bool {
    path.iter().any(|b| matches!(b, b'*' | b'?' | b'[' | b'\\'))
}

/// Go's `filepath.Clean`, appended to `out`: the shortest path naming the same file by lexical
/// processing alone (repeated and trailing separators, `.` and `..` elements removed).
pub fn clean(out: &mut Vec<u8>, path: &[u8]) {
    clean_parts(out, &[path]);
}

/// Go's `filepath.Join(dir, name)`, appended to `out`: empty elements are left out, the rest
/// joined with `/` and cleaned.
pub fn join(out: &mut Vec<u8>, dir: &[u8], name: &[u8]) {
    match (dir.is_empty(), name.is_empty()) {
        (true, true) => {}
        (true, false) => clean(out, name),
        (false, true) => clean(out, dir),
        (false, false) => clean_parts(out, &[dir, b"/", name]),
    }
}

/// [`clean`] of the concatenation of `parts`, read in place rather than copied together.
fn clean_parts(out: &mut Vec<u8>, parts: &[&[u8]]) {
    let n: usize = parts.iter().map(|p| p.len()).sum();
    let at = |mut i: usize| {
        for p in parts {
            match p.get(i) {
                Some(&b) => return b,
                None => i -= p.len(),
            }
        }
        b'/'
    };
    let base = out.len();
    if n == 0 {
        out.push(b'.');
        return;
    }
    let rooted = at(0) == b'/';
    let (mut r, mut dotdot) = (0, base);
    if rooted {
        out.push(b'/');
        r = 1;
        dotdot = base + 1;
    }
    let ends_element = |i: usize| i == n || at(i) == b'/';
    while r < n {
        if at(r) == b'/' || (at(r) == b'.' && ends_element(r + 1)) {
            r += 1;
        } else if at(r) == b'.' && r + 1 < n && at(r + 1) == b'.' && ends_element(r + 2) {
            r += 2;
            if out.len() > dotdot {
                // Drop the last element: back up to the separator before it.
                let mut w = out.len() - 1;
                while w > dotdot && out[w] != b'/' {
                    w -= 1;
                }
                out.truncate(w);
            } else if !rooted {
                // Nothing left to drop: a relative path keeps its leading `..`s.
                if out.len() > base {
                    out.push(b'/');
                }
                out.extend_from_slice(b"..");
                dotdot = out.len();
            }
        } else {
            if (rooted && out.len() != base + 1) || (!rooted && out.len() != base) {
                out.push(b'/');
            }
            while r < n && at(r) != b'/' {
                out.push(at(r));
                r += 1;
            }
        }
    }
    if out.len() == base {
        out.push(b'.');
    }
}

/// A list of byte strings in one buffer, reused between uses.
#[derive(Debug, Default)]
pub struct ByteList {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    /// Scratch for [`ByteList::sort`].
    spans: Vec<(usize, usize)>,
    spare: Vec<u8>,
}

impl ByteList {
    /// An empty list; allocates nothing until the first push.
    pub fn new() -> ByteList {
        ByteList::default()
    }

    /// Empties the list, keeping its buffers.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }

    /// Appends `s`.
    pub fn push(&mut self, s: &[u8]) {
        self.bytes.extend_from_slice(s);
        self.ends.push(self.bytes.len());
    }

    /// Appends an element written by `f` into the list's buffer.
    pub fn push_with(&mut self, f: impl FnOnce(&mut Vec<u8>)) {
        f(&mut self.bytes);
        self.ends.push(self.bytes.len());
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The element at `i`.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.bytes.get(start..end)
    }

    /// The elements in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// Sorts the elements byte-wise, as Go's `sort.Strings` does. Element spans are sorted in
    /// a scratch list, then the bytes laid out again in a spare buffer that becomes the list's:
    /// nothing is allocated once the buffers have grown to the list's size.
    pub fn sort(&mut self) {
        let ByteList { bytes, ends, spans, spare } = self;
        spans.clear();
        spans.extend(ends.iter().scan(0, |start, &end| Some((std::mem::replace(start, end), end))));
        spans.sort_unstable_by(|a, b| bytes[a.0..a.1].cmp(&bytes[b.0..b.1]));
        spare.clear();
        ends.clear();
        for &(start, end) in spans.iter() {
            spare.extend_from_slice(&bytes[start..end]);
            ends.push(spare.len());
        }
        std::mem::swap(bytes, spare);
    }
}

/// Expands patterns as Go's `filepath.Glob` does, keeping its buffers between expansions.
#[derive(Debug, Default)]
pub struct Glob {
    lister: Lister,
    /// Matched directories at each level of recursion below the top.
    levels: Vec<ByteList>,
    /// Entries of the directory being matched, sorted.
    names: ByteList,
    /// The C path being listed, NUL included.
    cpath: Vec<u8>,
}

/// Go stops recursing (and calls the pattern bad) after this many levels (CVE-2022-30632).
const MAX_DEPTH: usize = 10_000;

impl Glob {
    /// A globber; allocates nothing until the first expansion.
    pub fn new() -> Glob {
        Glob::default()
    }

    /// Appends to `out` the paths matching `pattern`, as Go's `filepath.Glob` returns them:
    /// the pattern itself if it has no meta characters and exists, otherwise matches found by
    /// listing directories, in byte order per directory, joined and cleaned. I/O errors are
    /// ignored, as Go ignores them.
    ///
    /// # Errors
    /// [`BadPattern`] as Go reports it; `out` may hold some matches then.
    pub fn expand(&mut self, pattern: &[u8], out: &mut ByteList) -> Result<(), BadPattern> {
        self.expand_at(pattern, 0, out)
    }

    fn expand_at(
        &mut self,
        pattern: &[u8],
        depth: usize,
        out: &mut ByteList,
    ) -> Result<(), BadPattern> {
        if depth == MAX_DEPTH {
            return Err(BadPattern);
        }
        matches(pattern, b"")?;
        if !has_meta(pattern) {
            if source::exists(c_path(&mut self.cpath, pattern)) {
                out.push(pattern);
            }
            return Ok(());
        }
        let split = pattern.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
        let (dir, file) = pattern.split_at(split);
        // Go's cleanGlobPath: "" is ".", "/" stays, otherwise the trailing separator goes.
        let dir: &[u8] = match dir {
            b"" => b".",
            b"/" => dir,
            _ => &dir[..dir.len() - 1],
        };
        if !has_meta(dir) {
            return self.glob_dir(dir, file, out);
        }
        if dir == pattern {
            return Err(BadPattern);
        }
        if self.levels.len() <= depth {
            self.levels.resize_with(depth + 1, ByteList::new);
        }
        let mut dirs = std::mem::take(&mut self.levels[depth]);
        dirs.clear();
        let mut result = self.expand_at(dir, depth + 1, &mut dirs);
        if result.is_ok() {
            for d in dirs.iter() {
                result = self.glob_dir(d, file, out);
                if result.is_err() {
                    break;
                }
            }
        }
        self.levels[depth] = dirs;
        result
    }

    /// Go's `glob`: appends the entries of directory `dir` that match `pattern`.
    fn glob_dir(
        &mut self,
        dir: &[u8],
        pattern: &[u8],
        out: &mut ByteList,
    ) -> Result<(), BadPattern> {
        let path = c_path(&mut self.cpath, dir);
        if !source::is_dir(path) {
            return Ok(());
        }
        self.names.clear();
        let names = &mut self.names;
        // A listing that fails part-way still yields the names read so far, as in Go.
        let _ = self.lister.list(path, |name, _| names.push(name));
        self.names.sort();
        for name in self.names.iter() {
            if matches(pattern, name)? {
                out.push_with(|buf| join(buf, dir, name));
            }
        }
        Ok(())
    }
}

/// Builds `path` as a C string in `buf` (cut at a NUL, which no real path holds).
pub fn c_path<'b>(buf: &'b mut Vec<u8>, path: &[u8]) -> &'b CStr {
    buf.clear();
    buf.extend_from_slice(path);
    buf.push(0);
    CStr::from_bytes_until_nul(buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_as_go() {
        // Go's own match tests, with results from Go's filepath.Match.
        type Case<'a> = (&'a [u8], &'a [u8], Result<bool, BadPattern>);
        let cases: &[Case<'_>] = &[
            (b"abc", b"abc", Ok(true)),
            (b"*", b"abc", Ok(true)),
            (b"*c", b"abc", Ok(true)),
            (b"a*", b"a", Ok(true)),
            (b"a*", b"abc", Ok(true)),
            (b"a*", b"ab/c", Ok(false)),
            (b"a*/b", b"abc/b", Ok(true)),
            (b"a*/b", b"a/c/b", Ok(false)),
            (b"a*b*c*d*e*/f", b"axbxcxdxe/f", Ok(true)),
            (b"a*b*c*d*e*/f", b"axbxcxdxexxx/f", Ok(true)),
            (b"a*b*c*d*e*/f", b"axbxcxdxe/xxx/f", Ok(false)),
            (b"a*b*c*d*e*/f", b"axbxcxdxexxx/fff", Ok(false)),
            (b"a*b?c*x", b"abxbbxdbxebxczzx", Ok(true)),
            (b"a*b?c*x", b"abxbbxdbxebxczzy", Ok(false)),
            (b"ab[c]", b"abc", Ok(true)),
            (b"ab[b-d]", b"abc", Ok(true)),
            (b"ab[e-g]", b"abc", Ok(false)),
            (b"ab[^c]", b"abc", Ok(false)),
            (b"ab[^b-d]", b"abc", Ok(false)),
            (b"ab[^e-g]", b"abc", Ok(true)),
            (b"a\\*b", b"a*b", Ok(true)),
            (b"a\\*b", b"ab", Ok(false)),
            (b"a?b", "a☺b".as_bytes(), Ok(true)),
            (b"a[^a]b", "a☺b".as_bytes(), Ok(true)),
            (b"a???b", "a☺b".as_bytes(), Ok(false)),
            (b"a[^a][^a][^a]b", "a☺b".as_bytes(), Ok(false)),
            ("[a-ζ]*".as_bytes(), "α".as_bytes(), Ok(true)),
            ("*[a-ζ]".as_bytes(), b"A", Ok(false)),
            (b"a?b", b"a/b", Ok(false)),
            (b"a*b", b"a/b", Ok(false)),
            (b"[\\]a]", b"]", Ok(true)),
            (b"[\\-]", b"-", Ok(true)),
            (b"[x\\-]", b"x", Ok(true)),
            (b"[x\\-]", b"-", Ok(true)),
            (b"[x\\-]", b"z", Ok(false)),
            (b"[\\-x]", b"x", Ok(true)),
            (b"[\\-x]", b"-", Ok(true)),
            (b"[\\-x]", b"a", Ok(false)),
            (b"[]a]", b"]", Err(BadPattern)),
            (b"[-]", b"-", Err(BadPattern)),
            (b"[x-]", b"x", Err(BadPattern)),
            (b"[x-]", b"-", Err(BadPattern)),
            (b"[x-]", b"z", Err(BadPattern)),
            (b"[-x]", b"x", Err(BadPattern)),
            (b"[-x]", b"-", Err(BadPattern)),
            (b"[-x]", b"a", Err(BadPattern)),
            (b"\\", b"a", Err(BadPattern)),
            (b"[a-b-c]", b"a", Err(BadPattern)),
            (b"[", b"a", Err(BadPattern)),
            (b"[^", b"a", Err(BadPattern)),
            (b"[^bc", b"a", Err(BadPattern)),
            (b"a[", b"a", Err(BadPattern)),
            (b"a[", b"ab", Err(BadPattern)),
            (b"a[", b"x", Err(BadPattern)),
            (b"a/b[", b"x", Err(BadPattern)),
            (b"*x", b"xxx", Ok(true)),
            (b"[\xff]", b"\xff", Err(BadPattern)),
            ("[\u{fffd}]".as_bytes(), b"\xff", Ok(true)),
            (b"?", b"\xff", Ok(true)),
            (b"a*[", b"b", Ok(false)),
        ];
        for &(pattern, name, want) in cases {
            assert_eq!(matches(pattern, name), want, "{:?} {:?}", pattern, name);
        }
    }

    fn cleaned(path: &str) -> String {
        let mut out = b"keep:".to_vec();
        clean(&mut out, path.as_bytes());
        String::from_utf8(out).unwrap()
    }

    fn joined(dir: &str, name: &str) -> String {
        let mut out = Vec::new();
        join(&mut out, dir.as_bytes(), name.as_bytes());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn clean_and_join_as_go() {
        for (path, want) in [
            ("", "."),
            ("abc", "abc"),
            ("abc/", "abc"),
            ("a//b/./c/", "a/b/c"),
            ("/", "/"),
            ("//", "/"),
            ("/../a", "/a"),
            ("../../a/..", "../.."),
            ("a/../..", ".."),
            ("./", "."),
            ("a/b/../../..", ".."),
            ("/a/b/../../..", "/"),
            ("..a/.b.", "..a/.b."),
        ] {
            assert_eq!(cleaned(path), format!("keep:{want}"), "{path}");
        }
        assert_eq!(
            joined("collector/fixtures/textfile/two_metric_files/", "a.prom"),
            "collector/fixtures/textfile/two_metric_files/a.prom"
        );
        assert_eq!(joined("", "a.prom"), "a.prom");
        assert_eq!(joined("", ""), "");
        assert_eq!(joined("./d/..", ""), ".");
        assert_eq!(joined("/", "x"), "/x");
        assert_eq!(joined("d", ".."), ".");
    }

    #[test]
    fn byte_list_sorts() {
        let mut l = ByteList::new();
        for s in [&b"b"[..], b"", b"ab", b"a", b"\xff"] {
            l.push(s);
        }
        l.sort();
        let got: Vec<&[u8]> = l.iter().collect();
        assert_eq!(got, [&b""[..], b"a", b"ab", b"b", b"\xff"]);
        assert_eq!((l.len(), l.is_empty(), l.get(5)), (5, false, None));
    }

    #[test]
    fn glob_as_go() {
        // A tree with directories, files, a symlink to a directory and a dangling one; the
        // expected lists are Go's filepath.Glob on the same tree (relative to its root).
        let root = std::env::temp_dir().join(format!("nodegate-glob-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for d in ["a/b1", "a/b2", "a/c", "x", "\u{e9}", "[br]"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        for f in ["a/b1/f.prom", "a/b2/g.prom", "a/c/h.txt", "x/1", "\u{e9}/z", "a/file"] {
            std::fs::write(root.join(f), b"").unwrap();
        }
        std::os::unix::fs::symlink("../x", root.join("a/lnk")).unwrap();
        std::os::unix::fs::symlink("nowhere", root.join("a/dangling")).unwrap();
        let base = format!("{}/", root.display());
        let mut g = Glob::new();
        let mut out = ByteList::new();
        for (pattern, want) in [
            ("a/*", Ok(&["a/b1", "a/b2", "a/c", "a/dangling", "a/file", "a/lnk"][..])),
            ("*/b?/*.prom", Ok(&["a/b1/f.prom", "a/b2/g.prom"][..])),
            ("a/*/", Ok(&[][..])),
            ("a/[^b]*", Ok(&["a/c", "a/dangling", "a/file", "a/lnk"][..])),
            ("a/\\b1", Ok(&["a/b1"][..])),
            ("a/[", Err(BadPattern)),
            (
                "?/*",
                Ok(
                    &["a/b1", "a/b2", "a/c", "a/dangling", "a/file", "a/lnk", "x/1", "\u{e9}/z"][..],
                ),
            ),
            ("a/lnk/*", Ok(&["a/lnk/1"][..])),
            ("a/dangling", Ok(&["a/dangling"][..])),
            ("a/nonexist", Ok(&[][..])),
            ("a//b*", Ok(&["a/b1", "a/b2"][..])),
            ("a/b1/../b2/*", Ok(&["a/b2/g.prom"][..])),
            ("[[]br]", Ok(&["[br]"][..])),
            ("a/", Ok(&["a/"][..])),
            ("a/*\\", Err(BadPattern)),
            ("x*//b", Ok(&[][..])),
        ] {
            out.clear();
            let got = g.expand(format!("{base}{pattern}").as_bytes(), &mut out);
            let got = got.map(|()| {
                out.iter()
                    .map(|m| String::from_utf8_lossy(&m[base.len()..]).into_owned())
                    .collect::<Vec<_>>()
            });
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "{pattern}");
        }
        std::fs::remove_dir_all(&root).unwrap();
    }
}
