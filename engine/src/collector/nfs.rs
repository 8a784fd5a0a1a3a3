//! `/proc/net/rpc/nfs` → `node_nfs_*` (NFS client statistics); node_exporter's nfs collector.
//!
//! One line per kind of statistic, a keyword then decimal counters (nfsstat(8), the kernel's
//! net/sunrpc/stats.c `rpc_proc_show`): `net 70 70 69 45`, `rpc 1218785755 374636 1218815394`,
//! and for each protocol version the number of procedures followed by each procedure's count:
//! `proc3 22 0 1061909262 48906 ...`. A version or line the kernel leaves out is reported as
//! zeros, as upstream's zero-valued structs are.

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::File;
use rustix::io::Errno;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "nfs", default_enabled: true, flags: &[], blocking: false, build };

const PATH: &str = "proc/net/rpc/nfs";

#[derive(Debug)]
struct Nfs {
    file: File,
    buf: Vec<u8>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Nfs { file: File::new(b.paths.proc("net/rpc/nfs")), buf: Vec::new() }))
}

impl Collector for Nfs {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = match self.file.read(&mut self.buf) {
            Ok(src) => src,
            // No NFS client module loaded.
            Err(Errno::NOENT) => return Err(Error::NoData),
            Err(errno) => return Err(Error::Read { path: PATH, errno }),
        };
        let stats = scan(src).map_err(Error::parse(PATH))?;
        stats.emit(enc);
        Ok(())
    }
}

/// How many values of a line are kept; more are checked but not kept (no statistic upstream
/// reports sits past the 60th).
const KEPT: usize = 96;

/// A line's counters after its keyword: how many there were, and the first [`KEPT`].
#[derive(Clone, Copy, Debug)]
pub(super) struct Values {
    pub(super) v: [u64; KEPT],
    pub(super) n: usize,
}

impl Values {
    /// Parses every field as a decimal `u64`, as procfs' `ParseUint64s`.
    pub(super) fn parse<'a>(
        fields: impl Iterator<Item = &'a [u8]>,
    ) -> Result<Values, &'static str> {
        let mut values = Values { v: [0; KEPT], n: 0 };
        for field in fields {
            let x = lex::parse_u64(field).ok_or("value is not a 64-bit unsigned integer")?;
            if let Some(slot) = values.v.get_mut(values.n) {
                *slot = x;
            }
            values.n += 1;
        }
        Ok(values)
    }

    /// Exactly `n` values.
    pub(super) fn exactly(&self, n: usize) -> Result<&[u64], &'static str> {
        match self.n == n {
            true => Ok(&self.v[..n]),
            false => Err("unexpected number of values"),
        }
    }

    /// A procedure line: a count, then that many values, at least `min` of them. Returns
    /// the values after the count, zero-padded to [`KEPT`] - 1.
    pub(super) fn procedures(&self, min: u64) -> Result<&[u64], &'static str> {
        let count = self.v[0];
        match (self.n - 1) as u64 == count && count >= min {
            true => Ok(&self.v[1..]),
            false => Err("procedure count does not match its values"),
        }
    }
}

