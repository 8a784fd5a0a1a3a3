//! `/sys/fs/xfs/<device>/stats/stats` → `node_xfs_*_total{device}`; node_exporter's xfs
//! collector.
//!
//! One line per group of counters, a name and its values, see the kernel's
//! fs/xfs/xfs_stats.c and <https://xfs.org/index.php/Runtime_Stats>: `extent_alloc 1 872 0 0`,
//! `rw 28 0`, `xpc 3571712 3568056 0`. Parsed as procfs' `ParseStats`: lines with fewer than two
//! fields are skipped; every value must be a `u32` (`xpc`'s a `u64`); a known group must have its
//! number of values; a later line for a group replaces an earlier one, and a missing group counts
//! 0. Thirty-nine counters of eight groups are reported, for every file system. Devices are the
//! entries of `fs/xfs` holding `stats/stats`, as upstream's glob `fs/xfs/*/stats/stats` finds
//! them; a file that cannot be read or parsed fails the collector, with nothing reported.

use super::sysfs::{self, fields};
use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::{Dir, Entries, File};
use rustix::io::Errno;
use std::path::PathBuf;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "xfs", default_enabled: true, flags: &[], blocking: false, build };

const DIR: &str = "fs/xfs";
const STATS: &str = "fs/xfs/*/stats/stats";

/// The reported counters: group, index in the group's values, name after `node_xfs_`; their
/// HELP texts are in [`HELP`], in the same order.
const METRICS: [(&str, usize, &str); 39] = [
    ("extent_alloc", 0, "extent_allocation_extents_allocated_total"),
    ("extent_alloc", 1, "extent_allocation_blocks_allocated_total"),
    ("extent_alloc", 2, "extent_allocation_extents_freed_total"),
    ("extent_alloc", 3, "extent_allocation_blocks_freed_total"),
    ("abt", 0, "allocation_btree_lookups_total"),
    ("abt", 1, "allocation_btree_compares_total"),
    ("abt", 2, "allocation_btree_records_inserted_total"),
    ("abt", 3, "allocation_btree_records_deleted_total"),
    ("blk_map", 0, "block_mapping_reads_total"),
    ("blk_map", 1, "block_mapping_writes_total"),
    ("blk_map", 2, "block_mapping_unmaps_total"),
    ("blk_map", 3, "block_mapping_extent_list_insertions_total"),
    ("blk_map", 4, "block_mapping_extent_list_deletions_total"),
    ("blk_map", 5, "block_mapping_extent_list_lookups_total"),
    ("blk_map", 6, "block_mapping_extent_list_compares_total"),
    ("bmbt", 0, "block_map_btree_lookups_total"),
    ("bmbt", 1, "block_map_btree_compares_total"),
    ("bmbt", 2, "block_map_btree_records_inserted_total"),
    ("bmbt", 3, "block_map_btree_records_deleted_total"),
    ("dir", 0, "directory_operation_lookup_total"),
    ("dir", 1, "directory_operation_create_total"),
    ("dir", 2, "directory_operation_remove_total"),
    ("dir", 3, "directory_operation_getdents_total"),
    ("ig", 0, "inode_operation_attempts_total"),
    ("ig", 1, "inode_operation_found_total"),
    ("ig", 2, "inode_operation_recycled_total"),
    ("ig", 3, "inode_operation_missed_total"),
    ("ig", 4, "inode_operation_duplicates_total"),
    ("ig", 5, "inode_operation_reclaims_total"),
    ("ig", 6, "inode_operation_attribute_changes_total"),
    // The kernel writes `rw <writes> <reads>`.
    ("rw", 1, "read_calls_total"),
    ("rw", 0, "write_calls_total"),
    ("vnodes", 0, "vnode_active_total"),
    ("vnodes", 1, "vnode_allocate_total"),
    ("vnodes", 2, "vnode_get_total"),
    ("vnodes", 3, "vnode_hold_total"),
    ("vnodes", 4, "vnode_release_total"),
    ("vnodes", 5, "vnode_reclaim_total"),
    ("vnodes", 6, "vnode_remove_total"),
];

