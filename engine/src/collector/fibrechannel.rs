//! `/sys/class/fc_host/<host>/*` and `statistics/*` → `node_fibrechannel_info` and 14
//! `node_fibrechannel_*_total` counters{fc_host}; node_exporter's fibrechannel collector.
//!
//! The FC transport class gives each host port a directory of attributes (`port_state` holds
//! `Online`, `port_id` `0x000002`) and a `statistics` directory of counters in hex
//! (`0x1f`); see the kernel's drivers/scsi/scsi_transport_fc.c and
//! Documentation/ABI/testing/sysfs-class-fc_host. A counter the HBA does not implement reads
//! as `0xffffffffffffffff` and is not reported. `node_name`, `port_id`, `port_name` and
//! `fabric_name` lose their first two bytes (`0x`), as in procfs.
//!
//! As upstream: a missing attribute is an empty label value and a missing counter 0; a missing
//! `fc_host` or `statistics` directory reports no data; any other failure to read fails the
//! collector, and a counter that does not parse (upstream dereferences nil and panics) too.
//! Every host is read before anything is reported.
//!
//! Each host keeps its attribute and counter files open ([`Entries`]); directories are listed
//! afresh. Reading a counter asks
//! the HBA driver for fresh statistics, so only the 14 counters reported are read; upstream also
//! reads the others (`lip_count`, `fcp_input_megabytes`, ...) and ignores their values.

use super::sysattr;
use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::source::{c_path, Entries, File, Lister};
use rustix::io::Errno;
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Registration. Blocking: reading a counter sends a request to the HBA's firmware.
pub const SPEC: Spec =
    Spec { name: "fibrechannel", default_enabled: true, flags: &[], blocking: true, build };

const PATH: &str = "sys/class/fc_host";

/// The host attributes read, in procfs' order.
const ATTRS: [&str; 11] = [
    "speed",
    "port_state",
    "port_type",
    "node_name",
    "port_id",
    "port_name",
    "fabric_name",
    "dev_loss_tmo",
    "symbolic_name",
    "supported_classes",
    "supported_speeds",
];
/// Attributes whose first two bytes (`0x`) are dropped when longer than that.
const HEX_PREFIXED: [&str; 4] = ["node_name", "port_id", "port_name", "fabric_name"];

/// `node_fibrechannel_info`'s labels after `fc_host`, each with its index in [`ATTRS`].
const INFO_LABELS: [(&str, usize); 10] = [
    ("speed", 0),
    ("port_state", 1),
    ("port_type", 2),
    ("port_id", 4),
    ("port_name", 5),
    ("fabric_name", 6),
    ("symbolic_name", 8),
    ("supported_classes", 9),
    ("supported_speeds", 10),
    ("dev_loss_tmo", 7),
];

/// The counter files, sorted for lookup by name, with the metric and HELP each is reported as.
const COUNTERS: [(&str, &str, &str); 14] = [
    ("dumped_frames", "node_fibrechannel_dumped_frames_total", "Number of dumped frames"),
    ("error_frames", "node_fibrechannel_error_frames_total", "Number of errors in frames"),
    ("fcp_packet_aborts", "node_fibrechannel_fcp_packet_aborts_total", "Number of aborted packets"),
    (
        "invalid_crc_count",
        "node_fibrechannel_invalid_crc_total",
        "Invalid Cyclic Redundancy Check count",
    ),
    (
        "invalid_tx_word_count",
        "node_fibrechannel_invalid_tx_words_total",
        "Number of invalid words transmitted by host port",
    ),
    (
        "link_failure_count",
        "node_fibrechannel_link_failure_total",
        "Number of times the host port link has failed",
    ),
    (
        "loss_of_signal_count",
        "node_fibrechannel_loss_of_signal_total",
        "Number of times signal has been lost",
    ),
    (
        "loss_of_sync_count",
        "node_fibrechannel_loss_of_sync_total",
        "Number of failures on either bit or transmission word boundaries",
    ),
    (
        "nos_count",
        "node_fibrechannel_nos_total",
        "Number Not_Operational Primitive Sequence received by host port",
    ),
    ("rx_frames", "node_fibrechannel_rx_frames_total", "Number of frames received"),
    ("rx_words", "node_fibrechannel_rx_words_total", "Number of words received by host port"),
    (
        "seconds_since_last_reset",
        "node_fibrechannel_seconds_since_last_reset_total",
        "Number of seconds since last host port reset",
    ),
    ("tx_frames", "node_fibrechannel_tx_frames_total", "Number of frames transmitted by host port"),
    ("tx_words", "node_fibrechannel_tx_words_total", "Number of words transmitted by host port"),
];

