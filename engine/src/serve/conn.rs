//! One connection: its buffers and the request/response cycle on it, advanced by readiness
//! events, answered jobs and expired deadlines from the loop.
//!
//! A connection goes round `Head` (reading a request head; idle if nothing is in) → `Body`
//! (reading a body) → `Working` (a worker has the request) → `Write` (the response goes out)
//! → `Head` again, or `Linger` before closing. Requests are taken one at a time: the next
//! pipelined head is parsed only once the previous response is written, so responses leave in
//! order and a client that does not read its responses stops being read from.
//!
//! All socket I/O is non-blocking and every step tolerates being called when nothing is
//! ready, so spurious or stale events cost a `WouldBlock` and nothing else.
//!
//! # Buffers
//! `input` holds received bytes: the request head, then its body (de-chunked in place), then
//! whatever the client pipelined after it. Its length is the initialized size, grown by
//! doubling from [`INPUT_INIT`] up to the phase's limit (`max_head`, or head plus
//! `max_body`) and never shrunk while the connection lives; `end` marks the bytes received.
//! `out` holds a response head; the body goes out from `resp.body` in the same `sendmsg`. A slot's
//! buffers outlive its connection and serve the next one, unless one grew past [`POOL_MAX`].

use super::chunked::{self, ChunkError, Decoder};
use super::config::Config;
use super::date::Date;
use super::head::{self, Framing, MAX_HEADERS};
use super::respond::{self, Connection};
use super::worker::{Job, Shared};
use super::{Handler, Response, Route};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use rustix::io::Errno;
use rustix::net::{sendmsg, SendAncillaryBuffer, SendFlags};
use std::io::{self, IoSlice, Read};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Initial size of a connection's input buffer: a scrape's request head is a few hundred
/// bytes, a browser's one or two KiB.
const INPUT_INIT: usize = 4 << 10;
/// Initial capacity of the response head buffer.
const OUT_INIT: usize = 512;
/// A buffer larger than this is freed when its connection closes rather than pooled, so one
/// large push does not pin its memory in an idle slot.
const POOL_MAX: usize = 1 << 20;
/// Room past `max_body` while reading a chunked body, for the framing of the next read.
const CHUNK_SLACK: usize = 8 << 10;
/// How long a closing connection keeps reading (and dropping) what the client still sends
/// after its last response, so the close does not turn into a reset that would destroy that
/// response in the client's receive buffer.
const LINGER: Duration = Duration::from_secs(2);
/// Bytes dropped while lingering before closing regardless.
const LINGER_MAX: usize = 1 << 20;

/// Refusal details, naming the flags `nodegate` sets these limits with.
const HEAD_TOO_LARGE: &str = "request head too large (limit: --web.max-header-bytes)";
const BODY_TOO_LARGE: &str = "request body too large";
const LATE: &str = "request not received in time (limits: --web.read-header-timeout, \
                    --web.read-timeout, --web.idle-timeout)";

/// What the loop shares with its connections.
pub(super) struct Ctx<H: Handler> {
    pub handler: Arc<H>,
    pub cfg: Config,
    pub registry: Registry,
    pub shared: Arc<Shared>,
    pub date: Date,
    /// The loop's clock, read once per wake-up.
    pub now: Instant,
    /// `Route::Work { limited: true }` jobs out.
    pub inflight: usize,
    /// Graceful shutdown has begun: no connection is kept alive.
    pub stopping: bool,
    /// When the loop next looks for expired deadlines; lowered by any earlier deadline set.
    pub next_sweep: Instant,
}

impl<H: Handler> Ctx<H> {
    fn at_limit(&self) -> bool {
        self.cfg.max_inflight != 0 && self.inflight >= self.cfg.max_inflight
    }
}

/// Whether the loop keeps a connection after a step.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(super) enum Next {
    /// Still open; wait for its next event.
    Open,
    /// Close it and free its slot.
    Close,
}

