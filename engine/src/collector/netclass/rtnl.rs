//! `--collector.netclass.netlink`: node_exporter's netclass collector on its rtnetlink path
//! (upstream's netclass_rtnl). `node_network_up`, `node_network_info` and the per-interface
//! properties come from a rtnetlink `RTM_GETLINK` dump (rtnetlink(7): `struct ifinfomsg` and
//! the `IFLA_*` attributes of include/uapi/linux/if_link.h); speed and duplex from the ethtool
//! generic netlink family's `LINKMODES_GET` dump (see [`crate::netlink::ethtool`]; no ioctl);
//! and the three properties neither gives, `addr_assign_type`, `dev_id` and
//! `name_assign_type`, from `/sys/class/net/<iface>/` (one number each: `0\n`, `0x0\n`, `4\n`).
//! `--collector.netclass_rtnl.with-stats` adds the link's `struct rtnl_link_stats64` as 24
//! `node_network_*_total` families (gauges, as upstream types them).
//!
//! What this path reports differently from the sysfs one, as upstream does:
//! - `node_network_info` has no `adminstate` label and another HELP text; its `duplex` is the
//!   ethtool library's name (`Full`, `Half`, `Unknown`, `Duplex(N)`), empty for a device the
//!   ethtool dump leaves out (`lo`, virtual devices without link settings).
//! - `speed_bytes` is reported for every device of the ethtool dump the ignore pattern keeps,
//!   as `speed * 1000 * 1000 / 8` in integers. Upstream's library reads the kernel's `u32`
//!   speed into a 64-bit `int`, so the unknown speed (`SPEED_UNKNOWN`, `u32::MAX`) is never
//!   negative: it is reported as 536870911875000, and
//!   `--collector.netclass.ignore-invalid-speed` has no effect here.
//! - `flags` is `ifi_flags`, which carries the operational bits (`IFF_RUNNING`,
//!   `IFF_LOWER_UP`, `IFF_DORMANT`) that the sysfs `flags` file leaves out.
//! - `dormant` reports `IFLA_LINKMODE`, the value `iface_link_mode` reports too.
//! - `iface_link` is `IFLA_LINK`, or the interface's own index when the kernel leaves the
//!   attribute out (it does when they are equal).
//! - `mtu_bytes`, `flags`, `iface_id` and `protocol_type` are always reported (`mtu_bytes` 0
//!   without `IFLA_MTU`); `carrier`, `carrier_*changes_total`, `iface_link_mode`, `dormant`,
//!   `net_dev_group` and `transmit_queue_length` when the kernel sends their attribute; the
//!   three sysfs ones when readable and numeric.
//!
//! Errors, as upstream: a kernel without the ethtool family (before 5.6; `ENOENT`) only loses
//! speed and duplex, and upstream's info line is logged; any other ethtool failure, a failed
//! `RTM_GETLINK` dump, a message that does not parse, or a sysfs read failing otherwise than
//! missing, denied, `EINVAL` or `EOPNOTSUPP`, fails the scrape. Where upstream panics, the
//! scrape fails instead: a link message without attributes (a nil dereference), an operstate
//! past `IF_OPER_UP` (an index out of range), a name or alias that is not UTF-8 (an invalid
//! label value), and a link mode bit past the 92 that upstream's ethtool library knows set in
//! the advertised or the partner's modes (an index out of range in its table; newer kernels
//! define more: 800G, 10BASE-T1L/T1S).
//!
//! Deviations: the sysfs attributes are read under `--path.sysfs`, where upstream reads them
//! under `/sys` whatever the flag says. A broken attribute (cut short, or a fixed-size one of
//! another size) fails the scrape, where upstream's rtnetlink library stops reading that
//! message's attributes without a word. The ethtool socket does not set
//! `NETLINK_GET_STRICT_CHK`, which upstream's library requires (failing the collector on
//! kernels before 4.20, which have no ethtool family anyway), nor looks for the family's
//! `monitor` multicast group, whose absence that library takes for an error (the kernel always
//! registers it with the family). A failing scrape leaves nothing
//! behind, where upstream has already sent the `speed_bytes` samples when a later step fails.
//!
//! # Implementation notes
//!
//! Upstream dials both netlink sockets and looks the ethtool family up on every scrape, then
//! builds a map of the ethtool replies by name. Here both sockets are kept (the family id with
//! the ethtool one), their reply buffers are reused, and the ethtool replies become a table of
//! names and duplexes sorted once per scrape and searched per link. Interfaces are
//! [`Entries`] keyed by name, holding the ignore pattern's verdict (matched once per
//! interface) and the three sysfs attribute files, opened on first use and re-read with one
//! `pread` each; an interface that leaves the dump is dropped with its fds at the end of the
//! scrape, and one deleted and created again under the same name has its kept fds fail with
//! `ENODEV`, which makes [`File`] open the new attributes.

use super::super::netdev::LINK_STATS;
use super::super::{nl, sysattr, Build, Collector, Error, ParseError};
use crate::encode::{Encoder, FamilyId, Kind};
use crate::netaddr;
use crate::netlink::ethtool::{self, LinkModes};
use crate::netlink::genl::{self, Family};
use crate::netlink::route::{
    IFINFOMSG_LEN, IFLA_ADDRESS, IFLA_BROADCAST, IFLA_CARRIER, IFLA_CARRIER_CHANGES,
    IFLA_CARRIER_DOWN_COUNT, IFLA_CARRIER_UP_COUNT, IFLA_GROUP, IFLA_IFALIAS, IFLA_IFNAME,
    IFLA_LINK, IFLA_LINKMODE, IFLA_MTU, IFLA_OPERSTATE, IFLA_STATS, IFLA_STATS64, IFLA_TXQLEN,
    RTM_GETLINK, RTM_NEWLINK,
};
use crate::netlink::{self, ne_u16, ne_u32, ne_u64, trim_nul, Message, Messages, Protocol, Socket};
use crate::source::{Entries, File};
use regex::bytes::Regex;
use rustix::io::Errno;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

const PATH: &str = "sys/class/net";
const GETLINK: &str = "rtnetlink RTM_GETLINK";
const GETFAMILY: &str = "genetlink CTRL_CMD_GETFAMILY ethtool";
const LINKMODES: &str = "ethtool ETHTOOL_MSG_LINKMODES_GET";

/// The sysfs attributes rtnetlink does not carry, in the order of [`Sysfs`].
const SYSFS: [&str; 3] = ["addr_assign_type", "dev_id", "name_assign_type"];