/// Splits a line into its keyword and counters, requiring at least one counter.
pub(super) fn keyword_and_fields(line: &[u8]) -> Result<(&[u8], lex::Fields<'_>), &'static str> {
    let mut fields = lex::fields(line);
    let keyword = fields.next().unwrap_or(b"");
    if fields.clone().next().is_none() {
        return Err("expected a keyword and values");
    }
    Ok((keyword, fields))
}

/// The NFSv2 procedures, in the kernel's order (procfs' field names).
pub(super) const V2: [&str; 18] = [
    "Null", "GetAttr", "SetAttr", "Root", "Lookup", "ReadLink", "Read", "WrCache", "Write",
    "Create", "Remove", "Rename", "Link", "SymLink", "MkDir", "RmDir", "ReadDir", "FsStat",
];

/// The NFSv3 procedures, in the kernel's order.
pub(super) const V3: [&str; 22] = [
    "Null",
    "GetAttr",
    "SetAttr",
    "Lookup",
    "Access",
    "ReadLink",
    "Read",
    "Write",
    "Create",
    "MkDir",
    "SymLink",
    "MkNod",
    "Remove",
    "RmDir",
    "Rename",
    "Link",
    "ReadDir",
    "ReadDirPlus",
    "FsStat",
    "FsInfo",
    "PathConf",
    "Commit",
];

/// The NFSv4 client operations procfs knows, in the kernel's order.
const V4: [&str; 59] = [
    "Null",
    "Read",
    "Write",
    "Commit",
    "Open",
    "OpenConfirm",
    "OpenNoattr",
    "OpenDowngrade",
    "Close",
    "Setattr",
    "FsInfo",
    "Renew",
    "SetClientID",
    "SetClientIDConfirm",
    "Lock",
    "Lockt",
    "Locku",
    "Access",
    "Getattr",
    "Lookup",
    "LookupRoot",
    "Remove",
    "Rename",
    "Link",
    "Symlink",
    "Create",
    "Pathconf",
    "StatFs",
    "ReadLink",
    "ReadDir",
    "ServerCaps",
    "DelegReturn",
    "GetACL",
    "SetACL",
    "FsLocations",
    "ReleaseLockowner",
    "Secinfo",
    "FsidPresent",
    "ExchangeID",
    "CreateSession",
    "DestroySession",
    "Sequence",
    "GetLeaseTime",
    "ReclaimComplete",
    "LayoutGet",
    "GetDeviceInfo",
    "LayoutCommit",
    "LayoutReturn",
    "SecinfoNoName",
    "TestStateID",
    "FreeStateID",
    "GetDeviceList",
    "BindConnToSession",
    "DestroyClientID",
    "Seek",
    "Allocate",
    "DeAllocate",
    "LayoutStats",
    "Clone",
];

/// The client statistics upstream reports.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Stats {
    /// `net`: packets, UDP packets, TCP packets, TCP connections.
    pub net: [u64; 4],
    /// `rpc`: calls, retransmissions, authentication refreshes.
    pub rpc: [u64; 3],
    /// `proc2`, `proc3`, `proc4`: each procedure's count, in `V2`, `V3`, `V4` order.
    pub v2: [u64; 18],
    /// See `v2`.
    pub v3: [u64; 22],
    /// See `v2`; an older kernel's shorter list is zero-padded.
    pub v4: [u64; 59],
}

impl Default for Stats {
    fn default() -> Stats {
        Stats { net: [0; 4], rpc: [0; 3], v2: [0; 18], v3: [0; 22], v4: [0; 59] }
    }
}

/// Parses the file's text; a later line of a kind replaces an earlier one.
///
/// # Errors
/// The first line without a keyword and at least one value, with a value that is not a
/// decimal `u64`, with an unknown keyword, or with the wrong number of values for its kind.
pub fn scan(src: &[u8]) -> Result<Stats, ParseError> {
    let mut s = Stats::default();
    for (n, line) in lex::go_lines(src).enumerate() {
        scan_line(&mut s, line).map_err(|what| ParseError::at(n + 1, what))?;
    }
    Ok(s)
}

fn scan_line(s: &mut Stats, line: &[u8]) -> Result<(), &'static str> {
    let (keyword, fields) = keyword_and_fields(line)?;
    let values = Values::parse(fields)?;
    match keyword {
        b"net" => s.net.copy_from_slice(values.exactly(4)?),
        b"rpc" => s.rpc.copy_from_slice(values.exactly(3)?),
        b"proc2" => s.v2.copy_from_slice(&values.procedures(18)?[..18]),
        b"proc3" => s.v3.copy_from_slice(&values.procedures(22)?[..22]),
        b"proc4" => s.v4.copy_from_slice(&values.procedures(0)?[..59]),
        _ => return Err("unknown line"),
    }
    Ok(())
}