/// What to do after one step of the state machine.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Step {
    /// The phase changed: run the next one now.
    Again,
    /// Nothing more until an event, a job or a deadline.
    Wait,
    /// Done with this connection.
    Close,
}

/// Where a connection is in its cycle.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// Reading a request head; idle while no byte of it is in.
    Head,
    /// Reading a body.
    Body(Reading),
    /// A worker has the request and the buffers.
    Working,
    /// Writing `out` (and the body). `then` is `Some` for `100 Continue`: read the body next.
    Write { then: Option<Reading> },
    /// Write side shut; dropping input until the client closes or [`LINGER`] passes.
    Linger { dropped: usize },
}

/// How a body is being read.
#[derive(Clone, Copy, Debug)]
enum Reading {
    /// Up to this offset in `input`.
    To(usize),
    /// Chunked, decoded in place after the head.
    Chunked(Decoder),
}

/// Who answers the request once its body is in.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Action {
    /// The response is filled already (by `route`, or by the loop).
    Respond,
    /// A worker, counted against `max_inflight` if `limited`.
    Work { limited: bool },
}

/// The request being answered: what was read from its head and decided about it.
#[derive(Clone, Copy, Debug)]
struct Exchange {
    head_len: usize,
    /// End of the request's body in `input` (after de-chunking).
    body_end: usize,
    framing: Framing,
    keep_alive: bool,
    http10: bool,
    /// A `HEAD` request: the response goes without its body.
    head_only: bool,
    expect_continue: bool,
    action: Action,
}

impl Exchange {
    /// For errors the loop answers before a head is parsed: send the body, then close.
    const REFUSED: Exchange = Exchange {
        head_len: 0,
        body_end: 0,
        framing: Framing::Empty,
        keep_alive: false,
        http10: false,
        head_only: false,
        expect_continue: false,
        action: Action::Respond,
    };
}

/// A refused request: the status and the detail for the body.
#[derive(Clone, Copy, Debug)]
struct Refusal {
    status: u16,
    detail: &'static str,
}

/// A connection slot; see the module docs.
#[derive(Debug)]
pub(super) struct Conn {
    slot: usize,
    token: Token,
    stream: Option<TcpStream>,
    peer: Option<SocketAddr>,
    input: Vec<u8>,
    end: usize,
    /// How far [`head::find_end`] has looked in `input`.
    scanned: usize,
    resp: Response,
    out: Vec<u8>,
    /// Bytes of `out` and then the body written so far.
    written: usize,
    /// Whether the body follows `out` (not for `HEAD`, 204, 304 or `100 Continue`).
    send_body: bool,
    phase: Phase,
    ex: Exchange,
    deadline: Option<Instant>,
    /// When the request being read must be in whole (`read_timeout` after its first byte);
    /// `None` between requests or with no read timeout.
    read_by: Option<Instant>,
    /// Whether WRITABLE interest is registered (only while a write would block).
    writable: bool,
}

impl Conn {
    /// A slot with its buffers allocated, empty.
    pub fn new(slot: usize, token: Token) -> Conn {
        Conn {
            slot,
            token,
            stream: None,
            peer: None,
            input: vec![0; INPUT_INIT],
            end: 0,
            scanned: 0,
            resp: Response::default(),
            out: Vec::with_capacity(OUT_INIT),
            written: 0,
            send_body: false,
            phase: Phase::Head,
            ex: Exchange::REFUSED,
            deadline: None,
            read_by: None,
            writable: false,
        }
    }

    /// Whether a connection is using this slot.
    pub fn is_open(&self) -> bool {
        self.stream.is_some()
    }

    /// Whether the connection waits for a request with nothing of one received: it can be
    /// closed without losing a request.
    pub fn is_idle(&self) -> bool {
        matches!(self.phase, Phase::Head) && self.end == 0
    }

