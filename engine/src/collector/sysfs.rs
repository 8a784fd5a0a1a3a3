//! What the collectors reading sysfs share: procfs' way of reading an attribute, a directory
//! listed into per-entry state as Go's `filepath.Glob` lists it, upstream's start-up and label
//! checks, Go's path joining, and the Go string functions upstream applies to what it reads
//! (`TrimSpace`, `Fields`, `ToLower`), on bytes and without allocating.
//!
//! Go decodes UTF-8 as it goes: to `strings.TrimSpace`, `strings.Fields` and `strings.ToLower`
//! an invalid byte is one rune (U+FFFD) of width 1, and never white space. The helpers here
//! decode the same way, so a file holding stray bytes splits and trims as it does upstream.

use super::{Error, ParseError};
use crate::glob::{self, decode_rune};
use crate::source::{Dir, Entries, File};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// How much procfs' `util.SysReadFile` (and hwmon's own copy of it) reads: one `read(2)` into a
/// 128-byte buffer.
const SHORT_READ: usize = 128;

/// Reads a sysfs attribute as `SysReadFile` does: one read, of which the first 128 bytes count.
/// sysfs hands out an attribute whole from offset 0, so reading a page and cutting it is the
/// same as reading 128 bytes.
///
/// # Errors
/// The `openat` or `pread` error.
pub fn read_short<'b>(file: &mut File, buf: &'b mut Vec<u8>) -> Result<&'b [u8], Errno> {
    let src = file.read_attr(buf)?;
    Ok(&src[..src.len().min(SHORT_READ)])
}

/// Lists `dir` into `entries` as `filepath.Glob` finds a pattern's matches in one directory:
/// the names `keep` accepts, whatever their type; a directory that cannot be read has none
/// (Glob ignores I/O errors). `make` builds the state of a name seen for the first time.
/// Entries no longer listed are dropped, their fds closed. Allocates only for new names.
pub fn glob_into<T>(
    dir: &mut Dir,
    entries: &mut Entries<T>,
    keep: impl Fn(&[u8]) -> bool,
    mut make: impl FnMut(&[u8]) -> T,
) {
    entries.begin();
    let _ = dir.for_each(|name, _| {
        if keep(name) {
            entries.get_or_insert_with(name, || make(name));
        }
    });
    entries.end();
}

/// Whether `name` matches the glob `<prefix>[0-9]*`.
pub fn is_numbered(name: &[u8], prefix: &[u8]) -> bool {
    name.strip_prefix(prefix).is_some_and(|rest| rest.first().is_some_and(u8::is_ascii_digit))
}

/// `rel` joined to the mount point `dir` as Go's `filepath.Join` does it (cleaned), the form
/// upstream's paths take in labels and in `filepath.EvalSymlinks`. Allocates; used when a
/// collector or an entry is built.
pub fn go_join(dir: &Path, rel: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    glob::join(&mut out, dir.as_os_str().as_bytes(), rel);
    out
}

/// `bytes` as a path.
pub fn path(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

/// Upstream's start-up check of a mount point (procfs' `fs.NewFS`): it must be a directory.
///
/// # Errors
/// A message naming the mount point, as the collector's build error.
pub fn check_mount(what: &str, dir: &Path) -> Result<(), String> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(format!("failed to open {what}: mount point {dir:?} is not a directory")),
        Err(e) => Err(format!("failed to open {what}: could not read {dir:?}: {e}")),
    }
}

/// `v` if client_golang accepts it as a label value (valid UTF-8). Upstream's
/// `MustNewConstMetric` panics on any other value, taking the whole exporter down; here the
/// collector fails instead, with `path` naming the file or directory the value came from.
///
/// # Errors
/// `Error::Parse` when `v` is not UTF-8.
pub fn label<'a>(path: &'static str, v: &'a [u8]) -> Result<&'a [u8], Error> {
    match std::str::from_utf8(v) {
        Ok(_) => Ok(v),
        Err(_) => Err(Error::Parse { path, err: not_utf8() }),
    }
}

#[cold]
fn not_utf8() -> ParseError {
    ParseError { line: 0, what: "label value is not valid UTF-8" }
}

/// Width of the rune `s` starts with if it is white space to Go's `unicode.IsSpace` (the
/// Unicode White_Space property, as `char::is_whitespace`); 0 otherwise or if `s` is empty.
fn space_at(s: &[u8]) -> usize {
    if s.is_empty() {
        return 0;
    }
    let (r, n) = decode_rune(s);
    if char::from_u32(r).is_some_and(char::is_whitespace) {
        n
    } else {
        0
    }
}

/// Width of the rune `s` ends with if it is white space, decoded backwards as Go's
/// `utf8.DecodeLastRune` does; 0 otherwise or if `s` is empty.
fn space_before(s: &[u8]) -> usize {
    let Some(&last) = s.last() else { return 0 };
    let end = s.len();
    if last < 0x80 {
        return usize::from(char::from(last).is_whitespace());
    }
    // The rune starts at the nearest byte that is not a continuation byte, at most 4 back.
    let lim = end.saturating_sub(4);
    let start =
        (lim..end - 1).rev().find(|&i| s[i] & 0xc0 != 0x80).unwrap_or(lim.saturating_sub(1));
    let (r, n) = decode_rune(&s[start..]);
    if start + n == end && char::from_u32(r).is_some_and(char::is_whitespace) {
        n
    } else {
        0
    }
}

/// `s` without leading and trailing white space, as Go's `bytes.TrimSpace` (Unicode white
/// space, not only ASCII).
pub fn trim_space(mut s: &[u8]) -> &[u8] {
    loop {
        match space_at(s) {
            0 => break,
            n => s = &s[n..],
        }
    }
    loop {
        match space_before(s) {
            0 => return s,
            n => s = &s[..s.len() - n],
        }
    }
}

