#!/usr/bin/env python3
"""Heap allocations per steady-state request in the real release binaries, under valgrind.

Each program runs twice under `valgrind --tool=memcheck`: once serving N warm-up requests and
once serving N + M, each time over one keep-alive connection, the first run held open as long
as the second took (so timer-driven work happens as often in both), and is then stopped with
SIGTERM so that valgrind prints its "total heap usage" line. The difference of the two allocation
counts, divided by M, is what one steady-state request allocates (start-up, warm-up and shutdown
cancel out). Programs:

- `nodegate exporter` with the collectors given (default: compare_exporter.py's list), GET
  /metrics;
- `nodegate gateway --persistence.file=""` after 100 groups are pushed and each replaced once:
  each request is a PUT replacing one of those groups with a body of the same size, followed
  by a GET /metrics;
- the same with the gateway's durable default, a write-ahead log beside a snapshot.

A real per-request allocation adds at least M; a difference under M/2 is reported as
run-to-run noise. Otherwise the run is repeated with --xtree-memory=full and the functions whose
inclusive allocation counts (callgrind_annotate's totBk) grew between the two runs are listed
per request. Background threads that wake on a timer (the gateway's trim every ten seconds)
can still add a few allocations that do not belong to requests, hence the noise bound.

    scripts/allocs_real.py [--warmup 20] [--requests 100] [--collectors cpu,meminfo,...]
"""

import argparse
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from sidebyside import free_port, wait_listening

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTORS = [
    "cpu", "diskstats", "entropy", "filefd", "filesystem", "loadavg", "meminfo", "netdev",
    "pressure", "schedstat", "stat", "textfile", "time", "uname", "vmstat",
]
GROUPS = 100


def body(variant):
    lines = ["# HELP load_value A value pushed by allocs_real.py.", "# TYPE load_value gauge"]
    lines += [f'load_value{{series="{i}"}} {variant * 1000 + i}.5' for i in range(100)]
    return ("\n".join(lines) + "\n").encode()


def scrape(conn, what):
    conn.request("GET", "/metrics")
    resp = conn.getresponse()
    resp.read()
    if resp.status != 200:
        sys.exit(f"{what}: HTTP {resp.status}")


def exporter_requests(conn, n, _first):
    for _ in range(n):
        scrape(conn, "exporter")


