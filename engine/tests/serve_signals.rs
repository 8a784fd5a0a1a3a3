//! SIGTERM and SIGINT stop the server: the first gracefully, a second at once. In a process of
//! its own, since the handlers it installs are process-wide.

// The helpers below run inside the test only: a failed unwrap there is a failed test.
#![allow(clippy::unwrap_used)]

use engine::serve::{Config, Handler, Request, Response, Route, Server};
use signal_hook::consts::{SIGINT, SIGTERM};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// `/hold` runs on a worker until released; anything else is answered on the loop.
#[derive(Default)]
struct Holding {
    held: AtomicBool,
    released: AtomicBool,
}

impl Handler for Holding {
    type Worker = ();

    fn worker(&self) {}

    fn route(&self, req: &Request<'_>, resp: &mut Response) -> Route {
        if req.path == "/hold" {
            return Route::Work { limited: false };
        }
        resp.text(200, b"up\n");
        Route::Done
    }

    fn handle(&self, _: &mut (), _: &Request<'_>, resp: &mut Response) {
        self.held.store(true, Ordering::SeqCst);
        while !self.released.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(5));
        }
        resp.text(200, b"released\n");
    }
}

fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(20), "{what} never happened");
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_second_signal_ends_the_graceful_wait() {
    let handler = Arc::new(Holding::default());
    let cfg = Config {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        handle_signals: true,
        ..Config::default()
    };
    let server = Server::bind(cfg, Arc::clone(&handler)).unwrap();
    let addr = server.local_addrs()[0];
    let running = thread::spawn(move || server.run());

    // An answer means `run` is serving, so its signal handlers are in place.
    let mut probe = TcpStream::connect(addr).unwrap();
    probe.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    probe.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");

    let mut held = TcpStream::connect(addr).unwrap();
    held.write_all(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    wait_for("the held request", || handler.held.load(Ordering::SeqCst));

    signal_hook::low_level::raise(SIGTERM).unwrap();
    wait_for("the shutdown", || TcpStream::connect(addr).is_err());
    assert!(!running.is_finished(), "did not wait for the request in progress");

    signal_hook::low_level::raise(SIGINT).unwrap();
    running.join().unwrap().unwrap();
    assert!(!handler.released.load(Ordering::SeqCst));
    handler.released.store(true, Ordering::SeqCst);
}
