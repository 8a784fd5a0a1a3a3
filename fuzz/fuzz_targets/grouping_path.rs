//! See `nodegate_fuzz::grouping_path` for the property checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nodegate_fuzz::grouping_path::check(data));
