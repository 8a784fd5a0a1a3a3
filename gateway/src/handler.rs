//! The gateway's HTTP routes, as the Pushgateway 1.10.0 lays them out (`main.go`), answered
//! through the engine's [`engine::serve`] loop.
//!
//! Upstream stacks three routers, and each leaves marks on the answers a drop-in must keep:
//!
//! 1. Go's `ServeMux`: an invalid `%` escape is `400 Bad Request`; a path that is not clean
//!    (`//`, `/./`, `/../`) gets a 301 to its cleaned form, for every method; the subtree
//!    `P/api/v1/` goes to the API router, everything else to the main one.
//! 2. `decodeRequest`, around the main router only: `Content-Encoding: gzip` (any case) must
//!    start with a gzip header, whatever the route (an empty DELETE with that header is a 400
//!    `EOF`); `snappy` is decoded when the body is read.
//! 3. httprouter (`prometheus/common/route`), one per tree: a route that exists for other
//!    methods is a 405 with `Allow` (sorted, `OPTIONS` added), `OPTIONS` is answered with
//!    `Allow`, a trailing-slash mismatch or a path that differs from a route only in the case
//!    of its fixed parts redirects (301 for GET, 307 otherwise), anything else is
//!    `404 page not found`. `HEAD` has no routes, so it is a 405 wherever GET is served.
//!
//! Answers that need no body and no store (redirects, 404s, 405s, OPTIONS, health, quit, the
//! UI's status page and assets) are given on the event loop; pushes, deletes, scrapes, the
//! JSON API and the UI's groups page run on workers, each with its own [`Worker`] buffers.
//! The UI itself is [`crate::ui`].

use crate::body::{self, BodyError};
use crate::group::Group;
use crate::json;
use crate::op::{Format, Journal, Kind, Op};
use crate::own::{self, BuildInfo, OwnScratch, SelfMetrics};
use crate::parse::{self, Parser};
use crate::path::Key;
use crate::store::{Pushed, Scratch, Store};
use crate::ui::{self, Ui};
use engine::serve::{self, Method, Request, Response, Route, Stopper};
use smallvec::SmallVec;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// How the gateway is set up.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The route prefix, normalised: empty, or `/x` with no trailing slash.
    pub route_prefix: String,
    /// Where the gateway's own metrics are served, the route prefix included.
    pub telemetry_path: String,
    /// What the UI's links start with: the path of `--web.external-url` when it is given,
    /// else the route prefix; normalised as the route prefix is.
    pub ui_prefix: String,
    /// `--web.enable-lifecycle`.
    pub lifecycle: bool,
    /// `--web.enable-admin-api`.
    pub admin: bool,
    /// Not `--push.disable-consistency-check`.
    pub checked: bool,
    /// Every flag and its value, for `/api/v1/status`.
    pub flags: Vec<(String, String)>,
    /// Labels of `pushgateway_build_info`.
    pub build: BuildInfo,
    /// `build_information` of `/api/v1/status`: branch, buildDate, buildUser, goVersion,
    /// revision, version.
    pub build_status: Vec<(String, String)>,
}

/// Upstream's `computeRoutePrefix`: the route prefix flag, else the external URL's path;
/// `/` becomes empty; otherwise a leading `/` and no trailing one.
pub fn route_prefix(flag: &str, external_url_path: &str) -> String {
    let p = if flag.is_empty() { external_url_path } else { flag };
    if p == "/" {
        return String::new();
    }
    let mut p = if p.starts_with('/') { p.to_owned() } else { format!("/{p}") };
    if p.ends_with('/') {
        p.pop();
    }
    p
}

/// The gateway behind the HTTP server.
#[derive(Debug)]
pub struct Gateway {
    cfg: Config,
    store: Arc<Store>,
    journal: Arc<dyn Journal>,
    metrics: SelfMetrics,
    stopper: OnceLock<Stopper>,
    status_json: Vec<u8>,
    ui: Ui,
}

/// One worker's buffers.
#[derive(Debug)]
pub struct Worker {
    scratch: Scratch,
    key: Key,
    body: Vec<u8>,
    inflate: flate2::Decompress,
    own: OwnScratch,
    own_parser: Parser,
    own_group: Group,
}

/// `Content-Type` of the text exposition, by the escaping scheme the client asked for.
const TEXT_TYPES: [&str; 4] = [
    "text/plain; version=0.0.4; charset=utf-8; escaping=underscores",
    "text/plain; version=0.0.4; charset=utf-8; escaping=allow-utf-8",
    "text/plain; version=0.0.4; charset=utf-8; escaping=dots",
    "text/plain; version=0.0.4; charset=utf-8; escaping=values",
];
/// `Content-Type` of the protobuf exposition, likewise.
const PROTO_TYPES: [&str; 4] = [
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; escaping=underscores",
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; escaping=allow-utf-8",
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; escaping=dots",
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; escaping=values",
];