/// Iterates over the white-space-separated fields of `s`, as Go's `strings.Fields`.
pub fn fields(s: &[u8]) -> Fields<'_> {
    Fields { rest: s }
}

/// Iterator returned by [`fields`].
#[derive(Clone, Debug)]
pub struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            match space_at(self.rest) {
                0 => break,
                n => self.rest = &self.rest[n..],
            }
        }
        if self.rest.is_empty() {
            return None;
        }
        let mut end = 0;
        while end < self.rest.len() && space_at(&self.rest[end..]) == 0 {
            end += decode_rune(&self.rest[end..]).1;
        }
        let (field, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(field)
    }
}

/// The rune `s` starts with (non-empty), lowercased as Go's `unicode.ToLower` does, if the
/// result is ASCII; and the rune's width. Besides ASCII letters only two runes lowercase to
/// ASCII: U+0130 (İ) to `i` and U+212A (the Kelvin sign) to `k`.
pub fn lower_ascii_at(s: &[u8]) -> (Option<u8>, usize) {
    let (r, n) = decode_rune(s);
    let lower = match r {
        0..=0x7f => Some((r as u8).to_ascii_lowercase()),
        0x130 => Some(b'i'),
        0x212a => Some(b'k'),
        _ => None,
    };
    (lower, n)
}

/// Go's `strings.HasPrefix(strings.ToLower(s), prefix)` for an ASCII `prefix`.
pub fn has_lower_prefix(mut s: &[u8], prefix: &[u8]) -> bool {
    for &want in prefix {
        if s.is_empty() {
            return false;
        }
        let (lower, n) = lower_ascii_at(s);
        if lower != Some(want) {
            return false;
        }
        s = &s[n..];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trims_unicode_space_as_go() {
        assert_eq!(trim_space(b" \t x y \n"), b"x y");
        assert_eq!(trim_space("\u{a0}x\u{2003}\u{85}".as_bytes()), b"x");
        assert_eq!(trim_space("\u{3000}".as_bytes()), b"");
        assert_eq!(trim_space(b""), b"");
        // Invalid bytes are not space, and a truncated rune before a space stays.
        assert_eq!(trim_space(b" \xff "), b"\xff");
        assert_eq!(trim_space(b"x\xe2\x80"), b"x\xe2\x80");
        // U+2000 (EN QUAD) is space.
        assert_eq!(trim_space(b"\xe2\x80\x80x\xe2\x80\x80"), b"x");
        // U+001C..U+001F are not White_Space (Go's TrimSpace keeps them).
        assert_eq!(trim_space(b"\x1cx\x1f"), b"\x1cx\x1f");
    }

    #[test]
    fn fields_split_at_unicode_space() {
        let f: Vec<&[u8]> = fields("a  b\u{a0}c\td\u{2028}".as_bytes()).collect();
        assert_eq!(f, [&b"a"[..], b"b", b"c", b"d"]);
        let f: Vec<&[u8]> = fields(b" \xff\xfe x ").collect();
        assert_eq!(f, [&b"\xff\xfe"[..], b"x"]);
        assert_eq!(fields(b" \n ").count(), 0);
    }

    #[test]
    fn lowercase_prefixes() {
        assert!(has_lower_prefix(b"Not Affected", b"not affected"));
        assert!(has_lower_prefix("UN\u{212a}NOWN".as_bytes(), b"unknown"));
        assert!(has_lower_prefix("M\u{130}t".as_bytes(), b"mit"));
        assert!(!has_lower_prefix(b"Vuln", b"vulnerable"));
        assert!(!has_lower_prefix("\u{c9}x".as_bytes(), b"ex"));
        assert!(has_lower_prefix(b"anything", b""));
    }

    #[test]
    fn numbered_names() {
        assert!(is_numbered(b"cpu0", b"cpu"));
        assert!(is_numbered(b"cpu12abc", b"cpu"));
        assert!(!is_numbered(b"cpu", b"cpu"));
        assert!(!is_numbered(b"cpufreq", b"cpu"));
        assert!(!is_numbered(b"xcpu0", b"cpu"));
    }

    #[test]
    fn labels_must_be_utf8() {
        assert_eq!(label("x", b"ok \xc3\xa9"), Ok(&b"ok \xc3\xa9"[..]));
        assert!(matches!(label("x", b"\xff"), Err(Error::Parse { path: "x", .. })));
    }

    #[test]
    fn mount_check() {
        assert!(check_mount("sysfs", Path::new("/")).is_ok());
        let err = check_mount("sysfs", Path::new("/nonexistent/sys")).unwrap_err();
        assert!(err.contains("sysfs") && err.contains("/nonexistent/sys"), "{err}");
    }

    /// Go's `strings.TrimSpace` and `strings.Fields` on valid UTF-8, as Rust's `str::trim` and
    /// `split_whitespace` (both use the White_Space property).
    fn oracle_text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just(' '),
                Just('\t'),
                Just('\n'),
                Just('\u{a0}'),
                Just('\u{2003}'),
                Just('\u{85}'),
                Just('x'),
                Just('é'),
                Just('\u{1f600}'),
            ],
            0..12,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn trim_and_fields_agree_with_std(s in oracle_text()) {
            prop_assert_eq!(trim_space(s.as_bytes()), s.trim().as_bytes());
            let got: Vec<&[u8]> = fields(s.as_bytes()).collect();
            let want: Vec<&[u8]> = s.split_whitespace().map(str::as_bytes).collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn any_bytes_never_panic(s in proptest::collection::vec(any::<u8>(), 0..16)) {
            let t = trim_space(&s);
            prop_assert!(t.len() <= s.len());
            prop_assert!(fields(&s).all(|f| !f.is_empty()));
        }
    }
}
