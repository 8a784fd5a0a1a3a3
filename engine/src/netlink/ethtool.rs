//! The ethtool generic netlink family (`"ethtool"`, Linux 5.6 and later; the kernel's
//! Documentation/networking/ethtool-netlink.rst): the link settings that the `SIOCETHTOOL`
//! ioctl also reports, asked over a socket and needing no ioctl. Only the `LINKMODES_GET` dump
//! the collectors read: each device's speed, duplex and advertised link modes.
//!
//! A reply is a `genlmsghdr` and then attributes: `ETHTOOL_A_LINKMODES_HEADER` (nested: the
//! device's index and name), `_SPEED` (`u32` Mb/s, `SPEED_UNKNOWN` = `u32::MAX` when the link is
//! down or the driver cannot tell), `_DUPLEX` (`u8`), and the link mode bitsets `_OURS` and
//! `_PEER`, here asked for in the compact form: a bit count, then the value and mask words.
//! Devices whose driver has no link settings are left out of the dump by the kernel.

use super::genl::{Family, GENLMSGHDR_LEN};
use super::{
    ne_u32, trim_nul, Attrs, Error, Message, Messages, Request, Socket, F_DUMP, F_REQUEST,
};

/// The family's name, for [`super::genl::family`].
pub const FAMILY_NAME: &str = "ethtool";

/// `ETHTOOL_MSG_LINKMODES_GET`.
const MSG_LINKMODES_GET: u8 = 4;
/// `NLA_F_NESTED`: the kernel validates ethtool requests strictly and wants it on nests.
const NLA_F_NESTED: u16 = 0x8000;

/// `ETHTOOL_A_LINKMODES_HEADER` (nested `ETHTOOL_A_HEADER_*`).
const A_LINKMODES_HEADER: u16 = 1;
/// `ETHTOOL_A_LINKMODES_OURS` (bitset): the modes advertised, masked by those supported.
const A_LINKMODES_OURS: u16 = 3;
/// `ETHTOOL_A_LINKMODES_PEER` (bitset): the modes the link partner advertises.
const A_LINKMODES_PEER: u16 = 4;
/// `ETHTOOL_A_LINKMODES_SPEED` (`u32`, Mb/s).
const A_LINKMODES_SPEED: u16 = 5;
/// `ETHTOOL_A_LINKMODES_DUPLEX` (`u8`).
const A_LINKMODES_DUPLEX: u16 = 6;

/// `ETHTOOL_A_HEADER_DEV_INDEX` (`u32`).
const A_HEADER_DEV_INDEX: u16 = 1;
/// `ETHTOOL_A_HEADER_DEV_NAME` (string).
const A_HEADER_DEV_NAME: u16 = 2;
/// `ETHTOOL_A_HEADER_FLAGS` (`u32`).
const A_HEADER_FLAGS: u16 = 3;
/// `ETHTOOL_FLAG_COMPACT_BITSETS`: bitsets as value and mask words rather than one nested
/// attribute per bit.
const FLAG_COMPACT_BITSETS: u32 = 1;

/// `ETHTOOL_A_BITSET_NOMASK` (flag): a list, not a value under a mask.
const A_BITSET_NOMASK: u16 = 1;
/// `ETHTOOL_A_BITSET_SIZE` (`u32`): the number of bits.
const A_BITSET_SIZE: u16 = 2;
/// `ETHTOOL_A_BITSET_VALUE` (`u32` words).
const A_BITSET_VALUE: u16 = 4;
/// `ETHTOOL_A_BITSET_MASK` (`u32` words).
const A_BITSET_MASK: u16 = 5;

/// `SPEED_UNKNOWN` as the kernel sends it.
pub const SPEED_UNKNOWN: u32 = u32::MAX;
/// `DUPLEX_HALF`.
pub const DUPLEX_HALF: u8 = 0;
/// `DUPLEX_FULL`.
pub const DUPLEX_FULL: u8 = 1;
/// `DUPLEX_UNKNOWN`.
pub const DUPLEX_UNKNOWN: u8 = 0xff;

/// Sends the `LINKMODES_GET` dump request for every device, asking for compact bitsets, and
/// reads the replies into `out`. Allocates only to grow `out`.
///
/// # Errors
/// As [`Socket::request`]: a kernel without the family answers with the family id unknown.
pub fn dump_link_modes<'o>(
    sock: &mut Socket,
    fam: Family,
    out: &'o mut Vec<u8>,
) -> Result<Messages<'o>, Error> {
    sock.request(fam.id, F_REQUEST | F_DUMP, |r| link_modes_request(r, fam), out)
}

