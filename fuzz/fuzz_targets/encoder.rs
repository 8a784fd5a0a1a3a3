//! See `nodegate_fuzz::encoder` for the property checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nodegate_fuzz::encoder::check(data));
