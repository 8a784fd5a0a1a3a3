//! `nodegate exporter` over HTTP, black-box: routes, methods, HEAD, gzip, keep-alive,
//! `collect[]`/`exclude[]`, the flags that shape the HTTP side, startup errors and shutdown.

use flate2::read::GzDecoder;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;
use xtests::{binary, get, read_response, request, Running};

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("nodegate-http-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn start(name: &str, args: &[&str]) -> Running {
    let mut all = vec!["exporter"];
    all.extend_from_slice(args);
    Running::start(&tmp(name), &all)
}

#[test]
fn routes_and_methods() {
    let node = start("routes", &["--collector.disable-defaults", "--collector.loadavg"]);
    let landing = get(node.addr, "/");
    assert_eq!(landing.status, 200);
    assert!(landing.header("content-type").unwrap().starts_with("text/html"));
    assert!(landing.text().contains("href=\"/metrics\""));

    let metrics = get(node.addr, "/metrics");
    assert_eq!(metrics.status, 200);
    assert_eq!(metrics.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    let text = metrics.text();
    assert!(text.contains("# TYPE node_load1 gauge\n"));
    assert!(text.contains("node_scrape_collector_success{collector=\"loadavg\"} 1\n"));
    assert!(text.contains("# TYPE process_cpu_seconds_total counter\n"));

    let missing = get(node.addr, "/nope");
    assert_eq!(missing.status, 404);

    let post = request(node.addr, "POST /metrics HTTP/1.1\r\nContent-Length: 0");
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));

    let head = request(node.addr, "HEAD /metrics HTTP/1.1");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let len: usize = head.header("content-length").unwrap().parse().unwrap();
    assert!(len > 100, "HEAD announced {len} bytes");
}

#[test]
fn gzip_when_asked() {
    let node = start("gzip", &["--collector.disable-defaults", "--collector.loadavg"]);
    let resp = request(node.addr, "GET /metrics HTTP/1.1\r\nAccept-Encoding: gzip");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-encoding"), Some("gzip"));
    let mut text = String::new();
    GzDecoder::new(&resp.body[..]).read_to_string(&mut text).unwrap();
    assert!(text.contains("# TYPE node_load1 gauge\n"), "{text}");

    let plain = request(node.addr, "GET /metrics HTTP/1.1\r\nAccept-Encoding: gzip;q=0, br");
    assert_eq!(plain.header("content-encoding"), None);
    assert!(plain.text().contains("node_load1"));
}

#[test]
fn keep_alive_serves_many_scrapes_on_one_connection() {
    let node = start("keepalive", &["--collector.disable-defaults", "--collector.loadavg"]);
    let mut s = TcpStream::connect(node.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    for _ in 0..50 {
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        let r = read_response(&mut s, false);
        assert_eq!(r.status, 200);
        assert!(r.text().contains("node_load1"));
    }
}

#[test]
fn collect_and_exclude_parameters() {
    let node = start(
        "filters",
        &["--collector.disable-defaults", "--collector.loadavg", "--collector.uname"],
    );
    let only = get(node.addr, "/metrics?collect%5B%5D=loadavg").text();
    assert!(only.contains("node_scrape_collector_success{collector=\"loadavg\"}"));
    assert!(!only.contains("collector=\"uname\""));

    let without = get(node.addr, "/metrics?exclude[]=loadavg").text();
    assert!(!without.contains("collector=\"loadavg\""));
    assert!(without.contains("collector=\"uname\""));

    let unknown = get(node.addr, "/metrics?collect[]=nosuch");
    assert_eq!(unknown.status, 400);
    assert_eq!(
        unknown.text(),
        "Couldn't create filtered metrics handler: couldn't create collector: missing collector: nosuch"
    );
    let disabled = get(node.addr, "/metrics?collect[]=cpu");
    assert_eq!(disabled.status, 400);
    assert!(disabled.text().ends_with("disabled collector: cpu"));
    let both = get(node.addr, "/metrics?collect[]=loadavg&exclude[]=uname");
    assert_eq!(both.status, 400);
    assert_eq!(both.text(), "Combined collect and exclude queries are not allowed.");
}

#[test]
fn telemetry_path_and_exporter_metrics_flags() {
    let node = start(
        "paths",
        &[
            "--collector.disable-defaults",
            "--collector.loadavg",
            "--web.telemetry-path=/custom",
            "--web.disable-exporter-metrics",
        ],
    );
    let text = get(node.addr, "/custom").text();
    assert!(text.contains("node_load1"));
    assert!(!text.contains("process_"), "exporter metrics not disabled");
    assert_eq!(get(node.addr, "/metrics").status, 404);
    assert!(get(node.addr, "/").text().contains("href=\"/custom\""));
}

#[test]
fn bad_flags_fail_at_startup_naming_the_flag() {
    for (args, flag) in [
        (&["exporter", "--collector.nosuch"][..], "--collector.nosuch"),
        (&["exporter", "--web.max-requests=many"][..], "--web.max-requests"),
        (&["exporter", "--log.level=loud"][..], "--log.level"),
        (&["exporter", "--web.listen-address=not an address"][..], "--web.listen-address"),
    ] {
        let out = Command::new(binary()).args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} started");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{args:?}: error does not name {flag}: {err}");
    }
}

