//! `/sys/class/net/<iface>/*` → `node_network_up`, `node_network_info` and 17 per-interface
//! properties (`node_network_mtu_bytes`, `node_network_speed_bytes`, ...); node_exporter's
//! netclass collector on its sysfs path.
//!
//! Each interface is a directory of one-value attributes, see the kernel's
//! Documentation/ABI/testing/sysfs-class-net: `mtu` holds `1500\n`, `flags` `0x1003\n`,
//! `operstate` `up\n`. Values are read and parsed as procfs' `sysfs/net_class.go` does them
//! (see the `sysattr` module): the first 128 bytes, trimmed; numbers in any Go base. An
//! attribute that is missing, denied, or refuses the read with `EINVAL` or `EOPNOTSUPP` (`speed`
//! and `duplex` on a link that is down, `carrier` on an interface that is down) is left out;
//! any other failure fails the collector, as upstream.
//!
//! # Implementation notes
//!
//! Upstream lists every interface directory and opens, reads and closes every regular file in
//! it on each scrape: about 30 `openat`/`read`/`close` triples per interface. Here each
//! interface keeps one fd per attribute that is reported, re-read with a single `pread`, so a
//! scrape of a host with a thousand interfaces costs one `getdents64` of `/sys/class/net` and
//! 22 `pread`s per interface. Interfaces are [`Entries`]: one no longer listed is dropped with
//! its fds at the end of the scrape that stopped seeing it; one deleted and created again under
//! the same name between two scrapes fails its kept fds with `ENODEV`, which makes
//! [`File`] open the new attribute.
//!
//! Deviations, all in what upstream reads without reporting: attribute files upstream reads
//! only to discard (`addr_len`, `phys_port_id`, `uevent`, ...) are not read, so a failure to
//! read one does not fail the collector here; and an interface deleted between the listing and
//! the reading of its attributes is left out of the scrape, where upstream fails the collector
//! with "no data" for that scrape.
//!
//! `--collector.netclass.netlink` selects upstream's other path, over rtnetlink and ethtool
//! netlink, which reports the same families with some other values and HELP texts; it lives in
//! the `rtnl` submodule, with `--collector.netclass_rtnl.with-stats`.

mod rtnl;

use super::sysattr;
use super::{Build, Collector, Error, Flag, FlagKind, ParseError, Spec};
use crate::encode::{Encoder, FamilyId, Kind};
use crate::source::{c_path, Dir, Entries, File};
use regex::bytes::Regex;
use rustix::io::Errno;
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Registration. Blocking: `speed` and `duplex` ask the NIC driver, which on some hardware
/// waits for firmware, and retry while the rtnl lock is held elsewhere; on the netlink path the
/// ethtool dump asks the driver the same way.
pub const SPEC: Spec =
    Spec { name: "netclass", default_enabled: true, flags: FLAGS, blocking: true, build };

const IGNORED: &str = "collector.netclass.ignored-devices";
const INVALID_SPEED: &str = "collector.netclass.ignore-invalid-speed";
const NETLINK: &str = "collector.netclass.netlink";
const WITH_STATS: &str = "collector.netclass_rtnl.with-stats";

const FLAGS: &[Flag] = &[
    Flag {
        name: IGNORED,
        help: "Regexp of net devices to ignore for netclass collector.",
        kind: FlagKind::Regex,
        default: "^$",
        aliases: &[],
    },
    Flag {
        name: INVALID_SPEED,
        help: "Ignore devices where the speed is invalid. This will be the default behavior in \
               2.x.",
        kind: FlagKind::Bool,
        default: "false",
        aliases: &[],
    },
    Flag {
        // Upstream's help text, which names netdev's source rather than this collector's.
        name: NETLINK,
        help: "Use netlink to gather stats instead of /proc/net/dev.",
        kind: FlagKind::Bool,
        default: "false",
        aliases: &[],
    },
    Flag {
        name: WITH_STATS,
        help: "Expose the statistics for each network device, replacing netdev collector.",
        kind: FlagKind::Bool,
        default: "false",
        aliases: &[],
    },
];

const PATH: &str = "sys/class/net";

