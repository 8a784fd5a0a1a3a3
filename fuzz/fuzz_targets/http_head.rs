//! See `nodegate_fuzz::http_head` for the property checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nodegate_fuzz::http_head::check(data));
