//! `/proc/drbd` → `node_drbd_*{device}`; node_exporter's drbd collector. DRBD 8's status file:
//! a version header, then per device a `N:` token followed by `key:value` tokens, see the
//! DRBD 8.4 user's guide, "drbd: /proc/drbd":
//!
//! ```text
//!  1: cs:Connected ro:Primary/Primary ds:UpToDate/UpToDate C r-----
//!     ns:17324442 nr:10961011 dw:28263521 dr:118696670 al:1100 bm:221 lo:12345 ...
//! ```
//!
//! DRBD 9 moved these statistics to debugfs and `drbdsetup`; on it the file holds only the
//! version, and nothing is reported.

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::File;
use rustix::io::Errno;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "drbd", default_enabled: false, flags: &[], blocking: false, build };

const PATH: &str = "proc/drbd";

/// A numeric field: key, metric name, HELP, type, and the factor taking it to the unit the
/// name promises (DRBD counts the byte counters but `nr` in KiB).
const NUMERIC: [(&str, &str, &str, Kind, f64); 12] = [
    (
        "ns",
        "node_drbd_network_sent_bytes_total",
        "Total number of bytes sent via the network.",
        Kind::Counter,
        1024.0,
    ),
    (
        "nr",
        "node_drbd_network_received_bytes_total",
        "Total number of bytes received via the network.",
        Kind::Counter,
        1.0,
    ),
    (
        "dw",
        "node_drbd_disk_written_bytes_total",
        "Net data written on local hard disk; in bytes.",
        Kind::Counter,
        1024.0,
    ),
    (
        "dr",
        "node_drbd_disk_read_bytes_total",
        "Net data read from local hard disk; in bytes.",
        Kind::Counter,
        1024.0,
    ),
    (
        "al",
        "node_drbd_activitylog_writes_total",
        "Number of updates of the activity log area of the meta data.",
        Kind::Counter,
        1.0,
    ),
    (
        "bm",
        "node_drbd_bitmap_writes_total",
        "Number of updates of the bitmap area of the meta data.",
        Kind::Counter,
        1.0,
    ),
    (
        "lo",
        "node_drbd_local_pending",
        "Number of open requests to the local I/O sub-system.",
        Kind::Gauge,
        1.0,
    ),
    (
        "pe",
        "node_drbd_remote_pending",
        "Number of requests sent to the peer, but that have not yet been answered by the latter.",
        Kind::Gauge,
        1.0,
    ),
    (
        "ua",
        "node_drbd_remote_unacknowledged",
        "Number of requests received by the peer via the network connection, but that have not \
         yet been answered.",
        Kind::Gauge,
        1.0,
    ),
    (
        "ap",
        "node_drbd_application_pending",
        "Number of block I/O requests forwarded to DRBD, but not yet answered by DRBD.",
        Kind::Gauge,
        1.0,
    ),
    ("ep", "node_drbd_epochs", "Number of Epochs currently on the fly.", Kind::Gauge, 1.0),
    (
        "oos",
        "node_drbd_out_of_sync_bytes",
        "Amount of data known to be out of sync; in bytes.",
        Kind::Gauge,
        1024.0,
    ),
];

/// A `local/remote` pair: key, metric name, HELP, and the value that reports 1.
const PAIRS: [(&str, &str, &str, &str); 2] = [
    (
        "ro",
        "node_drbd_node_role_is_primary",
        "Whether the role of the node is in the primary state.",
        "Primary",
    ),
    (
        "ds",
        "node_drbd_disk_state_is_up_to_date",
        "Whether the disk of the node is up to date.",
        "UpToDate",
    ),
];

#[derive(Debug)]
struct Drbd {
    file: File,
    buf: Vec<u8>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Drbd { file: File::new(b.paths.proc("drbd")), buf: Vec::new() }))
}

impl Collector for Drbd {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = match self.file.read(&mut self.buf) {
            Ok(src) => src,
            // No DRBD module loaded.
            Err(Errno::NOENT) => return Err(Error::NoData),
            Err(e) => return Err(Error::Read { path: PATH, errno: e }),
        };
        scan(src, enc).map_err(Error::parse(PATH))
    }
}

