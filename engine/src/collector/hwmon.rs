//! `/sys/class/hwmon/hwmon*/…` → `node_hwmon_<type>_<property>_<unit>{chip,sensor}`,
//! `node_hwmon_chip_names{chip,chip_name}` and `node_hwmon_sensor_label{chip,sensor,label}`;
//! node_exporter's hwmon collector.
//!
//! Each hardware monitoring chip has a directory of files named `<type><n>_<property>`, see the
//! kernel's Documentation/hwmon/sysfs-interface.rst: `temp1_input` (`55000`, millidegrees
//! Celsius), `in0_max` (millivolts), `fan2_input` (RPM), `power1_average` (microwatts),
//! `temp1_label` (`Core 0`). Older drivers keep theirs in the directory of the device the chip
//! watches, which the chip's `device` link names; both directories are read, the device's values
//! winning. Thirteen sensor types are reported; the metric name and HELP text follow from the
//! type and the property as in upstream (`in`/`cpu` in volts, `temp` in Celsius, `curr` in amps,
//! `power` in watts, `energy` in joules, `fan` speeds in RPM, everything else as it is).
//!
//! The `chip` label is built as upstream builds it: from the `device` link resolved as Go's
//! `filepath.EvalSymlinks` resolves it (`…/platform/coretemp.0` → `platform_coretemp_0`), else
//! from the chip's `name` file, else from the chip directory's own name; chips are filtered on
//! it with `--collector.hwmon.chip-include` and `--collector.hwmon.chip-exclude`. Names, links
//! and the presence of `device` do not change during a chip's life, so they are worked out once
//! per chip; a chip is known by the identity (device and inode) of its directory, checked with
//! one `stat` per scrape, so that a chip number the kernel hands to a new device gets a new
//! chip. Sensor files are read as upstream reads them (one read of 128 bytes, newlines trimmed)
//! through fds kept per file, and their directories are listed again on every scrape.
//!
//! A chip whose directories cannot be listed is left out and fails the collector, as upstream's
//! last-error rule has it, while the other chips are still reported: a failed update here can
//! leave samples behind. A missing class directory is "no data". A sensor's unreadable or
//! non-numeric value is left out. Reading a sensor runs its driver, which may talk to the chip
//! over a slow bus, or hang with it: the collector is marked blocking.

use super::device_filter::DeviceFilter;
use super::sysfs::{self, lower_ascii_at, read_short};
use super::{Build, Collector, Error, Flag, FlagKind, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::glob::{self, decode_rune};
use crate::lex;
use crate::source::{Dir, Entries, File};
use rustix::fs::FileType;
use rustix::io::Errno;
use std::ffi::CString;
use std::path::PathBuf;

/// Registration.
pub const SPEC: Spec = Spec {
    name: "hwmon",
    default_enabled: true,
    flags: &[
        Flag {
            name: INCLUDE,
            help: "Regexp of hwmon chip to include (mutually exclusive to device-exclude).",
            kind: FlagKind::Regex,
            default: "",
            aliases: &[],
        },
        Flag {
            name: EXCLUDE,
            help: "Regexp of hwmon chip to exclude (mutually exclusive to device-include).",
            kind: FlagKind::Regex,
            default: "",
            aliases: &[],
        },
    ],
    blocking: true,
    build,
};

const INCLUDE: &str = "collector.hwmon.chip-include";
const EXCLUDE: &str = "collector.hwmon.chip-exclude";

const CLASS: &str = "class/hwmon";
const CHIP_DIR: &str = "class/hwmon/*";
const DEVICE_DIR: &str = "class/hwmon/*/device";

/// The sensor types upstream reports; a file of any other type is passed over.
const TYPES: [&[u8]; 13] = [
    b"vrm",
    b"beep_enable",
    b"update_interval",
    b"in",
    b"cpu",
    b"fan",
    b"pwm",
    b"temp",
    b"curr",
    b"power",
    b"energy",
    b"humidity",
    b"intrusion",
];
const VRM: u8 = 0;
const BEEP_ENABLE: u8 = 1;
const UPDATE_INTERVAL: u8 = 2;

#[derive(Debug)]
struct Hwmon {
    class: Dir,
    /// The class directory as upstream spells it (cleaned): chip paths are built from it.
    class_path: Vec<u8>,
    filter: DeviceFilter,
    chips: Entries<Chip>,
    buf: Vec<u8>,
    scan: Scan,
}

/// A class directory entry.
#[derive(Debug)]
struct Chip {
    path: CString,
    /// What is known of the chip now behind the entry, if it is a directory.
    state: Option<ChipState>,
}

/// A chip, as long as its directory is the same one.
#[derive(Debug)]
struct ChipState {
    /// Device and inode of the chip's directory.
    id: (u64, u64),
    /// The `chip` label, or why there is none.
    label: Result<Box<[u8]>, Error>,
    /// The cleaned content of `name`, for `node_hwmon_chip_names`.
    name: Option<Box<[u8]>>,
    ignored: bool,
    /// The chip's directory, then its device's if `device` existed.
    dirs: Vec<SensorDir>,
}

/// A directory of sensor files.
#[derive(Debug)]
struct SensorDir {
    dir: Dir,
    path: PathBuf,
    /// Whether errors name the chip's directory or its device's.
    what: &'static str,
    files: Entries<Sensor>,
}

/// A sensor file: its fd, and what its name says.
#[derive(Debug)]
struct Sensor {
    file: File,
    ty: u8,
    num: u64,
    property: Box<[u8]>,
}

/// This scrape's values of one chip, and the buffers to emit them with.
#[derive(Debug, Default)]
struct Scan {
    rows: Vec<Row>,
    /// Properties and values of `rows`.
    text: Vec<u8>,
    name: Vec<u8>,
    help: Vec<u8>,
    label: Vec<u8>,
}

/// One sensor file's value.
#[derive(Clone, Copy, Debug)]
struct Row {
    ty: u8,
    num: u64,
    property: (u32, u32),
    value: (u32, u32),
    /// Position in upstream's reading order: a later file's value replaces an earlier one.
    seq: u32,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let s = b.settings;
    // Upstream allows both patterns at once, whatever the HELP text says.
    let filter = DeviceFilter::new(EXCLUDE, s.str(EXCLUDE), INCLUDE, s.str(INCLUDE))?;
    Ok(Box::new(Hwmon {
        class: Dir::new(b.paths.sys(CLASS)),
        class_path: sysfs::go_join(&b.paths.sysfs, CLASS.as_bytes()),
        filter,
        chips: Entries::new(),
        buf: Vec::new(),
        scan: Scan::default(),
    }))
}

impl Collector for Hwmon {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let Hwmon { class, class_path, filter, chips, buf, scan } = self;
        chips.begin();
        let listed = class.for_each(|name, _| {
            chips.get_or_insert_with(name, || Chip::new(class_path, name));
        });
        match listed {
            Ok(()) => chips.end(),
            Err(Errno::NOENT) => return Err(Error::NoData),
            Err(errno) => return Err(Error::Read { path: CLASS, errno }),
        }
        // Upstream's rule: a chip that fails is left out, the others are reported, and the
        // last failure fails the collector.
        let mut last_err = None;
        for (_, chip) in chips.iter_mut() {
            // Upstream takes entries that are directories, or links to them.
            let id = match rustix::fs::stat(chip.path.as_c_str()) {
                Ok(st) if FileType::from_raw_mode(st.st_mode).is_dir() => identity(&st),
                _ => {
                    chip.state = None;
                    continue;
                }
            };
            if chip.state.as_ref().is_none_or(|s| s.id != id) {
                chip.state = Some(ChipState::new(id, chip.path.as_bytes(), filter));
            }
            if let Some(Err(e)) = chip.state.as_ref().map(|s| &s.label) {
                last_err = Some(*e);
                // Worked out again on the next scrape: the failure may pass.
                chip.state = None;
                continue;
            }
            let Some(ChipState { label: Ok(label), name, ignored: false, dirs, .. }) =
                &mut chip.state
            else {
                continue;
            };
            if let Err(e) = scan.read(dirs, buf) {
                last_err = Some(e);
                continue;
            }
            scan.emit(enc, label, name.as_deref());
        }
        last_err.map_or(Ok(()), Err)
    }
}

