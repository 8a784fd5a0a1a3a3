//! `/proc/<pid>/mountstats` with `/proc/<pid>/mountinfo` → 53 `node_mountstats_nfs_*`
//! families `{export,protocol,mountaddr}` (per operation, `{...,operation}`); node_exporter's
//! mountstats collector. `<pid>` is what `/proc/self` points to when the collector is built.
//!
//! `mountstats` has a `device ... mounted on ... with fstype ...` line per mount; NFS mounts
//! add `statvers=1.1` and a block of statistics up to a blank line (the kernel's
//! fs/nfs/super.c `nfs_show_stats`, net/sunrpc/xprtsock.c `xs_tcp_print_stats`):
//!
//! ```text
//! device 192.168.1.1:/srv/test mounted on /mnt/nfs/test with fstype nfs4 statvers=1.1
//!     age:    13968
//!     events: 52 226 0 0 1 13 398 0 0 331 0 47 0 0 77 0 0 77 0 0 0 0 0 0 0 0 0
//!     bytes:  1207640230 0 0 0 1210214218 0 295483 0
//!     xprt:   tcp 832 0 1 0 11 6428 6428 0 12154 0 24 26 5726
//!     per-op statistics
//!             READ: 1298 1298 0 207680 1210292152 6 79386 79407
//! ```
//!
//! The server address (`mountaddr`) is the `addr=` superblock option of the `mountinfo` line
//! at the same position (proc(5)): the two files list mounts in the same order. A mount equal
//! to an earlier one in export, protocol and address is skipped, as upstream skips it.

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, FamilyId, Kind};
use crate::lex;
use crate::source::File;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "mountstats", default_enabled: false, flags: &[], blocking: false, build };

const STATS_PATH: &str = "proc/self/mountstats";
const INFO_PATH: &str = "proc/self/mountinfo";

#[derive(Debug)]
struct Mountstats {
    stats: File,
    info: File,
    stats_buf: Vec<u8>,
    info_buf: Vec<u8>,
    table: Table,
}

/// The process `/proc/self` names now, found as procfs finds it: the link's target with the
/// procfs path taken out, as a decimal number, which must exist under procfs.
fn self_pid(b: &Build<'_>) -> Result<String, String> {
    let fail = |e: &dyn std::fmt::Display| format!("failed to open /proc/self: {e}");
    let target = std::fs::read_link(b.paths.proc("self")).map_err(|e| fail(&e))?;
    let procfs = b.paths.procfs.to_string_lossy();
    let target = target.to_string_lossy().replace(&*procfs, "");
    let pid = lex::parse_int(target.as_bytes(), 10, 64)
        .ok_or_else(|| fail(&format_args!("invalid pid {target:?}")))?;
    let pid = pid.to_string();
    std::fs::metadata(b.paths.proc(&pid)).map_err(|e| fail(&e))?;
    Ok(pid)
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let pid = self_pid(b)?;
    Ok(Box::new(Mountstats {
        stats: File::new(b.paths.proc(&format!("{pid}/mountstats"))),
        info: File::new(b.paths.proc(&format!("{pid}/mountinfo"))),
        stats_buf: Vec::new(),
        info_buf: Vec::new(),
        table: Table::default(),
    }))
}

impl Collector for Mountstats {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let stats = self.stats.read(&mut self.stats_buf).map_err(Error::read(STATS_PATH))?;
        self.table.parse_stats(stats).map_err(Error::parse(STATS_PATH))?;
        let info = self.info.read(&mut self.info_buf).map_err(Error::read(INFO_PATH))?;
        self.table.parse_info(info).map_err(Error::parse(INFO_PATH))?;
        self.table.emit(stats, info, enc);
        Ok(())
    }
}

/// A range of one of the two files' bytes.
type Span = (u32, u32);

/// The byte range `part` takes within `whole`; an empty range for a part that is not a slice
/// of it (an empty default value).
fn span(whole: &[u8], part: &[u8]) -> Span {
    let start = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    match start.checked_add(part.len()) {
        Some(end) if end <= whole.len() => (start as u32, end as u32),
        _ => (0, 0),
    }
}

fn at(whole: &[u8], s: Span) -> &[u8] {
    &whole[s.0 as usize..s.1 as usize]
}

/// One `device` line.
#[derive(Clone, Copy, Debug)]
struct Mount {
    device: Span,
    /// Index into [`Table::nfs`], for a mount with statistics.
    nfs: Option<u32>,
}

/// An NFS mount's statistics.
#[derive(Clone, Copy, Debug)]
struct Nfs {
    age_ns: i64,
    bytes: [u64; 8],
    events: [u64; 27],
    protocol: Span,
    /// Port, bind, connect, connect idle, idle, sends, receives, bad XIDs, active, backlog,
    /// max slots, sending queue, pending queue: procfs' layout whatever the transport.
    xprt: [u64; 13],
    /// Range of [`Table::ops`].
    ops: (u32, u32),
}

const NO_NFS: Nfs =
    Nfs { age_ns: 0, bytes: [0; 8], events: [0; 27], protocol: (0, 0), xprt: [0; 13], ops: (0, 0) };

