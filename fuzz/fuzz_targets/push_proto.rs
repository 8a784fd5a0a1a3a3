//! See `nodegate_fuzz::push_proto` for the property checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nodegate_fuzz::push_proto::check(data));
