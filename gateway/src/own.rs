//! The gateway's own metrics: `pushgateway_build_info`, `pushgateway_http_requests_total`,
//! `pushgateway_http_push_duration_seconds`, `pushgateway_http_push_size_bytes` and the
//! engine's `process_*`, with upstream's names, HELP texts, types and labels.
//!
//! Counting is lock-free (one atomic per handler, method and code); each push summary keeps
//! its observations of the last ten minutes in a fixed ring (at most [`RING`] of them) under a
//! small mutex, and its quantiles (0.1, 0.5, 0.9) are the nearest-rank values over that window:
//! client_golang estimates the same quantiles over the same ten minutes with a streaming
//! algorithm, so values agree within its error bounds. Nothing allocates per request or per
//! scrape once the worker's buffers have grown.
//!
//! A scrape renders these families with the engine's [`Encoder`] (the exporter's own path)
//! and reads them back into a [`Group`] without grouping labels, so that they merge with
//! pushed families of the same names as upstream's registry merges them.

use crate::group::{Group, Type};
use engine::encode::{Encoder, Kind};
use engine::process::Process;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A family the gateway exposes itself: pushes of the same name must have this type, and get
/// this HELP.
#[derive(Clone, Copy, Debug)]
pub struct OwnFamily {
    /// Name.
    pub name: &'static str,
    /// Type.
    pub kind: Type,
    /// HELP text.
    pub help: &'static str,
}

const BUILD_INFO_HELP: &str = "A metric with a constant '1' value labeled by version, revision, \
    branch, goversion from which pushgateway was built, and the goos and goarch for the build.";

/// Every family the gateway may expose itself, sorted by name.
pub const OWN: &[OwnFamily] = &[
    OwnFamily {
        name: "process_cpu_seconds_total",
        kind: Type::Counter,
        help: "Total user and system CPU time spent in seconds.",
    },
    OwnFamily {
        name: "process_max_fds",
        kind: Type::Gauge,
        help: "Maximum number of open file descriptors.",
    },
    OwnFamily {
        name: "process_open_fds",
        kind: Type::Gauge,
        help: "Number of open file descriptors.",
    },
    OwnFamily {
        name: "process_resident_memory_bytes",
        kind: Type::Gauge,
        help: "Resident memory size in bytes.",
    },
    OwnFamily {
        name: "process_start_time_seconds",
        kind: Type::Gauge,
        help: "Start time of the process since unix epoch in seconds.",
    },
    OwnFamily {
        name: "process_virtual_memory_bytes",
        kind: Type::Gauge,
        help: "Virtual memory size in bytes.",
    },
    OwnFamily {
        name: "process_virtual_memory_max_bytes",
        kind: Type::Gauge,
        help: "Maximum amount of virtual memory available in bytes.",
    },
    OwnFamily { name: "pushgateway_build_info", kind: Type::Gauge, help: BUILD_INFO_HELP },
    OwnFamily {
        name: "pushgateway_http_push_duration_seconds",
        kind: Type::Summary,
        help: "HTTP request duration for pushes to the Pushgateway.",
    },
    OwnFamily {
        name: "pushgateway_http_push_size_bytes",
        kind: Type::Summary,
        help: "HTTP request size for pushes to the Pushgateway.",
    },
    OwnFamily {
        name: "pushgateway_http_requests_total",
        kind: Type::Counter,
        help: "Total HTTP requests processed by the Pushgateway, excluding scrapes.",
    },
];

/// The own family named `name`.
pub fn own(name: &[u8]) -> Option<&'static OwnFamily> {
    let i = OWN.binary_search_by(|f| f.name.as_bytes().cmp(name)).ok()?;
    OWN.get(i)
}

/// Instrumented handlers, as upstream names them in `pushgateway_http_requests_total`.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Route {
    /// Pushes (PUT, POST).
    Push = 0,
    /// Deletes.
    Delete,
    /// Admin wipe.
    Wipe,
    /// `/-/healthy`.
    Healthy,
    /// `/-/ready`.
    Ready,
    /// `/api/v1/status`.
    ApiStatus,
    /// `/api/v1/metrics`.
    ApiMetrics,
    /// `OPTIONS /api/v1/...`.
    ApiOptions,
    /// The UI's pages, `/` and `/status`.
    Status,
    /// The UI's assets, `/static/...`.
    Static,
}

