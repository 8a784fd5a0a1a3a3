//! `/proc/net/netstat`, `/proc/net/snmp` and `/proc/net/snmp6` → `node_netstat_<Proto>_<Field>`
//! (untyped); node_exporter's netstat collector.
//!
//! The first two files come in line pairs, a header of names and a line of values, each
//! starting with the protocol and a colon (see proc_net(5), the kernel's net/ipv4/proc.c):
//! `Tcp: RtoAlgorithm RtoMin ... InErrs` over `Tcp: 1 200 ... 5`. `snmp6` has one
//! `name value` per line, the protocol being the name up to its first `6`: `Udp6InDatagrams 37`
//! is field `InDatagrams` of protocol `Udp6`. Only the `Proto_Field` keys that
//! `--collector.netstat.fields` matches are reported; every value that upstream's merged table
//! holds must parse as a float, reported or not.
//!
//! # Implementation notes
//!
//! The regex decides per field *position*, and the positions only move when the kernel's header
//! lines change, which in practice is never while the exporter runs. So a [`Plan`] holds one
//! `Action` per position, made from the header bytes it keeps a copy of; each scrape compares
//! the files' headers with that copy (a `memcmp` per header line) and, when they are equal,
//! walks the values by position without running the regex or allocating. A changed header makes
//! a new plan, once.

use super::{Build, Collector, Error, Flag, FlagKind, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::File;
use regex::Regex;
use rustix::io::Errno;
use std::collections::HashMap;

/// Registration.
pub const SPEC: Spec = Spec {
    name: "netstat",
    default_enabled: true,
    flags: &[Flag {
        name: FIELDS,
        help: "Regexp of fields to return for netstat collector.",
        kind: FlagKind::Regex,
        default: "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|\
                  Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|\
                  TCPTimeouts|TCPOFOQueue)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|\
                  PassiveOpens|RetransSegs|CurrEstab)|\
                  Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$",
        aliases: &[],
    }],
    blocking: false,
    build,
};

const FIELDS: &str = "collector.netstat.fields";

/// The three files, in the order upstream merges them: a protocol in a later file replaces
/// the same protocol of an earlier one.
const PATHS: [&str; 3] = ["proc/net/netstat", "proc/net/snmp", "proc/net/snmp6"];

#[derive(Debug)]
struct Netstat {
    files: [File; 3],
    bufs: [Vec<u8>; 3],
    /// `None` for an empty flag, which (as Go's empty regexp) matches every key.
    fields: Option<Regex>,
    plan: Plan,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Netstat {
        files: PATHS.map(|p| File::new(b.paths.proc(&p["proc/".len()..]))),
        bufs: Default::default(),
        fields: b.settings.regex(FIELDS)?,
        plan: Plan::default(),
    }))
}

impl Collector for Netstat {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let [f0, f1, f2] = &mut self.files;
        let [b0, b1, b2] = &mut self.bufs;
        let netstat = f0.read(b0).map_err(Error::read(PATHS[0]))?;
        let snmp = f1.read(b1).map_err(Error::read(PATHS[1]))?;
        // A kernel without IPv6 has no snmp6; upstream then merges nothing from it.
        let snmp6: &[u8] = match f2.read(b2) {
            Ok(src) => src,
            Err(Errno::NOENT) => &[],
            Err(errno) => return Err(Error::Read { path: PATHS[2], errno }),
        };
        scan([netstat, snmp, snmp6], enc, &mut self.plan, self.fields.as_ref())
            .map_err(|(file, err)| Error::Parse { path: PATHS[file], err })
    }
}

/// What a scrape does with the value at one position.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Action {
    /// Shadowed (a later protocol block or a later equal name replaces it): not even parsed.
    Skip,
    /// In the merged table but not selected: must parse as a float, is not reported.
    Check,
    /// Selected: parsed and reported.
    Report,
    /// Selected, but `node_netstat_<key>` is not a valid metric name (upstream panics).
    BadName,
}

