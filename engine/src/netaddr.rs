//! Network addresses as Go's `net` package writes and classifies them, for label values that
//! must read exactly as node_exporter's: `net.IP.String` (`192.0.2.1`, `fe80::1`, an IPv4-mapped
//! IPv6 address as `1.2.3.4`), `net.IPNet.String` (`10.0.0.0/8`), `net.HardwareAddr.String`
//! (`aa:bb:cc:dd:ee:ff`), `net.ParseMAC`'s syntax check, and the scope classes
//! (`IsLoopback`, `IsGlobalUnicast`, ...) that netdev's `address-info` reports.
//!
//! Writers append to a caller's `Vec<u8>`, so a collector formats into one scratch buffer it
//! keeps and allocates nothing once that buffer has grown.

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The IPv4 part of `ip` when it is an IPv4 address, 4 bytes or 16 in the IPv4-mapped form
/// `::ffff:a.b.c.d` (Go's `IP.To4`).
pub fn to4(ip: &[u8]) -> Option<[u8; 4]> {
    match ip.len() {
        4 => Some([ip[0], ip[1], ip[2], ip[3]]),
        16 if ip[..10].iter().all(|&b| b == 0) && ip[10] == 0xff && ip[11] == 0xff => {
            Some([ip[12], ip[13], ip[14], ip[15]])
        }
        _ => None,
    }
}

/// Appends `ip` as Go's `net.IP.String` writes it: dotted quad for IPv4 (and IPv4-mapped IPv6),
/// RFC 5952 text for IPv6 (the first longest run of two or more zero groups becomes `::`),
/// `<nil>` for an empty address and `?` plus hex digits for any other length.
pub fn write_ip(out: &mut Vec<u8>, ip: &[u8]) {
    if ip.is_empty() {
        out.extend_from_slice(b"<nil>");
    } else if let Some(v4) = to4(ip) {
        let mut num = itoa::Buffer::new();
        for (i, b) in v4.into_iter().enumerate() {
            if i > 0 {
                out.push(b'.');
            }
            out.extend_from_slice(num.format(b).as_bytes());
        }
    } else if ip.len() == 16 {
        write_ip6(out, ip);
    } else {
        out.push(b'?');
        write_hex(out, ip, None);
    }
}

fn write_ip6(out: &mut Vec<u8>, ip: &[u8]) {
    let group = |i: usize| u16::from_be_bytes([ip[2 * i], ip[2 * i + 1]]);
    let (mut zero_start, mut zero_end) = (8, 8);
    let mut i = 0;
    while i < 8 {
        let mut j = i;
        while j < 8 && group(j) == 0 {
            j += 1;
        }
        if j - i >= 2 && j - i > zero_end - zero_start {
            (zero_start, zero_end) = (i, j);
        }
        i = j.max(i + 1);
    }
    let mut i = 0;
    while i < 8 {
        if i == zero_start {
            out.extend_from_slice(b"::");
            i = zero_end;
            if i >= 8 {
                break;
            }
        } else if i > 0 {
            out.push(b':');
        }
        let g = group(i);
        let digits = if g == 0 { 1 } else { (16 - g.leading_zeros() as usize).div_ceil(4) };
        for d in (0..digits).rev() {
            out.push(HEX[usize::from(g >> (4 * d)) & 0xf]);
        }
        i += 1;
    }
}

/// Appends `ip/len` as Go's `net.IPNet.String` writes a network built from `ip` and
/// `net.CIDRMask(len, bits)`, with `bits` 32 when `ip` is IPv4 (as `IP.To4` decides) and 128
/// otherwise. The address is written as given, not masked. Where Go's mask or address is
/// unusable (a prefix longer than `bits`, an address neither 4 nor 16 bytes long) it writes
/// `<nil>`, and so does this.
pub fn write_cidr(out: &mut Vec<u8>, ip: &[u8], len: u8) {
    let bits = if to4(ip).is_some() { 32 } else { 128 };
    if u32::from(len) > bits || (bits == 128 && ip.len() != 16) {
        out.extend_from_slice(b"<nil>");
        return;
    }
    write_ip(out, ip);
    out.push(b'/');
    out.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
}