/// One interface's [`SYSFS`] values: `None` where unreadable in a tolerated way or not a number.
type Sysfs = [Option<i64>; 3];

/// Upstream's words for `IF_OPER_*`, by value.
const OPERSTATES: [&str; 7] =
    ["unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"];
/// `IF_OPER_UP`.
const IF_OPER_UP: u8 = 6;

/// How many link modes upstream's ethtool library knows (`ETHTOOL_LINK_MODE_*_BIT` 0 to 91,
/// up to `100baseFX_Full`): it looks every set bit up in a table of that size.
const GO_LINK_MODES: u32 = 92;

/// The properties after `node_network_`, as upstream names and types them; [`props`] gives
/// their values in this order.
const PROPS: [(&str, Kind); 16] = [
    ("address_assign_type", Kind::Gauge),
    ("carrier", Kind::Gauge),
    ("carrier_changes_total", Kind::Counter),
    ("carrier_up_changes_total", Kind::Counter),
    ("carrier_down_changes_total", Kind::Counter),
    ("device_id", Kind::Gauge),
    ("flags", Kind::Gauge),
    ("iface_id", Kind::Gauge),
    ("iface_link_mode", Kind::Gauge),
    ("dormant", Kind::Gauge),
    ("iface_link", Kind::Gauge),
    ("mtu_bytes", Kind::Gauge),
    ("name_assign_type", Kind::Gauge),
    ("net_dev_group", Kind::Gauge),
    ("transmit_queue_length", Kind::Gauge),
    ("protocol_type", Kind::Gauge),
];

/// Builds the rtnetlink path of the netclass collector.
pub(super) fn build(b: &Build<'_>, ignored: Regex, with_stats: bool) -> Box<dyn Collector> {
    Box::new(Rtnl {
        route: Socket::new(Protocol::Route),
        links: Vec::new(),
        ethtool: Socket::new(Protocol::Generic),
        family: None,
        modes: Vec::new(),
        state: State::new(b.paths.sys("class/net"), ignored, with_stats),
    })
}

#[derive(Debug)]
struct Rtnl {
    route: Socket,
    /// The `RTM_GETLINK` dump.
    links: Vec<u8>,
    ethtool: Socket,
    /// The ethtool family, looked up once per ethtool socket.
    family: Option<Family>,
    /// The `LINKMODES_GET` dump (and the family lookup's reply before it).
    modes: Vec<u8>,
    state: State,
}

impl Collector for Rtnl {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let Rtnl { route, links, ethtool, family, modes, state } = self;
        // Upstream's order: the ethtool dump, then the link dump, then sysfs.
        let modes = link_modes(ethtool, family, modes)?;
        let links =
            route.dump_all(RTM_GETLINK, &[0; IFINFOMSG_LEN], links).map_err(nl::error(GETLINK))?;
        let cp = enc.checkpoint();
        let r = state.scan(enc, modes, links);
        if r.is_err() {
            enc.rollback(cp);
        }
        r
    }
}

/// Whether an ethtool failure means the kernel has no ethtool netlink family, which upstream
/// tolerates (its test is for `ENOENT` one wrapping down).
fn is_unavailable(e: netlink::Error) -> bool {
    e.errno() == Some(Errno::NOENT)
}

/// Dumps the ethtool link modes into `buf`, looking the family up first if need be. `None`
/// when the kernel has no ethtool family.
fn link_modes<'o>(
    sock: &mut Socket,
    family: &mut Option<Family>,
    buf: &'o mut Vec<u8>,
) -> Result<Option<Messages<'o>>, Error> {
    let unavailable = || {
        log::info!("ETHTOOL netlink interface unavailable, duplex and linkspeed are not scraped.");
    };
    if !sock.is_open() {
        *family = None;
    }
    let fam = match *family {
        Some(f) => f,
        None => match genl::family(sock, ethtool::FAMILY_NAME, buf) {
            Ok(f) => *family.insert(f),
            Err(e) if is_unavailable(e) => {
                unavailable();
                return Ok(None);
            }
            Err(e) => return Err(nl::error(GETFAMILY)(e)),
        },
    };
    match ethtool::dump_link_modes(sock, fam, buf) {
        Ok(msgs) => Ok(Some(msgs)),
        Err(e) if is_unavailable(e) => {
            unavailable();
            Ok(None)
        }
        Err(e) => Err(nl::error(LINKMODES)(e)),
    }
}

/// Everything but the sockets and their replies, so that a scan can borrow the replies.
#[derive(Debug)]
struct State {
    /// `<sysfs>/class/net`.
    root: PathBuf,
    ignored: Regex,
    with_stats: bool,
    ifaces: Entries<Iface>,
    /// The ethtool replies of this scrape, sorted by name.
    table: Vec<Mode>,
    /// Their names.
    names: Vec<u8>,
    /// Scratch for sysfs reads.
    buf: Vec<u8>,
    /// Scratch for the address labels.
    text: Vec<u8>,
}

/// One `LINKMODES_GET` reply: its name's bounds in [`State::names`], speed and duplex.
#[derive(Clone, Copy, Debug)]
struct Mode {
    start: u32,
    end: u32,
    speed: u32,
    duplex: u8,
}

impl Mode {
    fn name<'n>(&self, names: &'n [u8]) -> &'n [u8] {
        &names[self.start as usize..self.end as usize]
    }
}

/// One interface seen in a dump: the ignore pattern's verdict and, once read, its sysfs files.
#[derive(Debug)]
struct Iface {
    ignored: bool,
    files: Option<Box<[File; 3]>>,
}

impl State {
    fn new(root: PathBuf, ignored: Regex, with_stats: bool) -> State {
        State {
            root,
            ignored,
            with_stats,
            ifaces: Entries::new(),
            table: Vec::new(),
            names: Vec::new(),
            buf: Vec::new(),
            text: Vec::new(),
        }
    }

