//! `nodegate exporter` on this machine with its default collectors: no series appears twice
//! (bind mounts and mounts that differ only in options included), and a collector reports
//! `success 0` only where the host lacks its data (logged as "no data", never as a failure).

use std::collections::BTreeMap;
use std::time::Duration;
use xtests::{get, Running};

#[test]
fn default_collectors_on_this_host() {
    let dir = std::env::temp_dir().join(format!("nodegate-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let node = Running::start(&dir, &["exporter", "--log.level=debug"]);
    let mut text = String::new();
    for _ in 0..3 {
        let resp = get(node.addr, "/metrics");
        assert_eq!(resp.status, 200);
        text = resp.text();
    }
    std::thread::sleep(Duration::from_millis(100));
    let log = node.stderr();

    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let series = line.rsplit_once(' ').map_or(line, |(s, _)| s);
        *seen.entry(series).or_default() += 1;
    }
    let twice: Vec<&&str> = seen.iter().filter(|(_, &n)| n > 1).map(|(s, _)| s).collect();
    assert!(twice.is_empty(), "series exposed more than once: {twice:#?}");

    assert!(!log.contains("msg=\"collector failed\""), "a collector failed:\n{log}");
    for line in text.lines().filter(|l| l.starts_with("node_scrape_collector_success")) {
        if line.ends_with(" 0") {
            let name = line.split('"').nth(1).unwrap();
            assert!(
                log.contains(&format!("msg=\"collector returned no data\" name={name}")),
                "{name} reported 0 without saying it had no data:\n{log}"
            );
        }
    }
    eprintln!(
        "live host: {} series, {} collectors",
        seen.len(),
        text.lines().filter(|l| l.starts_with("node_scrape_collector_success")).count()
    );
}
