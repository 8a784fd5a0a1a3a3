//! Steady-state scrapes of the textfile collector allocate nothing: after a warm-up, 500
//! scrapes of an unchanged directory (files re-listed, re-opened, re-parsed and re-encoded each
//! time) must not call the allocator once.
#![allow(unsafe_code)]
// A test binary without libtest: a panic is how it fails.
#![allow(clippy::unwrap_used)]

use engine::collector::{self, Build, Settings, Shared};
use engine::encode::Encoder;
use engine::source::Paths;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to `System`, only counting; the default `realloc` and `alloc_zeroed` call
// `alloc`, so they are counted too.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(l) }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: `p` came from `System.alloc` with this layout.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const FILES: &[(&str, &str)] = &[
    (
        "a.prom",
        "# HELP rpc_seconds RPC latency.\n# TYPE rpc_seconds summary\n\
         rpc_seconds{svc=\"a\",quantile=\"0.5\"} 0.1\nrpc_seconds{svc=\"a\",quantile=\"0.9\"} 0.4\n\
         rpc_seconds_sum{svc=\"a\"} 17.5\nrpc_seconds_count{svc=\"a\"} 100\n\
         # TYPE req histogram\nreq_bucket{le=\"1\"} 3\nreq_bucket{le=\"5\"} 9\nreq_sum 20\n\
         req_count 9\nshared{file=\"a\",path=\"/x \\\"y\\\"\"} 1\n",
    ),
    ("b.prom", "shared{file=\"b\"} 2\n# HELP up Up.\n# TYPE up gauge\nup{job=\"x\"} 1\n"),
    ("c.txt", "not read\n"),
];

fn main() {
    let dir = std::env::temp_dir().join(format!("nodegate-textfile-alloc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in FILES {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let mut settings = Settings::new();
    settings.set("collector.textfile.directory", dir.to_str().unwrap());
    let build = Build {
        paths: &Paths::default(),
        settings: &settings,
        shared: &Shared::default(),
        enabled: &["textfile"],
    };
    let mut c = (collector::spec("textfile").unwrap().build)(&build).unwrap();
    let mut enc = Encoder::new();
    let mut out = Vec::new();
    let mut scrape = |out: &mut Vec<u8>| {
        enc.clear();
        c.update(&mut enc).unwrap();
        out.clear();
        enc.finish(out);
    };
    for _ in 0..3 {
        scrape(&mut out);
    }
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(text.contains("rpc_seconds_count{svc=\"a\"} 100\n"), "{text}");
    // Missing labels are filled per file's family, as upstream: b.prom has no `path`.
    assert!(
        text.contains("shared{file=\"b\"} 2\nshared{file=\"a\",path=\"/x \\\"y\\\"\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("node_textfile_scrape_error 0\n"), "{text}");

    let before = ALLOCS.load(Relaxed);
    for _ in 0..500 {
        scrape(&mut out);
    }
    let allocs = ALLOCS.load(Relaxed) - before;
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(allocs, 0, "500 steady-state scrapes allocated {allocs} times");
    println!("textfile_alloc: 500 scrapes, 0 allocations");
}
