//! `perf_event_open(2)` counters per CPU → `node_perf_*_total{cpu}`; node_exporter's perf
//! collector.
//!
//! When built, it opens a counting event per CPU for each hardware event (cycles, instructions,
//! cache references and misses, branches, stalled cycles), software event (page faults,
//! context switches, migrations) and cache event (L1, last-level, TLB and branch predictor
//! hits and misses) selected by the flags, and one event group per CPU for the tracepoints of
//! `--collector.perf.tracepoint=<subsystem>:<event>` (their ids read from tracefs'
//! `events/<subsystem>/<event>/id`). Each scrape reads every counter: `read(2)` returns the
//! count (then the enabled and running times, see the man page's `read_format`), reported
//! unscaled as upstream: `node_perf_cpucycles_total{cpu="0"} 1.2e+10`.
//!
//! An event the host does not offer (no PMU in a VM, `perf_event_paranoid`) is left out
//! silently, as upstream's profilers do; a tracepoint that cannot be set up fails the build.
//! The counters are opened once per exporter and shared by every serving thread's instance,
//! so all scrapes read the same monotonic counts.
//!
//! Upstream also opens events it never reports (bus cycles, CPU and task clock, alignment
//! and emulation faults, L1 instruction read hits, data TLB, node cache); they are not opened
//! here, which leaves more hardware counters for the reported events.

