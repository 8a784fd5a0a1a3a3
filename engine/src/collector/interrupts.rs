//! `/proc/interrupts` → `node_interrupts_total{cpu,type,info,devices}`; node_exporter's
//! interrupts collector. A header naming the CPUs, then one line per interrupt source: its
//! number or name, a colon, a count per CPU, then the controller and the devices (numbered
//! IRQs) or a description (named ones), see proc_interrupts(5) and the kernel's
//! `show_interrupts`:
//!
//! ```text
//!            CPU0       CPU1
//!  16:     328511     322879  IR-IO-APIC-fasteoi   ehci_hcd:usb1, mmc0
//! NMI:         47       5031   Non-maskable interrupts
//! ```
//!
//! The file has a series per interrupt source and CPU, thousands on a large host; it is scanned
//! in place, with one reused row index and one reused buffer for joined words.

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, FamilyId, Kind};
use crate::lex;
use crate::source::File;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "interrupts", default_enabled: false, flags: &[], blocking: false, build };

const PATH: &str = "proc/interrupts";

#[derive(Debug)]
struct Interrupts {
    file: File,
    buf: Vec<u8>,
    scratch: Scratch,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Interrupts {
        file: File::new(b.paths.proc("interrupts")),
        buf: Vec::new(),
        scratch: Scratch::default(),
    }))
}

impl Collector for Interrupts {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = self.file.read(&mut self.buf).map_err(Error::read(PATH))?;
        scan(src, enc, &mut self.scratch).map_err(Error::parse(PATH))
    }
}

/// Storage [`scan`] reuses between scrapes: it grows to the host's number of interrupt
/// sources and to its longest description, then stays.
#[derive(Debug, Default)]
pub struct Scratch {
    rows: Vec<Row>,
    joined: Vec<u8>,
}

/// An interrupt line: its name and the text after the colon, as offsets into the file.
#[derive(Clone, Copy, Debug)]
struct Row {
    line: u32,
    name: (u32, u32),
    rest: (u32, u32),
}

/// Scans the file's text into `enc`; adds nothing if a reported count is malformed.
///
/// As upstream: the header's word count is the number of CPUs; a line is used if it has a
/// colon and, after it, more words than CPUs (so `ERR:` and `MIS:`, with one count, are
/// left out). The name is the text before the colon without leading spaces. For a numbered
/// interrupt, `info` is the first word after the counts and `devices` the rest; for a named
/// one, `info` is all the words after the counts and `devices` is empty (words are joined with
/// single spaces). Of two lines with one name, the later is reported.
///
/// # Errors
/// An empty file, a header word that does not name a CPU (`CPU<n>`: the kernel writes nothing
/// else there, so the file is garbage or another file; upstream would read on and report
/// whatever its lines happen to hold), a reported count that is not a float, or a name, info
/// or devices text that is not UTF-8 (upstream panics on such a label value).
pub fn scan(src: &[u8], enc: &mut Encoder, scratch: &mut Scratch) -> Result<(), ParseError> {
    let f = enc.family("node_interrupts_total", "Interrupt details.", Kind::Counter);
    let mut lines = lex::lines(src);
    let Some(header) = lines.next() else { return Err(ParseError::at(1, "empty file")) };
    if !lex::fields(header).all(|w| w.starts_with(b"CPU")) {
        return Err(ParseError::at(1, "header: expected CPU names"));
    }
    let cpus = lex::fields(header).count();

    let rows = &mut scratch.rows;
    rows.clear();
    let mut offset = header.len() + 1;
    for (n, line) in lines.enumerate() {
        let start = offset;
        offset += line.len() + 1;
        let Some(colon) = memchr::memchr(b':', line) else { continue };
        if lex::fields(&line[colon + 1..]).nth(cpus).is_none() {
            continue;
        }
        let name_start = line.iter().position(|&b| b != b' ').unwrap_or(colon).min(colon);
        rows.push(Row {
            line: (n + 2) as u32,
            name: ((start + name_start) as u32, (start + colon) as u32),
            rest: ((start + colon + 1) as u32, (start + line.len()) as u32),
        });
    }
    // Upstream keeps the lines in a map by name. Sorting by name, then by position, puts the
    // line that wins last in its run.
    let name = |r: &Row| &src[r.name.0 as usize..r.name.1 as usize];
    rows.sort_unstable_by(|a, b| name(a).cmp(name(b)).then(a.line.cmp(&b.line)));

    let cp = enc.checkpoint();
    for (i, row) in rows.iter().enumerate() {
        if rows.get(i + 1).is_some_and(|next| name(next) == name(row)) {
            continue;
        }
        if let Err(what) = emit(src, row, cpus, enc, f, &mut scratch.joined) {
            enc.rollback(cp);
            return Err(ParseError::at(row.line as usize, what));
        }
    }
    Ok(())
}

