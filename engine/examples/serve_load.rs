//! The server behind the threading measurement in `engine::serve`'s docs.
//!
//! `/` is answered by `route` on the loop; `/cpu200` and `/cpu5` burn about 200 µs and 5 µs of
//! CPU, on a worker, or with `--inline` on the loop itself (in `route`). Run it in release
//! and load it with wrk, e.g.:
//!
//! ```text
//! cargo run --release -p nodegate-engine --example serve_load -- --workers 2 --port 9199
//! wrk -t1 -c16 -d10s http://127.0.0.1:9199/cpu200 &
//! wrk -t1 -c1 -d10s --latency http://127.0.0.1:9199/
//! ```

use engine::serve::{Config, Handler, Request, Response, Route, Server};
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Load {
    inline: bool,
    /// Loop iterations per microsecond of CPU, calibrated at start.
    per_us: u64,
}

impl Load {
    fn burn(&self, us: u64) {
        let mut x = 1u64;
        for _ in 0..self.per_us * us {
            x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
        black_box(x);
    }

    fn cost(path: &str) -> Option<u64> {
        match path {
            "/cpu200" => Some(200),
            "/cpu5" => Some(5),
            _ => None,
        }
    }
}

impl Handler for Load {
    type Worker = ();

    fn worker(&self) {}

    fn route(&self, req: &Request<'_>, resp: &mut Response) -> Route {
        match Load::cost(req.path) {
            Some(us) if self.inline => {
                self.burn(us);
                resp.text(200, b"burnt\n");
                Route::Done
            }
            Some(_) => Route::Work { limited: false },
            None => {
                resp.text(200, b"landing\n");
                Route::Done
            }
        }
    }

    fn handle(&self, _: &mut (), req: &Request<'_>, resp: &mut Response) {
        self.burn(Load::cost(req.path).unwrap_or(0));
        resp.text(200, b"burnt\n");
    }
}

/// Iterations of [`Load::burn`]'s loop per microsecond: the best of a few timed runs, so a
/// busy machine does not make the work look longer.
fn calibrate() -> u64 {
    let probe = Load { inline: false, per_us: 1 };
    let n = 2_000_000;
    let best = (0..5)
        .map(|_| {
            let start = Instant::now();
            probe.burn(n);
            start.elapsed()
        })
        .min()
        .unwrap_or(Duration::from_millis(1));
    (n as f64 / best.as_secs_f64() / 1e6).max(1.0) as u64
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut cfg = Config { max_inflight: 0, ..Config::default() };
    let mut inline = false;
    let mut port = 9199;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--inline" => inline = true,
            "--workers" => cfg.workers = args.next().and_then(|v| v.parse().ok()).unwrap_or(1),
            "--port" => port = args.next().and_then(|v| v.parse().ok()).unwrap_or(port),
            _ => eprintln!("ignoring {arg}; flags: --inline, --workers N, --port P"),
        }
    }
    cfg.listen = vec![SocketAddr::from(([127, 0, 0, 1], port))];
    let per_us = calibrate();
    eprintln!("{per_us} iterations/µs; inline={inline} workers={}", cfg.workers);
    Server::bind(cfg, Arc::new(Load { inline, per_us }))?.run()
}
