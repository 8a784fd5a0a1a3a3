//! See `nodegate_fuzz::body_gzip` for the property checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nodegate_fuzz::body_gzip::check(data));
