//! The server's settings: listeners, worker threads, limits and timeouts.

use std::net::SocketAddr;
use std::time::Duration;

/// How a [`Server`](super::Server) listens, how many threads answer, and what it tolerates.
#[derive(Clone, Debug)]
pub struct Config {
    /// One listener each (node_exporter's repeatable `--web.listen-address`, read with
    /// [`resolve_listen_address`](super::resolve_listen_address)). No default: the exporter
    /// and the gateway each have their own port.
    pub listen: Vec<SocketAddr>,
    /// Threads that run [`Handler::handle`](super::Handler::handle); at least one is started.
    pub workers: usize,
    /// Open connections at most; past it a new connection is accepted and closed at once.
    pub max_connections: usize,
    /// Bytes a request head may have; past it the answer is 431 and the connection closes.
    pub max_head: usize,
    /// Bytes a request body may have; past it the answer is 413 and the connection closes.
    pub max_body: usize,
    /// Time from a head's first byte to its end; past it the answer is 408 and the connection
    /// closes. Also bounds the wait for the head of the next pipelined request.
    pub header_timeout: Duration,
    /// Time from a request's first byte to the end of its body (Go's `http.Server.ReadTimeout`);
    /// past it the answer is 408 and the connection closes. It bounds what the per-read
    /// timeouts cannot: a client trickling a byte now and then. `Duration::ZERO`: no limit.
    pub read_timeout: Duration,
    /// Time a kept-alive connection may sit with no request in progress before it is closed.
    /// While a body is read it is the longest pause allowed between two reads.
    pub idle_timeout: Duration,
    /// Time a response may take to be drained by the client, from when it is ready; past it
    /// the connection is closed.
    pub write_timeout: Duration,
    /// `Route::Work { limited: true }` requests queued or running at most (node_exporter's
    /// `--web.max-requests`); past it the answer is promhttp's 503. 0 means no limit.
    pub max_inflight: usize,
    /// Whether SIGTERM and SIGINT start a graceful shutdown (a second one ends the wait for
    /// requests in progress).
    pub handle_signals: bool,
}

impl Default for Config {
    /// No listeners; the worker count the threading measurement picked (see
    /// [`serve`](super)); 1,024 connections; 16 KiB heads; 64 KiB bodies (the exporter takes
    /// none; the gateway raises it); timeouts 10 s for heads, 60 s for whole requests, 5 min
    /// idle, 30 s for writes;
    /// 40 limited requests, node_exporter's default; signals handled.
    fn default() -> Config {
        Config {
            listen: Vec::new(),
            workers: default_workers(),
            max_connections: 1024,
            max_head: 16 << 10,
            max_body: 64 << 10,
            header_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(300),
            write_timeout: Duration::from_secs(30),
            max_inflight: 40,
            handle_signals: true,
        }
    }
}

/// One worker per CPU, from one to four: the measurement in the [module docs](super) found
/// more workers than cores only adding tail latency, and past four concurrent scrapes are rare
/// (one per Prometheus server) while each worker keeps its own handler state and fds.
fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4)
}
