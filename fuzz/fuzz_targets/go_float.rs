//! See `nodegate_fuzz::go_float` for the property checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nodegate_fuzz::go_float::check(data));
