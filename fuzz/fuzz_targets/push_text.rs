//! See `nodegate_fuzz::push_text` for the property checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nodegate_fuzz::push_text::check(data));
