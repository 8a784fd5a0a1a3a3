//! The collectors whose calls can hang (`Spec::blocking`), run off the scrape's thread so
//! that a scrape waits for them only until its deadline.
//!
//! A scrape hands them all over at once ([`Crew::start`]): one lock, one wake-up, and one
//! thread runs them one after another while the scrape does its other work. It then waits for
//! them together ([`Crew::wait`]), until all are done or the deadline passes. A collector that
//! finished is merged into the scrape's encoder; one that did not is reported failed, and
//! keeps its thread: later scrapes find it still running and do not wait for it at all, until
//! the hung call returns.
//!
//! A thread hung in one collector must not hold up the others queued behind it: when the
//! queue has not moved for [`STALL`], the waiting scrape wakes another thread, which takes the
//! rest. There is one thread per collector, started with the crew, so one is always idle
//! while any collector is queued (a collector is never queued while it runs) and none is
//! started per scrape. Nothing is allocated per scrape: each collector's encoder stays in
//! the shared state, lent to the thread that runs it.
//!
//! One thread waking for all of them, rather than one each, saves a wake-up and a sleep per
//! collector per scrape, the largest cost of a scrape once its files are read.
//!
//! # Implementation notes
//!
//! One mutex, and two condvars: `work` for idle threads, `done` for the waiting scrape. Per
//! collector, `started` counts updates asked for and `finished` updates done; an update is
//! queued or running exactly when they differ. A thread signals `done` only when it leaves
//! the queue empty, so the scrape wakes once for the lot, not once per collector.

use crate::collector::{Collector, Error};
use crate::encode::Encoder;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long the queue may stand still before another thread is woken to take from it.
/// Far above a healthy collector's run (tens of microseconds), far below a scrape's deadline.
pub const STALL: Duration = Duration::from_millis(10);

/// What one update came to.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Outcome {
    /// It finished: its result, and how long it ran.
    Done(Result<(), Error>, Duration),
    /// It was still running at the deadline (or from an earlier scrape).
    Late,
}

/// A collector and the encoder it writes to, lent together to the thread that runs it.
#[derive(Debug)]
struct Work {
    collector: Box<dyn Collector>,
    enc: Encoder,
}

#[derive(Debug)]
struct Member {
    name: &'static str,
    /// `None` while a thread runs it.
    work: Option<Work>,
    started: u64,
    finished: u64,
    result: Result<(), Error>,
    elapsed: Duration,
}

