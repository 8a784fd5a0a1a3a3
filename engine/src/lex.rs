//! Byte-level tokenising shared by the scanners: lines, whitespace fields and numbers, with the
//! semantics of the Go functions upstream uses (`strings.Fields`, `strconv.ParseUint`, ...).
//!
//! Nothing here allocates; every function works on borrowed slices.

/// Iterates over the lines of `src`, without their `\n`. A final line without `\n` is
/// yielded; an empty `src` yields nothing.
pub fn lines(src: &[u8]) -> Lines<'_> {
    Lines { rest: src }
}

/// Iterator returned by [`lines`].
#[derive(Clone, Debug)]
pub struct Lines<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        match memchr::memchr(b'\n', self.rest) {
            Some(i) => {
                let line = &self.rest[..i];
                self.rest = &self.rest[i + 1..];
                Some(line)
            }
            None => Some(std::mem::take(&mut self.rest)),
        }
    }
}

/// Iterates over the lines of `src` as Go's `bufio.Scanner` with `ScanLines` yields them: as
/// [`lines`], and without one trailing carriage return.
pub fn go_lines(src: &[u8]) -> impl Iterator<Item = &[u8]> {
    lines(src).map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// Whether `b` is whitespace for Go's `strings.Fields` (the ASCII subset: the kernel's files
/// carry no other).
#[inline]
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

/// Iterates over the whitespace-separated fields of `line`, as `strings.Fields`.
pub fn fields(line: &[u8]) -> Fields<'_> {
    Fields { rest: line }
}

/// Iterator returned by [`fields`].
#[derive(Clone, Debug)]
pub struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        let start = self.rest.iter().position(|&b| !is_space(b))?;
        let rest = &self.rest[start..];
        let end = rest.iter().position(|&b| is_space(b)).unwrap_or(rest.len());
        self.rest = &rest[end..];
        Some(&rest[..end])
    }
}

/// `src` without leading and trailing whitespace, as `strings.TrimSpace`.
pub fn trim(src: &[u8]) -> &[u8] {
    let start = src.iter().position(|&b| !is_space(b)).unwrap_or(src.len());
    let end = src.iter().rposition(|&b| !is_space(b)).map_or(start, |i| i + 1);
    &src[start..end]
}

/// The length of the whitespace character `s` starts with, as Go's `unicode.IsSpace` knows
/// them in UTF-8 (ASCII `\t`..`\r` and space, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028,
/// U+2029, U+202F, U+205F, U+3000), or 0. Go's `fmt` scanners and `bytes.TrimSpace` use this set.
pub fn unicode_space_len(s: &[u8]) -> usize {
    match s {
        [b'\t'..=b'\r' | b' ', ..] => 1,
        [0xc2, 0x85 | 0xa0, ..] => 2,
        [0xe1, 0x9a, 0x80, ..]
        | [0xe2, 0x80, 0x80..=0x8a | 0xa8 | 0xa9 | 0xaf, ..]
        | [0xe2, 0x81, 0x9f, ..]
        | [0xe3, 0x80, 0x80, ..] => 3,
        _ => 0,
    }
}

/// `src` without leading and trailing whitespace, Unicode's included, as Go's
/// `bytes.TrimSpace` (see [`unicode_space_len`]). For text a person writes (os-release);
/// kernel files need only [`trim`].
pub fn trim_unicode(mut src: &[u8]) -> &[u8] {
    loop {
        match unicode_space_len(src) {
            0 => break,
            n => src = &src[n..],
        }
    }
    'back: loop {
        // The last character is at most three bytes long and starts at one of these.
        for n in 1..=3.min(src.len()) {
            let tail = &src[src.len() - n..];
            if unicode_space_len(tail) == n {
                src = &src[..src.len() - n];
                continue 'back;
            }
        }
        return src;
    }
}

