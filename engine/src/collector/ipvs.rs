//! `/proc/net/ip_vs_stats` and `/proc/net/ip_vs` → `node_ipvs_*_total` and
//! `node_ipvs_backend_{connections_active,connections_inactive,weight}`; node_exporter's ipvs
//! collector.
//!
//! `ip_vs_stats` holds the totals in hexadecimal on its third line (the kernel's
//! net/netfilter/ipvs/ip_vs_ctl.c `ip_vs_stats_show`): ` 16AA370 E33656E5        0
//! 51D8C8883AB3                0`. `ip_vs` lists each virtual service (`TCP  C0A80016:0CEA
//! wlc`, or `FWM  10001000 wlc` for a firewall mark) followed by its real servers
//! (`  -> C0A85216:0CEA      Tunnel  100    248        2`), as ipvsadm(8) shows them.
//! Backends are reported under the labels `--collector.ipvs.backend-labels` keeps, summed over
//! the backends those labels do not tell apart.

use super::{Build, Collector, Error, Flag, FlagKind, ParseError, Spec};
use crate::encode::{Encoder, Kind, Label};
use crate::lex;
use crate::source::File;
use rustix::io::Errno;
use std::net::Ipv6Addr;

/// Registration.
pub const SPEC: Spec = Spec {
    name: "ipvs",
    default_enabled: true,
    flags: &[Flag {
        name: LABELS_FLAG,
        help: "Comma separated list for IPVS backend stats labels.",
        kind: FlagKind::String,
        default: "local_address,local_port,remote_address,remote_port,proto,local_mark",
        aliases: &[],
    }],
    blocking: false,
    build,
};

const LABELS_FLAG: &str = "collector.ipvs.backend-labels";

/// The backend labels, in upstream's order.
const LABELS: [&str; 6] =
    ["local_address", "local_port", "remote_address", "remote_port", "proto", "local_mark"];

const STATS_PATH: &str = "proc/net/ip_vs_stats";
const BACKENDS_PATH: &str = "proc/net/ip_vs";

/// How much of `ip_vs` is read at a time: it grows with services and real servers.
const BLOCK: usize = 64 << 10;

#[derive(Debug)]
struct Ipvs {
    stats: File,
    backends: File,
    buf: Vec<u8>,
    labels: [bool; 6],
    table: Backends,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Ipvs {
        stats: File::new(b.paths.proc("net/ip_vs_stats")),
        backends: File::new(b.paths.proc("net/ip_vs")),
        buf: Vec::new(),
        labels: parse_labels(b.settings.str(LABELS_FLAG))
            .map_err(|e| format!("--{LABELS_FLAG}: {e}"))?,
        table: Backends::default(),
    }))
}

/// Which of [`LABELS`] the flag's comma-separated list keeps (empty items are ignored).
///
/// # Errors
/// Upstream's message listing the unknown names, sorted and deduplicated.
fn parse_labels(list: &str) -> Result<[bool; 6], String> {
    let mut keep = [false; 6];
    let mut unknown: Vec<&str> = Vec::new();
    for label in list.split(',').filter(|l| !l.is_empty()) {
        match LABELS.iter().position(|&l| l == label) {
            Some(i) => keep[i] = true,
            None => unknown.push(label),
        }
    }
    if unknown.is_empty() {
        return Ok(keep);
    }
    unknown.sort_unstable();
    unknown.dedup();
    let mut msg = String::from("unknown IPVS backend labels: ");
    // Written into a String, which cannot fail.
    let _ = crate::quote::write_str(&mut msg, unknown.join(", ").as_bytes());
    Err(msg)
}

impl Collector for Ipvs {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = match self.stats.read(&mut self.buf) {
            Ok(src) => src,
            // No IPVS module: nothing to report.
            Err(Errno::NOENT) => return Err(Error::NoData),
            Err(errno) => return Err(Error::Read { path: STATS_PATH, errno }),
        };
        let totals = scan_stats(src).map_err(Error::parse(STATS_PATH))?;
        // Upstream reports the totals before reading the backends, and keeps them when that
        // read fails; here a failed update reports nothing.
        let table = &mut self.table;
        table.clear();
        match self.backends.read_lines(&mut self.buf, BLOCK, |lines| table.feed(lines)) {
            Ok(Ok(())) => {}
            Ok(Err(err)) => return Err(Error::Parse { path: BACKENDS_PATH, err }),
            Err(errno) => return Err(Error::Read { path: BACKENDS_PATH, errno }),
        }
        for ((name, help), v) in TOTALS.iter().zip(totals) {
            let f = enc.family(name, help, Kind::Counter);
            enc.sample_u64(f, &[], v);
        }
        table.emit(enc, &self.labels);
        Ok(())
    }
}

