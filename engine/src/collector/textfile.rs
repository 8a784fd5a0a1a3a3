//! `--collector.textfile.directory` → the families held by its `*.prom` files, plus
//! `node_textfile_mtime_seconds{file}` and `node_textfile_scrape_error`: node_exporter 1.8.2's
//! textfile collector (`collector/textfile.go`).
//!
//! Each file holds text format 0.0.4, read by [`textparse`](crate::textparse) as Go's
//! `expfmt.TextParser` reads it; typically a cron job writes one and renames it into place:
//!
//! ```text
//! # HELP backup_last_success_timestamp_seconds Time of the last successful backup.
//! # TYPE backup_last_success_timestamp_seconds gauge
//! backup_last_success_timestamp_seconds{db="orders"} 1.7e+09
//! ```
//!
//! Upstream's rules, all kept:
//!
//! - The flag is one string, empty by default. It goes through Go's `filepath.Glob`; a bad
//!   pattern or no match means the value itself is the one directory. Each directory is listed
//!   in name order and only names ending in `.prom` are read, hidden ones included. An empty
//!   value reads nothing and is no error; any other directory that cannot be listed is one.
//! - A file that cannot be opened or parsed, or that has a sample with a timestamp, is
//!   skipped whole and counts as an error; the others are still exported.
//! - The first HELP seen for a name wins: a later family with another HELP is dropped and
//!   counts as an error (1.8.0). A family without HELP gets `Metric read from <files>`, the
//!   joined paths of all files that had it.
//! - Within a file's family, a label only some metrics carry is added as `""` to the others.
//!   Summaries and histograms are rebuilt as client_golang's const metrics build them:
//!   quantiles and buckets keyed by bound (last one wins), in bound order.
//! - Families go to the encoder with their own type, in file order, before the collector's own
//!   two; clashes with families already declared, and duplicate series, are dropped there, as
//!   the registry drops them.
//! - `node_textfile_mtime_seconds` is the whole seconds of each file read, from the file's
//!   mtime as Go's `UnixNano() / 1e9`; `node_textfile_scrape_error` is 1 after any error above.
//!   The collector itself always succeeds.
//!
//! Where node_exporter panics (and exits), this collector drops the family and counts an
//! error instead: a label name starting with `__`, a `gauge_histogram` family, and a family
//! without HELP arriving after two different HELPs were seen for its name.
//!
//! # Implementation notes
//!
//! The directories are listed and every file is opened again on each scrape, since cron jobs
//! replace them by rename and remove them ([`Lister`], [`Transient`]). Files are read whole into
//! slots that live as long as the collector: one slot per file read this scrape, each with
//! its buffer and parse [`Store`], so that all files' families can be borrowed at once when the
//! HELP texts are settled. Every buffer (slots, the merge table, sorted names, label lists for
//! up to 16 labels) is cleared and reused, so a scrape of an unchanged directory allocates
//! nothing (`tests/textfile_alloc.rs`; the encoder's own label list spills past 12 labels); a
//! slot keeps the capacity of the largest file it has held.

use super::{Build, Collector, Error, Flag, FlagKind, Spec};
use crate::encode::{self, Encoder, Kind, Label};
use crate::glob::{self, ByteList, Glob};
use crate::quote::Quoted;
use crate::source::{Lister, Mtime, Transient};
use crate::textparse::{Family, Store, Value};
use smallvec::SmallVec;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "textfile", default_enabled: true, flags: &[DIRECTORY], blocking: true, build };

const DIRECTORY: Flag = Flag {
    name: "collector.textfile.directory",
    help: "Directory to read text files with metrics from.",
    kind: FlagKind::String,
    default: "",
    aliases: &[],
};

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Textfile::new(b.settings.str(DIRECTORY.name))))
}

/// A file read this scrape: its path (`filepath.Join(dir, name)`, also its `file` label),
/// bytes, parse and mtime.
#[derive(Debug, Default)]
struct Slot {
    path: Vec<u8>,
    buf: Vec<u8>,
    store: Store,
    /// The mtime, unless `fstat` failed (the families are exported all the same).
    mtime: Option<Mtime>,
}