/// The HELP text of each of [`METRICS`].
const HELP: [&str; 39] = [
    "Number of extents allocated for a filesystem.",
    "Number of blocks allocated for a filesystem.",
    "Number of extents freed for a filesystem.",
    "Number of blocks freed for a filesystem.",
    "Number of allocation B-tree lookups for a filesystem.",
    "Number of allocation B-tree compares for a filesystem.",
    "Number of allocation B-tree records inserted for a filesystem.",
    "Number of allocation B-tree records deleted for a filesystem.",
    "Number of block map for read operations for a filesystem.",
    "Number of block map for write operations for a filesystem.",
    "Number of block unmaps (deletes) for a filesystem.",
    "Number of extent list insertions for a filesystem.",
    "Number of extent list deletions for a filesystem.",
    "Number of extent list lookups for a filesystem.",
    "Number of extent list compares for a filesystem.",
    "Number of block map B-tree lookups for a filesystem.",
    "Number of block map B-tree compares for a filesystem.",
    "Number of block map B-tree records inserted for a filesystem.",
    "Number of block map B-tree records deleted for a filesystem.",
    "Number of file name directory lookups which miss the operating systems directory name lookup \
         cache.",
    "Number of times a new directory entry was created for a filesystem.",
    "Number of times an existing directory entry was created for a filesystem.",
    "Number of times the directory getdents operation was performed for a filesystem.",
    "Number of times the OS looked for an XFS inode in the inode cache.",
    "Number of times the OS looked for and found an XFS inode in the inode cache.",
    "Number of times the OS found an XFS inode in the cache, but could not use it as it was being \
         recycled.",
    "Number of times the OS looked for an XFS inode in the cache, but did not find it.",
    "Number of times the OS tried to add a missing XFS inode to the inode cache, but found it had \
         already been added by another process.",
    "Number of times the OS reclaimed an XFS inode from the inode cache to free memory for another \
         purpose.",
    "Number of times the OS explicitly changed the attributes of an XFS inode.",
    "Number of read(2) system calls made to files in a filesystem.",
    "Number of write(2) system calls made to files in a filesystem.",
    "Number of vnodes not on free lists for a filesystem.",
    "Number of times vn_alloc called for a filesystem.",
    "Number of times vn_get called for a filesystem.",
    "Number of times vn_hold called for a filesystem.",
    "Number of times vn_rele called for a filesystem.",
    "Number of times vn_reclaim called for a filesystem.",
    "Number of times vn_remove called for a filesystem.",
];

/// The groups procfs knows, with the numbers of values it accepts for each.
const GROUPS: [(&[u8], &[usize]); 21] = [
    (b"extent_alloc", &[4]),
    (b"abt", &[4]),
    (b"blk_map", &[7]),
    (b"bmbt", &[4]),
    (b"dir", &[4]),
    (b"trans", &[3]),
    (b"ig", &[7]),
    (b"log", &[5]),
    (b"push_ail", &[10]),
    (b"xstrat", &[2]),
    (b"rw", &[2]),
    (b"attr", &[4]),
    (b"icluster", &[3]),
    (b"vnodes", &[7, 8]),
    (b"buf", &[9]),
    (b"abtb2", &[15]),
    (b"abtc2", &[15]),
    (b"bmbt2", &[15]),
    (b"ibt2", &[15]),
    (b"qm", &[8, 9]),
    (b"debug", &[1]),
];

/// The longest line Go's `bufio.Scanner` takes with its default buffer.
const MAX_LINE: usize = 64 << 10;

/// The reported counters of one file, in the order of the `METRICS` table.
pub type Counters = [u32; 39];

#[derive(Debug)]
struct Xfs {
    dir: Dir,
    dir_path: PathBuf,
    devices: Entries<Device>,
    buf: Vec<u8>,
}

#[derive(Debug)]
struct Device {
    file: File,
    /// This scrape's counters, if the device has a stats file.
    counters: Option<Counters>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    // Upstream opens procfs and sysfs handles here, which fail unless both are directories.
    sysfs::check_mount("procfs", &b.paths.procfs)?;
    sysfs::check_mount("sysfs", &b.paths.sysfs)?;
    let dir_path = b.paths.sys(DIR);
    Ok(Box::new(Xfs {
        dir: Dir::new(&dir_path),
        dir_path,
        devices: Entries::new(),
        buf: Vec::new(),
    }))
}

