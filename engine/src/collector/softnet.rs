//! `/proc/net/softnet_stat` → `node_softnet_*_total{cpu}` and `node_softnet_backlog_len{cpu}`;
//! node_exporter's softnet collector.
//!
//! One line per online CPU of 32-bit hexadecimal columns (the kernel's net/core/net-procfs.c
//! `softnet_seq_show`): processed, dropped, time squeezed, five zero columns, CPU collision,
//! then received RPS (2.6.39+), flow limit count (4.18+), backlog length and the CPU's index
//! (5.14+): `00049279 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000
//! 00000000 00000000`. Without the index column, a line's position is its CPU.

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, FamilyId, Kind};
use crate::lex;
use crate::source::File;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "softnet", default_enabled: true, flags: &[], blocking: false, build };

const PATH: &str = "proc/net/softnet_stat";

#[derive(Debug)]
struct Softnet {
    file: File,
    buf: Vec<u8>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Softnet { file: File::new(b.paths.proc("net/softnet_stat")), buf: Vec::new() }))
}

impl Collector for Softnet {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = self.file.read(&mut self.buf).map_err(Error::read(PATH))?;
        scan(src, enc).map_err(Error::parse(PATH))
    }
}

/// The families, name and HELP, in the order of [`Row::values`].
const FAMILIES: [(&str, &str, Kind); 7] = [
    ("node_softnet_processed_total", "Number of processed packets", Kind::Counter),
    ("node_softnet_dropped_total", "Number of dropped packets", Kind::Counter),
    (
        "node_softnet_times_squeezed_total",
        "Number of times processing packets ran out of quota",
        Kind::Counter,
    ),
    (
        "node_softnet_cpu_collision_total",
        "Number of collision occur while obtaining device lock while transmitting",
        Kind::Counter,
    ),
    ("node_softnet_received_rps_total", "Number of times cpu woken up received_rps", Kind::Counter),
    (
        "node_softnet_flow_limit_count_total",
        "Number of times flow limit has been reached",
        Kind::Counter,
    ),
    ("node_softnet_backlog_len", "Softnet backlog status", Kind::Gauge),
];

/// One CPU's line.
struct Row {
    cpu: u32,
    values: [u32; 7],
}

/// Scans the file's text into `enc`; adds nothing if any line is malformed.
///
/// # Errors
/// The first line with fewer than 9 columns or a column upstream reads that is not a 32-bit
/// hexadecimal number (columns past the 13th are not read, as upstream's).
pub fn scan(src: &[u8], enc: &mut Encoder) -> Result<(), ParseError> {
    let fams: [FamilyId; 7] = FAMILIES.map(|(name, help, kind)| enc.family(name, help, kind));
    let cp = enc.checkpoint();
    for (n, line) in lex::go_lines(src).enumerate() {
        let row = match parse_line(line, n) {
            Ok(row) => row,
            Err(what) => {
                enc.rollback(cp);
                return Err(ParseError::at(n + 1, what));
            }
        };
        let mut cpu = itoa::Buffer::new();
        let labels = [("cpu", cpu.format(row.cpu).as_bytes())];
        for (&f, v) in fams.iter().zip(row.values) {
            enc.sample_u64(f, &labels, u64::from(v));
        }
    }
    Ok(())
}

