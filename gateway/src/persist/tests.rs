//! Persistence end to end: logs, snapshots, damage, crashes, full disks, group commit and
//! the Pushgateway import, against a small model of the store.

use super::*;
use crate::op::{Format, Journal, Kind, Op};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use xtests::Rng;

const FIXTURE: &[u8] = include_bytes!("testdata/pushgateway-1.5.1.db");

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nodegate-persist-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn copy_dir(from: &Path, tag: &str) -> PathBuf {
    let to = tmpdir(tag);
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
    to
}

type Labels = Vec<(Vec<u8>, Vec<u8>)>;

fn labels(group: usize) -> Labels {
    vec![(b"instance".to_vec(), vec![]), (b"job".to_vec(), format!("g{group}").into_bytes())]
}

fn encode(kind: Kind, time_ms: i64, labels: &Labels, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Op {
        kind,
        format: Format::Text,
        time_ms,
        labels: labels.iter().map(|(n, v)| (&n[..], &v[..])).collect(),
        body,
    }
    .encode(&mut out);
    out
}

/// The `i`th op of a varied, deterministic history over five groups.
fn history(i: usize) -> Vec<u8> {
    let kind = match i % 11 {
        0 | 3 | 6 => Kind::Put,
        1 | 4 | 7 | 9 => Kind::Post,
        2 => Kind::Failure,
        5 => Kind::Delete,
        _ => Kind::Post,
    };
    let body = match kind {
        Kind::Put | Kind::Post => format!("m{} {i}\nn{} {}\n", i % 3, i % 2, i * 7).into_bytes(),
        _ => Vec::new(),
    };
    encode(kind, 1_000 + i as i64, &labels(i % 5), &body)
}

/// The store as far as persistence can tell: per group, families (`name value` lines), the
/// push time and the failure time.
#[derive(Clone, Debug, Default, PartialEq)]
struct Model {
    groups: BTreeMap<Labels, Group>,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Group {
    families: BTreeMap<Vec<u8>, Vec<u8>>,
    push: i64,
    fail: i64,
}

fn parse(body: &[u8]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    body.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let sp = l.iter().position(|&b| b == b' ').unwrap();
            (l[..sp].to_vec(), l[sp + 1..].to_vec())
        })
        .collect()
}

impl Group {
    fn apply(g: &mut Option<Group>, op: &Op<'_>) {
        match op.kind {
            Kind::Put => {
                let g = g.get_or_insert_with(Group::default);
                g.families = parse(op.body);
                g.push = op.time_ms;
            }
            Kind::Post => {
                let g = g.get_or_insert_with(Group::default);
                g.families.extend(parse(op.body));
                g.push = op.time_ms;
            }
            Kind::Delete | Kind::Wipe => *g = None,
            Kind::Failure => g.get_or_insert_with(Group::default).fail = op.time_ms,
        }
    }

    fn snapshot(&self, labels: &Labels, emit: &mut dyn FnMut(&Op<'_>)) {
        let body: Vec<u8> =
            self.families.iter().flat_map(|(n, v)| [&n[..], b" ", v, b"\n"].concat()).collect();
        let mut op = Op {
            kind: Kind::Put,
            format: Format::Text,
            time_ms: self.push,
            labels: labels.iter().map(|(n, v)| (&n[..], &v[..])).collect(),
            body: &body,
        };
        emit(&op);
        if self.fail != 0 {
            op.kind = Kind::Failure;
            op.time_ms = self.fail;
            op.body = &[];
            emit(&op);
        }
    }
}

impl Model {
    fn apply(&mut self, op: &Op<'_>) {
        if op.kind == Kind::Wipe {
            self.groups.clear();
            return;
        }
        let key: Labels = op.labels.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
        let mut g = self.groups.remove(&key);
        Group::apply(&mut g, op);
        if let Some(g) = g {
            self.groups.insert(key, g);
        }
    }

