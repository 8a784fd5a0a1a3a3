#!/usr/bin/env python3
"""CPU per scrape and scrape latency of `nodegate exporter` beside node_exporter, on this host.

Both exporters run on loopback with the same collectors (those both have, minus any named with
--skip), and are scraped alternately over keep-alive connections in rounds, so that load from
other processes affects both alike. CPU time is the sum over the server's threads of
/proc/<pid>/task/*/schedstat (nanoseconds on CPU), read before and after each batch.

With --dense, both read a generated dense host's tree instead of this host's /proc and /sys
(192 CPUs, 256 disks, 1,024 interfaces by default; see `cargo run -p benches --bin dense-host`).
With --dense-sizes 1,4,16, they read one tree per size, `dense-host --scale F` (8 CPUs, 4 disks,
16 interfaces and 4 mounts times F), one after the other, and the results form a growth table.
On a generated tree the collectors that grow with the host and read only the tree (netclass,
hwmon, thermal_zone, cpufreq) are measured too, unless --collectors is given.

Last, at each size, the floor: `pread-floor` (benches) re-reads the files nodegate keeps open
(under /proc and /sys, or under the generated tree), through kept descriptors from offset 0,
while nodegate is still running, alternating each round with one scrape of nodegate from the
same process over a keep-alive connection; both p50s are printed, so the scrape is compared
with the floor measured the same way. On a generated tree the sysfs files nodegate opens per
scrape are not kept open, so the floor there counts only the tree's kept files.

--json FILE writes every figure for scripts/plot_benchmarks.py. Installs Debian's
prometheus-node-exporter if it is missing, and builds nodegate in release mode. A growth run
takes 5 rounds of 50 scrapes per size unless told otherwise: 5 to 8 minutes for 1,4,16 on
2 cores.

    scripts/compare_exporter.py [--rounds N] [--scrapes N] [--collectors cpu,meminfo,...]
                                [--dense [--cpus 192 --disks 256 --interfaces 1024]]
                                [--dense-sizes 1,4,16] [--json FILE]
"""

import argparse
import http.client
import json
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


# Collectors both offer that read only the tree and grow with it: measured on generated trees.
DENSE_COLLECTORS = ["cpufreq", "hwmon", "netclass", "thermal_zone"]


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


def series(body):
    return sum(1 for line in body.split(b"\n") if line and not line.startswith(b"#"))


def make_tree(args):
    """Writes a dense host's tree; returns its directory, exporter flags and shape."""
    tree = tempfile.mkdtemp(prefix="dense-host-")
    sizes = (["--scale", str(args)] if isinstance(args, int) else
             ["--cpus", str(args.cpus), "--disks", str(args.disks),
              "--interfaces", str(args.interfaces)])
    out = subprocess.run([os.path.join(ROOT, "target/release/dense-host"), tree] + sizes,
                         check=True, capture_output=True, text=True)
    shape = {k: int(v) for k, v in (kv.split("=") for kv in out.stderr.split())}
    # The tree's interfaces are in its /proc/net/dev; rtnetlink would read this host's.
    return tree, out.stdout.split() + ["--no-collector.netdev.netlink"], shape


