//! `/sys/fs/bcache/<uuid>/…` → `node_bcache_*{uuid}`, `node_bcache_*{uuid,backing_device}` and
//! `node_bcache_*{uuid,cache_device}`; node_exporter's bcache collector.
//!
//! A cache set's directory (`fs/bcache/*-*`) holds its own counters and a link to each of its
//! backing devices (`bdev[0-9]*`) and cache devices (`cache[0-9]*`), see the kernel's
//! Documentation/admin-guide/bcache.rst. Values are numbers (`1305`) or, as bcache's
//! `bch_hprint` writes sizes, a number with a binary multiplier (`20.4G`, `1.1M/sec`), whose
//! fraction is in 1024ths shown as hundredths (procfs divides it by 10.24). Parsed as procfs'
//! bcache package: an attribute that does not exist counts 0; `writeback_rate_debug` (a backing
//! device's controller state, `rate:  1.1M/sec` lines) must exist, as must `priority_stats` (a
//! cache device's bucket use, `Unused:  99%`) with `--collector.bcache.priorityStats`. Anything
//! unreadable or unparsable fails the collector, with nothing reported.
//!
//! Upstream also reads each set's and each backing device's `stats_five_minute/*`, and the
//! set's `stats_total/*`, reporting none of them; bcache creates them beside the reported
//! `stats_total/*` of the backing device, so those reads (21 per set and backing device) are
//! left out. `priority_stats` is read only with the flag: the kernel sorts the priority of
//! every bucket to write it.

use super::sysfs::{self, fields};
use super::{Build, Collector, Error, Flag, FlagKind, ParseError, Spec};
use crate::encode::{Encoder, FamilyId, Kind};
use crate::lex;
use crate::source::{Dir, Entries, File};
use rustix::io::Errno;
use std::path::{Path, PathBuf};

/// Registration.
pub const SPEC: Spec = Spec {
    name: "bcache",
    default_enabled: true,
    flags: &[Flag {
        name: PRIORITY_STATS,
        help: "Expose expensive priority stats.",
        kind: FlagKind::Bool,
        default: "false",
        aliases: &[],
    }],
    blocking: false,
    build,
};

const PRIORITY_STATS: &str = "collector.bcache.priorityStats";

const DIR: &str = "fs/bcache";
const SET_DIR: &str = "fs/bcache/*-*";
const SET_VALUE: &str = "fs/bcache/*-*/*";
const BDEV_VALUE: &str = "fs/bcache/*-*/bdev*/*";
const CACHE_VALUE: &str = "fs/bcache/*-*/cache*/*";
const WRITEBACK: &str = "fs/bcache/*-*/bdev*/writeback_rate_debug";
const PRIORITY: &str = "fs/bcache/*-*/cache*/priority_stats";