    fn snapshot(&self, emit: &mut dyn FnMut(&Op<'_>)) {
        for (labels, g) in &self.groups {
            g.snapshot(labels, emit);
        }
    }
}

/// Opens `file` and replays it: the records, the report, the journal.
fn reopen(file: &Path) -> (Vec<Vec<u8>>, Report, FileJournal) {
    let rec = open(file).unwrap();
    let report = rec.report().clone();
    let mut ops = Vec::new();
    let journal = rec
        .replay(|op| {
            let mut b = Vec::new();
            op.encode(&mut b);
            ops.push(b);
        })
        .unwrap();
    (ops, report, journal)
}

fn model_of(records: &[Vec<u8>]) -> Model {
    let mut m = Model::default();
    for r in records {
        m.apply(&Op::decode(r).unwrap());
    }
    m
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    v.sort();
    v
}

#[test]
fn paths_and_names() {
    let p = Paths::new(Path::new("state.db"));
    assert_eq!(p.dir, Path::new("."));
    assert_eq!(p.segment(26), Path::new("state.db.wal.000000000000001a"));
    assert_eq!(p.segment_tmp(1), Path::new("state.db.wal.0000000000000001.tmp"));
    let p = Paths::new(Path::new("/var/lib/x/pgw"));
    assert_eq!(p.dir, Path::new("/var/lib/x"));
    assert!(p.is_named(OsStr::new("pgw.pushgateway-1"), ".pushgateway-"));
    assert!(!p.is_named(OsStr::new("pgw2.pushgateway-1"), ".pushgateway-"));
}

#[test]
fn log_round_trip_across_restarts() {
    let dir = tmpdir("round");
    let file = dir.join("state.db");
    let (ops, report, journal) = reopen(&file);
    assert!(ops.is_empty());
    assert_eq!(report, Report::default());
    let want: Vec<Vec<u8>> = (0..50).map(history).collect();
    for r in &want {
        journal.append(r).unwrap();
    }
    assert_eq!(journal.stats().records, 50);
    drop(journal);
    for _ in 0..3 {
        let (ops, report, journal) = reopen(&file);
        assert_eq!(ops, want);
        assert_eq!((report.snapshot_ops, report.log_ops), (0, 50));
        assert!(report.damage.is_empty(), "{:?}", report.damage);
        drop(journal);
    }
}

#[test]
fn compaction_round_trip() {
    let dir = tmpdir("compact");
    let file = dir.join("state.db");
    let (_, _, journal) = reopen(&file);
    let mut model = Model::default();
    for i in 0..40 {
        let r = history(i);
        journal.append(&r).unwrap();
        model.apply(&Op::decode(&r).unwrap());
    }
    assert!(journal.compact(|emit| model.snapshot(emit)).unwrap());
    let snapshot_ops = model.groups.values().map(|g| 1 + u64::from(g.fail != 0)).sum::<u64>();
    assert!(!journal.compact(|emit| model.snapshot(emit)).unwrap(), "nothing new");
    assert_eq!(names(&dir), ["state.db", "state.db.wal.0000000000000002"]);
    for i in 40..55 {
        let r = history(i);
        journal.append(&r).unwrap();
        model.apply(&Op::decode(&r).unwrap());
    }
    drop(journal);
    let (ops, report, journal) = reopen(&file);
    assert_eq!(model_of(&ops), model);
    assert_eq!(report.snapshot_ops, snapshot_ops);
    assert_eq!(report.log_ops, 15);
    assert!(report.damage.is_empty());
    // A shutdown compaction leaves the snapshot and one empty segment.
    assert!(journal.compact(|emit| model.snapshot(emit)).unwrap());
    assert_eq!(names(&dir), ["state.db", "state.db.wal.0000000000000004"]);
    drop(journal);
    let (ops, report, _) = reopen(&file);
    assert_eq!(model_of(&ops), model);
    assert_eq!(report.log_ops, 0);
}

/// A log of `n` records (`history`), its segment's path and the byte offset where each frame
/// ends (the header's end first).
fn make_log(tag: &str, n: usize) -> (PathBuf, PathBuf, Vec<u64>, Vec<Vec<u8>>) {
    let dir = tmpdir(tag);
    let file = dir.join("state.db");
    let (_, _, journal) = reopen(&file);
    let mut ends = vec![32u64];
    let want: Vec<Vec<u8>> = (0..n).map(history).collect();
    for r in &want {
        journal.append(r).unwrap();
        ends.push(ends.last().unwrap() + 16 + r.len() as u64);
    }
    let seg = journal.segment_path();
    drop(journal);
    assert_eq!(fs::metadata(&seg).unwrap().len(), *ends.last().unwrap());
    (dir, seg, ends, want)
}

#[test]
fn every_truncation_of_the_log_recovers_the_longest_valid_prefix() {
    let (dir, seg, ends, want) = make_log("trunc", 5);
    let full = fs::read(&seg).unwrap();
    for cut in 0..=full.len() {
        let copy = copy_dir(&dir, "trunc-cut");
        let seg_copy = copy.join(seg.file_name().unwrap());
        fs::write(&seg_copy, &full[..cut]).unwrap();
        let (ops, report, _) = reopen(&copy.join("state.db"));
        let whole = ends.iter().filter(|&&e| e <= cut as u64).count().saturating_sub(1);
        assert_eq!(ops, want[..whole], "cut {cut}");
        let clean = cut >= 32 && ends.contains(&(cut as u64));
        if clean {
            assert!(report.damage.is_empty(), "cut {cut}: {:?}", report.damage);
            continue;
        }
        let [d] = &report.damage[..] else { panic!("cut {cut}: {:?}", report.damage) };
        assert_eq!(d.file, seg_copy);
        let (offset, reason) =
            if cut < 32 { (0, Reason::Header) } else { (ends[whole], Reason::Truncated) };
        assert_eq!((d.offset, d.reason), (offset, reason), "cut {cut}");
        assert_eq!(d.dropped, cut as u64 - offset, "cut {cut}");
        let kept = d.kept_as.as_ref().unwrap();
        assert_eq!(fs::read(kept).unwrap(), &full[..cut], "the damaged bytes are kept");
    }
}

#[test]
fn random_corruption_is_detected_and_never_replayed() {
    let (dir, seg, ends, want) = make_log("flip", 12);
    let full = fs::read(&seg).unwrap();
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    for trial in 0..150 {
        let mut bad = full.clone();
        let start = rng.below(full.len());
        let mut first = full.len();
        for _ in 0..=rng.below(4) {
            let at = (start + rng.below(24)).min(full.len() - 1);
            bad[at] ^= 1 + rng.below(255) as u8;
            first = first.min(at);
        }
        if bad == full {
            continue; // two changes cancelled out
        }
        let copy = copy_dir(&dir, "flip-trial");
        fs::write(copy.join(seg.file_name().unwrap()), &bad).unwrap();
        let (ops, report, _) = reopen(&copy.join("state.db"));
        // Whatever was replayed is exactly a prefix of what was written, ending before the
        // first damaged frame, and the damage is reported.
        let intact = ends.iter().filter(|&&e| e <= first as u64).count().saturating_sub(1);
        assert_eq!(ops, want[..intact.min(ops.len())], "trial {trial}");
        assert!(ops.len() <= intact, "trial {trial}: replayed a damaged record");
        assert!(!report.damage.is_empty(), "trial {trial}: damage not reported");
    }
}

#[test]
fn snapshot_damage_recovers_its_prefix_and_keeps_a_copy() {
    let dir = tmpdir("snapdmg");
    let file = dir.join("state.db");
    let (_, _, journal) = reopen(&file);
    let mut model = Model::default();
    for i in 0..30 {
        let r = encode(Kind::Put, i, &labels(i as usize), format!("m {i}\n").as_bytes());
        journal.append(&r).unwrap();
        model.apply(&Op::decode(&r).unwrap());
    }
    journal.compact(|emit| model.snapshot(emit)).unwrap();
    drop(journal);
    let full = fs::read(&file).unwrap();
    let end_frame = full.len() - 16;

    for (tag, bytes, reason) in [
        ("cut", full[..full.len() / 2].to_vec(), Reason::Truncated),
        ("noend", full[..end_frame].to_vec(), Reason::Unterminated),
        (
            "flip",
            {
                let mut b = full.clone();
                b[full.len() / 2] ^= 0x40;
                b
            },
            Reason::Checksum,
        ),
        ("trailing", [&full[..], b"x"].concat(), Reason::Trailing),
    ] {
        let copy = copy_dir(&dir, "snapdmg-case");
        fs::write(copy.join("state.db"), &bytes).unwrap();
        let (ops, report, _) = reopen(&copy.join("state.db"));
        let [d] = &report.damage[..] else { panic!("{tag}: {:?}", report.damage) };
        assert_eq!(d.reason, reason, "{tag}");
        assert_eq!(d.file, copy.join("state.db"));
        assert_eq!(fs::read(d.kept_as.as_ref().unwrap()).unwrap(), bytes, "{tag}");
        let all = model_of(&ops);
        if reason == Reason::Trailing || reason == Reason::Unterminated {
            assert_eq!(all, model, "{tag}: every record is intact");
        } else {
            assert!(ops.len() < 30 && !ops.is_empty(), "{tag}: {} ops", ops.len());
            let keys: Vec<_> = model.groups.keys().take(ops.len()).cloned().collect();
            assert_eq!(all.groups.keys().cloned().collect::<Vec<_>>(), keys, "{tag}: a prefix");
        }
    }
}

#[test]
fn a_crash_between_compaction_steps_recovers_the_same_state() {
    for step in 1..=4u8 {
        let dir = tmpdir(&format!("crash{step}"));
        let file = dir.join("state.db");
        let (_, _, journal) = reopen(&file);
        let mut model = Model::default();
        let push = |j: &FileJournal, m: &mut Model, range: std::ops::Range<usize>| {
            for i in range {
                let r = history(i);
                j.append(&r).unwrap();
                m.apply(&Op::decode(&r).unwrap());
            }
        };
        push(&journal, &mut model, 0..20);
        journal.compact(|emit| model.snapshot(emit)).unwrap();
        push(&journal, &mut model, 20..35);
        journal.crash_after(step);
        let err = journal.compact(|emit| model.snapshot(emit)).unwrap_err();
        assert_eq!(err.to_string(), "simulated crash");
        if step >= 2 {
            // Appends after the switch land in the new segment.
            push(&journal, &mut model, 35..40);
        }
        drop(journal);
        let (ops, report, journal) = reopen(&file);
        assert_eq!(model_of(&ops), model, "crash after step {step}");
        assert!(report.damage.is_empty(), "step {step}: {:?}", report.damage);
        assert!(!names(&dir).iter().any(|n| n.ends_with(".tmp")), "step {step}: {:?}", names(&dir));
        // And the next compaction cleans up.
        journal.compact(|emit| model.snapshot(emit)).unwrap();
        let n = names(&dir);
        assert_eq!(n.len(), 2, "step {step}: {n:?}");
        drop(journal);
        assert_eq!(model_of(&reopen(&file).0), model, "step {step}, after cleanup");
    }
}

#[test]
fn appends_racing_compactions_are_all_kept() {
    let dir = tmpdir("race");
    let file = dir.join("state.db");
    let (_, _, journal) = reopen(&file);
    let journal = Arc::new(journal);
    // Eight groups, each behind the lock a writer holds across append and apply.
    let groups: Arc<Vec<Mutex<Option<Group>>>> =
        Arc::new((0..8).map(|_| Mutex::new(None)).collect());
    let snapshot = |groups: &[Mutex<Option<Group>>], emit: &mut dyn FnMut(&Op<'_>)| {
        for (i, g) in groups.iter().enumerate() {
            if let Some(g) = &*g.lock().unwrap() {
                g.snapshot(&labels(i), emit);
            }
        }
    };
    std::thread::scope(|s| {
        for t in 0..4 {
            let (journal, groups) = (journal.clone(), groups.clone());
            s.spawn(move || {
                for i in 0..150 {
                    let n = t * 1000 + i;
                    let g = n % 8;
                    let kind =
                        [Kind::Put, Kind::Post, Kind::Post, Kind::Failure, Kind::Delete][n % 5];
                    let body = match kind {
                        Kind::Put | Kind::Post => format!("f{} {n}\n", n % 4).into_bytes(),
                        _ => Vec::new(),
                    };
                    let r = encode(kind, n as i64, &labels(g), &body);
                    let mut guard = groups[g].lock().unwrap();
                    journal.append(&r).unwrap();
                    Group::apply(&mut guard, &Op::decode(&r).unwrap());
                }
            });
        }
        let (journal, groups) = (journal.clone(), groups.clone());
        s.spawn(move || {
            for _ in 0..15 {
                journal.compact(|emit| snapshot(&groups, emit)).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        });
    });
    let mut live = Model::default();
    for (i, g) in groups.iter().enumerate() {
        if let Some(g) = &*g.lock().unwrap() {
            live.groups.insert(labels(i), g.clone());
        }
    }
    drop(journal);
    let (ops, report, _) = reopen(&file);
    assert!(report.damage.is_empty());
    assert_eq!(model_of(&ops), live);
}

/// Appends/s with `threads` appenders of `per_thread` records each; also returns the stats.
fn throughput(dir: &Path, threads: usize, per_thread: usize) -> (f64, Stats) {
    let (_, _, journal) = reopen(&dir.join("state.db"));
    let journal = Arc::new(journal);
    let record = encode(Kind::Put, 1, &labels(1), &[b'x'; 200]);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (journal, record) = (journal.clone(), &record);
            s.spawn(move || {
                for _ in 0..per_thread {
                    journal.append(record).unwrap();
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let stats = journal.stats();
    ((threads * per_thread) as f64 / secs, stats)
}

#[test]
fn group_commit_shares_syncs_between_concurrent_appends() {
    let dir = tmpdir("group");
    for (threads, per) in [(1, 50), (8, 25), (64, 8)] {
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let (rate, stats) = throughput(&dir, threads, per);
        eprintln!(
            "{threads:>2} threads: {rate:>8.0} appends/s, {} records in {} commits ({} fsyncs)",
            stats.records, stats.commits, stats.fsyncs
        );
        assert_eq!(stats.records, (threads * per) as u64);
        if threads == 1 {
            assert_eq!(stats.commits, stats.records, "one appender: one sync per append");
        }
        if threads == 64 {
            assert!(stats.commits < stats.records / 2, "no batching: {stats:?}");
        }
    }
}

#[test]
fn a_full_disk_fails_the_batch_and_the_log_continues_when_space_returns() {
    let dir = tmpdir("full");
    let file = dir.join("state.db");
    let (_, _, journal) = reopen(&file);
    let mut acked = Vec::new();
    for i in 0..5 {
        let r = history(i);
        journal.append(&r).unwrap();
        acked.push(r);
    }
    let len = fs::metadata(journal.segment_path()).unwrap().len();
    journal.set_space_limit(Some(len + 150));
    let mut failures = 0;
    for i in 5..15 {
        let r = history(i);
        match journal.append(&r) {
            Ok(()) => acked.push(r),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(28), "{e}");
                failures += 1;
            }
        }
    }
    assert!(failures > 0 && acked.len() > 5, "{} acked, {failures} failed", acked.len());
    // Nothing of a failed batch stays behind the committed records.
    let on_disk = fs::metadata(journal.segment_path()).unwrap().len();
    assert!(on_disk <= len + 150);
    journal.set_space_limit(None);
    for i in 15..20 {
        let r = history(i);
        journal.append(&r).unwrap();
        acked.push(r);
    }
    assert!(journal.stats().failed_commits > 0);
    drop(journal);
    let (ops, report, _) = reopen(&file);
    assert!(report.damage.is_empty(), "{:?}", report.damage);
    assert_eq!(ops, acked);
}

/// A tmpfs mounted on a fresh directory, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    /// `None` (and a message) when this process may not mount one (not root, or EPERM).
    fn tmpfs(tag: &str, size: &str) -> Option<Mount> {
        let dir = tmpdir(tag);
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "nodegate-test"])
            .arg(&dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!(
                "skipped: cannot mount a tmpfs here (the simulated full disk test still runs)"
            );
        }
        mounted.then_some(Mount(dir))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Writes `path` until the file system is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut f = fs::File::create(path).unwrap();
    let page = [0u8; 4096];
    loop {
        match f.write(&page) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(28) => return,
            Err(e) => panic!("{e}"),
        }
    }
}

/// A real full disk: a small tmpfs, when this process may mount one (root); else skipped.
#[test]
fn a_full_tmpfs_fails_appends_until_space_returns() {
    let Some(mount) = Mount::tmpfs("tmpfs", "256k") else { return };
    let dir = mount.0.clone();
    let file = dir.join("state.db");
    let (_, _, journal) = reopen(&file);
    // Leave room that can be given back later.
    fs::write(dir.join("filler"), vec![0u8; 64 << 10]).unwrap();
    let mut acked = Vec::new();
    let mut enospc = false;
    for i in 0..200 {
        let r = encode(Kind::Put, i, &labels(i as usize), &vec![b'v'; 3000]);
        match journal.append(&r) {
            Ok(()) => acked.push(r),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(28), "{e}");
                enospc = true;
                break;
            }
        }
    }
    assert!(enospc, "the tmpfs never filled");
    fs::remove_file(dir.join("filler")).unwrap();
    for i in 0..5 {
        let r = history(i);
        journal.append(&r).unwrap();
        acked.push(r);
    }
    drop(journal);
    // Room for the new segment that open creates.
    let (ops, report, _) = reopen(&file);
    assert!(report.damage.is_empty(), "{:?}", report.damage);
    assert_eq!(ops, acked);
}