const CORS: &[(&str, &[u8])] = &[
    ("Access-Control-Allow-Headers", b"Accept, Authorization, Content-Type, Origin"),
    ("Access-Control-Allow-Methods", b"GET, POST, DELETE, OPTIONS"),
    ("Access-Control-Allow-Origin", b"*"),
    ("Access-Control-Expose-Headers", b"Date"),
    ("Cache-Control", b"no-cache, no-store, must-revalidate"),
];

/// A decoded path held on the stack while routing; longer paths spill to the heap.
type PathBuf = SmallVec<[u8; 512]>;

/// What a path resolves to in the main router.
#[derive(Clone, Copy, Debug)]
enum Hit<'p> {
    Healthy,
    Ready,
    Telemetry,
    /// The groups page, `P/`, or with a query one family's series.
    Page,
    /// `P/status`.
    StatusPage,
    /// `P/static/<name>`.
    Static(&'p [u8]),
    Quit,
    QuitGet,
    Push {
        base64: bool,
        job: &'p [u8],
        labels: &'p [u8],
    },
}

/// What a path resolves to in the API router.
#[derive(Clone, Copy, Debug)]
enum ApiHit {
    Options,
    Status,
    Metrics,
    Wipe,
}

const GET: u8 = 1;
const PUT: u8 = 2;
const POST: u8 = 4;
const DELETE: u8 = 8;

fn method_bit(m: Method) -> u8 {
    match m {
        Method::Get => GET,
        Method::Put => PUT,
        Method::Post => POST,
        Method::Delete => DELETE,
        _ => 0,
    }
}

/// The `Allow` value for a set of methods: sorted, with `OPTIONS`.
fn allow_value(bits: u8, out: &mut SmallVec<[u8; 40]>) {
    let mut names: SmallVec<[&str; 5]> = SmallVec::new();
    for (bit, name) in [(DELETE, "DELETE"), (GET, "GET"), (POST, "POST"), (PUT, "PUT")] {
        if bits & bit != 0 {
            names.push(name);
        }
    }
    names.push("OPTIONS");
    names.sort_unstable();
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(n.as_bytes());
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes a path as Go's URL parser does: a `%` must start a two-digit escape; `+`
/// stays a `+`.
fn decode_path(src: &[u8], out: &mut PathBuf) -> Result<(), ()> {
    out.clear();
    let mut i = 0;
    while i < src.len() {
        if src[i] == b'%' {
            let h = src.get(i + 1).copied().and_then(hex).ok_or(())?;
            let l = src.get(i + 2).copied().and_then(hex).ok_or(())?;
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(src[i]);
            i += 1;
        }
    }
    Ok(())
}

/// Go's `cleanPath`: `path.Clean` with a leading `/`, and a trailing `/` kept.
fn clean_path(p: &[u8], out: &mut PathBuf) {
    out.clear();
    let mut stack: SmallVec<[(usize, usize); 32]> = SmallVec::new();
    let mut i = 0;
    while i <= p.len() {
        let end = memchr::memchr(b'/', &p[i..]).map_or(p.len(), |j| i + j);
        let seg = &p[i..end];
        match seg {
            b"" | b"." => {}
            b".." => {
                stack.pop();
            }
            _ => stack.push((i, end)),
        }
        i = end + 1;
    }
    for &(a, b) in &stack {
        out.push(b'/');
        out.extend_from_slice(&p[a..b]);
    }
    if out.is_empty() || p.ends_with(b"/") {
        out.push(b'/');
    }
}

/// Writes `p` escaped as Go's `url.URL.EscapedPath` would for a path with no raw form.
fn escape_path(p: &[u8], out: &mut Vec<u8>) {
    for &b in p {
        let keep = b.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&b);
        if keep {
            out.push(b);
        } else {
            let _ = write!(ByteWriter(out), "%{b:02X}");
        }
    }
}

struct ByteWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for ByteWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Unix time now, in milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// `http.Error`: the text, a line feed, plain text.
fn error(resp: &mut Response, status: u16, text: &str) {
    resp.status = status;
    resp.content_type = serve::TEXT;
    resp.body.clear();
    resp.body.extend_from_slice(text.as_bytes());
    resp.body.push(b'\n');
    resp.header("X-Content-Type-Options", b"nosniff");
}

/// Answers a change the journal could not make durable (and the store therefore did not
/// apply): 507 when the disk is full, so clients can tell a full disk from a fault, else 500.
/// Returns the status.
fn unpersisted(resp: &mut Response, what: &str, e: &std::io::Error) -> u16 {
    use std::io::ErrorKind::{QuotaExceeded, StorageFull};
    log::error!(err:% = e; "cannot persist the {what}");
    let (status, why) = match e.kind() {
        StorageFull | QuotaExceeded => (507, "the disk is full"),
        _ => (500, "of an I/O error"),
    };
    error(resp, status, &format!("the {what} was not stored because {why}: {e}"));
    status
}

fn empty(resp: &mut Response, status: u16) {
    resp.status = status;
    resp.content_type = "";
    resp.body.clear();
}