/// Parses a decimal `u64` as `strconv.ParseUint(s, 10, 64)`: digits only, no sign, no
/// overflow. Returns `None` otherwise.
#[inline]
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    // No length cap: Go accepts any number of leading zeros, and overflow is caught below.
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(n)
}

/// Parses a decimal `i64` as `strconv.ParseInt(s, 10, 64)`: an optional sign, then digits.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let n = parse_u64(digits)?;
    if neg {
        0i64.checked_sub_unsigned(n)
    } else {
        i64::try_from(n).ok()
    }
}

/// Parses a hexadecimal `u64` without prefix, as `strconv.ParseUint(s, 16, 64)`: any number
/// of leading zeros, no sign, no overflow.
pub fn parse_hex_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        if n >> 60 != 0 {
            return None;
        }
        n = (n << 4) | u64::from(d);
    }
    Some(n)
}

/// Parses an unsigned integer as `strconv.ParseUint(s, base, bits)` does, for `base` 0 or
/// 2..=36 and `bits` 1..=64 (other values give `None`, as Go's base and bit-size errors).
///
/// Base 0 takes the base from the prefix: `0x` hexadecimal, `0o` or a bare leading `0` octal,
/// `0b` binary, else decimal; and only then are `_` digit separators allowed, where Go's
/// `underscoreOK` allows them. Values beyond `bits` are Go's range error, `None` here.
pub fn parse_uint(s: &[u8], base: u32, bits: u32) -> Option<u64> {
    if s.is_empty() || bits == 0 || bits > 64 {
        return None;
    }
    let base0 = base == 0;
    let (base, digits) = match base {
        2..=36 => (base, s),
        0 if s[0] != b'0' => (10, s),
        0 if s.len() >= 3 && matches!(s[1] | 0x20, b'b' | b'o' | b'x') => (
            match s[1] | 0x20 {
                b'b' => 2,
                b'o' => 8,
                _ => 16,
            },
            &s[2..],
        ),
        0 => (8, &s[1..]),
        _ => return None,
    };
    let max = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
    let mut n: u64 = 0;
    let mut underscores = false;
    for &c in digits {
        let d = match c {
            b'_' if base0 => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => c - b'0',
            _ if (c | 0x20).is_ascii_lowercase() => (c | 0x20) - b'a' + 10,
            _ => return None,
        };
        if u32::from(d) >= base {
            return None;
        }
        n = n.checked_mul(u64::from(base))?.checked_add(u64::from(d)).filter(|&v| v <= max)?;
    }
    if underscores && !underscores_ok(s) {
        return None;
    }
    Some(n)
}

