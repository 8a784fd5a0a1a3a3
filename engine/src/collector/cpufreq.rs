//! `/sys/devices/system/cpu/cpu*/cpufreq/*` → `node_cpu_frequency_{,min_,max_}hertz{cpu}`,
//! `node_cpu_scaling_frequency_{,min_,max_}hertz{cpu}` and
//! `node_cpu_scaling_governor{cpu,governor}`; node_exporter's cpufreq collector.
//!
//! Each CPU's `cpufreq` directory (a link to its policy) holds frequencies in kHz
//! (`cpuinfo_max_freq`: `3700000`) and governors (`scaling_governor`: `powersave`,
//! `scaling_available_governors`: `performance powersave`), see the kernel's
//! Documentation/admin-guide/pm/cpufreq.rst. CPUs (`cpu[0-9]*`) listed in
//! `devices/system/cpu/offline` are left out, found there by the same binary search procfs
//! uses (which assumes the list sorted); so is a CPU without `cpufreq`. A frequency file that
//! is missing or unreadable (`cpuinfo_cur_freq` is root's) is left out; a governor file must be
//! readable. Any other failure fails the collector, with nothing reported, as does finding no
//! CPU at all.
//!
//! Upstream (procfs' `SystemCpufreq`) also reads `cpuinfo_transition_latency`, `scaling_driver`,
//! `related_cpus` and `scaling_setspeed` without reporting them, failing where the last three
//! cannot be read; the cpufreq core creates all three for every policy, so these four reads per
//! CPU and scrape are left out. Files are kept open per CPU: about eight fds per CPU, in
//! exchange for one `pread` each per scrape rather than `openat`, `read` and `close`.

use super::cpu::parse_cpu_list_into;
use super::sysfs::{self, read_short, trim_space};
use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::{self, Dir, Entries, File};
use rustix::io::Errno;
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// Registration.
pub const SPEC: Spec =
    Spec { name: "cpufreq", default_enabled: true, flags: &[], blocking: false, build };

const CPUS: &str = "devices/system/cpu";
const OFFLINE: &str = "devices/system/cpu/offline";
const CPUFREQ: &str = "devices/system/cpu/cpu*/cpufreq";
const AVAILABLE: &str = "devices/system/cpu/cpu*/cpufreq/scaling_available_governors";
const GOVERNOR: &str = "devices/system/cpu/cpu*/cpufreq/scaling_governor";

/// The frequency files, with the family each is reported under (kHz, reported in Hz).
const FREQUENCIES: [(&str, &str, &str, &str); 6] = [
    (
        "cpuinfo_cur_freq",
        "devices/system/cpu/cpu*/cpufreq/cpuinfo_cur_freq",
        "node_cpu_frequency_hertz",
        "Current CPU thread frequency in hertz.",
    ),
    (
        "cpuinfo_min_freq",
        "devices/system/cpu/cpu*/cpufreq/cpuinfo_min_freq",
        "node_cpu_frequency_min_hertz",
        "Minimum CPU thread frequency in hertz.",
    ),
    (
        "cpuinfo_max_freq",
        "devices/system/cpu/cpu*/cpufreq/cpuinfo_max_freq",
        "node_cpu_frequency_max_hertz",
        "Maximum CPU thread frequency in hertz.",
    ),
    (
        "scaling_cur_freq",
        "devices/system/cpu/cpu*/cpufreq/scaling_cur_freq",
        "node_cpu_scaling_frequency_hertz",
        "Current scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_min_freq",
        "devices/system/cpu/cpu*/cpufreq/scaling_min_freq",
        "node_cpu_scaling_frequency_min_hertz",
        "Minimum scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_max_freq",
        "devices/system/cpu/cpu*/cpufreq/scaling_max_freq",
        "node_cpu_scaling_frequency_max_hertz",
        "Maximum scaled CPU thread frequency in hertz.",
    ),
];

#[derive(Debug)]
struct Cpufreq {
    cpus_dir: Dir,
    cpus_path: PathBuf,
    offline: File,
    /// This scrape's offline CPUs, in the file's order.
    offline_cpus: Vec<u16>,
    cpus: Entries<Cpu>,
    buf: Vec<u8>,
}