fn not_found(resp: &mut Response) {
    error(resp, 404, "404 page not found");
}

fn redirect(resp: &mut Response, req: &Request<'_>, status: u16, path: &[u8]) {
    resp.status = status;
    resp.body.clear();
    let mut loc = std::mem::take(&mut resp.body);
    escape_path(path, &mut loc);
    if !req.query.is_empty() {
        loc.push(b'?');
        loc.extend_from_slice(req.query.as_bytes());
    }
    resp.header("Location", &loc);
    if req.method == Method::Get {
        resp.content_type = "text/html; charset=utf-8";
        let mut body = Vec::new();
        std::mem::swap(&mut body, &mut loc);
        loc.extend_from_slice(b"<a href=\"");
        for &b in &body {
            match b {
                b'<' => loc.extend_from_slice(b"&lt;"),
                b'>' => loc.extend_from_slice(b"&gt;"),
                b'&' => loc.extend_from_slice(b"&amp;"),
                b'"' => loc.extend_from_slice(b"&#34;"),
                b'\'' => loc.extend_from_slice(b"&#39;"),
                _ => loc.push(b),
            }
        }
        loc.extend_from_slice(format!("\">{}</a>.\n\n", reason(status)).as_bytes());
        resp.body = loc;
    } else {
        resp.content_type =
            if req.method == Method::Head { "text/html; charset=utf-8" } else { "" };
        loc.clear();
        resp.body = loc;
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        301 => "Moved Permanently",
        _ => "Temporary Redirect",
    }
}

impl Gateway {
    /// The gateway over `store`, making changes durable through `journal`.
    pub fn new(cfg: Config, store: Arc<Store>, journal: Arc<dyn Journal>) -> Gateway {
        let metrics = SelfMetrics::new(cfg.build.clone());
        let start_ms = now_ms();
        let status_json = status_json(&cfg, start_ms);
        let telemetry = cfg
            .telemetry_path
            .strip_prefix(cfg.route_prefix.as_str())
            .unwrap_or(&cfg.telemetry_path);
        let ui =
            Ui::new(&cfg.ui_prefix, telemetry, cfg.admin, &cfg.build_status, &cfg.flags, start_ms);
        Gateway { cfg, store, journal, metrics, stopper: OnceLock::new(), status_json, ui }
    }