/// A directory's device and inode: a chip's identity.
// `st_dev` and `st_ino` have other integer types on other architectures.
#[allow(clippy::useless_conversion)]
fn identity(st: &rustix::fs::Stat) -> (u64, u64) {
    (u64::from(st.st_dev), u64::from(st.st_ino))
}

impl Chip {
    fn new(class: &[u8], name: &[u8]) -> Chip {
        let mut path = Vec::new();
        glob::join(&mut path, class, name);
        Chip { path: CString::new(path).unwrap_or_default(), state: None }
    }
}

impl ChipState {
    /// Works out what does not change during a chip's life. Allocates.
    fn new(id: (u64, u64), dir: &[u8], filter: &DeviceFilter) -> ChipState {
        let label = chip_label(dir);
        let ignored = label.as_ref().is_ok_and(|l| filter.is_ignored(l));
        let mut dirs = vec![SensorDir::new(dir, CHIP_DIR)];
        let mut device = dir.to_vec();
        device.extend_from_slice(b"/device");
        if std::fs::metadata(sysfs::path(&device)).is_ok() {
            dirs.push(SensorDir::new(&device, DEVICE_DIR));
        }
        ChipState {
            id,
            label: label.map(Into::into),
            name: chip_name(dir).map(Into::into),
            ignored,
            dirs,
        }
    }
}

impl SensorDir {
    fn new(path: &[u8], what: &'static str) -> SensorDir {
        let path = sysfs::path(path).to_path_buf();
        SensorDir { dir: Dir::new(&path), path, what, files: Entries::new() }
    }
}

impl Scan {
    /// Lists the chip's directories and reads its sensor files into `rows`, deduplicated and
    /// grouped by sensor. Allocates only for new sensor files and to grow the buffers.
    ///
    /// # Errors
    /// A directory that cannot be listed; nothing of the chip is then read.
    fn read(&mut self, dirs: &mut [SensorDir], buf: &mut Vec<u8>) -> Result<(), Error> {
        for sd in dirs.iter_mut() {
            let SensorDir { dir, path, what, files } = sd;
            files.begin();
            dir.for_each(|name, _| {
                if let Some((ty, num, property)) = sensor_of(name) {
                    files.get_or_insert_with(name, || Sensor {
                        file: File::new(path.join(sysfs::path(name))),
                        ty,
                        num,
                        property: property.into(),
                    });
                }
            })
            .map_err(|errno| Error::Read { path: what, errno })?;
            files.end();
        }
        let Scan { rows, text, .. } = self;
        rows.clear();
        text.clear();
        // Upstream reads the chip's files, then the device's, each in name order, and keeps
        // the last value read for a sensor and property.
        for sensor in dirs.iter_mut().flat_map(|sd| sd.files.iter_mut().map(|(_, s)| s)) {
            let seq = rows.len() as u32;
            let Ok(src) = read_short(&mut sensor.file, buf) else { continue };
            let value = trim_newlines(src);
            let property = push(text, &sensor.property);
            let value = push(text, value);
            rows.push(Row { ty: sensor.ty, num: sensor.num, property, value, seq });
        }
        let at = |r: (u32, u32)| &text[r.0 as usize..r.1 as usize];
        rows.sort_unstable_by(|a, b| {
            (a.ty, a.num)
                .cmp(&(b.ty, b.num))
                .then_with(|| at(a.property).cmp(at(b.property)))
                .then(a.seq.cmp(&b.seq))
        });
        // Of rows for one sensor and property, the last read wins.
        let mut keep = 0;
        for i in 0..rows.len() {
            let r = rows[i];
            if let Some(next) = rows.get(i + 1) {
                if (next.ty, next.num) == (r.ty, r.num) && at(next.property) == at(r.property) {
                    continue;
                }
            }
            rows[keep] = r;
            keep += 1;
        }
        rows.truncate(keep);
        Ok(())
    }

