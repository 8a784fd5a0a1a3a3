//! `/proc/net/udp` and `/proc/net/udp6` → `node_udp_queues{ip,queue}`, the bytes queued in
//! all UDP sockets' send and receive buffers; node_exporter's udp_queues collector.
//!
//! A header, then one line per socket (proc_net(5), the kernel's net/ipv4/udp.c
//! `udp4_format_sock`): `   0: 00000000:0016 00000000:0000 0A 00000015:00000000 00:00000000
//! 00000000     0        0 2740 1 ffff88003d3af3c0 100 0 0 10 0`, the fifth field being the
//! hexadecimal `tx_queue:rx_queue`. Each line is checked as procfs checks it, and summed.
//!
//! The files grow with the number of sockets, so they are read in blocks of lines
//! ([`File::read_lines`]) rather than whole: memory stays bounded on a busy resolver.

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::File;
use rustix::io::Errno;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "udp_queues", default_enabled: true, flags: &[], blocking: false, build };

const PATHS: [&str; 2] = ["proc/net/udp", "proc/net/udp6"];

/// How much of a file is read at a time.
const BLOCK: usize = 64 << 10;

#[derive(Debug)]
struct UdpQueues {
    files: [File; 2],
    buf: Vec<u8>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(UdpQueues {
        files: [File::new(b.paths.proc("net/udp")), File::new(b.paths.proc("net/udp6"))],
        buf: Vec::new(),
    }))
}

impl Collector for UdpQueues {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        // Both files are summed before anything is reported, so a failure leaves nothing.
        let mut sums: [Option<Queues>; 2] = [None; 2];
        for (i, file) in self.files.iter_mut().enumerate() {
            let mut summer = Summer::default();
            match file.read_lines(&mut self.buf, BLOCK, |lines| summer.feed(lines)) {
                Ok(Ok(())) => sums[i] = Some(summer.sum),
                Ok(Err(err)) => return Err(Error::Parse { path: PATHS[i], err }),
                // No IPv4 or no IPv6: that family is left out.
                Err(Errno::NOENT) => {}
                Err(errno) => return Err(Error::Read { path: PATHS[i], errno }),
            }
        }
        if sums == [None, None] {
            return Err(Error::NoData);
        }
        let f = enc.family(
            "node_udp_queues",
            "Number of allocated memory in the kernel for UDP datagrams in bytes.",
            Kind::Gauge,
        );
        for (ip, sum) in ["v4", "v6"].into_iter().zip(sums) {
            let Some(q) = sum else { continue };
            enc.sample_u64(f, &[("queue", b"tx"), ("ip", ip.as_bytes())], q.tx);
            enc.sample_u64(f, &[("queue", b"rx"), ("ip", ip.as_bytes())], q.rx);
        }
        Ok(())
    }
}

/// The queue lengths of a file's sockets, summed (wrapping, as Go's `uint64` additions).
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Queues {
    /// Bytes in send buffers.
    pub tx: u64,
    /// Bytes in receive buffers.
    pub rx: u64,
}

/// Sums a file fed in blocks of whole lines; the first line is the header.
#[derive(Debug, Default)]
pub struct Summer {
    /// Lines seen so far.
    lines: usize,
    /// The sums so far.
    pub sum: Queues,
}

impl Summer {
    /// Adds the sockets of `lines`, whole lines of the file in order.
    ///
    /// # Errors
    /// The first socket line upstream rejects: fewer than 10 fields (13 for UDP, where
    /// upstream indexes the 13th unchecked), an `sl` without one colon or not an integer,
    /// an address that is not 4 or 16 hexadecimal bytes and a hexadecimal port, a queue pair
    /// that is not two hexadecimal numbers, or `st`, `uid`, `inode` or `drops` not integers.
    pub fn feed(&mut self, lines: &[u8]) -> Result<(), ParseError> {
        for line in lex::go_lines(lines) {
            self.lines += 1;
            // Upstream skips the first line whatever it holds.
            if self.lines == 1 {
                continue;
            }
            let (tx, rx) = parse_line(line).map_err(|what| ParseError::at(self.lines, what))?;
            self.sum.tx = self.sum.tx.wrapping_add(tx);
            self.sum.rx = self.sum.rx.wrapping_add(rx);
        }
        Ok(())
    }
}