    /// When the connection's current phase times out.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Starts serving a connection just accepted (and registered for READABLE).
    pub fn open<H: Handler>(&mut self, stream: TcpStream, peer: SocketAddr, cx: &mut Ctx<H>) {
        self.stream = Some(stream);
        self.peer = Some(peer);
        self.end = 0;
        self.scanned = 0;
        self.resp.clear();
        self.phase = Phase::Head;
        self.writable = false;
        self.set_deadline(cx.cfg.idle_timeout, cx);
    }

    /// Closes the connection and readies the slot for the next one.
    pub fn close(&mut self) {
        self.stream = None;
        self.peer = None;
        self.deadline = None;
        self.read_by = None;
        if self.input.len() > POOL_MAX {
            self.input.truncate(INPUT_INIT);
            self.input.shrink_to_fit();
        }
        for buf in [&mut self.resp.body, &mut self.resp.headers, &mut self.out] {
            if buf.capacity() > POOL_MAX {
                *buf = Vec::new();
            }
        }
    }

    /// Advances on a readiness event.
    pub fn ready<H: Handler>(&mut self, cx: &mut Ctx<H>) -> Next {
        self.run(Step::Again, cx)
    }

    /// Acts on an expired deadline: 408 for a request still coming in, a close otherwise.
    pub fn expire<H: Handler>(&mut self, cx: &mut Ctx<H>) -> Next {
        self.deadline = None;
        let step = match self.phase {
            Phase::Head if self.end == 0 => Step::Close,
            Phase::Head => {
                self.ex = Exchange::REFUSED;
                self.refuse(Refusal { status: 408, detail: LATE }, cx)
            }
            Phase::Body(_) => self.refuse(Refusal { status: 408, detail: LATE }, cx),
            Phase::Write { .. } | Phase::Linger { .. } => Step::Close,
            Phase::Working => Step::Wait,
        };
        self.run(step, cx)
    }

    /// Takes back the buffers and response from an answered job and sends the response.
    pub fn answered<H: Handler>(&mut self, job: Job, cx: &mut Ctx<H>) -> Next {
        self.input = job.input;
        self.resp = job.resp;
        if self.ex.action == (Action::Work { limited: true }) {
            cx.inflight -= 1;
        }
        let step = self.respond(cx);
        self.run(step, cx)
    }

    /// Runs steps until one waits or closes.
    fn run<H: Handler>(&mut self, mut step: Step, cx: &mut Ctx<H>) -> Next {
        loop {
            match step {
                Step::Again => {}
                Step::Wait => return Next::Open,
                Step::Close => return Next::Close,
            }
            step = match self.phase {
                Phase::Head => self.read_head(cx),
                Phase::Body(reading) => self.read_body(reading, cx),
                Phase::Working => Step::Wait,
                Phase::Write { then } => self.write(then, cx),
                Phase::Linger { dropped } => self.linger(dropped),
            };
        }
    }

    fn read_head<H: Handler>(&mut self, cx: &mut Ctx<H>) -> Step {
        loop {
            while head::find_end(&self.input[..self.end], &mut self.scanned).is_some() {
                let routed = route(
                    &*cx.handler,
                    &cx.cfg,
                    &self.input[..self.end],
                    self.peer,
                    &mut self.resp,
                );
                match routed {
                    Ok(None) => {}
                    Ok(Some((ex, route))) => return self.start(ex, route, cx),
                    Err(refusal) => {
                        self.ex = Exchange::REFUSED;
                        return self.refuse(refusal, cx);
                    }
                }
            }
            if self.end >= cx.cfg.max_head {
                self.ex = Exchange::REFUSED;
                return self.refuse(Refusal { status: 431, detail: HEAD_TOO_LARGE }, cx);
            }
            let was_empty = self.end == 0;
            match self.fill(cx.cfg.max_head) {
                Ok(true) if was_empty => self.begin_request(cx),
                Ok(true) => {}
                Ok(false) => return Step::Close,
                Err(step) => return step,
            }
        }
    }