#[derive(Debug)]
struct State {
    members: Vec<Member>,
    /// Members asked for and not yet taken by a thread; never longer than `members`.
    queue: VecDeque<usize>,
    /// When a thread last took from the queue, or when it last became non-empty.
    moved: Instant,
    stop: bool,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    work: Condvar,
    done: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the current scrape asked of a member.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Ask {
    /// Not in this scrape.
    Skip,
    /// Wanted, but its last update was still running: reported late without waiting.
    Late,
    /// Queued by this scrape; waited for.
    Wait,
}

/// The blocking collectors of one exporter, and the threads that run them.
#[derive(Debug)]
pub struct Crew {
    shared: Arc<Shared>,
    asks: Vec<Ask>,
}

impl Crew {
    /// Takes `collectors` and starts a thread for each, named after it.
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub fn new(collectors: Vec<(&'static str, Box<dyn Collector>)>) -> std::io::Result<Crew> {
        let n = collectors.len();
        let names: Vec<&'static str> = collectors.iter().map(|(name, _)| *name).collect();
        let members = collectors
            .into_iter()
            .map(|(name, collector)| Member {
                name,
                work: Some(Work { collector, enc: Encoder::new() }),
                started: 0,
                finished: 0,
                result: Ok(()),
                elapsed: Duration::ZERO,
            })
            .collect();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                members,
                queue: VecDeque::with_capacity(n),
                moved: Instant::now(),
                stop: false,
            }),
            work: Condvar::new(),
            done: Condvar::new(),
        });
        let crew = Crew { shared, asks: vec![Ask::Skip; n] };
        for name in names {
            let theirs = Arc::clone(&crew.shared);
            // On failure the crew is dropped, which ends the threads already started.
            std::thread::Builder::new()
                .name(format!("collector-{name}"))
                .spawn(move || run(&theirs))?;
        }
        Ok(crew)
    }

    /// Queues an update of each member `wanted` picks (by index, in the order given to
    /// [`Crew::new`]), except those whose last update is still running.
    pub fn start(&mut self, mut wanted: impl FnMut(usize) -> bool) {
        let mut st = self.shared.lock();
        let was_empty = st.queue.is_empty();
        let State { members, queue, .. } = &mut *st;
        for (i, (m, ask)) in members.iter_mut().zip(&mut self.asks).enumerate() {
            *ask = if !wanted(i) {
                Ask::Skip
            } else if m.started != m.finished {
                Ask::Late
            } else {
                m.started += 1;
                queue.push_back(i);
                Ask::Wait
            };
        }
        if was_empty && !st.queue.is_empty() {
            st.moved = Instant::now();
            self.shared.work.notify_one();
        }
    }

    /// Waits until the updates [`Crew::start`] queued finish or `deadline` passes, then
    /// calls `each` for every member asked for: its index, its outcome, and for a finished
    /// one the samples to merge.
    pub fn wait(
        &mut self,
        deadline: Instant,
        mut each: impl FnMut(usize, Outcome, Option<&Encoder>),
    ) {
        let mut st = self.shared.lock();
        loop {
            let pending = self
                .asks
                .iter()
                .zip(&st.members)
                .any(|(a, m)| *a == Ask::Wait && m.started != m.finished);
            let now = Instant::now();
            if !pending || now >= deadline {
                break;
            }
            let mut until = deadline;
            if !st.queue.is_empty() {
                let stalled = st.moved + STALL;
                if now >= stalled {
                    // Wake another thread, and give it a while to start before the next.
                    st.moved = now;
                    self.shared.work.notify_one();
                    continue;
                }
                until = until.min(stalled);
            }
            st =
                self.shared.done.wait_timeout(st, until - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        for (i, (ask, m)) in self.asks.iter().zip(&st.members).enumerate() {
            match (ask, &m.work) {
                (Ask::Skip, _) => {}
                (Ask::Wait, Some(w)) if m.started == m.finished => {
                    each(i, Outcome::Done(m.result, m.elapsed), Some(&w.enc));
                }
                _ => each(i, Outcome::Late, None),
            }
        }
    }
}

/// A thread's life: take the next queued member, run it, put it back; sleep when there is
/// none; end when the crew is dropped.
fn run(shared: &Shared) {
    let mut st = shared.lock();
    loop {
        if st.stop {
            return;
        }
        let Some(i) = st.queue.pop_front() else {
            st = shared.work.wait(st).unwrap_or_else(|e| e.into_inner());
            continue;
        };
        st.moved = Instant::now();
        let name = st.members[i].name;
        let Some(mut w) = st.members[i].work.take() else {
            // Unreachable: a member is queued only when its last update finished, which
            // put its work back.
            continue;
        };
        drop(st);
        w.enc.clear();
        let begin = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| w.collector.update(&mut w.enc)));
        let elapsed = begin.elapsed();
        let result = result.unwrap_or_else(|_| {
            // The panic message went to stderr through the panic hook; the samples it left
            // are dropped, and the collector is run again next scrape.
            log::error!(name = name; "collector panicked");
            w.enc.clear();
            Err(Error::Panicked)
        });
        st = shared.lock();
        let m = &mut st.members[i];
        m.work = Some(w);
        m.result = result;
        m.elapsed = elapsed;
        m.finished = m.started;
        if st.queue.is_empty() {
            shared.done.notify_all();
        }
    }
}

impl Drop for Crew {
    /// Tells the threads to end once their update (if any) returns; a thread stuck in a hung
    /// call is left to finish on its own rather than blocking the drop.
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.stop = true;
        st.queue.clear();
        drop(st);
        self.shared.work.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::Kind;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Blocks in `update` while `hang` is set, as a call on a dead NFS server would; its
    /// family is named after it.
    #[derive(Debug)]
    struct Hanging {
        name: &'static str,
        hang: Arc<AtomicBool>,
    }

