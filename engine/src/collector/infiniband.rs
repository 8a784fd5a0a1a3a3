//! `/sys/class/infiniband/<device>/…` → `node_infiniband_info`, per-port state, rate and
//! counters; node_exporter's infiniband collector.
//!
//! Each RDMA device has `fw_ver`, `board_id` and `hca_type`, and a `ports/<n>` directory per
//! port with `state` (`4: ACTIVE`), `phys_state` (`5: LinkUp`), `rate`
//! (`40 Gb/sec (4X QDR)`), and counters under `counters/` (and `counters_ext/` for the 64-bit
//! ones before Linux 4.5); see the kernel's Documentation/ABI/stable/sysfs-class-infiniband.
//! The data counters count 4-byte words, so they are multiplied by 4, as in procfs. A counter
//! that reads `N/A (no PMA)` is left out.
//!
//! As upstream, any failure to read or parse fails the collector, and one that comes from a
//! missing file reports no data, except: a missing `board_id` or `hca_type` is an empty label;
//! a counter that is missing, denied or refuses the read with `EOPNOTSUPP` is left out;
//! `counters_ext/` may be missing; `irdma*` devices have no `counters/`. Every device is read
//! before anything is reported.
//!
//! Each device, port and counter file is kept open ([`Entries`]); directories are listed
//! afresh. Deviations, in what upstream
//! reads without reporting: of `counters/` and `counters_ext/` only the files with a metric are
//! read, and of `hw_counters/` (which procfs parses for `mlx5_*` and `irdma*` devices and
//! node_exporter never reports) only the listing is kept, so its absence still fails the
//! collector as upstream; reading those counters would make the driver query the adapter.

use super::sysattr;
use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, FamilyId, Kind};
use crate::source::{c_path, Entries, File, Lister};
use rustix::io::Errno;
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Registration. Blocking: reading a port counter makes the driver query the port's
/// performance management agent, which may wait on the adapter.
pub const SPEC: Spec =
    Spec { name: "infiniband", default_enabled: true, flags: &[], blocking: true, build };

const PATH: &str = "sys/class/infiniband";

