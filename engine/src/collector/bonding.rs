//! `/sys/class/net/bonding_masters` and each bond's slaves → `node_bonding_slaves` and
//! `node_bonding_active`{master}; node_exporter's bonding collector.
//!
//! `bonding_masters` lists the bonds (`bond0 bond1\n`), `<bond>/bonding/slaves` each bond's
//! slaves (`eth0 eth1\n`), and a slave's `bonding_slave/mii_status` holds `up` or `down`; see
//! the kernel's Documentation/networking/bonding.rst. The status is under `lower_<slave>`, or
//! `slave_<slave>` on older kernels. A slave counts as active when its status is `up`.
//!
//! Every file is kept open per bond and per slave ([`Entries`]), so a scrape is a few `pread`s.
//! Any read failure fails the collector, as upstream; a missing file (no bonding driver, or a
//! bond or slave that went away mid-scrape) reports no data.

use super::sysattr;
use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::source::{Entries, File};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Registration.
pub const SPEC: Spec =
    Spec { name: "bonding", default_enabled: true, flags: &[], blocking: false, build };

const PATH: &str = "sys/class/net";

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let root = b.paths.sys("class/net");
    Ok(Box::new(Bonding {
        masters_file: File::new(root.join("bonding_masters")),
        root,
        masters: Entries::new(),
        bufs: Default::default(),
    }))
}

#[derive(Debug)]
struct Bonding {
    root: PathBuf,
    masters_file: File,
    masters: Entries<Master>,
    /// Read buffers: `bonding_masters`, a bond's `slaves`, a slave's `mii_status`.
    bufs: [Vec<u8>; 3],
}

#[derive(Debug)]
struct Master {
    dir: PathBuf,
    slaves_file: File,
    slaves: Entries<Slave>,
    /// Whether the name can be a label value (upstream panics on one that is not UTF-8).
    name_is_utf8: bool,
}

#[derive(Debug)]
struct Slave {
    /// `lower_<slave>/bonding_slave/mii_status`.
    lower: File,
    /// `slave_<slave>/bonding_slave/mii_status`, read when `lower` does not exist.
    legacy: File,
}

impl Slave {
    fn new(master: &Path, name: &[u8]) -> Slave {
        let under = |prefix: &[u8]| {
            let mut dir = prefix.to_vec();
            dir.extend_from_slice(name);
            master.join(OsStr::from_bytes(&dir)).join("bonding_slave/mii_status")
        };
        Slave { lower: File::new(under(b"lower_")), legacy: File::new(under(b"slave_")) }
    }

    /// Whether the slave's MII status is `up`.
    fn is_up(&mut self, buf: &mut Vec<u8>) -> Result<bool, Errno> {
        let status = match self.lower.read_attr(buf) {
            Err(e) if sysattr::is_not_exist(e) => self.legacy.read_attr(buf)?,
            r => r?,
        };
        Ok(sysattr::trim_space(status) == b"up")
    }
}

impl Collector for Bonding {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let cp = enc.checkpoint();
        let r = self.collect(enc);
        if r.is_err() {
            enc.rollback(cp);
        }
        r
    }
}

impl Bonding {
    fn collect(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let Bonding { root, masters_file, masters, bufs } = self;
        let [masters_buf, slaves_buf, status_buf] = bufs;
        let fail = |errno: Errno| match sysattr::is_not_exist(errno) {
            true => Error::NoData,
            false => Error::Read { path: PATH, errno },
        };
        let list = masters_file.read_attr(masters_buf).map_err(fail)?;
        let slaves_fam = enc.family(
            "node_bonding_slaves",
            "Number of configured slaves per bonding interface.",
            Kind::Gauge,
        );
        let active_fam = enc.family(
            "node_bonding_active",
            "Number of active slaves per bonding interface.",
            Kind::Gauge,
        );
        let mut bad_name = false;
        masters.begin();
        for name in sysattr::fields(list) {
            let master = masters.get_or_insert_with(name, || {
                let dir = root.join(OsStr::from_bytes(name));
                Master {
                    slaves_file: File::new(dir.join("bonding/slaves")),
                    dir,
                    slaves: Entries::new(),
                    name_is_utf8: std::str::from_utf8(name).is_ok(),
                }
            });
            let Master { dir, slaves_file, slaves, name_is_utf8 } = master;
            let listed = slaves_file.read_attr(slaves_buf).map_err(fail)?;
            let (mut configured, mut active) = (0u64, 0u64);
            slaves.begin();
            for slave in sysattr::fields(listed) {
                let state = slaves.get_or_insert_with(slave, || Slave::new(dir, slave));
                configured += 1;
                active += u64::from(state.is_up(status_buf).map_err(fail)?);
            }
            slaves.end();
            // Upstream reads every bond before reporting, so a read failure of a later bond
            // takes precedence over this one.
            bad_name |= !*name_is_utf8;
            enc.sample_u64(slaves_fam, &[("master", name)], configured);
            enc.sample_u64(active_fam, &[("master", name)], active);
        }
        masters.end();
        match bad_name {
            true => Err(Error::Parse {
                path: PATH,
                err: ParseError::at(0, "bond name is not valid UTF-8"),
            }),
            false => Ok(()),
        }
    }
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

