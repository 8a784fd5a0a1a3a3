//! SELinux's state → `node_selinux_enabled`, and when enabled `node_selinux_config_mode` and
//! `node_selinux_current_mode`; node_exporter's selinux collector, which asks
//! opencontainers/go-selinux. See selinux(8) and selinux_config(5).
//!
//! SELinux is enabled when a writable selinuxfs is mounted (at `/sys/fs/selinux`, else where
//! `/proc/self/mountinfo` says, if `/proc/filesystems` lists it) and this process's label,
//! `/proc/thread-self/attr/current`, is not `kernel`. As in go-selinux this is decided once per
//! process. The current mode is the selinuxfs `enforce` file (`1`); the configured one is the
//! `SELINUX=enforcing|permissive|disabled` line of `etc/selinux/config` under `--path.rootfs`,
//! read afresh each scrape since it is edited and replaced. A mode is 1 (enforcing),
//! 0 (permissive) or -1 (disabled or unknown).
//!
//! These paths are the exporter's own view of the host, not `--path.procfs`/`--path.sysfs`,
//! as upstream's library reads them.

use super::{Build, Collector, Error, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::{c_path, File, Transient};
use std::ffi::{CString, OsStr};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "selinux", default_enabled: true, flags: &[], blocking: false, build };

/// `SELINUX_MAGIC`, selinuxfs' `f_type`.
const SELINUX_MAGIC: u64 = 0xf97c_ff8c;
/// `ST_RDONLY` in `statfs`' `f_flags`.
const ST_RDONLY: u64 = 1;

/// Where selinuxfs is mounted if SELinux is enabled; decided once per process.
static ENABLED_AT: OnceLock<Option<PathBuf>> = OnceLock::new();

#[derive(Debug)]
struct Selinux {
    /// The selinuxfs `enforce` file, when SELinux is enabled.
    enforce: Option<File>,
    config: CString,
    buf: Vec<u8>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let mount = ENABLED_AT.get_or_init(detect);
    Ok(Box::new(Selinux {
        enforce: mount.as_ref().map(|m| File::new(m.join("enforce"))),
        config: c_path(&b.paths.root("etc/selinux/config")),
        buf: Vec::new(),
    }))
}

impl Collector for Selinux {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let enabled = enc.family(
            "node_selinux_enabled",
            "SELinux is enabled, 1 is true, 0 is false",
            Kind::Gauge,
        );
        let Some(enforce) = &mut self.enforce else {
            enc.sample(enabled, &[], 0.0);
            return Ok(());
        };
        enc.sample(enabled, &[], 1.0);
        // Neither file failing is an error: go-selinux reads a failure as "disabled".
        let config_mode = match Transient::open(&self.config).and_then(|f| f.read(&mut self.buf)) {
            Ok(src) => config_mode(src),
            Err(_) => -1,
        };
        let f = enc.family(
            "node_selinux_config_mode",
            "Configured SELinux enforcement mode",
            Kind::Gauge,
        );
        enc.sample(f, &[], config_mode as f64);
        let current = match enforce.read(&mut self.buf) {
            Ok(src) => lex::parse_i64(src).unwrap_or(-1),
            Err(_) => -1,
        };
        let f = enc.family(
            "node_selinux_current_mode",
            "Current SELinux enforcement mode",
            Kind::Gauge,
        );
        enc.sample(f, &[], current as f64);
        Ok(())
    }
}

/// The configured mode in an `/etc/selinux/config` text, as go-selinux reads it: the first
/// `SELINUX=` line (lines trimmed; blank ones and `#` or `;` comments skipped; the key compared
/// exactly), its value stripped of double quotes. `enforcing` is 1, `permissive` 0, anything
/// else -1.
pub fn config_mode(src: &[u8]) -> i64 {
    for line in lex::lines(src) {
        let line = lex::trim_unicode(line);
        if line.is_empty() || line[0] == b';' || line[0] == b'#' {
            continue;
        }
        let Some(eq) = memchr::memchr(b'=', line) else { continue };
        if &line[..eq] != b"SELINUX" {
            continue;
        }
        let value = &line[eq + 1..];
        let start = value.iter().position(|&b| b != b'"').unwrap_or(value.len());
        let end = value.iter().rposition(|&b| b != b'"').map_or(start, |i| i + 1);
        return match &value[start..end] {
            b"enforcing" => 1,
            b"permissive" => 0,
            _ => -1,
        };
    }
    -1
}

/// Finds a writable selinuxfs and checks this process's label, as go-selinux's `GetEnabled`.
fn detect() -> Option<PathBuf> {
    let mount = find_selinuxfs()?;
    let label = current_label().unwrap_or_default();
    (label != b"kernel").then_some(mount)
}

fn find_selinuxfs() -> Option<PathBuf> {
    let default = Path::new("/sys/fs/selinux");
    if is_writable_selinuxfs(default) {
        return Some(default.to_path_buf());
    }
    let filesystems = std::fs::read("/proc/filesystems").ok()?;
    memchr::memmem::find(&filesystems, b"\tselinuxfs\n")?;
    let mountinfo = std::fs::read("/proc/self/mountinfo").ok()?;
    lex::lines(&mountinfo)
        .filter_map(selinuxfs_mount_point)
        .map(|m| PathBuf::from(OsStr::from_bytes(m)))
        .find(|m| is_writable_selinuxfs(m))
}

