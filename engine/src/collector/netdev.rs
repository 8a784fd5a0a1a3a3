//! `/proc/net/dev` → `node_network_{receive,transmit}_*_total`; node_exporter's netdev
//! collector as it runs with `--no-collector.netdev.netlink`.
//!
//! Two header lines, then one line per interface: the name, a colon, 8 receive and 8 transmit
//! counters (see proc_net(5) and the kernel's `dev_seq_printf_stats` in net/core/net-procfs.c):
//! `  eth0: 136826399    4890    0    0    0     0          0         0   282639 ...`.
//! The kernel pads names to six columns, so a long name runs into its first counter
//! (`enp0s31f6:1234`): the name ends at the line's last colon, not at whitespace.
//!
//! Upstream's default rtnetlink path, and `--collector.netdev.address-info`, come with the
//! netlink source; until then this collector reads the file.

use super::device_filter::DeviceFilter;
use super::{Build, Collector, Error, Flag, FlagKind, ParseError, Settings, Spec};
use crate::encode::{Encoder, FamilyId, Kind};
use crate::lex;
use crate::source::{Entries, File};

/// Registration.
pub const SPEC: Spec =
    Spec { name: "netdev", default_enabled: true, flags: FLAGS, blocking: false, build };

const INCLUDE: &str = "collector.netdev.device-include";
const INCLUDE_OLD: &str = "collector.netdev.device-whitelist";
const EXCLUDE: &str = "collector.netdev.device-exclude";
const EXCLUDE_OLD: &str = "collector.netdev.device-blacklist";
const DETAILED: &str = "collector.netdev.enable-detailed-metrics";

const FLAGS: &[Flag] = &[
    Flag {
        name: INCLUDE,
        help: "Regexp of net devices to include (mutually exclusive to device-exclude).",
        kind: FlagKind::Regex,
        default: "",
        aliases: &[INCLUDE_OLD],
    },
    Flag {
        name: EXCLUDE,
        help: "Regexp of net devices to exclude (mutually exclusive to device-include).",
        kind: FlagKind::Regex,
        default: "",
        aliases: &[EXCLUDE_OLD],
    },
    Flag {
        name: DETAILED,
        help: "Use (incompatible) metric names that provide more detailed stats on Linux",
        kind: FlagKind::Bool,
        default: "false",
        aliases: &[],
    },
];

const PATH: &str = "proc/net/dev";

/// The counter columns' names, in file order, as upstream reports them by default: the
/// kernel's own `/proc/net/dev` header words, which upstream calls "legacy" names.
pub const LEGACY: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errs",
    "receive_drop",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errs",
    "transmit_drop",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

/// The same columns with `--collector.netdev.enable-detailed-metrics`, which on the file path
/// only renames the error and drop counters (the finer rtnetlink counters are not in the file).
const DETAILED_NAMES: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errors",
    "receive_dropped",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errors",
    "transmit_dropped",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let names = if b.settings.bool(DETAILED) { &DETAILED_NAMES } else { &LEGACY };
    Ok(Box::new(Netdev {
        file: File::new(b.paths.proc("net/dev")),
        buf: Vec::new(),
        names,
        filter: filter(b.settings)?,
        ignored: Entries::new(),
    }))
}

/// The device filter from the flags. Neither pattern has a default; giving both, or an old
/// name together with its new one, is an error, as upstream. Old names are looked up under
/// their own names, so this holds whether the command line files an alias's value under the
/// alias or under the flag.
fn filter(s: &Settings) -> Result<DeviceFilter, String> {
    let pick = |new: &'static str, old: &'static str| -> Result<(&'static str, &str), String> {
        match (s.str(new), s.str(old)) {
            (value, "") => Ok((new, value)),
            ("", value) => Ok((old, value)),
            (a, b) if a == b => Ok((new, a)),
            _ => Err(format!("--{old} and --{new} are mutually exclusive")),
        }
    };
    let (include_flag, include) = pick(INCLUDE, INCLUDE_OLD)?;
    let (exclude_flag, exclude) = pick(EXCLUDE, EXCLUDE_OLD)?;
    if !include.is_empty() && !exclude.is_empty() {
        return Err(format!("--{exclude_flag} and --{include_flag} are mutually exclusive"));
    }
    DeviceFilter::new(exclude_flag, exclude, include_flag, include)
}