impl Slot {
    fn family(&self, index: u32) -> Option<Family<'_>> {
        self.store.families(&self.buf)?.get(index as usize)
    }
}

/// A family of a slot: (slot, family index in its store).
type FamilyRef = (u32, u32);

/// What upstream keeps per metric name while merging files: the HELP text that won, whether a
/// conflicting one was seen since (Go's second help text), and the files that had the name.
#[derive(Clone, Copy, Debug)]
struct Entry {
    name: FamilyRef,
    help: Option<FamilyRef>,
    conflicted: bool,
    /// First and last link in `Merge::files`.
    files: (u32, u32),
}

#[derive(Debug, Default)]
struct Merge {
    index: encode::NameIndex,
    entries: Vec<Entry>,
    /// (slot, next link) lists of the files each name was read from.
    files: Vec<(u32, u32)>,
}

const END: u32 = u32::MAX;

impl Merge {
    fn clear(&mut self) {
        self.index.clear();
        self.entries.clear();
        self.files.clear();
    }

    /// The entry for the name of `fam`, created if new.
    fn entry(&mut self, slots: &[Slot], name: &str, fam: FamilyRef) -> usize {
        let hash = encode::hash(name.as_bytes());
        let entries = &self.entries;
        let found = self.index.find(hash, |e| {
            let (slot, index) = entries[e as usize].name;
            slots[slot as usize].family(index).is_some_and(|f| f.name() == name)
        });
        if let Some(e) = found {
            return e as usize;
        }
        let e = self.entries.len();
        self.entries.push(Entry { name: fam, help: None, conflicted: false, files: (END, END) });
        self.index.insert(hash, e as u32);
        e
    }

    fn add_file(&mut self, e: usize, slot: u32) {
        let link = self.files.len() as u32;
        self.files.push((slot, END));
        let entry = &mut self.entries[e];
        match entry.files.1 {
            END => entry.files.0 = link,
            last => self.files[last as usize].1 = link,
        }
        entry.files.1 = link;
    }

    fn files(&self, e: usize) -> impl Iterator<Item = u32> + '_ {
        let mut next = self.entries[e].files.0;
        std::iter::from_fn(move || {
            let &(slot, after) = self.files.get(next as usize)?;
            next = after;
            Some(slot)
        })
    }
}

#[derive(Debug)]
struct Textfile {
    /// The flag's value.
    pattern: Vec<u8>,
    glob: Glob,
    dirs: ByteList,
    lister: Lister,
    names: ByteList,
    cpath: Vec<u8>,
    slots: Vec<Slot>,
    /// Slots filled this scrape.
    used: usize,
    merge: Merge,
    /// Families to export, in order, with their merge entry: Go's `parsedFamilies`.
    accepted: Vec<(FamilyRef, usize)>,
    help: Vec<u8>,
    /// Quantiles or buckets as (bound, value bits, arrival), then as the encoder takes them.
    points: Vec<(f64, u64, u32)>,
    quantiles: Vec<(f64, f64)>,
    buckets: Vec<(f64, u64)>,
}

impl Textfile {
    fn new(pattern: &str) -> Textfile {
        Textfile {
            pattern: pattern.as_bytes().to_vec(),
            glob: Glob::new(),
            dirs: ByteList::new(),
            lister: Lister::new(),
            names: ByteList::new(),
            cpath: Vec::new(),
            slots: Vec::new(),
            used: 0,
            merge: Merge::default(),
            accepted: Vec::new(),
            help: Vec::new(),
            points: Vec::new(),
            quantiles: Vec::new(),
            buckets: Vec::new(),
        }
    }

