//! Collectors: one module per node_exporter collector, named after it.
//!
//! A collector owns its sources (kept [`File`](crate::source::File)s and
//! [`Dir`](crate::source::Dir)s) and read buffers, scans them with byte-level scanners that take
//! `&[u8]` and do no I/O, and adds samples to the scrape's [`Encoder`]. Each module exposes a
//! [`Spec`]: the collector's name, whether it is on by default, its flags and how to build it.
//! [`REGISTRY`] lists them all; the exporter and the command line are built from it.
//!
//! A collector that fails returns an [`Error`] (a `Copy` value with a static message): the
//! scrape reports `node_scrape_collector_success{collector="..."} 0` for it and goes on with
//! the others. Scanners roll back what they added for a file they could not parse
//! ([`Encoder::rollback`]), so a malformed file leaves no partial series.

use crate::encode::Encoder;
use crate::source::Paths;
use regex::Regex;
use rustix::io::Errno;
use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A collector: scans its part of the host into the scrape's encoder.
pub trait Collector: Send + fmt::Debug {
    /// Adds this scrape's samples to `enc`.
    ///
    /// # Errors
    /// Why the collector could not report (the scrape marks it failed and goes on).
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error>;
}

/// Why a collector failed. `Copy`, carries no heap data; `Display` gives the log message.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The host has nothing for this collector (upstream's `ErrNoData`, logged at debug).
    NoData,
    /// A file or directory could not be read. `path` names it under its tree (`proc/stat`).
    Read {
        /// The file, relative to its mount point.
        path: &'static str,
        /// The failing call's error.
        errno: Errno,
    },
    /// The collector had not finished when the scrape's deadline came.
    Timeout,
    /// The collector panicked (a bug; the panic message went to stderr).
    Panicked,
    /// A file did not have the expected layout.
    Parse {
        /// The file, relative to its mount point.
        path: &'static str,
        /// The failure, with its line.
        err: ParseError,
    },
}

impl Error {
    /// `Error::Read` for `path`.
    pub fn read(path: &'static str) -> impl FnOnce(Errno) -> Error {
        move |errno| Error::Read { path, errno }
    }

    /// `Error::Parse` for `path`.
    pub fn parse(path: &'static str) -> impl FnOnce(ParseError) -> Error {
        move |err| Error::Parse { path, err }
    }

    /// Whether this is upstream's "no data" case, logged at debug rather than error.
    pub fn is_no_data(&self) -> bool {
        matches!(self, Error::NoData)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoData => f.write_str("collector returned no data"),
            Error::Timeout => f.write_str("collector did not finish before the scrape deadline"),
            Error::Panicked => f.write_str("collector panicked"),
            Error::Read { path, errno } => write!(f, "reading {path}: {}", errno_text(*errno)),
            Error::Parse { path, err } => write!(f, "parsing {path}: {err}"),
        }
    }
}

impl std::error::Error for Error {}

/// An errno as Go prints `syscall.Errno` (`no such file or directory`; `errno N` for a number
/// Go has no text for).
pub fn errno_text(e: Errno) -> String {
    match crate::errno::go_text(e) {
        Some(t) => t.to_owned(),
        None => format!("errno {}", e.raw_os_error()),
    }
}

/// A scanner's failure: the line (1-based; 0 when not line-based) and what was wrong.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ParseError {
    /// 1-based line number, or 0.
    pub line: u32,
    /// What the scanner expected.
    pub what: &'static str,
}

impl ParseError {
    /// A failure at `line` (1-based).
    pub fn at(line: usize, what: &'static str) -> ParseError {
        ParseError { line: line.min(u32::MAX as usize) as u32, what }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => f.write_str(self.what),
            n => write!(f, "line {n}: {}", self.what),
        }
    }
}

