//! JSON as Go's `encoding/json` writes it, for the `/api/v1` answers: strings escaped with
//! `<`, `>`, `&`, U+2028 and U+2029 as `\u` escapes and invalid UTF-8 as U+FFFD, and times as
//! `time.Time` marshals them (RFC 3339 with nanoseconds, trailing zeros dropped).

/// Appends `s` as a JSON string.
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => hex4(out, c as u32),
                c if (c as u32) < 0x20 => hex4(out, c as u32),
                c => {
                    let mut b = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                }
            }
        }
        if !chunk.invalid().is_empty() {
            out.extend_from_slice("\u{fffd}".as_bytes());
        }
    }
    out.push(b'"');
}

fn hex4(out: &mut Vec<u8>, n: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[(n >> shift & 15) as usize]);
    }
}

/// Appends a Unix time in milliseconds as Go marshals a UTC `time.Time`:
/// `"2024-05-10T12:00:00.123Z"`.
pub fn time_ms(out: &mut Vec<u8>, ms: i64) {
    out.push(b'"');
    rfc3339_ms(out, ms);
    out.push(b'"');
}

/// Appends a Unix time in milliseconds as RFC 3339 in UTC, without quotes:
/// `2024-05-10T12:00:00.123Z` (trailing zeros of the fraction dropped, as Go does).
pub fn rfc3339_ms(out: &mut Vec<u8>, ms: i64) {
    let secs = ms.div_euclid(1000);
    let frac = ms.rem_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let mut num = itoa::Buffer::new();
    pad(out, num.format(y), 4);
    out.push(b'-');
    pad(out, num.format(m), 2);
    out.push(b'-');
    pad(out, num.format(d), 2);
    out.push(b'T');
    pad(out, num.format(rem / 3600), 2);
    out.push(b':');
    pad(out, num.format(rem / 60 % 60), 2);
    out.push(b':');
    pad(out, num.format(rem % 60), 2);
    if frac != 0 {
        let digits =
            [b'0' + (frac / 100) as u8, b'0' + (frac / 10 % 10) as u8, b'0' + (frac % 10) as u8];
        let mut n = 3;
        while n > 0 && digits[n - 1] == b'0' {
            n -= 1;
        }
        out.push(b'.');
        out.extend_from_slice(&digits[..n]);
    }
    out.push(b'Z');
}

fn pad(out: &mut Vec<u8>, s: &str, width: usize) {
    for _ in s.len()..width {
        out.push(b'0');
    }
    out.extend_from_slice(s.as_bytes());
}

/// Year, month and day of a day count since 1970-01-01 (proleptic Gregorian, by 400-year
/// eras of 146,097 days).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Appends a float as Go's `fmt.Sprint` writes it, in quotes.
pub fn float_string(out: &mut Vec<u8>, v: f64) {
    out.push(b'"');
    engine::float::write_g(out, v);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(b: &[u8]) -> String {
        let mut out = Vec::new();
        string(&mut out, b);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_as_go() {
        assert_eq!(s(b"a\"b\\c\n<&>"), "\"a\\\"b\\\\c\\n\\u003c\\u0026\\u003e\"");
        assert_eq!(s(b"\x01\xff"), "\"\\u0001\u{fffd}\"");
        assert_eq!(s("Προ\u{2028}".as_bytes()), "\"Προ\\u2028\"");
    }

    #[test]
    fn times_as_go() {
        let t = |ms| {
            let mut out = Vec::new();
            time_ms(&mut out, ms);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(t(0), "\"1970-01-01T00:00:00Z\"");
        assert_eq!(t(1_715_342_400_120), "\"2024-05-10T12:00:00.12Z\"");
        assert_eq!(t(951_782_400_001), "\"2000-02-29T00:00:00.001Z\"");
    }
}
