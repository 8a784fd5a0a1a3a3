//! `/sys/fs/btrfs/<uuid>/…` and the btrfs ioctls → `node_btrfs_*`; node_exporter's btrfs
//! collector.
//!
//! From sysfs (the kernel's Documentation/ABI/testing/sysfs-fs-btrfs), one directory per
//! mounted file system: `label`, `metadata_uuid`, `allocation/global_rsv_size`,
//! `allocation/{data,metadata,system}/bytes_reserved` and one directory per profile in use
//! (`raid1/total_bytes`, `raid1/used_bytes`), `devices/<name>/size` in 512-byte sectors, and
//! `commit_stats` (`commits 8` per line, checked as upstream checks it). Each attribute is a
//! single number or string: `16777216`.
//!
//! From the ioctls (`BTRFS_IOC_FS_INFO`, `BTRFS_IOC_DEV_INFO`, `BTRFS_IOC_GET_DEV_STATS`, see
//! the kernel's `include/uapi/linux/btrfs.h`), sent to each btrfs mount point listed in
//! `/proc/1/mounts` (or `/proc/mounts`): every device's path, UUID, size, bytes used and error
//! counters. A file system whose mount point cannot be opened or queried falls back to the
//! sysfs device sizes, as upstream. Mount points are opened for the length of one scrape and
//! closed again, so the exporter never holds a file system busy.
//!
//! Upstream's reader (procfs' `btrfs` package) has loose error rules that are kept here: a
//! missing attribute reads as empty, a value that is not a number as 0, and once a read fails
//! the values read after it in the same file system are 0, until the `allocation/<type>`
//! reads, each of which starts afresh and leaves its own outcome as the file system's. So the
//! collector fails only when `allocation/system` or `commit_stats` cannot be read (or the
//! latter is malformed). Attributes upstream reads but does not report (`features/`,
//! `nodesize`, `bytes_may_use`, …) are not read.

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, FamilyId, Kind};
use crate::glob;
use crate::lex;
use crate::source::{Dir, Entries, File};
use crate::sys;
use rustix::fd::AsFd;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "btrfs", default_enabled: true, flags: &[], blocking: false, build };

/// The block group types, in upstream's order.
const TYPES: [&str; 3] = ["data", "metadata", "system"];
/// The device error counters `BTRFS_IOC_GET_DEV_STATS` returns, in its order.
const ERROR_TYPES: [&str; 5] = ["write", "read", "flush", "corruption", "generation"];
/// `devices/<name>/size` is in 512-byte sectors.
const SECTOR: u64 = 512;
/// procfs reads a sysfs attribute with one 128-byte `read`.
const ATTR_MAX: usize = 128;

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let root = b.paths.sys("fs/btrfs");
    Ok(Box::new(Btrfs {
        list: Dir::new(&root),
        root,
        filesystems: Entries::new(),
        mounts: File::new(b.paths.proc("1/mounts")),
        mounts_fallback: File::new(b.paths.proc("mounts")),
        rootfs: b.paths.rootfs.as_os_str().as_bytes().to_vec(),
        buf: Vec::new(),
        mounts_buf: Vec::new(),
        ioctl: IoctlStats::default(),
    }))
}

#[derive(Debug)]
struct Btrfs {
    root: PathBuf,
    list: Dir,
    filesystems: Entries<Fs>,
    mounts: File,
    mounts_fallback: File,
    rootfs: Vec<u8>,
    buf: Vec<u8>,
    mounts_buf: Vec<u8>,
    ioctl: IoctlStats,
}

/// One `/sys/fs/btrfs/<uuid>` directory: its kept sources and this scrape's values.
#[derive(Debug)]
struct Fs {
    base: PathBuf,
    label: File,
    metadata_uuid: File,
    global_rsv_size: File,
    commit_stats: File,
    devices_dir: Dir,
    devices: Entries<Device>,
    alloc: [Alloc; 3],
    label_val: Vec<u8>,
    uuid_val: Vec<u8>,
    global_rsv_val: u64,
}

#[derive(Debug)]
struct Device {
    size: File,
    sectors: u64,
}

/// `allocation/<type>/`.
#[derive(Debug)]
struct Alloc {
    path: PathBuf,
    dir: Dir,
    bytes_reserved: File,
    reserved_val: u64,
    layouts: Entries<Layout>,
}

