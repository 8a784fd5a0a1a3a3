//! `SIOCETHTOOL` ioctls per interface in `/sys/class/net` → `node_ethtool_*` and
//! `node_network_{supported,advertised}_*`; node_exporter's ethtool collector.
//!
//! For each interface (see netdevice(7) and the kernel's `include/uapi/linux/ethtool.h`):
//! `ETHTOOL_GSET` gives the supported and advertised link modes
//! (`node_network_supported_speed_bytes{device,duplex,mode}`, port types, autonegotiation and
//! pause support), `ETHTOOL_GDRVINFO` the driver (`node_ethtool_info`), and
//! `ETHTOOL_GSTRINGS`/`ETHTOOL_GSTATS` the driver's statistics, what `ethtool -S eth0` prints:
//! `rx_missed: 401` becomes `node_ethtool_received_missed{device="eth0"} 401`. Statistic names
//! are sanitized as upstream does (runs of other characters than `[0-9A-Za-z_]` become `_`,
//! lowercased, leading `_` dropped, `rx`/`tx` words spelled out); names that collide after
//! that are all dropped. An interface that refuses a request is skipped for that request,
//! logged once per cause (`EOPNOTSUPP` at debug level), as upstream.
//!
//! The name mapping is computed once per interface and redone only when the driver's list of
//! names changes, so a steady scrape allocates nothing.
//!
//! A statistic whose name sanitizing changes (`port.rx_bytes`) reports its value; node_exporter
//! 1.8.2 reported 0 for it (fixed upstream in 1.10).

use super::device_filter::DeviceFilter;
use super::{Build, Collector, Error, Flag, FlagKind, Spec};
use crate::encode::{Encoder, FamilyId, Kind};
use crate::source::{Dir, Entries};
use crate::sys::{self, DrvInfo, Ethtool, LinkSettings, ETH_GSTRING_LEN};
use regex::bytes::Regex;
use rustix::io::Errno;
use std::fmt;
use std::ops::Range;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "ethtool", default_enabled: false, flags: FLAGS, blocking: false, build };

const INCLUDE: &str = "collector.ethtool.device-include";
const EXCLUDE: &str = "collector.ethtool.device-exclude";
const METRICS: &str = "collector.ethtool.metrics-include";

const FLAGS: &[Flag] = &[
    Flag {
        name: INCLUDE,
        help: "Regexp of ethtool devices to include (mutually exclusive to device-exclude).",
        kind: FlagKind::Regex,
        default: "",
        aliases: &[],
    },
    Flag {
        name: EXCLUDE,
        help: "Regexp of ethtool devices to exclude (mutually exclusive to device-include).",
        kind: FlagKind::Regex,
        default: "",
        aliases: &[],
    },
    Flag {
        name: METRICS,
        help: "Regexp of ethtool stats to include.",
        kind: FlagKind::Regex,
        default: ".*",
        aliases: &[],
    },
];

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let source =
        Ethtool::open().map_err(|e| format!("failed to initialize ethtool library: {e}"))?;
    Ok(Box::new(EthtoolCollector::new(b, Box::new(source))?))
}

/// Where the collector's answers come from: the kernel, or in tests upstream's fixtures.
trait Source: Send + fmt::Debug {
    fn link_settings(&mut self, dev: &[u8]) -> Result<LinkSettings, Errno>;
    fn driver_info(&mut self, dev: &[u8]) -> Result<DrvInfo, Errno>;
    /// The statistics: their names (`ETH_GSTRING_LEN` bytes each) replace `names` if they
    /// differ (returns whether they did), their values replace `values`.
    fn stats(
        &mut self,
        dev: &[u8],
        names: &mut Vec<u8>,
        values: &mut Vec<u64>,
    ) -> Result<bool, Errno>;
}

impl Source for Ethtool {
    fn link_settings(&mut self, dev: &[u8]) -> Result<LinkSettings, Errno> {
        Ethtool::link_settings(self, dev)
    }

    fn driver_info(&mut self, dev: &[u8]) -> Result<DrvInfo, Errno> {
        Ethtool::driver_info(self, dev)
    }

    fn stats(
        &mut self,
        dev: &[u8],
        names: &mut Vec<u8>,
        values: &mut Vec<u64>,
    ) -> Result<bool, Errno> {
        let n = Ethtool::driver_info(self, dev)?.n_stats;
        let mut changed = false;
        if n == 0 {
            changed = !names.is_empty();
            names.clear();
            values.clear();
            return Ok(changed);
        }
        let got = self.stat_names(dev, n)?;
        if got != names.as_slice() {
            names.clear();
            names.extend_from_slice(got);
            changed = true;
        }
        self.stat_values(dev, n, values)?;
        Ok(changed)
    }
}

#[derive(Debug)]
struct EthtoolCollector {
    list: Dir,
    devices: Entries<Device>,
    source: Box<dyn Source>,
    filter: DeviceFilter,
    naming: Naming,
}

/// One interface's state, kept while it is listed.
#[derive(Debug, Default)]
struct Device {
    ignored: bool,
    /// The driver's statistics names last seen, and what they map to.
    names: Vec<u8>,
    plan: Vec<Planned>,
    arena: Vec<u8>,
    values: Vec<u64>,
    /// The last failure logged per request (link, driver, stats), so a cause is logged once.
    failed: [Option<Errno>; 3],
}