def gateway_requests(conn, n, first):
    # Variants 1 to 3 give bodies of one size (their values have as many digits).
    if first:  # the groups every later PUT replaces, each replaced once more
        for variant in (3, 1):
            for g in range(GROUPS):
                put(conn, g, variant)
    for i in range(n):
        put(conn, i % GROUPS, 2 - i // GROUPS % 2)
        scrape(conn, "gateway scrape")


def put(conn, group, variant):
    conn.request("PUT", f"/metrics/job/allocs/instance/g{group}", body=body(variant),
                 headers={"Content-Type": "text/plain; version=0.0.4"})
    resp = conn.getresponse()
    resp.read()
    if resp.status not in (200, 202):
        sys.exit(f"gateway push: HTTP {resp.status}")


def run(argv, requests, n, tmp, xtree, hold=0.0):
    """Runs `argv` under memcheck for `n` requests and keeps it running until `hold` seconds
    after its start; returns (allocs, seconds it ran, xtree file or None)."""
    port = free_port()
    cwd = tempfile.mkdtemp(dir=tmp)  # each run starts from nothing: no persistence file
    log = os.path.join(cwd, "valgrind.log")
    xt = os.path.join(cwd, "xtree")
    vg = ["valgrind", "--tool=memcheck", f"--log-file={log}"]
    if xtree:
        vg += ["--xtree-memory=full", f"--xtree-memory-file={xt}"]
    proc = subprocess.Popen(vg + argv + [f"--web.listen-address=127.0.0.1:{port}"], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    try:
        wait_listening(port, proc, argv[1], timeout=120)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        requests(conn, n, True)
        conn.close()
        time.sleep(max(0.0, t0 + hold - time.time()))
        ran = time.time() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=120)
    with open(log) as f:
        m = re.search(r"total heap usage: ([\d,]+) allocs", f.read())
    if not m:
        sys.exit(f"no 'total heap usage' line in {log}")
    return int(m.group(1).replace(",", "")), ran, (xt if xtree else None)


def by_function(xt):
    """Inclusive allocation counts per function in an xtree file."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--show=totBk",
                          "--sort=totBk", "--threshold=100", xt],
                         capture_output=True, text=True, check=True).stdout
    counts = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*)$", line)
        if m and ":" in m.group(2):
            counts[m.group(2).strip()] = int(m.group(1).replace(",", ""))
    return counts


def measure(name, argv, requests, args, tmp):
    # The shorter run lasts as long as the longer one, so that timer-driven work (the
    # gateway's trim every ten seconds) happens as often in both.
    b, ran, _ = run(argv, requests, args.warmup + args.requests, tmp, False)
    a, _, _ = run(argv, requests, args.warmup, tmp, False, hold=ran)
    per = (b - a) / args.requests
    print(f"{name}: {a:,} allocations with {args.warmup} requests, {b:,} with "
          f"{args.warmup + args.requests}: {per:.2f} per steady-state request")
    if abs(b - a) < args.requests / 2:
        # A real per-request allocation adds at least M; a handful either way comes from
        # threads that run on timers, which differ between two runs.
        print(f"  {b - a:+d} over {args.requests} requests: run-to-run noise, not per request")
        return per
    if b != a:
        _, ran, xb = run(argv, requests, args.warmup + args.requests, tmp, True)
        _, _, xa = run(argv, requests, args.warmup, tmp, True, hold=ran)
        ca, cb = by_function(xa), by_function(xb)
        grown = sorted(((cb[f] - ca.get(f, 0), f) for f in cb if cb[f] > ca.get(f, 0)),
                       reverse=True)
        print("  functions whose inclusive allocation count grew (per request, top 25):")
        for d, f in grown[:25]:
            print(f"  {d / args.requests:>8.2f}  {f}")
        keep = os.path.join(os.getcwd(), f"allocs-{name}.xtree")
        shutil.copy(xb, keep)
        print(f"  full call trees: callgrind_annotate --tree=caller --show=totBk {keep}")
    return per


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--requests", type=int, default=100, help="steady-state requests measured")
    ap.add_argument("--collectors", default=",".join(COLLECTORS),
                    help="comma-separated, or 'defaults' for the exporter's defaults")
    ap.add_argument("--nodegate", default=os.path.join(ROOT, "target/release/nodegate"))
    args = ap.parse_args()
    args.nodegate = os.path.abspath(args.nodegate)
    if not shutil.which("valgrind"):
        sys.exit("valgrind is missing: apt-get install valgrind")
    if args.nodegate.endswith("target/release/nodegate"):
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "nodegate"], cwd=ROOT, check=True)

    tmp = tempfile.mkdtemp(prefix="allocs-real-")
    try:
        textdir = os.path.join(tmp, "textfile")
        os.makedirs(textdir)
        exporter = [args.nodegate, "exporter", f"--collector.textfile.directory={textdir}"]
        if args.collectors != "defaults":
            exporter += ["--collector.disable-defaults"] + [
                f"--collector.{c}" for c in args.collectors.split(",") if c]
        t0 = time.time()
        measure("exporter", exporter, exporter_requests, args, tmp)
        measure("gateway", [args.nodegate, "gateway", "--persistence.file="], gateway_requests,
                args, tmp)
        measure("gateway-durable", [args.nodegate, "gateway", "--persistence.file=gateway.db"],
                gateway_requests, args, tmp)
        print(f"({time.time() - t0:.0f} s under valgrind)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
