//! The push body parsers in bytes per second: text format 0.0.4 and delimited protobuf, each
//! read into a group as a PUT is (grouping labels set on every series, families sorted).
//!
//! The body is what a batch job's client library pushes: 20 families of gauges, counters,
//! a histogram and a summary, 1,000 series in all. The protobuf body is the same families as
//! the gateway's own protobuf exposition writes them, so both parsers read the same data.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gateway::group::Group;
use gateway::op::{Format, Kind, Op, Volatile};
use gateway::parse::Parser;
use gateway::store::{Pushed, Scratch, Store};
use std::fmt::Write as _;
use std::hint::black_box;

const KEY: [(&[u8], &[u8]); 2] = [(b"instance", b"worker-7"), (b"job", b"nightly_etl")];

fn text_body() -> String {
    let mut b = String::new();
    for f in 0..16 {
        let kind = if f % 2 == 0 { "gauge" } else { "counter" };
        let suffix = if f % 2 == 0 { "" } else { "_total" };
        let _ = writeln!(b, "# HELP etl_stage_{f}{suffix} Rows a stage of the job handled.");
        let _ = writeln!(b, "# TYPE etl_stage_{f}{suffix} {kind}");
        for s in 0..55 {
            let _ = writeln!(
                b,
                "etl_stage_{f}{suffix}{{table=\"t{s}\",region=\"eu-west-{}\"}} {}",
                s % 3,
                f * 100_003 + s * 17
            );
        }
    }
    b.push_str("# HELP etl_batch_seconds Seconds per batch.\n# TYPE etl_batch_seconds histogram\n");
    for s in 0..4 {
        let mut cum = 0;
        for (i, le) in
            ["0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "10", "+Inf"].iter().enumerate()
        {
            cum += i * 3 + s;
            let _ = writeln!(b, "etl_batch_seconds_bucket{{stage=\"{s}\",le=\"{le}\"}} {cum}");
        }
        let _ = writeln!(b, "etl_batch_seconds_sum{{stage=\"{s}\"}} {}.25", cum * 2);
        let _ = writeln!(b, "etl_batch_seconds_count{{stage=\"{s}\"}} {cum}");
    }
    b.push_str("# HELP etl_row_bytes Row sizes.\n# TYPE etl_row_bytes summary\n");
    for s in 0..4 {
        for q in ["0.5", "0.9", "0.99"] {
            let _ = writeln!(b, "etl_row_bytes{{stage=\"{s}\",quantile=\"{q}\"}} {}", 512 + s);
        }
        let _ = writeln!(b, "etl_row_bytes_sum{{stage=\"{s}\"}} 9283746\netl_row_bytes_count{{stage=\"{s}\"}} 18000");
    }
    b.push_str("# HELP etl_last_success_timestamp_seconds When the job last succeeded.\n");
    b.push_str("# TYPE etl_last_success_timestamp_seconds gauge\n");
    b.push_str("etl_last_success_timestamp_seconds 1.7e+09\n");
    b
}

/// The same families as delimited protobuf: pushed as text, scraped as protobuf.
fn protobuf_body(text: &str) -> Vec<u8> {
    let store = Store::new();
    let mut s = Scratch::new();
    let op = Op {
        kind: Kind::Put,
        format: Format::Text,
        time_ms: 1_700_000_000_000,
        labels: KEY.into_iter().collect(),
        body: text.as_bytes(),
    };
    assert!(matches!(store.push(&mut s, &Volatile, &op, true), Pushed::Stored));
    let mut out = Vec::new();
    store.scrape(&mut s, &Group::default(), true, &mut out);
    out
}

fn benches(c: &mut Criterion) {
    let text = text_body();
    let proto = protobuf_body(&text);
    let mut parser = Parser::new();
    let mut group = Group::default();
    let mut g = c.benchmark_group("push_parse");
    for (name, format, body) in
        [("text", Format::Text, text.as_bytes()), ("protobuf", Format::Protobuf, &proto[..])]
    {
        parser.read(format, body, &KEY, 1_700_000_000_000, &mut group).unwrap();
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                parser.read(format, black_box(body), &KEY, 1_700_000_000_000, &mut group).unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(push_parse, benches);
criterion_main!(push_parse);
