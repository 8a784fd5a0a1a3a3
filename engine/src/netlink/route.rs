//! rtnetlink (`NETLINK_ROUTE`, rtnetlink(7)): the message types, fixed headers and attribute
//! numbers the collectors use, a link message reader and a table of interface names by index.

use super::{trim_nul, Error, Message, Socket};

/// `RTM_NEWLINK`, a link in a `RTM_GETLINK` dump.
pub const RTM_NEWLINK: u16 = 16;
/// `RTM_GETLINK`.
pub const RTM_GETLINK: u16 = 18;
/// `RTM_NEWADDR`, an address in a `RTM_GETADDR` dump.
pub const RTM_NEWADDR: u16 = 20;
/// `RTM_GETADDR`.
pub const RTM_GETADDR: u16 = 22;
/// `RTM_NEWROUTE`, a route in a `RTM_GETROUTE` dump.
pub const RTM_NEWROUTE: u16 = 24;
/// `RTM_GETROUTE`.
pub const RTM_GETROUTE: u16 = 26;
/// `RTM_NEWNEIGH`, a neighbour in a `RTM_GETNEIGH` dump.
pub const RTM_NEWNEIGH: u16 = 28;
/// `RTM_GETNEIGH`.
pub const RTM_GETNEIGH: u16 = 30;
/// `RTM_NEWQDISC`, a qdisc in a `RTM_GETQDISC` dump.
pub const RTM_NEWQDISC: u16 = 36;
/// `RTM_GETQDISC`.
pub const RTM_GETQDISC: u16 = 38;

/// `sizeof(struct ifinfomsg)`: family, type, index, flags, change.
pub const IFINFOMSG_LEN: usize = 16;
/// `sizeof(struct ifaddrmsg)`: family, prefix length, flags, scope, index.
pub const IFADDRMSG_LEN: usize = 8;
/// `sizeof(struct rtmsg)`: family, dst/src length, tos, table, protocol, scope, type, flags.
pub const RTMSG_LEN: usize = 12;
/// `sizeof(struct ndmsg)`: family, pads, ifindex, state, flags, type.
pub const NDMSG_LEN: usize = 12;
/// `sizeof(struct tcmsg)`: family, pads, ifindex, handle, parent, info.
pub const TCMSG_LEN: usize = 20;

/// `IFLA_ADDRESS`: the link-layer address.
pub const IFLA_ADDRESS: u16 = 1;
/// `IFLA_BROADCAST`: the link-layer broadcast address.
pub const IFLA_BROADCAST: u16 = 2;
/// `IFLA_IFNAME`: the interface name, NUL-terminated.
pub const IFLA_IFNAME: u16 = 3;
/// `IFLA_MTU` (`u32`).
pub const IFLA_MTU: u16 = 4;
/// `IFLA_LINK` (`u32`): the index of the link this one sits on, sent when it is not its own.
pub const IFLA_LINK: u16 = 5;
/// `IFLA_STATS`: `struct rtnl_link_stats` (32-bit counters).
pub const IFLA_STATS: u16 = 7;
/// `IFLA_TXQLEN` (`u32`): the transmit queue length.
pub const IFLA_TXQLEN: u16 = 13;
/// `IFLA_OPERSTATE` (`u8`): RFC 2863's operational state, `IF_OPER_UNKNOWN` (0) to `IF_OPER_UP`
/// (6).
pub const IFLA_OPERSTATE: u16 = 16;
/// `IFLA_LINKMODE` (`u8`): `IF_LINK_MODE_DEFAULT`, `_DORMANT` or `_TESTING`.
pub const IFLA_LINKMODE: u16 = 17;
/// `IFLA_IFALIAS`: the interface's alias, NUL-terminated.
pub const IFLA_IFALIAS: u16 = 20;
/// `IFLA_STATS64`: `struct rtnl_link_stats64`.
pub const IFLA_STATS64: u16 = 23;
/// `IFLA_GROUP` (`u32`): the device group.
pub const IFLA_GROUP: u16 = 27;
/// `IFLA_CARRIER` (`u8`).
pub const IFLA_CARRIER: u16 = 33;
/// `IFLA_CARRIER_CHANGES` (`u32`).
pub const IFLA_CARRIER_CHANGES: u16 = 35;
/// `IFLA_CARRIER_UP_COUNT` (`u32`).
pub const IFLA_CARRIER_UP_COUNT: u16 = 47;
/// `IFLA_CARRIER_DOWN_COUNT` (`u32`).
pub const IFLA_CARRIER_DOWN_COUNT: u16 = 48;

/// `IFA_ADDRESS`: the address (the peer's on a point-to-point link).
pub const IFA_ADDRESS: u16 = 1;
/// `IFA_LOCAL`: the local address.
pub const IFA_LOCAL: u16 = 2;

