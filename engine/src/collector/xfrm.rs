//! `/proc/net/xfrm_stat` → 28 `node_xfrm_*_packets_total` counters; node_exporter's xfrm
//! collector. One `name value` per line (the kernel's Documentation/networking/xfrm_proc.rst,
//! net/xfrm/xfrm_proc.c): `XfrmInNoStates                  3`. A counter the kernel does not
//! list is reported as 0.

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::File;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "xfrm", default_enabled: false, flags: &[], blocking: false, build };

const PATH: &str = "proc/net/xfrm_stat";

#[derive(Debug)]
struct Xfrm {
    file: File,
    buf: Vec<u8>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Xfrm { file: File::new(b.paths.proc("net/xfrm_stat")), buf: Vec::new() }))
}

impl Collector for Xfrm {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = self.file.read(&mut self.buf).map_err(Error::read(PATH))?;
        scan(src, enc).map_err(Error::parse(PATH))
    }
}

/// Each counter: the kernel's name, the family's name after `node_xfrm_`, its HELP.
const COUNTERS: [(&str, &str, &str); 28] = [
    ("XfrmInError", "in_error_packets_total", "All errors not matched by other"),
    ("XfrmInBufferError", "in_buffer_error_packets_total", "No buffer is left"),
    ("XfrmInHdrError", "in_hdr_error_packets_total", "Header error"),
    (
        "XfrmInNoStates",
        "in_no_states_packets_total",
        "No state is found i.e. Either inbound SPI, address, or IPsec protocol at SA is wrong",
    ),
    (
        "XfrmInStateProtoError",
        "in_state_proto_error_packets_total",
        "Transformation protocol specific error e.g. SA key is wrong",
    ),
    (
        "XfrmInStateModeError",
        "in_state_mode_error_packets_total",
        "Transformation mode specific error",
    ),
    (
        "XfrmInStateSeqError",
        "in_state_seq_error_packets_total",
        "Sequence error i.e. Sequence number is out of window",
    ),
    ("XfrmInStateExpired", "in_state_expired_packets_total", "State is expired"),
    (
        "XfrmInStateMismatch",
        "in_state_mismatch_packets_total",
        "State has mismatch option e.g. UDP encapsulation type is mismatch",
    ),
    ("XfrmInStateInvalid", "in_state_invalid_packets_total", "State is invalid"),
    (
        "XfrmInTmplMismatch",
        "in_tmpl_mismatch_packets_total",
        "No matching template for states e.g. Inbound SAs are correct but SP rule is wrong",
    ),
    (
        "XfrmInNoPols",
        "in_no_pols_packets_total",
        "No policy is found for states e.g. Inbound SAs are correct but no SP is found",
    ),
    ("XfrmInPolBlock", "in_pol_block_packets_total", "Policy discards"),
    ("XfrmInPolError", "in_pol_error_packets_total", "Policy error"),
    ("XfrmOutError", "out_error_packets_total", "All errors which is not matched others"),
    ("XfrmOutBundleGenError", "out_bundle_gen_error_packets_total", "Bundle generation error"),
    ("XfrmOutBundleCheckError", "out_bundle_check_error_packets_total", "Bundle check error"),
    ("XfrmOutNoStates", "out_no_states_packets_total", "No state is found"),
    (
        "XfrmOutStateProtoError",
        "out_state_proto_error_packets_total",
        "Transformation protocol specific error",
    ),
    (
        "XfrmOutStateModeError",
        "out_state_mode_error_packets_total",
        "Transformation mode specific error",
    ),
    (
        "XfrmOutStateSeqError",
        "out_state_seq_error_packets_total",
        "Sequence error i.e. Sequence number overflow",
    ),
    ("XfrmOutStateExpired", "out_state_expired_packets_total", "State is expired"),
    ("XfrmOutPolBlock", "out_pol_block_packets_total", "Policy discards"),
    ("XfrmOutPolDead", "out_pol_dead_packets_total", "Policy is dead"),
    ("XfrmOutPolError", "out_pol_error_packets_total", "Policy error"),
    (
        "XfrmFwdHdrError",
        "fwd_hdr_error_packets_total",
        "Forward routing of a packet is not allowed",
    ),
    ("XfrmOutStateInvalid", "out_state_invalid_packets_total", "State is invalid, perhaps expired"),
    (
        "XfrmAcquireError",
        "acquire_error_packets_total",
        "State hasn’t been fully acquired before use",
    ),
];

