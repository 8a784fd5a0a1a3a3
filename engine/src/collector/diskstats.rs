//! `/proc/diskstats` → `node_disk_*_total`, `node_disk_io_now`, and from udev's database
//! `node_disk_info`, `node_disk_filesystem_info`, `node_disk_device_mapper_info` and
//! `node_disk_ata_*`; node_exporter's diskstats collector.
//!
//! One line per block device, see the kernel's Documentation/admin-guide/iostats.rst:
//! `   8       0 sda 25354637 34367663 1003346126 18492372 28444756 11134226 505697032 ...`,
//! major, minor and name, then 11 counters, 15 since Linux 4.18 (discards) or 17 since 5.5
//! (flushes). Times are milliseconds; sectors are 512 bytes whatever the device's own sector
//! size. udev keeps what it knows of a device in `<udev data>/b<major>:<minor>`, one `E:KEY=value`
//! line per property (see udevadm(8)); the info families come from there.
//!
//! sysfs is not read per scrape: upstream only checks, when it is built, that the procfs and
//! sysfs mount points are directories, and so does this collector.

use super::device_filter::DeviceFilter;
use super::{Build, Collector, Error, Flag, FlagKind, ParseError, Spec};
use crate::encode::{Encoder, FamilyId, Kind};
use crate::lex;
use crate::source::{self, Entries, File};
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// Registration.
pub const SPEC: Spec =
    Spec { name: "diskstats", default_enabled: true, flags: FLAGS, blocking: false, build };

const EXCLUDE: &str = "collector.diskstats.device-exclude";
const EXCLUDE_OLD: &str = "collector.diskstats.ignored-devices";
const INCLUDE: &str = "collector.diskstats.device-include";

/// Partitions and the pseudo-disks nobody graphs: RAM disks, loop devices, floppies.
const DEFAULT_EXCLUDE: &str = "^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\\d+n\\d+p)\\d+$";

const FLAGS: &[Flag] = &[
    Flag {
        name: EXCLUDE,
        help: "Regexp of diskstats devices to exclude (mutually exclusive to device-include).",
        kind: FlagKind::Regex,
        default: DEFAULT_EXCLUDE,
        aliases: &[EXCLUDE_OLD],
    },
    Flag {
        name: INCLUDE,
        help: "Regexp of diskstats devices to include (mutually exclusive to device-exclude).",
        kind: FlagKind::Regex,
        default: "",
        aliases: &[],
    },
];

const PATH: &str = "proc/diskstats";

/// The kernel counts I/O time in milliseconds; upstream multiplies by this constant (rather
/// than dividing by 1000), and the last bit of the result depends on which.
const SECONDS_PER_TICK: f64 = 1.0 / 1000.0;
/// The kernel's "standard UNIX 512-byte sectors", whatever the device's block size.
const SECTOR_BYTES: f64 = 512.0;

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    // Upstream opens its block-device FS here, which fails unless both mount points are
    // directories; keep that start-up check so a wrong --path.* is reported the same way.
    for (what, dir) in [("procfs", &b.paths.procfs), ("sysfs", &b.paths.sysfs)] {
        if !dir.is_dir() {
            return Err(format!("failed to open {what}: {} is not a directory", dir.display()));
        }
    }
    Ok(Box::new(Diskstats {
        file: File::new(b.paths.proc("diskstats")),
        buf: Vec::new(),
        devices: Devices {
            filter: filter(b.settings)?,
            udev_dir: b.paths.udev_data.clone(),
            disks: Entries::new(),
        },
    }))
}

/// The device filter from the flags.
///
/// `--collector.diskstats.device-exclude` has a default, so in node_exporter 1.8.2 giving only
/// `--collector.diskstats.device-include` fails at start-up as "mutually exclusive"; 1.11 fixed
/// that by letting an include pattern replace the *default* exclude, which is what is done
/// here. Giving both explicitly is still an error, as is giving the old `ignored-devices` name
/// together with `device-exclude`. The old name is looked up under its own name, so this holds
/// whether the command line files an alias's value under the alias or under the flag.
fn filter(s: &super::Settings) -> Result<DeviceFilter, String> {
    let old = s.str(EXCLUDE_OLD);
    let (exclude_flag, mut exclude, explicit) = if old.is_empty() {
        (EXCLUDE, s.str(EXCLUDE), s.is_set(EXCLUDE))
    } else if s.is_set(EXCLUDE) && s.str(EXCLUDE) != old {
        return Err(format!("--{EXCLUDE_OLD} and --{EXCLUDE} are mutually exclusive"));
    } else {
        (EXCLUDE_OLD, old, true)
    };
    let include = s.str(INCLUDE);
    if !include.is_empty() && !exclude.is_empty() {
        if explicit {
            return Err(format!("--{exclude_flag} and --{INCLUDE} are mutually exclusive"));
        }
        exclude = "";
    }
    DeviceFilter::new(exclude_flag, exclude, INCLUDE, include)
}

