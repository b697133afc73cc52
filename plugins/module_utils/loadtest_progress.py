# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A live progress line of a running Locust scenario, from its stats history CSV.

Locust (headless, in the background) appends one Aggregated row per second to
PREFIX_stats_history.csv and the locustfile flushes it every second; the role
polls this in an `until` loop and a callback plugin prints the line on each retry.
"""

from __future__ import annotations

import time

from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_locust_csv import read_history_tail


def pid_running(pid):
    """Whether `pid` is a live process (a zombie or a missing PID is not)."""
    if not pid:
        return False
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="utf-8") as handle:
            stat = handle.read()
    except (OSError, ValueError):
        return False
    # state is the field after the parenthesised command name
    state = stat.rsplit(")", 1)[-1].split()[0] if ")" in stat else "?"
    return state not in ("Z", "X")


def _clock(seconds):
    seconds = max(int(seconds), 0)
    return f"{seconds // 60}:{seconds % 60:02d}"


def progress(scenario, prefix, pids=None, planned_s=0.0, now=None):
    """Progress of a scenario. `pids` are the Locust processes (master and workers) to watch."""
    now = time.time() if now is None else now
    running = any(pid_running(p) for p in (pids or []))
    last, first_t = read_history_tail(prefix)
    result = {
        "scenario": scenario,
        "running": running,
        "finished": not running,
        "elapsed_s": None,
        "planned_s": planned_s,
        "users": None,
        "rps": None,
        "p95_ms": None,
        "requests": 0,
        "failures": 0,
        "error_rate_pct": None,
    }
    if first_t is not None:
        result["elapsed_s"] = round(now - first_t, 1)
    if last is not None:
        result.update(
            users=last["users"],
            rps=round(last["rps"], 2),
            p95_ms=last["p95"],
            requests=last["requests"],
            failures=last["failures"],
            error_rate_pct=round(100.0 * last["failures"] / last["requests"], 2) if last["requests"] else 0.0,
        )
    result["line"] = format_line(result)
    return result


def format_line(p):
    elapsed = "starting" if p["elapsed_s"] is None else _clock(p["elapsed_s"])
    planned = f"/{_clock(p['planned_s'])}" if p.get("planned_s") else ""
    if p["rps"] is None:
        stats = "no requests yet"
    else:
        p95 = "n/a" if p["p95_ms"] is None else f"{p['p95_ms']:g} ms"
        stats = (
            f"users {p['users']} | {p['rps']:.1f} req/s | P95 {p95} | "
            f"errors {p['failures']} ({p['error_rate_pct']:.2f}%) of {p['requests']}"
        )
    state = "" if p["running"] else " | finished"
    return f"[loadtest {p['scenario']}] {elapsed}{planned} | {stats}{state}"
