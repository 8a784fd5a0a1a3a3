//! Worker threads: the queue of requests routed to [`Route::Work`](super::Route::Work), the
//! threads that answer them with [`Handler::handle`], and the list of answered jobs the loop
//! collects after a [`Waker`] call.
//!
//! A [`Job`] carries the connection's own input buffer and [`Response`], moved rather than
//! copied, and comes back with them. Both queues are `Mutex`-guarded collections reserved up
//! front to hold one job per connection (a connection has at most one job out), so handing
//! work over and back allocates nothing.

use super::gzip::Gzip;
use super::head::{self, MAX_HEADERS};
use super::{respond, Handler, Response};
use mio::Waker;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::{io, thread};

/// Jobs reserved for up front; past this many connections waiting on workers at once, the
/// queues grow (and keep their size).
const RESERVED_JOBS: usize = 4096;

/// Entries reserved up front in lists that hold one per connection.
pub(super) fn reserved(max_connections: usize) -> usize {
    max_connections.min(RESERVED_JOBS)
}

/// A request handed to a worker, and its answer on the way back.
#[derive(Debug)]
pub(super) struct Job {
    /// The connection's slot in the loop.
    pub conn: usize,
    /// The connection's input buffer: the head, then the (de-chunked) body.
    pub input: Vec<u8>,
    /// Bytes of the head at the start of `input`.
    pub head_len: usize,
    /// Where the body is in `input`.
    pub body: Range<usize>,
    /// The client's address.
    pub peer: Option<SocketAddr>,
    /// The connection's response, cleared; filled by the worker.
    pub resp: Response,
}

/// What the loop and the workers share.
#[derive(Debug)]
pub(super) struct Shared {
    jobs: Mutex<Jobs>,
    ready: Condvar,
    done: Mutex<Vec<Job>>,
    /// Wakes the loop: for answered jobs, exiting workers and [`Stopper`](super::Stopper)s.
    pub waker: Waker,
    stop: AtomicBool,
    live: AtomicUsize,
}

#[derive(Debug)]
struct Jobs {
    queue: VecDeque<Job>,
    closed: bool,
}

impl Shared {
    /// Queues sized for `max_connections` jobs.
    pub fn new(waker: Waker, max_connections: usize) -> Shared {
        let reserve = reserved(max_connections);
        Shared {
            jobs: Mutex::new(Jobs { queue: VecDeque::with_capacity(reserve), closed: false }),
            ready: Condvar::new(),
            done: Mutex::new(Vec::with_capacity(reserve)),
            waker,
            stop: AtomicBool::new(false),
            live: AtomicUsize::new(0),
        }
    }

    /// Queues a job for the next free worker.
    pub fn submit(&self, job: Job) {
        lock(&self.jobs).queue.push_back(job);
        self.ready.notify_one();
    }

    /// Moves the answered jobs into `into` (empty, with the same reserve) by swapping lists,
    /// so the lock is held for a pointer swap only.
    pub fn take_done(&self, into: &mut Vec<Job>) {
        std::mem::swap(&mut *lock(&self.done), into);
    }

    /// Tells the workers to exit once their current job is done; queued jobs are dropped.
    pub fn close(&self) {
        let mut jobs = lock(&self.jobs);
        jobs.closed = true;
        jobs.queue.clear();
        drop(jobs);
        self.ready.notify_all();
    }

    /// Workers that have not exited yet.
    pub fn live_workers(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    /// Asks the loop to shut down.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.wake();
    }

    /// Whether a stop was asked for.
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn wake(&self) {
        if let Err(e) = self.waker.wake() {
            log::error!(err:% = e; "waking the server loop");
        }
    }

    /// The next job; `None` once closed.
    fn next(&self) -> Option<Job> {
        let mut jobs = lock(&self.jobs);
        loop {
            if jobs.closed {
                return None;
            }
            if let Some(job) = jobs.queue.pop_front() {
                return Some(job);
            }
            jobs = self.ready.wait(jobs).unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn finish(&self, job: Job) {
        lock(&self.done).push(job);
        self.wake();
    }
}

/// Locks `m`, going on past poisoning: handlers run under `catch_unwind`, and the guarded
/// collections stay consistent whatever panicked.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts `n` workers, each with its own [`Handler::worker`] state.
///
/// # Errors
/// A thread could not be spawned; the workers already started are closed and joined.
pub(super) fn spawn<H: Handler>(
    n: usize,
    handler: &Arc<H>,
    shared: &Arc<Shared>,
) -> io::Result<Vec<JoinHandle<()>>> {
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let handler = Arc::clone(handler);
        let live = Live::new(Arc::clone(shared));
        let spawned = thread::Builder::new()
            .name(format!("nodegate-worker-{i}"))
            .spawn(move || run(&*handler, &live.0));
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                shared.close();
                handles.into_iter().for_each(|h| drop(h.join()));
                return Err(e);
            }
        }
    }
    Ok(handles)
}

/// Counts a worker as live from before its thread starts (so the loop cannot see zero
/// early) until the thread ends, by returning or by a panic outside a request; the drop
/// wakes the loop, which may be waiting for the count to reach zero.
struct Live(Arc<Shared>);

impl Live {
    fn new(shared: Arc<Shared>) -> Live {
        shared.live.fetch_add(1, Ordering::AcqRel);
        Live(shared)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if thread::panicking() {
            log::error!("A worker thread died: building its handler state panicked");
        }
        self.0.live.fetch_sub(1, Ordering::AcqRel);
        self.0.wake();
    }
}

fn run<H: Handler>(handler: &H, shared: &Shared) {
    let mut state = handler.worker();
    let mut gzip = Gzip::new();
    while let Some(mut job) = shared.next() {
        let answered =
            catch_unwind(AssertUnwindSafe(|| answer(handler, &mut state, &mut gzip, &mut job)));
        let panicked = answered.is_err();
        if panicked {
            // The panic message went to stderr through the panic hook.
            log::error!("Request handler panicked; answering 500");
            respond::error(&mut job.resp, 500, "");
        }
        shared.finish(job);
        if panicked {
            // The worker's state may be half-updated: start it afresh, as a new worker would.
            state = handler.worker();
        }
    }
}

/// Parses the job's head again, runs the handler and gzips its response if asked.
fn answer<H: Handler>(handler: &H, state: &mut H::Worker, gzip: &mut Gzip, job: &mut Job) {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let resp = &mut job.resp;
    let Ok(Some(head)) = head::parse(&job.input[..job.head_len], &mut headers) else {
        // Unreachable in practice: the loop parsed these very bytes before handing them over.
        respond::error(resp, 500, "");
        return;
    };
    let mut req = head.req;
    req.body = &job.input[job.body.clone()];
    req.peer = job.peer;
    handler.handle(state, &req, resp);
    if resp.compress && !resp.body.is_empty() && req.accepts_gzip() && gzip.encode(&mut resp.body) {
        resp.header("Content-Encoding", b"gzip");
        resp.header("Vary", b"Accept-Encoding");
    }
}
