//! `/sys/class/power_supply/<supply>/*` → `node_power_supply_*`{power_supply} and
//! `node_power_supply_info`; node_exporter's powersupplyclass collector.
//!
//! Each supply (`AC`, `BAT0`, a UPS, a USB port) is a directory of one-value attributes in
//! micro-units (`voltage_now` holds `11660000` µV), tenths of a degree for temperatures, or
//! text (`status` holds `Discharging`); see the kernel's
//! Documentation/ABI/testing/sysfs-class-power. Micro-unit values are reported divided by
//! 1e6, temperatures by 10, text as labels of `node_power_supply_info` (present and non-empty
//! ones only, invalid UTF-8 replaced by U+FFFD).
//!
//! As upstream: every supply is read before anything is reported, including those the
//! `--collector.powersupply.ignored-supplies` pattern leaves out (upstream filters after
//! parsing); an attribute that is missing or refuses the read with `EOPNOTSUPP` is left out;
//! any other read failure, and a number that does not parse, fails the collector; a missing
//! `power_supply` directory reports no data.
//!
//! Each supply keeps the attribute files its directory lists open ([`Entries`]); directories
//! are listed afresh, since a kept fd on a removed one (a hot-unplugged UPS re-attached under
//! the same name) would go on listing nothing. Deviation: of the files upstream reads, only
//! the 67 its parser knows are read here; upstream also reads the others (`uevent`, `alarm`,
//! ...) and ignores their contents, and reading a battery attribute can mean a query to the
//! embedded controller.

use super::sysattr;
use super::{Build, Collector, Error, Flag, FlagKind, ParseError, Spec};
use crate::encode::{Encoder, FamilyId, Kind, Label};
use crate::source::{c_path, Entries, File, Lister};
use regex::bytes::Regex;
use rustix::io::Errno;
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Registration. Blocking: battery attributes are read from the embedded controller or over
/// SMBus, and a UPS over USB, any of which can stall.
pub const SPEC: Spec =
    Spec { name: "powersupplyclass", default_enabled: true, flags: FLAGS, blocking: true, build };

const IGNORED: &str = "collector.powersupply.ignored-supplies";

const FLAGS: &[Flag] = &[Flag {
    name: IGNORED,
    help: "Regexp of power supplies to ignore for powersupplyclass collector.",
    kind: FlagKind::Regex,
    default: "^$",
    aliases: &[],
}];

const PATH: &str = "sys/class/power_supply";

/// How a numeric attribute is scaled for its metric.
#[derive(Clone, Copy, Debug)]
enum Scale {
    One,
    /// Micro-units (µV, µA, µWh, µAh, µW) to units.
    Micro,
    /// Tenths of a degree Celsius to degrees.
    Deci,
}