    fn bond(root: &Path, master: &str, slaves: &[(&str, &str)]) {
        let names: Vec<&str> = slaves.iter().map(|s| s.0).collect();
        put(root, &format!("sys/class/net/{master}/bonding/slaves"), &(names.join(" ") + "\n"));
        for (slave, status) in slaves {
            let rel = format!("sys/class/net/{master}/lower_{slave}/bonding_slave/mii_status");
            put(root, &rel, &format!("{status}\n"));
        }
    }

    #[test]
    fn counts_and_churn() {
        let root = tmpdir("bonding-churn");
        put(&root, "sys/class/net/bonding_masters", "bond0 bond1\n");
        bond(&root, "bond0", &[("eth0", "up"), ("eth1", "down")]);
        bond(&root, "bond1", &[("eth2", " up \n")]);
        // An old kernel's name, used only when lower_ is missing.
        put(&root, "sys/class/net/bond1/slave_eth3/bonding_slave/mii_status", "up\n");
        put(&root, "sys/class/net/bond1/bonding/slaves", "eth2\teth3\n");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        for line in [
            "node_bonding_slaves{master=\"bond0\"} 2",
            "node_bonding_active{master=\"bond0\"} 1",
            "node_bonding_slaves{master=\"bond1\"} 2",
            "node_bonding_active{master=\"bond1\"} 2",
        ] {
            assert!(text.contains(&format!("\n{line}\n")), "{line} missing from\n{text}");
        }

        // bond1 goes away; bond0 loses eth1: their kept files are closed.
        put(&root, "sys/class/net/bonding_masters", "bond0\n");
        put(&root, "sys/class/net/bond0/bonding/slaves", "eth0\n");
        let text = scrape(c.as_mut());
        assert!(!text.contains("bond1"), "{text}");
        assert!(text.contains("node_bonding_slaves{master=\"bond0\"} 1\n"));
        assert_eq!(fds_under(&root.join("sys/class/net/bond1")), 0);
        assert_eq!(fds_under(&root.join("sys/class/net/bond0/lower_eth1")), 0);
        // No bonds at all: no samples, no error.
        put(&root, "sys/class/net/bonding_masters", "\n");
        assert_eq!(scrape(c.as_mut()), "");
        drop(c);
        assert_eq!(fds_under(&root), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn missing_files_and_errors() {
        let root = tmpdir("bonding-errors");
        let paths = Paths::under(&root);
        // No bonding driver: no bonding_masters, no data.
        let mut c = build_spec(&SPEC, &paths, &Settings::new()).unwrap();
        assert_eq!(try_scrape(c.as_mut()), Err(Error::NoData));
        // A listed bond without its slaves file, or a slave without a status: no data, and
        // nothing of the bonds read before.
        put(&root, "sys/class/net/bonding_masters", "bond0 bond1\n");
        bond(&root, "bond0", &[("eth0", "up")]);
        assert_eq!(try_scrape(c.as_mut()), Err(Error::NoData));
        bond(&root, "bond1", &[("eth1", "up")]);
        put(&root, "sys/class/net/bond1/bonding/slaves", "eth1 eth9\n");
        assert_eq!(try_scrape(c.as_mut()), Err(Error::NoData));
        // Another failure is an error: a directory where the status should be.
        std::fs::create_dir_all(
            root.join("sys/class/net/bond1/lower_eth9/bonding_slave/mii_status"),
        )
        .unwrap();
        let r = try_scrape(c.as_mut());
        assert!(matches!(r, Err(Error::Read { errno: Errno::ISDIR, .. })), "{r:?}");
        // A bond name that is not UTF-8, on which upstream panics (once all are read).
        std::fs::write(root.join("sys/class/net/bonding_masters"), b"bond\xff\n").unwrap();
        std::fs::create_dir_all(root.join(OsStr::from_bytes(b"sys/class/net/bond\xff/bonding")))
            .unwrap();
        std::fs::write(root.join(OsStr::from_bytes(b"sys/class/net/bond\xff/bonding/slaves")), b"")
            .unwrap();
        let r = try_scrape(c.as_mut());
        assert!(matches!(r, Err(Error::Parse { .. })), "{r:?}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            match try_scrape(c.as_mut()) {
                Ok(_) => {}
                Err(e) => assert!(e.is_no_data(), "{e}"),
            }
        }
    }
}