    /// Reads the `.prom` files of `dir` into slots. Returns whether anything failed.
    fn read_dir(&mut self, dir: &[u8]) -> bool {
        let mut errored = false;
        self.names.clear();
        let names = &mut self.names;
        let listed = self.lister.list(glob::c_path(&mut self.cpath, dir), |n, _| names.push(n));
        if let Err(e) = listed {
            // Go lists "" too, and ignores that it fails.
            if !dir.is_empty() {
                errored = true;
                log::error!(
                    "failed to read textfile collector directory: path={} err={}",
                    Quoted(dir),
                    super::errno_text(e)
                );
            }
        }
        self.names.sort();
        for i in 0..self.names.len() {
            let Some(name) = self.names.get(i) else { continue };
            if !name.ends_with(b".prom") {
                continue;
            }
            if self.slots.len() == self.used {
                self.slots.push(Slot::default());
            }
            let slot = &mut self.slots[self.used];
            slot.path.clear();
            glob::join(&mut slot.path, dir, name);
            let Some(ok) = read_file(slot, &mut self.cpath) else {
                errored = true;
                continue;
            };
            errored |= !ok;
            errored |= self.merge_families();
            self.used += 1;
        }
        errored
    }

    /// Settles the HELP texts of the newest slot's families against those seen before, as
    /// upstream does file by file, and queues the families kept. Returns whether any clashed.
    fn merge_families(&mut self) -> bool {
        let Textfile { slots, merge, accepted, used, .. } = self;
        let slot = *used as u32;
        let Some(fams) = slots[*used].store.families(&slots[*used].buf) else { return false };
        let mut errored = false;
        for fam in fams.iter() {
            let this = (slot, fam.index() as u32);
            let e = merge.entry(slots, fam.name(), this);
            let entry = merge.entries[e];
            if let Some(first) = entry.help {
                let first = slots[first.0 as usize].family(first.1).and_then(|f| f.help());
                // Upstream also lands here for a family without HELP once two HELPs have
                // clashed, and then dereferences its nil HELP: it panics. Dropping the family
                // is the nearest non-crashing reading.
                if (fam.help().is_some() && fam.help() != first) || entry.conflicted {
                    merge.entries[e].conflicted = true;
                    errored = true;
                    log::error!(
                        "inconsistent metric help text: metric={} original_help_text={} \
                         new_help_text={} file={}",
                        fam.name(),
                        Quoted(first.unwrap_or_default()),
                        Quoted(fam.help().unwrap_or_default()),
                        Quoted(
                            merge
                                .files(e)
                                .next()
                                .map_or(&[][..], |s| slots[s as usize].path.as_slice())
                        ),
                    );
                    continue;
                }
            }
            if fam.help().is_some() {
                merge.entries[e].help = Some(this);
                merge.entries[e].conflicted = false;
            }
            merge.add_file(e, slot);
            accepted.push((this, e));
        }
        errored
    }

