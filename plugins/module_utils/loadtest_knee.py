# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The knee of a concurrency sweep (throughput vs latency), as perf_analyzer users read it.

Each sweep step gives (concurrency, throughput, P95). Adding concurrency first
raises throughput almost linearly; past the server's capacity it only adds
queueing latency. The knee is the last step whose next step still raised
throughput by at least `min_gain` (10 % by default): beyond it, more
concurrency buys latency, not throughput. When every step still gains, there
is no knee within the sweep and the last step is reported as such.
"""

from __future__ import annotations


def find_knee(points, min_gain=0.10):
    """Return {"index", "users", "rps", "p95_ms", "reason", "within_range"} or None without usable points.

    `points` are dicts with users, rps and p95_ms (the sweep's steps, any order).
    """
    usable = sorted((p for p in points if p.get("rps") is not None and p.get("users")), key=lambda p: p["users"])
    if not usable:
        return None
    for index in range(len(usable) - 1):
        here, nxt = usable[index], usable[index + 1]
        gain = (nxt["rps"] - here["rps"]) / here["rps"] if here["rps"] > 0 else float("inf")
        if gain < min_gain:
            latency = ""
            if here.get("p95_ms") is not None and nxt.get("p95_ms") is not None:
                latency = f" while P95 went {here['p95_ms']:g} -> {nxt['p95_ms']:g} ms"
            return {
                "index": index,
                "users": here["users"],
                "rps": here["rps"],
                "p95_ms": here.get("p95_ms"),
                "within_range": True,
                "reason": (
                    f"going from {here['users']} to {nxt['users']} users raised throughput by "
                    f"{gain * 100:.1f}% (< {min_gain * 100:g}%){latency}"
                ),
            }
    last = usable[-1]
    return {
        "index": len(usable) - 1,
        "users": last["users"],
        "rps": last["rps"],
        "p95_ms": last.get("p95_ms"),
        "within_range": False,
        "reason": f"throughput still rose by >= {min_gain * 100:g}% at every step: no knee up to {last['users']} users",
    }
