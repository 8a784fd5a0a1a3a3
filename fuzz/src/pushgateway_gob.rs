//! `gateway::persist::gob::decode`, the Pushgateway file reader: never panics, and accepts only
//! what starts like a gob stream (so the cheap sniff used to pick the importer never turns a
//! readable file away).

use gateway::persist::gob;

/// Checks one input (a file's bytes).
pub fn check(data: &[u8]) {
    if let Ok(groups) = gob::decode(data) {
        assert!(gob::looks_like_gob(data));
        for f in groups.iter().flat_map(|g| &g.families) {
            assert!(f.proto.len() <= data.len());
        }
    }
}
