//! The exporter: node_exporter's scrape, built from the [collector registry](crate::collector).
//!
//! A [`Node`] holds what every serving thread shares: the enabled collectors' specs, the flag
//! values, shared collector state and which failure each collector last logged. Each serving
//! thread scrapes with its own [`Exporter`] (own kept fds, own buffers, own encoder), so
//! scrapes run side by side without a lock on the hot path.
//!
//! A scrape runs the enabled collectors one after another on the calling thread, timing each,
//! save those that can hang, which one helper thread runs meanwhile (see `runner`); it then
//! adds `node_scrape_collector_duration_seconds`/`_success`, `node_exporter_build_info`
//! and (unless `--web.disable-exporter-metrics`) the `process_*` families, and writes the
//! exposition. A collector's failure is logged once per distinct cause, not once per scrape.

mod filter;
mod handler;
mod runner;

pub use filter::{FilterError, Mask};
pub use handler::{Handler, CONTENT_TYPE};

use crate::collector::{self, Build, Collector, Error, Settings, Shared, Spec};
use crate::encode::{Encoder, Kind};
use crate::process::Process;
use crate::source::Paths;
use runner::{Crew, Outcome};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Labels of `node_exporter_build_info`, named as upstream's (Go-flavoured) labels are so
/// that dashboards keep working; the values describe this build.
#[derive(Clone, Debug, Default)]
pub struct BuildInfo {
    /// The program's version.
    pub version: String,
    /// The source revision, if known.
    pub revision: String,
    /// The source branch, if known.
    pub branch: String,
    /// The compiler that built it (`goversion` label).
    pub toolchain: String,
    /// Operating system, Go's spelling (`linux`).
    pub os: String,
    /// Architecture, Go's spelling (`amd64`, `arm64`).
    pub arch: String,
    /// Build tags.
    pub tags: String,
}

/// How to build the exporter.
#[derive(Clone, Debug)]
pub struct Config {
    /// `--path.*`.
    pub paths: Paths,
    /// Every collector flag's value.
    pub settings: Settings,
    /// Names of the enabled collectors.
    pub enabled: Vec<&'static str>,
    /// Whether to add the exporter's own `process_*` metrics.
    pub exporter_metrics: bool,
    /// Labels of `node_exporter_build_info`.
    pub build: BuildInfo,
}

/// What the serving threads share.
#[derive(Debug)]
pub struct Node {
    inner: Arc<Inner>,
    spare: Mutex<Vec<Exporter>>,
}

#[derive(Debug)]
struct Inner {
    /// Enabled collectors, sorted by name.
    specs: Vec<&'static Spec>,
    enabled: Vec<&'static str>,
    /// The failure each collector last logged, so a cause is logged once.
    logged: Vec<Mutex<Option<Error>>>,
    paths: Paths,
    settings: Settings,
    shared: Shared,
    exporter_metrics: bool,
    build: BuildInfo,
}

impl Node {
    /// Builds the shared state and `instances` exporters (one per serving thread), so that
    /// a bad flag fails here, at startup.
    ///
    /// # Errors
    /// An unknown collector name, or a collector that cannot be built (the message names
    /// the flag at fault).
    pub fn new(config: Config, instances: usize) -> Result<Node, String> {
        let mut specs = Vec::with_capacity(config.enabled.len());
        for name in &config.enabled {
            specs.push(collector::spec(name).ok_or_else(|| format!("unknown collector: {name}"))?);
        }
        specs.sort_by_key(|s| s.name);
        specs.dedup_by_key(|s| s.name);
        if specs.len() > Mask::CAPACITY {
            return Err(format!("at most {} collectors can be enabled", Mask::CAPACITY));
        }
        let mut enabled: Vec<&'static str> = specs.iter().map(|s| s.name).collect();
        enabled.sort_unstable();
        let inner = Arc::new(Inner {
            logged: specs.iter().map(|_| Mutex::new(None)).collect(),
            specs,
            enabled,
            paths: config.paths,
            settings: config.settings,
            shared: Shared::default(),
            exporter_metrics: config.exporter_metrics,
            build: config.build,
        });
        let mut spare = Vec::with_capacity(instances.max(1));
        for _ in 0..instances.max(1) {
            spare.push(Exporter::build(&inner)?);
        }
        Ok(Node { inner, spare: Mutex::new(spare) })
    }

    /// Names of the enabled collectors, sorted.
    pub fn enabled(&self) -> &[&'static str] {
        &self.inner.enabled
    }

    /// An exporter for one serving thread: one built by [`Node::new`] while any is left.
    ///
    /// # Errors
    /// As [`Node::new`], for an exporter built afresh.
    pub fn exporter(&self) -> Result<Exporter, String> {
        let spare = self.spare.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match spare {
            Some(e) => Ok(e),
            None => Exporter::build(&self.inner),
        }
    }

    /// The collectors a request's `collect[]`/`exclude[]` parameters select; see
    /// `filter::select`.
    ///
    /// # Errors
    /// The 400 response text upstream gives for the query.
    pub fn filter<'q>(
        &self,
        pairs: impl Iterator<Item = (&'q [u8], &'q [u8])> + Clone,
    ) -> Result<Mask, FilterError> {
        filter::select(&self.inner.enabled, pairs)
    }
}

