//! `/sys/devices/system/cpu/vulnerabilities/*` → `node_cpu_vulnerabilities_info{codename,state,
//! mitigation}`; node_exporter's cpu_vulnerabilities collector (off by default).
//!
//! One file per vulnerability, named after it, holding one line, see the kernel's
//! Documentation/ABI/testing/sysfs-devices-system-cpu: `Not affected`, `Vulnerable`,
//! `Mitigation: Retpolines, IBPB: conditional`, `Unknown: ...`. As procfs' parser: the state is
//! the text's case-insensitive prefix, and the mitigation the words after the first, joined by
//! single spaces; text with no known prefix is state `unknown` with the whole text as
//! mitigation. Every entry of the directory is read, as upstream's `*` glob finds it; one that
//! cannot be read fails the collector. Upstream checks on each scrape that the sysfs mount point
//! is a directory; so does this collector, when the directory cannot be listed.

use super::sysfs::{self, trim_space};
use super::{Build, Collector, Error, Spec};
use crate::encode::{Encoder, Kind};
use crate::source::{self, Dir, Entries, File};
use rustix::fs::FileType;
use rustix::io::Errno;
use std::ffi::CString;

/// Registration.
pub const SPEC: Spec = Spec {
    name: "cpu_vulnerabilities",
    default_enabled: false,
    flags: &[],
    blocking: false,
    build,
};

const DIR: &str = "devices/system/cpu/vulnerabilities";
const FILE: &str = "devices/system/cpu/vulnerabilities/*";

/// procfs' states, in the order it tries them as prefixes, with the label each gives.
const STATES: [(&[u8], State); 4] = [
    (b"not affected", State::NotAffected),
    (b"vulnerable", State::Vulnerable),
    (b"mitigation", State::Mitigation),
    (b"unknown", State::Unknown),
];

/// A vulnerability's state, as procfs encodes it.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum State {
    /// `not affected`
    NotAffected,
    /// `vulnerable`
    Vulnerable,
    /// `mitigation`
    Mitigation,
    /// `unknown`, also for text with no known prefix.
    Unknown,
}

impl State {
    /// The `state` label, procfs' `VulnerabilityHumanEncoding`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::NotAffected => "not affected",
            State::Vulnerable => "vulnerable",
            State::Mitigation => "mitigation",
            State::Unknown => "unknown",
        }
    }
}

#[derive(Debug)]
struct Vulnerabilities {
    dir: Dir,
    dir_path: std::path::PathBuf,
    sysfs: CString,
    entries: Entries<Vulnerability>,
    buf: Vec<u8>,
}

/// A vulnerability's file and what this scrape read from it.
#[derive(Debug)]
struct Vulnerability {
    file: File,
    state: State,
    mitigation: Vec<u8>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let dir_path = b.paths.sys(DIR);
    Ok(Box::new(Vulnerabilities {
        dir: Dir::new(&dir_path),
        dir_path,
        sysfs: source::c_path(&b.paths.sysfs),
        entries: Entries::new(),
        buf: Vec::new(),
    }))
}

impl Collector for Vulnerabilities {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let Vulnerabilities { dir, dir_path, sysfs, entries, buf } = self;
        entries.begin();
        let listed = dir.for_each(|name, _| {
            entries.get_or_insert_with(name, || Vulnerability {
                file: File::new(dir_path.join(sysfs::path(name))),
                state: State::Unknown,
                mitigation: Vec::new(),
            });
        });
        // The glob ignores the error, but upstream's per-scrape handle on sysfs wants the
        // mount point to be a directory.
        if listed.is_err() {
            match rustix::fs::stat(sysfs.as_c_str()) {
                Ok(st) if FileType::from_raw_mode(st.st_mode).is_dir() => {}
                Ok(_) => return Err(Error::Read { path: ".", errno: Errno::NOTDIR }),
                Err(errno) => return Err(Error::Read { path: ".", errno }),
            }
        }
        entries.end();
        for (name, v) in entries.iter_mut() {
            sysfs::label(DIR, name)?;
            let src = v.file.read_attr(buf).map_err(Error::read(FILE))?;
            v.mitigation.clear();
            v.state = parse(src, &mut v.mitigation);
            sysfs::label(FILE, &v.mitigation)?;
        }
        let f = enc.family(
            "node_cpu_vulnerabilities_info",
            "Details of each CPU vulnerability reported by sysfs. The value of the series is an \
             int encoded state of the vulnerability. The same state is stored as a string in the \
             label",
            Kind::Gauge,
        );
        for (name, v) in entries.iter() {
            let labels = [
                ("codename", name),
                ("state", v.state.as_str().as_bytes()),
                ("mitigation", &v.mitigation[..]),
            ];
            enc.sample(f, &labels, 1.0);
        }
        Ok(())
    }
}

