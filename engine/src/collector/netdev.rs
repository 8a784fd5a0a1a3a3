//! Network device counters → `node_network_{receive,transmit}_*_total{device}`, and with
//! `--collector.netdev.address-info` `node_network_address_info{device,address,netmask,scope}`;
//! node_exporter's netdev collector.
//!
//! By default (`--collector.netdev.netlink`) the counters come from a rtnetlink `RTM_GETLINK`
//! dump (rtnetlink(7)): each link's `IFLA_STATS64`, `struct rtnl_link_stats64` in
//! include/uapi/linux/if_link.h, or its 32-bit `IFLA_STATS` where the 64-bit one is missing.
//! Upstream reports them under the `/proc/net/dev` column names ("legacy" names) unless
//! `--collector.netdev.enable-detailed-metrics` asks for the struct's own, folding the detailed
//! error counters into the columns as the kernel's `dev_seq_printf_stats` does:
//! `receive_drop` = rx_dropped + rx_missed_errors, `receive_frame` = rx_frame + rx_length +
//! rx_over + rx_crc errors, `transmit_carrier` = tx_carrier + tx_aborted + tx_heartbeat +
//! tx_window errors; `receive_nohandler` is kept.
//!
//! With `--no-collector.netdev.netlink` it reads `/proc/net/dev` (proc_net(5)): two header lines,
//! then one line per interface: the name, a colon, 8 receive and 8 transmit counters:
//! `  eth0: 136826399    4890    0    0    0     0          0         0   282639 ...`.
//! The kernel pads names to six columns, so a long name runs into its first counter
//! (`enp0s31f6:1234`): the name ends at the line's last colon, not at whitespace.
//!
//! Addresses come from a `RTM_GETADDR` dump joined with the links by index, for every
//! interface whatever the device filter, as upstream's `net.Interfaces` and `Addrs` give them.

use super::device_filter::DeviceFilter;
use super::{nl, Build, Collector, Error, Flag, FlagKind, ParseError, Settings, Spec};
use crate::encode::{Encoder, FamilyId, Kind};
use crate::lex;
use crate::netaddr;
use crate::netlink::route::{
    Link, LinkNames, IFADDRMSG_LEN, IFA_ADDRESS, IFA_LOCAL, IFINFOMSG_LEN, RTM_GETADDR,
    RTM_GETLINK, RTM_NEWADDR, RTM_NEWLINK,
};
use crate::netlink::{self, Attrs, Messages, Protocol, Socket};
use crate::source::{Entries, File};

/// Registration.
pub const SPEC: Spec =
    Spec { name: "netdev", default_enabled: true, flags: FLAGS, blocking: false, build };

const INCLUDE: &str = "collector.netdev.device-include";
const INCLUDE_OLD: &str = "collector.netdev.device-whitelist";
const EXCLUDE: &str = "collector.netdev.device-exclude";
const EXCLUDE_OLD: &str = "collector.netdev.device-blacklist";
const ADDRESS_INFO: &str = "collector.netdev.address-info";
const DETAILED: &str = "collector.netdev.enable-detailed-metrics";
const NETLINK: &str = "collector.netdev.netlink";

const FLAGS: &[Flag] = &[
    Flag {
        name: INCLUDE,
        help: "Regexp of net devices to include (mutually exclusive to device-exclude).",
        kind: FlagKind::Regex,
        default: "",
        aliases: &[INCLUDE_OLD],
    },
    Flag {
        name: EXCLUDE,
        help: "Regexp of net devices to exclude (mutually exclusive to device-include).",
        kind: FlagKind::Regex,
        default: "",
        aliases: &[EXCLUDE_OLD],
    },
    Flag {
        name: ADDRESS_INFO,
        help: "Collect address-info for every device",
        kind: FlagKind::Bool,
        default: "false",
        aliases: &[],
    },
    Flag {
        name: DETAILED,
        help: "Use (incompatible) metric names that provide more detailed stats on Linux",
        kind: FlagKind::Bool,
        default: "false",
        aliases: &[],
    },
    Flag {
        name: NETLINK,
        help: "Use netlink to gather stats instead of /proc/net/dev.",
        kind: FlagKind::Bool,
        default: "true",
        aliases: &[],
    },
];

const PATH: &str = "proc/net/dev";
const GETLINK: &str = "rtnetlink RTM_GETLINK";
const GETADDR: &str = "rtnetlink RTM_GETADDR";

/// The counter columns' names, in file order, as upstream reports them by default: the
/// kernel's own `/proc/net/dev` header words, which upstream calls "legacy" names.
pub const LEGACY: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errs",
    "receive_drop",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errs",
    "transmit_drop",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

/// The same columns with `--collector.netdev.enable-detailed-metrics`, which on the file path
/// only renames the error and drop counters (the finer rtnetlink counters are not in the file).
const DETAILED_NAMES: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errors",
    "receive_dropped",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errors",
    "transmit_dropped",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

