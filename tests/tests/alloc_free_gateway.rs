//! The gateway's steady state allocates nothing: re-pushing the same groups with bodies of
//! the same size (text, protobuf, gzip, PUT and POST) and scraping (text, protobuf, gzip),
//! in-process and over HTTP (pushes kept in memory, or durable in a log). A counting global
//! allocator wraps the system one; after warm-up, 1,000 rounds must not call it once.
//!
//! `harness = false`: libtest's threads allocate while tests run, which would be counted.

#![allow(unsafe_code)]

use engine::serve::{self, Server};
use gateway::group::Group;
use gateway::handler::{Config, Gateway};
use gateway::op::{Format, Journal, Kind, Op, Volatile};
use gateway::own::BuildInfo;
use gateway::proto;
use gateway::store::{Pushed, Scratch, Store};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
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

const ROUNDS: usize = 1_000;

/// A text body of `n` series in a few families, with a histogram and a summary.
fn text_body(n: usize) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(
        b"# HELP job_duration_seconds How long it took.\n# TYPE job_duration_seconds gauge\n",
    );
    for i in 0..n {
        writeln!(b, "job_duration_seconds{{step=\"s{i}\",host=\"h\"}} {}.25", i).unwrap();
    }
    b.extend_from_slice(b"# TYPE lat histogram\nlat_bucket{le=\"0.5\"} 1\nlat_bucket{le=\"1\"} 3\nlat_sum 2.5\nlat_count 3\n");
    b.extend_from_slice(b"# TYPE rpc summary\nrpc{quantile=\"0.5\"} 4\nrpc_sum 9\nrpc_count 2\n");
    b
}