/// Parses a vulnerability file as procfs' `parseVulnerability`: returns the state and appends
/// the mitigation to `mitigation`.
pub fn parse(src: &[u8], mitigation: &mut Vec<u8>) -> State {
    let text = trim_space(src);
    let Some(&(_, state)) = STATES.iter().find(|(prefix, _)| sysfs::has_lower_prefix(text, prefix))
    else {
        mitigation.extend_from_slice(text);
        return State::Unknown;
    };
    if state != State::NotAffected {
        for (i, word) in sysfs::fields(text).skip(1).enumerate() {
            if i > 0 {
                mitigation.push(b' ');
            }
            mitigation.extend_from_slice(word);
        }
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build, fds_under, fixtures, put, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;
    use std::path::Path;

    fn collector(root: &Path) -> Box<dyn Collector> {
        build(&SPEC, &Paths::under(root), &Settings::new()).unwrap()
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = collector(&root);
        let text = try_scrape(&mut *c).unwrap();
        assert_matches_e2e(&text);
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 5);
        assert_eq!(try_scrape(&mut *c).unwrap(), text);
    }

    fn parsed(src: &str) -> (&'static str, String) {
        let mut m = Vec::new();
        let state = parse(src.as_bytes(), &mut m);
        (state.as_str(), String::from_utf8(m).unwrap())
    }

    #[test]
    fn states_and_mitigations() {
        assert_eq!(parsed("Not affected\n"), ("not affected", "".into()));
        assert_eq!(parsed("NOT AFFECTED: really\n"), ("not affected", "".into()));
        assert_eq!(parsed("Vulnerable\n"), ("vulnerable", "".into()));
        assert_eq!(
            parsed("Vulnerable: Clear CPU buffers attempted, no microcode; SMT vulnerable\n"),
            ("vulnerable", "Clear CPU buffers attempted, no microcode; SMT vulnerable".into())
        );
        assert_eq!(parsed("Mitigation:  PTI \t x\u{a0}y\n"), ("mitigation", "PTI x y".into()));
        assert_eq!(parsed("Unknown: No mitigations\n"), ("unknown", "No mitigations".into()));
        assert_eq!(parsed("  Processor vulnerable \n"), ("unknown", "Processor vulnerable".into()));
        assert_eq!(parsed(""), ("unknown", "".into()));
        // The Kelvin sign lowercases to `k`, as in Go.
        assert_eq!(parsed("Un\u{212a}nown x"), ("unknown", "x".into()));
    }

    #[test]
    fn entries_come_and_go_and_failures() {
        let d = tmpdir("vuln-churn");
        std::fs::create_dir_all(d.join("sys")).unwrap();
        let mut c = collector(&d);
        // No directory: nothing to report, no failure (upstream's glob finds nothing).
        assert_eq!(try_scrape(&mut *c).unwrap(), "");
        let dir = d.join("sys/devices/system/cpu/vulnerabilities");
        put(&d, "sys/devices/system/cpu/vulnerabilities/mds", "Vulnerable\n");
        put(&d, "sys/devices/system/cpu/vulnerabilities/.hidden", "Mitigation: x\n");
        let text = try_scrape(&mut *c).unwrap();
        assert!(text.contains("{codename=\".hidden\",mitigation=\"x\",state=\"mitigation\"} 1\n"));
        assert_eq!(fds_under(&dir), 3);
        std::fs::remove_file(dir.join(".hidden")).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 1);
        assert_eq!(fds_under(&dir), 2);
        // A directory in there cannot be read: a failure. So is a mitigation that is not UTF-8.
        std::fs::create_dir(dir.join("sub")).unwrap();
        assert!(matches!(
            try_scrape(&mut *c),
            Err(Error::Read { path: FILE, errno: Errno::ISDIR })
        ));
        std::fs::remove_dir(dir.join("sub")).unwrap();
        std::fs::write(dir.join("mds"), b"Mitigation: \xff\n").unwrap();
        assert!(matches!(try_scrape(&mut *c), Err(Error::Parse { path: FILE, .. })));
        std::fs::remove_dir_all(&d).unwrap();
        // No sysfs at all: upstream's per-scrape check fails.
        assert!(matches!(
            try_scrape(&mut *collector(&d)),
            Err(Error::Read { path: ".", errno: Errno::NOENT })
        ));
    }

    #[test]
    fn off_by_default_and_live_host() {
        const { assert!(!SPEC.default_enabled) };
        let mut c = build(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            try_scrape(&mut *c).unwrap();
        }
    }
}
