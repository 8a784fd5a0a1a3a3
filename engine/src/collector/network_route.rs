//! The routing tables → `node_network_route_info{device,src,dest,gw,priority,proto,weight}` and
//! `node_network_routes{device}`; node_exporter's network_route collector (off by default).
//!
//! A rtnetlink `RTM_GETROUTE` dump of every table and family (rtnetlink(7), `struct rtmsg` in
//! include/uapi/linux/rtnetlink.h), of which the unicast routes (`RTN_UNICAST`) are reported:
//! one series per route, or per next hop of a multipath route (`RTA_MULTIPATH`, whose
//! `struct rtnexthop`s give the device, the gateway and `weight` = `rtnh_hops` + 1). Devices
//! are named from a `RTM_GETLINK` dump; an index without a link is reported as `""`.

use super::{nl, Build, Collector, Error, Spec};
use crate::encode::{Encoder, Kind};
use crate::netaddr;
use crate::netlink::route::{
    LinkNames, RTA_DST, RTA_GATEWAY, RTA_MULTIPATH, RTA_OIF, RTA_PREFSRC, RTA_PRIORITY, RTMSG_LEN,
    RTM_GETROUTE, RTM_NEWROUTE,
};
use crate::netlink::{self, Attrs, Messages, Protocol, Socket};

/// Registration.
pub const SPEC: Spec =
    Spec { name: "network_route", default_enabled: false, flags: &[], blocking: false, build };

const GETROUTE: &str = "rtnetlink RTM_GETROUTE";
const GETLINK: &str = "rtnetlink RTM_GETLINK";

/// `RTN_UNICAST`.
const RTN_UNICAST: u8 = 1;
/// `sizeof(struct rtnexthop)`: length, flags, hops, ifindex.
const RTNEXTHOP_LEN: usize = 8;

fn build(_: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(NetworkRoute {
        sock: Socket::new(Protocol::Route),
        links: LinkNames::new(),
        reply: Vec::new(),
        scratch: Scratch::default(),
    }))
}

#[derive(Debug)]
struct NetworkRoute {
    sock: Socket,
    links: LinkNames,
    /// The `RTM_GETROUTE` dump.
    reply: Vec<u8>,
    scratch: Scratch,
}

/// Buffers a scan reuses: label text, and the device index of each route reported.
#[derive(Debug, Default)]
pub struct Scratch {
    text: Vec<u8>,
    devices: Vec<u32>,
}

impl Collector for NetworkRoute {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        // Upstream lists the links first, through the library that refuses odd sizes.
        self.links.load_checked(&mut self.sock).map_err(nl::error(GETLINK))?;
        let msgs = self
            .sock
            .dump_all(RTM_GETROUTE, &[0; RTMSG_LEN], &mut self.reply)
            .map_err(nl::error(GETROUTE))?;
        scan(msgs, enc, &self.links, &mut self.scratch).map_err(nl::error(GETROUTE))
    }
}

/// The parts of a `RTM_NEWROUTE` message that are reported.
#[derive(Clone, Copy, Debug, Default)]
struct Route<'a> {
    ty: u8,
    dst_len: u8,
    protocol: u8,
    dst: &'a [u8],
    src: &'a [u8],
    gateway: &'a [u8],
    oif: u32,
    priority: u32,
    multipath: &'a [u8],
}

impl<'a> Route<'a> {
    /// Reads a route message, refusing what upstream's rtnetlink library refuses in the
    /// attributes reported: an address of other than 4 or 16 bytes, an index or priority of
    /// other than 4, a broken multipath list.
    fn parse(msg: &netlink::Message<'a>) -> Result<Route<'a>, netlink::Error> {
        let (hdr, attrs) = msg.split(RTMSG_LEN)?;
        let mut r = Route { ty: hdr[7], dst_len: hdr[1], protocol: hdr[5], ..Route::default() };
        for a in attrs {
            let a = a?;
            match a.ty {
                RTA_DST => r.dst = ip(a.data)?,
                RTA_PREFSRC => r.src = ip(a.data)?,
                RTA_GATEWAY => r.gateway = ip(a.data)?,
                RTA_OIF => r.oif = u32_attr(a.data)?,
                RTA_PRIORITY => r.priority = u32_attr(a.data)?,
                RTA_MULTIPATH => {
                    nexthops(a.data).try_for_each(|h| h.map(drop))?;
                    r.multipath = a.data;
                }
                _ => {}
            }
        }
        Ok(r)
    }
}

fn ip(data: &[u8]) -> Result<&[u8], netlink::Error> {
    match data.len() {
        4 | 16 => Ok(data),
        _ => Err(netlink::Error::Malformed("address of other than 4 or 16 bytes")),
    }
}

fn u32_attr(data: &[u8]) -> Result<u32, netlink::Error> {
    match data.len() {
        4 => Ok(netlink::ne_u32(data, 0).unwrap_or(0)),
        _ => Err(netlink::Error::Malformed("u32 attribute of other than 4 bytes")),
    }
}

/// One next hop of a multipath route.
#[derive(Clone, Copy, Debug)]
struct Nexthop<'a> {
    hops: u8,
    ifindex: u32,
    gateway: &'a [u8],
}