#[derive(Debug)]
struct Diskstats {
    file: File,
    buf: Vec<u8>,
    devices: Devices,
}

impl Collector for Diskstats {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = self.file.read(&mut self.buf).map_err(Error::read(PATH))?;
        self.devices.disks.begin();
        scan(src, enc, &mut self.devices).map_err(Error::parse(PATH))?;
        // Only a complete scan may forget the disks it did not see.
        self.devices.disks.end();
        Ok(())
    }
}

/// Per-disk state, kept across scrapes by device name.
#[derive(Debug)]
struct Devices {
    filter: DeviceFilter,
    udev_dir: PathBuf,
    disks: Entries<Disk>,
}

#[derive(Debug)]
struct Disk {
    /// The filter's verdict, which depends on the name alone.
    ignored: bool,
    udev: UdevCache,
}

impl Lookup for Devices {
    fn lookup(&mut self, row: &Row<'_>) -> Option<&UdevInfo> {
        let filter = &self.filter;
        let disk = self.disks.get_or_insert_with(row.name, || Disk {
            ignored: filter.is_ignored(row.name),
            udev: UdevCache::default(),
        });
        if disk.ignored {
            return None;
        }
        disk.udev.refresh(&self.udev_dir, row.major, row.minor);
        Some(&disk.udev.info)
    }
}

/// A device's udev database entry, as last read.
///
/// udev replaces `b<major>:<minor>` by writing a new file and renaming it over the old one, so
/// a kept fd would go on reading the copy udev has let go of. Opening and reading the file on
/// every scrape, as upstream does, costs an `openat`, a `read` and a `close` per disk; instead
/// the file is `stat`ed each scrape and read again only when its identity (device, inode,
/// size, mtime, ctime) differs from that of the fd the held bytes came from. One `stat` per
/// disk per scrape, no fd held, and no allocation unless the file changed and grew.
#[derive(Debug, Default)]
struct UdevCache {
    /// The device numbers `path` was built for; a disk name can come back with new numbers.
    dev: Option<(u32, u32)>,
    path: CString,
    /// Identity of the file `info` was read from; `None` when there is none.
    stamp: Option<Stamp>,
    info: UdevInfo,
}

/// Enough of `struct stat` to tell a file from its replacement.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: i64,
    mtime: (i64, u64),
    ctime: (i64, u64),
}

impl Stamp {
    // `struct stat`'s field types differ between architectures (`c_ulong`, `u32`, `i64`...):
    // the conversions are identities on some and widenings on others.
    #[allow(clippy::useless_conversion)]
    fn of(st: &rustix::fs::Stat) -> Stamp {
        Stamp {
            dev: u64::from(st.st_dev),
            ino: u64::from(st.st_ino),
            size: i64::from(st.st_size),
            mtime: (i64::from(st.st_mtime), u64::from(st.st_mtime_nsec)),
            ctime: (i64::from(st.st_ctime), u64::from(st.st_ctime_nsec)),
        }
    }
}

impl UdevCache {
    fn refresh(&mut self, dir: &Path, major: u32, minor: u32) {
        if self.dev != Some((major, minor)) {
            // Allocates, but only when a disk first appears or changes numbers.
            self.path = source::c_path(&dir.join(format!("b{major}:{minor}")));
            self.dev = Some((major, minor));
            self.forget();
        }
        let now = match rustix::fs::stat(self.path.as_c_str()) {
            Ok(st) => Stamp::of(&st),
            // No entry (or no udev at all): upstream reports the disk with empty labels.
            Err(_) => return self.forget(),
        };
        if self.stamp == Some(now) {
            return;
        }
        match source::read_once(&self.path, &mut self.info.text) {
            Ok(st) => {
                self.stamp = Some(Stamp::of(&st));
                self.info.props = index_udev(&self.info.text);
            }
            Err(_) => self.forget(),
        }
    }

