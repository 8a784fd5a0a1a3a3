#!/usr/bin/env python3
"""CPU per scrape and scrape latency of `nodegate exporter` beside node_exporter, on this host.

Both exporters run on loopback with the same collectors (those both have, minus any named with
--skip), and are scraped alternately over keep-alive connections in rounds, so that load from
other processes affects both alike. CPU time is the sum over the server's threads of
/proc/<pid>/task/*/schedstat (nanoseconds on CPU), read before and after each batch.

With --dense, both read a generated dense host's tree instead of this host's /proc and /sys
(192 CPUs, 256 disks, 1,024 interfaces by default; see `cargo run -p benches --bin dense-host`).

Last, the floor: `pread-floor` (benches) re-reads the files nodegate keeps open, through kept
descriptors from offset 0, while nodegate is still running, and the p50 of that is printed next
to nodegate's.

Installs Debian's prometheus-node-exporter if it is missing, and builds nodegate in release mode.

    scripts/compare_exporter.py [--rounds 10] [--scrapes 200] [--collectors cpu,meminfo,...]
                                [--dense [--cpus 192 --disks 256 --interfaces 1024]]
"""

import argparse
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from sidebyside import cpu_ns, ensure_installed, free_port, rss_kib, wait_listening

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Collectors both exporters offer, read from /proc and /sys on any Linux host.
DEFAULT_COLLECTORS = [
    "cpu", "diskstats", "entropy", "filefd", "filesystem", "loadavg", "meminfo", "netdev",
    "pressure", "schedstat", "stat", "textfile", "time", "uname", "vmstat",
]






class Target:
    def __init__(self, name, argv, port):
        self.name, self.port = name, port
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening(port, self.proc, name)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.latencies, self.cpu, self.scrapes, self.size = [], 0, 0, 0

    def scrape(self):
        t0 = time.perf_counter()
        self.conn.request("GET", "/metrics")
        resp = self.conn.getresponse()
        body = resp.read()
        self.latencies.append(time.perf_counter() - t0)
        if resp.status != 200:
            sys.exit(f"{self.name}: HTTP {resp.status}")
        self.size = len(body)
        return body

    def batch(self, n):
        before = cpu_ns(self.proc.pid)
        for _ in range(n):
            self.scrape()
        self.cpu += cpu_ns(self.proc.pid) - before
        self.scrapes += n

    def stop(self):
        self.conn.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)


def defaults_of(argv):
    """The collectors an exporter enables by default, read from its -h text."""
    text = subprocess.run(argv + ["-h"], capture_output=True, text=True)
    words = " ".join((text.stdout + text.stderr).split())
    return set(re.findall(r"Enable the ([a-z_0-9]+) collector \(default: enabled\)", words))