    /// Decides what to do with a routed request: answer 503 past the in-flight limit, ask
    /// for the body, read it, or act at once.
    fn start<H: Handler>(&mut self, mut ex: Exchange, route: Route, cx: &mut Ctx<H>) -> Step {
        ex.action = match route {
            Route::Done => Action::Respond,
            Route::Work { limited: true } if cx.at_limit() => {
                respond::over_limit(&mut self.resp, cx.cfg.max_inflight);
                Action::Respond
            }
            Route::Work { limited } => Action::Work { limited },
        };
        self.ex = ex;
        let reading = match ex.framing {
            Framing::Empty => {
                self.ex.body_end = ex.head_len;
                return self.complete(cx);
            }
            // `route` refused lengths past `max_body`, which fits in memory.
            Framing::Length(n) => Reading::To(ex.head_len + n as usize),
            Framing::Chunked => Reading::Chunked(Decoder::new()),
        };
        if !ex.expect_continue {
            return self.read_body_next(reading, cx);
        }
        if ex.action == Action::Respond {
            // Answered without the body the client holds back. It may send it anyway or not,
            // so the connection cannot be reused.
            self.ex.keep_alive = false;
            return self.respond(cx);
        }
        self.out.clear();
        self.out.extend_from_slice(respond::CONTINUE);
        self.send_body = false;
        self.begin_write(Some(reading), cx)
    }

    fn read_body_next<H: Handler>(&mut self, reading: Reading, cx: &mut Ctx<H>) -> Step {
        self.phase = Phase::Body(reading);
        self.set_read_deadline(cx.cfg.idle_timeout, cx);
        Step::Again
    }

    fn read_body<H: Handler>(&mut self, reading: Reading, cx: &mut Ctx<H>) -> Step {
        let start = self.ex.head_len;
        let limit = match reading {
            Reading::To(end) if self.end >= end => {
                self.ex.body_end = end;
                return self.complete(cx);
            }
            Reading::To(end) => end,
            Reading::Chunked(mut dec) => {
                match dec.decode(&mut self.input[start..self.end], cx.cfg.max_body) {
                    Ok(chunked::Status::Partial) => self.end = start + dec.decoded(),
                    Ok(chunked::Status::Done(len)) => {
                        self.end = start + len;
                        self.ex.body_end = start + dec.decoded();
                        return self.complete(cx);
                    }
                    Err(ChunkError::TooLarge) => {
                        return self.refuse(Refusal { status: 413, detail: BODY_TOO_LARGE }, cx)
                    }
                    Err(_) => {
                        return self
                            .refuse(Refusal { status: 400, detail: "malformed chunked body" }, cx)
                    }
                }
                self.phase = Phase::Body(Reading::Chunked(dec));
                start.saturating_add(cx.cfg.max_body).saturating_add(CHUNK_SLACK)
            }
        };
        match self.fill(limit) {
            Ok(true) => {
                // A body may take long (up to `read_timeout`); what must not is a pause in it.
                self.set_read_deadline(cx.cfg.idle_timeout, cx);
                Step::Again
            }
            Ok(false) => Step::Close,
            Err(step) => step,
        }
    }

    /// The body is in: hand the request to a worker, or send the response at hand.
    fn complete<H: Handler>(&mut self, cx: &mut Ctx<H>) -> Step {
        let Action::Work { limited } = self.ex.action else {
            return self.respond(cx);
        };
        if limited {
            // Checked again now that the body is in: other requests may have taken the room.
            if cx.at_limit() {
                respond::over_limit(&mut self.resp, cx.cfg.max_inflight);
                self.ex.action = Action::Respond;
                return self.respond(cx);
            }
            cx.inflight += 1;
        }
        let mut resp = std::mem::take(&mut self.resp);
        resp.clear();
        cx.shared.submit(Job {
            conn: self.slot,
            input: std::mem::take(&mut self.input),
            head_len: self.ex.head_len,
            body: self.ex.head_len..self.ex.body_end,
            peer: self.peer,
            resp,
        });
        self.phase = Phase::Working;
        self.deadline = None;
        self.read_by = None;
        Step::Wait
    }