/// `allocation/<type>/<profile>/`.
#[derive(Debug)]
struct Layout {
    total: File,
    used: File,
    total_val: u64,
    used_val: u64,
}

impl Fs {
    /// Allocates, once per file system seen.
    fn new(base: PathBuf) -> Fs {
        let alloc = TYPES.map(|t| {
            let path = base.join("allocation").join(t);
            Alloc {
                dir: Dir::new(&path),
                bytes_reserved: File::new(path.join("bytes_reserved")),
                path,
                reserved_val: 0,
                layouts: Entries::new(),
            }
        });
        Fs {
            label: File::new(base.join("label")),
            metadata_uuid: File::new(base.join("metadata_uuid")),
            global_rsv_size: File::new(base.join("allocation/global_rsv_size")),
            commit_stats: File::new(base.join("commit_stats")),
            devices_dir: Dir::new(base.join("devices")),
            devices: Entries::new(),
            alloc,
            base,
            label_val: Vec::new(),
            uuid_val: Vec::new(),
            global_rsv_val: 0,
        }
    }
}

/// Reads attributes with procfs' rules: a missing file is empty, any other failure is kept
/// as the reader's error, and once there is one, values read as 0.
struct Reader<'a> {
    buf: &'a mut Vec<u8>,
    err: Option<Errno>,
}

impl Reader<'_> {
    /// The attribute's first 128 bytes, trimmed; empty if it cannot be read.
    fn text(&mut self, f: &mut File) -> &[u8] {
        match f.read_attr(self.buf) {
            Ok(b) => lex::trim(&b[..b.len().min(ATTR_MAX)]),
            Err(Errno::NOENT) => b"",
            Err(e) => {
                self.err = Some(e);
                b""
            }
        }
    }

    /// The attribute as a number; 0 if it is not one or a read has failed.
    fn value(&mut self, f: &mut File) -> u64 {
        let v = lex::parse_u64(self.text(f));
        if self.err.is_some() {
            return 0;
        }
        v.unwrap_or(0)
    }

    /// Lists `dir` into `entries` (all entries, or only directories), recording a failure.
    fn list<T>(
        &mut self,
        dir: &mut Dir,
        entries: &mut Entries<T>,
        dirs_only: bool,
        mut make: impl FnMut(&[u8]) -> T,
    ) {
        entries.begin();
        let r = dir.for_each(|name, ty| {
            if !dirs_only || ty.is_dir() {
                entries.get_or_insert_with(name, || make(name));
            }
        });
        if let Err(e) = r {
            self.err = Some(e);
            // Upstream's listing yields nothing on an error.
            entries.begin();
        }
        entries.end();
    }
}

impl Collector for Btrfs {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let Btrfs {
            root,
            list,
            filesystems,
            mounts,
            mounts_fallback,
            rootfs,
            buf,
            mounts_buf,
            ioctl,
        } = self;
        filesystems.begin();
        // Upstream globs `*-*`; a glob ignores a directory it cannot read.
        let _ = list.for_each(|name, _| {
            if name.contains(&b'-') {
                filesystems
                    .get_or_insert_with(name, || Fs::new(root.join(OsStr::from_bytes(name))));
            }
        });
        filesystems.end();
        for (_, fs) in filesystems.iter_mut() {
            read_fs(fs, buf)?;
        }
        if filesystems.is_empty() {
            // The ioctl statistics only add to sysfs' file systems: no need to read the mounts.
            return Ok(());
        }
        ioctl.clear();
        if let Some(table) = read_mounts(mounts, mounts_fallback, mounts_buf) {
            ioctl.scan(table, rootfs);
        }
        emit(filesystems, ioctl, enc);
        Ok(())
    }
}

