//! Test helpers: rendering an encoder, and upstream's fixtures and expected output, read from
//! `../shared` beside the project (tests that need them skip with a message where it is absent).

use super::{Build, Collector, Error, Settings, Shared, Spec};
use crate::encode::Encoder;
use crate::source::Paths;
use std::path::{Path, PathBuf};

// Upstream's fixture tree (`fixtures`) and its copy with the symbolic links restored
// (`linked_fixtures`), as the end-to-end tests find them.
pub use xtests::{fixtures, linked_fixtures};

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
