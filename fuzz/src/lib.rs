//! The fuzz targets' property checks, one module per target.
//!
//! Each `fuzz_targets/<name>.rs` is a thin `fuzz_target!` over its module's `check`, which
//! takes the raw input bytes (targets with typed inputs decode them here with `arbitrary`,
//! exactly as `fuzz_target!` would), so the corpus replay test (`tests/corpus.rs`) runs the
//! same checks as a plain `cargo test`. Every check asserts a property beyond "no panic";
//! [`exposition`] is the line checker the scanner and textfile targets share.

pub mod body_gzip;
pub mod body_snappy;
pub mod encoder;
pub mod exposition;
pub mod gateway_push;
pub mod go_float;
pub mod grouping_path;
pub mod http_head;
pub mod push;
pub mod push_proto;
pub mod push_text;
pub mod pushgateway_gob;
pub mod scanners;
pub mod textfile;
pub mod tree;

use arbitrary::{Arbitrary, Unstructured};

/// A target's property check, run on one input.
pub type Check = fn(&[u8]);

/// Every target by name, as `fuzz_targets/` and `corpus/` name them.
pub const TARGETS: &[(&str, Check)] = &[
    ("body_gzip", body_gzip::check),
    ("body_snappy", body_snappy::check),
    ("encoder", encoder::check),
    ("gateway_push", gateway_push::check),
    ("go_float", go_float::check),
    ("grouping_path", grouping_path::check),
    ("http_head", http_head::check),
    ("push_proto", push_proto::check),
    ("push_text", push_text::check),
    ("pushgateway_gob", pushgateway_gob::check),
    ("scanners", scanners::check),
    ("textfile", textfile::check),
];

/// Decodes `data` as `fuzz_target!` decodes a typed input and runs `f` on it; inputs too
/// short for `T`, or that do not decode, are skipped as libFuzzer skips them.
pub fn typed<'a, T: Arbitrary<'a>>(data: &'a [u8], f: impl FnOnce(T)) {
    if data.len() < T::size_hint(0).0 {
        return;
    }
    if let Ok(input) = T::arbitrary_take_rest(Unstructured::new(data)) {
        f(input);
    }
}
