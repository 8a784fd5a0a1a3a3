//! The Pushgateway file reader never panics on any input, and accepts only what starts like
//! a gob stream (so the cheap sniff used to pick the importer never turns a readable file
//! away).
#![no_main]

use gateway::persist::gob;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(groups) = gob::decode(data) {
        assert!(gob::looks_like_gob(data));
        for f in groups.iter().flat_map(|g| &g.families) {
            assert!(f.proto.len() <= data.len());
        }
    }
});
