//! `/proc/stat`'s `cpuN` lines → `node_cpu_seconds_total{cpu,mode}` and
//! `node_cpu_guest_seconds_total{cpu,mode}`; node_exporter's cpu collector. A line holds a
//! CPU's times in `USER_HZ` ticks, see proc_stat(5): `cpu0 44490 19 21045 1087069 220 1 3410 0 2`.
//!
//! Also, from sysfs (the kernel's Documentation/ABI/testing/sysfs-devices-system-cpu):
//! `node_cpu_isolated{cpu}` from `devices/system/cpu/isolated` (a CPU list, `1,3-5,9`, read once
//! when built, as upstream); `node_cpu_{package,core}_throttles_total` from each
//! `devices/system/cpu/cpuN/{topology,thermal_throttle}/`. With `--collector.cpu.info`, from
//! `/proc/cpuinfo` (x86 only, as upstream's procfs parser; `key\t: value` lines, a blank line
//! between CPUs): `node_cpu_info`, `node_cpu_frequency_hertz` (only when the cpufreq collector
//! is off), and `node_cpu_{flag,bug}_info` for the first CPU's flags and bugs matching
//! `--collector.cpu.info.{flags,bugs}-include`.
//!
//! The reported times never go backwards: each counter is clamped to the highest value any
//! instance has reported, and a CPU whose idle time jumps back 3 s or more (a hot-unplugged
//! and replugged CPU) starts afresh; CPUs no longer in `/proc/stat` are forgotten. This state is
//! shared by every instance of the collector, as upstream's single instance holds it.

use super::stat::{self, CpuTimes};
use super::{Build, Collector, Error, Flag, FlagKind, ParseError, Spec};
use crate::encode::{Encoder, Kind, Label};
use crate::lex;
use crate::source::{Dir, Entries, File};
use regex::Regex;
use rustix::io::Errno;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Registration.
pub const SPEC: Spec = Spec {
    name: "cpu",
    default_enabled: true,
    flags: &[
        Flag {
            name: GUEST,
            help: "Enables metric node_cpu_guest_seconds_total",
            kind: FlagKind::Bool,
            default: "true",
            aliases: &[],
        },
        Flag {
            name: INFO,
            help: "Enables metric cpu_info",
            kind: FlagKind::Bool,
            default: "false",
            aliases: &[],
        },
        Flag {
            name: FLAGS_INCLUDE,
            help: "Filter the `flags` field in cpuInfo with a value that must be a regular \
                   expression",
            kind: FlagKind::Regex,
            default: "",
            aliases: &[],
        },
        Flag {
            name: BUGS_INCLUDE,
            help: "Filter the `bugs` field in cpuInfo with a value that must be a regular \
                   expression",
            kind: FlagKind::Regex,
            default: "",
            aliases: &[],
        },
    ],
    blocking: false,
    build,
};

const GUEST: &str = "collector.cpu.guest";
const INFO: &str = "collector.cpu.info";
const FLAGS_INCLUDE: &str = "collector.cpu.info.flags-include";
const BUGS_INCLUDE: &str = "collector.cpu.info.bugs-include";

const CPUINFO: &str = "proc/cpuinfo";

/// Whether `/proc/cpuinfo` is understood here: upstream's procfs picks a parser per
/// architecture at build time, and only the x86 one (also used for 386) is reproduced.
const HAS_CPUINFO_PARSER: bool = cfg!(any(target_arch = "x86", target_arch = "x86_64"));

/// How far (seconds) idle time may go back before a CPU is taken to have been replugged.
const JUMP_BACK_SECONDS: f64 = 3.0;

const ISOLATED_HELP: &str =
    "Whether each core is isolated, information from /sys/devices/system/cpu/isolated.";
const FLAG_HELP: &str =
    "The `flags` field of CPU information from /proc/cpuinfo taken from the first core.";
const BUG_HELP: &str =
    "The `bugs` field of CPU information from /proc/cpuinfo taken from the first core.";

/// Indices into [`CpuTimes`].
const IDLE: usize = 3;
const GUEST_USER: usize = 8;
const GUEST_NICE: usize = 9;
/// The `mode` label of the first eight times.
const MODES: [&str; 8] = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"];

/// The times last reported per CPU, sorted by CPU number; shared by all instances.
#[derive(Debug, Default)]
struct Reported {
    cpus: Vec<(i64, CpuTimes)>,
    /// Scratch for rebuilding `cpus` when the set of CPUs changes.
    spare: Vec<(i64, CpuTimes)>,
}

#[derive(Debug)]
struct Cpu {
    stat: File,
    buf: Vec<u8>,
    /// This scrape's `cpuN` lines, then what is reported for them.
    rows: Vec<(i64, CpuTimes)>,
    reported: Arc<Mutex<Reported>>,
    guest: bool,
    info: Option<Info>,
    /// Isolated CPUs, `None` where the kernel has no `isolated` file.
    isolated: Option<Vec<u16>>,
    /// `devices/system/cpu`, and its `cpuN` entries.
    cpu_dir: Dir,
    cpu_dir_path: PathBuf,
    cpus: Entries<CpuFiles>,
    /// This scrape's throttle counts: `(package, core, count)` and `(package, count)`, sorted.
    core_throttles: Vec<(u64, u64, u64)>,
    package_throttles: Vec<(u64, u64)>,
}

/// What `--collector.cpu.info` reports, and from where.
#[derive(Debug)]
struct Info {
    file: File,
    filters: InfoFilters,
}

/// Options for [`scan_info`].
#[derive(Debug, Default)]
pub struct InfoFilters {
    /// Whether to report `node_cpu_frequency_hertz` (upstream does when cpufreq is off).
    pub frequency: bool,
    /// Which flags to report; none without a filter.
    pub flags: Option<Regex>,
    /// Which bugs to report; none without a filter.
    pub bugs: Option<Regex>,
}