/// What an attribute is to procfs and node_exporter.
#[derive(Clone, Copy, Debug)]
enum Attr {
    /// A number reported as `node_power_supply_<metric>`.
    Number(&'static str, Scale),
    /// A number procfs parses (so a bad one fails the collector) that is not reported.
    Unreported,
    /// Text reported as the label of that name, stored in the given text slot.
    Text(&'static str, usize),
}

/// Every attribute procfs knows, sorted by file name.
const ATTRS: [(&str, Attr); 67] = [
    ("authentic", Attr::Number("authentic", Scale::One)),
    ("calibrate", Attr::Number("calibrate", Scale::One)),
    ("capacity", Attr::Number("capacity", Scale::One)),
    ("capacity_alert_max", Attr::Number("capacity_alert_max", Scale::One)),
    ("capacity_alert_min", Attr::Number("capacity_alert_min", Scale::One)),
    ("capacity_level", Attr::Text("capacity_level", 0)),
    ("charge_avg", Attr::Unreported),
    ("charge_control_limit", Attr::Number("charge_control_limit", Scale::Micro)),
    ("charge_control_limit_max", Attr::Number("charge_control_limit_max", Scale::Micro)),
    ("charge_counter", Attr::Number("charge_counter", Scale::Micro)),
    ("charge_empty", Attr::Number("charge_empty", Scale::Micro)),
    ("charge_empty_design", Attr::Number("charge_empty_design", Scale::Micro)),
    ("charge_full", Attr::Number("charge_full", Scale::Micro)),
    ("charge_full_design", Attr::Number("charge_full_design", Scale::Micro)),
    ("charge_now", Attr::Number("charge_ampere", Scale::Micro)),
    ("charge_term_current", Attr::Number("charge_term_current", Scale::Micro)),
    ("charge_type", Attr::Text("charge_type", 1)),
    ("constant_charge_current", Attr::Number("constant_charge_current", Scale::Micro)),
    ("constant_charge_current_max", Attr::Number("constant_charge_current_max", Scale::Micro)),
    ("constant_charge_voltage", Attr::Number("constant_charge_voltage", Scale::Micro)),
    ("constant_charge_voltage_max", Attr::Number("constant_charge_voltage_max", Scale::Micro)),
    ("current_avg", Attr::Unreported),
    ("current_boot", Attr::Number("current_boot", Scale::Micro)),
    ("current_max", Attr::Number("current_max", Scale::Micro)),
    ("current_now", Attr::Number("current_ampere", Scale::Micro)),
    ("cycle_count", Attr::Number("cyclecount", Scale::One)),
    ("energy_avg", Attr::Unreported),
    ("energy_empty", Attr::Number("energy_empty", Scale::Micro)),
    ("energy_empty_design", Attr::Number("energy_empty_design", Scale::Micro)),
    ("energy_full", Attr::Number("energy_full", Scale::Micro)),
    ("energy_full_design", Attr::Number("energy_full_design", Scale::Micro)),
    ("energy_now", Attr::Number("energy_watthour", Scale::Micro)),
    ("health", Attr::Text("health", 2)),
    ("input_current_limit", Attr::Number("input_current_limit", Scale::Micro)),
    ("manufacturer", Attr::Text("manufacturer", 3)),
    ("model_name", Attr::Text("model_name", 4)),
    ("online", Attr::Number("online", Scale::One)),
    ("power_avg", Attr::Unreported),
    ("power_now", Attr::Number("power_watt", Scale::Micro)),
    ("precharge_current", Attr::Number("precharge_current", Scale::Micro)),
    ("present", Attr::Number("present", Scale::One)),
    ("scope", Attr::Text("scope", 5)),
    ("serial_number", Attr::Text("serial_number", 6)),
    ("status", Attr::Text("status", 7)),
    ("technology", Attr::Text("technology", 8)),
    ("temp", Attr::Number("temp_celsius", Scale::Deci)),
    ("temp_alert_max", Attr::Number("temp_alert_max_celsius", Scale::Deci)),
    ("temp_alert_min", Attr::Number("temp_alert_min_celsius", Scale::Deci)),
    ("temp_ambient", Attr::Number("temp_ambient_celsius", Scale::Deci)),
    ("temp_ambient_max", Attr::Number("temp_ambient_max_celsius", Scale::Deci)),
    ("temp_ambient_min", Attr::Number("temp_ambient_min_celsius", Scale::Deci)),
    ("temp_max", Attr::Number("temp_max_celsius", Scale::Deci)),
    ("temp_min", Attr::Number("temp_min_celsius", Scale::Deci)),
    ("time_to_empty_avg", Attr::Unreported),
    ("time_to_empty_now", Attr::Number("time_to_empty_seconds", Scale::One)),
    ("time_to_full_avg", Attr::Unreported),
    ("time_to_full_now", Attr::Number("time_to_full_seconds", Scale::One)),
    ("type", Attr::Text("type", 9)),
    ("usb_type", Attr::Text("usb_type", 10)),
    ("voltage_avg", Attr::Unreported),
    ("voltage_boot", Attr::Number("voltage_boot", Scale::Micro)),
    ("voltage_max", Attr::Number("voltage_max", Scale::Micro)),
    ("voltage_max_design", Attr::Number("voltage_max_design", Scale::Micro)),
    ("voltage_min", Attr::Number("voltage_min", Scale::Micro)),
    ("voltage_min_design", Attr::Number("voltage_min_design", Scale::Micro)),
    ("voltage_now", Attr::Number("voltage_volt", Scale::Micro)),
    ("voltage_ocv", Attr::Number("voltage_ocv", Scale::Micro)),
];
const TEXTS: usize = 11;

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    // Compiled as given: upstream's empty pattern ignores every supply.
    let ignored = Regex::new(b.settings.str(IGNORED))
        .map_err(|e| format!("invalid regular expression for --{IGNORED}: {e}"))?;
    let root = b.paths.sys("class/power_supply");
    Ok(Box::new(PowerSupplyClass {
        root_c: c_path(&root),
        root,
        ignored,
        supplies: Entries::new(),
        io: Io { buf: Vec::new(), lister: Lister::new(), path: Vec::new() },
        clean: Default::default(),
    }))
}

#[derive(Debug)]
struct PowerSupplyClass {
    root: PathBuf,
    root_c: CString,
    ignored: Regex,
    supplies: Entries<Supply>,
    io: Io,
    /// The info labels of the supply being reported, made valid UTF-8.
    clean: [Vec<u8>; TEXTS + 1],
}

/// What reading a supply borrows.
#[derive(Debug)]
struct Io {
    buf: Vec<u8>,
    /// Lists directories afresh on every scrape.
    lister: Lister,
    /// Scratch for entry paths.
    path: Vec<u8>,
}

#[derive(Debug)]
struct Supply {
    dir: CString,
    dir_path: PathBuf,
    /// The known attribute files the directory listed this scrape, by [`ATTRS`] index.
    files: Box<[Option<File>; 67]>,
    /// This scrape's numbers, by [`ATTRS`] index.
    numbers: [Option<i64>; 67],
    /// This scrape's text attributes, by slot; empty where missing.
    texts: [Vec<u8>; TEXTS],
    is_ignored: bool,
    name_is_utf8: bool,
}

impl Supply {
    fn new(dir: &Path, name: &[u8], is_ignored: bool) -> Supply {
        Supply {
            dir: c_path(dir),
            dir_path: dir.to_path_buf(),
            files: Box::new(std::array::from_fn(|_| None)),
            numbers: [None; 67],
            texts: Default::default(),
            is_ignored,
            name_is_utf8: std::str::from_utf8(name).is_ok(),
        }
    }

