//! See `nodegate_fuzz::pushgateway_gob` for the property checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nodegate_fuzz::pushgateway_gob::check(data));