/// Compactions on a disk with room for a log segment but not for the snapshot: each fails,
/// the old snapshot stays byte for byte, no temp file is left, the log keeps every
/// acknowledged append across the segments the failed attempts created, and once space
/// returns a compaction succeeds and the state replays exactly.
#[test]
fn snapshots_failing_for_space_keep_the_old_snapshot_and_the_log() {
    let Some(mount) = Mount::tmpfs("tmpfs-snap", "1m") else { return };
    let dir = mount.0.clone();
    let file = dir.join("state.db");
    let (_, _, journal) = reopen(&file);
    let mut model = Model::default();
    let mut acked = 0;
    let big = |i: usize| {
        encode(Kind::Put, i as i64, &labels(i), format!("m{i} {}\n", "7".repeat(3000)).as_bytes())
    };
    for i in 0..40 {
        let r = big(i);
        journal.append(&r).unwrap();
        model.apply(&Op::decode(&r).unwrap());
    }
    journal.compact(|emit| model.snapshot(emit)).unwrap();
    let kept = fs::read(&file).unwrap();
    // Full, then two pages back: room for new segments' headers, not for a 120 KB snapshot.
    fill(&dir.join("filler"));
    let filler = fs::OpenOptions::new().write(true).open(dir.join("filler")).unwrap();
    filler.set_len(filler.metadata().unwrap().len().saturating_sub(8192)).unwrap();
    drop(filler);
    let mut failures = 0;
    for round in 0..4 {
        for i in 0..5 {
            let r = history(round * 5 + i);
            if journal.append(&r).is_ok() {
                model.apply(&Op::decode(&r).unwrap());
                acked += 1;
            }
        }
        match journal.compact(|emit| model.snapshot(emit)) {
            Ok(_) => panic!("round {round}: a snapshot fitted on a full disk"),
            Err(e) => assert_eq!(e.raw_os_error(), Some(28), "round {round}: {e}"),
        }
        failures += 1;
        assert_eq!(fs::read(&file).unwrap(), kept, "round {round}: the snapshot changed");
        assert!(!names(&dir).iter().any(|n| n.ends_with(".tmp")), "{:?}", names(&dir));
    }
    assert!(acked > 0, "no append fitted");
    eprintln!("{failures} failed snapshots, {acked} appends acknowledged, files {:?}", names(&dir));
    drop(journal);
    // Space returns (recovery starts a new segment); the state is what was acknowledged.
    fs::remove_file(dir.join("filler")).unwrap();
    let (ops, report, journal) = reopen(&file);
    assert!(report.damage.is_empty(), "{:?}", report.damage);
    assert_eq!(model_of(&ops), model);
    assert!(journal.compact(|emit| model.snapshot(emit)).unwrap());
    drop(journal);
    let (ops, report, _) = reopen(&file);
    assert!(report.damage.is_empty(), "{:?}", report.damage);
    assert_eq!(model_of(&ops), model);
    assert_eq!(report.log_ops, 0, "the successful snapshot covers everything");
}

