//! `nodegate gateway`'s durability, black-box: every acknowledged push survives `kill -9`,
//! a damaged log tail is reported and the valid prefix recovered, `--persistence.file=""`
//! keeps nothing, a bad `--persistence.file` stops startup naming the flag, and a full disk
//! refuses changes with 507 while reads go on.

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
    std::fs::write(d.join("empty.db"), b"").unwrap();
    let files = [missing.to_string_lossy().into_owned(), "foreign.db".into(), "empty.db".into()];
    for file in files {
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
    assert_eq!(std::fs::read(d.join("empty.db")).unwrap(), b"", "an empty file was written");
}

/// A small tmpfs, unmounted when dropped; `None` when this process may not mount one.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(name: &str, size: &str) -> Option<Tmpfs> {
        let d = dir(name);
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "nodegate-test"])
            .arg(&d)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs(d))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `path` until the file system has no room left.
fn fill(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 4096];
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
}

#[test]
fn a_full_disk_refuses_changes_with_507_keeps_reads_and_recovers() {
    let Some(fs) = Tmpfs::mount("full", "512k") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root and mount(2) permission)");
        return;
    };
    let d = fs.0.clone();
    let args = ["gateway", "--persistence.interval=1s"];
    let gw = Running::start(&d, &args);
    for i in 0..5 {
        assert_eq!(push(gw.addr, "PUT", i, i), 200);
    }
    // Let a snapshot be written, so that the failing compactions below have one to keep.
    let snapshot = d.join("nodegate-gateway.db");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !snapshot.is_file() {
        assert!(std::time::Instant::now() < deadline, "no snapshot:\n{}", gw.stderr());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    fill(&d.join("filler"));
    let kept = std::fs::read(&snapshot).unwrap();
    // The log's last page may still have room for a push or two; after that, every change
    // is refused, and not applied.
    let mut acked: Vec<(usize, usize)> = (0..5).map(|i| (i, i)).collect();
    let mut refused = None;
    for n in 0..200 {
        let r = send(
            gw.addr,
            "PUT",
            &format!("/metrics/job/etl/instance/i{}", 10 + n),
            &[],
            format!("# TYPE batch_done gauge\nbatch_done{{step=\"load\"}} {n}\n").as_bytes(),
        );
        match r.status {
            200 => acked.push((10 + n, n)),
            507 => {
                refused = Some((10 + n, r.text()));
                break;
            }
            s => panic!("push answered {s}: {}", r.text()),
        }
    }
    let (group, msg) = refused.expect("pushes never failed on a full disk");
    assert!(msg.contains("not stored because the disk is full"), "{msg}");
    assert_eq!(push(gw.addr, "POST", 1, 999), 507);
    let del = send(gw.addr, "DELETE", "/metrics/job/etl/instance/i2", &[], b"");
    assert_eq!(del.status, 507, "{}", del.text());
    let text = scrape(gw.addr);
    assert!(!text.contains(&format!("instance=\"i{group}\"")), "a refused push was applied");
    assert!(text.contains(&series(1, 1)) && text.contains(&series(2, 2)), "{text}");
    // Reads keep working.
    assert_eq!(get(gw.addr, "/api/v1/metrics").status, 200);
    assert_eq!(get(gw.addr, "/").status, 200);
    // A compaction runs meanwhile and fails; the old snapshot must stay usable.
    // (The pushes that fitted in the log's last page left something to compact.)
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let log = gw.stderr();
    assert!(acked.len() > 5, "no push fitted before the disk was full");
    assert!(log.contains("error persisting metrics"), "no compaction failed:\n{log}");
    assert_eq!(std::fs::read(&snapshot).unwrap(), kept, "the snapshot changed on a full disk");
    let names: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "temp files left: {names:?}");
    eprintln!("full disk: {} pushes fitted, then 507: {msg}", acked.len() - 5);

    std::fs::remove_file(d.join("filler")).unwrap();
    assert_eq!(push(gw.addr, "PUT", group, 7), 200, "no recovery once space returned");
    acked.push((group, 7));
    drop(gw);

    let gw = Running::start(&d, &args);
    let text = scrape(gw.addr);
    for &(i, v) in &acked {
        assert!(text.contains(&series(i, v)), "acknowledged group i{i} lost:\n{text}");
    }
    let n = text.lines().filter(|l| l.starts_with("batch_done{")).count();
    assert_eq!(n, acked.len(), "more groups than were acknowledged:\n{text}");
    assert!(gw.stderr().contains("damaged_files=0"), "{}", gw.stderr());
}
