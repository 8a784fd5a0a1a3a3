//! The exporter's HTTP routes: the metrics path (scraped on a worker), a landing page at `/`
//! linking it (answered on the event loop), 404 elsewhere and 405 for methods other than
//! `GET` and `HEAD`.

use super::{Exporter, Node};
use crate::encode::escape_label_value;
use crate::lex;
use crate::serve::{self, Request, Response, Route};
use std::time::{Duration, Instant};

/// `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves a [`Node`] over HTTP.
#[derive(Debug)]
pub struct Handler {
    node: Node,
    metrics_path: String,
    landing: Vec<u8>,
    max_timeout: Duration,
}

/// One worker's state: its exporter, if it could be built.
#[derive(Debug)]
pub struct Worker {
    exporter: Option<Exporter>,
}

impl Handler {
    /// Serves `node` at `metrics_path` (`--web.telemetry-path`); `version` is shown on the
    /// landing page. A scrape is given the time its `X-Prometheus-Scrape-Timeout-Seconds`
    /// header allows, at most `max_timeout` (`--web.max-scrape-timeout`).
    pub fn new(node: Node, metrics_path: &str, version: &str, max_timeout: Duration) -> Handler {
        Handler {
            node,
            metrics_path: metrics_path.to_owned(),
            landing: landing(metrics_path, version),
            max_timeout,
        }
    }
}

impl serve::Handler for Handler {
    type Worker = Worker;

    fn worker(&self) -> Worker {
        match self.node.exporter() {
            Ok(e) => Worker { exporter: Some(e) },
            Err(err) => {
                log::error!(err:% = err; "cannot build an exporter for a worker");
                Worker { exporter: None }
            }
        }
    }

    fn route(&self, req: &Request<'_>, resp: &mut Response) -> Route {
        if req.path == self.metrics_path {
            if !req.method.is_get() {
                return method_not_allowed(resp);
            }
            if let Err(e) = self.node.filter(req.query_pairs()) {
                log::warn!(err:% = e; "Couldn't create filtered metrics handler");
                resp.text(400, e.to_string().as_bytes());
                return Route::Done;
            }
            return Route::Work { limited: true };
        }
        if req.path == "/" {
            if !req.method.is_get() {
                return method_not_allowed(resp);
            }
            resp.status = 200;
            resp.content_type = "text/html; charset=utf-8";
            resp.body.clear();
            resp.body.extend_from_slice(&self.landing);
            return Route::Done;
        }
        resp.text(404, b"404 page not found\n");
        Route::Done
    }

    fn handle(&self, worker: &mut Worker, req: &Request<'_>, resp: &mut Response) {
        let Some(exporter) = &mut worker.exporter else {
            resp.text(500, b"exporter unavailable; see the log\n");
            return;
        };
        let mask = match self.node.filter(req.query_pairs()) {
            Ok(m) => m,
            Err(e) => {
                resp.text(400, e.to_string().as_bytes());
                return;
            }
        };
        resp.status = 200;
        resp.content_type = CONTENT_TYPE;
        resp.body.clear();
        let deadline = Instant::now() + budget(req, self.max_timeout);
        exporter.scrape(mask, deadline, &mut resp.body);
        resp.compress = true;
    }
}

/// How long a scrape may run: the client's timeout (Prometheus sends it in
/// `X-Prometheus-Scrape-Timeout-Seconds`) capped at `max`, less a tenth (at most half a
/// second) kept for encoding and sending the answer so that it arrives in time.
fn budget(req: &Request<'_>, max: Duration) -> Duration {
    let asked = req
        .header("x-prometheus-scrape-timeout-seconds")
        .and_then(|v| lex::parse_f64(lex::trim(v)))
        .filter(|s| s.is_finite() && *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .map_or(max, |d| d.min(max));
    asked - (asked / 10).min(Duration::from_millis(500))
}

fn method_not_allowed(resp: &mut Response) -> Route {
    resp.text(405, b"Method Not Allowed\n");
    resp.header("Allow", b"GET, HEAD");
    Route::Done
}

/// The landing page: what this is and a link to the metrics. Built once.
fn landing(metrics_path: &str, version: &str) -> Vec<u8> {
    let mut path = Vec::new();
    // The path goes into an attribute and text: escape what HTML needs, as label values
    // need their own; a path from a flag holds no markup in practice.
    escape_label_value(&mut path, metrics_path.as_bytes());
    let path = String::from_utf8_lossy(&path).replace('<', "&lt;").replace('>', "&gt;");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>nodegate exporter</title>\n</head>\n<body>\n<h1>nodegate exporter</h1>\n\
         <p>Prometheus host metrics, node_exporter compatible.</p>\n\
         <p><a href=\"{path}\">Metrics</a></p>\n<p>Version {version}</p>\n</body>\n</html>\n"
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::{Header, Method};

    fn with_timeout(value: &[u8], max: Duration) -> Duration {
        let headers = [Header { name: "X-Prometheus-Scrape-Timeout-Seconds", value }];
        let req = Request {
            method: Method::Get,
            path: "/metrics",
            query: "",
            headers: &headers,
            body: b"",
            peer: None,
        };
        budget(&req, max)
    }

    #[test]
    fn scrape_budget_from_the_header_capped_with_a_margin() {
        let max = Duration::from_secs(30);
        assert_eq!(with_timeout(b"10", max), Duration::from_millis(9500));
        assert_eq!(with_timeout(b"1.5", max), Duration::from_millis(1350));
        assert_eq!(with_timeout(b"120", max), Duration::from_millis(29500));
        for bad in [&b"nonsense"[..], b"-3", b"0", b"NaN", b"+Inf", b""] {
            assert_eq!(with_timeout(bad, max), Duration::from_millis(29500), "{bad:?}");
        }
    }
}