#[test]
fn a_segment_gap_without_a_snapshot_is_reported() {
    let dir = tmpdir("gap");
    let file = dir.join("state.db");
    let (_, _, journal) = reopen(&file);
    let mut model = Model::default();
    for i in 0..10 {
        let r = history(i);
        journal.append(&r).unwrap();
        model.apply(&Op::decode(&r).unwrap());
    }
    journal.compact(|emit| model.snapshot(emit)).unwrap();
    journal.append(&history(10)).unwrap();
    drop(journal);
    fs::remove_file(&file).unwrap();
    let (ops, report, _) = reopen(&file);
    assert_eq!(ops, [history(10)], "the surviving records are replayed");
    assert!(
        matches!(
            report.damage[..],
            [Damage { reason: Reason::Sequence { expected: 1, found: 11 }, .. }]
        ),
        "{:?}",
        report.damage
    );
}

#[test]
fn foreign_files_are_refused_and_left_alone() {
    let dir = tmpdir("foreign");
    let file = dir.join("state.db");
    for bytes in [&b"some text\n"[..], b"", &FIXTURE[..2000], b"\x89NGSNAP"] {
        fs::write(&file, bytes).unwrap();
        let err = open(&file).unwrap_err();
        let upstream = bytes.len() == 2000;
        assert_eq!(matches!(err, Error::Upstream { .. }), upstream, "{err}");
        assert_eq!(matches!(err, Error::Foreign { .. }), !upstream, "{err}");
        assert!(err.to_string().starts_with(&file.display().to_string()), "{err}");
        assert_eq!(fs::read(&file).unwrap(), bytes, "left as it was");
        assert_eq!(names(&dir), ["state.db"], "nothing created beside it");
    }
}

