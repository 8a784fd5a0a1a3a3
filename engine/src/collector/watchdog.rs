//! `/sys/class/watchdog/<name>/*` → `node_watchdog_{bootstatus,fw_version,nowayout,
//! timeleft_seconds,timeout_seconds,pretimeout_seconds,access_cs0}{name}` and
//! `node_watchdog_info{name,options,identity,state,status,pretimeout_governor}`; node_exporter's
//! watchdog collector.
//!
//! Each attribute is one value, see the kernel's Documentation/ABI/testing/sysfs-class-watchdog:
//! numbers (`60`, `0x8000`) and words (`active`, `Software Watchdog`). Every entry of the class
//! directory is a device, as for upstream's `ReadDir`. Attributes are read as procfs reads them
//! (one 128-byte read, trimmed of white space); a missing one is left out (an empty label for
//! the text ones). Numbers are parsed as Go's `strconv.ParseInt(s, 0, 64)`: decimal, `0x`,
//! `0o`, `0b` or a leading `0` for octal, `_` between digits. A missing class directory, or an
//! attribute unreadable for lack of permission, is upstream's "no data"; a number that does not
//! parse, or any other failure, fails the collector.

use super::sysfs::{self, read_short, trim_space};
use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, FamilyId, Kind};
use crate::source::{Dir, Entries, File};
use rustix::io::Errno;
use std::path::{Path, PathBuf};

/// Registration.
pub const SPEC: Spec =
    Spec { name: "watchdog", default_enabled: true, flags: &[], blocking: false, build };

const CLASS: &str = "class/watchdog";

/// How an attribute's value is kept.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Value {
    /// A number with this metric name suffix (after `node_watchdog_`).
    Number(&'static str),
    /// An info label of this name.
    Text(&'static str),
}

/// The attributes, in the order upstream reads them, with the path errors name.
const ATTRS: [(&str, &str, Value); 12] = [
    ("bootstatus", "class/watchdog/*/bootstatus", Value::Number("bootstatus")),
    ("options", "class/watchdog/*/options", Value::Text("options")),
    ("fw_version", "class/watchdog/*/fw_version", Value::Number("fw_version")),
    ("identity", "class/watchdog/*/identity", Value::Text("identity")),
    ("nowayout", "class/watchdog/*/nowayout", Value::Number("nowayout")),
    ("state", "class/watchdog/*/state", Value::Text("state")),
    ("status", "class/watchdog/*/status", Value::Text("status")),
    ("timeleft", "class/watchdog/*/timeleft", Value::Number("timeleft_seconds")),
    ("timeout", "class/watchdog/*/timeout", Value::Number("timeout_seconds")),
    ("pretimeout", "class/watchdog/*/pretimeout", Value::Number("pretimeout_seconds")),
    (
        "pretimeout_governor",
        "class/watchdog/*/pretimeout_governor",
        Value::Text("pretimeout_governor"),
    ),
    ("access_cs0", "class/watchdog/*/access_cs0", Value::Number("access_cs0")),
];

#[derive(Debug)]
struct Watchdogs {
    class: Dir,
    class_path: PathBuf,
    devices: Entries<Device>,
    buf: Vec<u8>,
}

/// A device's attribute files and what this scrape read from them, by [`ATTRS`] index.
#[derive(Debug)]
struct Device {
    files: [File; 12],
    /// Whether each attribute exists.
    present: [bool; 12],
    numbers: [i64; 12],
    texts: [Vec<u8>; 12],
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    // Upstream opens its sysfs handle here, which fails unless the mount point is a directory.
    sysfs::check_mount("sysfs", &b.paths.sysfs)?;
    let class_path = b.paths.sys(CLASS);
    Ok(Box::new(Watchdogs {
        class: Dir::new(&class_path),
        class_path,
        devices: Entries::new(),
        buf: Vec::new(),
    }))
}

impl Collector for Watchdogs {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let Watchdogs { class, class_path, devices, buf } = self;
        devices.begin();
        let listed = class.for_each(|name, _| {
            devices.get_or_insert_with(name, || Device::new(&class_path.join(sysfs::path(name))));
        });
        match listed {
            Ok(()) => devices.end(),
            Err(Errno::NOENT | Errno::ACCESS | Errno::PERM) => return Err(Error::NoData),
            Err(errno) => return Err(Error::Read { path: CLASS, errno }),
        }
        for (name, device) in devices.iter_mut() {
            sysfs::label(CLASS, name)?;
            match device.refresh(buf) {
                Err(Error::Read { errno: Errno::ACCESS | Errno::PERM, .. }) => {
                    return Err(Error::NoData)
                }
                r => r?,
            }
        }
        emit(enc, devices);
        Ok(())
    }
}

impl Device {
    fn new(dir: &Path) -> Device {
        Device {
            files: ATTRS.map(|(file, _, _)| File::new(dir.join(file))),
            present: [false; 12],
            numbers: [0; 12],
            texts: Default::default(),
        }
    }