/// The per-position decisions for one set of header lines; see the module's notes.
#[derive(Debug, Default)]
pub struct Plan {
    /// Per file, the header bytes the actions were made from, one `\n`-terminated entry per
    /// header: a pair file's header lines, `snmp6`'s names.
    headers: [Vec<u8>; 3],
    /// One per field position, all files in order: a pair file's header fields after the
    /// protocol, one per `snmp6` line with a value.
    actions: Vec<Action>,
    valid: bool,
}

/// A pair file's `(line number, header, values)`: upstream reads two lines at a time, and a
/// header on the last line has an empty value line.
fn pairs(src: &[u8]) -> impl Iterator<Item = (usize, &[u8], &[u8])> {
    let mut lines = lex::go_lines(src);
    let mut n = 0;
    std::iter::from_fn(move || {
        let header = lines.next()?;
        let values = lines.next().unwrap_or(b"");
        n += 2;
        Some((n - 1, header, values))
    })
}

/// One `snmp6` line with a name and a value (upstream skips the others).
struct Row<'a> {
    /// 1-based.
    line: usize,
    name: &'a [u8],
    /// The name split after its first `6` into protocol and field; `None` without a `6`.
    key: Option<(&'a [u8], &'a [u8])>,
    value: &'a [u8],
}

fn snmp6_rows(src: &[u8]) -> impl Iterator<Item = Row<'_>> {
    lex::go_lines(src).enumerate().filter_map(|(n, line)| {
        let mut fields = lex::fields(line);
        let (name, value) = (fields.next()?, fields.next()?);
        let key = memchr::memchr(b'6', name).map(|i| name.split_at(i + 1));
        Some(Row { line: n + 1, name, key, value })
    })
}

/// The protocol of a pair's header: its first field, split on single spaces as upstream's
/// `strings.Split(line, " ")`, minus its last byte (the colon, which is not checked).
/// `None` for an empty first field, where upstream's unchecked `[:len-1]` panics.
fn protocol(header: &[u8]) -> Option<&[u8]> {
    let first = header.split(|&b| b == b' ').next().unwrap_or(b"");
    first.split_last().map(|(_, proto)| proto)
}

impl Plan {
    /// Whether the files' headers are the ones this plan was made from.
    fn matches(&self, srcs: &[&[u8]; 3]) -> bool {
        if !self.valid {
            return false;
        }
        let mut ok = true;
        for (file, src) in srcs.iter().enumerate() {
            let mut key = &self.headers[file][..];
            let mut take = |h: &[u8]| match key.strip_prefix(h) {
                Some(rest) if rest.first() == Some(&b'\n') => key = &rest[1..],
                _ => ok = false,
            };
            if file < 2 {
                pairs(src).for_each(|(_, header, _)| take(header));
            } else {
                snmp6_rows(src).for_each(|row| take(row.name));
            }
            if !ok || !key.is_empty() {
                return false;
            }
        }
        true
    }

    /// Makes the plan for the files' headers: upstream's merge, then the regex per surviving
    /// key. Allocates; runs only when the headers changed.
    fn rebuild(&mut self, srcs: &[&[u8]; 3], fields: Option<&Regex>) {
        struct Entry<'a> {
            /// Protocol and name; `None` for an `snmp6` name without a `6`.
            key: Option<(&'a [u8], &'a [u8])>,
            /// Which block of its file the entry came from (a pair; all of `snmp6` is one).
            block: (usize, usize),
        }
        let mut entries: Vec<Entry<'_>> = Vec::new();
        for h in &mut self.headers {
            h.clear();
        }
        for (file, src) in srcs.iter().enumerate().take(2) {
            for (pair, (_, header, _)) in pairs(src).enumerate() {
                self.headers[file].extend_from_slice(header);
                self.headers[file].push(b'\n');
                let proto = protocol(header).unwrap_or(b"");
                for name in header.split(|&b| b == b' ').skip(1) {
                    entries.push(Entry { key: Some((proto, name)), block: (file, pair) });
                }
            }
        }
        for row in snmp6_rows(srcs[2]) {
            self.headers[2].extend_from_slice(row.name);
            self.headers[2].push(b'\n');
            entries.push(Entry { key: row.key, block: (2, 0) });
        }