/// `struct rtnl_link_stats64`'s first 24 fields, in order, under the names upstream gives them
/// with `--collector.netdev.enable-detailed-metrics` (`rx_otherhost_dropped`, the 25th, is
/// not reported). The netclass collector's rtnetlink path reports them too.
pub(super) const LINK_STATS: [&str; 24] = [
    "receive_packets",
    "transmit_packets",
    "receive_bytes",
    "transmit_bytes",
    "receive_errors",
    "transmit_errors",
    "receive_dropped",
    "transmit_dropped",
    "multicast",
    "collisions",
    "receive_length_errors",
    "receive_over_errors",
    "receive_crc_errors",
    "receive_frame_errors",
    "receive_fifo_errors",
    "receive_missed_errors",
    "transmit_aborted_errors",
    "transmit_carrier_errors",
    "transmit_fifo_errors",
    "transmit_heartbeat_errors",
    "transmit_window_errors",
    "receive_compressed",
    "transmit_compressed",
    "receive_nohandler",
];

/// The rtnetlink counters under their legacy names; [`legacy`] computes them in this order.
const LINK_LEGACY: [&str; 17] = [
    "receive_packets",
    "transmit_packets",
    "receive_bytes",
    "transmit_bytes",
    "receive_errs",
    "transmit_errs",
    "receive_drop",
    "transmit_drop",
    "receive_multicast",
    "transmit_colls",
    "receive_frame",
    "receive_fifo",
    "transmit_carrier",
    "transmit_fifo",
    "receive_compressed",
    "transmit_compressed",
    "receive_nohandler",
];

/// Folds the 24 rtnetlink counters into the 17 legacy ones, with Go's wrapping `uint64` sums.
fn legacy(v: &[u64; 24]) -> [u64; 17] {
    let sum = |ix: &[usize]| ix.iter().fold(0u64, |acc, &i| acc.wrapping_add(v[i]));
    [
        v[0],
        v[1],
        v[2],
        v[3],
        v[4],
        v[5],
        sum(&[6, 15]),
        v[7],
        v[8],
        v[9],
        sum(&[13, 10, 11, 12]),
        v[14],
        sum(&[17, 16, 19, 20]),
        v[18],
        v[21],
        v[22],
        v[23],
    ]
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let detailed = b.settings.bool(DETAILED);
    let source = match b.settings.bool(NETLINK) {
        true => Source::Netlink,
        false => Source::File {
            file: File::new(b.paths.proc("net/dev")),
            buf: Vec::new(),
            names: if detailed { &DETAILED_NAMES } else { &LEGACY },
        },
    };
    Ok(Box::new(Netdev {
        source,
        sock: Socket::new(Protocol::Route),
        reply: Vec::new(),
        detailed,
        filter: filter(b.settings)?,
        ignored: Entries::new(),
        addresses: b.settings.bool(ADDRESS_INFO).then(Addresses::default),
    }))
}

/// The device filter from the flags; see [`DeviceFilter::from_flags`].
fn filter(s: &Settings) -> Result<DeviceFilter, String> {
    DeviceFilter::from_flags(s, (INCLUDE, INCLUDE_OLD), (EXCLUDE, EXCLUDE_OLD))
}

#[derive(Debug)]
enum Source {
    /// rtnetlink, through the collector's socket.
    Netlink,
    /// `/proc/net/dev`, reported under `names`.
    File { file: File, buf: Vec<u8>, names: &'static [&'static str; 16] },
}

#[derive(Debug)]
struct Netdev {
    source: Source,
    sock: Socket,
    /// The `RTM_GETLINK` dump.
    reply: Vec<u8>,
    detailed: bool,
    filter: DeviceFilter,
    /// The filter's verdict per interface, kept while the interface is listed, so the regexes
    /// run once per interface rather than once per scrape.
    ignored: Entries<bool>,
    /// `--collector.netdev.address-info`'s state.
    addresses: Option<Addresses>,
}