    /// Reports the dumps: `modes` (`None` without the ethtool family) and `links`. Reads the
    /// sysfs attributes of every link kept. Allocates only for new interfaces and to grow its
    /// buffers.
    ///
    /// # Errors
    /// See the module's documentation. Samples may be left in `enc`; the caller rolls back.
    fn scan(
        &mut self,
        enc: &mut Encoder,
        modes: Option<Messages<'_>>,
        links: Messages<'_>,
    ) -> Result<(), Error> {
        let fams = Families::declare(enc, self.with_stats);
        let State { root, ignored, ifaces, table, names, buf, text, .. } = self;
        // Upstream parses both dumps whole before it reports a link.
        table.clear();
        names.clear();
        for msg in modes.into_iter().flatten() {
            let lm = LinkModes::parse(&msg).map_err(nl::error(LINKMODES))?;
            if lm.highest_mode.is_some_and(|bit| bit >= GO_LINK_MODES) {
                // Upstream's library indexes its table of known modes with the bit and panics.
                return Err(Error::Parse {
                    path: LINKMODES,
                    err: ParseError::at(0, "link mode bit unknown to upstream's ethtool library"),
                });
            }
            let start = names.len() as u32;
            names.extend_from_slice(lm.name);
            let end = names.len() as u32;
            table.push(Mode { start, end, speed: lm.speed, duplex: lm.duplex });
        }
        table.sort_unstable_by(|a, b| a.name(names).cmp(b.name(names)));
        let links = links.filter(|m| m.ty == RTM_NEWLINK);
        for msg in links.clone() {
            parse_link(&msg).map_err(nl::error(GETLINK))?;
        }

        ifaces.begin();
        // Upstream panics on a label value that is not UTF-8 or an operstate it has no word
        // for, after it has read every link's sysfs attributes: a read failure comes first.
        let mut unreportable = None;
        for m in table.iter() {
            let name = m.name(names);
            if Iface::get(ifaces, ignored, name).ignored {
                continue;
            }
            if std::str::from_utf8(name).is_err() {
                unreportable = Some("label value is not valid UTF-8");
                continue;
            }
            // The kernel's u32 times 10^6 fits a u64; Go's int64 arithmetic is as exact.
            enc.sample_u64(fams.speed, &[("device", name)], u64::from(m.speed) * 1_000_000 / 8);
        }
        for msg in links {
            let link = parse_link(&msg).map_err(nl::error(GETLINK))?;
            let state = Iface::get(ifaces, ignored, link.name);
            if state.ignored {
                continue;
            }
            let sysfs = state.sysfs(root, link.name, buf)?;
            let Some(&operstate) = OPERSTATES.get(usize::from(link.operstate)) else {
                unreportable = Some("operstate out of range");
                continue;
            };
            if std::str::from_utf8(link.name).is_err() || std::str::from_utf8(link.alias).is_err() {
                unreportable = Some("label value is not valid UTF-8");
                continue;
            }
            let duplex = table
                .binary_search_by(|m| m.name(names).cmp(link.name))
                .ok()
                .map(|i| table[i].duplex);
            emit(enc, &fams, &link, operstate, duplex, &sysfs, text);
        }
        ifaces.end();
        match unreportable {
            Some(what) => Err(Error::Parse { path: GETLINK, err: ParseError::at(0, what) }),
            None => Ok(()),
        }
    }
}

impl Iface {
    /// The state of the interface `name`, marked seen in this scrape; the pattern is matched
    /// when the interface is new.
    fn get<'e>(ifaces: &'e mut Entries<Iface>, ignored: &Regex, name: &[u8]) -> &'e mut Iface {
        ifaces.get_or_insert_with(name, || Iface { ignored: ignored.is_match(name), files: None })
    }

    /// Reads the interface's [`SYSFS`] attributes under `root`, opening them on first use.
    ///
    /// # Errors
    /// `Error::Read` for a failure procfs does not tolerate.
    fn sysfs(&mut self, root: &Path, name: &[u8], buf: &mut Vec<u8>) -> Result<Sysfs, Error> {
        let mut values = [None; 3];
        // A name the kernel would not give (it refuses `/`, `.` and `..`) names no directory.
        if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') {
            return Ok(values);
        }
        let files = self.files.get_or_insert_with(|| {
            let dir = root.join(OsStr::from_bytes(name));
            Box::new(SYSFS.map(|attr| File::new(dir.join(attr))))
        });
        for (file, v) in files.iter_mut().zip(&mut values) {
            match file.read_attr(buf) {
                Ok(raw) => *v = sysattr::parse_i64(sysattr::value(raw)),
                // procfs' `canIgnoreError`.
                Err(e)
                    if sysattr::is_not_exist(e)
                        || sysattr::is_permission(e)
                        || sysattr::is_not_supported(e)
                        || e == Errno::INVAL => {}
                Err(errno) => return Err(Error::Read { path: PATH, errno }),
            }
        }
        Ok(values)
    }
}

/// The parts of a `RTM_NEWLINK` message upstream reads, with the Go library's zero values for
/// what is absent.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Link<'a> {
    /// `ifi_type`: `ARPHRD_*`.
    ty: u16,
    index: u32,
    flags: u32,
    name: &'a [u8],
    address: &'a [u8],
    broadcast: &'a [u8],
    alias: &'a [u8],
    mtu: u32,
    /// `IFLA_LINK`, 0 when absent.
    link: u32,
    operstate: u8,
    link_mode: Option<u8>,
    carrier: Option<u8>,
    carrier_changes: Option<u32>,
    carrier_up: Option<u32>,
    carrier_down: Option<u32>,
    group: Option<u32>,
    txqlen: Option<u32>,
    stats64: Option<&'a [u8]>,
}

