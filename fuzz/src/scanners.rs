//! Every collector in `engine::collector::REGISTRY` that reads files, over a tree built from
//! the input: its output passes the [`exposition`](crate::exposition) checker (well-formed
//! lines, each family's TYPE once), a failed update leaves nothing behind (but for the
//! collectors in [`PARTIAL`]), and a second update over the same files (through the kept
//! descriptors) gives the same bytes (but for the collectors in [`LIVE`]).
//!
//! The input's first line names the collector; the rest is a [`tree`](crate::tree) laid out
//! as `Paths::under` expects (`proc/`, `sys/`, `udev/data/`, the root as rootfs). Collectors
//! registered later are covered with no change here. Those whose data does not come from
//! files are left out ([`EXCLUDED`]); `arp` and `netdev` run with `--no-collector.*.netlink`,
//! which makes them read `/proc/net`.

use engine::collector::{Build, Collector, Settings, Shared, REGISTRY};
use engine::encode::Encoder;
use engine::source::Paths;

/// Collectors that read no file of the tree: D-Bus (`logind`, `systemd`), netlink sockets
/// (`network_route`, `qdisc`, `tcpstat`, `wifi`), `perf_event_open(2)` (`perf`), and the
/// host's clock and kernel identity (`timex`, `uname`).
pub const EXCLUDED: &[&str] =
    &["logind", "network_route", "perf", "qdisc", "systemd", "tcpstat", "timex", "uname", "wifi"];

/// Collectors whose output changes between two updates over the same files: `time` reports
/// the current time beside its clocksource files, `filesystem` the live `statfs(2)` figures
/// of the temp directory its mount points land in.
pub const LIVE: &[&str] = &["filesystem", "time"];

/// Collectors that, as upstream's, keep what they reported before a later step failed:
/// `time` reports the time and zone before it reads the clocksources.
pub const PARTIAL: &[&str] = &["time"];

/// Checks one input: a collector's name, a line feed, the tree.
pub fn check(data: &[u8]) {
    let _ = run(data);
}

/// Runs the collector `data` names over its tree, twice, checking both updates; the first
/// update's exposition, or `None` if the input names no collector this target runs or the
/// collector would not build or failed.
fn run(data: &[u8]) -> Option<Vec<u8>> {
    let nl = data.iter().position(|&b| b == b'\n')?;
    let name = &data[..nl];
    let spec = REGISTRY.iter().find(|s| s.name.as_bytes() == name)?;
    if EXCLUDED.contains(&spec.name) {
        return None;
    }
    let root = crate::tree::scratch_dir("scanners");
    crate::tree::write(&root, &data[nl + 1..]);
    let mut settings = Settings::new();
    settings.set("collector.arp.netlink", "false");
    settings.set("collector.netdev.netlink", "false");
    let paths = Paths::under(&root);
    let shared = Shared::default();
    let enabled = [spec.name];
    let build = Build { paths: &paths, settings: &settings, shared: &shared, enabled: &enabled };
    let mut c = (spec.build)(&build).ok()?;
    let first = scrape(c.as_mut(), spec.name);
    let second = scrape(c.as_mut(), spec.name);
    if !LIVE.contains(&spec.name) {
        assert!(first == second, "{}: a second update over the same files differs", spec.name);
    }
    first
}

/// One update's exposition, checked; `None` for a failed update (which must add nothing).
fn scrape(c: &mut dyn Collector, name: &str) -> Option<Vec<u8>> {
    let mut enc = Encoder::new();
    let result = c.update(&mut enc);
    let mut out = Vec::new();
    enc.finish(&mut out);
    if let Err(e) = crate::exposition::check(&out) {
        panic!("{name}: {e}\n{}", String::from_utf8_lossy(&out));
    }
    match result {
        Ok(()) => Some(out),
        Err(e) => {
            assert!(
                out.is_empty() || PARTIAL.contains(&name),
                "{name}: a failed update ({e}) left samples behind"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_the_named_collector_over_the_tree() {
        let out = run(b"loadavg\n== proc/loadavg\n0.21 0.37 0.39 1/719 19737\n").unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\nnode_load1 0.21\n"), "{text}");
        assert_eq!(run(b"loadavg\n== proc/loadavg\nnot numbers\n"), None);
        assert_eq!(run(b"no_such_collector\n"), None);
        assert_eq!(run(b"uname\n"), None);
    }
}
