//! `/sys/class/nvme/<device>/{firmware_rev,model,serial,state}` → `node_nvme_info`; node_exporter's
//! nvme collector.
//!
//! One directory per NVMe controller (`nvme0`), see the kernel's
//! Documentation/ABI/testing/sysfs-class-nvme: `state` holds `live`, `model` the controller's
//! model string, padded with spaces, which the read trims. Values are read as procfs'
//! `SysReadFile` does (see the `sysattr` module). Any failure to read one fails the
//! collector, as upstream; a missing file or directory reports no data.
//!
//! The four files of each controller are kept open ([`Entries`]), so a scrape is one listing of
//! `class/nvme` and four `pread`s per controller.

use super::sysattr;
use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::source::{c_path, Entries, File, Lister};
use rustix::io::Errno;
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Registration.
pub const SPEC: Spec =
    Spec { name: "nvme", default_enabled: true, flags: &[], blocking: false, build };

const PATH: &str = "sys/class/nvme";

/// The attributes read, in label order after `device`.
const ATTRS: [&str; 4] = ["firmware_rev", "model", "serial", "state"];
const LABELS: [&str; 4] = ["firmware_revision", "model", "serial", "state"];

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let root = b.paths.sys("class/nvme");
    Ok(Box::new(Nvme {
        root_c: c_path(&root),
        root,
        lister: Lister::new(),
        devices: Entries::new(),
        buf: Vec::new(),
    }))
}

#[derive(Debug)]
struct Nvme {
    root: PathBuf,
    root_c: CString,
    /// Lists `class/nvme` afresh on every scrape: a kept fd on it would list nothing once the
    /// class is registered again (`nvme_core` reloaded).
    lister: Lister,
    devices: Entries<Device>,
    buf: Vec<u8>,
}

#[derive(Debug)]
struct Device {
    files: [File; 4],
    /// This scrape's values, reported once every controller has been read.
    values: [Vec<u8>; 4],
    name_is_utf8: bool,
}

impl Device {
    fn new(dir: &Path, name: &[u8]) -> Device {
        Device {
            files: ATTRS.map(|a| File::new(dir.join(a))),
            values: Default::default(),
            name_is_utf8: std::str::from_utf8(name).is_ok(),
        }
    }
}

impl Collector for Nvme {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let Nvme { root, root_c, lister, devices, buf } = self;
        let fail = |errno: Errno| match sysattr::is_not_exist(errno) {
            true => Error::NoData,
            false => Error::Read { path: PATH, errno },
        };
        // Every entry is a controller, whatever its type, as upstream lists them.
        devices.begin();
        lister
            .list(root_c, |name, _| {
                devices.get_or_insert_with(name, || {
                    Device::new(&root.join(OsStr::from_bytes(name)), name)
                });
            })
            .map_err(fail)?;
        devices.end();

        for (_, dev) in devices.iter_mut() {
            for (file, value) in dev.files.iter_mut().zip(&mut dev.values) {
                let raw = file.read_attr(buf).map_err(fail)?;
                value.clear();
                value.extend_from_slice(sysattr::value(raw));
            }
        }
        // Upstream panics on a label value that is not UTF-8; fail instead, before adding any.
        let is_utf8 =
            |d: &Device| d.name_is_utf8 && d.values.iter().all(|v| std::str::from_utf8(v).is_ok());
        if !devices.iter().all(|(_, d)| is_utf8(d)) {
            return Err(Error::Parse {
                path: PATH,
                err: ParseError::at(0, "label value is not valid UTF-8"),
            });
        }
        let info = enc.family(
            "node_nvme_info",
            "Non-numeric data from /sys/class/nvme/<device>, value is always 1.",
            Kind::Gauge,
        );
        for (name, dev) in devices.iter() {
            let v = &dev.values;
            let labels = [
                ("device", name),
                (LABELS[0], &v[0][..]),
                (LABELS[1], &v[1][..]),
                (LABELS[2], &v[2][..]),
                (LABELS[3], &v[3][..]),
            ];
            enc.sample(info, &labels, 1.0);
        }
        Ok(())
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

    fn controller(root: &Path, name: &str, model: &str) {
        for (attr, value) in
            [("firmware_rev", "1.0\n"), ("model", model), ("serial", "S1  \n"), ("state", "live\n")]
        {
            put(root, &format!("sys/class/nvme/{name}/{attr}"), value);
        }
    }

    #[test]
    fn controllers_come_and_go() {
        let root = tmpdir("nvme-churn");
        controller(&root, "nvme0", "Disk A                                  \n");
        controller(&root, "nvme1", "Disk B\n");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        assert!(text.contains(
            "node_nvme_info{device=\"nvme0\",firmware_revision=\"1.0\",model=\"Disk A\",\
             serial=\"S1\",state=\"live\"} 1\n"
        ));
        assert!(text.contains("device=\"nvme1\""));
        std::fs::remove_dir_all(root.join("sys/class/nvme/nvme1")).unwrap();
        let text = scrape(c.as_mut());
        assert!(!text.contains("nvme1"));
        assert_eq!(fds_under(&root.join("sys/class/nvme/nvme0")), 4);
        drop(c);
        assert_eq!(fds_under(&root), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn failures() {
        let root = tmpdir("nvme-errors");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        // No class/nvme: no data.
        assert_eq!(try_scrape(c.as_mut()), Err(Error::NoData));
        // A controller missing an attribute: no data, though another is complete.
        controller(&root, "nvme0", "A\n");
        put(&root, "sys/class/nvme/nvme1/model", "B\n");
        assert_eq!(try_scrape(c.as_mut()), Err(Error::NoData));
        // An entry that is a regular file is read as a directory, and fails.
        std::fs::remove_dir_all(root.join("sys/class/nvme/nvme1")).unwrap();
        put(&root, "sys/class/nvme/nvme1", "");
        let r = try_scrape(c.as_mut());
        assert!(matches!(r, Err(Error::Read { errno: Errno::NOTDIR, .. })), "{r:?}");
        // A model that is not UTF-8 (upstream panics).
        std::fs::remove_file(root.join("sys/class/nvme/nvme1")).unwrap();
        std::fs::write(root.join("sys/class/nvme/nvme0/model"), b"\xff\n").unwrap();
        let r = try_scrape(c.as_mut());
        assert!(matches!(r, Err(Error::Parse { .. })), "{r:?}");
        // Empty values are values.
        put(&root, "sys/class/nvme/nvme0/model", "");
        assert!(scrape(c.as_mut()).contains(",model=\"\","));
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