/// The value of a counter the HBA does not implement.
const UNIMPLEMENTED: u64 = u64::MAX;

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let root = b.paths.sys("class/fc_host");
    Ok(Box::new(Fibrechannel {
        root_c: c_path(&root),
        root,
        lister: Lister::new(),
        hosts: Entries::new(),
        buf: Vec::new(),
        path: Vec::new(),
    }))
}

#[derive(Debug)]
struct Fibrechannel {
    root: PathBuf,
    root_c: CString,
    /// Lists `fc_host` and each host's `statistics` afresh on every scrape: a kept fd on a
    /// directory that was removed (the transport module reloaded, a host re-created) would go
    /// on listing nothing.
    lister: Lister,
    hosts: Entries<Host>,
    buf: Vec<u8>,
    /// Scratch for entry paths.
    path: Vec<u8>,
}

#[derive(Debug)]
struct Host {
    attrs: [File; 11],
    /// This scrape's attribute values, empty where missing.
    text: [Vec<u8>; 11],
    stats: CString,
    stats_path: PathBuf,
    /// The counter files `statistics` listed this scrape, by [`COUNTERS`] index.
    counter_files: [Option<File>; 14],
    /// This scrape's counters, 0 where missing or unreadable in a way upstream tolerates.
    counters: [u64; 14],
    name_is_utf8: bool,
}

impl Host {
    fn new(dir: &Path, name: &[u8]) -> Host {
        let stats_path = dir.join("statistics");
        Host {
            attrs: ATTRS.map(|a| File::new(dir.join(a))),
            text: Default::default(),
            stats: c_path(&stats_path),
            stats_path,
            counter_files: Default::default(),
            counters: [0; 14],
            name_is_utf8: std::str::from_utf8(name).is_ok(),
        }
    }

    fn read(
        &mut self,
        buf: &mut Vec<u8>,
        path: &mut Vec<u8>,
        lister: &mut Lister,
    ) -> Result<(), Error> {
        let Host { attrs, text, stats, stats_path, counter_files, counters, .. } = self;
        for ((file, value), attr) in attrs.iter_mut().zip(text.iter_mut()).zip(ATTRS) {
            value.clear();
            match file.read_attr(buf) {
                Ok(raw) => {
                    let v = sysattr::value(raw);
                    let v = match HEX_PREFIXED.contains(&attr) && v.len() > 2 {
                        true => &v[2..],
                        false => v,
                    };
                    value.extend_from_slice(v);
                }
                // Drivers may leave attributes out.
                Err(e) if sysattr::is_not_exist(e) => {}
                Err(errno) => return Err(Error::Read { path: PATH, errno }),
            }
        }

        let dir = stats_path.as_os_str().as_bytes();
        let mut listed = [false; 14];
        lister
            .list(stats, |name, kind| {
                if !sysattr::is_regular(kind, dir, name, path) {
                    return;
                }
                if let Ok(i) = COUNTERS.binary_search_by(|c| c.0.as_bytes().cmp(name)) {
                    listed[i] = true;
                    counter_files[i]
                        .get_or_insert_with(|| File::new(stats_path.join(OsStr::from_bytes(name))));
                }
            })
            .map_err(|errno| {
                // Gone or unreadable: its files go too, and are opened afresh should it return.
                *counter_files = Default::default();
                match sysattr::is_not_exist(errno) {
                    true => Error::NoData,
                    false => Error::Read { path: PATH, errno },
                }
            })?;
        for ((file, value), listed) in counter_files.iter_mut().zip(counters.iter_mut()).zip(listed)
        {
            *value = 0;
            if !listed {
                *file = None;
                continue;
            }
            let Some(file) = file else { continue };
            let raw = match file.read_attr(buf) {
                Ok(raw) => raw,
                // Some files in `statistics` cannot be read; upstream skips these failures.
                Err(e) if sysattr::is_not_exist(e) || sysattr::is_not_supported(e) => continue,
                Err(errno) => return Err(Error::Read { path: PATH, errno }),
            };
            // Upstream dereferences the failed parse's nil and panics; fail instead.
            *value = sysattr::parse_u64(sysattr::value(raw)).ok_or(Error::Parse {
                path: PATH,
                err: ParseError::at(0, "counter is not an unsigned integer"),
            })?;
        }
        Ok(())
    }