use super::{Build, Collector, Error, Flag, FlagKind, Settings, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::sys::{self, PerfEventAttr, PerfIoctl};
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Registration.
pub const SPEC: Spec =
    Spec { name: "perf", default_enabled: false, flags: FLAGS, blocking: false, build };

const CPUS: &str = "collector.perf.cpus";
const TRACEPOINT: &str = "collector.perf.tracepoint";
const NO_HW: &str = "collector.perf.disable-hardware-profilers";
const HW: &str = "collector.perf.hardware-profilers";
const NO_SW: &str = "collector.perf.disable-software-profilers";
const SW: &str = "collector.perf.software-profilers";
const NO_CACHE: &str = "collector.perf.disable-cache-profilers";
const CACHE: &str = "collector.perf.cache-profilers";

const FLAGS: &[Flag] = &[
    Flag {
        name: CPUS,
        help: "List of CPUs from which perf metrics should be collected",
        kind: FlagKind::String,
        default: "",
        aliases: &[],
    },
    Flag {
        name: TRACEPOINT,
        help: "perf tracepoint that should be collected",
        kind: FlagKind::Strings,
        default: "",
        aliases: &[],
    },
    Flag {
        name: NO_HW,
        help: "disable perf hardware profilers",
        kind: FlagKind::Bool,
        default: "false",
        aliases: &[],
    },
    Flag {
        name: HW,
        help: "perf hardware profilers that should be collected",
        kind: FlagKind::Strings,
        default: "",
        aliases: &[],
    },
    Flag {
        name: NO_SW,
        help: "disable perf software profilers",
        kind: FlagKind::Bool,
        default: "false",
        aliases: &[],
    },
    Flag {
        name: SW,
        help: "perf software profilers that should be collected",
        kind: FlagKind::Strings,
        default: "",
        aliases: &[],
    },
    Flag {
        name: NO_CACHE,
        help: "disable perf cache profilers",
        kind: FlagKind::Bool,
        default: "false",
        aliases: &[],
    },
    Flag {
        name: CACHE,
        help: "perf cache profilers that should be collected",
        kind: FlagKind::Strings,
        default: "",
        aliases: &[],
    },
];

const PERF_TYPE_HARDWARE: u32 = 0;
const PERF_TYPE_SOFTWARE: u32 = 1;
const PERF_TYPE_TRACEPOINT: u32 = 2;
const PERF_TYPE_HW_CACHE: u32 = 3;
/// `read_format`: the count, then the times enabled and running.
const FORMAT_TIMES: u64 = 1 | 2;
const PERF_FORMAT_GROUP: u64 = 8;
const PERF_SAMPLE_IDENTIFIER: u64 = 1 << 16;
const FLAG_DISABLED: u64 = 1;
const FLAG_INHERIT: u64 = 1 << 1;
const FLAG_EXCLUDE_HV: u64 = 1 << 6;
const PERF_IOC_FLAG_GROUP: u32 = 1;

/// One reported event: its flag name, perf type and config, and family name and HELP.
#[derive(Debug)]
struct Event {
    flag: &'static str,
    type_: u32,
    config: u64,
    name: &'static str,
    help: &'static str,
}

const fn ev(
    flag: &'static str,
    type_: u32,
    config: u64,
    name: &'static str,
    help: &'static str,
) -> Event {
    Event { flag, type_, config, name, help }
}

/// `PERF_TYPE_HW_CACHE` config: cache id, operation (read 0, write 1), result (access 0,
/// miss 1).
const fn cache(id: u64, op: u64, result: u64) -> u64 {
    id | op << 8 | result << 16
}

const HARDWARE: [Event; 9] = [
    ev(
        "CpuCycles",
        PERF_TYPE_HARDWARE,
        0,
        "node_perf_cpucycles_total",
        "Number of CPU cycles (frequency scaled)",
    ),
    ev(
        "CpuInstr",
        PERF_TYPE_HARDWARE,
        1,
        "node_perf_instructions_total",
        "Number of CPU instructions",
    ),
    ev(
        "CacheRef",
        PERF_TYPE_HARDWARE,
        2,
        "node_perf_cache_refs_total",
        "Number of cache references (non frequency scaled)",
    ),
    ev(
        "CacheMisses",
        PERF_TYPE_HARDWARE,
        3,
        "node_perf_cache_misses_total",
        "Number of cache misses",
    ),
    ev(
        "BranchInstr",
        PERF_TYPE_HARDWARE,
        4,
        "node_perf_branch_instructions_total",
        "Number of CPU branch instructions",
    ),
    ev(
        "BranchMisses",
        PERF_TYPE_HARDWARE,
        5,
        "node_perf_branch_misses_total",
        "Number of CPU branch misses",
    ),
    ev(
        "StalledCyclesFrontend",
        PERF_TYPE_HARDWARE,
        7,
        "node_perf_stalled_cycles_frontend_total",
        "Number of stalled frontend CPU cycles",
    ),
    ev(
        "StalledCyclesBackend",
        PERF_TYPE_HARDWARE,
        8,
        "node_perf_stalled_cycles_backend_total",
        "Number of stalled backend CPU cycles",
    ),
    ev(
        "RefCpuCycles",
        PERF_TYPE_HARDWARE,
        9,
        "node_perf_ref_cpucycles_total",
        "Number of CPU cycles",
    ),
];

const SOFTWARE: [Event; 5] = [
    ev("PageFault", PERF_TYPE_SOFTWARE, 2, "node_perf_page_faults_total", "Number of page faults"),
    ev(
        "ContextSwitch",
        PERF_TYPE_SOFTWARE,
        3,
        "node_perf_context_switches_total",
        "Number of context switches",
    ),
    ev(
        "CpuMigration",
        PERF_TYPE_SOFTWARE,
        4,
        "node_perf_cpu_migrations_total",
        "Number of CPU process migrations",
    ),
    ev(
        "MinorFault",
        PERF_TYPE_SOFTWARE,
        5,
        "node_perf_minor_faults_total",
        "Number of minor page faults",
    ),
    ev(
        "MajorFault",
        PERF_TYPE_SOFTWARE,
        6,
        "node_perf_major_faults_total",
        "Number of major page faults",
    ),
];

const CACHES: [Event; 12] = [
    ev(
        "L1DataReadHit",
        PERF_TYPE_HW_CACHE,
        cache(0, 0, 0),
        "node_perf_cache_l1d_read_hits_total",
        "Number L1 data cache read hits",
    ),
    ev(
        "L1DataReadMiss",
        PERF_TYPE_HW_CACHE,
        cache(0, 0, 1),
        "node_perf_cache_l1d_read_misses_total",
        "Number L1 data cache read misses",
    ),
    ev(
        "L1DataWriteHit",
        PERF_TYPE_HW_CACHE,
        cache(0, 1, 0),
        "node_perf_cache_l1d_write_hits_total",
        "Number L1 data cache write hits",
    ),
    ev(
        "L1InstrReadMiss",
        PERF_TYPE_HW_CACHE,
        cache(1, 0, 1),
        "node_perf_cache_l1_instr_read_misses_total",
        "Number instruction L1 instruction read misses",
    ),
    ev(
        "LLReadHit",
        PERF_TYPE_HW_CACHE,
        cache(2, 0, 0),
        "node_perf_cache_ll_read_hits_total",
        "Number last level read hits",
    ),
    ev(
        "LLReadMiss",
        PERF_TYPE_HW_CACHE,
        cache(2, 0, 1),
        "node_perf_cache_ll_read_misses_total",
        "Number last level read misses",
    ),
    ev(
        "LLWriteHit",
        PERF_TYPE_HW_CACHE,
        cache(2, 1, 0),
        "node_perf_cache_ll_write_hits_total",
        "Number last level write hits",
    ),
    ev(
        "LLWriteMiss",
        PERF_TYPE_HW_CACHE,
        cache(2, 1, 1),
        "node_perf_cache_ll_write_misses_total",
        "Number last level write misses",
    ),
    ev(
        "InstrTLBReadHit",
        PERF_TYPE_HW_CACHE,
        cache(4, 0, 0),
        "node_perf_cache_tlb_instr_read_hits_total",
        "Number instruction TLB read hits",
    ),
    ev(
        "InstrTLBReadMiss",
        PERF_TYPE_HW_CACHE,
        cache(4, 0, 1),
        "node_perf_cache_tlb_instr_read_misses_total",
        "Number instruction TLB read misses",
    ),
    ev(
        "BPUReadHit",
        PERF_TYPE_HW_CACHE,
        cache(5, 0, 0),
        "node_perf_cache_bpu_read_hits_total",
        "Number BPU read hits",
    ),
    ev(
        "BPUReadMiss",
        PERF_TYPE_HW_CACHE,
        cache(5, 0, 1),
        "node_perf_cache_bpu_read_misses_total",
        "Number BPU read misses",
    ),
];

/// The events a profiler flag selects: all of `table` when the flag is not given, else the
/// named ones. Upstream ignores names it does not know; here they fail the build.
fn select(
    s: &Settings,
    flag: &str,
    table: &'static [Event],
) -> Result<Vec<&'static Event>, String> {
    let names = s.strs(flag);
    if names.is_empty() {
        return Ok(table.iter().collect());
    }
    let mut chosen: Vec<&'static Event> = Vec::new();
    for name in names {
        let event = table.iter().find(|e| e.flag == name).ok_or_else(|| {
            let known: Vec<&str> = table.iter().map(|e| e.flag).collect();
            format!("--{flag}: unknown profiler {name:?} (known: {})", known.join(", "))
        })?;
        if !chosen.iter().any(|e| std::ptr::eq(*e, event)) {
            chosen.push(event);
        }
    }
    Ok(chosen)
}