/// Reads one file system's attributes in upstream's order. Allocates only for new devices
/// and profiles.
fn read_fs(fs: &mut Fs, buf: &mut Vec<u8>) -> Result<(), Error> {
    let mut r = Reader { buf, err: None };
    let base = &fs.base;
    r.list(&mut fs.devices_dir, &mut fs.devices, false, |name| Device {
        size: File::new(base.join("devices").join(OsStr::from_bytes(name)).join("size")),
        sectors: 0,
    });
    for (_, dev) in fs.devices.iter_mut() {
        dev.sectors = r.value(&mut dev.size);
    }
    let label = r.text(&mut fs.label);
    fs.label_val.clear();
    fs.label_val.extend_from_slice(label);
    let uuid = r.text(&mut fs.metadata_uuid);
    fs.uuid_val.clear();
    fs.uuid_val.extend_from_slice(uuid);
    fs.global_rsv_val = r.value(&mut fs.global_rsv_size);
    for alloc in &mut fs.alloc {
        // Each block group type is read by a fresh reader whose outcome replaces the file
        // system's, as in upstream's reader.
        let mut sr = Reader { buf: r.buf, err: None };
        alloc.reserved_val = sr.value(&mut alloc.bytes_reserved);
        let path = &alloc.path;
        sr.list(&mut alloc.dir, &mut alloc.layouts, true, |name| {
            let dir = path.join(OsStr::from_bytes(name));
            Layout {
                total: File::new(dir.join("total_bytes")),
                used: File::new(dir.join("used_bytes")),
                total_val: 0,
                used_val: 0,
            }
        });
        for (_, layout) in alloc.layouts.iter_mut() {
            layout.total_val = sr.value(&mut layout.total);
            layout.used_val = sr.value(&mut layout.used);
        }
        r = Reader { err: sr.err, buf: sr.buf };
    }
    let mut err = r.err;
    match fs.commit_stats.read(r.buf) {
        Ok(src) => check_commit_stats(src).map_err(Error::parse("sys/fs/btrfs/*/commit_stats"))?,
        Err(Errno::NOENT) => {}
        Err(errno) => err = Some(errno),
    }
    match err {
        Some(errno) => Err(Error::Read { path: "sys/fs/btrfs", errno }),
        None => Ok(()),
    }
}

/// Checks `commit_stats` as upstream parses it: `key value` lines with a `u64` value.
pub fn check_commit_stats(src: &[u8]) -> Result<(), ParseError> {
    for (n, line) in lex::lines(src).enumerate() {
        let mut fields = lex::fields(line);
        let (Some(_), Some(v), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(ParseError::at(n + 1, "expected a key and a value"));
        };
        lex::parse_u64(v).ok_or(ParseError::at(n + 1, "value is not a 64-bit unsigned integer"))?;
    }
    Ok(())
}

/// The mount table's bytes: `/proc/1/mounts`, or `/proc/mounts` where the former is absent
/// (hidepid). `None` (no ioctl statistics this scrape) if neither can be read.
fn read_mounts<'b>(main: &mut File, fallback: &mut File, buf: &'b mut Vec<u8>) -> Option<&'b [u8]> {
    match main.read(buf) {
        Ok(_) => {}
        Err(Errno::NOENT) => {
            if let Err(e) = fallback.read(buf) {
                log::debug!(err:% = e; "btrfs: reading the mount table failed");
                return None;
            }
        }
        Err(e) => {
            log::debug!(err:% = e; "btrfs: reading the mount table failed");
            return None;
        }
    }
    Some(buf)
}

/// What the ioctls report, per file system: kept in buffers reused from scrape to scrape.
#[derive(Debug, Default)]
struct IoctlStats {
    filesystems: Vec<IoctlFs>,
    devices: Vec<IoctlDev>,
    /// Device paths, and the `mounts` device fields already scanned.
    names: Vec<u8>,
    done: Vec<Range<usize>>,
    path: Vec<u8>,
    cpath: Vec<u8>,
    mount_point: Vec<u8>,
}

#[derive(Clone, Copy, Debug)]
struct IoctlFs {
    fsid: [u8; 16],
    devices: (usize, usize),
}

#[derive(Clone, Debug)]
struct IoctlDev {
    path: Range<usize>,
    uuid: [u8; 16],
    bytes_used: u64,
    total_bytes: u64,
    errors: [u64; 5],
}

impl IoctlStats {
    fn clear(&mut self) {
        self.filesystems.clear();
        self.devices.clear();
        self.names.clear();
        self.done.clear();
    }