    /// Exports the kept families. Returns whether any had to be dropped.
    fn export(&mut self, enc: &mut Encoder) -> bool {
        let mut errored = false;
        let Textfile { slots, merge, accepted, help, points, quantiles, buckets, .. } = self;
        for &((slot, index), e) in accepted.iter() {
            let Some(fam) = slots[slot as usize].family(index) else { continue };
            let Some(kind) = fam.kind().kind() else {
                errored = true;
                log::error!("unsupported metric type gauge_histogram: metric={}", fam.name());
                continue;
            };
            // Every metric gets every label name the family uses.
            let mut union: SmallVec<[&str; 16]> = SmallVec::new();
            for m in fam.metrics() {
                for (name, _) in m.labels() {
                    if !union.contains(&name) {
                        union.push(name);
                    }
                }
            }
            if let Some(bad) = union.iter().find(|n| n.starts_with("__")) {
                errored = true;
                log::error!("reserved label name: metric={} label={bad}", fam.name());
                continue;
            }
            let name = fam.name().as_bytes();
            let id = match fam.help() {
                Some(h) => enc.family_parts(&[name], &[h], kind),
                None => {
                    help.clear();
                    help.extend_from_slice(b"Metric read from ");
                    for (i, s) in merge.files(e).enumerate() {
                        if i > 0 {
                            help.extend_from_slice(b", ");
                        }
                        help.extend_from_slice(&slots[s as usize].path);
                    }
                    enc.family_parts(&[name], &[help.as_slice()], kind)
                }
            };
            for m in fam.metrics() {
                let mut labels: SmallVec<[Label<'_>; 16]> = m.labels().collect();
                for &name in &union {
                    if !labels.iter().any(|l| l.0 == name) {
                        labels.push((name, b""));
                    }
                }
                match m.value() {
                    Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => {
                        enc.sample(id, &labels, v)
                    }
                    Value::Summary(s) => {
                        by_bound(points, s.quantiles().map(|(q, v)| (q, v.to_bits())));
                        quantiles.clear();
                        quantiles.extend(points.iter().map(|p| (p.0, f64::from_bits(p.1))));
                        enc.summary(id, &labels, quantiles, s.sum, s.count);
                    }
                    Value::Histogram(h) => {
                        by_bound(points, h.buckets());
                        buckets.clear();
                        buckets.extend(points.iter().map(|p| (p.0, p.1)));
                        enc.histogram(id, &labels, buckets, h.sum, h.count);
                    }
                    Value::GaugeHistogram => {}
                }
            }
        }
        errored
    }
}

/// Reads, parses and stats one file into `slot`. `None` if the file is to be skipped;
/// otherwise whether it went without error (a failed `fstat` keeps the families, as upstream).
fn read_file(slot: &mut Slot, cpath: &mut Vec<u8>) -> Option<bool> {
    slot.mtime = None;
    let path = Quoted(&slot.path);
    let file = match Transient::open(glob::c_path(cpath, &slot.path)) {
        Ok(f) => f,
        Err(e) => {
            log::error!(
                "failed to collect textfile data: failed to open textfile data file {path}: {}",
                super::errno_text(e)
            );
            return None;
        }
    };
    if let Err(e) = file.read(&mut slot.buf) {
        log::error!(
            "failed to collect textfile data: failed to parse textfile data from {path}: {}",
            super::errno_text(e)
        );
        return None;
    }
    match slot.store.parse(&slot.buf) {
        Err(e) => {
            log::error!(
                "failed to collect textfile data: failed to parse textfile data from {path}: {e}"
            );
            return None;
        }
        Ok(fams) if fams.has_timestamps() => {
            log::error!(
                "failed to collect textfile data: textfile {path} contains unsupported \
                 client-side timestamps, skipping entire file"
            );
            return None;
        }
        Ok(_) => {}
    }
    match file.mtime() {
        Ok(t) => {
            slot.mtime = Some(t);
            Some(true)
        }
        Err(e) => {
            log::error!(
                "failed to collect textfile data: failed to stat {path}: {}",
                super::errno_text(e)
            );
            Some(false)
        }
    }
}

/// Leaves in `out` the points as client_golang's const summary or histogram holds them: put
/// through a `map[float64]...` (for a bound seen twice the later value wins, and -0 is 0) and
/// sorted by bound. Values travel as bits so that one buffer serves both kinds.
fn by_bound(out: &mut Vec<(f64, u64, u32)>, points: impl Iterator<Item = (f64, u64)>) {
    out.clear();
    out.extend(points.zip(0..).map(|((bound, v), i)| (bound, v, i)));
    // Bounds are never NaN (the parser drops those), so this order is total; -0 and 0 are
    // one bound, as map keys, and arrival order settles which value is last.
    out.sort_unstable_by(|a, b| {
        a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal).then(a.2.cmp(&b.2))
    });
    out.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            *earlier = *later;
        }
        same
    });
}

/// Go's `float64(mtime.UnixNano() / 1e9)`: nanoseconds in an `int64` (wrapping as Go's does
/// outside 1678-2262), divided with truncation toward zero.
fn mtime_seconds(t: Mtime) -> f64 {
    let nanos = t.sec.wrapping_mul(1_000_000_000).wrapping_add(i64::from(t.nsec));
    (nanos / 1_000_000_000) as f64
}

impl Collector for Textfile {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        self.used = 0;
        self.merge.clear();
        self.accepted.clear();
        let mut errored = false;

