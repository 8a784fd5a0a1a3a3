//! `/sys/class/powercap/<zone>/{name,energy_uj,max_energy_range_uj}` →
//! `node_rapl_<name>_joules_total{index,path}`, or with `--collector.rapl.enable-zone-label`
//! `node_rapl_joules_total{index,path,rapl_zone}`; node_exporter's rapl collector.
//!
//! Each powercap zone with a `name` (`package-0`, `core`, `dram`) has an energy counter in
//! microjoules (`240422366267`), see the kernel's Documentation/power/powercap/powercap.rst.
//! As procfs' `GetRaplZones`: every entry of the class directory with a readable `name` is a
//! zone, taken in name order; a name `<name>-<n>` is reported as `<name>` with index `n`, any
//! other with the number of zones of that name so far (the last one counted wins). The `path`
//! label is the zone's directory as upstream spells it: the sysfs mount point as given, joined
//! and cleaned as Go's `filepath.Join` does. Unreadable powercap files (since Linux 5.10
//! `energy_uj` is readable by root only) are upstream's "no data".

use super::sysfs::{self, trim_space};
use super::{Build, Collector, Error, Flag, FlagKind, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::glob;
use crate::lex;
use crate::source::{Dir, Entries, File};
use rustix::io::Errno;
use std::path::{Path, PathBuf};

/// Registration.
pub const SPEC: Spec = Spec {
    name: "rapl",
    default_enabled: true,
    flags: &[Flag {
        name: ZONE_LABEL,
        // Upstream's help text, wrong as it is.
        help: "Enables service unit metric unit_start_time_seconds",
        kind: FlagKind::Bool,
        default: "false",
        aliases: &[],
    }],
    blocking: false,
    build,
};

const ZONE_LABEL: &str = "collector.rapl.enable-zone-label";

const CLASS: &str = "class/powercap";
const NAME: &str = "class/powercap/*/name";
const MAX: &str = "class/powercap/*/max_energy_range_uj";
const ENERGY: &str = "class/powercap/*/energy_uj";

#[derive(Debug)]
struct Rapl {
    class: Dir,
    class_path: PathBuf,
    /// The class directory as upstream spells it, for the `path` label.
    class_label: Vec<u8>,
    zone_label: bool,
    zones: Entries<Zone>,
    /// This scrape's zone names, and the index the next zone of each name gets (the last entry
    /// for a name counts, as the last write to upstream's map does).
    names: Vec<u8>,
    counts: Vec<(u32, u32, i64)>,
    buf: Vec<u8>,
    metric: Vec<u8>,
}

/// A class directory entry: its files, its `path` label, and what this scrape read.
#[derive(Debug)]
struct Zone {
    name_file: File,
    max: File,
    energy: File,
    path: Vec<u8>,
    /// This scrape's name (a range of `Rapl::names`) and index, if the entry is a zone.
    read: Option<(u32, u32, i64)>,
    microjoules: u64,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    // Upstream opens its sysfs handle here, which fails unless the mount point is a directory.
    sysfs::check_mount("sysfs", &b.paths.sysfs)?;
    let class_path = b.paths.sys(CLASS);
    Ok(Box::new(Rapl {
        class: Dir::new(&class_path),
        class_path,
        class_label: sysfs::go_join(&b.paths.sysfs, CLASS.as_bytes()),
        zone_label: b.settings.bool(ZONE_LABEL),
        zones: Entries::new(),
        names: Vec::new(),
        counts: Vec::new(),
        buf: Vec::new(),
        metric: Vec::new(),
    }))
}

impl Collector for Rapl {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        self.list()?;
        self.read_zones()?;
        self.read_energy()?;
        self.emit(enc);
        Ok(())
    }
}

/// Upstream's verdict on a failure to read powercap files: "no data" where they are missing
/// or unreadable, a failure otherwise.
fn no_data_if_missing(e: Error) -> Error {
    match e {
        Error::Read { errno: Errno::NOENT | Errno::ACCESS | Errno::PERM, .. } => Error::NoData,
        e => e,
    }
}

impl Rapl {
    fn list(&mut self) -> Result<(), Error> {
        let Rapl { class, class_path, class_label, zones, .. } = self;
        zones.begin();
        class
            .for_each(|name, _| {
                zones.get_or_insert_with(name, || Zone::new(class_path, class_label, name));
            })
            .map_err(|errno| no_data_if_missing(Error::Read { path: CLASS, errno }))?;
        zones.end();
        Ok(())
    }