/// Splits `s` at its one colon, as `strings.Split(s, ":")` with exactly two parts.
fn colon_pair(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = memchr::memchr(b':', s)?;
    let (a, b) = (&s[..i], &s[i + 1..]);
    (memchr::memchr(b':', b).is_none()).then_some((a, b))
}

/// An address as procfs decodes it: hexadecimal bytes, 4 (IPv4) or 16 (IPv6) of them.
fn is_address(hex: &[u8]) -> bool {
    matches!(hex.len(), 8 | 32) && hex.iter().all(u8::is_ascii_hexdigit)
}

fn parse_line(line: &[u8]) -> Result<(u64, u64), &'static str> {
    let mut f: [&[u8]; 13] = [b""; 13];
    let mut n = 0;
    for field in lex::fields(line) {
        if let Some(slot) = f.get_mut(n) {
            *slot = field;
        }
        n += 1;
    }
    if n < 10 {
        return Err("fewer than 10 fields");
    }
    let (sl, _) = colon_pair(f[0]).ok_or("sl is not `n:`")?;
    lex::parse_uint(sl, 0, 64).ok_or("invalid sl")?;
    for addr in [f[1], f[2]] {
        let (ip, port) = colon_pair(addr).ok_or("address is not `ip:port`")?;
        if !is_address(ip) {
            return Err("invalid address");
        }
        lex::parse_uint(port, 16, 64).ok_or("invalid port")?;
    }
    lex::parse_uint(f[3], 16, 64).ok_or("invalid st")?;
    let (tx, rx) = colon_pair(f[4]).ok_or("queues are not `tx:rx`")?;
    let tx = lex::parse_uint(tx, 16, 64).ok_or("invalid tx_queue")?;
    let rx = lex::parse_uint(rx, 16, 64).ok_or("invalid rx_queue")?;
    lex::parse_uint(f[7], 0, 64).ok_or("invalid uid")?;
    lex::parse_uint(f[9], 0, 64).ok_or("invalid inode")?;
    // Upstream reads `drops` from the 13th field without checking the count, and panics.
    if n < 13 {
        return Err("fewer than 13 fields");
    }
    lex::parse_uint(f[12], 0, 64).ok_or("invalid drops")?;
    Ok((tx, rx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fds_under, fixtures, put, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    const HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when \
                          retrnsmt   uid  timeout inode ref pointer drops\n";

    fn line(sl: u32, tx: u64, rx: u64) -> String {
        format!(
            "{sl:5}: 0100007F:0035 00000000:0000 07 {tx:08X}:{rx:08X} 00:00000000 00000000   \
             101        0 20011 2 0000000000000000 0\n"
        )
    }

    fn sum(src: &[u8]) -> Result<Queues, ParseError> {
        let mut s = Summer::default();
        s.feed(src)?;
        Ok(s.sum)
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(root), &Settings::new()).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        assert_matches_e2e(&text);
        assert_eq!(try_scrape(&mut *c).unwrap(), text);
    }

    #[test]
    fn sums_and_ipv6() {
        let src = format!("{HEADER}{}{}", line(0, 0x15, 1), line(1, 0x100, 0x200));
        assert_eq!(sum(src.as_bytes()), Ok(Queues { tx: 0x115, rx: 0x201 }));
        // Wrapping, as Go's uint64 sums.
        let src = format!("{HEADER}{}{}", line(0, u64::MAX, 0), line(1, 2, 0));
        assert_eq!(sum(src.as_bytes()), Ok(Queues { tx: 1, rx: 0 }));
        // The first line is skipped whatever it holds; fed in pieces, it is still the first.
        let mut s = Summer::default();
        s.feed(b"garbage\n").unwrap();
        s.feed(line(0, 3, 4).as_bytes()).unwrap();
        assert_eq!(s.sum, Queues { tx: 3, rx: 4 });
        assert_eq!(sum(b""), Ok(Queues::default()));
        // IPv6: 16-byte addresses; uid and inode take Go's base prefixes.
        let v6 = format!(
            "{HEADER}  1: 00000000000000000000000001000000:0222 \
             00000000000000000000000000000000:0000 07 00000010:00000020 00:00000000 00000000 \
             0x10 0 017 2 0000000000000000 0\n"
        );
        assert_eq!(sum(v6.as_bytes()), Ok(Queues { tx: 16, rx: 32 }));
    }

    #[test]
    fn bad_lines() {
        let good = line(0, 1, 1);
        let bad_lines = [
            good.replacen("  0:", "  0", 1),
            good.replacen("  0:", "0:1:", 1),
            good.replacen("  0:", "  x:", 1),
            good.replacen("0100007F:0035", "0100007F0035", 1),
            good.replacen("0100007F", "0100007", 1),
            good.replacen("0100007F", "0100007G", 1),
            good.replacen("0100007F", "010000", 1),
            good.replacen(":0035", ":zz", 1),
            good.replacen("00000000:0000", "00000000:0000:1", 1),
            good.replacen(" 07 ", " 7g ", 1),
            good.replacen("00000001:00000001", "00000001", 1),
            good.replacen("00000001:00000001", "00000001:x", 1),
            good.replacen("101", "-1", 1),
            good.replacen("20011", "2O011", 1),
            good.replacen("0000000000000000 0", "0000000000000000 x", 1),
            // Ten to twelve fields: upstream panics reading `drops`.
            "0: 00000000:0000 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 1\n"
                .to_owned(),
            "0: 00000000:0000 00000000:0000 07 00000000:00000000\n".to_owned(),
            "\n".to_owned(),
        ];
        for bad in bad_lines {
            let src = format!("{HEADER}{good}{bad}");
            let err = sum(src.as_bytes()).unwrap_err();
            assert_eq!(err.line, 3, "{bad:?}");
        }
    }

    #[test]
    fn files_missing_bad_and_large() {
        let root = tmpdir("udp-queues");
        let paths = Paths::under(&root);
        std::fs::create_dir_all(root.join("proc/net")).unwrap();
        let mut c = build_spec(&SPEC, &paths, &Settings::new()).unwrap();
        // Neither file: no data.
        assert_eq!(try_scrape(&mut *c), Err(Error::NoData));
        put(&root, "proc/net/udp6", &format!("{HEADER}{}", line(0, 5, 6)));
        let text = try_scrape(&mut *c).unwrap();
        assert!(text.ends_with(
            "node_udp_queues{ip=\"v6\",queue=\"rx\"} 6\nnode_udp_queues{ip=\"v6\",queue=\"tx\"} 5\n"
        ));
        assert!(!text.contains("v4"));
        // 20,000 sockets: read in blocks, summed whole.
        let many: String = (0..20_000).map(|i| line(i, 1, 2)).collect();
        put(&root, "proc/net/udp", &format!("{HEADER}{many}"));
        let text = try_scrape(&mut *c).unwrap();
        assert!(text.contains("node_udp_queues{ip=\"v4\",queue=\"tx\"} 20000\n"));
        assert!(text.contains("node_udp_queues{ip=\"v4\",queue=\"rx\"} 40000\n"));
        assert_eq!(fds_under(&root), 2);
        // A bad IPv6 line fails the update; IPv4's sums are not reported either.
        put(&root, "proc/net/udp6", &format!("{HEADER}0: x\n"));
        assert!(matches!(
            try_scrape(&mut *c),
            Err(Error::Parse { path: "proc/net/udp6", err: ParseError { line: 2, .. } })
        ));
        drop(c);
        assert_eq!(fds_under(&root), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            match try_scrape(&mut *c) {
                Ok(text) => assert!(text.contains("node_udp_queues{")),
                Err(Error::NoData) => assert!(!std::path::Path::new("/proc/net/udp").exists()),
                Err(e) => panic!("{e}"),
            }
        }
    }
}
