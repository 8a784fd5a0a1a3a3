//! `/proc/mdstat` → `node_md_{state,disks,disks_required,blocks,blocks_synced}{device}`;
//! node_exporter 1.8.2's mdadm collector, which reads the file through procfs (1.10 moved to
//! sysfs). Per array a device line, a status line, and optionally a bitmap line and a sync
//! line, see the kernel's Documentation/admin-guide/md.rst and `md_seq_show`:
//!
//! ```text
//! md6 : active raid1 sdb2[2](F) sdc[1](S) sda2[0]
//!       195310144 blocks [2/1] [U_]
//!       [=>...................]  recovery =  8.5% (16775552/195310144) finish=17.0min speed=259783K/sec
//! ```

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::File;
use regex::bytes::{CaptureLocations, Regex};
use rustix::io::Errno;
use std::path::PathBuf;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "mdadm", default_enabled: true, flags: &[], blocking: false, build };

const PATH: &str = "proc/mdstat";

#[derive(Debug)]
struct Mdadm {
    file: File,
    procfs: PathBuf,
    buf: Vec<u8>,
    scratch: Scratch,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Mdadm {
        file: File::new(b.paths.proc("mdstat")),
        procfs: b.paths.procfs.clone(),
        buf: Vec::new(),
        scratch: Scratch::new()?,
    }))
}

impl Collector for Mdadm {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = match self.file.read(&mut self.buf) {
            Ok(src) => src,
            // No md driver. Upstream opens the procfs root first, which fails when it is not a
            // directory; that check is needed only here.
            Err(Errno::NOENT) if self.procfs.is_dir() => return Err(Error::NoData),
            Err(e) => return Err(Error::Read { path: PATH, errno: e }),
        };
        scan(src, enc, &mut self.scratch).map_err(Error::parse(PATH))
    }
}

/// What [`scan`] reuses between scrapes: the line index and procfs' regular expressions with
/// their capture slots, so that matching allocates nothing.
#[derive(Debug)]
pub struct Scratch {
    lines: Vec<(u32, u32)>,
    patterns: Patterns,
}

/// procfs' patterns for the status and sync lines.
#[derive(Debug)]
struct Patterns {
    status: Pattern,
    blocks: Pattern,
    pct: Pattern,
    finish: Pattern,
    speed: Pattern,
}

/// A regular expression and its reused capture slots.
#[derive(Debug)]
struct Pattern {
    re: Regex,
    locs: CaptureLocations,
}

impl Pattern {
    /// `re` with Go's byte-level meaning of `.` and ASCII `\d`.
    fn new(re: &str) -> Result<Pattern, String> {
        let re = Regex::new(&format!("(?-u){re}")).map_err(|e| e.to_string())?;
        let locs = re.capture_locations();
        Ok(Pattern { re, locs })
    }

    /// The capture groups of the leftmost match in `hay`, as Go's `FindSubmatch`.
    fn find<'h, const N: usize>(&mut self, hay: &'h [u8]) -> Option<[&'h [u8]; N]> {
        self.re.captures_read(&mut self.locs, hay)?;
        let mut groups = [&hay[..0]; N];
        for (i, g) in groups.iter_mut().enumerate() {
            let (start, end) = self.locs.get(i + 1)?;
            *g = &hay[start..end];
        }
        Some(groups)
    }
}

impl Scratch {
    /// Compiles the patterns.
    ///
    /// # Errors
    /// None in practice: the patterns are constants.
    pub fn new() -> Result<Scratch, String> {
        Ok(Scratch {
            lines: Vec::new(),
            patterns: Patterns {
                status: Pattern::new(r"(\d+) blocks .*\[(\d+)/(\d+)\] \[([U_]+)\]")?,
                blocks: Pattern::new(r"\((\d+)/\d+\)")?,
                pct: Pattern::new(r"= (.+)%")?,
                finish: Pattern::new(r"finish=(.+)min")?,
                speed: Pattern::new(r"speed=(.+)[A-Z]")?,
            },
        })
    }
}

/// One array, as procfs' `MDStat` has it (the fields the collector reports).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Array<'a> {
    name: &'a [u8],
    state: &'a [u8],
    active: i64,
    total: i64,
    failed: i64,
    spare: i64,
    size: i64,
    synced: i64,
}