        // The block whose protocol table wins: the last block naming it, later files last.
        let mut winner: HashMap<&[u8], (usize, usize)> = HashMap::new();
        for e in &entries {
            if let Some((proto, _)) = e.key {
                winner.insert(proto, e.block);
            }
        }
        // Within the winning block, the last of equal names wins.
        let mut last: HashMap<(&[u8], &[u8]), usize> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            if let Some(key) = e.key.filter(|(p, _)| winner.get(p) == Some(&e.block)) {
                last.insert(key, i);
            }
        }
        self.actions.clear();
        for (i, e) in entries.iter().enumerate() {
            let action = match e.key {
                Some(key @ (proto, name)) if last.get(&key) == Some(&i) => {
                    let mut full = Vec::with_capacity(proto.len() + 1 + name.len());
                    full.extend_from_slice(proto);
                    full.push(b'_');
                    full.extend_from_slice(name);
                    // Go's regexp reads invalid UTF-8 as U+FFFD, as the lossy decoding does.
                    let selected =
                        fields.is_none_or(|re| re.is_match(&String::from_utf8_lossy(&full)));
                    match (selected, lex::is_name_tail(&full)) {
                        (false, _) => Action::Check,
                        (true, true) => Action::Report,
                        (true, false) => Action::BadName,
                    }
                }
                _ => Action::Skip,
            };
            self.actions.push(action);
        }
        self.valid = true;
    }
}

/// Scans the three files' text into `enc`, reporting the keys `fields` matches (all for
/// `None`), through `plan`, which is remade when the headers changed. An absent `snmp6` is
/// passed as empty. Allocates nothing while the headers stay the same.
///
/// # Errors
/// The file (index into the three) and line of the first header and value line that differ
/// in field count, empty header, value that does not parse, or selected key that is not a
/// valid metric name; nothing is then left in `enc`.
pub fn scan(
    srcs: [&[u8]; 3],
    enc: &mut Encoder,
    plan: &mut Plan,
    fields: Option<&Regex>,
) -> Result<(), (usize, ParseError)> {
    if !plan.matches(&srcs) {
        plan.rebuild(&srcs, fields);
    }
    let cp = enc.checkpoint();
    let r = emit(&srcs, enc, &plan.actions);
    if r.is_err() {
        enc.rollback(cp);
    }
    r
}

fn emit(
    srcs: &[&[u8]; 3],
    enc: &mut Encoder,
    actions: &[Action],
) -> Result<(), (usize, ParseError)> {
    let mut actions = actions.iter().copied();
    for (file, src) in srcs.iter().enumerate().take(2) {
        for (n, header, values) in pairs(src) {
            let err = |what| (file, ParseError::at(n, what));
            let count = |line: &[u8]| memchr::memchr_iter(b' ', line).count();
            if count(header) != count(values) {
                return Err(err("header and value lines differ in field count"));
            }
            let proto = protocol(header).ok_or(err("empty protocol in header line"))?;
            let names = header.split(|&b| b == b' ').skip(1);
            let vals = values.split(|&b| b == b' ').skip(1);
            for (name, value) in names.zip(vals) {
                let action = actions.next().unwrap_or(Action::Skip);
                report(enc, action, proto, name, value)
                    .map_err(|what| (file, ParseError::at(n + 1, what)))?;
            }
        }
    }
    for row in snmp6_rows(srcs[2]) {
        let action = actions.next().unwrap_or(Action::Skip);
        if let Some((proto, name)) = row.key {
            report(enc, action, proto, name, row.value)
                .map_err(|what| (2, ParseError::at(row.line, what)))?;
        }
    }
    Ok(())
}