#[test]
fn gob_reads_the_pushgateway_file() {
    let groups = gob::decode(FIXTURE).unwrap();
    assert_eq!(groups.len(), 6);
    let mut jobs: Vec<&[u8]> =
        groups.iter().map(|g| g.labels.iter().find(|(n, _)| *n == b"job").unwrap().1).collect();
    jobs.sort();
    assert_eq!(jobs, [&b"batch"[..], b"both", b"emptypost", b"failed", b"test/job", b"utf"]);
    let batch = groups.iter().find(|g| g.labels.contains(&(&b"job"[..], &b"batch"[..]))).unwrap();
    let mut fams: Vec<&[u8]> = batch.families.iter().map(|f| f.name).collect();
    fams.sort();
    assert_eq!(
        fams,
        [
            &b"jobs_done"[..],
            b"lat",
            b"push_failure_time_seconds",
            b"push_time_seconds",
            b"raw",
            b"rpc",
            b"temp"
        ]
    );
    for f in &batch.families {
        assert!(f.time_ms.unwrap() > 1_700_000_000_000, "{f:?}");
        // Each family is its own protobuf MetricFamily, its name first.
        assert_eq!(&f.proto[..2], [0x0a, f.name.len() as u8]);
        assert_eq!(&f.proto[2..2 + f.name.len()], f.name);
    }
    let utf = groups.iter().find(|g| g.labels.contains(&(&b"job"[..], &b"utf"[..]))).unwrap();
    assert!(utf.labels.contains(&(&b"name"[..], "Προ".as_bytes())));
}