/// The sysfs attributes read for one `cpuN` directory, opened on first read.
#[derive(Debug)]
struct CpuFiles {
    package: File,
    core: File,
    core_throttles: File,
    package_throttles: File,
}

impl CpuFiles {
    fn new(dir: &Path) -> CpuFiles {
        CpuFiles {
            package: File::new(dir.join("topology/physical_package_id")),
            core: File::new(dir.join("topology/core_id")),
            core_throttles: File::new(dir.join("thermal_throttle/core_throttle_count")),
            package_throttles: File::new(dir.join("thermal_throttle/package_throttle_count")),
        }
    }
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Cpu::new(b)?))
}

impl Cpu {
    fn new(b: &Build<'_>) -> Result<Cpu, String> {
        let flags = b.settings.regex(FLAGS_INCLUDE)?;
        let bugs = b.settings.regex(BUGS_INCLUDE)?;
        // Setting either filter turns the info on, as upstream.
        let info = b.settings.bool(INFO) || flags.is_some() || bugs.is_some();
        let info = (info && HAS_CPUINFO_PARSER).then(|| Info {
            file: File::new(b.paths.proc("cpuinfo")),
            filters: InfoFilters { frequency: !b.is_enabled("cpufreq"), flags, bugs },
        });
        let cpu_dir_path = b.paths.sys("devices/system/cpu");
        Ok(Cpu {
            stat: File::new(b.paths.proc("stat")),
            buf: Vec::new(),
            rows: Vec::new(),
            reported: b.shared.get::<Mutex<Reported>>("cpu"),
            guest: b.settings.bool(GUEST),
            info,
            isolated: read_isolated(&cpu_dir_path.join("isolated"))?,
            cpu_dir: Dir::new(&cpu_dir_path),
            cpu_dir_path,
            cpus: Entries::new(),
            core_throttles: Vec::new(),
            package_throttles: Vec::new(),
        })
    }

    fn collect(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        if let Some(info) = &mut self.info {
            let src = info.file.read(&mut self.buf).map_err(Error::read(CPUINFO))?;
            scan_info(src, enc, &info.filters).map_err(Error::parse(CPUINFO))?;
        }
        self.update_times(enc)?;
        if let Some(isolated) = &self.isolated {
            let f = enc.family("node_cpu_isolated", ISOLATED_HELP, Kind::Gauge);
            for &cpu in isolated {
                enc.sample(f, &[("cpu", itoa::Buffer::new().format(cpu).as_bytes())], 1.0);
            }
        }
        self.update_throttles(enc);
        Ok(())
    }

    fn update_times(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = self.stat.read(&mut self.buf).map_err(Error::read(stat::PATH))?;
        let rows = &mut self.rows;
        rows.clear();
        if let Err(e) = stat::parse(src, |id, times| rows.push((id, *times))) {
            rows.clear();
            return Err(Error::Parse { path: stat::PATH, err: e });
        }
        // The kernel lists CPUs in order. Were it not to, the later of two lines for one CPU
        // wins, as in upstream's map; the stable sort may allocate, in that case only.
        if !rows.windows(2).all(|w| w[0].0 < w[1].0) {
            rows.reverse();
            rows.sort_by_key(|r| r.0);
            rows.dedup_by_key(|r| r.0);
        }
        {
            let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
            advance(&mut reported, rows);
        }
        emit_times(enc, rows, self.guest);
        Ok(())
    }

    fn update_throttles(&mut self, enc: &mut Encoder) {
        let Cpu { cpu_dir, cpu_dir_path, cpus, buf, core_throttles, package_throttles, .. } = self;
        cpus.begin();
        // Upstream globs `cpu[0-9]*`; a glob ignores I/O errors, so an unreadable directory
        // means no CPUs, not a failure.
        let _ = cpu_dir.for_each(|name, _| {
            if name.len() > 3 && name.starts_with(b"cpu") && name[3].is_ascii_digit() {
                cpus.get_or_insert_with(name, || {
                    CpuFiles::new(&cpu_dir_path.join(OsStr::from_bytes(name)))
                });
            }
        });
        cpus.end();

        // In name order, as the glob returns them: for each package and each (package, core)
        // the count comes from the first CPU in it whose count can be read. A CPU without a
        // readable topology (offline, or `-1` in some VMs) is skipped, as upstream.
        core_throttles.clear();
        package_throttles.clear();
        for (_, cpu) in cpus.iter_mut() {
            let Some(package) = read_u64(&mut cpu.package, buf) else { continue };
            let Some(core) = read_u64(&mut cpu.core, buf) else { continue };
            if let Err(i) = core_throttles.binary_search_by_key(&(package, core), |t| (t.0, t.1)) {
                if let Some(n) = read_u64(&mut cpu.core_throttles, buf) {
                    core_throttles.insert(i, (package, core, n));
                }
            }
            if let Err(i) = package_throttles.binary_search_by_key(&package, |t| t.0) {
                if let Some(n) = read_u64(&mut cpu.package_throttles, buf) {
                    package_throttles.insert(i, (package, n));
                }
            }
        }

        let (mut p, mut c) = (itoa::Buffer::new(), itoa::Buffer::new());
        let f = enc.family(
            "node_cpu_package_throttles_total",
            "Number of times this CPU package has been throttled.",
            Kind::Counter,
        );
        for &(package, n) in package_throttles.iter() {
            enc.sample_u64(f, &[("package", p.format(package).as_bytes())], n);
        }
        let f = enc.family(
            "node_cpu_core_throttles_total",
            "Number of times this CPU core has been throttled.",
            Kind::Counter,
        );
        for &(package, core, n) in core_throttles.iter() {
            let labels =
                [("package", p.format(package).as_bytes()), ("core", c.format(core).as_bytes())];
            enc.sample_u64(f, &labels, n);
        }
    }
}