/// A reported value: its file, its name after `node_bcache_`, HELP and type.
type Value = (&'static str, &'static str, &'static str, Kind);

/// A cache set's reported attributes.
const SET_VALUES: [Value; 10] = [
    (
        "average_key_size",
        "average_key_size_sectors",
        "Average data per key in the btree (sectors).",
        Kind::Gauge,
    ),
    (
        "btree_cache_size",
        "btree_cache_size_bytes",
        "Amount of memory currently used by the btree cache.",
        Kind::Gauge,
    ),
    (
        "cache_available_percent",
        "cache_available_percent",
        "Percentage of cache device without dirty data, usable for writeback (may contain clean \
         cached data).",
        Kind::Gauge,
    ),
    ("congested", "congested", "Congestion.", Kind::Gauge),
    (
        "root_usage_percent",
        "root_usage_percent",
        "Percentage of the root btree node in use (tree depth increases if too high).",
        Kind::Gauge,
    ),
    ("tree_depth", "tree_depth", "Depth of the btree.", Kind::Gauge),
    (
        "internal/active_journal_entries",
        "active_journal_entries",
        "Number of journal entries that are newer than the index.",
        Kind::Gauge,
    ),
    ("internal/btree_nodes", "btree_nodes", "Total nodes in the btree.", Kind::Gauge),
    // Microseconds, which upstream scales by 1e-9 all the same (see `emit`).
    (
        "internal/btree_read_average_duration_us",
        "btree_read_average_duration_seconds",
        "Average btree read duration.",
        Kind::Gauge,
    ),
    (
        "internal/cache_read_races",
        "cache_read_races_total",
        "Counts instances where while data was being read from the cache, the bucket was reused \
         and invalidated - i.e. where the pointer was stale after the read completed.",
        Kind::Counter,
    ),
];
const BTREE_READ_US: usize = 8;

/// A backing device's `stats_total` counters; `cache_readaheads` (the last) is reported only
/// when it is not 0.
const PERIOD_VALUES: [Value; 7] = [
    (
        "stats_total/bypassed",
        "bypassed_bytes_total",
        "Amount of IO (both reads and writes) that has bypassed the cache.",
        Kind::Counter,
    ),
    (
        "stats_total/cache_hits",
        "cache_hits_total",
        "Hits counted per individual IO as bcache sees them.",
        Kind::Counter,
    ),
    (
        "stats_total/cache_misses",
        "cache_misses_total",
        "Misses counted per individual IO as bcache sees them.",
        Kind::Counter,
    ),
    (
        "stats_total/cache_bypass_hits",
        "cache_bypass_hits_total",
        "Hits for IO intended to skip the cache.",
        Kind::Counter,
    ),
    (
        "stats_total/cache_bypass_misses",
        "cache_bypass_misses_total",
        "Misses for IO intended to skip the cache.",
        Kind::Counter,
    ),
    (
        "stats_total/cache_miss_collisions",
        "cache_miss_collisions_total",
        "Instances where data insertion from cache miss raced with write (data already present).",
        Kind::Counter,
    ),
    (
        "stats_total/cache_readaheads",
        "cache_readaheads_total",
        "Count of times readahead occurred.",
        Kind::Counter,
    ),
];

/// A backing device's values from `writeback_rate_debug`, reported after `dirty_data`.
const WRITEBACK_VALUES: [(&str, &str); 5] = [
    ("dirty_target_bytes", "Current dirty data target threshold for this backing device in bytes."),
    ("writeback_rate", "Current writeback rate for this backing device in bytes."),
    (
        "writeback_rate_proportional_term",
        "Current result of proportional controller, part of writeback rate",
    ),
    (
        "writeback_rate_integral_term",
        "Current result of integral controller, part of writeback rate",
    ),
    ("writeback_change", "Last writeback rate change step for this backing device."),
];

/// A cache device's reported attributes.
const CACHE_VALUES: [Value; 3] = [
    (
        "io_errors",
        "io_errors",
        "Number of errors that have occurred, decayed by io_error_halflife.",
        Kind::Gauge,
    ),
    (
        "metadata_written",
        "metadata_written_bytes_total",
        "Sum of all non data writes (btree writes and all other metadata).",
        Kind::Counter,
    ),
    (
        "written",
        "written_bytes_total",
        "Sum of all data that has been written to the cache.",
        Kind::Counter,
    ),
];

/// The longest line Go's `bufio.Scanner` takes with its default buffer.
const MAX_LINE: usize = 64 << 10;

#[derive(Debug)]
struct Bcache {
    dir: Dir,
    dir_path: PathBuf,
    priority: bool,
    sets: Entries<Set>,
    buf: Vec<u8>,
}

/// A cache set: its files, its devices, and this scrape's values.
#[derive(Debug)]
struct Set {
    dir: Dir,
    path: PathBuf,
    files: [File; 10],
    values: [u64; 10],
    bdevs: Entries<Bdev>,
    caches: Entries<Cache>,
}

/// A backing device's files and this scrape's values.
#[derive(Debug)]
struct Bdev {
    dirty_data: File,
    writeback: File,
    period: [File; 7],
    dirty: u64,
    rates: Writeback,
    totals: [u64; 7],
}

/// A cache device's files and this scrape's values.
#[derive(Debug)]
struct Cache {
    files: [File; 3],
    priority: File,
    values: [u64; 3],
    priorities: Priorities,
}

/// What `writeback_rate_debug` says, as procfs keeps it.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Writeback {
    /// `rate:`, bytes per second.
    pub rate: u64,
    /// `dirty:`, bytes.
    pub dirty: u64,
    /// `target:`, bytes.
    pub target: u64,
    /// `proportional:`
    pub proportional: i64,
    /// `integral:`
    pub integral: i64,
    /// `change:`, bytes per second.
    pub change: i64,
    /// `next io:`, milliseconds.
    pub next_io: i64,
}

