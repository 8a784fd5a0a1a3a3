//! Sample values laid out exactly as the Prometheus Go client writes them.
//!
//! The Go client's text writer special-cases `0` (so `-0` is `0`), `1`, `-1`, `NaN`, `+Inf` and
//! `-Inf`, and hands every other value to `strconv.FormatFloat(v, 'g', -1, 64)`: the shortest
//! digits that round-trip, in exponent form when the decimal exponent is below -4 or at least 6,
//! with a signed exponent of at least two digits (`8.885917e+06`, `1.305e-06`, `1024`,
//! `14.036781000000001`).
//!
//! The digits come from ryu (Ryū, as Go's own shortest formatter) or, for integral values below
//! 2^53, from itoa: an integer that is exact in an `f64` has no shorter round-trip form than its
//! own digits without trailing zeros. Only the layout is done here.

/// Largest magnitude below which every integral `f64` is an exact integer with a unique
/// shortest form (its digits); 2^53.
const EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// Appends `v` as the Go client's text writer does. Allocates only if `out` must grow.
#[inline]
pub fn write_value(out: &mut Vec<u8>, v: f64) {
    if v == 0.0 {
        out.push(b'0');
    } else if v == 1.0 {
        out.push(b'1');
    } else if v == -1.0 {
        out.extend_from_slice(b"-1");
    } else {
        write_g(out, v);
    }
}

/// Appends a `u64` counter as the Go client writes it after converting it to `float64`.
#[inline]
pub fn write_u64(out: &mut Vec<u8>, v: u64) {
    if v < 1_000_000 {
        // Below 1e6 the layout is the plain integer, and the value is exact.
        out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    } else {
        write_g(out, v as f64);
    }
}

/// Appends `v` exactly as Go's `strconv.FormatFloat(v, 'g', -1, 64)` does, `-0` included.
pub fn write_g(out: &mut Vec<u8>, v: f64) {
    if !v.is_finite() {
        return write_nonfinite(out, v);
    }
    let digits = if v.abs() < EXACT_INT && v == v.trunc() {
        Digits::of_integer(v.abs() as u64)
    } else {
        Digits::of_ryu(ryu::Buffer::new().format_finite(v.abs()).as_bytes())
    };
    if v.is_sign_negative() {
        out.push(b'-');
    }
    digits.layout(out);
}

#[cold]
fn write_nonfinite(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(if v.is_nan() {
        b"NaN"
    } else if v > 0.0 {
        b"+Inf"
    } else {
        b"-Inf"
    });
}

/// Shortest decimal digits `d` and point position `dp`: the value is `0.d × 10^dp`, Go's
/// `decimalSlice` convention. A float64 needs at most 17 significant digits.
struct Digits {
    d: [u8; 24],
    nd: usize,
    dp: i32,
}

impl Digits {
    fn of_integer(n: u64) -> Digits {
        let mut buf = itoa::Buffer::new();
        let s = buf.format(n).as_bytes();
        let nd = s.len() - s.iter().rev().take_while(|&&b| b == b'0').count();
        let mut d = [0; 24];
        d[..nd].copy_from_slice(&s[..nd]);
        Digits { d, nd, dp: if n == 0 { 0 } else { s.len() as i32 } }
    }

    /// Reads ryu's output for a positive finite value: `123.45`, `0.001`, `1e16`, `1.5e-7`.
    fn of_ryu(s: &[u8]) -> Digits {
        let mut this = Digits { d: [0; 24], nd: 0, dp: 0 };
        let (mant, exp) = match memchr::memchr(b'e', s) {
            Some(i) => (&s[..i], parse_exp(&s[i + 1..])),
            None => (s, 0),
        };
        let mut int_len: i32 = 0;
        let mut seen_point = false;
        let mut leading = true;
        for &b in mant {
            if b == b'.' {
                seen_point = true;
                continue;
            }
            if leading && b == b'0' {
                // A leading zero moves the point left when it is after the point.
                if seen_point {
                    int_len -= 1;
                }
                continue;
            }
            leading = false;
            if !seen_point {
                int_len += 1;
            }
            this.d[this.nd] = b;
            this.nd += 1;
        }
        while this.nd > 0 && this.d[this.nd - 1] == b'0' {
            this.nd -= 1;
        }
        this.dp = int_len + exp;
        this
    }

    /// Lays the digits out as Go's `%g` with shortest precision: `%e` when the exponent is
    /// below -4 or at least 6 (the shortest-mode precision), `%f` otherwise.
    fn layout(&self, out: &mut Vec<u8>) {
        let d = &self.d[..self.nd];
        if d.is_empty() {
            out.push(b'0');
            return;
        }
        let exp = self.dp - 1;
        if !(-4..6).contains(&exp) {
            out.push(d[0]);
            if d.len() > 1 {
                out.push(b'.');
                out.extend_from_slice(&d[1..]);
            }
            out.push(b'e');
            out.push(if exp < 0 { b'-' } else { b'+' });
            let e = exp.unsigned_abs();
            if e < 10 {
                out.push(b'0');
            }
            out.extend_from_slice(itoa::Buffer::new().format(e).as_bytes());
        } else if self.dp <= 0 {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-self.dp) as usize));
            out.extend_from_slice(d);
        } else {
            let dp = self.dp as usize;
            if dp >= d.len() {
                out.extend_from_slice(d);
                out.extend(std::iter::repeat_n(b'0', dp - d.len()));
            } else {
                out.extend_from_slice(&d[..dp]);
                out.push(b'.');
                out.extend_from_slice(&d[dp..]);
            }
        }
    }
}