    /// Reads every attribute, stopping at the first failure as upstream does.
    fn refresh(&mut self, buf: &mut Vec<u8>) -> Result<(), Error> {
        for (i, &(_, path, value)) in ATTRS.iter().enumerate() {
            self.present[i] = false;
            let src = match read_short(&mut self.files[i], buf) {
                Ok(src) => trim_space(src),
                Err(Errno::NOENT) => continue,
                Err(errno) => return Err(Error::Read { path, errno }),
            };
            match value {
                Value::Number(_) => {
                    self.numbers[i] = parse_go_int(src)
                        .ok_or(ParseError::at(1, "expected an integer"))
                        .map_err(Error::parse(path))?;
                }
                Value::Text(_) => {
                    let text = &mut self.texts[i];
                    text.clear();
                    text.extend_from_slice(sysfs::label(path, src)?);
                }
            }
            self.present[i] = true;
        }
        Ok(())
    }
}

fn emit(enc: &mut Encoder, devices: &Entries<Device>) {
    let families: [Option<FamilyId>; 12] = ATTRS.map(|(file, _, value)| match value {
        Value::Number(suffix) => Some(enc.family_parts(
            &[b"node_watchdog_", suffix.as_bytes()],
            &[b"Value of /sys/class/watchdog/<watchdog>/", file.as_bytes()],
            Kind::Gauge,
        )),
        Value::Text(_) => None,
    });
    let info =
        enc.family("node_watchdog_info", "Info of /sys/class/watchdog/<watchdog>", Kind::Gauge);
    for (name, device) in devices.iter() {
        for (i, family) in families.iter().enumerate() {
            if let (Some(f), true) = (family, device.present[i]) {
                enc.sample(*f, &[("name", name)], device.numbers[i] as f64);
            }
        }
        let text = |i: usize| -> &[u8] {
            if device.present[i] {
                &device.texts[i]
            } else {
                b""
            }
        };
        let labels = [
            ("name", name),
            ("options", text(1)),
            ("identity", text(3)),
            ("state", text(5)),
            ("status", text(6)),
            ("pretimeout_governor", text(10)),
        ];
        enc.sample(info, &labels, 1.0);
    }
}