/// Go's `strconv.Atoi`: an optional sign, then decimal digits.
fn atoi(s: &str) -> Option<i64> {
    lex::parse_i64(s.as_bytes())
}

/// The CPUs of `--collector.perf.cpus`: `1,3`, ranges `0-3` and strided ranges `0-10:5`
/// (0, 5, 10), as upstream reads them.
///
/// # Errors
/// A message naming the flag. A stride below 1, on which upstream loops forever, is refused.
pub fn parse_cpus(flag: &str) -> Result<Vec<i32>, String> {
    let bad = || format!("--{CPUS}: invalid flag value {flag:?}");
    let mut cpus = Vec::new();
    for subset in flag.split(',') {
        if !subset.contains('-') {
            cpus.push(atoi(subset).and_then(|c| i32::try_from(c).ok()).ok_or_else(bad)?);
            continue;
        }
        let parts: Vec<&str> = subset.split(':').collect();
        let stride = match parts.as_slice() {
            [_, stride] => atoi(stride).ok_or_else(bad)?,
            _ => 1,
        };
        if stride < 1 {
            return Err(format!("--{CPUS}: stride must be positive in {subset:?}"));
        }
        let [start, end] = parts[0].split('-').collect::<Vec<_>>()[..] else {
            return Err(bad());
        };
        let (start, end) = (atoi(start).ok_or_else(bad)?, atoi(end).ok_or_else(bad)?);
        let mut cpu = start;
        while cpu <= end {
            cpus.push(i32::try_from(cpu).map_err(|_| bad())?);
            cpu += stride;
        }
    }
    Ok(cpus)
}

