# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server-side KPIs of a scenario from Triton's counters.

The counters (Triton's names; a prometheus_client-based runtime appends
`_total`) are read at the start and at the end of the scenario's window and
subtracted: from Prometheus (instant queries at both times) or, as a fallback
when Prometheus is not available, from two scrapes of the runtime's /metrics
text taken by the role around the scenario. Both give the same figures:

  queue time / request    = d(nv_inference_queue_duration_us) / d(nv_inference_request_success)
  compute time / request  = d(nv_inference_compute_infer_duration_us) / d(success)
  inferences/s            = d(nv_inference_count) / window
  average batch size      = d(nv_inference_count) / d(nv_inference_exec_count)

Utilisation: locally the host CPU Triton reports (nv_cpu_utilization, Triton
2.51's CPU metric: a gauge, the busy share of all cores, sampled every metrics
interval; tritonserver exports no process CPU counter), averaged over the window
by Prometheus; on aws the GPU (DCGM_FI_DEV_GPU_UTIL from the DCGM exporter, not
Triton's nv_gpu_utilization, so one name serves every node of the GPU group).
"""

from __future__ import annotations

from ansible_collections.gpu_e2e.platform.plugins.module_utils import prometheus_api
from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_errors import LoadtestError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.triton_metrics import TRITON_COUNTERS

COUNTERS = TRITON_COUNTERS
CPU_GAUGE = "nv_cpu_utilization"
GPU_GAUGE = "DCGM_FI_DEV_GPU_UTIL"


# ---------------------------------------------------------------- text scrapes
def parse_exposition(text):
    """Prometheus text format -> {metric name: [(labels dict, value)]} (prometheus_client's parser)."""
    try:
        return prometheus_api.parse_exposition(text)
    except (prometheus_api.PrometheusUnreachable, ValueError) as exc:
        raise LoadtestError(f"cannot read the /metrics scrape: {exc}") from exc


def resolve_name(base, available):
    """The name a server really exports for a Triton counter: `base` or `base_total`."""
    for name in (base, f"{base}_total"):
        if name in available:
            return name
    return None


def _sum_for_model(samples, name, model):
    values = [v for labels, v in samples.get(name, []) if not model or labels.get("model") == model]
    return sum(values) if values else None


def counters_from_text(text, model):
    """{base name: value} of the Triton counters in one /metrics scrape, plus the host CPU gauge (0..1)."""
    try:
        samples = parse_exposition(text)
    except LoadtestError:
        return {}  # an unreadable page holds no counters: server_figures names each one missing
    values = {}
    for base in COUNTERS:
        name = resolve_name(base, samples)
        if name is not None:
            value = _sum_for_model(samples, name, model)
            if value is not None:
                values[base] = value
    if CPU_GAUGE in samples:
        values[CPU_GAUGE] = max(v for _labels, v in samples[CPU_GAUGE])
    return values


# ------------------------------------------------------------------- Prometheus
class Prometheus:
    """The counters' view of Prometheus (prometheus_api's client); every failure is a LoadtestError."""

    def __init__(self, url, timeout=5.0, opener=None):
        self.url = url.rstrip("/")
        self._api = prometheus_api.PrometheusApi(url, opener=opener, timeout=timeout)

    def _get(self, path, params=None):
        try:
            return self._api.get(path, params)
        except prometheus_api.PrometheusUnreachable as exc:
            raise LoadtestError(f"Prometheus at {self.url} did not answer {path}: {exc}") from exc
        except prometheus_api.PrometheusQueryError as exc:
            raise LoadtestError(f"Prometheus query failed: {exc}") from exc

    def metric_names(self):
        return set(self._get("/api/v1/label/__name__/values"))

    def scalar(self, expr, at):
        """Value of a query that returns at most one series, or None for an empty result."""
        data = self._get("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})
        result = data.get("result") or []
        if not result:
            return None
        return float(result[0]["value"][1])

    def series(self, expr, start, end, step=1.0):
        """[[epoch, value], ...] of a query that returns one series."""
        data = self._get(
            "/api/v1/query_range", {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step}"}
        )
        result = data.get("result") or []
        if not result:
            return []
        return [[float(t), float(v)] for t, v in result[0]["values"]]


def _selector(name, labels):
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if v)
    return f"{name}{{{inner}}}" if inner else name


def counters_from_prometheus(prom, names, model, at, lookback_s=300):
    """{base name: value} of the Triton counters at time `at` (summed over versions).

    last_over_time() takes the last sample within the lookback, so the end of a window still has
    values when the runtime died during the scenario (its series are then marked stale).
    """
    values = {}
    lookback = f"{max(int(lookback_s), 1)}s"
    for base in COUNTERS:
        name = resolve_name(base, names)
        if name is None:
            continue
        value = prom.scalar(f"sum(last_over_time({_selector(name, {'model': model})}[{lookback}]))", at)
        if value is not None:
            values[base] = value
    return values


# ---------------------------------------------------------------------- figures
def server_figures(before, after, duration_s):
    """Server-side KPIs from counter values at the start and the end of the window.

    Returns (figures, missing): `missing` maps each KPI that cannot be computed to why.
    """
    figures = {}
    missing = {}
    delta = {}
    for base in COUNTERS:
        if base in before and base in after:
            diff = after[base] - before[base]
            if diff < 0:
                missing[base] = "the counter went backwards during the window (the server restarted)"
                continue
            delta[base] = diff

    def need(kpi, *bases):
        absent = [b for b in bases if b not in delta and b not in missing]
        if absent:
            missing[kpi] = f"the server does not export {', '.join(absent)}"
            return False
        return all(b in delta for b in bases)

    duration_s = max(float(duration_s), 1e-9)
    if need("requests_success", "nv_inference_request_success"):
        figures["requests_success"] = int(delta["nv_inference_request_success"])
        figures["rps"] = round(delta["nv_inference_request_success"] / duration_s, 3)
    if need("requests_failure", "nv_inference_request_failure"):
        figures["requests_failure"] = int(delta["nv_inference_request_failure"])
    if need("inferences_per_s", "nv_inference_count"):
        figures["inferences"] = int(delta["nv_inference_count"])
        figures["inferences_per_s"] = round(delta["nv_inference_count"] / duration_s, 3)
    if need("avg_batch_size", "nv_inference_count", "nv_inference_exec_count"):
        execs = delta["nv_inference_exec_count"]
        figures["executions"] = int(execs)
        figures["avg_batch_size"] = round(delta["nv_inference_count"] / execs, 3) if execs else None
    success = delta.get("nv_inference_request_success")
    for kpi, base in (
        ("request_ms_avg", "nv_inference_request_duration_us"),
        ("queue_ms_avg", "nv_inference_queue_duration_us"),
        ("compute_input_ms_avg", "nv_inference_compute_input_duration_us"),
        ("compute_infer_ms_avg", "nv_inference_compute_infer_duration_us"),
        ("compute_output_ms_avg", "nv_inference_compute_output_duration_us"),
    ):
        if need(kpi, base, "nv_inference_request_success"):
            figures[kpi] = round(delta[base] / success / 1000.0, 4) if success else None
    return figures, missing


def utilisation_queries(kind, runtime_selector, window_s):
    """(metric name, instant query of the window's average, range query) of a utilisation kind."""
    window = f"{max(int(window_s), 1)}s"
    if kind == "gpu":
        return GPU_GAUGE, f"avg(avg_over_time({GPU_GAUGE}[{window}]))", f"avg({GPU_GAUGE})"
    sel = "{" + runtime_selector + "}" if runtime_selector else ""
    return (
        CPU_GAUGE,
        f"100 * max(avg_over_time({CPU_GAUGE}{sel}[{window}]))",
        f"100 * max({CPU_GAUGE}{sel})",
    )