    /// Names, indices and ranges of the zones, as procfs' `GetRaplZones`.
    fn read_zones(&mut self) -> Result<(), Error> {
        let Rapl { zones, names, counts, buf, .. } = self;
        names.clear();
        counts.clear();
        for (_, zone) in zones.iter_mut() {
            zone.read = None;
            // Whatever keeps `name` from being read, the entry is no zone.
            let Ok(text) = zone.name_file.read_attr(buf) else { continue };
            let (name, index) = split_index(trim_space(text));
            let start = names.len() as u32;
            names.extend_from_slice(name);
            let end = names.len() as u32;
            let name = &names[start as usize..];
            let index = index.unwrap_or_else(|| {
                counts
                    .iter()
                    .rev()
                    .find(|c| &names[c.0 as usize..c.1 as usize] == name)
                    .map_or(0, |c| c.2)
            });
            // Upstream reads the range here, and fails on it, though it reports nothing of it.
            let max =
                zone.max.read_attr(buf).map_err(Error::read(MAX)).map_err(no_data_if_missing)?;
            parse_u64(max).map_err(Error::parse(MAX))?;
            counts.push((start, end, index.wrapping_add(1)));
            zone.read = Some((start, end, index));
        }
        Ok(())
    }

    fn read_energy(&mut self) -> Result<(), Error> {
        let Rapl { zones, names, buf, zone_label, .. } = self;
        for (_, zone) in zones.iter_mut() {
            let Some((start, end, _)) = zone.read else { continue };
            let src = match zone.energy.read_attr(buf) {
                Ok(src) => src,
                Err(Errno::ACCESS | Errno::PERM) => return Err(Error::NoData),
                Err(errno) => return Err(Error::Read { path: ENERGY, errno }),
            };
            zone.microjoules = parse_u64(src).map_err(Error::parse(ENERGY))?;
            sysfs::label(CLASS, &zone.path)?;
            if *zone_label {
                sysfs::label(NAME, &names[start as usize..end as usize])?;
            }
        }
        Ok(())
    }

    fn emit(&mut self, enc: &mut Encoder) {
        let Rapl { zones, names, metric, zone_label, .. } = self;
        let zone_family = zone_label.then(|| {
            enc.family("node_rapl_joules_total", "Current RAPL value in joules", Kind::Counter)
        });
        for (_, zone) in zones.iter() {
            let Some((start, end, index)) = zone.read else { continue };
            let name = &names[start as usize..end as usize];
            let joules = zone.microjoules as f64 / 1_000_000.0;
            let mut index_text = itoa::Buffer::new();
            let index = index_text.format(index).as_bytes();
            match zone_family {
                Some(f) => {
                    let labels = [("index", index), ("path", &zone.path[..]), ("rapl_zone", name)];
                    enc.sample(f, &labels, joules);
                }
                None => {
                    metric.clear();
                    sanitize(metric, name);
                    let f = enc.family_parts(
                        &[b"node_rapl_", metric, b"_joules_total"],
                        &[b"Current RAPL ", name, b" value in joules"],
                        Kind::Counter,
                    );
                    enc.sample(f, &[("index", index), ("path", &zone.path[..])], joules);
                }
            }
        }
    }
}

impl Zone {
    fn new(class: &Path, class_label: &[u8], name: &[u8]) -> Zone {
        let dir = class.join(sysfs::path(name));
        let mut path = Vec::new();
        glob::join(&mut path, class_label, name);
        Zone {
            name_file: File::new(dir.join("name")),
            max: File::new(dir.join("max_energy_range_uj")),
            energy: File::new(dir.join("energy_uj")),
            path,
            read: None,
            microjoules: 0,
        }
    }
}

/// procfs' `getIndexAndName`: `name-n` (exactly one `-`, `n` an integer to Go's `Atoi`) is
/// `name` with index `n`; any other name stands as it is, without an index.
pub fn split_index(name: &[u8]) -> (&[u8], Option<i64>) {
    let mut parts = name.split(|&b| b == b'-');
    if let (Some(base), Some(n), None) = (parts.next(), parts.next(), parts.next()) {
        if let Some(i) = lex::parse_i64(n) {
            return (base, Some(i));
        }
    }
    (name, None)
}