/// Go's `underscoreOK`: each `_` sits between digits, or between a base prefix and a digit.
fn underscores_ok(s: &[u8]) -> bool {
    // What came last: b'^' start, b'0' a digit or prefix, b'_' an underscore, b'!' other.
    let mut saw = b'^';
    let s = match s.first() {
        Some(b'+' | b'-') => &s[1..],
        _ => s,
    };
    let mut i = 0;
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(s[1] | 0x20, b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = s[1] | 0x20 == b'x';
    }
    for &c in &s[i..] {
        if c.is_ascii_digit() || hex && (b'a'..=b'f').contains(&(c | 0x20)) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// Parses a signed integer as `strconv.ParseInt(s, base, bits)` does: an optional sign, then
/// [`parse_uint`]'s syntax, within `bits` as a two's-complement range.
pub fn parse_int(s: &[u8], base: u32, bits: u32) -> Option<i64> {
    let (neg, rest) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if bits == 0 || bits > 64 {
        return None;
    }
    // Overflow in the unsigned parse is a range error either way.
    let un = parse_uint(rest, base, 64)?;
    let cutoff = 1u64 << (bits - 1);
    match neg {
        false if un < cutoff => Some(un as i64),
        true if un <= cutoff => Some((un as i64).wrapping_neg()),
        _ => None,
    }
}

/// Parses a duration as Go's `time.ParseDuration`, in nanoseconds: an optional sign, then one
/// or more decimal numbers each with a unit (`ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`);
/// `0` alone needs none. `None` for what Go rejects, overflow beyond ±2⁶³ ns included.
pub fn parse_go_duration(s: &[u8]) -> Option<i64> {
    const LIMIT: u64 = 1 << 63;
    let (neg, mut s) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if s == b"0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return None;
        }
        // The integer part; overflow is an error.
        let int_len = s.iter().position(|b| !b.is_ascii_digit()).unwrap_or(s.len());
        let mut v: u64 = 0;
        for &c in &s[..int_len] {
            if v > LIMIT / 10 {
                return None;
            }
            v = v * 10 + u64::from(c - b'0');
            if v > LIMIT {
                return None;
            }
        }
        let pre = int_len > 0;
        s = &s[int_len..];
        // The fraction: digits past what fits are dropped, not an error.
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let frac_len = s.iter().position(|b| !b.is_ascii_digit()).unwrap_or(s.len());
            post = frac_len > 0;
            let mut overflow = false;
            for &c in &s[..frac_len] {
                if overflow {
                    continue;
                }
                if f > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = f * 10 + u64::from(c - b'0');
                if y > LIMIT {
                    overflow = true;
                    continue;
                }
                f = y;
                scale *= 10.0;
            }
            s = &s[frac_len..];
        }
        if !pre && !post {
            return None;
        }
        let unit_len = s.iter().position(|&b| b == b'.' || b.is_ascii_digit()).unwrap_or(s.len());
        let unit: u64 = match &s[..unit_len] {
            b"ns" => 1,
            // `us`, then U+00B5 (micro sign) and U+03BC (Greek mu) before the `s`.
            b"us" | b"\xc2\xb5s" | b"\xce\xbcs" => 1_000,
            b"ms" => 1_000_000,
            b"s" => 1_000_000_000,
            b"m" => 60_000_000_000,
            b"h" => 3_600_000_000_000,
            _ => return None,
        };
        s = &s[unit_len..];
        if v > LIMIT / unit {
            return None;
        }
        v *= unit;
        if f > 0 {
            // As Go: the fraction scaled in floating point, truncated.
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return None;
            }
        }
        total += v;
        if total > LIMIT {
            return None;
        }
    }
    match neg {
        true => Some((total as i64).wrapping_neg()),
        false if total < LIMIT => Some(total as i64),
        false => None,
    }
}

/// Go's `Duration.Seconds()` for `ns` nanoseconds: whole seconds plus the rest over 1e9.
pub fn go_seconds(ns: i64) -> f64 {
    (ns / 1_000_000_000) as f64 + (ns % 1_000_000_000) as f64 / 1e9
}

/// Parses a float as `strconv.ParseFloat(s, 64)` accepts the forms found in kernel files and
/// the text format: decimal and exponent notation, `Inf`/`+Inf`/`-Inf`/`NaN` in any case.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    // Fast path: plain unsigned integers, the common case in /proc.
    if let Some(n) = parse_u64(s) {
        return Some(n as f64);
    }
    let s = std::str::from_utf8(s).ok()?;
    // Rust also accepts "infinity"/"nan" in any case, as Go does; it rejects Go's hex floats
    // and underscores, which no kernel file carries.
    let v = s.parse::<f64>().ok()?;
    // Go reports a finite literal beyond the f64 range (`1e400`) as ErrRange; Rust rounds it
    // to infinity.
    match v.is_infinite() && !s.bytes().any(|b| b == b'i' || b == b'I') {
        true => None,
        false => Some(v),
    }
}

