//! `/sys/class/thermal/thermal_zone*/{type,temp}` → `node_thermal_zone_temp{zone,type}`, and
//! `/sys/class/thermal/cooling_device*/{type,cur_state,max_state}` →
//! `node_cooling_device_{cur,max}_state{name,type}`; node_exporter's thermal_zone collector.
//!
//! See the kernel's Documentation/driver-api/thermal/sysfs-api.rst: `temp` holds millidegrees
//! Celsius (`12376`), `type` a name (`cpu-thermal`), the states small integers (`cur_state` may
//! be `-1`, as intel_powerclamp's is). Attributes are read as procfs reads them: `type` and the
//! states by one 128-byte read, `temp` whole, each trimmed of white space.
//!
//! A zone whose reads fail with `ENODATA` (a sensor not ready yet) is left out. Any other
//! failure on a zone fails the collector, as "no data" when a file is missing or unreadable;
//! any failure on a cooling device fails it outright. Upstream also reads each zone's `policy`,
//! `mode` and `passive` without reporting them, failing only on an unreadable `policy` or a
//! non-numeric `passive`; the thermal core creates `policy` for every zone and writes `passive`
//! as a number, so those three reads per zone and scrape are left out.
//!
//! Reading `temp` runs the zone's driver, for ACPI zones a firmware method that can wait on the
//! embedded controller for seconds: the collector is marked blocking.

use super::sysfs::{self, read_short, trim_space};
use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::{Dir, Entries, File};
use rustix::io::Errno;
use std::path::{Path, PathBuf};

/// Registration.
pub const SPEC: Spec =
    Spec { name: "thermal_zone", default_enabled: true, flags: &[], blocking: true, build };

const CLASS: &str = "class/thermal";
const ZONE_TYPE: &str = "class/thermal/thermal_zone*/type";
const ZONE_TEMP: &str = "class/thermal/thermal_zone*/temp";
const COOLER_TYPE: &str = "class/thermal/cooling_device*/type";
const COOLER_MAX: &str = "class/thermal/cooling_device*/max_state";
const COOLER_CUR: &str = "class/thermal/cooling_device*/cur_state";

const ZONE: &[u8] = b"thermal_zone";
const COOLER: &[u8] = b"cooling_device";

#[derive(Debug)]
struct ThermalZone {
    class: Dir,
    class_path: PathBuf,
    zones: Entries<Zone>,
    coolers: Entries<Cooler>,
    buf: Vec<u8>,
}

/// A zone's files, and what this scrape read from them.
#[derive(Debug)]
struct Zone {
    ty: File,
    temp: File,
    /// This scrape's type and temperature; `None` when the zone is left out.
    read: Option<i64>,
    type_text: Vec<u8>,
}

/// A cooling device's files, and what this scrape read from them.
#[derive(Debug)]
struct Cooler {
    ty: File,
    max: File,
    cur: File,
    type_text: Vec<u8>,
    states: (i64, i64),
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    // Upstream opens its sysfs handle here, which fails unless the mount point is a directory.
    sysfs::check_mount("sysfs", &b.paths.sysfs)?;
    let class_path = b.paths.sys("class/thermal");
    Ok(Box::new(ThermalZone {
        class: Dir::new(&class_path),
        class_path,
        zones: Entries::new(),
        coolers: Entries::new(),
        buf: Vec::new(),
    }))
}

impl Collector for ThermalZone {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let ThermalZone { class, class_path, zones, coolers, buf } = self;
        // Upstream globs `thermal_zone[0-9]*` and `cooling_device[0-9]*`; one listing serves
        // both, and a class directory that cannot be listed has neither, as for a glob.
        zones.begin();
        coolers.begin();
        let _ = class.for_each(|name, _| {
            if sysfs::is_numbered(name, ZONE) {
                zones.get_or_insert_with(name, || Zone::new(&entry(class_path, name)));
            } else if sysfs::is_numbered(name, COOLER) {
                coolers.get_or_insert_with(name, || Cooler::new(&entry(class_path, name)));
            }
        });
        zones.end();
        coolers.end();

        for (name, zone) in zones.iter_mut() {
            match zone.refresh(buf) {
                Ok(()) => {}
                // A sensor that is not ready: this zone is left out.
                Err(Error::Read { errno: Errno::NODATA, .. }) => zone.read = None,
                Err(Error::Read { errno: Errno::NOENT | Errno::ACCESS | Errno::PERM, .. }) => {
                    return Err(Error::NoData)
                }
                Err(e) => return Err(e),
            }
            if zone.read.is_some() {
                sysfs::label(CLASS, &name[ZONE.len()..])?;
            }
        }
        for (name, cooler) in coolers.iter_mut() {
            cooler.refresh(buf)?;
            sysfs::label(CLASS, &name[COOLER.len()..])?;
        }
        emit(enc, zones, coolers);
        Ok(())
    }
}

fn entry(class: &Path, name: &[u8]) -> PathBuf {
    class.join(sysfs::path(name))
}

