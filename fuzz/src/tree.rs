//! A file tree written out from one fuzz input, for the targets that run collectors over a
//! root directory.
//!
//! The input is text-like: a line `== some/path` starts a file whose content is every byte up
//! to the next such line (its final line feed included); a line `-> some/path target` makes a
//! symbolic link (sysfs lists devices through them). Paths are relative, without `.` or `..`
//! components; link targets are relative and may not climb out of the tree. Entries breaking
//! these rules, or clashing with an earlier one, are skipped. Bytes before the first entry
//! are ignored.

use std::path::{Path, PathBuf};

/// One entry of a tree input.
#[derive(Debug, Eq, PartialEq)]
pub enum Entry<'a> {
    /// A regular file and its content.
    File(&'a [u8], &'a [u8]),
    /// A symbolic link and its target.
    Link(&'a [u8], &'a [u8]),
}

/// The entries of `src`, in order.
pub fn entries(src: &[u8]) -> Vec<Entry<'_>> {
    let mut out = Vec::new();
    // (path, content start) of the file being read.
    let mut open: Option<(&[u8], usize)> = None;
    let mut at = 0;
    while at < src.len() {
        let end = src[at..].iter().position(|&b| b == b'\n').map_or(src.len(), |i| at + i + 1);
        let line = src[at..end].strip_suffix(b"\n").unwrap_or(&src[at..end]);
        let header = line.strip_prefix(b"== ").map(|p| (p, None)).or_else(|| {
            let rest = line.strip_prefix(b"-> ")?;
            let sp = rest.iter().position(|&b| b == b' ')?;
            Some((&rest[..sp], Some(&rest[sp + 1..])))
        });
        if let Some((path, link)) = header {
            if let Some((p, start)) = open.take() {
                out.push(Entry::File(p, &src[start..at]));
            }
            match link {
                Some(target) => out.push(Entry::Link(path, target)),
                None => open = Some((path, end)),
            }
        }
        at = end;
    }
    if let Some((p, start)) = open {
        out.push(Entry::File(p, &src[start..]));
    }
    out
}

/// The components of a relative path, or `None` if it is not one this module writes.
fn components(path: &[u8]) -> Option<Vec<&str>> {
    let path = std::str::from_utf8(path).ok()?;
    let parts: Vec<&str> = path.split('/').collect();
    let ok = |c: &&str| !c.is_empty() && *c != "." && *c != ".." && !c.contains('\0');
    (path.len() <= 256 && parts.len() <= 16 && parts.iter().all(ok)).then_some(parts)
}

/// Whether `target`, a link's text in the directory of depth `depth`, stays in the tree.
fn is_inside(target: &[u8], depth: usize) -> bool {
    let Ok(target) = std::str::from_utf8(target) else { return false };
    if target.is_empty() || target.starts_with('/') || target.contains('\0') {
        return false;
    }
    let mut level = depth as isize;
    for c in target.split('/') {
        match c {
            ".." => level -= 1,
            "" | "." => {}
            _ => level += 1,
        }
        if level < 0 {
            return false;
        }
    }
    true
}

/// Empties `root` and writes `src`'s entries under it.
///
/// # Panics
/// If `root` itself cannot be made.
pub fn write(root: &Path, src: &[u8]) {
    let _ = std::fs::remove_dir_all(root);
    std::fs::create_dir_all(root).expect("create the tree's root");
    for entry in entries(src) {
        let (Entry::File(path, _) | Entry::Link(path, _)) = entry;
        let Some(parts) = components(path) else { continue };
        let p: PathBuf = parts.iter().fold(root.to_path_buf(), |p, c| p.join(c));
        if let Some(dir) = p.parent() {
            if std::fs::create_dir_all(dir).is_err() {
                continue;
            }
        }
        // A clash (a file where a directory is, a second entry for one path) skips the entry.
        let _ = match entry {
            Entry::File(_, content) => std::fs::write(&p, content),
            Entry::Link(_, target) if is_inside(target, parts.len() - 1) => {
                let target = std::str::from_utf8(target).unwrap_or_default();
                std::os::unix::fs::symlink(target, &p)
            }
            Entry::Link(..) => continue,
        };
    }
}

/// A directory under the temp directory for `tag`, unique to this process.
pub fn scratch_dir(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("nodegate-fuzz-{tag}-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_split_at_headers() {
        let src = b"junk\n== proc/a\nx 1\n\n-> sys/l ../d\n== b\nlast";
        assert_eq!(
            entries(src),
            [
                Entry::File(b"proc/a", b"x 1\n\n"),
                Entry::Link(b"sys/l", b"../d"),
                Entry::File(b"b", b"last")
            ]
        );
    }

    #[test]
    fn paths_and_links_stay_inside() {
        assert!(components(b"proc/net/dev").is_some());
        for bad in [&b"/etc/passwd"[..], b"../x", b"a/../../x", b"a//b", b"", b"a/./b"] {
            assert!(components(bad).is_none(), "{bad:?}");
        }
        assert!(is_inside(b"../../devices/x", 2));
        assert!(!is_inside(b"../../../x", 2));
        assert!(!is_inside(b"/sys/devices", 5));
    }

    #[test]
    fn writes_files_and_links() {
        let root = scratch_dir("tree-test");
        write(&root, b"== d/f\nhello\n-> l d\n-> out ../..\n== ../escape\nx\n");
        assert_eq!(std::fs::read(root.join("l/f")).unwrap(), b"hello\n");
        assert!(root.join("out").symlink_metadata().is_err());
        assert!(!root.join("../escape").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