    /// Answers with an error and closes after it.
    fn refuse<H: Handler>(&mut self, refusal: Refusal, cx: &mut Ctx<H>) -> Step {
        respond::error(&mut self.resp, refusal.status, refusal.detail);
        self.ex.keep_alive = false;
        self.respond(cx)
    }

    /// Queues the final response in `resp`.
    fn respond<H: Handler>(&mut self, cx: &mut Ctx<H>) -> Step {
        self.read_by = None;
        self.ex.keep_alive &= !cx.stopping;
        let connection = match (self.ex.keep_alive, self.ex.http10) {
            (false, _) => Connection::Close,
            (true, true) => Connection::KeepAlive,
            (true, false) => Connection::Default,
        };
        respond::head(&mut self.out, &self.resp, cx.date.as_bytes(), connection);
        self.send_body = !self.ex.head_only && respond::has_body(self.resp.status);
        self.begin_write(None, cx)
    }

    fn begin_write<H: Handler>(&mut self, then: Option<Reading>, cx: &mut Ctx<H>) -> Step {
        self.written = 0;
        self.phase = Phase::Write { then };
        self.set_deadline(cx.cfg.write_timeout, cx);
        Step::Again
    }

    fn write<H: Handler>(&mut self, then: Option<Reading>, cx: &mut Ctx<H>) -> Step {
        let Some(stream) = self.stream.as_mut() else { return Step::Close };
        let body: &[u8] = if self.send_body { &self.resp.body } else { &[] };
        let total = self.out.len() + body.len();
        while self.written < total {
            let head = self.out.get(self.written..).unwrap_or_default();
            let body = &body[self.written.saturating_sub(self.out.len())..];
            // `sendmsg` rather than `writev` for MSG_NOSIGNAL: a peer that went away is an
            // EPIPE to handle here, not a SIGPIPE that the embedding program must ignore.
            let iov = [IoSlice::new(head), IoSlice::new(body)];
            let mut no_control = SendAncillaryBuffer::default();
            match sendmsg(&*stream, &iov, &mut no_control, SendFlags::NOSIGNAL) {
                Ok(0) => return Step::Close,
                Ok(n) => self.written += n,
                Err(Errno::AGAIN) => {
                    if !self.writable {
                        let rw = Interest::READABLE | Interest::WRITABLE;
                        if cx.registry.reregister(stream, self.token, rw).is_err() {
                            return Step::Close;
                        }
                        self.writable = true;
                    }
                    return Step::Wait;
                }
                Err(Errno::INTR) => {}
                Err(_) => return Step::Close,
            }
        }
        if self.writable {
            if cx.registry.reregister(stream, self.token, Interest::READABLE).is_err() {
                return Step::Close;
            }
            self.writable = false;
        }
        match then {
            Some(reading) => self.read_body_next(reading, cx),
            None => self.next_request(cx),
        }
    }

    /// After a response: on to the next request, or towards closing.
    fn next_request<H: Handler>(&mut self, cx: &mut Ctx<H>) -> Step {
        let rest = self.ex.body_end..self.end;
        if cx.stopping && rest.is_empty() {
            return Step::Close;
        }
        if !self.ex.keep_alive || cx.stopping {
            if let Some(stream) = &self.stream {
                // Already gone or not: lingering ends on the read that says so.
                let _ = stream.shutdown(Shutdown::Write);
            }
            self.phase = Phase::Linger { dropped: 0 };
            self.set_deadline(LINGER, cx);
            return Step::Again;
        }
        self.end = rest.len();
        self.input.copy_within(rest, 0);
        self.scanned = 0;
        self.resp.clear();
        self.phase = Phase::Head;
        match self.end {
            0 => self.set_deadline(cx.cfg.idle_timeout, cx),
            // The next request's first bytes are in already: its clocks start now.
            _ => self.begin_request(cx),
        }
        Step::Again
    }