impl Collector for Cpu {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let cp = enc.checkpoint();
        let r = self.collect(enc);
        if r.is_err() {
            enc.rollback(cp);
        }
        r
    }
}

/// A sysfs attribute holding one unsigned number, as upstream's `readUintFromFile`.
fn read_u64(file: &mut File, buf: &mut Vec<u8>) -> Option<u64> {
    file.read_attr(buf).ok().and_then(|src| lex::parse_u64(lex::trim(src)))
}

/// Reads the isolated CPU list once, as upstream: a missing file means no metric; any other
/// failure fails the build, as it fails upstream's constructor.
fn read_isolated(path: &Path) -> Result<Option<Vec<u16>>, String> {
    let mut buf = Vec::new();
    match File::new(path).read(&mut buf) {
        Ok(src) => parse_cpu_list(src)
            .map(Some)
            .ok_or_else(|| format!("unable to get isolated cpus: invalid cpu list in {path:?}")),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(format!("unable to get isolated cpus: {path:?}: {}", super::errno_text(e))),
    }
}

/// Parses a CPU list (`1,3-5,9\n`) as procfs' `parseCPURange`: trailing newlines trimmed,
/// empty items skipped, `a-b` for a range (none if `b < a`), numbers as Go's `Atoi`, CPUs
/// truncated to 16 bits. Allocates the list.
pub fn parse_cpu_list(src: &[u8]) -> Option<Vec<u16>> {
    let mut cpus = Vec::new();
    parse_cpu_list_into(src, &mut cpus)?;
    Some(cpus)
}

/// [`parse_cpu_list`] into `cpus`, cleared first, for a list read on every scrape: allocates
/// only to grow `cpus`. On `None` what `cpus` holds is unspecified.
pub fn parse_cpu_list_into(src: &[u8], cpus: &mut Vec<u16>) -> Option<()> {
    let atoi = |s: &[u8]| lex::parse_i64(s);
    cpus.clear();
    let end = src.iter().rposition(|&b| b != b'\n').map_or(0, |i| i + 1);
    for item in src[..end].split(|&b| b == b',').filter(|i| !i.is_empty()) {
        let mut ends = item.split(|&b| b == b'-');
        match (ends.next(), ends.next(), ends.next()) {
            (Some(n), None, _) => cpus.push(atoi(n)? as u16),
            (Some(from), Some(to), None) => {
                let (from, to) = (atoi(from)?, atoi(to)?);
                // Upstream appends every number of the range, wrapping at 16 bits; past 65,536
                // numbers only repeats follow, whose series would be dropped as duplicates.
                let to = to.min(from.saturating_add(0xffff));
                cpus.extend((from..=to).map(|i| i as u16));
            }
            _ => return None,
        }
    }
    Some(())
}

/// Upstream's `updateCPUStats`: takes this scrape's `rows` (sorted by CPU, unique) into the
/// shared state and leaves in `rows` what is to be reported. Allocates only when the set of
/// CPUs grows past its largest size.
fn advance(state: &mut Reported, rows: &mut [(i64, CpuTimes)]) {
    let same_cpus = state.cpus.len() == rows.len()
        && state.cpus.iter().zip(rows.iter()).all(|(a, b)| a.0 == b.0);
    if !same_cpus {
        // Keep the state of CPUs still listed, start new ones at 0, forget the others.
        let Reported { cpus, spare } = state;
        spare.clear();
        spare.extend(rows.iter().map(|&(id, _)| {
            let old = cpus.binary_search_by_key(&id, |c| c.0).map_or([0.0; 10], |i| cpus[i].1);
            (id, old)
        }));
        std::mem::swap(cpus, spare);
    }
    for ((id, old), (_, new)) in state.cpus.iter_mut().zip(rows.iter_mut()) {
        if old[IDLE] - new[IDLE] >= JUMP_BACK_SECONDS {
            log::debug!(
                "CPU Idle counter jumped backwards more than {JUMP_BACK_SECONDS} seconds, \
                 possible hotplug event, resetting CPU stats: cpu {id}, {} -> {}",
                old[IDLE],
                new[IDLE]
            );
            *old = [0.0; 10];
        }
        for (o, &n) in old.iter_mut().zip(new.iter()) {
            if n >= *o {
                *o = n;
            }
        }
        *new = *old;
    }
}

/// Adds `node_cpu_seconds_total` and, if `guest`, `node_cpu_guest_seconds_total`.
fn emit_times(enc: &mut Encoder, rows: &[(i64, CpuTimes)], guest: bool) {
    let seconds =
        enc.family("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", Kind::Counter);
    let guest_seconds = guest.then(|| {
        enc.family(
            "node_cpu_guest_seconds_total",
            "Seconds the CPUs spent in guests (VMs) for each mode.",
            Kind::Counter,
        )
    });
    let mut id_buf = itoa::Buffer::new();
    for (id, times) in rows {
        let cpu = id_buf.format(*id).as_bytes();
        for (mode, &t) in MODES.iter().zip(times) {
            enc.sample(seconds, &[("cpu", cpu), ("mode", mode.as_bytes())], t);
        }
        if let Some(f) = guest_seconds {
            // Guest time is also counted in user and nice.
            enc.sample(f, &[("cpu", cpu), ("mode", b"user")], times[GUEST_USER]);
            enc.sample(f, &[("cpu", cpu), ("mode", b"nice")], times[GUEST_NICE]);
        }
    }
}