/// A collector's command-line flag, declared next to the collector as upstream does.
#[derive(Clone, Copy, Debug)]
pub struct Flag {
    /// The long name without dashes, e.g. `collector.cpu.info`.
    pub name: &'static str,
    /// Help text shown by `-h`.
    pub help: &'static str,
    /// Value type.
    pub kind: FlagKind,
    /// Default value as it would be typed (`""` for none; `"true"`/`"false"` for booleans).
    pub default: &'static str,
    /// Older names upstream still accepts; hidden from `-h`.
    pub aliases: &'static [&'static str],
}

/// How a flag's value is typed.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum FlagKind {
    /// `--x` / `--no-x`.
    Bool,
    /// One value; the last given wins.
    String,
    /// A regular expression (RE2 syntax, unanchored as Go's `MatchString`).
    Regex,
    /// Repeatable; every value is kept.
    Strings,
    /// A Go-style duration (`5s`, `1m30s`).
    Duration,
    /// An integer.
    Int,
}

/// A collector's registration: upstream's `registerCollector` plus its flags.
#[derive(Clone, Copy)]
pub struct Spec {
    /// Name used in `--collector.<name>`, `collect[]` and the `collector` label.
    pub name: &'static str,
    /// Whether it runs without `--collector.<name>`.
    pub default_enabled: bool,
    /// Its own flags.
    pub flags: &'static [Flag],
    /// Whether its calls can hang (`statfs` on a dead NFS server, D-Bus, a device stuck in
    /// D state): the exporter then runs it off the scrape's thread, under the scrape deadline.
    pub blocking: bool,
    /// Builds an instance; errors name the offending flag.
    pub build: fn(&Build<'_>) -> Result<Box<dyn Collector>, String>,
}

impl fmt::Debug for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spec")
            .field("name", &self.name)
            .field("default_enabled", &self.default_enabled)
            .finish_non_exhaustive()
    }
}

/// What a collector is built from.
#[derive(Debug)]
pub struct Build<'a> {
    /// `--path.*`.
    pub paths: &'a Paths,
    /// Every flag's value.
    pub settings: &'a Settings,
    /// State shared by the instances of a collector across serving threads.
    pub shared: &'a Shared,
    /// Names of the enabled collectors (cpu reports frequencies only without cpufreq).
    pub enabled: &'a [&'static str],
}

impl Build<'_> {
    /// Whether the collector `name` is enabled.
    pub fn is_enabled(&self, name: &str) -> bool {
        self.enabled.contains(&name)
    }
}

/// Flag values by flag name, as given on the command line or defaulted.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    values: BTreeMap<String, Vec<String>>,
}

impl Settings {
    /// Empty settings: every flag reads as its declared default.
    pub fn new() -> Settings {
        Settings::default()
    }

    /// Sets a flag to one value, replacing any earlier value.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.values.insert(name.to_owned(), vec![value.into()]);
    }

    /// Appends a value to a repeatable flag.
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.values.entry(name.to_owned()).or_default().push(value.into());
    }

    /// Whether the flag was given a value.
    pub fn is_set(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The flag's value, or its declared default.
    pub fn str(&self, name: &str) -> &str {
        match self.values.get(name).and_then(|v| v.last()) {
            Some(v) => v,
            None => default_of(name),
        }
    }

    /// Every value of a repeatable flag (none if unset).
    pub fn strs(&self, name: &str) -> &[String] {
        self.values.get(name).map_or(&[], |v| v.as_slice())
    }

    /// A boolean flag.
    pub fn bool(&self, name: &str) -> bool {
        self.str(name) == "true"
    }

    /// A duration flag.
    ///
    /// # Errors
    /// A message naming the flag when the value is not a Go duration.
    pub fn duration(&self, name: &str) -> Result<Duration, String> {
        parse_duration(self.str(name)).map_err(|e| format!("--{name}: {e}"))
    }

    /// A regex flag compiled, or `None` when empty.
    ///
    /// # Errors
    /// A message naming the flag when the expression does not compile.
    pub fn regex(&self, name: &str) -> Result<Option<Regex>, String> {
        match self.str(name) {
            "" => Ok(None),
            re => Regex::new(re)
                .map(Some)
                .map_err(|e| format!("invalid regular expression for --{name}: {e}")),
        }
    }
}