#[test]
fn gob_never_panics_and_refuses_every_prefix() {
    for n in 0..FIXTURE.len() {
        assert!(gob::decode(&FIXTURE[..n]).is_err(), "prefix {n} accepted");
    }
    let mut rng = Rng::new(7);
    for _ in 0..3000 {
        let mut bad = FIXTURE.to_vec();
        for _ in 0..=rng.below(3) {
            let at = rng.below(bad.len());
            bad[at] = rng.next_u64() as u8;
        }
        let _ = gob::decode(&bad);
    }
}

/// Ops per group, as `(job, [(kind, body)])`, from records.
fn by_job(records: &[Vec<u8>]) -> BTreeMap<Vec<u8>, Vec<(Kind, Vec<u8>)>> {
    let mut out: BTreeMap<Vec<u8>, Vec<(Kind, Vec<u8>)>> = BTreeMap::new();
    for r in records {
        let op = Op::decode(r).unwrap();
        assert_eq!(op.format, Format::Protobuf);
        assert!(op.labels.windows(2).all(|w| w[0].0 < w[1].0), "labels sorted: {op:?}");
        let job = op.labels.iter().find(|(n, _)| *n == b"job").unwrap().1.to_vec();
        out.entry(job).or_default().push((op.kind, op.body.to_vec()));
    }
    out
}