/// A counter file: name (the table is sorted by it), metric after `node_infiniband_`, HELP,
/// and whether it counts 4-byte words.
type Counter = (&'static str, &'static str, &'static str, bool);

/// The files of `counters/` that are reported.
const COUNTERS: [Counter; 22] = [
    (
        "VL15_dropped",
        "vl15_dropped_total",
        "Number of incoming VL15 packets dropped due to resource limitations.",
        false,
    ),
    (
        "excessive_buffer_overrun_errors",
        "excessive_buffer_overrun_errors_total",
        "Number of times that OverrunErrors consecutive flow control update periods occurred, \
         each having at least one overrun error.",
        false,
    ),
    (
        "link_downed",
        "link_downed_total",
        "Number of times the link failed to recover from an error state and went down",
        false,
    ),
    (
        "link_error_recovery",
        "link_error_recovery_total",
        "Number of times the link successfully recovered from an error state",
        false,
    ),
    (
        "local_link_integrity_errors",
        "local_link_integrity_errors_total",
        "Number of times that the count of local physical errors exceeded the threshold \
         specified by LocalPhyErrors.",
        false,
    ),
    (
        "multicast_rcv_packets",
        "multicast_packets_received_total",
        "Number of multicast packets received (including errors)",
        false,
    ),
    (
        "multicast_xmit_packets",
        "multicast_packets_transmitted_total",
        "Number of multicast packets transmitted (including errors)",
        false,
    ),
    (
        "port_rcv_constraint_errors",
        "port_constraint_errors_received_total",
        "Number of packets received on the switch physical port that are discarded",
        false,
    ),
    (
        "port_rcv_data",
        "port_data_received_bytes_total",
        "Number of data octets received on all links",
        true,
    ),
    (
        "port_rcv_discards",
        "port_discards_received_total",
        "Number of inbound packets discarded by the port because the port is down or congested",
        false,
    ),
    (
        "port_rcv_errors",
        "port_errors_received_total",
        "Number of packets containing an error that were received on this port",
        false,
    ),
    (
        "port_rcv_packets",
        "port_packets_received_total",
        "Number of packets received on all VLs by this port (including errors)",
        false,
    ),
    (
        "port_rcv_remote_physical_errors",
        "port_receive_remote_physical_errors_total",
        "Number of packets marked with the EBP (End of Bad Packet) delimiter received on the \
         port.",
        false,
    ),
    (
        "port_rcv_switch_relay_errors",
        "port_receive_switch_relay_errors_total",
        "Number of packets that could not be forwarded by the switch.",
        false,
    ),
    (
        "port_xmit_constraint_errors",
        "port_constraint_errors_transmitted_total",
        "Number of packets not transmitted from the switch physical port",
        false,
    ),
    (
        "port_xmit_data",
        "port_data_transmitted_bytes_total",
        "Number of data octets transmitted on all links",
        true,
    ),
    (
        "port_xmit_discards",
        "port_discards_transmitted_total",
        "Number of outbound packets discarded by the port because the port is down or \
         congested",
        false,
    ),
    (
        "port_xmit_packets",
        "port_packets_transmitted_total",
        "Number of packets transmitted on all VLs from this port (including errors)",
        false,
    ),
    (
        "port_xmit_wait",
        "port_transmit_wait_total",
        "Number of ticks during which the port had data to transmit but no data was sent \
         during the entire tick",
        false,
    ),
    (
        "symbol_error",
        "symbol_error_total",
        "Number of minor link errors detected on one or more physical lanes.",
        false,
    ),
    (
        "unicast_rcv_packets",
        "unicast_packets_received_total",
        "Number of unicast packets received (including errors)",
        false,
    ),
    (
        "unicast_xmit_packets",
        "unicast_packets_transmitted_total",
        "Number of unicast packets transmitted (including errors)",
        false,
    ),
];

/// The files of `counters_ext/` that are reported.
const COUNTERS_EXT: [Counter; 8] = [
    (
        "port_multicast_rcv_packets",
        "legacy_multicast_packets_received_total",
        "Number of multicast packets received",
        false,
    ),
    (
        "port_multicast_xmit_packets",
        "legacy_multicast_packets_transmitted_total",
        "Number of multicast packets transmitted",
        false,
    ),
    (
        "port_rcv_data_64",
        "legacy_data_received_bytes_total",
        "Number of data octets received on all links",
        true,
    ),
    (
        "port_rcv_packets_64",
        "legacy_packets_received_total",
        "Number of data packets received on all links",
        false,
    ),
    (
        "port_unicast_rcv_packets",
        "legacy_unicast_packets_received_total",
        "Number of unicast packets received",
        false,
    ),
    (
        "port_unicast_xmit_packets",
        "legacy_unicast_packets_transmitted_total",
        "Number of unicast packets transmitted",
        false,
    ),
    (
        "port_xmit_data_64",
        "legacy_data_transmitted_bytes_total",
        "Number of data octets transmitted on all links",
        true,
    ),
    (
        "port_xmit_packets_64",
        "legacy_packets_transmitted_total",
        "Number of data packets received on all links",
        false,
    ),
];

/// The text a driver writes for a counter its adapter cannot provide.
const NO_PMA: &[u8] = b"N/A (no PMA)";

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let root = b.paths.sys("class/infiniband");
    Ok(Box::new(Infiniband {
        root_c: c_path(&root),
        root,
        devices: Entries::new(),
        io: Io { buf: Vec::new(), lister: Lister::new(), path: Vec::new() },
    }))
}

#[derive(Debug)]
struct Infiniband {
    root: PathBuf,
    root_c: CString,
    devices: Entries<Device>,
    io: Io,
}

/// What reading a device borrows.
#[derive(Debug)]
struct Io {
    buf: Vec<u8>,
    /// Lists every directory afresh on every scrape: a kept fd on a directory that was
    /// removed (`ib_core` reloaded, a device re-created) would go on listing nothing.
    lister: Lister,
    /// Scratch for entry paths.
    path: Vec<u8>,
}

