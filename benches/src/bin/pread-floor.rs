//! The floor under a scrape: how long merely re-reading the files a running exporter keeps
//! open takes, each through a kept descriptor with `pread` from offset 0 to its end, as
//! nodegate reads them.
//!
//! ```text
//! pread-floor <pid> [--rounds N] [--scrape HOST:PORT[/path]] [--under DIR]...
//! ```
//!
//! The files are the regular files under `/proc` and `/sys` (or under each `--under`
//! directory instead, e.g. a generated host's tree) that `/proc/<pid>/fd` links to, opened
//! once here. Directory listings, netlink sockets and `statfs` calls are left out, so
//! the figure is a lower bound for a scrape of the same collectors. Prints one line:
//! `files=<n> bytes=<read per round> p50_us=<…> p99_us=<…>`.
//!
//! With `--scrape`, the files are listed after ten warm-up scrapes (an exporter opens its
//! files on its first), and each floor round is followed by one scrape of that address (path
//! `/metrics` unless given) over one keep-alive HTTP/1.1 connection, timed from the request's
//! first byte written to the body's last byte read, so that both figures are taken the same
//! way, in one process, under the same load. The line then ends with
//! `scrape_bytes=<body> scrape_p50_us=<…> scrape_p99_us=<…>`.

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(pid) = args.next().and_then(|a| a.parse::<u32>().ok()) else {
        eprintln!(
            "usage: pread-floor <pid> [--rounds N] [--scrape HOST:PORT[/path]] [--under DIR]..."
        );
        return ExitCode::from(2);
    };
    let mut rounds = 1000;
    let mut target = None;
    let mut under: Vec<PathBuf> = Vec::new();
    while let Some(flag) = args.next() {
        let value = args.next();
        match (flag.as_str(), value) {
            ("--rounds", Some(n)) if n.parse::<usize>().is_ok_and(|n| n > 0) => {
                rounds = n.parse().unwrap();
            }
            ("--scrape", Some(t)) => target = Some(t),
            ("--under", Some(d)) => under.push(PathBuf::from(d)),
            _ => {
                eprintln!("unknown flag or bad value: {flag}");
                return ExitCode::from(2);
            }
        }
    }
    let mut scraper = match target.map(|t| Scraper::connect(&t).map_err(|e| (t, e))).transpose() {
        Ok(s) => s,
        Err((t, e)) => {
            eprintln!("--scrape {t}: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Warm-up scrapes first: the exporter opens its files on its first scrape.
    let mut scrape_bytes = 0;
    if let Some(s) = &mut scraper {
        for _ in 0..10 {
            match s.scrape() {
                Ok(n) => scrape_bytes = n,
                Err(e) => {
                    eprintln!("scrape: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    if under.is_empty() {
        under = vec![PathBuf::from("/proc"), PathBuf::from("/sys")];
    }
    let files = match kept_files(pid, &under) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("/proc/{pid}/fd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut buf = vec![0u8; 64 << 10];
    let round = |buf: &mut Vec<u8>| files.iter().map(|(_, f)| read_to_end_at_zero(f, buf)).sum();
    let bytes: usize = round(&mut buf); // warm-up: buffer sized, caches filled
    let mut times = Vec::with_capacity(rounds);
    let mut scrapes = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        round(&mut buf);
        times.push(t.elapsed());
        if let Some(s) = &mut scraper {
            let t = Instant::now();
            if let Err(e) = s.scrape() {
                eprintln!("scrape: {e}");
                return ExitCode::FAILURE;
            }
            scrapes.push(t.elapsed());
        }
    }
    let (p50, p99) = percentiles(&mut times);
    print!("files={} bytes={bytes} p50_us={p50:.1} p99_us={p99:.1}", files.len());
    if scraper.is_some() {
        let (p50, p99) = percentiles(&mut scrapes);
        print!(" scrape_bytes={scrape_bytes} scrape_p50_us={p50:.1} scrape_p99_us={p99:.1}");
    }
    println!();
    ExitCode::SUCCESS
}

/// The median and 99th percentile of `times` (not empty), in microseconds.
fn percentiles(times: &mut [Duration]) -> (f64, f64) {
    times.sort_unstable();
    let n = times.len();
    let at = |q: f64| times[((q * n as f64).ceil() as usize).clamp(1, n) - 1].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

/// A keep-alive HTTP/1.1 connection that GETs one path again and again.
struct Scraper {
    stream: TcpStream,
    request: Vec<u8>,
    /// The answer being read, in `buf[..filled]`; `buf` doubles when full.
    buf: Vec<u8>,
    filled: usize,
}

impl Scraper {
    /// Connects to `HOST:PORT[/path]`.
    fn connect(target: &str) -> std::io::Result<Scraper> {
        let (addr, path) = match target.find('/') {
            Some(i) => target.split_at(i),
            None => (target, "/metrics"),
        };
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes();
        Ok(Scraper { stream, request, buf: vec![0; 1 << 20], filled: 0 })
    }

    /// Sends the request and reads the whole answer; the body's length.
    ///
    /// # Errors
    /// I/O, a status other than 200, or a response this client does not read (it knows
    /// `Content-Length` and chunked bodies).
    fn scrape(&mut self) -> std::io::Result<usize> {
        self.stream.write_all(&self.request)?;
        self.filled = 0;
        let head_end = loop {
            if let Some(i) = find(&self.buf[..self.filled], b"\r\n\r\n") {
                break i + 4;
            }
            self.fill()?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).map_err(|_| bad("head not UTF-8"))?;
        if !head.starts_with("HTTP/1.1 200 ") {
            return Err(bad(head.lines().next().unwrap_or("")));
        }
        let header = |name: &str| {
            head.lines().find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
        };
        if let Some(len) = header("content-length") {
            let len: usize = len.parse().map_err(|_| bad("bad Content-Length"))?;
            while self.filled < head_end + len {
                self.fill()?;
            }
            return Ok(len);
        }
        if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            return self.chunked(head_end);
        }
        Err(bad("neither Content-Length nor chunked"))
    }

    /// Reads a chunked body starting at `at`; its decoded length.
    fn chunked(&mut self, mut at: usize) -> std::io::Result<usize> {
        let mut total = 0;
        loop {
            let line_end = loop {
                if let Some(i) = find(&self.buf[at..self.filled], b"\r\n") {
                    break at + i;
                }
                self.fill()?;
            };
            let size = std::str::from_utf8(&self.buf[at..line_end])
                .ok()
                .and_then(|l| usize::from_str_radix(l.split(';').next()?.trim(), 16).ok())
                .ok_or_else(|| bad("bad chunk size"))?;
            // The chunk and its CRLF; the last (empty) chunk ends with the trailer's CRLF.
            let end = line_end + 2 + size + 2;
            while self.filled < end {
                self.fill()?;
            }
            total += size;
            at = end;
            if size == 0 {
                return Ok(total);
            }
        }
    }

    /// Reads more of the answer into `buf`.
    fn fill(&mut self) -> std::io::Result<()> {
        if self.filled == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        match self.stream.read(&mut self.buf[self.filled..])? {
            0 => Err(bad("connection closed mid-answer")),
            n => {
                self.filled += n;
                Ok(())
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// The regular files under the `under` directories that process `pid` holds open, opened
/// again.
fn kept_files(pid: u32, under: &[PathBuf]) -> std::io::Result<Vec<(PathBuf, File)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        let Ok(target) = std::fs::read_link(entry?.path()) else { continue };
        if !under.iter().any(|d| target.starts_with(d)) {
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

    /// Answers each request on one connection with the next of `answers`, as written.
    fn serve(answers: Vec<String>) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut req = Vec::new();
            for answer in answers {
                while find(&req, b"\r\n\r\n").is_none() {
                    let mut b = [0u8; 512];
                    let n = conn.read(&mut b).unwrap();
                    req.extend_from_slice(&b[..n]);
                }
                req.clear();
                conn.write_all(answer.as_bytes()).unwrap();
            }
        });
        format!("{addr}/m")
    }

    #[test]
    fn scrapes_sized_and_chunked_answers_on_one_connection() {
        let big = "x".repeat(3 << 20);
        let target = serve(vec![
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello".into(),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\na;x=1\r\n0123456789\r\n0\r\n\r\n".into(),
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{big}", big.len()),
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n".into(),
        ]);
        let mut s = Scraper::connect(&target).unwrap();
        assert_eq!(s.scrape().unwrap(), 5);
        assert_eq!(s.scrape().unwrap(), 13);
        assert_eq!(s.scrape().unwrap(), big.len());
        let err = s.scrape().unwrap_err();
        assert!(err.to_string().contains("503"), "{err}");
    }

    #[test]
    fn finds_the_proc_files_a_process_keeps_open() {
        let pid = std::process::id();
        let held = File::open("/proc/self/stat").unwrap();
        let dir = File::open(std::env::temp_dir()).unwrap();
        let tmp = std::env::temp_dir().join(format!("pread-floor-{pid}"));
        std::fs::write(&tmp, b"x").unwrap();
        let in_tmp = File::open(&tmp).unwrap();
        let system = [PathBuf::from("/proc"), PathBuf::from("/sys")];
        let files = kept_files(pid, &system).unwrap();
        let paths: Vec<&PathBuf> = files.iter().map(|(p, _)| p).collect();
        assert!(paths.contains(&&PathBuf::from(format!("/proc/{pid}/stat"))), "{paths:?}");
        assert!(paths.iter().all(|p| p.starts_with("/proc") || p.starts_with("/sys")));
        // Under a tree instead: only that tree's regular files, not the directory held.
        let files = kept_files(pid, std::slice::from_ref(&tmp)).unwrap();
        assert_eq!(files.iter().map(|(p, _)| p).collect::<Vec<_>>(), [&tmp]);
        drop((held, dir, in_tmp));
        std::fs::remove_file(&tmp).unwrap();
    }
}