impl Stats {
    /// Adds every family upstream reports.
    pub fn emit(&self, enc: &mut Encoder) {
        let f = enc.family(
            "node_nfs_packets_total",
            "Total NFSd network packets (sent+received) by protocol type.",
            Kind::Counter,
        );
        enc.sample_u64(f, &[("protocol", b"udp")], self.net[1]);
        enc.sample_u64(f, &[("protocol", b"tcp")], self.net[2]);
        let singles = [
            ("node_nfs_connections_total", "Total number of NFSd TCP connections.", self.net[3]),
            ("node_nfs_rpcs_total", "Total number of RPCs performed.", self.rpc[0]),
            (
                "node_nfs_rpc_retransmissions_total",
                "Number of RPC transmissions performed.",
                self.rpc[1],
            ),
            (
                "node_nfs_rpc_authentication_refreshes_total",
                "Number of RPC authentication refreshes performed.",
                self.rpc[2],
            ),
        ];
        for (name, help, v) in singles {
            let f = enc.family(name, help, Kind::Counter);
            enc.sample_u64(f, &[], v);
        }
        let f = enc.family(
            "node_nfs_requests_total",
            "Number of NFS procedures invoked.",
            Kind::Counter,
        );
        let versions: [(&[u8], &[&str], &[u64]); 3] =
            [(b"2", &V2, &self.v2), (b"3", &V3, &self.v3), (b"4", &V4, &self.v4)];
        for (proto, names, values) in versions {
            for (method, &v) in names.iter().zip(values) {
                enc.sample_u64(f, &[("proto", proto), ("method", method.as_bytes())], v);
            }
        }
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

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(root), &Settings::new()).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        assert_matches_e2e(&text);
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 6 + 18 + 22 + 59);
        assert_eq!(try_scrape(&mut *c).unwrap(), text);
    }

    #[test]
    fn lines_and_padding() {
        let src = "net 1 2 3 4\nrpc 5 6 7\nproc4 3 1 2 3\nrpc 8 9 10\n";
        let s = scan(src.as_bytes()).unwrap();
        assert_eq!(s.net, [1, 2, 3, 4]);
        assert_eq!(s.rpc, [8, 9, 10]);
        assert_eq!(&s.v4[..4], [1, 2, 3, 0]);
        assert_eq!(s.v2, [0; 18]);
        // A longer list than procfs knows: its first 59 are kept.
        let long: String = (1..=70).map(|i| format!(" {i}")).collect();
        let s = scan(format!("proc4 70{long}\n").as_bytes()).unwrap();
        assert_eq!(s.v4[58], 59);
        // Nothing at all reports zeros.
        let text = render(|enc| Stats::default().emit(enc));
        assert!(text.contains("\nnode_nfs_requests_total{method=\"Clone\",proto=\"4\"} 0\n"));
        assert!(text.contains("\nnode_nfs_packets_total{protocol=\"tcp\"} 0\n"));
        assert_eq!(scan(b""), Ok(Stats::default()));
    }

    #[test]
    fn bad_lines() {
        let proc2: String = (0..17).map(|i| format!(" {i}")).collect();
        for bad in [
            "net 1 2 3".to_owned(),
            "net 1 2 3 4 5".to_owned(),
            "rpc 1 2".to_owned(),
            "net".to_owned(),
            String::new(),
            "net 1 2 3 x".to_owned(),
            "net 1 2 3 -4".to_owned(),
            "net 1 2 3 18446744073709551616".to_owned(),
            "nfs 1".to_owned(),
            format!("proc2 17{proc2}"),
            format!("proc2 18{proc2}"),
            "proc3 1 1".to_owned(),
            "proc4 2 1".to_owned(),
            "proc4 18446744073709551615 1".to_owned(),
        ] {
            let src = format!("rpc 1 2 3\n{bad}\n");
            assert_eq!(scan(src.as_bytes()).unwrap_err().line, 2, "{bad:?}");
        }
    }

    #[test]
    fn missing_file_and_live_host() {
        let root = tmpdir("nfs");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert_eq!(try_scrape(&mut *c), Err(Error::NoData));
        put(&root, "proc/net/rpc/nfs", "net 1\n");
        assert!(matches!(try_scrape(&mut *c), Err(Error::Parse { path: PATH, .. })));
        put(&root, "proc/net/rpc/nfs", "net 1 2 3 4\n");
        assert!(try_scrape(&mut *c).unwrap().contains("\nnode_nfs_connections_total 4\n"));
        assert_eq!(fds_under(&root), 1);
        drop(c);
        assert_eq!(fds_under(&root), 0);
        std::fs::remove_dir_all(&root).unwrap();

        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            match try_scrape(&mut *c) {
                Ok(text) => assert!(text.contains("node_nfs_rpcs_total ")),
                Err(Error::NoData) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
}