/// One per-operation line: its name and first eight counters.
#[derive(Clone, Copy, Debug)]
struct Op {
    name: Span,
    v: [u64; 8],
}

/// Both files parsed into spans and numbers; kept and cleared between scrapes.
#[derive(Debug, Default)]
pub struct Table {
    mounts: Vec<Mount>,
    nfs: Vec<Nfs>,
    ops: Vec<Op>,
    /// Per `mountinfo` line, its `addr=` value.
    addrs: Vec<Span>,
    order: Vec<u32>,
}

/// Up to `N` whitespace-separated fields of a line, and how many there were.
fn fields<const N: usize>(line: &[u8]) -> ([&[u8]; N], usize) {
    let mut out: [&[u8]; N] = [b""; N];
    let mut n = 0;
    for f in lex::fields(line) {
        if let Some(slot) = out.get_mut(n) {
            *slot = f;
        }
        n += 1;
    }
    (out, n)
}

fn numbers<const N: usize>(fields: &[&[u8]]) -> Result<[u64; N], &'static str> {
    let mut out = [0u64; N];
    for (slot, f) in out.iter_mut().zip(fields) {
        *slot = lex::parse_u64(f).ok_or("value is not a 64-bit unsigned integer")?;
    }
    Ok(out)
}

impl Table {
    /// Parses `mountstats`, as procfs does.
    ///
    /// # Errors
    /// The first line procfs rejects: a `device` line without its words in place, statistics
    /// on a mount that is not `nfs` or `nfs4`, an `opts:`, `age:`, `bytes:`, `events:` or
    /// `xprt:` line without values, an age Go's `ParseDuration` rejects, not exactly 8 bytes
    /// or 27 events counters, a transport line of the wrong length for its protocol and
    /// statistics version, or an operation line with fewer than 9 fields or a field that is
    /// not a decimal `u64`.
    pub fn parse_stats(&mut self, src: &[u8]) -> Result<(), ParseError> {
        self.mounts.clear();
        self.nfs.clear();
        self.ops.clear();
        let mut lines = lex::go_lines(src).enumerate().map(|(n, l)| (n + 1, l));
        while let Some((n, line)) = lines.next() {
            let (ss, count) = fields::<9>(line);
            if count == 0 || ss[0] != b"device" {
                continue;
            }
            let at = |what| ParseError::at(n, what);
            if count < 8
                || ss[2] != b"mounted"
                || ss[3] != b"on"
                || ss[5] != b"with"
                || ss[6] != b"fstype"
            {
                return Err(at("invalid device line"));
            }
            let mut mount = Mount { device: span(src, ss[1]), nfs: None };
            if count > 8 {
                if ss[7] != b"nfs" && ss[7] != b"nfs4" {
                    return Err(at("statistics on a mount that is not NFS"));
                }
                let version = ss[8].strip_prefix(b"statvers=").unwrap_or(ss[8]);
                let nfs = self.parse_nfs(src, &mut lines, version)?;
                mount.nfs = Some(self.nfs.len() as u32);
                self.nfs.push(nfs);
            }
            self.mounts.push(mount);
        }
        Ok(())
    }

    /// An NFS mount's block, up to its blank line; the operations come last, after a
    /// `per-op` line, up to the next blank line.
    fn parse_nfs<'a>(
        &mut self,
        src: &'a [u8],
        lines: &mut impl Iterator<Item = (usize, &'a [u8])>,
        version: &[u8],
    ) -> Result<Nfs, ParseError> {
        let mut s = NO_NFS;
        for (n, line) in lines.by_ref() {
            let (ss, count) = fields::<40>(line);
            if count == 0 {
                break;
            }
            let r = match ss[0] {
                b"opts:" | b"age:" | b"bytes:" | b"events:" if count < 2 => {
                    Err("statistics line without values")
                }
                b"age:" => age(ss[1]).map(|ns| s.age_ns = ns),
                b"bytes:" if count != 9 => Err("expected 8 byte counters"),
                b"bytes:" => numbers(&ss[1..9]).map(|v| s.bytes = v),
                b"events:" if count != 28 => Err("expected 27 event counters"),
                b"events:" => numbers(&ss[1..28]).map(|v| s.events = v),
                b"xprt:" if count < 3 => Err("transport line without values"),
                b"xprt:" => transport(&ss[2..count.min(40)], count - 2, ss[1], version).map(|v| {
                    s.protocol = span(src, ss[1]);
                    s.xprt = v;
                }),
                _ => Ok(()),
            };
            r.map_err(|what| ParseError::at(n, what))?;
            if ss[0] == b"per-op" {
                break;
            }
        }
        let first = self.ops.len() as u32;
        for (n, line) in lines.by_ref() {
            let (ss, count) = fields::<9>(line);
            if count == 0 {
                break;
            }
            let at = |what| ParseError::at(n, what);
            if count < 9 {
                return Err(at("expected an operation and at least 8 counters"));
            }
            // Every counter must parse, those past the eighth included.
            for f in lex::fields(line).skip(9) {
                lex::parse_u64(f).ok_or(at("value is not a 64-bit unsigned integer"))?;
            }
            let v = numbers(&ss[1..9]).map_err(at)?;
            let name = ss[0].strip_suffix(b":").unwrap_or(ss[0]);
            self.ops.push(Op { name: span(src, name), v });
        }
        s.ops = (first, self.ops.len() as u32);
        Ok(s)
    }