#[derive(Debug)]
struct Netdev {
    file: File,
    buf: Vec<u8>,
    names: &'static [&'static str; 16],
    filter: DeviceFilter,
    /// The filter's verdict per interface, kept while the interface is listed, so the regexes
    /// run once per interface rather than once per scrape.
    ignored: Entries<bool>,
}

impl Collector for Netdev {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = self.file.read(&mut self.buf).map_err(Error::read(PATH))?;
        let (filter, ignored) = (&self.filter, &mut self.ignored);
        ignored.begin();
        scan(src, enc, self.names, |name| {
            *ignored.get_or_insert_with(name, || filter.is_ignored(name))
        })
        .map_err(Error::parse(PATH))?;
        ignored.end();
        Ok(())
    }
}

/// Scans `/proc/net/dev` into `enc`, reporting the interfaces for which `is_ignored` is false
/// under the column names `names`. Allocates nothing beyond the encoder's own growth.
///
/// # Errors
/// The first interface line without a colon or name, with fewer than 16 counters, or with a
/// counter that is not a `u64`; nothing is then left in `enc`. Upstream's parser rejects the
/// same lines (it panics on a short one); columns past the 16th are ignored, as there.
pub fn scan(
    src: &[u8],
    enc: &mut Encoder,
    names: &[&str; 16],
    mut is_ignored: impl FnMut(&[u8]) -> bool,
) -> Result<(), ParseError> {
    let fams = names.map(|key| {
        let key = key.as_bytes();
        enc.family_parts(
            &[b"node_network_", key, b"_total"],
            &[b"Network device statistic ", key, b"."],
            Kind::Counter,
        )
    });
    let cp = enc.checkpoint();
    // The two header lines are skipped whatever they hold, as upstream does.
    for (n, line) in lex::lines(src).enumerate().skip(2) {
        if let Err(what) = scan_line(line, enc, &fams, &mut is_ignored) {
            enc.rollback(cp);
            return Err(ParseError::at(n + 1, what));
        }
    }
    Ok(())
}

