//! Builds the `/proc`-based collectors (cpu, entropy, filefd, meminfo, pressure, schedstat,
//! stat, vmstat) through the registry, on upstream's fixtures and on the live host, and updates
//! each twice.

use super::testing::{assert_matches_e2e, fixtures};
use super::{spec, Build, Error, Settings, Shared};
use crate::encode::Encoder;
use crate::source::Paths;
use std::path::Path;

/// Each collector with the file whose presence on the live host means it must report.
const COLLECTORS: [(&str, &str); 8] = [
    ("cpu", "stat"),
    ("entropy", "sys/kernel/random/entropy_avail"),
    ("filefd", "sys/fs/file-nr"),
    ("meminfo", "meminfo"),
    ("pressure", "pressure/cpu"),
    ("schedstat", "schedstat"),
    ("stat", "stat"),
    ("vmstat", "vmstat"),
];

/// The collectors, and cpufreq, enabled as in upstream's end-to-end run.
const ENABLED: [&str; 9] =
    ["cpu", "cpufreq", "entropy", "filefd", "meminfo", "pressure", "schedstat", "stat", "vmstat"];

/// The flags of upstream's end-to-end run that concern these collectors.
fn e2e_settings() -> Settings {
    let mut s = Settings::new();
    s.set("collector.cpu.info", "true");
    s.set("collector.cpu.info.bugs-include", "^(cpu_meltdown|spectre_.*|mds)$");
    s.set("collector.cpu.info.flags-include", "^(aes|avx.?|constant_tsc)$");
    s.set("collector.stat.softirq", "true");
    s
}

fn update(c: &mut dyn super::Collector) -> Result<String, Error> {
    let mut enc = Encoder::new();
    c.update(&mut enc)?;
    let mut out = Vec::new();
    enc.finish(&mut out);
    Ok(String::from_utf8(out).expect("exposition is UTF-8"))
}

#[test]
fn registered_sorted_with_flags() {
    for (name, _) in COLLECTORS {
        let s = spec(name).unwrap_or_else(|| panic!("{name} is not registered"));
        assert!(s.default_enabled, "{name}");
        for f in s.flags {
            assert!(f.name.starts_with(&format!("collector.{name}.")), "{}", f.name);
        }
    }
    let names: Vec<&str> = super::REGISTRY.iter().map(|s| s.name).collect();
    assert!(names.is_sorted(), "{names:?}");
}

#[test]
fn fixtures_update_twice() {
    let Some(root) = fixtures() else { return };
    let paths = Paths::under(&root);
    let (settings, shared) = (e2e_settings(), Shared::default());
    let build = Build { paths: &paths, settings: &settings, shared: &shared, enabled: &ENABLED };
    for (name, _) in COLLECTORS {
        let mut c = (spec(name).unwrap().build)(&build).unwrap();
        let first = update(&mut *c).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_matches_e2e(&first);
        assert_eq!(update(&mut *c).unwrap(), first, "{name}: second update differs");
    }
}

#[test]
fn live_host_update_twice() {
    let paths = Paths::default();
    let (settings, shared) = (e2e_settings(), Shared::default());
    let build = Build { paths: &paths, settings: &settings, shared: &shared, enabled: &ENABLED };
    for (name, file) in COLLECTORS {
        let mut c = (spec(name).unwrap().build)(&build).unwrap();
        let present = Path::new("/proc").join(file).exists();
        for _ in 0..2 {
            match update(&mut *c) {
                Ok(text) => assert!(!text.is_empty() || name == "schedstat", "{name}: empty"),
                // No PSI (or psi=0), no CONFIG_SCHEDSTATS.
                Err(Error::NoData) if matches!(name, "pressure" | "schedstat") => {}
                Err(e) if present => panic!("{name}: {e}"),
                Err(_) => {}
            }
        }
    }
}
