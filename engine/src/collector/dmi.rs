//! `/sys/class/dmi/id/*` → `node_dmi_info`; node_exporter's dmi collector.
//!
//! The firmware's SMBIOS strings, one file each (`bios_vendor` holds `Dell Inc.`), see the
//! kernel's Documentation/ABI/testing/sysfs-firmware-dmi-entries and drivers/firmware/dmi-id.c.
//! They do not change while the system runs, so they are read once, when the collector is
//! built, as upstream does, and each scrape only writes the one sample. Each present file
//! becomes a label (`sys_vendor` as `system_vendor`), its value read as procfs'
//! `SysReadFile` does and made valid UTF-8 as `strings.ToValidUTF8` makes it: firmware strings
//! are not always text.
//!
//! As upstream: a file only root may read (`product_serial`, `product_uuid`, ...) is left out;
//! a missing directory or file means no DMI (every scrape reports no data); any other failure
//! fails the build with a message naming the file.

use super::sysattr;
use super::{Build, Collector, Error, Spec};
use crate::encode::{Encoder, Kind, Label};
use crate::source::File;
use std::path::Path;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "dmi", default_enabled: true, flags: &[], blocking: false, build };

/// The files reported, sorted by file name, with their label names.
const FIELDS: [(&str, &str); 20] = [
    ("bios_date", "bios_date"),
    ("bios_release", "bios_release"),
    ("bios_vendor", "bios_vendor"),
    ("bios_version", "bios_version"),
    ("board_asset_tag", "board_asset_tag"),
    ("board_name", "board_name"),
    ("board_serial", "board_serial"),
    ("board_vendor", "board_vendor"),
    ("board_version", "board_version"),
    ("chassis_asset_tag", "chassis_asset_tag"),
    ("chassis_serial", "chassis_serial"),
    ("chassis_vendor", "chassis_vendor"),
    ("chassis_version", "chassis_version"),
    ("product_family", "product_family"),
    ("product_name", "product_name"),
    ("product_serial", "product_serial"),
    ("product_sku", "product_sku"),
    ("product_uuid", "product_uuid"),
    ("product_version", "product_version"),
    ("sys_vendor", "system_vendor"),
];

const HELP: &str = "A metric with a constant '1' value labeled by bios_date, bios_release, \
                    bios_vendor, bios_version, board_asset_tag, board_name, board_serial, \
                    board_vendor, board_version, chassis_asset_tag, chassis_serial, \
                    chassis_vendor, chassis_version, product_family, product_name, \
                    product_serial, product_sku, product_uuid, product_version, system_vendor \
                    if provided by DMI.";

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let dir = b.paths.sys("class/dmi/id");
    let values = match read(&dir) {
        Ok(values) => values,
        Err(ReadError::NotExist) => {
            log::debug!("Platform does not support Desktop Management Interface (DMI) information");
            Default::default()
        }
        Err(ReadError::Other(msg)) => {
            return Err(format!(
                "failed to read Desktop Management Interface (DMI) information: {msg}"
            ))
        }
    };
    Ok(Box::new(Dmi { values }))
}

enum ReadError {
    /// A missing directory or file: no DMI.
    NotExist,
    Other(String),
}

