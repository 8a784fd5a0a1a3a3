//! `gateway::path::Key::parse`, the push URL's grouping key: never panics, and every accepted
//! key is well-formed and survives a round trip: labels sorted by name and unique, `job` there
//! and not empty, names valid and values UTF-8; written back as `@base64` segments, the key
//! parses to the same labels.

use gateway::path::{encode_base64, is_label_name, Key};

/// Checks one input: whether the job segment is base64, the job segment, the rest of the path.
pub fn check(data: &[u8]) {
    crate::typed(data, |(job_base64, job, labels): (bool, Vec<u8>, Vec<u8>)| {
        let mut key = Key::new();
        if key.parse(&job, job_base64, &labels).is_err() {
            return;
        }
        let got: Vec<(Vec<u8>, Vec<u8>)> =
            key.labels().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
        assert!(got.windows(2).all(|w| w[0].0 < w[1].0), "names unsorted or repeated: {got:?}");
        assert!(got.iter().any(|(n, v)| n == b"job" && !v.is_empty()), "no job: {got:?}");
        for (n, v) in &got {
            assert!(is_label_name(n), "bad name {n:?}");
            assert!(std::str::from_utf8(v).is_ok(), "value not UTF-8: {v:?}");
        }

        let mut job_again = Vec::new();
        let mut rest = Vec::new();
        for (n, v) in &got {
            if n == b"job" {
                encode_base64(v, &mut job_again);
            } else {
                rest.push(b'/');
                rest.extend_from_slice(n);
                rest.extend_from_slice(b"@base64/");
                encode_base64(v, &mut rest);
            }
        }
        let mut again = Key::new();
        again.parse(&job_again, true, &rest).expect("a written-back key parses");
        let back: Vec<(Vec<u8>, Vec<u8>)> =
            again.labels().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
        assert_eq!(back, got);
    });
}