    fn read(&mut self, io: &mut Io) -> Result<(), Error> {
        let Supply { dir, dir_path, files, numbers, texts, .. } = self;
        let Io { buf, lister, path } = io;
        let dir_bytes = dir_path.as_os_str().as_bytes();
        let mut listed = [false; 67];
        let r = lister.list(dir, |name, kind| {
            if !sysattr::is_regular(kind, dir_bytes, name, path) {
                return;
            }
            if let Ok(i) = ATTRS.binary_search_by(|a| a.0.as_bytes().cmp(name)) {
                listed[i] = true;
                files[i].get_or_insert_with(|| File::new(dir_path.join(OsStr::from_bytes(name))));
            }
        });
        if let Err(errno) = r {
            // Gone or unreadable: its files go too, and are opened afresh should it return.
            **files = std::array::from_fn(|_| None);
            return Err(match sysattr::is_not_exist(errno) {
                true => Error::NoData,
                false => Error::Read { path: PATH, errno },
            });
        }
        *numbers = [None; 67];
        texts.iter_mut().for_each(Vec::clear);
        for (i, (file, listed)) in files.iter_mut().zip(listed).enumerate() {
            if !listed {
                *file = None;
                continue;
            }
            let Some(file) = file else { continue };
            let value = match file.read_attr(buf) {
                Ok(raw) => sysattr::value(raw),
                Err(e) if sysattr::is_not_exist(e) || sysattr::is_not_supported(e) => continue,
                Err(errno) => return Err(Error::Read { path: PATH, errno }),
            };
            match ATTRS[i].1 {
                Attr::Text(_, slot) => texts[slot].extend_from_slice(value),
                Attr::Number(..) | Attr::Unreported => {
                    let n = sysattr::parse_i64(value).ok_or(Error::Parse {
                        path: PATH,
                        err: ParseError::at(0, "attribute is not an integer"),
                    })?;
                    numbers[i] = Some(n);
                }
            }
        }
        Ok(())
    }

