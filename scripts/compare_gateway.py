#!/usr/bin/env python3
"""Pushes/s, push and scrape latency and RSS as the store grows: `nodegate gateway` beside
Debian's Prometheus Pushgateway, on this host.

Three gateways run on loopback, each with a fresh temp directory: the Pushgateway with its own
--persistence.file, nodegate with its durable default (a write-ahead log synced before each
push is answered) and nodegate with --persistence.file="" (memory only). All push bodies are
text format with 100 series; a group is one push's 100 series.

The store grows through --sizes (stored series; default 10k, 50k, 100k, 1M). At each size, each
gateway is filled to that many groups, then in --rounds rounds, alternating between the
gateways, it takes PUTs replacing its stored groups from --clients concurrent keep-alive
clients (separate processes, so that Python's lock does not serialise them) for --seconds, and
then --scrapes serial GET /metrics over a keep-alive connection. Then --samples serial PUTs
give the push latency, and RSS is read right away and after --idle seconds idle (time for
housekeeping: nodegate's trim thread, Go's scavenger). Reported per size: pushes/s, server CPU
per push (its threads' schedstat), push p50/p99, scrape p50/p99 and the exposition's size, RSS
and RSS per stored series.

The Pushgateway checks every push against its whole store, so filling it to 1M series takes
about 90 minutes: it skips 1M unless --pushgateway-1m is given, and any size whose estimated
fill time exceeds --max-fill seconds; the output says so. nodegate fills 1M in seconds.

Ratios are pushgateway / nodegate for costs (latency, CPU, RSS) and nodegate / pushgateway for
pushes/s, so that above 1 means nodegate is better. --json FILE writes every figure for
scripts/plot_benchmarks.py. Installs Debian's prometheus-pushgateway if it is missing, and
builds nodegate in release mode. The default run takes about 12 minutes on 2 cores.

    scripts/compare_gateway.py [--sizes 10000,50000,100000,1000000] [--rounds 2] [--seconds 5]
                               [--clients 4] [--scrapes 20] [--samples 200] [--idle 10]
                               [--max-fill 600] [--pushgateway-1m] [--json FILE]
"""

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from sidebyside import cpu_ns, ensure_installed, free_port, rss_kib, wait_listening

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERIES = 100  # per push body
TARGET_SIZE = 50_000  # where the targets are set


def body(variant):
    lines = ["# HELP load_value A value pushed by compare_gateway.py.", "# TYPE load_value gauge"]
    lines += [f'load_value{{series="{i}"}} {variant * 1000 + i}.5' for i in range(SERIES)]
    return ("\n".join(lines) + "\n").encode()


BODIES = [body(v) for v in range(4)]


def put_request(group, variant):
    b = BODIES[variant % len(BODIES)]
    head = (f"PUT /metrics/job/load/instance/g{group} HTTP/1.1\r\nHost: gateway\r\n"
            f"Content-Type: text/plain; version=0.0.4\r\nContent-Length: {len(b)}\r\n\r\n")
    return head.encode() + b