/// Checks that `re` compiles as a collector flag's regular expression.
///
/// # Errors
/// The compiler's message.
pub fn check_regex(re: &str) -> Result<(), String> {
    Regex::new(re).map(|_| ()).map_err(|e| e.to_string())
}

/// Parses a Go duration (`300ms`, `1.5h`, `2h45m`, `0`): decimal numbers each followed by one
/// of the units `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`. Negative durations are refused.
///
/// # Errors
/// A message saying what is wrong with `s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {s:?}: expected e.g. 300ms, 5s, 1m30s");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        if num.is_empty() || num == "." {
            return Err(bad());
        }
        let n: f64 = num.parse().map_err(|_| bad())?;
        let unit_len = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += n * scale;
        rest = tail;
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

fn default_of(name: &str) -> &'static str {
    REGISTRY.iter().flat_map(|s| s.flags.iter()).find(|f| f.name == name).map_or("", |f| f.default)
}

/// State shared by every instance of a collector (one instance runs per serving thread):
/// counters that must stay monotonic across instances, log-once markers.
#[derive(Debug, Default)]
pub struct Shared {
    slots: Mutex<BTreeMap<&'static str, Arc<dyn Any + Send + Sync>>>,
}

impl Shared {
    /// The value stored under `key`, created with `T::default()` by the first caller.
    pub fn get<T: Any + Send + Sync + Default>(&self, key: &'static str) -> Arc<T> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = slots.entry(key).or_insert_with(|| Arc::new(T::default()));
        match Arc::clone(slot).downcast::<T>() {
            Ok(v) => v,
            // Two users of one key disagree on its type: a programming error; keep them apart.
            Err(_) => Arc::new(T::default()),
        }
    }
}

/// Every collector, sorted by name.
pub static REGISTRY: &[Spec] = &[
    arp::SPEC,
    bcache::SPEC,
    bonding::SPEC,
    btrfs::SPEC,
    buddyinfo::SPEC,
    cgroups::SPEC,
    conntrack::SPEC,
    cpu::SPEC,
    cpu_vulnerabilities::SPEC,
    cpufreq::SPEC,
    diskstats::SPEC,
    dmi::SPEC,
    drbd::SPEC,
    drm::SPEC,
    edac::SPEC,
    entropy::SPEC,
    ethtool::SPEC,
    fibrechannel::SPEC,
    filefd::SPEC,
    filesystem::SPEC,
    hwmon::SPEC,
    infiniband::SPEC,
    interrupts::SPEC,
    ipvs::SPEC,
    ksmd::SPEC,
    lnstat::SPEC,
    loadavg::SPEC,
    logind::SPEC,
    mdadm::SPEC,
    meminfo::SPEC,
    meminfo_numa::SPEC,
    mountstats::SPEC,
    netclass::SPEC,
    netdev::SPEC,
    netstat::SPEC,
    network_route::SPEC,
    nfs::SPEC,
    nfsd::SPEC,
    nvme::SPEC,
    os::SPEC,
    perf::SPEC,
    powersupplyclass::SPEC,
    pressure::SPEC,
    processes::SPEC,
    qdisc::SPEC,
    rapl::SPEC,
    schedstat::SPEC,
    selinux::SPEC,
    slabinfo::SPEC,
    sockstat::SPEC,
    softirqs::SPEC,
    softnet::SPEC,
    stat::SPEC,
    sysctl::SPEC,
    systemd::SPEC,
    tapestats::SPEC,
    tcpstat::SPEC,
    textfile::SPEC,
    thermal_zone::SPEC,
    time::SPEC,
    timex::SPEC,
    udp_queues::SPEC,
    uname::SPEC,
    vmstat::SPEC,
    watchdog::SPEC,
    wifi::SPEC,
    xfrm::SPEC,
    xfs::SPEC,
    zfs::SPEC,
    zoneinfo::SPEC,
];