/// `RTA_DST`: the destination prefix.
pub const RTA_DST: u16 = 1;
/// `RTA_OIF`: the output interface index.
pub const RTA_OIF: u16 = 4;
/// `RTA_GATEWAY`: the gateway address.
pub const RTA_GATEWAY: u16 = 5;
/// `RTA_PRIORITY`: the route's metric.
pub const RTA_PRIORITY: u16 = 6;
/// `RTA_PREFSRC`: the preferred source address.
pub const RTA_PREFSRC: u16 = 7;
/// `RTA_MULTIPATH`: `struct rtnexthop`s, each followed by its attributes.
pub const RTA_MULTIPATH: u16 = 9;

/// `TCA_KIND`: the qdisc's name (`fq`, `pfifo_fast`).
pub const TCA_KIND: u16 = 1;
/// `TCA_STATS`: the legacy `struct tc_stats`.
pub const TCA_STATS: u16 = 3;
/// `TCA_STATS2`: nested `TCA_STATS_*` attributes.
pub const TCA_STATS2: u16 = 7;
/// `TCA_STATS_BASIC`: `struct gnet_stats_basic` (bytes, packets).
pub const TCA_STATS_BASIC: u16 = 1;
/// `TCA_STATS_QUEUE`: `struct gnet_stats_queue` (qlen, backlog, drops, requeues, overlimits).
pub const TCA_STATS_QUEUE: u16 = 3;
/// `TCA_STATS_APP`: the qdisc's own statistics.
pub const TCA_STATS_APP: u16 = 4;

/// The parts of a `RTM_NEWLINK` message the collectors read.
#[derive(Clone, Copy, Debug, Default)]
pub struct Link<'a> {
    /// `ifi_index`.
    pub index: u32,
    /// Whether any attribute followed the `ifinfomsg`.
    pub has_attrs: bool,
    /// `IFLA_IFNAME` without its NUL; empty when absent.
    pub name: &'a [u8],
    /// `IFLA_STATS64`'s data.
    pub stats64: Option<&'a [u8]>,
    /// `IFLA_STATS`'s data.
    pub stats: Option<&'a [u8]>,
    /// Whether an `IFLA_ADDRESS` or `IFLA_BROADCAST` is outside the 4 to 32 bytes the Go
    /// rtnetlink library upstream uses accepts (it then fails the whole dump).
    pub odd_address: bool,
}

impl<'a> Link<'a> {
    /// Refuses a link that the Go rtnetlink library upstream's netdev and network_route
    /// collectors use refuses (failing its whole dump): an `IFLA_STATS64` of other than 184,
    /// 192 or 200 bytes, an `IFLA_STATS` of other than 92 or 96, an `IFLA_ADDRESS` or
    /// `IFLA_BROADCAST` outside 4 to 32.
    ///
    /// # Errors
    /// `Malformed`, naming the attribute.
    pub fn check_sizes(&self) -> Result<(), Error> {
        if self.odd_address {
            return Err(Error::Malformed("link address of unexpected size"));
        }
        if self.stats64.is_some_and(|s| ![184, 192, 200].contains(&s.len())) {
            return Err(Error::Malformed("IFLA_STATS64 of unexpected size"));
        }
        if self.stats.is_some_and(|s| ![92, 96].contains(&s.len())) {
            return Err(Error::Malformed("IFLA_STATS of unexpected size"));
        }
        Ok(())
    }

    /// Reads a `RTM_NEWLINK` message.
    ///
    /// # Errors
    /// `Malformed` when the message is shorter than an `ifinfomsg` or its attributes are not
    /// framed right.
    pub fn parse(msg: &Message<'a>) -> Result<Link<'a>, Error> {
        let (hdr, attrs) = msg.split(IFINFOMSG_LEN)?;
        let mut link = Link {
            index: super::ne_u32(hdr, 4).unwrap_or(0),
            has_attrs: msg.payload.len() > IFINFOMSG_LEN,
            ..Link::default()
        };
        for a in attrs {
            let a = a?;
            match a.ty {
                IFLA_IFNAME => link.name = trim_nul(a.data),
                IFLA_STATS64 => link.stats64 = Some(a.data),
                IFLA_STATS => link.stats = Some(a.data),
                IFLA_ADDRESS | IFLA_BROADCAST => {
                    link.odd_address |= !(4..=32).contains(&a.data.len());
                }
                _ => {}
            }
        }
        Ok(link)
    }
}

/// Interface names by index, from a `RTM_GETLINK` dump: how the collectors that get an
/// interface index from the kernel (neighbours, routes, qdiscs, addresses) name it.
#[derive(Debug, Default)]
pub struct LinkNames {
    reply: Vec<u8>,
    names: Vec<u8>,
    /// `(index, start, end)` into `names`, sorted by index.
    table: Vec<(u32, u32, u32)>,
}

impl LinkNames {
    /// An empty table.
    pub fn new() -> LinkNames {
        LinkNames::default()
    }

    /// Dumps the links over `sock` and rebuilds the table, as Go's `net.Interfaces` lists
    /// them. Allocates only to grow its buffers.
    ///
    /// # Errors
    /// The dump's error, or a link message that does not parse.
    pub fn load(&mut self, sock: &mut Socket) -> Result<(), Error> {
        self.load_with(sock, |_| Ok(()))
    }

