# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PNG plots of one scenario (matplotlib, Agg backend, no display needed).

latency.png      current P50/P95/P99 over time, users on a second axis
throughput.png   requests/s and failures/s over time, users on a second axis
utilisation.png  runtime CPU % (local) or GPU % (aws) over time, when Prometheus gave a series
sweep.png        the sweep's throughput vs P95 curve with its knee (sweep only)

Each plot is drawn into memory first and written only when its bytes differ from the file's (Agg's
PNG output carries no timestamp, so the same data draws the same bytes). That makes a re-run report
no change, and lets check mode say exactly which files would change without writing any.
"""

from __future__ import annotations

import io
import json
import os

from ansible_collections.gpu_e2e.platform.plugins.module_utils.atomic_write import write_atomic
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import binary_file
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import combined
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import read_bytes
from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_errors import LoadtestError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_kpis import write_json
from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_locust_csv import read_history

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    HAS_MATPLOTLIB = True
    MATPLOTLIB_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_MATPLOTLIB = False
    MATPLOTLIB_IMPORT_ERROR = exc


def _elapsed(points, key="t"):
    if not points:
        return []
    t0 = points[0][key] if isinstance(points[0], dict) else points[0][0]
    return [(p[key] if isinstance(p, dict) else p[0]) - t0 for p in points]


def _save(fig, path):
    """(path, PNG bytes) of the figure; nothing is written here."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return path, buffer.getvalue()


def _users_axis(ax, xs, history):
    twin = ax.twinx()
    twin.step(xs, [p["users"] for p in history], where="post", color="grey", alpha=0.5, label="users")
    twin.set_ylabel("users (concurrency)")
    twin.set_ylim(bottom=0)
    twin.yaxis.set_major_locator(MaxNLocator(integer=True))
    return twin


def latency_plot(history, title, path):
    fig, ax = plt.subplots(figsize=(9, 4.5))
    xs = _elapsed(history)
    for key, style in (("p50", "-"), ("p95", "-"), ("p99", ":")):
        ax.plot(xs, [p[key] for p in history], style, label=key.upper())
    ax.set_xlabel("elapsed (s)")
    ax.set_ylabel("latency (ms), client side, ~10 s window")
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    _users_axis(ax, xs, history)
    ax.legend(loc="upper left")
    return _save(fig, path)


def throughput_plot(history, title, path, batch_size=1):
    fig, ax = plt.subplots(figsize=(9, 4.5))
    xs = _elapsed(history)
    ax.plot(xs, [p["rps"] for p in history], label="requests/s")
    if batch_size > 1:
        ax.plot(xs, [(p["rps"] - p["failures_per_s"]) * batch_size for p in history], label="inferences/s")
    ax.plot(xs, [p["failures_per_s"] for p in history], color="red", label="failures/s")
    ax.set_xlabel("elapsed (s)")
    ax.set_ylabel("per second, client side")
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    _users_axis(ax, xs, history)
    ax.legend(loc="upper left")
    return _save(fig, path)


def utilisation_plot(utilisation, title, path):
    series = utilisation.get("series") or []
    fig, ax = plt.subplots(figsize=(9, 4.5))
    xs = _elapsed(series)
    ax.plot(xs, [v for _t, v in series], color="tab:green", label=utilisation.get("label") or "utilisation")
    ax.set_xlabel("elapsed (s)")
    ax.set_ylabel("%" + (" of one core" if utilisation.get("kind") == "cpu" else ""))
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return _save(fig, path)


def sweep_plot(sweep, title, path):
    points = sorted(sweep.get("points") or [], key=lambda p: p["users"])
    points = [p for p in points if p.get("rps") is not None and p.get("p95_ms") is not None]
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.plot([p["rps"] for p in points], [p["p95_ms"] for p in points], "o-", label="P95 per concurrency step")
    for p in points:
        ax.annotate(f"c={p['users']}", (p["rps"], p["p95_ms"]), textcoords="offset points", xytext=(5, 5))
    knee = sweep.get("knee")
    if knee and knee.get("p95_ms") is not None:
        label = "knee" if knee.get("within_range") else "no knee in range (last step)"
        ax.plot([knee["rps"]], [knee["p95_ms"]], "r*", markersize=16, label=f"{label}: c={knee['users']}")
    ax.set_xlabel("throughput (requests/s)")
    ax.set_ylabel("P95 latency (ms)")
    ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return _save(fig, path)


