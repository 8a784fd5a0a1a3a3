//! `nodegate exporter` on a tree the dense-host generator writes: each family has the number
//! of series the host's shape implies, so the generator's files are in the formats the
//! collectors read (a file the collector could not parse would lose its series, or its
//! collector would report `node_scrape_collector_success 0`).

use benches::{DenseHost, HWMON_SENSORS};
use std::collections::BTreeMap;
use xtests::{family_of, get, Running};

const COLLECTORS: &[&str] = &[
    "cpu",
    "cpufreq",
    "diskstats",
    "filesystem",
    "hwmon",
    "interrupts",
    "meminfo",
    "netclass",
    "netdev",
    "schedstat",
    "softirqs",
    "stat",
    "thermal_zone",
];

/// Series per family in an exposition.
fn series_counts(text: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        *counts.entry(family_of(line).to_owned()).or_insert(0) += 1;
    }
    counts
}

fn scrape(host: DenseHost, tag: &str) -> (String, BTreeMap<String, usize>) {
    let dir = std::env::temp_dir().join(format!("nodegate-dense-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    host.write(&dir).unwrap();
    let r = dir.display().to_string();
    let mut args = vec![
        "exporter".to_owned(),
        "--collector.disable-defaults".to_owned(),
        format!("--path.procfs={r}/proc"),
        format!("--path.sysfs={r}/sys"),
        format!("--path.rootfs={r}"),
        format!("--path.udev.data={r}/udev/data"),
        // The tree's interfaces are in its /proc/net/dev; rtnetlink would list this host's.
        "--no-collector.netdev.netlink".to_owned(),
    ];
    args.extend(COLLECTORS.iter().map(|c| format!("--collector.{c}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let running = Running::start(&dir, &args);
    let resp = get(running.addr, "/metrics");
    assert_eq!(resp.status, 200);
    let text = resp.text();
    drop(running);
    std::fs::remove_dir_all(&dir).unwrap();
    let counts = series_counts(&text);
    (text, counts)
}

#[test]
fn every_collector_reads_the_generated_tree() {
    let (text, _) = scrape(DenseHost::scaled(1), "success");
    for c in COLLECTORS {
        let line = format!("node_scrape_collector_success{{collector=\"{c}\"}} 1");
        assert!(text.lines().any(|l| l == line), "{c} failed on the generated tree:\n{text}");
    }
}

#[test]
fn series_per_family_follow_the_host_shape() {
    // Fewer than 26 disks: every partition is `sdX1`, which the default device filter drops.
    let host = DenseHost {
        cpus: 12,
        disks: 5,
        interfaces: 20,
        mounts: 7,
        hwmon_chips: 3,
        thermal_zones: 4,
    };
    let (text, n) = scrape(host, "shape");
    let count = |family: &str| n.get(family).copied().unwrap_or(0);
    let expect = [
        // user nice system idle iowait irq softirq steal
        ("node_cpu_seconds_total", host.cpus * 8),
        ("node_cpu_guest_seconds_total", host.cpus * 2),
        ("node_cpu_scaling_frequency_hertz", host.cpus),
        ("node_schedstat_running_seconds_total", host.cpus),
        ("node_softirqs_functions_total", host.cpus * 10),
        ("node_disk_reads_completed_total", host.disks),
        ("node_disk_info", host.disks),
        // lo is in /proc/net/dev but not in the tree's /sys/class/net.
        ("node_network_receive_bytes_total", host.interfaces + 1),
        ("node_network_transmit_packets_total", host.interfaces + 1),
        ("node_network_mtu_bytes", host.interfaces),
        ("node_network_speed_bytes", host.interfaces),
        ("node_network_up", host.interfaces),
        ("node_network_info", host.interfaces),
        // `/` and every volume; `/proc` is excluded by its type.
        ("node_filesystem_size_bytes", host.mounts + 1),
        ("node_filesystem_avail_bytes", host.mounts + 1),
        ("node_hwmon_temp_celsius", host.hwmon_chips * HWMON_SENSORS.temp),
        ("node_hwmon_in_volts", host.hwmon_chips * HWMON_SENSORS.volt),
        ("node_hwmon_fan_rpm", host.hwmon_chips * HWMON_SENSORS.fan),
        ("node_thermal_zone_temp", host.thermal_zones),
        ("node_cooling_device_max_state", host.thermal_zones),
    ];
    let wrong: Vec<String> = expect
        .iter()
        .filter(|(f, want)| count(f) != *want)
        .map(|(f, want)| format!("{f}: {} series, want {want}", count(f)))
        .collect();
    assert!(wrong.is_empty(), "{}\n\n{text}", wrong.join("\n"));
    // Every interrupt line with a column per CPU, times every CPU (`ERR` and `MIS` are totals).
    let src = host.proc_interrupts();
    let irqs = src.lines().skip(1).filter(|l| l.split_whitespace().count() > host.cpus).count();
    assert_eq!(count("node_interrupts_total"), irqs * host.cpus);
}
