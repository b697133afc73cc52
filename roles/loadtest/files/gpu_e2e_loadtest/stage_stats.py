"""Per-stage statistics from snapshots of Locust's cumulative totals.

Locust's own percentiles are either cumulative (the whole test) or a 10 s
sliding window; neither isolates a sweep step. The shape snapshots the
aggregated entry (request and failure counts plus the response-time histogram,
which the master merges from its workers) at the start and the end of each
stage's measured window; the difference gives exact per-stage figures.
"""

from __future__ import annotations

# The collection's one percentile helper (percentiles.py links to plugins/module_utils/percentiles.py).
from gpu_e2e_loadtest.percentiles import histogram_percentile as percentile


def snapshot(entry, now):
    """Copy what is needed from a Locust StatsEntry (the aggregated `stats.total`)."""
    return {
        "t": now,
        "requests": int(entry.num_requests),
        "failures": int(entry.num_failures),
        "response_times": dict(entry.response_times),
        "total_response_time": float(entry.total_response_time),
    }


def delta(before, after, name, users):
    """Statistics of the window between two snapshots."""
    hist = {}
    for value, count in after["response_times"].items():
        diff = count - before["response_times"].get(value, 0)
        if diff > 0:
            hist[value] = diff
    seconds = max(after["t"] - before["t"], 1e-9)
    requests = after["requests"] - before["requests"]
    failures = after["failures"] - before["failures"]
    samples = sum(hist.values())
    return {
        "name": name,
        "users": users,
        "window_s": round(seconds, 3),
        "requests": requests,
        "failures": failures,
        "rps": round(requests / seconds, 3),
        "error_rate_pct": round(100.0 * failures / requests, 3) if requests else None,
        "latency_ms": {
            "p50": percentile(hist, 0.50),
            "p95": percentile(hist, 0.95),
            "p99": percentile(hist, 0.99),
            "avg": round((after["total_response_time"] - before["total_response_time"]) / samples, 3)
            if samples
            else None,
        },
        "start_epoch": round(before["t"], 3),
        "end_epoch": round(after["t"], 3),
    }