def render(kpis, history, dest_dir, label):
    """Draw the scenario's plots for dest_dir in memory; return {kind: (path, PNG bytes)} and {kind: why not}."""
    if not HAS_MATPLOTLIB:
        raise LoadtestError(f"matplotlib is required for the plots: {MATPLOTLIB_IMPORT_ERROR}")
    if not os.path.isdir(dest_dir):
        raise LoadtestError(f"directory {dest_dir} does not exist")
    scenario = kpis.get("scenario", "scenario")
    plots, skipped = {}, {}
    if history:
        plots["latency"] = latency_plot(history, f"{scenario}: latency percentiles ({label})",
                                        os.path.join(dest_dir, "latency.png"))
        plots["throughput"] = throughput_plot(
            history, f"{scenario}: throughput ({label})", os.path.join(dest_dir, "throughput.png"),
            batch_size=int((kpis.get("client") or {}).get("batch_size") or 1),
        )
    else:
        skipped["latency"] = skipped["throughput"] = "Locust wrote no history rows"
    utilisation = kpis.get("utilisation") or {}
    if utilisation.get("series"):
        plots["utilisation"] = utilisation_plot(
            utilisation, f"{scenario}: {utilisation.get('label', 'utilisation')}",
            os.path.join(dest_dir, "utilisation.png"),
        )
    else:
        skipped["utilisation"] = (kpis.get("missing") or {}).get(
            "utilisation.series", (kpis.get("missing") or {}).get("utilisation", "no utilisation series")
        )
    if kpis.get("sweep"):
        plots["sweep"] = sweep_plot(kpis["sweep"], f"{scenario}: throughput vs P95 latency ({label})",
                                    os.path.join(dest_dir, "sweep.png"))
    return plots, skipped


def write_png(path, data, check_mode=False, diffs=None):
    """Write ``data`` to ``path`` unless it holds those bytes; True when it changed (or would)."""
    try:
        before = read_bytes(path)
    except OSError as exc:
        raise LoadtestError(f"cannot read {path}: {exc}") from exc
    if before == data:
        return False
    if diffs is not None:
        diffs.append(binary_file(path, before, data))
    if not check_mode:
        try:
            write_atomic(path, data, make_dirs=False)
        except OSError as exc:
            raise LoadtestError(f"cannot write {path}: {exc}") from exc
    return True


def draw(kpis_file, csv_prefix, dest_dir, label, check_mode=False):
    """Draw the plots of the scenario whose kpis.json is `kpis_file`, and record them in it.

    Returns the module's result: changed (a PNG or kpis.json differs, or would), plots {kind: path},
    skipped {kind: why} and diff (one entry per file that changes). Check mode draws in memory and
    compares, writing nothing.
    """
    try:
        with open(kpis_file, encoding="utf-8") as handle:
            kpis = json.load(handle)
    except (OSError, ValueError) as exc:
        raise LoadtestError(f"cannot read {kpis_file}: {exc}") from exc
    drawn, skipped = render(kpis, read_history(csv_prefix), dest_dir, label)
    changed = False
    diffs = []
    for path, data in drawn.values():
        changed |= write_png(path, data, check_mode, diffs)
    plots = {kind: path for kind, (path, _data) in drawn.items()}
    kpis["plots"] = plots
    missing = kpis.setdefault("missing", {})
    for kind, why in skipped.items():
        missing[f"plots.{kind}"] = why
    changed |= write_json(kpis_file, kpis, check_mode=check_mode, diffs=diffs)
    return {"changed": changed, "plots": plots, "skipped": skipped, "diff": combined(diffs)}