impl Collector for Xfs {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let Xfs { dir, dir_path, devices, buf } = self;
        // Every entry may hold `stats/stats` (the glob's `*`); those that do not, such as the
        // global `fs/xfs/stats` directory, fail to open with ENOENT or ENOTDIR.
        sysfs::glob_into(
            dir,
            devices,
            |_| true,
            |name| Device {
                file: File::new(dir_path.join(sysfs::path(name)).join("stats/stats")),
                counters: None,
            },
        );
        for (name, device) in devices.iter_mut() {
            device.counters = None;
            let src = match device.file.read_attr(buf) {
                Ok(src) => src,
                Err(Errno::NOENT | Errno::NOTDIR) => continue,
                Err(errno) => return Err(Error::Read { path: STATS, errno }),
            };
            let mut counters = [0; 39];
            parse(src, &mut counters).map_err(Error::parse(STATS))?;
            sysfs::label(DIR, name)?;
            device.counters = Some(counters);
        }
        let mut help = HELP.iter();
        let families = METRICS.map(|(_, _, name)| {
            let help = help.next().map_or(&b""[..], |h| h.as_bytes());
            enc.family_parts(&[b"node_xfs_", name.as_bytes()], &[help], Kind::Counter)
        });
        for (name, device) in devices.iter() {
            let Some(counters) = &device.counters else { continue };
            for (f, &v) in families.iter().zip(counters) {
                enc.sample_u64(*f, &[("device", name)], u64::from(v));
            }
        }
        Ok(())
    }
}

