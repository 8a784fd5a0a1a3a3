//! The HTTP server, black-box over loopback: a small handler, raw sockets for clients.
//!
//! Nothing here asserts on elapsed time. Where a test needs one request to be in progress while
//! others run, the handler holds it at a gate the test opens; timeouts only keep a broken
//! server from hanging the suite.

// The helpers below run inside tests only: a failed unwrap there is a failed test.
#![allow(clippy::unwrap_used)]

use engine::serve::{Config, Handler, Method, Request, Response, Route, Server, Stopper};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long a client waits for any one read before the test fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// Routes: `/` on the loop; `/metrics` (limited, gzip-able) and `/gate` (limited, waits for the
/// test) on workers; `/work`, `/echo`, `/big`, `/panic` on workers, unlimited.
#[derive(Default)]
struct TestHandler {
    workers_built: AtomicUsize,
    at_gate: AtomicUsize,
    open: Mutex<bool>,
    opened: Condvar,
}

impl TestHandler {
    fn open_gate(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }

    /// Waits until `n` requests are held at the gate.
    fn await_gate(&self, n: usize) {
        let start = Instant::now();
        while self.at_gate.load(Ordering::SeqCst) < n {
            assert!(start.elapsed() < PATIENCE, "requests never reached the gate");
            thread::sleep(Duration::from_millis(2));
        }
    }
}

fn metrics_text() -> Vec<u8> {
    (0..2000).flat_map(|i| format!("node_test_total{{n=\"{i}\"}} {i}\n").into_bytes()).collect()
}

impl Handler for TestHandler {
    type Worker = u64;

    fn worker(&self) -> u64 {
        self.workers_built.fetch_add(1, Ordering::SeqCst);
        0
    }

    fn route(&self, req: &Request<'_>, resp: &mut Response) -> Route {
        match req.path {
            "/" | "/metrics" if !req.method.is_get() => {
                resp.text(405, b"method not allowed\n");
                resp.header("Allow", b"GET, HEAD");
                Route::Done
            }
            "/" => {
                resp.text(200, b"landing\n");
                Route::Done
            }
            "/metrics" | "/gate" => Route::Work { limited: true },
            "/work" | "/echo" | "/big" | "/panic" => Route::Work { limited: false },
            _ => {
                resp.text(404, b"not found\n");
                Route::Done
            }
        }
    }

    fn handle(&self, served: &mut u64, req: &Request<'_>, resp: &mut Response) {
        *served += 1;
        match req.path {
            "/metrics" => {
                resp.body.extend_from_slice(&metrics_text());
                resp.compress = true;
            }
            "/gate" => {
                self.at_gate.fetch_add(1, Ordering::SeqCst);
                let mut open = self.open.lock().unwrap();
                while !*open {
                    open = self.opened.wait(open).unwrap();
                }
                resp.text(200, b"through the gate\n");
            }
            "/echo" => {
                resp.body.extend_from_slice(req.body);
                if let Some(v) = req.header("x-tag") {
                    resp.header("X-Tag", v);
                }
            }
            "/big" => {
                let n = req.query.parse().unwrap();
                resp.body.resize(n, b'x');
            }
            "/panic" => panic!("test handler panics on purpose"),
            _ => {
                let method = if req.method == Method::Head { "HEAD" } else { "other" };
                resp.text(200, format!("work {} {method}\n", req.query).as_bytes());
            }
        }
    }
}