    /// Gives the gateway the server's stopper, for `/-/quit`.
    pub fn set_stopper(&self, stopper: Stopper) {
        let _ = self.stopper.set(stopper);
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    fn p(&self) -> &[u8] {
        self.cfg.route_prefix.as_bytes()
    }

    fn main_match<'p>(&self, m: Method, path: &'p [u8]) -> Option<Hit<'p>> {
        let p = self.p();
        let rel = path.strip_prefix(p);
        match m {
            Method::Get => {
                if path == self.cfg.telemetry_path.as_bytes() {
                    return Some(Hit::Telemetry);
                }
                if path == b"/-/quit" {
                    return Some(Hit::QuitGet);
                }
                match rel? {
                    b"/-/healthy" => Some(Hit::Healthy),
                    b"/-/ready" => Some(Hit::Ready),
                    b"/" => Some(Hit::Page),
                    b"/status" => Some(Hit::StatusPage),
                    r => r.strip_prefix(b"/static/").map(Hit::Static),
                }
            }
            Method::Put | Method::Post | Method::Delete => {
                let rel = rel?;
                if m != Method::Delete && rel == b"/-/quit" {
                    return Some(Hit::Quit);
                }
                let rest = rel.strip_prefix(b"/metrics/job")?;
                let (base64, rest) = match rest.strip_prefix(b"@base64/") {
                    Some(r) => (true, r),
                    None => (false, rest.strip_prefix(b"/")?),
                };
                let end = memchr::memchr(b'/', rest).unwrap_or(rest.len());
                let job = &rest[..end];
                if job.is_empty() {
                    return None;
                }
                Some(Hit::Push { base64, job, labels: &rest[end..] })
            }
            _ => None,
        }
    }

    /// httprouter's `RedirectFixedPath`: a path that matches a route of this method but for
    /// the case of its fixed parts (or a trailing slash) is sent to the route's spelling;
    /// parameters keep theirs.
    fn fix_case(&self, m: Method, path: &[u8], out: &mut PathBuf) -> bool {
        let p = self.p();
        let mut routes: SmallVec<[SmallVec<[u8; 64]>; 8]> = SmallVec::new();
        let mut with = |parts: &[&[u8]]| routes.push(parts.concat().into_iter().collect());
        match m {
            Method::Get => {
                with(&[p, b"/-/healthy"]);
                with(&[p, b"/-/ready"]);
                with(&[self.cfg.telemetry_path.as_bytes()]);
                with(&[p, b"/"]);
                with(&[p, b"/status"]);
                with(&[b"/-/quit"]);
            }
            Method::Put | Method::Post => with(&[p, b"/-/quit"]),
            _ => {}
        }
        for candidate in [path, path.strip_suffix(b"/").unwrap_or(path)] {
            if let Some(r) = routes.iter().find(|r| r.eq_ignore_ascii_case(candidate)) {
                out.clear();
                out.extend_from_slice(r);
                return true;
            }
        }
        if m != Method::Get {
            for fixed in [&b"/metrics/job/"[..], b"/metrics/job@base64/"] {
                let n = p.len() + fixed.len();
                if path.len() > n
                    && path[..p.len()].eq_ignore_ascii_case(p)
                    && path[p.len()..n].eq_ignore_ascii_case(fixed)
                {
                    out.clear();
                    out.extend_from_slice(p);
                    out.extend_from_slice(fixed);
                    out.extend_from_slice(&path[n..]);
                    return &out[..] != path && self.main_match(m, out).is_some();
                }
            }
        }
        false
    }

    fn main_allowed(&self, path: &[u8]) -> u8 {
        [Method::Get, Method::Put, Method::Post, Method::Delete]
            .into_iter()
            .filter(|&m| self.main_match(m, path).is_some())
            .fold(0, |bits, m| bits | method_bit(m))
    }

    fn api_match(&self, m: Method, sub: &[u8]) -> Option<ApiHit> {
        match (m, sub) {
            (Method::Options, _) => Some(ApiHit::Options),
            (Method::Get, b"/status") => Some(ApiHit::Status),
            (Method::Get, b"/metrics") => Some(ApiHit::Metrics),
            (Method::Put, b"/admin/wipe") if self.cfg.admin => Some(ApiHit::Wipe),
            _ => None,
        }
    }

    /// Routes a request; with `worker`, also does the work and always answers.
    fn dispatch(
        &self,
        req: &Request<'_>,
        resp: &mut Response,
        mut worker: Option<&mut Worker>,
    ) -> Route {
        let mut decoded = PathBuf::new();
        if decode_path(req.path.as_bytes(), &mut decoded).is_err() {
            resp.status = 400;
            resp.content_type = serve::TEXT;
            resp.body.clear();
            resp.body.extend_from_slice(b"400 Bad Request");
            return Route::Done;
        }
        let mut cleaned = PathBuf::new();
        clean_path(&decoded, &mut cleaned);
        if cleaned != decoded {
            redirect(resp, req, 301, &cleaned);
            return Route::Done;
        }
        let path = &cleaned[..];
        // The API subtree.
        let api_root_len = self.p().len() + b"/api/v1".len();
        if path.starts_with(self.p()) && path[self.p().len()..].starts_with(b"/api/v1") {
            let sub = &path[api_root_len..];
            if sub.is_empty() {
                let mut to = PathBuf::from_slice(path);
                to.push(b'/');
                redirect(resp, req, 301, &to);
                return Route::Done;
            }
            if sub.starts_with(b"/") {
                return self.api(req, resp, sub, path, worker);
            }
        }
        // decodeRequest: a gzip body must start with a gzip header, whatever the route.
        let encoding = req.header("content-encoding").map(engine::lex::trim).unwrap_or_default();
        let gzip = encoding.eq_ignore_ascii_case(b"gzip");
        let snappy = encoding.eq_ignore_ascii_case(b"snappy");
        if gzip {
            match worker.as_deref_mut() {
                None => return Route::Work { limited: false },
                Some(_) => {
                    if let Err(e) = body::gzip_header(req.body) {
                        error(resp, 400, &e.to_string());
                        return Route::Done;
                    }
                }
            }
        }
        let hit = match self.main_match(req.method, path) {
            Some(hit) => hit,
            None => return self.main_miss(req, resp, path),
        };
        match hit {
            Hit::Healthy | Hit::Ready => {
                resp.status = 200;
                resp.content_type = serve::TEXT;
                resp.body.clear();
                resp.body.extend_from_slice(b"OK");
                let route = if matches!(hit, Hit::Healthy) {
                    own::Route::Healthy
                } else {
                    own::Route::Ready
                };
                self.metrics.count(route, req.method, 200);
                Route::Done
            }
            Hit::StatusPage => {
                resp.status = 200;
                resp.content_type = ui::HTML;
                resp.body.clear();
                resp.body.extend_from_slice(self.ui.status());
                resp.compress = true;
                self.metrics.count(own::Route::Status, req.method, 200);
                Route::Done
            }
            Hit::Static(name) => {
                let status = match ui::asset(name) {
                    Some((content_type, bytes)) => {
                        resp.status = 200;
                        resp.content_type = content_type;
                        resp.body.clear();
                        resp.body.extend_from_slice(bytes);
                        resp.compress = true;
                        200
                    }
                    None => {
                        not_found(resp);
                        404
                    }
                };
                self.metrics.count(own::Route::Static, req.method, status);
                Route::Done
            }
            Hit::Page => match worker {
                None => Route::Work { limited: true },
                Some(w) => {
                    let status = self.page(req, resp, w);
                    self.metrics.count(own::Route::Status, req.method, status);
                    Route::Done
                }
            },
            Hit::QuitGet => {
                resp.status = 405;
                resp.content_type = serve::TEXT;
                resp.body.clear();
                resp.body.extend_from_slice(b"Only POST or PUT requests allowed.");
                Route::Done
            }
            Hit::Quit => {
                resp.content_type = serve::TEXT;
                resp.body.clear();
                if self.cfg.lifecycle {
                    resp.status = 200;
                    resp.body.extend_from_slice(b"Requesting termination... Goodbye!");
                    log::warn!(
                        "received termination request via web service, exiting gracefully..."
                    );
                    if let Some(s) = self.stopper.get() {
                        s.stop();
                    }
                } else {
                    resp.status = 403;
                    resp.body.extend_from_slice(b"Lifecycle API is not enabled.");
                }
                Route::Done
            }
            Hit::Telemetry => match worker {
                None => Route::Work { limited: true },
                Some(w) => {
                    self.scrape(req, resp, w);
                    Route::Done
                }
            },
            Hit::Push { base64, job, labels } => match worker {
                None => Route::Work { limited: false },
                Some(w) => {
                    self.push(req, resp, w, base64, job, labels, snappy);
                    Route::Done
                }
            },
        }
    }

    fn main_miss(&self, req: &Request<'_>, resp: &mut Response, path: &[u8]) -> Route {
        let redirect_code = if req.method == Method::Get { 301 } else { 307 };
        if method_bit(req.method) != 0 && path != b"/" {
            let p = self.p();
            // Upstream's router sends `P/metrics/job/` (and `job@base64/`) to the route
            // without the slash, which then does not exist.
            let bare_job = [&b"/metrics/job/"[..], b"/metrics/job@base64/"]
                .iter()
                .any(|s| path.strip_prefix(p) == Some(*s));
            if let Some(stripped) = path.strip_suffix(b"/") {
                if bare_job && req.method != Method::Get
                    || self.main_match(req.method, stripped).is_some()
                {
                    redirect(resp, req, redirect_code, stripped);
                    return Route::Done;
                }
            } else {
                let mut with = PathBuf::from_slice(path);
                with.push(b'/');
                if self.main_match(req.method, &with).is_some() {
                    redirect(resp, req, redirect_code, &with);
                    return Route::Done;
                }
            }
        }
        if method_bit(req.method) != 0 {
            let mut fixed = PathBuf::new();
            if self.fix_case(req.method, path, &mut fixed) {
                redirect(resp, req, redirect_code, &fixed);
                return Route::Done;
            }
        }
        let allowed = self.main_allowed(path) & !method_bit(req.method);
        if allowed == 0 {
            not_found(resp);
            return Route::Done;
        }
        let mut allow = SmallVec::new();
        allow_value(allowed, &mut allow);
        if req.method == Method::Options {
            empty(resp, 200);
        } else {
            error(resp, 405, "Method Not Allowed");
        }
        resp.header("Allow", &allow);
        Route::Done
    }

    fn api(
        &self,
        req: &Request<'_>,
        resp: &mut Response,
        sub: &[u8],
        path: &[u8],
        worker: Option<&mut Worker>,
    ) -> Route {
        let Some(hit) = self.api_match(req.method, sub) else {
            let code = if req.method == Method::Get { 301 } else { 307 };
            if let Some(stripped) = sub.strip_suffix(b"/").filter(|s| !s.is_empty()) {
                if self.api_match(req.method, stripped).is_some() {
                    redirect(resp, req, code, &path[..path.len() - 1]);
                    return Route::Done;
                }
            }
            let fixed = [&b"/status"[..], b"/metrics", b"/admin/wipe"].into_iter().find(|f| {
                let s = sub.strip_suffix(b"/").unwrap_or(sub);
                f.eq_ignore_ascii_case(s) && self.api_match(req.method, f).is_some()
            });
            if let Some(f) = fixed {
                let mut to = PathBuf::from_slice(&path[..path.len() - sub.len()]);
                to.extend_from_slice(f);
                redirect(resp, req, code, &to);
                return Route::Done;
            }
            let allowed = [Method::Get, Method::Put, Method::Post, Method::Delete]
                .into_iter()
                .filter(|&m| m != req.method && self.api_match(m, sub).is_some())
                .fold(0, |b, m| b | method_bit(m));
            if allowed == 0 {
                not_found(resp);
            } else {
                let mut allow = SmallVec::new();
                allow_value(allowed, &mut allow);
                error(resp, 405, "Method Not Allowed");
                resp.header("Allow", &allow);
            }
            return Route::Done;
        };
        let cors = |resp: &mut Response| {
            for (n, v) in CORS {
                resp.header(n, v);
            }
        };
        match hit {
            ApiHit::Options => {
                empty(resp, 200);
                cors(resp);
                self.metrics.count(own::Route::ApiOptions, req.method, 200);
                Route::Done
            }
            ApiHit::Status => {
                resp.status = 200;
                resp.content_type = "application/json";
                resp.body.clear();
                resp.body.extend_from_slice(&self.status_json);
                cors(resp);
                self.metrics.count(own::Route::ApiStatus, req.method, 200);
                Route::Done
            }
            ApiHit::Metrics => match worker {
                None => Route::Work { limited: true },
                Some(w) => {
                    resp.status = 200;
                    resp.content_type = "application/json";
                    resp.body.clear();
                    self.store.json_metrics(&mut w.scratch, &mut resp.body);
                    cors(resp);
                    resp.compress = true;
                    self.metrics.count(own::Route::ApiMetrics, req.method, 200);
                    Route::Done
                }
            },
            ApiHit::Wipe => match worker {
                None => Route::Work { limited: false },
                Some(w) => {
                    let op = Op {
                        kind: Kind::Wipe,
                        format: Format::Text,
                        time_ms: now_ms(),
                        labels: SmallVec::new(),
                        body: b"",
                    };
                    log::debug!("start wiping metric store");
                    let status = match self.store.wipe(&mut w.scratch, &*self.journal, &op) {
                        Ok(()) => {
                            empty(resp, 202);
                            202
                        }
                        Err(e) => unpersisted(resp, "wipe", &e),
                    };
                    self.metrics.count(own::Route::Wipe, req.method, status);
                    Route::Done
                }
            },
        }
    }

    /// The groups page; with `group` and `family` in the query (both base64url), that
    /// family's series as text instead.
    fn page(&self, req: &Request<'_>, resp: &mut Response, w: &mut Worker) -> u16 {
        let param = |name: &[u8]| req.query_pairs().find(|(k, _)| *k == name).map(|(_, v)| v);
        let (Some(group), Some(family)) = (param(b"group"), param(b"family")) else {
            resp.status = 200;
            resp.content_type = ui::HTML;
            resp.body.clear();
            self.store.with_groups(&mut w.scratch, |groups| self.ui.page(groups, &mut resp.body));
            resp.compress = true;
            return 200;
        };
        // Both are base64url, which needs no percent-decoding; `body` is spare here.
        let buf = &mut w.body;
        buf.clear();
        let key_ok = crate::path::decode_base64(group, buf).is_ok();
        let key_len = buf.len();
        if !key_ok || crate::path::decode_base64(family, buf).is_err() {
            error(resp, 400, "malformed group or family");
            return 400;
        }
        let (key, name) = buf.split_at(key_len);
        resp.body.clear();
        let found = self.store.group(key).is_some_and(|g| ui::series(&g, name, &mut resp.body));
        if !found {
            not_found(resp);
            return 404;
        }
        resp.status = 200;
        resp.content_type = serve::TEXT;
        resp.compress = true;
        200
    }

    fn scrape(&self, req: &Request<'_>, resp: &mut Response, w: &mut Worker) {
        let (protobuf, escaping) = negotiate(req.header("accept").unwrap_or_default());
        self.metrics.render(&mut w.own, &mut w.own_parser, &mut w.own_group);
        resp.status = 200;
        resp.content_type = if protobuf { PROTO_TYPES[escaping] } else { TEXT_TYPES[escaping] };
        resp.body.clear();
        self.store.scrape(&mut w.scratch, &w.own_group, protobuf, &mut resp.body);
        resp.compress = true;
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &self,
        req: &Request<'_>,
        resp: &mut Response,
        w: &mut Worker,
        base64: bool,
        job: &[u8],
        labels: &[u8],
        snappy: bool,
    ) {
        let start = Instant::now();
        let status = self.push_inner(req, resp, w, base64, job, labels, snappy);
        let route =
            if req.method == Method::Delete { own::Route::Delete } else { own::Route::Push };
        self.metrics.count(route, req.method, status);
        if req.method != Method::Delete {
            let elapsed = start.elapsed();
            let seconds = elapsed.as_secs() as f64 + f64::from(elapsed.subsec_nanos()) / 1e9;
            self.metrics.observe_push(
                req.method == Method::Post,
                seconds,
                request_size(req) as f64,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push_inner(
        &self,
        req: &Request<'_>,
        resp: &mut Response,
        w: &mut Worker,
        base64: bool,
        job: &[u8],
        labels: &[u8],
        snappy: bool,
    ) -> u16 {
        let Worker { scratch, key, body, inflate, .. } = w;
        if let Err(e) = key.parse(job, base64, labels) {
            let text = e.to_string();
            log::debug!(err = text.as_str(); "failed to parse URL");
            error(resp, 400, &text);
            return 400;
        }
        let time_ms = now_ms();
        let peer = || req.peer.map(|p| p.to_string()).unwrap_or_default();
        if req.method == Method::Delete {
            let op = Op {
                kind: Kind::Delete,
                format: Format::Text,
                time_ms,
                labels: key.labels().collect(),
                body: b"",
            };
            return match self.store.delete(scratch, &*self.journal, &op) {
                Ok(()) => {
                    empty(resp, 202);
                    202
                }
                Err(e) => unpersisted(resp, "delete", &e),
            };
        }
        let encoding = req.header("content-encoding").map(engine::lex::trim).unwrap_or_default();
        // Decoded bodies get the limit raw ones have (the server answers 413 past it).
        let max = self.store.limits().body_bytes;
        let raw: &[u8] = if encoding.eq_ignore_ascii_case(b"gzip") {
            match body::gunzip(req.body, body, inflate, max) {
                Ok(()) => body,
                Err(e) => return bad_body(resp, e, max),
            }
        } else if snappy {
            match body::unsnappy(req.body, body, max) {
                Ok(()) => body,
                Err(e) => return bad_body(resp, e, max),
            }
        } else {
            req.body
        };
        let format = match req.header("content-type").is_some_and(parse::is_protobuf) {
            true => Format::Protobuf,
            false => Format::Text,
        };
        let kind = if req.method == Method::Put { Kind::Put } else { Kind::Post };
        let op = Op { kind, format, time_ms, labels: key.labels().collect(), body: raw };
        let ok = if self.cfg.checked { 200 } else { 202 };
        match self.store.push(scratch, &*self.journal, &op, self.cfg.checked) {
            Pushed::Stored => {
                empty(resp, ok);
                ok
            }
            Pushed::Refused { malformed: true, .. } => {
                log::debug!(source = peer().as_str(), err = scratch.message(); "failed to parse text");
                error(resp, 400, scratch.message());
                400
            }
            Pushed::Refused { .. } => {
                log::error!(method = method_name(req.method), source = peer().as_str(), err = scratch.message(); "pushed metrics are invalid or inconsistent with existing metrics");
                if self.cfg.checked {
                    error(resp, 400, scratch.message());
                    400
                } else {
                    empty(resp, 202);
                    202
                }
            }
            Pushed::Limited { status } => {
                log::warn!(source = peer().as_str(), err = scratch.message(); "push refused by a limit");
                error(resp, status, scratch.message());
                status
            }
            Pushed::Journal(e) => unpersisted(resp, "push", &e),
        }
    }
}

fn bad_body(resp: &mut Response, e: BodyError, max: usize) -> u16 {
    if e == BodyError::TooLarge {
        let text = format!("request body decodes to more than --push.max-body-bytes={max} bytes");
        error(resp, 413, &text);
        return 413;
    }
    error(resp, 400, &e.to_string());
    400
}

fn method_name(m: Method) -> &'static str {
    match m {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Options => "OPTIONS",
        Method::Other => "OTHER",
    }
}

/// promhttp's approximate request size: URL, method, protocol, header names and values
/// (`Host` as its value only) and the declared body length.
fn request_size(req: &Request<'_>) -> usize {
    let mut s = req.path.len() + if req.query.is_empty() { 0 } else { req.query.len() + 1 };
    s += method_name(req.method).len() + "HTTP/1.1".len();
    for h in req.headers {
        s += if h.name.eq_ignore_ascii_case("host") { 0 } else { h.name.len() } + h.value.len();
    }
    s + req.header("content-length").and_then(engine::lex::parse_u64).unwrap_or(0) as usize
}

/// expfmt's `Negotiate`: the protobuf format when the first acceptable type (by `q`) asks
/// for delimited protobuf; text otherwise. Also which `escaping` value to echo (index into
/// the content-type tables).
fn negotiate(accept: &[u8]) -> (bool, usize) {
    let mut types: SmallVec<[(f64, usize, &[u8]); 8]> = SmallVec::new();
    for (i, part) in accept.split(|&b| b == b',').enumerate() {
        let part = engine::lex::trim(part);
        if part.is_empty() {
            continue;
        }
        let q = part
            .split(|&b| b == b';')
            .skip(1)
            .map(engine::lex::trim)
            .find_map(|p| p.strip_prefix(b"q="))
            .and_then(engine::lex::parse_f64)
            .unwrap_or(1.0);
        types.push((q, i, part));
    }
    types.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut escaping = 0;
    for (_, _, t) in types {
        let mut parts = t.split(|&b| b == b';');
        let media = engine::lex::trim(parts.next().unwrap_or_default());
        let (mut proto, mut delimited, mut version) = (false, false, None);
        for p in parts {
            let p = engine::lex::trim(p);
            let Some(eq) = memchr::memchr(b'=', p) else { continue };
            let (k, v) = (engine::lex::trim(&p[..eq]), engine::lex::trim(&p[eq + 1..]));
            match k {
                b"proto" => proto = v == b"io.prometheus.client.MetricFamily",
                b"encoding" => delimited = v == b"delimited",
                b"version" => version = Some(v),
                b"escaping" => {
                    escaping = match v {
                        b"underscores" => 0,
                        b"allow-utf-8" => 1,
                        b"dots" => 2,
                        b"values" => 3,
                        _ => escaping,
                    }
                }
                _ => {}
            }
        }
        if media.eq_ignore_ascii_case(b"application/vnd.google.protobuf") && proto && delimited {
            return (true, escaping);
        }
        if media.eq_ignore_ascii_case(b"text/plain") && version.is_none_or(|v| v == b"0.0.4") {
            return (false, escaping);
        }
    }
    (false, escaping)
}

fn status_json(cfg: &Config, start_ms: i64) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"{\"status\":\"success\",\"data\":{\"build_information\":{");
    let mut build = cfg.build_status.clone();
    build.sort();
    for (i, (k, v)) in build.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json::string(&mut out, k.as_bytes());
        out.push(b':');
        json::string(&mut out, v.as_bytes());
    }
    out.extend_from_slice(b"},\"flags\":{");
    let mut flags = cfg.flags.clone();
    flags.sort();
    for (i, (k, v)) in flags.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json::string(&mut out, k.as_bytes());
        out.push(b':');
        json::string(&mut out, v.as_bytes());
    }
    out.extend_from_slice(b"},\"start_time\":");
    json::time_ms(&mut out, start_ms);
    out.extend_from_slice(b"}}");
    out
}

