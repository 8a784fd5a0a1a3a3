//! `/proc/net/rpc/nfsd` → `node_nfsd_*` (NFS server statistics); node_exporter's nfsd
//! collector.
//!
//! One line per kind of statistic, a keyword then decimal counters (nfsstat(8), the kernel's
//! fs/nfsd/stats.c `nfsd_show`): `rc 0 6 18622` (reply cache), `io 157286400 72864`, `th 8 0
//! 0.000 ...` (threads: only the first two values are read), `net 972 55 917 1`, and per
//! protocol version a procedure count followed by the counts: `proc4ops 72 0 0 0 1098 ...`.
//! Lines the kernel leaves out are reported as zeros, as upstream's zero-valued structs are.

use super::nfs::{keyword_and_fields, Values, V2, V3};
use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::File;
use rustix::io::Errno;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "nfsd", default_enabled: true, flags: &[], blocking: false, build };

const PATH: &str = "proc/net/rpc/nfsd";

#[derive(Debug)]
struct Nfsd {
    file: File,
    buf: Vec<u8>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Nfsd { file: File::new(b.paths.proc("net/rpc/nfsd")), buf: Vec::new() }))
}

impl Collector for Nfsd {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = match self.file.read(&mut self.buf) {
            Ok(src) => src,
            // No NFS server module loaded.
            Err(Errno::NOENT) => return Err(Error::NoData),
            Err(errno) => return Err(Error::Read { path: PATH, errno }),
        };
        let stats = scan(src).map_err(Error::parse(PATH))?;
        stats.emit(enc);
        Ok(())
    }
}

/// The NFSv4 operations upstream reports, with each one's position in the `proc4ops` list
/// (after the count).
const V4_OPS: [(&str, usize); 35] = [
    ("Access", 3),
    ("Close", 4),
    ("Commit", 5),
    ("Create", 6),
    ("DelegPurge", 7),
    ("DelegReturn", 8),
    ("GetAttr", 9),
    ("GetFH", 10),
    ("Link", 11),
    ("Lock", 12),
    ("Lockt", 13),
    ("Locku", 14),
    ("Lookup", 15),
    ("LookupRoot", 16),
    ("Nverify", 17),
    ("Open", 18),
    ("OpenAttr", 19),
    ("OpenConfirm", 20),
    ("OpenDgrd", 21),
    ("PutFH", 22),
    ("Read", 25),
    ("ReadDir", 26),
    ("ReadLink", 27),
    ("Remove", 28),
    ("Rename", 29),
    ("Renew", 30),
    ("RestoreFH", 31),
    ("SaveFH", 32),
    ("SecInfo", 33),
    ("SetAttr", 34),
    ("SetClientID", 35),
    ("SetClientIDConfirm", 36),
    ("Verify", 37),
    ("Write", 38),
    // Only kernels since 2.6 list this 40th operation; 0 before.
    ("RelLockOwner", 39),
];

/// The server statistics upstream reports.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Stats {
    /// `rc`: hits, misses, not cached.
    pub reply_cache: [u64; 3],
    /// `fh`: stale, then four counters the kernel no longer updates.
    pub file_handles: [u64; 5],
    /// `io`: bytes read, bytes written.
    pub io: [u64; 2],
    /// `th`: threads, and times all were busy.
    pub threads: [u64; 2],
    /// `ra`: cache size, ten histogram buckets, not found.
    pub read_ahead: [u64; 12],
    /// `net`: packets, UDP packets, TCP packets, TCP connections.
    pub net: [u64; 4],
    /// `rpc`: calls, bad calls, bad format, bad authentication, bad client.
    pub rpc: [u64; 5],
    /// `proc2`, `proc3`: each procedure's count, in `V2` and `V3` order.
    pub v2: [u64; 18],
    /// See `v2`.
    pub v3: [u64; 22],
    /// `proc4ops`: the first 40 operations' counts.
    pub v4_ops: [u64; 40],
    /// `wdeleg_getattr`.
    pub wdeleg_getattr: u64,
}

impl Default for Stats {
    fn default() -> Stats {
        Stats {
            reply_cache: [0; 3],
            file_handles: [0; 5],
            io: [0; 2],
            threads: [0; 2],
            read_ahead: [0; 12],
            net: [0; 4],
            rpc: [0; 5],
            v2: [0; 18],
            v3: [0; 22],
            v4_ops: [0; 40],
            wdeleg_getattr: 0,
        }
    }
}