pub mod arp;
pub mod bcache;
pub mod bonding;
pub mod btrfs;
pub mod buddyinfo;
pub mod cgroups;
pub mod conntrack;
pub mod cpu;
pub mod cpu_vulnerabilities;
pub mod cpufreq;
mod dbus;
mod device_filter;
pub mod diskstats;
pub mod dmi;
pub mod drbd;
pub mod drm;
pub mod edac;
pub mod entropy;
pub mod ethtool;
pub mod fibrechannel;
pub mod filefd;
pub mod filesystem;
mod gojson;
pub mod hwmon;
pub mod infiniband;
pub mod interrupts;
pub mod ipvs;
pub mod ksmd;
pub mod lnstat;
pub mod loadavg;
pub mod logind;
pub mod mdadm;
pub mod meminfo;
pub mod meminfo_numa;
pub mod mountstats;
pub mod netclass;
pub mod netdev;
pub mod netstat;
pub mod network_route;
pub mod nfs;
pub mod nfsd;
mod nl;
pub mod nvme;
pub mod os;
pub mod perf;
pub mod powersupplyclass;
pub mod pressure;
pub mod processes;
pub mod qdisc;
pub mod rapl;
pub mod schedstat;
pub mod selinux;
pub mod slabinfo;
pub mod sockstat;
pub mod softirqs;
pub mod softnet;
pub mod stat;
mod sysattr;
pub mod sysctl;
mod sysfs;
pub mod systemd;
pub mod tapestats;
pub mod tcpstat;
pub mod textfile;
pub mod thermal_zone;
pub mod time;
pub mod timex;
pub mod udp_queues;
pub mod uname;
pub mod vmstat;
pub mod watchdog;
pub mod wifi;
pub mod xfrm;
pub mod xfs;
pub mod zfs;
pub mod zoneinfo;

/// The spec named `name`.
pub fn spec(name: &str) -> Option<&'static Spec> {
    REGISTRY.iter().find(|s| s.name == name)
}

#[cfg(test)]
mod proc_smoke;
#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "5", "s", "-5s", "5x", "1..5s", "+"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_defaults_and_values() {
        let mut s = Settings::new();
        assert_eq!(s.str("no.such.flag"), "");
        s.set("a", "x");
        s.set("a", "y");
        assert_eq!(s.str("a"), "y");
        s.push("r", "1");
        s.push("r", "2");
        assert_eq!(s.strs("r"), ["1", "2"]);
        s.set("re", "(");
        assert!(s.regex("re").unwrap_err().contains("--re"));
        s.set("d", "10x");
        assert!(s.duration("d").unwrap_err().contains("--d"));
    }

    #[test]
    fn registry_sorted_with_distinct_flags() {
        assert!(REGISTRY.windows(2).all(|w| w[0].name < w[1].name), "REGISTRY out of order");
        let mut names: Vec<&str> = REGISTRY
            .iter()
            .flat_map(|s| s.flags.iter())
            .flat_map(|f| std::iter::once(f.name).chain(f.aliases.iter().copied()))
            .collect();
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all, "a flag or alias is declared twice");
        // Upstream names powersupplyclass's flag after "powersupply", and one of netclass's
        // after its rtnetlink path.
        let prefix_of = |name: &str| match name {
            "powersupplyclass" => "powersupply".to_owned(),
            name => name.to_owned(),
        };
        for spec in REGISTRY {
            for flag in spec.flags {
                let prefix = format!("collector.{}.", prefix_of(spec.name));
                let own = flag.name.starts_with(&prefix)
                    || (spec.name == "netclass"
                        && flag.name.starts_with("collector.netclass_rtnl."));
                assert!(own, "{} outside its collector", flag.name);
            }
        }
    }
}
