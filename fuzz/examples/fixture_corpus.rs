//! Builds a local corpus from upstream's fixtures (`../shared` beside the project, as the
//! end-to-end tests find it) into `corpus/`, which is not committed:
//!
//! - `scanners`: for each collector the target runs, the fixture files it reads, found as the
//!   descriptors it keeps open under the fixture tree after one update, with the tree's
//!   symbolic links that lead to them, as one tree input;
//! - `textfile` and `push_text`: every `*.prom` file of the textfile fixtures.
//!
//! Run: `cargo run --manifest-path fuzz/Cargo.toml --example fixture_corpus`.

use engine::collector::{Build, Settings, Shared, REGISTRY};
use engine::encode::Encoder;
use engine::source::Paths;
use std::path::{Path, PathBuf};

/// Larger inputs than this slow the fuzzer down more than they teach it.
const MAX_INPUT: usize = 64 << 10;

fn main() {
    let Some(root) = xtests::linked_fixtures() else { return };
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut links = Vec::new();
    walk(&root, &root, &mut links);
    let mut written = 0;
    for spec in REGISTRY {
        if nodegate_fuzz::scanners::EXCLUDED.contains(&spec.name) {
            continue;
        }
        let files = files_read(spec.name, &root);
        if files.is_empty() {
            println!("{}: reads no fixture file through a kept descriptor", spec.name);
            continue;
        }
        let mut input = format!("{}\n", spec.name).into_bytes();
        for (link, target) in &links {
            let resolved = std::fs::canonicalize(root.join(link)).unwrap_or_default();
            if files.iter().any(|f| root.join(f).starts_with(&resolved)) {
                let target = target.to_string_lossy();
                input.extend_from_slice(format!("-> {} {target}\n", link.display()).as_bytes());
            }
        }
        for f in &files {
            input.extend_from_slice(format!("== {}\n", f.display()).as_bytes());
            input.extend_from_slice(&std::fs::read(root.join(f)).unwrap_or_default());
        }
        if input.len() > MAX_INPUT {
            println!("{}: {} bytes, left out", spec.name, input.len());
            continue;
        }
        save(&out.join("scanners"), spec.name, &input);
        written += 1;
    }
    let mut proms = Vec::new();
    find_proms(&root.join("textfile"), &mut proms);
    for (i, p) in proms.iter().enumerate() {
        let text = std::fs::read(p).unwrap_or_default();
        save(&out.join("textfile"), &format!("fixture{i}"), &text);
        save(&out.join("push_text"), &format!("fixture{i}"), &[b"1", &text[..]].concat());
    }
    println!("{written} scanner inputs, {} textfile and push_text inputs", proms.len());
}

/// The files (relative to `root`) the collector `name` keeps open after one update.
fn files_read(name: &str, root: &Path) -> Vec<PathBuf> {
    let spec = engine::collector::spec(name).unwrap_or_else(|| panic!("{name} registered"));
    let mut settings = Settings::new();
    settings.set("collector.arp.netlink", "false");
    settings.set("collector.netdev.netlink", "false");
    let paths = Paths::under(root);
    let shared = Shared::default();
    let enabled = [spec.name];
    let build = Build { paths: &paths, settings: &settings, shared: &shared, enabled: &enabled };
    let Ok(mut c) = (spec.build)(&build) else { return Vec::new() };
    let _ = c.update(&mut Encoder::new());
    let mut files: Vec<PathBuf> = std::fs::read_dir("/proc/self/fd")
        .map(|rd| rd.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok()).collect())
        .unwrap_or_default();
    files.retain(|f| f.starts_with(root) && f.is_file());
    let mut files: Vec<PathBuf> =
        files.iter().filter_map(|f| Some(f.strip_prefix(root).ok()?.to_path_buf())).collect();
    files.sort();
    files.dedup();
    drop(c);
    files
}

/// Every symbolic link under `dir`, relative to `root`, with its target.
fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, PathBuf)>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(meta) = p.symlink_metadata() else { continue };
        if meta.file_type().is_symlink() {
            if let (Ok(rel), Ok(target)) = (p.strip_prefix(root), std::fs::read_link(&p)) {
                out.push((rel.to_path_buf(), target));
            }
        } else if meta.is_dir() {
            walk(root, &p, out);
        }
    }
}

fn find_proms(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            find_proms(&p, out);
        } else if p.extension().is_some_and(|x| x == "prom") {
            out.push(p);
        }
    }
}

fn save(dir: &Path, name: &str, data: &[u8]) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let p = dir.join(format!("fixture-{name}"));
    std::fs::write(&p, data).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
}
