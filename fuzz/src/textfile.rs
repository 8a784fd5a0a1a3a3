//! The textfile collector (`engine::collector::textfile`, reading through
//! `engine::textparse`): whatever a `*.prom` file holds, the collector succeeds, and its
//! output passes the [`exposition`](crate::exposition) checker, with
//! `node_textfile_scrape_error` 0 or 1, and 0 only with the file's mtime reported (unless the
//! file declares those names itself).

use engine::collector::{Build, Settings, Shared};
use engine::encode::Encoder;
use engine::source::Paths;

/// Checks one input (the file's bytes).
pub fn check(data: &[u8]) {
    let dir = crate::tree::scratch_dir("textfile");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the textfile directory");
    std::fs::write(dir.join("fuzz.prom"), data).expect("write the textfile");

    let spec = engine::collector::spec("textfile").expect("textfile is registered");
    let mut settings = Settings::new();
    settings.set("collector.textfile.directory", dir.to_string_lossy());
    let paths = Paths::under(&dir);
    let shared = Shared::default();
    let build = Build { paths: &paths, settings: &settings, shared: &shared, enabled: &[] };
    let mut c = (spec.build)(&build).expect("the textfile collector builds");
    let mut enc = Encoder::new();
    c.update(&mut enc).expect("the textfile collector always succeeds");
    let mut out = Vec::new();
    enc.finish(&mut out);
    if let Err(e) = crate::exposition::check(&out) {
        panic!("{e}\n{}", String::from_utf8_lossy(&out));
    }
    // A file may declare the collector's own family names; the family declared first wins.
    if data.windows(14).any(|w| w == b"node_textfile_") {
        return;
    }
    let error = out
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"node_textfile_scrape_error "))
        .expect("node_textfile_scrape_error is always there");
    assert!(matches!(error, b"0" | b"1"), "{error:?}");
    if error == b"0" {
        let took = out.windows(20).any(|w| w == b"node_textfile_mtime_");
        assert!(took, "no error, yet no mtime for the file");
    }
}