    fn forget(&mut self) {
        self.stamp = None;
        self.info.text.clear();
        self.info.props = [None; PROPS.len()];
    }
}

/// The udev properties the info families use, by position in [`UdevInfo::props`].
#[derive(Clone, Copy, Debug)]
enum Prop {
    IdPath,
    IdWwn,
    IdModel,
    ScsiIdentSerial,
    IdSerialShort,
    IdRevision,
    IdFsType,
    IdFsUsage,
    IdFsUuid,
    IdFsVersion,
    DmName,
    DmUuid,
    DmVgName,
    DmLvName,
    DmLvLayer,
    IdAta,
    IdAtaWriteCache,
    IdAtaWriteCacheEnabled,
    IdAtaRotationRateRpm,
}

/// Property names, in [`Prop`] order.
const PROPS: [&[u8]; 19] = [
    b"ID_PATH",
    b"ID_WWN",
    b"ID_MODEL",
    b"SCSI_IDENT_SERIAL",
    b"ID_SERIAL_SHORT",
    b"ID_REVISION",
    b"ID_FS_TYPE",
    b"ID_FS_USAGE",
    b"ID_FS_UUID",
    b"ID_FS_VERSION",
    b"DM_NAME",
    b"DM_UUID",
    b"DM_VG_NAME",
    b"DM_LV_NAME",
    b"DM_LV_LAYER",
    b"ID_ATA",
    b"ID_ATA_WRITE_CACHE",
    b"ID_ATA_WRITE_CACHE_ENABLED",
    b"ID_ATA_ROTATION_RATE_RPM",
];

/// Where each wanted property's value sits in a database file, `None` if absent.
type Props = [Option<(u32, u32)>; PROPS.len()];

/// What udev knows about one device: its database file and where each wanted property's value
/// lies in it.
#[derive(Debug)]
pub struct UdevInfo {
    text: Vec<u8>,
    props: Props,
}

impl Default for UdevInfo {
    fn default() -> Self {
        UdevInfo { text: Vec::new(), props: [None; PROPS.len()] }
    }
}

impl UdevInfo {
    /// The parsed form of a database file's bytes. Allocates a copy of `src`.
    #[cfg(test)]
    fn parse(src: &[u8]) -> UdevInfo {
        UdevInfo { text: src.to_vec(), props: index_udev(src) }
    }

    fn get(&self, p: Prop) -> Option<&[u8]> {
        self.props[p as usize].map(|(a, b)| &self.text[a as usize..b as usize])
    }

    /// The property's value, empty when absent, as Go's map lookup gives.
    fn str(&self, p: Prop) -> &[u8] {
        self.get(p).unwrap_or_default()
    }
}

/// Finds the wanted `E:KEY=value` properties in a database file. A key given twice keeps its
/// last value, as upstream's map does; lines of other kinds (`S:`, `I:`, `G:`, ...) and property
/// lines without `=` are skipped. Allocates nothing.
fn index_udev(src: &[u8]) -> Props {
    let mut props = [None; PROPS.len()];
    let mut at = 0usize;
    for line in lex::lines(src) {
        let start = at;
        at += line.len() + 1;
        // Go's line scanner drops a carriage return before the line feed.
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(prop) = line.strip_prefix(b"E:") else { continue };
        let Some(eq) = memchr::memchr(b'=', prop) else { continue };
        if let Some(i) = PROPS.iter().position(|&k| k == &prop[..eq]) {
            let from = start + 2 + eq + 1;
            let to = start + line.len();
            props[i] = Some((from as u32, to as u32));
        }
    }
    props
}

/// How one counter column becomes a sample.
#[derive(Clone, Copy, Debug)]
enum Unit {
    /// Reported as is.
    Count,
    /// 512-byte sectors, reported in bytes.
    Sectors,
    /// Milliseconds, reported in seconds.
    Ticks,
}