/// Scans the file's text into `enc`; adds nothing if any array is malformed.
///
/// As procfs reads it: lines that are blank, start with a space, or start with `Personalities`
/// or `unused` are skipped; any other starts an array and needs three more lines after it
/// (so a file's last array needs its trailing newline and one blank line). raid0 and linear
/// arrays count their member devices; inactive ones report no disks; others take their
/// numbers from the status line's `[n/m] [UU_]`. A sync line with `recovery`, `resync` or
/// `check` sets the state and must give `(synced/total)`, `= pct%`, `finish=..min` and
/// `speed=..K`, unless it says `PENDING` or `DELAYED` (then nothing is synced).
///
/// # Errors
/// The first array procfs rejects, or an array name that is not UTF-8 (upstream panics on
/// such a label value).
pub fn scan(src: &[u8], enc: &mut Encoder, scratch: &mut Scratch) -> Result<(), ParseError> {
    // Go's `strings.Split(text, "\n")`: a trailing newline leaves an empty last line.
    let lines = &mut scratch.lines;
    lines.clear();
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', src).chain(std::iter::once(src.len())) {
        lines.push((start as u32, nl as u32));
        start = nl + 1;
    }

    let state = enc.family("node_md_state", "Indicates the state of md-device.", Kind::Gauge);
    let disks =
        enc.family("node_md_disks", "Number of active/failed/spare disks of device.", Kind::Gauge);
    let required =
        enc.family("node_md_disks_required", "Total number of disks of device.", Kind::Gauge);
    let blocks = enc.family("node_md_blocks", "Total number of blocks on device.", Kind::Gauge);
    let synced =
        enc.family("node_md_blocks_synced", "Number of blocks synced on device.", Kind::Gauge);

    let cp = enc.checkpoint();
    for i in 0..scratch.lines.len() {
        let line = |k: usize| {
            let (a, b) = scratch.lines[k];
            &src[a as usize..b as usize]
        };
        let first = line(i);
        if lex::trim(first).is_empty()
            || first[0] == b' '
            || first.starts_with(b"Personalities")
            || first.starts_with(b"unused")
        {
            continue;
        }
        let array = match parse_array(i, &scratch.lines, src, &mut scratch.patterns) {
            Ok(a) => a,
            Err(what) => {
                enc.rollback(cp);
                return Err(ParseError::at(i + 1, what));
            }
        };
        let device = ("device", array.name);
        enc.sample(required, &[device], array.total as f64);
        enc.sample(disks, &[device, ("state", b"active")], array.active as f64);
        enc.sample(disks, &[device, ("state", b"failed")], array.failed as f64);
        enc.sample(disks, &[device, ("state", b"spare")], array.spare as f64);
        for (label, value) in [
            ("active", &b"active"[..]),
            ("inactive", b"inactive"),
            ("recovering", b"recovering"),
            ("resync", b"resyncing"),
            ("check", b"checking"),
        ] {
            let v = if array.state == value { 1.0 } else { 0.0 };
            enc.sample(state, &[device, ("state", label.as_bytes())], v);
        }
        enc.sample(blocks, &[device], array.size as f64);
        enc.sample(synced, &[device], array.synced as f64);
    }
    Ok(())
}