    impl Collector for Hanging {
        fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
            while self.hang.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
            let f = enc.family(self.name, "h", Kind::Gauge);
            enc.sample(f, &[], 1.0);
            Ok(())
        }
    }

    /// Panics in `update`.
    #[derive(Debug)]
    struct Panicking;

    impl Collector for Panicking {
        fn update(&mut self, _: &mut Encoder) -> Result<(), Error> {
            panic!("test collector panics");
        }
    }

    fn text(enc: &mut Encoder) -> String {
        let mut out = Vec::new();
        enc.finish(&mut out);
        String::from_utf8(out).unwrap()
    }

    /// Runs one scrape of every member: the outcomes, and the merged samples.
    fn scrape(crew: &mut Crew, deadline: Instant) -> (Vec<Outcome>, String) {
        let mut enc = Encoder::new();
        let mut outcomes = Vec::new();
        crew.start(|_| true);
        crew.wait(deadline, |_, o, theirs| {
            if let Some(t) = theirs {
                enc.absorb(t);
            }
            outcomes.push(o);
        });
        (outcomes, text(&mut enc))
    }

    #[test]
    fn a_hung_member_is_late_alone_and_recovers() {
        let hang = Arc::new(AtomicBool::new(false));
        let quiet = Arc::new(AtomicBool::new(false));
        let mut crew = Crew::new(vec![
            ("a", Box::new(Hanging { name: "node_a", hang: Arc::clone(&hang) })),
            ("b", Box::new(Hanging { name: "node_b", hang: quiet })),
        ])
        .unwrap();
        let far = Instant::now() + Duration::from_secs(30);
        let (outcomes, out) = scrape(&mut crew, far);
        assert!(outcomes.iter().all(|o| matches!(o, Outcome::Done(Ok(()), _))), "{outcomes:?}");
        assert_eq!(out, "# HELP node_a h\n# TYPE node_a gauge\nnode_a 1\n# HELP node_b h\n# TYPE node_b gauge\nnode_b 1\n");

        // `a` hangs, first in the queue: `b` still gets done, by another thread.
        hang.store(true, Ordering::SeqCst);
        let (outcomes, out) = scrape(&mut crew, Instant::now() + Duration::from_secs(2));
        assert_eq!(outcomes[0], Outcome::Late);
        assert!(matches!(outcomes[1], Outcome::Done(Ok(()), _)), "{outcomes:?}");
        assert_eq!(out, "# HELP node_b h\n# TYPE node_b gauge\nnode_b 1\n");

        // Still hung: late at once however distant the deadline, `b` done by the other thread.
        let before = Instant::now();
        let (outcomes, _) = scrape(&mut crew, far);
        assert!(before.elapsed() < Duration::from_secs(20));
        assert_eq!(outcomes[0], Outcome::Late);
        assert!(matches!(outcomes[1], Outcome::Done(Ok(()), _)), "{outcomes:?}");

        // The call returns: the scrape after that gets fresh samples from `a`.
        hang.store(false, Ordering::SeqCst);
        loop {
            let (outcomes, out) = scrape(&mut crew, far);
            if outcomes[0] != Outcome::Late {
                assert!(out.contains("node_a 1\n"), "{out}");
                break;
            }
            assert!(Instant::now() < far, "the member never recovered");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn only_wanted_members_run_and_a_panic_is_a_failure() {
        let quiet = Arc::new(AtomicBool::new(false));
        let mut crew = Crew::new(vec![
            ("a", Box::new(Hanging { name: "node_a", hang: quiet })),
            ("p", Box::new(Panicking)),
        ])
        .unwrap();
        let far = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        crew.start(|i| i == 0);
        crew.wait(far, |i, o, _| seen.push((i, o)));
        assert!(matches!(seen[..], [(0, Outcome::Done(Ok(()), _))]), "{seen:?}");
        for _ in 0..2 {
            let (outcomes, _) = scrape(&mut crew, far);
            assert!(matches!(outcomes[1], Outcome::Done(Err(Error::Panicked), _)), "{outcomes:?}");
        }
    }
}
