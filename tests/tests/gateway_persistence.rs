//! `nodegate gateway`'s durability, black-box: every acknowledged push survives `kill -9`,
//! a damaged log tail is reported and the valid prefix recovered, `--persistence.file=""`
//! keeps nothing, and a bad `--persistence.file` stops startup naming the flag.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use xtests::{binary, get, send, Running};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nodegate-persist-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn push(addr: SocketAddr, method: &str, instance: usize, value: usize) -> u16 {
    let body = format!("# TYPE batch_done gauge\nbatch_done{{step=\"load\"}} {value}\n");
    send(addr, method, &format!("/metrics/job/etl/instance/i{instance}"), &[], body.as_bytes())
        .status
}

fn scrape(addr: SocketAddr) -> String {
    let r = get(addr, "/metrics");
    assert_eq!(r.status, 200);
    r.text()
}

fn series(instance: usize, value: usize) -> String {
    format!("batch_done{{instance=\"i{instance}\",job=\"etl\",step=\"load\"}} {value}\n")
}

/// The write-ahead log segments beside the default persistence file.
fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("nodegate-gateway.db.wal."))
        .collect();
    v.sort();
    v
}

#[test]
fn acknowledged_pushes_survive_kill_9() {
    let d = dir("kill9");
    let gw = Running::start(&d, &["gateway"]);
    for i in 0..40 {
        assert_eq!(push(gw.addr, "PUT", i, i), 200);
    }
    assert_eq!(push(gw.addr, "POST", 3, 333), 200);
    assert_eq!(send(gw.addr, "DELETE", "/metrics/job/etl/instance/i7", &[], b"").status, 202);
    // Dropping the handle sends SIGKILL: no shutdown snapshot, only the log.
    drop(gw);

    let gw = Running::start(&d, &["gateway"]);
    let text = scrape(gw.addr);
    for i in (0..40).filter(|&i| i != 3 && i != 7) {
        assert!(text.contains(&series(i, i)), "group i{i} lost:\n{text}");
    }
    assert!(text.contains(&series(3, 333)), "the POST was lost");
    assert!(!text.contains("instance=\"i7\""), "the DELETE was lost");
    assert!(gw.stderr().contains("msg=\"state restored\""), "{}", gw.stderr());
}

#[test]
fn graceful_stop_snapshots_and_restart_restores() {
    let d = dir("graceful");
    let gw = Running::start(&d, &["gateway"]);
    assert_eq!(push(gw.addr, "PUT", 1, 10), 200);
    assert!(gw.terminate().success());
    assert!(d.join("nodegate-gateway.db").is_file(), "no snapshot written at shutdown");
    let gw = Running::start(&d, &["gateway"]);
    assert!(scrape(gw.addr).contains(&series(1, 10)));
}

#[test]
fn a_damaged_log_tail_is_reported_and_the_rest_recovered() {
    let d = dir("damage");
    let gw = Running::start(&d, &["gateway"]);
    for i in 0..10 {
        assert_eq!(push(gw.addr, "PUT", i, i), 200);
    }
    drop(gw);
    let seg = segments(&d).pop().expect("a log segment");
    let len = std::fs::metadata(&seg).unwrap().len();
    // Cut into the last record, as a torn write would.
    std::fs::OpenOptions::new().write(true).open(&seg).unwrap().set_len(len - 7).unwrap();

    let gw = Running::start(&d, &["gateway"]);
    let text = scrape(gw.addr);
    for i in 0..9 {
        assert!(text.contains(&series(i, i)), "group i{i} lost:\n{text}");
    }
    assert!(!text.contains("instance=\"i9\""), "a torn record was replayed");
    let log = gw.stderr();
    assert!(log.contains("damaged_files=1"), "damage not reported:\n{log}");
    let kept = std::fs::read_dir(&d)
        .unwrap()
        .any(|e| e.unwrap().file_name().to_string_lossy().contains(".damaged-"));
    assert!(kept, "the damaged bytes were not kept aside");
}

#[test]
fn empty_persistence_file_keeps_nothing() {
    let d = dir("volatile");
    let gw = Running::start(&d, &["gateway", "--persistence.file="]);
    assert_eq!(push(gw.addr, "PUT", 1, 1), 200);
    drop(gw);
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0, "files written with persistence off");
    let gw = Running::start(&d, &["gateway", "--persistence.file="]);
    assert!(!scrape(gw.addr).contains("batch_done"));
}

#[test]
fn a_bad_persistence_file_stops_startup_naming_the_flag() {
    let d = dir("bad");
    let missing = d.join("no/such/dir/state.db");
    std::fs::write(d.join("foreign.db"), b"this is not a nodegate file\n").unwrap();
    for file in [missing.to_string_lossy().into_owned(), "foreign.db".to_owned()] {
        let out = Command::new(binary())
            .current_dir(&d)
            .args(["gateway", "--web.listen-address=127.0.0.1:0"])
            .arg(format!("--persistence.file={file}"))
            .output()
            .unwrap();
        assert!(!out.status.success(), "started with --persistence.file={file}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--persistence.file"), "{err}");
    }
    assert_eq!(
        std::fs::read(d.join("foreign.db")).unwrap(),
        b"this is not a nodegate file\n",
        "a foreign file was overwritten"
    );
}