/// The `LINKMODES_GET` request: the command and a header asking for compact bitsets and naming
/// no device, which asks for all of them.
fn link_modes_request(r: &mut Request<'_>, fam: Family) {
    let mut header = [0u8; 8];
    header[0..2].copy_from_slice(&8u16.to_ne_bytes());
    header[2..4].copy_from_slice(&A_HEADER_FLAGS.to_ne_bytes());
    header[4..8].copy_from_slice(&FLAG_COMPACT_BITSETS.to_ne_bytes());
    r.bytes(&[MSG_LINKMODES_GET, fam.version, 0, 0])
        .attr(NLA_F_NESTED | A_LINKMODES_HEADER, &header);
}

/// One device's `LINKMODES_GET` reply. Fields the reply lacks are zero, as the Go ethtool
/// library leaves them.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct LinkModes<'a> {
    /// The device's index.
    pub index: u32,
    /// The device's name, without its NUL.
    pub name: &'a [u8],
    /// Speed in Mb/s, or [`SPEED_UNKNOWN`].
    pub speed: u32,
    /// [`DUPLEX_HALF`], [`DUPLEX_FULL`] or [`DUPLEX_UNKNOWN`].
    pub duplex: u8,
    /// The highest link mode bit (`ETHTOOL_LINK_MODE_*_BIT`) set in the advertised or the
    /// partner's modes, if any is.
    pub highest_mode: Option<u32>,
}

impl<'a> LinkModes<'a> {
    /// Reads one reply message.
    ///
    /// # Errors
    /// `Malformed` when the message is shorter than a `genlmsghdr`, an attribute's framing is
    /// broken (nested ones included), a fixed-size attribute has another size, or a bitset's
    /// words do not match its bit count.
    pub fn parse(msg: &Message<'a>) -> Result<LinkModes<'a>, Error> {
        let (_, attrs) = msg.split(GENLMSGHDR_LEN)?;
        let mut lm = LinkModes::default();
        for a in attrs {
            let a = a?;
            match a.ty {
                A_LINKMODES_HEADER => {
                    for h in a.nested() {
                        let h = h?;
                        match h.ty {
                            A_HEADER_DEV_INDEX => lm.index = exact_u32(h.data)?,
                            A_HEADER_DEV_NAME => lm.name = trim_nul(h.data),
                            _ => {}
                        }
                    }
                }
                A_LINKMODES_OURS | A_LINKMODES_PEER => {
                    lm.highest_mode = lm.highest_mode.max(highest_bit(a.nested())?);
                }
                A_LINKMODES_SPEED => lm.speed = exact_u32(a.data)?,
                A_LINKMODES_DUPLEX => match *a.data {
                    [d] => lm.duplex = d,
                    _ => return Err(Error::Malformed("ethtool duplex is not a u8")),
                },
                _ => {}
            }
        }
        Ok(lm)
    }
}

fn exact_u32(data: &[u8]) -> Result<u32, Error> {
    match data.len() {
        4 => ne_u32(data, 0).ok_or(Error::Malformed("ethtool attribute is not a u32")),
        _ => Err(Error::Malformed("ethtool attribute is not a u32")),
    }
}

/// The highest bit set in a compact bitset: in its value under its mask, or in its value alone
/// when it carries `NOMASK`. Read as the Go ethtool library reads it: attributes in order, a
/// `SIZE` starting a new zeroed value (and mask, unless `NOMASK` came before), and each
/// `VALUE` or `MASK` holding as many whole words as the last `SIZE` asked for.
///
/// # Errors
/// `Malformed` for broken framing, a `SIZE` that is not a `u32`, or a word count that does not
/// match.
fn highest_bit(attrs: Attrs<'_>) -> Result<Option<u32>, Error> {
    let mut masked = true;
    let (mut words, mut mask_words) = (0usize, 0usize);
    let (mut value, mut mask): (&[u8], &[u8]) = (&[], &[]);
    for a in attrs {
        let a = a?;
        match a.ty {
            A_BITSET_NOMASK => masked = false,
            A_BITSET_SIZE => {
                // Go's uint32 arithmetic: a count near 2^32 wraps to a few words.
                words = (exact_u32(a.data)?.wrapping_add(31) / 32) as usize;
                value = &[];
                if masked {
                    mask_words = words;
                    mask = &[];
                }
            }
            A_BITSET_VALUE | A_BITSET_MASK => {
                let (want, slot) = match a.ty {
                    A_BITSET_VALUE => (words, &mut value),
                    _ => (mask_words, &mut mask),
                };
                if a.data.len() / 4 != want {
                    return Err(Error::Malformed("ethtool bitset words do not match its size"));
                }
                *slot = a.data;
            }
            _ => {}
        }
    }
    let word = |b: &[u8], i: usize| ne_u32(b, i * 4).unwrap_or(0);
    let mut highest = None;
    for i in 0..words.min(value.len() / 4) {
        let w = word(value, i) & if masked { word(mask, i) } else { u32::MAX };
        if w != 0 {
            highest = Some(i as u32 * 32 + (31 - w.leading_zeros()));
        }
    }
    Ok(highest)
}

#[cfg(test)]
pub(crate) mod testing {
    //! Builders for hand-made `LINKMODES_GET` replies.