/// Scans the file's text into `enc`; adds nothing if a value is malformed.
///
/// As upstream, the text is taken as whitespace-separated words; a word is used only if it
/// holds exactly one colon. `N:` starts device `drbdN` (words before any such are reported for
/// device `unknown`); other words are matched by key, and unknown keys are skipped.
///
/// # Errors
/// A numeric field's value that is not a float, or a `ro:`/`ds:` value without a `/` (on
/// which upstream panics). Errors carry no line number.
pub fn scan(src: &[u8], enc: &mut Encoder) -> Result<(), ParseError> {
    let numeric = NUMERIC.map(|(_, name, help, kind, _)| enc.family(name, help, kind));
    let pairs = PAIRS.map(|(_, name, help, _)| enc.family(name, help, Kind::Gauge));
    let connected =
        enc.family("node_drbd_connected", "Whether DRBD is connected to the peer.", Kind::Gauge);
    let cp = enc.checkpoint();

    // "drbd" and the device's number, at most 20 digits.
    let mut device_buf = [0u8; 24];
    let mut device_len = 0;
    let unknown: &[u8] = b"unknown";
    for word in lex::fields(src) {
        let Some(colon) = memchr::memchr(b':', word) else { continue };
        let (key, value) = (&word[..colon], &word[colon + 1..]);
        if memchr::memchr(b':', value).is_some() {
            continue;
        }
        if value.is_empty() {
            if let Some(id) = lex::parse_u64(key) {
                let mut digits = itoa::Buffer::new();
                let digits = digits.format(id).as_bytes();
                device_buf[..4].copy_from_slice(b"drbd");
                device_buf[4..4 + digits.len()].copy_from_slice(digits);
                device_len = 4 + digits.len();
                continue;
            }
        }
        let device = if device_len == 0 { unknown } else { &device_buf[..device_len] };
        if let Some(i) = NUMERIC.iter().position(|m| m.0.as_bytes() == key) {
            let Some(v) = lex::parse_f64(value) else {
                enc.rollback(cp);
                return Err(ParseError::at(0, "invalid numeric value"));
            };
            enc.sample(numeric[i], &[("device", device)], v * NUMERIC[i].4);
        } else if let Some(i) = PAIRS.iter().position(|m| m.0.as_bytes() == key) {
            let mut halves = value.split(|&b| b == b'/');
            let (Some(local), Some(remote)) = (halves.next(), halves.next()) else {
                enc.rollback(cp);
                return Err(ParseError::at(0, "expected `local/remote`"));
            };
            let ok = PAIRS[i].3.as_bytes();
            for (node, v) in [("local", local), ("remote", remote)] {
                let labels = [("device", device), ("node", node.as_bytes())];
                enc.sample(pairs[i], &labels, if v == ok { 1.0 } else { 0.0 });
            }
        } else if key == b"cs" {
            let v = if value == b"Connected" { 1.0 } else { 0.0 };
            enc.sample(connected, &[("device", device)], v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fixtures, put, render, scrape, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    fn scan_text(src: &str) -> Result<String, ParseError> {
        let mut r = Ok(());
        let text = render(|enc| r = scan(src.as_bytes(), enc));
        r.map(|()| text)
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        assert_matches_e2e(&text);
        assert_eq!(scrape(c.as_mut()), text);
    }

    #[test]
    fn devices_and_values() {
        let src = "version: 8.4.3 (api:1/proto:86-101)\n\
                   ns:1 cs:Connected\n\
                   007: cs:WFConnection ro:Secondary/Unknown ds:UpToDate/DUnknown x:y:z\n\
                   \tns:2 oos:1.5 nr:18446744073709551616 ep:-1 wo:d\n\
                   18446744073709551615: cs:StandAlone";
        let text = scan_text(src).unwrap();
        for line in [
            "node_drbd_network_sent_bytes_total{device=\"unknown\"} 1024",
            "node_drbd_connected{device=\"unknown\"} 1",
            "node_drbd_connected{device=\"drbd7\"} 0",
            "node_drbd_node_role_is_primary{device=\"drbd7\",node=\"local\"} 0",
            "node_drbd_disk_state_is_up_to_date{device=\"drbd7\",node=\"local\"} 1",
            "node_drbd_disk_state_is_up_to_date{device=\"drbd7\",node=\"remote\"} 0",
            "node_drbd_network_sent_bytes_total{device=\"drbd7\"} 2048",
            "node_drbd_out_of_sync_bytes{device=\"drbd7\"} 1536",
            "node_drbd_network_received_bytes_total{device=\"drbd7\"} 1.8446744073709552e+19",
            "node_drbd_epochs{device=\"drbd7\"} -1",
            "node_drbd_connected{device=\"drbd18446744073709551615\"} 0",
        ] {
            assert!(text.contains(&format!("\n{line}\n")), "{line} missing from\n{text}");
        }
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 12);
        // DRBD 9: only the version.
        assert_eq!(scan_text("version: 9.2.4 (api:2/proto:86-122)\n").unwrap(), "");
        assert_eq!(scan_text("").unwrap(), "");
    }

    #[test]
    fn bad_values_leave_nothing() {
        for src in ["1: cs:Connected ns:x", "1: cs:Connected ro:Primary", "1: ns:1 dw:"] {
            let mut enc = Encoder::new();
            assert!(scan(src.as_bytes(), &mut enc).is_err(), "{src}");
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "a failed scan left samples behind: {src}");
        }
    }

    #[test]
    fn missing_file_is_no_data() {
        let root = tmpdir("drbd");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert_eq!(try_scrape(c.as_mut()), Err(Error::NoData));
        put(&root, "proc/drbd", " 2: cs:Connected\n");
        assert!(try_scrape(c.as_mut()).unwrap().contains("{device=\"drbd2\"} 1\n"));
        std::fs::remove_dir_all(&root).unwrap();

        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            match try_scrape(c.as_mut()) {
                Ok(_) | Err(Error::NoData) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
}
