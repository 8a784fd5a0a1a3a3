#!/usr/bin/env python3
"""Pushes/s, scrape latency, RSS and push latency as the store grows: `nodegate gateway` beside
Debian's Prometheus Pushgateway, on this host.

Three gateways run on loopback, each with a fresh temp directory: the Pushgateway with its own
--persistence.file, nodegate with its durable default (a write-ahead log synced before each
push is answered) and nodegate with --persistence.file="" (memory only). All push bodies are
text format with 100 series. In one run, alternating between the gateways:

1. Load: 500 groups are pushed, then in each round every gateway takes PUTs that replace those
   groups from --clients concurrent keep-alive clients (separate processes, so that Python's
   lock does not serialise them) for --seconds, and then --scrapes serial GET /metrics over a
   keep-alive connection. Reported: pushes/s, server CPU per push (its threads' schedstat),
   scrape p50/p99 and the exposition's size, and RSS right after the load and after 15 s idle
   (time for housekeeping: nodegate's trim thread, Go's scavenger).
2. Growth: the store grows to 10k, 100k and 1M series (100, 1,000 and 10,000 groups); at each
   size --samples serial pushes to existing groups give the push latency's p50/p99. A gateway
   whose estimated time to fill the next size exceeds --max-fill seconds skips it (the
   Pushgateway at 1M: its every push is checked against the whole store), and the output says
   so.

Ratios are pushgateway / nodegate for costs (latency, CPU, RSS) and nodegate / pushgateway for
pushes/s, so that above 1 means nodegate is better. Installs Debian's prometheus-pushgateway if
it is missing, and builds nodegate in release mode.

    scripts/compare_gateway.py [--rounds 3] [--seconds 8] [--clients 4] [--scrapes 40]
                               [--samples 200] [--max-fill 300] [--sizes 10000,100000,1000000]
"""