    /// Queries every btrfs mount in `mounts` (a mount table, see proc(5)) once per device
    /// and once per file system. A malformed table yields nothing, as upstream's parser
    /// returns an error for it.
    fn scan(&mut self, mounts: &[u8], rootfs: &[u8]) {
        if lex::lines(mounts).any(|line| lex::fields(line).nth(3).is_none()) {
            log::debug!("btrfs: malformed mount table");
            return;
        }
        for line in lex::lines(mounts) {
            let mut fields = lex::fields(line);
            let (Some(device), Some(mount_point), Some(fs_type)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            if fs_type != b"btrfs" || self.done.iter().any(|r| &self.names[r.clone()] == device) {
                continue;
            }
            unescape_mount_point(&mut self.mount_point, mount_point);
            let mp = strip_rootfs(&self.mount_point, rootfs);
            self.path.clear();
            glob::join(&mut self.path, rootfs, mp);
            let devices_before = self.devices.len();
            let names_before = self.names.len();
            match self.query(device) {
                Ok(()) => {}
                Err(e) => {
                    self.devices.truncate(devices_before);
                    self.names.truncate(names_before);
                    log::debug!(
                        mount_point:% = String::from_utf8_lossy(&self.path), err:% = e;
                        "btrfs: querying a mount point failed"
                    );
                }
            }
        }
    }

    /// Queries the file system mounted at `self.path`; on success records it and `device`.
    fn query(&mut self, device: &[u8]) -> Result<(), Errno> {
        let cpath = glob::c_path(&mut self.cpath, &self.path);
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOCTTY;
        let fd = rustix::fs::open(cpath, flags, Mode::empty())?;
        sys::btrfs_check(fd.as_fd())?;
        let info = sys::btrfs_fs_info(fd.as_fd())?;
        if self.filesystems.iter().any(|f| f.fsid == info.fsid) {
            // Found already through another mount point.
            return Ok(());
        }
        let first = self.devices.len();
        for devid in 0..=info.max_id {
            let dev = match sys::btrfs_dev_info(fd.as_fd(), devid) {
                Ok(dev) => dev,
                // Device ids need not start at 0 nor be contiguous.
                Err(Errno::NODEV) => continue,
                Err(e) => return Err(e),
            };
            let errors = sys::btrfs_dev_stats(fd.as_fd(), devid)?;
            let start = self.names.len();
            self.names.extend_from_slice(sys::c_field(&dev.path));
            self.devices.push(IoctlDev {
                path: start..self.names.len(),
                uuid: dev.uuid,
                bytes_used: dev.bytes_used,
                total_bytes: dev.total_bytes,
                errors,
            });
            if (self.devices.len() - first) as u64 == info.num_devices {
                break;
            }
        }
        let start = self.names.len();
        self.names.extend_from_slice(device);
        self.done.push(start..self.names.len());
        self.filesystems.push(IoctlFs { fsid: info.fsid, devices: (first, self.devices.len()) });
        Ok(())
    }

    /// The devices of the file system whose id, as 32 hex digits, is `uuid` without dashes.
    fn devices_of(&self, uuid: &[u8]) -> Option<&[IoctlDev]> {
        let fs = self.filesystems.iter().find(|f| fsid_matches(&f.fsid, uuid))?;
        Some(&self.devices[fs.devices.0..fs.devices.1])
    }
}

/// `\040` and `\011` in a mount table's mount point, as upstream translates them (fstab(5)).
fn unescape_mount_point(out: &mut Vec<u8>, src: &[u8]) {
    out.clear();
    let mut rest = src;
    while let Some(i) = memchr::memchr(b'\\', rest) {
        out.extend_from_slice(&rest[..i]);
        match rest.get(i..i + 4) {
            Some(b"\\040") => out.push(b' '),
            Some(b"\\011") => out.push(b'\t'),
            _ => {
                out.push(b'\\');
                rest = &rest[i + 1..];
                continue;
            }
        }
        rest = &rest[i + 4..];
    }
    out.extend_from_slice(rest);
}

/// The mount point as seen from `--path.rootfs`: upstream trims the rootfs as a string
/// prefix (and an emptied path is `/`).
fn strip_rootfs<'a>(mount_point: &'a [u8], rootfs: &[u8]) -> &'a [u8] {
    if rootfs == b"/" {
        return mount_point;
    }
    match mount_point.strip_prefix(rootfs) {
        Some([]) => b"/",
        Some(rest) => rest,
        None => mount_point,
    }
}