const TOTALS: [(&str, &str); 5] = [
    ("node_ipvs_connections_total", "The total number of connections made."),
    ("node_ipvs_incoming_packets_total", "The total number of incoming packets."),
    ("node_ipvs_outgoing_packets_total", "The total number of outgoing packets."),
    ("node_ipvs_incoming_bytes_total", "The total amount of incoming data."),
    ("node_ipvs_outgoing_bytes_total", "The total amount of outgoing data."),
];

/// The five totals of `ip_vs_stats`: connections, packets in and out, bytes in and out.
///
/// # Errors
/// Fewer than three line ends, or a third line that is not five hexadecimal numbers.
pub fn scan_stats(src: &[u8]) -> Result<[u64; 5], ParseError> {
    // Upstream splits into at most four parts and needs all four: three newlines.
    let mut lines = src.split(|&b| b == b'\n');
    let third = lines.nth(2).filter(|_| lines.next().is_some());
    let third = third.ok_or(ParseError::at(0, "ip_vs_stats corrupt: too short"))?;
    let mut totals = [0u64; 5];
    let mut fields = lex::fields(third);
    for t in &mut totals {
        let field = fields.next().ok_or(ParseError::at(3, "expected five fields"))?;
        *t = lex::parse_hex_u64(field).ok_or(ParseError::at(3, "invalid hexadecimal number"))?;
    }
    if fields.next().is_some() {
        return Err(ParseError::at(3, "expected five fields"));
    }
    Ok(totals)
}

/// An address as procfs parses it from `ip_vs`.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Ip {
    V4([u8; 4]),
    V6([u8; 16]),
}

/// Parses `HHHHHHHH:PPPP` (IPv4, 13 bytes) or `[xxxx:...:xxxx]:PPPP` (IPv6, 46 bytes) as
/// procfs does: the port is the last four bytes, in hexadecimal.
fn parse_ip_port(s: &[u8]) -> Result<(Ip, u16), &'static str> {
    let ip = match s.len() {
        13 => {
            let mut b = [0u8; 4];
            for (i, byte) in b.iter_mut().enumerate() {
                *byte = lex::parse_uint(&s[2 * i..2 * i + 2], 16, 8)
                    .ok_or("invalid IPv4 address")? as u8;
            }
            Ip::V4(b)
        }
        46 => {
            let text = std::str::from_utf8(&s[1..40]).map_err(|_| "invalid IPv6 address")?;
            Ip::V6(text.parse::<Ipv6Addr>().map_err(|_| "invalid IPv6 address")?.octets())
        }
        _ => return Err("unexpected IP:Port"),
    };
    let port = lex::parse_uint(&s[s.len() - 4..], 16, 16).ok_or("invalid port")?;
    Ok((ip, port as u16))
}

/// Writes `ip` as Go's `net.IP.String` does: dotted quad for IPv4 and IPv4-mapped IPv6, else
/// lowercase groups without leading zeros, the first longest run of two or more zero groups
/// as `::`.
fn write_ip(out: &mut Vec<u8>, ip: Ip) {
    let v4 = |out: &mut Vec<u8>, b: &[u8]| {
        for (i, byte) in b.iter().enumerate() {
            if i > 0 {
                out.push(b'.');
            }
            out.extend_from_slice(itoa::Buffer::new().format(*byte).as_bytes());
        }
    };
    let b = match ip {
        Ip::V4(b) => return v4(out, &b),
        Ip::V6(b) if b[..10] == [0; 10] && b[10..12] == [0xff, 0xff] => return v4(out, &b[12..]),
        Ip::V6(b) => b,
    };
    let group = |i: usize| u16::from_be_bytes([b[2 * i], b[2 * i + 1]]);
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
        let digits = (16 - g.leading_zeros()).div_ceil(4).max(1);
        for d in (0..digits).rev() {
            out.push(b"0123456789abcdef"[usize::from((g >> (4 * d)) & 0xf)]);
        }
        i += 1;
    }
}