/// Appends a hardware address as Go's `net.HardwareAddr.String`: lower-case hex bytes joined by
/// `:`, nothing for an empty address.
pub fn write_mac(out: &mut Vec<u8>, hw: &[u8]) {
    write_hex(out, hw, Some(b':'));
}

fn write_hex(out: &mut Vec<u8>, bytes: &[u8], sep: Option<u8>) {
    for (i, &b) in bytes.iter().enumerate() {
        if let (Some(sep), true) = (sep, i > 0) {
            out.push(sep);
        }
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xf)]);
    }
}

/// Whether `s` is a hardware address `net.ParseMAC` accepts: 6, 8 or 20 bytes written as
/// two-digit hex groups joined by `:` or `-`, or as four-digit groups joined by `.`.
pub fn is_mac(s: &[u8]) -> bool {
    if s.len() < 14 {
        return false;
    }
    let (group, sep) = match (s[2], s[4]) {
        (b':' | b'-', _) => (2, s[2]),
        (_, b'.') => (4, b'.'),
        _ => return false,
    };
    let stride = group + 1;
    if (s.len() + 1) % stride != 0 {
        return false;
    }
    let groups = (s.len() + 1) / stride;
    if ![6, 8, 20].contains(&(groups * group / 2)) {
        return false;
    }
    s.chunks(stride).all(|chunk| {
        let (digits, tail) = chunk.split_at(group.min(chunk.len()));
        digits.len() == group
            && digits.iter().all(u8::is_ascii_hexdigit)
            && (tail.is_empty() || tail == [sep])
    })
}