/// The length of the float token Go's `fmt` scanners (the `%f` verb of `Sscanf`) take from the
/// start of `s`: `NaN`, or an optional sign followed by `Inf` or by digits, a fraction and an
/// exponent. The token is then parsed with [`parse_f64`]; an empty token, or one that does not
/// parse, is Go's "invalid syntax". Go's `_` separators and binary `p` exponents are taken into
/// the token as Go takes them, but do not parse here: no kernel file writes them.
pub fn float_token_len(s: &[u8]) -> usize {
    let mut i = 0;
    let mut accept = |set: &[u8]| match s.get(i) {
        Some(b) if set.contains(b) => {
            i += 1;
            true
        }
        _ => false,
    };
    // Each `&&` chain stops at the first miss but keeps what it took, as Go's `accept` does.
    if accept(b"nN") && accept(b"aA") && accept(b"nN") {
        return i;
    }
    accept(b"+-");
    if accept(b"iI") && accept(b"nN") && accept(b"fF") {
        return i;
    }
    const DIGITS: &[u8] = b"0123456789_";
    while accept(DIGITS) {}
    if accept(b".") {
        while accept(DIGITS) {}
    }
    if accept(b"eEpP") {
        accept(b"+-");
        while accept(DIGITS) {}
    }
    i
}