def measure(args, upstream, collectors, extra, tree=None):
    """Both exporters on the same sources, scraped alternately; one result per exporter and
    the pread floor under nodegate."""
    textdir = tempfile.mkdtemp(prefix="compare-textfile-")
    common = ["--collector.disable-defaults"] + [f"--collector.{c}" for c in collectors] + [
        f"--collector.textfile.directory={textdir}"] + extra
    p1, p2 = free_port(), free_port()
    # Both read netdev (and arp) over rtnetlink by default, so they read the same sources.
    targets = []
    try:
        targets.append(Target("nodegate", [args.nodegate, "exporter",
                                           f"--web.listen-address=127.0.0.1:{p1}"] + common, p1))
        targets.append(Target("node_exporter",
                              [upstream, f"--web.listen-address=127.0.0.1:{p2}"] + common, p2))
        counts = {}
        for t in targets:  # warm-up: buffers sized, caches filled
            for _ in range(20):
                body = t.scrape()
            counts[t.name] = series(body)
            t.latencies.clear()
        for _ in range(args.rounds):
            for t in targets:
                t.batch(args.scrapes)
        rows = {}
        for t in targets:
            lat = sorted(t.latencies)
            rows[t.name] = {
                "cpu_us": t.cpu / t.scrapes / 1e3,
                "p50_ms": statistics.median(lat) * 1e3,
                "p99_ms": lat[max(0, int(len(lat) * 0.99) - 1)] * 1e3,
                "bytes": t.size,
                "series": counts[t.name],
                "rss_kib": rss_kib(t.proc.pid),
            }
        # The floor: re-reading the files nodegate keeps open, and nothing else.
        under = ["--under", tree] if tree else []
        out = subprocess.run([os.path.join(ROOT, "target/release/pread-floor"),
                              str(targets[0].proc.pid), "--rounds", "500",
                              "--scrape", f"127.0.0.1:{p1}"] + under,
                             check=True, capture_output=True, text=True).stdout
        floor = dict(kv.split("=") for kv in out.split())
        rows["floor"] = {"files": int(floor["files"]), "bytes": int(floor["bytes"]),
                         "p50_ms": float(floor["p50_us"]) / 1e3,
                         "p99_ms": float(floor["p99_us"]) / 1e3,
                         "scrape_p50_ms": float(floor["scrape_p50_us"]) / 1e3,
                         "scrape_p99_ms": float(floor["scrape_p99_us"]) / 1e3}
        return rows
    finally:
        for t in targets:
            t.stop()
        shutil.rmtree(textdir, ignore_errors=True)