/// The numeric attributes: file, metric name after `node_network_`, type.
const NUMERIC: [(&str, &str, Kind); 17] = [
    ("addr_assign_type", "address_assign_type", Kind::Gauge),
    ("carrier", "carrier", Kind::Gauge),
    ("carrier_changes", "carrier_changes_total", Kind::Counter),
    ("carrier_up_count", "carrier_up_changes_total", Kind::Counter),
    ("carrier_down_count", "carrier_down_changes_total", Kind::Counter),
    ("dev_id", "device_id", Kind::Gauge),
    ("dormant", "dormant", Kind::Gauge),
    ("flags", "flags", Kind::Gauge),
    ("ifindex", "iface_id", Kind::Gauge),
    ("iflink", "iface_link", Kind::Gauge),
    ("link_mode", "iface_link_mode", Kind::Gauge),
    ("mtu", "mtu_bytes", Kind::Gauge),
    ("name_assign_type", "name_assign_type", Kind::Gauge),
    ("netdev_group", "net_dev_group", Kind::Gauge),
    ("speed", "speed_bytes", Kind::Gauge),
    ("tx_queue_len", "transmit_queue_length", Kind::Gauge),
    ("type", "protocol_type", Kind::Gauge),
];
const FLAGS_AT: usize = 7;
const SPEED_AT: usize = 14;

/// The text attributes, reported as labels of `node_network_info`.
const TEXT: [&str; 5] = ["address", "broadcast", "duplex", "ifalias", "operstate"];
const ADDRESS: usize = 0;
const BROADCAST: usize = 1;
const DUPLEX: usize = 2;
const IFALIAS: usize = 3;
const OPERSTATE: usize = 4;

/// `IFF_UP` in `flags`.
const IFF_UP: i64 = 1;

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    // Compiled as given, even when empty: upstream's empty pattern ignores every device.
    let ignored = Regex::new(b.settings.str(IGNORED))
        .map_err(|e| format!("invalid regular expression for --{IGNORED}: {e}"))?;
    if b.settings.bool(NETLINK) {
        return Ok(rtnl::build(b, ignored, b.settings.bool(WITH_STATS)));
    }
    let root = b.paths.sys("class/net");
    Ok(Box::new(Netclass {
        dir: Dir::new(&root),
        root_bytes: root.as_os_str().as_bytes().to_vec(),
        root,
        ignored,
        ignore_invalid_speed: b.settings.bool(INVALID_SPEED),
        ifaces: Entries::new(),
        buf: Vec::new(),
        text: Default::default(),
        path: Vec::new(),
    }))
}

#[derive(Debug)]
struct Netclass {
    dir: Dir,
    root: PathBuf,
    /// `root` as bytes, for building entry paths without allocating.
    root_bytes: Vec<u8>,
    ignored: Regex,
    ignore_invalid_speed: bool,
    ifaces: Entries<Iface>,
    buf: Vec<u8>,
    /// The text attributes of the interface being reported.
    text: [Vec<u8>; 5],
    /// Scratch for a NUL-terminated entry path.
    path: Vec<u8>,
}

/// One listed interface: its kept attribute files, or `None` when the flag ignores it (the
/// regex runs once per interface, not once per scrape).
#[derive(Debug)]
struct Iface(Option<Box<IfaceFiles>>);

#[derive(Debug)]
struct IfaceFiles {
    dir: CString,
    numeric: [File; 17],
    text: [File; 5],
    /// Whether the name can be a label value (upstream panics on one that is not UTF-8).
    name_is_utf8: bool,
}

impl IfaceFiles {
    fn new(dir: &Path, name: &[u8]) -> IfaceFiles {
        IfaceFiles {
            dir: c_path(dir),
            numeric: NUMERIC.map(|(attr, ..)| File::new(dir.join(attr))),
            text: TEXT.map(|attr| File::new(dir.join(attr))),
            name_is_utf8: std::str::from_utf8(name).is_ok(),
        }
    }
}

/// One scrape's numeric values of an interface: `None` where the attribute is absent,
/// unreadable in a way upstream tolerates, or not a number.
type Values = [Option<i64>; 17];

impl Collector for Netclass {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        self.list()?;
        let cp = enc.checkpoint();
        let r = self.report(enc);
        if r.is_err() {
            enc.rollback(cp);
        }
        r
    }
}

