# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read Locust's CSV output (--csv PREFIX --csv-full-history).

PREFIX_stats.csv holds one row per request name plus the "Aggregated" row,
with cumulative percentiles over the whole test: that row gives the scenario's
client-side KPIs. PREFIX_stats_history.csv gets one row per second; with
--csv-full-history its percentiles are Locust's "current" ones (a ~10 s sliding
window), which is what a latency-over-time plot needs. PREFIX_failures.csv
counts each distinct error.
"""

from __future__ import annotations

import csv
import os

from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_errors import LoadtestError

AGGREGATED = "Aggregated"


def _r(value, digits=3):
    return None if value is None else round(value, digits)


def _num(value):
    """A CSV cell as a float, or None for 'N/A' and blanks."""
    if value is None:
        return None
    value = value.strip()
    if value in ("", "N/A"):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _rows(path):
    if not os.path.exists(path):
        raise LoadtestError(f"Locust CSV {path} does not exist (did Locust start? see its log)")
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except (OSError, csv.Error) as exc:
        raise LoadtestError(f"cannot read Locust CSV {path}: {exc}") from exc


def read_aggregated(prefix):
    """Client-side KPIs from the Aggregated row of PREFIX_stats.csv."""
    path = f"{prefix}_stats.csv"
    rows = [row for row in _rows(path) if row.get("Name") == AGGREGATED]
    if not rows:
        raise LoadtestError(f"{path} has no Aggregated row")
    row = rows[-1]
    requests = int(_num(row.get("Request Count")) or 0)
    failures = int(_num(row.get("Failure Count")) or 0)
    return {
        "requests": requests,
        "failures": failures,
        "error_rate_pct": round(100.0 * failures / requests, 3) if requests else None,
        "rps": _r(_num(row.get("Requests/s"))),
        "failures_per_s": _r(_num(row.get("Failures/s"))),
        "latency_ms": {
            "p50": _num(row.get("50%")),
            "p95": _num(row.get("95%")),
            "p99": _num(row.get("99%")),
            "avg": _r(_num(row.get("Average Response Time"))),
            "min": _r(_num(row.get("Min Response Time"))),
            "max": _r(_num(row.get("Max Response Time"))),
        },
    }


def read_history(prefix):
    """The per-second Aggregated rows of PREFIX_stats_history.csv, oldest first."""
    path = f"{prefix}_stats_history.csv"
    series = []
    for row in _rows(path):
        if row.get("Name") != AGGREGATED:
            continue
        timestamp = _num(row.get("Timestamp"))
        if timestamp is None:
            continue
        series.append(
            {
                "t": int(timestamp),
                "users": int(_num(row.get("User Count")) or 0),
                "rps": _num(row.get("Requests/s")) or 0.0,
                "failures_per_s": _num(row.get("Failures/s")) or 0.0,
                "p50": _num(row.get("50%")),
                "p95": _num(row.get("95%")),
                "p99": _num(row.get("99%")),
                "requests": int(_num(row.get("Total Request Count")) or 0),
                "failures": int(_num(row.get("Total Failure Count")) or 0),
            }
        )
    return series


def read_history_tail(prefix, max_bytes=16384):
    """The last Aggregated history row and the first timestamp, read cheaply while Locust writes."""
    path = f"{prefix}_stats_history.csv"
    try:
        with open(path, "rb") as handle:
            header = handle.readline().decode("utf-8", "replace")
            first = handle.readline().decode("utf-8", "replace")
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            tail = handle.read().decode("utf-8", "replace")
    except OSError:
        return None, None
    if not header or not first:
        return None, None
    names = next(csv.reader([header]))
    first_row = dict(zip(names, next(csv.reader([first])), strict=False))
    last = None
    for line in reversed(tail.splitlines()):
        cells = next(csv.reader([line]), [])
        if len(cells) == len(names) and cells[3] == AGGREGATED:
            last = dict(zip(names, cells, strict=True))
            break
    if last is None:
        return None, _num(first_row.get("Timestamp"))
    return (
        {
            "t": _num(last.get("Timestamp")),
            "users": int(_num(last.get("User Count")) or 0),
            "rps": _num(last.get("Requests/s")) or 0.0,
            "p95": _num(last.get("95%")),
            "requests": int(_num(last.get("Total Request Count")) or 0),
            "failures": int(_num(last.get("Total Failure Count")) or 0),
        },
        _num(first_row.get("Timestamp")),
    )


def read_failures(prefix, limit=5):
    """The most frequent errors from PREFIX_failures.csv."""
    path = f"{prefix}_failures.csv"
    if not os.path.exists(path):
        return []
    errors = []
    for row in _rows(path):
        errors.append(
            {
                "method": row.get("Method", ""),
                "name": row.get("Name", ""),
                "error": row.get("Error", ""),
                "occurrences": int(_num(row.get("Occurrences")) or 0),
            }
        )
    errors.sort(key=lambda e: e["occurrences"], reverse=True)
    return errors[:limit]


def error_spikes(history, min_failures_per_s=1.0, min_share_pct=5.0):
    """Windows of consecutive seconds with failures above both thresholds.

    A second counts when its failures/s >= min_failures_per_s and failures are at
    least min_share_pct of that second's requests. Returns
    [{"start": epoch_s, "end": epoch_s, "peak_failures_per_s": x}].

    The rates come from the cumulative counters of consecutive rows (Total Request
    Count, Total Failure Count): Locust's own Requests/s and Failures/s columns are
    10-second averages lagging 2 s, which blur a sudden failure into the successes
    before it. The first row, with nothing before it, uses Locust's columns.
    """
    spikes = []
    current = None
    previous = None
    for point in history:
        if previous is not None and point["t"] > previous["t"]:
            seconds = point["t"] - previous["t"]
            failures_per_s = max(0, point["failures"] - previous["failures"]) / seconds
            requests_per_s = max(0, point["requests"] - previous["requests"]) / seconds
        else:
            failures_per_s, requests_per_s = point["failures_per_s"], point["rps"]
        previous = point
        # Locust counts failed requests in its request counts too.
        total = max(requests_per_s, failures_per_s)
        share = 100.0 * failures_per_s / total if total else 0.0
        hot = failures_per_s >= min_failures_per_s and share >= min_share_pct
        if hot:
            if current is None:
                current = {"start": point["t"], "end": point["t"], "peak_failures_per_s": round(failures_per_s, 3)}
            else:
                current["end"] = point["t"]
                current["peak_failures_per_s"] = max(current["peak_failures_per_s"], round(failures_per_s, 3))
        elif current is not None:
            spikes.append(current)
            current = None
    if current is not None:
        spikes.append(current)
    return spikes