const ROUTES: [&str; 10] = [
    "push",
    "delete",
    "wipe",
    "healthy",
    "ready",
    "api/v1/status",
    "api/v1/metrics",
    "api/v1/options",
    "status",
    "static",
];
const METHODS: [&str; 6] = ["get", "put", "post", "delete", "options", "head"];
const CODES: [u16; 10] = [200, 202, 400, 403, 404, 405, 413, 500, 503, 507];
const CODE_TEXT: [&str; 10] =
    ["200", "202", "400", "403", "404", "405", "413", "500", "503", "507"];

/// Observations kept per push summary.
pub const RING: usize = 1024;
/// How long an observation counts towards the quantiles (client_golang's `MaxAge`).
const MAX_AGE: Duration = Duration::from_secs(600);
const QUANTILES: [f64; 3] = [0.1, 0.5, 0.9];

#[derive(Debug)]
struct Ring {
    at: [Option<Instant>; RING],
    value: [f64; RING],
    next: usize,
    count: u64,
    sum: f64,
}

impl Ring {
    fn new() -> Ring {
        Ring { at: [None; RING], value: [0.0; RING], next: 0, count: 0, sum: 0.0 }
    }

    fn observe(&mut self, now: Instant, v: f64) {
        self.at[self.next] = Some(now);
        self.value[self.next] = v;
        self.next = (self.next + 1) % RING;
        self.count += 1;
        self.sum += v;
    }
}

