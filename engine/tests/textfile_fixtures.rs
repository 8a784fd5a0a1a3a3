//! The textfile collector against upstream's fixtures: each `textfile/<case>/` directory must
//! scrape to exactly `textfile/<case>.out`, and `two_metric_files` to the textfile lines of
//! `e2e-output.txt`.
//!
//! Upstream's test runs from `collector/` with the path `fixtures/textfile/<case>` and pins
//! every mtime to 1 through a test-only field. Here the fixture tree is copied to a temporary
//! directory laid out the same way, with every file's mtime set to one second after the
//! epoch, and the process works from there. One test function does it all, since the working
//! directory is the process's.

use engine::collector::{self, Build, Settings, Shared};
use engine::encode::Encoder;
use engine::source::Paths;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

const CASES: &[(&str, &str)] = &[
    ("fixtures/textfile/no_metric_files", "no_metric_files.out"),
    ("fixtures/textfile/two_metric_files", "two_metric_files.out"),
    ("fixtures/textfile/nonexistent_path", "nonexistent_path.out"),
    ("fixtures/textfile/client_side_timestamp", "client_side_timestamp.out"),
    ("fixtures/textfile/different_metric_types", "different_metric_types.out"),
    ("fixtures/textfile/inconsistent_metrics", "inconsistent_metrics.out"),
    ("fixtures/textfile/histogram", "histogram.out"),
    ("fixtures/textfile/histogram_extra_dimension", "histogram_extra_dimension.out"),
    ("fixtures/textfile/summary", "summary.out"),
    ("fixtures/textfile/summary_extra_dimension", "summary_extra_dimension.out"),
    ("fixtures/textfile/*_extra_dimension", "glob_extra_dimension.out"),
    ("fixtures/textfile/metrics_merge_empty_help", "metrics_merge_empty_help.out"),
    ("fixtures/textfile/metrics_merge_no_help", "metrics_merge_no_help.out"),
    ("fixtures/textfile/metrics_merge_same_help", "metrics_merge_same_help.out"),
    ("fixtures/textfile/metrics_merge_different_help", "metrics_merge_different_help.out"),
];

fn upstream() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/node_exporter-1.8.2");
    if p.join("textfile").is_dir() {
        Some(p)
    } else {
        eprintln!(
            "skipping: upstream fixtures not found at ../shared/fixtures/node_exporter-1.8.2"
        );
        None
    }
}

/// Copies `from` to `to` recursively, every file's mtime set to 1 s after the epoch.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)?;
            let f = std::fs::File::options().write(true).open(&dest)?;
            f.set_modified(UNIX_EPOCH + Duration::from_secs(1))?;
        }
    }
    Ok(())
}

/// One scrape of a textfile collector for `dir`, as text.
fn scrape(dir: &str) -> Result<String, String> {
    let mut settings = Settings::new();
    settings.set("collector.textfile.directory", dir);
    let spec = collector::spec("textfile").ok_or("textfile is not registered")?;
    let build = Build {
        paths: &Paths::default(),
        settings: &settings,
        shared: &Shared::default(),
        enabled: &["textfile"],
    };
    let mut c = (spec.build)(&build)?;
    let mut enc = Encoder::new();
    c.update(&mut enc).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    enc.finish(&mut out);
    String::from_utf8(out).map_err(|e| e.to_string())
}

#[test]
fn fixtures_match_upstream() {
    let Some(upstream) = upstream() else { return };
    let root = std::env::temp_dir().join(format!("nodegate-textfile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    copy_tree(&upstream.join("textfile"), &root.join("fixtures/textfile")).unwrap();
    copy_tree(&upstream.join("textfile"), &root.join("collector/fixtures/textfile")).unwrap();
    std::env::set_current_dir(&root).unwrap();

    for (dir, out) in CASES {
        let want = std::fs::read_to_string(upstream.join("textfile").join(out)).unwrap();
        assert_eq!(scrape(dir).unwrap(), want, "{dir}");
    }

    // node_exporter's e2e run, from a directory where collector/fixtures is the fixture tree.
    // Its output leaves out node_textfile_mtime_seconds samples (their value is the real
    // mtime), keeping the family's HELP and TYPE lines.
    let got = scrape("collector/fixtures/textfile/two_metric_files/").unwrap();
    let got: Vec<&str> =
        got.lines().filter(|l| !l.starts_with("node_textfile_mtime_seconds{")).collect();
    let e2e = std::fs::read_to_string(upstream.join("e2e-output.txt")).unwrap();
    let want: Vec<&str> = e2e
        .lines()
        .filter(|l| {
            let l = l.strip_prefix("# HELP ").or_else(|| l.strip_prefix("# TYPE ")).unwrap_or(l);
            l.starts_with("node_textfile_") || l.starts_with("testmetric")
        })
        .collect();
    assert_eq!(want.len(), 17, "e2e-output.txt has 5 textfile and 12 testmetric lines");
    assert_eq!(got, want);

    std::env::set_current_dir(std::env::temp_dir()).unwrap();
    std::fs::remove_dir_all(&root).unwrap();
}