/// What `priority_stats` says that is reported.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Priorities {
    /// `Unused:`, percent.
    pub unused: u64,
    /// `Metadata:`, percent.
    pub metadata: u64,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    // Upstream opens its sysfs handle here, which fails unless the mount point is a directory.
    sysfs::check_mount("sysfs", &b.paths.sysfs)?;
    let dir_path = b.paths.sys(DIR);
    Ok(Box::new(Bcache {
        dir: Dir::new(&dir_path),
        dir_path,
        priority: b.settings.bool(PRIORITY_STATS),
        sets: Entries::new(),
        buf: Vec::new(),
    }))
}

impl Collector for Bcache {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let Bcache { dir, dir_path, priority, sets, buf } = self;
        sysfs::glob_into(
            dir,
            sets,
            |name| name.contains(&b'-'),
            |name| Set::new(&dir_path.join(sysfs::path(name))),
        );
        for (name, set) in sets.iter_mut() {
            sysfs::label(DIR, name)?;
            set.refresh(buf, *priority)?;
        }
        emit(enc, sets, *priority);
        Ok(())
    }
}

impl Set {
    fn new(dir: &Path) -> Set {
        Set {
            dir: Dir::new(dir),
            path: dir.to_path_buf(),
            files: SET_VALUES.map(|(file, ..)| File::new(dir.join(file))),
            values: [0; 10],
            bdevs: Entries::new(),
            caches: Entries::new(),
        }
    }

    /// Reads the set and its devices in upstream's order, stopping at the first failure.
    fn refresh(&mut self, buf: &mut Vec<u8>, priority: bool) -> Result<(), Error> {
        for (file, value) in self.files.iter_mut().zip(&mut self.values) {
            *value = read_value(file, buf, SET_VALUE)?;
        }
        // Upstream globs `bdev[0-9]*` and `cache[0-9]*` in the set's directory: one listing.
        let Set { dir, path, bdevs, caches, .. } = self;
        bdevs.begin();
        caches.begin();
        let _ = dir.for_each(|name, _| {
            if sysfs::is_numbered(name, b"bdev") {
                bdevs.get_or_insert_with(name, || Bdev::new(&path.join(sysfs::path(name))));
            } else if sysfs::is_numbered(name, b"cache") {
                caches.get_or_insert_with(name, || Cache::new(&path.join(sysfs::path(name))));
            }
        });
        bdevs.end();
        caches.end();
        for (name, bdev) in bdevs.iter_mut() {
            sysfs::label(SET_DIR, name)?;
            bdev.dirty = read_value(&mut bdev.dirty_data, buf, BDEV_VALUE)?;
            let src = bdev.writeback.read_attr(buf).map_err(Error::read(WRITEBACK))?;
            bdev.rates = parse_writeback(src).map_err(Error::parse(WRITEBACK))?;
            for (file, total) in bdev.period.iter_mut().zip(&mut bdev.totals) {
                *total = read_value(file, buf, BDEV_VALUE)?;
            }
        }
        for (name, cache) in caches.iter_mut() {
            sysfs::label(SET_DIR, name)?;
            for (file, value) in cache.files.iter_mut().zip(&mut cache.values) {
                *value = read_value(file, buf, CACHE_VALUE)?;
            }
            if priority {
                let src = cache.priority.read_attr(buf).map_err(Error::read(PRIORITY))?;
                cache.priorities = parse_priorities(src).map_err(Error::parse(PRIORITY))?;
            }
        }
        Ok(())
    }
}

impl Bdev {
    fn new(dir: &Path) -> Bdev {
        Bdev {
            dirty_data: File::new(dir.join("dirty_data")),
            writeback: File::new(dir.join("writeback_rate_debug")),
            period: PERIOD_VALUES.map(|(file, ..)| File::new(dir.join(file))),
            dirty: 0,
            rates: Writeback::default(),
            totals: [0; 7],
        }
    }
}

impl Cache {
    fn new(dir: &Path) -> Cache {
        Cache {
            files: CACHE_VALUES.map(|(file, ..)| File::new(dir.join(file))),
            priority: File::new(dir.join("priority_stats")),
            values: [0; 3],
            priorities: Priorities::default(),
        }
    }
}

