//! The gateway's store at the scale of the reference's measurements: 1,000 groups of 100
//! series (100,000 stored series). Upstream 1.5.1 took 149 ms per checked push and 210 ms per
//! scrape there (the reference's §4.3, 2 vCPUs, over HTTP); these are the store alone.
//!
//! - `push/checked`: a PUT of 100 series to one of the groups, consistency check on.
//! - `push/unchecked`: the same with the check off.
//! - `scrape/text`, `scrape/protobuf`: one full exposition of the 100,000 series.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gateway::group::Group;
use gateway::op::{Format, Kind, Op, Volatile};
use gateway::store::{Pushed, Scratch, Store};
use std::fmt::Write as _;
use std::hint::black_box;

const GROUPS: usize = 1000;
const SERIES: usize = 100;

fn body(g: usize, round: usize) -> String {
    let mut b = String::from(
        "# HELP batch_step_seconds Seconds a step took.\n# TYPE batch_step_seconds gauge\n",
    );
    for s in 0..SERIES {
        let _ = writeln!(b, "batch_step_seconds{{step=\"s{s}\",shard=\"{g}\"}} {}.5", s + round);
    }
    b
}

fn push(store: &Store, s: &mut Scratch, g: usize, body: &str, checked: bool) {
    let job = format!("job{g}");
    let op = Op {
        kind: Kind::Put,
        format: Format::Text,
        time_ms: 1_700_000_000_000,
        labels: [(&b"instance"[..], &b"host"[..]), (b"job", job.as_bytes())].into_iter().collect(),
        body: body.as_bytes(),
    };
    assert!(matches!(store.push(s, &Volatile, &op, checked), Pushed::Stored));
}

fn filled() -> (Store, Scratch) {
    let store = Store::new();
    let mut s = Scratch::new();
    for g in 0..GROUPS {
        push(&store, &mut s, g, &body(g, 0), true);
    }
    (store, s)
}

fn benches(c: &mut Criterion) {
    let (store, mut s) = filled();
    let bodies: Vec<String> = (0..GROUPS).map(|g| body(g, 1)).collect();
    let mut group = c.benchmark_group("push");
    group.throughput(Throughput::Elements(SERIES as u64));
    for checked in [true, false] {
        let mut g = 0;
        group.bench_function(if checked { "checked" } else { "unchecked" }, |b| {
            b.iter(|| {
                g = (g + 1) % GROUPS;
                push(&store, &mut s, g, &bodies[g], checked);
            })
        });
    }
    group.finish();
    let own = Group::default();
    let mut out = Vec::new();
    store.scrape(&mut s, &own, false, &mut out);
    let mut group = c.benchmark_group("scrape");
    group.throughput(Throughput::Bytes(out.len() as u64));
    for protobuf in [false, true] {
        group.bench_function(if protobuf { "protobuf" } else { "text" }, |b| {
            b.iter(|| {
                out.clear();
                store.scrape(&mut s, &own, protobuf, &mut out);
                black_box(out.len())
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = gateway;
    config = Criterion::default().sample_size(10);
    targets = benches
}
criterion_main!(gateway);