/// Parses the array whose device line is line `i`.
fn parse_array<'a>(
    i: usize,
    lines: &[(u32, u32)],
    src: &'a [u8],
    patterns: &mut Patterns,
) -> Result<Array<'a>, &'static str> {
    let line = |k: usize| {
        let (a, b) = lines[k];
        &src[a as usize..b as usize]
    };
    let device_line = line(i);
    let mut fields = lex::fields(device_line);
    let (Some(name), Some(_), Some(state)) = (fields.next(), fields.next(), fields.next()) else {
        return Err("expected `mdN : state ...`");
    };
    std::str::from_utf8(name).map_err(|_| "array name is not UTF-8")?;
    if lines.len() <= i + 3 {
        return Err("too few lines for an array");
    }
    let mut array = Array {
        name,
        state,
        failed: count(device_line, b"(F)"),
        spare: count(device_line, b"(S)"),
        ..Array::default()
    };

    let status = line(i + 1);
    let size = lex::fields(status).next().ok_or("empty status line")?;
    array.size = lex::parse_i64(size).ok_or("invalid block count")?;
    if contains(device_line, b"raid0") || contains(device_line, b"linear") {
        // Only member devices carry a number in brackets.
        array.total = count(device_line, b"[");
        array.active = array.total;
    } else if !contains(device_line, b"inactive") {
        let [_, total, active, _] =
            patterns.status.find(status).ok_or("status line without `[n/m] [U_]`")?;
        array.total = lex::parse_i64(total).ok_or("invalid disk count")?;
        array.active = lex::parse_i64(active).ok_or("invalid active disk count")?;
    }

    let mut sync = line(i + 2);
    if contains(sync, b"bitmap") {
        sync = line(i + 3);
    }
    array.synced = array.size;
    let recovering = contains(sync, b"recovery");
    let resyncing = contains(sync, b"resync");
    let checking = contains(sync, b"check");
    if recovering || resyncing || checking {
        array.state = match (recovering, checking) {
            (true, _) => b"recovering",
            (false, true) => b"checking",
            (false, false) => b"resyncing",
        };
        if contains(sync, b"PENDING") || contains(sync, b"DELAYED") {
            array.synced = 0;
        } else {
            array.synced = parse_sync(sync, patterns)?;
        }
    }
    Ok(array)
}

/// The synced block count of a sync line; its percentage, finish time and speed must parse
/// too, as procfs parses them.
fn parse_sync(sync: &[u8], patterns: &mut Patterns) -> Result<i64, &'static str> {
    let [done] = patterns.blocks.find(sync).ok_or("sync line without `(done/total)`")?;
    let done = lex::parse_i64(done).ok_or("invalid synced block count")?;
    let [pct] = patterns.pct.find(sync).ok_or("sync line without `= pct%`")?;
    lex::parse_f64(lex::trim(pct)).ok_or("invalid sync percentage")?;
    let [finish] = patterns.finish.find(sync).ok_or("sync line without `finish=..min`")?;
    lex::parse_f64(finish).ok_or("invalid sync finish time")?;
    let [speed] = patterns.speed.find(sync).ok_or("sync line without `speed=..`")?;
    lex::parse_f64(speed).ok_or("invalid sync speed")?;
    Ok(done)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// Non-overlapping occurrences of `needle`, as `strings.Count`.