impl Netclass {
    /// Lists `/sys/class/net`: every entry but regular files (`bonding_masters`) is an
    /// interface, as upstream's `NetClassDevices` has it.
    fn list(&mut self) -> Result<(), Error> {
        let Netclass { dir, root, root_bytes, ignored, ifaces, path, .. } = self;
        ifaces.begin();
        let listed = dir.for_each(|name, kind| {
            if !sysattr::is_regular(kind, root_bytes, name, path) {
                ifaces.get_or_insert_with(name, || {
                    Iface((!ignored.is_match(name)).then(|| {
                        Box::new(IfaceFiles::new(&root.join(OsStr::from_bytes(name)), name))
                    }))
                });
            }
        });
        match listed {
            Ok(()) => {
                ifaces.end();
                Ok(())
            }
            Err(e) if sysattr::is_not_exist(e) || sysattr::is_permission(e) => Err(Error::NoData),
            Err(errno) => Err(Error::Read { path: PATH, errno }),
        }
    }

    fn report(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let fams = Families::declare(enc);
        let Netclass { ifaces, buf, text, ignore_invalid_speed, .. } = self;
        let mut bad_label = false;
        for (name, iface) in ifaces.iter_mut() {
            let Some(files) = &mut iface.0 else { continue };
            let Some(values) = read(files, buf, text)? else { continue };
            // Upstream panics on a label value that is not UTF-8, once every interface is
            // read: a read failure of a later interface takes precedence.
            if !files.name_is_utf8 || text.iter().any(|t| std::str::from_utf8(t).is_err()) {
                bad_label = true;
                continue;
            }
            emit(enc, &fams, name, &values, text, *ignore_invalid_speed);
        }
        match bad_label {
            true => Err(Error::Parse {
                path: PATH,
                err: ParseError::at(0, "label value is not valid UTF-8"),
            }),
            false => Ok(()),
        }
    }
}

/// Whether a failed attribute read leaves the attribute out rather than failing the
/// collector: procfs' `canIgnoreError`, plus `EISDIR` for an entry that is not a regular file,
/// which upstream's listing skips before reading.
fn is_ignorable(e: Errno) -> bool {
    sysattr::is_not_exist(e)
        || sysattr::is_permission(e)
        || sysattr::is_not_supported(e)
        || e == Errno::INVAL
        || e == Errno::ISDIR
}

/// Reads one interface's attributes: numbers into the result, text into `text`. `None` when
/// the interface's directory is gone (some attribute was missing and so is the directory).
///
/// # Errors
/// `Error::Read` for a failure upstream does not tolerate.
fn read(
    files: &mut IfaceFiles,
    buf: &mut Vec<u8>,
    text: &mut [Vec<u8>; 5],
) -> Result<Option<Values>, Error> {
    let mut missing = false;
    let mut attempt = |file: &mut File, buf: &mut Vec<u8>| -> Result<bool, Error> {
        match file.read_attr(buf) {
            Ok(_) => Ok(true),
            Err(e) if is_ignorable(e) => {
                missing |= sysattr::is_not_exist(e);
                Ok(false)
            }
            Err(errno) => Err(Error::Read { path: PATH, errno }),
        }
    };
    let mut values: Values = [None; 17];
    for (file, v) in files.numeric.iter_mut().zip(&mut values) {
        if attempt(file, buf)? {
            *v = sysattr::parse_i64(sysattr::value(buf));
        }
    }
    for (file, t) in files.text.iter_mut().zip(text.iter_mut()) {
        t.clear();
        if attempt(file, buf)? {
            t.extend_from_slice(sysattr::value(buf));
        }
    }
    if missing && rustix::fs::stat(files.dir.as_c_str()).is_err_and(sysattr::is_not_exist) {
        return Ok(None);
    }
    Ok(Some(values))
}

/// The families this collector reports, declared once per scrape.
struct Families {
    up: FamilyId,
    info: FamilyId,
    numeric: [FamilyId; 17],
}

