//! The gateway's store as it grows: 10,000, 100,000 and 1,000,000 stored series, in groups of
//! 100 series (the reference's measurements used 1,000 such groups; upstream 1.5.1 took
//! 149 ms per checked push and 210 ms per scrape at 100,000 series, over HTTP on 2 vCPUs).
//! These are the store alone, without HTTP or persistence.
//!
//! - `push/checked/<series>`, `push/unchecked/<series>`: a PUT of 100 series replacing one
//!   group, consistency check on and off (elements: series pushed).
//! - `delete/<series>`: a DELETE of one group; the group is pushed back between iterations,
//!   untimed, so the store keeps its size.
//! - `scrape/text/<series>`, `scrape/protobuf/<series>`: one full exposition (bytes written).
//!
//! `cargo test --benches` runs each bench once in debug: there only the smallest size is
//! filled, so that CI stays fast. Under `cargo bench` (which passes `--bench`), every size is.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gateway::group::Group;
use gateway::op::{Format, Kind, Op, Volatile};
use gateway::store::{Pushed, Scratch, Store};
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

const SERIES: usize = 100;
const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];

/// The sizes to fill: all under `cargo bench`, the smallest under `cargo test --benches`.
fn sizes() -> &'static [usize] {
    if std::env::args().any(|a| a == "--bench") {
        &SIZES
    } else {
        &SIZES[..1]
    }
}

fn body(g: usize, round: usize) -> String {
    let mut b = String::from(
        "# HELP batch_step_seconds Seconds a step took.\n# TYPE batch_step_seconds gauge\n",
    );
    for s in 0..SERIES {
        let _ = writeln!(b, "batch_step_seconds{{step=\"s{s}\",shard=\"{g}\"}} {}.5", s + round);
    }
    b
}

fn op<'a>(kind: Kind, job: &'a str, body: &'a str) -> Op<'a> {
    Op {
        kind,
        format: Format::Text,
        time_ms: 1_700_000_000_000,
        labels: [(&b"instance"[..], &b"host"[..]), (b"job", job.as_bytes())].into_iter().collect(),
        body: body.as_bytes(),
    }
}

fn push(store: &Store, s: &mut Scratch, job: &str, body: &str, checked: bool) {
    let op = op(Kind::Put, job, body);
    assert!(matches!(store.push(s, &Volatile, &op, checked), Pushed::Stored));
}

fn filled(groups: usize) -> (Store, Scratch) {
    let store = Store::new();
    let mut s = Scratch::new();
    for g in 0..groups {
        push(&store, &mut s, &format!("job{g}"), &body(g, 0), true);
    }
    (store, s)
}

fn benches(c: &mut Criterion) {
    for &size in sizes() {
        let groups = size / SERIES;
        let (store, mut s) = filled(groups);
        let jobs: Vec<String> = (0..groups).map(|g| format!("job{g}")).collect();
        let bodies: Vec<String> = (0..groups).map(|g| body(g, 1)).collect();

        let mut group = c.benchmark_group("push");
        group.throughput(Throughput::Elements(SERIES as u64));
        for checked in [true, false] {
            let mut g = 0;
            let name = if checked { "checked" } else { "unchecked" };
            group.bench_function(BenchmarkId::new(name, size), |b| {
                b.iter(|| {
                    g = (g + 1) % groups;
                    push(&store, &mut s, &jobs[g], &bodies[g], checked);
                })
            });
        }
        group.finish();

        let mut group = c.benchmark_group("delete");
        group.throughput(Throughput::Elements(SERIES as u64));
        let mut g = 0;
        group.bench_function(BenchmarkId::from_parameter(size), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    g = (g + 1) % groups;
                    let del = op(Kind::Delete, &jobs[g], "");
                    let t0 = Instant::now();
                    store.delete(&mut s, &Volatile, black_box(&del)).unwrap();
                    spent += t0.elapsed();
                    push(&store, &mut s, &jobs[g], &bodies[g], false);
                }
                spent
            })
        });
        group.finish();

        let own = Group::default();
        let mut out = Vec::new();
        let mut group = c.benchmark_group("scrape");
        group.sample_size(10);
        for protobuf in [false, true] {
            out.clear();
            store.scrape(&mut s, &own, protobuf, &mut out);
            group.throughput(Throughput::Bytes(out.len() as u64));
            let name = if protobuf { "protobuf" } else { "text" };
            group.bench_function(BenchmarkId::new(name, size), |b| {
                b.iter(|| {
                    out.clear();
                    store.scrape(&mut s, &own, protobuf, &mut out);
                    black_box(out.len())
                })
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = gateway;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(gateway);