    /// Parses `mountinfo`, as procfs does, keeping each line's `addr=` superblock option.
    ///
    /// # Errors
    /// The first line with fewer than 10 space-separated fields, without `-` fourth from the
    /// end, or whose mount and parent IDs are not integers.
    pub fn parse_info(&mut self, src: &[u8]) -> Result<(), ParseError> {
        self.addrs.clear();
        for (n, line) in lex::go_lines(src).enumerate() {
            let at = |what| ParseError::at(n + 1, what);
            let count = memchr::memchr_iter(b' ', line).count() + 1;
            if count < 10 {
                return Err(at("too few fields"));
            }
            let mut parts = line.split(|&b| b == b' ');
            let (id, parent) = (parts.next().unwrap_or(b""), parts.next().unwrap_or(b""));
            let mut tail = line.rsplit(|&b| b == b' ');
            let options = tail.next().unwrap_or(b"");
            if tail.nth(2) != Some(b"-") {
                return Err(at("no separator"));
            }
            if lex::parse_int(id, 10, 64).is_none() || lex::parse_int(parent, 10, 64).is_none() {
                return Err(at("invalid mount ID"));
            }
            // The last `addr` wins; its value ends at a second `=`, as procfs splits it.
            let mut addr: &[u8] = b"";
            for opt in options.split(|&b| b == b',') {
                let mut kv = opt.split(|&b| b == b'=');
                if kv.next() == Some(b"addr") {
                    addr = kv.next().unwrap_or(b"");
                }
            }
            self.addrs.push(span(src, addr));
        }
        Ok(())
    }

    /// Reports each NFS mount not equal to an earlier one in export, protocol and address.
    pub fn emit(&mut self, stats: &[u8], info: &[u8], enc: &mut Encoder) {
        let addr = |i: usize| self.addrs.get(i).map_or(&b""[..], |&s| at(info, s));
        let key = |i: u32| {
            let m = self.mounts[i as usize];
            let proto = m.nfs.map_or((0, 0), |k| self.nfs[k as usize].protocol);
            (at(stats, m.device), at(stats, proto), addr(i as usize))
        };
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        order.extend(
            (0..self.mounts.len() as u32).filter(|&i| self.mounts[i as usize].nfs.is_some()),
        );
        // Equal mounts end up together, the earliest first.
        order.sort_unstable_by(|&a, &b| key(a).cmp(&key(b)).then(a.cmp(&b)));
        let mount_fams = MOUNT_FAMILIES.map(|(name, help, kind, _)| family(enc, name, help, kind));
        let op_fams = OP_FAMILIES.map(|(name, help, _)| family(enc, name, help, Kind::Counter));
        let mut prev = None;
        for &i in &order {
            let k = key(i);
            if prev == Some(k) {
                continue;
            }
            prev = Some(k);
            let s = &self.nfs[self.mounts[i as usize].nfs.unwrap_or(0) as usize];
            let labels = [("export", k.0), ("protocol", k.1), ("mountaddr", k.2)];
            for (&f, &(_, _, _, source)) in mount_fams.iter().zip(&MOUNT_FAMILIES) {
                enc.sample(f, &labels, source.value(s));
            }
            for op in &self.ops[s.ops.0 as usize..s.ops.1 as usize] {
                let labels = [labels[0], labels[1], labels[2], ("operation", at(stats, op.name))];
                for (&f, &(_, _, source)) in op_fams.iter().zip(&OP_FAMILIES) {
                    enc.sample(f, &labels, source.value(op));
                }
            }
        }
        self.order = order;
    }
}

fn family(enc: &mut Encoder, name: &str, help: &str, kind: Kind) -> FamilyId {
    enc.family_parts(&[b"node_mountstats_nfs_", name.as_bytes()], &[help.as_bytes()], kind)
}

/// The age line's seconds as procfs reads them: Go's `ParseDuration` of the value with `s`
/// appended (so `5m` would read as five milliseconds).
fn age(value: &[u8]) -> Result<i64, &'static str> {
    // The kernel writes at most 20 digits; longer values are refused rather than copied.
    let mut buf = [0u8; 64];
    let text = buf.get_mut(..value.len() + 1).ok_or("invalid age")?;
    text[..value.len()].copy_from_slice(value);
    text[value.len()] = b's';
    lex::parse_go_duration(text).ok_or("invalid age")
}

