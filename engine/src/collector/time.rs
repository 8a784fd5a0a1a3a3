//! The clock → `node_time_seconds`, `node_time_zone_offset_seconds{time_zone}`, and
//! `/sys/devices/system/clocksource/clocksource*/{available,current}_clocksource` →
//! `node_time_clocksource_{available,current}_info`; node_exporter's time collector.
//!
//! The clocksource files are one line each (see the kernel's
//! Documentation/ABI/testing/sysfs-devices-system-clocksource): `tsc hpet acpi_pm` lists the
//! usable sources, `tsc` names the one in use. As upstream, the `device` label is a
//! clocksource directory's position among the sorted `clocksource[0-9]*` names, not the number
//! in its name.
//!
//! The zone is the process's local zone as Go resolves it ([`crate::tz`]), loaded when the
//! collector is built; Go too reads `TZ` and the zone file once per process.

use super::{Build, Collector, Error, Spec};
use crate::encode::{Encoder, FamilyId, Kind};
use crate::lex;
use crate::source::{Dir, Entries, File};
use crate::tz::{Period, Zone};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "time", default_enabled: true, flags: &[], blocking: false, build };

const AVAILABLE: &str = "sys/devices/system/clocksource/clocksource*/available_clocksource";
const CURRENT: &str = "sys/devices/system/clocksource/clocksource*/current_clocksource";

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let dir = b.paths.sys("devices/system/clocksource");
    Ok(Box::new(Time {
        zone: Zone::local(),
        period: None,
        list: Dir::new(&dir),
        dir,
        clocksources: Entries::new(),
        buf: Vec::new(),
    }))
}

#[derive(Debug)]
struct Time {
    zone: Zone,
    /// The zone's answer for the last scrape and how long it holds: a lookup is redone only
    /// when a period ends (a DST change, or a new year past the last listed transition).
    period: Option<Period>,
    dir: PathBuf,
    list: Dir,
    clocksources: Entries<Clocksource>,
    buf: Vec<u8>,
}

/// One `clocksourceN` directory's two attributes, kept open while it is listed.
#[derive(Debug)]
struct Clocksource {
    available: File,
    current: File,
}

impl Collector for Time {
    /// The time and zone samples are added first and stay if the clocksources then fail, as
    /// upstream sends them before it reads sysfs.
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
        // Go's `float64(now.UnixNano()) / 1e9`: the rounding of the integer nanoseconds to a
        // double comes first.
        let nanos = now.tv_sec.wrapping_mul(1_000_000_000).wrapping_add(now.tv_nsec);
        let seconds = enc.family(
            "node_time_seconds",
            "System time in seconds since epoch (1970).",
            Kind::Gauge,
        );
        enc.sample(seconds, &[], nanos as f64 / 1e9);

        let period = match self.period {
            Some(p) if p.contains(now.tv_sec) => p,
            _ => self.zone.period(now.tv_sec),
        };
        self.period = Some(period);
        let zone = enc.family(
            "node_time_zone_offset_seconds",
            "System time zone offset in seconds.",
            Kind::Gauge,
        );
        enc.sample(zone, &[("time_zone", self.zone.name(&period))], period.offset as f64);

        self.list_clocksources();
        let fams = [
            enc.family(
                "node_time_clocksource_available_info",
                "Available clocksources read from '/sys/devices/system/clocksource'.",
                Kind::Gauge,
            ),
            enc.family(
                "node_time_clocksource_current_info",
                "Current clocksource read from '/sys/devices/system/clocksource'.",
                Kind::Gauge,
            ),
        ];
        let cp = enc.checkpoint();
        let result = self.scan_clocksources(enc, fams);
        if result.is_err() {
            enc.rollback(cp);
        }
        result
    }
}

impl Time {
    /// Brings the clocksource set up to date with the directory, closing the files of
    /// clocksources gone. A directory that cannot be listed has none, as upstream's glob
    /// ignores the error.
    fn list_clocksources(&mut self) {
        let Time { dir, list, clocksources, .. } = self;
        clocksources.begin();
        let _ = list.for_each(|name, _| {
            if is_clocksource(name) {
                clocksources.get_or_insert_with(name, || {
                    // Allocates, once per clocksource directory seen.
                    let path = dir.join(OsStr::from_bytes(name));
                    Clocksource {
                        available: File::new(path.join("available_clocksource")),
                        current: File::new(path.join("current_clocksource")),
                    }
                });
            }
        });
        clocksources.end();
    }

    fn scan_clocksources(&mut self, enc: &mut Encoder, fams: [FamilyId; 2]) -> Result<(), Error> {
        for (i, (_, cs)) in self.clocksources.iter_mut().enumerate() {
            let mut index = itoa::Buffer::new();
            let device = ("device", index.format(i).as_bytes());
            let available =
                cs.available.read_attr(&mut self.buf).map_err(Error::read(AVAILABLE))?;
            for name in lex::fields(available) {
                enc.sample(fams[0], &[device, ("clocksource", name)], 1.0);
            }
            let current = cs.current.read_attr(&mut self.buf).map_err(Error::read(CURRENT))?;
            enc.sample(fams[1], &[device, ("clocksource", lex::trim(current))], 1.0);
        }
        Ok(())
    }
}

