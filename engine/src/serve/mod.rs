//! The HTTP/1.1 server: one `mio` event loop for sockets, worker threads for handlers.
//!
//! The loop accepts, reads and parses request heads, reads bodies, and writes responses, all
//! non-blocking, so a slow or stalled client never holds up another. Whatever a [`Handler`]
//! can answer at once (a landing page, a 404, a redirect) it answers on the loop through
//! [`Handler::route`]; everything else (a scrape, a push) runs on a worker through
//! [`Handler::handle`] with that worker's own state, so a scrape in progress never blocks `/`
//! or a second scrape. The exporter and the gateway are two `Handler`s; TLS, authentication and
//! more listener kinds plug in around the same loop.
//!
//! # Modules
//! - `config`: [`Config`]; `listen`: [`resolve_listen_address`] and binding.
//! - `server`: [`Server`] and [`Stopper`]; `event_loop`: the `mio` loop (accept, events,
//!   deadlines, shutdown); `conn`: one connection's request/response cycle and buffers.
//! - `head`: request heads; `chunked`: chunked bodies decoded in place; `respond`: response
//!   heads; `date`: the cached `Date` value.
//! - `worker`: the job queues and worker threads; `gzip`: response compression on workers.
//!
//! # Allocation
//! In steady state (a kept-alive client sending requests) serving allocates nothing: a
//! connection's input buffer and [`Response`] move into a worker's job and back, the queues
//! are reserved for one job per connection, closed connections leave their buffers to the
//! next one in the same slot, and every buffer grows only to the largest message seen (with
//! the caps given in `conn`). `tests/serve_alloc.rs` counts zero allocations over that path.
//!
//! # Implementation notes: the threading model
//! Measured, not assumed (`examples/serve_load.rs`, release build, 2 cores shared with wrk and
//! other work, so ranges over two runs): `wrk -c16` loads a handler burning 200 µs or 5 µs
//! of CPU while `wrk -c1 --latency` probes `/`, which `route` answers on the loop. Model (b)
//! answers in-line: the burn runs in `route` on the loop thread.
//!
//! | handler | model        | load alone (req/s) | with probe | `/` p50 under load | `/` p99  |
//! |---------|--------------|--------------------|------------|--------------------|----------|
//! | 200 µs  | (b) in-line  | 4.5k               | 4.5k       | 1.3-3.4 ms         | 4-8 ms   |
//! | 200 µs  | (a) 1 worker | 4.5-4.7k           | 4.2-4.3k   | 18-19 µs           | 0.8-2 ms |
//! | 200 µs  | (a) 2        | 8.0-8.2k           | 5.9-6.3k   | 19-21 µs           | 2.5 ms   |
//! | 200 µs  | (a) 4        | 7.5k               | 6.6k       | 28 µs              | 7.7 ms   |
//! | 5 µs    | (b) in-line  | 58-76k             | 63-74k     | 190-200 µs         | 2.4-5 ms |
//! | 5 µs    | (a) 1 worker | 62-63k             | 50-53k     | 53-54 µs           | 0.35 ms  |
//! | 5 µs    | (a) 2        | 58-65k             | 47-54k     | 55-58 µs           | 0.4 ms   |
//! | 5 µs    | (a) 4        | 58k                | 48k        | 124 µs             | 0.5 ms   |
//!
//! Chosen: (a), one loop and `available_parallelism` workers (1 to 4). In-line work queues
//! in front of `/`, multiplying its median latency by 3 to 4 at 5 µs and by 60 or more at
//! 200 µs, and caps throughput at one core; workers keep `/` in tens of microseconds whatever
//! they run, and as many workers as cores doubles the 200 µs throughput here. More workers
//! than cores only adds tail latency. The hand-off (a queue, a futex wake, an eventfd write)
//! costs a few microseconds a request, visible only with the 5 µs handler; a scrape takes
//! milliseconds.

use std::net::SocketAddr;

pub use config::Config;
pub use httparse::Header;
pub use listen::resolve_listen_address;
pub use server::{Server, Stopper};

mod chunked;
mod config;
mod conn;
mod date;
mod event_loop;
mod gzip;
// Public only for the fuzz targets, which drive the parser directly.
#[doc(hidden)]
pub mod head;
mod listen;
mod respond;
mod server;
mod worker;

/// The request methods nodegate's handlers distinguish.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`: answered as `GET` without the body.
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
    /// Any other token.
    Other,
}

impl Method {
    /// The method named by a request line's token.
    pub fn parse(token: &str) -> Method {
        match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }

    /// Whether a response to this method is `GET`-like: `GET` or `HEAD`.
    pub fn is_get(self) -> bool {
        matches!(self, Method::Get | Method::Head)
    }
}

/// A parsed request, borrowed from the connection's input buffer.
#[derive(Debug)]
pub struct Request<'a> {
    /// The method.
    pub method: Method,
    /// The request target's path, still percent-encoded.
    pub path: &'a str,
    /// The request target's query without `?`, still percent-encoded; empty if none.
    pub query: &'a str,
    /// The header fields as received.
    pub headers: &'a [Header<'a>],
    /// The body, de-chunked; empty if none.
    pub body: &'a [u8],
    /// The client's address.
    pub peer: Option<SocketAddr>,
}