/// Reads the directory as procfs' `DMIClass` does: every regular file but `modalias` and
/// `uevent`, in name order, skipping those the process may not read. Returns the reported
/// fields' values, made valid UTF-8, by [`FIELDS`] index. Allocates; runs once.
fn read(dir: &Path) -> Result<[Option<Vec<u8>>; 20], ReadError> {
    let fail = |what: String, e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => ReadError::NotExist,
        _ => ReadError::Other(format!("{what}: {e}")),
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .and_then(|d| d.collect::<Result<Vec<_>, _>>())
        .map_err(|e| fail(format!("failed to read directory {dir:?}"), e))?;
    entries.sort_by_key(|e| e.file_name());
    let mut values: [Option<Vec<u8>>; 20] = Default::default();
    let mut buf = Vec::new();
    for entry in entries {
        let name = entry.file_name();
        let is_regular = entry.file_type().is_ok_and(|t| t.is_file());
        if !is_regular || name == "modalias" || name == "uevent" {
            continue;
        }
        let path = entry.path();
        match File::new(&path).read_attr(&mut buf) {
            Ok(raw) => {
                let field =
                    FIELDS.binary_search_by(|f| f.0.as_bytes().cmp(name.as_encoded_bytes()));
                if let Ok(i) = field {
                    let mut clean = Vec::new();
                    sysattr::push_valid_utf8(&mut clean, sysattr::value(raw));
                    values[i] = Some(clean);
                }
            }
            // Only root may read the serial numbers and the UUID.
            Err(e) if sysattr::is_permission(e) => {}
            Err(e) => {
                let e = std::io::Error::from_raw_os_error(e.raw_os_error());
                return Err(fail(format!("failed to read file {path:?}"), e));
            }
        }
    }
    Ok(values)
}

#[derive(Debug)]
struct Dmi {
    values: [Option<Vec<u8>>; 20],
}

impl Collector for Dmi {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let mut labels: [Label<'_>; 20] = [("", &[]); 20];
        let mut n = 0;
        for ((_, label), value) in FIELDS.iter().zip(&self.values) {
            if let Some(v) = value {
                labels[n] = (label, v);
                n += 1;
            }
        }
        if n == 0 {
            return Err(Error::NoData);
        }
        let f = enc.family("node_dmi_info", HELP, Kind::Gauge);
        enc.sample(f, &labels[..n], 1.0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        build as build_spec, fixture_scrape_matches_e2e, put, scrape, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    #[test]
    fn fixture_matches_upstream() {
        fixture_scrape_matches_e2e(&SPEC);
    }

    #[test]
    fn fields_sorted() {
        assert!(FIELDS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn read_once_at_build() {
        let root = tmpdir("dmi-values");
        let dir = "sys/class/dmi/id";
        put(&root, &format!("{dir}/sys_vendor"), "Vendor  \n");
        put(&root, &format!("{dir}/chassis_type"), "23\n");
        put(&root, &format!("{dir}/modalias"), "dmi:...\n");
        put(&root, &format!("{dir}/board_name"), "");
        std::fs::write(root.join(format!("{dir}/product_name")), b"Box\xff\xfe 9\n").unwrap();
        std::fs::create_dir_all(root.join(format!("{dir}/power"))).unwrap();
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let want = "node_dmi_info{board_name=\"\",product_name=\"Box\u{fffd} 9\",\
                    system_vendor=\"Vendor\"} 1\n";
        assert!(scrape(c.as_mut()).ends_with(want));
        // Read once: later changes are not seen.
        put(&root, &format!("{dir}/sys_vendor"), "Other\n");
        assert!(scrape(c.as_mut()).ends_with(want));
        // A long value is cut at 128 bytes, as upstream reads it.
        put(&root, &format!("{dir}/product_sku"), &"s".repeat(300));
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert!(scrape(c.as_mut()).contains(&format!("product_sku=\"{}\"", "s".repeat(128))));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn missing_and_unreadable() {
        let root = tmpdir("dmi-errors");
        // No DMI: built, and no data on every scrape.
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert_eq!(try_scrape(c.as_mut()), Err(Error::NoData));
        // Only files nobody reports: no data either.
        put(&root, "sys/class/dmi/id/chassis_type", "1\n");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert_eq!(try_scrape(c.as_mut()), Err(Error::NoData));
        // Entries that are not regular files are not read: a link (dangling here), a FIFO.
        put(&root, "sys/class/dmi/id/bios_date", "01/01/2020\n");
        std::os::unix::fs::symlink("nowhere", root.join("sys/class/dmi/id/bios_vendor")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("sys/class/dmi/id/board_name"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::RUSR,
            0,
        )
        .unwrap();
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert!(scrape(c.as_mut()).ends_with("node_dmi_info{bios_date=\"01/01/2020\"} 1\n"));
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