/// Reads a `RTM_NEWLINK` message.
///
/// # Errors
/// `Malformed` when the message is shorter than an `ifinfomsg`, has no attributes (upstream
/// dereferences nil there), breaks attribute framing, has an `IFLA_*` number of another size
/// than its type, or an address, `IFLA_STATS` or `IFLA_STATS64` of a size upstream's rtnetlink
/// library refuses (which fails its whole dump).
fn parse_link<'a>(msg: &Message<'a>) -> Result<Link<'a>, netlink::Error> {
    let (hdr, attrs) = msg.split(IFINFOMSG_LEN)?;
    if msg.payload.len() == IFINFOMSG_LEN {
        return Err(netlink::Error::Malformed("link message without attributes"));
    }
    let mut link = Link {
        ty: ne_u16(hdr, 2).unwrap_or(0),
        index: ne_u32(hdr, 4).unwrap_or(0),
        flags: ne_u32(hdr, 8).unwrap_or(0),
        ..Link::default()
    };
    let u8_of = |d: &[u8]| match *d {
        [v] => Ok(v),
        _ => Err(netlink::Error::Malformed("link attribute is not a u8")),
    };
    let u32_of = |d: &[u8]| match d.len() {
        4 => ne_u32(d, 0).ok_or(netlink::Error::Malformed("link attribute is not a u32")),
        _ => Err(netlink::Error::Malformed("link attribute is not a u32")),
    };
    let hw = |d: &'a [u8]| match d.len() {
        4..=32 => Ok(d),
        _ => Err(netlink::Error::Malformed("link address of unexpected size")),
    };
    for a in attrs {
        let a = a?;
        match a.ty {
            IFLA_ADDRESS => link.address = hw(a.data)?,
            IFLA_BROADCAST => link.broadcast = hw(a.data)?,
            IFLA_IFNAME => link.name = trim_nul(a.data),
            IFLA_IFALIAS => link.alias = trim_nul(a.data),
            IFLA_MTU => link.mtu = u32_of(a.data)?,
            IFLA_LINK => link.link = u32_of(a.data)?,
            IFLA_TXQLEN => link.txqlen = Some(u32_of(a.data)?),
            IFLA_OPERSTATE => link.operstate = u8_of(a.data)?,
            IFLA_LINKMODE => link.link_mode = Some(u8_of(a.data)?),
            IFLA_GROUP => link.group = Some(u32_of(a.data)?),
            IFLA_CARRIER => link.carrier = Some(u8_of(a.data)?),
            IFLA_CARRIER_CHANGES => link.carrier_changes = Some(u32_of(a.data)?),
            IFLA_CARRIER_UP_COUNT => link.carrier_up = Some(u32_of(a.data)?),
            IFLA_CARRIER_DOWN_COUNT => link.carrier_down = Some(u32_of(a.data)?),
            IFLA_STATS if ![92, 96].contains(&a.data.len()) => {
                return Err(netlink::Error::Malformed("IFLA_STATS of unexpected size"));
            }
            IFLA_STATS64 => match a.data.len() {
                184 | 192 | 200 => link.stats64 = Some(a.data),
                _ => return Err(netlink::Error::Malformed("IFLA_STATS64 of unexpected size")),
            },
            _ => {}
        }
    }
    Ok(link)
}

/// The families this path reports, declared once per scrape.
struct Families {
    up: FamilyId,
    info: FamilyId,
    speed: FamilyId,
    props: [FamilyId; 16],
    stats: Option<[FamilyId; 24]>,
}

impl Families {
    fn declare(enc: &mut Encoder, with_stats: bool) -> Families {
        let mut prop = |stem: &[u8], suffix: &[u8], kind| {
            enc.family_parts(
                &[b"node_network_", stem, suffix],
                &[b"Network device property: ", stem, suffix],
                kind,
            )
        };
        let speed = prop(b"speed_bytes", b"", Kind::Gauge);
        let props = PROPS.map(|(name, kind)| prop(name.as_bytes(), b"", kind));
        let stats =
            with_stats.then(|| LINK_STATS.map(|s| prop(s.as_bytes(), b"_total", Kind::Gauge)));
        Families {
            up: enc.family(
                "node_network_up",
                "Value is 1 if operstate is 'up', 0 otherwise.",
                Kind::Gauge,
            ),
            info: enc.family(
                "node_network_info",
                "Non-numeric data of <iface>, value is always 1.",
                Kind::Gauge,
            ),
            speed,
            props,
            stats,
        }
    }
}

/// The [`PROPS`] values of a link.
fn props(link: &Link<'_>, sysfs: &Sysfs) -> [Option<f64>; 16] {
    let u8f = |v: Option<u8>| v.map(f64::from);
    let u32f = |v: Option<u32>| v.map(f64::from);
    let i64f = |v: Option<i64>| v.map(|v| v as f64);
    // The kernel leaves IFLA_LINK out when it equals the index, and indexes are never 0.
    let iflink = if link.link > 0 { link.link } else { link.index };
    [
        i64f(sysfs[0]),
        u8f(link.carrier),
        u32f(link.carrier_changes),
        u32f(link.carrier_up),
        u32f(link.carrier_down),
        i64f(sysfs[1]),
        Some(f64::from(link.flags)),
        Some(f64::from(link.index)),
        u8f(link.link_mode),
        // Upstream reports the link mode as `dormant` too.
        u8f(link.link_mode),
        Some(f64::from(iflink)),
        Some(f64::from(link.mtu)),
        i64f(sysfs[2]),
        u32f(link.group),
        u32f(link.txqlen),
        Some(f64::from(link.ty)),
    ]
}

/// The ethtool library's name for a duplex value (Go's `stringer` output), written into `buf`.
fn duplex_name(d: u8, buf: &mut [u8; 11]) -> &[u8] {
    match d {
        ethtool::DUPLEX_HALF => b"Half",
        ethtool::DUPLEX_FULL => b"Full",
        ethtool::DUPLEX_UNKNOWN => b"Unknown",
        _ => {
            let mut n = itoa::Buffer::new();
            let digits = n.format(d).as_bytes();
            let len = 8 + digits.len();
            buf[..7].copy_from_slice(b"Duplex(");
            buf[7..7 + digits.len()].copy_from_slice(digits);
            buf[len - 1] = b')';
            &buf[..len]
        }
    }
}

/// Adds one link's samples. `duplex` is the ethtool reply's, if the dump had the link.
fn emit(
    enc: &mut Encoder,
    fams: &Families,
    link: &Link<'_>,
    operstate: &str,
    duplex: Option<u8>,
    sysfs: &Sysfs,
    text: &mut Vec<u8>,
) {
    let device = [("device", link.name)];
    let up = link.operstate == IF_OPER_UP;
    enc.sample(fams.up, &device, if up { 1.0 } else { 0.0 });
    text.clear();
    netaddr::write_mac(text, link.address);
    let split = text.len();
    netaddr::write_mac(text, link.broadcast);
    let (address, broadcast) = text.split_at(split);
    let mut scratch = [0u8; 11];
    let duplex = duplex.map_or(&b""[..], |d| duplex_name(d, &mut scratch));
    let info = [
        ("device", link.name),
        ("address", address),
        ("broadcast", broadcast),
        ("duplex", duplex),
        ("operstate", operstate.as_bytes()),
        ("ifalias", link.alias),
    ];
    enc.sample(fams.info, &info, 1.0);
    for (&fam, v) in fams.props.iter().zip(props(link, sysfs)) {
        if let Some(v) = v {
            enc.sample(fam, &device, v);
        }
    }
    let (Some(stats), Some(s)) = (&fams.stats, link.stats64) else { return };
    for (i, &fam) in stats.iter().enumerate() {
        // `rx_nohandler` is 0 in the 184-byte layout of kernels before 4.6, as upstream has it.
        enc.sample_u64(fam, &device, ne_u64(s, i * 8).unwrap_or(0));
    }
}