    /// Adds the chip's samples, as upstream's `updateHwmon` formats them.
    fn emit(&mut self, enc: &mut Encoder, chip: &[u8], chip_name: Option<&[u8]>) {
        if let Some(name) = chip_name {
            let f = enc.family(
                "node_hwmon_chip_names",
                "Annotation metric for human-readable chip names",
                Kind::Gauge,
            );
            enc.sample(f, &[("chip", chip), ("chip_name", name)], 1.0);
        }
        let Scan { rows, text, name, help, label } = self;
        let at = |r: (u32, u32)| &text[r.0 as usize..r.1 as usize];
        let mut start = 0;
        while start < rows.len() {
            let (ty, num) = (rows[start].ty, rows[start].num);
            let end =
                start + rows[start..].iter().take_while(|r| (r.ty, r.num) == (ty, num)).count();
            let group = &rows[start..end];
            start = end;
            let get = |property: &[u8]| {
                group.iter().find(|r| at(r.property) == property).map(|r| at(r.value))
            };
            let type_name = TYPES[usize::from(ty)];
            let mut sensor_buf = [0u8; 40];
            let sensor = sensor_label(&mut sensor_buf, type_name, num);
            let labels = [("chip", chip), ("sensor", sensor)];

            if let Some(raw) = get(b"label") {
                label.clear();
                to_valid_utf8(label, raw);
                let f = enc.family(
                    "node_hwmon_sensor_label",
                    "Label for given chip and sensor",
                    Kind::Gauge,
                );
                enc.sample(f, &[("chip", chip), ("sensor", sensor), ("label", label)], 1.0);
            }
            let plain = get(b"").unwrap_or_default();
            match ty {
                BEEP_ENABLE => {
                    let f =
                        enc.family("node_hwmon_beep_enabled", "Hardware beep enabled", Kind::Gauge);
                    enc.sample(f, &labels, if plain == b"1" { 1.0 } else { 0.0 });
                    continue;
                }
                VRM => {
                    if let Some(v) = lex::parse_f64(plain) {
                        let f = enc.family(
                            "node_hwmon_voltage_regulator_version",
                            "Hardware voltage regulator",
                            Kind::Gauge,
                        );
                        enc.sample(f, &labels, v);
                    }
                    continue;
                }
                UPDATE_INTERVAL => {
                    if let Some(v) = lex::parse_f64(plain) {
                        let f = enc.family(
                            "node_hwmon_update_interval_seconds",
                            "Hardware monitor update interval",
                            Kind::Gauge,
                        );
                        enc.sample(f, &labels, v * 0.001);
                    }
                    continue;
                }
                _ => {}
            }
            let has_plain = get(b"").is_some();
            for row in group {
                let element = at(row.property);
                if element == b"label" {
                    continue;
                }
                let Some(v) = lex::parse_f64(at(row.value)) else { continue };
                name.clear();
                name.extend_from_slice(b"node_hwmon_");
                name.extend_from_slice(type_name);
                if element == b"input" {
                    // `input` is the value itself, named so only beside a bare `<type><n>` file.
                    if has_plain {
                        name.extend_from_slice(b"_input");
                    }
                } else if !element.is_empty() {
                    name.push(b'_');
                    clean_name(name, element);
                }
                help.clear();
                let (kind, value) = describe(type_name, element, v, name, help);
                let f = enc.family_parts(&[name], &[help], kind);
                enc.sample(f, &labels, value);
            }
        }
    }
}

/// Upstream's choice of unit suffix, HELP text, type and scale for `element` of a sensor of
/// type `ty`: appends the suffix to `name` and the HELP text to `help`, and returns the type
/// and the scaled value.
fn describe(
    ty: &[u8],
    element: &[u8],
    v: f64,
    name: &mut Vec<u8>,
    help: &mut Vec<u8>,
) -> (Kind, f64) {
    let mut say = |parts: &[&[u8]]| parts.iter().for_each(|p| help.extend_from_slice(p));
    if element == b"fault" || element == b"alarm" {
        say(&[b"Hardware sensor ", element, b" status (", ty, b")"]);
        return (Kind::Gauge, v);
    }
    if element == b"beep" {
        name.extend_from_slice(b"_enabled");
        say(&[b"Hardware monitor sensor has beeping enabled"]);
        return (Kind::Gauge, v);
    }
    match ty {
        b"in" | b"cpu" => {
            name.extend_from_slice(b"_volts");
            say(&[b"Hardware monitor for voltage (", element, b")"]);
            (Kind::Gauge, v * 0.001)
        }
        b"temp" if element != b"type" => {
            let element = if element.is_empty() { b"input" } else { element };
            name.extend_from_slice(b"_celsius");
            say(&[b"Hardware monitor for temperature (", element, b")"]);
            (Kind::Gauge, v * 0.001)
        }
        b"curr" => {
            name.extend_from_slice(b"_amps");
            say(&[b"Hardware monitor for current (", element, b")"]);
            (Kind::Gauge, v * 0.001)
        }
        b"energy" => {
            name.extend_from_slice(b"_joule_total");
            say(&[b"Hardware monitor for joules used so far (", element, b")"]);
            (Kind::Counter, v / 1_000_000.0)
        }
        b"power" if element == b"accuracy" => {
            say(&[b"Hardware monitor power meter accuracy, as a ratio"]);
            (Kind::Gauge, v / 1_000_000.0)
        }
        b"power"
            if matches!(
                element,
                b"average_interval" | b"average_interval_min" | b"average_interval_max"
            ) =>
        {
            name.extend_from_slice(b"_seconds");
            say(&[b"Hardware monitor power usage update interval (", element, b")"]);
            (Kind::Gauge, v * 0.001)
        }
        b"power" => {
            name.extend_from_slice(b"_watt");
            say(&[b"Hardware monitor for power usage in watts (", element, b")"]);
            (Kind::Gauge, v / 1_000_000.0)
        }
        b"humidity" => {
            say(&[
                b"Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the \
                  humidity as a percentage) (",
                element,
                b")",
            ]);
            (Kind::Gauge, v / 1_000_000.0)
        }
        b"fan" if matches!(element, b"input" | b"min" | b"max" | b"target") => {
            name.extend_from_slice(b"_rpm");
            say(&[b"Hardware monitor for fan revolutions per minute (", element, b")"]);
            (Kind::Gauge, v)
        }
        _ => {
            say(&[b"Hardware monitor ", ty, b" element ", element]);
            (Kind::Gauge, v)
        }
    }
}

