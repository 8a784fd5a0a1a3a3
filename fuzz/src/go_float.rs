//! `engine::float::write_g`: every finite value's text reads back as the same value (the
//! shortest-digits property), and every value's text has Go's shape: exponent form exactly
//! when the exponent is < -4 or >= 6, with a sign and at least two exponent digits.

/// Checks one input (a `u64`'s bits as a float).
pub fn check(data: &[u8]) {
    crate::typed(data, |bits: u64| {
        let v = f64::from_bits(bits);
        let mut out = Vec::new();
        engine::float::write_g(&mut out, v);
        let text = std::str::from_utf8(&out).expect("ASCII");
        if v.is_nan() {
            assert_eq!(text, "NaN");
            return;
        }
        if v.is_infinite() {
            assert_eq!(text, if v > 0.0 { "+Inf" } else { "-Inf" });
            return;
        }
        let back: f64 = text.parse().expect("parses");
        assert_eq!(back.to_bits(), v.to_bits(), "{text}");
        if let Some((_, exp)) = text.split_once('e') {
            assert!(exp.starts_with('+') || exp.starts_with('-'), "{text}");
            assert!(exp.len() >= 3, "{text}");
            let e: i32 = exp.parse().expect("exponent");
            assert!(!(-4..6).contains(&e), "{text}");
        } else if v != 0.0 {
            let e = v.abs().log10().floor() as i32;
            assert!((-5..=6).contains(&e), "{text}");
        }
    });
}
