//! A collector whose calls can hang (`Spec::blocking`), run on a thread of its own so that a
//! scrape waits for it only until the scrape's deadline.
//!
//! The scrape [`Runner::start`]s an update, does its other work, then [`Runner::wait`]s until
//! the deadline. A collector that finished is merged into the scrape's encoder; one that did
//! not is reported failed, and keeps its thread: the next scrape finds it still busy and does
//! not wait for it at all, until the hung call returns. Nothing is allocated per scrape: the
//! collector's encoder moves between the threads inside the shared state.
//!
//! # Implementation notes
//!
//! One mutex and one condvar per runner. `started` counts updates asked for, `finished`
//! updates done; an update is running exactly when they differ. The thread owns the collector;
//! the encoder is taken out of the shared state while the update runs and put back after.

use crate::collector::{Collector, Error};
use crate::encode::Encoder;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What one update came to.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Outcome {
    /// It finished: its result, and how long it ran.
    Done(Result<(), Error>, Duration),
    /// It was still running at the deadline (or from an earlier scrape).
    Late,
}

#[derive(Debug)]
struct State {
    started: u64,
    finished: u64,
    result: Result<(), Error>,
    elapsed: Duration,
    /// The collector's samples of its last finished update; `None` while it runs.
    enc: Option<Encoder>,
    stop: bool,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A collector on its own thread.
#[derive(Debug)]
pub struct Runner {
    shared: Arc<Shared>,
    /// Whether the update started by the current scrape is this scrape's to wait for.
    waiting: bool,
}

impl Runner {
    /// Moves `collector` to a new thread named after it.
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub fn spawn(name: &str, mut collector: Box<dyn Collector>) -> std::io::Result<Runner> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                started: 0,
                finished: 0,
                result: Ok(()),
                elapsed: Duration::ZERO,
                enc: Some(Encoder::new()),
                stop: false,
            }),
            changed: Condvar::new(),
        });
        let theirs = Arc::clone(&shared);
        std::thread::Builder::new().name(format!("collector-{name}")).spawn(move || loop {
            let mut enc = {
                let mut st = theirs.lock();
                while st.started == st.finished && !st.stop {
                    st = theirs.changed.wait(st).unwrap_or_else(|e| e.into_inner());
                }
                if st.stop {
                    return;
                }
                st.enc.take().unwrap_or_default()
            };
            enc.clear();
            let begin = Instant::now();
            let result = collector.update(&mut enc);
            let elapsed = begin.elapsed();
            let mut st = theirs.lock();
            st.enc = Some(enc);
            st.result = result;
            st.elapsed = elapsed;
            st.finished = st.started;
            theirs.changed.notify_all();
        })?;
        Ok(Runner { shared, waiting: false })
    }

    /// Asks for an update, unless the last one is still running.
    pub fn start(&mut self) {
        let mut st = self.shared.lock();
        self.waiting = st.started == st.finished;
        if self.waiting {
            st.started += 1;
            self.shared.changed.notify_all();
        }
    }

    /// Waits until the update [`Runner::start`] asked for finishes or `deadline` passes;
    /// merges a finished update's samples into `enc`.
    pub fn wait(&mut self, deadline: Instant, enc: &mut Encoder) -> Outcome {
        if !self.waiting {
            return Outcome::Late;
        }
        self.waiting = false;
        let mut st = self.shared.lock();
        while st.started != st.finished {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Outcome::Late;
            }
            st = self.shared.changed.wait_timeout(st, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        if let Some(theirs) = &st.enc {
            enc.absorb(theirs);
        }
        Outcome::Done(st.result, st.elapsed)
    }
}

impl Drop for Runner {
    /// Tells the thread to end once its update (if any) returns; a thread stuck in a hung
    /// call is left to finish on its own rather than blocking the drop.
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::Kind;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Blocks in `update` while `hang` is set, as a call on a dead NFS server would.
    #[derive(Debug)]
    struct Hanging {
        hang: Arc<AtomicBool>,
    }

    impl Collector for Hanging {
        fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
            while self.hang.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
            let f = enc.family("node_hanging", "h", Kind::Gauge);
            enc.sample(f, &[], 1.0);
            Ok(())
        }
    }

    fn text(enc: &mut Encoder) -> String {
        let mut out = Vec::new();
        enc.finish(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn finished_updates_merge_and_hung_ones_are_late_without_waiting_again() {
        let hang = Arc::new(AtomicBool::new(false));
        let mut r = Runner::spawn("test", Box::new(Hanging { hang: Arc::clone(&hang) })).unwrap();
        let mut enc = Encoder::new();
        r.start();
        let far = Instant::now() + Duration::from_secs(30);
        assert!(matches!(r.wait(far, &mut enc), Outcome::Done(Ok(()), _)));
        assert_eq!(
            text(&mut enc),
            "# HELP node_hanging h\n# TYPE node_hanging gauge\nnode_hanging 1\n"
        );

        hang.store(true, Ordering::SeqCst);
        let mut enc = Encoder::new();
        r.start();
        assert_eq!(r.wait(Instant::now() + Duration::from_millis(50), &mut enc), Outcome::Late);
        // Still hung: the next scrape does not wait at all, even with a distant deadline.
        r.start();
        let before = Instant::now();
        assert_eq!(r.wait(far, &mut enc), Outcome::Late);
        assert!(before.elapsed() < Duration::from_secs(20));
        assert_eq!(text(&mut enc), "");

        // The call returns: the scrape after that gets fresh samples.
        hang.store(false, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            r.start();
            let mut enc = Encoder::new();
            if let Outcome::Done(Ok(()), _) = r.wait(deadline, &mut enc) {
                assert!(text(&mut enc).contains("node_hanging 1\n"));
                break;
            }
            assert!(Instant::now() < deadline, "runner never recovered");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