/// procfs' `readValue`: a missing file counts 0; otherwise the file without its last byte (the
/// newline) is a (possibly humanized) number.
fn read_value(file: &mut File, buf: &mut Vec<u8>, path: &'static str) -> Result<u64, Error> {
    let src = match file.read_attr(buf) {
        Ok(src) => src,
        Err(Errno::NOENT) => return Ok(0),
        Err(errno) => return Err(Error::Read { path, errno }),
    };
    // Upstream cuts the last byte unchecked, and panics on an empty file.
    let Some((_, value)) = src.split_last() else {
        return Err(Error::Parse { path, err: ParseError::at(1, "empty file") });
    };
    dehumanize(value).map_err(|what| Error::Parse { path, err: ParseError::at(1, what) })
}

/// procfs' `dehumanize`: a number, or one with a multiplier suffix (`k`, `M`, `G`, `T`, `P`, `E`,
/// `Z`, `Y`, powers of 1024; any other byte past `9` multiplies by 0) whose fraction is bcache's
/// pseudo-decimal. The product is converted to `u64` as Go converts it.
///
/// # Errors
/// An empty value, or a part that Go's `ParseFloat` rejects.
pub fn dehumanize(s: &[u8]) -> Result<u64, &'static str> {
    let (&last, head) = s.split_last().ok_or("zero-length reply")?;
    let (mantissa, multiplier) = if last > b'9' {
        let multiplier = match last {
            b'k' => 1024f64,
            b'M' => 1024f64.powi(2),
            b'G' => 1024f64.powi(3),
            b'T' => 1024f64.powi(4),
            b'P' => 1024f64.powi(5),
            b'E' => 1024f64.powi(6),
            b'Z' => 1024f64.powi(7),
            b'Y' => 1024f64.powi(8),
            // Upstream's lookup in its multiplier map finds nothing: 0.
            _ => 0.0,
        };
        (pseudo_float(head)?, multiplier)
    } else {
        (lex::parse_f64(s).ok_or("invalid number")?, 1.0)
    };
    Ok(go_f64_to_u64(mantissa * multiplier))
}

/// procfs' `parsePseudoFloat`: `int` or `int.frac`, the fraction read as a number and divided by
/// 10.24 (bcache prints 1024ths as if they were hundredths); parts past a second `.` are ignored.
fn pseudo_float(s: &[u8]) -> Result<f64, &'static str> {
    let mut parts = s.split(|&b| b == b'.');
    let int = parts.next().and_then(lex::parse_f64).ok_or("invalid number")?;
    match parts.next() {
        None => Ok(int),
        Some(frac) => Ok(int + lex::parse_f64(frac).ok_or("invalid fraction")? / 10.24),
    }
}

/// procfs' `dehumanizeSigned`: a leading `-` negates the dehumanized rest (wrapping as Go's
/// `int64(-value)` does).
fn dehumanize_signed(s: &[u8]) -> Result<i64, &'static str> {
    match s.strip_prefix(b"-") {
        Some(rest) => Ok(dehumanize(rest)?.wrapping_neg() as i64),
        None => Ok(dehumanize(s)? as i64),
    }
}

/// Go's conversion of a `float64` to `uint64` as the compiler emits it for amd64, where
/// upstream's release runs: values below 2^63 through the signed conversion (so a negative value
/// wraps, and one out of the `int64` range gives 2^63), others by subtracting 2^63 first.
#[cfg(target_arch = "x86_64")]
fn go_f64_to_u64(f: f64) -> u64 {
    const CUTOFF: f64 = 9_223_372_036_854_775_808.0;
    // CVTTSD2SQ: truncation, or 0x8000_0000_0000_0000 for NaN and out-of-range values.
    let signed = |f: f64| if (-CUTOFF..CUTOFF).contains(&f) { f as i64 } else { i64::MIN };
    if f < CUTOFF {
        signed(f) as u64
    } else {
        signed(f - CUTOFF) as u64 | 1 << 63
    }
}

/// Go's conversion of a `float64` to `uint64` on other architectures (arm64's `FCVTZU`):
/// saturating, NaN to 0, as Rust's `as`.
#[cfg(not(target_arch = "x86_64"))]
fn go_f64_to_u64(f: f64) -> u64 {
    f as u64
}

/// The last white-space-separated field of `line`, without `suffix` if it has it.
fn last_field<'a>(line: &'a [u8], suffix: &[u8]) -> &'a [u8] {
    let last = fields(line).last().unwrap_or_default();
    last.strip_suffix(suffix).unwrap_or(last)
}