impl<'a> Request<'a> {
    /// The first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value)
    }

    /// Whether `Accept-Encoding` lists `gzip` (a token equal to `gzip` or starting `gzip;`,
    /// as promhttp decides; `gzip;q=0` is a refusal).
    pub fn accepts_gzip(&self) -> bool {
        self.headers.iter().filter(|h| h.name.eq_ignore_ascii_case("accept-encoding")).any(|h| {
            h.value.split(|&b| b == b',').any(|tok| {
                let tok = crate::lex::trim(tok);
                let (name, params) = match memchr::memchr(b';', tok) {
                    Some(i) => (crate::lex::trim(&tok[..i]), &tok[i + 1..]),
                    None => (tok, &b""[..]),
                };
                name.eq_ignore_ascii_case(b"gzip") && !is_q_zero(params)
            })
        })
    }

    /// The query's `key=value` pairs, both still percent-encoded.
    pub fn query_pairs(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + Clone {
        self.query.as_bytes().split(|&b| b == b'&').filter(|p| !p.is_empty()).map(|p| {
            match memchr::memchr(b'=', p) {
                Some(i) => (&p[..i], &p[i + 1..]),
                None => (p, &b""[..]),
            }
        })
    }
}

fn is_q_zero(params: &[u8]) -> bool {
    params.split(|&b| b == b';').any(|p| {
        let p = crate::lex::trim(p);
        p.len() >= 2
            && p[..2].eq_ignore_ascii_case(b"q=")
            && crate::lex::parse_f64(&p[2..]).is_some_and(|q| q == 0.0)
    })
}

/// Decodes `%XX` escapes and, when `plus` is set (query strings), `+` as space into `buf`
/// (cleared first). Malformed escapes are kept as they are, as browsers do.
pub fn percent_decode<'b>(src: &[u8], plus: bool, buf: &'b mut Vec<u8>) -> &'b [u8] {
    buf.clear();
    let mut i = 0;
    while i < src.len() {
        let b = src[i];
        if b == b'%' && i + 2 < src.len() {
            if let (Some(h), Some(l)) = (hex(src[i + 1]), hex(src[i + 2])) {
                buf.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        buf.push(if plus && b == b'+' { b' ' } else { b });
        i += 1;
    }
    buf
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A response under construction. Owned by a connection and reused for every request on it.
#[derive(Debug)]
pub struct Response {
    /// Status code; 200 unless set.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Extra header lines, each `Name: value\r\n`; see [`Response::header`].
    pub headers: Vec<u8>,
    /// The body. The server sends `Content-Length` and leaves it out for `HEAD`.
    pub body: Vec<u8>,
    /// Whether the server may gzip the body for a client that accepts it.
    pub compress: bool,
}

/// `Content-Type` of plain-text responses.
pub const TEXT: &str = "text/plain; charset=utf-8";

impl Default for Response {
    fn default() -> Self {
        Response {
            status: 200,
            content_type: TEXT,
            headers: Vec::new(),
            body: Vec::new(),
            compress: false,
        }
    }
}

impl Response {
    /// Resets to an empty 200 plain-text response, keeping the buffers.
    pub fn clear(&mut self) {
        self.status = 200;
        self.content_type = TEXT;
        self.headers.clear();
        self.body.clear();
        self.compress = false;
    }

    /// Adds a header line.
    pub fn header(&mut self, name: &str, value: &[u8]) {
        self.headers.extend_from_slice(name.as_bytes());
        self.headers.extend_from_slice(b": ");
        self.headers.extend_from_slice(value);
        self.headers.extend_from_slice(b"\r\n");
    }

    /// Sets a plain-text response with `status` and `body`.
    pub fn text(&mut self, status: u16, body: &[u8]) {
        self.status = status;
        self.content_type = TEXT;
        self.body.clear();
        self.body.extend_from_slice(body);
    }
}

/// Where a request is answered.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Route {
    /// `route` filled the response; the loop sends it.
    Done,
    /// Run [`Handler::handle`] on a worker once the body is in, with a cleared response
    /// (whatever `route` wrote is dropped). `limited` requests count against
    /// [`Config::max_inflight`]; past it the loop answers 503 itself.
    Work {
        /// Counted against `max_inflight`.
        limited: bool,
    },
}

/// What the server calls to answer requests.
pub trait Handler: Send + Sync + 'static {
    /// Per-worker state (an exporter instance with its kept fds, parse scratch...).
    type Worker: Send + 'static;

    /// Builds one worker's state; called once per worker thread at start, and again after
    /// [`handle`](Handler::handle) panicked (that request is answered 500).
    fn worker(&self) -> Self::Worker;

    /// Called on the event loop once a request head is in: answer at once into `resp` and
    /// return [`Route::Done`], or return [`Route::Work`]. Must not block.
    fn route(&self, req: &Request<'_>, resp: &mut Response) -> Route;

    /// Called on a worker for requests routed to [`Route::Work`], with the body read.
    fn handle(&self, worker: &mut Self::Worker, req: &Request<'_>, resp: &mut Response);
}