/// The family names in a protobuf-delimited body.
fn family_names(mut body: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    while !body.is_empty() {
        let (mut len, mut shift) = (0usize, 0);
        while body[0] >= 0x80 {
            len |= usize::from(body[0] & 0x7f) << shift;
            shift += 7;
            body = &body[1..];
        }
        len |= usize::from(body[0]) << shift;
        let (fam, rest) = body[1..].split_at(len);
        names.push(String::from_utf8(fam[2..2 + fam[1] as usize].to_vec()).unwrap());
        body = rest;
    }
    names
}

#[test]
fn a_pushgateway_file_is_imported_once_and_kept() {
    let dir = tmpdir("migrate");
    let file = dir.join("pgw.db");
    fs::write(&file, FIXTURE).unwrap();
    let (ops, report, journal) = reopen(&file);
    let kept = report.migrated_from.clone().unwrap();
    assert_eq!(fs::read(&kept).unwrap(), FIXTURE, "the original is kept");
    assert!(kept.file_name().unwrap().to_str().unwrap().starts_with("pgw.db.pushgateway-"));
    assert!(fs::read(&file).unwrap().starts_with(b"\x89NGSNAP\n"));
    assert!(report.damage.is_empty());
    assert_eq!(report.snapshot_ops, ops.len() as u64);

    let jobs = by_job(&ops);
    let kinds = |job: &str| jobs[job.as_bytes()].iter().map(|(k, _)| *k).collect::<Vec<_>>();
    assert_eq!(kinds("batch"), [Kind::Put, Kind::Post], "two push times");
    assert_eq!(
        family_names(&jobs[&b"batch"[..]][0].1),
        ["jobs_done", "lat", "raw", "rpc"],
        "the PUT's families, the synthetic gauges left out"
    );
    assert_eq!(family_names(&jobs[&b"batch"[..]][1].1), ["temp"], "the POST's");
    assert_eq!(kinds("both"), [Kind::Put, Kind::Failure]);
    assert_eq!(kinds("emptypost"), [Kind::Put]);
    assert!(jobs[&b"emptypost"[..]][0].1.is_empty());
    assert_eq!(kinds("failed"), [Kind::Failure], "created by its failure alone");
    assert_eq!(kinds("test/job"), [Kind::Put]);
    assert_eq!(kinds("utf"), [Kind::Put]);
    let first = Op::decode(&ops[0]).unwrap();
    assert!(first.time_ms > 1_700_000_000_000);

    // The next start reads nodegate's own snapshot: the same ops, no second import.
    let n = journal.stats();
    drop(journal);
    assert_eq!(n.compactions, 0);
    let (again, report, _) = reopen(&file);
    assert_eq!(again, ops);
    assert_eq!(report.migrated_from, None);
    assert_eq!(names(&dir).iter().filter(|n| n.contains("pushgateway")).count(), 1);
}

#[test]
fn an_interrupted_import_is_redone() {
    let dir = tmpdir("migrate-crash");
    let file = dir.join("pgw.db");
    fs::write(&file, FIXTURE).unwrap();
    // What a crash after creating segment 1 but before renaming the snapshot leaves.
    fs::hard_link(&file, dir.join("pgw.db.pushgateway-1")).unwrap();
    let seg = Paths::new(&file).segment(1);
    fs::write(
        &seg,
        frame::FileHeader { kind: frame::FileKind::Log, generation: 1, seq: 0 }.encode(),
    )
    .unwrap();
    fs::write(dir.join("pgw.db.tmp"), b"half a snapshot").unwrap();
    let (ops, report, _) = reopen(&file);
    assert_eq!(
        report.migrated_from,
        Some(dir.join("pgw.db.pushgateway-1")),
        "the earlier link is reused"
    );
    assert_eq!(by_job(&ops).len(), 6);
    assert!(report.damage.is_empty());
}