    use super::super::testing::attr;
    use super::*;

    /// A compact bitset of `bits` bits with `value` and, unless `None` (`NOMASK`), `mask`.
    pub fn bitset(bits: u32, value: &[u32], mask: Option<&[u32]>) -> Vec<u8> {
        let words = |w: &[u32]| w.iter().flat_map(|w| w.to_ne_bytes()).collect::<Vec<u8>>();
        let mut out = Vec::new();
        if mask.is_none() {
            attr(&mut out, A_BITSET_NOMASK, &[]);
        }
        attr(&mut out, A_BITSET_SIZE, &bits.to_ne_bytes());
        attr(&mut out, A_BITSET_VALUE, &words(value));
        if let Some(m) = mask {
            attr(&mut out, A_BITSET_MASK, &words(m));
        }
        out
    }

    /// A reply payload (`genlmsghdr` included) for device `index`/`name` with the given speed,
    /// duplex and advertised modes, followed by `extra` raw attributes.
    pub fn link_modes(
        index: u32,
        name: &str,
        speed: u32,
        duplex: u8,
        ours: &[u8],
        extra: &[(u16, &[u8])],
    ) -> Vec<u8> {
        let mut header = Vec::new();
        attr(&mut header, A_HEADER_DEV_INDEX, &index.to_ne_bytes());
        attr(&mut header, A_HEADER_DEV_NAME, format!("{name}\0").as_bytes());
        let mut p = vec![MSG_LINKMODES_GET, 1, 0, 0];
        attr(&mut p, NLA_F_NESTED | A_LINKMODES_HEADER, &header);
        attr(&mut p, 2, &[1]); // ETHTOOL_A_LINKMODES_AUTONEG, not read
        attr(&mut p, NLA_F_NESTED | A_LINKMODES_OURS, ours);
        attr(&mut p, A_LINKMODES_SPEED, &speed.to_ne_bytes());
        attr(&mut p, A_LINKMODES_DUPLEX, &[duplex]);
        for (ty, data) in extra {
            attr(&mut p, *ty, data);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::message;
    use super::super::{genl, Protocol};
    use super::testing::*;
    use super::*;

    fn parse(payload: &[u8]) -> Result<LinkModes<'_>, Error> {
        LinkModes::parse(&Message { ty: 21, flags: 0, payload })
    }

    #[test]
    fn fields() {
        // 10GbE full duplex advertising 10000baseT/Full (bit 12) and Autoneg (bit 6).
        let ours = bitset(121, &[1 << 12 | 1 << 6, 0, 0, 0], Some(&[!0, 0, 0, 0]));
        let p = link_modes(4, "eth0", 10_000, DUPLEX_FULL, &ours, &[]);
        let lm = parse(&p).unwrap();
        assert_eq!(
            lm,
            LinkModes {
                index: 4,
                name: b"eth0",
                speed: 10_000,
                duplex: DUPLEX_FULL,
                highest_mode: Some(12)
            }
        );
        // A virtio NIC: speed and duplex unknown, no mode advertised.
        let ours = bitset(121, &[0; 4], Some(&[0; 4]));
        let p = link_modes(4, "eth0", SPEED_UNKNOWN, DUPLEX_UNKNOWN, &ours, &[]);
        let lm = parse(&p).unwrap();
        assert_eq!((lm.speed, lm.duplex, lm.highest_mode), (u32::MAX, 0xff, None));
        // A bare header: everything else stays zero, as the Go library leaves it.
        let lm = parse(&[4, 1, 0, 0]).unwrap();
        assert_eq!(lm, LinkModes::default());
    }

    #[test]
    fn bitsets() {
        let highest = |b: &[u8]| highest_bit(Attrs::new(b));
        // Masked: a value bit outside the mask does not count.
        assert_eq!(highest(&bitset(64, &[1 << 3, 1 << 8], Some(&[!0, 0]))), Ok(Some(3)));
        assert_eq!(highest(&bitset(64, &[1 << 3, 1 << 8], Some(&[!0, !0]))), Ok(Some(40)));
        // NOMASK: the value alone.
        assert_eq!(highest(&bitset(121, &[0, 0, 1 << 28, 0], None)), Ok(Some(92)));
        // Masked without a mask: nothing survives the mask.
        let mut no_mask = Vec::new();
        super::super::testing::attr(&mut no_mask, A_BITSET_SIZE, &32u32.to_ne_bytes());
        super::super::testing::attr(&mut no_mask, A_BITSET_VALUE, &[0xff; 4]);
        assert_eq!(highest(&no_mask), Ok(None));
        assert_eq!(highest(&[]), Ok(None));
        // Words that do not match the size, and a size that is not a u32.
        assert!(highest(&bitset(64, &[1], Some(&[1, 1]))).is_err());
        assert!(highest(&bitset(64, &[1, 1], Some(&[1]))).is_err());
        let mut bad_size = Vec::new();
        super::super::testing::attr(&mut bad_size, A_BITSET_SIZE, &[64, 0]);
        assert!(highest(&bad_size).is_err());
        // Go's uint32 wrap: 2^32 - 1 bits round up to zero words.
        let mut wrap = Vec::new();
        super::super::testing::attr(&mut wrap, A_BITSET_SIZE, &u32::MAX.to_ne_bytes());
        super::super::testing::attr(&mut wrap, A_BITSET_VALUE, &[]);
        assert_eq!(highest(&wrap), Ok(None));
    }

    #[test]
    fn broken_replies_are_errors() {
        let ours = bitset(121, &[1, 0, 0, 0], Some(&[1, 0, 0, 0]));
        let good = link_modes(4, "eth0", 1000, DUPLEX_HALF, &ours, &[]);
        // Every truncation is an error or a shorter valid reply; never a panic.
        for cut in 0..good.len() {
            let _ = parse(&good[..cut]);
        }
        for cut in [0, 3, 5, 9, 30, good.len() - 4] {
            assert!(parse(&good[..cut]).is_err(), "cut at {cut}");
        }
        for (ty, data) in [
            (A_LINKMODES_SPEED, &[1u8, 0][..]),
            (A_LINKMODES_SPEED, &[0; 8][..]),
            (A_LINKMODES_DUPLEX, &[][..]),
            (A_LINKMODES_DUPLEX, &[1, 0][..]),
        ] {
            let p = link_modes(4, "eth0", 1000, DUPLEX_HALF, &ours, &[(ty, data)]);
            assert!(matches!(parse(&p), Err(Error::Malformed(_))), "{ty} {data:?}");
        }
        // A header index of the wrong size, and nested framing broken inside the header.
        let mut p = vec![4, 1, 0, 0];
        super::super::testing::attr(&mut p, A_LINKMODES_HEADER, &[6, 0, 1, 0, 4, 0, 0, 0]);
        assert!(parse(&p).is_err());
        let mut p = vec![4, 1, 0, 0];
        super::super::testing::attr(&mut p, A_LINKMODES_HEADER, &[9, 0, 2, 0, b'e']);
        assert!(parse(&p).is_err());
    }

    #[test]
    fn request_layout() {
        let mut buf = Vec::new();
        link_modes_request(&mut Request { buf: &mut buf }, Family { id: 21, version: 1 });
        assert_eq!(&buf[..4], &[MSG_LINKMODES_GET, 1, 0, 0]);
        let attrs: Vec<_> = Attrs::new(&buf[4..]).into_iter().map(Result::unwrap).collect();
        assert_eq!(attrs.len(), 1);
        assert_eq!(attrs[0].ty, A_LINKMODES_HEADER);
        assert_eq!(buf[4 + 3] & 0x80, 0x80, "NLA_F_NESTED is set");
        assert_eq!(
            attrs[0].nested().find(A_HEADER_FLAGS).unwrap(),
            Some(&FLAG_COMPACT_BITSETS.to_ne_bytes()[..])
        );
        // And a reply to it reads back through the message iterator.
        let mut out = Vec::new();
        let p = link_modes(2, "veth0", 10_000, DUPLEX_FULL, &bitset(8, &[0], None), &[]);
        message(&mut out, 21, 1, &p);
        let msgs: Vec<_> = Messages::new(&out).collect();
        assert_eq!(msgs.len(), 1);
        assert_eq!(LinkModes::parse(&msgs[0]).unwrap().name, b"veth0");
    }

    #[test]
    fn live_dump() {
        let mut sock = Socket::new(Protocol::Generic);
        let mut buf = Vec::new();
        let fam = match genl::family(&mut sock, FAMILY_NAME, &mut buf) {
            Ok(f) => f,
            // A kernel before 5.6, or built without ethtool netlink.
            Err(Error::Kernel(rustix::io::Errno::NOENT)) => return,
            Err(e) => panic!("{e}"),
        };
        for _ in 0..2 {
            for msg in dump_link_modes(&mut sock, fam, &mut buf).unwrap() {
                let lm = LinkModes::parse(&msg).unwrap();
                assert!(lm.index > 0 && !lm.name.is_empty(), "{lm:?}");
                // lo has no link settings: the kernel leaves it out.
                assert_ne!(lm.name, b"lo");
            }
        }
        assert!(sock.is_open());
    }
}