/// Whether `uuid` with its dashes removed is `fsid` in lowercase hex.
fn fsid_matches(fsid: &[u8; 16], uuid: &[u8]) -> bool {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = uuid.iter().filter(|&&b| b != b'-');
    for byte in fsid {
        let hi = digits.next() == Some(&HEX[usize::from(byte >> 4)]);
        let lo = digits.next() == Some(&HEX[usize::from(byte & 15)]);
        if !(hi && lo) {
            return false;
        }
    }
    digits.next().is_none()
}

/// A device UUID as `8-4-4-4-12` lowercase hex, or `<zero>` for the nil UUID (as upstream's
/// btrfs library prints it).
fn format_uuid<'b>(buf: &'b mut [u8; 36], uuid: &[u8; 16]) -> &'b [u8] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    if uuid.iter().all(|&b| b == 0) {
        return b"<zero>";
    }
    let mut at = 0;
    for (i, byte) in uuid.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            buf[at] = b'-';
            at += 1;
        }
        buf[at] = HEX[usize::from(byte >> 4)];
        buf[at + 1] = HEX[usize::from(byte & 15)];
        at += 2;
    }
    &buf[..]
}

/// How many copies of the data a profile keeps per byte, as upstream's procfs computes it
/// from the number of devices.
fn ratio(profile: &[u8], devices: usize) -> f64 {
    let n = devices as f64;
    match profile {
        b"single" | b"raid0" => 1.0,
        b"dup" | b"raid1" | b"raid10" => 2.0,
        b"raid5" => n / (n - 1.0),
        b"raid6" => n / (n - 2.0),
        _ => 0.0,
    }
}

struct Families {
    info: FamilyId,
    global_rsv: FamilyId,
    reserved: FamilyId,
    used: FamilyId,
    size: FamilyId,
    ratio: FamilyId,
    device_size: FamilyId,
    device_unused: FamilyId,
    device_errors: FamilyId,
}

impl Families {
    fn declare(enc: &mut Encoder) -> Families {
        let g = Kind::Gauge;
        Families {
            info: enc.family("node_btrfs_info", "Filesystem information", g),
            global_rsv: enc.family(
                "node_btrfs_global_rsv_size_bytes",
                "Size of global reserve.",
                g,
            ),
            reserved: enc.family(
                "node_btrfs_reserved_bytes",
                "Amount of space reserved for a data type",
                g,
            ),
            used: enc.family(
                "node_btrfs_used_bytes",
                "Amount of used space by a layout/data type",
                g,
            ),
            size: enc.family(
                "node_btrfs_size_bytes",
                "Amount of space allocated for a layout/data type",
                g,
            ),
            ratio: enc.family(
                "node_btrfs_allocation_ratio",
                "Data allocation ratio for a layout/data type",
                g,
            ),
            device_size: enc.family(
                "node_btrfs_device_size_bytes",
                "Size of a device that is part of the filesystem.",
                g,
            ),
            device_unused: enc.family(
                "node_btrfs_device_unused_bytes",
                "Unused bytes unused on a device that is part of the filesystem.",
                g,
            ),
            device_errors: enc.family(
                "node_btrfs_device_errors_total",
                "Errors reported for the device",
                Kind::Counter,
            ),
        }
    }
}

