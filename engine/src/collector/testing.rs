//! Test helpers: rendering an encoder, and upstream's fixtures and expected output, read from
//! `../shared` beside the project (tests that need them skip with a message where it is absent).

use super::{Build, Collector, Error, Settings, Shared, Spec};
use crate::encode::Encoder;
use crate::source::Paths;
use std::path::{Path, PathBuf};

/// Upstream's fixture tree, if present.
pub fn fixtures() -> Option<PathBuf> {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/node_exporter-1.8.2");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "skipping: upstream fixtures not found at ../shared/fixtures/node_exporter-1.8.2"
        );
        None
    }
}

/// Upstream's fixture tree with its symbolic links in place, or `None` (skip) without fixtures.
///
/// A checkout made without symlink support stores each link as a small regular file holding
/// the target's path, and upstream's sysfs fixtures depend on their links (`class/net/eth0`,
/// `class/scsi_tape/st0`). This copies the tree once under the temp directory, turning every
/// such file back into a link: a file of under 256 bytes, without newline or NUL, whose text
/// is a relative path to an entry that exists. Real links are copied as links. The copy is
/// shared by test processes of one user and rebuilt when `e2e-output.txt` changes.
pub fn linked_fixtures() -> Option<PathBuf> {
    static TREE: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    TREE.get_or_init(|| {
        let src = fixtures()?;
        let stamp = std::fs::metadata(src.join("e2e-output.txt"))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let uid = rustix::process::getuid().as_raw();
        let dest = std::env::temp_dir().join(format!("nodegate-fixtures-{uid}-{stamp}"));
        if dest.join(".complete").exists() {
            return Some(dest);
        }
        // Built aside and renamed into place, so concurrent test processes never see half.
        let staging = dest.with_extension(format!("tmp{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        copy_relinked(&src, &staging).expect("copy fixtures");
        std::fs::write(staging.join(".complete"), b"").expect("mark fixture copy");
        if std::fs::rename(&staging, &dest).is_err() {
            // Another process got there first.
            let _ = std::fs::remove_dir_all(&staging);
        }
        Some(dest)
    })
    .clone()
}

fn copy_relinked(src: &Path, dest: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dest)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let (from, to) = (entry.path(), dest.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
        } else if kind.is_dir() {
            copy_relinked(&from, &to)?;
        } else if let Some(target) = flattened_link(&from) {
            std::os::unix::fs::symlink(target, &to)?;
        } else {
            std::fs::copy(&from, &to)?;
        }
    }
    Ok(())
}

/// The link target a regular file stands for, if it is a flattened symbolic link.
fn flattened_link(file: &Path) -> Option<PathBuf> {
    let text = std::fs::read(file).ok()?;
    if text.is_empty() || text.len() > 255 || text.contains(&b'\n') || text.contains(&0) {
        return None;
    }
    let target = PathBuf::from(String::from_utf8(text).ok()?);
    let resolved = file.parent()?.join(&target);
    (target.is_relative() && resolved.exists() && resolved != file).then_some(target)
}