impl Zone {
    fn new(dir: &Path) -> Zone {
        Zone {
            ty: File::new(dir.join("type")),
            temp: File::new(dir.join("temp")),
            read: None,
            type_text: Vec::new(),
        }
    }

    /// Reads the type and temperature; on failure `read` is stale and the caller decides.
    fn refresh(&mut self, buf: &mut Vec<u8>) -> Result<(), Error> {
        let ty = read_short(&mut self.ty, buf).map_err(Error::read(ZONE_TYPE))?;
        self.type_text.clear();
        self.type_text.extend_from_slice(sysfs::label(ZONE_TYPE, trim_space(ty))?);
        let temp = self.temp.read_attr(buf).map_err(Error::read(ZONE_TEMP))?;
        let temp = parse_int(temp).map_err(Error::parse(ZONE_TEMP))?;
        self.read = Some(temp);
        Ok(())
    }
}

impl Cooler {
    fn new(dir: &Path) -> Cooler {
        Cooler {
            ty: File::new(dir.join("type")),
            max: File::new(dir.join("max_state")),
            cur: File::new(dir.join("cur_state")),
            type_text: Vec::new(),
            states: (0, 0),
        }
    }

    fn refresh(&mut self, buf: &mut Vec<u8>) -> Result<(), Error> {
        let ty = read_short(&mut self.ty, buf).map_err(Error::read(COOLER_TYPE))?;
        self.type_text.clear();
        self.type_text.extend_from_slice(sysfs::label(COOLER_TYPE, trim_space(ty))?);
        let max = read_short(&mut self.max, buf).map_err(Error::read(COOLER_MAX))?;
        let max = parse_int(max).map_err(Error::parse(COOLER_MAX))?;
        let cur = read_short(&mut self.cur, buf).map_err(Error::read(COOLER_CUR))?;
        let cur = parse_int(cur).map_err(Error::parse(COOLER_CUR))?;
        self.states = (cur, max);
        Ok(())
    }
}

/// A decimal `int64` with surrounding white space, as `strconv.ParseInt(TrimSpace(s), 10, 64)`.
pub fn parse_int(src: &[u8]) -> Result<i64, ParseError> {
    lex::parse_i64(trim_space(src)).ok_or(ParseError::at(1, "expected a decimal integer"))
}