/// The gateway's counters and summaries, shared by every thread.
#[derive(Debug)]
pub struct SelfMetrics {
    requests: Vec<AtomicU64>,
    /// Push duration and size, for `put` then `post`.
    duration: [Mutex<Ring>; 2],
    size: [Mutex<Ring>; 2],
    build: [(&'static str, String); 7],
}

/// Labels of `pushgateway_build_info`.
#[derive(Clone, Debug, Default)]
pub struct BuildInfo {
    /// Branch.
    pub branch: String,
    /// Go's spelling of the architecture.
    pub goarch: String,
    /// Go's spelling of the OS.
    pub goos: String,
    /// The compiler.
    pub goversion: String,
    /// Source revision.
    pub revision: String,
    /// Build tags.
    pub tags: String,
    /// Version.
    pub version: String,
}

/// Per-thread buffers for rendering the own families.
#[derive(Debug, Default)]
pub struct OwnScratch {
    enc: Encoder,
    text: Vec<u8>,
    window: Vec<f64>,
    process: Option<Process>,
}

impl SelfMetrics {
    /// Counters at zero.
    pub fn new(build: BuildInfo) -> SelfMetrics {
        SelfMetrics {
            requests: (0..ROUTES.len() * METHODS.len() * CODES.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            duration: [Mutex::new(Ring::new()), Mutex::new(Ring::new())],
            size: [Mutex::new(Ring::new()), Mutex::new(Ring::new())],
            build: [
                ("branch", build.branch),
                ("goarch", build.goarch),
                ("goos", build.goos),
                ("goversion", build.goversion),
                ("revision", build.revision),
                ("tags", build.tags),
                ("version", build.version),
            ],
        }
    }

    /// Counts a request answered by `route` with `status`.
    pub fn count(&self, route: Route, method: engine::serve::Method, status: u16) {
        use engine::serve::Method as M;
        let m = match method {
            M::Get => 0,
            M::Put => 1,
            M::Post => 2,
            M::Delete => 3,
            M::Options => 4,
            M::Head => 5,
            M::Other => return,
        };
        let Some(c) = CODES.iter().position(|&c| c == status) else { return };
        let i = (route as usize * METHODS.len() + m) * CODES.len() + c;
        if let Some(n) = self.requests.get(i) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records a push's duration and approximate request size; `post` for POST.
    pub fn observe_push(&self, post: bool, seconds: f64, size: f64) {
        let now = Instant::now();
        let i = usize::from(post);
        lock(&self.duration[i]).observe(now, seconds);
        lock(&self.size[i]).observe(now, size);
    }

    /// Renders the own families and reads them into `out` (no grouping labels).
    pub fn render(&self, s: &mut OwnScratch, parser: &mut crate::parse::Parser, out: &mut Group) {
        let enc = &mut s.enc;
        enc.clear();
        let info = enc.family("pushgateway_build_info", BUILD_INFO_HELP, Kind::Gauge);
        let labels: [(&str, &[u8]); 7] = std::array::from_fn(|i| {
            let (n, v) = &self.build[i];
            (*n, v.as_bytes())
        });
        enc.sample(info, &labels, 1.0);
        let req = enc.family(
            "pushgateway_http_requests_total",
            "Total HTTP requests processed by the Pushgateway, excluding scrapes.",
            Kind::Counter,
        );
        for (i, n) in self.requests.iter().enumerate() {
            let n = n.load(Ordering::Relaxed);
            if n == 0 {
                continue;
            }
            let code = i % CODES.len();
            let method = i / CODES.len() % METHODS.len();
            let route = i / CODES.len() / METHODS.len();
            let labels: [(&str, &[u8]); 3] = [
                ("code", CODE_TEXT[code].as_bytes()),
                ("handler", ROUTES[route].as_bytes()),
                ("method", METHODS[method].as_bytes()),
            ];
            enc.sample_u64(req, &labels, n);
        }
        for (name, help, rings) in [
            (
                "pushgateway_http_push_duration_seconds",
                "HTTP request duration for pushes to the Pushgateway.",
                &self.duration,
            ),
            (
                "pushgateway_http_push_size_bytes",
                "HTTP request size for pushes to the Pushgateway.",
                &self.size,
            ),
        ] {
            let f = enc.family(name, help, Kind::Summary);
            for (ring, method) in rings.iter().zip(["put", "post"]) {
                let (count, sum, q) = {
                    let r = lock(ring);
                    if r.count == 0 {
                        continue;
                    }
                    let now = Instant::now();
                    s.window.clear();
                    // Sized for a full ring at once, so that it never grows as the ring fills.
                    s.window.reserve(RING);
                    for (at, v) in r.at.iter().zip(r.value.iter()) {
                        if at.is_some_and(|t| now.duration_since(t) <= MAX_AGE) {
                            s.window.push(*v);
                        }
                    }
                    (r.count, r.sum, quantiles(&mut s.window))
                };
                enc.summary(f, &[("method", method.as_bytes())], &q, sum, count);
            }
        }
        s.process.get_or_insert_with(Process::new).collect(enc);
        s.text.clear();
        enc.finish(&mut s.text);
        // The text is the engine's own rendering: it always parses.
        let _ = parser.read_own(&s.text, out);
    }
}

/// Nearest-rank quantiles of `values` (sorted in place); NaN when empty, as client_golang
/// reports a summary with no observations in its window.
fn quantiles(values: &mut [f64]) -> [(f64, f64); 3] {
    values.sort_unstable_by(f64::total_cmp);
    QUANTILES.map(|q| {
        if values.is_empty() {
            return (q, f64::NAN);
        }
        let rank = (q * values.len() as f64).ceil() as usize;
        (q, values[rank.clamp(1, values.len()) - 1])
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_sorted_and_complete() {
        assert!(OWN.windows(2).all(|w| w[0].name < w[1].name));
        let m = SelfMetrics::new(BuildInfo { version: "1".into(), ..BuildInfo::default() });
        m.count(Route::Push, engine::serve::Method::Put, 200);
        m.count(Route::Delete, engine::serve::Method::Delete, 202);
        m.observe_push(false, 0.25, 100.0);
        let mut s = OwnScratch::default();
        let mut p = crate::parse::Parser::new();
        let mut g = Group::default();
        m.render(&mut s, &mut p, &mut g);
        let text = String::from_utf8(s.text.clone()).unwrap();
        assert!(text.contains(
            "pushgateway_http_requests_total{code=\"200\",handler=\"push\",method=\"put\"} 1\n"
        ));
        assert!(text.contains(
            "pushgateway_http_push_duration_seconds{method=\"put\",quantile=\"0.5\"} 0.25\n"
        ));
        assert!(text.contains("pushgateway_http_push_size_bytes_count{method=\"put\"} 1\n"));
        for f in &g.families {
            let name = g.name(f);
            let own = own(name).unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(name)));
            assert_eq!(own.kind, f.kind);
            assert_eq!(g.get(f.help.unwrap()), own.help.as_bytes());
        }
        assert!(g.families.len() >= 6, "{text}");
    }

    #[test]
    fn nearest_rank() {
        let mut v = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(quantiles(&mut v), [(0.1, 1.0), (0.5, 3.0), (0.9, 5.0)]);
        assert!(quantiles(&mut []).iter().all(|(_, v)| v.is_nan()));
    }
}