/// One real server, its label values as ranges of [`Backends::arena`] in [`LABELS`] order.
#[derive(Clone, Copy, Debug)]
struct Row {
    labels: [(u32, u32); 6],
    active: u64,
    inactive: u64,
    weight: u64,
}

/// The real servers of `ip_vs`, fed in blocks of lines, then summed by label values and
/// reported. All storage is kept and reused.
#[derive(Debug, Default)]
pub struct Backends {
    arena: Vec<u8>,
    rows: Vec<Row>,
    order: Vec<u32>,
    /// The current virtual service: protocol, firewall mark, address and port.
    proto: Vec<u8>,
    mark: Vec<u8>,
    local: Option<(Ip, u16)>,
    /// Lines seen so far.
    lines: usize,
}

impl Backends {
    /// Forgets the previous read.
    pub fn clear(&mut self) {
        self.arena.clear();
        self.rows.clear();
        self.proto.clear();
        self.mark.clear();
        self.local = None;
        self.lines = 0;
    }

    /// Adds the real servers of `lines`, whole lines of `ip_vs` in order.
    ///
    /// # Errors
    /// The first line with a single field (upstream indexes a second one and panics), a
    /// service or server address upstream cannot parse, or a weight or connection count that
    /// is not a decimal `u64`.
    pub fn feed(&mut self, lines: &[u8]) -> Result<(), ParseError> {
        for line in lex::go_lines(lines) {
            self.lines += 1;
            self.line(line).map_err(|what| ParseError::at(self.lines, what))?;
        }
        Ok(())
    }

