//! Replays every target's committed seeds (`seeds/<target>/`) and, where present, its local
//! corpus (`corpus/<target>/`, what `cargo fuzz run` grew) through the target's check, as a
//! plain test. A target whose seed directory is missing or empty fails: none may lose its
//! inputs unnoticed.

use nodegate_fuzz::TARGETS;
use std::path::Path;

fn inputs(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<_> =
        rd.filter_map(|e| Some(e.ok()?.path())).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

#[test]
fn every_target_replays_its_corpus() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failed = Vec::new();
    for (name, check) in TARGETS {
        let seeds = inputs(&here.join("seeds").join(name));
        assert!(!seeds.is_empty(), "fuzz target {name} has no seeds in seeds/{name}/");
        let corpus = inputs(&here.join("corpus").join(name));
        for path in seeds.iter().chain(&corpus) {
            let data = std::fs::read(path).expect("read a corpus file");
            // Every input runs, so one report names all the failing ones.
            if std::panic::catch_unwind(|| check(&data)).is_err() {
                failed.push(path.display().to_string());
            }
        }
    }
    assert!(failed.is_empty(), "inputs failing their target's check:\n{}", failed.join("\n"));
}

#[test]
fn every_target_has_a_fuzz_target_file() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(here.join("Cargo.toml")).expect("read Cargo.toml");
    for (name, _) in TARGETS {
        let src = here.join("fuzz_targets").join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&src).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            text.contains(&format!("nodegate_fuzz::{name}::check")),
            "{name} runs another check"
        );
        assert!(manifest.contains(&format!("name = \"{name}\"")), "{name} not in Cargo.toml");
    }
    let files = std::fs::read_dir(here.join("fuzz_targets")).expect("list fuzz_targets").count();
    assert_eq!(files, TARGETS.len(), "a fuzz target missing from TARGETS");
}
