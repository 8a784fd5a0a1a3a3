//! `nodegate exporter` against a broken host, black-box: files that cannot be read, files
//! that vanish between and during scrapes, malformed content, a file larger than any buffer,
//! and a FIFO where a file should be. Every scrape must answer 200 in time, the faulty
//! collector with `node_scrape_collector_success 0` and every other collector with its data.
//!
//! The tree is built per test under the temp directory from this host's own /proc files
//! (real kernel text), and the exporter is pointed at it with `--path.procfs`/`--path.sysfs`
//! and `--collector.textfile.directory`.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use xtests::{read_response, Running};

/// Collector → the file it reads, relative to the procfs root.
const FILES: [(&str, &str); 7] = [
    ("loadavg", "loadavg"),
    ("meminfo", "meminfo"),
    ("stat", "stat"),
    ("vmstat", "vmstat"),
    ("interrupts", "interrupts"),
    ("netdev", "net/dev"),
    ("diskstats", "diskstats"),
];

/// A family each collector emits whenever it succeeds on this host's files.
fn witness(collector: &str) -> &'static str {
    match collector {
        "loadavg" => "node_load1 ",
        "meminfo" => "node_memory_MemTotal_bytes ",
        "stat" => "node_boot_time_seconds ",
        "vmstat" => "node_vmstat_pgfault ",
        "interrupts" => "node_interrupts_total{",
        "netdev" => "node_network_receive_bytes_total{",
        "diskstats" => "node_disk_reads_completed_total{",
        _ => unreachable!("{collector}"),
    }
}

struct Tree {
    root: PathBuf,
}

