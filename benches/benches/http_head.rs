//! The HTTP request-head parser in bytes per second, beside httparse alone: the engine's
//! `head::parse` runs httparse and then reads the fields the loop acts on (framing,
//! persistence, `Host`, `Expect`), so the difference is what that reading costs.
//!
//! The heads are a Prometheus scrape and a client library's push.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use engine::serve::head::{self, MAX_HEADERS};
use engine::serve::Header;
use std::hint::black_box;

const SCRAPE: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: 10.0.3.17:9100\r\n\
User-Agent: Prometheus/2.53.1\r\n\
Accept: application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2\r\n\
Accept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n";

const PUSH: &[u8] = b"PUT /metrics/job/nightly_etl/instance/worker-7 HTTP/1.1\r\n\
Host: pushgateway.monitoring.svc:9091\r\nUser-Agent: Python-urllib/3.11\r\n\
Content-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: 48213\r\n\
Connection: keep-alive\r\n\r\n";

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("http_head");
    for (name, src) in [("scrape", SCRAPE), ("push", PUSH)] {
        g.throughput(Throughput::Bytes(src.len() as u64));
        g.bench_function(BenchmarkId::new("nodegate", name), |b| {
            b.iter(|| {
                let mut headers: [Header<'_>; MAX_HEADERS] = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut scanned = 0;
                let end = head::find_end(black_box(src), &mut scanned).unwrap();
                let parsed = head::parse(&src[..end], &mut headers).unwrap().unwrap();
                black_box((parsed.len, parsed.keep_alive, parsed.framing));
            })
        });
        g.bench_function(BenchmarkId::new("httparse", name), |b| {
            b.iter(|| {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut req = httparse::Request::new(&mut headers);
                black_box(req.parse(black_box(src)).unwrap());
            })
        });
    }
    g.finish();
}

criterion_group!(http_head, benches);
criterion_main!(http_head);
