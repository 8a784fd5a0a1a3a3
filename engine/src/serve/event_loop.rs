//! The event loop: one `mio::Poll` over the listeners, the connections, the waker and the
//! signal pipe; accepting, dispatching readiness to connections, collecting answered jobs,
//! expiring deadlines, and the graceful shutdown.
//!
//! # Implementation notes
//! - One reused `Events`; every source is edge-triggered, so each handler drains its source
//!   until `WouldBlock` (a connection that stops early, say with a request to answer first,
//!   resumes by reading at once, not by waiting for an edge).
//! - Tokens: [`WAKE`], [`SIGNALS`], then one per listener, then one per connection slot.
//!   Slots are reused, so a stale event may reach a new connection; connections treat every
//!   event as a hint and try I/O, so that costs one `WouldBlock`.
//! - Deadlines live on the connections; a sweep visits them all at the earliest deadline or
//!   once per second, whichever comes first: a linear pass over at most `max_connections`
//!   slots, simpler than a timer wheel and cheap at these sizes.
//! - A connection whose job is on a worker is never closed (it has no deadline and reads
//!   nothing), so a job's slot index always finds its own connection when it comes back.

use super::config::Config;
use super::conn::{Conn, Ctx, Next};
use super::date::Date;
use super::worker::{self, Job, Shared};
use super::Handler;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use signal_hook_mio::v1_0::Signals;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The waker's token: answered jobs, exited workers, stop requests.
pub(super) const WAKE: Token = Token(0);
/// The signal pipe's token.
pub(super) const SIGNALS: Token = Token(1);
/// The first listener's token; listener `i` has `FIRST_LISTENER + i`.
pub(super) const FIRST_LISTENER: usize = 2;

/// The longest the loop sleeps without sweeping deadlines.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// How long a graceful shutdown waits for requests in progress.
pub(super) const GRACE: Duration = Duration::from_secs(10);
/// Readiness events taken per poll.
const EVENTS: usize = 1024;

/// The loop's state; see the module docs.
pub(super) struct EventLoop<H: Handler> {
    poll: Poll,
    listeners: Vec<TcpListener>,
    signals: Option<Signals>,
    first_conn: usize,
    conns: Vec<Conn>,
    free: Vec<usize>,
    open: usize,
    /// Answered jobs, swapped with the workers' list.
    done: Vec<Job>,
    /// `accept` failed for lack of file descriptors; retried at each sweep.
    accept_paused: bool,
    /// When a shutdown in progress stops waiting.
    grace_end: Option<Instant>,
    cx: Ctx<H>,
}

impl<H: Handler> EventLoop<H> {
    /// A loop over `listeners` (registered with `poll` as `FIRST_LISTENER + i`).
    ///
    /// # Errors
    /// Cloning the poll's registry failed.
    pub fn new(
        poll: Poll,
        listeners: Vec<TcpListener>,
        signals: Option<Signals>,
        cfg: Config,
        handler: Arc<H>,
        shared: Arc<Shared>,
    ) -> io::Result<EventLoop<H>> {
        let now = Instant::now();
        let reserve = worker::reserved(cfg.max_connections);
        let cx = Ctx {
            handler,
            registry: poll.registry().try_clone()?,
            shared,
            date: Date::new(SystemTime::now()),
            now,
            inflight: 0,
            stopping: false,
            next_sweep: now + SWEEP_EVERY,
            cfg,
        };
        Ok(EventLoop {
            first_conn: FIRST_LISTENER + listeners.len(),
            poll,
            listeners,
            signals,
            conns: Vec::new(),
            free: Vec::with_capacity(reserve),
            open: 0,
            done: Vec::with_capacity(reserve),
            accept_paused: false,
            grace_end: None,
            cx,
        })
    }