/// A transport line's counters (`values`, of which there were `count`) in procfs' layout:
/// UDP lacks connect count, connect idle time and idle time; RDMA lacks the three 1.1 queue
/// counters, which read as 0.
fn transport(
    values: &[&[u8]],
    count: usize,
    protocol: &[u8],
    version: &[u8],
) -> Result<[u64; 13], &'static str> {
    let ok = match (version, protocol) {
        (b"1.0", b"tcp") => count == 10,
        (b"1.0", b"udp") => count == 7,
        (b"1.1", b"tcp") => count == 13,
        (b"1.1", b"udp") => count == 10,
        (b"1.1", b"rdma") => count >= 20,
        (b"1.0" | b"1.1", _) => return Err("unknown NFS transport protocol"),
        _ => return Err("unknown NFS statistics version"),
    };
    if !ok {
        return Err("unexpected number of transport counters");
    }
    // procfs reads the counters into a slice of 31 and panics beyond it.
    if count > 31 {
        return Err("too many transport counters");
    }
    let mut ns = [0u64; 31];
    for (slot, f) in ns.iter_mut().zip(values) {
        *slot = lex::parse_u64(f).ok_or("value is not a 64-bit unsigned integer")?;
    }
    let mut out = [0u64; 13];
    match protocol {
        b"udp" => {
            out[..2].copy_from_slice(&ns[..2]);
            out[5..].copy_from_slice(&ns[2..10]);
        }
        b"rdma" => out[..10].copy_from_slice(&ns[..10]),
        _ => out.copy_from_slice(&ns[..13]),
    }
    Ok(out)
}

/// 2⁵³: counters are taken modulo it before they become floats, as upstream does for these.
const MANTISSA: u64 = 1 << 53;

/// Where a per-mount family's value comes from.
#[derive(Clone, Copy, Debug)]
enum Source {
    Age,
    Bytes(usize),
    Xprt(usize),
    /// A transport counter modulo 2⁵³.
    XprtMod(usize),
    Event(usize),
}

impl Source {
    fn value(self, s: &Nfs) -> f64 {
        match self {
            Source::Age => lex::go_seconds(s.age_ns),
            Source::Bytes(i) => s.bytes[i] as f64,
            Source::Xprt(i) => s.xprt[i] as f64,
            Source::XprtMod(i) => (s.xprt[i] % MANTISSA) as f64,
            Source::Event(i) => s.events[i] as f64,
        }
    }
}

/// Where a per-operation family's value comes from.
#[derive(Clone, Copy, Debug)]
enum OpSource {
    Count(usize),
    /// Milliseconds modulo 2⁵³, as seconds.
    Millis(usize),
}

impl OpSource {
    fn value(self, op: &Op) -> f64 {
        match self {
            OpSource::Count(i) => op.v[i] as f64,
            OpSource::Millis(i) => (op.v[i] % MANTISSA) as f64 / 1000.0,
        }
    }
}