/// An error from a file read: upstream reports a missing file as no data.
fn read_error(errno: Errno) -> Error {
    match sysattr::is_not_exist(errno) {
        true => Error::NoData,
        false => Error::Read { path: PATH, errno },
    }
}

fn parse_error(what: &'static str) -> Error {
    Error::Parse { path: PATH, err: ParseError::at(0, what) }
}

#[derive(Debug)]
struct Device {
    /// `fw_ver`, `board_id`, `hca_type`.
    files: [File; 3],
    /// Their values this scrape; empty where `board_id` or `hca_type` is missing.
    text: [Vec<u8>; 3],
    ports_c: CString,
    ports_path: PathBuf,
    ports: Entries<Port>,
    /// `irdma*`: no `counters/`.
    is_irdma: bool,
    /// `irdma*` and `mlx5_*`: procfs lists `hw_counters/`.
    has_hw_counters: bool,
    name_is_utf8: bool,
}

impl Device {
    fn new(dir: &Path, name: &[u8]) -> Device {
        let ports_path = dir.join("ports");
        let is_irdma = name.starts_with(b"irdma");
        Device {
            files: ["fw_ver", "board_id", "hca_type"].map(|f| File::new(dir.join(f))),
            text: Default::default(),
            ports_c: c_path(&ports_path),
            ports_path,
            ports: Entries::new(),
            is_irdma,
            has_hw_counters: is_irdma || name.starts_with(b"mlx5_"),
            name_is_utf8: std::str::from_utf8(name).is_ok(),
        }
    }

    fn read(&mut self, io: &mut Io) -> Result<(), Error> {
        let Device { files, text, ports_c, ports_path, ports, is_irdma, has_hw_counters, .. } =
            self;
        let Io { buf, lister, .. } = io;
        for (i, (file, value)) in files.iter_mut().zip(text.iter_mut()).enumerate() {
            value.clear();
            match file.read_attr(buf) {
                Ok(raw) => value.extend_from_slice(sysattr::value(raw)),
                // Not every driver has `board_id` and `hca_type`; every one has `fw_ver`.
                Err(e) if i > 0 && sysattr::is_not_exist(e) => {}
                Err(e) => return Err(read_error(e)),
            }
        }
        ports.begin();
        lister
            .list(ports_c, |name, _| {
                ports.get_or_insert_with(name, || {
                    Port::new(&ports_path.join(OsStr::from_bytes(name)), name, *has_hw_counters)
                });
            })
            .map_err(read_error)?;
        ports.end();
        for (_, port) in ports.iter_mut() {
            port.read(io, !*is_irdma)?;
        }
        Ok(())
    }

    fn is_utf8(&self) -> bool {
        self.name_is_utf8 && self.text.iter().all(|t| std::str::from_utf8(t).is_ok())
    }
}

#[derive(Debug)]
struct Port {
    /// The port number, or `None` for a name that is not one (an error when read).
    number: Option<u32>,
    /// `state`, `phys_state`, `rate`.
    files: [File; 3],
    state_id: u32,
    phys_state_id: u32,
    rate: u64,
    counters: CounterDir<22>,
    counters_ext: CounterDir<8>,
    /// `hw_counters/`, listed for `mlx5_*` and `irdma*` devices only.
    hw_counters: Option<CString>,
}

impl Port {
    fn new(dir: &Path, name: &[u8], has_hw_counters: bool) -> Port {
        // `strconv.ParseUint(name, 10, 32)`.
        let number = crate::lex::parse_u64(name).and_then(|n| u32::try_from(n).ok());
        Port {
            number,
            files: ["state", "phys_state", "rate"].map(|f| File::new(dir.join(f))),
            state_id: 0,
            phys_state_id: 0,
            rate: 0,
            counters: CounterDir::new(dir.join("counters")),
            counters_ext: CounterDir::new(dir.join("counters_ext")),
            hw_counters: has_hw_counters.then(|| c_path(&dir.join("hw_counters"))),
        }
    }