    /// [`LinkNames::load`] refusing, as the Go rtnetlink library does, links that fail
    /// [`Link::check_sizes`].
    ///
    /// # Errors
    /// As [`LinkNames::load`], and `check_sizes`' error.
    pub fn load_checked(&mut self, sock: &mut Socket) -> Result<(), Error> {
        self.load_with(sock, |link| link.check_sizes())
    }

    fn load_with(
        &mut self,
        sock: &mut Socket,
        check: impl Fn(&Link<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let msgs = sock.dump_all(RTM_GETLINK, &[0; IFINFOMSG_LEN], &mut self.reply)?;
        let LinkNames { names, table, .. } = self;
        names.clear();
        table.clear();
        for msg in msgs.filter(|m| m.ty == RTM_NEWLINK) {
            let link = Link::parse(&msg)?;
            check(&link)?;
            push(names, table, link.index, link.name);
        }
        self.finish();
        Ok(())
    }

    /// Empties the table, to refill it with [`LinkNames::push`] from a dump made elsewhere.
    pub fn clear(&mut self) {
        self.names.clear();
        self.table.clear();
    }

    /// Adds one link.
    pub fn push(&mut self, index: u32, name: &[u8]) {
        push(&mut self.names, &mut self.table, index, name);
    }

    /// Sorts the table after the last [`LinkNames::push`].
    pub fn finish(&mut self) {
        self.table.sort_unstable_by_key(|&(index, ..)| index);
    }

    /// The name of the link with index `index`, if the last dump had it.
    pub fn name(&self, index: u32) -> Option<&[u8]> {
        let i = self.table.binary_search_by_key(&index, |&(index, ..)| index).ok()?;
        let (_, start, end) = self.table[i];
        Some(&self.names[start as usize..end as usize])
    }

    /// The links, by index.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &[u8])> {
        self.table.iter().map(|&(i, s, e)| (i, &self.names[s as usize..e as usize]))
    }
}

fn push(names: &mut Vec<u8>, table: &mut Vec<(u32, u32, u32)>, index: u32, name: &[u8]) {
    let start = names.len() as u32;
    names.extend_from_slice(name);
    table.push((index, start, names.len() as u32));
}

#[cfg(test)]
mod tests {
    use super::super::testing::{attr, message};
    use super::super::Messages;
    use super::*;

    fn link_msg(index: u32, name: &str, extra: &[(u16, &[u8])]) -> Vec<u8> {
        let mut p = vec![0u8; IFINFOMSG_LEN];
        p[4..8].copy_from_slice(&index.to_ne_bytes());
        attr(&mut p, IFLA_IFNAME, format!("{name}\0").as_bytes());
        for (ty, data) in extra {
            attr(&mut p, *ty, data);
        }
        let mut out = Vec::new();
        message(&mut out, RTM_NEWLINK, 1, &p);
        out
    }

    #[test]
    fn link_fields() {
        let buf = link_msg(7, "eth0", &[(IFLA_STATS64, &[0; 200]), (IFLA_ADDRESS, &[1; 6])]);
        let msg = Messages::new(&buf).next().unwrap();
        let link = Link::parse(&msg).unwrap();
        assert_eq!((link.index, link.name, link.has_attrs), (7, &b"eth0"[..], true));
        assert_eq!(link.stats64.map(<[u8]>::len), Some(200));
        assert!(link.stats.is_none() && !link.odd_address);
        let buf = link_msg(7, "eth0", &[(IFLA_BROADCAST, &[1; 3])]);
        assert!(Link::parse(&Messages::new(&buf).next().unwrap()).unwrap().odd_address);

        let mut short = Vec::new();
        message(&mut short, RTM_NEWLINK, 1, &[0; 12]);
        assert!(Link::parse(&Messages::new(&short).next().unwrap()).is_err());
        let mut bare = Vec::new();
        message(&mut bare, RTM_NEWLINK, 1, &[0; 16]);
        assert!(!Link::parse(&Messages::new(&bare).next().unwrap()).unwrap().has_attrs);
    }

    #[test]
    fn names_by_index() {
        let mut t = LinkNames::new();
        t.push(4, b"eth0");
        t.push(1, b"lo");
        t.finish();
        assert_eq!(t.name(1), Some(&b"lo"[..]));
        assert_eq!(t.name(4), Some(&b"eth0"[..]));
        assert_eq!(t.name(2), None);
        assert_eq!(t.iter().map(|(i, _)| i).collect::<Vec<_>>(), [1, 4]);
    }

    #[test]
    fn live_links() {
        let mut sock = Socket::new(super::super::Protocol::Route);
        let mut t = LinkNames::new();
        for _ in 0..2 {
            t.load(&mut sock).unwrap();
            assert_eq!(t.name(1), Some(&b"lo"[..]), "lo has index 1 in every namespace");
        }
        assert!(sock.is_open(), "the socket is kept");
    }
}