fn parse_exp(s: &[u8]) -> i32 {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = digits.iter().fold(0i32, |n, &b| n * 10 + i32::from(b - b'0'));
    if neg {
        -n
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn g(v: f64) -> String {
        let mut out = Vec::new();
        write_g(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    fn value(v: f64) -> String {
        let mut out = Vec::new();
        write_value(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    /// An independent reference for Go's `'g', -1` layout: the digits come from Rust's exact
    /// `{:.Ne}` formatting (not ryu), the layout from Go's documented rules.
    fn reference(v: f64) -> String {
        if v.is_nan() {
            return "NaN".into();
        }
        if v.is_infinite() {
            return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
        }
        // The shortest correctly rounded (ties to even) digits that read back as `v`.
        let sci = (0..17)
            .map(|p| format!("{:.*e}", p, v.abs()))
            .find(|s| s.parse::<f64>().unwrap() == v.abs())
            .unwrap();
        let (mant, exp) = sci.split_once('e').unwrap();
        let exp: i32 = exp.parse().unwrap();
        let digits: String = mant.chars().filter(|c| *c != '.').collect();
        let digits = digits.trim_end_matches('0');
        let digits = if digits.is_empty() { "0" } else { digits };
        let sign = if v.is_sign_negative() { "-" } else { "" };
        if v == 0.0 {
            return format!("{sign}0");
        }
        if !(-4..6).contains(&exp) {
            let (first, rest) = digits.split_at(1);
            let frac = if rest.is_empty() { String::new() } else { format!(".{rest}") };
            let esign = if exp < 0 { '-' } else { '+' };
            format!("{sign}{first}{frac}e{esign}{:02}", exp.abs())
        } else if exp < 0 {
            format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize))
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                format!("{sign}{digits}{}", "0".repeat(int_len - digits.len()))
            } else {
                format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
            }
        }
    }

    #[test]
    fn examples_from_upstream_output() {
        assert_eq!(g(8885917.0), "8.885917e+06");
        assert_eq!(g(1.305e-6), "1.305e-06");
        assert_eq!(g(1024.0), "1024");
        assert_eq!(g(14.036781000000001), "14.036781000000001");
        assert_eq!(g(1.418183276e9), "1.418183276e+09");
        assert_eq!(g(1e6), "1e+06");
        assert_eq!(g(123456.0), "123456");
        assert_eq!(g(1e-5), "1e-05");
        assert_eq!(g(0.0001), "0.0001");
        assert_eq!(g(1e21), "1e+21");
        assert_eq!(g(-0.0), "-0");
        assert_eq!(g(5e-324), "5e-324");
        assert_eq!(g(f64::MAX), "1.7976931348623157e+308");
        assert_eq!(g(18446744073709551615.0), "1.8446744073709552e+19");
    }

    #[test]
    fn client_special_cases() {
        assert_eq!(value(0.0), "0");
        assert_eq!(value(-0.0), "0");
        assert_eq!(value(1.0), "1");
        assert_eq!(value(-1.0), "-1");
        assert_eq!(value(f64::NAN), "NaN");
        assert_eq!(value(f64::INFINITY), "+Inf");
        assert_eq!(value(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn u64_matches_float_path() {
        for v in [0u64, 1, 9, 999_999, 1_000_000, 8_885_917, 1 << 53, (1 << 53) + 1, u64::MAX] {
            let mut a = Vec::new();
            write_u64(&mut a, v);
            assert_eq!(String::from_utf8(a).unwrap(), value(v as f64), "{v}");
        }
    }

    fn check(v: f64) {
        assert_eq!(g(v), reference(v), "bits {:016x}", v.to_bits());
    }

    #[test]
    fn powers_of_ten_and_boundaries() {
        for e in -330..=310 {
            check(format!("1e{e}").parse().unwrap());
            check(format!("-9.5e{e}").parse().unwrap());
        }
        for i in 0..=64 {
            let p = 2f64.powi(i);
            check(p);
            check(p - 1.0);
            check(p + 1.0);
        }
        check(f64::MIN_POSITIVE);
        check(f64::MIN_POSITIVE / 3.0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn random_bit_patterns(bits in any::<u64>()) {
            check(f64::from_bits(bits));
        }

        #[test]
        fn integers_up_to_2_pow_53(n in 0u64..(1 << 53)) {
            check(n as f64);
            check(-(n as f64));
        }

        #[test]
        fn subnormals(m in 1u64..(1 << 52)) {
            check(f64::from_bits(m));
        }

        #[test]
        fn halfway_and_ticks(n in 0u64..1_000_000_000_000, d in prop::sample::select(vec![
            2.0, 3.0, 100.0, 1000.0, 1e6, 1e9,
        ])) {
            check(n as f64 / d);
            check(n as f64 * (1.0 / d));
            check((n as f64 + 0.5) / d);
        }
    }
}