    fn read(&mut self, io: &mut Io, counters: bool) -> Result<(), Error> {
        if self.number.is_none() {
            return Err(parse_error("port directory name is not a port number"));
        }
        let [state, phys_state, rate] = &mut self.files;
        let buf = &mut io.buf;
        self.state_id = parse_state(state.read_attr(buf).map_err(read_error)?)
            .ok_or(parse_error("state is not `<id>: <name>`"))?;
        self.phys_state_id = parse_state(phys_state.read_attr(buf).map_err(read_error)?)
            .ok_or(parse_error("phys_state is not `<id>: <name>`"))?;
        self.rate = parse_rate(rate.read_attr(buf).map_err(read_error)?)
            .ok_or(parse_error("rate is not `<number> <unit>`"))?;
        if counters {
            self.counters.read(&COUNTERS, io, false)?;
        } else {
            self.counters.clear();
        }
        self.counters_ext.read(&COUNTERS_EXT, io, true)?;
        if let Some(dir) = &self.hw_counters {
            io.lister.list(dir, |_, _| {}).map_err(read_error)?;
        }
        Ok(())
    }
}

/// A directory of counter files, `N` of them reported, kept open.
#[derive(Debug)]
struct CounterDir<const N: usize> {
    dir: CString,
    path: PathBuf,
    /// The reported files the directory listed this scrape, by table index.
    files: [Option<File>; N],
    /// This scrape's values; `None` where not listed, unreadable in a tolerated way, or
    /// `N/A (no PMA)`.
    values: [Option<u64>; N],
}

impl<const N: usize> CounterDir<N> {
    fn new(path: PathBuf) -> CounterDir<N> {
        CounterDir {
            dir: c_path(&path),
            path,
            files: std::array::from_fn(|_| None),
            values: [None; N],
        }
    }

    fn clear(&mut self) {
        self.files = std::array::from_fn(|_| None);
        self.values = [None; N];
    }

