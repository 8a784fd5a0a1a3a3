//! The encoder, series per second, beside a naive encoder of the kind most exporters use:
//! `write!` into a `String` per sample, a `BTreeMap` of families, `{}` float formatting.
//!
//! The workload is a dense host's cpu family: 192 CPUs x 10 modes of `node_cpu_seconds_total`
//! with counter values, plus 1,000 single-sample gauge families, emitted in scan order.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use engine::encode::{Encoder, Kind};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;

const CPUS: u32 = 192;
const MODES: [&str; 10] =
    ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice"];
const GAUGES: u32 = 1000;
const SERIES: u64 = CPUS as u64 * MODES.len() as u64 + GAUGES as u64;

fn value(cpu: u32, mode: usize) -> f64 {
    f64::from(cpu * 7919 + mode as u32 * 104_729) / 100.0
}

fn encode(enc: &mut Encoder, names: &[String], out: &mut Vec<u8>) {
    enc.clear();
    let f =
        enc.family("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", Kind::Counter);
    let mut num = itoa::Buffer::new();
    for cpu in 0..CPUS {
        let cpu_label = num.format(cpu).as_bytes();
        for (m, mode) in MODES.iter().enumerate() {
            enc.sample(f, &[("cpu", cpu_label), ("mode", mode.as_bytes())], value(cpu, m));
        }
    }
    for (i, name) in names.iter().enumerate() {
        let g = enc.family(name, "A gauge.", Kind::Gauge);
        enc.sample_u64(g, &[], i as u64 * 4096);
    }
    out.clear();
    enc.finish(out);
}

/// A family as a naive encoder keeps it: HELP, type, and each series' labels and value.
type NaiveFamily = (String, &'static str, Vec<(Vec<(String, String)>, String)>);

fn naive(names: &[String], out: &mut String) {
    let mut families: BTreeMap<String, NaiveFamily> = BTreeMap::new();
    for cpu in 0..CPUS {
        for (m, mode) in MODES.iter().enumerate() {
            families
                .entry("node_cpu_seconds_total".to_owned())
                .or_insert_with(|| {
                    ("Seconds the CPUs spent in each mode.".to_owned(), "counter", vec![])
                })
                .2
                .push((
                    vec![
                        ("cpu".to_owned(), cpu.to_string()),
                        ("mode".to_owned(), mode.to_string()),
                    ],
                    format!("{}", value(cpu, m)),
                ));
        }
    }
    for (i, name) in names.iter().enumerate() {
        families
            .entry(name.clone())
            .or_insert_with(|| ("A gauge.".to_owned(), "gauge", vec![]))
            .2
            .push((vec![], format!("{}", (i as u64 * 4096) as f64)));
    }
    out.clear();
    for (name, (help, kind, mut series)) in families {
        series.sort_by(|a, b| a.0.iter().map(|l| &l.1).cmp(b.0.iter().map(|l| &l.1)));
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in series {
            out.push_str(&name);
            if !labels.is_empty() {
                let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
                let _ = write!(out, "{{{}}}", l.join(","));
            }
            let _ = writeln!(out, " {v}");
        }
    }
}

fn bench(c: &mut Criterion) {
    let names: Vec<String> = (0..GAUGES).map(|i| format!("node_gauge_{i:04}")).collect();
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(SERIES));
    let mut enc = Encoder::new();
    let mut out = Vec::new();
    g.bench_function(BenchmarkId::new("nodegate", SERIES), |b| {
        b.iter(|| {
            encode(&mut enc, black_box(&names), &mut out);
            black_box(out.len())
        })
    });
    let mut text = String::new();
    g.bench_function(BenchmarkId::new("naive_write", SERIES), |b| {
        b.iter(|| {
            naive(black_box(&names), &mut text);
            black_box(text.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
