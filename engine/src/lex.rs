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

/// Parses a hexadecimal `u64` without prefix, as `strconv.ParseUint(s, 16, 64)`.
pub fn parse_hex_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
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
        n = (n << 4) | u64::from(d);
    }
    Some(n)
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
    s.parse::<f64>().ok()
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
        assert_eq!(parse_f64(b"1.5e3"), Some(1500.0));
        assert_eq!(parse_f64(b"+Inf"), Some(f64::INFINITY));
        assert!(parse_f64(b"NaN").unwrap().is_nan());
        assert_eq!(parse_f64(b"abc"), None);
    }

    proptest! {
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