#[test]
fn version_and_help() {
    let out = Command::new(binary()).args(["exporter", "--version"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    let out = Command::new(binary()).args(["exporter", "-h"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["--web.listen-address", "--collector.loadavg", "--path.procfs", "--log.format"] {
        assert!(help.contains(flag), "-h does not list {flag}");
    }
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let node = start("sigterm", &["--collector.disable-defaults", "--collector.loadavg"]);
    assert_eq!(get(node.addr, "/metrics").status, 200);
    let status = node.terminate();
    assert!(status.success(), "exit status {status}");
}

#[test]
fn two_listen_addresses() {
    let dir = tmp("listen2");
    let port = xtests::free_port();
    let extra = format!("--web.listen-address=127.0.0.1:{port}");
    let node = Running::start(&dir, &["exporter", "--collector.disable-defaults", &extra]);
    assert_eq!(get(node.addr, "/").status, 200);
    let second = format!("127.0.0.1:{port}").parse().unwrap();
    assert_eq!(get(second, "/").status, 200);
}

#[test]
fn a_hung_collector_does_not_hold_up_the_scrape() {
    // The mount list is a FIFO nobody writes: opening it blocks the filesystem collector
    // for good, as a call on a dead NFS server would.
    let dir = tmp("hung");
    std::fs::create_dir_all(dir.join("proc/1")).unwrap();
    std::fs::write(dir.join("proc/loadavg"), "0.5 0.25 1 1/2 3\n").unwrap();
    let fifo = dir.join("proc/1/mounts");
    let _ = std::fs::remove_file(&fifo);
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let procfs = format!("--path.procfs={}", dir.join("proc").display());
    // Another blocking collector, queued behind the hung one on the same helper thread.
    let textfiles = dir.join("textfile");
    std::fs::create_dir_all(&textfiles).unwrap();
    std::fs::write(textfiles.join("a.prom"), "node_custom 7\n").unwrap();
    let textfile = format!("--collector.textfile.directory={}", textfiles.display());
    let node = Running::start(
        &dir,
        &[
            "exporter",
            &procfs,
            "--collector.disable-defaults",
            "--collector.loadavg",
            "--collector.filesystem",
            "--collector.textfile",
            &textfile,
            "--web.max-scrape-timeout=60s",
        ],
    );
    for _ in 0..2 {
        // Prometheus's header sets the deadline; the answer comes before it, not after the
        // hung call (which never returns).
        let resp =
            request(node.addr, "GET /metrics HTTP/1.1\r\nX-Prometheus-Scrape-Timeout-Seconds: 2");
        assert_eq!(resp.status, 200);
        let text = resp.text();
        assert!(text.contains("node_scrape_collector_success{collector=\"filesystem\"} 0\n"));
        assert!(text.contains("node_scrape_collector_success{collector=\"loadavg\"} 1\n"));
        assert!(text.contains("node_load1 0.5\n"));
        assert!(text.contains("node_scrape_collector_success{collector=\"textfile\"} 1\n"));
        assert!(text.contains("node_custom 7\n"), "{text}");
    }
    // `/` is answered meanwhile.
    assert_eq!(get(node.addr, "/").status, 200);
}