fn emit(
    src: &[u8],
    row: &Row,
    cpus: usize,
    enc: &mut Encoder,
    f: FamilyId,
    joined: &mut Vec<u8>,
) -> Result<(), &'static str> {
    let name = &src[row.name.0 as usize..row.name.1 as usize];
    let rest = &src[row.rest.0 as usize..row.rest.1 as usize];
    let mut tail = lex::fields(rest).skip(cpus);
    // Go's `Atoi` decides what is a numbered interrupt.
    let (info, devices): (&[u8], &[u8]) = if lex::parse_i64(name).is_some() {
        let info = tail.next().unwrap_or_default();
        join(joined, tail);
        (info, joined.as_slice())
    } else {
        join(joined, tail);
        (joined.as_slice(), b"")
    };
    for text in [name, info, devices] {
        std::str::from_utf8(text).map_err(|_| "label text is not UTF-8")?;
    }
    let mut cpu = itoa::Buffer::new();
    for (i, count) in lex::fields(rest).take(cpus).enumerate() {
        let v = lex::parse_f64(count).ok_or("invalid count")?;
        let labels = [
            ("cpu", cpu.format(i).as_bytes()),
            ("type", name),
            ("info", info),
            ("devices", devices),
        ];
        enc.sample(f, &labels, v);
    }
    Ok(())
}

/// Joins `words` with single spaces into `out`, as `strings.Join(words, " ")`.
fn join<'a>(out: &mut Vec<u8>, words: impl Iterator<Item = &'a [u8]>) {
    out.clear();
    for (i, w) in words.enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fixture, fixtures, put, render, scrape, tmpdir,
        try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    fn scan_text(src: &[u8]) -> Result<String, ParseError> {
        let mut r = Ok(());
        let text = render(|enc| r = scan(src, enc, &mut Scratch::default()));
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
    fn aarch64_fixture() {
        // Names run into the counts there (`IPI0:1234`), hence the split at the colon.
        let Some(src) = fixture("proc/interrupts_aarch64") else { return };
        let text = scan_text(&src).unwrap();
        assert!(text.contains("node_interrupts_total{cpu=\"0\",devices=\"\",info=\"Rescheduling interrupts\",type=\"IPI0\"} "), "{text}");
    }

    #[test]
    fn numbered_and_named() {
        let src = b"   CPU0   CPU1\n\
          0:   18   1  IO-APIC   2-edge      timer\n\
         NMI:  47  5031   Non-maskable   interrupts\n\
         ERR:  3\n\
         +5:   1 2 x\n\
         no colon 1 2 3\n\
         \tX:  1 2 y\n";
        let text = scan_text(src).unwrap();
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            [
                "node_interrupts_total{cpu=\"0\",devices=\"\",info=\"Non-maskable interrupts\",type=\"NMI\"} 47",
                "node_interrupts_total{cpu=\"0\",devices=\"\",info=\"x\",type=\"+5\"} 1",
                "node_interrupts_total{cpu=\"0\",devices=\"\",info=\"y\",type=\"\tX\"} 1",
                "node_interrupts_total{cpu=\"0\",devices=\"2-edge timer\",info=\"IO-APIC\",type=\"0\"} 18",
                "node_interrupts_total{cpu=\"1\",devices=\"\",info=\"Non-maskable interrupts\",type=\"NMI\"} 5031",
                "node_interrupts_total{cpu=\"1\",devices=\"\",info=\"x\",type=\"+5\"} 2",
                "node_interrupts_total{cpu=\"1\",devices=\"\",info=\"y\",type=\"\tX\"} 2",
                "node_interrupts_total{cpu=\"1\",devices=\"2-edge timer\",info=\"IO-APIC\",type=\"0\"} 1",
            ]
        );
    }

    #[test]
    fn later_line_of_a_name_wins() {
        let src = b"CPU0\n 1: 5 a dev\nLOC: 7 Local\n 1: 6 b\n 1: x c\n 1: 9 d\n";
        let text = scan_text(src).unwrap();
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            [
                "node_interrupts_total{cpu=\"0\",devices=\"\",info=\"Local\",type=\"LOC\"} 7",
                "node_interrupts_total{cpu=\"0\",devices=\"\",info=\"d\",type=\"1\"} 9",
            ]
        );
    }

    #[test]
    fn edge_cases() {
        assert!(scan_text(b"").is_err());
        assert_eq!(scan_text(b"   CPU0 CPU1\n").unwrap(), "");
        // No CPUs in the header: lines need one word after the colon, and have no counts.
        assert_eq!(scan_text(b"\n 1: a\n").unwrap(), "");
        assert!(scan_text(b"CPU0\n 1: 18446744073709551616 a\n")
            .unwrap()
            .contains("} 1.8446744073709552e+19\n"));
        for bad in [
            &b"CPU0 CPU1\n 1: 1 x a\n"[..],
            b"CPU0\n 1: 1 a\n 2: -x a\n",
            b"CPU0\n 1: 1 \xff\n",
            b"CPU0\n\xff: 1 a\n",
            b"\x00garbage {{ not: a proc file\n 1: 1 2 3 4 5 6\n",
            b"CPU0 cpu1\n 1: 1 2 a\n",
        ] {
            let mut enc = Encoder::new();
            assert!(scan(bad, &mut enc, &mut Scratch::default()).is_err());
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "a failed scan left samples behind");
        }
    }

    #[test]
    fn missing_file_and_live_host() {
        let root = tmpdir("interrupts");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert!(matches!(try_scrape(c.as_mut()), Err(Error::Read { .. })));
        put(&root, "proc/interrupts", "CPU0\n 1: 5 a\n");
        assert!(try_scrape(c.as_mut()).unwrap().contains("type=\"1\"} 5\n"));
        std::fs::remove_dir_all(&root).unwrap();

        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            match try_scrape(c.as_mut()) {
                Ok(text) => assert!(text.contains("node_interrupts_total{")),
                Err(e) => assert!(!std::path::Path::new("/proc/interrupts").exists(), "{e}"),
            }
        }
    }
}