/// A protobuf body of `n` gauge series and a native histogram.
fn proto_body(n: usize) -> Vec<u8> {
    let mut fam = Vec::new();
    proto::put_bytes(&mut fam, 1, b"pb_gauge");
    proto::put_uvarint(&mut fam, 3, 1);
    for i in 0..n {
        let mut m = Vec::new();
        let mut lp = Vec::new();
        proto::put_bytes(&mut lp, 1, b"i");
        proto::put_bytes(&mut lp, 2, i.to_string().as_bytes());
        proto::put_bytes(&mut m, 1, &lp);
        let mut g = Vec::new();
        proto::put_f64(&mut g, 1, i as f64);
        proto::put_bytes(&mut m, 2, &g);
        proto::put_bytes(&mut fam, 4, &m);
    }
    let mut out = Vec::new();
    proto::put_varint(&mut out, fam.len() as u64);
    out.extend_from_slice(&fam);
    let mut h = Vec::new();
    proto::put_uvarint(&mut h, 1, 3);
    proto::put_f64(&mut h, 2, 1.5);
    proto::put_uvarint(&mut h, 5, 0);
    let mut span = Vec::new();
    proto::put_uvarint(&mut span, 2, 2);
    proto::put_bytes(&mut h, 12, &span);
    proto::put_uvarint(&mut h, 13, 2);
    proto::put_uvarint(&mut h, 13, 0);
    let mut m = Vec::new();
    proto::put_bytes(&mut m, 7, &h);
    let mut fam = Vec::new();
    proto::put_bytes(&mut fam, 1, b"pb_native");
    proto::put_uvarint(&mut fam, 3, 4);
    proto::put_bytes(&mut fam, 4, &m);
    proto::put_varint(&mut out, fam.len() as u64);
    out.extend_from_slice(&fam);
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Pushes and scrapes on the store directly.
fn in_process() -> usize {
    let store = Store::new();
    let mut s = Scratch::new();
    let text = text_body(200);
    let pb = proto_body(100);
    let own = Group::default();
    let mut out = Vec::new();
    let round = |s: &mut Scratch, out: &mut Vec<u8>| {
        for (job, kind, format, body) in [
            ("a", Kind::Put, Format::Text, &text[..]),
            ("b", Kind::Post, Format::Text, &text[..]),
            ("c", Kind::Put, Format::Protobuf, &pb[..]),
        ] {
            let op = Op {
                kind,
                format,
                time_ms: 1_700_000_000_000,
                labels: [(&b"instance"[..], &b"x"[..]), (b"job", job.as_bytes())]
                    .into_iter()
                    .collect(),
                body,
            };
            assert!(matches!(store.push(s, &Volatile, &op, true), Pushed::Stored));
        }
        for protobuf in [false, true] {
            out.clear();
            store.scrape(s, &own, protobuf, out);
        }
    };
    for _ in 0..5 {
        round(&mut s, &mut out);
    }
    let before = ALLOCS.load(Relaxed);
    for _ in 0..ROUNDS {
        round(&mut s, &mut out);
    }
    let n = ALLOCS.load(Relaxed) - before;
    println!("gateway in-process: {n} allocations in {ROUNDS} rounds of 3 pushes and 2 scrapes");
    n
}

fn request(method: &str, path: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// A durable journal in a fresh directory: every push waits for its `fdatasync`.
fn file_journal(dir: &std::path::Path) -> Arc<dyn Journal> {
    let journal = gateway::persist::open(&dir.join("gateway.db"))
        .unwrap()
        .replay(|_| unreachable!("a fresh directory holds no ops"))
        .unwrap();
    Arc::new(journal)
}

/// Pushes and scrapes through the HTTP server, with `journal` keeping the pushes.
fn over_http(journal: Arc<dyn Journal>) -> usize {
    let cfg = Config {
        telemetry_path: "/metrics".into(),
        checked: true,
        build: BuildInfo { version: "test".into(), ..BuildInfo::default() },
        ..Config::default()
    };
    let workers = 2;
    let gw = Arc::new(Gateway::new(cfg, Arc::new(Store::new()), journal));
    let server = Server::bind(
        serve::Config {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
            workers,
            max_body: 16 << 20,
            handle_signals: false,
            ..serve::Config::default()
        },
        Arc::clone(&gw),
    )
    .unwrap();
    let addr = server.local_addrs()[0];
    let stopper = server.stopper();
    let running = std::thread::spawn(move || server.run());

    let text = text_body(200);
    let pb = proto_body(100);
    let gz = gzip(&text);
    let ct = "Content-Type: application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited\r\n";
    let reqs: Vec<(Vec<u8>, u16)> = vec![
        (request("PUT", "/metrics/job/a/instance/x", "", &text), 200),
        (request("POST", "/metrics/job/b/x@base64/eA", "", &text), 200),
        (request("PUT", "/metrics/job@base64/Yw/path@base64/L3Zhci90bXA", ct, &pb), 200),
        (request("PUT", "/metrics/job/d", "Content-Encoding: gzip\r\n", &gz), 200),
        (request("GET", "/metrics", "", b""), 200),
        (request("GET", "/metrics", &format!("Accept: {}", &ct[14..]), b""), 200),
        (request("GET", "/metrics", "Accept-Encoding: gzip\r\n", b""), 200),
        (request("GET", "/-/healthy", "", b""), 200),
    ];
    let mut kept = FixedClient::connect(addr, 8 << 20);
    let round = |c: &mut FixedClient| {
        for (req, status) in &reqs {
            c.send(req);
            assert_eq!(c.reply(false).0, *status);
        }
    };
    // Warm-up: several connections at once, so that every worker's buffers see every kind.
    let mut burst: Vec<FixedClient> = (0..4).map(|_| FixedClient::connect(addr, 8 << 20)).collect();
    for _ in 0..10 {
        for c in &mut burst {
            round(c);
        }
    }
    drop(burst);
    for _ in 0..100 {
        round(&mut kept);
    }
    let before = ALLOCS.load(Relaxed);
    for _ in 0..ROUNDS {
        round(&mut kept);
    }
    let n = ALLOCS.load(Relaxed) - before;
    stopper.stop();
    drop(kept);
    running.join().unwrap().unwrap();
    println!("gateway over HTTP: {n} allocations in {ROUNDS} rounds of 4 pushes and 4 requests");
    n
}

fn main() {
    let mut failures = Vec::new();
    let dir = std::env::temp_dir().join(format!("nodegate-alloc-free-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let durable = over_http(file_journal(&dir));
    std::fs::remove_dir_all(&dir).unwrap();
    for (what, n) in [
        ("in-process", in_process()),
        ("over HTTP", over_http(Arc::new(Volatile))),
        ("over HTTP, durable", durable),
    ] {
        if n != 0 {
            failures.push(format!("{what}: {n} allocations"));
        }
    }
    if !failures.is_empty() {
        eprintln!("gateway hot path allocated: {}", failures.join("; "));
        std::process::exit(1);
    }
    println!("alloc_free_gateway: ok");
}
