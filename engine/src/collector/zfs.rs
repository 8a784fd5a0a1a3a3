//! `/proc/spl/kstat/zfs/...` → `node_zfs_*`; node_exporter's zfs collector for OpenZFS on
//! Linux. The SPL kstat files, see OpenZFS' module/os/linux/spl/spl-kstat.c:
//!
//! - `arcstats`, `abdstats`, `dbufstats`, `dmu_tx`, `dnodestats`, `fm`, `vdev_cache_stats`,
//!   `vdev_mirror_stats`, `xuio_stats`, `zfetchstats`, `zil`: a kstat header line, then
//!   `name type data` and one `hits  4  8772612` line per counter →
//!   `node_zfs_<subsystem>_<name>`;
//! - `<pool>/io`: a header, then `nread nwritten reads ...` and one line of values →
//!   `node_zfs_zpool_<name>{zpool}`;
//! - `<pool>/objset-<id>`: as the first kind, with a `dataset_name  7  pool/ds` line →
//!   `node_zfs_zpool_dataset_<name>{zpool,dataset}`;
//! - `<pool>/state`: `ONLINE` → `node_zfs_zpool_state{zpool,state}` for the seven states.
//!
//! These are procfs entries that OpenZFS removes and creates again when its module is
//! reloaded, a pool is exported and imported, or a dataset is destroyed and created: an fd kept
//! across scrapes would then read `EIO` from the removed entry forever. As upstream, every file
//! is opened for the scrape that reads it and closed again, and the directories are listed
//! afresh; the paths are spelled once, when a pool or dataset first shows up.

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::{c_path, Entries, Lister, Transient};
use rustix::io::Errno;
use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "zfs", default_enabled: true, flags: &[], blocking: false, build };

const KSTAT: &str = "proc/spl/kstat/zfs/<file>";
const POOL_FILE: &str = "proc/spl/kstat/zfs/<pool>/<file>";

/// The pool-wide files: the metric name's subsystem and the file.
const SUBSYSTEMS: [(&str, &str); 11] = [
    ("zfs_abd", "abdstats"),
    ("zfs_arc", "arcstats"),
    ("zfs_dbuf", "dbufstats"),
    ("zfs_dmu_tx", "dmu_tx"),
    ("zfs_dnode", "dnodestats"),
    ("zfs_fm", "fm"),
    ("zfs_vdev_cache", "vdev_cache_stats"),
    ("zfs_vdev_mirror", "vdev_mirror_stats"),
    ("zfs_xuio", "xuio_stats"),
    ("zfs_zfetch", "zfetchstats"),
    ("zfs_zil", "zil"),
];

/// The pool states reported, as `state` labels.
const STATES: [&str; 7] =
    ["online", "degraded", "faulted", "offline", "removed", "unavail", "suspended"];

#[derive(Debug)]
struct Zfs {
    base: CString,
    base_path: PathBuf,
    stats: [CString; 11],
    pools: Entries<Pool>,
    pools_lister: Lister,
    pool_lister: Lister,
    /// A pool directory's path, with its NUL.
    path: Vec<u8>,
    /// This scrape's listing of one pool directory: objset names, NUL-separated.
    listed: Vec<u8>,
    buf: Vec<u8>,
    name: Vec<u8>,
}

/// One pool directory's files, and what its last listing held.
#[derive(Debug)]
struct Pool {
    io: CString,
    state: CString,
    objsets: Entries<CString>,
    has_io: bool,
    has_state: bool,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let base_path = b.paths.proc("spl/kstat/zfs");
    Ok(Box::new(Zfs {
        base: c_path(&base_path),
        stats: SUBSYSTEMS.map(|(_, file)| c_path(&base_path.join(file))),
        base_path,
        pools: Entries::new(),
        pools_lister: Lister::new(),
        pool_lister: Lister::new(),
        path: Vec::new(),
        listed: Vec::new(),
        buf: Vec::new(),
        name: Vec::new(),
    }))
}

