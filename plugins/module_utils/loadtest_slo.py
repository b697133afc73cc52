# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SLO targets: validation (preflight), verdicts per scenario, and the violation table.

Targets (inventory): slo_p95_ms (client P95 latency, upper bound),
slo_error_rate_pct (client error %, upper bound) and slo_min_throughput_rps
(client successful requests/s, lower bound: failed requests are no throughput).
They are judged on client-side figures: the SLO is what a caller sees, network
and HTTP included.
"""

from __future__ import annotations

import re

# key -> (label, client KPI path, comparison)
SLOS = {
    "p95_ms": ("P95 latency (ms)", ("latency_ms", "p95"), "<="),
    "error_rate_pct": ("error rate (%)", ("error_rate_pct",), "<="),
    "min_throughput_rps": ("throughput (successful req/s)", ("success_rps",), ">="),
}
INVENTORY_NAMES = {
    "p95_ms": "slo_p95_ms",
    "error_rate_pct": "slo_error_rate_pct",
    "min_throughput_rps": "slo_min_throughput_rps",
}
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def target_problem(name, value):
    """A one-line problem with one SLO target, or None when it is a non-negative number."""
    if isinstance(value, bool) or value is None or not _NUMBER.match(str(value).strip()):
        return f"{name} must be a non-negative number, got {value!r}"
    number = float(str(value).strip())
    if number < 0:
        return f"{name} must not be negative, got {value!r}"
    if name.endswith("error_rate_pct") and number > 100:
        return f"{name} is a percentage and must be <= 100, got {value!r}"
    return None


def target_problems(targets):
    """Problems of a {inventory name: value} dict of targets (empty when valid)."""
    return [p for p in (target_problem(name, value) for name, value in targets.items()) if p]


def _dig(doc, path):
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def evaluate(client, targets):
    """Verdict of each SLO for one scenario's client-side KPIs.

    `targets` maps p95_ms / error_rate_pct / min_throughput_rps to numbers (None: not judged).
    A KPI that could not be measured (no requests at all) fails its SLO.
    """
    results = []
    for key, (label, path, comparison) in SLOS.items():
        target = targets.get(key)
        if target is None:
            continue
        target = float(target)
        measured = _dig(client, path)
        if measured is None:
            passed = False
        elif comparison == "<=":
            passed = measured <= target
        else:
            passed = measured >= target
        results.append(
            {
                "slo": INVENTORY_NAMES[key],
                "kpi": label,
                "comparison": comparison,
                "target": target,
                "measured": measured,
                "passed": passed,
            }
        )
    return results


def _fmt(value):
    if value is None:
        return "n/a (no data)"
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)


def violation_table(violations):
    """A small fixed-width table: scenario | KPI | target | measured."""
    rows = [("scenario", "KPI", "target", "measured")]
    for v in violations:
        rows.append((v["scenario"], v["kpi"], f"{v['comparison']} {_fmt(v['target'])}", _fmt(v["measured"])))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines
