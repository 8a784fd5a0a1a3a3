//! Sysfs attribute values as node_exporter's procfs library reads and parses them, shared by
//! the `/sys/class` collectors (netclass, infiniband, fibrechannel, nvme, powersupplyclass,
//! tapestats, dmi, drm).
//!
//! procfs reads an attribute with `util.SysReadFile`: one `read(2)` of at most 128 bytes,
//! then Go's `bytes.TrimSpace`; see the kernel's Documentation/filesystems/sysfs.rst for why
//! one read returns the whole value. Numbers go through `util.ValueParser`, which is
//! `strconv.ParseInt`/`ParseUint` with base 0 (`0x1003` is hex, `010` octal). Label values
//! that may not be UTF-8 are cleaned with `strings.ToValidUTF8`. Everything here is a pure
//! function over bytes and allocates nothing beyond the output it is given.

use rustix::fs::FileType;
use rustix::io::Errno;
use std::ffi::CStr;

/// How many bytes `SysReadFile` reads: a longer value (an `ifalias` of up to 255 bytes) is cut.
pub const READ_MAX: usize = 128;

/// An attribute's value as `SysReadFile` returns it: the first [`READ_MAX`] bytes read,
/// trimmed as `bytes.TrimSpace` trims.
pub fn value(raw: &[u8]) -> &[u8] {
    trim_space(&raw[..raw.len().min(READ_MAX)])
}

/// The multi-byte UTF-8 encodings of the characters Go's `unicode.IsSpace` accepts beyond
/// ASCII: U+0085, U+00A0, U+1680, U+2000..=U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
const UNICODE_SPACES: [&[u8]; 19] = [
    b"\xc2\x85",
    b"\xc2\xa0",
    b"\xe1\x9a\x80",
    b"\xe2\x80\x80",
    b"\xe2\x80\x81",
    b"\xe2\x80\x82",
    b"\xe2\x80\x83",
    b"\xe2\x80\x84",
    b"\xe2\x80\x85",
    b"\xe2\x80\x86",
    b"\xe2\x80\x87",
    b"\xe2\x80\x88",
    b"\xe2\x80\x89",
    b"\xe2\x80\x8a",
    b"\xe2\x80\xa8",
    b"\xe2\x80\xa9",
    b"\xe2\x80\xaf",
    b"\xe2\x81\x9f",
    b"\xe3\x80\x80",
];

/// Go's `bytes.TrimSpace`: strips ASCII white space and the Unicode `White_Space` characters
/// from both ends. An invalid UTF-8 byte is not space and stops the trim, as in Go, where it
/// decodes as U+FFFD.
pub fn trim_space(mut s: &[u8]) -> &[u8] {
    loop {
        match space_len(s) {
            0 => break,
            n => s = &s[n..],
        }
    }
    loop {
        match s.last() {
            Some(&b) if crate::lex::is_space(b) => s = &s[..s.len() - 1],
            // A valid encoding at the very end is what `utf8.DecodeLastRune` decodes there.
            Some(&b) if b >= 0x80 => match UNICODE_SPACES.iter().find(|sp| s.ends_with(sp)) {
                Some(sp) => s = &s[..s.len() - sp.len()],
                None => break,
            },
            _ => break,
        }
    }
    s
}

/// The length of the white space character `s` starts with, as Go's `unicode.IsSpace` decides
/// it, or 0.
fn space_len(s: &[u8]) -> usize {
    match s.first() {
        Some(&b) if crate::lex::is_space(b) => 1,
        Some(&b) if b >= 0x80 => {
            UNICODE_SPACES.iter().find(|sp| s.starts_with(sp)).map_or(0, |sp| sp.len())
        }
        _ => 0,
    }
}

/// Go's `strings.Fields`: the runs of bytes between white space, ASCII or Unicode.
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
        let mut s = self.rest;
        loop {
            match space_len(s) {
                0 => break,
                n => s = &s[n..],
            }
        }
        if s.is_empty() {
            self.rest = s;
            return None;
        }
        let mut end = 0;
        while end < s.len() && space_len(&s[end..]) == 0 {
            end += 1;
        }
        self.rest = &s[end..];
        Some(&s[..end])
    }
}

/// `strconv.ParseUint(s, 0, 64)`: decimal, `0x`/`0o`/`0b` prefixes, a leading `0` for octal,
/// `_` between digits. `None` where Go returns an error (syntax or range).
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    let (first, _) = s.split_first()?;
    let (base, digits): (u64, &[u8]) = match (*first, s.get(1).map(u8::to_ascii_lowercase)) {
        (b'0', Some(b'b')) if s.len() >= 3 => (2, &s[2..]),
        (b'0', Some(b'o')) if s.len() >= 3 => (8, &s[2..]),
        (b'0', Some(b'x')) if s.len() >= 3 => (16, &s[2..]),
        (b'0', _) => (8, &s[1..]),
        _ => (10, s),
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for &c in digits {
        let d = match c {
            b'_' => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => c - b'0',
            b'a'..=b'z' | b'A'..=b'Z' => c.to_ascii_lowercase() - b'a' + 10,
            _ => return None,
        };
        if u64::from(d) >= base {
            return None;
        }
        n = n.checked_mul(base)?.checked_add(u64::from(d))?;
    }
    if underscores && !underscore_ok(s) {
        return None;
    }
    Some(n)
}

/// `strconv.ParseInt(s, 0, 64)`: an optional sign, then [`parse_u64`], within `i64`.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, rest) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let n = parse_u64(rest)?;
    if neg {
        0i64.checked_sub_unsigned(n)
    } else {
        i64::try_from(n).ok()
    }
}

/// Go's rule for `_` in a base-0 number: only between digits, or right after a base prefix.
fn underscore_ok(s: &[u8]) -> bool {
    #[derive(PartialEq)]
    enum Saw {
        Start,
        Digit,
        Underscore,
        Other,
    }
    let mut saw = Saw::Start;
    let mut i = 0;
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(s[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = Saw::Digit;
        hex = s[1].eq_ignore_ascii_case(&b'x');
    }
    for &c in &s[i..] {
        if c.is_ascii_digit() || hex && c.is_ascii_hexdigit() {
            saw = Saw::Digit;
        } else if c == b'_' {
            if saw != Saw::Digit {
                return false;
            }
            saw = Saw::Underscore;
        } else if saw == Saw::Underscore {
            return false;
        } else {
            saw = Saw::Other;
        }
    }
    saw != Saw::Underscore
}

/// `strconv.ParseFloat(s, 32)` for the decimal forms the kernel writes: digits with an
/// optional sign, fraction and exponent, or `inf`/`infinity`/`nan`, correctly rounded to `f32`.
/// `None` where Go errs, including a finite value beyond `f32`'s range. Go's hex floats and `_`
/// separators are refused; no sysfs attribute holds them.
pub fn parse_f32(s: &[u8]) -> Option<f32> {
    let s = std::str::from_utf8(s).ok()?;
    let v = s.parse::<f32>().ok()?;
    match v.is_infinite() && !s.bytes().any(|b| b == b'i' || b == b'I') {
        true => None,
        false => Some(v),
    }
}

/// Appends `s` to `out` as `strings.ToValidUTF8(s, "\u{FFFD}")` returns it: each run of bytes
/// that are not part of a valid UTF-8 sequence becomes one U+FFFD.
pub fn push_valid_utf8(out: &mut Vec<u8>, s: &[u8]) {
    let mut invalid_before = false;
    for chunk in s.utf8_chunks() {
        let valid = chunk.valid();
        if !valid.is_empty() {
            out.extend_from_slice(valid.as_bytes());
            invalid_before = false;
        }
        if !chunk.invalid().is_empty() && !invalid_before {
            out.extend_from_slice("\u{FFFD}".as_bytes());
            invalid_before = true;
        }
    }
}

/// Go's `uint64(x)` for a `float64` as compiled for amd64, which upstream's released binaries
/// are: below 2^63 through a signed conversion (so a negative value wraps around), above it
/// offset by 2^63; NaN and out-of-range values take the hardware's "integer indefinite"
/// (`0x8000_0000_0000_0000`).
pub fn go_u64_from_f64(x: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    let signed = |v: f64| -> i64 {
        if v.is_nan() || !(-TWO_63..TWO_63).contains(&v) {
            i64::MIN
        } else {
            v as i64
        }
    };
    if x < TWO_63 {
        signed(x) as u64
    } else {
        signed(x - TWO_63) as u64 | 1 << 63
    }
}

/// Whether a directory entry is a regular file, as Go's `DirEntry.Type().IsRegular()` tells:
/// from the entry's `d_type`, or by `lstat(dir/name)` where the file system leaves it unknown
/// (sysfs does not). `path` is scratch for the entry's path and grows once.
pub fn is_regular(kind: FileType, dir: &[u8], name: &[u8], path: &mut Vec<u8>) -> bool {
    if kind != FileType::Unknown {
        return kind == FileType::RegularFile;
    }
    path.clear();
    path.extend_from_slice(dir);
    path.push(b'/');
    path.extend_from_slice(name);
    path.push(0);
    CStr::from_bytes_with_nul(path)
        .ok()
        .and_then(|p| rustix::fs::lstat(p).ok())
        .is_some_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile)
}