#[test]
fn compactor_persists_on_its_interval_and_at_shutdown() {
    let dir = tmpdir("compactor");
    let file = dir.join("state.db");
    let (_, _, journal) = reopen(&file);
    let journal = Arc::new(journal);
    let model = Arc::new(Mutex::new(Model::default()));
    let m = model.clone();
    let compactor =
        Compactor::spawn(journal.clone(), std::time::Duration::from_secs(1), move |emit| {
            m.lock().unwrap().snapshot(emit)
        })
        .unwrap();
    let r = history(0);
    journal.append(&r).unwrap();
    model.lock().unwrap().apply(&Op::decode(&r).unwrap());
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    while journal.stats().compactions == 0 {
        assert!(Instant::now() < deadline, "no compaction within 10s");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let r = history(3);
    journal.append(&r).unwrap();
    model.lock().unwrap().apply(&Op::decode(&r).unwrap());
    assert!(compactor.shutdown().unwrap(), "the shutdown snapshot");
    drop(journal);
    let (ops, report, _) = reopen(&file);
    assert_eq!(report.log_ops, 0, "everything is in the snapshot");
    assert_eq!(model_of(&ops), *model.lock().unwrap());
}

#[test]
fn oversized_and_empty_records_are_refused() {
    let dir = tmpdir("sizes");
    let (_, _, journal) = reopen(&dir.join("state.db"));
    assert_eq!(journal.append(b"").unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    // A record larger than a batch travels alone and the buffers shrink back afterwards.
    let big = encode(Kind::Put, 1, &labels(1), &vec![b'x'; MAX_BATCH + 10]);
    journal.append(&big).unwrap();
    journal.append(&history(1)).unwrap();
    drop(journal);
    let (ops, _, _) = reopen(&dir.join("state.db"));
    assert_eq!(ops, [big, history(1)]);
}

#[test]
fn a_compactor_stopped_at_once_does_not_wait_for_its_interval() {
    let dir = tmpdir("compactor-stop");
    let (_, _, journal) = reopen(&dir.join("state.db"));
    let start = Instant::now();
    let c =
        Compactor::spawn(Arc::new(journal), std::time::Duration::from_secs(3600), |_| {}).unwrap();
    drop(c);
    assert!(start.elapsed() < std::time::Duration::from_secs(5), "{:?}", start.elapsed());
}

/// A real crash: a child process appends (four threads, `Post`s that each add a family) and
/// compacts in a loop, printing each acknowledged append; it is SIGKILLed mid-flight. Every
/// acknowledged family must be in the recovered state.
#[test]
fn acknowledged_appends_survive_sigkill() {
    const CHILD: &str = "NODEGATE_PERSIST_SIGKILL_CHILD";
    if let Some(dir) = std::env::var_os(CHILD) {
        let (_, _, journal) = reopen(&PathBuf::from(dir).join("state.db"));
        let journal = Arc::new(journal);
        let groups: Arc<Vec<Mutex<Option<Group>>>> =
            Arc::new((0..4).map(|_| Mutex::new(None)).collect());
        std::thread::scope(|s| {
            for t in 0..4usize {
                let (journal, groups) = (journal.clone(), groups.clone());
                s.spawn(move || {
                    for i in 0.. {
                        let id = i * 4 + t;
                        let r = encode(
                            Kind::Post,
                            id as i64,
                            &labels(t),
                            format!("f{id} 1\n").as_bytes(),
                        );
                        let mut g = groups[t].lock().unwrap();
                        journal.append(&r).unwrap();
                        Group::apply(&mut g, &Op::decode(&r).unwrap());
                        drop(g);
                        use std::io::Write;
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "acked f{id}").unwrap();
                        out.flush().unwrap();
                    }
                });
            }
            loop {
                journal
                    .compact(|emit| {
                        for (i, g) in groups.iter().enumerate() {
                            if let Some(g) = &*g.lock().unwrap() {
                                g.snapshot(&labels(i), emit);
                            }
                        }
                    })
                    .unwrap();
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        });
        return;
    }
    use std::io::BufRead;
    let dir = tmpdir("sigkill");
    for round in 0..3 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "persist::tests::acknowledged_appends_survive_sigkill",
                "--nocapture",
            ])
            .env(CHILD, &dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut acked = Vec::new();
        while acked.len() < 300 + round * 200 {
            let line = lines.next().expect("child ended early").unwrap();
            if let Some(f) = line.strip_prefix("acked ") {
                acked.push(f.to_owned());
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        acked.extend(
            lines.map_while(Result::ok).filter_map(|l| l.strip_prefix("acked ").map(str::to_owned)),
        );

        let (ops, report, journal) = reopen(&dir.join("state.db"));
        drop(journal);
        let model = model_of(&ops);
        let kept: std::collections::HashSet<String> = model
            .groups
            .values()
            .flat_map(|g| g.families.keys().map(|k| String::from_utf8(k.clone()).unwrap()))
            .collect();
        let lost: Vec<&String> = acked.iter().filter(|f| !kept.contains(*f)).collect();
        assert!(
            lost.is_empty(),
            "round {round}: {} acknowledged appends lost: {lost:?}",
            lost.len()
        );
        // Only a torn last commit (never acknowledged) may show as damage.
        for d in &report.damage {
            assert!(matches!(d.reason, Reason::Truncated | Reason::Checksum), "{d}");
        }
        eprintln!(
            "round {round}: {} acked, {} recovered, damage {:?}",
            acked.len(),
            kept.len(),
            report.damage
        );
    }
}