/// One CPU's `/proc/cpuinfo` record, as far as it is reported.
#[derive(Clone, Copy, Debug, Default)]
struct Record<'a> {
    processor: u32,
    vendor: &'a str,
    family: &'a str,
    model: &'a str,
    model_name: &'a str,
    stepping: &'a str,
    microcode: &'a str,
    cache_size: &'a str,
    physical_id: &'a str,
    core_id: &'a str,
    mhz: f64,
}

/// Scans x86 `/proc/cpuinfo` into `enc` as procfs' `parseCPUInfoX86` reads it: the first
/// non-blank line must be a `processor` line; then `key: value` lines (split at the first
/// `": "`, the key trimmed, the value kept as is; lines without `": "` skipped), a `processor`
/// line starting the next CPU. The numeric fields procfs parses must parse, reported or not.
/// Adds nothing if the file is malformed.
///
/// # Errors
/// The first line procfs rejects; also a reported value that is not UTF-8, on which upstream
/// panics (client_golang refuses such label values).
pub fn scan_info(src: &[u8], enc: &mut Encoder, filters: &InfoFilters) -> Result<(), ParseError> {
    let cp = enc.checkpoint();
    let r = scan_info_rows(src, enc, filters);
    if r.is_err() {
        enc.rollback(cp);
    }
    r
}

fn scan_info_rows(src: &[u8], enc: &mut Encoder, filters: &InfoFilters) -> Result<(), ParseError> {
    let info = enc.family("node_cpu_info", "CPU information from /proc/cpuinfo.", Kind::Gauge);
    let frequency = filters.frequency.then(|| {
        enc.family(
            "node_cpu_frequency_hertz",
            "CPU frequency in hertz from /proc/cpuinfo.",
            Kind::Gauge,
        )
    });
    let emit = |enc: &mut Encoder, r: &Record<'_>| {
        let mut cpu = itoa::Buffer::new();
        let labels: [Label<'_>; 10] = [
            ("package", r.physical_id.as_bytes()),
            ("core", r.core_id.as_bytes()),
            ("cpu", cpu.format(r.processor).as_bytes()),
            ("vendor", r.vendor.as_bytes()),
            ("family", r.family.as_bytes()),
            ("model", r.model.as_bytes()),
            ("model_name", r.model_name.as_bytes()),
            ("microcode", r.microcode.as_bytes()),
            ("stepping", r.stepping.as_bytes()),
            ("cachesize", r.cache_size.as_bytes()),
        ];
        enc.sample(info, &labels, 1.0);
        if let Some(f) = frequency {
            enc.sample(f, &labels[..3], r.mhz * 1e6);
        }
    };
    let at = |n: usize, what| ParseError::at(n + 1, what);

    let mut lines = lex::lines(src).enumerate();
    let (n, first) = lines.by_ref().find(|(_, l)| !lex::trim(l).is_empty()).unwrap_or((0, b""));
    if !first.starts_with(b"processor") || memchr::memchr(b':', first).is_none() {
        return Err(at(n, "expected a processor line first"));
    }
    // Upstream indexes the value unchecked here, and panics on `processor:0`.
    let (_, value) = split_field(first).ok_or(at(n, "expected `processor : N`"))?;
    let processor = parse_uint(value).ok_or(at(n, "invalid processor"))?;
    let mut rec = Record { processor, ..Record::default() };
    let (mut flags, mut bugs) = ("", "");
    let mut is_first = true;
    for (n, line) in lines {
        let Some((key, value)) = split_field(line) else { continue };
        let text = || std::str::from_utf8(value).map_err(|_| at(n, "value is not UTF-8"));
        match key {
            b"processor" => {
                emit(enc, &rec);
                is_first = false;
                let processor = parse_uint(value).ok_or(at(n, "invalid processor"))?;
                rec = Record { processor, ..Record::default() };
            }
            b"vendor" | b"vendor_id" => rec.vendor = text()?,
            b"cpu family" => rec.family = text()?,
            b"model" => rec.model = text()?,
            b"model name" => rec.model_name = text()?,
            b"stepping" => rec.stepping = text()?,
            b"microcode" => rec.microcode = text()?,
            b"cache size" => rec.cache_size = text()?,
            b"physical id" => rec.physical_id = text()?,
            b"core id" => rec.core_id = text()?,
            b"cpu MHz" => rec.mhz = lex::parse_f64(value).ok_or(at(n, "invalid cpu MHz"))?,
            b"bogomips" => {
                lex::parse_f64(value).ok_or(at(n, "invalid bogomips"))?;
            }
            b"siblings" | b"cpu cores" | b"cpuid level" | b"clflush size" | b"cache_alignment" => {
                parse_uint(value).ok_or(at(n, "invalid number"))?;
            }
            // Only the first CPU's are reported, and only through a filter.
            b"flags" if is_first && filters.flags.is_some() => flags = text()?,
            b"bugs" if is_first && filters.bugs.is_some() => bugs = text()?,
            _ => {}
        }
    }
    emit(enc, &rec);

    let lists = [
        (&filters.flags, flags, "node_cpu_flag_info", "flag", FLAG_HELP),
        (&filters.bugs, bugs, "node_cpu_bug_info", "bug", BUG_HELP),
    ];
    for (filter, list, name, label, help) in lists {
        let Some(re) = filter else { continue };
        let f = enc.family(name, help, Kind::Gauge);
        // Go's `strings.Fields` splits at Unicode white space, as `split_whitespace` does.
        for item in list.split_whitespace().filter(|item| re.is_match(item)) {
            enc.sample(f, &[(label, item.as_bytes())], 1.0);
        }
    }
    Ok(())
}

