//! Neighbour (ARP) table entries per interface → `node_arp_entries{device}`; node_exporter's
//! arp collector.
//!
//! By default (`--collector.arp.netlink`) the entries come from a rtnetlink `RTM_GETNEIGH`
//! dump (rtnetlink(7), `struct ndmsg` in include/uapi/linux/neighbour.h): the IPv4 entries
//! whose state is not `NUD_NOARP`, as `/proc/net/arp` lists them, counted by interface index
//! and named from a `RTM_GETLINK` dump (an index no longer there is left out).
//!
//! With `--no-collector.arp.netlink` it reads `/proc/net/arp` (proc_net(5)): a header line,
//! then one line of six columns per entry, the last naming the interface:
//! `192.168.1.1    0x1         0x2         cc:aa:dd:ee:aa:bb     *        eth0`.

use super::device_filter::DeviceFilter;
use super::{nl, Build, Collector, Error, Flag, FlagKind, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::netaddr;
use crate::netlink::route::{LinkNames, NDMSG_LEN, RTM_GETNEIGH, RTM_NEWNEIGH};
use crate::netlink::{self, Messages, Protocol, Socket};
use crate::source::{Entries, File};

/// Registration.
pub const SPEC: Spec =
    Spec { name: "arp", default_enabled: true, flags: FLAGS, blocking: false, build };

const INCLUDE: &str = "collector.arp.device-include";
const EXCLUDE: &str = "collector.arp.device-exclude";
const NETLINK: &str = "collector.arp.netlink";

const FLAGS: &[Flag] = &[
    Flag {
        name: INCLUDE,
        help: "Regexp of arp devices to include (mutually exclusive to device-exclude).",
        kind: FlagKind::Regex,
        default: "",
        aliases: &[],
    },
    Flag {
        name: EXCLUDE,
        help: "Regexp of arp devices to exclude (mutually exclusive to device-include).",
        kind: FlagKind::Regex,
        default: "",
        aliases: &[],
    },
    Flag {
        name: NETLINK,
        help: "Use netlink to gather stats instead of /proc/net/arp.",
        kind: FlagKind::Bool,
        default: "true",
        aliases: &[],
    },
];

const PATH: &str = "proc/net/arp";
const GETNEIGH: &str = "rtnetlink RTM_GETNEIGH";
const GETLINK: &str = "rtnetlink RTM_GETLINK";

const AF_INET: u8 = 2;
/// `NUD_NOARP`: an entry that needs no resolution (`/proc/net/arp` leaves these out).
const NUD_NOARP: u16 = 0x40;

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    // Upstream takes both patterns as given: unlike netdev's, they are not exclusive.
    let filter =
        DeviceFilter::new(EXCLUDE, b.settings.str(EXCLUDE), INCLUDE, b.settings.str(INCLUDE))?;
    let source = match b.settings.bool(NETLINK) {
        true => Source::Netlink {
            sock: Socket::new(Protocol::Route),
            reply: Vec::new(),
            links: LinkNames::new(),
            indexes: Vec::new(),
        },
        false => Source::File { file: File::new(b.paths.proc("net/arp")), buf: Vec::new() },
    };
    Ok(Box::new(Arp { source, filter, devices: Entries::new() }))
}

#[derive(Debug)]
enum Source {
    Netlink {
        sock: Socket,
        /// The `RTM_GETNEIGH` dump.
        reply: Vec<u8>,
        links: LinkNames,
        /// Scratch: the interface index of each counted entry.
        indexes: Vec<u32>,
    },
    File {
        file: File,
        buf: Vec<u8>,
    },
}

#[derive(Debug)]
struct Arp {
    source: Source,
    filter: DeviceFilter,
    /// Entries per interface this scrape, and the filter's verdict, kept while the interface
    /// has entries.
    devices: Entries<Device>,
}

#[derive(Debug)]
struct Device {
    count: u32,
    ignored: bool,
}

impl Collector for Arp {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let Arp { source, filter, devices } = self;
        devices.iter_mut().for_each(|(_, d)| d.count = 0);
        devices.begin();
        let mut add = |name: &[u8], n: u32| {
            let make = || Device { count: 0, ignored: filter.is_ignored(name) };
            let d = devices.get_or_insert_with(name, make);
            d.count = d.count.wrapping_add(n);
        };
        match source {
            Source::File { file, buf } => {
                let src = file.read(buf).map_err(Error::read(PATH))?;
                scan(src, |name| add(name, 1)).map_err(Error::parse(PATH))?;
            }
            Source::Netlink { sock, reply, links, indexes } => {
                let msgs = sock
                    .dump_all(RTM_GETNEIGH, &[0; NDMSG_LEN], reply)
                    .map_err(nl::error(GETNEIGH))?;
                count_neighbours(msgs, indexes).map_err(nl::error(GETNEIGH))?;
                // Upstream names only the interfaces that have entries.
                if !indexes.is_empty() {
                    links.load(sock).map_err(nl::error(GETLINK))?;
                }
                for run in indexes.chunk_by(|a, b| a == b) {
                    if let Some(name) = links.name(run[0]) {
                        add(name, run.len() as u32);
                    }
                }
            }
        }
        devices.end();
        let fam = enc.family("node_arp_entries", "ARP entries by device", Kind::Gauge);
        for (name, d) in devices.iter().filter(|(_, d)| !d.ignored && d.count > 0) {
            enc.sample_u64(fam, &[("device", name)], u64::from(d.count));
        }
        Ok(())
    }
}