#[cfg(test)]
mod tests {
    use super::super::{INVALID_SPEED, NETLINK, SPEC, WITH_STATS};
    use super::*;
    use crate::collector::testing::{
        build as build_spec, fds_under, put, render, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::netlink::ethtool::testing::{bitset, link_modes as modes_payload};
    use crate::netlink::testing::{attr, message};
    use crate::source::Paths;

    /// A `RTM_NEWLINK` payload: `ifinfomsg` then the attributes.
    fn link_payload(ty: u16, index: u32, flags: u32, attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut p = vec![0u8; IFINFOMSG_LEN];
        p[2..4].copy_from_slice(&ty.to_ne_bytes());
        p[4..8].copy_from_slice(&index.to_ne_bytes());
        p[8..12].copy_from_slice(&flags.to_ne_bytes());
        for (ty, data) in attrs {
            attr(&mut p, *ty, data);
        }
        p
    }

    /// An Ethernet link with every attribute upstream reads, then `extra`.
    fn eth(index: u32, name: &str, operstate: u8, extra: &[(u16, &[u8])]) -> Vec<u8> {
        let name = format!("{name}\0");
        let (txqlen, mtu, group) = (1000u32.to_ne_bytes(), 1500u32.to_ne_bytes(), [0; 4]);
        let (changes, up, down) = (4u32.to_ne_bytes(), 2u32.to_ne_bytes(), 2u32.to_ne_bytes());
        let oper = [operstate];
        let mut attrs: Vec<(u16, &[u8])> = vec![
            (IFLA_IFNAME, name.as_bytes()),
            (IFLA_TXQLEN, &txqlen),
            (IFLA_OPERSTATE, &oper),
            (IFLA_LINKMODE, &[1]),
            (IFLA_MTU, &mtu),
            (IFLA_GROUP, &group),
            (IFLA_CARRIER, &[1]),
            (IFLA_CARRIER_CHANGES, &changes),
            (IFLA_CARRIER_UP_COUNT, &up),
            (IFLA_CARRIER_DOWN_COUNT, &down),
            (IFLA_ADDRESS, &[2, 0xfc, 0, 0, 0, 1]),
            (IFLA_BROADCAST, &[0xff; 6]),
        ];
        attrs.extend_from_slice(extra);
        link_payload(1, index, 0x11043, &attrs)
    }

    fn dump(payloads: &[Vec<u8>], ty: u16) -> Vec<u8> {
        let mut out = Vec::new();
        for p in payloads {
            message(&mut out, ty, 1, p);
        }
        out
    }

    /// Counters numbered 1, 2, 3, ... in struct order, `n` of them.
    fn stats64(n: usize) -> Vec<u8> {
        (1..=n as u64).flat_map(u64::to_ne_bytes).collect()
    }

    fn state(root: &Path, ignored: &str, with_stats: bool) -> State {
        State::new(root.join("sys/class/net"), Regex::new(ignored).unwrap(), with_stats)
    }

    fn run(st: &mut State, modes: Option<&[Vec<u8>]>, links: &[Vec<u8>]) -> Result<String, Error> {
        let modes = modes.map(|m| dump(m, 21));
        let links = dump(links, RTM_NEWLINK);
        let mut r = Ok(());
        let text = render(|enc| {
            let cp = enc.checkpoint();
            r = st.scan(enc, modes.as_deref().map(Messages::new), Messages::new(&links));
            if r.is_err() {
                enc.rollback(cp);
            }
        });
        r.map(|()| text)
    }

    fn sample(text: &str, metric: &str, dev: &str) -> Option<String> {
        let prefix = format!("node_network_{metric}{{device=\"{dev}\"}} ");
        text.lines().find_map(|l| l.strip_prefix(&prefix)).map(str::to_owned)
    }

    fn sysfs_attrs(root: &Path, name: &str) {
        for (attr, v) in
            [("addr_assign_type", "3\n"), ("dev_id", "0x2\n"), ("name_assign_type", "4\n")]
        {
            put(root, &format!("sys/class/net/{name}/{attr}"), v);
        }
    }

    #[test]
    fn link_fields() {
        let nine = 9u32.to_ne_bytes();
        let p = eth(4, "eth0", 6, &[(IFLA_IFALIAS, b"uplink\0"), (IFLA_LINK, &nine)]);
        let msg = Message { ty: RTM_NEWLINK, flags: 0, payload: &p };
        let link = parse_link(&msg).unwrap();
        assert_eq!((link.ty, link.index, link.flags), (1, 4, 0x11043));
        assert_eq!((link.name, link.alias), (&b"eth0"[..], &b"uplink"[..]));
        assert_eq!((link.mtu, link.link, link.operstate), (1500, 9, 6));
        assert_eq!((link.link_mode, link.carrier, link.txqlen), (Some(1), Some(1), Some(1000)));
        assert_eq!(
            (link.carrier_changes, link.carrier_up, link.carrier_down),
            (Some(4), Some(2), Some(2))
        );
        assert_eq!((link.group, link.address.len(), link.stats64), (Some(0), 6, None));

        // Only a name: the Go library's zero values.
        let p = link_payload(772, 1, 0x10049, &[(IFLA_IFNAME, b"lo\0")]);
        let link = parse_link(&Message { ty: RTM_NEWLINK, flags: 0, payload: &p }).unwrap();
        let want = Link { ty: 772, index: 1, flags: 0x10049, name: b"lo", ..Link::default() };
        assert_eq!(link, want);
    }

    #[test]
    fn broken_links_are_errors() {
        fn parse(p: &[u8]) -> Result<Link<'_>, netlink::Error> {
            parse_link(&Message { ty: RTM_NEWLINK, flags: 0, payload: p })
        }
        let good = eth(4, "eth0", 6, &[(IFLA_STATS64, &stats64(24))]);
        // Every truncation fails or reads a shorter valid message; none panics.
        for cut in 0..good.len() {
            let _ = parse(&good[..cut]);
        }
        for cut in [0, 15, 16, 17, 19, 21, good.len() - 1] {
            assert!(parse(&good[..cut]).is_err(), "cut at {cut}");
        }
        for (ty, data) in [
            (IFLA_MTU, &[0u8; 2][..]),
            (IFLA_MTU, &[0; 8][..]),
            (IFLA_OPERSTATE, &[6, 0, 0, 0][..]),
            (IFLA_CARRIER, &[][..]),
            (IFLA_CARRIER_CHANGES, &[1][..]),
            (IFLA_GROUP, &[0; 3][..]),
            (IFLA_ADDRESS, &[1; 3][..]),
            (IFLA_BROADCAST, &[1; 33][..]),
            (IFLA_STATS, &[0; 50][..]),
            (IFLA_STATS64, &[0; 100][..]),
        ] {
            let p = eth(4, "eth0", 6, &[(ty, data)]);
            assert!(matches!(parse(&p), Err(netlink::Error::Malformed(_))), "{ty}: {data:?}");
        }
        // The 32-bit counters are checked but not reported.
        assert!(parse(&eth(4, "eth0", 6, &[(IFLA_STATS, &[0; 96])])).is_ok());
    }

