//! See `nodegate_fuzz::textfile` for the property checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nodegate_fuzz::textfile::check(data));