/// `line` split at its first `": "` into the trimmed key and the value, as procfs'
/// `strings.SplitN(line, ": ", 2)` with `strings.TrimSpace` on the key.
fn split_field(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = memchr::memmem::find(line, b": ")?;
    Some((lex::trim(&line[..i]), &line[i + 2..]))
}

/// An unsigned 32-bit number as Go's `strconv.ParseUint(s, 0, 32)`: decimal, or with a `0x`,
/// `0o`, `0b` or `0` prefix. Go's `_` digit separators are not accepted.
fn parse_uint(s: &[u8]) -> Option<u32> {
    let (radix, digits) = match s {
        [b'0', b'x' | b'X', rest @ ..] => (16, rest),
        [b'0', b'o' | b'O', rest @ ..] => (8, rest),
        [b'0', b'b' | b'B', rest @ ..] => (2, rest),
        [b'0', rest @ ..] if !rest.is_empty() => (8, rest),
        _ => (10, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(digits).ok()?, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build_with as build_spec, fixtures, put, render, tmpdir, try_scrape,
    };
    use crate::collector::{Settings, Shared};
    use crate::source::Paths;

    fn new(paths: &Paths, settings: &Settings, shared: &Shared, enabled: &[&'static str]) -> Cpu {
        Cpu::new(&Build { paths, settings, shared, enabled }).unwrap()
    }

    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    /// The value of the one sample of `text` that starts with `series`.
    fn value(text: &str, series: &str) -> f64 {
        let mut found = samples(text).into_iter().filter(|l| l.starts_with(series));
        let line = found.next().unwrap_or_else(|| panic!("no {series} in\n{text}"));
        assert!(found.next().is_none());
        line.rsplit(' ').next().unwrap().parse().unwrap()
    }

    fn e2e_settings() -> Settings {
        let mut s = Settings::new();
        s.set(INFO, "true");
        s.set(BUGS_INCLUDE, "^(cpu_meltdown|spectre_.*|mds)$");
        s.set(FLAGS_INCLUDE, "^(aes|avx.?|constant_tsc)$");
        s
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let paths = Paths::under(&root);
        let mut c = new(&paths, &e2e_settings(), &Shared::default(), &["cpu", "cpufreq"]);
        let text = try_scrape(&mut c).unwrap();
        assert_matches_e2e(&text);
        let families: Vec<&str> =
            text.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next()).collect();
        let mut want = vec![
            "node_cpu_core_throttles_total",
            "node_cpu_guest_seconds_total",
            "node_cpu_isolated",
            "node_cpu_package_throttles_total",
            "node_cpu_seconds_total",
        ];
        if HAS_CPUINFO_PARSER {
            want.extend(["node_cpu_bug_info", "node_cpu_flag_info", "node_cpu_info"]);
            want.sort_unstable();
        }
        assert_eq!(families, want);
        // A second scrape of the same files reports the same.
        assert_eq!(try_scrape(&mut c).unwrap(), text);
    }

    #[test]
    fn frequency_only_without_cpufreq() {
        let Some(root) = fixtures() else { return };
        if !HAS_CPUINFO_PARSER {
            return;
        }
        let paths = Paths::under(&root);
        let text =
            try_scrape(&mut new(&paths, &e2e_settings(), &Shared::default(), &["cpu"])).unwrap();
        assert!(text.contains(
            "\nnode_cpu_frequency_hertz{core=\"0\",cpu=\"0\",package=\"0\"} 7.99998e+08\n"
        ));
        assert_eq!(
            samples(&text).iter().filter(|l| l.starts_with("node_cpu_frequency")).count(),
            8
        );
        // Info needs the flag, or a filter; a filter alone turns it on.
        let text = try_scrape(&mut new(&paths, &Settings::new(), &Shared::default(), &[])).unwrap();
        assert!(!text.contains("node_cpu_info"));
        let mut s = Settings::new();
        s.set(BUGS_INCLUDE, "mds");
        let text = try_scrape(&mut new(&paths, &s, &Shared::default(), &[])).unwrap();
        assert!(text.contains("\nnode_cpu_bug_info{bug=\"mds\"} 1\n"));
        assert!(text.contains("node_cpu_info{"));
        assert!(!text.contains("node_cpu_flag_info"));
    }

    #[test]
    fn guest_flag() {
        let Some(root) = fixtures() else { return };
        let mut s = Settings::new();
        s.set(GUEST, "false");
        let text = try_scrape(&mut new(&Paths::under(root), &s, &Shared::default(), &[])).unwrap();
        assert!(!text.contains("guest"));
        assert_eq!(samples(&text).iter().filter(|l| l.starts_with("node_cpu_seconds")).count(), 64);
    }

    #[test]
    fn bad_flags_are_build_errors() {
        for flag in [FLAGS_INCLUDE, BUGS_INCLUDE] {
            let mut s = Settings::new();
            s.set(flag, "(unclosed");
            let err =
                build_spec(&SPEC, &Paths::default(), &s, &Shared::default(), &[]).unwrap_err();
            assert!(err.contains(flag), "{err}");
        }
    }

    const STAT: &str = "cpu  0 0 0 0 0 0 0 0 0 0\n\
                        cpu0 100 0 0 100000 0 0 0 0 0 0\n\
                        cpu1 200 0 0 100000 0 0 0 0 0 0\n\
                        btime 1\n";

    #[test]
    fn offline_cpu_dropped_and_counters_monotonic_across_instances() {
        let d = tmpdir("cpu-times");
        let paths = Paths::under(&d);
        put(&d, "proc/stat", STAT);
        let shared = Shared::default();
        let mut a = new(&paths, &Settings::new(), &shared, &[]);
        let mut b = new(&paths, &Settings::new(), &shared, &[]);
        let text = try_scrape(&mut a).unwrap();
        assert_eq!(value(&text, "node_cpu_seconds_total{cpu=\"1\",mode=\"user\"}"), 2.0);

        // cpu1 goes offline: its series go, in every instance.
        put(&d, "proc/stat", "cpu0 100 0 0 100000 0 0 0 0 0 0\n");
        for c in [&mut a, &mut b] {
            let text = try_scrape(c).unwrap();
            assert!(!text.contains("cpu=\"1\""), "{text}");
            assert_eq!(samples(&text).len(), 10);
        }

        // A counter going back a little (not idle by 3 s) is held at the highest value any
        // instance reported, here the other instance.
        put(&d, "proc/stat", "cpu0 150 0 0 100050 0 0 0 0 0 0\n");
        assert_eq!(
            value(&try_scrape(&mut a).unwrap(), "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"}"),
            1.5
        );
        put(&d, "proc/stat", "cpu0 120 5 0 99800 0 0 0 0 0 0\n");
        let text = try_scrape(&mut b).unwrap();
        assert_eq!(value(&text, "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"}"), 1.5);
        assert_eq!(value(&text, "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"}"), 1000.5);
        assert_eq!(value(&text, "node_cpu_seconds_total{cpu=\"0\",mode=\"nice\"}"), 0.05);

        // cpu1 comes back with lower counters: it starts afresh, not from its old values.
        put(&d, "proc/stat", "cpu0 150 5 0 100050 0 0 0 0 0 0\ncpu1 10 0 0 10 0 0 0 0 0 0\n");
        let text = try_scrape(&mut a).unwrap();
        assert_eq!(value(&text, "node_cpu_seconds_total{cpu=\"1\",mode=\"user\"}"), 0.1);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn idle_jump_back_resets() {
        let d = tmpdir("cpu-jump");
        let paths = Paths::under(&d);
        put(&d, "proc/stat", "cpu0 5000 0 0 100000 0 0 0 0 0 0\n");
        let mut c = new(&paths, &Settings::new(), &Shared::default(), &[]);
        try_scrape(&mut c).unwrap();
        // Idle back by 2.99 s: held. By 3 s: the CPU was replugged, everything starts over.
        put(&d, "proc/stat", "cpu0 10 0 0 99701 0 0 0 0 0 0\n");
        let text = try_scrape(&mut c).unwrap();
        assert_eq!(value(&text, "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"}"), 50.0);
        assert_eq!(value(&text, "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"}"), 1000.0);
        put(&d, "proc/stat", "cpu0 10 0 0 99700 0 0 0 0 0 0\n");
        let text = try_scrape(&mut c).unwrap();
        assert_eq!(value(&text, "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"}"), 0.1);
        assert_eq!(value(&text, "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"}"), 997.0);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn duplicate_and_unordered_lines() {
        // The later of two lines for one CPU counts, as in upstream's map.
        let d = tmpdir("cpu-dup");
        put(&d, "proc/stat", "cpu2 1 0 0 0\ncpu0 1 0 0 0\ncpu2 7 0 0 0\n");
        let text =
            try_scrape(&mut new(&Paths::under(&d), &Settings::new(), &Shared::default(), &[]))
                .unwrap();
        assert_eq!(value(&text, "node_cpu_seconds_total{cpu=\"2\",mode=\"user\"}"), 0.07);
        assert_eq!(samples(&text).len(), 20);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn bad_stat_fails_and_leaves_state() {
        let d = tmpdir("cpu-bad");
        let paths = Paths::under(&d);
        let mut c = new(&paths, &Settings::new(), &Shared::default(), &[]);
        assert!(matches!(try_scrape(&mut c), Err(Error::Read { path: "proc/stat", .. })));
        put(&d, "proc/stat", "cpu0 500 0 0 100000 0 0 0 0 0 0\n");
        try_scrape(&mut c).unwrap();
        for bad in [
            "cpu0 1 2 x\n",
            "cpu0 100 0 0 1 0 0 0 0 0 0\nbtime soon\n",
            "cpu0 100 0 0 1 0 0 0 0 0 0\nintr 1 2 -3\n",
            "cpu0 100 0 0 1 0 0 0 0 0 18446744073709551616e400\n",
            "cpuX 1 2\n",
        ] {
            put(&d, "proc/stat", bad);
            assert!(
                matches!(try_scrape(&mut c), Err(Error::Parse { path: "proc/stat", .. })),
                "{bad}"
            );
        }
        // The failed scrapes did not touch the state: no reset from their low idle.
        put(&d, "proc/stat", "cpu0 400 0 0 100000 0 0 0 0 0 0\n");
        let text = try_scrape(&mut c).unwrap();
        assert_eq!(value(&text, "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"}"), 5.0);
        // Empty file: nothing to report, not an error (procfs finds no lines to reject).
        put(&d, "proc/stat", "");
        assert_eq!(samples(&try_scrape(&mut c).unwrap()), Vec::<&str>::new());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn bad_cpuinfo_fails_before_times() {
        if !HAS_CPUINFO_PARSER {
            return;
        }
        let d = tmpdir("cpu-info-bad");
        let paths = Paths::under(&d);
        put(&d, "proc/stat", "cpu0 500 0 0 100000 0 0 0 0 0 0\n");
        let mut s = Settings::new();
        s.set(INFO, "true");
        let shared = Shared::default();
        let mut c = new(&paths, &s, &shared, &[]);
        assert!(matches!(try_scrape(&mut c), Err(Error::Read { path: "proc/cpuinfo", .. })));
        put(&d, "proc/cpuinfo", "processor\t: 0\ncpu MHz\t: fast\n");
        assert!(matches!(try_scrape(&mut c), Err(Error::Parse { path: "proc/cpuinfo", .. })));
        // Upstream stops before /proc/stat: the shared state has not seen cpu0 yet.
        assert!(shared.get::<Mutex<Reported>>("cpu").lock().unwrap().cpus.is_empty());
        put(&d, "proc/cpuinfo", "processor\t: 0\ncpu MHz\t: 1000\n");
        let text = try_scrape(&mut c).unwrap();
        assert!(text.contains("node_cpu_info{cachesize=\"\",core=\"\",cpu=\"0\","));
        std::fs::remove_dir_all(&d).unwrap();
    }

    fn info(src: &[u8], filters: &InfoFilters) -> Result<String, ParseError> {
        let mut enc = Encoder::new();
        let r = scan_info(src, &mut enc, filters);
        let mut out = Vec::new();
        enc.finish(&mut out);
        if r.is_err() {
            assert!(out.is_empty(), "a failed scan left samples behind");
        }
        r.map(|()| String::from_utf8(out).unwrap())
    }

    #[test]
    fn cpuinfo_records() {
        let filters = InfoFilters {
            frequency: true,
            flags: Some(Regex::new("^(fpu|avx.*)$").unwrap()),
            bugs: Some(Regex::new("spectre").unwrap()),
        };
        let src = b"\n  \nprocessor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: A  B \n\
                    physical id\t: 0\ncore id\t\t: 1\ncpu MHz\t\t: 2400.5\n\
                    flags\t\t: fpu avx avx2 sse\nbugs\t\t: spectre_v1 mds\n\
                    power management:\n\nprocessor\t: 0x1\nvendor\t: AuthenticAMD\n\
                    flags\t\t: avx512f\nbogomips\t: 4800.00\ncache_alignment\t: 64\n";
        let text = info(src, &filters).unwrap();
        assert_eq!(
            samples(&text),
            [
                "node_cpu_bug_info{bug=\"spectre_v1\"} 1",
                "node_cpu_flag_info{flag=\"avx\"} 1",
                "node_cpu_flag_info{flag=\"avx2\"} 1",
                "node_cpu_flag_info{flag=\"fpu\"} 1",
                "node_cpu_frequency_hertz{core=\"\",cpu=\"1\",package=\"\"} 0",
                "node_cpu_frequency_hertz{core=\"1\",cpu=\"0\",package=\"0\"} 2.4005e+09",
                "node_cpu_info{cachesize=\"\",core=\"\",cpu=\"1\",family=\"\",microcode=\"\",\
                 model=\"\",model_name=\"\",package=\"\",stepping=\"\",vendor=\"AuthenticAMD\"} 1",
                "node_cpu_info{cachesize=\"\",core=\"1\",cpu=\"0\",family=\"\",microcode=\"\",\
                 model=\"\",model_name=\"A  B \",package=\"0\",stepping=\"\",\
                 vendor=\"GenuineIntel\"} 1",
            ]
        );
        // No filters: no flag or bug series.
        let text = info(src, &InfoFilters::default()).unwrap();
        assert_eq!(samples(&text).len(), 2);
    }

    #[test]
    fn cpuinfo_bad_input() {
        let f = InfoFilters::default();
        let cases: [(&[u8], u32); 11] = [
            (b"", 1),
            (b"\n\n", 1),
            (b"vendor_id\t: x\nprocessor\t: 0\n", 1),
            (b"processor 0\n", 1),
            (b"processor:0\n", 1),
            (b"processor\t: -1\n", 1),
            (b"processor\t: 4294967296\n", 1),
            (b"processor\t: 0\ncpu MHz\t: 1e400\n", 2),
            (b"processor\t: 0\nsiblings\t: 8 \n", 2),
            (b"processor\t: 0\n\nprocessor\t: x\n", 3),
            (b"processor\t: 0\nmodel name\t: \xff\n", 2),
        ];
        for (src, line) in cases {
            let err = info(src, &f).unwrap_err();
            assert_eq!(err.line, line, "{:?}: {err}", String::from_utf8_lossy(src));
        }
        // Accepted as procfs accepts them: octal and hex numbers, unknown keys, lines without
        // `": "`, a non-UTF-8 value nobody reports.
        let ok = b"processor\t: 010\nsiblings\t: 0x8\nfoo: \xff\nwp:yes\nflags: \xff\n";
        assert!(info(ok, &f).unwrap().contains("cpu=\"8\""));
        let f = InfoFilters { flags: Some(Regex::new("").unwrap()), ..InfoFilters::default() };
        assert_eq!(info(ok, &f).unwrap_err().line, 5);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list(b"1,3-5,9\n"), Some(vec![1, 3, 4, 5, 9]));
        assert_eq!(parse_cpu_list(b"\n"), Some(vec![]));
        assert_eq!(parse_cpu_list(b""), Some(vec![]));
        assert_eq!(parse_cpu_list(b"2,,+4,5-3"), Some(vec![2, 4]));
        assert_eq!(parse_cpu_list(b"65537"), Some(vec![1]));
        assert_eq!(parse_cpu_list(b"0-99999999999").map(|v| v.len()), Some(65536));
        for bad in [&b"1-2-3"[..], b"a", b"1 ", b"-1", b"1-", b"1,x\n"] {
            assert_eq!(parse_cpu_list(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn isolated_read_once_at_build() {
        let d = tmpdir("cpu-isolated");
        let paths = Paths::under(&d);
        put(&d, "proc/stat", "");
        let text = try_scrape(&mut new(&paths, &Settings::new(), &Shared::default(), &[])).unwrap();
        assert!(!text.contains("isolated"));
        put(&d, "sys/devices/system/cpu/isolated", "2-3\n");
        let mut c = new(&paths, &Settings::new(), &Shared::default(), &[]);
        put(&d, "sys/devices/system/cpu/isolated", "\n");
        let text = try_scrape(&mut c).unwrap();
        assert_eq!(
            samples(&text),
            ["node_cpu_isolated{cpu=\"2\"} 1", "node_cpu_isolated{cpu=\"3\"} 1"]
        );
        put(&d, "sys/devices/system/cpu/isolated", "1-x\n");
        let err = build_spec(&SPEC, &paths, &Settings::new(), &Shared::default(), &[]).unwrap_err();
        assert!(err.contains("isolated"), "{err}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    fn topology(d: &Path, cpu: &str, package: &str, core: &str) {
        let d = d.to_str().unwrap();
        put(
            d.as_ref(),
            &format!("sys/devices/system/cpu/{cpu}/topology/physical_package_id"),
            package,
        );
        put(d.as_ref(), &format!("sys/devices/system/cpu/{cpu}/topology/core_id"), core);
    }

    fn throttles(d: &Path, cpu: &str, core: Option<&str>, package: Option<&str>) {
        let dir = format!("sys/devices/system/cpu/{cpu}/thermal_throttle");
        if let Some(n) = core {
            put(d, &format!("{dir}/core_throttle_count"), n);
        }
        if let Some(n) = package {
            put(d, &format!("{dir}/package_throttle_count"), n);
        }
    }

    #[test]
    fn throttle_counts() {
        let d = tmpdir("cpu-throttle");
        let paths = Paths::under(&d);
        put(&d, "proc/stat", "");
        // cpu10 sorts before cpu2, as in upstream's glob; cpu1 has no readable core count, so
        // cpu10 (same core) gives it; cpu3 has no topology; `cpufreq` and `cpuidle` are no CPUs.
        topology(&d, "cpu0", "0\n", "0\n");
        throttles(&d, "cpu0", Some("5\n"), Some("30\n"));
        topology(&d, "cpu1", "0\n", "1\n");
        throttles(&d, "cpu1", Some("many\n"), Some("31\n"));
        topology(&d, "cpu10", "0\n", "1\n");
        throttles(&d, "cpu10", Some("7\n"), Some("32\n"));
        topology(&d, "cpu2", "1\n", "0\n");
        throttles(&d, "cpu2", Some("9\n"), None);
        put(&d, "sys/devices/system/cpu/cpu3/topology/core_id", "0\n");
        throttles(&d, "cpu3", Some("100\n"), Some("100\n"));
        put(&d, "sys/devices/system/cpu/cpufreq/x", "");
        put(&d, "sys/devices/system/cpu/cpuidle/x", "");
        let mut c = new(&paths, &Settings::new(), &Shared::default(), &[]);
        let text = try_scrape(&mut c).unwrap();
        assert_eq!(
            samples(&text),
            [
                "node_cpu_core_throttles_total{core=\"0\",package=\"0\"} 5",
                "node_cpu_core_throttles_total{core=\"0\",package=\"1\"} 9",
                "node_cpu_core_throttles_total{core=\"1\",package=\"0\"} 7",
                "node_cpu_package_throttles_total{package=\"0\"} 30",
            ]
        );
        assert_eq!(c.cpus.len(), 5);

        // cpu10 is unplugged: its directory goes, and its entry and series with it. cpu0 is
        // offlined: sysfs removes its topology, and reads through the kept fds fail with
        // ENODEV (see `source`); a temp dir's unlinked files stay readable through an open
        // fd, so the test empties them instead.
        std::fs::remove_dir_all(d.join("sys/devices/system/cpu/cpu10")).unwrap();
        topology(&d, "cpu0", "", "");
        let text = try_scrape(&mut c).unwrap();
        assert_eq!(
            samples(&text),
            [
                "node_cpu_core_throttles_total{core=\"0\",package=\"1\"} 9",
                "node_cpu_package_throttles_total{package=\"0\"} 31",
            ]
        );
        assert_eq!(c.cpus.len(), 4);
        assert!(c.cpus.iter().all(|(name, _)| name != b"cpu10"));

        // No CPU directory at all: no throttle series, no error.
        std::fs::remove_dir_all(d.join("sys")).unwrap();
        assert_eq!(samples(&try_scrape(&mut c).unwrap()), Vec::<&str>::new());
        assert!(c.cpus.is_empty());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn advance_keeps_listed_cpus() {
        let mut state = Reported::default();
        let mut rows = vec![(1, [2.0; 10]), (3, [1.0; 10])];
        advance(&mut state, &mut rows);
        // cpu1 goes, cpu2 comes (at its own values), cpu3 keeps its state and is clamped.
        let mut rows =
            vec![(2, [0.5; 10]), (3, [0.0, 5.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])];
        advance(&mut state, &mut rows);
        assert_eq!(state.cpus.iter().map(|c| c.0).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(rows[0].1, [0.5; 10]);
        assert_eq!(rows[1].1, [1.0, 5.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
        assert_eq!(state.cpus[1].1, rows[1].1);
    }

    #[test]
    fn render_times() {
        let rows = [(0, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])];
        let text = render(|enc| emit_times(enc, &rows, true));
        assert!(text.contains("node_cpu_guest_seconds_total{cpu=\"0\",mode=\"nice\"} 10\n"));
        assert!(text.contains("node_cpu_guest_seconds_total{cpu=\"0\",mode=\"user\"} 9\n"));
        assert!(text.contains("node_cpu_seconds_total{cpu=\"0\",mode=\"steal\"} 8\n"));
    }
}