    #[test]
    fn report_as_upstream() {
        let root = tmpdir("netclass-rtnl-report");
        sysfs_attrs(&root, "eth0");
        let mut st = state(&root, "^$", false);
        let ours = bitset(121, &[0; 4], Some(&[0; 4]));
        let modes = [modes_payload(4, "eth0", 10_000, 1, &ours, &[])];
        let links = [
            eth(4, "eth0", 6, &[(IFLA_IFALIAS, b"uplink\0")]),
            link_payload(772, 1, 0x10049, &[(IFLA_IFNAME, b"lo\0"), (IFLA_ADDRESS, &[0; 6])]),
        ];
        let text = run(&mut st, Some(&modes), &links).unwrap();
        let want = "\
# HELP node_network_address_assign_type Network device property: address_assign_type
# TYPE node_network_address_assign_type gauge
node_network_address_assign_type{device=\"eth0\"} 3
# HELP node_network_carrier Network device property: carrier
# TYPE node_network_carrier gauge
node_network_carrier{device=\"eth0\"} 1
# HELP node_network_carrier_changes_total Network device property: carrier_changes_total
# TYPE node_network_carrier_changes_total counter
node_network_carrier_changes_total{device=\"eth0\"} 4
# HELP node_network_carrier_down_changes_total Network device property: carrier_down_changes_total
# TYPE node_network_carrier_down_changes_total counter
node_network_carrier_down_changes_total{device=\"eth0\"} 2
# HELP node_network_carrier_up_changes_total Network device property: carrier_up_changes_total
# TYPE node_network_carrier_up_changes_total counter
node_network_carrier_up_changes_total{device=\"eth0\"} 2
# HELP node_network_device_id Network device property: device_id
# TYPE node_network_device_id gauge
node_network_device_id{device=\"eth0\"} 2
# HELP node_network_dormant Network device property: dormant
# TYPE node_network_dormant gauge
node_network_dormant{device=\"eth0\"} 1
# HELP node_network_flags Network device property: flags
# TYPE node_network_flags gauge
node_network_flags{device=\"eth0\"} 69699
node_network_flags{device=\"lo\"} 65609
# HELP node_network_iface_id Network device property: iface_id
# TYPE node_network_iface_id gauge
node_network_iface_id{device=\"eth0\"} 4
node_network_iface_id{device=\"lo\"} 1
# HELP node_network_iface_link Network device property: iface_link
# TYPE node_network_iface_link gauge
node_network_iface_link{device=\"eth0\"} 4
node_network_iface_link{device=\"lo\"} 1
# HELP node_network_iface_link_mode Network device property: iface_link_mode
# TYPE node_network_iface_link_mode gauge
node_network_iface_link_mode{device=\"eth0\"} 1
# HELP node_network_info Non-numeric data of <iface>, value is always 1.
# TYPE node_network_info gauge
node_network_info{address=\"00:00:00:00:00:00\",broadcast=\"\",device=\"lo\",duplex=\"\",ifalias=\"\",operstate=\"unknown\"} 1
node_network_info{address=\"02:fc:00:00:00:01\",broadcast=\"ff:ff:ff:ff:ff:ff\",device=\"eth0\",duplex=\"Full\",ifalias=\"uplink\",operstate=\"up\"} 1
# HELP node_network_mtu_bytes Network device property: mtu_bytes
# TYPE node_network_mtu_bytes gauge
node_network_mtu_bytes{device=\"eth0\"} 1500
node_network_mtu_bytes{device=\"lo\"} 0
# HELP node_network_name_assign_type Network device property: name_assign_type
# TYPE node_network_name_assign_type gauge
node_network_name_assign_type{device=\"eth0\"} 4
# HELP node_network_net_dev_group Network device property: net_dev_group
# TYPE node_network_net_dev_group gauge
node_network_net_dev_group{device=\"eth0\"} 0
# HELP node_network_protocol_type Network device property: protocol_type
# TYPE node_network_protocol_type gauge
node_network_protocol_type{device=\"eth0\"} 1
node_network_protocol_type{device=\"lo\"} 772
# HELP node_network_speed_bytes Network device property: speed_bytes
# TYPE node_network_speed_bytes gauge
node_network_speed_bytes{device=\"eth0\"} 1.25e+09
# HELP node_network_transmit_queue_length Network device property: transmit_queue_length
# TYPE node_network_transmit_queue_length gauge
node_network_transmit_queue_length{device=\"eth0\"} 1000
# HELP node_network_up Value is 1 if operstate is 'up', 0 otherwise.
# TYPE node_network_up gauge
node_network_up{device=\"eth0\"} 1
node_network_up{device=\"lo\"} 0
";
        assert_eq!(text, want);
        // Steady state: the same again through the kept files.
        assert_eq!(run(&mut st, Some(&modes), &links).unwrap(), want);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn speed_and_duplex() {
        let root = tmpdir("netclass-rtnl-speed");
        let mut st = state(&root, "^$", false);
        let none = bitset(8, &[0], None);
        let modes = |speed, duplex| [modes_payload(4, "eth0", speed, duplex, &none, &[])];
        let links = [eth(4, "eth0", 2, &[])];
        let text = run(&mut st, Some(&modes(u32::MAX, 0xff)), &links).unwrap();
        // The unknown speed, never negative once upstream's library has read it.
        assert_eq!(sample(&text, "speed_bytes", "eth0").as_deref(), Some("5.36870911875e+14"));
        assert!(text.contains("duplex=\"Unknown\""), "{text}");
        let text = run(&mut st, Some(&modes(0, 0)), &links).unwrap();
        assert_eq!(sample(&text, "speed_bytes", "eth0").as_deref(), Some("0"));
        assert!(text.contains("duplex=\"Half\""));
        let text = run(&mut st, Some(&modes(100, 7)), &links).unwrap();
        assert_eq!(sample(&text, "speed_bytes", "eth0").as_deref(), Some("1.25e+07"));
        assert!(text.contains("duplex=\"Duplex(7)\""));
        let text = run(&mut st, Some(&modes(100, 254)), &links).unwrap();
        assert!(text.contains("duplex=\"Duplex(254)\""));

        // A device only the ethtool dump has still gets its speed, as upstream.
        let both = [
            modes_payload(4, "eth0", 1000, 1, &none, &[]),
            modes_payload(9, "eth9", 25_000, 1, &none, &[]),
        ];
        let text = run(&mut st, Some(&both), &links).unwrap();
        assert_eq!(sample(&text, "speed_bytes", "eth9").as_deref(), Some("3.125e+09"));
        assert!(!text.contains("node_network_up{device=\"eth9\"}"));
        // Without the ethtool family: no speed, empty duplex.
        let text = run(&mut st, None, &links).unwrap();
        assert!(!text.contains("speed_bytes"));
        assert!(text.contains("duplex=\"\""));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn ignored_devices_and_stats() {
        let root = tmpdir("netclass-rtnl-ignored");
        let none = bitset(8, &[0], None);
        let modes = [
            modes_payload(4, "eth0", 1000, 1, &none, &[]),
            modes_payload(5, "dmz0", 1000, 1, &none, &[]),
        ];
        let counters = stats64(24);
        let links = [
            eth(4, "eth0", 6, &[(IFLA_STATS64, &counters)]),
            eth(5, "dmz0", 6, &[(IFLA_STATS64, &counters)]),
            eth(6, "veth1", 6, &[(IFLA_STATS64, &counters[..184])]),
            eth(7, "tun0", 6, &[(IFLA_STATS, &[0; 96])]),
        ];
        let mut st = state(&root, "dmz", true);
        let text = run(&mut st, Some(&modes), &links).unwrap();
        assert!(!text.contains("dmz0"), "{text}");
        assert!(text.contains("# TYPE node_network_receive_packets_total gauge\n"));
        assert!(text.contains(
            "# HELP node_network_receive_nohandler_total Network device property: \
             receive_nohandler_total\n"
        ));
        assert_eq!(sample(&text, "receive_packets_total", "eth0").as_deref(), Some("1"));
        assert_eq!(sample(&text, "transmit_bytes_total", "eth0").as_deref(), Some("4"));
        assert_eq!(sample(&text, "receive_nohandler_total", "eth0").as_deref(), Some("24"));
        // The 184-byte layout has no rx_nohandler: 0, as upstream.
        assert_eq!(sample(&text, "receive_nohandler_total", "veth1").as_deref(), Some("0"));
        // Only IFLA_STATS64 counts; a link without it has no statistics.
        assert_eq!(sample(&text, "receive_packets_total", "tun0"), None);
        assert_eq!(sample(&text, "mtu_bytes", "tun0").as_deref(), Some("1500"));
        let series = |t: &str| t.lines().filter(|l| l.contains("_total{device=\"eth0\"}")).count();
        assert_eq!(series(&text), 24 + 3);

        // Without the flag, no statistics; an empty pattern ignores every device.
        let mut st = state(&root, "^$", false);
        assert_eq!(series(&run(&mut st, Some(&modes), &links).unwrap()), 3);
        let mut st = state(&root, "", true);
        assert_eq!(run(&mut st, Some(&modes), &links).unwrap(), "");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn sysfs_attributes() {
        let root = tmpdir("netclass-rtnl-sysfs");
        let mut st = state(&root, "^$", false);
        let links = [eth(4, "eth0", 6, &[])];
        // None of the three: left out, nothing fails.
        let text = run(&mut st, None, &links).unwrap();
        assert_eq!(sample(&text, "device_id", "eth0"), None);
        // Numbers in any Go base; what does not parse is left out.
        sysfs_attrs(&root, "eth0");
        put(&root, "sys/class/net/eth0/name_assign_type", "enum\n");
        let text = run(&mut st, None, &links).unwrap();
        assert_eq!(sample(&text, "device_id", "eth0").as_deref(), Some("2"));
        assert_eq!(sample(&text, "address_assign_type", "eth0").as_deref(), Some("3"));
        assert_eq!(sample(&text, "name_assign_type", "eth0"), None);
        // A failure procfs does not tolerate fails the scrape, leaving nothing.
        std::fs::create_dir_all(root.join("sys/class/net/eth1/dev_id")).unwrap();
        let r = run(&mut st, None, &[links[0].clone(), eth(5, "eth1", 6, &[])]);
        assert!(matches!(r, Err(Error::Read { errno: Errno::ISDIR, .. })), "{r:?}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn upstream_panics_are_errors() {
        let root = tmpdir("netclass-rtnl-panics");
        let mut st = state(&root, "^ign", false);
        let ok = [eth(4, "eth0", 6, &[])];
        let fails = |st: &mut State, modes: Option<&[Vec<u8>]>, links: &[Vec<u8>]| {
            let r = run(st, modes, links);
            assert!(matches!(r, Err(Error::Parse { .. })), "{r:?}");
        };
        // An operstate upstream has no word for, names and aliases that are not UTF-8.
        fails(&mut st, None, &[eth(4, "eth0", 7, &[])]);
        fails(&mut st, None, &[eth(4, "eth0", 6, &[(IFLA_IFALIAS, b"caf\xe9\0")])]);
        let mut bad_name = eth(4, "eth0", 6, &[]);
        let at = bad_name.windows(4).position(|w| w == b"eth0").unwrap();
        bad_name[at + 3] = 0xff;
        fails(&mut st, None, &[bad_name.clone()]);
        // ... unless the device is ignored.
        bad_name[at..at + 3].copy_from_slice(b"ign");
        assert!(run(&mut st, None, &[bad_name]).unwrap().is_empty());
        // A link message with no attributes at all.
        fails(&mut st, None, &[link_payload(1, 4, 0, &[])]);
        // Link mode bit 91 is the last upstream's ethtool library knows; 92 makes it panic.
        let modes = |bit: usize| {
            let mut words = [0u32; 4];
            words[bit / 32] = 1 << (bit % 32);
            [modes_payload(4, "eth0", 1000, 1, &bitset(121, &words, None), &[])]
        };
        assert!(run(&mut st, Some(&modes(91)), &ok).is_ok());
        fails(&mut st, Some(&modes(92)), &ok);
        // A broken ethtool reply fails the scrape too.
        let mut short = modes(1)[0].clone();
        short.truncate(short.len() - 4);
        fails(&mut st, Some(&[short]), &ok);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn interfaces_come_and_go() {
        let root = tmpdir("netclass-rtnl-churn");
        sysfs_attrs(&root, "eth0");
        sysfs_attrs(&root, "veth1");
        let mut st = state(&root, "^$", false);
        let net = root.join("sys/class/net");
        let both = [eth(4, "eth0", 6, &[]), eth(9, "veth1", 6, &[])];
        run(&mut st, None, &both).unwrap();
        assert_eq!(fds_under(&net.join("veth1")), 3);
        let text = run(&mut st, None, &both[..1]).unwrap();
        assert!(!text.contains("veth1"));
        assert_eq!(fds_under(&net.join("veth1")), 0);
        assert_eq!(st.ifaces.len(), 1);
        // Back under the same name, with other values: read afresh.
        std::fs::remove_dir_all(net.join("veth1")).unwrap();
        put(&root, "sys/class/net/veth1/dev_id", "0x7\n");
        let text = run(&mut st, None, &both).unwrap();
        assert_eq!(sample(&text, "device_id", "veth1").as_deref(), Some("7"));
        drop(st);
        assert_eq!(fds_under(&root), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn duplex_names() {
        let mut buf = [0u8; 11];
        assert_eq!(duplex_name(0, &mut buf), b"Half");
        assert_eq!(duplex_name(1, &mut buf), b"Full");
        assert_eq!(duplex_name(255, &mut buf), b"Unknown");
        assert_eq!(duplex_name(2, &mut buf), b"Duplex(2)");
        assert_eq!(duplex_name(100, &mut buf), b"Duplex(100)");
    }

    fn live_settings(netlink: bool) -> Settings {
        let mut s = Settings::new();
        s.set(NETLINK, if netlink { "true" } else { "false" });
        s.set(WITH_STATS, "true");
        s
    }

    /// The series of `text` by metric and device: value and, for `node_network_info`, the
    /// labels but `device`.
    fn by_device(text: &str) -> std::collections::BTreeMap<(String, String), String> {
        let mut out = std::collections::BTreeMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (metric, labels) = series.split_once('{').unwrap();
            let labels = labels.trim_end_matches('}');
            let dev = labels.split(',').find_map(|l| l.strip_prefix("device=")).unwrap();
            let rest: Vec<&str> = labels.split(',').filter(|l| !l.starts_with("device=")).collect();
            out.insert((metric.to_owned(), dev.trim_matches('"').to_owned()), {
                format!("{value} {}", rest.join(","))
            });
        }
        out
    }

    #[test]
    fn live_host_against_sysfs() {
        let mut nl = build_spec(&SPEC, &Paths::default(), &live_settings(true)).unwrap();
        let mut sysfs = build_spec(&SPEC, &Paths::default(), &live_settings(false)).unwrap();
        let text = match try_scrape(nl.as_mut()) {
            Ok(t) => t,
            // No netlink where the tests run: nothing to compare.
            Err(e) => return eprintln!("netclass over netlink: {e}"),
        };
        assert!(text.contains("node_network_up{device=\"lo\"}"), "{text}");
        assert!(text.contains("node_network_receive_bytes_total{device=\"lo\"}"), "{text}");
        assert_eq!(sample(&text, "protocol_type", "lo").as_deref(), Some("772"));
        let Ok(reference) = try_scrape(sysfs.as_mut()) else { return };
        let nl_series = by_device(&text);
        let sys_series = by_device(&reference);
        // The fields both paths read from the same kernel state.
        let same = [
            "node_network_address_assign_type",
            "node_network_device_id",
            "node_network_iface_id",
            "node_network_iface_link",
            "node_network_iface_link_mode",
            "node_network_mtu_bytes",
            "node_network_name_assign_type",
            "node_network_net_dev_group",
            "node_network_transmit_queue_length",
            "node_network_protocol_type",
            "node_network_up",
            "node_network_carrier_up_changes_total",
            "node_network_carrier_down_changes_total",
            "node_network_carrier_changes_total",
        ];
        let mut compared = 0;
        for ((metric, dev), value) in &sys_series {
            if same.contains(&metric.as_str()) {
                assert_eq!(
                    nl_series.get(&(metric.clone(), dev.clone())),
                    Some(value),
                    "{metric} {dev}"
                );
                compared += 1;
            }
            // sysfs leaves carrier out on an interface that is down; where it has it, it agrees.
            if metric == "node_network_carrier" {
                assert_eq!(nl_series.get(&(metric.clone(), dev.clone())), Some(value), "{dev}");
            }
            if metric == "node_network_info" {
                // address, broadcast, operstate and ifalias agree; duplex and adminstate are
                // each path's own.
                let keep = |v: &str| {
                    v.split(',')
                        .filter(|l| !l.starts_with("duplex=") && !l.starts_with("adminstate="))
                        .collect::<Vec<_>>()
                        .join(",")
                };
                let nl_info = nl_series.get(&(metric.clone(), dev.clone())).unwrap();
                assert_eq!(keep(nl_info), keep(value), "{dev}");
            }
        }
        // lo alone has all of them but name_assign_type (which the kernel refuses to tell).
        assert!(compared >= same.len() - 1, "compared {compared}: {reference}");
        // Steady state on the live host: a second scrape works the same way.
        assert!(try_scrape(nl.as_mut()).is_ok());
    }

    #[test]
    fn live_host_smoke() {
        let mut s = live_settings(true);
        s.set(INVALID_SPEED, "true");
        let mut c = build_spec(&SPEC, &Paths::default(), &s).unwrap();
        for _ in 0..2 {
            match try_scrape(c.as_mut()) {
                Ok(text) => assert!(text.contains("node_network_up{device=\"lo\"}"), "{text}"),
                // A sandbox without netlink: a socket error, never a reply that does not parse.
                Err(e) => assert!(matches!(e, Error::Read { .. }), "{e}"),
            }
        }
    }
}