/// Appends `s` to `out` and returns its range there.
fn push(out: &mut Vec<u8>, s: &[u8]) -> (u32, u32) {
    let start = out.len() as u32;
    out.extend_from_slice(s);
    (start, out.len() as u32)
}

/// `<type><num>` into `buf`, as upstream names a sensor.
fn sensor_label<'b>(buf: &'b mut [u8; 40], ty: &[u8], num: u64) -> &'b [u8] {
    let mut n = itoa::Buffer::new();
    let num = n.format(num).as_bytes();
    buf[..ty.len()].copy_from_slice(ty);
    buf[ty.len()..ty.len() + num.len()].copy_from_slice(num);
    &buf[..ty.len() + num.len()]
}

/// `s` without leading and trailing newlines, as `strings.Trim(s, "\n")`.
fn trim_newlines(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| b != b'\n').unwrap_or(s.len());
    let end = s.iter().rposition(|&b| b != b'\n').map_or(start, |i| i + 1);
    &s[start..end]
}

/// Splits a sensor file name as upstream's pattern
/// `^(?P<type>[^0-9]+)(?P<id>[0-9]*)?(_(?P<property>.+))?$` does, with Go's leftmost-first
/// preference for the longest type, then the longest id: into type, id digits and property.
pub fn explode(name: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let run = name.iter().position(u8::is_ascii_digit).unwrap_or(name.len());
    if run == 0 {
        return None;
    }
    let digits = name[run..].iter().take_while(|b| b.is_ascii_digit()).count();
    if let Some(p) = property(&name[run + digits..]) {
        return Some((&name[..run], &name[run..run + digits], p));
    }
    // A shorter type can only end before an `_` of the first run, with no id after it.
    (1..run).rev().find_map(|t| Some((&name[..t], &b""[..], property(&name[t..])?)))
}

/// What may follow a sensor file's type and id: `_` and a property without a newline, or
/// nothing at all.
fn property(rest: &[u8]) -> Option<&[u8]> {
    match rest {
        [] => Some(b""),
        [b'_', p @ ..] if !p.is_empty() && !p.contains(&b'\n') => Some(p),
        _ => None,
    }
}

/// A sensor file's type (index into [`TYPES`]), number and property, if it is one upstream
/// reports: an id that Go's `Atoi` cannot take, or a type not in the list, is no sensor. A
/// missing id counts 0, and leading zeros go (`temp01` is `temp1`).
fn sensor_of(name: &[u8]) -> Option<(u8, u64, &[u8])> {
    let (ty, id, property) = explode(name)?;
    let ty = TYPES.iter().position(|t| *t == ty)? as u8;
    let num = if id.is_empty() { 0 } else { lex::parse_i64(id)? as u64 };
    Some((ty, num, property))
}

/// Upstream's `cleanMetricName`, appended to `out`: `s` lowercased as Go's `strings.ToLower`,
/// every rune outside `[a-z0-9:_]` replaced by `_`, then `_` trimmed from both ends.
pub fn clean_name(out: &mut Vec<u8>, mut s: &[u8]) {
    let start = out.len();
    while !s.is_empty() {
        let (lower, n) = lower_ascii_at(s);
        let kept = lower.filter(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b':' | b'_'));
        out.push(kept.unwrap_or(b'_'));
        s = &s[n..];
    }
    let cleaned = &out[start..];
    let lead = cleaned.iter().take_while(|&&b| b == b'_').count();
    let keep = cleaned.iter().rposition(|&b| b != b'_').map_or(0, |i| i + 1);
    out.truncate(start + keep);
    out.drain(start..start + lead.min(keep));
}

/// Go's `strings.ToValidUTF8(s, "\u{FFFD}")`, appended to `out`: each run of bytes that are
/// not valid UTF-8 becomes one U+FFFD.
fn to_valid_utf8(out: &mut Vec<u8>, mut s: &[u8]) {
    let mut in_invalid = false;
    while !s.is_empty() {
        let (r, n) = decode_rune(s);
        if r == 0xfffd && n == 1 {
            if !in_invalid {
                out.extend_from_slice("\u{fffd}".as_bytes());
            }
            in_invalid = true;
        } else {
            out.extend_from_slice(&s[..n]);
            in_invalid = false;
        }
        s = &s[n..];
    }
}

/// Go's `filepath.Split`: everything up to and including the last `/`, and the rest.
fn split(path: &[u8]) -> (&[u8], &[u8]) {
    let i = path.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    path.split_at(i)
}

/// The `chip` label of the chip directory `dir` (upstream's `hwmonName`): `<type>_<name>` from
/// the last two elements of the resolved `device` link, cleaned; else the `name` file's text,
/// cleaned; else the resolved directory's own name. Allocates.
fn chip_label(dir: &[u8]) -> Result<Vec<u8>, Error> {
    let mut device = dir.to_vec();
    device.extend_from_slice(b"/device");
    if let Ok(resolved) = eval_symlinks(&device) {
        let (prefix, dev_name) = split(&resolved);
        let end = prefix.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
        let (_, dev_type) = split(&prefix[..end]);
        let (mut ty, mut name) = (Vec::new(), Vec::new());
        clean_name(&mut ty, dev_type);
        clean_name(&mut name, dev_name);
        match (ty.is_empty(), name.is_empty()) {
            (false, false) => {
                ty.push(b'_');
                ty.extend_from_slice(&name);
                return Ok(ty);
            }
            (true, false) => return Ok(name),
            _ => {}
        }
    }
    if let Some(name) = chip_name(dir) {
        return Ok(name);
    }
    let resolved = eval_symlinks(dir).map_err(Error::read(CHIP_DIR))?;
    let mut name = Vec::new();
    clean_name(&mut name, split(&resolved).1);
    if name.is_empty() {
        // Upstream: "Could not derive a monitoring name for <dir>".
        return Err(Error::Parse {
            path: CHIP_DIR,
            err: ParseError { line: 0, what: "no chip name" },
        });
    }
    Ok(name)
}