fn emit(enc: &mut Encoder, zones: &Entries<Zone>, coolers: &Entries<Cooler>) {
    let f = enc.family("node_thermal_zone_temp", "Zone temperature in Celsius", Kind::Gauge);
    for (name, zone) in zones.iter() {
        if let Some(temp) = zone.read {
            let labels = [("zone", &name[ZONE.len()..]), ("type", &zone.type_text[..])];
            enc.sample(f, &labels, temp as f64 / 1000.0);
        }
    }
    let cur = enc.family(
        "node_cooling_device_cur_state",
        "Current throttle state of the cooling device",
        Kind::Gauge,
    );
    let max = enc.family(
        "node_cooling_device_max_state",
        "Maximum throttle state of the cooling device",
        Kind::Gauge,
    );
    for (name, cooler) in coolers.iter() {
        let labels = [("name", &name[COOLER.len()..]), ("type", &cooler.type_text[..])];
        enc.sample(cur, &labels, cooler.states.0 as f64);
        enc.sample(max, &labels, cooler.states.1 as f64);
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

    /// The links of upstream's `sys.ttar` this collector goes through.
    const LINKS: &[(&str, &str)] = &[
        ("sys/class/thermal/cooling_device0", "../../devices/virtual/thermal/cooling_device0"),
        ("sys/class/thermal/thermal_zone0", "../../devices/virtual/thermal/thermal_zone0"),
    ];

    fn collector(root: &Path) -> Box<dyn Collector> {
        build(&SPEC, &Paths::under(root), &Settings::new()).unwrap()
    }

    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixture_tree(
            "thermal-fixture",
            &["sys/class/thermal", "sys/devices/virtual/thermal"],
            LINKS,
        ) else {
            return;
        };
        let mut c = collector(&root);
        let text = try_scrape(&mut *c).unwrap();
        assert_matches_e2e(&text);
        assert_eq!(samples(&text).len(), 3);
        assert_eq!(try_scrape(&mut *c).unwrap(), text);
        std::fs::remove_dir_all(&root).unwrap();
    }

    fn zone(d: &Path, n: &str, ty: &str, temp: &str) {
        put(d, &format!("sys/class/thermal/thermal_zone{n}/type"), ty);
        put(d, &format!("sys/class/thermal/thermal_zone{n}/temp"), temp);
    }

    fn cooler(d: &Path, n: &str, ty: &str, cur: &str, max: &str) {
        put(d, &format!("sys/class/thermal/cooling_device{n}/type"), ty);
        put(d, &format!("sys/class/thermal/cooling_device{n}/cur_state"), cur);
        put(d, &format!("sys/class/thermal/cooling_device{n}/max_state"), max);
    }

    #[test]
    fn zones_and_coolers_come_and_go() {
        let d = tmpdir("thermal-churn");
        std::fs::create_dir_all(d.join("sys")).unwrap();
        let mut c = collector(&d);
        // No class directory: nothing to report, which is no failure (a glob finds nothing).
        assert_eq!(try_scrape(&mut *c).unwrap(), "");
        zone(&d, "0", "acpitz\n", "27800\n");
        zone(&d, "10", " x86_pkg_temp \n", "-5\n");
        cooler(&d, "0", "Processor\n", "-1\n", "10\n");
        // Not numbered: not a zone or a cooling device.
        put(&d, "sys/class/thermal/thermal_zone/type", "x\n");
        put(&d, "sys/class/thermal/cooling_devicex/type", "x\n");
        let text = try_scrape(&mut *c).unwrap();
        assert_eq!(
            samples(&text),
            [
                "node_cooling_device_cur_state{name=\"0\",type=\"Processor\"} -1",
                "node_cooling_device_max_state{name=\"0\",type=\"Processor\"} 10",
                "node_thermal_zone_temp{type=\"acpitz\",zone=\"0\"} 27.8",
                "node_thermal_zone_temp{type=\"x86_pkg_temp\",zone=\"10\"} -0.005",
            ]
        );
        let thermal = d.join("sys/class/thermal");
        // Two files per zone, three per cooling device, and the class directory.
        assert_eq!(fds_under(&thermal), 8);
        std::fs::remove_dir_all(thermal.join("thermal_zone10")).unwrap();
        std::fs::remove_dir_all(thermal.join("cooling_device0")).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        assert_eq!(samples(&text), ["node_thermal_zone_temp{type=\"acpitz\",zone=\"0\"} 27.8"]);
        assert_eq!(fds_under(&thermal), 3);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn failures() {
        let d = tmpdir("thermal-bad");
        std::fs::create_dir_all(d.join("sys")).unwrap();
        let mut c = collector(&d);
        zone(&d, "0", "acpitz\n", "27800\n");
        cooler(&d, "0", "Fan\n", "0\n", "1\n");
        try_scrape(&mut *c).unwrap();
        for bad in ["", "\n", "1.5\n", "x\n", "9223372036854775808\n", "1 2\n"] {
            put(&d, "sys/class/thermal/thermal_zone0/temp", bad);
            assert!(
                matches!(try_scrape(&mut *c), Err(Error::Parse { path: ZONE_TEMP, .. })),
                "{bad:?}"
            );
        }
        put(&d, "sys/class/thermal/thermal_zone0/temp", "9223372036854775807\n");
        try_scrape(&mut *c).unwrap();
        // A zone missing its temperature: upstream's "no data". (A kept fd goes on reading an
        // unlinked temp file, where sysfs would fail it with ENODEV: a fresh collector looks.)
        std::fs::remove_file(d.join("sys/class/thermal/thermal_zone0/temp")).unwrap();
        assert_eq!(try_scrape(&mut *collector(&d)), Err(Error::NoData));
        put(&d, "sys/class/thermal/thermal_zone0/temp", "1000\n");
        // A cooling device with a bad or missing state fails the collector, zones and all.
        for bad in ["", "on\n", "99999999999999999999\n"] {
            put(&d, "sys/class/thermal/cooling_device0/max_state", bad);
            assert!(matches!(try_scrape(&mut *c), Err(Error::Parse { path: COOLER_MAX, .. })));
        }
        std::fs::remove_file(d.join("sys/class/thermal/cooling_device0/max_state")).unwrap();
        assert!(matches!(
            try_scrape(&mut *collector(&d)),
            Err(Error::Read { path: COOLER_MAX, errno: Errno::NOENT })
        ));
        put(&d, "sys/class/thermal/cooling_device0/max_state", "1\n");
        std::fs::write(d.join("sys/class/thermal/cooling_device0/type"), b"\xff\n").unwrap();
        assert!(matches!(try_scrape(&mut *c), Err(Error::Parse { path: COOLER_TYPE, .. })));
        // A zone that is a plain file (a class link lost in a copy): not a directory.
        std::fs::remove_dir_all(d.join("sys/class/thermal")).unwrap();
        put(&d, "sys/class/thermal/thermal_zone0", "../../devices/virtual/thermal/thermal_zone0");
        assert!(matches!(
            try_scrape(&mut *collector(&d)),
            Err(Error::Read { path: ZONE_TYPE, errno: Errno::NOTDIR })
        ));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn type_is_cut_at_128_bytes() {
        let d = tmpdir("thermal-long");
        std::fs::create_dir_all(d.join("sys")).unwrap();
        let long = "t".repeat(200);
        zone(&d, "0", &long, "1\n");
        let text = try_scrape(&mut *collector(&d)).unwrap();
        assert!(text.contains(&format!("{{type=\"{}\",zone=\"0\"}} 0.001", &long[..128])));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn needs_a_sysfs_directory() {
        let d = tmpdir("thermal-nosys");
        let err = build(&SPEC, &Paths::under(&d), &Settings::new()).unwrap_err();
        assert!(err.contains("sysfs"), "{err}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            match try_scrape(&mut *c) {
                Ok(_) | Err(Error::NoData) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
}