import argparse
import http.client
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
IDLE = 15  # seconds idle before the second RSS reading
LOAD_GROUPS = 500





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
        self.pushes, self.push_seconds, self.push_cpu = 0, 0.0, 0
        self.scrapes, self.size = [], 0
        self.rss_load = 0
        self.rss_idle = 0
        self.latency = {}  # series -> list of seconds, or a reason it was skipped

    def fill(self, groups, clients):
        """Pushes new groups until `groups` are stored."""
        new = list(range(self.groups, groups))
        if new:
            parallel(fill_worker, clients, lambda i: (self.port, new[i::clients]))
        self.groups = max(self.groups, groups)

    def load(self, seconds, clients):
        deadline = time.time() + seconds
        before, t0 = cpu_ns(self.proc.pid), time.perf_counter()
        n = parallel(push_worker, clients,
                     lambda i: (self.port, list(range(LOAD_GROUPS))[i::clients], deadline))
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=8, help="push load per gateway per round")
    ap.add_argument("--clients", type=int, default=4, help="concurrent pushing processes")
    ap.add_argument("--scrapes", type=int, default=40, help="scrapes per gateway per round")
    ap.add_argument("--samples", type=int, default=200, help="pushes timed per size")
    ap.add_argument("--max-fill", type=float, default=300,
                    help="skip a size whose estimated fill time exceeds this (s)")
    ap.add_argument("--sizes", default="10000,100000,1000000", help="stored series to time at")
    ap.add_argument("--nodegate", default=os.path.join(ROOT, "target/release/nodegate"))
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    args.nodegate = os.path.abspath(args.nodegate)  # the gateways run in their own directories

    if args.nodegate.endswith("target/release/nodegate"):
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "nodegate"], cwd=ROOT, check=True)
    upstream = ensure_installed("prometheus-pushgateway", "prometheus-pushgateway", "pushgateway")
    version = subprocess.run([upstream, "--version"], capture_output=True, text=True)
    tmp = tempfile.mkdtemp(prefix="compare-gateway-")
    gws = []
    try:
        # 1. Load at 500 groups (50k series).
        gws = start_all(upstream, args.nodegate, tmp, "load")
        for g in gws:
            g.fill(LOAD_GROUPS, args.clients)
        for g in gws:  # warm-up: buffers sized, caches filled
            g.load(1, args.clients)
            g.scrape(3)
            g.pushes, g.push_seconds, g.push_cpu, g.scrapes = 0, 0.0, 0, []
        for r in range(args.rounds):
            for g in gws:
                g.load(args.seconds, args.clients)
                g.scrape(args.scrapes)
            print(f"load round {r + 1}/{args.rounds}: "
                  + ", ".join(f"{g.name} {g.pushes / g.push_seconds:.0f} pushes/s" for g in gws),
                  file=sys.stderr)
        for g in gws:
            g.rss_load = rss_kib(g.proc.pid)
        time.sleep(IDLE)  # housekeeping: nodegate's trim, Go's scavenger
        for g in gws:
            g.rss_idle = rss_kib(g.proc.pid)
        load = gws
        for g in gws:
            g.stop()
        gws = []

        # 2. Push latency as the store grows.
        gws = start_all(upstream, args.nodegate, tmp, "growth")
        rss_growth = {g.name: {} for g in gws}
        for size in sizes:
            groups = size // SERIES
            for g in gws:
                if any(isinstance(v, str) for v in g.latency.values()):
                    g.latency[size] = "skipped (a smaller size was)"
                    continue
                if g.latency:
                    # Fill cost grows with the store for a gateway whose push cost does: take
                    # the last p50 as if it held at the midpoint, times the pushes needed.
                    last_size = max(g.latency)
                    p50 = statistics.median(g.latency[last_size])
                    estimate = p50 * (size + last_size) / 2 / last_size * (groups - g.groups)
                    if estimate > args.max_fill:
                        g.latency[size] = (f"skipped: filling would take about {estimate / 60:.0f}"
                                           f" min (p50 {p50 * 1e3:.0f} ms at {last_size:,})")
                        continue
                t0 = time.perf_counter()
                g.fill(groups, args.clients)
                fill = time.perf_counter() - t0
                g.latency[size] = g.push_latency(args.samples, budget=60)
                rss_growth[g.name][size] = rss_kib(g.proc.pid)
                print(f"{g.name}: {size:,} series (filled in {fill:.1f} s), push p50 "
                      f"{ms(statistics.median(g.latency[size]))} ms", file=sys.stderr)
        growth = gws
    finally:
        for g in gws:
            g.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"host: {os.uname().nodename}, {os.cpu_count()} CPUs; "
          f"{(version.stdout or version.stderr).splitlines()[0]}")
    print(f"nodegate: durable default (write-ahead log, synced per push) and "
          f"nodegate-mem (--persistence.file=\"\"); the Pushgateway persists every 5m")
    print(f"\n1. load: {LOAD_GROUPS} groups x {SERIES} series, PUT from {args.clients} keep-alive "
          f"clients, {args.rounds} rounds x {args.seconds:g} s; {args.scrapes} scrapes per round")
    print(f"{'gateway':<14}{'pushes/s':>10}{'CPU/push µs':>13}{'scrape p50 ms':>15}"
          f"{'p99 ms':>10}{'bytes':>10}{'RSS KiB':>10}{'idle RSS':>10}")
    rows = {}
    for g in load:
        rows[g.name] = (g.pushes / g.push_seconds, g.push_cpu / max(g.pushes, 1) / 1e3,
                        statistics.median(g.scrapes), pct(g.scrapes, 0.99), g.size, g.rss_load,
                        g.rss_idle)
        r = rows[g.name]
        print(f"{g.name:<14}{r[0]:>10.0f}{r[1]:>13.1f}{ms(r[2]):>15}{ms(r[3]):>10}{r[4]:>10}"
              f"{r[5]:>10}{r[6]:>10}")
    pg = rows["pushgateway"]
    for name in ("nodegate", "nodegate-mem"):
        ng = rows[name]
        print(f"pushgateway vs {name}: pushes/s {ng[0] / pg[0]:.0f}x, CPU per push "
              f"{pg[1] / ng[1]:.0f}x, scrape p50 {pg[2] / ng[2]:.1f}x, p99 {pg[3] / ng[3]:.1f}x, "
              f"RSS {pg[5] / max(ng[5], 1):.1f}x, idle RSS {pg[6] / max(ng[6], 1):.1f}x")

    print(f"\n2. push latency (serial PUT of {SERIES} series to an existing group) as the store "
          f"grows")
    print(f"{'gateway':<14}{'series':>10}{'p50 ms':>10}{'p99 ms':>10}{'RSS KiB':>10}")
    for g in growth:
        for size in sizes:
            v = g.latency.get(size)
            if isinstance(v, list):
                print(f"{g.name:<14}{size:>10,}{ms(statistics.median(v)):>10}{ms(pct(v, 0.99)):>10}"
                      f"{rss_growth[g.name].get(size, 0):>10}")
            else:
                print(f"{g.name:<14}{size:>10,}  {v}")
    by = {g.name: g.latency for g in growth}
    for size in sizes:
        pgl = by["pushgateway"].get(size)
        if not isinstance(pgl, list):
            continue
        parts = []
        for name in ("nodegate", "nodegate-mem"):
            ngl = by[name].get(size)
            if isinstance(ngl, list):
                parts.append(f"{name} p50 {statistics.median(pgl) / statistics.median(ngl):.0f}x, "
                             f"p99 {pct(pgl, 0.99) / pct(ngl, 0.99):.0f}x")
        print(f"pushgateway / nodegate at {size:,} series: " + "; ".join(parts))

    print("\ntargets:")
    for name in ("nodegate", "nodegate-mem"):
        ng = rows[name]
        checks = [
            ("pushes/s >= 100x", ng[0] / pg[0], ng[0] / pg[0] >= 100),
            ("scrape p50 >= 10x faster", pg[2] / ng[2], pg[2] / ng[2] >= 10),
            ("RSS <= 1/4, right after the load", pg[5] / max(ng[5], 1), ng[5] * 4 <= pg[5]),
            (f"RSS <= 1/4, after {IDLE} s idle", pg[6] / max(ng[6], 1), ng[6] * 4 <= pg[6]),
        ]
        lat = by[name]
        small, big = (sizes[0], sizes[-1]) if sizes else (None, None)
        if isinstance(lat.get(small), list) and isinstance(lat.get(big), list):
            growth_p50 = statistics.median(lat[big]) / statistics.median(lat[small])
            checks.append((f"push p50 flat {small:,} -> {big:,} (<= 1.5x)", growth_p50,
                           growth_p50 <= 1.5))
        for what, value, met in checks:
            print(f"  {name:<13} {what:<36} {value:>8.2f}x  {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