/// A collector as a scrape runs it.
#[derive(Debug)]
enum Slot {
    /// On the scrape's own thread.
    Inline(Box<dyn Collector>),
    /// A member of the exporter's [`Crew`], waited for until the deadline (`Spec::blocking`).
    Crew,
}

/// One serving thread's scraper.
#[derive(Debug)]
pub struct Exporter {
    inner: Arc<Inner>,
    collectors: Vec<Slot>,
    crew: Crew,
    /// Index in `collectors` of each crew member.
    members: Vec<usize>,
    enc: Encoder,
    process: Option<Process>,
}

impl Exporter {
    fn build(inner: &Arc<Inner>) -> Result<Exporter, String> {
        let b = Build {
            paths: &inner.paths,
            settings: &inner.settings,
            shared: &inner.shared,
            enabled: &inner.enabled,
        };
        let mut collectors = Vec::with_capacity(inner.specs.len());
        let mut blocking = Vec::new();
        let mut members = Vec::new();
        for (i, s) in inner.specs.iter().enumerate() {
            let c = (s.build)(&b).map_err(|e| format!("collector {}: {e}", s.name))?;
            collectors.push(if s.blocking {
                blocking.push((s.name, c));
                members.push(i);
                Slot::Crew
            } else {
                Slot::Inline(c)
            });
        }
        let crew = Crew::new(blocking)
            .map_err(|e| format!("starting a thread for blocking collectors: {e}"))?;
        Ok(Exporter {
            inner: Arc::clone(inner),
            collectors,
            crew,
            members,
            enc: Encoder::new(),
            process: inner.exporter_metrics.then(Process::new),
        })
    }

    /// Scrapes the collectors in `mask` and appends the exposition to `out`. Collectors not
    /// done by `deadline` are reported failed (`node_scrape_collector_success 0`), and the
    /// scrape returns: collectors that can hang run on the exporter's [`Crew`] of threads and
    /// are waited for only until then; the others are not started once it has passed.
    /// Allocates nothing once buffers have grown to the host's size.
    pub fn scrape(&mut self, mask: Mask, deadline: Instant, out: &mut Vec<u8>) {
        let begin = Instant::now();
        let enc = &mut self.enc;
        enc.clear();
        let duration = enc.family(
            "node_scrape_collector_duration_seconds",
            "node_exporter: Duration of a collector scrape.",
            Kind::Gauge,
        );
        let success = enc.family(
            "node_scrape_collector_success",
            "node_exporter: Whether a collector succeeded.",
            Kind::Gauge,
        );
        let report = |enc: &mut Encoder, i: usize, result: Result<(), Error>, took: Duration| {
            let name = self.inner.specs[i].name;
            // Go's Duration.Seconds(): whole seconds plus nanoseconds / 1e9.
            let seconds = took.as_secs() as f64 + f64::from(took.subsec_nanos()) / 1e9;
            self.inner.note(i, name, result, seconds);
            let label = [("collector", name.as_bytes())];
            enc.sample(duration, &label, seconds);
            enc.sample(success, &label, if result.is_ok() { 1.0 } else { 0.0 });
        };
        // Blocking collectors first, so that they run while the others do.
        let members = &self.members;
        self.crew.start(|n| mask.contains(members[n]));
        for (i, slot) in self.collectors.iter_mut().enumerate() {
            if let Slot::Inline(c) = slot {
                if !mask.contains(i) {
                    continue;
                }
                let start = Instant::now();
                if start >= deadline {
                    report(enc, i, Err(Error::Timeout), Duration::ZERO);
                    continue;
                }
                let result = c.update(enc);
                report(enc, i, result, start.elapsed());
            }
        }
        self.crew.wait(deadline, |n, outcome, theirs| {
            if let Some(t) = theirs {
                enc.absorb(t);
            }
            match outcome {
                Outcome::Done(result, took) => report(enc, members[n], result, took),
                Outcome::Late => report(enc, members[n], Err(Error::Timeout), begin.elapsed()),
            }
        });
        let b = &self.inner.build;
        let info = enc.family(
            "node_exporter_build_info",
            "A metric with a constant '1' value labeled by version, revision, branch, goversion \
             from which node_exporter was built, and the goos and goarch for the build.",
            Kind::Gauge,
        );
        enc.sample(
            info,
            &[
                ("branch", b.branch.as_bytes()),
                ("goarch", b.arch.as_bytes()),
                ("goos", b.os.as_bytes()),
                ("goversion", b.toolchain.as_bytes()),
                ("revision", b.revision.as_bytes()),
                ("tags", b.tags.as_bytes()),
                ("version", b.version.as_bytes()),
            ],
            1.0,
        );
        if let Some(p) = &mut self.process {
            p.collect(enc);
        }
        enc.finish(out);
    }
}