impl Tree {
    /// A procfs copy of this host's files, an empty sysfs and a textfile directory holding
    /// one good file.
    fn new(name: &str) -> Tree {
        let root =
            std::env::temp_dir().join(format!("nodegate-faults-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for d in ["proc/net", "sys", "text"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let t = Tree { root };
        for (_, f) in FILES {
            std::fs::write(t.proc(f), std::fs::read(Path::new("/proc").join(f)).unwrap()).unwrap();
        }
        std::fs::write(t.root.join("text/good.prom"), "# TYPE good gauge\ngood 1\n").unwrap();
        t
    }

    fn proc(&self, file: &str) -> PathBuf {
        self.root.join("proc").join(file)
    }

    fn start(&self, extra: &[&str]) -> Running {
        let mut args = vec![
            "exporter".to_owned(),
            "--collector.disable-defaults".to_owned(),
            "--no-collector.netdev.netlink".to_owned(),
            "--collector.textfile".to_owned(),
            format!("--path.procfs={}", self.root.join("proc").display()),
            format!("--path.sysfs={}", self.root.join("sys").display()),
            format!("--path.udev.data={}", self.root.join("udev").display()),
            format!("--collector.textfile.directory={}", self.root.join("text").display()),
        ];
        args.extend(FILES.iter().map(|(c, _)| format!("--collector.{c}")));
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Running::start(&self.root, &args)
    }

    /// Puts the host's copy of `file` back: rewritten in place if it is a file (a kept
    /// descriptor reads an inode, as it would a procfs file, whose text the kernel rewrites),
    /// else created anew.
    fn restore(&self, file: &str) {
        let p = self.proc(file);
        if p.is_dir() {
            std::fs::remove_dir(&p).unwrap();
        }
        std::fs::write(&p, std::fs::read(Path::new("/proc").join(file)).unwrap()).unwrap();
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// One scrape with a 3 s scrape timeout. A scrape that hangs fails the test when the client
/// gives up (60 s), which is a hang detector, not a timing assertion.
fn scrape(node: &Running) -> String {
    let mut s = TcpStream::connect(node.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: test\r\nX-Prometheus-Scrape-Timeout-Seconds: 3\r\n\
         Connection: close\r\n\r\n"
    )
    .unwrap();
    let r = read_response(&mut s, false);
    assert_eq!(r.status, 200);
    r.text()
}

/// `node_scrape_collector_success` of `collector`.
fn success(text: &str, collector: &str) -> u8 {
    let key = format!("node_scrape_collector_success{{collector=\"{collector}\"}} ");
    let line = text.lines().find_map(|l| l.strip_prefix(&key));
    line.unwrap_or_else(|| panic!("no success line for {collector}:\n{text}")).parse().unwrap()
}

/// Asserts that every collector but `failed` succeeded with its data, and `failed` did not.
fn only_failed(text: &str, failed: &[&str], case: &str) {
    for (c, _) in FILES {
        if failed.contains(&c) {
            assert_eq!(success(text, c), 0, "{case}: {c} should have failed");
        } else {
            assert_eq!(success(text, c), 1, "{case}: {c} failed");
            assert!(text.contains(witness(c)), "{case}: no {} from {c}", witness(c));
        }
    }
    assert_eq!(success(text, "textfile"), 1, "{case}");
    assert!(text.contains("\ngood 1\n"), "{case}: the textfile collector's data is missing");
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}

#[test]
fn malformed_content_fails_only_its_collector() {
    let tree = Tree::new("malformed");
    let node = tree.start(&[]);
    only_failed(&scrape(&node), &[], "before");
    let garbage: &[u8] = b"\x00\xffgarbage {{{ not: a proc file\n\n:::\tx y z\n1 2 3 4 5 6 7 8 9\n";
    for (c, f) in FILES {
        // Rewritten in place, as the kernel's text changes under a kept descriptor.
        std::fs::write(tree.proc(f), garbage).unwrap();
        only_failed(&scrape(&node), &[c], &format!("garbage in {f}"));
        tree.restore(f);
        only_failed(&scrape(&node), &[], &format!("{f} restored"));
    }
}

#[test]
fn unreadable_and_missing_files_fail_only_their_collector() {
    let tree = Tree::new("unreadable");
    // A directory where a file should be (EISDIR: root reads any file, so permissions cannot
    // make one unreadable here), and a file that is not there.
    std::fs::remove_file(tree.proc("meminfo")).unwrap();
    std::fs::create_dir(tree.proc("meminfo")).unwrap();
    std::fs::remove_file(tree.proc("loadavg")).unwrap();
    std::fs::create_dir(tree.root.join("text/dir.prom")).unwrap();
    let node = tree.start(&[]);
    let text = scrape(&node);
    only_failed(&text, &["meminfo", "loadavg"], "EISDIR and ENOENT");
    assert!(text.contains("node_textfile_scrape_error 1\n"), "{text}");
    // Both come back without a restart.
    tree.restore("meminfo");
    tree.restore("loadavg");
    only_failed(&scrape(&node), &[], "restored");
}

#[test]
fn files_vanishing_during_scrapes() {
    let tree = Tree::new("vanish");
    let node = tree.start(&[]);
    let stop = AtomicBool::new(false);
    let (mut with_meminfo, mut with_prom, mut scrapes) = (0, 0, 0);
    std::thread::scope(|s| {
        s.spawn(|| {
            // Rename files in and out as fast as possible: a procfs file (re-opened once its
            // kept descriptor is gone) and a textfile, which is opened on every scrape.
            let (mem, away) = (tree.proc("meminfo"), tree.proc("meminfo.away"));
            let prom = tree.root.join("text/flap.prom");
            let tmp = tree.root.join("flap.tmp");
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                std::fs::rename(&mem, &away).unwrap();
                std::fs::write(&tmp, format!("# TYPE flap gauge\nflap {i}\n")).unwrap();
                std::fs::rename(&tmp, &prom).unwrap();
                std::fs::rename(&away, &mem).unwrap();
                std::fs::remove_file(&prom).unwrap();
                i += 1;
            }
        });
        for _ in 0..60 {
            let text = scrape(&node);
            scrapes += 1;
            let others: Vec<&str> =
                FILES.iter().map(|(c, _)| *c).filter(|&c| c != "meminfo").collect();
            for c in others {
                assert_eq!(success(&text, c), 1, "{c} failed while meminfo flapped");
            }
            match success(&text, "meminfo") {
                1 => {
                    assert!(text.contains(witness("meminfo")), "success without data");
                    with_meminfo += 1;
                }
                _ => assert!(!text.contains(witness("meminfo")), "failure with data"),
            }
            // The textfile is there whole or not at all.
            let flap = text.lines().filter(|l| l.starts_with("flap ")).count();
            assert!(flap <= 1, "{text}");
            with_prom += flap;
            assert!(text.contains("\ngood 1\n"), "the steady textfile is missing");
        }
        stop.store(true, Ordering::Relaxed);
    });
    eprintln!("{scrapes} scrapes: meminfo read in {with_meminfo}, flap.prom in {with_prom}");
}

#[test]
fn a_file_larger_than_any_buffer_fails_cleanly_in_bounded_memory() {
    let tree = Tree::new("large");
    // 65 MiB of well-formed /proc/interrupts rows, past the 64 MiB read limit.
    let mut text = b"           CPU0       CPU1\n".to_vec();
    let mut n = 0u64;
    while text.len() <= 65 << 20 {
        text.extend_from_slice(
            format!("{n:>4}:    1    2   IO-APIC   {n}-edge      dev\n").as_bytes(),
        );
        n += 1;
    }
    std::fs::write(tree.proc("interrupts"), &text).unwrap();
    drop(text);
    let node = tree.start(&[]);
    for _ in 0..2 {
        only_failed(&scrape(&node), &["interrupts"], "a 65 MiB /proc/interrupts");
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", node.child.id())).unwrap();
    let hwm: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix(" kB"))
        .unwrap()
        .parse()
        .unwrap();
    eprintln!("65 MiB /proc/interrupts: collector failed, peak RSS {} MiB", hwm >> 10);
    // One buffer of at most the 64 MiB limit, plus the process itself.
    assert!(hwm < 128 << 10, "peak RSS {hwm} kB: the read was not bounded by the limit");
}

#[test]
fn a_fifo_in_place_of_a_file_does_not_hang_the_scrape() {
    let tree = Tree::new("fifo");
    std::fs::remove_file(tree.proc("loadavg")).unwrap();
    mkfifo(&tree.proc("loadavg"));
    mkfifo(&tree.root.join("text/pipe.prom"));
    // A hwmon chip whose `name` is a FIFO: the chip is named after its directory instead.
    let chip = tree.root.join("sys/class/hwmon/hwmon0");
    std::fs::create_dir_all(&chip).unwrap();
    mkfifo(&chip.join("name"));
    std::fs::write(chip.join("temp1_input"), "42000\n").unwrap();
    let node = tree.start(&["--collector.hwmon"]);
    for _ in 0..2 {
        let text = scrape(&node);
        only_failed(&text, &["loadavg"], "a FIFO as /proc/loadavg");
        assert!(text.contains("node_textfile_scrape_error 1\n"), "{text}");
        assert_eq!(success(&text, "hwmon"), 1, "hwmon blocked on its FIFO");
        assert!(text.contains("node_hwmon_temp_celsius{chip=\"hwmon0\",sensor=\"temp1\"} 42\n"));
    }
}