/// node_exporter's `SanitizeMetricName`: each run of characters outside `[0-9A-Za-z_]`, with the
/// underscores next to it, becomes one `_` (the regex `_*[^0-9A-Za-z_]+_*`, matched leftmost
/// first). Appends to `out`.
pub fn sanitize(out: &mut Vec<u8>, s: &[u8]) {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'_' && is_word(s[i]) {
            out.push(s[i]);
            i += 1;
            continue;
        }
        let mut j = i;
        while j < s.len() && s[j] == b'_' {
            j += 1;
        }
        if j < s.len() && !is_word(s[j]) {
            while j < s.len() && !is_word(s[j]) {
                j += 1;
            }
            while j < s.len() && s[j] == b'_' {
                j += 1;
            }
            out.push(b'_');
        } else {
            // Underscores before a letter or the end are no match: they stay.
            out.extend_from_slice(&s[i..j]);
        }
        i = j;
    }
}

/// An unsigned decimal with surrounding white space, as procfs' `ReadUintFromFile`.
fn parse_u64(src: &[u8]) -> Result<u64, ParseError> {
    lex::parse_u64(trim_space(src)).ok_or(ParseError::at(1, "expected an unsigned integer"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build, fds_under, fixtures, put, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    fn collector(root: &Path, zone_label: bool) -> Box<dyn Collector> {
        let mut s = Settings::new();
        s.set(ZONE_LABEL, if zone_label { "true" } else { "false" });
        build(&SPEC, &Paths::under(root), &s).unwrap()
    }

    /// The class directory as the `path` label spells it.
    fn class_label(root: &Path) -> String {
        String::from_utf8(sysfs::go_join(&root.join("sys"), CLASS.as_bytes())).unwrap()
    }

    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = collector(&root, false);
        let text = try_scrape(&mut *c).unwrap();
        assert_eq!(try_scrape(&mut *c).unwrap(), text);
        // Upstream ran with `--path.sysfs=collector/fixtures/sys`: the `path` label carries the
        // mount point as given, cleaned.
        let given = format!("path=\"{}/", class_label(&root));
        let text = text.replace(&given, "path=\"collector/fixtures/sys/class/powercap/");
        assert_matches_e2e(&text);
        assert_eq!(samples(&text).len(), 2);
    }

    #[test]
    fn zone_label() {
        let Some(root) = fixtures() else { return };
        let text = try_scrape(&mut *collector(&root, true)).unwrap();
        let sys = class_label(&root);
        assert_eq!(
            samples(&text),
            [
                format!(
                    "node_rapl_joules_total{{index=\"0\",path=\"{sys}/intel-rapl:0\",\
                     rapl_zone=\"package\"}} 240422.366267"
                ),
                format!(
                    "node_rapl_joules_total{{index=\"0\",path=\"{sys}/intel-rapl:0:0\",\
                     rapl_zone=\"core\"}} 118821.284256"
                ),
            ]
        );
        assert!(text.contains("# HELP node_rapl_joules_total Current RAPL value in joules\n"));
    }

    #[test]
    fn names_and_indices() {
        assert_eq!(split_index(b"package-0"), (&b"package"[..], Some(0)));
        assert_eq!(split_index(b"package-+3"), (&b"package"[..], Some(3)));
        assert_eq!(split_index(b"dram"), (&b"dram"[..], None));
        assert_eq!(split_index(b"a-b-1"), (&b"a-b-1"[..], None));
        assert_eq!(split_index(b"psys-x"), (&b"psys-x"[..], None));
        assert_eq!(split_index(b"-1"), (&b""[..], Some(1)));
        let sane = |s: &[u8]| {
            let mut out = Vec::new();
            sanitize(&mut out, s);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(sane(b"package"), "package");
        assert_eq!(sane(b"psys.x"), "psys_x");
        assert_eq!(sane(b"a-__-b"), "a__b");
        assert_eq!(sane(b"a__-b"), "a_b");
        assert_eq!(sane(b"_a__b_"), "_a__b_");
        assert_eq!(sane(b"x_ \xc3\xa9 _y"), "x_y");
        assert_eq!(sane(b"-"), "_");
    }

    fn zone(d: &Path, dir: &str, name: Option<&str>, energy: &str) {
        let base = format!("sys/class/powercap/{dir}");
        if let Some(n) = name {
            put(d, &format!("{base}/name"), n);
        }
        put(d, &format!("{base}/energy_uj"), energy);
        put(d, &format!("{base}/max_energy_range_uj"), "262143328850\n");
    }

    #[test]
    fn counting_indices_and_zone_churn() {
        let d = tmpdir("rapl-zones");
        std::fs::create_dir_all(d.join("sys")).unwrap();
        let mut c = collector(&d, false);
        assert_eq!(try_scrape(&mut *c), Err(Error::NoData));
        zone(&d, "intel-rapl", None, "1\n");
        zone(&d, "intel-rapl:0", Some("package-0\n"), "2000000\n");
        zone(&d, "intel-rapl:0:0", Some("dram\n"), "3\n");
        zone(&d, "intel-rapl:0:1", Some("dram\n"), "4\n");
        zone(&d, "intel-rapl:1", Some("package-5\n"), "5\n");
        zone(&d, "intel-rapl:1:0", Some("package\n"), "6\n");
        zone(&d, "mmio", Some("psys.x\n"), "7\n");
        let text = try_scrape(&mut *c).unwrap();
        let sys = class_label(&d);
        let line = |family: &str, index: &str, dir: &str, value: &str| {
            format!(
                "node_rapl_{family}_joules_total{{index=\"{index}\",path=\"{sys}/{dir}\"}} {value}"
            )
        };
        assert_eq!(
            samples(&text),
            [
                line("dram", "0", "intel-rapl:0:0", "3e-06"),
                line("dram", "1", "intel-rapl:0:1", "4e-06"),
                line("package", "0", "intel-rapl:0", "2"),
                // The last zone called `package` had index 5: the next gets 6.
                line("package", "5", "intel-rapl:1", "5e-06"),
                line("package", "6", "intel-rapl:1:0", "6e-06"),
                line("psys_x", "0", "mmio", "7e-06"),
            ]
        );
        assert!(text.contains("# HELP node_rapl_psys_x_joules_total Current RAPL psys.x value"));
        let class = d.join("sys/class/powercap");
        // Three files per zone (the entry without a name keeps none), and the class directory.
        assert_eq!(fds_under(&class), 6 * 3 + 1);
        std::fs::remove_dir_all(class.join("intel-rapl:0:0")).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        assert!(text.contains("dram_joules_total{index=\"0\",path=\""), "{text}");
        assert_eq!(samples(&text).len(), 5);
        assert_eq!(fds_under(&class), 5 * 3 + 1);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn failures() {
        let d = tmpdir("rapl-bad");
        std::fs::create_dir_all(d.join("sys")).unwrap();
        zone(&d, "intel-rapl:0", Some("package-0\n"), "2000000\n");
        let mut c = collector(&d, false);
        try_scrape(&mut *c).unwrap();
        for bad in ["", "-1\n", "1.5\n", "18446744073709551616\n", "x\n"] {
            put(&d, "sys/class/powercap/intel-rapl:0/energy_uj", bad);
            assert!(matches!(try_scrape(&mut *c), Err(Error::Parse { path: ENERGY, .. })));
            put(&d, "sys/class/powercap/intel-rapl:0/energy_uj", "1\n");
            put(&d, "sys/class/powercap/intel-rapl:0/max_energy_range_uj", bad);
            assert!(matches!(try_scrape(&mut *c), Err(Error::Parse { path: MAX, .. })));
            put(&d, "sys/class/powercap/intel-rapl:0/max_energy_range_uj", "1\n");
        }
        // A missing range is "no data", a missing counter a failure, as upstream.
        std::fs::remove_file(d.join("sys/class/powercap/intel-rapl:0/max_energy_range_uj"))
            .unwrap();
        assert_eq!(try_scrape(&mut *collector(&d, false)), Err(Error::NoData));
        put(&d, "sys/class/powercap/intel-rapl:0/max_energy_range_uj", "1\n");
        std::fs::remove_file(d.join("sys/class/powercap/intel-rapl:0/energy_uj")).unwrap();
        assert!(matches!(
            try_scrape(&mut *collector(&d, false)),
            Err(Error::Read { path: ENERGY, errno: Errno::NOENT })
        ));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn flag_and_mount_point() {
        let f = SPEC.flags[0];
        assert_eq!((f.name, f.kind, f.default), (ZONE_LABEL, FlagKind::Bool, "false"));
        let d = tmpdir("rapl-nosys");
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