/// Parses the file's text; a later line of a kind replaces an earlier one.
///
/// # Errors
/// The first line without a keyword and at least one value (two for `th`), with a value
/// that is not a decimal `u64`, with an unknown keyword, or with the wrong number of values
/// for its kind (`proc4` exactly two procedures, `proc4ops` at least 39).
pub fn scan(src: &[u8]) -> Result<Stats, ParseError> {
    let mut s = Stats::default();
    for (n, line) in lex::go_lines(src).enumerate() {
        scan_line(&mut s, line).map_err(|what| ParseError::at(n + 1, what))?;
    }
    Ok(s)
}

fn scan_line(s: &mut Stats, line: &[u8]) -> Result<(), &'static str> {
    let (keyword, fields) = keyword_and_fields(line)?;
    let values = match keyword {
        // The thread line goes on with floats (a histogram the kernel stopped filling in);
        // only the first two values are read.
        b"th" => {
            let mut two = fields.clone().take(2);
            if fields.count() < 2 {
                return Err("expected two thread counts");
            }
            Values::parse(&mut two)?
        }
        _ => Values::parse(fields)?,
    };
    match keyword {
        b"rc" => s.reply_cache.copy_from_slice(values.exactly(3)?),
        b"fh" => s.file_handles.copy_from_slice(values.exactly(5)?),
        b"io" => s.io.copy_from_slice(values.exactly(2)?),
        b"th" => s.threads.copy_from_slice(values.exactly(2)?),
        b"ra" => s.read_ahead.copy_from_slice(values.exactly(12)?),
        b"net" => s.net.copy_from_slice(values.exactly(4)?),
        b"rpc" => s.rpc.copy_from_slice(values.exactly(5)?),
        b"proc2" => s.v2.copy_from_slice(&values.procedures(18)?[..18]),
        b"proc3" => s.v3.copy_from_slice(&values.procedures(22)?[..22]),
        b"proc4" => {
            // Checked as upstream checks it (NULL and COMPOUND), though not reported.
            if values.v[0] != 2 {
                return Err("expected two NFSv4 procedures");
            }
            values.procedures(2)?;
        }
        // The 40th operation is zero-padded for a 39-operation kernel.
        b"proc4ops" => s.v4_ops.copy_from_slice(&values.procedures(39)?[..40]),
        b"wdeleg_getattr" => s.wdeleg_getattr = values.v[0],
        _ => return Err("unknown line"),
    }
    Ok(())
}

impl Stats {
    /// Adds every family upstream reports.
    pub fn emit(&self, enc: &mut Encoder) {
        let counter = |enc: &mut Encoder, name: &str, help: &str, v: u64| {
            let f = enc.family(name, help, Kind::Counter);
            enc.sample_u64(f, &[], v);
        };
        let [hits, misses, nocache] = self.reply_cache;
        counter(
            enc,
            "node_nfsd_reply_cache_hits_total",
            "Total number of NFSd Reply Cache hits (client lost server response).",
            hits,
        );
        counter(
            enc,
            "node_nfsd_reply_cache_misses_total",
            "Total number of NFSd Reply Cache an operation that requires caching (idempotent).",
            misses,
        );
        counter(
            enc,
            "node_nfsd_reply_cache_nocache_total",
            "Total number of NFSd Reply Cache non-idempotent operations (rename/delete/…).",
            nocache,
        );
        counter(
            enc,
            "node_nfsd_file_handles_stale_total",
            "Total number of NFSd stale file handles",
            self.file_handles[0],
        );
        counter(enc, "node_nfsd_disk_bytes_read_total", "Total NFSd bytes read.", self.io[0]);
        counter(enc, "node_nfsd_disk_bytes_written_total", "Total NFSd bytes written.", self.io[1]);
        let f = enc.family(
            "node_nfsd_server_threads",
            "Total number of NFSd kernel threads that are running.",
            Kind::Gauge,
        );
        enc.sample_u64(f, &[], self.threads[0]);
        let f = enc.family(
            "node_nfsd_read_ahead_cache_size_blocks",
            "How large the read ahead cache is in blocks.",
            Kind::Gauge,
        );
        enc.sample_u64(f, &[], self.read_ahead[0]);
        counter(
            enc,
            "node_nfsd_read_ahead_cache_not_found_total",
            "Total number of NFSd read ahead cache not found.",
            self.read_ahead[11],
        );
        let f = enc.family(
            "node_nfsd_packets_total",
            "Total NFSd network packets (sent+received) by protocol type.",
            Kind::Counter,
        );
        enc.sample_u64(f, &[("proto", b"udp")], self.net[1]);
        enc.sample_u64(f, &[("proto", b"tcp")], self.net[2]);
        counter(
            enc,
            "node_nfsd_connections_total",
            "Total number of NFSd TCP connections.",
            self.net[3],
        );
        let f = enc.family(
            "node_nfsd_rpc_errors_total",
            "Total number of NFSd RPC errors by error type.",
            Kind::Counter,
        );
        enc.sample_u64(f, &[("error", b"fmt")], self.rpc[2]);
        enc.sample_u64(f, &[("error", b"auth")], self.rpc[3]);
        enc.sample_u64(f, &[("error", b"cInt")], self.rpc[4]);
        counter(enc, "node_nfsd_server_rpcs_total", "Total number of NFSd RPCs.", self.rpc[0]);

        let f = enc.family(
            "node_nfsd_requests_total",
            "Total number NFSd Requests by method and protocol.",
            Kind::Counter,
        );
        let mut request = |proto: &[u8], method: &str, v: u64| {
            enc.sample_u64(f, &[("proto", proto), ("method", method.as_bytes())], v);
        };
        // Every procedure but NULL.
        for (method, &v) in V2.iter().zip(&self.v2).skip(1) {
            request(b"2", method, v);
        }
        for (method, &v) in V3.iter().zip(&self.v3).skip(1) {
            request(b"3", method, v);
        }
        for (method, i) in V4_OPS {
            request(b"4", method, self.v4_ops[i]);
        }
        request(b"4", "WdelegGetattr", self.wdeleg_getattr);
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
        assert_eq!(text.lines().filter(|l| l.starts_with("# TYPE")).count(), 14);
        assert_eq!(try_scrape(&mut *c).unwrap(), text);
    }

