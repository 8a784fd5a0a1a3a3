//! Group commit, measured: durable appends per second with 1, 8 and 64 concurrent appenders,
//! and how many `fdatasync`s they took.
//!
//! ```sh
//! cargo run -p nodegate-gateway --example wal_throughput -- [DIR ...]
//! ```
//!
//! Each `DIR` (default: the system's temp directory) gets a scratch subdirectory, removed
//! afterwards. Give a tmpfs and a directory on a real disk to compare the cost of the sync
//! itself with what batching saves.

use gateway::op::{Format, Journal, Kind, Op};
use gateway::persist;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long each concurrency level runs.
const RUN: Duration = Duration::from_secs(2);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut dirs: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if dirs.is_empty() {
        dirs.push(std::env::temp_dir());
    }
    let mut record = Vec::new();
    Op {
        kind: Kind::Put,
        format: Format::Text,
        time_ms: 1,
        labels: [(&b"instance"[..], &b""[..]), (b"job", b"bench")].into_iter().collect(),
        body: &[b'x'; 200],
    }
    .encode(&mut record);
    println!("record: {} bytes + 16 bytes of frame", record.len());
    for dir in dirs {
        let scratch = dir.join(format!("nodegate-wal-throughput-{}", std::process::id()));
        for threads in [1, 8, 64] {
            let _ = std::fs::remove_dir_all(&scratch);
            std::fs::create_dir_all(&scratch)?;
            let journal = Arc::new(persist::open(&scratch.join("state.db"))?.replay(|_| {})?);
            let start = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..threads {
                    let (journal, record) = (journal.clone(), &record);
                    s.spawn(move || {
                        while start.elapsed() < RUN {
                            if let Err(e) = journal.append(record) {
                                eprintln!("append: {e}");
                                return;
                            }
                        }
                    });
                }
            });
            let secs = start.elapsed().as_secs_f64();
            let st = journal.stats();
            println!(
                "{}: {threads:>2} appenders: {:>8.0} appends/s, {:>7.0} fdatasync/s, \
                 {:>5.1} records per commit ({} records, {} commits, {} fsyncs)",
                dir.display(),
                st.records as f64 / secs,
                st.commits as f64 / secs,
                st.records as f64 / st.commits.max(1) as f64,
                st.records,
                st.commits,
                st.fsyncs,
            );
        }
        std::fs::remove_dir_all(&scratch)?;
    }
    Ok(())
}
