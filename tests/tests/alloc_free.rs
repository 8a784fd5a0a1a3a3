//! Steady-state scrapes allocate nothing: a counting global allocator wraps the system one,
//! and after warm-up 1,000 scrapes must not call it once. Checked on upstream's fixture tree
//! and on the live host, in-process and through the HTTP path (a loopback keep-alive client
//! whose own buffers are allocated before counting starts).
//!
//! `harness = false`: libtest's threads allocate while tests run, which would be counted.

#![allow(unsafe_code)]

use engine::collector::{Settings, REGISTRY};
use engine::exporter::{BuildInfo, Config, Handler, Mask, Node};
use engine::serve::{self, Server};
use engine::source::Paths;
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use xtests::FixedClient;

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to `System` unchanged, only counting; the default `realloc` and
// `alloc_zeroed` go through `alloc`.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(l) }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: `p` was allocated by `System` through `alloc` above.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SCRAPES: usize = 1_000;

fn config(paths: Paths, settings: Settings, enabled: Vec<&'static str>) -> Config {
    Config {
        paths,
        settings,
        enabled,
        exporter_metrics: true,
        build: BuildInfo { version: "test".into(), ..BuildInfo::default() },
    }
}

/// Collectors left out of the all-collectors run: tcpstat, whose series follow the host's TCP
/// connections, which this test itself opens and closes (a state seen for the first time adds
/// a series, and the encoder grows for it); and the collectors that speak D-Bus, since zbus
/// builds and decodes messages on the heap on every call (both are off by default).
const LEFT_OUT: &[&str] = &["logind", "systemd", "tcpstat"];

/// Every collector that can scrape without allocating.
fn all_collectors() -> Vec<&'static str> {
    REGISTRY.iter().map(|s| s.name).filter(|n| !LEFT_OUT.contains(n)).collect()
}

fn default_collectors() -> Vec<&'static str> {
    REGISTRY.iter().filter(|s| s.default_enabled).map(|s| s.name).collect()
}

/// Scrapes `SCRAPES` times after warm-up and returns the allocations counted.
fn scrapes(name: &str, cfg: Config) -> usize {
    let node = Node::new(cfg, 1).unwrap();
    let mut ex = node.exporter().unwrap();
    let mut out = Vec::new();
    let far = std::time::Instant::now() + std::time::Duration::from_secs(3600);
    for _ in 0..3 {
        out.clear();
        ex.scrape(Mask::ALL, far, &mut out);
    }
    let before = ALLOCS.load(Relaxed);
    for _ in 0..SCRAPES {
        out.clear();
        ex.scrape(Mask::ALL, far, &mut out);
    }
    let n = ALLOCS.load(Relaxed) - before;
    println!("{name}: {n} allocations in {SCRAPES} scrapes of {} bytes", out.len());
    n
}

const GET_ROOT: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
const GET_METRICS: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n";
const GET_GZIP: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n";
const HEAD_METRICS: &[u8] = b"HEAD /metrics HTTP/1.1\r\nHost: t\r\n\r\n";
const FILTERED: &[u8] =
    b"GET /metrics?collect%5B%5D=loadavg&collect[]=meminfo HTTP/1.1\r\nHost: t\r\n\r\n";
/// A body on a request answered 405 on the loop: read past, chunked.
const POST_CHUNKED: &[u8] = b"POST /metrics HTTP/1.1\r\nHost: t\r\n\
    Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
const PIPELINED: &[u8] =
    b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n";

/// One round of every kind of exchange with the exporter over HTTP.
fn round(addr: SocketAddr, kept: &mut FixedClient, fresh: &mut FixedClient) {
    for (req, head_only, status) in [
        (GET_ROOT, false, 200),
        (GET_METRICS, false, 200),
        (GET_GZIP, false, 200),
        (HEAD_METRICS, true, 200),
        (FILTERED, false, 200),
        (POST_CHUNKED, false, 405),
    ] {
        kept.send(req);
        assert_eq!(kept.reply(head_only).0, status);
    }
    kept.send(PIPELINED);
    assert_eq!((kept.reply(false).0, kept.reply(false).0), (200, 200));
    // A new connection each round: its slot and buffers come from the server's pool.
    fresh.reconnect(addr);
    fresh.send(GET_METRICS);
    assert_eq!(fresh.reply(false).0, 200);
}