fn count(hay: &[u8], needle: &[u8]) -> i64 {
    memchr::memmem::find_iter(hay, needle).count() as i64
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
        let mut scratch = Scratch::new().unwrap();
        let text = render(|enc| r = scan(src.as_bytes(), enc, &mut scratch));
        r.map(|()| text)
    }

    fn samples(text: &str, device: &str) -> Vec<String> {
        let tag = format!("device=\"{device}\"");
        text.lines().filter(|l| l.contains(&tag)).map(str::to_owned).collect()
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
    fn recovering_array() {
        let src = "Personalities : [raid1]\n\
                   md6 : active raid1 sdb2[2](F) sdc[1](S) sda2[0]\n      \
                   195310144 blocks [2/1] [U_]\n      \
                   [=>..]  recovery =  8.5% (16775552/195310144) finish=17.0min speed=259783K/sec\n\n\
                   unused devices: <none>\n";
        let text = scan_text(src).unwrap();
        assert_eq!(
            samples(&text, "md6"),
            [
                "node_md_blocks{device=\"md6\"} 1.95310144e+08",
                "node_md_blocks_synced{device=\"md6\"} 1.6775552e+07",
                "node_md_disks{device=\"md6\",state=\"active\"} 1",
                "node_md_disks{device=\"md6\",state=\"failed\"} 1",
                "node_md_disks{device=\"md6\",state=\"spare\"} 1",
                "node_md_disks_required{device=\"md6\"} 2",
                "node_md_state{device=\"md6\",state=\"active\"} 0",
                "node_md_state{device=\"md6\",state=\"check\"} 0",
                "node_md_state{device=\"md6\",state=\"inactive\"} 0",
                "node_md_state{device=\"md6\",state=\"recovering\"} 1",
                "node_md_state{device=\"md6\",state=\"resync\"} 0",
            ]
        );
    }

    #[test]
    fn last_array_needs_three_more_lines() {
        // Upstream's index check counts the empty string after the final newline as a line.
        let ok = "md0 : active raid1 a[0] b[1]\n      10 blocks [2/2] [UU]\n\n";
        assert!(scan_text(ok).unwrap().contains("node_md_blocks{device=\"md0\"} 10\n"));
        let short = "md0 : active raid1 a[0] b[1]\n      10 blocks [2/2] [UU]\n";
        assert!(scan_text(short).is_err());
        assert_eq!(scan_text("").unwrap(), "");
        assert_eq!(scan_text("Personalities : []\nunused devices: <none>\n").unwrap(), "");
    }

    #[test]
    fn bad_arrays_leave_nothing() {
        let good = "md0 : active raid1 a[0] b[1]\n      10 blocks [2/2] [UU]\n\n";
        for bad in [
            "md1 :\n      10 blocks [2/2] [UU]\n\n\n",
            "md1 active\n      10 blocks [2/2] [UU]\n\n\n",
            "md1 : active raid1 a[0]\n\n\n\n",
            "md1 : active raid1 a[0]\n      x blocks [2/2] [UU]\n\n\n",
            "md1 : active raid1 a[0]\n      10 blocks [2/2]\n\n\n",
            "md1 : active raid1 a[0]\n      10 blocks [99999999999999999999/2] [UU]\n\n\n",
            "md1 : active raid1 a[0]\n      10 blocks [2/2] [UU]\n  resync = 1% finish=1min speed=1K\n\n",
            "md1 : active raid1 a[0]\n      10 blocks [2/2] [UU]\n  resync = x% (1/2) finish=1min speed=1K\n\n",
            "md1 : active raid1 a[0]\n      10 blocks [2/2] [UU]\n  check = 1% (1/2) finish=1min speed=1k\n\n",
            "#md1 : active raid1 a[0]\n      10 blocks [2/2] [UU]\n\n\n",
        ] {
            // `#` stands for a byte that is not UTF-8.
            let src: Vec<u8> =
                format!("{good}{bad}").bytes().map(|b| if b == b'#' { 0x80 } else { b }).collect();
            let mut enc = Encoder::new();
            let mut scratch = Scratch::new().unwrap();
            assert!(scan(&src, &mut enc, &mut scratch).is_err(), "{bad:?}");
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "a failed scan left samples behind: {bad:?}");
        }
    }

    #[test]
    fn pending_bitmap_and_raid0() {
        let src =
            "md9 : active raid1 a[0] b[1]\n      523968 blocks super 1.2 [4/4] [UUUU]\n      \
                   bitmap: 0/30 pages [0KB], 65536KB chunk\n      resync=PENDING\n\
                   md10 : active raid0 sda1[0] sdb1[1]\n       314159265 blocks 64k chunks\n\n\n";
        let text = scan_text(src).unwrap();
        assert!(text.contains("node_md_blocks_synced{device=\"md9\"} 0\n"));
        assert!(text.contains("node_md_state{device=\"md9\",state=\"resync\"} 1\n"));
        assert!(text.contains("node_md_disks_required{device=\"md10\"} 2\n"));
        assert!(text.contains("node_md_disks{device=\"md10\",state=\"active\"} 2\n"));
        assert!(text.contains("node_md_blocks_synced{device=\"md10\"} 3.14159265e+08\n"));
    }

    #[test]
    fn missing_file_is_no_data() {
        let root = tmpdir("mdadm");
        std::fs::create_dir_all(root.join("proc")).unwrap();
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert_eq!(try_scrape(c.as_mut()), Err(Error::NoData));
        put(&root, "proc/mdstat", "md0 : inactive sda[0](S)\n      7932 blocks\n\n");
        let text = try_scrape(c.as_mut()).unwrap();
        assert!(text.contains("node_md_state{device=\"md0\",state=\"inactive\"} 1\n"), "{text}");
        assert!(text.contains("node_md_disks{device=\"md0\",state=\"spare\"} 1\n"));
        std::fs::remove_dir_all(&root).unwrap();

        // Without a procfs directory upstream fails rather than reporting no data.
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        assert!(matches!(try_scrape(c.as_mut()), Err(Error::Read { .. })));

        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            match try_scrape(c.as_mut()) {
                Ok(_) | Err(Error::NoData) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
}