/// The `scope` label netdev's `address-info` gives an address (4 or 16 bytes): `link-local`
/// for loopback and link-local unicast or multicast, `interface-local` for interface-local
/// IPv6 multicast, `global` for any other unicast address but the unspecified and broadcast
/// ones, and empty otherwise.
pub fn scope(ip: &[u8]) -> &'static str {
    if let Some(v4) = to4(ip) {
        let loopback = v4[0] == 127;
        let link_local_unicast = v4[0] == 169 && v4[1] == 254;
        let link_local_multicast = v4[0] == 224 && v4[1] == 0 && v4[2] == 0;
        if loopback || link_local_unicast || link_local_multicast {
            return "link-local";
        }
        let multicast = v4[0] & 0xf0 == 0xe0;
        if v4 != [255; 4] && v4 != [0; 4] && !multicast {
            return "global";
        }
        return "";
    }
    if ip.len() != 16 {
        return "";
    }
    let loopback = ip[..15].iter().all(|&b| b == 0) && ip[15] == 1;
    let link_local_unicast = ip[0] == 0xfe && ip[1] & 0xc0 == 0x80;
    let multicast = ip[0] == 0xff;
    if loopback || link_local_unicast || (multicast && ip[1] & 0x0f == 0x02) {
        return "link-local";
    }
    if multicast && ip[1] & 0x0f == 0x01 {
        return "interface-local";
    }
    let unspecified = ip.iter().all(|&b| b == 0);
    if !unspecified && !multicast {
        return "global";
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv6Addr};

    fn ip(b: &[u8]) -> String {
        let mut out = Vec::new();
        write_ip(&mut out, b);
        String::from_utf8(out).unwrap()
    }

    fn v6(s: &str) -> [u8; 16] {
        s.parse::<Ipv6Addr>().unwrap().octets()
    }

    #[test]
    fn ip_text_as_go() {
        assert_eq!(ip(&[192, 0, 2, 1]), "192.0.2.1");
        assert_eq!(ip(&[0, 0, 0, 0]), "0.0.0.0");
        assert_eq!(ip(&[]), "<nil>");
        assert_eq!(ip(&[1, 2, 3]), "?010203");
        for (text, want) in [
            ("::", "::"),
            ("::1", "::1"),
            ("fe80::fc:ff:fe00:1", "fe80::fc:ff:fe00:1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            ("1:0:0:0:0:0:0:0", "1::"),
            ("0:0:0:1:0:0:0:0", "0:0:0:1::"),
            ("::ffff:1.2.3.4", "1.2.3.4"),
            ("::1.2.3.4", "::102:304"),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ] {
            assert_eq!(ip(&v6(text)), want, "{text}");
        }
    }

    proptest::proptest! {
        /// Rust's `Ipv6Addr` display follows RFC 5952 as Go does, but for the IPv4-mapped
        /// form, which Go writes as a dotted quad.
        #[test]
        fn ip6_matches_std(b: [u8; 16]) {
            let want = match IpAddr::from(b) {
                IpAddr::V6(a) => match a.to_ipv4_mapped() {
                    Some(v4) => v4.to_string(),
                    None => a.to_string(),
                },
                a => a.to_string(),
            };
            proptest::prop_assert_eq!(ip(&b), want);
        }
    }

    #[test]
    fn cidr_and_mac() {
        let cidr = |b: &[u8], n| {
            let mut out = Vec::new();
            write_cidr(&mut out, b, n);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(cidr(&[10, 0, 0, 0], 8), "10.0.0.0/8");
        assert_eq!(cidr(&v6("fd00::"), 64), "fd00::/64");
        assert_eq!(cidr(&[10, 0, 0, 1], 8), "10.0.0.1/8", "not masked");
        assert_eq!(cidr(&v6("::ffff:10.0.0.0"), 8), "10.0.0.0/8");
        assert_eq!(cidr(&[10, 0, 0, 0], 33), "<nil>");
        assert_eq!(cidr(&v6("::ffff:0.0.0.0"), 96), "<nil>");
        assert_eq!(cidr(&v6("fd00::"), 129), "<nil>");
        assert_eq!(cidr(&[], 8), "<nil>");
        assert_eq!(cidr(&[1, 2, 3], 8), "<nil>");
        let mut out = Vec::new();
        write_mac(&mut out, &[0xaa, 0xbb, 0x0c, 0xdd, 0xee, 0xff]);
        assert_eq!(out, b"aa:bb:0c:dd:ee:ff");
        out.clear();
        write_mac(&mut out, &[]);
        assert_eq!(out, b"");
    }

    #[test]
    fn mac_syntax_as_go_parse_mac() {
        for good in [
            "00:00:5e:00:53:01",
            "02:00:5E:10:00:00:00:01",
            "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01",
            "00-00-5e-00-53-01",
            "0000.5e00.5301",
            "0200.5e10.0000.0001",
        ] {
            assert!(is_mac(good.as_bytes()), "{good}");
        }
        for bad in [
            "",
            "00:00:5e:00:53",
            "00:00:5e:00:53:01:02",
            "00:00:5e-00:53:01",
            "0g:00:5e:00:53:01",
            "00:00:5e:00:53:1",
            "00:00:5e:00:53:0100",
            "0000.5e00.530",
            "0000.5e00:5301",
            "*",
        ] {
            assert!(!is_mac(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn scopes() {
        assert_eq!(scope(&[127, 0, 0, 1]), "link-local");
        assert_eq!(scope(&[169, 254, 1, 1]), "link-local");
        assert_eq!(scope(&[224, 0, 0, 251]), "link-local");
        assert_eq!(scope(&[192, 0, 2, 2]), "global");
        assert_eq!(scope(&[10, 1, 2, 3]), "global");
        assert_eq!(scope(&[239, 1, 1, 1]), "");
        assert_eq!(scope(&[255, 255, 255, 255]), "");
        assert_eq!(scope(&[0, 0, 0, 0]), "");
        assert_eq!(scope(&v6("::1")), "link-local");
        assert_eq!(scope(&v6("fe80::1")), "link-local");
        assert_eq!(scope(&v6("ff02::1")), "link-local");
        assert_eq!(scope(&v6("ff01::1")), "interface-local");
        assert_eq!(scope(&v6("fd00::2")), "global");
        assert_eq!(scope(&v6("::")), "");
        assert_eq!(scope(&v6("ff05::2")), "");
        assert_eq!(scope(&v6("::ffff:127.0.0.1")), "link-local");
    }
}