/// The mount point of a `/proc/self/mountinfo` line for selinuxfs: its fifth space-separated
/// field, as written (go-selinux does not decode `\040` escapes).
fn selinuxfs_mount_point(line: &[u8]) -> Option<&[u8]> {
    memchr::memmem::find(line, b" - selinuxfs ")?;
    let mut fields = line.splitn(6, |&b| b == b' ');
    let point = fields.nth(4)?;
    // `SplitN` into six: the fifth counts only if a sixth part follows it.
    fields.next()?;
    Some(point)
}

fn is_writable_selinuxfs(path: &Path) -> bool {
    loop {
        match rustix::fs::statfs(path) {
            Ok(st) => {
                return st.f_type as u64 == SELINUX_MAGIC && (st.f_flags as u64 & ST_RDONLY) == 0;
            }
            Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => continue,
            Err(_) => return false,
        }
    }
}

/// This thread's SELinux label, from procfs (checked to be procfs, as go-selinux checks), with
/// one trailing NUL removed.
fn current_label() -> Option<Vec<u8>> {
    // Before Linux 3.17 there is no thread-self; go-selinux then reads this thread's task
    // entry, and the process's entry, read here, holds the same label unless a thread changed
    // its own, which this exporter never does.
    let path = match Path::new("/proc/thread-self/attr").is_dir() {
        true => "/proc/thread-self/attr/current",
        false => "/proc/self/attr/current",
    };
    let mut file = std::fs::File::open(path).ok()?;
    let st = rustix::fs::fstatfs(&file).ok()?;
    if st.f_type as u64 != rustix::fs::PROC_SUPER_MAGIC as u64 {
        return None;
    }
    let mut label = Vec::new();
    file.read_to_end(&mut label).ok()?;
    if label.last() == Some(&0) {
        label.pop();
    }
    Some(label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{build as build_spec, put, render, tmpdir, try_scrape};
    use crate::collector::Settings;
    use crate::source::Paths;

    #[test]
    fn config_modes() {
        for (src, mode) in [
            ("# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n", 1),
            ("  SELINUX=\"\"permissive\"  \n", 0),
            ("SELINUX=disabled\n", -1),
            ("; SELINUX=enforcing\nSELINUX = enforcing\nSELINUX=permissive", 0),
            ("SELINUX=enforcing # no trailing comments\n", -1),
            ("SELINUXTYPE=enforcing\n", -1),
            ("", -1),
        ] {
            assert_eq!(config_mode(src.as_bytes()), mode, "{src:?}");
        }
    }

    #[test]
    fn mountinfo_lines() {
        let line = b"41 24 0:21 / /sys/fs/selinux rw,nosuid,noexec,relatime shared:22 - selinuxfs selinuxfs rw";
        assert_eq!(selinuxfs_mount_point(line), Some(&b"/sys/fs/selinux"[..]));
        let escaped = b"41 24 0:21 / /a\\040b rw - selinuxfs selinuxfs rw";
        assert_eq!(selinuxfs_mount_point(escaped), Some(&b"/a\\040b"[..]));
        assert_eq!(selinuxfs_mount_point(b"41 24 0:21 / /sys rw - sysfs sysfs rw"), None);
        assert_eq!(selinuxfs_mount_point(b"a b c d - selinuxfs x"), Some(&b"-"[..]));
        assert_eq!(selinuxfs_mount_point(b" - selinuxfs "), None);
    }

    #[test]
    fn enabled_reports_both_modes() {
        let root = tmpdir("selinux");
        put(&root, "sys/fs/selinux/enforce", "1");
        put(&root, "etc/selinux/config", "SELINUX=permissive\n");
        let mut c = Selinux {
            enforce: Some(File::new(root.join("sys/fs/selinux/enforce"))),
            config: c_path(&root.join("etc/selinux/config")),
            buf: Vec::new(),
        };
        let text = render(|enc| c.update(enc).unwrap());
        assert_eq!(
            text,
            "# HELP node_selinux_config_mode Configured SELinux enforcement mode\n\
             # TYPE node_selinux_config_mode gauge\n\
             node_selinux_config_mode 0\n\
             # HELP node_selinux_current_mode Current SELinux enforcement mode\n\
             # TYPE node_selinux_current_mode gauge\n\
             node_selinux_current_mode 1\n\
             # HELP node_selinux_enabled SELinux is enabled, 1 is true, 0 is false\n\
             # TYPE node_selinux_enabled gauge\n\
             node_selinux_enabled 1\n"
        );
        // Unreadable files and odd contents are modes of -1, not errors.
        put(&root, "sys/fs/selinux/enforce", "1\n");
        std::fs::remove_file(root.join("etc/selinux/config")).unwrap();
        let text = render(|enc| c.update(enc).unwrap());
        assert!(text.contains("node_selinux_config_mode -1\n"));
        assert!(text.contains("node_selinux_current_mode -1\n"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            let text = try_scrape(c.as_mut()).unwrap();
            let enabled = is_writable_selinuxfs(Path::new("/sys/fs/selinux"));
            if !enabled {
                assert_eq!(
                    text,
                    "# HELP node_selinux_enabled SELinux is enabled, 1 is true, 0 is false\n\
                     # TYPE node_selinux_enabled gauge\n\
                     node_selinux_enabled 0\n"
                );
            }
        }
    }
}
