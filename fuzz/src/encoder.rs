//! `engine::encode::Encoder`: arbitrary families and samples never panic it, its output passes
//! the [`exposition`](crate::exposition) checker, and families come out sorted with no name
//! twice.

use engine::encode::{Encoder, Kind};

type Input = Vec<(u8, Vec<u8>, Vec<u8>, f64)>;

/// Checks one input (families, HELP texts, label values and values).
pub fn check(data: &[u8]) {
    crate::typed(data, |input: Input| {
        let mut enc = Encoder::new();
        for (family, help, value, v) in &input {
            let name = format!("f{}", family % 16);
            let kind = [Kind::Counter, Kind::Gauge, Kind::Untyped][usize::from(family % 3)];
            let f = enc.family_parts(&[name.as_bytes()], &[help], kind);
            enc.sample(f, &[("b", value), ("a", help)], *v);
        }
        let mut out = Vec::new();
        enc.finish(&mut out);
        // Label values are made UTF-8 by the encoder; HELP texts are written as given.
        if input.iter().all(|(_, help, _, _)| std::str::from_utf8(help).is_ok()) {
            crate::exposition::check(&out).unwrap_or_else(|e| panic!("{e}"));
        }
        let names = crate::exposition::type_names(&out);
        assert!(names.windows(2).all(|w| w[0] < w[1]), "families unsorted or repeated");
    });
}