impl Collector for Zfs {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        // No ZFS module loaded.
        if Transient::open(&self.base).is_err() {
            return Err(Error::NoData);
        }
        self.list_pools();
        let cp = enc.checkpoint();
        let r = self.collect(enc);
        if r.is_err() {
            enc.rollback(cp);
        }
        r
    }
}

impl Zfs {
    /// Finds the pool directories and their files, as upstream's globs `*/io`, `*/objset-*`
    /// and `*/state` do: entries that are not directories, or cannot be listed, are skipped.
    fn list_pools(&mut self) {
        let Zfs { base, base_path, pools, pools_lister, pool_lister, path, listed, .. } = self;
        pools.begin();
        let _ = pools_lister.list(base, |name, _| {
            path.clear();
            path.extend_from_slice(base.to_bytes());
            path.push(b'/');
            path.extend_from_slice(name);
            path.push(0);
            let Ok(dir) = CStr::from_bytes_with_nul(path) else { return };
            let (mut has_io, mut has_state) = (false, false);
            listed.clear();
            let r = pool_lister.list(dir, |entry, _| match entry {
                b"io" => has_io = true,
                b"state" => has_state = true,
                _ if entry.starts_with(b"objset-") => {
                    listed.extend_from_slice(entry);
                    listed.push(0);
                }
                _ => {}
            });
            if r.is_err() || !(has_io || has_state || !listed.is_empty()) {
                return;
            }
            // Paths are spelled only for a pool or an objset seen for the first time.
            let dir = || base_path.join(OsStr::from_bytes(name));
            let pool = pools.get_or_insert_with(name, || Pool {
                io: c_path(&dir().join("io")),
                state: c_path(&dir().join("state")),
                objsets: Entries::new(),
                has_io: false,
                has_state: false,
            });
            pool.has_io = has_io;
            pool.has_state = has_state;
            pool.objsets.begin();
            for objset in listed.split(|&b| b == 0).filter(|n| !n.is_empty()) {
                pool.objsets
                    .get_or_insert_with(objset, || c_path(&dir().join(OsStr::from_bytes(objset))));
            }
            pool.objsets.end();
        });
        pools.end();
    }

    fn collect(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let Zfs { stats, pools, buf, name, .. } = self;
        for (path, (subsystem, file)) in stats.iter().zip(SUBSYSTEMS) {
            // A file this ZFS version does not have is skipped.
            let Ok(f) = Transient::open(path) else { continue };
            let src = f.read(buf).map_err(Error::read(KSTAT))?;
            scan_kstat(src, subsystem.as_bytes(), file.as_bytes(), enc, name)
                .map_err(Error::parse(KSTAT))?;
        }
        // All pools' io, then all objsets, then all states, in name order, as upstream's globs.
        for (pool_name, pool) in pools.iter().filter(|(_, p)| p.has_io) {
            let src = read(&pool.io, buf)?;
            scan_io(src, pool_name, enc, name).map_err(Error::parse(POOL_FILE))?;
        }
        for (pool_name, pool) in pools.iter() {
            for (_, objset) in pool.objsets.iter() {
                let src = read(objset, buf)?;
                scan_objset(src, pool_name, enc, name).map_err(Error::parse(POOL_FILE))?;
            }
        }
        for (pool_name, pool) in pools.iter().filter(|(_, p)| p.has_state) {
            let src = read(&pool.state, buf)?;
            scan_state(src, pool_name, enc).map_err(Error::parse(POOL_FILE))?;
        }
        Ok(())
    }
}

/// Opens, reads and closes a pool's file. Unlike the pool-wide files, one that vanished since
/// the listing is an error, as upstream reports it.
fn read<'b>(path: &CStr, buf: &'b mut Vec<u8>) -> Result<&'b [u8], Error> {
    let err = |errno: Errno| Error::Read { path: POOL_FILE, errno };
    Transient::open(path).map_err(err)?.read(buf).map_err(err)
}