/// Scans the file's text into `enc`: all 28 counters, or nothing.
///
/// # Errors
/// The first line that is not exactly two fields, or whose value is not an integer (Go's
/// `Atoi`), whatever its name.
pub fn scan(src: &[u8], enc: &mut Encoder) -> Result<(), ParseError> {
    let mut values = [0i64; 28];
    for (n, line) in lex::go_lines(src).enumerate() {
        let mut fields = lex::fields(line);
        let (Some(name), Some(value), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(ParseError::at(n + 1, "expected `name value`"));
        };
        let v = lex::parse_i64(value).ok_or(ParseError::at(n + 1, "invalid value"))?;
        // A later line of the same name wins; unknown names are ignored.
        if let Some(i) = COUNTERS.iter().position(|c| c.0.as_bytes() == name) {
            values[i] = v;
        }
    }
    for ((_, name, help), v) in COUNTERS.iter().zip(values) {
        let f =
            enc.family_parts(&[b"node_xfrm_", name.as_bytes()], &[help.as_bytes()], Kind::Counter);
        enc.sample(f, &[], v as f64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_e2e_families, assert_matches_e2e, build as build_spec, fixtures, render, tmpdir,
        try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    #[test]
    fn fixture_matches_upstream() {
        assert_e2e_families(PATH, |src, enc| scan(src, enc).unwrap());
        let Some(root) = fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(root), &Settings::new()).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        assert_matches_e2e(&text);
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 28);
    }

    #[test]
    fn missing_counters_are_zero() {
        let text =
            render(|enc| scan(b"XfrmInError 5\nXfrmFuture 9\nXfrmInError\t-7\n", enc).unwrap());
        assert!(text.contains("\nnode_xfrm_in_error_packets_total -7\n"));
        assert!(text.contains("\nnode_xfrm_acquire_error_packets_total 0\n"));
        assert!(text.contains(
            "# HELP node_xfrm_acquire_error_packets_total State hasn’t been fully acquired \
             before use\n# TYPE node_xfrm_acquire_error_packets_total counter\n"
        ));
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 28);
        // Even an empty file reports every counter.
        let empty = render(|enc| scan(b"", enc).unwrap());
        assert_eq!(empty.lines().filter(|l| !l.starts_with('#')).count(), 28);
    }

    #[test]
    fn bad_input() {
        for (src, line) in [
            (&b"XfrmInError 1\n\n"[..], 2),
            (b"XfrmInError 1 2\n", 1),
            (b"XfrmInError\n", 1),
            (b"XfrmFuture x\n", 1),
            (b"XfrmInError 1.5\n", 1),
            (b"XfrmInError 9223372036854775808\n", 1),
            (b"XfrmInError 0x10\n", 1),
        ] {
            let mut enc = Encoder::new();
            assert_eq!(scan(src, &mut enc).unwrap_err().line, line, "{src:?}");
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty());
        }
    }

    #[test]
    fn missing_file_and_live_host() {
        let root = tmpdir("xfrm");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert!(matches!(try_scrape(&mut *c), Err(Error::Read { path: PATH, .. })));
        std::fs::remove_dir_all(&root).unwrap();
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            match try_scrape(&mut *c) {
                Ok(text) => assert!(text.contains("node_xfrm_in_error_packets_total ")),
                // Kernels without CONFIG_XFRM_STATISTICS; upstream fails the same way.
                Err(Error::Read { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
}