/// Scans `/proc/net/arp`, calling `add` with the interface of each entry. Header lines (nine
/// fields) and empty lines are skipped, as upstream skips them. Pure; allocates nothing.
///
/// # Errors
/// A line of other than six fields, or whose hardware address or flags do not parse (upstream
/// then fails the scrape); `add` may have been called for earlier lines.
pub fn scan(src: &[u8], mut add: impl FnMut(&[u8])) -> Result<(), ParseError> {
    for (n, line) in lex::lines(src).enumerate() {
        let mut cols = [&[][..]; 6];
        let mut width = 0;
        for field in lex::fields(line) {
            if let Some(col) = cols.get_mut(width) {
                *col = field;
            }
            width += 1;
        }
        match width {
            0 | 9 => continue,
            6 => {}
            _ => return Err(ParseError::at(n + 1, "expected 6 columns")),
        }
        if !netaddr::is_mac(cols[3]) {
            return Err(ParseError::at(n + 1, "invalid hardware address"));
        }
        if lex::parse_uint(cols[2], 0, 64).is_none_or(|f| f > u64::from(u8::MAX)) {
            return Err(ParseError::at(n + 1, "flags are not an 8-bit number"));
        }
        add(cols[5]);
    }
    Ok(())
}

/// Collects into `indexes` (cleared first, then sorted) the interface index of each IPv4
/// neighbour whose state is not `NUD_NOARP`. Pure; allocates only to grow `indexes`.
///
/// # Errors
/// A message shorter than an `ndmsg`, or whose attributes are not framed right (upstream's
/// rtnetlink library then fails the dump).
pub fn count_neighbours(msgs: Messages<'_>, indexes: &mut Vec<u32>) -> Result<(), netlink::Error> {
    indexes.clear();
    for msg in msgs.filter(|m| m.ty == RTM_NEWNEIGH) {
        let (hdr, attrs) = msg.split(NDMSG_LEN)?;
        attrs.check()?;
        let state = netlink::ne_u16(hdr, 8).unwrap_or(0);
        if hdr[0] == AF_INET && state & NUD_NOARP == 0 {
            indexes.push(netlink::ne_u32(hdr, 4).unwrap_or(0));
        }
    }
    indexes.sort_unstable();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fixtures, put, scrape, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::netlink::testing::{attr, done, message};
    use crate::source::Paths;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let mut s = Settings::new();
        for (k, v) in pairs {
            s.set(k, *v);
        }
        s
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let s = settings(&[(NETLINK, "false"), (EXCLUDE, "nope")]);
        let mut c = build_spec(&SPEC, &Paths::under(&root), &s).unwrap();
        for _ in 0..2 {
            assert_matches_e2e(&scrape(c.as_mut()));
        }
    }

    const HEADER: &str =
        "IP address       HW type     Flags       HW address            Mask     Device\n";

    fn counts(src: &str) -> Result<Vec<String>, ParseError> {
        let mut seen = Vec::new();
        scan(src.as_bytes(), |d| seen.push(String::from_utf8(d.to_vec()).unwrap()))?;
        Ok(seen)
    }

    #[test]
    fn lines_and_errors() {
        let ok = format!(
            "{HEADER}10.0.0.1 0x1 0x2 aa:bb:cc:dd:ee:ff * eth0\n\n\
             10.0.0.2 0x1 0 00:00:00:00:00:00 * eth1\n10.0.0.3 0x1 0x0_6 0000.0000.0001 * eth0"
        );
        assert_eq!(counts(&ok).unwrap(), ["eth0", "eth1", "eth0"]);
        assert_eq!(counts("").unwrap(), Vec::<String>::new());
        assert_eq!(counts(HEADER).unwrap(), Vec::<String>::new());
        for (bad, line) in [
            ("10.0.0.1 0x1 0x2 aa:bb:cc:dd:ee:ff eth0", 2),
            ("10.0.0.1 0x1 0x2 aa:bb:cc:dd:ee:ff * eth0 x", 2),
            ("10.0.0.1 0x1 0x2 aa:bb:cc:dd:ee * eth0", 2),
            ("10.0.0.1 0x1 0x100 aa:bb:cc:dd:ee:ff * eth0", 2),
            ("10.0.0.1 0x1 two aa:bb:cc:dd:ee:ff * eth0", 2),
            ("10.0.0.1 0x1 -1 aa:bb:cc:dd:ee:ff * eth0", 2),
        ] {
            let err = counts(&format!("{HEADER}{bad}\n")).unwrap_err();
            assert_eq!(err.line, line, "{bad}");
        }
    }

    #[test]
    fn filter_and_churn() {
        let root = tmpdir("arp-churn");
        let line = |ip: u8, dev: &str| format!("10.0.0.{ip} 0x1 0x2 aa:bb:cc:dd:ee:ff * {dev}\n");
        put(
            &root,
            "proc/net/arp",
            &format!("{HEADER}{}{}{}", line(1, "eth0"), line(2, "eth0"), line(3, "veth1")),
        );
        let s = settings(&[(NETLINK, "false"), (EXCLUDE, "^veth"), (INCLUDE, "eth")]);
        let mut c = build_spec(&SPEC, &Paths::under(&root), &s).unwrap();
        let text = scrape(c.as_mut());
        assert!(text.contains("node_arp_entries{device=\"eth0\"} 2\n"), "{text}");
        assert!(!text.contains("veth1"));
        put(&root, "proc/net/arp", &format!("{HEADER}{}", line(1, "eth1")));
        let text = scrape(c.as_mut());
        assert!(text.contains("node_arp_entries{device=\"eth1\"} 1\n"), "{text}");
        assert!(!text.contains("eth0"), "a device without entries is gone: {text}");
        put(&root, "proc/net/arp", &format!("{HEADER}{}bad\n", line(1, "eth1")));
        assert!(matches!(try_scrape(c.as_mut()), Err(Error::Parse { .. })));
        // A missing file is a read error (a fresh collector: a kept fd would read on).
        let mut c = build_spec(&SPEC, &Paths::under(&root), &s).unwrap();
        std::fs::remove_file(root.join("proc/net/arp")).unwrap();
        assert!(matches!(try_scrape(c.as_mut()), Err(Error::Read { .. })));
        std::fs::remove_dir_all(&root).unwrap();
    }

    fn neigh(out: &mut Vec<u8>, family: u8, index: u32, state: u16, attrs: &[(u16, &[u8])]) {
        let mut p = vec![family, 0, 0, 0];
        p.extend_from_slice(&index.to_ne_bytes());
        p.extend_from_slice(&state.to_ne_bytes());
        p.extend_from_slice(&[0, 1]);
        for (ty, data) in attrs {
            attr(&mut p, *ty, data);
        }
        message(out, RTM_NEWNEIGH, 1, &p);
    }

    #[test]
    fn neighbours_by_index() {
        const NUD_REACHABLE: u16 = 0x02;
        const NUD_PERMANENT: u16 = 0x80;
        let mut d = Vec::new();
        neigh(&mut d, AF_INET, 4, NUD_REACHABLE, &[(1, &[10, 0, 0, 1])]);
        neigh(&mut d, AF_INET, 2, NUD_PERMANENT, &[]);
        neigh(&mut d, AF_INET, 4, NUD_REACHABLE, &[]);
        neigh(&mut d, AF_INET, 1, NUD_NOARP, &[]);
        neigh(&mut d, 10, 4, NUD_REACHABLE, &[]);
        neigh(&mut d, 7, 4, NUD_REACHABLE, &[]);
        done(&mut d, 1);
        let mut idx = Vec::new();
        count_neighbours(Messages::new(&d), &mut idx).unwrap();
        assert_eq!(idx, [2, 4, 4]);

        let mut short = d.clone();
        message(&mut short, RTM_NEWNEIGH, 1, &[AF_INET, 0, 0, 0, 4, 0, 0, 0]);
        assert!(count_neighbours(Messages::new(&short), &mut idx).is_err());
        let mut bad_attr = Vec::new();
        let mut p = vec![AF_INET, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 1];
        p.extend_from_slice(&[40, 0, 1, 0]);
        message(&mut bad_attr, RTM_NEWNEIGH, 1, &p);
        assert!(count_neighbours(Messages::new(&bad_attr), &mut idx).is_err());
    }

    #[test]
    fn live_host_both_paths_agree() {
        let mut paths: Vec<Box<dyn Collector>> = ["true", "false"]
            .map(|netlink| {
                build_spec(&SPEC, &Paths::default(), &settings(&[(NETLINK, netlink)])).unwrap()
            })
            .into();
        // The table may change between the two reads: a few tries for one quiet moment.
        let mut outs = Vec::new();
        for _ in 0..5 {
            outs = paths.iter_mut().map(|c| scrape(c.as_mut())).collect();
            if outs[0] == outs[1] {
                return;
            }
        }
        panic!("rtnetlink and /proc/net/arp disagree:\n{}\n{}", outs[0], outs[1]);
    }
}