/// Serves the exporter on loopback and counts allocations over `SCRAPES` rounds after
/// warm-up, client included.
fn http_rounds(name: &str, cfg: Config) -> usize {
    let workers = 2;
    let node = Node::new(cfg, workers).unwrap();
    let handler =
        Arc::new(Handler::new(node, "/metrics", "test", std::time::Duration::from_secs(30)));
    let server = Server::bind(
        serve::Config {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
            workers,
            handle_signals: false,
            ..serve::Config::default()
        },
        handler,
    )
    .unwrap();
    let addr = server.local_addrs()[0];
    let stopper = server.stopper();
    let running = std::thread::spawn(move || server.run());

    let mut kept = FixedClient::connect(addr, 4 << 20);
    let mut fresh = FixedClient::connect(addr, 4 << 20);
    // Warm-up: every buffer grows to its working size, and the pool holds enough connection
    // slots for a connection opened before the server has seen the previous one close.
    // Requests sent on several connections before any answer is read keep every worker busy
    // at once, so each worker's buffers (gzip's included) see every kind of request.
    let mut burst: Vec<FixedClient> = (0..8).map(|_| FixedClient::connect(addr, 1 << 20)).collect();
    for _ in 0..10 {
        for c in &mut burst {
            c.send(GET_GZIP);
            c.send(GET_METRICS);
            c.send(FILTERED);
        }
        for c in &mut burst {
            for _ in 0..3 {
                assert_eq!(c.reply(false).0, 200);
            }
        }
    }
    drop(burst);
    for _ in 0..100 {
        round(addr, &mut kept, &mut fresh);
    }
    let before = ALLOCS.load(Relaxed);
    for _ in 0..SCRAPES {
        round(addr, &mut kept, &mut fresh);
    }
    let n = ALLOCS.load(Relaxed) - before;
    stopper.stop();
    drop((kept, fresh));
    running.join().unwrap().unwrap();
    println!(
        "{name} over HTTP: {n} allocations in {SCRAPES} rounds of 9 requests and 1 connection"
    );
    n
}

fn fixture_config(root: &std::path::Path) -> Config {
    let mut settings = Settings::new();
    settings.set(
        "collector.textfile.directory",
        root.join("textfile/two_metric_files").to_string_lossy().into_owned(),
    );
    settings.set("collector.cpu.info", "true");
    settings.set("collector.stat.softirq", "true");
    // The netlink collectors as upstream's end-to-end run sets them: fixtures where there are
    // some, and netdev on the live host's lo only, whose counters but two stay at 0.
    settings.set("collector.netdev.device-include", "lo");
    settings.set("collector.arp.netlink", "false");
    settings.set("collector.qdisc.fixtures", root.join("qdisc").to_string_lossy().into_owned());
    settings.set("collector.wifi.fixtures", root.join("wifi").to_string_lossy().into_owned());
    // sysctl reports nothing unless asked: upstream's end-to-end selection.
    for v in ["kernel.threads-max", "fs.file-nr", "fs.file-nr:total,current,max"] {
        settings.push("collector.sysctl.include", v);
    }
    settings.push("collector.sysctl.include-info", "kernel.seccomp.actions_avail");
    config(Paths::under(root), settings, all_collectors())
}

fn main() {
    let mut failures = Vec::new();
    let mut check = |what: &str, n: usize| {
        if n != 0 {
            failures.push(format!("{what}: {n} allocations"));
        }
    };
    match xtests::linked_fixtures() {
        Some(root) => {
            check("fixture tree", scrapes("fixtures", fixture_config(&root)));
            check("fixture tree over HTTP", http_rounds("fixtures", fixture_config(&root)));
        }
        None => println!("skipping the fixture tree: ../shared not found"),
    }
    let live = || config(Paths::default(), Settings::new(), default_collectors());
    check("live host", scrapes("live host", live()));
    // netclass's other path: two netlink dumps (links, ethtool link modes) and three sysfs
    // attributes per interface.
    let mut netclass = Settings::new();
    netclass.set("collector.netclass.netlink", "true");
    netclass.set("collector.netclass_rtnl.with-stats", "true");
    let netclass = config(Paths::default(), netclass, vec!["netclass"]);
    check("netclass over netlink", scrapes("netclass over netlink", netclass));
    check("live host over HTTP", http_rounds("live host", live()));
    if !failures.is_empty() {
        eprintln!("hot path allocated: {}", failures.join("; "));
        std::process::exit(1);
    }
    println!("alloc_free: ok");
}
