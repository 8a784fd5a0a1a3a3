//! Arbitrary families and samples never panic the encoder, every line it writes is a HELP,
//! TYPE or sample line, and families come out sorted with no name twice.
#![no_main]

use engine::encode::{Encoder, Kind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: Vec<(u8, Vec<u8>, Vec<u8>, f64)>| {
    let mut enc = Encoder::new();
    for (family, help, value, v) in &input {
        let name = format!("f{}", family % 16);
        let kind = [Kind::Counter, Kind::Gauge, Kind::Untyped][usize::from(family % 3)];
        let f = enc.family_parts(&[name.as_bytes()], &[help], kind);
        enc.sample(f, &[("b", value), ("a", help)], *v);
    }
    let mut out = Vec::new();
    enc.finish(&mut out);
    let mut names: Vec<&[u8]> = Vec::new();
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix(b"# TYPE ") {
            names.push(rest.split(|&b| b == b' ').next().expect("name"));
        } else {
            assert!(line.starts_with(b"# HELP f") || line.starts_with(b"f"), "{line:?}");
        }
    }
    assert!(names.windows(2).all(|w| w[0] < w[1]), "families unsorted or repeated");
});