    /// Whether upstream would panic reporting this supply: its numbers carry the name as a
    /// label value unchanged, and it is not UTF-8.
    fn is_reportable(&self) -> bool {
        self.name_is_utf8
            || !ATTRS
                .iter()
                .zip(&self.numbers)
                .any(|(a, n)| matches!(a.1, Attr::Number(..)) && n.is_some())
    }
}

impl Collector for PowerSupplyClass {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let PowerSupplyClass { root, root_c, ignored, supplies, io, clean } = self;
        supplies.begin();
        io.lister
            .list(root_c, |name, _| {
                supplies.get_or_insert_with(name, || {
                    Supply::new(&root.join(OsStr::from_bytes(name)), name, ignored.is_match(name))
                });
            })
            .map_err(|errno: Errno| match sysattr::is_not_exist(errno) {
                true => Error::NoData,
                false => Error::Read { path: PATH, errno },
            })?;
        supplies.end();
        for (_, supply) in supplies.iter_mut() {
            supply.read(io)?;
        }
        let reported = || supplies.iter().filter(|(_, s)| !s.is_ignored);
        if !reported().all(|(_, s)| s.is_reportable()) {
            // Upstream panics; fail instead, before adding anything.
            return Err(Error::Parse {
                path: PATH,
                err: ParseError::at(0, "supply name is not valid UTF-8"),
            });
        }
        let fams: [Option<FamilyId>; 67] = ATTRS.map(|(_, attr)| match attr {
            Attr::Number(metric, _) => Some(enc.family_parts(
                &[b"node_power_supply_", metric.as_bytes()],
                &[metric.as_bytes(), b" value of /sys/class/power_supply/<power_supply>."],
                Kind::Gauge,
            )),
            _ => None,
        });
        let info = enc.family(
            "node_power_supply_info",
            "info of /sys/class/power_supply/<power_supply>.",
            Kind::Gauge,
        );
        for (name, supply) in reported() {
            for ((fam, attr), n) in fams.iter().zip(&ATTRS).zip(&supply.numbers) {
                let (Some(fam), Attr::Number(_, scale), Some(n)) = (fam, attr.1, n) else {
                    continue;
                };
                let v = match scale {
                    Scale::One => *n as f64,
                    Scale::Micro => *n as f64 / 1e6,
                    Scale::Deci => *n as f64 / 10.0,
                };
                enc.sample(*fam, &[("power_supply", name)], v);
            }
            emit_info(enc, info, name, supply, clean);
        }
        Ok(())
    }
}