/// Parses an `int64` as Go's `strconv.ParseInt(s, 0, 64)`: an optional sign, then decimal, or
/// hexadecimal, octal or binary after a `0x`, `0o` or `0b` prefix (either case), or octal after
/// a lone leading `0`; `_` may separate digits (and follow a prefix). `None` where Go fails.
pub fn parse_go_int(s: &[u8]) -> Option<i64> {
    let (neg, unsigned) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = match unsigned {
        [b'0', p, _, ..] if matches!(p.to_ascii_lowercase(), b'b' | b'o' | b'x') => {
            let radix = match p.to_ascii_lowercase() {
                b'b' => 2,
                b'o' => 8,
                _ => 16,
            };
            (radix, &unsigned[2..])
        }
        [b'0', rest @ ..] => (8, rest),
        [] => return None,
        _ => (10, unsigned),
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for &c in digits {
        let d = match c {
            b'_' => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => c - b'0',
            _ if c.is_ascii_alphabetic() => c.to_ascii_lowercase() - b'a' + 10,
            _ => return None,
        };
        if u32::from(d) >= radix {
            return None;
        }
        n = n.checked_mul(u64::from(radix))?.checked_add(u64::from(d))?;
    }
    if underscores && !underscores_ok(unsigned) {
        return None;
    }
    if neg {
        0i64.checked_sub_unsigned(n)
    } else {
        i64::try_from(n).ok()
    }
}

/// Go's `underscoreOK`: each `_` sits between digits, or between a base prefix and a digit.
fn underscores_ok(s: &[u8]) -> bool {
    // What came last: the start, a digit (or prefix), an underscore, or anything else.
    #[derive(Clone, Copy, PartialEq)]
    enum Saw {
        Start,
        Digit,
        Underscore,
        Other,
    }
    let mut saw = Saw::Start;
    let mut rest = s;
    let mut hex = false;
    if let [b'0', p, tail @ ..] = s {
        if matches!(p.to_ascii_lowercase(), b'b' | b'o' | b'x') {
            saw = Saw::Digit;
            hex = p.eq_ignore_ascii_case(&b'x');
            rest = tail;
        }
    }
    for &c in rest {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = Saw::Digit;
        } else if c == b'_' {
            if saw != Saw::Digit {
                return false;
            }
            saw = Saw::Underscore;
        } else if saw == Saw::Underscore {
            return false;
        } else {
            saw = Saw::Other;
        }
    }
    saw != Saw::Underscore
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build, fds_under, fixtures, put, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    fn collector(root: &Path) -> Box<dyn Collector> {
        build(&SPEC, &Paths::under(root), &Settings::new()).unwrap()
    }

    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = collector(&root);
        let text = try_scrape(&mut *c).unwrap();
        assert_matches_e2e(&text);
        assert_eq!(samples(&text).len(), 9);
        assert_eq!(try_scrape(&mut *c).unwrap(), text);
    }

    #[test]
    fn go_integers() {
        let ok: &[(&[u8], i64)] = &[
            (b"0", 0),
            (b"60", 60),
            (b"-1", -1),
            (b"+7", 7),
            (b"0x8380", 0x8380),
            (b"0X1f", 31),
            (b"010", 8),
            (b"0o17", 15),
            (b"0b101", 5),
            (b"1_000", 1000),
            (b"0x_ff", 255),
            (b"-0b_1", -1),
            (b"9223372036854775807", i64::MAX),
            (b"-9223372036854775808", i64::MIN),
            (b"0x7fffffffffffffff", i64::MAX),
        ];
        for &(s, want) in ok {
            assert_eq!(parse_go_int(s), Some(want), "{:?}", String::from_utf8_lossy(s));
        }
        let bad: &[&[u8]] = &[
            b"",
            b"-",
            b"+",
            b"0x",
            b"0b",
            b"08",
            b"0b2",
            b"0xg",
            b"1_",
            b"_1",
            b"1__0",
            b"0_x1",
            b"1.5",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"99999999999999999999",
            b"--1",
            b"\xff",
        ];
        for &s in bad {
            assert_eq!(parse_go_int(s), None, "{:?}", String::from_utf8_lossy(s));
        }
        // A lone leading 0 makes octal; Go takes `0_7` as octal 7 with a separator.
        assert_eq!(parse_go_int(b"0_7"), Some(7));
    }

    #[test]
    fn devices_come_and_go() {
        let d = tmpdir("watchdog-churn");
        std::fs::create_dir_all(d.join("sys")).unwrap();
        let mut c = collector(&d);
        assert_eq!(try_scrape(&mut *c), Err(Error::NoData));
        put(&d, "sys/class/watchdog/watchdog0/timeout", "30\n");
        put(&d, "sys/class/watchdog/watchdog0/identity", " iTCO_wdt \n");
        put(&d, "sys/class/watchdog/watchdog0/status", "0x0");
        std::fs::create_dir_all(d.join("sys/class/watchdog/watchdog1")).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        assert_eq!(
            samples(&text),
            [
                "node_watchdog_info{identity=\"\",name=\"watchdog1\",options=\"\",\
                 pretimeout_governor=\"\",state=\"\",status=\"\"} 1",
                "node_watchdog_info{identity=\"iTCO_wdt\",name=\"watchdog0\",options=\"\",\
                 pretimeout_governor=\"\",state=\"\",status=\"0x0\"} 1",
                "node_watchdog_timeout_seconds{name=\"watchdog0\"} 30",
            ]
        );
        let class = d.join("sys/class/watchdog");
        assert_eq!(fds_under(&class), 4);
        std::fs::remove_dir_all(class.join("watchdog0")).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        assert_eq!(samples(&text).len(), 1);
        assert_eq!(fds_under(&class), 1);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn failures() {
        let d = tmpdir("watchdog-bad");
        std::fs::create_dir_all(d.join("sys")).unwrap();
        let mut c = collector(&d);
        put(&d, "sys/class/watchdog/watchdog0/timeout", "30\n");
        put(&d, "sys/class/watchdog/watchdog1/timeout", "30\n");
        try_scrape(&mut *c).unwrap();
        for bad in ["", "thirty", "1.5", "0x", "9223372036854775808"] {
            put(&d, "sys/class/watchdog/watchdog1/timeout", bad);
            let r = try_scrape(&mut *c);
            assert!(
                matches!(r, Err(Error::Parse { path, .. }) if path.ends_with("/timeout")),
                "{bad:?}"
            );
        }
        put(&d, "sys/class/watchdog/watchdog1/timeout", "30\n");
        std::fs::write(d.join("sys/class/watchdog/watchdog1/state"), b"\xffon").unwrap();
        assert!(matches!(try_scrape(&mut *c), Err(Error::Parse { .. })));
        std::fs::remove_file(d.join("sys/class/watchdog/watchdog1/state")).unwrap();
        // A plain file in the class directory is taken for a device, whose files then cannot
        // be opened: not "no data", a failure.
        put(&d, "sys/class/watchdog/watchdog2", "");
        assert!(matches!(
            try_scrape(&mut *collector(&d)),
            Err(Error::Read { errno: Errno::NOTDIR, .. })
        ));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn needs_a_sysfs_directory() {
        let d = tmpdir("watchdog-nosys");
        assert!(build(&SPEC, &Paths::under(&d), &Settings::new()).unwrap_err().contains("sysfs"));
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