/// A server running on its own thread; stopped and joined on drop.
struct Running {
    addr: SocketAddr,
    stopper: Stopper,
    handler: Arc<TestHandler>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

fn config() -> Config {
    Config {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        workers: 2,
        handle_signals: false,
        ..Config::default()
    }
}

fn serve(cfg: Config) -> Running {
    let handler = Arc::new(TestHandler::default());
    let server = Server::bind(cfg, Arc::clone(&handler)).unwrap();
    let addr = server.local_addrs()[0];
    let stopper = server.stopper();
    let thread = Some(thread::spawn(move || server.run()));
    Running { addr, stopper, handler, thread }
}

impl Running {
    fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Stops the server and returns what `run` returned.
    fn stop(mut self) -> io::Result<()> {
        self.stopper.stop();
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handler.open_gate();
        self.stopper.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

/// A raw HTTP/1.1 client over one connection; keeps bytes read past a response for the next.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_nodelay(true).unwrap();
        Client { stream, buf: Vec::new() }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    fn get(&mut self, path: &str) -> Reply {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        self.reply()
    }

    fn reply(&mut self) -> Reply {
        self.read_reply(false)
    }

    /// Reads one response; with `head_only`, its body is not expected (a `HEAD` request).
    fn read_reply(&mut self, head_only: bool) -> Reply {
        loop {
            let mut hs = [httparse::EMPTY_HEADER; 64];
            let mut resp = httparse::Response::new(&mut hs);
            if let httparse::Status::Complete(len) = resp.parse(&self.buf).unwrap() {
                let status = resp.code.unwrap();
                let headers: Vec<(String, String)> = resp
                    .headers
                    .iter()
                    .map(|h| (h.name.to_string(), String::from_utf8(h.value.to_vec()).unwrap()))
                    .collect();
                let reply = Reply { status, headers, body: Vec::new() };
                assert!(status < 200 || reply.header("date").is_some(), "no Date header");
                assert!(reply.header("transfer-encoding").is_none(), "chunked response");
                self.buf.drain(..len);
                let n = match reply.header("content-length") {
                    Some(_) if head_only => 0,
                    Some(n) => n.parse().unwrap(),
                    None => {
                        assert!(matches!(status, 100..=199 | 204 | 304), "no Content-Length");
                        0
                    }
                };
                while self.buf.len() < n {
                    assert!(self.read_some() > 0, "connection closed inside a body");
                }
                let body = self.buf.drain(..n).collect();
                return Reply { body, ..reply };
            }
            assert!(self.read_some() > 0, "connection closed before a response");
        }
    }

    fn read_some(&mut self) -> usize {
        let mut chunk = [0; 64 << 10];
        let n = self.stream.read(&mut chunk).unwrap();
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// Whether the server closed the connection with nothing more to read (a reset counts).
    fn closed(&mut self) -> bool {
        let mut chunk = [0; 1024];
        self.buf.is_empty() && matches!(self.stream.read(&mut chunk), Ok(0) | Err(_))
    }
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let srv = serve(config());
    let mut c = srv.client();
    for i in 0..200 {
        let r = c.get(&format!("/work?{i}"));
        assert_eq!((r.status, r.text()), (200, &*format!("work {i} other\n")));
        let r = c.get("/");
        assert_eq!((r.status, r.text()), (200, "landing\n"));
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(r.header("connection"), None);
    }
    let handler = Arc::clone(&srv.handler);
    srv.stop().unwrap();
    assert_eq!(handler.workers_built.load(Ordering::SeqCst), 2, "one state per worker");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let srv = serve(config());
    let mut c = srv.client();
    let mut batch = Vec::new();
    for path in ["/work?1", "/", "/work?3", "/nope", "/work?5"] {
        batch.extend_from_slice(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    c.send(&batch);
    for want in ["work 1 other\n", "landing\n", "work 3 other\n", "not found\n", "work 5 other\n"] {
        assert_eq!(c.reply().text(), want);
    }
    assert_eq!(c.get("/").text(), "landing\n");
}

#[test]
fn head_has_the_get_length_and_no_body() {
    let srv = serve(config());
    let mut c = srv.client();
    for path in ["/metrics", "/"] {
        let get = c.get(path);
        c.send(format!("HEAD {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let head = c.read_reply(true);
        assert_eq!(head.status, 200);
        assert_eq!(head.header("content-length"), Some(&*get.body.len().to_string()));
        assert_eq!(head.header("content-type"), get.header("content-type"));
    }
    // Had any body bytes followed the HEAD response, this would misparse.
    assert_eq!(c.get("/").text(), "landing\n");
    assert_eq!(c.get("/work?h").text(), "work h other\n");
}

#[test]
fn gzip_when_accepted() {
    let srv = serve(config());
    let mut c = srv.client();
    let ask = |c: &mut Client, accept: &str| {
        c.send(
            format!("GET /metrics HTTP/1.1\r\nHost: t\r\nAccept-Encoding: {accept}\r\n\r\n")
                .as_bytes(),
        );
        c.reply()
    };
    let r = ask(&mut c, "deflate, gzip;q=0.5");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert!(r.body.len() < metrics_text().len() / 3);
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&r.body[..]).read_to_end(&mut plain).unwrap();
    assert_eq!(plain, metrics_text());
    for refused in ["gzip;q=0", "identity", "br"] {
        let r = ask(&mut c, refused);
        assert_eq!(r.header("content-encoding"), None, "{refused}");
        assert_eq!(r.body, metrics_text());
    }
    let r = c.get("/metrics");
    assert_eq!((r.header("content-encoding"), r.body.len()), (None, metrics_text().len()));
    // Answered on the loop: never compressed.
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n");
    let r = c.reply();
    assert_eq!((r.header("content-encoding"), r.text()), (None, "landing\n"));
}

#[test]
fn not_found_and_method_not_allowed() {
    let srv = serve(config());
    let mut c = srv.client();
    let r = c.get("/nope");
    assert_eq!((r.status, r.text()), (404, "not found\n"));
    c.send(b"DELETE / HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.reply();
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
    assert_eq!(c.get("/").status, 200);
}

#[test]
fn oversized_head_is_431_and_closes() {
    let srv = serve(Config { max_head: 4096, ..config() });
    let mut c = srv.client();
    c.send(format!("GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n", "a".repeat(8000)).as_bytes());
    let r = c.reply();
    assert_eq!((r.status, r.header("connection")), (431, Some("close")));
    assert_eq!(
        r.text(),
        "431 Request Header Fields Too Large: request head too large (limit: \
         --web.max-header-bytes)\n"
    );
    assert!(c.closed());
    // The limit is inclusive.
    let head = |len: usize| {
        let pad = len - "GET /? HTTP/1.1\r\nHost: t\r\n\r\n".len();
        format!("GET /?{} HTTP/1.1\r\nHost: t\r\n\r\n", "p".repeat(pad))
    };
    let mut c = srv.client();
    c.send(head(4096).as_bytes());
    assert_eq!(c.reply().status, 200);
    c.send(head(4097).as_bytes());
    assert_eq!(c.reply().status, 431);
}

#[test]
fn bodies_by_length_and_chunked() {
    let srv = serve(config());
    let mut c = srv.client();
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\nX-Tag: a\r\n\r\nhello world");
    let r = c.reply();
    assert_eq!((r.status, r.text(), r.header("x-tag")), (200, "hello world", Some("a")));
    // Chunked, sent in pieces, with the next request pipelined behind the last chunk.
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
    c.send(b"lo\r\n6;ext=1\r\n worl");
    c.send(b"d\r\n0\r\nTrailer: x\r\n\r\nGET /work?after HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.reply().text(), "hello world");
    assert_eq!(c.reply().text(), "work after other\n");
    // A body on a request the loop answers is read past, keeping the connection in step.
    c.send(b"POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody");
    assert_eq!(c.reply().status, 404);
    let big: Vec<u8> = (0..60_000u32).map(|i| (i % 251) as u8).collect();
    c.send(
        format!("PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", big.len())
            .as_bytes(),
    );
    c.send(&big);
    assert_eq!(c.reply().body, big);
}

#[test]
fn bodies_over_the_limit_are_413() {
    let srv = serve(Config { max_body: 100, ..config() });
    let mut c = srv.client();
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n");
    let r = c.reply();
    assert_eq!((r.status, r.header("connection")), (413, Some("close")));
    assert!(c.closed());
    let mut c = srv.client();
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.send(format!("40\r\n{}\r\n40\r\n{}\r\n0\r\n\r\n", "a".repeat(64), "b".repeat(64)).as_bytes());
    assert_eq!(c.reply().status, 413);
    let mut c = srv.client();
    c.send(
        format!("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{}", "c".repeat(100))
            .as_bytes(),
    );
    assert_eq!(c.reply().body.len(), 100);
}

#[test]
fn expect_100_continue() {
    let srv = serve(config());
    let mut c = srv.client();
    c.send(b"PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    let interim = c.reply();
    assert_eq!(interim.status, 100);
    assert!(interim.body.is_empty());
    c.send(b"ping");
    assert_eq!(c.reply().text(), "ping");
    // Refused at once, without asking for the body; the connection cannot be reused.
    c.send(b"PUT /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    let r = c.reply();
    assert_eq!((r.status, r.header("connection")), (404, Some("close")));
}

#[test]
fn http_1_0_closes_unless_kept_alive() {
    let srv = serve(config());
    let mut c = srv.client();
    c.send(b"GET / HTTP/1.0\r\n\r\n");
    let r = c.reply();
    assert_eq!((r.status, r.header("connection")), (200, Some("close")));
    assert!(c.closed());
    let mut c = srv.client();
    for _ in 0..3 {
        c.send(b"GET /work?10 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let r = c.reply();
        assert_eq!((r.text(), r.header("connection")), ("work 10 other\n", Some("keep-alive")));
    }
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(c.reply().header("connection"), Some("close"));
    assert!(c.closed());
}

#[test]
fn malformed_heads_are_refused() {
    let srv = serve(config());
    for (req, status) in [
        (&b"GET / HTTP/2.0\r\nHost: t\r\n\r\n"[..], 505),
        (b"not http at all\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    ] {
        let mut c = srv.client();
        c.send(req);
        let r = c.reply();
        assert_eq!((r.status, r.header("connection")), (status, Some("close")), "{req:?}");
        assert!(c.closed());
    }
}

#[test]
fn a_panicking_handler_answers_500() {
    let srv = serve(Config { workers: 1, ..config() });
    let mut c = srv.client();
    assert_eq!(c.get("/panic").status, 500);
    assert_eq!(c.get("/work?ok").text(), "work ok other\n");
    assert_eq!(srv.handler.workers_built.load(Ordering::SeqCst), 2, "state rebuilt");
}

#[test]
fn a_slow_client_does_not_hold_up_others() {
    let srv = serve(config());
    let mut slow = srv.client();
    for b in b"GET /work?slow HTTP/1.1\r\nHost: t\r\n" {
        slow.send(&[*b]);
        thread::sleep(Duration::from_millis(1));
    }
    let mut fast = srv.client();
    for i in 0..50 {
        assert_eq!(fast.get(&format!("/work?{i}")).status, 200);
        assert_eq!(fast.get("/").status, 200);
    }
    slow.send(b"\r\n");
    assert_eq!(slow.reply().text(), "work slow other\n");
}

#[test]
fn a_stalled_reader_does_not_hold_up_others() {
    let srv = serve(config());
    let n = 32 << 20; // well past what loopback socket buffers hold
    let mut stalled = srv.client();
    stalled.send(format!("GET /big?{n} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    let mut other = srv.client();
    for i in 0..20 {
        assert_eq!(other.get(&format!("/work?{i}")).status, 200);
        assert_eq!(other.get("/").status, 200);
    }
    assert_eq!(stalled.reply().body.len(), n);
    assert_eq!(stalled.get("/").status, 200);
}

#[test]
fn a_response_not_drained_in_time_is_cut_off() {
    let srv = serve(Config { write_timeout: Duration::from_millis(200), ..config() });
    let n = 32 << 20;
    let mut stalled = srv.client();
    stalled.send(format!("GET /big?{n} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    // Generous: the deadline is checked at least once a second.
    thread::sleep(Duration::from_secs(3));
    let mut got = 0;
    let mut chunk = vec![0; 1 << 20];
    while let Ok(k @ 1..) = stalled.stream.read(&mut chunk) {
        got += k;
    }
    assert!(got < n, "the whole response came through");
}

#[test]
fn a_head_not_finished_in_time_is_408() {
    let srv = serve(Config { header_timeout: Duration::from_millis(200), ..config() });
    let mut c = srv.client();
    c.send(b"GET / HTTP/1.1\r\nHo");
    let r = c.reply();
    assert_eq!((r.status, r.header("connection")), (408, Some("close")));
    assert!(c.closed());
}

/// Sends `bytes` one at a time, `pause` apart, on a clone of `c`'s socket, until done or the
/// server hangs up.
fn trickle(c: &Client, bytes: Vec<u8>, pause: Duration) -> JoinHandle<()> {
    let mut w = c.stream.try_clone().unwrap();
    thread::spawn(move || {
        for b in bytes {
            if w.write_all(&[b]).is_err() {
                return;
            }
            thread::sleep(pause);
        }
    })
}

#[test]
fn a_body_trickled_past_the_read_timeout_is_408() {
    // Each pause is far below the idle timeout: only the whole-request deadline can end it.
    let srv = serve(Config { read_timeout: Duration::from_millis(500), ..config() });
    let mut c = srv.client();
    c.send(b"PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n");
    // A thousand bytes 50 ms apart would take 50 s, past the client's patience.
    let writer = trickle(&c, vec![b'x'; 1000], Duration::from_millis(50));
    let r = c.reply();
    assert_eq!((r.status, r.header("connection")), (408, Some("close")));
    assert!(r.text().contains("--web.read-timeout"), "{}", r.text());
    assert!(c.closed());
    drop(c);
    writer.join().unwrap();
    assert_eq!(srv.client().get("/").status, 200);
}

#[test]
fn the_read_timeout_counts_from_the_first_byte_of_the_head() {
    let srv = serve(Config {
        read_timeout: Duration::from_millis(500),
        header_timeout: Duration::from_secs(60),
        ..config()
    });
    let mut c = srv.client();
    let head = b"GET / HTTP/1.1\r\nHost: t\r\nX-Padding: ".iter().copied();
    let writer = trickle(&c, head.chain([b'y'; 1000]).collect(), Duration::from_millis(50));
    assert_eq!(c.reply().status, 408);
    drop(c);
    writer.join().unwrap();
}

#[test]
fn a_zero_read_timeout_sets_no_whole_request_deadline() {
    let srv = serve(Config { read_timeout: Duration::ZERO, ..config() });
    let mut c = srv.client();
    c.send(b"PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 20\r\n\r\n");
    let writer = trickle(&c, vec![b'z'; 20], Duration::from_millis(100));
    writer.join().unwrap();
    assert_eq!(c.reply().body, vec![b'z'; 20]);
}

#[test]
fn idle_connections_are_closed() {
    let srv = serve(Config { idle_timeout: Duration::from_millis(200), ..config() });
    let mut c = srv.client();
    assert_eq!(c.get("/").status, 200);
    assert!(c.closed());
}

#[test]
fn connections_past_the_cap_are_closed_at_once() {
    let srv = serve(Config { max_connections: 2, ..config() });
    let mut a = srv.client();
    let mut b = srv.client();
    assert_eq!(a.get("/").status, 200);
    assert_eq!(b.get("/").status, 200);
    let mut over = srv.client();
    // The request may or may not get out before the close; no response comes back either way.
    let _ = over.stream.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(over.closed());
    assert_eq!(a.get("/").status, 200);
    drop(b);
    // Once the server has seen the close, a new connection gets in.
    let start = Instant::now();
    loop {
        let mut c = srv.client();
        let _ = c.stream.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        if let Ok(1) = c.stream.peek(&mut [0]) {
            assert_eq!(c.reply().status, 200);
            break;
        }
        assert!(start.elapsed() < PATIENCE, "the freed slot was never reused");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn requests_past_max_inflight_get_promhttps_503() {
    let srv = serve(Config { max_inflight: 1, ..config() });
    let mut held = srv.client();
    held.send(b"GET /gate HTTP/1.1\r\nHost: t\r\n\r\n");
    srv.handler.await_gate(1);
    let mut c = srv.client();
    let r = c.get("/metrics");
    assert_eq!(r.status, 503);
    assert_eq!(r.text(), "Limit of concurrent requests reached (1), try again later.\n");
    // Unlimited routes are not counted.
    assert_eq!(c.get("/work?free").status, 200);
    assert_eq!(c.get("/").status, 200);
    srv.handler.open_gate();
    assert_eq!(held.reply().text(), "through the gate\n");
    assert_eq!(c.get("/metrics").status, 200);
}

#[test]
fn a_long_handler_holds_up_neither_the_loop_nor_other_workers() {
    let srv = serve(config());
    let mut held = srv.client();
    held.send(b"GET /gate HTTP/1.1\r\nHost: t\r\n\r\n");
    srv.handler.await_gate(1);
    let mut c = srv.client();
    for _ in 0..10 {
        assert_eq!(c.get("/").text(), "landing\n");
        assert_eq!(c.get("/metrics").status, 200);
    }
    srv.handler.open_gate();
    assert_eq!(held.reply().text(), "through the gate\n");
}

#[test]
fn graceful_stop_finishes_requests_in_progress() {
    let mut srv = serve(config());
    let mut held = srv.client();
    held.send(b"GET /gate HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut idle = srv.client();
    assert_eq!(idle.get("/").status, 200);
    srv.handler.await_gate(1);
    srv.stopper.stop();
    assert!(idle.closed(), "idle connections close at once");
    srv.handler.open_gate();
    let r = held.reply();
    assert_eq!((r.text(), r.header("connection")), ("through the gate\n", Some("close")));
    held.stream.shutdown(Shutdown::Write).unwrap();
    srv.thread.take().unwrap().join().unwrap().unwrap();
    assert!(TcpStream::connect(srv.addr).is_err(), "still accepting");
}

#[test]
fn stopping_an_idle_server_returns() {
    let srv = serve(config());
    assert_eq!(srv.client().get("/").status, 200);
    srv.stop().unwrap();
}