    fn linger(&mut self, mut dropped: usize) -> Step {
        let Some(stream) = self.stream.as_mut() else { return Step::Close };
        loop {
            match stream.read(&mut self.input) {
                Ok(0) => return Step::Close,
                Ok(n) => dropped += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Step::Close,
            }
            if dropped > LINGER_MAX {
                return Step::Close;
            }
        }
        self.phase = Phase::Linger { dropped };
        Step::Wait
    }

    /// Reads into `input[end..limit]`, growing `input` by doubling up to `limit` (callers
    /// leave room: `end < limit`). `Ok(true)` when bytes came in, `Ok(false)` at end of
    /// stream; `Err` holds the step to take otherwise (wait for readiness, or close).
    fn fill(&mut self, limit: usize) -> Result<bool, Step> {
        let Some(stream) = self.stream.as_mut() else { return Err(Step::Close) };
        if self.end == self.input.len() {
            let grown = (self.input.len() * 2).max(INPUT_INIT).min(limit);
            self.input.resize(grown, 0);
        }
        let room = self.end..self.input.len().min(limit).max(self.end);
        loop {
            match stream.read(&mut self.input[room.clone()]) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(Step::Wait),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(Step::Close),
            }
        }
    }

    /// A request's first byte is in: its head must follow within `header_timeout`, and the
    /// whole request within `read_timeout`.
    fn begin_request<H: Handler>(&mut self, cx: &mut Ctx<H>) {
        let whole = cx.cfg.read_timeout;
        self.read_by = (!whole.is_zero()).then(|| cx.now + whole);
        self.set_read_deadline(cx.cfg.header_timeout, cx);
    }

    /// Sets the deadline `after` from now for reading more of the request, but no later than
    /// the whole request's: a client that keeps each pause short still cannot take longer.
    fn set_read_deadline<H: Handler>(&mut self, after: Duration, cx: &mut Ctx<H>) {
        let at = cx.now + after;
        self.set_deadline_at(self.read_by.map_or(at, |by| by.min(at)), cx);
    }

    fn set_deadline<H: Handler>(&mut self, after: Duration, cx: &mut Ctx<H>) {
        self.set_deadline_at(cx.now + after, cx);
    }

    fn set_deadline_at<H: Handler>(&mut self, at: Instant, cx: &mut Ctx<H>) {
        self.deadline = Some(at);
        cx.next_sweep = cx.next_sweep.min(at);
    }
}

/// Parses the head at the start of `input` and routes it: `Ok(None)` if it is not all in.
/// A free function over the connection's fields, so the request can borrow `input` while
/// `route` fills `resp`.
fn route<H: Handler>(
    handler: &H,
    cfg: &Config,
    input: &[u8],
    peer: Option<SocketAddr>,
    resp: &mut Response,
) -> Result<Option<(Exchange, Route)>, Refusal> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let refused = |e: head::HeadError| Refusal { status: e.status(), detail: e.as_str() };
    let Some(head) = head::parse(input, &mut headers).map_err(refused)? else {
        return Ok(None);
    };
    if head.len > cfg.max_head {
        return Err(Refusal { status: 431, detail: HEAD_TOO_LARGE });
    }
    if let Framing::Length(n) = head.framing {
        if n > cfg.max_body as u64 {
            return Err(Refusal { status: 413, detail: BODY_TOO_LARGE });
        }
    }
    let ex = Exchange {
        head_len: head.len,
        body_end: head.len,
        framing: head.framing,
        keep_alive: head.keep_alive,
        http10: head.http10,
        head_only: head.req.method == super::Method::Head,
        expect_continue: head.expect_continue,
        action: Action::Respond,
    };
    let mut req = head.req;
    req.peer = peer;
    let route = handler.route(&req, resp);
    Ok(Some((ex, route)))
}