    #[test]
    fn lines() {
        let ops: String = (1..=39).map(|i| format!(" {i}")).collect();
        let src = format!("th 8 3\nproc4ops 39{ops}\nwdeleg_getattr 15 16\nrc 1 2 3\nrc 4 5 6\n");
        let s = scan(src.as_bytes()).unwrap();
        assert_eq!(s.threads, [8, 3]);
        assert_eq!(s.v4_ops[38], 39);
        assert_eq!(s.v4_ops[39], 0);
        assert_eq!(s.wdeleg_getattr, 15);
        assert_eq!(s.reply_cache, [4, 5, 6]);
        let text = render(|enc| s.emit(enc));
        assert!(text.contains("\nnode_nfsd_requests_total{method=\"Write\",proto=\"4\"} 39\n"));
        assert!(text.contains("\nnode_nfsd_requests_total{method=\"Access\",proto=\"4\"} 4\n"));
        assert!(
            text.contains("\nnode_nfsd_requests_total{method=\"RelLockOwner\",proto=\"4\"} 0\n")
        );
        assert!(
            text.contains("\nnode_nfsd_requests_total{method=\"WdelegGetattr\",proto=\"4\"} 15\n")
        );
        assert!(!text.contains("method=\"Null\""));
        assert!(!text.contains("PutRootFH"));
        assert_eq!(scan(b""), Ok(Stats::default()));
    }

    #[test]
    fn bad_lines() {
        for bad in [
            "rc 1 2",
            "fh 0 0 0 0",
            "io 1",
            "th 8",
            "th 8 x 0.0",
            "ra 1 2 3",
            "net 1 2 3",
            "rpc 1 2 3 4",
            "proc2 1 1",
            "proc3 2 1 1",
            "proc4 3 1 2 3",
            "proc4 2 1",
            "proc4ops 38 1",
            "wdeleg_getattr x",
            "wdeleg_getattr",
            "nfsv9 1",
            "",
            "rc 1 2 -3",
        ] {
            let src = format!("io 1 2\n{bad}\n");
            assert_eq!(scan(src.as_bytes()).unwrap_err().line, 2, "{bad:?}");
        }
        // The thread line's floats are not read.
        assert!(scan(b"th 8 0 0.000 x\n").is_ok());
    }

    #[test]
    fn missing_file_and_live_host() {
        let root = tmpdir("nfsd");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert_eq!(try_scrape(&mut *c), Err(Error::NoData));
        put(&root, "proc/net/rpc/nfsd", "th 4 0\n");
        assert!(try_scrape(&mut *c).unwrap().contains("\nnode_nfsd_server_threads 4\n"));
        put(&root, "proc/net/rpc/nfsd", "th 4\n");
        assert!(matches!(try_scrape(&mut *c), Err(Error::Parse { path: PATH, .. })));
        assert_eq!(fds_under(&root), 1);
        drop(c);
        assert_eq!(fds_under(&root), 0);
        std::fs::remove_dir_all(&root).unwrap();

        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            match try_scrape(&mut *c) {
                Ok(text) => assert!(text.contains("node_nfsd_server_rpcs_total ")),
                Err(Error::NoData) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
}