impl Families {
    fn declare(enc: &mut Encoder) -> Families {
        Families {
            up: enc.family(
                "node_network_up",
                "Value is 1 if operstate is 'up', 0 otherwise.",
                Kind::Gauge,
            ),
            info: enc.family(
                "node_network_info",
                "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
                Kind::Gauge,
            ),
            numeric: NUMERIC.map(|(_, metric, kind)| {
                let metric = metric.as_bytes();
                enc.family_parts(
                    &[b"node_network_", metric],
                    &[b"Network device property: ", metric],
                    kind,
                )
            }),
        }
    }
}

/// Adds one interface's samples.
fn emit(
    enc: &mut Encoder,
    fams: &Families,
    name: &[u8],
    values: &Values,
    text: &[Vec<u8>; 5],
    ignore_invalid_speed: bool,
) {
    let device = [("device", name)];
    let up = text[OPERSTATE] == b"up";
    enc.sample(fams.up, &device, if up { 1.0 } else { 0.0 });
    let admin: &[u8] = match values[FLAGS_AT] {
        None => b"unknown",
        Some(flags) if flags & IFF_UP == IFF_UP => b"up",
        Some(_) => b"down",
    };
    let info = [
        ("device", name),
        ("address", &text[ADDRESS][..]),
        ("broadcast", &text[BROADCAST][..]),
        ("duplex", &text[DUPLEX][..]),
        ("operstate", &text[OPERSTATE][..]),
        ("adminstate", admin),
        ("ifalias", &text[IFALIAS][..]),
    ];
    enc.sample(fams.info, &info, 1.0);
    for (i, (&fam, value)) in fams.numeric.iter().zip(values).enumerate() {
        let Some(v) = *value else { continue };
        if i == SPEED_AT {
            // Mbit/s to bytes/s in int64, wrapping as Go's arithmetic does; some drivers
            // report -1 for an unknown speed.
            if v >= 0 || !ignore_invalid_speed {
                enc.sample(fam, &device, (v.wrapping_mul(1000).wrapping_mul(1000) / 8) as f64);
            }
        } else {
            enc.sample(fam, &device, v as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fds_under, linked_fixtures, put, scrape, tmpdir,
        try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    fn e2e_settings() -> Settings {
        let mut s = Settings::new();
        s.set(IGNORED, "(dmz|int)");
        s.set(INVALID_SPEED, "true");
        s
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = linked_fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(&root), &e2e_settings()).unwrap();
        let text = scrape(c.as_mut());
        assert_matches_e2e(&text);
        // Steady state: the same again through the kept fds.
        assert_eq!(scrape(c.as_mut()), text);
    }

    #[test]
    fn fixture_without_flags() {
        let Some(root) = linked_fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        // bond0 reports -1 Mbit/s, kept without --collector.netclass.ignore-invalid-speed.
        assert!(text.contains("\nnode_network_speed_bytes{device=\"bond0\"} -125000\n"), "{text}");
        for dev in ["bond0", "dmz", "eth0", "int"] {
            assert!(text.contains(&format!("node_network_up{{device=\"{dev}\"}} 1\n")), "{dev}");
        }
        // bonding_masters is a regular file, not an interface.
        assert!(!text.contains("bonding_masters"));
    }

    /// A tree with one interface holding every attribute.
    fn iface(root: &Path, name: &str, mtu: &str) {
        let dir = format!("sys/class/net/{name}");
        for (attr, value) in [
            ("addr_assign_type", "0\n"),
            ("address", "00:11:22:33:44:55\n"),
            ("broadcast", "ff:ff:ff:ff:ff:ff\n"),
            ("carrier", "1\n"),
            ("carrier_changes", "4\n"),
            ("carrier_up_count", "2\n"),
            ("carrier_down_count", "2\n"),
            ("dev_id", "0x0\n"),
            ("dormant", "0\n"),
            ("duplex", "full\n"),
            ("flags", "0x1002\n"),
            ("ifalias", "\n"),
            ("ifindex", "7\n"),
            ("iflink", "7\n"),
            ("link_mode", "0\n"),
            ("mtu", mtu),
            ("name_assign_type", "4\n"),
            ("netdev_group", "0\n"),
            ("operstate", "down\n"),
            ("speed", "10000\n"),
            ("tx_queue_len", "1000\n"),
            ("type", "1\n"),
        ] {
            put(root, &format!("{dir}/{attr}"), value);
        }
    }

    fn sample(text: &str, metric: &str, dev: &str) -> Option<String> {
        let prefix = format!("node_network_{metric}{{device=\"{dev}\"}} ");
        text.lines().find_map(|l| l.strip_prefix(&prefix)).map(str::to_owned)
    }

    #[test]
    fn values_as_procfs_parses_them() {
        let root = tmpdir("netclass-values");
        iface(&root, "eth7", "9000\n");
        // Flags without IFF_UP; a long alias cut at 128 bytes; Unicode space trimmed.
        let alias = format!("\u{a0}uplink {}\n", "x".repeat(200));
        put(&root, "sys/class/net/eth7/ifalias", &alias);
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        assert_eq!(sample(&text, "mtu_bytes", "eth7").as_deref(), Some("9000"));
        assert_eq!(sample(&text, "flags", "eth7").as_deref(), Some("4098"));
        assert_eq!(sample(&text, "speed_bytes", "eth7").as_deref(), Some("1.25e+09"));
        assert_eq!(sample(&text, "up", "eth7").as_deref(), Some("0"));
        assert_eq!(sample(&text, "carrier_up_changes_total", "eth7").as_deref(), Some("2"));
        let kept = 128 - "\u{a0}uplink ".len();
        let info = format!(
            "node_network_info{{address=\"00:11:22:33:44:55\",adminstate=\"down\",\
             broadcast=\"ff:ff:ff:ff:ff:ff\",device=\"eth7\",duplex=\"full\",\
             ifalias=\"uplink {}\",operstate=\"down\"}} 1\n",
            "x".repeat(kept)
        );
        assert!(text.contains(&info), "{text}");
        assert!(text.contains("# TYPE node_network_carrier_changes_total counter\n"));

        // Not numbers, out of range, empty: each attribute is left out, the rest reported.
        put(&root, "sys/class/net/eth7/mtu", "jumbo\n");
        put(&root, "sys/class/net/eth7/ifindex", "9223372036854775808\n");
        put(&root, "sys/class/net/eth7/iflink", "");
        put(&root, "sys/class/net/eth7/flags", "0x1003\n");
        let text = scrape(c.as_mut());
        assert_eq!(sample(&text, "mtu_bytes", "eth7"), None);
        assert_eq!(sample(&text, "iface_id", "eth7"), None);
        assert_eq!(sample(&text, "iface_link", "eth7"), None);
        assert!(text.contains("adminstate=\"up\""));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn missing_and_odd_attributes() {
        let root = tmpdir("netclass-missing");
        // Only an operstate; flags missing gives adminstate "unknown".
        put(&root, "sys/class/net/veth0/operstate", "up\n");
        // A directory where an attribute should be: upstream's listing skips it.
        std::fs::create_dir_all(root.join("sys/class/net/veth0/mtu")).unwrap();
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        assert!(text.contains("node_network_up{device=\"veth0\"} 1\n"));
        assert!(text.contains(
            "node_network_info{address=\"\",adminstate=\"unknown\",broadcast=\"\",\
             device=\"veth0\",duplex=\"\",ifalias=\"\",operstate=\"up\"} 1\n"
        ));
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 2, "{text}");

        // Speed -1: reported as upstream computes it unless the flag drops it.
        put(&root, "sys/class/net/veth0/speed", "-1\n");
        assert!(scrape(c.as_mut()).contains("speed_bytes{device=\"veth0\"} -125000\n"));
        let mut s = Settings::new();
        s.set(INVALID_SPEED, "true");
        let mut quiet = build_spec(&SPEC, &Paths::under(&root), &s).unwrap();
        assert!(!scrape(quiet.as_mut()).contains("speed_bytes"));
        // Go's int64 arithmetic wraps.
        put(&root, "sys/class/net/veth0/speed", "9223372036854775807\n");
        assert!(scrape(quiet.as_mut()).contains("speed_bytes{device=\"veth0\"} -125000\n"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn fatal_errors_and_no_data() {
        let root = tmpdir("netclass-errors");
        let paths = Paths::under(&root);
        // No class/net at all: no data, as upstream.
        let mut c = build_spec(&SPEC, &paths, &Settings::new()).unwrap();
        assert_eq!(try_scrape(c.as_mut()), Err(Error::NoData));

        // An interface entry that is a link to a regular file: its attributes cannot be
        // opened (ENOTDIR), which fails the whole collector and leaves nothing behind.
        iface(&root, "eth0", "1500\n");
        put(&root, "elsewhere", "x");
        std::os::unix::fs::symlink(root.join("elsewhere"), root.join("sys/class/net/bad")).unwrap();
        let r = try_scrape(c.as_mut());
        assert!(matches!(r, Err(Error::Read { errno: Errno::NOTDIR, .. })), "{r:?}");
        // Ignored by the flag, it is not read at all.
        let mut s = Settings::new();
        s.set(IGNORED, "^bad$");
        let mut c = build_spec(&SPEC, &paths, &s).unwrap();
        assert!(scrape(c.as_mut()).contains("device=\"eth0\""));

        // A label value upstream cannot report (it panics): the collector fails instead.
        put(&root, "sys/class/net/eth0/ifalias", "caf\u{e9}");
        std::fs::write(root.join("sys/class/net/eth0/ifalias"), b"caf\xe9\n").unwrap();
        let r = try_scrape(c.as_mut());
        assert!(matches!(r, Err(Error::Parse { .. })), "{r:?}");
        // Upstream reads every interface before it panics: a later read failure wins.
        std::os::unix::fs::symlink(root.join("elsewhere"), root.join("sys/class/net/zz")).unwrap();
        let r = try_scrape(c.as_mut());
        assert!(matches!(r, Err(Error::Read { errno: Errno::NOTDIR, .. })), "{r:?}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn empty_pattern_ignores_everything() {
        let root = tmpdir("netclass-empty-pattern");
        iface(&root, "eth0", "1500\n");
        let mut s = Settings::new();
        s.set(IGNORED, "");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &s).unwrap();
        assert_eq!(scrape(c.as_mut()), "");
        assert_eq!(fds_under(&root), 1, "only the class/net listing is held open");
        s.set(IGNORED, "(");
        let err = build_spec(&SPEC, &Paths::under(&root), &s).unwrap_err();
        assert!(err.contains(IGNORED), "{err}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn vanished_directory_is_left_out() {
        let root = tmpdir("netclass-vanished");
        let mut buf = Vec::new();
        let mut text: [Vec<u8>; 5] = Default::default();
        let mut files = IfaceFiles::new(&root.join("gone"), b"gone");
        assert_eq!(read(&mut files, &mut buf, &mut text).unwrap(), None);
        // A directory that exists but lacks every attribute is still an interface.
        std::fs::create_dir_all(root.join("empty")).unwrap();
        let mut files = IfaceFiles::new(&root.join("empty"), b"empty");
        assert_eq!(read(&mut files, &mut buf, &mut text).unwrap(), Some([None; 17]));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn interfaces_come_and_go() {
        let root = tmpdir("netclass-churn");
        iface(&root, "eth0", "1500\n");
        iface(&root, "veth1", "1400\n");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        assert_eq!(sample(&text, "mtu_bytes", "veth1").as_deref(), Some("1400"));
        let net = root.join("sys/class/net");
        assert_eq!(fds_under(&net.join("veth1")), 22);

        std::fs::remove_dir_all(net.join("veth1")).unwrap();
        let text = scrape(c.as_mut());
        assert!(!text.contains("veth1"), "{text}");
        assert_eq!(fds_under(&net.join("veth1")), 0, "a vanished interface keeps no fds");
        assert_eq!(fds_under(&net.join("eth0")), 22);

        // Back under the same name, with other values: read afresh.
        iface(&root, "veth1", "9000\n");
        let text = scrape(c.as_mut());
        assert_eq!(sample(&text, "mtu_bytes", "veth1").as_deref(), Some("9000"));
        drop(c);
        assert_eq!(fds_under(&root), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            match try_scrape(c.as_mut()) {
                Ok(text) => assert!(text.is_empty() || text.contains("node_network_up{")),
                Err(e) => assert!(e.is_no_data(), "{e}"),
            }
        }
    }
}