def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--scrapes", type=int, default=200, help="scrapes per exporter per round")
    ap.add_argument("--collectors", default=",".join(DEFAULT_COLLECTORS),
                    help="comma-separated list, or 'defaults': every collector both exporters "
                         "enable by default (Debian's systemd collector left out)")
    ap.add_argument("--nodegate", default=os.path.join(ROOT, "target/release/nodegate"))
    ap.add_argument("--dense", action="store_true", help="read a generated dense host's tree")
    ap.add_argument("--cpus", type=int, default=192)
    ap.add_argument("--disks", type=int, default=256)
    ap.add_argument("--interfaces", type=int, default=1024)
    args = ap.parse_args()

    if args.nodegate.endswith("target/release/nodegate"):
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "nodegate"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "benches", "--bin", "pread-floor"],
                   cwd=ROOT, check=True)
    upstream = ensure_installed("prometheus-node-exporter", "prometheus-node-exporter", "node_exporter")
    version = subprocess.run([upstream, "--version"], capture_output=True, text=True)
    if args.collectors == "defaults":
        collectors = sorted((defaults_of([args.nodegate, "exporter"])
                             & defaults_of([upstream])) - {"systemd"})
    else:
        collectors = [c for c in args.collectors.split(",") if c]
    textdir = tempfile.mkdtemp(prefix="compare-textfile-")
    common = ["--collector.disable-defaults"] + [f"--collector.{c}" for c in collectors] + [
        f"--collector.textfile.directory={textdir}"]

    tree = None
    if args.dense:
        tree = tempfile.mkdtemp(prefix="dense-host-")
        out = subprocess.run(
            ["cargo", "run", "--release", "-q", "-p", "benches", "--bin", "dense-host", "--", tree,
             "--cpus", str(args.cpus), "--disks", str(args.disks),
             "--interfaces", str(args.interfaces)],
            cwd=ROOT, check=True, capture_output=True, text=True)
        # The tree's interfaces are in its /proc/net/dev; rtnetlink would read this host's.
        common += out.stdout.split() + ["--no-collector.netdev.netlink"]

    p1, p2 = free_port(), free_port()
    # Both read netdev (and arp) over rtnetlink by default, so they read the same sources.
    targets = [
        Target("nodegate", [args.nodegate, "exporter", f"--web.listen-address=127.0.0.1:{p1}"]
               + common, p1),
        Target("node_exporter", [upstream, f"--web.listen-address=127.0.0.1:{p2}"] + common, p2),
    ]
    try:
        for t in targets:  # warm-up: buffers sized, caches filled
            for _ in range(20):
                t.scrape()
            t.latencies.clear()
        for _ in range(args.rounds):
            for t in targets:
                t.batch(args.scrapes)
        rows = []
        for t in targets:
            lat = sorted(t.latencies)
            rows.append((t.name, t.cpu / t.scrapes / 1e3, statistics.median(lat) * 1e3,
                         lat[int(len(lat) * 0.99) - 1] * 1e3, t.size, rss_kib(t.proc.pid)))
        # The floor: re-reading the files nodegate keeps open, and nothing else.
        out = subprocess.run([os.path.join(ROOT, "target/release/pread-floor"),
                              str(targets[0].proc.pid), "--rounds", "500"],
                             check=True, capture_output=True, text=True).stdout
        floor = dict(kv.split("=") for kv in out.split())
    finally:
        for t in targets:
            t.stop()
        shutil.rmtree(textdir, ignore_errors=True)
        if tree:
            shutil.rmtree(tree, ignore_errors=True)

    print(f"host: {os.uname().nodename}, {os.cpu_count()} CPUs; node_exporter: "
          f"{(version.stdout or version.stderr).splitlines()[0]}")
    print(f"collectors: {','.join(collectors)}")
    if args.dense:
        print(f"dense host: {args.cpus} CPUs, {args.disks} disks, {args.interfaces} interfaces")
    print(f"{args.rounds} rounds x {args.scrapes} scrapes each, alternating, keep-alive")
    print(f"{'exporter':<14}{'CPU/scrape µs':>15}{'p50 ms':>10}{'p99 ms':>10}{'bytes':>9}"
          f"{'RSS KiB':>10}")
    for r in rows:
        print(f"{r[0]:<14}{r[1]:>15.1f}{r[2]:>10.3f}{r[3]:>10.3f}{r[4]:>9}{r[5]:>10}")
    ng, ne = rows
    print(f"node_exporter / nodegate: CPU per scrape {ne[1] / ng[1]:.1f}x, "
          f"p50 latency {ne[2] / ng[2]:.1f}x, RSS {ne[5] / max(ng[5], 1):.1f}x")
    floor_ms = float(floor["p50_us"]) / 1e3
    print(f"floor: pread of the {floor['files']} files nodegate keeps open ({floor['bytes']} "
          f"bytes) p50 {floor_ms:.3f} ms, p99 {float(floor['p99_us']) / 1e3:.3f} ms; nodegate's "
          f"p50 is {ng[2] / floor_ms:.1f}x that (directory listings, netlink and statfs are "
          f"not in the floor)")


if __name__ == "__main__":
    main()