/// Parses `writeback_rate_debug` as procfs' `parseWritebackRateDebug`, line by line.
///
/// # Errors
/// The first known line whose value does not parse, or a line too long for Go's line scanner.
pub fn parse_writeback(src: &[u8]) -> Result<Writeback, ParseError> {
    let mut w = Writeback::default();
    for (n, line) in lex::lines(src).enumerate() {
        let at = |what| ParseError::at(n + 1, what);
        if line.len() >= MAX_LINE {
            return Err(at("line too long"));
        }
        if line.starts_with(b"rate:") {
            w.rate = dehumanize(last_field(line, b"/sec")).map_err(at)?;
        } else if line.starts_with(b"dirty:") {
            w.dirty = dehumanize(last_field(line, b"")).map_err(at)?;
        } else if line.starts_with(b"target:") {
            w.target = dehumanize(last_field(line, b"")).map_err(at)?;
        } else if line.starts_with(b"proportional:") {
            w.proportional = dehumanize_signed(last_field(line, b"")).map_err(at)?;
        } else if line.starts_with(b"integral:") {
            w.integral = dehumanize_signed(last_field(line, b"")).map_err(at)?;
        } else if line.starts_with(b"change:") {
            w.change = dehumanize_signed(last_field(line, b"/sec")).map_err(at)?;
        } else if line.starts_with(b"next io:") {
            w.next_io = lex::parse_i64(last_field(line, b"ms")).ok_or(at("invalid next io"))?;
        }
    }
    Ok(w)
}

/// Parses `priority_stats` as procfs' `parsePriorityStats`: the `Unused:` and `Metadata:`
/// lines' last fields, percentages.
///
/// # Errors
/// The first of those lines whose value is not an unsigned integer (with or without `%`), or a
/// line too long for Go's line scanner.
pub fn parse_priorities(src: &[u8]) -> Result<Priorities, ParseError> {
    let mut p = Priorities::default();
    for (n, line) in lex::lines(src).enumerate() {
        let at = |what| ParseError::at(n + 1, what);
        if line.len() >= MAX_LINE {
            return Err(at("line too long"));
        }
        let slot = if line.starts_with(b"Unused:") {
            &mut p.unused
        } else if line.starts_with(b"Metadata:") {
            &mut p.metadata
        } else {
            continue;
        };
        *slot = lex::parse_u64(last_field(line, b"%")).ok_or(at("invalid percentage"))?;
    }
    Ok(p)
}

/// Declares the families of `values`.
fn families<const N: usize>(enc: &mut Encoder, values: &[Value; N]) -> [FamilyId; N] {
    values.map(|(_, name, help, kind)| {
        enc.family_parts(&[b"node_bcache_", name.as_bytes()], &[help.as_bytes()], kind)
    })
}

