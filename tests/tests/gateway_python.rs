//! `nodegate gateway` driven by the real Prometheus Python client (checklist #80):
//! `push_to_gateway` (PUT), `pushadd_to_gateway` (POST, gzipped), a custom handler that gzips
//! the body itself, and `delete_from_gateway` (DELETE), with a grouping key whose values the
//! client must send as base64 (`/` and a space) or leave plain (`:` and `+`), and an empty
//! value. Skipped, with a message, when `python3` or `prometheus_client` is missing
//! (`scripts/test.sh` installs it).

use std::process::Command;
use xtests::{get, root, Running};

fn python_client() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "skipping: python3 with prometheus_client not found (pip install prometheus_client)"
        );
    }
    ok
}

fn step(addr: std::net::SocketAddr, name: &str) {
    let script = root().join("tests/python/push_client.py");
    let out =
        Command::new("python3").arg(&script).arg(addr.to_string()).arg(name).output().unwrap();
    assert!(
        out.status.success(),
        "{name}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn python_client_push_pushadd_delete() {
    if !python_client() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("nodegate-gw-python-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let gw = Running::start(&dir, &["gateway"]);
    let key = "empty=\"\",instance=\"host/1\",job=\"py/job\",plain=\"p:q+r\",sp=\"x y\"";

    step(gw.addr, "push");
    let t = get(gw.addr, "/metrics").text();
    assert!(t.contains(&format!("py_last_success{{{key},step=\"load\"}} 1234.5\n")), "{t}");
    assert!(t.contains(&format!("py_records_total{{{key}}} 42\n")), "{t}");
    assert!(t.contains(&format!("py_duration_seconds_bucket{{{key},le=\"1\"}} 1\n")), "{t}");
    assert!(t.contains(&format!("py_size_bytes_count{{{key}}} 1\n")), "{t}");
    assert!(!t.contains("py_extra"));

    step(gw.addr, "pushadd");
    let t = get(gw.addr, "/metrics").text();
    assert!(t.contains(&format!("py_extra{{{key}}} 7\n")), "{t}");
    assert!(t.contains(&format!("push_failure_time_seconds{{{key}}} 0\n")), "{t}");

    step(gw.addr, "handler");
    let t = get(gw.addr, "/metrics").text();
    assert!(t.contains("py_records_total{instance=\"\",job=\"py-handler\"} 42\n"), "{t}");

    step(gw.addr, "delete");
    let t = get(gw.addr, "/metrics").text();
    assert!(!t.contains("job=\"py/job\""), "{t}");
    assert!(t.contains("job=\"py-handler\""));
    let log = gw.stderr();
    assert!(!log.contains("level=error"), "{log}");
}