def print_rows(rows, tree):
    print(f"{'exporter':<14}{'CPU/scrape µs':>15}{'p50 ms':>10}{'p99 ms':>10}{'bytes':>10}"
          f"{'series':>8}{'RSS KiB':>10}")
    for name in ("nodegate", "node_exporter"):
        r = rows[name]
        print(f"{name:<14}{r['cpu_us']:>15.1f}{r['p50_ms']:>10.3f}{r['p99_ms']:>10.3f}"
              f"{r['bytes']:>10}{r['series']:>8}{r['rss_kib']:>10}")
    ng, ne, fl = rows["nodegate"], rows["node_exporter"], rows["floor"]
    print(f"node_exporter / nodegate: CPU per scrape {ne['cpu_us'] / ng['cpu_us']:.1f}x, "
          f"p50 latency {ne['p50_ms'] / ng['p50_ms']:.1f}x, "
          f"p99 {ne['p99_ms'] / ng['p99_ms']:.1f}x, RSS {ne['rss_kib'] / max(ng['rss_kib'], 1):.1f}x")
    where = "in the generated tree" if tree else "under /proc and /sys"
    print(f"floor: pread of the {fl['files']} files {where} nodegate keeps open "
          f"({fl['bytes']} bytes) p50 {fl['p50_ms']:.3f} ms, p99 {fl['p99_ms']:.3f} ms; "
          f"nodegate's scrape timed from the same process p50 {fl['scrape_p50_ms']:.3f} ms = "
          f"{fl['scrape_p50_ms'] / fl['p50_ms']:.2f}x the floor (directory listings, netlink, "
          f"statfs{' and the sysfs files opened per scrape' if tree else ''} are not in it)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, help="default 10, or 5 with --dense-sizes")
    ap.add_argument("--scrapes", type=int,
                    help="scrapes per exporter per round: default 200, or 50 with --dense-sizes")
    ap.add_argument("--collectors", default=",".join(DEFAULT_COLLECTORS),
                    help="comma-separated list, or 'defaults': every collector both exporters "
                         "enable by default (Debian's systemd collector left out)")
    ap.add_argument("--nodegate", default=os.path.join(ROOT, "target/release/nodegate"))
    ap.add_argument("--dense", action="store_true", help="read a generated dense host's tree")
    ap.add_argument("--cpus", type=int, default=192)
    ap.add_argument("--disks", type=int, default=256)
    ap.add_argument("--interfaces", type=int, default=1024)
    ap.add_argument("--dense-sizes", default="",
                    help="comma-separated scale factors: one dense tree per size, e.g. 1,4,16")
    ap.add_argument("--json", help="write the results here, for scripts/plot_benchmarks.py")
    args = ap.parse_args()
    scales = [int(f) for f in args.dense_sizes.split(",") if f]
    # node_exporter takes a fifth of a second per scrape at scale 16 on 2 cores: fewer scrapes
    # per size keep a growth run under 10 minutes.
    args.rounds = args.rounds or (5 if scales else 10)
    args.scrapes = args.scrapes or (50 if scales else 200)

    if args.nodegate.endswith("target/release/nodegate"):
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "nodegate"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "benches", "--bin", "pread-floor",
                    "--bin", "dense-host"], cwd=ROOT, check=True)
    upstream = ensure_installed("prometheus-node-exporter", "prometheus-node-exporter", "node_exporter")
    version = subprocess.run([upstream, "--version"], capture_output=True, text=True)
    version = (version.stdout or version.stderr).splitlines()[0]
    explicit = any(a.startswith("--collectors") for a in sys.argv[1:])
    if args.collectors == "defaults":
        collectors = sorted((defaults_of([args.nodegate, "exporter"])
                             & defaults_of([upstream])) - {"systemd"})
    else:
        collectors = [c for c in args.collectors.split(",") if c]
    if (args.dense or scales) and not explicit:
        collectors = sorted(set(collectors) | set(DENSE_COLLECTORS))

    print(f"host: {os.uname().nodename}, {os.cpu_count()} CPUs; node_exporter: {version}")
    print(f"collectors: {','.join(collectors)}")
    print(f"{args.rounds} rounds x {args.scrapes} scrapes each, alternating, keep-alive")
    runs = []
    for scale in scales or [None]:
        tree, extra, shape = None, [], None
        if scale is not None:
            tree, extra, shape = make_tree(scale)
        elif args.dense:
            tree, extra, shape = make_tree(args)
        try:
            rows = measure(args, upstream, collectors, extra, tree)
        finally:
            if tree:
                shutil.rmtree(tree, ignore_errors=True)
        print()
        if shape:
            print(f"dense host{f' x{scale}' if scale else ''}: " +
                  ", ".join(f"{v} {k}" for k, v in shape.items()))
        else:
            print("this host")
        print_rows(rows, tree)
        runs.append({"scale": scale, "shape": shape, **rows})

    if len(runs) > 1:
        print("\ngrowth: p50 ms (p99) per size")
        print(f"{'scale':>6}{'CPUs':>6}{'series':>8}{'nodegate':>20}{'node_exporter':>20}"
              f"{'CPU ratio':>11}{'p50 ratio':>11}")
        for r in runs:
            ng, ne = r["nodegate"], r["node_exporter"]
            print(f"{r['scale']:>6}{r['shape']['cpus']:>6}{ng['series']:>8}"
                  f"{ng['p50_ms']:>11.3f} ({ng['p99_ms']:>6.3f}){ne['p50_ms']:>11.3f} "
                  f"({ne['p99_ms']:>6.3f}){ne['cpu_us'] / ng['cpu_us']:>10.1f}x"
                  f"{ne['p50_ms'] / ng['p50_ms']:>10.1f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"kind": "exporter", "host": os.uname().nodename, "cpus": os.cpu_count(),
                       "node_exporter": version, "collectors": collectors,
                       "rounds": args.rounds, "scrapes": args.scrapes, "runs": runs}, f, indent=1)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
