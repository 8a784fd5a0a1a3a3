//! `--persistence.file` and `--persistence.interval` for `nodegate gateway`: the flags turned
//! into the journal the handler appends to, the recovered state replayed into the store, and
//! the thread that snapshots it.
//!
//! Unlike the Pushgateway, whose `--persistence.file` defaults to empty (nothing kept), the
//! default is `nodegate-gateway.db` in the working directory, so a first run keeps its data;
//! `--persistence.file=""` opts out. A Pushgateway's own file given here is imported on the
//! first start (and kept beside it under another name).

use crate::flags::value_flag;
use clap::{Arg, ArgMatches};
use gateway::op::{Journal, Op, Volatile};
use gateway::persist::{self, Compactor, Report};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// `--persistence.file`'s default.
pub const DEFAULT_FILE: &str = "nodegate-gateway.db";

/// The two flags.
pub fn args() -> [Arg; 2] {
    [
        value_flag(
            "persistence.file",
            "File to persist metrics. If empty, metrics are only kept in memory.",
            DEFAULT_FILE,
        ),
        value_flag(
            "persistence.interval",
            "The minimum interval at which to write out the persistence file.",
            "5m",
        )
        .value_parser(engine::collector::parse_duration),
    ]
}

/// Persistence, started: hand `journal` to the handler, keep the rest until shutdown.
#[derive(Debug)]
pub struct Durable {
    /// Where the handler makes each change durable before acknowledging it.
    pub journal: Arc<dyn Journal>,
    /// What recovery found (all zero with persistence off), summarised in the start-up log.
    pub report: Report,
    compactor: Option<Compactor>,
}

impl Durable {
    /// The graceful-shutdown snapshot, after the server has stopped taking writes. Errors
    /// are logged: at that point there is nothing else to do with them.
    pub fn shutdown(self) {
        if let Some(c) = self.compactor {
            match c.shutdown() {
                Ok(_) => log::info!("metrics persisted"),
                Err(e) => log::error!(err:% = e; "error persisting metrics"),
            }
        }
    }
}

/// Opens `--persistence.file`, replays what it holds through `apply` (before anything can
/// be appended), and starts snapshotting through `snapshot` every `--persistence.interval`.
///
/// # Errors
/// A message naming the flag: the file is someone else's, unreadable, or its directory is
/// missing. Damage is not an error: it is logged and in [`Durable::report`].
pub fn start(
    m: &ArgMatches,
    apply: impl FnMut(&Op<'_>),
    snapshot: impl Fn(&mut dyn FnMut(&Op<'_>)) + Send + Sync + 'static,
) -> Result<Durable, String> {
    let file = m.get_one::<String>("persistence.file").map_or(DEFAULT_FILE, String::as_str);
    if file.is_empty() {
        return Ok(Durable {
            journal: Arc::new(Volatile),
            report: Report::default(),
            compactor: None,
        });
    }
    let interval =
        m.get_one::<Duration>("persistence.interval").copied().unwrap_or(Duration::from_secs(300));
    let flag = |e: &dyn std::fmt::Display| format!("--persistence.file={file}: {e}");
    let recovery = persist::open(Path::new(file)).map_err(|e| flag(&e))?;
    let report = recovery.report().clone();
    let journal = Arc::new(recovery.replay(apply).map_err(|e| flag(&e))?);
    log::info!(
        file = file, snapshot_ops = report.snapshot_ops, log_ops = report.log_ops,
        damaged_files = report.damage.len(), interval:? = interval;
        "persisted metrics restored"
    );
    let compactor = Compactor::spawn(journal.clone(), interval, snapshot).map_err(|e| flag(&e))?;
    Ok(Durable { journal, report, compactor: Some(compactor) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Command;
    use gateway::op::{Format, Kind};

    fn matches(argv: &[&str]) -> Result<ArgMatches, clap::Error> {
        Command::new("gateway")
            .args(args())
            .try_get_matches_from(std::iter::once("gateway").chain(argv.iter().copied()))
    }

    fn tmp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("nodegate-bin-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn defaults_and_parsing() {
        let m = matches(&[]).unwrap();
        assert_eq!(m.get_one::<String>("persistence.file").unwrap(), DEFAULT_FILE);
        assert_eq!(m.get_one::<Duration>("persistence.interval"), Some(&Duration::from_secs(300)));
        let m = matches(&["--persistence.interval=1m30s"]).unwrap();
        assert_eq!(m.get_one::<Duration>("persistence.interval"), Some(&Duration::from_secs(90)));
        assert!(matches(&["--persistence.interval=soon"]).is_err());
    }

    #[test]
    fn empty_file_is_volatile() {
        let m = matches(&["--persistence.file="]).unwrap();
        let d = start(&m, |_| panic!("nothing to replay"), |_| {}).unwrap();
        assert!(format!("{:?}", d.journal).contains("Volatile"));
        d.shutdown();
    }

    #[test]
    fn a_file_round_trips_and_errors_name_the_flag() {
        let dir = tmp("persistence");
        let file = dir.join("gw.db");
        let arg = format!("--persistence.file={}", file.display());
        let m = matches(&[&arg]).unwrap();
        let mut record = Vec::new();
        let op = Op {
            kind: Kind::Put,
            format: Format::Text,
            time_ms: 5,
            labels: [(&b"job"[..], &b"j"[..])].into_iter().collect(),
            body: b"m 1\n",
        };
        op.encode(&mut record);
        let d = start(&m, |_| panic!("empty at first"), |_| {}).unwrap();
        d.journal.append(&record).unwrap();
        drop(d);
        let mut seen = Vec::new();
        let d = start(&m, |op| seen.push(op.body.to_vec()), |_| {}).unwrap();
        assert_eq!(seen, [b"m 1\n".to_vec()]);
        assert!(d.report.damage.is_empty());
        d.shutdown();

        std::fs::write(&file, b"not ours\n").unwrap();
        let e = start(&m, |_| {}, |_| {}).unwrap_err();
        assert!(e.starts_with(&arg), "{e}");
    }
}