    /// Lists the directory and reads the counters of `table` it holds. A missing directory
    /// is an error unless `optional`.
    fn read(&mut self, table: &[Counter; N], io: &mut Io, optional: bool) -> Result<(), Error> {
        let CounterDir { dir, path, files, values } = self;
        let Io { buf, lister, path: scratch } = io;
        let dir_bytes = path.as_os_str().as_bytes();
        let mut listed = [false; N];
        let r = lister.list(dir, |name, kind| {
            if !sysattr::is_regular(kind, dir_bytes, name, scratch) {
                return;
            }
            if let Ok(i) = table.binary_search_by(|c| c.0.as_bytes().cmp(name)) {
                listed[i] = true;
                files[i].get_or_insert_with(|| File::new(path.join(OsStr::from_bytes(name))));
            }
        });
        match r {
            Err(e) if optional && sysattr::is_not_exist(e) => {}
            Err(e) => {
                // Gone or unreadable: its files go too, and are opened afresh should it return.
                self.clear();
                return Err(read_error(e));
            }
            Ok(()) => {}
        }
        for (i, ((file, value), listed)) in
            files.iter_mut().zip(values.iter_mut()).zip(listed).enumerate()
        {
            *value = None;
            if !listed {
                *file = None;
                continue;
            }
            let Some(file) = file else { continue };
            let raw = match file.read_attr(buf) {
                Ok(raw) => sysattr::value(raw),
                Err(e)
                    if sysattr::is_not_exist(e)
                        || sysattr::is_permission(e)
                        || sysattr::is_not_supported(e) =>
                {
                    continue
                }
                Err(e) => return Err(read_error(e)),
            };
            match sysattr::parse_u64(raw) {
                Some(v) if table[i].3 => *value = Some(v.wrapping_mul(4)),
                Some(v) => *value = Some(v),
                None if contains(raw, NO_PMA) => {}
                None => return Err(parse_error("counter is not an unsigned integer")),
            }
        }
        Ok(())
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Parses `state`/`phys_state` as procfs: the text must hold exactly one `:`, and before it a
/// decimal number that fits 32 bits.
fn parse_state(src: &[u8]) -> Option<u32> {
    let colon = memchr::memchr(b':', src)?;
    if memchr::memchr(b':', &src[colon + 1..]).is_some() {
        return None;
    }
    let id = crate::lex::parse_u64(sysattr::trim_space(&src[..colon]))?;
    u32::try_from(id).ok()
}

/// Parses `rate` (`40 Gb/sec (4X QDR)`) as procfs: the number before the first space, as a
/// 32-bit float, in Gbit/s, converted to bytes per second as Go converts it.
fn parse_rate(src: &[u8]) -> Option<u64> {
    let space = memchr::memchr(b' ', src)?;
    let gbits = sysattr::parse_f32(sysattr::trim_space(&src[..space]))?;
    Some(sysattr::go_u64_from_f64(f64::from(gbits) * 125_000_000.0))
}

/// The families reported, declared once per scrape.
struct Families {
    info: FamilyId,
    state: FamilyId,
    phys_state: FamilyId,
    rate: FamilyId,
    counters: [FamilyId; 22],
    counters_ext: [FamilyId; 8],
}

fn counter_family(enc: &mut Encoder, (_, metric, help, _): Counter) -> FamilyId {
    enc.family_parts(&[b"node_infiniband_", metric.as_bytes()], &[help.as_bytes()], Kind::Counter)
}

impl Families {
    fn declare(enc: &mut Encoder) -> Families {
        Families {
            info: enc.family(
                "node_infiniband_info",
                "Non-numeric data from /sys/class/infiniband/<device>, value is always 1.",
                Kind::Gauge,
            ),
            state: enc.family(
                "node_infiniband_state_id",
                "State of the InfiniBand port (0: no change, 1: down, 2: init, 3: armed, \
                 4: active, 5: act defer)",
                Kind::Gauge,
            ),
            phys_state: enc.family(
                "node_infiniband_physical_state_id",
                "Physical state of the InfiniBand port (0: no change, 1: sleep, 2: polling, \
                 3: disable, 4: shift, 5: link up, 6: link error recover, 7: phytest)",
                Kind::Gauge,
            ),
            rate: enc.family(
                "node_infiniband_rate_bytes_per_second",
                "Maximum signal transfer rate",
                Kind::Gauge,
            ),
            counters: COUNTERS.map(|c| counter_family(enc, c)),
            counters_ext: COUNTERS_EXT.map(|c| counter_family(enc, c)),
        }
    }
}

impl Collector for Infiniband {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let Infiniband { root, root_c, devices, io } = self;
        devices.begin();
        io.lister
            .list(root_c, |name, _| {
                devices.get_or_insert_with(name, || {
                    Device::new(&root.join(OsStr::from_bytes(name)), name)
                });
            })
            .map_err(read_error)?;
        devices.end();
        for (_, dev) in devices.iter_mut() {
            dev.read(io)?;
        }
        // Upstream panics on a label value that is not UTF-8; fail instead, before adding any.
        if !devices.iter().all(|(_, d)| d.is_utf8()) {
            return Err(parse_error("label value is not valid UTF-8"));
        }
        let fams = Families::declare(enc);
        for (name, dev) in devices.iter() {
            let [fw, board, hca] = &dev.text;
            let info = [
                ("device", name),
                ("board_id", &board[..]),
                ("firmware_version", &fw[..]),
                ("hca_type", &hca[..]),
            ];
            enc.sample(fams.info, &info, 1.0);
            for (i, (_, port)) in dev.ports.iter().enumerate() {
                let Some(number) = port.number else { continue };
                // Upstream keys ports by number: of two names for one number (`1`, `01`) the
                // later in name order wins.
                if dev.ports.iter().skip(i + 1).any(|(_, p)| p.number == Some(number)) {
                    continue;
                }
                let mut num = itoa::Buffer::new();
                let labels = [("device", name), ("port", num.format(number).as_bytes())];
                enc.sample_u64(fams.state, &labels, u64::from(port.state_id));
                enc.sample_u64(fams.phys_state, &labels, u64::from(port.phys_state_id));
                enc.sample_u64(fams.rate, &labels, port.rate);
                let all = fams
                    .counters
                    .iter()
                    .zip(&port.counters.values)
                    .chain(fams.counters_ext.iter().zip(&port.counters_ext.values));
                for (&fam, value) in all {
                    if let Some(v) = *value {
                        enc.sample_u64(fam, &labels, v);
                    }
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
    fn tables_sorted() {
        assert!(COUNTERS.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(COUNTERS_EXT.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn state_and_rate() {
        assert_eq!(parse_state(b"4: ACTIVE\n"), Some(4));
        assert_eq!(parse_state(b" 5 :LinkUp"), Some(5));
        assert_eq!(parse_state(b"4294967295: X"), Some(u32::MAX));
        for bad in [&b"4294967296: X"[..], b"4 ACTIVE", b"4: A: B", b": X", b"-1: X", b"x: y"] {
            assert_eq!(parse_state(bad), None, "{bad:?}");
        }
        assert_eq!(parse_rate(b"40 Gb/sec (4X QDR)\n"), Some(5_000_000_000));
        assert_eq!(parse_rate(b"2.5 Gb/sec (1X SDR)\n"), Some(312_500_000));
        assert_eq!(parse_rate(b"14 "), Some(1_750_000_000));
        // 0.1 as a 32-bit float is slightly above 0.1.
        assert_eq!(parse_rate(b"0.1 Gb/sec"), Some(12_500_000));
        assert_eq!(parse_rate(b"-1 Gb/sec"), Some(18_446_744_073_584_551_616));
        for bad in [&b"40\n"[..], b"forty Gb/sec", b"", b" 40 Gb/sec"] {
            assert_eq!(parse_rate(bad), None, "{bad:?}");
        }
    }

    fn port(root: &Path, dev: &str, n: &str) -> String {
        let dir = format!("sys/class/infiniband/{dev}/ports/{n}");
        put(root, &format!("{dir}/state"), "4: ACTIVE\n");
        put(root, &format!("{dir}/phys_state"), "5: LinkUp\n");
        put(root, &format!("{dir}/rate"), "100 Gb/sec (4X EDR)\n");
        put(root, &format!("{dir}/counters/port_rcv_data"), "10\n");
        put(root, &format!("{dir}/counters/symbol_error"), "0x3\n");
        dir
    }

    fn device(root: &Path, dev: &str) {
        put(root, &format!("sys/class/infiniband/{dev}/fw_ver"), "1.2.3\n");
    }

    #[test]
    fn devices_ports_and_counters() {
        let root = tmpdir("infiniband-values");
        device(&root, "mlx4_0");
        let dir = port(&root, "mlx4_0", "1");
        put(&root, &format!("{dir}/counters/link_downed"), "N/A (no PMA)\n");
        put(&root, &format!("{dir}/counters/unknown_counter"), "junk\n");
        put(&root, &format!("{dir}/counters_ext/port_xmit_data_64"), "18446744073709551615\n");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        for line in [
            "node_infiniband_info{board_id=\"\",device=\"mlx4_0\",firmware_version=\"1.2.3\",\
             hca_type=\"\"} 1",
            "node_infiniband_state_id{device=\"mlx4_0\",port=\"1\"} 4",
            "node_infiniband_physical_state_id{device=\"mlx4_0\",port=\"1\"} 5",
            "node_infiniband_rate_bytes_per_second{device=\"mlx4_0\",port=\"1\"} 1.25e+10",
            "node_infiniband_port_data_received_bytes_total{device=\"mlx4_0\",port=\"1\"} 40",
            "node_infiniband_symbol_error_total{device=\"mlx4_0\",port=\"1\"} 3",
            // Words times 4, wrapping as Go's uint64 does.
            "node_infiniband_legacy_data_transmitted_bytes_total{device=\"mlx4_0\",port=\"1\"} \
             1.8446744073709552e+19",
        ] {
            assert!(text.contains(&format!("\n{line}\n")), "{line} missing from\n{text}");
        }
        assert!(!text.contains("link_downed_total"));

        // An irdma device has no counters/ and is not asked for them; an mlx5 device needs
        // hw_counters/.
        device(&root, "irdma0");
        let dir = port(&root, "irdma0", "1");
        std::fs::remove_dir_all(root.join(format!("{dir}/counters"))).unwrap();
        device(&root, "mlx5_0");
        let dir = port(&root, "mlx5_0", "1");
        assert_eq!(try_scrape(c.as_mut()), Err(Error::NoData));
        std::fs::create_dir_all(root.join(format!("{dir}/hw_counters"))).unwrap();
        std::fs::create_dir_all(root.join("sys/class/infiniband/irdma0/ports/1/hw_counters"))
            .unwrap();
        let text = scrape(c.as_mut());
        assert!(text.contains("node_infiniband_state_id{device=\"irdma0\",port=\"1\"} 4\n"));
        assert!(!text.contains("symbol_error_total{device=\"irdma0\""));
        assert!(text.contains("symbol_error_total{device=\"mlx5_0\",port=\"1\"} 3\n"));

        // Devices and ports going away take their fds along.
        std::fs::remove_dir_all(root.join("sys/class/infiniband/mlx5_0")).unwrap();
        std::fs::remove_dir_all(root.join("sys/class/infiniband/irdma0")).unwrap();
        port(&root, "mlx4_0", "2");
        assert!(scrape(c.as_mut()).contains("port=\"2\""));
        std::fs::remove_dir_all(root.join("sys/class/infiniband/mlx4_0/ports/2")).unwrap();
        let text = scrape(c.as_mut());
        assert!(!text.contains("port=\"2\"") && !text.contains("mlx5"), "{text}");
        assert_eq!(fds_under(&root.join("sys/class/infiniband/mlx4_0/ports/2")), 0);
        assert_eq!(fds_under(&root.join("sys/class/infiniband/mlx5_0")), 0);
        drop(c);
        assert_eq!(fds_under(&root), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn failures() {
        let root = tmpdir("infiniband-errors");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert_eq!(try_scrape(c.as_mut()), Err(Error::NoData));
        // No fw_ver, no ports, no counters: no data.
        std::fs::create_dir_all(root.join("sys/class/infiniband/mlx4_0")).unwrap();
        assert_eq!(try_scrape(c.as_mut()), Err(Error::NoData));
        device(&root, "mlx4_0");
        assert_eq!(try_scrape(c.as_mut()), Err(Error::NoData));
        let dir = port(&root, "mlx4_0", "1");
        assert!(scrape(c.as_mut()).contains("port=\"1\""));
        std::fs::remove_dir_all(root.join(format!("{dir}/counters"))).unwrap();
        assert_eq!(try_scrape(c.as_mut()), Err(Error::NoData));
        let dir = port(&root, "mlx4_0", "1");
        // Malformed state, rate, counter, port name: errors.
        for (file, bad) in [
            ("state", "ACTIVE\n"),
            ("phys_state", "5: a: b\n"),
            ("rate", "fast\n"),
            ("counters/symbol_error", "-3\n"),
            ("counters/symbol_error", "N/A\n"),
        ] {
            let path = format!("{dir}/{file}");
            let good = std::fs::read(root.join(&path)).unwrap();
            put(&root, &path, bad);
            let r = try_scrape(c.as_mut());
            assert!(matches!(r, Err(Error::Parse { .. })), "{file} {bad:?}: {r:?}");
            std::fs::write(root.join(&path), good).unwrap();
        }
        port(&root, "mlx4_0", "one");
        let r = try_scrape(c.as_mut());
        assert!(matches!(r, Err(Error::Parse { .. })), "{r:?}");
        std::fs::remove_dir_all(root.join("sys/class/infiniband/mlx4_0/ports/one")).unwrap();
        // A board id that is not UTF-8 (upstream panics).
        std::fs::write(root.join("sys/class/infiniband/mlx4_0/board_id"), b"\xc3").unwrap();
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