impl serve::Handler for Gateway {
    type Worker = Worker;

    fn worker(&self) -> Worker {
        Worker {
            scratch: Scratch::new(),
            key: Key::new(),
            body: Vec::new(),
            inflate: flate2::Decompress::new(false),
            own: OwnScratch::default(),
            own_parser: Parser::new(),
            own_group: Group::default(),
        }
    }

    fn route(&self, req: &Request<'_>, resp: &mut Response) -> Route {
        self.dispatch(req, resp, None)
    }

    fn handle(&self, worker: &mut Worker, req: &Request<'_>, resp: &mut Response) {
        self.dispatch(req, resp, Some(worker));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpersisted_changes_say_why_with_507_or_500() {
        let mut resp = Response::default();
        for (errno, status, why) in [
            (28, 507, "the push was not stored because the disk is full: "), // ENOSPC
            (122, 507, "the push was not stored because the disk is full: "), // EDQUOT
            (5, 500, "the push was not stored because of an I/O error: "),   // EIO
        ] {
            let e = std::io::Error::from_raw_os_error(errno);
            assert_eq!(unpersisted(&mut resp, "push", &e), status, "errno {errno}");
            assert_eq!(resp.status, status);
            let body = String::from_utf8(resp.body.clone()).unwrap();
            assert!(body.starts_with(why) && body.ends_with(&format!("{e}\n")), "{body}");
        }
    }

    #[test]
    fn paths_cleaned_as_go() {
        let c = |p: &str| {
            let mut out = PathBuf::new();
            clean_path(p.as_bytes(), &mut out);
            String::from_utf8(out.to_vec()).unwrap()
        };
        assert_eq!(c("/metrics/job//x/y"), "/metrics/job/x/y");
        assert_eq!(c("/metrics/job/x/foo/"), "/metrics/job/x/foo/");
        assert_eq!(c("/a/./b/../c"), "/a/c");
        assert_eq!(c("/.."), "/");
        assert_eq!(c("/"), "/");
        assert_eq!(c(""), "/");
        let mut d = PathBuf::new();
        assert!(decode_path(b"/x/%%%%", &mut d).is_err());
        assert!(decode_path(b"/x/%4", &mut d).is_err());
        decode_path(b"/a%20b+c/%CE%A0", &mut d).unwrap();
        assert_eq!(&d[..], "/a b+c/Π".as_bytes());
        let mut e = Vec::new();
        escape_path("/a b/Π/x@y".as_bytes(), &mut e);
        assert_eq!(e, b"/a%20b/%CE%A0/x@y");
    }

    #[test]
    fn negotiation() {
        let pb = b"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";
        assert_eq!(negotiate(pb), (true, 0));
        assert_eq!(negotiate(b""), (false, 0));
        assert_eq!(negotiate(b"application/openmetrics-text;version=1.0.0"), (false, 0));
        let mixed = b"text/plain;q=0.5, application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7;escaping=values";
        assert_eq!(negotiate(mixed), (true, 3));
    }

    #[test]
    fn prefixes() {
        assert_eq!(route_prefix("", ""), "");
        assert_eq!(route_prefix("/", ""), "");
        assert_eq!(route_prefix("pgw/", ""), "/pgw");
        assert_eq!(route_prefix("", "/ext/"), "/ext");
        assert_eq!(route_prefix("/a", "/ext"), "/a");
    }

    #[test]
    fn allow_values_sorted() {
        let mut a = SmallVec::new();
        allow_value(PUT | POST | DELETE, &mut a);
        assert_eq!(&a[..], b"DELETE, OPTIONS, POST, PUT");
        let mut a = SmallVec::new();
        allow_value(GET, &mut a);
        assert_eq!(&a[..], b"GET, OPTIONS");
    }
}