fn scan_line(
    line: &[u8],
    enc: &mut Encoder,
    fams: &[FamilyId; 16],
    is_ignored: &mut impl FnMut(&[u8]) -> bool,
) -> Result<(), &'static str> {
    let colon = memchr::memrchr(b':', line).ok_or("no colon after the interface name")?;
    let name = lex::trim(&line[..colon]);
    if name.is_empty() {
        return Err("empty interface name");
    }
    let mut values = [0u64; 16];
    let mut fields = lex::fields(&line[colon + 1..]);
    for v in &mut values {
        let field = fields.next().ok_or("fewer than 16 counters")?;
        *v = lex::parse_u64(field).ok_or("counter is not a 64-bit unsigned integer")?;
    }
    // Checked after parsing, so an ignored interface's bad line still fails the scrape, as
    // upstream's parser reads every line before filtering.
    if !is_ignored(name) {
        for (&fam, v) in fams.iter().zip(values) {
            enc.sample_u64(fam, &[("device", name)], v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        build as build_spec, e2e_lines, fds_under, render, scrape, tmpdir,
    };
    use crate::source::Paths;

    /// Laid out as the kernel prints it (`%6s:%8llu %7llu %4llu ...`): short names padded,
    /// a long name glued to an 8-digit-plus byte count.
    const DEV: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0
  eth0: 136826399    4890    1    2    3     4          5         6   282639    2837    7    8    9    10      11         12
enp0s31f6:18446744073709551615    4890    0    0    0     0          0         0   282639    2837    0    0    0     0       0          0
";

    fn scan_text(src: &str, names: &[&str; 16], ignore: &[&str]) -> Result<String, ParseError> {
        let mut result = Ok(());
        let text = render(|enc| {
            result = scan(src.as_bytes(), enc, names, |n| ignore.iter().any(|i| i.as_bytes() == n))
        });
        result.map(|()| text)
    }

    #[test]
    fn help_and_type_match_upstream() {
        let text = scan_text(DEV, &LEGACY, &[]).unwrap();
        let families: Vec<&str> =
            text.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next()).collect();
        assert_eq!(families.len(), 16);
        // Upstream's scrape took lo from the live host, so only HELP and TYPE carry over.
        let Some(want) = e2e_lines(&families) else { return };
        let want: Vec<&str> =
            want.iter().map(String::as_str).filter(|l| l.starts_with('#')).collect();
        let got: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn values_and_names() {
        let text = scan_text(DEV, &LEGACY, &[]).unwrap();
        for line in [
            "node_network_receive_bytes_total{device=\"lo\"} 3193",
            "node_network_receive_errs_total{device=\"eth0\"} 1",
            "node_network_receive_drop_total{device=\"eth0\"} 2",
            "node_network_receive_multicast_total{device=\"eth0\"} 6",
            "node_network_transmit_colls_total{device=\"eth0\"} 10",
            "node_network_transmit_compressed_total{device=\"eth0\"} 12",
            "node_network_receive_bytes_total{device=\"enp0s31f6\"} 1.8446744073709552e+19",
        ] {
            assert!(text.contains(&format!("\n{line}\n")), "{line} missing from\n{text}");
        }
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 48);

        let detailed = scan_text(DEV, &DETAILED_NAMES, &["lo", "enp0s31f6"]).unwrap();
        assert!(detailed.contains("\nnode_network_receive_errors_total{device=\"eth0\"} 1\n"));
        assert!(detailed.contains("\nnode_network_transmit_dropped_total{device=\"eth0\"} 8\n"));
        assert!(detailed.contains(
            "# HELP node_network_receive_dropped_total Network device statistic receive_dropped.\n"
        ));
        assert!(!detailed.contains("_errs_total"));
        assert!(!detailed.contains("\"lo\""));
    }

    #[test]
    fn header_only_and_empty() {
        let header: String = DEV.lines().take(2).map(|l| format!("{l}\n")).collect();
        assert_eq!(scan_text(&header, &LEGACY, &[]).unwrap(), "");
        assert_eq!(scan_text("", &LEGACY, &[]).unwrap(), "");
        // Extra columns after the 16th are ignored.
        let extra = format!("{header}  eth1: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18\n");
        assert!(scan_text(&extra, &LEGACY, &[]).unwrap().contains("{device=\"eth1\"} 16\n"));
    }

    #[test]
    fn malformed_lines_fail_whole() {
        let header: String = DEV.lines().take(3).map(|l| format!("{l}\n")).collect();
        for bad in [
            "  eth1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",
            "     : 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",
            "  eth1: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15",
            "  eth1:",
            "  eth1: 1 2 3 4 5 6 7 8 x 10 11 12 13 14 15 16",
            "  eth1: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 -16",
            "  eth1: 18446744073709551616 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",
            "",
        ] {
            let src = format!("{header}{bad}\n");
            // Even when the interface is one the filter drops.
            for ignore in [&[][..], &["eth1"][..]] {
                let mut enc = Encoder::new();
                let err = scan(src.as_bytes(), &mut enc, &LEGACY, |n| {
                    ignore.iter().any(|i| i.as_bytes() == n)
                })
                .unwrap_err();
                assert_eq!(err.line, 4, "{bad:?}");
                let mut out = Vec::new();
                enc.finish(&mut out);
                assert!(out.is_empty(), "a failed scan left samples behind: {bad:?}");
            }
        }
    }

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let mut s = Settings::new();
        for (k, v) in pairs {
            s.set(k, *v);
        }
        s
    }

    #[test]
    fn flags() {
        let kept = |pairs: &[(&str, &str)]| -> Vec<&str> {
            let f = filter(&settings(pairs)).unwrap();
            ["lo", "eth0", "veth1"].into_iter().filter(|d| !f.is_ignored(d.as_bytes())).collect()
        };
        assert_eq!(kept(&[]), ["lo", "eth0", "veth1"]);
        assert_eq!(kept(&[(INCLUDE, "eth")]), ["eth0", "veth1"]);
        assert_eq!(kept(&[(INCLUDE, "^eth")]), ["eth0"]);
        assert_eq!(kept(&[(EXCLUDE, "^lo$")]), ["eth0", "veth1"]);
        assert_eq!(kept(&[(INCLUDE_OLD, "^lo$")]), ["lo"]);
        assert_eq!(kept(&[(EXCLUDE_OLD, "eth")]), ["lo"]);
        let both = |a: &str, b: &str| format!("--{a} and --{b} are mutually exclusive");
        let invalid = |flag: &str| format!("invalid regular expression for --{flag}");
        for (pairs, want) in [
            (&[(INCLUDE, "a"), (EXCLUDE, "b")][..], both(EXCLUDE, INCLUDE)),
            (&[(INCLUDE_OLD, "a"), (EXCLUDE, "b")][..], both(EXCLUDE, INCLUDE_OLD)),
            (&[(INCLUDE_OLD, "a"), (INCLUDE, "b")][..], both(INCLUDE_OLD, INCLUDE)),
            (&[(EXCLUDE_OLD, "a"), (EXCLUDE, "b")][..], both(EXCLUDE_OLD, EXCLUDE)),
            (&[(EXCLUDE, "(")][..], invalid(EXCLUDE)),
            (&[(INCLUDE_OLD, "(")][..], invalid(INCLUDE_OLD)),
        ] {
            let err = filter(&settings(pairs)).err().unwrap_or_default();
            assert!(err.starts_with(&want), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn interfaces_come_and_go() {
        let root = tmpdir("netdev-churn");
        std::fs::create_dir_all(root.join("proc/net")).unwrap();
        let path = root.join("proc/net/dev");
        let header: String = DEV.lines().take(2).map(|l| format!("{l}\n")).collect();
        let line =
            |name: &str, rx: u64| format!("{name:>6}:{rx:>8} 1 0 0 0 0 0 0 2 1 0 0 0 0 0 0\n");
        std::fs::write(&path, format!("{header}{}{}", line("lo", 10), line("veth0", 20))).unwrap();
        let s = settings(&[(EXCLUDE, "^veth")]);
        let mut c = build_spec(&SPEC, &Paths::under(&root), &s).unwrap();
        let text = scrape(c.as_mut());
        assert!(text.contains("receive_bytes_total{device=\"lo\"} 10\n"));
        assert!(!text.contains("veth0"));

        std::fs::write(&path, format!("{header}{}{}", line("eth1", 30), line("veth9", 40)))
            .unwrap();
        let text = scrape(c.as_mut());
        assert!(text.contains("receive_bytes_total{device=\"eth1\"} 30\n"));
        assert!(!text.contains("\"lo\""));
        assert!(!text.contains("veth"));
        assert_eq!(fds_under(&root), 1, "only /proc/net/dev is held open");

        drop(c);
        assert_eq!(fds_under(&root), 0);

        // A missing file is a read error, not a panic.
        let mut c = build_spec(&SPEC, &Paths::under(&root), &s).unwrap();
        std::fs::remove_file(&path).unwrap();
        let mut enc = Encoder::new();
        assert!(matches!(c.update(&mut enc), Err(Error::Read { .. })));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            let text = scrape(c.as_mut());
            assert!(text.contains("node_network_receive_bytes_total{device=\"lo\"} "));
        }
    }
}
