//! The exporter's HTTP routes: the metrics path (scraped on a worker), a landing page at `/`
//! linking it (answered on the event loop), 404 elsewhere and 405 for methods other than
//! `GET` and `HEAD`.

use super::{Exporter, Node};
use crate::encode::escape_label_value;
use crate::serve::{self, Request, Response, Route};

/// `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves a [`Node`] over HTTP.
#[derive(Debug)]
pub struct Handler {
    node: Node,
    metrics_path: String,
    landing: Vec<u8>,
}

/// One worker's state: its exporter, if it could be built.
#[derive(Debug)]
pub struct Worker {
    exporter: Option<Exporter>,
}

impl Handler {
    /// Serves `node` at `metrics_path` (`--web.telemetry-path`); `version` is shown on the
    /// landing page.
    pub fn new(node: Node, metrics_path: &str, version: &str) -> Handler {
        Handler {
            node,
            metrics_path: metrics_path.to_owned(),
            landing: landing(metrics_path, version),
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
        exporter.scrape(mask, &mut resp.body);
        resp.compress = true;
    }
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