/// The counter columns in file order: family name, HELP, type, unit.
const STATS: [(&str, &str, Kind, Unit); 17] = [
    (
        "node_disk_reads_completed_total",
        "The total number of reads completed successfully.",
        Kind::Counter,
        Unit::Count,
    ),
    (
        "node_disk_reads_merged_total",
        "The total number of reads merged.",
        Kind::Counter,
        Unit::Count,
    ),
    (
        "node_disk_read_bytes_total",
        "The total number of bytes read successfully.",
        Kind::Counter,
        Unit::Sectors,
    ),
    (
        "node_disk_read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        Kind::Counter,
        Unit::Ticks,
    ),
    (
        "node_disk_writes_completed_total",
        "The total number of writes completed successfully.",
        Kind::Counter,
        Unit::Count,
    ),
    ("node_disk_writes_merged_total", "The number of writes merged.", Kind::Counter, Unit::Count),
    (
        "node_disk_written_bytes_total",
        "The total number of bytes written successfully.",
        Kind::Counter,
        Unit::Sectors,
    ),
    (
        "node_disk_write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        Kind::Counter,
        Unit::Ticks,
    ),
    ("node_disk_io_now", "The number of I/Os currently in progress.", Kind::Gauge, Unit::Count),
    (
        "node_disk_io_time_seconds_total",
        "Total seconds spent doing I/Os.",
        Kind::Counter,
        Unit::Ticks,
    ),
    (
        "node_disk_io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        Kind::Counter,
        Unit::Ticks,
    ),
    (
        "node_disk_discards_completed_total",
        "The total number of discards completed successfully.",
        Kind::Counter,
        Unit::Count,
    ),
    (
        "node_disk_discards_merged_total",
        "The total number of discards merged.",
        Kind::Counter,
        Unit::Count,
    ),
    // Upstream reports discarded sectors as sectors, not bytes.
    (
        "node_disk_discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        Kind::Counter,
        Unit::Count,
    ),
    (
        "node_disk_discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        Kind::Counter,
        Unit::Ticks,
    ),
    (
        "node_disk_flush_requests_total",
        "The total number of flush requests completed successfully",
        Kind::Counter,
        Unit::Count,
    ),
    (
        "node_disk_flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        Kind::Counter,
        Unit::Ticks,
    ),
];

/// Counter columns a line must have to be reported (the pre-4.18 layout).
const MIN_STATS: usize = 11;

/// The ATA families: property, family name, HELP.
const ATA: [(Prop, &str, &str); 3] = [
    (Prop::IdAtaWriteCache, "node_disk_ata_write_cache", "ATA disk has a write cache."),
    (
        Prop::IdAtaWriteCacheEnabled,
        "node_disk_ata_write_cache_enabled",
        "ATA disk has its write cache enabled.",
    ),
    (
        Prop::IdAtaRotationRateRpm,
        "node_disk_ata_rotation_rate_rpm",
        "ATA disk rotation rate in RPMs (0 for SSDs).",
    ),
];

/// One line of `/proc/diskstats`.
#[derive(Clone, Copy, Debug)]
pub struct Row<'a> {
    /// Major device number.
    pub major: u32,
    /// Minor device number.
    pub minor: u32,
    /// Device name.
    pub name: &'a [u8],
    /// The counters in file order; those past `count` are 0.
    pub stats: [u64; STATS.len()],
    /// How many counters the line had (at most 17 are read).
    pub count: usize,
}

/// Parses one line, field by field as upstream's `fmt.Sscanf` does: a field that is not a
/// number fails the line (and so the scrape), running out of fields ends it, and a line ending
/// before `MIN_STATS` counters is `Ok(None)`, skipped. Fields past the 17th counter are
/// ignored.
///
/// # Errors
/// Which field did not parse: a device number that is not a `u32`, a counter not a `u64`.
pub fn parse_row(line: &[u8]) -> Result<Option<Row<'_>>, &'static str> {
    let mut fields = lex::fields(line);
    let mut number = |what| -> Result<Option<u32>, &'static str> {
        match fields.next() {
            None => Ok(None),
            Some(f) => lex::parse_u64(f).and_then(|n| u32::try_from(n).ok()).map(Some).ok_or(what),
        }
    };
    let Some(major) = number("major number is not a 32-bit unsigned integer")? else {
        return Ok(None);
    };
    let Some(minor) = number("minor number is not a 32-bit unsigned integer")? else {
        return Ok(None);
    };
    let Some(name) = fields.next() else { return Ok(None) };
    let mut row = Row { major, minor, name, stats: [0; STATS.len()], count: 0 };
    for (slot, field) in row.stats.iter_mut().zip(fields) {
        *slot = lex::parse_u64(field).ok_or("counter is not a 64-bit unsigned integer")?;
        row.count += 1;
    }
    Ok((row.count >= MIN_STATS).then_some(row))
}