const MOUNT_FAMILIES: [(&str, &str, Kind, Source); 45] = [
    ("age_seconds_total", "The age of the NFS mount in seconds.", Kind::Counter, Source::Age),
    ("read_bytes_total", "Number of bytes read using the read() syscall.", Kind::Counter, Source::Bytes(0)),
    ("write_bytes_total", "Number of bytes written using the write() syscall.", Kind::Counter, Source::Bytes(1)),
    ("direct_read_bytes_total", "Number of bytes read using the read() syscall in O_DIRECT mode.", Kind::Counter, Source::Bytes(2)),
    ("direct_write_bytes_total", "Number of bytes written using the write() syscall in O_DIRECT mode.", Kind::Counter, Source::Bytes(3)),
    ("total_read_bytes_total", "Number of bytes read from the NFS server, in total.", Kind::Counter, Source::Bytes(4)),
    ("total_write_bytes_total", "Number of bytes written to the NFS server, in total.", Kind::Counter, Source::Bytes(5)),
    ("read_pages_total", "Number of pages read directly via mmap()'d files.", Kind::Counter, Source::Bytes(6)),
    ("write_pages_total", "Number of pages written directly via mmap()'d files.", Kind::Counter, Source::Bytes(7)),
    ("transport_bind_total", "Number of times the client has had to establish a connection from scratch to the NFS server.", Kind::Counter, Source::Xprt(1)),
    ("transport_connect_total", "Number of times the client has made a TCP connection to the NFS server.", Kind::Counter, Source::Xprt(2)),
    ("transport_idle_time_seconds", "Duration since the NFS mount last saw any RPC traffic, in seconds.", Kind::Gauge, Source::XprtMod(4)),
    ("transport_sends_total", "Number of RPC requests for this mount sent to the NFS server.", Kind::Counter, Source::Xprt(5)),
    ("transport_receives_total", "Number of RPC responses for this mount received from the NFS server.", Kind::Counter, Source::Xprt(6)),
    ("transport_bad_transaction_ids_total", "Number of times the NFS server sent a response with a transaction ID unknown to this client.", Kind::Counter, Source::Xprt(7)),
    ("transport_backlog_queue_total", "Total number of items added to the RPC backlog queue.", Kind::Counter, Source::Xprt(9)),
    ("transport_maximum_rpc_slots", "Maximum number of simultaneously active RPC requests ever used.", Kind::Gauge, Source::Xprt(10)),
    ("transport_sending_queue_total", "Total number of items added to the RPC transmission sending queue.", Kind::Counter, Source::Xprt(11)),
    ("transport_pending_queue_total", "Total number of items added to the RPC transmission pending queue.", Kind::Counter, Source::Xprt(12)),
    ("event_inode_revalidate_total", "Number of times cached inode attributes are re-validated from the server.", Kind::Counter, Source::Event(0)),
    ("event_dnode_revalidate_total", "Number of times cached dentry nodes are re-validated from the server.", Kind::Counter, Source::Event(1)),
    ("event_data_invalidate_total", "Number of times an inode cache is cleared.", Kind::Counter, Source::Event(2)),
    ("event_attribute_invalidate_total", "Number of times cached inode attributes are invalidated.", Kind::Counter, Source::Event(3)),
    // Upstream's HELP text for the open count repeats the one above.
    ("event_vfs_open_total", "Number of times cached inode attributes are invalidated.", Kind::Counter, Source::Event(4)),
    ("event_vfs_lookup_total", "Number of times a directory lookup has occurred.", Kind::Counter, Source::Event(5)),
    ("event_vfs_access_total", "Number of times permissions have been checked.", Kind::Counter, Source::Event(6)),
    ("event_vfs_update_page_total", "Number of updates (and potential writes) to pages.", Kind::Counter, Source::Event(7)),
    ("event_vfs_read_page_total", "Number of pages read directly via mmap()'d files.", Kind::Counter, Source::Event(8)),
    ("event_vfs_read_pages_total", "Number of times a group of pages have been read.", Kind::Counter, Source::Event(9)),
    ("event_vfs_write_page_total", "Number of pages written directly via mmap()'d files.", Kind::Counter, Source::Event(10)),
    ("event_vfs_write_pages_total", "Number of times a group of pages have been written.", Kind::Counter, Source::Event(11)),
    ("event_vfs_getdents_total", "Number of times directory entries have been read with getdents().", Kind::Counter, Source::Event(12)),
    // And the one for setattr repeats getdents'.
    ("event_vfs_setattr_total", "Number of times directory entries have been read with getdents().", Kind::Counter, Source::Event(13)),
    ("event_vfs_flush_total", "Number of pending writes that have been forcefully flushed to the server.", Kind::Counter, Source::Event(14)),
    ("event_vfs_fsync_total", "Number of times fsync() has been called on directories and files.", Kind::Counter, Source::Event(15)),
    ("event_vfs_lock_total", "Number of times locking has been attempted on a file.", Kind::Counter, Source::Event(16)),
    ("event_vfs_file_release_total", "Number of times files have been closed and released.", Kind::Counter, Source::Event(17)),
    // Event 18, congestion waits, is not reported.
    ("event_truncation_total", "Number of times files have been truncated.", Kind::Counter, Source::Event(19)),
    ("event_write_extension_total", "Number of times a file has been grown due to writes beyond its existing end.", Kind::Counter, Source::Event(20)),
    ("event_silly_rename_total", "Number of times a file was removed while still open by another process.", Kind::Counter, Source::Event(21)),
    ("event_short_read_total", "Number of times the NFS server gave less data than expected while reading.", Kind::Counter, Source::Event(22)),
    ("event_short_write_total", "Number of times the NFS server wrote less data than expected while writing.", Kind::Counter, Source::Event(23)),
    ("event_jukebox_delay_total", "Number of times the NFS server indicated EJUKEBOX; retrieving data from offline storage.", Kind::Counter, Source::Event(24)),
    ("event_pnfs_read_total", "Number of NFS v4.1+ pNFS reads.", Kind::Counter, Source::Event(25)),
    ("event_pnfs_write_total", "Number of NFS v4.1+ pNFS writes.", Kind::Counter, Source::Event(26)),
];

