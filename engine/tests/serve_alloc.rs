//! Serving allocates nothing in steady state: after a warm-up, kept-alive requests answered on
//! the loop and on workers (gzip included), pipelined requests, chunked bodies and connection
//! churn count zero allocations in the whole process, client included.
//!
//! `harness = false`: libtest's own threads allocate while tests run.

#![allow(unsafe_code)]

use engine::serve::{Config, Handler, Request, Response, Route, Server};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to `System`, only counting; the default `realloc` and `alloc_zeroed` call
// `alloc`, so they are counted too.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        // SAFETY: the caller's contract for `alloc`, passed on.
        unsafe { System.alloc(l) }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: `p` came from `System.alloc` with this layout, as `alloc` above returns.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A scrape-sized, compressible body, built once.
static METRICS: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();

struct Exporter;

impl Handler for Exporter {
    type Worker = ();

    fn worker(&self) {}

    fn route(&self, req: &Request<'_>, resp: &mut Response) -> Route {
        match req.path {
            "/" => {
                resp.text(200, b"<html>nodegate</html>\n");
                Route::Done
            }
            _ => Route::Work { limited: true },
        }
    }

    fn handle(&self, _: &mut (), req: &Request<'_>, resp: &mut Response) {
        match req.path {
            "/echo" => resp.body.extend_from_slice(req.body),
            _ => {
                resp.body.extend_from_slice(METRICS.get().map_or(&[][..], |m| &m[..]));
                resp.compress = true;
            }
        }
    }
}

const GET_ROOT: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
const GET_METRICS: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n";
const HEAD_METRICS: &[u8] = b"HEAD /metrics HTTP/1.1\r\nHost: t\r\n\r\n";
const POST_CHUNKED: &[u8] =
    b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nping\r\n0\r\n\r\n";
const PIPELINED: &[u8] =
    b"GET / HTTP/1.1\r\nHost: t\r\n\r\nGET /metrics HTTP/1.1\r\nHost: t\r\n\r\n";

/// A client that allocates nothing: fixed buffers, responses framed by `Content-Length`.
struct Client {
    stream: TcpStream,
    buf: Box<[u8]>,
    len: usize,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect: {e}"));
        Client { stream, buf: vec![0; 1 << 20].into_boxed_slice(), len: 0 }
    }

    fn send(&mut self, req: &[u8]) {
        self.stream.write_all(req).unwrap_or_else(|e| panic!("write: {e}"));
    }

    /// Reads one response and returns its status; `head_only` for a `HEAD` request.
    fn reply(&mut self, head_only: bool) -> usize {
        loop {
            if let Some(end) = memchr::memmem::find(&self.buf[..self.len], b"\r\n\r\n") {
                let head = &self.buf[..end];
                let status = parse(&head[9..12]);
                let body = match memchr::memmem::find(head, b"Content-Length: ") {
                    Some(at) if !head_only => {
                        let digits = &head[at + 16..];
                        parse(&digits[..memchr::memchr(b'\r', digits).unwrap_or(digits.len())])
                    }
                    _ => 0,
                };
                let total = end + 4 + body;
                while self.len < total {
                    self.fill();
                }
                self.buf.copy_within(total..self.len, 0);
                self.len -= total;
                return status;
            }
            self.fill();
        }
    }

    fn fill(&mut self) {
        match self.stream.read(&mut self.buf[self.len..]) {
            Ok(0) => panic!("server closed the connection"),
            Ok(n) => self.len += n,
            Err(e) => panic!("read: {e}"),
        }
    }
}

fn parse(digits: &[u8]) -> usize {
    digits.iter().fold(0, |n, d| n * 10 + usize::from(d - b'0'))
}

/// One round of every kind of exchange.
fn round(addr: SocketAddr, kept: &mut Client) {
    kept.send(GET_ROOT);
    assert_eq!(kept.reply(false), 200);
    kept.send(GET_METRICS);
    assert_eq!(kept.reply(false), 200);
    kept.send(HEAD_METRICS);
    assert_eq!(kept.reply(true), 200);
    kept.send(POST_CHUNKED);
    assert_eq!(kept.reply(false), 200);
    kept.send(PIPELINED);
    assert_eq!((kept.reply(false), kept.reply(false)), (200, 200));
    // A new connection each round: its slot and buffers come from the pool.
    let mut fresh = Client { stream: connect(addr), buf: std::mem::take(&mut kept.buf), len: 0 };
    fresh.send(GET_METRICS);
    assert_eq!(fresh.reply(false), 200);
    kept.buf = fresh.buf;
}

fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect: {e}"))
}

fn main() {
    let text: Vec<u8> = (0..3000)
        .flat_map(|i| {
            format!("node_cpu_seconds_total{{cpu=\"{i}\",mode=\"idle\"}} {i}.25\n").into_bytes()
        })
        .collect();
    METRICS.get_or_init(|| text);
    let cfg = Config {
        listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        workers: 2,
        handle_signals: false,
        ..Config::default()
    };
    let server = Server::bind(cfg, Arc::new(Exporter)).unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = server.local_addrs()[0];
    let stopper = server.stopper();
    let running = thread::spawn(move || server.run());

    // Warm-up: buffers grow to their working sizes, and enough slots exist for a connection
    // to open before the server has seen the previous one close.
    let mut kept = Client::connect(addr);
    let burst: Vec<Client> = (0..8).map(|_| Client::connect(addr)).collect();
    for mut c in burst {
        c.send(GET_METRICS);
        assert_eq!(c.reply(false), 200);
    }
    for _ in 0..200 {
        round(addr, &mut kept);
    }

    let before = ALLOCS.load(Relaxed);
    for _ in 0..1000 {
        round(addr, &mut kept);
    }
    let allocs = ALLOCS.load(Relaxed) - before;

    stopper.stop();
    drop(kept);
    running
        .join()
        .unwrap_or_else(|_| panic!("server thread panicked"))
        .unwrap_or_else(|e| panic!("run: {e}"));
    assert_eq!(allocs, 0, "serving allocated {allocs} times over 1000 rounds");
    println!("serve_alloc: 0 allocations over 1000 rounds (7 requests and 1 connection each)");
}