fn parse_line(line: &[u8], index: usize) -> Result<Row, &'static str> {
    let mut cols: [&[u8]; 13] = [b""; 13];
    let mut width = 0;
    for field in lex::fields(line) {
        if let Some(col) = cols.get_mut(width) {
            *col = field;
        }
        width += 1;
    }
    if width < 9 {
        return Err("fewer than 9 columns");
    }
    // Only the columns the line's kernel generation has are read, as upstream reads them;
    // columns 3 to 7 are always zero and parsed but not reported.
    let hex = |i: usize| -> Result<u32, &'static str> {
        let s: &[u8] = cols[i];
        lex::parse_uint(s, 16, 32)
            .map(|v| v as u32)
            .ok_or("column is not a 32-bit hexadecimal number")
    };
    for i in 0..9 {
        hex(i)?;
    }
    let mut values = [hex(0)?, hex(1)?, hex(2)?, hex(8)?, 0, 0, 0];
    if width >= 10 {
        values[4] = hex(9)?;
    }
    if width >= 11 {
        values[5] = hex(10)?;
    }
    // A 12-column line (no kernel writes one) reads neither of the last two.
    let cpu = if width >= 13 {
        values[6] = hex(11)?;
        hex(12)?
    } else {
        // Upstream counts lines in a uint32 index.
        index as u32
    };
    Ok(Row { cpu, values })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_e2e_families, build as build_spec, fds_under, fixtures, put, render, tmpdir,
        try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn fixture_matches_upstream() {
        assert_e2e_families(PATH, |src, enc| scan(src, enc).unwrap());
        let Some(root) = fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(root), &Settings::new()).unwrap();
        let text = try_scrape(&mut *c).unwrap();
        crate::collector::testing::assert_matches_e2e(&text);
        assert_eq!(samples(&text).len(), 28);
    }

    #[test]
    fn kernel_generations() {
        // 2.6.23 (9 columns), 4.18 (11), 5.14+ (13, with the CPU index; CPU 2 offline), and
        // a 15-column line whose extra columns are not read.
        let src = b"00000001 00000002 00000003 0 0 0 0 0 00000004\n\
                    0000000a 0000000b 0000000c 0 0 0 0 0 0000000d 0000000e 0000000f\n\
                    ffffffff 1 2 0 0 0 0 0 3 4 5 00000006 00000003\n\
                    1 1 1 0 0 0 0 0 1 1 1 7 4 zz zz\n";
        let text = render(|enc| scan(src, enc).unwrap());
        for line in [
            "node_softnet_processed_total{cpu=\"0\"} 1",
            "node_softnet_cpu_collision_total{cpu=\"0\"} 4",
            "node_softnet_received_rps_total{cpu=\"0\"} 0",
            "node_softnet_received_rps_total{cpu=\"1\"} 14",
            "node_softnet_flow_limit_count_total{cpu=\"1\"} 15",
            "node_softnet_backlog_len{cpu=\"1\"} 0",
            "node_softnet_processed_total{cpu=\"3\"} 4.294967295e+09",
            "node_softnet_backlog_len{cpu=\"3\"} 6",
            "node_softnet_backlog_len{cpu=\"4\"} 7",
        ] {
            assert!(text.contains(&format!("\n{line}\n")), "{line} missing from\n{text}");
        }
        assert!(!text.contains("cpu=\"2\""));
        // Twelve columns: the eleventh is the last one read, the line's position the CPU.
        let twelve = render(|enc| scan(b"1 1 1 0 0 0 0 0 1 1 1 zz\n", enc).unwrap());
        assert!(twelve.contains("\nnode_softnet_backlog_len{cpu=\"0\"} 0\n"));
        assert_eq!(samples(&text).len(), 28);
        assert!(text.contains(
            "# HELP node_softnet_times_squeezed_total Number of times processing packets ran out \
             of quota\n# TYPE node_softnet_times_squeezed_total counter\n"
        ));
        assert_eq!(render(|enc| scan(b"", enc).unwrap()), "");
    }

    #[test]
    fn bad_input() {
        let good = "1 2 3 0 0 0 0 0 4 5 6 7 0\n";
        for bad in [
            "1 2 3 0 0 0 0 0",
            "",
            "1 2 3 0 0 0 0 x 4",
            "1 2 3 0 0 0 0 0 4 5 6 7 zz",
            "100000000 2 3 0 0 0 0 0 4",
            "0x1 2 3 0 0 0 0 0 4",
            "-1 2 3 0 0 0 0 0 4",
        ] {
            let src = format!("{good}{bad}\n");
            let mut enc = Encoder::new();
            let err = scan(src.as_bytes(), &mut enc).unwrap_err();
            assert_eq!(err.line, 2, "{bad:?}");
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "a failed scan left samples behind: {bad:?}");
        }
    }

    #[test]
    fn cpus_come_and_go_and_missing_file() {
        let root = tmpdir("softnet");
        let row = |cpu: u32| format!("1 0 0 0 0 0 0 0 0 0 0 0 {cpu:08x}\n");
        put(&root, "proc/net/softnet_stat", &(row(0) + &row(1)));
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert!(try_scrape(&mut *c).unwrap().contains("{cpu=\"1\"}"));
        put(&root, "proc/net/softnet_stat", &(row(0) + &row(2)));
        let text = try_scrape(&mut *c).unwrap();
        assert!(text.contains("{cpu=\"2\"}") && !text.contains("{cpu=\"1\"}"));
        assert_eq!(fds_under(&root), 1);
        drop(c);
        assert_eq!(fds_under(&root), 0);
        std::fs::remove_file(root.join("proc/net/softnet_stat")).unwrap();
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert!(matches!(try_scrape(&mut *c), Err(Error::Read { path: PATH, .. })));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            match try_scrape(&mut *c) {
                Ok(text) => assert!(text.contains("node_softnet_processed_total{cpu=\"0\"} ")),
                Err(e) if !std::path::Path::new("/proc/net/softnet_stat").exists() => {
                    eprintln!("{e}")
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
}
