//! See `nodegate_fuzz::scanners` for the property checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nodegate_fuzz::scanners::check(data));