/// A fixture file's bytes (`rel` under the fixture tree), or `None` (skip) without fixtures.
pub fn fixture(rel: &str) -> Option<Vec<u8>> {
    let root = fixtures()?;
    Some(std::fs::read(root.join(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}")))
}

/// The text of one scrape whose samples `fill` adds.
pub fn render(fill: impl FnOnce(&mut Encoder)) -> String {
    let mut enc = Encoder::new();
    fill(&mut enc);
    let mut out = Vec::new();
    enc.finish(&mut out);
    String::from_utf8(out).expect("exposition is UTF-8")
}

/// Every line of upstream's `e2e-output.txt` that belongs to the families named (HELP, TYPE
/// and samples), in order.
pub fn e2e_lines(families: &[&str]) -> Option<Vec<String>> {
    let root = fixtures()?;
    let text = std::fs::read_to_string(root.join("e2e-output.txt")).expect("e2e-output.txt");
    let family_of = |line: &str| -> String {
        let l =
            line.strip_prefix("# HELP ").or_else(|| line.strip_prefix("# TYPE ")).unwrap_or(line);
        l.split([' ', '{']).next().unwrap_or("").to_owned()
    };
    Some(
        text.lines()
            .filter(|l| {
                let f = family_of(l);
                families.iter().any(|want| {
                    f == *want
                        || f.strip_prefix(want)
                            .is_some_and(|s| ["_sum", "_count", "_bucket"].contains(&s))
                })
            })
            .map(str::to_owned)
            .collect(),
    )
}

/// Scans fixture `rel` with `scan` and asserts the output is, line for line, upstream's
/// expected output for the families it produced, and that it produced at least one.
pub fn assert_e2e_families(rel: &str, scan: impl FnOnce(&[u8], &mut Encoder)) {
    let Some(src) = fixture(rel) else { return };
    let text = render(|enc| scan(&src, enc));
    assert_matches_e2e(&text);
}

/// Asserts that `text` holds exactly upstream's lines for the families it contains.
pub fn assert_matches_e2e(text: &str) {
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    assert!(!families.is_empty(), "no families produced");
    let Some(want) = e2e_lines(&families) else { return };
    let got: Vec<&str> = text.lines().collect();
    assert_eq!(got, want, "output differs from upstream's e2e-output.txt");
}

/// Scrapes `spec`'s collector (default settings) over upstream's fixture tree twice: the
/// first scrape must hold exactly upstream's e2e lines for its families, the second the same
/// bytes. Returns without checking where `../shared` is absent.
pub fn fixture_scrape_matches_e2e(spec: &Spec) {
    let Some(root) = linked_fixtures() else { return };
    let mut c = build(spec, &Paths::under(&root), &Settings::new()).unwrap();
    let text = scrape(c.as_mut());
    assert_matches_e2e(&text);
    assert_eq!(scrape(c.as_mut()), text);
}

/// Builds `spec`'s collector over `paths` with `settings`.
pub fn build(
    spec: &Spec,
    paths: &Paths,
    settings: &Settings,
) -> Result<Box<dyn Collector>, String> {
    build_with(spec, paths, settings, &Shared::default(), &[])
}

/// The text of one `update` of `c`, which must succeed.
pub fn scrape(c: &mut dyn Collector) -> String {
    render(|enc| c.update(enc).expect("update failed"))
}

/// A fresh, empty directory for one test, unique to `tag` and this process.
pub fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nodegate-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// Builds `spec`'s collector as the exporter would, with `shared` state and `enabled` as the
/// enabled collectors.
pub fn build_with(
    spec: &Spec,
    paths: &Paths,
    settings: &Settings,
    shared: &Shared,
    enabled: &[&'static str],
) -> Result<Box<dyn Collector>, String> {
    (spec.build)(&Build { paths, settings, shared, enabled })
}

/// One update into a fresh encoder: the rendered text, or the error. A failed update must leave
/// nothing behind, and this asserts it.
pub fn try_scrape(c: &mut dyn Collector) -> Result<String, Error> {
    let mut enc = Encoder::new();
    let r = c.update(&mut enc);
    let mut out = Vec::new();
    enc.finish(&mut out);
    let text = String::from_utf8(out).expect("exposition is UTF-8");
    match r {
        Ok(()) => Ok(text),
        Err(e) => {
            assert_eq!(text, "", "a failed update ({e}) left samples behind");
            Err(e)
        }
    }
}

/// How many of this process's fds are open on something under `dir`: a leak check that,
/// unlike the global kept-fd count, is not disturbed by tests running in parallel.
pub fn fds_under(dir: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.starts_with(dir))
        .count()
}

/// Writes `contents` to `rel` under `root`, creating parent directories.
pub fn put(root: &std::path::Path, rel: &str, contents: &str) {
    let p = root.join(rel);
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir).expect("create dir");
    }
    std::fs::write(p, contents).expect("write file");
}

/// The fixture subtrees `rels` (such as `sys/class/hwmon`) copied into a fresh temp dir for
/// `tag`, with each of `links` (a path and its target, as upstream's `sys.ttar` declares them)
/// a symbolic link. Copies of the fixture tree that lost their links hold each one as a plain
/// file whose text is the target; such a file is replaced by the link, and a link the copy
/// kept is left as it is. `None` (skip) without fixtures.
pub fn fixture_tree(tag: &str, rels: &[&str], links: &[(&str, &str)]) -> Option<PathBuf> {
    let root = fixtures()?;
    let dst = tmpdir(tag);
    for rel in rels {
        copy_tree(&root.join(rel), &dst.join(rel));
    }
    for (rel, target) in links {
        let p = dst.join(rel);
        if p.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
            continue;
        }
        let _ = std::fs::remove_file(&p);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).expect("create dir");
        }
        std::os::unix::fs::symlink(target, &p).expect("create link");
    }
    Some(dst)
}

/// Copies `src` to `dst` recursively, links as links.
fn copy_tree(src: &Path, dst: &Path) {
    let meta = src.symlink_metadata().unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    if let Some(dir) = dst.parent() {
        std::fs::create_dir_all(dir).expect("create dir");
    }
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(src).expect("read link");
        std::os::unix::fs::symlink(target, dst).expect("copy link");
    } else if meta.is_dir() {
        std::fs::create_dir_all(dst).expect("create dir");
        for e in std::fs::read_dir(src).expect("read dir") {
            let e = e.expect("dir entry");
            copy_tree(&e.path(), &dst.join(e.file_name()));
        }
    } else {
        std::fs::write(dst, std::fs::read(src).expect("read fixture")).expect("copy file");
    }
}