/// The `struct rtnexthop`s of an `RTA_MULTIPATH` attribute, each followed by its own
/// attributes within its length.
fn nexthops(mut b: &[u8]) -> impl Iterator<Item = Result<Nexthop<'_>, netlink::Error>> {
    std::iter::from_fn(move || {
        if b.is_empty() {
            return None;
        }
        let bad = || Some(Err(netlink::Error::Malformed("broken RTA_MULTIPATH next hop")));
        let len = netlink::ne_u16(b, 0).map_or(0, usize::from);
        if b.len() < RTNEXTHOP_LEN || len < RTNEXTHOP_LEN || len > b.len() {
            b = &[];
            return bad();
        }
        let (hop, rest) = b.split_at(len);
        b = rest;
        let mut nh =
            Nexthop { hops: hop[3], ifindex: netlink::ne_u32(hop, 4).unwrap_or(0), gateway: &[] };
        for a in Attrs::new(&hop[RTNEXTHOP_LEN..]) {
            match a {
                Ok(a) if a.ty == RTA_GATEWAY => match ip(a.data) {
                    Ok(gw) => nh.gateway = gw,
                    Err(e) => return Some(Err(e)),
                },
                Ok(_) => {}
                Err(e) => return Some(Err(e)),
            }
        }
        Some(Ok(nh))
    })
}

/// Scans a `RTM_GETROUTE` dump into `enc`, naming devices from `links`. Allocates nothing
/// beyond the growth of `enc` and `scratch`.
///
/// # Errors
/// A route message that does not parse; nothing is then left in `enc`.
pub fn scan(
    msgs: Messages<'_>,
    enc: &mut Encoder,
    links: &LinkNames,
    scratch: &mut Scratch,
) -> Result<(), netlink::Error> {
    let info =
        enc.family("node_network_route_info", "network routing table information", Kind::Gauge);
    let routes = enc.family("node_network_routes", "network routes by interface", Kind::Gauge);
    let Scratch { text, devices } = scratch;
    devices.clear();
    let cp = enc.checkpoint();
    let r = msgs.filter(|m| m.ty == RTM_NEWROUTE).try_for_each(|msg| {
        let route = Route::parse(&msg)?;
        if route.ty != RTN_UNICAST {
            return Ok(());
        }
        let mut emit = |ifindex: u32, gateway: &[u8], weight: Option<u8>| {
            text.clear();
            write_ip_or_empty(text, route.src);
            let src_end = text.len();
            match route.dst_len {
                0 => text.extend_from_slice(b"default"),
                n => netaddr::write_cidr(text, route.dst, n),
            }
            let dest_end = text.len();
            write_ip_or_empty(text, gateway);
            let (src, rest) = text.split_at(src_end);
            let (dest, gw) = rest.split_at(dest_end - src_end);
            let mut prio = itoa::Buffer::new();
            let mut hops = itoa::Buffer::new();
            let weight = weight.map_or(&b""[..], |h| hops.format(u16::from(h) + 1).as_bytes());
            let labels = [
                ("device", links.name(ifindex).unwrap_or(b"")),
                ("src", src),
                ("dest", dest),
                ("gw", gw),
                ("priority", prio.format(route.priority).as_bytes()),
                ("proto", protocol(route.protocol).as_bytes()),
                ("weight", weight),
            ];
            enc.sample(info, &labels, 1.0);
            devices.push(ifindex);
        };
        if route.multipath.is_empty() {
            emit(route.oif, route.gateway, None);
        } else {
            for nh in nexthops(route.multipath) {
                let nh = nh?;
                emit(nh.ifindex, nh.gateway, Some(nh.hops));
            }
        }
        Ok(())
    });
    if let Err(e) = r {
        enc.rollback(cp);
        return Err(e);
    }
    // Routes per device name: indexes sorted and counted, those without a name under "".
    devices.sort_unstable();
    let mut unnamed = 0;
    for run in devices.chunk_by(|a, b| a == b) {
        match links.name(run[0]) {
            Some(name) if !name.is_empty() => {
                enc.sample_u64(routes, &[("device", name)], run.len() as u64);
            }
            _ => unnamed += run.len() as u64,
        }
    }
    if unnamed > 0 {
        enc.sample_u64(routes, &[("device", b"")], unnamed);
    }
    Ok(())
}

