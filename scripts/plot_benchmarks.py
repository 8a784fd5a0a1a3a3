#!/usr/bin/env python3
"""Plots the comparison scripts' JSON files as PNGs for BENCHMARKS.md.

    scripts/plot_benchmarks.py [--exporter exporter.json] [--gateway gateway.json]
                               [--out docs/bench]

From compare_exporter.py --dense-sizes ... --json: `exporter-latency.png`, scrape p50 (line)
and p50 to p99 (band) against the dense host's size for nodegate and node_exporter (and the
pread floor, where the JSON has one), and
`exporter-cpu.png`, CPU per scrape. From compare_gateway.py --json: `gateway-pushes.png`,
pushes/s against stored series for each gateway, `gateway-latency.png`, push and scrape p50
against stored series, and `gateway-rss.png`, idle RSS per stored series. Installs matplotlib
with pip if it is missing.
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLORS = {"nodegate": "tab:blue", "nodegate-mem": "tab:cyan", "node_exporter": "tab:orange",
          "pushgateway": "tab:orange"}


def pyplot():
    try:
        import matplotlib
    except ImportError:
        pip = [sys.executable, "-m", "pip", "install", "-q", "matplotlib"]
        if subprocess.run(pip).returncode != 0:
            subprocess.run(pip + ["--break-system-packages"], check=True)
        import matplotlib
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    return plt


def machine(data):
    return f"{data['host']}, {data['cpus']} CPUs"


def exporter_plots(plt, data, out):
    runs = [r for r in data["runs"] if r.get("shape")]
    if len(runs) < 2:
        sys.exit("the exporter JSON has fewer than two dense sizes: run compare_exporter.py "
                 "--dense-sizes ...")
    x = [r["shape"]["cpus"] for r in runs]
    labels = [f"{r['shape']['cpus']} CPUs\n{r['shape']['disks']} disks\n"
              f"{r['shape']['interfaces']} ifaces" for r in runs]
    fig, ax = plt.subplots(figsize=(8, 5))
    for name in ("nodegate", "node_exporter"):
        p50 = [r[name]["p50_ms"] for r in runs]
        p99 = [r[name]["p99_ms"] for r in runs]
        ax.plot(x, p50, "o-", color=COLORS[name], label=f"{name} p50")
        ax.fill_between(x, p50, p99, color=COLORS[name], alpha=0.2, label=f"{name} p50 to p99")
    if all("floor" in r for r in runs):
        ax.plot(x, [r["floor"]["p50_ms"] for r in runs], "k:", label="pread floor p50 (kept files)")
    save_by_size(plt, fig, ax, x, labels, "scrape latency, ms (log)",
                 f"Scrape latency against dense-host size ({machine(data)})",
                 os.path.join(out, "exporter-latency.png"))

    fig, ax = plt.subplots(figsize=(8, 5))
    for name in ("nodegate", "node_exporter"):
        ax.plot(x, [r[name]["cpu_us"] / 1e3 for r in runs], "o-", color=COLORS[name], label=name)
    save_by_size(plt, fig, ax, x, labels, "CPU per scrape, ms (log)",
                 f"Exporter CPU per scrape against dense-host size ({machine(data)})",
                 os.path.join(out, "exporter-cpu.png"))
    return ["exporter-latency.png", "exporter-cpu.png"]


def save_by_size(plt, fig, ax, x, labels, ylabel, title, path):
    """Log axes over the dense-host sizes, labels, legend and grid; writes the PNG."""
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def measured(data, name):
    rows = [(int(k), v) for k, v in data["gateways"][name].items() if "pushes_per_s" in v]
    return sorted(rows)


def gateway_plots(plt, data, out):
    names = list(data["gateways"])
    made = []
    for fname, title, ylabel, series in [
        ("gateway-pushes.png", "Pushes/s against stored series", "pushes/s (log)",
         [("pushes_per_s", "")]),
        ("gateway-latency.png", "Push and scrape p50 against stored series", "ms (log)",
         [("push_p50_ms", " push"), ("scrape_p50_ms", " scrape")]),
        ("gateway-rss.png", "Idle RSS per stored series", "bytes per series (log)",
         [("rss_per_series_bytes", "")]),
    ]:
        fig, ax = plt.subplots(figsize=(8, 5))
        for name in names:
            rows = measured(data, name)
            if not rows:
                continue
            for i, (key, suffix) in enumerate(series):
                # Triangles for memory-only nodegate, which often lies on the durable one.
                fmt = ("^" if name == "nodegate-mem" else "o") + ("-" if i == 0 else "--")
                ax.plot([n for n, _ in rows], [r[key] for _, r in rows], fmt,
                        color=COLORS.get(name), label=name + suffix)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"stored series ({data['series_per_push']} per group)")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title} ({machine(data)})")
        ax.legend()
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        fig.savefig(os.path.join(out, fname), dpi=120)
        plt.close(fig)
        made.append(fname)
    return made


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--exporter", help="compare_exporter.py --json output")
    ap.add_argument("--gateway", help="compare_gateway.py --json output")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "bench"))
    args = ap.parse_args()
    if not (args.exporter or args.gateway):
        ap.error("give --exporter, --gateway or both")
    plt = pyplot()
    os.makedirs(args.out, exist_ok=True)
    made = []
    if args.exporter:
        with open(args.exporter) as f:
            made += exporter_plots(plt, json.load(f), args.out)
    if args.gateway:
        with open(args.gateway) as f:
            made += gateway_plots(plt, json.load(f), args.out)
    for m in made:
        print(os.path.join(args.out, m))


if __name__ == "__main__":
    main()
