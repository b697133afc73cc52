# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Assemble one scenario's kpis.json: client side (Locust), server side (Triton
counters via Prometheus, else via /metrics scrapes), utilisation, per-stage
figures, the sweep's knee, error spikes and SLO verdicts.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone

from ansible_collections.gpu_e2e.platform.plugins.module_utils import loadtest_locust_csv as lcsv
from ansible_collections.gpu_e2e.platform.plugins.module_utils.atomic_write import write_atomic
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import read_text
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import text_file
from ansible_collections.gpu_e2e.platform.plugins.module_utils.json_read import read_json
from ansible_collections.gpu_e2e.platform.plugins.module_utils import loadtest_server_metrics as srv
from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_errors import LoadtestError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_knee import find_knee
from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_slo import evaluate

SCHEMA = "gpu_e2e.loadtest.kpis/v1"


def iso(epoch):
    return datetime.fromtimestamp(float(epoch), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"  # noqa: UP017 - pre-3.11 spelling


def active_window(history, start, end):
    """(first, last) epoch seconds during which Locust had users, from its per-second history.

    The scenario's window (start, end) also holds Locust's start-up and the last poll; rates and
    utilisation averages use the active part. Falls back to (start, end).
    """
    active = [p["t"] for p in history if p["users"] > 0]
    if len(active) >= 2:
        return float(active[0]), float(active[-1] + 1)
    return float(start), max(float(end), float(start) + 1e-9)


def client_kpis(prefix, history, start, end, batch_size):
    client = lcsv.read_aggregated(prefix)
    first, last = active_window(history, start, end)
    duration = last - first
    success = client["requests"] - client["failures"]
    client["source"] = "locust (Aggregated row of the stats CSV)"
    client["duration_s"] = round(duration, 3)
    client["success_rps"] = round(success / duration, 3)
    client["inferences_per_s"] = round(success * batch_size / duration, 3)
    client["batch_size"] = batch_size
    return client


def _read_text(path):
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def server_side(opts, start, end, active):
    """(server dict, utilisation dict, missing dict).

    Counters are read at the scenario's start and end (nothing is lost); rates and the
    utilisation average use the `active` (first, last) part of the window.
    """
    duration = active[1] - active[0]
    missing = {}
    utilisation = {
        "kind": opts["utilisation"],
        "label": (
            "GPU utilisation (DCGM_FI_DEV_GPU_UTIL, %)"
            if opts["utilisation"] == "gpu"
            else "host CPU utilisation reported by Triton (nv_cpu_utilization, % of all cores; CPU, not GPU)"
        ),
        "avg_pct": None,
        "max_pct": None,
        "series": [],
        "source": None,
    }
    prom_reason = None
    if opts.get("prometheus_url"):
        prom = srv.Prometheus(opts["prometheus_url"], timeout=opts.get("prometheus_timeout", 5.0),
                              opener=opts.get("opener"))
        wait = float(end) + float(opts.get("prometheus_lag_s", 2.0)) - time.time()
        if wait > 0:
            time.sleep(min(wait, 30.0))  # let the last scrape of the window land
        try:
            names = prom.metric_names()
            lookback = max(float(end) - float(start), 60.0) + 5.0
            before = srv.counters_from_prometheus(prom, names, opts["model"], float(start), lookback)
            # The end values are read `lag` after the end: the last requests' scrape has landed by then,
            # and nothing else runs before this module returns.
            after_at = min(float(end) + float(opts.get("prometheus_lag_s", 2.0)), time.time())
            after = srv.counters_from_prometheus(prom, names, opts["model"], after_at, lookback)
            if after and not before:
                prom_reason = (
                    f"Prometheus at {opts['prometheus_url']} had no Triton samples at the start of the window "
                    "(its scraping of the runtime began later)"
                )
            elif not after:
                prom_reason = (
                    f"Prometheus at {opts['prometheus_url']} has no Triton counters (nv_inference_*) "
                    f"for model {opts['model']!r}: is the runtime's metrics endpoint scraped?"
                )
            else:
                figures, gaps = srv.server_figures(before, after, duration)
                server = {"source": f"prometheus ({opts['prometheus_url']})", **figures}
                missing.update({f"server.{k}": v for k, v in gaps.items()})
                _prom_utilisation(prom, names, opts, active, (start, end), utilisation, missing)
                return server, utilisation, missing
        except LoadtestError as exc:
            prom_reason = str(exc)
    else:
        prom_reason = "no Prometheus URL (prometheus_url is empty: the observability stage did not start Prometheus)"

    before_text, after_text = _read_text(opts.get("metrics_before")), _read_text(opts.get("metrics_after"))
    if before_text is not None and after_text is not None:
        before = srv.counters_from_text(before_text, opts["model"])
        after = srv.counters_from_text(after_text, opts["model"])
        figures, gaps = srv.server_figures(before, after, duration)
        server = {"source": f"tritonserver /metrics scraped before and after the scenario ({prom_reason})", **figures}
        missing.update({f"server.{k}": v for k, v in gaps.items()})
        if opts["utilisation"] == "cpu":
            missing["utilisation"] = (f"nv_cpu_utilization is a gauge: its average over the window needs "
                                      f"Prometheus ({prom_reason})")
        else:
            missing["utilisation"] = f"GPU utilisation needs Prometheus with the DCGM exporter ({prom_reason})"
        return server, utilisation, missing

    missing["server"] = f"no server-side figures: {prom_reason}; and no /metrics scrapes of the runtime were taken"
    missing["utilisation"] = f"no utilisation figures: {prom_reason}"
    return {"source": None}, utilisation, missing


def _prom_utilisation(prom, names, opts, active, span, utilisation, missing):
    start, end = active
    window = max(int(round(end - start)), 1)
    name, avg_q, series_q = srv.utilisation_queries(opts["utilisation"], opts.get("runtime_selector"), window)
    if name not in names:
        missing["utilisation"] = (
            f"Prometheus has no {name}"
            + (" (is the DCGM exporter scraped?)" if opts["utilisation"] == "gpu" else " from the runtime")
        )
        return
    try:
        utilisation["avg_pct"] = _round(prom.scalar(avg_q, float(end)))
        utilisation["series"] = [[t, round(v, 2)] for t, v in prom.series(series_q, span[0], span[1], 1.0)]
    except LoadtestError as exc:
        missing["utilisation"] = str(exc)
        return
    utilisation["max_pct"] = max((v for _t, v in utilisation["series"]), default=None)
    utilisation["source"] = "prometheus: " + avg_q
    if utilisation["avg_pct"] is None:
        missing["utilisation"] = f"Prometheus returned no {name} samples for the window"


def _round(value, digits=2):
    return None if value is None else round(value, digits)


def side_by_side(client, server):
    """Client- and server-side figures of the same quantity, in one list."""
    lat = client.get("latency_ms") or {}
    rows = [
        ("successful requests/s", client.get("success_rps"), server.get("rps")),
        ("inferences/s", client.get("inferences_per_s"), server.get("inferences_per_s")),
        ("failed requests", client.get("failures"), server.get("requests_failure")),
        ("average latency (ms)", lat.get("avg"), server.get("request_ms_avg")),
        ("queue time (ms, avg)", None, server.get("queue_ms_avg")),
        ("compute infer time (ms, avg)", None, server.get("compute_infer_ms_avg")),
    ]
    out = [{"kpi": kpi, "client": c, "server": s} for kpi, c, s in rows]
    if lat.get("avg") is not None and server.get("request_ms_avg") is not None:
        out.append(
            {
                "kpi": "client-only overhead (ms, avg): network, HTTP, load generator",
                "client": round(lat["avg"] - server["request_ms_avg"], 3),
                "server": None,
            }
        )
    return out


def read_stages(path):
    if not path or not os.path.exists(path):
        return None
    return read_json(path, LoadtestError, "the stage statistics")


def build(opts):
    """Build the kpis document of one scenario from the options of the loadtest_kpis module."""
    prefix = opts["csv_prefix"]
    if not os.path.exists(f"{prefix}_stats.csv"):
        log = _read_text(f"{prefix}.log") or ""
        tail = " | ".join(log.strip().splitlines()[-5:])
        raise LoadtestError(
            f"Locust wrote no results ({prefix}_stats.csv is missing): it did not start or crashed"
            + (f"; last lines of {prefix}.log: {tail}" if tail else "")
        )
    start, end = float(opts["start"]), float(opts["end"])
    history = lcsv.read_history(prefix)
    client = client_kpis(prefix, history, start, end, opts["batch_size"])
    active = active_window(history, start, end)
    server, utilisation, missing = server_side(opts, start, end, active)
    stages_doc = read_stages(opts.get("stages_file"))
    stages = (stages_doc or {}).get("stages") or []
    if stages_doc is None:
        missing["stages"] = "no per-stage statistics (the Locust master wrote no stages file)"
    doc = {
        "schema": SCHEMA,
        "scenario": opts["scenario"],
        "shape": opts.get("shape"),
        "platform_target": opts["platform_target"],
        "model": opts["model"],
        "target_url": opts.get("target_url"),
        "window": {"start": iso(start), "end": iso(end), "start_epoch": start, "end_epoch": end,
                   "duration_s": round(end - start, 3), "active_start": iso(active[0]), "active_end": iso(active[1]),
                   "active_s": round(active[1] - active[0], 3)},
        "client": client,
        "server": server,
        "side_by_side": side_by_side(client, server),
        "utilisation": utilisation,
        "stages": stages,
        "errors": lcsv.read_failures(prefix),
        "error_spikes": [
            {**s, "start_iso": iso(s["start"]), "end_iso": iso(s["end"])}
            for s in lcsv.error_spikes(history, opts.get("spike_min_failures_per_s", 1.0),
                                       opts.get("spike_min_share_pct", 5.0))
        ],
        "missing": missing,
        "grafana_snapshots": list(opts.get("grafana_snapshots") or []),
        "notes": list(opts.get("notes") or []),
    }
    if not doc["grafana_snapshots"] and opts["platform_target"] == "local":
        doc["notes"].append("No Grafana locally: the PNG plots in this directory stand in for Grafana snapshots.")
    if opts.get("shape") == "sweep":
        points = [
            {"users": s["users"], "rps": s["rps"], "p95_ms": s["latency_ms"]["p95"], "p99_ms": s["latency_ms"]["p99"],
             "error_rate_pct": s["error_rate_pct"]}
            for s in stages
        ]
        doc["sweep"] = {"points": points, "knee": find_knee(points, opts.get("knee_min_gain", 0.10))}
    targets = opts.get("slo_targets") or {}
    results = evaluate(client, targets) if opts.get("slo_enabled", True) else []
    doc["slo"] = {
        "judged": bool(opts.get("slo_enabled", True)),
        "targets": targets,
        "results": results,
        "passed": all(r["passed"] for r in results),
        "violations": [dict(r, scenario=opts["scenario"]) for r in results if not r["passed"]],
    }
    return doc


def write_json(path, doc, check_mode=False, diffs=None):
    """Write `doc` as JSON; return whether the file changed (or would, in check mode).

    The change (before/after text) is appended to `diffs` when given.
    """
    text = json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n"
    try:
        before = read_text(path)
    except OSError:
        before = None
    if before == text:
        return False
    if diffs is not None:
        diffs.append(text_file(path, before, text))
    if check_mode:
        return True
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise LoadtestError(f"directory {directory} does not exist")
    write_atomic(path, text, make_dirs=False)
    return True