/// Puts `prefix`, then the part of `key` after its last `.` with `-` made `_`, into `out`:
/// upstream's metric name for the kstat `kstat.zfs.misc.<file>.<key>`. An empty part, or one
/// that cannot be in a metric name, is an error (upstream panics on it).
fn metric_name(out: &mut Vec<u8>, prefix: &[&[u8]], key: &[u8]) -> Result<(), &'static str> {
    let last = key.rsplit(|&b| b == b'.').next().unwrap_or(key);
    out.clear();
    for p in prefix {
        out.extend_from_slice(p);
    }
    let start = out.len();
    out.extend(last.iter().map(|&b| if b == b'-' { b'_' } else { b }));
    match !last.is_empty() && lex::is_name_tail(&out[start..]) {
        true => Ok(()),
        false => Err("kstat name does not make a valid metric name"),
    }
}

/// Whether `fields` is the `name type data` header of a named kstat.
fn is_header(line: &[u8]) -> bool {
    let mut f = lex::fields(line);
    (f.next(), f.next(), f.next(), f.next())
        == (Some(&b"name"[..]), Some(&b"type"[..]), Some(&b"data"[..]), None)
}

/// Scans a pool-wide kstat file `file` into `enc` as `node_<subsystem>_<name>`; `name` is
/// scratch for metric names. Adds nothing if the file is malformed.
///
/// As upstream: lines before the `name type data` header, and lines with fewer than three
/// words, are skipped; of the rest, those of type 3 (int64) and 4 (uint64) are reported, and
/// their data must be a `u64` (so a negative int64 is an error).
///
/// # Errors
/// No header, a value that is not a `u64`, or a name that makes no valid metric name.
pub fn scan_kstat(
    src: &[u8],
    subsystem: &[u8],
    file: &[u8],
    enc: &mut Encoder,
    name: &mut Vec<u8>,
) -> Result<(), ParseError> {
    let cp = enc.checkpoint();
    let r = named_kstat(src, enc, |enc, key, value| {
        metric_name(name, &[b"node_", subsystem, b"_"], key)?;
        let help: [&[u8]; 4] = [b"kstat.zfs.misc.", file, b".", key];
        let f = enc.family_parts(&[name], &help, Kind::Untyped);
        enc.sample_u64(f, &[], value);
        Ok(())
    });
    if r.is_err() {
        enc.rollback(cp);
    }
    r
}