/// What [`scan`] asks the caller about each device it reads.
pub trait Lookup {
    /// `None` to leave the device out; otherwise what udev knows about it (possibly nothing).
    fn lookup(&mut self, row: &Row<'_>) -> Option<&UdevInfo>;
}

/// Scans `/proc/diskstats` into `enc`, asking `devices` which devices to report and for their
/// udev properties. Allocates nothing beyond the encoder's own growth.
///
/// # Errors
/// The first line that does not parse; nothing is then left in `enc`.
pub fn scan(src: &[u8], enc: &mut Encoder, devices: &mut impl Lookup) -> Result<(), ParseError> {
    let fams = Families::declare(enc);
    let cp = enc.checkpoint();
    for (n, line) in lex::lines(src).enumerate() {
        let row = match parse_row(line) {
            Ok(Some(row)) => row,
            Ok(None) => continue,
            Err(what) => {
                enc.rollback(cp);
                return Err(ParseError::at(n + 1, what));
            }
        };
        if let Some(info) = devices.lookup(&row) {
            emit(enc, &fams, &row, info);
        }
    }
    Ok(())
}

/// The families, declared once per scrape.
struct Families {
    stats: [FamilyId; STATS.len()],
    info: FamilyId,
    filesystem: FamilyId,
    device_mapper: FamilyId,
    ata: [FamilyId; ATA.len()],
}

impl Families {
    fn declare(enc: &mut Encoder) -> Families {
        Families {
            stats: STATS.map(|(name, help, kind, _)| enc.family(name, help, kind)),
            info: enc.family("node_disk_info", "Info of /sys/block/<block_device>.", Kind::Gauge),
            filesystem: enc.family(
                "node_disk_filesystem_info",
                "Info about disk filesystem.",
                Kind::Gauge,
            ),
            device_mapper: enc.family(
                "node_disk_device_mapper_info",
                "Info about disk device mapper.",
                Kind::Gauge,
            ),
            ata: ATA.map(|(_, name, help)| enc.family(name, help, Kind::Gauge)),
        }
    }
}

fn emit(enc: &mut Encoder, fams: &Families, row: &Row<'_>, info: &UdevInfo) {
    let dev = ("device", row.name);
    let (mut major, mut minor) = (itoa::Buffer::new(), itoa::Buffer::new());
    // The serial printed on the label when udev has it, else the short serial.
    let serial = match info.str(Prop::ScsiIdentSerial) {
        b"" => info.str(Prop::IdSerialShort),
        s => s,
    };
    enc.sample(
        fams.info,
        &[
            dev,
            ("major", major.format(row.major).as_bytes()),
            ("minor", minor.format(row.minor).as_bytes()),
            ("path", info.str(Prop::IdPath)),
            ("wwn", info.str(Prop::IdWwn)),
            ("model", info.str(Prop::IdModel)),
            ("serial", serial),
            ("revision", info.str(Prop::IdRevision)),
        ],
        1.0,
    );

    let present = STATS.iter().zip(&fams.stats).zip(&row.stats).take(row.count);
    for ((&(_, _, _, unit), &fam), &v) in present {
        match unit {
            Unit::Count => enc.sample_u64(fam, &[dev], v),
            Unit::Sectors => enc.sample(fam, &[dev], v as f64 * SECTOR_BYTES),
            Unit::Ticks => enc.sample(fam, &[dev], v as f64 * SECONDS_PER_TICK),
        }
    }

    let fs_type = info.str(Prop::IdFsType);
    if !fs_type.is_empty() {
        let labels = [
            dev,
            ("type", fs_type),
            ("usage", info.str(Prop::IdFsUsage)),
            ("uuid", info.str(Prop::IdFsUuid)),
            ("version", info.str(Prop::IdFsVersion)),
        ];
        enc.sample(fams.filesystem, &labels, 1.0);
    }

    let dm_name = info.str(Prop::DmName);
    if !dm_name.is_empty() {
        let labels = [
            dev,
            ("name", dm_name),
            ("uuid", info.str(Prop::DmUuid)),
            ("vg_name", info.str(Prop::DmVgName)),
            ("lv_name", info.str(Prop::DmLvName)),
            ("lv_layer", info.str(Prop::DmLvLayer)),
        ];
        enc.sample(fams.device_mapper, &labels, 1.0);
    }

    if !info.str(Prop::IdAta).is_empty() {
        for (&(prop, _, _), &fam) in ATA.iter().zip(&fams.ata) {
            // Upstream logs a value that is absent or not a number and goes on without it.
            if let Some(v) = info.get(prop).and_then(lex::parse_f64) {
                enc.sample(fam, &[dev], v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fds_under, fixtures, render, scrape, tmpdir,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    /// Reports every device with the same udev entry.
    struct All(UdevInfo);

    impl Lookup for All {
        fn lookup(&mut self, _: &Row<'_>) -> Option<&UdevInfo> {
            Some(&self.0)
        }
    }

    fn scan_all(src: &[u8], udev: &[u8]) -> Result<String, ParseError> {
        let mut result = Ok(());
        let text = render(|enc| result = scan(src, enc, &mut All(UdevInfo::parse(udev))));
        result.map(|()| text)
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        assert_matches_e2e(&text);
        // Every family the collector has, including all three kinds of udev info.
        for fam in ["node_disk_info", "node_disk_device_mapper_info", "node_disk_ata_write_cache"] {
            assert!(text.contains(&format!("# TYPE {fam} gauge\n")), "{fam} missing");
        }
        assert!(
            text.contains("node_disk_flush_requests_time_seconds_total{device=\"sdc\"} 1.944\n")
        );
        // A second scrape over the cached udev entries gives the same text.
        assert_eq!(scrape(c.as_mut()), text);
    }

    #[test]
    fn values_units_and_column_counts() {
        let src = b"8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n\
                    8 16 sdb 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n\
                    8 32 sdc 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n";
        let text = scan_all(src, b"").unwrap();
        assert!(text.contains("node_disk_read_bytes_total{device=\"sda\"} 1536\n"));
        assert!(text.contains("node_disk_read_time_seconds_total{device=\"sda\"} 0.004\n"));
        assert!(text.contains("node_disk_io_now{device=\"sda\"} 9\n"));
        assert!(text.contains("node_disk_io_time_weighted_seconds_total{device=\"sda\"} 0.011\n"));
        // Discarded sectors stay sectors.
        assert!(text.contains("node_disk_discarded_sectors_total{device=\"sdb\"} 14\n"));
        assert!(!text.contains("node_disk_discards_completed_total{device=\"sda\"}"));
        assert!(!text.contains("node_disk_flush_requests_total{device=\"sdb\"}"));
        assert!(
            text.contains("node_disk_flush_requests_time_seconds_total{device=\"sdc\"} 0.017\n")
        );
        assert!(text.contains(
            "node_disk_info{device=\"sdc\",major=\"8\",minor=\"32\",model=\"\",path=\"\",\
             revision=\"\",serial=\"\",wwn=\"\"} 1\n"
        ));
        // Large counters are written as Go writes float64(n).
        let big =
            scan_all(b"8 0 sda 18446744073709551615 0 36028797018963968 0 0 0 0 0 0 0 0", b"")
                .unwrap();
        for fam in ["node_disk_reads_completed_total", "node_disk_read_bytes_total"] {
            assert!(big.contains(&format!("{fam}{{device=\"sda\"}} 1.8446744073709552e+19\n")));
        }
    }

    #[test]
    fn udev_properties() {
        let udev = b"S:disk/by-id/x\n\
                     E:ID_PATH=pci-0000:00:1f.2-ata-1\r\n\
                     E:ID_MODEL=old\n\
                     E:ID_MODEL=new model\n\
                     E:ID_SERIAL_SHORT=short\n\
                     E:NOEQUALS\n\
                     E:ID_FS_TYPE=ext4\n\
                     E:ID_FS_UUID=u=u\n\
                     E:DM_NAME=vg-lv\n\
                     E:DM_LV_LAYER=\n\
                     E:ID_ATA=1\n\
                     E:ID_ATA_WRITE_CACHE=1\n\
                     E:ID_ATA_WRITE_CACHE_ENABLED=yes\n\
                     E:ID_ATA_ROTATION_RATE_RPM=5400";
        let text = scan_all(b"8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n", udev).unwrap();
        assert!(text.contains(
            "node_disk_info{device=\"sda\",major=\"8\",minor=\"0\",model=\"new model\",\
             path=\"pci-0000:00:1f.2-ata-1\",revision=\"\",serial=\"short\",wwn=\"\"} 1\n"
        ));
        assert!(text.contains(
            "node_disk_filesystem_info{device=\"sda\",type=\"ext4\",usage=\"\",uuid=\"u=u\",\
             version=\"\"} 1\n"
        ));
        assert!(text.contains(
            "node_disk_device_mapper_info{device=\"sda\",lv_layer=\"\",lv_name=\"\",\
             name=\"vg-lv\",uuid=\"\",vg_name=\"\"} 1\n"
        ));
        assert!(text.contains("node_disk_ata_write_cache{device=\"sda\"} 1\n"));
        assert!(text.contains("node_disk_ata_rotation_rate_rpm{device=\"sda\"} 5400\n"));
        // Not a number: left out, the rest reported.
        assert!(!text.contains("node_disk_ata_write_cache_enabled{"));

        // SCSI_IDENT_SERIAL wins over ID_SERIAL_SHORT; no ID_ATA, no ATA families.
        let udev = b"E:ID_SERIAL_SHORT=short\nE:SCSI_IDENT_SERIAL=label\nE:ID_ATA_WRITE_CACHE=1\n";
        let text = scan_all(b"8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n", udev).unwrap();
        assert!(text.contains("serial=\"label\""));
        assert!(!text.contains("node_disk_ata_"));
        assert!(!text.contains("node_disk_filesystem_info"));
    }

    #[test]
    fn short_and_long_lines() {
        // Too few counters: skipped, as upstream skips them. Extra columns: ignored.
        let src = b"\n8 0\n8 0 sda\n8 1 sda1 1 2 3 4 5 6 7 8 9 10\n\
                    8 2 sda2 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20\n";
        let text = scan_all(src, b"").unwrap();
        assert!(!text.contains("\"sda1\""));
        assert!(!text.contains("\"sda\""));
        assert!(
            text.contains("node_disk_flush_requests_time_seconds_total{device=\"sda2\"} 0.017\n")
        );
        assert_eq!(scan_all(b"", b"").unwrap(), "");
    }

    #[test]
    fn malformed_lines_fail_whole() {
        let good = "8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n";
        for bad in [
            "8 1 sdb 1 2 3 4 5 6 7 8 9 10 x",
            "8 1 sdb 1 2 3 4 5 6 7 8 9 10 11 12x",
            "8 1 sdb 1 2 x",
            "8 1 sdb 1 2 3 4 5 6 7 8 9 10 18446744073709551616",
            "4294967296 1 sdb 1 2 3 4 5 6 7 8 9 10 11",
            "-8 1 sdb 1 2 3 4 5 6 7 8 9 10 11",
            "x 1 sdb 1 2 3 4 5 6 7 8 9 10 11",
            "8 1 sdb -1 2 3 4 5 6 7 8 9 10 11",
        ] {
            let src = format!("{good}{bad}\n");
            let mut enc = Encoder::new();
            let err = scan(src.as_bytes(), &mut enc, &mut All(UdevInfo::default())).unwrap_err();
            assert_eq!(err.line, 2, "{bad}");
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "a failed scan left samples behind: {bad}");
        }
    }

    #[test]
    fn parse_row_fields() {
        let row = parse_row(b"  259  0 nvme0n1 1 2 3 4 5 6 7 8 9 10 11 12").unwrap().unwrap();
        assert_eq!((row.major, row.minor, row.name, row.count), (259, 0, &b"nvme0n1"[..], 12));
        assert_eq!(row.stats[11], 12);
        assert_eq!(row.stats[12], 0);
        assert!(parse_row(b"4294967295 0 x 1 2 3 4 5 6 7 8 9 10 11").unwrap().is_some());
    }

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let mut s = Settings::new();
        for (k, v) in pairs {
            s.set(k, *v);
        }
        s
    }

    fn names(f: &DeviceFilter, devs: &[&str]) -> Vec<String> {
        devs.iter().filter(|d| !f.is_ignored(d.as_bytes())).map(|d| d.to_string()).collect()
    }

    #[test]
    fn flags() {
        let devs = ["sda", "sda1", "loop0", "dm-0", "nvme0n1p1"];
        let default = filter(&Settings::new()).unwrap();
        assert_eq!(names(&default, &devs), ["sda", "dm-0"]);
        // Include alone replaces the default exclude (node_exporter 1.11's fix).
        let include = filter(&settings(&[(INCLUDE, "^sda")])).unwrap();
        assert_eq!(names(&include, &devs), ["sda", "sda1"]);
        let old = filter(&settings(&[(EXCLUDE_OLD, "^dm-")])).unwrap();
        assert_eq!(names(&old, &devs), ["sda", "sda1", "loop0", "nvme0n1p1"]);
        let cleared = filter(&settings(&[(EXCLUDE, ""), (INCLUDE, "^sda")])).unwrap();
        assert_eq!(names(&cleared, &devs), ["sda", "sda1"]);

        for (pairs, needle) in [
            (&[(EXCLUDE, "loop"), (INCLUDE, "sd")][..], "mutually exclusive"),
            (&[(EXCLUDE_OLD, "loop"), (EXCLUDE, "ram")][..], "ignored-devices"),
            (&[(EXCLUDE_OLD, "loop"), (INCLUDE, "sd")][..], "mutually exclusive"),
            (&[(EXCLUDE, "(")][..], "--collector.diskstats.device-exclude"),
            (&[(INCLUDE, "[")][..], "--collector.diskstats.device-include"),
        ] {
            let err = filter(&settings(pairs)).unwrap_err();
            assert!(err.contains(needle), "{pairs:?}: {err}");
        }
        let err = build_spec(&SPEC, &Paths::under("/nonexistent"), &Settings::new()).unwrap_err();
        assert!(err.contains("procfs"), "{err}");
    }

    #[test]
    fn disks_and_udev_entries_come_and_go() {
        let root = tmpdir("diskstats-churn");
        std::fs::create_dir_all(root.join("proc")).unwrap();
        std::fs::create_dir_all(root.join("sys")).unwrap();
        let udev = root.join("udev/data");
        std::fs::create_dir_all(&udev).unwrap();
        let stats = root.join("proc/diskstats");
        let line =
            |maj: u32, min: u32, name: &str| format!("{maj} {min} {name} 1 0 2 0 3 0 4 0 0 5 6\n");
        std::fs::write(&stats, line(8, 0, "sda") + &line(8, 16, "sdb")).unwrap();
        std::fs::write(udev.join("b8:0"), "E:ID_MODEL=first\n").unwrap();

        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        assert!(text.contains("device=\"sda\",major=\"8\",minor=\"0\",model=\"first\""));
        assert!(text.contains("device=\"sdb\",major=\"8\",minor=\"16\",model=\"\""));

        // udev replaces its entry by rename; the next scrape sees the new one.
        let tmp = udev.join(".tmp-b8:0");
        std::fs::write(&tmp, "E:ID_MODEL=second, longer\nE:ID_FS_TYPE=xfs\n").unwrap();
        std::fs::rename(&tmp, udev.join("b8:0")).unwrap();
        // sdb goes away, sdc comes, reusing sdb's numbers with its own udev entry.
        std::fs::write(udev.join("b8:16"), "E:ID_MODEL=third\n").unwrap();
        std::fs::write(&stats, line(8, 0, "sda") + &line(8, 16, "sdc")).unwrap();
        let text = scrape(c.as_mut());
        assert!(text.contains("model=\"second, longer\""));
        assert!(text.contains("node_disk_filesystem_info{device=\"sda\",type=\"xfs\""));
        assert!(text.contains("device=\"sdc\",major=\"8\",minor=\"16\",model=\"third\""));
        assert!(!text.contains("\"sdb\""));

        // The udev entry disappears: the disk stays, with empty labels.
        std::fs::remove_file(udev.join("b8:0")).unwrap();
        let text = scrape(c.as_mut());
        assert!(text.contains("device=\"sda\",major=\"8\",minor=\"0\",model=\"\""));
        assert!(!text.contains("node_disk_filesystem_info"));

        // Only /proc/diskstats is held open; udev entries are read and closed.
        assert_eq!(fds_under(&udev), 0);
        assert!(fds_under(&root) <= 1);
        drop(c);
        assert_eq!(fds_under(&root), 0);

        // A missing /proc/diskstats is a read error, not a panic.
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        std::fs::remove_file(&stats).unwrap();
        let mut enc = Encoder::new();
        assert!(matches!(c.update(&mut enc), Err(Error::Read { .. })));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            let mut enc = Encoder::new();
            c.update(&mut enc).unwrap();
        }
    }
}