fn report(
    enc: &mut Encoder,
    action: Action,
    proto: &[u8],
    name: &[u8],
    value: &[u8],
) -> Result<(), &'static str> {
    if action == Action::Skip {
        return Ok(());
    }
    let v = lex::parse_f64(value).ok_or("invalid value")?;
    match action {
        Action::Report => {
            let f = enc.family_parts(
                &[b"node_netstat_", proto, b"_", name],
                &[b"Statistic ", proto, name, b"."],
                Kind::Untyped,
            );
            enc.sample(f, &[], v);
            Ok(())
        }
        Action::BadName => Err("field name is not a valid metric name"),
        Action::Check | Action::Skip => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fds_under, fixture, fixtures, put, render, scrape,
        tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    fn default_fields() -> Regex {
        Regex::new(SPEC.flags[0].default).unwrap()
    }

    fn scan_text(srcs: [&str; 3], fields: Option<&Regex>) -> Result<String, (usize, ParseError)> {
        let mut plan = Plan::default();
        let mut result = Ok(());
        let text = render(|enc| {
            result = scan(srcs.map(str::as_bytes), enc, &mut plan, fields);
        });
        result.map(|()| text)
    }

    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let first = try_scrape(&mut *c).unwrap();
        assert_matches_e2e(&first);
        assert_eq!(samples(&first).len(), 40);
        // The second scrape runs on the kept plan and must say the same.
        assert_eq!(try_scrape(&mut *c).unwrap(), first);
    }

    #[test]
    fn fixture_files_through_scan() {
        let (Some(a), Some(b), Some(c)) = (fixture(PATHS[0]), fixture(PATHS[1]), fixture(PATHS[2]))
        else {
            return;
        };
        let re = default_fields();
        let mut plan = Plan::default();
        let text = render(|enc| scan([&a, &b, &c], enc, &mut plan, Some(&re)).unwrap());
        assert_matches_e2e(&text);
        // Everything, with an empty flag: every field of the merged table.
        let all = render(|enc| scan([&a, &b, &c], enc, &mut Plan::default(), None).unwrap());
        assert!(all.contains("\nnode_netstat_Tcp_MaxConn -1\n"));
        assert!(all.contains("# HELP node_netstat_Icmp6_OutType133 Statistic Icmp6OutType133.\n"));
        assert!(all.contains("# TYPE node_netstat_TcpExt_TW untyped\n"));
    }

    const NETSTAT: &str = "\
TcpExt: SyncookiesSent ListenDrops TW
TcpExt: 1 2 3
IpExt: InOctets OutOctets
IpExt: 10 20
";
    const SNMP: &str = "\
Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 5
Tcp: MaxConn CurrEstab InErrs
Tcp: -1 4 5
";
    const SNMP6: &str = "\
Ip6InReceives                   \t7
Ip6InOctets 1.5e3
Udp6InDatagrams 9
Icmp6InMsgs 3
NoSixHere 1
lonely
";

    #[test]
    fn selection_names_and_help() {
        let re = default_fields();
        let text = scan_text([NETSTAT, SNMP, SNMP6], Some(&re)).unwrap();
        assert_eq!(
            samples(&text),
            [
                "node_netstat_Icmp6_InMsgs 3",
                "node_netstat_Ip6_InOctets 1500",
                "node_netstat_IpExt_InOctets 10",
                "node_netstat_IpExt_OutOctets 20",
                "node_netstat_Ip_Forwarding 1",
                "node_netstat_TcpExt_ListenDrops 2",
                "node_netstat_TcpExt_SyncookiesSent 1",
                "node_netstat_Tcp_CurrEstab 4",
                "node_netstat_Tcp_InErrs 5",
                "node_netstat_Udp6_InDatagrams 9",
            ]
        );
        assert!(text.contains(
            "# HELP node_netstat_TcpExt_ListenDrops Statistic TcpExtListenDrops.\n\
             # TYPE node_netstat_TcpExt_ListenDrops untyped\n"
        ));
        // Unanchored: a match anywhere in the key.
        let re = Regex::new("Octets").unwrap();
        let text = scan_text([NETSTAT, SNMP, SNMP6], Some(&re)).unwrap();
        assert_eq!(samples(&text).len(), 3);
        // A missing snmp6 is passed as empty.
        let text = scan_text([NETSTAT, SNMP, ""], None).unwrap();
        assert_eq!(samples(&text).len(), 11);
        assert_eq!(scan_text(["", "", ""], None).unwrap(), "");
    }

    #[test]
    fn merge_as_upstream() {
        // A later block of the same protocol replaces the earlier one wholesale, within a file
        // and across files (snmp over netstat, snmp6 over both); among equal names the last
        // wins; values of replaced blocks are not even parsed.
        let netstat = "Tcp: A B\nTcp: x 2\nTcp: A C\nTcp: 3 4\nUdp: D D\nUdp: 5 6\n";
        let snmp = "Udp: E\nUdp: 7\nFoo6: G\nFoo6: junk\n";
        let snmp6 = "Foo6H 8\nFoo6H 9\n";
        let text = scan_text([netstat, snmp, snmp6], None).unwrap();
        assert_eq!(
            samples(&text),
            [
                "node_netstat_Foo6_H 9",
                "node_netstat_Tcp_A 3",
                "node_netstat_Tcp_C 4",
                "node_netstat_Udp_E 7"
            ]
        );
        // A value that survives the merge must parse even when it is not reported.
        let bad = "Tcp: A B\nTcp: 1 x\n";
        let re = Regex::new("Tcp_A").unwrap();
        assert_eq!(
            scan_text([bad, "", ""], Some(&re)).unwrap_err(),
            (0, ParseError::at(2, "invalid value"))
        );
    }

    #[test]
    fn plan_is_kept_and_remade() {
        let re = default_fields();
        let mut plan = Plan::default();
        let run = |srcs: [&str; 3], plan: &mut Plan| {
            render(|enc| scan(srcs.map(str::as_bytes), enc, plan, Some(&re)).unwrap())
        };
        let first = run([NETSTAT, SNMP, SNMP6], &mut plan);
        assert!(plan.valid);
        let actions = plan.actions.clone();
        // New values, same headers: the plan stays, the values are new.
        let netstat2 = NETSTAT.replace("TcpExt: 1 2 3", "TcpExt: 100 200 300");
        let second = run([&netstat2, SNMP, SNMP6], &mut plan);
        assert!(plan.matches(&[netstat2.as_bytes(), SNMP.as_bytes(), SNMP6.as_bytes()]));
        assert_eq!(plan.actions, actions);
        assert!(second.contains("\nnode_netstat_TcpExt_ListenDrops 200\n"));
        assert_ne!(first, second);
        // A header that changes shape (a field appears in front) moves every position.
        let netstat3 = "TcpExt: TW SyncookiesSent ListenDrops\nTcpExt: 3 1 2\n";
        assert!(!plan.matches(&[netstat3.as_bytes(), SNMP.as_bytes(), SNMP6.as_bytes()]));
        let third = run([netstat3, SNMP, SNMP6], &mut plan);
        assert!(third.contains("\nnode_netstat_TcpExt_ListenDrops 2\n"));
        assert!(third.contains("\nnode_netstat_TcpExt_SyncookiesSent 1\n"));
        assert!(!third.contains("TW"));
        // An snmp6 line gone, or one more, is a new plan too.
        let fewer = SNMP6.replace("Icmp6InMsgs 3\n", "");
        assert!(!plan.matches(&[netstat3.as_bytes(), SNMP.as_bytes(), fewer.as_bytes()]));
        let more = format!("{SNMP6}Udp6NoPorts 4\n");
        assert!(!plan.matches(&[netstat3.as_bytes(), SNMP.as_bytes(), more.as_bytes()]));
        assert!(run([netstat3, SNMP, &more], &mut plan).contains("\nnode_netstat_Udp6_NoPorts 4\n"));
    }

    #[test]
    fn bad_input() {
        let cases: [([&str; 3], usize, u32); 9] = [
            // Field counts differ.
            (["Tcp: A B\nTcp: 1\n", "", ""], 0, 1),
            (["Tcp: A\nTcp: 1 2\n", "", ""], 0, 1),
            // A header without values on the last line.
            (["", "Tcp: A\n", ""], 1, 1),
            // Empty header line: upstream panics.
            (["\n\n", "", ""], 0, 1),
            ([" A\n 1\n", "", ""], 0, 1),
            // Values that are not floats, or beyond f64.
            (["", "Udp: InErrors\nUdp: x\n", ""], 1, 2),
            (["", "Udp: InErrors\nUdp: 1e400\n", ""], 1, 2),
            (["", "", "Udp6InErrors x\n"], 2, 1),
            // A selected key that is no metric name: upstream panics.
            (["", "Ud-p: InErrors\nUd-p: 1\n", ""], 1, 2),
        ];
        let re = default_fields();
        for (srcs, file, line) in cases {
            let mut plan = Plan::default();
            let mut enc = Encoder::new();
            // Something valid first, so a partial result would show.
            let err = scan(
                [&format!("Ip: Forwarding\nIp: 1\n{}", srcs[0]), srcs[1], srcs[2]]
                    .map(|s| s.as_bytes()),
                &mut enc,
                &mut plan,
                Some(&re),
            );
            let (f, e) = err.unwrap_err();
            let line = if file == 0 { line + 2 } else { line };
            assert_eq!((f, e.line), (file, line), "{srcs:?}: {e}");
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "a failed scan left samples behind: {srcs:?}");
        }
        // Huge but valid numbers are floats; a bare header with no fields has no values.
        let text = scan_text(["Foo:\n", "Udp: InErrors\nUdp: 18446744073709551616\n", ""], None);
        assert!(text.unwrap().contains("\nnode_netstat_Udp_InErrors 1.8446744073709552e+19\n"));
        // Unreported invalid names, CRLF line ends, and snmp6 lines without a value are fine.
        let ok = scan_text(["A-b: X\r\nA-b: 1\r\n", "", "lonely\nIp6X 2\n"], Some(&re)).unwrap();
        assert_eq!(ok, "");
    }

    #[test]
    fn bad_regex_is_a_build_error() {
        let mut s = Settings::new();
        s.set(FIELDS, "(");
        let err = build_spec(&SPEC, &Paths::default(), &s).unwrap_err();
        assert!(err.contains("--collector.netstat.fields"), "{err}");
    }

    #[test]
    fn missing_files() {
        let root = tmpdir("netstat-files");
        put(&root, "proc/net/netstat", NETSTAT);
        put(&root, "proc/net/snmp", SNMP);
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        // No snmp6 (IPv6 disabled): the other two still report.
        let text = scrape(&mut *c);
        assert_eq!(samples(&text).len(), 7);
        put(&root, "proc/net/snmp6", SNMP6);
        assert_eq!(samples(&scrape(&mut *c)).len(), 10);
        assert_eq!(fds_under(&root), 3);
        drop(c);
        assert_eq!(fds_under(&root), 0);
        // Without snmp or netstat the collector fails, as upstream's (not "no data").
        std::fs::remove_file(root.join("proc/net/snmp")).unwrap();
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert!(matches!(try_scrape(&mut *c), Err(Error::Read { path: "proc/net/snmp", .. })));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            match try_scrape(&mut *c) {
                Ok(text) => assert!(text.contains("node_netstat_Tcp_CurrEstab ")),
                Err(e @ Error::Read { .. }) if !std::path::Path::new("/proc/net/snmp").exists() => {
                    eprintln!("{e}")
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
}