/// Whether a directory entry matches upstream's glob `clocksource[0-9]*`.
fn is_clocksource(name: &[u8]) -> bool {
    name.strip_prefix(b"clocksource").and_then(|rest| rest.first()).is_some_and(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fds_under, fixtures, render, scrape, tmpdir,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    /// Drops the samples upstream's e2e run drops (the clock and zone depend on the host).
    fn without_clock_samples(text: &str) -> String {
        text.lines()
            .filter(|l| !l.starts_with("node_time_seconds") && !l.starts_with("node_time_zone"))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        assert!(text
            .contains("node_time_clocksource_current_info{clocksource=\"tsc\",device=\"0\"} 1\n"));
        assert_matches_e2e(&without_clock_samples(&text));
    }

    #[test]
    fn clock_and_zone_samples() {
        let mut c = build_spec(&SPEC, &Paths::under("/nonexistent"), &Settings::new()).unwrap();
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let text = scrape(c.as_mut());
        let value = |prefix: &str| -> f64 {
            let line = text.lines().find(|l| l.starts_with(prefix)).unwrap();
            line.rsplit(' ').next().unwrap().parse().unwrap()
        };
        let now = value("node_time_seconds ");
        assert!((before..before + 60.0).contains(&now), "{now} vs {before}");
        let zone = Zone::local();
        let period = zone.period(now as i64);
        let name = String::from_utf8(zone.name(&period).to_vec()).unwrap();
        let line = format!("node_time_zone_offset_seconds{{time_zone=\"{name}\"}} ");
        assert_eq!(value(&line), period.offset as f64, "{text}");
        // No clocksource directory: no clocksource families, and no error.
        assert!(!text.contains("clocksource"));
    }

    fn write_clocksource(dir: &std::path::Path, name: &str, available: &str, current: &str) {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("available_clocksource"), available).unwrap();
        std::fs::write(d.join("current_clocksource"), current).unwrap();
    }

    #[test]
    fn clocksources_come_and_go() {
        let root = tmpdir("time-clocksources");
        let dir = root.join("sys/devices/system/clocksource");
        std::fs::create_dir_all(dir.join("power")).unwrap();
        std::fs::write(dir.join("uevent"), "").unwrap();
        std::fs::create_dir_all(dir.join("clocksourceX")).unwrap();
        write_clocksource(&dir, "clocksource0", "tsc hpet acpi_pm \n", "tsc\n");
        write_clocksource(&dir, "clocksource2", "kvm-clock\n", "kvm-clock\n");
        write_clocksource(&dir, "clocksource10", "jiffies\n", "jiffies\n");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = without_clock_samples(&scrape(c.as_mut()));
        // Devices number the sorted names: clocksource0, clocksource10, clocksource2.
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            [
                "node_time_clocksource_available_info{clocksource=\"acpi_pm\",device=\"0\"} 1",
                "node_time_clocksource_available_info{clocksource=\"hpet\",device=\"0\"} 1",
                "node_time_clocksource_available_info{clocksource=\"jiffies\",device=\"1\"} 1",
                "node_time_clocksource_available_info{clocksource=\"kvm-clock\",device=\"2\"} 1",
                "node_time_clocksource_available_info{clocksource=\"tsc\",device=\"0\"} 1",
                "node_time_clocksource_current_info{clocksource=\"jiffies\",device=\"1\"} 1",
                "node_time_clocksource_current_info{clocksource=\"kvm-clock\",device=\"2\"} 1",
                "node_time_clocksource_current_info{clocksource=\"tsc\",device=\"0\"} 1",
            ]
        );
        assert_eq!(fds_under(&dir), 7, "the directory and two files per clocksource");

        // clocksource10 goes: its files are closed, and clocksource2 becomes device 1.
        std::fs::remove_dir_all(dir.join("clocksource10")).unwrap();
        let text = scrape(c.as_mut());
        assert!(text.contains("{clocksource=\"kvm-clock\",device=\"1\"}"));
        assert!(!text.contains("jiffies"));
        assert_eq!(fds_under(&dir), 5);

        // A clocksource whose file cannot be read fails the collector with no clocksource
        // series left, while the clock and zone samples stay.
        write_clocksource(&dir, "clocksource3", "x\n", "x\n");
        std::fs::remove_file(dir.join("clocksource3/current_clocksource")).unwrap();
        let mut result = Ok(());
        let text = render(|enc| result = c.update(enc));
        assert!(matches!(result, Err(Error::Read { path: CURRENT, .. })), "{result:?}");
        assert!(!text.contains("clocksource"));
        assert!(text.contains("node_time_seconds "));

        drop(c);
        assert_eq!(fds_under(&root), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn glob() {
        for (name, ok) in [
            ("clocksource0", true),
            ("clocksource12x", true),
            ("clocksource", false),
            ("clocksourceX", false),
            ("power", false),
        ] {
            assert_eq!(is_clocksource(name.as_bytes()), ok, "{name}");
        }
    }

    #[test]
    fn live_host() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            let text = scrape(c.as_mut());
            assert!(text.contains("node_time_zone_offset_seconds{time_zone="));
        }
    }
}