/// A tracepoint of `--collector.perf.tracepoint`: `subsystem:event`.
#[derive(Debug)]
struct Tracepoint {
    /// `node_perf_<subsystem>_<event>`.
    name: String,
    /// `Perf tracepoint <subsystem>:<event>`.
    help: String,
    id: u64,
}

/// The first mount point of a tracefs in `mounts` (a mount table, as `/proc/mounts`).
fn tracefs_mount(mounts: &str) -> Option<&str> {
    mounts.lines().find_map(|line| {
        let f: Vec<&str> = line.split(' ').collect();
        (f.len() > 3 && f[2] == "tracefs").then_some(f[1])
    })
}

fn tracepoints(s: &Settings, mounts: &Path) -> Result<Vec<Tracepoint>, String> {
    let flags = s.strs(TRACEPOINT);
    let mut out = Vec::with_capacity(flags.len());
    let mut tracefs: Option<String> = None;
    for flag in flags {
        let [subsystem, event] = flag.split(':').collect::<Vec<_>>()[..] else {
            return Err(format!("--{TRACEPOINT}: invalid tracepoint config {flag}"));
        };
        let root = match &tracefs {
            Some(root) => root.clone(),
            None => {
                let table = std::fs::read_to_string(mounts)
                    .map_err(|e| format!("failed to find mount type tracefs: {e}"))?;
                let root = tracefs_mount(&table)
                    .ok_or("failed to get tracefs mount: mount for tracefs not mounted")?
                    .to_owned();
                tracefs = Some(root.clone());
                root
            }
        };
        let path = PathBuf::from(root).join("events").join(subsystem).join(event).join("id");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("failed to get tracepoint config for {subsystem}:{event}: {e}"))?;
        let id = text
            .lines()
            .next()
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| format!("invalid tracepoint id in {}", path.display()))?;
        out.push(Tracepoint {
            name: format!("node_perf_{subsystem}_{event}"),
            help: format!("Perf tracepoint {subsystem}:{event}"),
            id,
        });
    }
    Ok(out)
}

/// Every open event, shared by the collector's instances.
#[derive(Debug)]
struct Profilers {
    counters: Vec<Counter>,
    groups: Vec<Group>,
    tracepoints: Vec<Tracepoint>,
}

#[derive(Debug)]
struct Counter {
    fd: OwnedFd,
    cpu: i32,
    event: &'static Event,
}

/// One CPU's tracepoints: the leader's fd reads the whole group.
#[derive(Debug)]
struct Group {
    leader: OwnedFd,
    _members: Vec<OwnedFd>,
    cpu: i32,
}

impl Profilers {
    fn open(s: &Settings, mounts: &Path) -> Result<Profilers, String> {
        let cpus = match s.str(CPUS) {
            "" => {
                // Go's runtime.NumCPU: the CPUs this process may run on, numbered from 0.
                let n = rustix::thread::sched_getaffinity(None).map_or(1, |set| set.count());
                (0..n as i32).collect()
            }
            flag => parse_cpus(flag)?,
        };
        let tracepoints = tracepoints(s, mounts)?;
        let mut groups = Vec::new();
        if !tracepoints.is_empty() {
            for &cpu in &cpus {
                groups.push(open_group(&tracepoints, cpu)?);
            }
        }
        let mut events: Vec<&'static Event> = Vec::new();
        for (off, on, table) in
            [(NO_HW, HW, &HARDWARE[..]), (NO_SW, SW, &SOFTWARE[..]), (NO_CACHE, CACHE, &CACHES[..])]
        {
            if !s.bool(off) {
                events.extend(select(s, on, table)?);
            }
        }
        let mut counters = Vec::new();
        for &cpu in &cpus {
            for &event in &events {
                let attr = PerfEventAttr {
                    type_: event.type_,
                    config: event.config,
                    sample_type: PERF_SAMPLE_IDENTIFIER,
                    read_format: FORMAT_TIMES,
                    flags: FLAG_DISABLED | FLAG_INHERIT | FLAG_EXCLUDE_HV,
                    ..PerfEventAttr::default()
                };
                match sys::perf_event_open(&attr, -1, cpu, None, 0) {
                    Ok(fd) => {
                        sys::perf_ioctl(fd.as_fd(), PerfIoctl::Enable, 0)
                            .map_err(|e| format!("enabling {} on CPU {cpu}: {e}", event.name))?;
                        counters.push(Counter { fd, cpu, event });
                    }
                    Err(e) => log::debug!(
                        event = event.name, cpu = cpu, err:% = e;
                        "perf: event not available"
                    ),
                }
            }
        }
        Ok(Profilers { counters, groups, tracepoints })
    }
}