/// Walks a named kstat's `name type data` rows of types 3 and 4, as upstream's parser: the
/// header is required, short lines are skipped, the data must be a `u64`.
fn named_kstat(
    src: &[u8],
    enc: &mut Encoder,
    mut row: impl FnMut(&mut Encoder, &[u8], u64) -> Result<(), &'static str>,
) -> Result<(), ParseError> {
    let mut started = false;
    for (n, line) in lex::lines(src).enumerate() {
        if !started {
            started = is_header(line);
            continue;
        }
        let mut f = lex::fields(line);
        let (Some(key), Some(kind), Some(data)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if kind != b"4" && kind != b"3" {
            continue;
        }
        let r = lex::parse_u64(data)
            .ok_or("value is not a 64-bit unsigned integer")
            .and_then(|value| row(enc, key, value));
        r.map_err(|what| ParseError::at(n + 1, what))?;
    }
    match started {
        true => Ok(()),
        false => Err(ParseError::at(0, "no `name type data` header")),
    }
}

/// Scans a pool's `io` file into `enc` for pool `pool`; `name` is scratch for metric names.
/// Adds nothing if the file is malformed.
///
/// As upstream: the header is the first line of at least 12 words starting with `nread`;
/// every line after it, blank ones included, must have a `u64` under each header word. A file
/// without such a header reports nothing.
///
/// # Errors
/// A line with fewer values than header words (upstream panics on it), a value that is not a
/// `u64`, a header word that makes no valid metric name, or a pool name that is not UTF-8.
pub fn scan_io(
    src: &[u8],
    pool: &[u8],
    enc: &mut Encoder,
    name: &mut Vec<u8>,
) -> Result<(), ParseError> {
    let mut lines = lex::lines(src).enumerate();
    let Some((_, header)) = lines
        .by_ref()
        .find(|(_, l)| lex::fields(l).next() == Some(b"nread") && lex::fields(l).nth(11).is_some())
    else {
        return Ok(());
    };
    let cp = enc.checkpoint();
    for (n, line) in lines {
        if std::str::from_utf8(pool).is_err() {
            enc.rollback(cp);
            return Err(ParseError::at(n + 1, "pool name is not UTF-8"));
        }
        let mut values = lex::fields(line);
        for key in lex::fields(header) {
            let r = values
                .next()
                .ok_or("fewer values than names")
                .and_then(|v| lex::parse_u64(v).ok_or("value is not a 64-bit unsigned integer"))
                .and_then(|value| {
                    metric_name(name, &[b"node_zfs_zpool_"], key)?;
                    let f = enc.family_parts(&[name], &[b"kstat.zfs.misc.io.", key], Kind::Untyped);
                    enc.sample_u64(f, &[("zpool", pool)], value);
                    Ok(())
                });
            if let Err(what) = r {
                enc.rollback(cp);
                return Err(ParseError::at(n + 1, what));
            }
        }
    }
    Ok(())
}

/// Scans a pool's `objset-<id>` file into `enc` for pool `pool`; `name` is scratch for metric
/// names. Adds nothing if the file is malformed.
///
/// As upstream: a named kstat whose `dataset_name` row gives the `dataset` label of the rows
/// after it (rows before it get empty `zpool` and `dataset` labels); only type 4 (uint64) rows
/// are reported.
///
/// # Errors
/// No header, a value that is not a `u64`, a name that makes no valid metric name, or a pool
/// or dataset name that is not UTF-8.
pub fn scan_objset(
    src: &[u8],
    pool: &[u8],
    enc: &mut Encoder,
    name: &mut Vec<u8>,
) -> Result<(), ParseError> {
    let cp = enc.checkpoint();
    let (mut zpool, mut dataset): (&[u8], &[u8]) = (b"", b"");
    let mut started = false;
    for (n, line) in lex::lines(src).enumerate() {
        if !started {
            started = is_header(line);
            continue;
        }
        let mut f = lex::fields(line);
        let (Some(key), Some(kind), Some(data)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let r = if key == b"dataset_name" {
            zpool = pool;
            dataset = data;
            Ok(())
        } else if kind == b"4" {
            lex::parse_u64(data).ok_or("value is not a 64-bit unsigned integer").and_then(|value| {
                metric_name(name, &[b"node_zfs_zpool_dataset_"], key)?;
                if std::str::from_utf8(zpool).and(std::str::from_utf8(dataset)).is_err() {
                    return Err("pool or dataset name is not UTF-8");
                }
                let f = enc.family_parts(&[name], &[b"kstat.zfs.misc.objset.", key], Kind::Untyped);
                enc.sample_u64(f, &[("zpool", zpool), ("dataset", dataset)], value);
                Ok(())
            })
        } else {
            Ok(())
        };
        if let Err(what) = r {
            enc.rollback(cp);
            return Err(ParseError::at(n + 1, what));
        }
    }
    if !started {
        enc.rollback(cp);
        return Err(ParseError::at(0, "no `name type data` header"));
    }
    Ok(())
}

/// Scans a pool's `state` file into `enc` for pool `pool`: its first line, lowercased, is the
/// state, and each of the seven states is reported 1 if it is that one, else 0.
///
/// # Errors
/// A pool name that is not UTF-8 (upstream panics on such a label value).
pub fn scan_state(src: &[u8], pool: &[u8], enc: &mut Encoder) -> Result<(), ParseError> {
    std::str::from_utf8(pool).map_err(|_| ParseError::at(0, "pool name is not UTF-8"))?;
    // Go's line scanner: up to the first newline, without a CR before it.
    let line = lex::lines(src).next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let f = enc.family("node_zfs_zpool_state", "kstat.zfs.misc.state", Kind::Gauge);
    for state in STATES {
        let v = if line.eq_ignore_ascii_case(state.as_bytes()) { 1.0 } else { 0.0 };
        enc.sample(f, &[("zpool", pool), ("state", state.as_bytes())], v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fds_under, fixtures, put, render, scrape, tmpdir,
        try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        assert_matches_e2e(&text);
        let families = text.lines().filter(|l| l.starts_with("# TYPE")).count();
        assert_eq!(families, 277);
        assert_eq!(scrape(c.as_mut()), text);
    }

    const KSTAT: &str = "6 1 0x01 91 4368 5266997922 97951858082072\n\
                         name                            type data\n\
                         hits                            4    8772612\n\
                         c-min                           3    33554432\n\
                         short 4\n\
                         label                           7    text\n";

    fn kstat(src: &str) -> Result<String, ParseError> {
        let mut r = Ok(());
        let text = render(|enc| {
            r = scan_kstat(src.as_bytes(), b"zfs_arc", b"arcstats", enc, &mut Vec::new())
        });
        r.map(|()| text)
    }

    #[test]
    fn kstat_rows() {
        assert_eq!(
            kstat(KSTAT).unwrap(),
            "# HELP node_zfs_arc_c_min kstat.zfs.misc.arcstats.c-min\n\
             # TYPE node_zfs_arc_c_min untyped\n\
             node_zfs_arc_c_min 3.3554432e+07\n\
             # HELP node_zfs_arc_hits kstat.zfs.misc.arcstats.hits\n\
             # TYPE node_zfs_arc_hits untyped\n\
             node_zfs_arc_hits 8.772612e+06\n"
        );
        // A dotted name is cut to its last part; rows before the header are not read.
        let dotted = "hits 4 x\nname type data\na.b.c 4 1\n";
        assert!(kstat(dotted)
            .unwrap()
            .contains("# HELP node_zfs_arc_c kstat.zfs.misc.arcstats.a.b.c\n"));
        for bad in [
            "no header\nhits 4 1\n",
            "",
            "name type data\nhits 4 -1\n",
            "name type data\nhits 3 -1\n",
            "name type data\nhits 4 18446744073709551616\n",
            "name type data\nhit/s 4 1\n",
            "name type data\nhits. 4 1\n",
            "name type data\nok 4 1\nhits 4 1.5\n",
        ] {
            assert!(kstat(bad).is_err(), "{bad:?}");
            let mut enc = Encoder::new();
            let _ = scan_kstat(bad.as_bytes(), b"zfs_arc", b"arcstats", &mut enc, &mut Vec::new());
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "a failed scan left samples behind: {bad:?}");
        }
    }

    #[test]
    fn io_rows() {
        let io = |src: &str| {
            let mut r = Ok(());
            let text = render(|enc| r = scan_io(src.as_bytes(), b"tank", enc, &mut Vec::new()));
            r.map(|()| text)
        };
        let header =
            "nread nwritten reads writes wtime wlentime wupdate rtime rlentime rupdate wcnt rcnt";
        let text = io(&format!("12 3 0x00\n{header}\n1 2 3 4 5 6 7 8 9 10 11 12 13\n")).unwrap();
        assert!(text.contains("# HELP node_zfs_zpool_rcnt kstat.zfs.misc.io.rcnt\n"));
        assert!(text.contains("\nnode_zfs_zpool_rcnt{zpool=\"tank\"} 12\n"));
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 12);
        // No header: nothing, and no error.
        assert_eq!(io("nread nwritten\n1 2\n").unwrap(), "");
        for bad in [
            format!("{header}\n1 2 3\n"),
            format!("{header}\n1 2 3 4 5 6 7 8 9 10 11 12\n\n"),
            format!("{header}\n1 2 3 4 5 6 7 8 9 10 11 x\n"),
        ] {
            assert!(io(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn objset_rows() {
        let objset = |src: &str| {
            let mut r = Ok(());
            let text = render(|enc| r = scan_objset(src.as_bytes(), b"tank", enc, &mut Vec::new()));
            r.map(|()| text)
        };
        let text = objset(
            "31 1 0x01\nname type data\nwrites 4 1\ndataset_name 7 tank/home\nreads 4 2\n\
             nunlinks 3 9\nzil_commit_count 4 18446744073709551615\n",
        )
        .unwrap();
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            [
                "node_zfs_zpool_dataset_reads{dataset=\"tank/home\",zpool=\"tank\"} 2",
                "node_zfs_zpool_dataset_writes{dataset=\"\",zpool=\"\"} 1",
                "node_zfs_zpool_dataset_zil_commit_count{dataset=\"tank/home\",zpool=\"tank\"} 1.8446744073709552e+19",
            ]
        );
        assert!(objset("writes 4 1\n").is_err());
        assert!(objset("name type data\nwrites 4 -1\n").is_err());
        assert!(objset("name type data\nwrites 4 1\nreads 4 x\n").is_err());
    }

    #[test]
    fn states() {
        for (src, on) in
            [("ONLINE\n", "online"), ("Degraded\r\nx", "degraded"), ("suspended", "suspended")]
        {
            let text = render(|enc| scan_state(src.as_bytes(), b"tank", enc).unwrap());
            assert_eq!(text.lines().filter(|l| l.ends_with(" 1")).count(), 1);
            assert!(text.contains(&format!("{{state=\"{on}\",zpool=\"tank\"}} 1\n")), "{text}");
        }
        let text = render(|enc| scan_state(b"", b"tank", enc).unwrap());
        assert_eq!(text.lines().filter(|l| l.ends_with(" 0")).count(), 7);
    }

    #[test]
    fn pools_and_datasets_come_and_go() {
        let root = tmpdir("zfs");
        let paths = Paths::under(&root);
        let mut c = build_spec(&SPEC, &paths, &Settings::new()).unwrap();
        assert_eq!(try_scrape(c.as_mut()), Err(Error::NoData));

        put(&root, "proc/spl/kstat/zfs/arcstats", KSTAT);
        put(&root, "proc/spl/kstat/zfs/tank/state", "ONLINE\n");
        put(
            &root,
            "proc/spl/kstat/zfs/tank/objset-0x1",
            "name type data\ndataset_name 7 tank\nreads 4 5\n",
        );
        put(
            &root,
            "proc/spl/kstat/zfs/tank/objset-0x2",
            "name type data\ndataset_name 7 tank/a\nreads 4 6\n",
        );
        put(&root, "proc/spl/kstat/zfs/empty/nothing", "");
        let text = try_scrape(c.as_mut()).unwrap();
        assert!(text.contains("node_zfs_arc_hits 8.772612e+06\n"));
        assert!(text.contains("{state=\"online\",zpool=\"tank\"} 1\n"));
        assert!(
            text.contains("node_zfs_zpool_dataset_reads{dataset=\"tank/a\",zpool=\"tank\"} 6\n")
        );
        assert!(!text.contains("zpool=\"empty\""));

        std::fs::remove_file(root.join("proc/spl/kstat/zfs/tank/objset-0x2")).unwrap();
        put(
            &root,
            "proc/spl/kstat/zfs/tank/objset-0x3",
            "name type data\ndataset_name 7 tank/b\nreads 4 7\n",
        );
        let text = try_scrape(c.as_mut()).unwrap();
        assert!(!text.contains("tank/a"));
        assert!(text.contains("{dataset=\"tank/b\",zpool=\"tank\"} 7\n"));
        assert_eq!(fds_under(&root), 0, "no fd is kept between scrapes");

        // A bad pool file fails the whole scrape.
        put(&root, "proc/spl/kstat/zfs/tank/objset-0x3", "no header\n");
        assert!(matches!(try_scrape(c.as_mut()), Err(Error::Parse { .. })));
        std::fs::remove_dir_all(root.join("proc/spl/kstat/zfs/tank")).unwrap();
        let text = try_scrape(c.as_mut()).unwrap();
        assert!(!text.contains("zpool"));
        std::fs::remove_dir_all(&root).unwrap();

        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            match try_scrape(c.as_mut()) {
                Ok(_) | Err(Error::NoData) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
}
