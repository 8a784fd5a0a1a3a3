//! `gateway::body::gunzip` under a decoded-size cap: arbitrary input never panics and never
//! decodes to more than the cap; a body compressed here (as one gzip member, or split into
//! two) decodes to itself when it fits the cap and is refused as too large when it does not.

use flate2::write::GzEncoder;
use flate2::{Compression, Decompress};
use gateway::body::{gunzip, BodyError};
use std::io::Write;

/// Checks one input: the cap, where to split the body into two members, and the body.
pub fn check(data: &[u8]) {
    crate::typed(data, |(cap, split, body): (u16, u16, Vec<u8>)| {
        let cap = usize::from(cap);
        let mut out = Vec::new();
        let mut inflate = Decompress::new(false);
        if gunzip(&body, &mut out, &mut inflate, cap).is_ok() {
            assert!(out.len() <= cap, "decoded {} bytes past the cap {cap}", out.len());
        }

        let split = usize::from(split).min(body.len());
        for members in [vec![&body[..]], vec![&body[..split], &body[split..]]] {
            let mut src = Vec::new();
            for m in members {
                let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
                enc.write_all(m).expect("compress into memory");
                src.extend_from_slice(&enc.finish().expect("compress into memory"));
            }
            let got = gunzip(&src, &mut out, &mut inflate, cap);
            if body.len() <= cap {
                assert_eq!(got, Ok(()), "{} bytes under a cap of {cap}", body.len());
                assert!(out == body, "round trip differs");
            } else {
                assert_eq!(got, Err(BodyError::TooLarge));
            }
        }
    });
}
