# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Combine the scenarios' kpis.json files into the run's kpis.json and the SLO gate's verdict."""

from __future__ import annotations

from datetime import datetime, timezone

from ansible_collections.gpu_e2e.platform.plugins.module_utils.json_read import read_json
from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_errors import LoadtestError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_slo import violation_table

SCHEMA = "gpu_e2e.loadtest.run_kpis/v1"


def _load(path):
    return read_json(path, LoadtestError, "scenario KPIs")


def _headline(doc):
    client = doc.get("client") or {}
    server = doc.get("server") or {}
    lat = client.get("latency_ms") or {}
    return {
        "p50_ms": lat.get("p50"),
        "p95_ms": lat.get("p95"),
        "p99_ms": lat.get("p99"),
        "rps": client.get("rps"),
        "success_rps": client.get("success_rps"),
        "inferences_per_s": client.get("inferences_per_s"),
        "error_rate_pct": client.get("error_rate_pct"),
        "server_queue_ms_avg": server.get("queue_ms_avg"),
        "server_compute_infer_ms_avg": server.get("compute_infer_ms_avg"),
        "server_inferences_per_s": server.get("inferences_per_s"),
        "utilisation_avg_pct": (doc.get("utilisation") or {}).get("avg_pct"),
        "utilisation_label": (doc.get("utilisation") or {}).get("label"),
        "slo_passed": (doc.get("slo") or {}).get("passed"),
    }


def combine(kpis_files, enforce, notes=None):
    """The run's document: every scenario's KPIs, a headline table and the overall SLO verdict."""
    scenarios = {}
    violations = []
    for path in kpis_files:
        doc = _load(path)
        name = doc.get("scenario") or path
        scenarios[name] = doc
        violations.extend((doc.get("slo") or {}).get("violations") or [])
    table = violation_table(violations) if violations else []
    return {
        "schema": SCHEMA,
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),  # noqa: UP017 - pre-3.11 spelling
        "headline": {name: _headline(doc) for name, doc in scenarios.items()},
        "slo": {
            "enforced": bool(enforce),
            "passed": not violations,
            "violations": violations,
            "table": table,
        },
        "notes": list(notes or []),
        "scenarios": scenarios,
    }