fn open_group(tracepoints: &[Tracepoint], cpu: i32) -> Result<Group, String> {
    let mut leader: Option<OwnedFd> = None;
    let mut members = Vec::new();
    for tp in tracepoints {
        let attr = PerfEventAttr {
            type_: PERF_TYPE_TRACEPOINT,
            config: tp.id,
            sample_type: PERF_SAMPLE_IDENTIFIER,
            read_format: FORMAT_TIMES | PERF_FORMAT_GROUP,
            // Only the leader starts disabled: enabling it starts the group.
            flags: if leader.is_none() { FLAG_DISABLED | FLAG_EXCLUDE_HV } else { FLAG_EXCLUDE_HV },
            ..PerfEventAttr::default()
        };
        let fd = sys::perf_event_open(&attr, -1, cpu, leader.as_ref().map(|l| l.as_fd()), 0)
            .map_err(|e| format!("failed to open perf event {} on CPU {cpu}: {e}", tp.help))?;
        match leader {
            None => leader = Some(fd),
            Some(_) => members.push(fd),
        }
    }
    let leader = leader.ok_or("no tracepoints")?;
    sys::perf_ioctl(leader.as_fd(), PerfIoctl::Enable, PERF_IOC_FLAG_GROUP)
        .map_err(|e| format!("enabling tracepoints on CPU {cpu}: {e}"))?;
    Ok(Group { leader, _members: members, cpu })
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    build_with_mounts(b, Path::new("/proc/mounts"))
}

/// Builds the collector, opening the events unless another instance already has. The
/// tracefs mount is looked up in `mounts`, the exporter's own mount table (not
/// `--path.procfs`'s), since the events are opened in this process.
fn build_with_mounts(b: &Build<'_>, mounts: &Path) -> Result<Box<dyn Collector>, String> {
    let slot = b.shared.get::<Mutex<Option<Arc<Profilers>>>>("perf");
    let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
    let profilers = match &*slot {
        Some(p) => Arc::clone(p),
        None => {
            let p = Arc::new(Profilers::open(b.settings, mounts)?);
            *slot = Some(Arc::clone(&p));
            p
        }
    };
    Ok(Box::new(Perf {
        profilers,
        values: Vec::new(),
        group_buf: Vec::new(),
        group_values: Vec::new(),
    }))
}

#[derive(Debug)]
struct Perf {
    profilers: Arc<Profilers>,
    values: Vec<u64>,
    group_buf: Vec<u8>,
    group_values: Vec<u64>,
}

/// `read(2)` of a counting event: the count, then the enabled and running times.
fn read_counter(fd: &OwnedFd) -> Result<u64, Errno> {
    let mut buf = [0u8; 24];
    let n = rustix::io::read(fd, &mut buf)?;
    if n < 8 {
        return Err(Errno::IO);
    }
    Ok(u64::from_ne_bytes([buf[0], buf[1], buf[2], buf[3], buf[4], buf[5], buf[6], buf[7]]))
}