    fn is_utf8(&self) -> bool {
        self.name_is_utf8 && self.text.iter().all(|t| std::str::from_utf8(t).is_ok())
    }
}

impl Collector for Fibrechannel {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let Fibrechannel { root, root_c, lister, hosts, buf, path } = self;
        hosts.begin();
        lister
            .list(root_c, |name, _| {
                hosts.get_or_insert_with(name, || {
                    Host::new(&root.join(OsStr::from_bytes(name)), name)
                });
            })
            .map_err(|errno: Errno| match sysattr::is_not_exist(errno) {
                true => Error::NoData,
                false => Error::Read { path: PATH, errno },
            })?;
        hosts.end();

        for (_, host) in hosts.iter_mut() {
            host.read(buf, path, lister)?;
        }
        // Upstream panics on a label value that is not UTF-8; fail instead, before adding any.
        if !hosts.iter().all(|(_, h)| h.is_utf8()) {
            return Err(Error::Parse {
                path: PATH,
                err: ParseError::at(0, "label value is not valid UTF-8"),
            });
        }
        let info = enc.family(
            "node_fibrechannel_info",
            "Non-numeric data from /sys/class/fc_host/<host>, value is always 1.",
            Kind::Gauge,
        );
        let fams = COUNTERS.map(|(_, name, help)| enc.family(name, help, Kind::Counter));
        for (name, host) in hosts.iter() {
            let mut labels = [("fc_host", name); 11];
            for (label, (key, i)) in labels[1..].iter_mut().zip(INFO_LABELS) {
                *label = (key, &host.text[i][..]);
            }
            enc.sample(info, &labels, 1.0);
            for (&fam, &v) in fams.iter().zip(&host.counters) {
                if v != UNIMPLEMENTED {
                    enc.sample_u64(fam, &[("fc_host", name)], v);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        build as build_spec, fds_under, fixture_scrape_matches_e2e, put, scrape, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    #[test]
    fn fixture_matches_upstream() {
        fixture_scrape_matches_e2e(&SPEC);
    }

    #[test]
    fn tables() {
        assert!(COUNTERS.windows(2).all(|w| w[0].0 < w[1].0));
        for (label, i) in INFO_LABELS {
            assert_eq!(ATTRS[i], label);
        }
    }

    fn host(root: &Path, name: &str) {
        put(root, &format!("sys/class/fc_host/{name}/port_id"), "0x0a0b0c\n");
        put(root, &format!("sys/class/fc_host/{name}/port_name"), "0x\n");
        put(root, &format!("sys/class/fc_host/{name}/port_state"), "Online\n");
        for (file, ..) in COUNTERS {
            put(root, &format!("sys/class/fc_host/{name}/statistics/{file}"), "0x10\n");
        }
    }

    #[test]
    fn values_and_churn() {
        let root = tmpdir("fibrechannel-values");
        host(&root, "host3");
        host(&root, "host4");
        put(&root, "sys/class/fc_host/host3/statistics/nos_count", "0xffffffffffffffff\n");
        put(&root, "sys/class/fc_host/host3/statistics/rx_words", "12\n");
        // Not read: the write-only reset, an unknown counter, a directory.
        put(&root, "sys/class/fc_host/host3/statistics/reset_statistics", "x");
        put(&root, "sys/class/fc_host/host3/statistics/lip_count", "x");
        std::fs::create_dir(root.join("sys/class/fc_host/host3/statistics/more")).unwrap();
        std::fs::remove_file(root.join("sys/class/fc_host/host3/statistics/tx_words")).unwrap();
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        assert!(text.contains(
            "node_fibrechannel_info{dev_loss_tmo=\"\",fabric_name=\"\",fc_host=\"host3\",\
             port_id=\"0a0b0c\",port_name=\"0x\",port_state=\"Online\",port_type=\"\",speed=\"\",\
             supported_classes=\"\",supported_speeds=\"\",symbolic_name=\"\"} 1\n"
        ));
        assert!(text.contains("node_fibrechannel_rx_words_total{fc_host=\"host3\"} 12\n"));
        assert!(text.contains("node_fibrechannel_tx_words_total{fc_host=\"host3\"} 0\n"));
        assert!(text.contains("node_fibrechannel_rx_frames_total{fc_host=\"host4\"} 16\n"));
        assert!(!text.contains("nos_total{fc_host=\"host3\"}"));
        assert!(text.contains("nos_total{fc_host=\"host4\"} 16\n"));

        std::fs::remove_dir_all(root.join("sys/class/fc_host/host4")).unwrap();
        assert!(!scrape(c.as_mut()).contains("host4"));
        assert_eq!(fds_under(&root.join("sys/class/fc_host/host4")), 0);
        drop(c);
        assert_eq!(fds_under(&root), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn failures() {
        let root = tmpdir("fibrechannel-errors");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert_eq!(try_scrape(c.as_mut()), Err(Error::NoData));
        // A host without statistics: no data.
        put(&root, "sys/class/fc_host/host0/speed", "8 Gbit\n");
        assert_eq!(try_scrape(c.as_mut()), Err(Error::NoData));
        host(&root, "host0");
        assert!(scrape(c.as_mut()).contains("speed=\"8 Gbit\""));
        // Counters that do not parse: an error (a panic upstream).
        for bad in ["", "-1\n", "0x1g\n", "0x10000000000000000\n"] {
            put(&root, "sys/class/fc_host/host0/statistics/rx_words", bad);
            let r = try_scrape(c.as_mut());
            assert!(matches!(r, Err(Error::Parse { .. })), "{bad:?}: {r:?}");
        }
        put(&root, "sys/class/fc_host/host0/statistics/rx_words", "1\n");
        // An attribute that cannot be read.
        std::fs::remove_file(root.join("sys/class/fc_host/host0/port_type")).ok();
        std::fs::create_dir(root.join("sys/class/fc_host/host0/port_type")).unwrap();
        let r = try_scrape(c.as_mut());
        assert!(matches!(r, Err(Error::Read { errno: Errno::ISDIR, .. })), "{r:?}");
        std::fs::remove_dir(root.join("sys/class/fc_host/host0/port_type")).unwrap();
        // A label value that is not UTF-8 (upstream panics).
        std::fs::write(root.join("sys/class/fc_host/host0/symbolic_name"), b"\xfe").unwrap();
        let r = try_scrape(c.as_mut());
        assert!(matches!(r, Err(Error::Parse { .. })), "{r:?}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            if let Err(e) = try_scrape(c.as_mut()) {
                assert!(e.is_no_data(), "{e}");
            }
        }
    }
}