    fn line(&mut self, line: &[u8]) -> Result<(), &'static str> {
        let mut f: [&[u8]; 6] = [b""; 6];
        let mut n = 0;
        for field in lex::fields(line) {
            if let Some(slot) = f.get_mut(n) {
                *slot = field;
            }
            n += 1;
        }
        match f[0] {
            _ if n == 0 => {}
            b"IP" | b"Prot" => {}
            _ if n < 2 => return Err("a single field"),
            _ if f[1] == b"RemoteAddress:Port" => {}
            b"TCP" | b"UDP" => {
                self.set_service(f[0], b"");
                self.local = Some(parse_ip_port(f[1])?);
            }
            b"FWM" => {
                self.set_service(f[0], f[1]);
                self.local = None;
            }
            // Lines too short for a server are skipped, as upstream skips them.
            b"->" if n >= 6 => {
                let (ip, port) = parse_ip_port(f[1])?;
                let number = |s| lex::parse_u64(s).ok_or("invalid number");
                let (weight, active, inactive) = (number(f[3])?, number(f[4])?, number(f[5])?);
                self.push_row(ip, port, weight, active, inactive);
            }
            _ => {}
        }
        Ok(())
    }

    fn set_service(&mut self, proto: &[u8], mark: &[u8]) {
        self.proto.clear();
        self.proto.extend_from_slice(proto);
        self.mark.clear();
        self.mark.extend_from_slice(mark);
    }

    fn push_row(&mut self, ip: Ip, port: u16, weight: u64, active: u64, inactive: u64) {
        let mut labels = [(0u32, 0u32); 6];
        for (i, range) in labels.iter_mut().enumerate() {
            let start = self.arena.len();
            let out = &mut self.arena;
            match i {
                0 => {
                    if let Some((ip, _)) = self.local {
                        write_ip(out, ip);
                    }
                }
                1 => {
                    let port = self.local.map_or(0, |(_, p)| p);
                    out.extend_from_slice(itoa::Buffer::new().format(port).as_bytes());
                }
                2 => write_ip(out, ip),
                3 => out.extend_from_slice(itoa::Buffer::new().format(port).as_bytes()),
                4 => out.extend_from_slice(&self.proto),
                _ => out.extend_from_slice(&self.mark),
            }
            *range = (start as u32, self.arena.len() as u32);
        }
        self.rows.push(Row { labels, active, inactive, weight });
    }

    /// A row's values of the kept labels: what its series are told apart by.
    fn key<'a>(&'a self, keep: &'a [bool; 6], r: u32) -> impl Iterator<Item = &'a [u8]> + 'a {
        let row = &self.rows[r as usize];
        (0..6).filter(|&i| keep[i]).map(move |i| self.value(row, i))
    }

    fn value(&self, row: &Row, label: usize) -> &[u8] {
        let (s, e) = row.labels[label];
        &self.arena[s as usize..e as usize]
    }

    /// Reports the rows summed over equal values of the `keep` labels. Allocates nothing
    /// beyond the growth of the kept buffers.
    pub fn emit(&mut self, enc: &mut Encoder, keep: &[bool; 6]) {
        // Upstream keys its sums on the values joined with `-`; no value here can hold a `-`
        // (addresses, numbers, TCP/UDP/FWM, a hexadecimal mark), so the key is the tuple.
        self.order.clear();
        self.order.extend(0..self.rows.len() as u32);
        let mut order = std::mem::take(&mut self.order);
        // Unstable: equal keys are summed, so their order does not matter, and it sorts in place.
        order.sort_unstable_by(|&a, &b| self.key(keep, a).cmp(self.key(keep, b)));
        let fams = [
            (
                "node_ipvs_backend_connections_active",
                "The current active connections by local and remote address.",
            ),
            (
                "node_ipvs_backend_connections_inactive",
                "The current inactive connections by local and remote address.",
            ),
            ("node_ipvs_backend_weight", "The current backend weight by local and remote address."),
        ]
        .map(|(name, help)| enc.family(name, help, Kind::Gauge));
        let mut i = 0;
        while i < order.len() {
            let first = order[i];
            let mut sums = [0u64; 3];
            while i < order.len() && self.key(keep, order[i]).eq(self.key(keep, first)) {
                let r = &self.rows[order[i] as usize];
                for (s, v) in sums.iter_mut().zip([r.active, r.inactive, r.weight]) {
                    *s = s.wrapping_add(v);
                }
                i += 1;
            }
            let row = &self.rows[first as usize];
            let mut labels: [Label<'_>; 6] = [("", &[][..]); 6];
            let mut n = 0;
            for (l, name) in LABELS.iter().enumerate().filter(|&(l, _)| keep[l]) {
                labels[n] = (name, self.value(row, l));
                n += 1;
            }
            for (&f, v) in fams.iter().zip(sums) {
                enc.sample_u64(f, &labels[..n], v);
            }
        }
        self.order = order;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fds_under, fixtures, put, render, tmpdir,
        try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    fn settings(labels: &str) -> Settings {
        let mut s = Settings::new();
        s.set(LABELS_FLAG, labels);
        s
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        assert_matches_e2e(&text);
        assert_eq!(samples(&text).len(), 35);
        assert_eq!(try_scrape(&mut *c).unwrap(), text);
    }

    #[test]
    fn fewer_labels_sum_backends() {
        let Some(root) = fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(&root), &settings("proto,,proto")).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        let backend: Vec<&str> =
            samples(&text).into_iter().filter(|l| l.contains("backend")).collect();
        assert_eq!(
            backend,
            [
                "node_ipvs_backend_connections_active{proto=\"FWM\"} 385",
                "node_ipvs_backend_connections_active{proto=\"TCP\"} 3741",
                "node_ipvs_backend_connections_inactive{proto=\"FWM\"} 6",
                "node_ipvs_backend_connections_inactive{proto=\"TCP\"} 5",
                "node_ipvs_backend_weight{proto=\"FWM\"} 120",
                "node_ipvs_backend_weight{proto=\"TCP\"} 600",
            ]
        );
        // No labels at all: one series per family, the sum of every backend.
        let mut c = build_spec(&SPEC, &Paths::under(&root), &settings("")).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        assert!(text.contains("\nnode_ipvs_backend_connections_active 4126\n"));
        assert!(text.contains("\nnode_ipvs_backend_weight 720\n"));
    }

    #[test]
    fn label_flag() {
        assert_eq!(parse_labels(SPEC.flags[0].default), Ok([true; 6]));
        assert_eq!(parse_labels("local_mark,proto"), Ok([false, false, false, false, true, true]));
        assert_eq!(parse_labels(""), Ok([false; 6]));
        assert_eq!(
            parse_labels("zed,proto,abc,zed").unwrap_err(),
            "unknown IPVS backend labels: \"abc, zed\""
        );
        let err = build_spec(&SPEC, &Paths::default(), &settings("x")).unwrap_err();
        assert_eq!(err, "--collector.ipvs.backend-labels: unknown IPVS backend labels: \"x\"");
    }

    #[test]
    fn addresses_as_go_prints_them() {
        // Expected strings from Go's net.ParseIP(...).String().
        for (kernel, want) in [
            ("[2001:0db8:0000:0000:0000:0000:0000:0001]:0050", "2001:db8::1"),
            ("[0000:0000:0000:0000:0000:ffff:c0a8:0001]:0050", "192.168.0.1"),
            ("[0000:0000:0000:0000:0000:0000:0102:0304]:0050", "::102:304"),
            ("[2001:0db8:0000:0001:0000:0000:0001:0000]:0050", "2001:db8:0:1::1:0"),
            ("[0000:0000:0000:0000:0000:0000:0000:0000]:0050", "::"),
            ("[fe80:0000:0000:0000:0202:b3ff:fe1e:8329]:0050", "fe80::202:b3ff:fe1e:8329"),
            ("[2001:0db8:0000:0000:0001:0000:0000:0001]:0050", "2001:db8::1:0:0:1"),
            ("[0001:0000:0002:0000:0003:0000:0004:0000]:0050", "1:0:2:0:3:0:4:0"),
            ("[0000:0000:0000:0000:0000:0000:0000:0001]:0050", "::1"),
            ("C0A80016:0CEA", "192.168.0.22"),
            ("0a000001:0050", "10.0.0.1"),
        ] {
            let (ip, port) = parse_ip_port(kernel.as_bytes()).unwrap();
            let mut out = Vec::new();
            write_ip(&mut out, ip);
            assert_eq!(String::from_utf8(out).unwrap(), want, "{kernel}");
            assert!(port == 80 || port == 3306);
        }
        for bad in [
            "C0A8001:0CEAx",
            "G0A80016:0CEA",
            "C0A80016:0CEZ",
            "C0A80016:0CE",
            "[2001:0db8:0000:0000:0000:0000:0000:000g]:0050",
            "[2001:0db8:0000:0000:0000:0000:0000:0001%0]:005",
            "[1.2.3.4]:0050",
        ] {
            assert!(parse_ip_port(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn services_and_servers() {
        let src = "IP Virtual Server version 1.2.1 (size=4096)\n\
                   Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n\
                   \x20 -> 0A000001:0050 Route 1 2 3\n\
                   UDP  [2001:0db8:0000:0000:0000:0000:0000:0001]:0035 rr\n\
                   \x20 -> [2001:0db8:0000:0000:0000:0000:0000:0002]:0035 Masq 1 2 3\n\
                   \x20 -> [2001:0db8:0000:0000:0000:0000:0000:0002]:0035 Masq 1 2 3\n\
                   \x20 -> 0A000002:0050 Route 1\n\
                   SCTP 0A000009:0050 rr\n\
                   \x20 -> 0A000003:0050 Route 4 5 6\n\n";
        let mut table = Backends::default();
        table.feed(src.as_bytes()).unwrap();
        let text = render(|enc| table.emit(enc, &[true; 6]));
        assert_eq!(
            samples(&text),
            [
                // A server before any service: no local address, port 0, no protocol.
                "node_ipvs_backend_connections_active{local_address=\"\",local_mark=\"\",local_port=\"0\",proto=\"\",remote_address=\"10.0.0.1\",remote_port=\"80\"} 2",
                // Two equal servers are summed.
                "node_ipvs_backend_connections_active{local_address=\"2001:db8::1\",local_mark=\"\",local_port=\"53\",proto=\"UDP\",remote_address=\"10.0.0.3\",remote_port=\"80\"} 5",
                "node_ipvs_backend_connections_active{local_address=\"2001:db8::1\",local_mark=\"\",local_port=\"53\",proto=\"UDP\",remote_address=\"2001:db8::2\",remote_port=\"53\"} 4",
                "node_ipvs_backend_connections_inactive{local_address=\"\",local_mark=\"\",local_port=\"0\",proto=\"\",remote_address=\"10.0.0.1\",remote_port=\"80\"} 3",
                "node_ipvs_backend_connections_inactive{local_address=\"2001:db8::1\",local_mark=\"\",local_port=\"53\",proto=\"UDP\",remote_address=\"10.0.0.3\",remote_port=\"80\"} 6",
                "node_ipvs_backend_connections_inactive{local_address=\"2001:db8::1\",local_mark=\"\",local_port=\"53\",proto=\"UDP\",remote_address=\"2001:db8::2\",remote_port=\"53\"} 6",
                "node_ipvs_backend_weight{local_address=\"\",local_mark=\"\",local_port=\"0\",proto=\"\",remote_address=\"10.0.0.1\",remote_port=\"80\"} 1",
                "node_ipvs_backend_weight{local_address=\"2001:db8::1\",local_mark=\"\",local_port=\"53\",proto=\"UDP\",remote_address=\"10.0.0.3\",remote_port=\"80\"} 4",
                "node_ipvs_backend_weight{local_address=\"2001:db8::1\",local_mark=\"\",local_port=\"53\",proto=\"UDP\",remote_address=\"2001:db8::2\",remote_port=\"53\"} 2",
            ],
            "an SCTP service is not one upstream knows: its servers stay under the UDP one"
        );
    }

    #[test]
    fn bad_input() {
        for (src, line) in [
            ("TCP  C0A80016:0CEA wlc\n  -> C0A85216:0CEA Tunnel x 1 2\n", 2),
            ("TCP  C0A80016:0CEA wlc\n  -> C0A85216:0CEA Tunnel 1 1 -2\n", 2),
            ("TCP  C0A80016:0CEA wlc\n  -> C0A85216:0CEA Tunnel 1 18446744073709551616 2\n", 2),
            ("TCP  C0A80016:0CEA wlc\n  -> C0A8521:0CEA Tunnel 1 1 2\n", 2),
            ("TCP  C0A8001:0CEA wlc\n", 1),
            ("TCP\n", 1),
            ("lonely\n", 1),
        ] {
            let mut table = Backends::default();
            assert_eq!(table.feed(src.as_bytes()).unwrap_err().line, line, "{src:?}");
        }
        for bad in
            ["", "a\nb\n", "a\nb\n1 2 3 4\n\n", "a\nb\n1 2 3 4 5 6\n\n", "a\nb\n1 2 3 4 x\n\n"]
        {
            assert!(scan_stats(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert_eq!(
            scan_stats(b"a\nb\n 1 a ff 0 10000000000000000\n"),
            Err(ParseError::at(3, "invalid hexadecimal number"))
        );
        assert_eq!(scan_stats(b"a\nb\n 1 a ff 0 10\n"), Ok([1, 10, 255, 0, 16]));
        // Three line ends are enough: the fourth part may be empty.
        assert_eq!(scan_stats(b"a\nb\n1 2 3 4 5\n"), Ok([1, 2, 3, 4, 5]));
    }

    #[test]
    fn missing_files() {
        let root = tmpdir("ipvs");
        let paths = Paths::under(&root);
        let mut c = build_spec(&SPEC, &paths, &Settings::new()).unwrap();
        assert_eq!(try_scrape(&mut *c), Err(Error::NoData));
        put(&root, "proc/net/ip_vs_stats", "a\nb\n 1 2 3 4 5\n\n");
        // Totals without the service list: a failure, and nothing reported.
        assert!(matches!(try_scrape(&mut *c), Err(Error::Read { path: BACKENDS_PATH, .. })));
        put(&root, "proc/net/ip_vs", "TCP  C0A80016:0CEA wlc\n  -> C0A85216:0CEA Tunnel 1 2 3\n");
        let text = try_scrape(&mut *c).unwrap();
        assert_eq!(samples(&text).len(), 8);
        put(&root, "proc/net/ip_vs", "TCP  C0A80016:0CEA wlc\n  -> C0A85216:0CEA Tunnel 1 2 x\n");
        assert!(matches!(try_scrape(&mut *c), Err(Error::Parse { path: BACKENDS_PATH, .. })));
        assert_eq!(fds_under(&root), 2);
        drop(c);
        assert_eq!(fds_under(&root), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            match try_scrape(&mut *c) {
                Ok(text) => assert!(text.contains("node_ipvs_connections_total ")),
                Err(Error::NoData) => {}
                Err(e @ Error::Read { errno: Errno::ACCESS | Errno::PERM, .. }) => eprintln!("{e}"),
                Err(e) => panic!("{e}"),
            }
        }
    }
}