/// Adds every file system's samples. Allocates nothing beyond the encoder's growth.
fn emit(filesystems: &Entries<Fs>, ioctl: &IoctlStats, enc: &mut Encoder) {
    let f = Families::declare(enc);
    for (name, fs) in filesystems.iter() {
        // The UUID from `metadata_uuid`, or the directory's name without one.
        let uuid: &[u8] = if fs.uuid_val.is_empty() { name } else { &fs.uuid_val };
        enc.sample(f.info, &[("uuid", uuid), ("label", &fs.label_val)], 1.0);
        enc.sample_u64(f.global_rsv, &[("uuid", uuid)], fs.global_rsv_val);
        for (ty, alloc) in TYPES.iter().zip(&fs.alloc) {
            let ty = ty.as_bytes();
            enc.sample_u64(
                f.reserved,
                &[("uuid", uuid), ("block_group_type", ty)],
                alloc.reserved_val,
            );
            for (mode, layout) in alloc.layouts.iter() {
                let labels = [("uuid", uuid), ("block_group_type", ty), ("mode", mode)];
                enc.sample_u64(f.used, &labels, layout.used_val);
                enc.sample_u64(f.size, &labels, layout.total_val);
                enc.sample(f.ratio, &labels, ratio(mode, fs.devices.len()));
            }
        }
        match ioctl.devices_of(uuid) {
            None => {
                for (device, dev) in fs.devices.iter() {
                    let bytes = SECTOR.wrapping_mul(dev.sectors);
                    enc.sample_u64(f.device_size, &[("uuid", uuid), ("device", device)], bytes);
                }
            }
            Some(devices) => {
                for dev in devices {
                    let path = &ioctl.names[dev.path.clone()];
                    // The last path element: `/dev/sda` → `sda`.
                    let device = memchr::memrchr(b'/', path).map_or(path, |i| &path[i + 1..]);
                    let mut uuid_buf = [0; 36];
                    let dev_uuid = format_uuid(&mut uuid_buf, &dev.uuid);
                    let labels = [("uuid", uuid), ("device", device), ("btrfs_dev_uuid", dev_uuid)];
                    enc.sample_u64(f.device_size, &labels, dev.total_bytes);
                    // Go's unsigned subtraction wraps, and so does this.
                    let unused = dev.total_bytes.wrapping_sub(dev.bytes_used);
                    enc.sample_u64(f.device_unused, &labels, unused);
                    for (ty, n) in ERROR_TYPES.iter().zip(dev.errors) {
                        let labels = [
                            ("uuid", uuid),
                            ("type", ty.as_bytes()),
                            ("device", device),
                            ("btrfs_dev_uuid", dev_uuid),
                        ];
                        enc.sample_u64(f.device_errors, &labels, n);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build, fds_under, fixtures, put, scrape, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;
    use std::path::Path;

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = build(&SPEC, &Paths::under(root), &Settings::new()).unwrap();
        for _ in 0..2 {
            assert_matches_e2e(&scrape(c.as_mut()));
        }
    }

    /// A file system directory as the kernel lays it out, with `devices` disks.
    fn put_fs(root: &Path, uuid: &str, devices: &[&str]) {
        let fs = format!("sys/fs/btrfs/{uuid}");
        put(root, &format!("{fs}/label"), "tank\n");
        put(root, &format!("{fs}/metadata_uuid"), &format!("{uuid}\n"));
        put(root, &format!("{fs}/allocation/global_rsv_size"), "5242880\n");
        for (ty, profile) in [("data", "single"), ("metadata", "dup"), ("system", "raid5")] {
            put(root, &format!("{fs}/allocation/{ty}/bytes_reserved"), "4096\n");
            put(root, &format!("{fs}/allocation/{ty}/{profile}/total_bytes"), "8388608\n");
            put(root, &format!("{fs}/allocation/{ty}/{profile}/used_bytes"), "16384\n");
        }
        std::fs::create_dir_all(root.join(format!("{fs}/devices"))).unwrap();
        for d in devices {
            put(root, &format!("{fs}/devices/{d}/size"), "2097152\n");
        }
        put(root, &format!("{fs}/commit_stats"), "commits 8\nlast_commit_ms 1\n");
        put(root, "proc/1/mounts", "/dev/vda / ext4 rw 0 0\n");
    }

    const UUID: &str = "0e9c5a3b-7a44-4f4e-8f4f-2a1b3c4d5e6f";

    fn run(root: &Path) -> Result<String, Error> {
        let mut c = build(&SPEC, &Paths::under(root), &Settings::new()).unwrap();
        try_scrape(c.as_mut())
    }

    #[test]
    fn values_and_labels() {
        let root = tmpdir("btrfs-values");
        put_fs(&root, UUID, &["vdb", "vdc", "vdd"]);
        let text = run(&root).unwrap();
        for line in [
            format!("node_btrfs_info{{label=\"tank\",uuid=\"{UUID}\"}} 1"),
            format!("node_btrfs_global_rsv_size_bytes{{uuid=\"{UUID}\"}} 5.24288e+06"),
            format!("node_btrfs_reserved_bytes{{block_group_type=\"system\",uuid=\"{UUID}\"}} 4096"),
            format!(
                "node_btrfs_size_bytes{{block_group_type=\"data\",mode=\"single\",uuid=\"{UUID}\"}} 8.388608e+06"
            ),
            format!(
                "node_btrfs_used_bytes{{block_group_type=\"metadata\",mode=\"dup\",uuid=\"{UUID}\"}} 16384"
            ),
            format!(
                "node_btrfs_allocation_ratio{{block_group_type=\"metadata\",mode=\"dup\",uuid=\"{UUID}\"}} 2"
            ),
            format!(
                "node_btrfs_allocation_ratio{{block_group_type=\"system\",mode=\"raid5\",uuid=\"{UUID}\"}} 1.5"
            ),
            format!("node_btrfs_device_size_bytes{{device=\"vdc\",uuid=\"{UUID}\"}} 1.073741824e+09"),
        ] {
            assert!(text.contains(&format!("\n{line}\n")), "{line} missing from\n{text}");
        }
        assert!(!text.contains("device_errors_total"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn upstream_reader_tolerances() {
        let root = tmpdir("btrfs-tolerant");
        put_fs(&root, UUID, &["vdb"]);
        let fs = root.join(format!("sys/fs/btrfs/{UUID}"));
        // Not a number: 0. No metadata_uuid: the directory's name. A long label: 128 bytes.
        put(&root, &format!("sys/fs/btrfs/{UUID}/allocation/data/bytes_reserved"), "lots\n");
        std::fs::remove_file(fs.join("metadata_uuid")).unwrap();
        let long = "x".repeat(200);
        put(&root, &format!("sys/fs/btrfs/{UUID}/label"), &long);
        // raid5 on one device: 1/0.
        let text = run(&root).unwrap();
        assert!(text.contains(&format!(
            "\nnode_btrfs_reserved_bytes{{block_group_type=\"data\",uuid=\"{UUID}\"}} 0\n"
        )));
        assert!(text.contains(&format!(
            "node_btrfs_info{{label=\"{}\",uuid=\"{UUID}\"}} 1\n",
            &long[..128]
        )));
        assert!(
            text.contains("mode=\"raid5\",uuid=\"0e9c5a3b-7a44-4f4e-8f4f-2a1b3c4d5e6f\"} +Inf\n")
        );

        // Without devices/: the values read after the failed listing are 0, the allocation
        // types read afresh, and the collector succeeds.
        std::fs::remove_dir_all(fs.join("devices")).unwrap();
        let text = run(&root).unwrap();
        assert!(text.contains(&format!("node_btrfs_global_rsv_size_bytes{{uuid=\"{UUID}\"}} 0\n")));
        assert!(text.contains(
            "mode=\"single\",uuid=\"0e9c5a3b-7a44-4f4e-8f4f-2a1b3c4d5e6f\"} 8.388608e+06\n"
        ));
        assert!(!text.contains("device_size_bytes"));

        // Without allocation/data/: its own reader fails and the next one replaces the error.
        std::fs::remove_dir_all(fs.join("allocation/data")).unwrap();
        let text = run(&root).unwrap();
        assert!(!text.contains("block_group_type=\"data\",mode"));
        // Without allocation/system/, the last one, the collector fails.
        std::fs::remove_dir_all(fs.join("allocation/system")).unwrap();
        assert!(matches!(run(&root), Err(Error::Read { errno: Errno::NOENT, .. })));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn commit_stats_checked_as_upstream() {
        assert!(check_commit_stats(b"").is_ok());
        assert!(check_commit_stats(b"commits 8\nmax_commit_ms 51\nnew_key 3\n").is_ok());
        for bad in
            [&b"commits\n"[..], b"commits 8 9\n", b"commits x\n", b"commits 8\n\n", b"commits -1"]
        {
            assert!(check_commit_stats(bad).is_err(), "{bad:?}");
        }
        let root = tmpdir("btrfs-commit");
        put_fs(&root, UUID, &["vdb"]);
        put(&root, &format!("sys/fs/btrfs/{UUID}/commit_stats"), "commits 99999999999999999999\n");
        assert!(matches!(run(&root), Err(Error::Parse { .. })));
        // Missing (kernels before 6.0): fine.
        std::fs::remove_file(root.join(format!("sys/fs/btrfs/{UUID}/commit_stats"))).unwrap();
        assert!(run(&root).is_ok());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn no_btrfs_at_all() {
        let root = tmpdir("btrfs-none");
        // Neither /sys/fs/btrfs nor a mount table: nothing, and success, as upstream's glob.
        assert_eq!(run(&root).unwrap(), "");
        // The module loaded but nothing mounted.
        std::fs::create_dir_all(root.join("sys/fs/btrfs/features")).unwrap();
        assert_eq!(run(&root).unwrap(), "");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn filesystems_and_devices_come_and_go() {
        let root = tmpdir("btrfs-churn");
        put_fs(&root, UUID, &["vdb", "vdc"]);
        let mut c = build(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        assert!(text.contains("device=\"vdc\""));
        let held = fds_under(&root);
        assert!(held > 0);
        let fs = root.join(format!("sys/fs/btrfs/{UUID}"));
        std::fs::remove_dir_all(fs.join("devices/vdc")).unwrap();
        let text = scrape(c.as_mut());
        assert!(!text.contains("device=\"vdc\""));
        assert!(text.contains("device=\"vdb\""));
        assert_eq!(fds_under(&root), held - 1, "the vanished device's fd is closed");
        std::fs::remove_dir_all(&fs).unwrap();
        assert_eq!(scrape(c.as_mut()), "");
        drop(c);
        assert_eq!(fds_under(&root), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn mount_table_helpers() {
        let mut out = Vec::new();
        unescape_mount_point(&mut out, br"/mnt/a\040b\011c\\d\0");
        assert_eq!(out, b"/mnt/a b\tc\\\\d\\0");
        assert_eq!(strip_rootfs(b"/host/mnt/x", b"/host"), b"/mnt/x");
        assert_eq!(strip_rootfs(b"/host", b"/host"), b"/");
        assert_eq!(strip_rootfs(b"/mnt/x", b"/"), b"/mnt/x");
        // A string prefix, not a path prefix, as upstream's strings.TrimPrefix.
        assert_eq!(strip_rootfs(b"/hostile", b"/host"), b"ile");
        let fsid = [
            0x0e, 0x9c, 0x5a, 0x3b, 0x7a, 0x44, 0x4f, 0x4e, 0x8f, 0x4f, 0x2a, 0x1b, 0x3c, 0x4d,
            0x5e, 0x6f,
        ];
        assert!(fsid_matches(&fsid, UUID.as_bytes()));
        assert!(fsid_matches(&fsid, b"0e9c5a3b7a444f4e8f4f2a1b3c4d5e6f"));
        assert!(!fsid_matches(&fsid, b"0E9C5A3B-7a44-4f4e-8f4f-2a1b3c4d5e6f"));
        assert!(!fsid_matches(&fsid, b"0e9c5a3b-7a44-4f4e-8f4f-2a1b3c4d5e6f0"));
        assert!(!fsid_matches(&fsid, b"0e9c5a3b"));
        let mut buf = [0; 36];
        assert_eq!(format_uuid(&mut buf, &fsid), UUID.as_bytes());
        assert_eq!(format_uuid(&mut buf, &[0; 16]), b"<zero>");
    }

    #[test]
    fn mounts_that_are_not_btrfs_roots_are_skipped() {
        let dir = tmpdir("btrfs-notbtrfs");
        let mut stats = IoctlStats::default();
        let table = format!(
            "/dev/vdb {0} btrfs rw 0 0\n/dev/vdb {0}/again btrfs rw 0 0\n/dev/vdc /nonexistent btrfs rw 0 0\n",
            dir.display()
        );
        stats.scan(table.as_bytes(), b"/");
        assert!(stats.filesystems.is_empty() && stats.devices.is_empty() && stats.done.is_empty());
        // A malformed table yields nothing at all.
        stats.scan(b"/dev/vdb /mnt btrfs\n", b"/");
        assert!(stats.filesystems.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The ioctls against whatever btrfs file systems this host has mounted.
    #[test]
    fn ioctl_stats_of_live_mounts() {
        let Ok(table) = std::fs::read("/proc/self/mounts") else { return };
        let mut stats = IoctlStats::default();
        stats.scan(&table, b"/");
        for fs in &stats.filesystems {
            let devices = &stats.devices[fs.devices.0..fs.devices.1];
            assert!(!devices.is_empty());
            for dev in devices {
                assert!(dev.total_bytes >= dev.bytes_used, "{dev:?}");
                assert!(stats.names[dev.path.clone()].starts_with(b"/"));
            }
        }
    }

    #[test]
    fn live_host() {
        let mut c = build(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            try_scrape(c.as_mut()).unwrap();
        }
    }
}
