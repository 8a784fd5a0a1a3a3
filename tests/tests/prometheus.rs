//! A real Prometheus scrapes `nodegate exporter`: the target comes up, and series from the
//! exporter are queryable. Skips with a message where `prometheus` is not installed
//! (`scripts/test.sh` installs Debian's package).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use xtests::{free_port, get, Running};

#[test]
fn prometheus_scrapes_the_exporter() {
    if Command::new("prometheus").arg("--version").output().is_err() {
        eprintln!("skipping: prometheus is not installed (scripts/test.sh installs it)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("nodegate-prom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let node = Running::start(&dir, &["exporter"]);

    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: node\n    \
             static_configs:\n      - targets: ['{}']\n",
            node.addr
        ),
    )
    .unwrap();
    let port = free_port();
    let mut prom = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}").parse().unwrap();

    let deadline = Instant::now() + Duration::from_secs(90);
    let mut last = String::new();
    let ok = loop {
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(500));
        if std::net::TcpStream::connect(addr).is_err() {
            continue;
        }
        last = get(addr, "/api/v1/query?query=up%7Bjob%3D%22node%22%7D").text();
        if last.contains("\"value\":[") && last.contains(",\"1\"]") {
            break true;
        }
    };
    let load = if ok { get(addr, "/api/v1/query?query=node_load1").text() } else { String::new() };
    let _ = prom.kill();
    let _ = prom.wait();
    assert!(ok, "Prometheus never saw the target up; last answer: {last}\n{}", node.stderr());
    assert!(load.contains("\"__name__\":\"node_load1\""), "node_load1 not queryable: {load}");
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}