/// A statistic to report: its family name and HELP (in the device's arena) and its index.
#[derive(Clone, Debug)]
struct Planned {
    name: Range<usize>,
    help: Range<usize>,
    index: usize,
}

/// Upstream's statistic-name rules, compiled once.
#[derive(Debug)]
struct Naming {
    metrics: Regex,
    invalid: Regex,
    rx: Regex,
    tx: Regex,
}

impl Naming {
    fn new(metrics: &str) -> Result<Naming, String> {
        let metrics = Regex::new(metrics)
            .map_err(|e| format!("invalid regular expression for --{METRICS}: {e}"))?;
        let compile = |re: &str| Regex::new(re).map_err(|e| e.to_string());
        Ok(Naming {
            metrics,
            invalid: compile("_*[^0-9A-Za-z_]+_*")?,
            rx: compile("(^|_)rx(_|$)")?,
            tx: compile("(^|_)tx(_|$)")?,
        })
    }

    /// node_exporter's `SanitizeMetricName`: each run of characters outside `[0-9A-Za-z_]`,
    /// with the underscores around it, becomes one `_`.
    fn sanitize(&self, raw: &[u8]) -> Vec<u8> {
        self.invalid.replace_all(raw, &b"_"[..]).into_owned()
    }

    /// The family name for a sanitized statistic name: lowercased, leading `_` trimmed, the
    /// words `rx` and `tx` spelled `received` and `transmitted`, under `node_ethtool_`.
    fn family_name(&self, sanitized: &[u8]) -> Vec<u8> {
        let lower = sanitized.to_ascii_lowercase();
        let start = lower.iter().position(|&b| b != b'_').unwrap_or(lower.len());
        let rx = self.rx.replace_all(&lower[start..], &b"${1}received${2}"[..]);
        let tx = self.tx.replace_all(&rx, &b"${1}transmitted${2}"[..]);
        let mut name = b"node_ethtool_".to_vec();
        name.extend_from_slice(&tx);
        name
    }
}

/// Statistics upstream reports under fixed names and HELP texts, keyed by sanitized name.
const NAMED: [(&str, &str, &str); 7] = [
    ("rx_bytes", "node_ethtool_received_bytes_total", "Network interface bytes received"),
    ("rx_dropped", "node_ethtool_received_dropped_total", "Number of received frames dropped"),
    ("rx_errors", "node_ethtool_received_errors_total", "Number of received frames with errors"),
    ("rx_packets", "node_ethtool_received_packets_total", "Network interface packets received"),
    ("tx_bytes", "node_ethtool_transmitted_bytes_total", "Network interface bytes sent"),
    ("tx_errors", "node_ethtool_transmitted_errors_total", "Number of sent frames with errors"),
    ("tx_packets", "node_ethtool_transmitted_packets_total", "Network interface packets sent"),
];

impl EthtoolCollector {
    fn new(b: &Build<'_>, source: Box<dyn Source>) -> Result<EthtoolCollector, String> {
        let s = b.settings;
        // Upstream documents the two patterns as exclusive but accepts both.
        let filter = DeviceFilter::new(EXCLUDE, s.str(EXCLUDE), INCLUDE, s.str(INCLUDE))?;
        Ok(EthtoolCollector {
            list: Dir::new(b.paths.sys("class/net")),
            devices: Entries::new(),
            source,
            filter,
            naming: Naming::new(s.str(METRICS))?,
        })
    }
}

impl Collector for EthtoolCollector {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let EthtoolCollector { list, devices, source, filter, naming } = self;
        devices.begin();
        // Every entry but regular files (`bonding_masters`), as upstream's NetClassDevices.
        let listed = list.for_each(|name, ty| {
            if !ty.is_file() {
                devices.get_or_insert_with(name, || Device {
                    ignored: filter.is_ignored(name),
                    ..Device::default()
                });
            }
        });
        match listed {
            Ok(()) => devices.end(),
            Err(errno @ (Errno::NOENT | Errno::ACCESS | Errno::PERM)) => {
                log::debug!(err:% = errno; "ethtool: could not list network devices");
                return Err(Error::NoData);
            }
            Err(errno) => return Err(Error::Read { path: "sys/class/net", errno }),
        }
        if devices.is_empty() {
            // Upstream's "no network devices found".
            return Err(Error::Read { path: "sys/class/net", errno: Errno::NODEV });
        }
        let fams = Families::declare(enc);
        for (name, dev) in devices.iter_mut() {
            if dev.ignored {
                continue;
            }
            match source.link_settings(name) {
                Ok(link) => {
                    note(dev, 0, name, Ok(()));
                    emit_link(&fams, enc, name, &link);
                }
                Err(e) => note(dev, 0, name, Err(e)),
            }
            match source.driver_info(name) {
                Ok(info) => {
                    note(dev, 1, name, Ok(()));
                    let labels = [
                        ("bus_info", sys::c_field(&info.bus_info)),
                        ("device", name),
                        ("driver", sys::c_field(&info.driver)),
                        ("expansion_rom_version", sys::c_field(&info.erom_version)),
                        ("firmware_version", sys::c_field(&info.fw_version)),
                        ("version", sys::c_field(&info.version)),
                    ];
                    enc.sample(fams.info, &labels, 1.0);
                }
                Err(e) => note(dev, 1, name, Err(e)),
            }
            match source.stats(name, &mut dev.names, &mut dev.values) {
                Ok(changed) => {
                    note(dev, 2, name, Ok(()));
                    if changed {
                        plan(naming, dev, name);
                    }
                    for p in &dev.plan {
                        let Some(&v) = dev.values.get(p.index) else { continue };
                        let f = enc.family_parts(
                            &[&dev.arena[p.name.clone()]],
                            &[&dev.arena[p.help.clone()]],
                            Kind::Untyped,
                        );
                        enc.sample_u64(f, &[("device", name)], v);
                    }
                }
                Err(e) => note(dev, 2, name, Err(e)),
            }
        }
        Ok(())
    }
}