/// The chip's `name` file, cleaned, if it can be read and says something (upstream's
/// `hwmonHumanReadableChipName`). Read through [`source`](crate::source), so that a FIFO in its
/// place fails the read instead of blocking the collector's thread for good. Allocates.
fn chip_name(dir: &[u8]) -> Option<Vec<u8>> {
    let mut path = dir.to_vec();
    path.extend_from_slice(b"/name");
    let mut raw = Vec::new();
    crate::source::read_once(&crate::source::c_path(sysfs::path(&path)), &mut raw).ok()?;
    let mut name = Vec::new();
    clean_name(&mut name, &raw);
    (!name.is_empty()).then_some(name)
}

/// Go's `filepath.EvalSymlinks` on Unix: `path` with every symbolic link resolved, element by
/// element, `..` applied to what is resolved so far (kept where a relative path runs out of
/// elements), the result cleaned. Links are read as the system has them, so relative links
/// resolve within a fixture tree as they do in sysfs. Allocates.
///
/// # Errors
/// An element that cannot be `lstat`ed or read, a non-directory before the last element
/// (`ENOTDIR`), or more than 255 links (`ELOOP`).
pub fn eval_symlinks(path: &[u8]) -> Result<Vec<u8>, Errno> {
    let errno = |e: std::io::Error| Errno::from_raw_os_error(e.raw_os_error().unwrap_or(0));
    let mut path = path.to_vec();
    // The leading `/` of an absolute path is kept apart, as Go's volume.
    let mut root = usize::from(path.first() == Some(&b'/'));
    let mut dest = path[..root].to_vec();
    let mut links = 0;
    let mut end = root;
    while end < path.len() {
        let mut start = end;
        while start < path.len() && path[start] == b'/' {
            start += 1;
        }
        end = start;
        while end < path.len() && path[end] != b'/' {
            end += 1;
        }
        match &path[start..end] {
            b"" => break,
            b"." => continue,
            b".." => {
                let slash = dest[root..].iter().rposition(|&b| b == b'/').map(|i| i + root);
                match slash {
                    Some(r) if &dest[r + 1..] != b".." => dest.truncate(r),
                    _ => {
                        if dest.len() > root {
                            dest.push(b'/');
                        }
                        dest.extend_from_slice(b"..");
                    }
                }
                continue;
            }
            element => {
                if dest.last().is_some_and(|&b| b != b'/') {
                    dest.push(b'/');
                }
                dest.extend_from_slice(element);
            }
        }
        let meta = std::fs::symlink_metadata(sysfs::path(&dest)).map_err(errno)?;
        if !meta.file_type().is_symlink() {
            if !meta.is_dir() && end < path.len() {
                return Err(Errno::NOTDIR);
            }
            continue;
        }
        links += 1;
        if links > 255 {
            return Err(Errno::LOOP);
        }
        let link = std::fs::read_link(sysfs::path(&dest)).map_err(errno)?;
        let link = std::os::unix::ffi::OsStrExt::as_bytes(link.as_os_str()).to_vec();
        // The rest of the path now follows the link's target.
        let mut rest = link.clone();
        rest.extend_from_slice(&path[end..]);
        path = rest;
        if link.first() == Some(&b'/') {
            dest = b"/".to_vec();
            root = 1;
            end = 1;
        } else {
            // Relative: the target replaces the link's own element.
            match dest[root..].iter().rposition(|&b| b == b'/') {
                Some(i) => dest.truncate(i + root),
                None => dest.truncate(root),
            }
            end = 0;
        }
    }
    let mut out = Vec::new();
    glob::clean(&mut out, &dest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build, fds_under, fixture_tree, put, render, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;
    use std::os::unix::fs::symlink;
    use std::path::Path;

    /// The links of upstream's `sys.ttar` this collector goes through.
    const LINKS: &[(&str, &str)] = &[
        ("sys/class/hwmon/hwmon0", "../../devices/platform/coretemp.0/hwmon/hwmon0"),
        ("sys/class/hwmon/hwmon1", "../../devices/platform/coretemp.1/hwmon/hwmon1"),
        ("sys/class/hwmon/hwmon2", "../../devices/platform/applesmc.768/hwmon/hwmon2"),
        ("sys/class/hwmon/hwmon3", "../../devices/platform/nct6775.656/hwmon/hwmon3"),
        ("sys/class/hwmon/hwmon5", "../../devices/platform/bogus.0/hwmon/hwmon5/"),
        ("sys/devices/platform/applesmc.768/hwmon/hwmon2/device", "../../../applesmc.768"),
        ("sys/devices/platform/coretemp.0/hwmon/hwmon0/device", "../../../coretemp.0"),
        ("sys/devices/platform/coretemp.1/hwmon/hwmon1/device", "../../../coretemp.1"),
    ];

    fn collector(root: &Path, include: &str, exclude: &str) -> Box<dyn Collector> {
        let mut s = Settings::new();
        s.set(INCLUDE, include);
        s.set(EXCLUDE, exclude);
        build(&SPEC, &Paths::under(root), &s).unwrap()
    }

    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    /// One update, which may fail and leave samples behind (upstream's last-error rule).
    fn update(c: &mut dyn Collector) -> (String, Result<(), Error>) {
        let mut r = Ok(());
        let text = render(|enc| r = c.update(enc));
        (text, r)
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) =
            fixture_tree("hwmon-fixture", &["sys/class/hwmon", "sys/devices/platform"], LINKS)
        else {
            return;
        };
        // Upstream's end-to-end run includes these chips (not `bogus`).
        let mut c = collector(&root, "(applesmc|coretemp|hwmon4|nct6779)", "");
        let text = try_scrape(&mut *c).unwrap();
        assert_matches_e2e(&text);
        assert_eq!(samples(&text).len(), 123);
        assert_eq!(try_scrape(&mut *c).unwrap(), text);
        // Without the filter `bogus` comes in: type `bogus` is none of upstream's.
        let text = try_scrape(&mut *collector(&root, "", "")).unwrap();
        assert!(text.contains("node_hwmon_chip_names{chip=\"bogus\",chip_name=\"bogus\"} 1\n"));
        assert_eq!(samples(&text).len(), 124);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn file_names_as_upstream_pattern() {
        type Parts<'a> = Option<(&'a [u8], &'a [u8], &'a [u8])>;
        let cases: &[(&[u8], Parts<'_>)] = &[
            (b"temp1_input", Some((b"temp", b"1", b"input"))),
            (b"temp1_crit_alarm", Some((b"temp", b"1", b"crit_alarm"))),
            (b"in0", Some((b"in", b"0", b""))),
            (b"fan12_min", Some((b"fan", b"12", b"min"))),
            (b"beep_enable", Some((b"beep_enable", b"", b""))),
            (b"update_interval", Some((b"update_interval", b"", b""))),
            (b"pwm1_auto_point1_pwm", Some((b"pwm", b"1", b"auto_point1_pwm"))),
            (b"name", Some((b"name", b"", b""))),
            // The type stops at the first digit; a shorter one ends before an `_`.
            (b"temp_1x", Some((b"temp", b"", b"1x"))),
            (b"in_intrusion0_alarm", Some((b"in_intrusion", b"0", b"alarm"))),
            (b"temp1x", None),
            (b"temp1_", None),
            (b"1temp", None),
            (b"", None),
            (b"temp1_a\nb", None),
        ];
        for (name, want) in cases {
            assert_eq!(explode(name), *want, "{:?}", String::from_utf8_lossy(name));
        }
        assert_eq!(sensor_of(b"temp01_input"), Some((7, 1, &b"input"[..])));
        // The type takes all it can: `temp_max` is of type `temp_max`, no sensor.
        assert_eq!(sensor_of(b"temp_max"), None);
        assert_eq!(sensor_of(b"beep_enable"), Some((BEEP_ENABLE, 0, &b""[..])));
        assert_eq!(sensor_of(b"name"), None);
        assert_eq!(sensor_of(b"temp99999999999999999999_input"), None);
        assert_eq!(sensor_of(b"temp9223372036854775807"), Some((7, i64::MAX as u64, &b""[..])));
    }

    #[test]
    fn names_cleaned_as_upstream() {
        let clean = |s: &[u8]| {
            let mut out = b"x".to_vec();
            clean_name(&mut out, s);
            String::from_utf8(out[1..].to_vec()).unwrap()
        };
        assert_eq!(clean(b"coretemp.0"), "coretemp_0");
        assert_eq!(clean(b"nct6779\n"), "nct6779");
        assert_eq!(clean(b"__Foo-Bar:1__"), "foo_bar:1");
        assert_eq!(clean(b"___"), "");
        assert_eq!(clean(b""), "");
        // A rune is one `_`, an invalid byte too; İ and the Kelvin sign lowercase to ASCII.
        assert_eq!(clean("a\u{e9}b".as_bytes()), "a_b");
        assert_eq!(clean(b"a\xe2\x80b"), "a__b");
        assert_eq!(clean("\u{130}\u{212a}".as_bytes()), "ik");

        let valid = |s: &[u8]| {
            let mut out = Vec::new();
            to_valid_utf8(&mut out, s);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(valid(b"Core 0"), "Core 0");
        assert_eq!(valid(b"a\xff\xfeb\xffc\xc3\xa9"), "a\u{fffd}b\u{fffd}c\u{e9}");
    }

    #[test]
    fn symlinks_resolved_as_go() {
        let d = tmpdir("hwmon-links");
        std::fs::create_dir_all(d.join("devices/platform/coretemp.0/hwmon/hwmon0")).unwrap();
        std::fs::create_dir_all(d.join("class/hwmon")).unwrap();
        symlink("../../devices/platform/coretemp.0/hwmon/hwmon0", d.join("class/hwmon/hwmon0"))
            .unwrap();
        symlink("../../../coretemp.0", d.join("devices/platform/coretemp.0/hwmon/hwmon0/device"))
            .unwrap();
        symlink(d.join("devices"), d.join("abs")).unwrap();
        symlink("loop", d.join("loop")).unwrap();
        std::fs::write(d.join("file"), b"").unwrap();
        let base = d.to_str().unwrap();
        let eval = |p: &str| eval_symlinks(p.as_bytes()).map(|v| String::from_utf8(v).unwrap());
        assert_eq!(
            eval(&format!("{base}/class/hwmon/hwmon0/device")),
            Ok(format!("{base}/devices/platform/coretemp.0"))
        );
        assert_eq!(
            eval(&format!("{base}//class/./hwmon/hwmon0/../hwmon0/device/")),
            Ok(format!("{base}/devices/platform/coretemp.0"))
        );
        assert_eq!(eval(&format!("{base}/abs/platform")), Ok(format!("{base}/devices/platform")));
        assert_eq!(eval(&format!("{base}/loop")), Err(Errno::LOOP));
        assert_eq!(eval(&format!("{base}/file/x")), Err(Errno::NOTDIR));
        assert_eq!(eval(&format!("{base}/missing")), Err(Errno::NOENT));
        // Relative paths stay relative; `..` past the start is kept.
        assert_eq!(eval("."), Ok(".".into()));
        assert_eq!(eval("../engine"), Ok("../engine".into()));
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A chip under `devices/`, linked from the class directory as `hwmon<n>`.
    fn chip(d: &Path, n: &str, device: &str, files: &[(&str, &str)]) {
        let dir = format!("sys/devices/{device}/hwmon/hwmon{n}");
        std::fs::create_dir_all(d.join(&dir)).unwrap();
        for (f, v) in files {
            put(d, &format!("{dir}/{f}"), v);
        }
        std::fs::create_dir_all(d.join("sys/class/hwmon")).unwrap();
        let class = d.join(format!("sys/class/hwmon/hwmon{n}"));
        let _ = std::fs::remove_file(&class);
        symlink(format!("../../devices/{device}/hwmon/hwmon{n}"), class).unwrap();
    }

    fn device_link(d: &Path, n: &str, device: &str) {
        symlink("../..", d.join(format!("sys/devices/{device}/hwmon/hwmon{n}/device"))).unwrap();
    }

    #[test]
    fn units_help_and_values() {
        let d = tmpdir("hwmon-units");
        chip(
            &d,
            "0",
            "platform/it87.656",
            &[
                ("name", "it8728\n"),
                ("in0_input", "1032\n"),
                ("cpu0_vid", "1100\n"),
                ("temp1_input", "55000\n"),
                ("temp2", "-3000\n"),
                ("temp2_input", "4000\n"),
                ("temp1_type", "4\n"),
                ("temp1_Max", "1\n"),
                ("curr1_input", "2500\n"),
                ("energy1_input", "1500000\n"),
                ("power1_accuracy", "50000\n"),
                ("power1_average_interval", "1000\n"),
                ("power1_average", "15000000\n"),
                ("humidity1_input", "450000\n"),
                ("fan1_input", "1200\n"),
                ("fan1_div", "8\n"),
                ("fan1_alarm", "0\n"),
                ("fan1_beep", "1\n"),
                ("intrusion0_alarm", "1\n"),
                ("pwm1", "128\n"),
                ("beep_enable", "1\n"),
                ("vrm", "9.1\n"),
                ("update_interval", "2000\n"),
                ("temp3_label", "Core \u{e9}\n"),
                ("temp3_input", "n/a\n"),
                ("temp4_input", "\n"),
                ("name2", "x"),
            ],
        );
        device_link(&d, "0", "platform/it87.656");
        // The device's directory holds sensors too, and its value wins.
        put(&d, "sys/devices/platform/it87.656/fan1_input", "1300\n");
        let text = try_scrape(&mut *collector(&d, "", "")).unwrap();
        let want = [
            ("node_hwmon_in_volts", "in0", "1.032", "Hardware monitor for voltage (input)"),
            ("node_hwmon_cpu_vid_volts", "cpu0", "1.1", "Hardware monitor for voltage (vid)"),
            ("node_hwmon_temp_celsius", "temp1", "55", "Hardware monitor for temperature (input)"),
            ("node_hwmon_temp_celsius", "temp2", "-3", "Hardware monitor for temperature (input)"),
            (
                "node_hwmon_temp_input_celsius",
                "temp2",
                "4",
                "Hardware monitor for temperature (input)",
            ),
            ("node_hwmon_temp_type", "temp1", "4", "Hardware monitor temp element type"),
            (
                "node_hwmon_temp_max_celsius",
                "temp1",
                "0.001",
                "Hardware monitor for temperature (Max)",
            ),
            ("node_hwmon_curr_amps", "curr1", "2.5", "Hardware monitor for current (input)"),
            (
                "node_hwmon_energy_joule_total",
                "energy1",
                "1.5",
                "Hardware monitor for joules used so far (input)",
            ),
            (
                "node_hwmon_power_accuracy",
                "power1",
                "0.05",
                "Hardware monitor power meter accuracy, as a ratio",
            ),
            (
                "node_hwmon_power_average_interval_seconds",
                "power1",
                "1",
                "Hardware monitor power usage update interval (average_interval)",
            ),
            (
                "node_hwmon_power_average_watt",
                "power1",
                "15",
                "Hardware monitor for power usage in watts (average)",
            ),
            (
                "node_hwmon_humidity",
                "humidity1",
                "0.45",
                "Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the \
                 humidity as a percentage) (input)",
            ),
            (
                "node_hwmon_fan_rpm",
                "fan1",
                "1300",
                "Hardware monitor for fan revolutions per minute (input)",
            ),
            ("node_hwmon_fan_div", "fan1", "8", "Hardware monitor fan element div"),
            ("node_hwmon_fan_alarm", "fan1", "0", "Hardware sensor alarm status (fan)"),
            (
                "node_hwmon_fan_beep_enabled",
                "fan1",
                "1",
                "Hardware monitor sensor has beeping enabled",
            ),
            (
                "node_hwmon_intrusion_alarm",
                "intrusion0",
                "1",
                "Hardware sensor alarm status (intrusion)",
            ),
            ("node_hwmon_pwm", "pwm1", "128", "Hardware monitor pwm element "),
            ("node_hwmon_beep_enabled", "beep_enable0", "1", "Hardware beep enabled"),
            ("node_hwmon_voltage_regulator_version", "vrm0", "9.1", "Hardware voltage regulator"),
            (
                "node_hwmon_update_interval_seconds",
                "update_interval0",
                "2",
                "Hardware monitor update interval",
            ),
        ];
        for (name, sensor, value, help) in want {
            let line =
                format!("{name}{{chip=\"platform_it87_656\",sensor=\"{sensor}\"}} {value}\n");
            assert!(text.contains(&line), "missing {line}in\n{text}");
            assert!(text.contains(&format!("# HELP {name} {help}\n")), "{name}: {help}");
        }
        assert!(text.contains(
            "node_hwmon_sensor_label{chip=\"platform_it87_656\",label=\"Core \u{e9}\",\
             sensor=\"temp3\"} 1\n"
        ));
        assert!(text.contains("# TYPE node_hwmon_energy_joule_total counter\n"));
        assert!(text.contains(
            "node_hwmon_chip_names{chip=\"platform_it87_656\",chip_name=\"it8728\"} 1\n"
        ));
        // Unparsable values are left out, as are files of other types.
        assert!(!text.contains("sensor=\"temp4\""));
        assert!(!text.contains("celsius{chip=\"platform_it87_656\",sensor=\"temp3\"}"));
        assert_eq!(samples(&text).len(), want.len() + 2);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn last_value_wins_and_labels() {
        let d = tmpdir("hwmon-order");
        // `temp01_input` and `temp1_input` are one sensor and property: the later name wins.
        chip(
            &d,
            "0",
            "virtual/x",
            &[("temp01_input", "1000\n"), ("temp1_input", "2000\n"), ("temp1_label", "\n\nA \n")],
        );
        std::fs::write(d.join("sys/devices/virtual/x/hwmon/hwmon0/temp2_label"), b"\xffz\n")
            .unwrap();
        let text = try_scrape(&mut *collector(&d, "", "")).unwrap();
        assert_eq!(
            samples(&text),
            [
                "node_hwmon_sensor_label{chip=\"hwmon0\",label=\"A \",sensor=\"temp1\"} 1",
                "node_hwmon_sensor_label{chip=\"hwmon0\",label=\"\u{fffd}z\",sensor=\"temp2\"} 1",
                "node_hwmon_temp_celsius{chip=\"hwmon0\",sensor=\"temp1\"} 2",
            ]
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn chip_labels() {
        let d = tmpdir("hwmon-labels");
        // From the device link; from `name`; from the directory's name.
        chip(&d, "0", "pci0000:00/0000:00:18.3", &[("name", "k10temp\n"), ("temp1_input", "1\n")]);
        device_link(&d, "0", "pci0000:00/0000:00:18.3");
        chip(&d, "1", "virtual/thermal", &[("name", "acpi-tz\n"), ("temp1_input", "2\n")]);
        chip(&d, "2", "virtual/y", &[("name", "--\n"), ("temp1_input", "3\n")]);
        let text = try_scrape(&mut *collector(&d, "", "")).unwrap();
        assert_eq!(
            samples(&text),
            [
                "node_hwmon_chip_names{chip=\"acpi_tz\",chip_name=\"acpi_tz\"} 1",
                "node_hwmon_chip_names{chip=\"pci0000:00_0000:00:18_3\",chip_name=\"k10temp\"} 1",
                "node_hwmon_temp_celsius{chip=\"acpi_tz\",sensor=\"temp1\"} 0.002",
                "node_hwmon_temp_celsius{chip=\"hwmon2\",sensor=\"temp1\"} 0.003",
                "node_hwmon_temp_celsius{chip=\"pci0000:00_0000:00:18_3\",sensor=\"temp1\"} 0.001",
            ]
        );
        // Filters apply to the label, unanchored; both may be given.
        let text = try_scrape(&mut *collector(&d, "tz|hwmon", "hwmon")).unwrap();
        assert_eq!(samples(&text).len(), 2);
        assert!(text.contains("chip=\"acpi_tz\""));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn two_chips_one_label() {
        // Two chips with one `name` and no device give the same series: the first chip (in
        // name order) wins, as the registry keeps the first of duplicates.
        let d = tmpdir("hwmon-dups");
        chip(&d, "0", "virtual/a", &[("name", "acpitz\n"), ("temp1_input", "1000\n")]);
        chip(&d, "1", "virtual/b", &[("name", "acpitz\n"), ("temp1_input", "2000\n")]);
        let text = try_scrape(&mut *collector(&d, "", "")).unwrap();
        assert!(text.contains("node_hwmon_temp_celsius{chip=\"acpitz\",sensor=\"temp1\"} 1\n"));
        assert_eq!(samples(&text).len(), 2);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn chips_come_go_and_change() {
        let d = tmpdir("hwmon-churn");
        std::fs::create_dir_all(d.join("sys")).unwrap();
        let mut c = collector(&d, "", "");
        assert_eq!(try_scrape(&mut *c), Err(Error::NoData));
        chip(&d, "0", "platform/coretemp.0", &[("name", "coretemp\n"), ("temp1_input", "1000\n")]);
        device_link(&d, "0", "platform/coretemp.0");
        chip(&d, "1", "platform/nct6775.656", &[("in0_input", "800\n"), ("in1_input", "900\n")]);
        // Not a directory, nor a link to one: passed over.
        put(&d, "sys/class/hwmon/hwmon9", "");
        symlink("nowhere", d.join("sys/class/hwmon/hwmon8")).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        assert_eq!(samples(&text).len(), 4);
        let devices = d.join("sys/devices");
        // One fd per sensor file; the chips' directories, and coretemp's device directory.
        assert_eq!(fds_under(&devices), 3 + 2 + 1);

        // hwmon1 goes; a new device gets number 0: a new chip, with its own label.
        std::fs::remove_file(d.join("sys/class/hwmon/hwmon1")).unwrap();
        std::fs::remove_file(d.join("sys/class/hwmon/hwmon0")).unwrap();
        chip(&d, "0", "platform/applesmc.768", &[("fan1_input", "2000\n")]);
        let text = try_scrape(&mut *c).unwrap();
        assert_eq!(samples(&text), ["node_hwmon_fan_rpm{chip=\"hwmon0\",sensor=\"fan1\"} 2000"]);
        assert_eq!(fds_under(&devices), 2);
        // A sensor file appears and another goes, on a chip that stays.
        put(&d, "sys/devices/platform/applesmc.768/hwmon/hwmon0/fan1_min", "100\n");
        let text = try_scrape(&mut *c).unwrap();
        assert_eq!(samples(&text).len(), 2);
        std::fs::remove_file(d.join("sys/devices/platform/applesmc.768/hwmon/hwmon0/fan1_min"))
            .unwrap();
        assert_eq!(samples(&try_scrape(&mut *c).unwrap()).len(), 1);
        assert_eq!(fds_under(&devices), 2);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_failing_chip_fails_the_collector_but_not_the_others() {
        let d = tmpdir("hwmon-fail");
        chip(&d, "0", "virtual/a", &[("name", "good\n"), ("temp1_input", "1000\n")]);
        // A `device` that is a file: it exists, and cannot be listed.
        chip(&d, "1", "virtual/b", &[("name", "bad\n"), ("temp1_input", "2000\n"), ("device", "")]);
        let mut c = collector(&d, "", "");
        let (text, r) = update(&mut *c);
        assert_eq!(r, Err(Error::Read { path: DEVICE_DIR, errno: Errno::NOTDIR }));
        assert_eq!(
            samples(&text),
            [
                "node_hwmon_chip_names{chip=\"good\",chip_name=\"good\"} 1",
                "node_hwmon_temp_celsius{chip=\"good\",sensor=\"temp1\"} 1",
            ]
        );
        // Filtered out (its label comes from the `device` file: `hwmon1_device`), the broken
        // chip is not read, and nothing fails.
        let text = try_scrape(&mut *collector(&d, "", "_device$")).unwrap();
        assert_eq!(samples(&text).len(), 2);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn flags() {
        let names: Vec<&str> = SPEC.flags.iter().map(|f| f.name).collect();
        assert_eq!(names, [INCLUDE, EXCLUDE]);
        const { assert!(SPEC.blocking) };
        for flag in [INCLUDE, EXCLUDE] {
            let mut s = Settings::new();
            s.set(flag, "(");
            let err = build(&SPEC, &Paths::default(), &s).unwrap_err();
            assert!(err.contains(flag), "{err}");
        }
    }

    #[test]
    fn live_host() {
        let mut c = build(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            let (_, r) = update(&mut *c);
            match r {
                Ok(()) | Err(Error::NoData) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
}