const OP_FAMILIES: [(&str, &str, OpSource); 8] = [
    ("operations_requests_total", "Number of requests performed for a given operation.", OpSource::Count(0)),
    ("operations_transmissions_total", "Number of times an actual RPC request has been transmitted for a given operation.", OpSource::Count(1)),
    ("operations_major_timeouts_total", "Number of times a request has had a major timeout for a given operation.", OpSource::Count(2)),
    ("operations_sent_bytes_total", "Number of bytes sent for a given operation, including RPC headers and payload.", OpSource::Count(3)),
    ("operations_received_bytes_total", "Number of bytes received for a given operation, including RPC headers and payload.", OpSource::Count(4)),
    ("operations_queue_time_seconds_total", "Duration all requests spent queued for transmission for a given operation before they were sent, in seconds.", OpSource::Millis(5)),
    ("operations_response_time_seconds_total", "Duration all requests took to get a reply back after a request for a given operation was transmitted, in seconds.", OpSource::Millis(6)),
    ("operations_request_time_seconds_total", "Duration all requests took from when a request was enqueued to when it was completely handled for a given operation, in seconds.", OpSource::Millis(7)),
];

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

    fn scan(stats: &str, info: &str) -> Result<String, ParseError> {
        let mut t = Table::default();
        t.parse_stats(stats.as_bytes())?;
        t.parse_info(info.as_bytes())?;
        Ok(render(|enc| t.emit(stats.as_bytes(), info.as_bytes(), enc)))
    }

    const INFO: &str = "\
17 21 0:4 / /proc rw,nosuid - proc proc rw
194 21 0:42 / /mnt/a rw shared:144 - nfs4 srv:/a rw,vers=4.0,addr=10.0.0.1,local_lock=none
195 21 0:43 / /mnt/b rw - nfs srv:/b rw,mountaddr=10.0.0.9,addr=10.0.0.2
";

    fn block(export: &str, fstype: &str, xprt: &str, ops: &str) -> String {
        format!(
            "device {export} mounted on /mnt with fstype {fstype} statvers=1.1\n\
             \topts:\trw,vers=4.0\n\tage:\t100\n\tcaps:\tcaps=0xfff7\n\
             \tevents:\t1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27\n\
             \tbytes:\t1 2 3 4 5 6 7 8\n\tRPC iostats version: 1.0  p/v: 100003/4 (nfs)\n\
             \txprt:\t{xprt}\n\tper-op statistics\n{ops}\n"
        )
    }

    /// A procfs tree whose `self` links to the fixtures' process 10, as upstream's has it
    /// (the shared copy may hold the link as a plain file).
    fn fixture_proc(tag: &str) -> Option<std::path::PathBuf> {
        let fixtures = fixtures()?;
        let root = tmpdir(tag);
        std::fs::create_dir_all(root.join("proc")).unwrap();
        std::os::unix::fs::symlink(fixtures.join("proc/10"), root.join("proc/10")).unwrap();
        std::os::unix::fs::symlink("10", root.join("proc/self")).unwrap();
        Some(root)
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixture_proc("mountstats-fixture") else { return };
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        assert_matches_e2e(&text);
        assert_eq!(text.lines().filter(|l| l.starts_with("# TYPE")).count(), 53);
        assert_eq!(try_scrape(&mut *c).unwrap(), text);
        drop(c);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn values_and_labels() {
        let stats = format!(
            "device proc mounted on /proc with fstype proc\n{}{}",
            block(
                "srv:/a",
                "nfs4",
                "tcp 832 1 2 3 9007199254740993 5 6 7 8 9 10 11 12",
                "\t        NULL: 0 0 0 0 0 0 0 0\n\t        READ: 1 2 3 4 5 9007199254741993 1500 2 9\n"
            ),
            block("srv:/b", "nfs", "udp 832 1 5 6 7 8 9 10 11 12", "")
        );
        let text = scan(&stats, INFO).unwrap();
        for line in [
            "node_mountstats_nfs_age_seconds_total{export=\"srv:/a\",mountaddr=\"10.0.0.1\",protocol=\"tcp\"} 100",
            "node_mountstats_nfs_transport_idle_time_seconds{export=\"srv:/a\",mountaddr=\"10.0.0.1\",protocol=\"tcp\"} 1",
            "node_mountstats_nfs_transport_pending_queue_total{export=\"srv:/a\",mountaddr=\"10.0.0.1\",protocol=\"tcp\"} 12",
            "node_mountstats_nfs_operations_queue_time_seconds_total{export=\"srv:/a\",mountaddr=\"10.0.0.1\",operation=\"READ\",protocol=\"tcp\"} 1.001",
            "node_mountstats_nfs_operations_response_time_seconds_total{export=\"srv:/a\",mountaddr=\"10.0.0.1\",operation=\"READ\",protocol=\"tcp\"} 1.5",
            "node_mountstats_nfs_event_pnfs_write_total{export=\"srv:/a\",mountaddr=\"10.0.0.1\",protocol=\"tcp\"} 27",
            "node_mountstats_nfs_event_truncation_total{export=\"srv:/a\",mountaddr=\"10.0.0.1\",protocol=\"tcp\"} 20",
            // UDP: no connect count or idle time; the rest shift into place.
            "node_mountstats_nfs_transport_connect_total{export=\"srv:/b\",mountaddr=\"10.0.0.2\",protocol=\"udp\"} 0",
            "node_mountstats_nfs_transport_sends_total{export=\"srv:/b\",mountaddr=\"10.0.0.2\",protocol=\"udp\"} 5",
            "node_mountstats_nfs_transport_pending_queue_total{export=\"srv:/b\",mountaddr=\"10.0.0.2\",protocol=\"udp\"} 12",
        ] {
            assert!(text.contains(&format!("\n{line}\n")), "{line} missing from\n{text}");
        }
        assert_eq!(text.lines().filter(|l| l.starts_with("# TYPE")).count(), 53);
        // 45 per mount, 8 per operation.
        assert_eq!(samples(&text).len(), 2 * 45 + 2 * 8);
    }

    #[test]
    fn transports_and_versions() {
        let one = |xprt: &str, version: &str| {
            let stats = block("s:/x", "nfs", xprt, "").replace("statvers=1.1", version);
            let mut t = Table::default();
            t.parse_stats(stats.as_bytes()).map(|()| t.nfs[0].xprt)
        };
        assert_eq!(one("tcp 1 2 3 4 5 6 7 8 9 10", "statvers=1.0").unwrap()[9], 10);
        assert_eq!(
            one("udp 1 2 3 4 5 6 7", "statvers=1.0").unwrap(),
            [1, 2, 0, 0, 0, 3, 4, 5, 6, 7, 0, 0, 0]
        );
        let rdma: String = (1..=20).map(|i| format!(" {i}")).collect();
        assert_eq!(
            one(&format!("rdma{rdma}"), "statvers=1.1").unwrap(),
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0, 0]
        );
        let rdma31: String = (1..=31).map(|i| format!(" {i}")).collect();
        assert!(one(&format!("rdma{rdma31}"), "statvers=1.1").is_ok());
        for (xprt, version) in [
            ("tcp 1 2 3 4 5 6 7 8 9 10", "statvers=1.1"),
            ("tcp 1 2 3 4 5 6 7 8 9 10 11 12 13", "statvers=1.0"),
            ("udp 1 2 3 4 5 6 7 8 9", "statvers=1.1"),
            ("rdma 1 2 3", "statvers=1.1"),
            (&format!("rdma{rdma31} 32"), "statvers=1.1"),
            ("rdma 1 2 3 4 5 6 7 8 9 10", "statvers=1.0"),
            ("sctp 1 2 3 4 5 6 7 8 9 10", "statvers=1.0"),
            ("tcp 1 2 3 4 5 6 7 8 9 10", "statvers=2.0"),
            ("tcp 1 2 3 4 5 6 7 8 9 x 11 12 13", "statvers=1.1"),
            ("tcp", "statvers=1.1"),
        ] {
            assert!(one(xprt, version).is_err(), "{xprt} {version}");
        }
        // A version without the prefix is taken as it is.
        assert!(one("tcp 1 2 3 4 5 6 7 8 9 10", "1.0").is_ok());
    }

    #[test]
    fn duplicates_and_missing_addresses() {
        let a =
            block("srv:/a", "nfs4", "tcp 1 0 0 0 0 0 0 0 0 0 0 0 0", "\tREAD: 1 1 1 1 1 1 1 1\n");
        let a2 =
            block("srv:/a", "nfs4", "tcp 1 0 0 0 0 0 0 0 0 0 0 0 0", "\tWRITE: 2 2 2 2 2 2 2 2\n");
        // Same export, protocol and address: the second mount is skipped whole.
        let info =
            "1 1 0:1 / / rw - nfs4 s rw,addr=1.2.3.4\n2 1 0:2 / /x rw - nfs4 s addr=1.2.3.4,rw\n";
        let text = scan(&format!("{a}{a2}"), info).unwrap();
        assert!(text.contains("operation=\"READ\""));
        assert!(!text.contains("WRITE"));
        // Another address tells them apart; with fewer mountinfo lines the address is empty;
        // a value holding `=` ends at it, as procfs splits options.
        let info = "1 1 0:1 / / rw - nfs4 s addr=1.2.3.4=5,addr=9.9.9.9=1\n";
        let text = scan(&format!("{a}{a2}"), info).unwrap();
        assert!(text.contains("mountaddr=\"9.9.9.9\",operation=\"READ\""));
        assert!(text.contains("mountaddr=\"\",operation=\"WRITE\""));
        // No statistics at all (no NFS mount): nothing.
        assert_eq!(scan("device proc mounted on /proc with fstype proc\n", INFO).unwrap(), "");
        assert_eq!(scan("", "").unwrap(), "");
    }

    #[test]
    fn bad_mountstats() {
        let good =
            block("s:/x", "nfs", "tcp 1 2 3 4 5 6 7 8 9 10 11 12 13", "\tREAD: 1 2 3 4 5 6 7 8\n");
        for bad in [
            "device x mounted on",
            "device x mounted at /x with fstype nfs",
            "device x mounted on /x with fstype ext4 statvers=1.1",
            "device x mounted on /x with fstype nfs statvers=1.1\n\tage:",
            "device x mounted on /x with fstype nfs statvers=1.1\n\tage:\tx",
            "device x mounted on /x with fstype nfs statvers=1.1\n\tage:\t-",
            "device x mounted on /x with fstype nfs statvers=1.1\n\tage:\t99999999999",
            "device x mounted on /x with fstype nfs statvers=1.1\n\topts:",
            "device x mounted on /x with fstype nfs statvers=1.1\n\tbytes:\t1 2 3",
            "device x mounted on /x with fstype nfs statvers=1.1\n\tbytes:\t1 2 3 4 5 6 7 -8",
            "device x mounted on /x with fstype nfs statvers=1.1\n\tevents:\t1",
            "device x mounted on /x with fstype nfs statvers=1.1\n\tper-op statistics\n\tREAD: 1 2",
            "device x mounted on /x with fstype nfs statvers=1.1\n\tper-op statistics\n\tREAD: 1 2 3 4 5 6 7 8 x",
            "device x mounted on /x with fstype nfs statvers=1.1\n\tper-op statistics\n\tREAD: 1 2 3 4 5 6 7 18446744073709551616",
        ] {
            let src = format!("{good}{bad}\n");
            let mut t = Table::default();
            assert!(t.parse_stats(src.as_bytes()).is_err(), "{bad:?}");
        }
        // A block without per-op statistics reads on after its blank line, as procfs does:
        // the next device line is taken for an operation and fails.
        let no_ops = "device x mounted on /x with fstype nfs statvers=1.1\n\tage:\t1\n\n";
        let mut t = Table::default();
        assert!(t.parse_stats(format!("{no_ops}{good}").as_bytes()).is_err());
        assert!(t.parse_stats(no_ops.as_bytes()).is_ok());
        // Age is a Go duration of the value with `s` appended.
        let age = |v: &str| {
            let src = format!("device x mounted on /x with fstype nfs statvers=1.1\n\tage:\t{v}\n");
            let mut t = Table::default();
            t.parse_stats(src.as_bytes()).map(|()| t.nfs[0].age_ns)
        };
        assert_eq!(age("1.5"), Ok(1_500_000_000));
        assert_eq!(age("5m"), Ok(5_000_000));
        assert_eq!(age("9223372036"), Ok(9_223_372_036_000_000_000));
        // Extra counters on an operation line are checked, not kept.
        let extra = block(
            "s:/x",
            "nfs",
            "tcp 1 2 3 4 5 6 7 8 9 10 11 12 13",
            "\tREAD: 1 2 3 4 5 6 7 8 9 10",
        );
        assert!(Table::default().parse_stats(extra.as_bytes()).is_ok());
    }

    #[test]
    fn bad_mountinfo() {
        for bad in [
            "1 1 0:1 / / rw - nfs4 s",
            "1 1 0:1 / / rw x nfs4 s rw",
            "x 1 0:1 / / rw - nfs4 s rw",
            "1 1.5 0:1 / / rw - nfs4 s rw",
            "",
        ] {
            let src = format!("2 1 0:2 / /x rw - ext4 /dev/sda rw\n{bad}\n");
            let mut t = Table::default();
            assert_eq!(t.parse_info(src.as_bytes()).unwrap_err().line, 2, "{bad:?}");
        }
        // Double spaces make empty fields, as procfs splits on single spaces.
        let mut t = Table::default();
        assert!(t.parse_info(b"1 1 0:5 /  /root rw,nosuid shared:8 - rootfs rootfs rw\n").is_ok());
    }

    #[test]
    fn self_link_and_files() {
        let root = tmpdir("mountstats");
        let paths = Paths::under(&root);
        // No /proc/self: a build error, as upstream's.
        let err = build_spec(&SPEC, &paths, &Settings::new()).unwrap_err();
        assert!(err.starts_with("failed to open /proc/self: "), "{err}");
        std::fs::create_dir_all(root.join("proc/42")).unwrap();
        std::os::unix::fs::symlink("42", root.join("proc/self")).unwrap();
        let mut c = build_spec(&SPEC, &paths, &Settings::new()).unwrap();
        assert!(matches!(try_scrape(&mut *c), Err(Error::Read { path: STATS_PATH, .. })));
        let stats = block("srv:/a", "nfs4", "tcp 1 2 3 4 5 6 7 8 9 10 11 12 13", "");
        put(&root, "proc/42/mountstats", &stats);
        assert!(matches!(try_scrape(&mut *c), Err(Error::Read { path: INFO_PATH, .. })));
        put(&root, "proc/42/mountinfo", "x\n");
        assert!(matches!(try_scrape(&mut *c), Err(Error::Parse { path: INFO_PATH, .. })));
        put(&root, "proc/42/mountinfo", INFO);
        assert_eq!(samples(&try_scrape(&mut *c).unwrap()).len(), 45);
        assert_eq!(fds_under(&root), 2);
        drop(c);
        assert_eq!(fds_under(&root), 0);
        // procfs strips its own path from the target and leaves the slash: an absolute link
        // does not give a number, upstream's or here.
        std::fs::remove_file(root.join("proc/self")).unwrap();
        std::os::unix::fs::symlink(root.join("proc/42"), root.join("proc/self")).unwrap();
        assert!(build_spec(&SPEC, &paths, &Settings::new()).is_err());
        std::fs::remove_file(root.join("proc/self")).unwrap();
        std::os::unix::fs::symlink(
            format!("{}42", root.join("proc").display()),
            root.join("proc/self"),
        )
        .unwrap();
        assert!(build_spec(&SPEC, &paths, &Settings::new()).is_ok());
        std::fs::remove_file(root.join("proc/self")).unwrap();
        std::os::unix::fs::symlink("43", root.join("proc/self")).unwrap();
        assert!(build_spec(&SPEC, &paths, &Settings::new()).is_err());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            // NFS mounts or not, the host's files parse.
            try_scrape(&mut *c).unwrap();
        }
    }
}