/// Logs a request's failure once per cause, at debug level when the device simply does not
/// support it; forgets the cause on success.
fn note(dev: &mut Device, what: usize, name: &[u8], result: Result<(), Errno>) {
    const WHAT: [&str; 3] = ["link info", "driver info", "stats"];
    let last = &mut dev.failed[what];
    match result {
        Ok(()) => *last = None,
        Err(e) if *last == Some(e) => {}
        Err(e) => {
            *last = Some(e);
            let device = String::from_utf8_lossy(name);
            if e == Errno::OPNOTSUPP {
                log::debug!(device:% = device, err:% = e; "ethtool {} error", WHAT[what]);
            } else {
                log::error!(device:% = device, err:% = e; "ethtool {} error", WHAT[what]);
            }
        }
    }
}

/// Maps the device's statistics names (`dev.names`) to families: upstream's sanitizing, the
/// metrics-include pattern, and collisions dropped. Allocates; runs when the names change.
fn plan(naming: &Naming, dev: &mut Device, device: &[u8]) {
    dev.plan.clear();
    dev.arena.clear();
    // Distinct names, each with its last index (upstream keeps the names in a map).
    let mut names: Vec<(&[u8], usize)> = dev
        .names
        .chunks(ETH_GSTRING_LEN)
        .enumerate()
        .map(|(i, chunk)| (sys::c_field(chunk), i))
        .filter(|(raw, _)| !raw.is_empty())
        .collect();
    names.sort_by(|a, b| a.0.cmp(b.0).then(b.1.cmp(&a.1)));
    names.dedup_by(|later, first| later.0 == first.0);
    let mut wanted: Vec<(Vec<u8>, Vec<u8>, usize)> = names
        .into_iter()
        .filter_map(|(raw, index)| {
            let sanitized = naming.sanitize(raw);
            naming.metrics.is_match(&sanitized).then(|| {
                let family = naming.family_name(&sanitized);
                (family, sanitized, index)
            })
        })
        .collect();
    wanted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut i = 0;
    while i < wanted.len() {
        let same = wanted[i..].iter().take_while(|w| w.0 == wanted[i].0).count();
        if same > 1 {
            log::debug!(
                device:% = String::from_utf8_lossy(device),
                family:% = String::from_utf8_lossy(&wanted[i].0);
                "ethtool: dropping statistics whose names collide"
            );
            i += same;
            continue;
        }
        let (family, sanitized, index) = &wanted[i];
        let mut put = |parts: &[&[u8]]| {
            let start = dev.arena.len();
            parts.iter().for_each(|p| dev.arena.extend_from_slice(p));
            start..dev.arena.len()
        };
        let (name, help) = match NAMED.iter().find(|n| n.0.as_bytes() == sanitized.as_slice()) {
            Some((_, name, help)) => (put(&[name.as_bytes()]), put(&[help.as_bytes()])),
            None => (put(&[family]), put(&[b"Network interface ", sanitized])),
        };
        dev.plan.push(Planned { name, help, index: *index });
        i += 1;
    }
}

struct Families {
    info: FamilyId,
    speed: [FamilyId; 2],
    port: FamilyId,
    autoneg: [FamilyId; 2],
    pause: [FamilyId; 2],
    asym_pause: [FamilyId; 2],
    autonegotiate: FamilyId,
}

impl Families {
    fn declare(enc: &mut Encoder) -> Families {
        let g = Kind::Gauge;
        let mut f = |name: &str, help: &str| enc.family(name, help, g);
        Families {
            info: f(
                "node_ethtool_info",
                "A metric with a constant '1' value labeled by bus_info, device, driver, \
                 expansion_rom_version, firmware_version, version.",
            ),
            speed: [
                f(
                    "node_network_supported_speed_bytes",
                    "Combination of speeds and features supported by network device",
                ),
                f(
                    "node_network_advertised_speed_bytes",
                    "Combination of speeds and features offered by network device",
                ),
            ],
            port: f(
                "node_network_supported_port_info",
                "Type of ports or PHYs supported by network device",
            ),
            autoneg: [
                f(
                    "node_network_autonegotiate_supported",
                    "If this port device supports autonegotiate",
                ),
                f(
                    "node_network_autonegotiate_advertised",
                    "If this port device offers autonegotiate",
                ),
            ],
            pause: [
                f("node_network_pause_supported", "If this port device supports pause frames"),
                f("node_network_pause_advertised", "If this port device offers pause capability"),
            ],
            asym_pause: [
                f(
                    "node_network_asymmetricpause_supported",
                    "If this port device supports asymmetric pause frames",
                ),
                f(
                    "node_network_asymmetricpause_advertised",
                    "If this port device offers asymmetric pause capability",
                ),
            ],
            autonegotiate: f("node_network_autonegotiate", "If this port is using autonegotiate"),
        }
    }
}