/// One CPU's cpufreq files and what this scrape read from them.
#[derive(Debug)]
struct Cpu {
    /// `cpuN/cpufreq`, whose presence says whether the CPU is reported.
    dir: CString,
    frequencies: [File; 6],
    available: File,
    governor: File,
    /// This scrape: whether the CPU is reported, its frequencies (kHz) and governors.
    reported: bool,
    khz: [Option<u64>; 6],
    available_text: Vec<u8>,
    governor_text: Vec<u8>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    // Upstream opens its sysfs handle here, which fails unless the mount point is a directory.
    sysfs::check_mount("sysfs", &b.paths.sysfs)?;
    let cpus_path = b.paths.sys(CPUS);
    Ok(Box::new(Cpufreq {
        cpus_dir: Dir::new(&cpus_path),
        offline: File::new(cpus_path.join("offline")),
        cpus_path,
        offline_cpus: Vec::new(),
        cpus: Entries::new(),
        buf: Vec::new(),
    }))
}

impl Collector for Cpufreq {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let Cpufreq { cpus_dir, cpus_path, offline, offline_cpus, cpus, buf } = self;
        sysfs::glob_into(
            cpus_dir,
            cpus,
            |name| sysfs::is_numbered(name, b"cpu"),
            |name| Cpu::new(&cpus_path.join(sysfs::path(name))),
        );

        let src = offline.read(buf).map_err(Error::read(OFFLINE))?;
        offline_cpus.clear();
        if !trim_space(src).is_empty() {
            parse_cpu_list_into(src, offline_cpus)
                .ok_or(ParseError::at(1, "invalid CPU list"))
                .map_err(Error::parse(OFFLINE))?;
        }

        let mut listed = 0;
        for (name, cpu) in cpus.iter_mut() {
            cpu.reported = false;
            if !offline_cpus.is_empty() {
                // Upstream converts the number after `cpu` with `Atoi` here, and fails if it
                // cannot, as it then does for `cpu1a`.
                let n = lex::parse_i64(&name[3..])
                    .ok_or(ParseError { line: 0, what: "CPU directory name is not cpu<N>" })
                    .map_err(Error::parse(CPUS))?;
                if is_listed(n as u16, offline_cpus) {
                    continue;
                }
            }
            listed += 1;
            cpu.refresh(buf)?;
            if cpu.reported {
                sysfs::label(CPUS, &name[3..])?;
            }
        }
        if listed == 0 {
            // procfs' "could not find any cpufreq files", which upstream reports as a failure.
            return Err(Error::Read { path: CPUFREQ, errno: Errno::NOENT });
        }
        emit(enc, cpus);
        Ok(())
    }
}

/// procfs' `binSearch`: a binary search, right only for a sorted list, as upstream runs it on
/// the offline list in the order the file gives.
fn is_listed(cpu: u16, list: &[u16]) -> bool {
    let (mut start, mut end) = (0isize, list.len() as isize - 1);
    while start <= end {
        let mid = (start + end) / 2;
        let v = list[mid as usize];
        if v == cpu {
            return true;
        } else if v > cpu {
            end = mid - 1;
        } else {
            start = mid + 1;
        }
    }
    false
}

impl Cpu {
    fn new(dir: &Path) -> Cpu {
        let dir = dir.join("cpufreq");
        Cpu {
            dir: source::c_path(&dir),
            frequencies: FREQUENCIES.map(|(file, ..)| File::new(dir.join(file))),
            available: File::new(dir.join("scaling_available_governors")),
            governor: File::new(dir.join("scaling_governor")),
            reported: false,
            khz: [None; 6],
            available_text: Vec::new(),
            governor_text: Vec::new(),
        }
    }

    fn refresh(&mut self, buf: &mut Vec<u8>) -> Result<(), Error> {
        match rustix::fs::stat(self.dir.as_c_str()) {
            Ok(_) => {}
            Err(Errno::NOENT) => return Ok(()),
            Err(errno) => return Err(Error::Read { path: CPUFREQ, errno }),
        }
        for ((file, khz), &(_, path, ..)) in
            self.frequencies.iter_mut().zip(&mut self.khz).zip(&FREQUENCIES)
        {
            *khz = match file.read_attr(buf) {
                Ok(src) => Some(
                    lex::parse_u64(trim_space(src))
                        .ok_or(ParseError::at(1, "expected an unsigned integer"))
                        .map_err(Error::parse(path))?,
                ),
                Err(Errno::NOENT | Errno::ACCESS | Errno::PERM) => None,
                Err(errno) => return Err(Error::Read { path, errno }),
            };
        }
        for (file, text, path) in [
            (&mut self.available, &mut self.available_text, AVAILABLE),
            (&mut self.governor, &mut self.governor_text, GOVERNOR),
        ] {
            let src = read_short(file, buf).map_err(Error::read(path))?;
            text.clear();
            text.extend_from_slice(trim_space(src));
        }
        if !self.governor_text.is_empty() {
            sysfs::label(GOVERNOR, &self.governor_text)?;
            sysfs::label(AVAILABLE, &self.available_text)?;
        }
        self.reported = true;
        Ok(())
    }
}

