//! `/proc/softirqs` → `node_softirqs_functions_total{cpu,type}`; node_exporter's softirqs
//! collector. A header naming the CPUs, then one line per softirq vector with a count per
//! CPU, see proc_softirqs(5) and the kernel's `show_softirqs`:
//!
//! ```text
//!                     CPU0       CPU1
//!           HI:          7          1
//!        TIMER:     424191     108342
//! ```

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::File;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "softirqs", default_enabled: false, flags: &[], blocking: false, build };

const PATH: &str = "proc/softirqs";

/// The vectors procfs knows, as the file names them and as the `type` label does.
const VECTORS: [(&[u8], &str); 10] = [
    (b"HI:", "HI"),
    (b"TIMER:", "TIMER"),
    (b"NET_TX:", "NET_TX"),
    (b"NET_RX:", "NET_RX"),
    (b"BLOCK:", "BLOCK"),
    (b"IRQ_POLL:", "IRQ_POLL"),
    (b"TASKLET:", "TASKLET"),
    (b"SCHED:", "SCHED"),
    (b"HRTIMER:", "HRTIMER"),
    (b"RCU:", "RCU"),
];

#[derive(Debug)]
struct Softirqs {
    file: File,
    buf: Vec<u8>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Softirqs { file: File::new(b.paths.proc("softirqs")), buf: Vec::new() }))
}

impl Collector for Softirqs {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = self.file.read(&mut self.buf).map_err(Error::read(PATH))?;
        scan(src, enc).map_err(Error::parse(PATH))
    }
}

/// Scans the file's text into `enc`; adds nothing if a known vector's counts are malformed.
///
/// As procfs reads it: the first line is skipped; lines with fewer than two words, or naming a
/// vector it does not know, are ignored; the counts of a known vector must all be `u64`s. Of
/// two lines for one vector the later is reported. The `cpu` label is the count's position.
///
/// # Errors
/// An empty file, or a count that is not a `u64`.
pub fn scan(src: &[u8], enc: &mut Encoder) -> Result<(), ParseError> {
    let mut lines = lex::lines(src);
    let Some(header) = lines.next() else { return Err(ParseError::at(1, "empty file")) };
    // Where each vector's last line starts and ends; every known line is checked on the way.
    let mut last: [Option<(usize, usize)>; 10] = [None; 10];
    let mut offset = header.len() + 1;
    for (n, line) in lines.enumerate() {
        let start = offset;
        offset += line.len() + 1;
        let mut words = lex::fields(line);
        let (Some(name), Some(_)) = (words.next(), words.clone().next()) else { continue };
        let Some(v) = VECTORS.iter().position(|(key, _)| *key == name) else { continue };
        if words.any(|w| lex::parse_u64(w).is_none()) {
            return Err(ParseError::at(n + 2, "count is not a 64-bit unsigned integer"));
        }
        last[v] = Some((start, start + line.len()));
    }

    let f = enc.family("node_softirqs_functions_total", "Softirq counts per CPU.", Kind::Counter);
    let mut cpu = itoa::Buffer::new();
    for ((_, label), range) in VECTORS.iter().zip(last) {
        let Some((start, end)) = range else { continue };
        for (i, count) in lex::fields(&src[start..end]).skip(1).enumerate() {
            let v = lex::parse_u64(count).unwrap_or_default();
            enc.sample_u64(f, &[("cpu", cpu.format(i).as_bytes()), ("type", label.as_bytes())], v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fixtures, put, render, scrape, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    fn scan_text(src: &str) -> Result<String, ParseError> {
        let mut r = Ok(());
        let text = render(|enc| r = scan(src.as_bytes(), enc));
        r.map(|()| text)
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        assert_matches_e2e(&text);
        assert_eq!(scrape(c.as_mut()), text);
    }

    #[test]
    fn vectors_and_repeats() {
        let src = "  CPU0 CPU1\n  HI: 1 2\n  NEW_VEC: x y\n  RCU:\n  HI: 3 4 5\n  \
                   RCU: 18446744073709551615";
        let text = scan_text(src).unwrap();
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            [
                "node_softirqs_functions_total{cpu=\"0\",type=\"HI\"} 3",
                "node_softirqs_functions_total{cpu=\"0\",type=\"RCU\"} 1.8446744073709552e+19",
                "node_softirqs_functions_total{cpu=\"1\",type=\"HI\"} 4",
                "node_softirqs_functions_total{cpu=\"2\",type=\"HI\"} 5",
            ]
        );
        assert_eq!(scan_text("header only\n").unwrap(), "");
        assert_eq!(scan_text("\n").unwrap(), "");
        assert!(scan_text("").is_err());
    }

    #[test]
    fn bad_counts_fail_whole() {
        // Even on a line a later one replaces.
        for bad in ["HI: 1 x", "TIMER: -1", "SCHED: 18446744073709551616", "RCU: 1.5"] {
            let src = format!("CPU0\n  HI: 1 2\n  {bad}\n  HI: 3 4\n");
            let mut enc = Encoder::new();
            assert_eq!(scan(src.as_bytes(), &mut enc).unwrap_err().line, 3, "{bad}");
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "a failed scan left samples behind");
        }
    }

    #[test]
    fn missing_file_and_live_host() {
        let root = tmpdir("softirqs");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert!(matches!(try_scrape(c.as_mut()), Err(Error::Read { .. })));
        put(&root, "proc/softirqs", "CPU0\nNET_RX: 9\n");
        assert!(try_scrape(c.as_mut()).unwrap().contains("type=\"NET_RX\"} 9\n"));
        std::fs::remove_dir_all(&root).unwrap();

        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            assert!(try_scrape(c.as_mut()).unwrap().contains("type=\"TIMER\"}"));
        }
    }
}