/// An address as upstream writes a route's: empty when absent.
fn write_ip_or_empty(out: &mut Vec<u8>, ip: &[u8]) {
    if !ip.is_empty() {
        netaddr::write_ip(out, ip);
    }
}

/// `rtm_protocol` by name, as upstream spells the values of include/uapi/linux/rtnetlink.h.
fn protocol(p: u8) -> &'static str {
    match p {
        0 => "unspec",
        1 => "redirect",
        2 => "kernel",
        3 => "boot",
        4 => "static",
        8 => "gated",
        9 => "ra",
        10 => "mrt",
        11 => "zebra",
        12 => "bird",
        13 => "dnrouted",
        14 => "xorp",
        15 => "ntk",
        16 => "dhcp",
        17 => "mrouted",
        42 => "babel",
        186 => "bgp",
        187 => "isis",
        188 => "ospf",
        189 => "rip",
        192 => "eigrp",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{build as build_spec, render, scrape};
    use crate::collector::Settings;
    use crate::netlink::testing::{attr, done, message};
    use crate::source::Paths;

    struct R<'a> {
        family: u8,
        dst_len: u8,
        protocol: u8,
        ty: u8,
        attrs: Vec<(u16, &'a [u8])>,
    }

    fn route(out: &mut Vec<u8>, r: R<'_>) {
        let mut p = vec![r.family, r.dst_len, 0, 0, 254, r.protocol, 0, r.ty, 0, 0, 0, 0];
        for (ty, data) in r.attrs {
            attr(&mut p, ty, data);
        }
        message(out, RTM_NEWROUTE, 1, &p);
    }

    fn nexthop(out: &mut Vec<u8>, hops: u8, ifindex: u32, gw: &[u8]) {
        let mut attrs = Vec::new();
        attr(&mut attrs, RTA_GATEWAY, gw);
        out.extend_from_slice(&((RTNEXTHOP_LEN + attrs.len()) as u16).to_ne_bytes());
        out.extend_from_slice(&[0, hops]);
        out.extend_from_slice(&ifindex.to_ne_bytes());
        out.extend_from_slice(&attrs);
    }

    fn links() -> LinkNames {
        let mut l = LinkNames::new();
        l.push(1, b"lo");
        l.push(2, b"eth0");
        l.push(3, b"eth1");
        l.finish();
        l
    }

    fn scan_dump(d: &[u8]) -> Result<String, netlink::Error> {
        let mut r = Ok(());
        let mut scratch = Scratch::default();
        let text = render(|enc| r = scan(Messages::new(d), enc, &links(), &mut scratch));
        r.map(|()| text)
    }

    const V6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    const V6_GW: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

    #[test]
    fn routes_and_next_hops() {
        let oif2 = 2u32.to_ne_bytes();
        let oif9 = 9u32.to_ne_bytes();
        let prio = 100u32.to_ne_bytes();
        let mut mp = Vec::new();
        nexthop(&mut mp, 0, 2, &[10, 0, 0, 1]);
        nexthop(&mut mp, 4, 3, &[10, 0, 1, 1]);
        let mut d = Vec::new();
        route(
            &mut d,
            R {
                family: 2,
                dst_len: 0,
                protocol: 3,
                ty: RTN_UNICAST,
                attrs: vec![
                    (RTA_GATEWAY, &[192, 0, 2, 1]),
                    (RTA_OIF, &oif2),
                    (RTA_PRIORITY, &prio),
                ],
            },
        );
        route(
            &mut d,
            R {
                family: 2,
                dst_len: 24,
                protocol: 2,
                ty: RTN_UNICAST,
                attrs: vec![
                    (RTA_DST, &[192, 0, 2, 0]),
                    (RTA_PREFSRC, &[192, 0, 2, 2]),
                    (RTA_OIF, &oif2),
                ],
            },
        );
        route(
            &mut d,
            R {
                family: 10,
                dst_len: 64,
                protocol: 99,
                ty: RTN_UNICAST,
                attrs: vec![(RTA_DST, &V6), (RTA_GATEWAY, &V6_GW), (RTA_OIF, &oif9)],
            },
        );
        route(
            &mut d,
            R {
                family: 2,
                dst_len: 16,
                protocol: 186,
                ty: RTN_UNICAST,
                attrs: vec![(RTA_DST, &[10, 1, 0, 0]), (RTA_MULTIPATH, &mp)],
            },
        );
        // Local and broadcast routes are not reported.
        route(
            &mut d,
            R {
                family: 2,
                dst_len: 32,
                protocol: 2,
                ty: 2,
                attrs: vec![(RTA_DST, &[127, 0, 0, 1]), (RTA_OIF, &1u32.to_ne_bytes())],
            },
        );
        done(&mut d, 1);
        let text = scan_dump(&d).unwrap();
        let want = r#"# HELP node_network_route_info network routing table information
# TYPE node_network_route_info gauge
node_network_route_info{dest="10.1.0.0/16",device="eth0",gw="10.0.0.1",priority="0",proto="bgp",src="",weight="1"} 1
node_network_route_info{dest="10.1.0.0/16",device="eth1",gw="10.0.1.1",priority="0",proto="bgp",src="",weight="5"} 1
node_network_route_info{dest="192.0.2.0/24",device="eth0",gw="",priority="0",proto="kernel",src="192.0.2.2",weight=""} 1
node_network_route_info{dest="default",device="eth0",gw="192.0.2.1",priority="100",proto="boot",src="",weight=""} 1
node_network_route_info{dest="fd00::/64",device="",gw="fd00::1",priority="0",proto="unknown",src="",weight=""} 1
# HELP node_network_routes network routes by interface
# TYPE node_network_routes gauge
node_network_routes{device=""} 1
node_network_routes{device="eth0"} 3
node_network_routes{device="eth1"} 1
"#;
        assert_eq!(text, want);
    }

    #[test]
    fn broken_routes_fail_whole() {
        let good = |d: &mut Vec<u8>| {
            route(
                d,
                R {
                    family: 2,
                    dst_len: 0,
                    protocol: 3,
                    ty: RTN_UNICAST,
                    attrs: vec![(RTA_GATEWAY, &[192, 0, 2, 1])],
                },
            )
        };
        let mut short_mp = Vec::new();
        nexthop(&mut short_mp, 0, 2, &[10, 0, 0, 1]);
        short_mp.truncate(6);
        let mut long_mp = Vec::new();
        nexthop(&mut long_mp, 0, 2, &[10, 0, 0, 1]);
        long_mp[0] = 40;
        let mut bad_gw_mp = Vec::new();
        nexthop(&mut bad_gw_mp, 0, 2, &[10, 0, 1]);
        type Case<'a> = (&'a str, Vec<(u16, &'a [u8])>);
        let cases: [Case<'_>; 6] = [
            ("3-byte gateway", vec![(RTA_GATEWAY, &[1, 2, 3])]),
            ("2-byte oif", vec![(RTA_OIF, &[1, 0])]),
            ("5-byte priority", vec![(RTA_PRIORITY, &[1, 0, 0, 0, 0])]),
            ("short next hop", vec![(RTA_MULTIPATH, &short_mp)]),
            ("next hop past its attribute", vec![(RTA_MULTIPATH, &long_mp)]),
            ("next hop gateway", vec![(RTA_MULTIPATH, &bad_gw_mp)]),
        ];
        for (what, attrs) in cases {
            let mut d = Vec::new();
            good(&mut d);
            // Even on a route that is not reported.
            route(&mut d, R { family: 2, dst_len: 8, protocol: 2, ty: 2, attrs });
            let mut enc = Encoder::new();
            let mut scratch = Scratch::default();
            let r = scan(Messages::new(&d), &mut enc, &links(), &mut scratch);
            assert!(r.is_err(), "{what}");
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "{what}: a failed scan left samples behind");
        }
        let mut d = Vec::new();
        message(&mut d, RTM_NEWROUTE, 1, &[0; 8]);
        assert!(scan_dump(&d).is_err(), "short rtmsg");
    }

    #[test]
    fn live_host() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            let text = scrape(c.as_mut());
            let infos = text.lines().filter(|l| l.starts_with("node_network_route_info{")).count();
            let total: f64 = text
                .lines()
                .filter(|l| l.starts_with("node_network_routes{"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum();
            // Equal unless two tables hold the same route (a duplicate series is dropped).
            assert!(total >= infos as f64, "{text}");
        }
    }
}