impl Perf {
    /// Reads every counter before anything is reported, so a failed read leaves no samples.
    fn read_all(&mut self) -> Result<(), Errno> {
        let p = &*self.profilers;
        self.values.clear();
        for c in &p.counters {
            self.values.push(read_counter(&c.fd)?);
        }
        self.group_values.clear();
        let n = p.tracepoints.len();
        // nr, time enabled, time running, then one value per event.
        self.group_buf.resize(24 + 8 * n, 0);
        for g in &p.groups {
            let got = rustix::io::read(&g.leader, &mut self.group_buf[..])?;
            if got < 24 + 8 * n {
                return Err(Errno::IO);
            }
            let word = |i: usize| {
                let mut w = [0u8; 8];
                w.copy_from_slice(&self.group_buf[i * 8..i * 8 + 8]);
                u64::from_ne_bytes(w)
            };
            self.group_values.extend((0..n).map(|i| word(3 + i)));
        }
        Ok(())
    }
}

impl Collector for Perf {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        self.read_all().map_err(|errno| Error::Read { path: "perf_event", errno })?;
        let p = &*self.profilers;
        let mut cpu_buf = itoa::Buffer::new();
        for (c, &v) in p.counters.iter().zip(&self.values) {
            let f = enc.family(c.event.name, c.event.help, Kind::Counter);
            enc.sample_u64(f, &[("cpu", cpu_buf.format(c.cpu).as_bytes())], v);
        }
        let n = p.tracepoints.len();
        for (g, values) in p.groups.iter().zip(self.group_values.chunks(n.max(1))) {
            let cpu = cpu_buf.format(g.cpu);
            for (tp, &v) in p.tracepoints.iter().zip(values) {
                let f = enc.family(&tp.name, &tp.help, Kind::Counter);
                enc.sample_u64(f, &[("cpu", cpu.as_bytes())], v);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{build_with, put, tmpdir, try_scrape};
    use crate::collector::Shared;
    use crate::source::Paths;

    #[test]
    fn cpu_lists_as_upstream() {
        assert_eq!(parse_cpus("1,3"), Ok(vec![1, 3]));
        assert_eq!(parse_cpus("0-3"), Ok(vec![0, 1, 2, 3]));
        assert_eq!(parse_cpus("0-2,5,+7"), Ok(vec![0, 1, 2, 5, 7]));
        // Upstream's loop steps from the start: 1, 6 (its comment's "1,5,10" is not what
        // its code does).
        assert_eq!(parse_cpus("1-10:5"), Ok(vec![1, 6]));
        assert_eq!(parse_cpus("0-10:5"), Ok(vec![0, 5, 10]));
        assert_eq!(parse_cpus("3-1"), Ok(vec![]));
        // A third `:` part is ignored, as upstream.
        assert_eq!(parse_cpus("0-4:2:9"), Ok(vec![0, 1, 2, 3, 4]));
        for bad in ["", "a", "1,", "1-", "-1", "1-2-3", "1-4:x", "99999999999"] {
            let err = parse_cpus(bad).unwrap_err();
            assert!(err.contains("--collector.perf.cpus"), "{bad}: {err}");
        }
        // Upstream loops forever on these.
        assert!(parse_cpus("1-4:0").is_err());
        assert!(parse_cpus("1-4:-1").is_err());
    }

    #[test]
    fn profiler_selection() {
        let mut s = Settings::new();
        assert_eq!(select(&s, HW, &HARDWARE).unwrap().len(), 9);
        assert_eq!(select(&s, CACHE, &CACHES).unwrap().len(), 12);
        s.push(HW, "CpuInstr");
        s.push(HW, "CpuCycles");
        s.push(HW, "CpuInstr");
        let names: Vec<&str> = select(&s, HW, &HARDWARE).unwrap().iter().map(|e| e.name).collect();
        assert_eq!(names, ["node_perf_instructions_total", "node_perf_cpucycles_total"]);
        s.push(SW, "BusCycles");
        let err = select(&s, SW, &SOFTWARE).unwrap_err();
        assert!(err.starts_with("--collector.perf.software-profilers: unknown profiler"), "{err}");
    }

    #[test]
    fn tracepoint_configuration() {
        let root = tmpdir("perf-tracepoints");
        put(&root, "mounts", "none /sys/kernel/tracing debugfs rw 0 0\n");
        let mut s = Settings::new();
        s.push(TRACEPOINT, "sched:sched_switch");
        let err = tracepoints(&s, &root.join("mounts")).unwrap_err();
        assert!(err.contains("tracefs not mounted"), "{err}");
        let tracefs = root.join("tracing");
        put(&root, "tracing/events/sched/sched_switch/id", "316\n");
        put(&root, "mounts", &format!("tracefs {} tracefs rw 0 0\n", tracefs.display()));
        let tps = tracepoints(&s, &root.join("mounts")).unwrap();
        assert_eq!(tps.len(), 1);
        assert_eq!((tps[0].name.as_str(), tps[0].id), ("node_perf_sched_sched_switch", 316));
        assert_eq!(tps[0].help, "Perf tracepoint sched:sched_switch");
        for bad in ["sched", "a:b:c", "sched:nope"] {
            let mut s = Settings::new();
            s.push(TRACEPOINT, bad);
            assert!(tracepoints(&s, &root.join("mounts")).is_err(), "{bad}");
        }
        assert_eq!(tracefs_mount("a /x tracefs rw 0 0\nb /y tracefs rw 0 0\n"), Some("/x"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    fn live(settings: &Settings, shared: &Shared) -> Result<Box<dyn Collector>, String> {
        build_with(&SPEC, &Paths::default(), settings, shared, &[])
    }

    /// The host's own counters: software events need no PMU, but the host may refuse them
    /// all (paranoia, seccomp); then the collector reports nothing and still succeeds.
    #[test]
    fn live_host_counters_are_shared_and_monotonic() {
        let shared = Shared::default();
        let mut s = Settings::new();
        s.set(CPUS, "0");
        s.set(NO_HW, "true");
        s.set(NO_CACHE, "true");
        let mut a = live(&s, &shared).unwrap();
        let mut b = live(&s, &shared).unwrap();
        let value = |text: &str| -> Option<f64> {
            let line = text
                .lines()
                .find(|l| l.starts_with("node_perf_context_switches_total{cpu=\"0\"}"))?;
            line.rsplit(' ').next()?.parse().ok()
        };
        let first = try_scrape(a.as_mut()).unwrap();
        assert!(!first.contains("cpucycles"));
        std::thread::sleep(std::time::Duration::from_millis(20));
        let second = try_scrape(b.as_mut()).unwrap();
        if let (Some(x), Some(y)) = (value(&first), value(&second)) {
            assert!(y >= x, "{x} then {y}");
            assert!(second.contains("# TYPE node_perf_page_faults_total counter\n"));
        }
    }

    #[test]
    fn live_host_tracepoints() {
        let Ok(table) = std::fs::read_to_string("/proc/mounts") else { return };
        let Some(tracefs) = tracefs_mount(&table) else { return };
        if !Path::new(tracefs).join("events/sched/sched_switch/id").exists() {
            return;
        }
        let mut s = Settings::new();
        s.set(CPUS, "0-1");
        s.push(TRACEPOINT, "sched:sched_switch");
        s.push(TRACEPOINT, "sched:sched_wakeup");
        s.set(NO_HW, "true");
        s.set(NO_SW, "true");
        s.set(NO_CACHE, "true");
        let Ok(mut c) = live(&s, &Shared::default()) else { return };
        for _ in 0..2 {
            let text = try_scrape(c.as_mut()).unwrap();
            assert!(text.contains(
                "# HELP node_perf_sched_sched_switch Perf tracepoint sched:sched_switch\n"
            ));
            assert!(text.contains("\nnode_perf_sched_sched_wakeup{cpu=\"1\"} "), "{text}");
        }
    }

    #[test]
    fn bad_flags_fail_the_build() {
        for (flag, value) in [(CPUS, "x"), (TRACEPOINT, "nope"), (CACHE, "L1InstrReadHit")] {
            let mut s = Settings::new();
            if flag == CPUS {
                s.set(flag, value);
            } else {
                s.push(flag, value);
            }
            let err = live(&s, &Shared::default()).unwrap_err();
            assert!(err.contains("perf") || err.contains("tracepoint"), "{err}");
        }
    }
}