/// Whether every byte of `s` may appear in a metric name after its first character
/// (`[a-zA-Z0-9_:]`, the scheme client_golang v1.19 validates names with).
pub fn is_name_tail(s: &[u8]) -> bool {
    s.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lines_and_fields() {
        let v: Vec<&[u8]> = lines(b"a b\n\nc").collect();
        assert_eq!(v, [&b"a b"[..], b"", b"c"]);
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(lines(b"x\n").count(), 1);
        let v: Vec<&[u8]> = go_lines(b"a\r\nb\r\r\n\rc\r").collect();
        assert_eq!(v, [&b"a"[..], b"b\r", b"\rc"]);
        let f: Vec<&[u8]> = fields(b"  cpu0  1\t2 \n").collect();
        assert_eq!(f, [&b"cpu0"[..], b"1", b"2"]);
        assert_eq!(fields(b"   ").count(), 0);
        assert_eq!(trim(b" \tx y\n"), b"x y");
        assert_eq!(trim(b"  "), b"");
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"1 "), None);
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"-"), None);
        assert_eq!(parse_hex_u64(b"ffffffffffffffff"), Some(u64::MAX));
        assert_eq!(parse_hex_u64(b"0000001a"), Some(26));
        assert_eq!(parse_hex_u64(b"g"), None);
        assert_eq!(parse_hex_u64(b"00000000000000000001"), Some(1));
        assert_eq!(parse_hex_u64(b"10000000000000000"), None);
        assert_eq!(parse_hex_u64(b"0x1"), None);
        assert_eq!(parse_f64(b"1.5e3"), Some(1500.0));
        assert_eq!(parse_f64(b"+Inf"), Some(f64::INFINITY));
        assert!(parse_f64(b"NaN").unwrap().is_nan());
        assert_eq!(parse_f64(b"abc"), None);
        assert_eq!(parse_f64(b"1e400"), None);
        assert_eq!(parse_f64(b"-1e400"), None);
        assert_eq!(parse_f64(b"1e-400"), Some(0.0));
        assert_eq!(parse_f64(b"-infinity"), Some(f64::NEG_INFINITY));
    }

    #[test]
    fn unicode_trim() {
        assert_eq!(trim_unicode(" \u{a0}x y\u{3000}\t\u{85}".as_bytes()), b"x y");
        assert_eq!(trim_unicode("\u{2000}\u{200a}".as_bytes()), b"");
        // Not spaces: U+200B, and a lone continuation byte.
        assert_eq!(trim_unicode("\u{200b}x\u{200b}".as_bytes()), "\u{200b}x\u{200b}".as_bytes());
        assert_eq!(trim_unicode(b"\xa0x\xa0"), b"\xa0x\xa0");
        assert_eq!(unicode_space_len(b"\x0bx"), 1);
        assert_eq!(unicode_space_len(b"\xe2\x80\x8b"), 0);
    }

    #[test]
    fn base0_integers_as_go_parses_them() {
        // Expected values from Go's strconv.ParseInt(s, 0, 64); None where it errs.
        let cases: [(&[u8], Option<i64>); 24] = [
            (b"0", Some(0)),
            (b"-0", Some(0)),
            (b"010", Some(8)),
            (b"08", None),
            (b"0x1F", Some(31)),
            (b"0X1f", Some(31)),
            (b"0x", None),
            (b"0b101", Some(5)),
            (b"0o17", Some(15)),
            (b"0o", None),
            (b"1_000", Some(1000)),
            (b"0x_1", Some(1)),
            (b"0_7", Some(7)),
            (b"_1", None),
            (b"1_", None),
            (b"1__0", None),
            (b"+12", Some(12)),
            (b"-0x10", Some(-16)),
            (b"9223372036854775807", Some(i64::MAX)),
            (b"-9223372036854775808", Some(i64::MIN)),
            (b"9223372036854775808", None),
            (b"12a", None),
            (b"", None),
            (b"+", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_int(s, 0, 64), want, "{:?}", String::from_utf8_lossy(s));
        }
        assert_eq!(parse_uint(b"0xffffffffffffffff", 0, 64), Some(u64::MAX));
        assert_eq!(parse_uint(b"18446744073709551616", 0, 64), None);
        assert_eq!(parse_uint(b"-1", 0, 64), None);
    }

    #[test]
    fn float_tokens_as_go_scans_them() {
        let cases: [(&[u8], usize); 12] = [
            (b"0.06 avg", 4),
            (b"1e3", 3),
            (b"-2.5E-3x", 7),
            (b"inf", 3),
            (b"+Infinity", 4),
            (b"nan", 3),
            (b"nx", 1),
            (b"x", 0),
            (b"", 0),
            (b".5", 2),
            (b"5.", 2),
            (b"1_0", 3),
        ];
        for (s, n) in cases {
            assert_eq!(float_token_len(s), n, "{:?}", String::from_utf8_lossy(s));
        }
        assert!(is_name_tail(b"Active_anon:x9"));
        assert!(!is_name_tail(b"a-b"));
        assert!(!is_name_tail(b"a(b)"));
    }

    #[test]
    fn go_parse_uint_and_int() {
        let cases: [(&[u8], u32, u32, Option<u64>); 22] = [
            (b"0x1F", 0, 64, Some(31)),
            (b"0X1f", 0, 64, Some(31)),
            (b"017", 0, 64, Some(15)),
            (b"0o17", 0, 64, Some(15)),
            (b"0b101", 0, 64, Some(5)),
            (b"0", 0, 64, Some(0)),
            (b"0x", 0, 64, None),
            (b"08", 0, 64, None),
            (b"1_000", 0, 64, Some(1000)),
            (b"0x_1f", 0, 64, Some(31)),
            (b"1__0", 0, 64, None),
            (b"_1", 0, 64, None),
            (b"1_", 0, 64, None),
            (b"1_000", 10, 64, None),
            (b"ffffffff", 16, 32, Some(u64::from(u32::MAX))),
            (b"100000000", 16, 32, None),
            (b"0000000000000000000000ff", 16, 32, Some(255)),
            (b"ffff", 16, 16, Some(65535)),
            (b"10000", 16, 16, None),
            (b"18446744073709551615", 10, 64, Some(u64::MAX)),
            (b"18446744073709551616", 10, 64, None),
            (b"", 10, 64, None),
        ];
        for (s, base, bits, want) in cases {
            assert_eq!(parse_uint(s, base, bits), want, "{:?}", String::from_utf8_lossy(s));
        }
        assert_eq!(parse_uint(b"1", 1, 64), None);
        assert_eq!(parse_uint(b"z", 36, 64), Some(35));
        assert_eq!(parse_int(b"-0x10", 0, 64), Some(-16));
        assert_eq!(parse_int(b"+017", 0, 64), Some(15));
        assert_eq!(parse_int(b"-9223372036854775808", 0, 64), Some(i64::MIN));
        assert_eq!(parse_int(b"9223372036854775808", 0, 64), None);
        assert_eq!(parse_int(b"-2147483648", 10, 32), Some(-2147483648));
        assert_eq!(parse_int(b"2147483648", 10, 32), None);
        assert_eq!(parse_int(b"-", 10, 64), None);
        assert_eq!(parse_int(b"--1", 10, 64), None);
        assert_eq!(parse_int(b"-1_0", 0, 64), Some(-10));
    }

    #[test]
    fn go_durations() {
        let s = 1_000_000_000i64;
        let cases: [(&str, Option<i64>); 20] = [
            ("13968s", Some(13968 * s)),
            ("0", Some(0)),
            ("-0", Some(0)),
            ("+5s", Some(5 * s)),
            ("-5s", Some(-5 * s)),
            ("1.5s", Some(1_500_000_000)),
            (".5s", Some(500_000_000)),
            ("5.s", Some(5 * s)),
            ("1h2m3s4ms5us6ns", Some(3723 * s + 4_005_006)),
            ("1µs", Some(1000)),
            ("1μs", Some(1000)),
            ("5ms", Some(5_000_000)),
            ("5", None),
            ("", None),
            ("s", None),
            (".s", None),
            ("5x", None),
            ("9223372036s", Some(9_223_372_036 * s)),
            ("9223372037s", None),
            ("-9223372036854775808ns", Some(i64::MIN)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_go_duration(text.as_bytes()), want, "{text}");
        }
        assert_eq!(parse_go_duration(b"9223372036854775808ns"), None);
        // Checked against Go: the fraction takes the sum to the last nanosecond, not past it.
        assert_eq!(parse_go_duration(b"9223372036.854775807s"), Some(i64::MAX));
        assert_eq!(parse_go_duration(b"9223372036.854775808s"), None);
        assert_eq!(parse_go_duration(b"1e3s"), None);
        assert_eq!(parse_go_duration(b"1_0s"), None);
        assert_eq!(parse_go_duration(b"+0s"), Some(0));
        assert_eq!(parse_go_duration(b"0.1234567890123456789012345h"), Some(444_444_440_444));
        assert_eq!(go_seconds(13968 * s), 13968.0);
        assert_eq!(go_seconds(-1_500_000_000), -1.5);
    }

    proptest! {
        #[test]
        fn parse_uint_base10_matches_std(s in "[0-9]{0,22}|[+-]?[0-9a-z ]{0,5}") {
            let want = s.parse::<u64>().ok().filter(|_| !s.starts_with('+'));
            prop_assert_eq!(parse_uint(s.as_bytes(), 10, 64), want);
        }

        #[test]
        fn parse_int_base16_matches_std(s in "[+-]?[0-9a-fA-F]{0,18}") {
            prop_assert_eq!(parse_int(s.as_bytes(), 16, 64), i64::from_str_radix(&s, 16).ok());
        }

        #[test]
        fn parse_u64_matches_std(s in "[0-9]{0,22}|[+-]?[0-9a-z ]{0,5}") {
            prop_assert_eq!(parse_u64(s.as_bytes()), s.parse::<u64>().ok().filter(|_| !s.starts_with('+')));
        }

        #[test]
        fn parse_i64_matches_std(s in "[+-]?[0-9]{0,21}") {
            prop_assert_eq!(parse_i64(s.as_bytes()), s.parse::<i64>().ok());
        }

        #[test]
        fn fields_match_split_whitespace(s in "[ a-c\t\n]{0,40}") {
            let want: Vec<&[u8]> = s.split_ascii_whitespace().map(str::as_bytes).collect();
            let got: Vec<&[u8]> = fields(s.as_bytes()).collect();
            prop_assert_eq!(got, want);
        }
    }
}