impl Inner {
    /// Logs a collector's outcome: a failure when its cause differs from the last one
    /// logged, a recovery once; successes only at debug level.
    fn note(&self, i: usize, name: &str, result: Result<(), Error>, seconds: f64) {
        let mut last = self.logged[i].lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(()) => {
                if last.take().is_some() {
                    log::info!(name = name; "collector recovered");
                }
                log::debug!(name = name, duration_seconds = seconds; "collector succeeded");
            }
            Err(e) if *last == Some(e) => {
                log::debug!(name = name, err:% = e; "collector failed again");
            }
            Err(e) => {
                *last = Some(e);
                if e.is_no_data() {
                    log::debug!(name = name, err:% = e; "collector returned no data");
                } else {
                    log::error!(name = name, duration_seconds = seconds, err:% = e; "collector failed");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    fn node(root: &std::path::Path, enabled: &[&'static str]) -> Node {
        Node::new(
            Config {
                paths: Paths::under(root),
                settings: Settings::new(),
                enabled: enabled.to_vec(),
                exporter_metrics: false,
                build: BuildInfo { version: "0.0.0".into(), ..BuildInfo::default() },
            },
            1,
        )
        .unwrap()
    }

    #[test]
    fn unknown_collector_fails_to_build() {
        let cfg = Config {
            paths: Paths::default(),
            settings: Settings::new(),
            enabled: vec!["no_such_collector"],
            exporter_metrics: false,
            build: BuildInfo::default(),
        };
        assert_eq!(Node::new(cfg, 1).unwrap_err(), "unknown collector: no_such_collector");
    }

    #[test]
    fn failing_collector_reports_success_zero_and_others_go_on() {
        let dir = std::env::temp_dir().join(format!("nodegate-exporter-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("proc")).unwrap();
        std::fs::write(dir.join("proc/loadavg"), b"garbage\n").unwrap();
        let n = node(&dir, &["loadavg"]);
        let mut ex = n.exporter().unwrap();
        let mut out = Vec::new();
        ex.scrape(Mask::ALL, far(), &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("node_scrape_collector_success{collector=\"loadavg\"} 0\n"));
        assert!(!text.contains("node_load1"));
        assert!(text.contains("node_exporter_build_info{branch=\"\",goarch=\"\",goos=\"\",goversion=\"\",revision=\"\",tags=\"\",version=\"0.0.0\"} 1\n"));

        std::fs::write(dir.join("proc/loadavg"), b"0.5 0.25 1 1/2 3\n").unwrap();
        let mut out = Vec::new();
        ex.scrape(Mask::ALL, far(), &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("node_scrape_collector_success{collector=\"loadavg\"} 1\n"));
        assert!(text.contains("node_load1 0.5\n"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Records every log line with the thread that logged it, so a test counts only its own.
    struct Capture;

    static LINES: Mutex<Vec<(std::thread::ThreadId, String)>> = Mutex::new(Vec::new());

    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }

        fn log(&self, record: &log::Record<'_>) {
            let line = format!("{:?} {}", record.level(), record.args());
            LINES.lock().unwrap().push((std::thread::current().id(), line));
        }

        fn flush(&self) {}
    }

    fn logged(level_and_msg: &str) -> usize {
        let me = std::thread::current().id();
        LINES.lock().unwrap().iter().filter(|(t, l)| *t == me && l == level_and_msg).count()
    }

    #[test]
    fn failures_logged_once_per_cause() {
        use std::io::Write;
        static CAPTURE: Capture = Capture;
        log::set_logger(&CAPTURE).expect("no other test installs a logger");
        log::set_max_level(log::LevelFilter::Debug);
        let dir = std::env::temp_dir().join(format!("nodegate-logonce-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("proc")).unwrap();
        let n = node(&dir, &["loadavg"]);
        let mut ex = n.exporter().unwrap();
        let mut scrape = || ex.scrape(Mask::ALL, far(), &mut Vec::new());
        // The file is missing: one cause, logged once however many scrapes fail.
        for _ in 0..5 {
            scrape();
        }
        assert_eq!(logged("Error collector failed"), 1, "same cause logged again");
        // Another cause is logged, once.
        std::fs::write(dir.join("proc/loadavg"), b"garbage\n").unwrap();
        for _ in 0..5 {
            scrape();
        }
        assert_eq!(logged("Error collector failed"), 2);
        // Rewritten in place (the kept fd sees it): recovery is logged once, successes only
        // at debug.
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(dir.join("proc/loadavg"))
            .unwrap()
            .write_all(b"1 2 3 4/5 6\n")
            .unwrap();
        for _ in 0..5 {
            scrape();
        }
        assert_eq!(logged("Info collector recovered"), 1);
        assert_eq!(logged("Error collector failed"), 2);
        assert_eq!(logged("Debug collector succeeded"), 5);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mask_skips_collectors() {
        let dir = std::env::temp_dir().join(format!("nodegate-mask-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("proc")).unwrap();
        std::fs::write(dir.join("proc/loadavg"), b"0.5 0.25 1 1/2 3\n").unwrap();
        let n = node(&dir, &["loadavg"]);
        let mut ex = n.exporter().unwrap();
        let mut out = Vec::new();
        ex.scrape(Mask::NONE, far(), &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("node_load1"));
        assert!(!text.contains("node_scrape_collector_success"));
        assert!(text.contains("node_exporter_build_info"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