    /// Serves until a stop is asked for and the connections are done, or the grace period
    /// ends; then waits out the workers' exit for what is left of it.
    ///
    /// # Errors
    /// Polling failed.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(EVENTS);
        if self.cx.shared.stop_requested() {
            self.begin_shutdown();
        }
        while !self.finished() {
            let mut timeout = self.cx.next_sweep.saturating_duration_since(self.cx.now);
            if let Some(end) = self.grace_end {
                timeout = timeout.min(end.saturating_duration_since(self.cx.now));
            }
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            self.cx.now = Instant::now();
            self.cx.date.update(SystemTime::now());
            for event in &events {
                match event.token() {
                    WAKE => self.on_wake(),
                    SIGNALS => self.on_signals(),
                    Token(t) if t < self.first_conn => self.accept(t - FIRST_LISTENER),
                    Token(t) => self.on_conn(t - self.first_conn),
                }
            }
            if self.cx.now >= self.cx.next_sweep {
                self.sweep();
            }
        }
        if self.open > 0 {
            log::warn!(
                waited_seconds = GRACE.as_secs(), connections = self.open;
                "Stopped waiting for busy connections"
            );
        }
        Ok(())
    }

    /// Waits for the workers to exit until the grace period ends. Returns whether they all
    /// did.
    ///
    /// # Errors
    /// Polling failed.
    pub fn await_workers(&mut self) -> io::Result<bool> {
        let mut events = Events::with_capacity(EVENTS);
        let end = self.grace_end.unwrap_or(self.cx.now);
        while self.cx.shared.live_workers() > 0 {
            let now = Instant::now();
            if now >= end {
                return Ok(false);
            }
            match self.poll.poll(&mut events, Some(end - now)) {
                Err(e) if e.kind() != io::ErrorKind::Interrupted => return Err(e),
                _ => {}
            }
        }
        Ok(true)
    }

    fn finished(&self) -> bool {
        self.grace_end.is_some_and(|end| self.open == 0 || self.cx.now >= end)
    }

    fn on_wake(&mut self) {
        if self.cx.shared.stop_requested() && self.grace_end.is_none() {
            self.begin_shutdown();
        }
        // Swapped out and back so the loop over it can borrow `self`; `Vec::new` allocates
        // nothing.
        let mut done = std::mem::take(&mut self.done);
        self.cx.shared.take_done(&mut done);
        for job in done.drain(..) {
            let slot = job.conn;
            if let Some(conn) = self.conns.get_mut(slot) {
                if conn.answered(job, &mut self.cx) == Next::Close {
                    self.close(slot);
                }
            }
        }
        self.done = done;
    }

    fn on_signals(&mut self) {
        let Some(signals) = self.signals.as_mut() else { return };
        for signal in signals.pending() {
            if self.grace_end.is_none() {
                log::info!(signal = signal; "Received signal, shutting down gracefully");
                self.begin_shutdown();
            } else {
                log::info!(signal = signal; "Received signal again, shutting down now");
                self.grace_end = Some(self.cx.now);
            }
        }
    }

    fn on_conn(&mut self, slot: usize) {
        let Some(conn) = self.conns.get_mut(slot) else { return };
        if conn.is_open() && conn.ready(&mut self.cx) == Next::Close {
            self.close(slot);
        }
    }

    /// Accepts what listener `i` has pending.
    fn accept(&mut self, i: usize) {
        loop {
            let Some(listener) = self.listeners.get(i) else { return };
            match listener.accept() {
                Ok((stream, peer)) => self.admit(stream, peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // The client gave up while queued; the next one may be fine.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    // Out of descriptors or memory: the queued connections wait in the
                    // backlog. Edge-triggered readiness will not repeat, so the sweep retries.
                    if !self.accept_paused {
                        log::warn!(err:% = e; "Accepting connections failed, retrying each second");
                    }
                    self.accept_paused = true;
                    return;
                }
            }
        }
    }

    fn admit(&mut self, mut stream: TcpStream, peer: SocketAddr) {
        if self.open >= self.cx.cfg.max_connections {
            // Over the cap: closed at once, which the client sees as a reset or EOF.
            return;
        }
        // A response goes out in one `sendmsg`; no point holding its last segment back.
        let _ = stream.set_nodelay(true);
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.conns
                    .push(Conn::new(self.conns.len(), Token(self.first_conn + self.conns.len())));
                self.conns.len() - 1
            }
        };
        let token = Token(self.first_conn + slot);
        if self.poll.registry().register(&mut stream, token, Interest::READABLE).is_err() {
            self.free.push(slot);
            return;
        }
        self.conns[slot].open(stream, peer, &mut self.cx);
        self.open += 1;
    }

    fn close(&mut self, slot: usize) {
        self.conns[slot].close();
        self.free.push(slot);
        self.open -= 1;
    }

    /// Expires deadlines that passed and finds the next one; retries a paused accept.
    fn sweep(&mut self) {
        let now = self.cx.now;
        let mut next = now + SWEEP_EVERY;
        for slot in 0..self.conns.len() {
            if self.conns[slot].deadline().is_some_and(|d| d <= now)
                && self.conns[slot].expire(&mut self.cx) == Next::Close
            {
                self.close(slot);
            }
            if let Some(d) = self.conns[slot].deadline() {
                next = next.min(d);
            }
        }
        self.cx.next_sweep = next;
        if std::mem::take(&mut self.accept_paused) {
            (0..self.listeners.len()).for_each(|i| self.accept(i));
        }
    }

    /// Stops accepting, closes idle connections and lets the others finish their request.
    fn begin_shutdown(&mut self) {
        log::info!("Stopping: no longer accepting connections, finishing requests in progress");
        self.grace_end = Some(self.cx.now + GRACE);
        self.cx.stopping = true;
        for mut listener in self.listeners.drain(..) {
            // Dropping closes it either way; deregistering first is mio's contract.
            let _ = self.poll.registry().deregister(&mut listener);
        }
        for slot in 0..self.conns.len() {
            if self.conns[slot].is_open() && self.conns[slot].is_idle() {
                self.close(slot);
            }
        }
    }
}
