//! See `nodegate_fuzz::gateway_push` for the property checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nodegate_fuzz::gateway_push::check(data));