const AUTONEG_BIT: u32 = 6;
const PAUSE_BIT: u32 = 13;
const ASYM_PAUSE_BIT: u32 = 14;

/// Port types by `ETHTOOL_LINK_MODE_*_BIT`.
const PORTS: [(u32, &str); 6] =
    [(7, "TP"), (8, "AUI"), (9, "MII"), (10, "FIBRE"), (11, "BNC"), (16, "Backplane")];

/// Link modes by `ETHTOOL_LINK_MODE_*_BIT`: Mb/s, duplex, mode label. Upstream's table also
/// lists modes at bits 32 and above, which the 32-bit masks of `ETHTOOL_GSET` never hold.
const SPEEDS: [(u32, u32, &str, &str); 22] = [
    (0, 10, "half", "10baseT"),
    (1, 10, "full", "10baseT"),
    (2, 100, "half", "100baseT"),
    (3, 100, "full", "100baseT"),
    (4, 1000, "half", "1000baseT"),
    (5, 1000, "full", "1000baseT"),
    (12, 10000, "full", "10000baseT"),
    (17, 1000, "full", "1000baseKX"),
    (18, 10000, "full", "10000baseKX4"),
    (19, 10000, "full", "10000baseKR"),
    (20, 10000, "full", "10000baseR_FEC"),
    (21, 20000, "full", "20000baseMLD2"),
    (22, 20000, "full", "20000baseKR2"),
    (23, 40000, "full", "40000baseKR4"),
    (24, 40000, "full", "40000baseCR4"),
    (25, 40000, "full", "40000baseSR4"),
    (26, 40000, "full", "40000baseLR4"),
    (27, 56000, "full", "56000baseKR4"),
    (28, 56000, "full", "56000baseCR4"),
    (29, 56000, "full", "56000baseSR4"),
    (30, 56000, "full", "56000baseLR4"),
    (31, 25000, "full", "25000baseCR"),
];

/// Link speeds are reported in bytes per second, as netclass's.
const MBPS: f64 = 1_000_000.0 / 8.0;

