//! The floor under a scrape: how long merely re-reading the files a running exporter keeps
//! open takes, each through a kept descriptor with `pread` from offset 0 to its end, as
//! nodegate reads them.
//!
//! ```text
//! pread-floor <pid> [--rounds N]
//! ```
//!
//! The files are the regular files under `/proc` and `/sys` that `/proc/<pid>/fd` links to,
//! opened once here. Directory listings, netlink sockets and `statfs` calls are left out, so
//! the figure is a lower bound for a scrape of the same collectors. Prints one line:
//! `files=<n> bytes=<read per round> p50_us=<…> p99_us=<…>`.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(pid) = args.next().and_then(|a| a.parse::<u32>().ok()) else {
        eprintln!("usage: pread-floor <pid> [--rounds N]");
        return ExitCode::from(2);
    };
    let mut rounds = 1000;
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next().and_then(|v| v.parse::<usize>().ok())) {
            ("--rounds", Some(n)) if n > 0 => rounds = n,
            _ => {
                eprintln!("unknown flag or bad value: {flag}");
                return ExitCode::from(2);
            }
        }
    }
    let files = match kept_files(pid) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("/proc/{pid}/fd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut buf = vec![0u8; 64 << 10];
    let round = |buf: &mut Vec<u8>| files.iter().map(|(_, f)| read_to_end_at_zero(f, buf)).sum();
    let bytes: usize = round(&mut buf); // warm-up: buffer sized, caches filled
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            round(&mut buf);
            t.elapsed()
        })
        .collect();
    times.sort_unstable();
    let at = |q: f64| times[((q * rounds as f64).ceil() as usize).clamp(1, rounds) - 1];
    println!(
        "files={} bytes={bytes} p50_us={:.1} p99_us={:.1}",
        files.len(),
        at(0.5).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6
    );
    ExitCode::SUCCESS
}

/// The regular files under `/proc` and `/sys` that process `pid` holds open, opened again.
fn kept_files(pid: u32) -> std::io::Result<Vec<(PathBuf, File)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        let Ok(target) = std::fs::read_link(entry?.path()) else { continue };
        if !(target.starts_with("/proc") || target.starts_with("/sys")) {
            continue;
        }
        if let Some(f) = open_regular(&target) {
            files.push((target, f));
        }
    }
    Ok(files)
}

fn open_regular(path: &Path) -> Option<File> {
    let f = File::open(path).ok()?;
    f.metadata().ok()?.is_file().then_some(f)
}

/// Reads `f` from offset 0 to its end into `buf` (grown as needed); the bytes read.
fn read_to_end_at_zero(f: &File, buf: &mut Vec<u8>) -> usize {
    let mut at = 0;
    loop {
        if at == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match f.read_at(&mut buf[at..], at as u64) {
            Ok(0) | Err(_) => return at,
            Ok(n) => at += n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_past_the_buffer_and_again_from_zero() {
        let path = std::env::temp_dir().join(format!("pread-floor-{}", std::process::id()));
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let f = File::open(&path).unwrap();
        let mut buf = vec![0u8; 1000];
        assert_eq!(read_to_end_at_zero(&f, &mut buf), data.len());
        assert_eq!(&buf[..data.len()], &data[..]);
        assert_eq!(read_to_end_at_zero(&f, &mut buf), data.len());
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn finds_the_proc_files_a_process_keeps_open() {
        let pid = std::process::id();
        let held = File::open("/proc/self/stat").unwrap();
        let dir = File::open(std::env::temp_dir()).unwrap();
        let files = kept_files(pid).unwrap();
        let paths: Vec<&PathBuf> = files.iter().map(|(p, _)| p).collect();
        assert!(paths.contains(&&PathBuf::from(format!("/proc/{pid}/stat"))), "{paths:?}");
        assert!(paths.iter().all(|p| p.starts_with("/proc") || p.starts_with("/sys")));
        drop((held, dir));
    }
}
