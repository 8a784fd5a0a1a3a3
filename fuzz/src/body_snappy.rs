//! `gateway::body::unsnappy` under a decoded-size cap: arbitrary input never panics and never
//! decodes to more than the cap; a body compressed here (snappy's framing format) decodes to
//! itself when it fits the cap and is refused as too large when it does not.

use gateway::body::{unsnappy, BodyError};
use std::io::Write;

/// Checks one input: the cap and the body.
pub fn check(data: &[u8]) {
    crate::typed(data, |(cap, body): (u16, Vec<u8>)| {
        let cap = usize::from(cap);
        let mut out = Vec::new();
        if unsnappy(&body, &mut out, cap).is_ok() {
            assert!(out.len() <= cap, "decoded {} bytes past the cap {cap}", out.len());
        }

        let mut enc = snap::write::FrameEncoder::new(Vec::new());
        enc.write_all(&body).expect("compress into memory");
        let src = enc.into_inner().expect("compress into memory");
        let got = unsnappy(&src, &mut out, cap);
        if body.len() <= cap {
            assert_eq!(got, Ok(()), "{} bytes under a cap of {cap}", body.len());
            assert!(out == body, "round trip differs");
        } else {
            assert_eq!(got, Err(BodyError::TooLarge));
        }
    });
}