fn emit(enc: &mut Encoder, sets: &Entries<Set>, priority: bool) {
    let set_families = families(enc, &SET_VALUES);
    let period_families = families(enc, &PERIOD_VALUES);
    let cache_families = families(enc, &CACHE_VALUES);
    let dirty = enc.family(
        "node_bcache_dirty_data_bytes",
        "Amount of dirty data for this backing device in the cache.",
        Kind::Gauge,
    );
    let writeback_families = WRITEBACK_VALUES.map(|(name, help)| {
        enc.family_parts(&[b"node_bcache_", name.as_bytes()], &[help.as_bytes()], Kind::Gauge)
    });
    let priority_families = priority.then(|| {
        [
            enc.family(
                "node_bcache_priority_stats_unused_percent",
                "The percentage of the cache that doesn't contain any data.",
                Kind::Gauge,
            ),
            enc.family(
                "node_bcache_priority_stats_metadata_percent",
                "Bcache's metadata overhead.",
                Kind::Gauge,
            ),
        ]
    });
    for (uuid, set) in sets.iter() {
        for (i, (f, &v)) in set_families.iter().zip(&set.values).enumerate() {
            let v = if i == BTREE_READ_US { v as f64 * 1e-9 } else { v as f64 };
            enc.sample(*f, &[("uuid", uuid)], v);
        }
        for (name, bdev) in set.bdevs.iter() {
            let labels = [("uuid", uuid), ("backing_device", name)];
            enc.sample_u64(dirty, &labels, bdev.dirty);
            let w = &bdev.rates;
            let rates = [
                w.target as f64,
                w.rate as f64,
                w.proportional as f64,
                w.integral as f64,
                w.change as f64,
            ];
            for (f, v) in writeback_families.iter().zip(rates) {
                enc.sample(*f, &labels, v);
            }
            for (i, (f, &v)) in period_families.iter().zip(&bdev.totals).enumerate() {
                // Readaheads only when there were some, as upstream.
                if i < 6 || v != 0 {
                    enc.sample_u64(*f, &labels, v);
                }
            }
        }
        for (name, cache) in set.caches.iter() {
            let labels = [("uuid", uuid), ("cache_device", name)];
            for (f, &v) in cache_families.iter().zip(&cache.values) {
                enc.sample_u64(*f, &labels, v);
            }
            if let Some([unused, metadata]) = priority_families {
                enc.sample_u64(unused, &labels, cache.priorities.unused);
                enc.sample_u64(metadata, &labels, cache.priorities.metadata);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build, fds_under, fixture_tree, put, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    const UUID: &str = "deaddd54-c735-46d5-868e-f331c5fd7c74";

    /// The links of upstream's `sys.ttar` this collector goes through.
    const LINKS: &[(&str, &str)] = &[
        (
            "sys/fs/bcache/deaddd54-c735-46d5-868e-f331c5fd7c74/bdev0",
            "../../../devices/pci0000:00/0000:00:0d.0/ata4/host3/target3:0:0/3:0:0:0/block/sdb/\
             bcache",
        ),
        (
            "sys/fs/bcache/deaddd54-c735-46d5-868e-f331c5fd7c74/cache0",
            "../../../devices/pci0000:00/0000:00:0d.0/ata5/host4/target4:0:0/4:0:0:0/block/sdc/\
             bcache",
        ),
    ];

    fn collector(root: &Path, priority: bool) -> Box<dyn Collector> {
        let mut s = Settings::new();
        s.set(PRIORITY_STATS, if priority { "true" } else { "false" });
        build(&SPEC, &Paths::under(root), &s).unwrap()
    }

    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    fn fixture_root(tag: &str) -> Option<PathBuf> {
        fixture_tree(tag, &["sys/fs/bcache", "sys/devices/pci0000:00/0000:00:0d.0"], LINKS)
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixture_root("bcache-fixture") else { return };
        let mut c = collector(&root, true);
        let text = try_scrape(&mut *c).unwrap();
        assert_matches_e2e(&text);
        assert_eq!(samples(&text).len(), 28);
        assert_eq!(try_scrape(&mut *c).unwrap(), text);
        // Without the flag, the priority stats are neither read nor reported.
        let text = try_scrape(&mut *collector(&root, false)).unwrap();
        assert!(!text.contains("priority_stats"));
        assert_eq!(samples(&text).len(), 26);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn humanized_numbers() {
        let ok: &[(&[u8], u64)] = &[
            (b"0", 0),
            (b"1305", 1305),
            (b"1.5", 1),
            (b"20.4G", 21_894_266_880),
            (b"1.1M", 1_150_976),
            (b"427.5k", 437_748),
            (b"2k", 2048),
            (b"1.5.7k", 1024 + 500),
            // A suffix bcache does not write multiplies by 0, as upstream's map lookup.
            (b"12B", 0),
            (b"3E", 3 << 60),
        ];
        for &(s, want) in ok {
            assert_eq!(dehumanize(s), Ok(want), "{:?}", String::from_utf8_lossy(s));
        }
        for bad in [&b""[..], b"k", b".5k", b"5.k", b"x", b"1e400", b"inf", b"1 k", b"1%", b"\xff"]
        {
            assert!(dehumanize(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(dehumanize_signed(b"-427.5k"), Ok(-437_748));
        assert_eq!(dehumanize_signed(b"321.5k"), Ok(329_204));
        assert!(dehumanize_signed(b"-").is_err());
    }

    #[test]
    fn go_conversions_to_u64() {
        assert_eq!(go_f64_to_u64(0.0), 0);
        assert_eq!(go_f64_to_u64(1.9), 1);
        assert_eq!(go_f64_to_u64(1e19), 10_000_000_000_000_000_000);
        assert_eq!(go_f64_to_u64(18_446_744_073_709_549_568.0), 18_446_744_073_709_549_568);
        if cfg!(target_arch = "x86_64") {
            assert_eq!(go_f64_to_u64(-1.0), u64::MAX);
            assert_eq!(go_f64_to_u64(f64::NAN), 1 << 63);
            assert_eq!(go_f64_to_u64(1e20), 1 << 63);
            assert_eq!(go_f64_to_u64(-1e20), 1 << 63);
        }
        // A negative mantissa takes that conversion: `-5k` is 2^64 - 5120 on amd64.
        if cfg!(target_arch = "x86_64") {
            assert_eq!(dehumanize(b"-5k"), Ok(u64::MAX - 5119));
        }
    }

    #[test]
    fn writeback_and_priorities() {
        let src = b"rate:\t\t1.1M/sec\ndirty:\t\t20.4G\ntarget:\t\t20.4G\n\
                    proportional:\t-427.5k\nintegral:\t790.0k\nchange:\t\t321.5k/sec\n\
                    next io:\t17ms\nother: x\n";
        assert_eq!(
            parse_writeback(src),
            Ok(Writeback {
                rate: 1_150_976,
                dirty: 21_894_266_880,
                target: 21_894_266_880,
                proportional: -437_748,
                integral: 808_960,
                change: 329_204,
                next_io: 17,
            })
        );
        assert_eq!(parse_writeback(b""), Ok(Writeback::default()));
        for (bad, line) in [
            (&b"rate: x/sec\n"[..], 1),
            (b"dirty: 1\nrate:\n", 2),
            (b"next io: 1.5ms\n", 1),
            (b"change: /sec\n", 1),
        ] {
            assert_eq!(parse_writeback(bad).unwrap_err().line, line);
        }
        let src = b"Unused:\t\t99%\nMetadata:\t0%\nAverage:\t10473\nQuantiles:\t[0 0]\n";
        assert_eq!(parse_priorities(src), Ok(Priorities { unused: 99, metadata: 0 }));
        assert_eq!(parse_priorities(b"Unused: 5\n"), Ok(Priorities { unused: 5, metadata: 0 }));
        for bad in [&b"Unused: x%\n"[..], b"Unused:\n", b"Metadata: -1%\n", b"Unused: 1.5%"] {
            assert!(parse_priorities(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    fn set(d: &Path, uuid: &str) {
        let base = format!("sys/fs/bcache/{uuid}");
        put(d, &format!("{base}/tree_depth"), "2\n");
        put(d, &format!("{base}/internal/btree_read_average_duration_us"), "1305\n");
    }

    fn bdev(d: &Path, uuid: &str, name: &str, readaheads: &str) {
        let base = format!("sys/fs/bcache/{uuid}/{name}");
        put(d, &format!("{base}/dirty_data"), "1.0k\n");
        put(d, &format!("{base}/writeback_rate_debug"), "rate: 512/sec\n");
        put(d, &format!("{base}/stats_total/cache_hits"), "10\n");
        put(d, &format!("{base}/stats_total/cache_readaheads"), readaheads);
    }

    fn cache(d: &Path, uuid: &str, name: &str) {
        let base = format!("sys/fs/bcache/{uuid}/{name}");
        put(d, &format!("{base}/written"), "2.0M\n");
        put(d, &format!("{base}/priority_stats"), "Unused: 50%\nMetadata: 1%\n");
    }

    #[test]
    fn sets_and_devices_come_and_go() {
        let d = tmpdir("bcache-churn");
        std::fs::create_dir_all(d.join("sys")).unwrap();
        let mut c = collector(&d, true);
        // No bcache: nothing, no failure.
        assert_eq!(try_scrape(&mut *c).unwrap(), "");
        set(&d, UUID);
        bdev(&d, UUID, "bdev0", "0\n");
        bdev(&d, UUID, "bdev1", "3\n");
        cache(&d, UUID, "cache0");
        // Not a set (no `-`), not a device.
        put(&d, "sys/fs/bcache/register", "");
        put(&d, &format!("sys/fs/bcache/{UUID}/bdevx/dirty_data"), "x");
        let text = try_scrape(&mut *c).unwrap();
        let lines = samples(&text);
        let has = |want: &str| lines.contains(&want);
        let set_labels = format!("{{uuid=\"{UUID}\"}}");
        let dev = |kind: &str, name: &str| format!("{{{kind}=\"{name}\",uuid=\"{UUID}\"}}");
        assert!(has(&format!("node_bcache_tree_depth{set_labels} 2")));
        assert!(has(&format!(
            "node_bcache_btree_read_average_duration_seconds{set_labels} 1.305e-06"
        )));
        // Missing files count 0.
        assert!(has(&format!("node_bcache_congested{set_labels} 0")));
        assert!(has(&format!(
            "node_bcache_dirty_data_bytes{} 1024",
            dev("backing_device", "bdev0")
        )));
        assert!(has(&format!("node_bcache_writeback_rate{} 512", dev("backing_device", "bdev1"))));
        assert!(has(&format!(
            "node_bcache_cache_readaheads_total{} 3",
            dev("backing_device", "bdev1")
        )));
        assert!(!text.contains(&format!("readaheads_total{}", dev("backing_device", "bdev0"))));
        assert!(has(&format!(
            "node_bcache_written_bytes_total{} 2.097152e+06",
            dev("cache_device", "cache0")
        )));
        assert!(has(&format!(
            "node_bcache_priority_stats_unused_percent{} 50",
            dev("cache_device", "cache0")
        )));
        // Files that exist are kept open (the set's two and its directory, four per backing
        // device, two for the cache), and `fs/bcache`.
        let dir = d.join("sys/fs/bcache");
        assert_eq!(fds_under(&dir), 3 + 2 * 4 + 2 + 1);
        std::fs::remove_dir_all(dir.join(UUID).join("bdev1")).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        assert!(!text.contains("bdev1"));
        assert_eq!(fds_under(&dir), 3 + 4 + 2 + 1);
        std::fs::remove_dir_all(dir.join(UUID)).unwrap();
        assert_eq!(try_scrape(&mut *c).unwrap(), "");
        assert_eq!(fds_under(&dir), 1);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn failures() {
        let d = tmpdir("bcache-bad");
        std::fs::create_dir_all(d.join("sys")).unwrap();
        set(&d, UUID);
        bdev(&d, UUID, "bdev0", "0\n");
        cache(&d, UUID, "cache0");
        let mut c = collector(&d, true);
        try_scrape(&mut *c).unwrap();
        let tree_depth = format!("sys/fs/bcache/{UUID}/tree_depth");
        // Upstream cuts the last byte blindly: `2` without a newline is empty, an error.
        for bad in ["", "2", "x\n", "1.x\n", "1e400\n"] {
            put(&d, &tree_depth, bad);
            assert!(
                matches!(try_scrape(&mut *c), Err(Error::Parse { path: SET_VALUE, .. })),
                "{bad:?}"
            );
        }
        put(&d, &tree_depth, "2\n");
        put(&d, &format!("sys/fs/bcache/{UUID}/bdev0/writeback_rate_debug"), "rate: many\n");
        assert!(matches!(try_scrape(&mut *c), Err(Error::Parse { path: WRITEBACK, .. })));
        put(&d, &format!("sys/fs/bcache/{UUID}/cache0/priority_stats"), "Unused: x%\n");
        put(&d, &format!("sys/fs/bcache/{UUID}/bdev0/writeback_rate_debug"), "rate: 1\n");
        assert!(matches!(try_scrape(&mut *c), Err(Error::Parse { path: PRIORITY, .. })));
        // Without the flag the priority stats are not read, bad or missing.
        try_scrape(&mut *collector(&d, false)).unwrap();
        std::fs::remove_file(d.join(format!("sys/fs/bcache/{UUID}/cache0/priority_stats")))
            .unwrap();
        try_scrape(&mut *collector(&d, false)).unwrap();
        assert!(matches!(
            try_scrape(&mut *collector(&d, true)),
            Err(Error::Read { path: PRIORITY, errno: Errno::NOENT })
        ));
        // The writeback state is required.
        std::fs::remove_file(d.join(format!("sys/fs/bcache/{UUID}/bdev0/writeback_rate_debug")))
            .unwrap();
        assert!(matches!(
            try_scrape(&mut *collector(&d, false)),
            Err(Error::Read { path: WRITEBACK, errno: Errno::NOENT })
        ));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn flag_and_mount_point() {
        let f = SPEC.flags[0];
        assert_eq!((f.name, f.kind, f.default), (PRIORITY_STATS, FlagKind::Bool, "false"));
        let d = tmpdir("bcache-nosys");
        assert!(build(&SPEC, &Paths::under(&d), &Settings::new()).unwrap_err().contains("sysfs"));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            try_scrape(&mut *c).unwrap();
        }
    }
}