/// Whether a failed read is Go's `os.IsNotExist`.
pub fn is_not_exist(e: Errno) -> bool {
    e == Errno::NOENT
}

/// Whether a failed read is Go's `os.IsPermission`.
pub fn is_permission(e: Errno) -> bool {
    e == Errno::ACCESS || e == Errno::PERM
}

/// Whether a failed read is the one procfs matches by its text, "operation not supported".
/// procfs sees that text only for a failing `read`, not `open`; a kept fd blurs the two, and
/// sysfs does not fail an `open` that way.
pub fn is_not_supported(e: Errno) -> bool {
    e == Errno::OPNOTSUPP
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trims_as_go() {
        assert_eq!(trim_space(b" \t\nx y\r\n\x0b\x0c"), b"x y");
        assert_eq!(trim_space(b""), b"");
        assert_eq!(trim_space(b" \n "), b"");
        // NBSP, NEL, ideographic space, thin space: Unicode white space.
        assert_eq!(trim_space("\u{a0}a\u{85}".as_bytes()), b"a");
        assert_eq!(trim_space("\u{3000}\u{2009}a b\u{202f}".as_bytes()), b"a b");
        // Not white space for Go: zero width space, a lone continuation byte, invalid bytes.
        assert_eq!(trim_space("\u{200b}a".as_bytes()), "\u{200b}a".as_bytes());
        assert_eq!(trim_space(b"\xa0a\xa0"), b"\xa0a\xa0");
        assert_eq!(trim_space(b"a\xc2"), b"a\xc2");
    }

    #[test]
    fn regular_entries() {
        let d = crate::collector::testing::tmpdir("sysattr-regular");
        std::fs::write(d.join("f"), b"").unwrap();
        std::os::unix::fs::symlink("f", d.join("l")).unwrap();
        let dir = d.as_os_str().as_encoded_bytes();
        let mut path = Vec::new();
        assert!(is_regular(FileType::RegularFile, dir, b"x", &mut path));
        assert!(!is_regular(FileType::Symlink, dir, b"x", &mut path));
        // Unknown: asked of the file system, without following links.
        assert!(is_regular(FileType::Unknown, dir, b"f", &mut path));
        assert!(!is_regular(FileType::Unknown, dir, b"l", &mut path));
        assert!(!is_regular(FileType::Unknown, dir, b"missing", &mut path));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn fields_as_go() {
        fn split(s: &[u8]) -> Vec<&[u8]> {
            fields(s).collect()
        }
        assert_eq!(split(b" bond0 dmz\tint\n"), [&b"bond0"[..], b"dmz", b"int"]);
        assert_eq!(split(b""), Vec::<&[u8]>::new());
        assert_eq!(split(b" \n "), Vec::<&[u8]>::new());
        assert_eq!(split("a\u{a0}b\u{2003}".as_bytes()), [&b"a"[..], b"b"]);
        // Invalid UTF-8 is not space.
        assert_eq!(split(b"a\xa0b \xc2"), [&b"a\xa0b"[..], b"\xc2"]);
    }

    #[test]
    fn value_is_first_128_bytes_trimmed() {
        let long = [b'a'; 200];
        assert_eq!(value(&long).len(), 128);
        let mut padded = vec![b' '; 127];
        padded.extend_from_slice(b"xy\n");
        assert_eq!(value(&padded), b"x");
        assert_eq!(value(b"up\n"), b"up");
    }

    #[test]
    fn base_zero_numbers() {
        // Accepted by Go's strconv.ParseInt(s, 0, 64), with its results.
        for (s, want) in [
            ("0", 0),
            ("10", 10),
            ("-1", -1),
            ("+7", 7),
            ("0x1003", 4099),
            ("0X1f", 31),
            ("010", 8),
            ("0o17", 15),
            ("0b101", 5),
            ("1_000", 1000),
            ("0x_1f", 31),
            ("0_7", 7),
            ("00", 0),
            ("-9223372036854775808", i64::MIN),
            ("9223372036854775807", i64::MAX),
            ("-0x8000000000000000", i64::MIN),
        ] {
            assert_eq!(parse_i64(s.as_bytes()), Some(want), "{s}");
        }
        // Refused: syntax and range errors.
        for s in [
            "",
            "-",
            "+",
            "x",
            "0x",
            "0b",
            "08",
            "0b2",
            "1_",
            "_1",
            "1__0",
            "0x_",
            "1 ",
            " 1",
            "1.5",
            "--1",
            "+-1",
            "9223372036854775808",
            "-9223372036854775809",
            "0xg",
            "١",
        ] {
            assert_eq!(parse_i64(s.as_bytes()), None, "{s}");
        }
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"0xffffffffffffffff"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"+1"), None);
    }

    #[test]
    fn invalid_utf8_runs_become_one_replacement() {
        // As Go's strings.ToValidUTF8 returns them.
        let clean = |s: &[u8]| {
            let mut out = Vec::new();
            push_valid_utf8(&mut out, s);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(clean(b"a\xffb"), "a\u{fffd}b");
        // One run, however many bytes and kinds of error it holds.
        assert_eq!(clean(b"a\xff\xfe\xc0\x80b"), "a\u{fffd}b");
        assert_eq!(clean(b"\xf0\x9f\x98"), "\u{fffd}");
        assert_eq!(clean(b"\xed\xa0\x80x\xff"), "\u{fffd}x\u{fffd}");
        // Replacement characters already there stay as they are.
        assert_eq!(clean("\u{fffd}\u{fffd}".as_bytes()), "\u{fffd}\u{fffd}");
        assert_eq!(clean(b""), "");
    }

    #[test]
    fn float32_as_go() {
        assert_eq!(parse_f32(b"40"), Some(40.0));
        assert_eq!(parse_f32(b"2.5"), Some(2.5));
        assert_eq!(parse_f32(b"-1e3"), Some(-1000.0));
        assert_eq!(parse_f32(b"0.1"), Some(0.1f32));
        assert_eq!(parse_f32(b"Inf"), Some(f32::INFINITY));
        assert!(parse_f32(b"nan").is_some_and(f32::is_nan));
        assert_eq!(parse_f32(b"1e-50"), Some(0.0));
        for bad in [&b""[..], b"1e39", b"-3.5e38", b"x", b"1,5", b"1 ", b"\xff"] {
            assert_eq!(parse_f32(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn float_to_u64_as_amd64() {
        // As Go's conversion gives them on amd64.
        assert_eq!(go_u64_from_f64(5e9), 5_000_000_000);
        assert_eq!(go_u64_from_f64(1.9), 1);
        assert_eq!(go_u64_from_f64(-1.0), u64::MAX);
        assert_eq!(go_u64_from_f64(-125e6), 18_446_744_073_584_551_616);
        assert_eq!(go_u64_from_f64(9_223_372_036_854_775_808.0), 1 << 63);
        assert_eq!(go_u64_from_f64(1.8e19), 18_000_000_000_000_000_000);
        assert_eq!(go_u64_from_f64(f64::NAN), 1 << 63);
        assert_eq!(go_u64_from_f64(f64::INFINITY), 1 << 63);
        assert_eq!(go_u64_from_f64(-1e19), 1 << 63);
    }

    proptest! {
        #[test]
        fn decimal_and_hex_match_std(n: i64) {
            prop_assert_eq!(parse_i64(n.to_string().as_bytes()), Some(n));
            let sign = if n < 0 { "-" } else { "" };
            let hex = format!("{sign}{:#x}", n.unsigned_abs());
            prop_assert_eq!(parse_i64(hex.as_bytes()), Some(n));
        }

        #[test]
        fn unsigned_matches_std(n: u64) {
            prop_assert_eq!(parse_u64(n.to_string().as_bytes()), Some(n));
            prop_assert_eq!(parse_u64(format!("0{n:o}").as_bytes()), Some(n));
        }

        #[test]
        fn valid_utf8_is_kept(s: String) {
            let mut out = Vec::new();
            push_valid_utf8(&mut out, s.as_bytes());
            prop_assert_eq!(out, s.into_bytes());
        }
    }
}