impl Collector for Netdev {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let Netdev { source, sock, reply, detailed, filter, ignored, addresses } = self;
        ignored.begin();
        let is_ignored =
            |name: &[u8]| *ignored.get_or_insert_with(name, || filter.is_ignored(name));
        let cp = enc.checkpoint();
        let links = addresses.as_mut().map(|a| &mut a.links);
        let linked = match source {
            Source::Netlink => {
                let msgs = sock
                    .dump_all(RTM_GETLINK, &[0; IFINFOMSG_LEN], reply)
                    .map_err(nl::error(GETLINK))?;
                scan_links(msgs, enc, *detailed, is_ignored, links).map_err(nl::error(GETLINK))?;
                true
            }
            Source::File { file, buf, names } => {
                let src = file.read(buf).map_err(Error::read(PATH))?;
                scan(src, enc, names, is_ignored).map_err(Error::parse(PATH))?;
                false
            }
        };
        ignored.end();
        if let Some(a) = addresses {
            if let Err(e) = a.update(sock, enc, linked) {
                enc.rollback(cp);
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Scans a `RTM_GETLINK` dump into `enc`: the counters of each link for which `is_ignored`
/// is false, under the detailed or the legacy names. With `names`, also records every link's
/// name by index. Allocates nothing beyond the encoder's and `names`' growth.
///
/// Links without attributes, or without counters, are skipped, as upstream skips them.
///
/// # Errors
/// A link message that does not parse, or whose counters, address or broadcast attribute has
/// a size upstream's rtnetlink library refuses (which fails its whole dump); nothing is then
/// left in `enc`.
pub fn scan_links(
    msgs: Messages<'_>,
    enc: &mut Encoder,
    detailed: bool,
    mut is_ignored: impl FnMut(&[u8]) -> bool,
    mut names: Option<&mut LinkNames>,
) -> Result<(), netlink::Error> {
    let declare = |enc: &mut Encoder, key: &str| {
        let key = key.as_bytes();
        enc.family_parts(
            &[b"node_network_", key, b"_total"],
            &[b"Network device statistic ", key, b"."],
            Kind::Counter,
        )
    };
    let fams_detailed: [FamilyId; 24];
    let fams_legacy: [FamilyId; 17];
    let fams: &[FamilyId] = if detailed {
        fams_detailed = LINK_STATS.map(|k| declare(enc, k));
        &fams_detailed
    } else {
        fams_legacy = LINK_LEGACY.map(|k| declare(enc, k));
        &fams_legacy
    };
    if let Some(names) = names.as_deref_mut() {
        names.clear();
    }
    let cp = enc.checkpoint();
    let r = msgs.filter(|m| m.ty == RTM_NEWLINK).try_for_each(|msg| {
        let link = Link::parse(&msg)?;
        let stats = link_stats(&link)?;
        if let Some(names) = names.as_deref_mut() {
            names.push(link.index, link.name);
        }
        if !link.has_attrs || is_ignored(link.name) {
            return Ok(());
        }
        let Some(v) = stats else { return Ok(()) };
        let device = [("device", link.name)];
        if detailed {
            fams.iter().zip(v).for_each(|(&f, v)| enc.sample_u64(f, &device, v));
        } else {
            fams.iter().zip(legacy(&v)).for_each(|(&f, v)| enc.sample_u64(f, &device, v));
        }
        Ok(())
    });
    if let Some(names) = names {
        names.finish();
    }
    r.inspect_err(|_| enc.rollback(cp))
}

/// A link's 24 counters: `IFLA_STATS64`, or `IFLA_STATS` widened (without `rx_nohandler` in
/// the 92-byte layout of kernels before 4.6), or `None` without either.
fn link_stats(link: &Link<'_>) -> Result<Option<[u64; 24]>, netlink::Error> {
    link.check_sizes()?;
    let mut v = [0u64; 24];
    match (link.stats64, link.stats) {
        (Some(s), _) => {
            for (i, v) in v.iter_mut().enumerate() {
                *v = netlink::ne_u64(s, i * 8).unwrap_or(0);
            }
        }
        (None, Some(s)) => {
            for (i, v) in v.iter_mut().enumerate() {
                *v = netlink::ne_u32(s, i * 4).map_or(0, u64::from);
            }
        }
        (None, None) => return Ok(None),
    }
    Ok(Some(v))
}

/// `--collector.netdev.address-info`: the link names, the `RTM_GETADDR` dump, label scratch.
#[derive(Debug, Default)]
struct Addresses {
    links: LinkNames,
    reply: Vec<u8>,
    text: Vec<u8>,
    /// Links whose address messages upstream could not read (it then lists none for them).
    broken: Vec<u32>,
}

impl Addresses {
    fn update(&mut self, sock: &mut Socket, enc: &mut Encoder, linked: bool) -> Result<(), Error> {
        if !linked {
            self.links.load(sock).map_err(nl::error(GETLINK))?;
        }
        // Upstream asks for each interface's addresses separately and ignores a failure (the
        // interface then shows none), so a failed dump reports no addresses, not an error.
        let Ok(msgs) = sock.dump_all(RTM_GETADDR, &[0; IFADDRMSG_LEN], &mut self.reply) else {
            return Ok(());
        };
        scan_addresses(msgs, enc, &self.links, &mut self.text, &mut self.broken)
            .map_err(nl::error(GETADDR))
    }
}

/// Scans a `RTM_GETADDR` dump into `enc` as `node_network_address_info`, naming each address's
/// interface from `links` (addresses of interfaces not there are left out). `text` and
/// `broken` are scratch. Allocates nothing beyond the growth of `enc` and the scratch.
///
/// Each IPv4 or IPv6 address is the message's first address attribute, skipping
/// `IFA_ADDRESS` when an `IFA_LOCAL` is present (on a point-to-point link `IFA_ADDRESS` is the
/// peer's), as Go's `net` package reads it. An interface with a message whose attributes do
/// not parse is listed without addresses, as upstream lists it.
///
/// # Errors
/// A message shorter than an `ifaddrmsg`, or an IPv4 address shorter than 4 bytes, where Go
/// panics; nothing is then left in `enc`.
pub fn scan_addresses(
    msgs: Messages<'_>,
    enc: &mut Encoder,
    links: &LinkNames,
    text: &mut Vec<u8>,
    broken: &mut Vec<u32>,
) -> Result<(), netlink::Error> {
    let fam =
        enc.family("node_network_address_info", "node network address by device", Kind::Gauge);
    let addrs = msgs.filter(|m| m.ty == RTM_NEWADDR);
    broken.clear();
    for msg in addrs.clone() {
        let (hdr, attrs) = msg.split(IFADDRMSG_LEN)?;
        if attrs.check().is_err() {
            broken.push(netlink::ne_u32(hdr, 4).unwrap_or(0));
        }
    }
    let cp = enc.checkpoint();
    let r = addrs.clone().try_for_each(|msg| {
        let (hdr, attrs) = msg.split(IFADDRMSG_LEN)?;
        let (family, prefix, index) = (hdr[0], hdr[1], netlink::ne_u32(hdr, 4).unwrap_or(0));
        let Some(device) = links.name(index) else { return Ok(()) };
        if broken.contains(&index) {
            return Ok(());
        }
        let Some(ip) = first_address(attrs)? else { return Ok(()) };
        let mut v6 = [0u8; 16];
        let (ip, netmask): (&[u8], u8) = match family {
            AF_INET => match ip.get(..4) {
                Some(v4) if prefix <= 32 => (v4, prefix),
                Some(_) => return Ok(()),
                None => return Err(netlink::Error::Malformed("IPv4 address shorter than 4 bytes")),
            },
            AF_INET6 => {
                let n = ip.len().min(16);
                v6[..n].copy_from_slice(&ip[..n]);
                match netaddr::to4(&v6) {
                    // Go writes a mapped address as IPv4, with the low 32 bits of its mask.
                    Some(_) if prefix <= 128 => (&v6[..], prefix.saturating_sub(96)),
                    None if prefix <= 128 => (&v6[..], prefix),
                    _ => return Ok(()),
                }
            }
            _ => return Ok(()),
        };
        text.clear();
        netaddr::write_ip(text, ip);
        let addr_end = text.len();
        text.extend_from_slice(itoa::Buffer::new().format(netmask).as_bytes());
        let (address, netmask) = text.split_at(addr_end);
        let labels = [
            ("device", device),
            ("address", address),
            ("netmask", netmask),
            ("scope", netaddr::scope(ip).as_bytes()),
        ];
        enc.sample(fam, &labels, 1.0);
        Ok(())
    });
    r.inspect_err(|_| enc.rollback(cp))
}

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// The data of an address message's first attribute, passing over `IFA_ADDRESS` when the
/// message has an `IFA_LOCAL`.
fn first_address(attrs: Attrs<'_>) -> Result<Option<&[u8]>, netlink::Error> {
    let has_local = attrs.find(IFA_LOCAL)?.is_some();
    for a in attrs {
        let a = a?;
        if !(has_local && a.ty == IFA_ADDRESS) {
            return Ok(Some(a.data));
        }
    }
    Ok(None)
}

/// Scans `/proc/net/dev` into `enc`, reporting the interfaces for which `is_ignored` is false
/// under the column names `names`. Allocates nothing beyond the encoder's own growth.
///
/// # Errors
/// The first interface line without a colon or name, with fewer than 16 counters, or with a
/// counter that is not a `u64`; nothing is then left in `enc`. Upstream's parser rejects the
/// same lines (it panics on a short one); columns past the 16th are ignored, as there.
pub fn scan(
    src: &[u8],
    enc: &mut Encoder,
    names: &[&str; 16],
    mut is_ignored: impl FnMut(&[u8]) -> bool,
) -> Result<(), ParseError> {
    let fams = names.map(|key| {
        let key = key.as_bytes();
        enc.family_parts(
            &[b"node_network_", key, b"_total"],
            &[b"Network device statistic ", key, b"."],
            Kind::Counter,
        )
    });
    let cp = enc.checkpoint();
    // The two header lines are skipped whatever they hold, as upstream does.
    for (n, line) in lex::lines(src).enumerate().skip(2) {
        if let Err(what) = scan_line(line, enc, &fams, &mut is_ignored) {
            enc.rollback(cp);
            return Err(ParseError::at(n + 1, what));
        }
    }
    Ok(())
}

fn scan_line(
    line: &[u8],
    enc: &mut Encoder,
    fams: &[FamilyId; 16],
    is_ignored: &mut impl FnMut(&[u8]) -> bool,
) -> Result<(), &'static str> {
    let colon = memchr::memrchr(b':', line).ok_or("no colon after the interface name")?;
    let name = lex::trim(&line[..colon]);
    if name.is_empty() {
        return Err("empty interface name");
    }
    let mut values = [0u64; 16];
    let mut fields = lex::fields(&line[colon + 1..]);
    for v in &mut values {
        let field = fields.next().ok_or("fewer than 16 counters")?;
        *v = lex::parse_u64(field).ok_or("counter is not a 64-bit unsigned integer")?;
    }
    // Checked after parsing, so an ignored interface's bad line still fails the scrape, as
    // upstream's parser reads every line before filtering.
    if !is_ignored(name) {
        for (&fam, v) in fams.iter().zip(values) {
            enc.sample_u64(fam, &[("device", name)], v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, e2e_lines, fds_under, render, scrape, tmpdir,
    };
    use crate::netlink::testing::{attr, done, message};
    use crate::source::Paths;

    /// Laid out as the kernel prints it (`%6s:%8llu %7llu %4llu ...`): short names padded,
    /// a long name glued to an 8-digit-plus byte count.
    const DEV: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0
  eth0: 136826399    4890    1    2    3     4          5         6   282639    2837    7    8    9    10      11         12
enp0s31f6:18446744073709551615    4890    0    0    0     0          0         0   282639    2837    0    0    0     0       0          0
";

    fn scan_text(src: &str, names: &[&str; 16], ignore: &[&str]) -> Result<String, ParseError> {
        let mut result = Ok(());
        let text = render(|enc| {
            result = scan(src.as_bytes(), enc, names, |n| ignore.iter().any(|i| i.as_bytes() == n))
        });
        result.map(|()| text)
    }

    #[test]
    fn help_and_type_match_upstream() {
        let text = scan_text(DEV, &LEGACY, &[]).unwrap();
        let families: Vec<&str> =
            text.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next()).collect();
        assert_eq!(families.len(), 16);
        // Upstream's scrape took lo from the live host, so only HELP and TYPE carry over.
        let Some(want) = e2e_lines(&families) else { return };
        let want: Vec<&str> =
            want.iter().map(String::as_str).filter(|l| l.starts_with('#')).collect();
        let got: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn values_and_names() {
        let text = scan_text(DEV, &LEGACY, &[]).unwrap();
        for line in [
            "node_network_receive_bytes_total{device=\"lo\"} 3193",
            "node_network_receive_errs_total{device=\"eth0\"} 1",
            "node_network_receive_drop_total{device=\"eth0\"} 2",
            "node_network_receive_multicast_total{device=\"eth0\"} 6",
            "node_network_transmit_colls_total{device=\"eth0\"} 10",
            "node_network_transmit_compressed_total{device=\"eth0\"} 12",
            "node_network_receive_bytes_total{device=\"enp0s31f6\"} 1.8446744073709552e+19",
        ] {
            assert!(text.contains(&format!("\n{line}\n")), "{line} missing from\n{text}");
        }
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 48);

        let detailed = scan_text(DEV, &DETAILED_NAMES, &["lo", "enp0s31f6"]).unwrap();
        assert!(detailed.contains("\nnode_network_receive_errors_total{device=\"eth0\"} 1\n"));
        assert!(detailed.contains("\nnode_network_transmit_dropped_total{device=\"eth0\"} 8\n"));
        assert!(detailed.contains(
            "# HELP node_network_receive_dropped_total Network device statistic receive_dropped.\n"
        ));
        assert!(!detailed.contains("_errs_total"));
        assert!(!detailed.contains("\"lo\""));
    }

    #[test]
    fn header_only_and_empty() {
        let header: String = DEV.lines().take(2).map(|l| format!("{l}\n")).collect();
        assert_eq!(scan_text(&header, &LEGACY, &[]).unwrap(), "");
        assert_eq!(scan_text("", &LEGACY, &[]).unwrap(), "");
        // Extra columns after the 16th are ignored.
        let extra = format!("{header}  eth1: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18\n");
        assert!(scan_text(&extra, &LEGACY, &[]).unwrap().contains("{device=\"eth1\"} 16\n"));
    }

    #[test]
    fn malformed_lines_fail_whole() {
        let header: String = DEV.lines().take(3).map(|l| format!("{l}\n")).collect();
        for bad in [
            "  eth1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",
            "     : 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",
            "  eth1: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15",
            "  eth1:",
            "  eth1: 1 2 3 4 5 6 7 8 x 10 11 12 13 14 15 16",
            "  eth1: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 -16",
            "  eth1: 18446744073709551616 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",
            "",
        ] {
            let src = format!("{header}{bad}\n");
            // Even when the interface is one the filter drops.
            for ignore in [&[][..], &["eth1"][..]] {
                let mut enc = Encoder::new();
                let err = scan(src.as_bytes(), &mut enc, &LEGACY, |n| {
                    ignore.iter().any(|i| i.as_bytes() == n)
                })
                .unwrap_err();
                assert_eq!(err.line, 4, "{bad:?}");
                let mut out = Vec::new();
                enc.finish(&mut out);
                assert!(out.is_empty(), "a failed scan left samples behind: {bad:?}");
            }
        }
    }

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let mut s = Settings::new();
        for (k, v) in pairs {
            s.set(k, *v);
        }
        s
    }

    #[test]
    fn flags() {
        let kept = |pairs: &[(&str, &str)]| -> Vec<&str> {
            let f = filter(&settings(pairs)).unwrap();
            ["lo", "eth0", "veth1"].into_iter().filter(|d| !f.is_ignored(d.as_bytes())).collect()
        };
        assert_eq!(kept(&[]), ["lo", "eth0", "veth1"]);
        assert_eq!(kept(&[(INCLUDE, "eth")]), ["eth0", "veth1"]);
        assert_eq!(kept(&[(INCLUDE, "^eth")]), ["eth0"]);
        assert_eq!(kept(&[(EXCLUDE, "^lo$")]), ["eth0", "veth1"]);
        assert_eq!(kept(&[(INCLUDE_OLD, "^lo$")]), ["lo"]);
        assert_eq!(kept(&[(EXCLUDE_OLD, "eth")]), ["lo"]);
        let both = |a: &str, b: &str| format!("--{a} and --{b} are mutually exclusive");
        let invalid = |flag: &str| format!("invalid regular expression for --{flag}");
        for (pairs, want) in [
            (&[(INCLUDE, "a"), (EXCLUDE, "b")][..], both(EXCLUDE, INCLUDE)),
            (&[(INCLUDE_OLD, "a"), (EXCLUDE, "b")][..], both(EXCLUDE, INCLUDE_OLD)),
            (&[(INCLUDE_OLD, "a"), (INCLUDE, "b")][..], both(INCLUDE_OLD, INCLUDE)),
            (&[(EXCLUDE_OLD, "a"), (EXCLUDE, "b")][..], both(EXCLUDE_OLD, EXCLUDE)),
            (&[(EXCLUDE, "(")][..], invalid(EXCLUDE)),
            (&[(INCLUDE_OLD, "(")][..], invalid(INCLUDE_OLD)),
        ] {
            let err = filter(&settings(pairs)).err().unwrap_or_default();
            assert!(err.starts_with(&want), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn interfaces_come_and_go() {
        let root = tmpdir("netdev-churn");
        std::fs::create_dir_all(root.join("proc/net")).unwrap();
        let path = root.join("proc/net/dev");
        let header: String = DEV.lines().take(2).map(|l| format!("{l}\n")).collect();
        let line =
            |name: &str, rx: u64| format!("{name:>6}:{rx:>8} 1 0 0 0 0 0 0 2 1 0 0 0 0 0 0\n");
        std::fs::write(&path, format!("{header}{}{}", line("lo", 10), line("veth0", 20))).unwrap();
        let s = settings(&[(EXCLUDE, "^veth"), (NETLINK, "false")]);
        let mut c = build_spec(&SPEC, &Paths::under(&root), &s).unwrap();
        let text = scrape(c.as_mut());
        assert!(text.contains("receive_bytes_total{device=\"lo\"} 10\n"));
        assert!(!text.contains("veth0"));

        std::fs::write(&path, format!("{header}{}{}", line("eth1", 30), line("veth9", 40)))
            .unwrap();
        let text = scrape(c.as_mut());
        assert!(text.contains("receive_bytes_total{device=\"eth1\"} 30\n"));
        assert!(!text.contains("\"lo\""));
        assert!(!text.contains("veth"));
        assert_eq!(fds_under(&root), 1, "only /proc/net/dev is held open");

        drop(c);
        assert_eq!(fds_under(&root), 0);

        // A missing file is a read error, not a panic.
        let mut c = build_spec(&SPEC, &Paths::under(&root), &s).unwrap();
        std::fs::remove_file(&path).unwrap();
        let mut enc = Encoder::new();
        assert!(matches!(c.update(&mut enc), Err(Error::Read { .. })));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn live_host() {
        for netlink in ["true", "false"] {
            let s = settings(&[(NETLINK, netlink)]);
            let mut c = build_spec(&SPEC, &Paths::default(), &s).unwrap();
            for _ in 0..2 {
                let text = scrape(c.as_mut());
                assert!(text.contains("node_network_receive_bytes_total{device=\"lo\"} "));
            }
        }
    }

    /// Upstream's e2e run reads `lo` over rtnetlink: every counter but bytes and packets, which
    /// its comparison leaves out, is 0 on a loopback device, and so on this host.
    #[test]
    fn live_lo_matches_upstream() {
        let s = settings(&[(INCLUDE, "lo")]);
        let mut c = build_spec(&SPEC, &Paths::default(), &s).unwrap();
        let text = scrape(c.as_mut());
        let volatile = |l: &str| {
            !l.starts_with('#')
                && ["_bytes_total", "_packets_total"].iter().any(|s| l.contains(&format!("{s}{{")))
        };
        let kept: String = text.lines().filter(|l| !volatile(l)).flat_map(|l| [l, "\n"]).collect();
        assert_eq!(kept.matches("# TYPE").count(), 17, "{text}");
        assert_matches_e2e(&kept);
    }

    #[test]
    fn live_address_info() {
        for netlink in ["true", "false"] {
            let s = settings(&[(ADDRESS_INFO, "true"), (INCLUDE, "^$"), (NETLINK, netlink)]);
            let mut c = build_spec(&SPEC, &Paths::default(), &s).unwrap();
            for _ in 0..2 {
                let text = scrape(c.as_mut());
                assert!(text.contains(
                    "node_network_address_info{address=\"127.0.0.1\",device=\"lo\",\
                     netmask=\"8\",scope=\"link-local\"} 1\n"
                ));
                // The device filter does not apply to addresses.
                assert!(!text.contains("node_network_receive"), "{text}");
            }
        }
    }

    /// A link message: `ifinfomsg` with `index`, the name, then `attrs`.
    fn link(out: &mut Vec<u8>, index: u32, name: &str, attrs: &[(u16, Vec<u8>)]) {
        let mut p = vec![0u8; IFINFOMSG_LEN];
        p[4..8].copy_from_slice(&index.to_ne_bytes());
        attr(&mut p, crate::netlink::route::IFLA_IFNAME, format!("{name}\0").as_bytes());
        for (ty, data) in attrs {
            attr(&mut p, *ty, data);
        }
        message(out, RTM_NEWLINK, 1, &p);
    }

    /// Counters numbered 1, 2, 3, ... in struct order, `width` bytes each, `n` of them.
    fn counters(width: usize, n: usize) -> Vec<u8> {
        (1..=n as u64)
            .flat_map(|i| match width {
                8 => i.to_ne_bytes().to_vec(),
                _ => (i as u32).to_ne_bytes().to_vec(),
            })
            .collect()
    }

    fn scan_dump(dump: &[u8], detailed: bool, ignore: &[&str]) -> Result<String, netlink::Error> {
        let mut r = Ok(());
        let mut names = LinkNames::new();
        let text = render(|enc| {
            r = scan_links(
                Messages::new(dump),
                enc,
                detailed,
                |n| ignore.iter().any(|i| i.as_bytes() == n),
                Some(&mut names),
            )
        });
        r.map(|()| text)
    }

    #[test]
    fn link_counters_legacy_and_detailed() {
        use crate::netlink::route::{IFLA_STATS, IFLA_STATS64};
        let mut dump = Vec::new();
        link(&mut dump, 1, "lo", &[(IFLA_STATS64, counters(8, 25)), (IFLA_STATS, counters(4, 24))]);
        link(&mut dump, 2, "old", &[(IFLA_STATS, counters(4, 23))]);
        link(&mut dump, 3, "nostats", &[]);
        link(&mut dump, 4, "skipped", &[(IFLA_STATS64, counters(8, 23))]);
        let mut bare = vec![0u8; IFINFOMSG_LEN];
        bare[4] = 5;
        message(&mut dump, RTM_NEWLINK, 1, &bare);
        done(&mut dump, 1);

        let text = scan_dump(&dump, false, &["skipped"]).unwrap();
        for line in [
            "node_network_receive_packets_total{device=\"lo\"} 1",
            "node_network_transmit_bytes_total{device=\"lo\"} 4",
            "node_network_receive_errs_total{device=\"lo\"} 5",
            "node_network_transmit_errs_total{device=\"lo\"} 6",
            // dropped + missed
            "node_network_receive_drop_total{device=\"lo\"} 23",
            "node_network_transmit_drop_total{device=\"lo\"} 8",
            "node_network_receive_multicast_total{device=\"lo\"} 9",
            "node_network_transmit_colls_total{device=\"lo\"} 10",
            // frame + length + over + crc
            "node_network_receive_frame_total{device=\"lo\"} 50",
            "node_network_receive_fifo_total{device=\"lo\"} 15",
            // carrier + aborted + heartbeat + window
            "node_network_transmit_carrier_total{device=\"lo\"} 76",
            "node_network_transmit_fifo_total{device=\"lo\"} 19",
            "node_network_receive_compressed_total{device=\"lo\"} 22",
            "node_network_transmit_compressed_total{device=\"lo\"} 23",
            "node_network_receive_nohandler_total{device=\"lo\"} 24",
            // 32-bit counters, 92-byte layout: no rx_nohandler
            "node_network_receive_drop_total{device=\"old\"} 23",
            "node_network_receive_nohandler_total{device=\"old\"} 0",
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line} missing from\n{text}");
        }
        assert_eq!(text.matches("# TYPE").count(), 17);
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 34, "{text}");
        assert!(!text.contains("nostats") && !text.contains("skipped"));

        let text = scan_dump(&dump, true, &[]).unwrap();
        assert_eq!(text.matches("# TYPE").count(), 24);
        for line in [
            "node_network_receive_missed_errors_total{device=\"lo\"} 16",
            "node_network_multicast_total{device=\"lo\"} 9",
            "node_network_collisions_total{device=\"lo\"} 10",
            "node_network_transmit_window_errors_total{device=\"skipped\"} 21",
            "node_network_receive_nohandler_total{device=\"lo\"} 24",
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line} missing from\n{text}");
        }
        assert!(text.contains(
            "# HELP node_network_receive_crc_errors_total Network device statistic \
             receive_crc_errors.\n"
        ));
    }

    #[test]
    fn broken_link_dumps_fail_whole() {
        use crate::netlink::route::{IFLA_ADDRESS, IFLA_STATS, IFLA_STATS64};
        let good = |dump: &mut Vec<u8>| link(dump, 1, "lo", &[(IFLA_STATS64, counters(8, 24))]);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("stats64 size", {
                let mut d = Vec::new();
                good(&mut d);
                link(&mut d, 2, "x", &[(IFLA_STATS64, counters(8, 26))]);
                d
            }),
            ("stats size", {
                let mut d = Vec::new();
                good(&mut d);
                link(&mut d, 2, "x", &[(IFLA_STATS, counters(4, 22))]);
                d
            }),
            ("address size, even on an ignored link", {
                let mut d = Vec::new();
                good(&mut d);
                link(&mut d, 2, "ignored", &[(IFLA_ADDRESS, vec![1, 2])]);
                d
            }),
            ("short ifinfomsg", {
                let mut d = Vec::new();
                good(&mut d);
                message(&mut d, RTM_NEWLINK, 1, &[0; 8]);
                d
            }),
            ("attribute past its message", {
                let mut d = Vec::new();
                good(&mut d);
                let mut p = vec![0u8; IFINFOMSG_LEN];
                p.extend_from_slice(&[40, 0, 3, 0, b'x', 0, 0, 0]);
                message(&mut d, RTM_NEWLINK, 1, &p);
                d
            }),
        ];
        for (what, dump) in cases {
            let mut enc = Encoder::new();
            let mut names = LinkNames::new();
            let r = scan_links(
                Messages::new(&dump),
                &mut enc,
                false,
                |n| n == b"ignored",
                Some(&mut names),
            );
            assert!(matches!(r, Err(netlink::Error::Malformed(_))), "{what}: {r:?}");
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "{what}: a failed scan left samples behind");
        }
    }

    fn addr_msg(out: &mut Vec<u8>, family: u8, prefix: u8, index: u32, attrs: &[(u16, &[u8])]) {
        let mut p = vec![family, prefix, 0, 0];
        p.extend_from_slice(&index.to_ne_bytes());
        for (ty, data) in attrs {
            attr(&mut p, *ty, data);
        }
        message(out, RTM_NEWADDR, 1, &p);
    }

    fn scan_addr_dump(dump: &[u8]) -> Result<String, netlink::Error> {
        let mut links = LinkNames::new();
        links.push(1, b"lo");
        links.push(2, b"eth0");
        links.push(3, b"bad");
        links.finish();
        let (mut text, mut broken) = (Vec::new(), Vec::new());
        let mut r = Ok(());
        let out = render(|enc| {
            r = scan_addresses(Messages::new(dump), enc, &links, &mut text, &mut broken)
        });
        r.map(|()| out)
    }

    #[test]
    fn addresses_as_go_lists_them() {
        let v6 = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap().octets();
        let mut d = Vec::new();
        addr_msg(&mut d, 2, 8, 1, &[(IFA_ADDRESS, &[127, 0, 0, 1]), (IFA_LOCAL, &[127, 0, 0, 1])]);
        // Point-to-point: IFA_ADDRESS is the peer's, IFA_LOCAL ours.
        addr_msg(&mut d, 2, 32, 2, &[(IFA_ADDRESS, &[10, 0, 0, 9]), (IFA_LOCAL, &[10, 0, 0, 1])]);
        addr_msg(&mut d, 10, 128, 1, &[(IFA_ADDRESS, &v6("::1"))]);
        addr_msg(&mut d, 10, 64, 2, &[(IFA_ADDRESS, &v6("fe80::fc:ff:fe00:1"))]);
        addr_msg(&mut d, 10, 64, 2, &[(IFA_ADDRESS, &v6("fd00::2"))]);
        addr_msg(&mut d, 10, 120, 2, &[(IFA_ADDRESS, &v6("::ffff:192.0.2.7"))]);
        addr_msg(&mut d, 10, 64, 2, &[(IFA_ADDRESS, &v6("ff01::1"))]);
        // Left out: an unknown interface, another family, no attribute, a prefix too long.
        addr_msg(&mut d, 2, 24, 9, &[(IFA_LOCAL, &[192, 0, 2, 9])]);
        addr_msg(&mut d, 7, 24, 2, &[(IFA_LOCAL, &[192, 0, 2, 9])]);
        addr_msg(&mut d, 2, 24, 2, &[]);
        addr_msg(&mut d, 2, 33, 2, &[(IFA_LOCAL, &[192, 0, 2, 9])]);
        // An interface with one unreadable message shows no address at all.
        addr_msg(&mut d, 2, 24, 3, &[(IFA_LOCAL, &[192, 0, 2, 3])]);
        let mut p = vec![2u8, 24, 0, 0, 3, 0, 0, 0];
        p.extend_from_slice(&[40, 0, 2, 0]);
        message(&mut d, RTM_NEWADDR, 1, &p);
        done(&mut d, 1);
        let text = scan_addr_dump(&d).unwrap();
        let line = |dev: &str, addr: &str, mask: &str, scope: &str| {
            format!(
                "node_network_address_info{{address=\"{addr}\",device=\"{dev}\",\
                 netmask=\"{mask}\",scope=\"{scope}\"}} 1"
            )
        };
        let want = [
            "# HELP node_network_address_info node network address by device".to_owned(),
            "# TYPE node_network_address_info gauge".to_owned(),
            line("lo", "127.0.0.1", "8", "link-local"),
            line("eth0", "10.0.0.1", "32", "global"),
            line("lo", "::1", "128", "link-local"),
            line("eth0", "fe80::fc:ff:fe00:1", "64", "link-local"),
            line("eth0", "fd00::2", "64", "global"),
            line("eth0", "192.0.2.7", "24", "global"),
            line("eth0", "ff01::1", "64", "interface-local"),
        ];
        let mut want: Vec<String> = want.into_iter().collect();
        want[2..].sort();
        assert_eq!(text.lines().collect::<Vec<_>>(), want);

        // Where Go would panic: an ifaddrmsg cut short, an IPv4 address of 2 bytes.
        for bad in [&[2u8, 24, 0][..], &[2, 24, 0, 0, 2, 0, 0, 0, 6, 0, 2, 0, 10, 0, 0, 0]] {
            let mut d = Vec::new();
            addr_msg(&mut d, 2, 8, 1, &[(IFA_LOCAL, &[127, 0, 0, 1])]);
            message(&mut d, RTM_NEWADDR, 1, bad);
            assert!(scan_addr_dump(&d).is_err(), "{bad:?}");
        }
    }
}
