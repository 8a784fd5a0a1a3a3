//! Steady-state scrapes of the `/proc` collectors (cpu, entropy, filefd, meminfo, pressure,
//! schedstat, stat, vmstat) allocate nothing. `harness = false`: libtest's threads allocate, and
//! a counting global allocator needs the process to itself.
#![allow(unsafe_code)]

use engine::collector::{spec, Build, Settings, Shared};
use engine::encode::Encoder;
use engine::source::Paths;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to `System` unchanged, only counting; the default `realloc` and
// `alloc_zeroed` go through `alloc`, so they are counted too.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const NAMES: [&str; 8] =
    ["cpu", "entropy", "filefd", "meminfo", "pressure", "schedstat", "stat", "vmstat"];

fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/node_exporter-1.8.2");
    if !std::path::Path::new(root).is_dir() {
        eprintln!(
            "skipping: upstream fixtures not found at ../shared/fixtures/node_exporter-1.8.2"
        );
        return;
    }
    let paths = Paths::under(root);
    let mut settings = Settings::new();
    settings.set("collector.cpu.info", "true");
    settings.set("collector.cpu.info.bugs-include", "^(cpu_meltdown|spectre_.*|mds)$");
    settings.set("collector.cpu.info.flags-include", "^(aes|avx.?|constant_tsc)$");
    settings.set("collector.stat.softirq", "true");
    let shared = Shared::default();
    let build = Build { paths: &paths, settings: &settings, shared: &shared, enabled: &NAMES };
    let mut collectors: Vec<_> = NAMES
        .iter()
        .map(|name| (name, (spec(name).expect("registered").build)(&build).expect("builds")))
        .collect();
    let (mut enc, mut out) = (Encoder::new(), Vec::new());
    let mut scrape = || {
        enc.clear();
        out.clear();
        for (name, c) in collectors.iter_mut() {
            c.update(&mut enc).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        enc.finish(&mut out);
        out.len()
    };
    // The first scrapes open fds and size the buffers.
    let size = scrape();
    scrape();
    let before = ALLOCS.load(Relaxed);
    for _ in 0..200 {
        assert_eq!(scrape(), size);
    }
    let allocs = ALLOCS.load(Relaxed) - before;
    assert_eq!(allocs, 0, "200 steady-state scrapes allocated {allocs} times");
    println!("proc_alloc_free: 200 scrapes of {size} bytes, 0 allocations");
}