class Pusher:
    """One keep-alive connection sending prebuilt PUTs and reading their answers."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=600)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def push(self, request):
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server")
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server")
            rest += chunk
        self.buf = rest[length:]
        if status not in (200, 202):
            raise RuntimeError(f"HTTP {status}: {rest[:length][:200]!r}")
        return status

    def close(self):
        self.sock.close()


def push_worker(port, groups, deadline, out):
    """Replaces `groups` in turn until `deadline` (time.time()); reports the pushes done."""
    requests = [put_request(g, v) for v in range(len(BODIES)) for g in groups]
    p = Pusher(port)
    n = 0
    while time.time() < deadline:
        p.push(requests[n % len(requests)])
        n += 1
    p.close()
    out.put(n)


def fill_worker(port, groups, out):
    """Pushes each of `groups` once."""
    p = Pusher(port)
    for g in groups:
        p.push(put_request(g, 0))
    p.close()
    out.put(len(groups))


def parallel(target, clients, make_args):
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=target, args=make_args(i) + (out,)) for i in range(clients)]
    for p in procs:
        p.start()
    total = sum(out.get() for _ in procs)
    for p in procs:
        p.join()
        if p.exitcode != 0:
            sys.exit(f"a client failed (exit {p.exitcode})")
    return total



def pct(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * len(s))) - 1))]


class Gateway:
    def __init__(self, name, argv, port, workdir):
        self.name, self.port = name, port
        self.log = open(os.path.join(workdir, "log"), "wb")
        self.proc = subprocess.Popen(argv, cwd=workdir, stdout=self.log, stderr=self.log)
        wait_listening(port, self.proc, name)
        self.groups = 0  # groups stored
        self.results = {}  # stored series -> figures, or {"skipped": why}
        self.reset()

    def reset(self):
        self.pushes, self.push_seconds, self.push_cpu = 0, 0.0, 0
        self.scrapes, self.size = [], 0

    def fill(self, groups, clients):
        """Pushes new groups until `groups` are stored."""
        new = list(range(self.groups, groups))
        if new:
            parallel(fill_worker, clients, lambda i: (self.port, new[i::clients]))
        self.groups = max(self.groups, groups)

    def load(self, seconds, clients):
        """PUTs replacing stored groups, spread over the whole store, for `seconds`."""
        deadline = time.time() + seconds
        stride = max(1, self.groups // 1000)  # at most 1,000 distinct requests per client set
        groups = list(range(0, self.groups, stride))
        before, t0 = cpu_ns(self.proc.pid), time.perf_counter()
        n = parallel(push_worker, clients, lambda i: (self.port, groups[i::clients], deadline))
        self.push_seconds += time.perf_counter() - t0
        self.push_cpu += cpu_ns(self.proc.pid) - before
        self.pushes += n

    def scrape(self, n):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        for _ in range(n):
            t0 = time.perf_counter()
            conn.request("GET", "/metrics")
            resp = conn.getresponse()
            data = resp.read()
            self.scrapes.append(time.perf_counter() - t0)
            if resp.status != 200:
                sys.exit(f"{self.name}: scrape HTTP {resp.status}: {data[:200]!r}")
            self.size = len(data)
        conn.close()

    def push_latency(self, samples, budget):
        """Serial pushes replacing existing groups, spread over them; stops after `budget` s."""
        p = Pusher(self.port)
        out = []
        stop = time.time() + budget
        step = max(1, self.groups // samples)
        for i in range(samples):
            request = put_request((i * step) % self.groups, i + 1)
            t0 = time.perf_counter()
            p.push(request)
            out.append(time.perf_counter() - t0)
            if time.time() > stop and len(out) >= 20:
                break
        p.close()
        return out

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()



def start_all(upstream, nodegate, tmp, tag):
    made = []
    for name in ("pushgateway", "nodegate", "nodegate-mem"):
        workdir = os.path.join(tmp, f"{tag}-{name}")
        os.makedirs(workdir)
        port = free_port()
        listen = f"--web.listen-address=127.0.0.1:{port}"
        if name == "pushgateway":
            argv = [upstream, listen, f"--persistence.file={workdir}/pushgateway.db"]
        elif name == "nodegate":
            argv = [nodegate, "gateway", listen, f"--persistence.file={workdir}/nodegate.db"]
        else:
            argv = [nodegate, "gateway", listen, "--persistence.file="]
        made.append(Gateway(name, argv, port, workdir))
    return made


def ms(seconds):
    return f"{seconds * 1e3:.3f}"


def estimate_fill(g, size):
    """Seconds to fill `g` to `size` series at its last push p50, taken as growing linearly
    with the store (a gateway that checks every push against every stored series), or 0."""
    done = [n for n, r in g.results.items() if "push_p50_ms" in r]
    if not done:
        return 0
    last = max(done)
    p50 = g.results[last]["push_p50_ms"] / 1e3
    return p50 * (size + last) / 2 / last * (size - last) / SERIES


def measure_size(gws, size, args):
    """Fills each gateway to `size` and measures it there; returns the gateways measured."""
    live = []
    for g in gws:
        if any("skipped" in r for r in g.results.values()):
            g.results[size] = {"skipped": "a smaller size was skipped"}
            continue
        if g.name == "pushgateway" and size >= 1_000_000 and not args.pushgateway_1m:
            g.results[size] = {"skipped": "1M takes about 90 min to fill: --pushgateway-1m"}
            continue
        estimate = estimate_fill(g, size)
        if estimate > args.max_fill:
            g.results[size] = {"skipped": f"filling would take about {estimate / 60:.0f} min "
                                          f"(--max-fill {args.max_fill:g} s)"}
            continue
        t0 = time.perf_counter()
        g.fill(size // SERIES, args.clients)
        print(f"{g.name}: filled to {size:,} series in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
        g.load(1, args.clients)  # warm-up: buffers sized, caches filled
        g.scrape(2)
        g.reset()
        live.append(g)
    for r in range(args.rounds):
        for g in live:
            g.load(args.seconds, args.clients)
            g.scrape(args.scrapes)
        print(f"{size:,} series, round {r + 1}/{args.rounds}: " + ", ".join(
            f"{g.name} {g.pushes / g.push_seconds:.0f} pushes/s" for g in live), file=sys.stderr)
    for g in live:
        lat = g.push_latency(args.samples, budget=60)
        g.results[size] = {
            "pushes_per_s": g.pushes / g.push_seconds,
            "cpu_per_push_us": g.push_cpu / max(g.pushes, 1) / 1e3,
            "push_p50_ms": statistics.median(lat) * 1e3,
            "push_p99_ms": pct(lat, 0.99) * 1e3,
            "scrape_p50_ms": statistics.median(g.scrapes) * 1e3,
            "scrape_p99_ms": pct(g.scrapes, 0.99) * 1e3,
            "bytes": g.size,
            "rss_kib": rss_kib(g.proc.pid),
        }
    if live and args.idle > 0:
        time.sleep(args.idle)  # housekeeping: nodegate's trim, Go's scavenger
    for g in live:
        r = g.results[size]
        r["rss_idle_kib"] = rss_kib(g.proc.pid)
        r["rss_per_series_bytes"] = r["rss_idle_kib"] * 1024 / size


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,50000,100000,1000000",
                    help="stored series to measure at, ascending")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=5, help="push load per gateway per round")
    ap.add_argument("--clients", type=int, default=4, help="concurrent pushing processes")
    ap.add_argument("--scrapes", type=int, default=20, help="scrapes per gateway per round")
    ap.add_argument("--samples", type=int, default=200, help="serial pushes timed per size")
    ap.add_argument("--idle", type=float, default=10, help="seconds idle before the idle RSS")
    ap.add_argument("--max-fill", type=float, default=600,
                    help="skip a size whose estimated fill time exceeds this (s)")
    ap.add_argument("--pushgateway-1m", action="store_true",
                    help="fill the Pushgateway to 1M series too (about 90 min)")
    ap.add_argument("--nodegate", default=os.path.join(ROOT, "target/release/nodegate"))
    ap.add_argument("--json", help="write the results here, for scripts/plot_benchmarks.py")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(",") if s)
    args.nodegate = os.path.abspath(args.nodegate)  # the gateways run in their own directories

    if args.nodegate.endswith("target/release/nodegate"):
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "nodegate"], cwd=ROOT, check=True)
    upstream = ensure_installed("prometheus-pushgateway", "prometheus-pushgateway", "pushgateway")
    version = subprocess.run([upstream, "--version"], capture_output=True, text=True)
    version = (version.stdout or version.stderr).splitlines()[0]
    tmp = tempfile.mkdtemp(prefix="compare-gateway-")
    gws = []
    try:
        gws = start_all(upstream, args.nodegate, tmp, "growth")
        for size in sizes:
            measure_size(gws, size, args)
    finally:
        for g in gws:
            g.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"host: {os.uname().nodename}, {os.cpu_count()} CPUs; {version}")
    print("nodegate: durable default (write-ahead log, synced per push) and "
          "nodegate-mem (--persistence.file=\"\"); the Pushgateway persists every 5m")
    print(f"PUTs of {SERIES} series from {args.clients} keep-alive clients, {args.rounds} rounds x "
          f"{args.seconds:g} s per size; {args.scrapes} scrapes per round; {args.samples} serial "
          f"pushes for latency; idle RSS after {args.idle:g} s")
    print(f"\n{'gateway':<14}{'series':>10}{'pushes/s':>10}{'CPU/push µs':>13}{'push p50':>10}"
          f"{'p99 ms':>9}{'scrape p50':>12}{'p99 ms':>10}{'RSS KiB':>10}{'idle RSS':>10}"
          f"{'B/series':>10}")
    for g in gws:
        for size in sizes:
            r = g.results.get(size, {"skipped": "not reached"})
            if "skipped" in r:
                print(f"{g.name:<14}{size:>10,}  skipped: {r['skipped']}")
                continue
            print(f"{g.name:<14}{size:>10,}{r['pushes_per_s']:>10.0f}{r['cpu_per_push_us']:>13.1f}"
                  f"{r['push_p50_ms']:>10.3f}{r['push_p99_ms']:>9.3f}{r['scrape_p50_ms']:>12.3f}"
                  f"{r['scrape_p99_ms']:>10.3f}{r['rss_kib']:>10}{r['rss_idle_kib']:>10}"
                  f"{r['rss_per_series_bytes']:>10.0f}")
    by = {g.name: g.results for g in gws}
    print()
    for size in sizes:
        pg = by["pushgateway"].get(size, {})
        if "pushes_per_s" not in pg:
            continue
        for name in ("nodegate", "nodegate-mem"):
            ng = by[name].get(size, {})
            if "pushes_per_s" in ng:
                print(f"pushgateway vs {name} at {size:,}: pushes/s "
                      f"{ng['pushes_per_s'] / pg['pushes_per_s']:.0f}x, push p50 "
                      f"{pg['push_p50_ms'] / ng['push_p50_ms']:.1f}x, scrape p50 "
                      f"{pg['scrape_p50_ms'] / ng['scrape_p50_ms']:.1f}x, idle RSS "
                      f"{pg['rss_idle_kib'] / max(ng['rss_idle_kib'], 1):.1f}x")

    print("\ntargets:")
    pg = by["pushgateway"].get(TARGET_SIZE, {})
    for name in ("nodegate", "nodegate-mem"):
        ng = by[name]
        at = ng.get(TARGET_SIZE, {})
        checks = []
        if "pushes_per_s" in at and "pushes_per_s" in pg:
            checks += [
                (f"pushes/s >= 100x at {TARGET_SIZE:,}", at["pushes_per_s"] / pg["pushes_per_s"],
                 100),
                ("scrape p50 >= 10x faster", pg["scrape_p50_ms"] / at["scrape_p50_ms"], 10),
                ("idle RSS <= 1/4", pg["rss_idle_kib"] / max(at["rss_idle_kib"], 1), 4),
            ]
        done = [s for s in sizes if "pushes_per_s" in ng.get(s, {})]
        if len(done) > 1:
            small, big = ng[done[0]], ng[done[-1]]
            checks.append((f"pushes/s flat {done[0]:,} -> {done[-1]:,} (>= 2/3)",
                           big["pushes_per_s"] / small["pushes_per_s"], 2 / 3))
        for what, value, bound in checks:
            print(f"  {name:<13} {what:<44} {value:>8.2f}x  {'met' if value >= bound else 'MISSED'}")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"kind": "gateway", "host": os.uname().nodename, "cpus": os.cpu_count(),
                       "pushgateway": version, "series_per_push": SERIES,
                       "clients": args.clients, "sizes": sizes,
                       "gateways": {g.name: {str(k): v for k, v in g.results.items()}
                                    for g in gws}}, f, indent=1)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