/// Adds a supply's `node_power_supply_info`: its name and non-empty text attributes, made
/// valid UTF-8 in `clean`.
fn emit_info(
    enc: &mut Encoder,
    info: FamilyId,
    name: &[u8],
    supply: &Supply,
    clean: &mut [Vec<u8>; TEXTS + 1],
) {
    let (name_clean, text_clean) = clean.split_at_mut(1);
    name_clean[0].clear();
    sysattr::push_valid_utf8(&mut name_clean[0], name);
    for (out, text) in text_clean.iter_mut().zip(&supply.texts) {
        out.clear();
        sysattr::push_valid_utf8(out, text);
    }
    let mut labels: [Label<'_>; TEXTS + 1] = [("", &[]); TEXTS + 1];
    labels[0] = ("power_supply", &name_clean[0]);
    let mut n = 1;
    for (_, a) in ATTRS {
        if let Attr::Text(label, slot) = a {
            if !text_clean[slot].is_empty() {
                labels[n] = (label, &text_clean[slot]);
                n += 1;
            }
        }
    }
    enc.sample(info, &labels[..n], 1.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        build as build_spec, fds_under, fixture_scrape_matches_e2e, put, scrape, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    #[test]
    fn fixture_matches_upstream() {
        fixture_scrape_matches_e2e(&SPEC);
    }

    #[test]
    fn table() {
        assert!(ATTRS.windows(2).all(|w| w[0].0 < w[1].0));
        let mut slots: Vec<usize> = ATTRS
            .iter()
            .filter_map(|a| match a.1 {
                Attr::Text(_, slot) => Some(slot),
                _ => None,
            })
            .collect();
        slots.sort_unstable();
        assert_eq!(slots, (0..TEXTS).collect::<Vec<_>>());
    }

    #[test]
    fn values_scales_and_labels() {
        let root = tmpdir("powersupply-values");
        let dir = "sys/class/power_supply/BAT1";
        put(&root, &format!("{dir}/voltage_now"), "12000001\n");
        put(&root, &format!("{dir}/temp"), "-15\n");
        put(&root, &format!("{dir}/capacity"), "0x10\n");
        put(&root, &format!("{dir}/current_avg"), "-5\n");
        put(&root, &format!("{dir}/status"), "Charging\n");
        put(&root, &format!("{dir}/health"), "\n");
        put(&root, &format!("{dir}/uevent"), "not read\n");
        std::fs::write(root.join(format!("{dir}/manufacturer")), b"AC\xffME\xfe\xfd\n").unwrap();
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        for line in [
            "node_power_supply_voltage_volt{power_supply=\"BAT1\"} 12.000001",
            "node_power_supply_temp_celsius{power_supply=\"BAT1\"} -1.5",
            "node_power_supply_capacity{power_supply=\"BAT1\"} 16",
            "node_power_supply_info{manufacturer=\"AC\u{fffd}ME\u{fffd}\",power_supply=\"BAT1\",\
             status=\"Charging\"} 1",
        ] {
            assert!(text.contains(&format!("\n{line}\n")), "{line} missing from\n{text}");
        }
        assert!(text.contains(
            "# HELP node_power_supply_voltage_volt voltage_volt value of \
             /sys/class/power_supply/<power_supply>.\n"
        ));
        assert!(!text.contains("current_avg"));

        // A supply going away takes its fds along; an attribute going away its series.
        put(&root, "sys/class/power_supply/AC/online", "1\n");
        std::fs::remove_file(root.join(format!("{dir}/temp"))).unwrap();
        let text = scrape(c.as_mut());
        assert!(text.contains("node_power_supply_online{power_supply=\"AC\"} 1\n"));
        assert!(!text.contains("temp_celsius"));
        assert_eq!(fds_under(&root.join(dir)), 6);
        std::fs::remove_dir_all(root.join(dir)).unwrap();
        assert!(!scrape(c.as_mut()).contains("BAT1"));
        assert_eq!(fds_under(&root.join(dir)), 0);
        drop(c);
        assert_eq!(fds_under(&root), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn ignored_supplies_are_still_read() {
        let root = tmpdir("powersupply-ignored");
        put(&root, "sys/class/power_supply/AC/online", "1\n");
        put(&root, "sys/class/power_supply/hid-ups/capacity", "50\n");
        let mut s = Settings::new();
        s.set(IGNORED, "^hid-");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &s).unwrap();
        let text = scrape(c.as_mut());
        assert!(text.contains("power_supply=\"AC\"") && !text.contains("hid-ups"), "{text}");
        // As upstream, which filters after parsing: a bad value in it fails the collector.
        put(&root, "sys/class/power_supply/hid-ups/capacity", "fifty\n");
        let r = try_scrape(c.as_mut());
        assert!(matches!(r, Err(Error::Parse { .. })), "{r:?}");
        // An empty pattern ignores everything.
        s.set(IGNORED, "");
        put(&root, "sys/class/power_supply/hid-ups/capacity", "50\n");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &s).unwrap();
        assert_eq!(scrape(c.as_mut()), "");
        s.set(IGNORED, "[");
        assert!(build_spec(&SPEC, &Paths::under(&root), &s).unwrap_err().contains(IGNORED));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn failures() {
        let root = tmpdir("powersupply-errors");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert_eq!(try_scrape(c.as_mut()), Err(Error::NoData));
        // Overflowing, empty, fractional numbers fail the collector.
        for bad in ["9223372036854775808\n", "", "1.5\n"] {
            put(&root, "sys/class/power_supply/BAT0/voltage_now", bad);
            let r = try_scrape(c.as_mut());
            assert!(matches!(r, Err(Error::Parse { .. })), "{bad:?}: {r:?}");
        }
        put(&root, "sys/class/power_supply/BAT0/voltage_now", "1\n");
        // A supply entry that is a file cannot be listed.
        put(&root, "sys/class/power_supply/odd", "");
        let r = try_scrape(c.as_mut());
        assert!(matches!(r, Err(Error::Read { errno: Errno::NOTDIR, .. })), "{r:?}");
        std::fs::remove_file(root.join("sys/class/power_supply/odd")).unwrap();
        // A name that is not UTF-8 is cleaned in the info metric, but fails the numbers.
        let odd = root.join(OsStr::from_bytes(b"sys/class/power_supply/ups\xff"));
        std::fs::create_dir_all(&odd).unwrap();
        std::fs::write(odd.join("type"), b"UPS\n").unwrap();
        let text = scrape(c.as_mut());
        assert!(
            text.contains("node_power_supply_info{power_supply=\"ups\u{fffd}\",type=\"UPS\"} 1")
        );
        std::fs::write(odd.join("online"), b"1\n").unwrap();
        let r = try_scrape(c.as_mut());
        assert!(matches!(r, Err(Error::Parse { .. })), "{r:?}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            if let Err(e) = try_scrape(c.as_mut()) {
                assert!(e.is_no_data(), "{e}");
            }
        }
    }
}