fn emit(enc: &mut Encoder, cpus: &Entries<Cpu>) {
    let families = FREQUENCIES.map(|(_, _, name, help)| enc.family(name, help, Kind::Gauge));
    let governors = enc.family(
        "node_cpu_scaling_governor",
        "Current enabled CPU frequency governor.",
        Kind::Gauge,
    );
    for (name, cpu) in cpus.iter().filter(|(_, c)| c.reported) {
        let label = ("cpu", &name[3..]);
        for (f, khz) in families.iter().zip(cpu.khz) {
            if let Some(khz) = khz {
                enc.sample(*f, &[label], khz as f64 * 1000.0);
            }
        }
        if cpu.governor_text.is_empty() {
            continue;
        }
        // Split at each single space, as `strings.Split`: two spaces make an empty governor.
        for g in cpu.available_text.split(|&b| b == b' ') {
            let state = if g == &cpu.governor_text[..] { 1.0 } else { 0.0 };
            enc.sample(governors, &[label, ("governor", g)], state);
        }
    }
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
        assert_eq!(samples(&text).len(), 20);
        assert_eq!(try_scrape(&mut *c).unwrap(), text);
    }

    fn policy(d: &Path, cpu: &str, files: &[(&str, &str)]) {
        for (f, v) in files {
            put(d, &format!("sys/devices/system/cpu/{cpu}/cpufreq/{f}"), v);
        }
    }

    fn full(d: &Path, cpu: &str, cur: &str) {
        policy(
            d,
            cpu,
            &[
                ("cpuinfo_cur_freq", cur),
                ("cpuinfo_min_freq", "800000\n"),
                ("cpuinfo_max_freq", "3700000\n"),
                ("scaling_cur_freq", cur),
                ("scaling_min_freq", "800000\n"),
                ("scaling_max_freq", "3700000\n"),
                ("scaling_available_governors", "performance powersave\n"),
                ("scaling_governor", "powersave\n"),
            ],
        );
    }

    #[test]
    fn cpus_online_offline_and_gone() {
        let d = tmpdir("cpufreq-churn");
        put(&d, "sys/devices/system/cpu/offline", "\n");
        full(&d, "cpu0", "1200000\n");
        full(&d, "cpu1", "1300000\n");
        full(&d, "cpu10", "1400000\n");
        // No cpufreq directory: left out. Not cpu<N>: not a CPU.
        std::fs::create_dir_all(d.join("sys/devices/system/cpu/cpu2")).unwrap();
        put(&d, "sys/devices/system/cpu/cpufreq/boost", "1\n");
        let mut c = collector(&d);
        let text = try_scrape(&mut *c).unwrap();
        assert_eq!(samples(&text).len(), 3 * 8);
        assert!(text.contains("node_cpu_frequency_hertz{cpu=\"10\"} 1.4e+09\n"));
        assert!(text.contains("node_cpu_scaling_governor{cpu=\"1\",governor=\"powersave\"} 1\n"));
        assert!(text.contains("node_cpu_scaling_governor{cpu=\"1\",governor=\"performance\"} 0\n"));
        let cpu_dir = d.join("sys/devices/system/cpu");
        // Eight files per CPU with cpufreq, the CPU directory and `offline`.
        assert_eq!(fds_under(&cpu_dir), 3 * 8 + 2);

        // cpu1 goes offline: left out, though its files are kept for when it comes back.
        put(&d, "sys/devices/system/cpu/offline", "1\n");
        let text = try_scrape(&mut *c).unwrap();
        assert!(!text.contains("cpu=\"1\""), "{text}");
        assert_eq!(samples(&text).len(), 2 * 8);
        // cpu10 is unplugged: its directory, its state and its fds go.
        std::fs::remove_dir_all(cpu_dir.join("cpu10")).unwrap();
        put(&d, "sys/devices/system/cpu/offline", "\n");
        let text = try_scrape(&mut *c).unwrap();
        assert_eq!(samples(&text).len(), 2 * 8);
        assert_eq!(fds_under(&cpu_dir), 2 * 8 + 2);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn missing_and_unreadable_files() {
        let d = tmpdir("cpufreq-partial");
        put(&d, "sys/devices/system/cpu/offline", "");
        policy(
            &d,
            "cpu0",
            &[
                ("scaling_cur_freq", "8000\n"),
                // Split at single spaces: the empty governor is reported, once.
                ("scaling_available_governors", "a  b\n"),
                ("scaling_governor", "b\n"),
            ],
        );
        policy(&d, "cpu1", &[("scaling_available_governors", "x\n"), ("scaling_governor", "\n")]);
        let text = try_scrape(&mut *collector(&d)).unwrap();
        assert_eq!(
            samples(&text),
            [
                "node_cpu_scaling_frequency_hertz{cpu=\"0\"} 8e+06",
                "node_cpu_scaling_governor{cpu=\"0\",governor=\"\"} 0",
                "node_cpu_scaling_governor{cpu=\"0\",governor=\"a\"} 0",
                "node_cpu_scaling_governor{cpu=\"0\",governor=\"b\"} 1",
            ]
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn failures() {
        let d = tmpdir("cpufreq-bad");
        std::fs::create_dir_all(d.join("sys")).unwrap();
        let mut c = collector(&d);
        // No offline list: a failure, as upstream.
        assert!(matches!(try_scrape(&mut *c), Err(Error::Read { path: OFFLINE, .. })));
        put(&d, "sys/devices/system/cpu/offline", "\n");
        // No CPU at all: upstream's "could not find any cpufreq files".
        assert!(matches!(
            try_scrape(&mut *c),
            Err(Error::Read { path: CPUFREQ, errno: Errno::NOENT })
        ));
        full(&d, "cpu0", "1\n");
        try_scrape(&mut *c).unwrap();
        for bad in ["", "x\n", "-1\n", "1.5\n", "18446744073709551616\n", "<unknown>\n"] {
            put(&d, "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_cur_freq", bad);
            let r = try_scrape(&mut *c);
            assert!(matches!(r, Err(Error::Parse { path, .. }) if path.ends_with("cur_freq")));
        }
        put(&d, "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_cur_freq", "1\n");
        for bad in ["1-x\n", " 1\n", "1-2-3\n"] {
            put(&d, "sys/devices/system/cpu/offline", bad);
            assert!(matches!(try_scrape(&mut *c), Err(Error::Parse { path: OFFLINE, .. })));
        }
        // With CPUs offline, upstream converts every CPU's number, and fails on `cpu0a`.
        put(&d, "sys/devices/system/cpu/offline", "5\n");
        std::fs::create_dir_all(d.join("sys/devices/system/cpu/cpu0a")).unwrap();
        assert!(matches!(try_scrape(&mut *c), Err(Error::Parse { path: CPUS, .. })));
        put(&d, "sys/devices/system/cpu/offline", "\n");
        try_scrape(&mut *c).unwrap();
        // Everything offline: no CPU is listed, a failure.
        put(&d, "sys/devices/system/cpu/offline", "0\n");
        std::fs::remove_dir_all(d.join("sys/devices/system/cpu/cpu0a")).unwrap();
        assert!(matches!(try_scrape(&mut *c), Err(Error::Read { path: CPUFREQ, .. })));
        // A governor file is required.
        put(&d, "sys/devices/system/cpu/offline", "\n");
        std::fs::remove_file(d.join("sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"))
            .unwrap();
        assert!(matches!(
            try_scrape(&mut *collector(&d)),
            Err(Error::Read { path: GOVERNOR, errno: Errno::NOENT })
        ));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn offline_search_as_procfs() {
        assert!(!is_listed(0, &[]));
        assert!(is_listed(3, &[3]));
        assert!(is_listed(5, &[1, 3, 5, 7]));
        assert!(!is_listed(4, &[1, 3, 5, 7]));
        // Unsorted, as a file may list them: procfs' search misses what it cannot reach.
        assert!(!is_listed(1, &[3, 2, 1]));
        assert!(is_listed(2, &[3, 2, 1]));
    }

    #[test]
    fn live_host() {
        let mut c = build(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            try_scrape(&mut *c).unwrap();
        }
    }
}
