"""Drives nodegate gateway with the real Prometheus Python client (prometheus_client).

Usage: push_client.py HOST:PORT STEP, where STEP is one of:
  push     push_to_gateway (PUT) with a grouping key that needs base64
  pushadd  pushadd_to_gateway (POST), gzipped by the client when it can
  handler  push_to_gateway through a custom handler that gzips the body itself
  delete   delete_from_gateway (DELETE)
Any HTTP error raises, so a non-zero exit is a failed step.
"""

import gzip
import sys

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary
from prometheus_client.exposition import (
    default_handler,
    delete_from_gateway,
    push_to_gateway,
    pushadd_to_gateway,
)

GROUPING = {"instance": "host/1", "empty": "", "sp": "x y", "plain": "p:q+r"}
JOB = "py/job"


def registry(extra):
    r = CollectorRegistry()
    g = Gauge("py_last_success", "Last time the batch job succeeded.", ["step"], registry=r)
    g.labels(step="load").set(1234.5)
    c = Counter("py_records", "Records processed.", registry=r)
    c.inc(42)
    h = Histogram("py_duration_seconds", "Duration.", buckets=(0.1, 1.0), registry=r)
    h.observe(0.5)
    s = Summary("py_size_bytes", "Sizes.", registry=r)
    s.observe(10)
    if extra:
        Gauge("py_extra", "Added by pushadd.", registry=r).set(7)
    return r


def gzip_handler(url, method, timeout, headers, data):
    headers = list(headers) + [("Content-Encoding", "gzip")]
    return default_handler(url, method, timeout, headers, gzip.compress(data))


def main():
    gw, step = sys.argv[1], sys.argv[2]
    if step == "push":
        push_to_gateway(gw, job=JOB, registry=registry(False), grouping_key=GROUPING)
    elif step == "pushadd":
        try:
            pushadd_to_gateway(
                gw, job=JOB, registry=registry(True), grouping_key=GROUPING, compression="gzip"
            )
        except TypeError:
            # Older clients have no `compression`: the handler step covers gzip then.
            pushadd_to_gateway(gw, job=JOB, registry=registry(True), grouping_key=GROUPING)
    elif step == "handler":
        push_to_gateway(gw, job="py-handler", registry=registry(False), handler=gzip_handler)
    elif step == "delete":
        delete_from_gateway(gw, job=JOB, grouping_key=GROUPING)
    else:
        raise SystemExit("unknown step " + step)


if __name__ == "__main__":
    main()