fn emit_link(f: &Families, enc: &mut Encoder, device: &[u8], link: &LinkSettings) {
    let has = |mask: u32, bit: u32| mask & (1 << bit) != 0;
    let flag = |set: bool| if set { 1.0 } else { 0.0 };
    for (i, mask) in [link.supported, link.advertising].into_iter().enumerate() {
        for &(bit, speed, duplex, mode) in &SPEEDS {
            if has(mask, bit) {
                let labels =
                    [("device", device), ("duplex", duplex.as_bytes()), ("mode", mode.as_bytes())];
                enc.sample(f.speed[i], &labels, f64::from(speed) * MBPS);
            }
        }
        if i == 0 {
            for &(bit, ty) in &PORTS {
                if has(mask, bit) {
                    enc.sample(f.port, &[("device", device), ("type", ty.as_bytes())], 1.0);
                }
            }
        }
        let labels = [("device", device)];
        enc.sample(f.autoneg[i], &labels, flag(has(mask, AUTONEG_BIT)));
        enc.sample(f.pause[i], &labels, flag(has(mask, PAUSE_BIT)));
        enc.sample(f.asym_pause[i], &labels, flag(has(mask, ASYM_PAUSE_BIT)));
    }
    enc.sample(f.autonegotiate, &[("device", device)], f64::from(link.autoneg));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{build, fixtures, put, tmpdir, try_scrape};
    use crate::collector::{Settings, Shared};
    use crate::source::Paths;
    use std::path::PathBuf;

    /// Answers from upstream's fixture files (`ethtool -i`, `ethtool`, `ethtool -S` output
    /// per device), read as upstream's tests read them: a missing file is `EOPNOTSUPP`, and
    /// `ERROR: n` in the statistics is errno `n`.
    #[derive(Debug)]
    struct Fixtures(PathBuf);

    impl Fixtures {
        fn lines(&self, dev: &[u8], file: &str) -> Result<Vec<String>, Errno> {
            let p = self.0.join(String::from_utf8_lossy(dev).as_ref()).join(file);
            match std::fs::read_to_string(p) {
                Ok(text) => Ok(text.lines().map(str::to_owned).collect()),
                Err(_) => Err(Errno::OPNOTSUPP),
            }
        }
    }

    fn modes(list: &str) -> u32 {
        list.split(' ')
            .filter_map(|m| SPEEDS.iter().find(|s| format!("{}/{}", s.3, cap(s.2)) == m))
            .fold(0, |acc, s| acc | 1 << s.0)
    }

    fn cap(duplex: &str) -> &str {
        if duplex == "full" {
            "Full"
        } else {
            "Half"
        }
    }

    impl Source for Fixtures {
        fn link_settings(&mut self, dev: &[u8]) -> Result<LinkSettings, Errno> {
            let mut link = LinkSettings::default();
            let (mut in_supported, mut in_advertised) = (false, false);
            for line in self.lines(dev, "settings")? {
                if line.starts_with('#') || line.starts_with("Settings for") {
                    continue;
                }
                let line = line.trim_matches([' ', '\t']);
                if (in_supported || in_advertised) && line.contains(':') {
                    (in_supported, in_advertised) = (false, false);
                }
                if in_advertised {
                    link.advertising |= modes(line);
                    continue;
                }
                if in_supported {
                    link.supported |= modes(line);
                    continue;
                }
                let (key, value) = line.split_once(": ").unwrap_or((line, ""));
                let pause = match value {
                    "Symmetric" => 1 << PAUSE_BIT,
                    "Receive-only" => 1 << ASYM_PAUSE_BIT,
                    _ => 0,
                };
                match key {
                    "Supported pause frame use" => link.supported |= pause,
                    "Advertised pause frame use" => link.advertising |= pause,
                    "Supported ports" => {
                        for p in value.split(' ').map(|p| p.trim_matches([' ', '\t'])) {
                            if let Some(&(bit, _)) = PORTS.iter().find(|x| x.1 == p) {
                                link.supported |= 1 << bit;
                            }
                        }
                    }
                    "Supported link modes" => {
                        link.supported |= modes(value);
                        in_supported = true;
                    }
                    "Advertised link modes" => {
                        link.advertising |= modes(value);
                        in_advertised = true;
                    }
                    "Supports auto-negotiation" if value == "Yes" => {
                        link.supported |= 1 << AUTONEG_BIT
                    }
                    "Advertised auto-negotiation" if value == "Yes" => {
                        link.advertising |= 1 << AUTONEG_BIT
                    }
                    "Auto-negotiation" if value == "on" => link.autoneg = 1,
                    _ => {}
                }
            }
            Ok(link)
        }

        fn driver_info(&mut self, dev: &[u8]) -> Result<DrvInfo, Errno> {
            let mut info = DrvInfo::default();
            for line in self.lines(dev, "driver")? {
                let Some((key, value)) = line.trim_matches(' ').split_once(": ") else { continue };
                let field = match key {
                    "driver" => &mut info.driver,
                    "version" => &mut info.version,
                    "firmware-version" => &mut info.fw_version,
                    "bus-info" => &mut info.bus_info,
                    "expansion-rom-version" => &mut info.erom_version,
                    _ => continue,
                };
                field[..value.len()].copy_from_slice(value.as_bytes());
            }
            Ok(info)
        }

        fn stats(
            &mut self,
            dev: &[u8],
            names: &mut Vec<u8>,
            values: &mut Vec<u64>,
        ) -> Result<bool, Errno> {
            let (mut new_names, mut new_values) = (Vec::new(), Vec::new());
            for line in self.lines(dev, "statistics")? {
                if line.starts_with('#') || line.starts_with("NIC statistics:") {
                    continue;
                }
                let (key, value) = line.trim_matches(' ').split_once(": ").unwrap();
                let value: u64 = value.parse().map_err(|_| Errno::INVAL)?;
                if key == "ERROR" {
                    return Err(Errno::from_raw_os_error(value as i32));
                }
                let mut slot = [0u8; ETH_GSTRING_LEN];
                slot[..key.len()].copy_from_slice(key.as_bytes());
                new_names.extend_from_slice(&slot);
                new_values.push(value);
            }
            *values = new_values;
            let changed = *names != new_names;
            *names = new_names;
            Ok(changed)
        }
    }

    fn collector(paths: &Paths, settings: &Settings, source: Box<dyn Source>) -> EthtoolCollector {
        let b = Build { paths, settings, shared: &Shared::default(), enabled: &[] };
        EthtoolCollector::new(&b, source).unwrap()
    }

    /// Upstream's expected output for its fixtures (its `TestEthToolCollector`).
    const UPSTREAM: &str = r#"# HELP node_ethtool_align_errors Network interface align_errors
# TYPE node_ethtool_align_errors untyped
node_ethtool_align_errors{device="eth0"} 0
# HELP node_ethtool_info A metric with a constant '1' value labeled by bus_info, device, driver, expansion_rom_version, firmware_version, version.
# TYPE node_ethtool_info gauge
node_ethtool_info{bus_info="0000:00:1f.6",device="eth0",driver="e1000e",expansion_rom_version="",firmware_version="0.5-4",version="5.11.0-22-generic"} 1
# HELP node_ethtool_received_broadcast Network interface rx_broadcast
# TYPE node_ethtool_received_broadcast untyped
node_ethtool_received_broadcast{device="eth0"} 5792
# HELP node_ethtool_received_errors_total Number of received frames with errors
# TYPE node_ethtool_received_errors_total untyped
node_ethtool_received_errors_total{device="eth0"} 0
# HELP node_ethtool_received_missed Network interface rx_missed
# TYPE node_ethtool_received_missed untyped
node_ethtool_received_missed{device="eth0"} 401
# HELP node_ethtool_received_multicast Network interface rx_multicast
# TYPE node_ethtool_received_multicast untyped
node_ethtool_received_multicast{device="eth0"} 23973
# HELP node_ethtool_received_packets_total Network interface packets received
# TYPE node_ethtool_received_packets_total untyped
node_ethtool_received_packets_total{device="eth0"} 1.260062e+06
# HELP node_ethtool_received_unicast Network interface rx_unicast
# TYPE node_ethtool_received_unicast untyped
node_ethtool_received_unicast{device="eth0"} 1.230297e+06
# HELP node_ethtool_transmitted_aborted Network interface tx_aborted
# TYPE node_ethtool_transmitted_aborted untyped
node_ethtool_transmitted_aborted{device="eth0"} 0
# HELP node_ethtool_transmitted_errors_total Number of sent frames with errors
# TYPE node_ethtool_transmitted_errors_total untyped
node_ethtool_transmitted_errors_total{device="eth0"} 0
# HELP node_ethtool_transmitted_multi_collisions Network interface tx_multi_collisions
# TYPE node_ethtool_transmitted_multi_collisions untyped
node_ethtool_transmitted_multi_collisions{device="eth0"} 0
# HELP node_ethtool_transmitted_packets_total Network interface packets sent
# TYPE node_ethtool_transmitted_packets_total untyped
node_ethtool_transmitted_packets_total{device="eth0"} 961500
# HELP node_ethtool_transmitted_single_collisions Network interface tx_single_collisions
# TYPE node_ethtool_transmitted_single_collisions untyped
node_ethtool_transmitted_single_collisions{device="eth0"} 0
# HELP node_ethtool_transmitted_underrun Network interface tx_underrun
# TYPE node_ethtool_transmitted_underrun untyped
node_ethtool_transmitted_underrun{device="eth0"} 0
# HELP node_network_advertised_speed_bytes Combination of speeds and features offered by network device
# TYPE node_network_advertised_speed_bytes gauge
node_network_advertised_speed_bytes{device="eth0",duplex="full",mode="1000baseT"} 1.25e+08
node_network_advertised_speed_bytes{device="eth0",duplex="full",mode="100baseT"} 1.25e+07
node_network_advertised_speed_bytes{device="eth0",duplex="full",mode="10baseT"} 1.25e+06
node_network_advertised_speed_bytes{device="eth0",duplex="half",mode="100baseT"} 1.25e+07
node_network_advertised_speed_bytes{device="eth0",duplex="half",mode="10baseT"} 1.25e+06
# HELP node_network_asymmetricpause_advertised If this port device offers asymmetric pause capability
# TYPE node_network_asymmetricpause_advertised gauge
node_network_asymmetricpause_advertised{device="eth0"} 0
# HELP node_network_asymmetricpause_supported If this port device supports asymmetric pause frames
# TYPE node_network_asymmetricpause_supported gauge
node_network_asymmetricpause_supported{device="eth0"} 0
# HELP node_network_autonegotiate If this port is using autonegotiate
# TYPE node_network_autonegotiate gauge
node_network_autonegotiate{device="eth0"} 1
# HELP node_network_autonegotiate_advertised If this port device offers autonegotiate
# TYPE node_network_autonegotiate_advertised gauge
node_network_autonegotiate_advertised{device="eth0"} 1
# HELP node_network_autonegotiate_supported If this port device supports autonegotiate
# TYPE node_network_autonegotiate_supported gauge
node_network_autonegotiate_supported{device="eth0"} 1
# HELP node_network_pause_advertised If this port device offers pause capability
# TYPE node_network_pause_advertised gauge
node_network_pause_advertised{device="eth0"} 1
# HELP node_network_pause_supported If this port device supports pause frames
# TYPE node_network_pause_supported gauge
node_network_pause_supported{device="eth0"} 1
# HELP node_network_supported_port_info Type of ports or PHYs supported by network device
# TYPE node_network_supported_port_info gauge
node_network_supported_port_info{device="eth0",type="MII"} 1
node_network_supported_port_info{device="eth0",type="TP"} 1
# HELP node_network_supported_speed_bytes Combination of speeds and features supported by network device
# TYPE node_network_supported_speed_bytes gauge
node_network_supported_speed_bytes{device="eth0",duplex="full",mode="10000baseT"} 1.25e+09
node_network_supported_speed_bytes{device="eth0",duplex="full",mode="1000baseT"} 1.25e+08
node_network_supported_speed_bytes{device="eth0",duplex="full",mode="100baseT"} 1.25e+07
node_network_supported_speed_bytes{device="eth0",duplex="full",mode="10baseT"} 1.25e+06
node_network_supported_speed_bytes{device="eth0",duplex="half",mode="100baseT"} 1.25e+07
node_network_supported_speed_bytes{device="eth0",duplex="half",mode="10baseT"} 1.25e+06
"#;

    #[test]
    fn upstream_fixtures_give_upstream_output() {
        let Some(root) = fixtures() else { return };
        // Upstream's `sys/class/net`: three directories, a regular file and `eth0` a symlink
        // into `devices/` (the shared copy of the tree has its symlinks as plain files).
        let sys = tmpdir("ethtool-fixture");
        let net = sys.join("sys/class/net");
        for d in ["bond0", "dmz", "int"] {
            std::fs::create_dir_all(net.join(d)).unwrap();
        }
        put(&sys, "sys/class/net/bonding_masters", "bond0\n");
        std::fs::create_dir_all(sys.join("sys/devices/pci0000:00/net/eth0")).unwrap();
        std::os::unix::fs::symlink("../../devices/pci0000:00/net/eth0/", net.join("eth0")).unwrap();
        let source = Box::new(Fixtures(root.join("ethtool")));
        let mut c = collector(&Paths::under(&sys), &Settings::new(), source);
        // Twice: the second scrape reuses the name mapping.
        for _ in 0..2 {
            assert_eq!(try_scrape(&mut c).unwrap(), UPSTREAM);
        }
        std::fs::remove_dir_all(&sys).unwrap();
    }

    #[test]
    fn family_names_as_upstream() {
        let naming = Naming::new(".*").unwrap();
        for (raw, want) in [
            ("rx_errors", "node_ethtool_received_errors"),
            ("Queue[0] AllocFails", "node_ethtool_queue_0_allocfails"),
            ("Tx LPI entry count", "node_ethtool_transmitted_lpi_entry_count"),
            ("port.VF_admin_queue_requests", "node_ethtool_port_vf_admin_queue_requests"),
            ("[3]: tx_bytes", "node_ethtool_3_transmitted_bytes"),
            ("     err", "node_ethtool_err"),
            // Matches do not overlap: the `_` the first `rx` took is not the second's.
            ("rx_rx_x", "node_ethtool_received_rx_x"),
            ("tx", "node_ethtool_transmitted"),
            ("ntx_rxq", "node_ethtool_ntx_rxq"),
        ] {
            let got = naming.family_name(&naming.sanitize(raw.as_bytes()));
            assert_eq!(String::from_utf8(got).unwrap(), want, "{raw}");
        }
        assert_eq!(naming.sanitize(b"%_%"), b"__");
        assert_eq!(naming.sanitize(b"a__%%__b"), b"a_b");
        assert_eq!(naming.sanitize("gr\u{fc}n".as_bytes()), b"gr_n");
    }

    /// A fixed statistics table for one device.
    #[derive(Debug)]
    struct Table(Vec<(&'static str, u64)>);

    impl Source for Table {
        fn link_settings(&mut self, _: &[u8]) -> Result<LinkSettings, Errno> {
            Err(Errno::OPNOTSUPP)
        }

        fn driver_info(&mut self, _: &[u8]) -> Result<DrvInfo, Errno> {
            Err(Errno::NODEV)
        }

        fn stats(
            &mut self,
            _: &[u8],
            names: &mut Vec<u8>,
            values: &mut Vec<u64>,
        ) -> Result<bool, Errno> {
            let mut new = vec![0u8; self.0.len() * ETH_GSTRING_LEN];
            for (slot, (name, _)) in new.chunks_mut(ETH_GSTRING_LEN).zip(&self.0) {
                slot[..name.len()].copy_from_slice(name.as_bytes());
            }
            *values = self.0.iter().map(|s| s.1).collect();
            let changed = *names != new;
            *names = new;
            Ok(changed)
        }
    }

    fn one_device(tag: &str) -> PathBuf {
        let root = tmpdir(tag);
        std::fs::create_dir_all(root.join("sys/class/net/eth9")).unwrap();
        root
    }

    #[test]
    fn names_collide_repeat_and_filter() {
        let root = one_device("ethtool-names");
        let table = Table(vec![
            ("port.rx_bytes", 7),
            ("rx_queue_0_packets", 1),
            ("rx_queue_0_packets", 2),
            ("dup metric", 3),
            ("dup_metric", 4),
            ("DUP_METRIC", 5),
            ("tx_packets", 6),
            ("", 99),
            ("rx-bytes", 8),
        ]);
        let mut c = collector(&Paths::under(&root), &Settings::new(), Box::new(table));
        let text = try_scrape(&mut c).unwrap();
        // A renamed statistic keeps its value (1.8.2 reported 0 here).
        assert!(text.contains("\nnode_ethtool_port_received_bytes{device=\"eth9\"} 7\n"), "{text}");
        // A repeated name: the last one, as a map keeps it.
        assert!(text.contains("\nnode_ethtool_received_queue_0_packets{device=\"eth9\"} 2\n"));
        assert!(!text.contains("dup"));
        // Upstream's fixed names for rx_bytes (from `rx-bytes`) and tx_packets.
        assert!(text.contains(
            "# HELP node_ethtool_received_bytes_total Network interface bytes received\n"
        ));
        assert!(text.contains("\nnode_ethtool_received_bytes_total{device=\"eth9\"} 8\n"));
        assert!(text.contains("\nnode_ethtool_transmitted_packets_total{device=\"eth9\"} 6\n"));
        assert!(text
            .contains("# HELP node_ethtool_port_received_bytes Network interface port_rx_bytes\n"));
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 4);

        // The include pattern is matched, unanchored, against the sanitized name.
        let mut s = Settings::new();
        s.set(METRICS, "queue");
        let table = Table(vec![("rx_queue_0_packets", 1), ("port.rx_bytes", 7)]);
        let mut c = collector(&Paths::under(&root), &s, Box::new(table));
        let text = try_scrape(&mut c).unwrap();
        assert!(text.contains("received_queue_0_packets"));
        assert!(!text.contains("port"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn flags() {
        let root = tmpdir("ethtool-flags");
        for d in ["eth0", "eth1", "veth2"] {
            std::fs::create_dir_all(root.join("sys/class/net").join(d)).unwrap();
        }
        put(&root, "sys/class/net/bonding_masters", "bond0\n");
        let scraped = |pairs: &[(&str, &str)]| {
            let mut s = Settings::new();
            for (k, v) in pairs {
                s.set(k, *v);
            }
            let mut c = collector(&Paths::under(&root), &s, Box::new(Table(vec![("x", 1)])));
            let text = try_scrape(&mut c).unwrap();
            ["\"eth0\"", "\"eth1\"", "\"veth2\"", "bonding"]
                .into_iter()
                .filter(|d| text.contains(d))
                .collect::<Vec<_>>()
        };
        assert_eq!(scraped(&[]), ["\"eth0\"", "\"eth1\"", "\"veth2\""]);
        assert_eq!(scraped(&[(INCLUDE, "^eth")]), ["\"eth0\"", "\"eth1\""]);
        assert_eq!(scraped(&[(EXCLUDE, "eth1")]), ["\"eth0\"", "\"veth2\""]);
        // Both at once, as upstream allows.
        assert_eq!(scraped(&[(INCLUDE, "eth"), (EXCLUDE, "^v")]), ["\"eth0\"", "\"eth1\""]);
        for flag in [INCLUDE, EXCLUDE, METRICS] {
            let mut s = Settings::new();
            s.set(flag, "(");
            let b = Build {
                paths: &Paths::under(&root),
                settings: &s,
                shared: &Shared::default(),
                enabled: &[],
            };
            let err = EthtoolCollector::new(&b, Box::new(Table(vec![]))).unwrap_err();
            assert!(err.contains(&format!("--{flag}")), "{err}");
        }
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn devices_come_and_go_and_names_change() {
        let root = one_device("ethtool-churn");
        #[derive(Debug)]
        struct Shifting(u64);
        impl Source for Shifting {
            fn link_settings(&mut self, _: &[u8]) -> Result<LinkSettings, Errno> {
                let mut l = LinkSettings::default();
                l.supported = 1 << 5 | 1 << 31 | 1 << 16;
                l.advertising = 1 << 13;
                Ok(l)
            }
            fn driver_info(&mut self, _: &[u8]) -> Result<DrvInfo, Errno> {
                Err(Errno::OPNOTSUPP)
            }
            fn stats(
                &mut self,
                _: &[u8],
                names: &mut Vec<u8>,
                values: &mut Vec<u64>,
            ) -> Result<bool, Errno> {
                self.0 += 1;
                let name: &[u8] = if self.0 < 3 { b"rx_a" } else { b"tx_b" };
                let mut new = vec![0u8; ETH_GSTRING_LEN];
                new[..name.len()].copy_from_slice(name);
                *values = vec![self.0];
                let changed = *names != new;
                *names = new;
                Ok(changed)
            }
        }
        let mut c = collector(&Paths::under(&root), &Settings::new(), Box::new(Shifting(0)));
        let text = try_scrape(&mut c).unwrap();
        assert!(text.contains("\nnode_ethtool_received_a{device=\"eth9\"} 1\n"));
        assert!(text.contains("node_network_supported_speed_bytes{device=\"eth9\",duplex=\"full\",mode=\"25000baseCR\"} 3.125e+09\n"));
        assert!(text
            .contains("node_network_supported_port_info{device=\"eth9\",type=\"Backplane\"} 1\n"));
        assert!(text.contains("node_network_pause_advertised{device=\"eth9\"} 1\n"));
        assert!(text.contains("node_network_autonegotiate{device=\"eth9\"} 0\n"));
        assert!(!text.contains("advertised_speed"));
        assert!(try_scrape(&mut c).unwrap().contains("received_a{device=\"eth9\"} 2\n"));
        let text = try_scrape(&mut c).unwrap();
        assert!(text.contains("\nnode_ethtool_transmitted_b{device=\"eth9\"} 3\n"));
        assert!(!text.contains("received_a"));

        std::fs::create_dir_all(root.join("sys/class/net/eth10")).unwrap();
        std::fs::remove_dir(root.join("sys/class/net/eth9")).unwrap();
        let text = try_scrape(&mut c).unwrap();
        assert!(text.contains("device=\"eth10\"") && !text.contains("device=\"eth9\""));
        assert_eq!(c.devices.len(), 1);

        // No interfaces: an error, as upstream's "no network devices found".
        std::fs::remove_dir(root.join("sys/class/net/eth10")).unwrap();
        assert!(matches!(try_scrape(&mut c), Err(Error::Read { errno: Errno::NODEV, .. })));
        // No sysfs: no data.
        std::fs::remove_dir_all(root.join("sys")).unwrap();
        let mut c = collector(&Paths::under(&root), &Settings::new(), Box::new(Shifting(0)));
        assert_eq!(try_scrape(&mut c), Err(Error::NoData));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn errors_skip_the_request_only() {
        let root = one_device("ethtool-errors");
        let mut c =
            collector(&Paths::under(&root), &Settings::new(), Box::new(Table(vec![("rx_x", 5)])));
        let text = try_scrape(&mut c).unwrap();
        // Link info unsupported, driver info failing: only the statistics remain.
        assert_eq!(
            text.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>(),
            ["node_ethtool_received_x{device=\"eth9\"} 5"]
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            match try_scrape(c.as_mut()) {
                Ok(_) | Err(Error::NoData) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
}