        let mut dirs = std::mem::take(&mut self.dirs);
        dirs.clear();
        if self.glob.expand(&self.pattern, &mut dirs).is_err() || dirs.is_empty() {
            // Not a pattern, or one matching nothing: the value is the directory.
            dirs.clear();
            dirs.push(&self.pattern);
        }
        for dir in dirs.iter() {
            errored |= self.read_dir(dir);
        }
        self.dirs = dirs;

        errored |= self.export(enc);

        let read = &self.slots[..self.used];
        if read.iter().any(|s| s.mtime.is_some()) {
            let f = enc.family(
                "node_textfile_mtime_seconds",
                "Unixtime mtime of textfiles successfully read.",
                Kind::Gauge,
            );
            for slot in read {
                if let Some(t) = slot.mtime {
                    enc.sample(f, &[("file", slot.path.as_slice())], mtime_seconds(t));
                }
            }
        }
        let f = enc.family(
            "node_textfile_scrape_error",
            "1 if there was an error opening or reading a file, 0 otherwise",
            Kind::Gauge,
        );
        enc.sample(f, &[], if errored { 1.0 } else { 0.0 });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::render;
    use std::path::PathBuf;
    use std::time::{Duration, UNIX_EPOCH};

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let d = std::env::temp_dir()
                .join(format!("nodegate-textfile-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            TempDir(d)
        }

        fn path(&self) -> &str {
            self.0.to_str().unwrap()
        }

        /// Writes `name` by rename, as cron jobs do, with its mtime `secs` after the epoch.
        fn put(&self, name: &str, text: &str, secs: f64) {
            let tmp = self.0.join(".tmp-write");
            std::fs::write(&tmp, text).unwrap();
            let f = std::fs::File::options().write(true).open(&tmp).unwrap();
            f.set_modified(UNIX_EPOCH + Duration::from_secs_f64(secs)).unwrap();
            std::fs::rename(&tmp, self.0.join(name)).unwrap();
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn scrape(c: &mut Textfile) -> String {
        render(|enc| c.update(enc).unwrap())
    }

    /// The scrape without its mtime and error families, and the error value.
    fn families(c: &mut Textfile) -> (String, bool) {
        let text = scrape(c);
        let errored = text.contains("\nnode_textfile_scrape_error 1\n");
        let rest = text
            .lines()
            .filter(|l| !l.contains("node_textfile_"))
            .fold(String::new(), |s, l| s + l + "\n");
        (rest, errored)
    }

    const SCRAPE_OK: &str = "# HELP node_textfile_scrape_error 1 if there was an error opening or \
                             reading a file, 0 otherwise\n\
                             # TYPE node_textfile_scrape_error gauge\n\
                             node_textfile_scrape_error 0\n";

    #[test]
    fn empty_flag_reads_nothing_and_is_no_error() {
        assert_eq!(scrape(&mut Textfile::new("")), SCRAPE_OK);
    }

    #[test]
    fn empty_and_missing_directories() {
        let d = TempDir::new("empty");
        assert_eq!(scrape(&mut Textfile::new(d.path())), SCRAPE_OK);
        let missing = format!("{}/missing", d.path());
        assert_eq!(families(&mut Textfile::new(&missing)), (String::new(), true));
        // A bad pattern falls back to the literal path, which does not exist either.
        let bad = format!("{}/[", d.path());
        assert_eq!(families(&mut Textfile::new(&bad)), (String::new(), true));
    }

    #[test]
    fn broken_files_are_skipped_whole_and_flagged() {
        let d = TempDir::new("broken");
        d.put("a.prom", "# TYPE good gauge\ngood 1\n", 5.0);
        d.put("b.prom", "good_too 1\nbroken{ 2\n", 5.0);
        d.put("c.prom", "stamped 1 1700000000000\nunstamped 2\n", 5.0);
        d.put("d.txt", "ignored 1\n", 5.0);
        std::fs::create_dir(d.0.join("e.prom")).unwrap();
        d.put(".hidden.prom", "hidden 3\n", 5.0);
        let text = scrape(&mut Textfile::new(d.path()));
        let path = d.path();
        assert_eq!(
            text,
            format!(
                "# HELP good Metric read from {path}/a.prom\n# TYPE good gauge\ngood 1\n\
                 # HELP hidden Metric read from {path}/.hidden.prom\n# TYPE hidden untyped\n\
                 hidden 3\n\
                 # HELP node_textfile_mtime_seconds Unixtime mtime of textfiles successfully \
                 read.\n# TYPE node_textfile_mtime_seconds gauge\n\
                 node_textfile_mtime_seconds{{file=\"{path}/.hidden.prom\"}} 5\n\
                 node_textfile_mtime_seconds{{file=\"{path}/a.prom\"}} 5\n\
                 # HELP node_textfile_scrape_error 1 if there was an error opening or reading \
                 a file, 0 otherwise\n# TYPE node_textfile_scrape_error gauge\n\
                 node_textfile_scrape_error 1\n"
            )
        );
    }

    #[test]
    fn directory_changes_between_scrapes() {
        let d = TempDir::new("changes");
        let mut c = Textfile::new(d.path());
        d.put("a.prom", "x 1\n", 1.0);
        assert!(families(&mut c).0.contains("\nx 1\n"));
        // Replaced by rename: the new inode is read, not the one a kept fd would hold.
        d.put("a.prom", "x 2\n", 2.0);
        d.put("b.prom", "y 3\n", 2.0);
        let (text, errored) = families(&mut c);
        assert!(text.contains("\nx 2\n") && text.contains("\ny 3\n") && !errored, "{text}");
        std::fs::remove_file(d.0.join("a.prom")).unwrap();
        let (text, _) = families(&mut c);
        assert!(!text.contains("\nx ") && text.contains("\ny 3\n"), "{text}");
        // The directory itself replaced.
        let old = d.0.with_extension("old");
        std::fs::rename(&d.0, &old).unwrap();
        std::fs::create_dir(&d.0).unwrap();
        d.put("c.prom", "z 4\n", 2.0);
        let (text, _) = families(&mut c);
        assert_eq!(
            text,
            format!("# HELP z Metric read from {}/c.prom\n# TYPE z untyped\nz 4\n", d.path())
        );
        std::fs::remove_dir_all(&old).unwrap();
    }

    #[test]
    fn help_merge_follows_upstream() {
        let d = TempDir::new("help");
        let path = d.path();
        // No HELP, then a HELP: the first family takes "Metric read from" both files, so the
        // registry (here, the encoder) drops the second for its other HELP. No error.
        d.put("a.prom", "m{f=\"a\"} 1\n", 1.0);
        d.put("b.prom", "# HELP m Real.\nm{f=\"b\"} 2\n", 1.0);
        assert_eq!(
            families(&mut Textfile::new(path)),
            (
                format!(
                    "# HELP m Metric read from {path}/a.prom, {path}/b.prom\n# TYPE m untyped\n\
                     m{{f=\"a\"}} 1\n"
                ),
                false
            )
        );
        // Two HELPs clash: the second is dropped with an error; after that even the same HELP
        // is refused, and a family without HELP (where upstream panics) is dropped too.
        d.put("a.prom", "# HELP m One.\nm{f=\"a\"} 1\n", 1.0);
        d.put("b.prom", "# HELP m Two.\nm{f=\"b\"} 2\n", 1.0);
        d.put("c.prom", "# HELP m One.\nm{f=\"c\"} 3\n", 1.0);
        d.put("d.prom", "m{f=\"d\"} 4\n", 1.0);
        assert_eq!(
            families(&mut Textfile::new(path)),
            ("# HELP m One.\n# TYPE m untyped\nm{f=\"a\"} 1\n".to_owned(), true)
        );
        // The same HELP everywhere merges; a different type is dropped by the encoder.
        d.put("b.prom", "# HELP m One.\nm{f=\"b\"} 2\n", 1.0);
        d.put("c.prom", "# HELP m One.\n# TYPE m gauge\nm{f=\"c\"} 3\n", 1.0);
        std::fs::remove_file(d.0.join("d.prom")).unwrap();
        assert_eq!(
            families(&mut Textfile::new(path)),
            ("# HELP m One.\n# TYPE m untyped\nm{f=\"a\"} 1\nm{f=\"b\"} 2\n".to_owned(), false)
        );
    }

    #[test]
    fn where_upstream_panics_the_family_is_dropped() {
        let d = TempDir::new("panics");
        d.put("a.prom", "# TYPE g gauge_histogram\ng 1\n", 1.0);
        d.put("b.prom", "r{__x=\"1\"} 1\nok 1\n", 1.0);
        let (text, errored) = families(&mut Textfile::new(d.path()));
        assert_eq!(
            text,
            format!("# HELP ok Metric read from {}/b.prom\n# TYPE ok untyped\nok 1\n", d.path())
        );
        assert!(errored);
    }

    #[test]
    fn const_metrics_as_client_golang_builds_them() {
        let d = TempDir::new("const");
        d.put(
            "a.prom",
            "# HELP s S.\n# TYPE s summary\n\
             s{quantile=\"0.9\"} 9\ns{quantile=\"0\"} 1\ns{quantile=\"0.5\"} 5\n\
             s{quantile=\"-0\"} 2\ns{quantile=\"0.9\"} 10\ns_count 3\n\
             # HELP h H.\n# TYPE h histogram\n\
             h_bucket{le=\"10\",x=\"1\"} 7\nh_bucket{le=\"1\",x=\"1\"} 2\nh_bucket{le=\"10\",x=\"1\"} 8\n\
             h_sum{x=\"1\"} 1.5\nh_count{x=\"1\"} 9\nh_count{y=\"2\"} 1\n\
             # HELP u U.\nu{a=\"1\"} 1\nu{b=\"2\"} 2\n",
            1.0,
        );
        assert_eq!(
            families(&mut Textfile::new(d.path())),
            (
                "# HELP h H.\n# TYPE h histogram\n\
                 h_bucket{x=\"\",y=\"2\",le=\"+Inf\"} 1\nh_sum{x=\"\",y=\"2\"} 0\n\
                 h_count{x=\"\",y=\"2\"} 1\n\
                 h_bucket{x=\"1\",y=\"\",le=\"1\"} 2\nh_bucket{x=\"1\",y=\"\",le=\"10\"} 8\n\
                 h_bucket{x=\"1\",y=\"\",le=\"+Inf\"} 9\nh_sum{x=\"1\",y=\"\"} 1.5\n\
                 h_count{x=\"1\",y=\"\"} 9\n\
                 # HELP s S.\n# TYPE s summary\n\
                 s{quantile=\"0\"} 2\ns{quantile=\"0.5\"} 5\ns{quantile=\"0.9\"} 10\n\
                 s_sum 0\ns_count 3\n\
                 # HELP u U.\n# TYPE u untyped\nu{a=\"\",b=\"2\"} 2\nu{a=\"1\",b=\"\"} 1\n"
                    .to_owned(),
                false
            )
        );
    }

    #[test]
    fn glob_patterns_select_directories() {
        let d = TempDir::new("glob");
        for sub in ["x1", "x2", "y"] {
            std::fs::create_dir(d.0.join(sub)).unwrap();
            std::fs::write(d.0.join(sub).join("m.prom"), format!("{sub} 1\n")).unwrap();
        }
        let (text, errored) = families(&mut Textfile::new(&format!("{}/x*", d.path())));
        assert!(text.contains("\nx1 1\n") && text.contains("\nx2 1\n") && !text.contains("\ny "));
        assert!(!errored);
    }

    #[test]
    fn mtime_seconds_as_go() {
        for (sec, nsec, want) in [
            (1, 0, 1.0),
            (1_700_000_000, 999_999_999, 1_700_000_000.0),
            (-2, 500_000_000, -1.0),
            (-1, 0, -1.0),
        ] {
            assert_eq!(mtime_seconds(Mtime { sec, nsec }), want);
        }
    }

    #[test]
    fn registered_with_its_flag() {
        let spec = crate::collector::spec("textfile").unwrap();
        assert!(spec.default_enabled);
        assert_eq!(spec.flags[0].name, "collector.textfile.directory");
        assert_eq!(spec.flags[0].default, "");
    }
}