/// Parses a stats file as procfs' `ParseStats`, filling `counters` (zero for groups the file
/// does not have).
///
/// # Errors
/// The first line with a value that is not a `u32` (`xpc`: `u64`), a known group with the wrong
/// number of values, or a line too long for Go's line scanner.
pub fn parse(src: &[u8], counters: &mut Counters) -> Result<(), ParseError> {
    *counters = [0; 39];
    for (n, line) in lex::lines(src).enumerate() {
        let at = |what| ParseError::at(n + 1, what);
        if line.len() >= MAX_LINE {
            return Err(at("line too long"));
        }
        let mut words = fields(line);
        let Some(group) = words.next() else { continue };
        let count = words.clone().count();
        if count == 0 {
            continue;
        }
        if group == b"xpc" {
            for w in words {
                lex::parse_u64(w).ok_or(at("expected a 64-bit unsigned integer"))?;
            }
            if count != 3 {
                return Err(at("xpc wants 3 values"));
            }
            continue;
        }
        let mut values = [0u32; 16];
        for (i, w) in words.enumerate() {
            let v = lex::parse_u64(w)
                .and_then(|v| u32::try_from(v).ok())
                .ok_or(at("expected a 32-bit unsigned integer"))?;
            if let Some(slot) = values.get_mut(i) {
                *slot = v;
            }
        }
        if let Some((_, counts)) = GROUPS.iter().find(|(g, _)| *g == group) {
            if !counts.contains(&count) {
                return Err(at("wrong number of values for the group"));
            }
        }
        for (slot, &(g, i, _)) in counters.iter_mut().zip(&METRICS) {
            if g.as_bytes() == group {
                *slot = values[i];
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build, fds_under, fixture, fixtures, put, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;
    use std::path::Path;

    fn collector(root: &Path) -> Box<dyn Collector> {
        build(&SPEC, &Paths::under(root), &Settings::new()).unwrap()
    }

    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    fn counter(counters: &Counters, name: &str) -> u32 {
        counters[METRICS.iter().position(|m| m.2 == name).unwrap()]
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = collector(&root);
        let text = try_scrape(&mut *c).unwrap();
        assert_matches_e2e(&text);
        assert_eq!(samples(&text).len(), 39);
        assert_eq!(try_scrape(&mut *c).unwrap(), text);
    }

    #[test]
    fn groups_values_and_repeats() {
        let Some(src) = fixture("sys/fs/xfs/sda1/stats/stats") else { return };
        let mut counters = [0; 39];
        parse(&src, &mut counters).unwrap();
        assert_eq!(counter(&counters, "write_calls_total"), 28);
        assert_eq!(counter(&counters, "read_calls_total"), 0);
        assert_eq!(counter(&counters, "block_mapping_extent_list_lookups_total"), 91);
        // Short lines skipped, unknown groups checked for numbers only, a repeated group's
        // last line wins, missing groups are 0, vnodes with 7 or 8 values.
        let src = b"\nrw\nfoo 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18\nrw 1 2\n\
                    rw 4294967295 3\nvnodes 1 2 3 4 5 6 7\nqm 1 2 3 4 5 6 7 8 9\n";
        parse(src, &mut counters).unwrap();
        assert_eq!(counter(&counters, "write_calls_total"), u32::MAX);
        assert_eq!(counter(&counters, "read_calls_total"), 3);
        assert_eq!(counter(&counters, "vnode_remove_total"), 7);
        assert_eq!(counter(&counters, "extent_allocation_blocks_allocated_total"), 0);
        parse(b"vnodes 1 2 3 4 5 6 7 8\n", &mut counters).unwrap();
        // Fields split at Unicode white space, as Go's.
        parse("rw\u{a0}5 6\n".as_bytes(), &mut counters).unwrap();
        assert_eq!(counter(&counters, "write_calls_total"), 5);
        parse(b"", &mut counters).unwrap();
        assert_eq!(counters, [0; 39]);
    }

    #[test]
    fn bad_lines() {
        let long = format!("foo {}1\n", " ".repeat(MAX_LINE));
        let cases: &[(&[u8], u32)] = &[
            (b"rw 1\n", 1),
            (b"rw 1 2 3\n", 1),
            (b"abt 1 2 3 4\nig 1 2 3\n", 2),
            (b"rw 1 x\n", 1),
            (b"rw 1 4294967296\n", 1),
            (b"foo -1\n", 1),
            (b"xpc 1 2\n", 1),
            (b"xpc 1 2 18446744073709551616\n", 1),
            (b"qm 1 2 3 4 5 6 7\n", 1),
            (b"vnodes 1 2 3 4 5 6\n", 1),
            (b"debug 1 2\n", 1),
            (long.as_bytes(), 1),
        ];
        let mut counters = [0; 39];
        for &(src, line) in cases {
            let err = parse(src, &mut counters).unwrap_err();
            assert_eq!(err.line, line, "{:?}", String::from_utf8_lossy(src));
        }
        parse(b"xpc 1 2 18446744073709551615\n", &mut counters).unwrap();
    }

    #[test]
    fn devices_come_and_go() {
        let d = tmpdir("xfs-churn");
        std::fs::create_dir_all(d.join("proc")).unwrap();
        std::fs::create_dir_all(d.join("sys")).unwrap();
        let mut c = collector(&d);
        // No XFS: nothing, no failure.
        assert_eq!(try_scrape(&mut *c).unwrap(), "");
        put(&d, "sys/fs/xfs/stats/stats", "rw 1 2\n");
        put(&d, "sys/fs/xfs/sda1/stats/stats", "rw 3 4\n");
        put(&d, "sys/fs/xfs/dm-0/stats/stats", "rw 5 6\n");
        put(&d, "sys/fs/xfs/nvme0n1p1/other", "");
        let text = try_scrape(&mut *c).unwrap();
        let writes: Vec<&str> =
            samples(&text).into_iter().filter(|l| l.contains("write_calls")).collect();
        assert_eq!(
            writes,
            [
                "node_xfs_write_calls_total{device=\"dm-0\"} 5",
                "node_xfs_write_calls_total{device=\"sda1\"} 3",
            ]
        );
        assert_eq!(samples(&text).len(), 2 * 39);
        let dir = d.join("sys/fs/xfs");
        assert_eq!(fds_under(&dir), 3);
        std::fs::remove_dir_all(dir.join("dm-0")).unwrap();
        assert_eq!(samples(&try_scrape(&mut *c).unwrap()).len(), 39);
        assert_eq!(fds_under(&dir), 2);
        // A file that does not parse fails the collector, other devices and all.
        put(&d, "sys/fs/xfs/sda1/stats/stats", "rw 3\n");
        assert!(matches!(try_scrape(&mut *c), Err(Error::Parse { path: STATS, .. })));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn needs_proc_and_sys() {
        let d = tmpdir("xfs-mounts");
        std::fs::create_dir_all(d.join("sys")).unwrap();
        assert!(build(&SPEC, &Paths::under(&d), &Settings::new()).unwrap_err().contains("procfs"));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            try_scrape(&mut *c).unwrap();
        }
    }
}
