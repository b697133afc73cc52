# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Grafana dashboards as code: the one source of the GPU, Inference and Cluster dashboards.

The dashboards are built with grafana-foundation-sdk's builders and encoded with its JSON
encoder; nothing here is hand-edited JSON. The same dashboards are written as JSON files
(local profile: the run directory) and wrapped in ConfigMaps carrying the Grafana sidecar
label (aws profile: kube-prometheus-stack's Grafana picks them up).

Every PromQL expression uses only metric names in METRIC_SOURCES: what NVIDIA Triton
(2.51 locally, the 25.03 image on EKS: the same names; tests check them against a
capture of the local server), the DCGM exporter and kube-state-metrics really emit.
"""

import hashlib
import json
import os
import re

from ansible_collections.gpu_e2e.platform.plugins.module_utils import triton_metrics
from ansible_collections.gpu_e2e.platform.plugins.module_utils.atomic_write import write_atomic
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import combined
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import read_text
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import text_file

try:
    from grafana_foundation_sdk.builders import common as gf_common_builders
    from grafana_foundation_sdk.builders import dashboard as gf_dashboard
    from grafana_foundation_sdk.builders import prometheus as gf_prometheus
    from grafana_foundation_sdk.builders import timeseries as gf_timeseries
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import common as gf_common
    from grafana_foundation_sdk.models import dashboard as gf_models

    HAS_GRAFANA_SDK = True
    GRAFANA_SDK_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by ansible-test's import sanity test
    HAS_GRAFANA_SDK = False
    GRAFANA_SDK_IMPORT_ERROR = exc

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover
    HAS_YAML = False


class DashboardError(Exception):
    """The one error raised by this module's logic."""


# Metric names each exporter really emits (the allow-list the tests hold every query to).
# NVIDIA Triton Inference Server (docs: user_guide/metrics.md), labels model and version. The
# summaries need `--metrics-config summary_latencies=true`, which the role's one flag list passes on both
# profiles. nv_inference_request_failure carries a `reason` label (OTHER, BACKEND, CANCELED, REJECTED) in
# 2.51 and 25.03 alike: queries sum over it. GPU: the DCGM exporter's names, not Triton's nv_gpu_* (the
# DCGM exporter covers every GPU node, also without a Triton pod on it); locally Triton's CPU metrics.
TRITON_COUNTERS = frozenset(triton_metrics.TRITON_COUNTERS)
METRIC_SOURCES = {
    "triton": TRITON_COUNTERS
    | {
        "nv_inference_pending_request_count",
        "nv_inference_request_summary_us",
        "nv_inference_queue_summary_us",
        "nv_inference_compute_input_summary_us",
        "nv_inference_compute_infer_summary_us",
        "nv_inference_compute_output_summary_us",
        "nv_cpu_utilization",
    },
    # NVIDIA DCGM exporter, default counters (labels gpu, UUID, Hostname, modelName...).
    "dcgm": frozenset(
        {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_POWER_USAGE"}
    ),
    # kube-state-metrics v2 (node labels need metricLabelsAllowlist, set in the chart values).
    "kube_state_metrics": frozenset(
        {
            "kube_node_info",
            "kube_node_labels",
            "kube_node_status_condition",
            "kube_node_status_allocatable",
            "kube_node_spec_unschedulable",
            "kube_pod_status_phase",
            "kube_pod_status_ready",
        }
    ),
}
ALLOWED_METRICS = frozenset().union(*METRIC_SOURCES.values())

DASHBOARD_UIDS = ("gpu-e2e-gpu", "gpu-e2e-inference", "gpu-e2e-cluster")
DEFAULT_CONFIGMAP_LABELS = {"grafana_dashboard": "1"}

# The test substitutes these to parse expressions outside Grafana.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$model": ".*", "$namespace": ".*", "$node": ".*"}


# --- PromQL helpers ---------------------------------------------------------------------------


def model_rate(name):
    """Per-model rate of a Triton counter."""
    if name not in TRITON_COUNTERS:
        raise DashboardError(f"{name} is not a Triton counter in the allow-list")
    return f'sum by (model) (rate({name}{{model=~"$model"}}[$__rate_interval]))'


def per_request_ms(duration_counter):
    """Average milliseconds per successful request from a cumulative microseconds counter."""
    return f"{model_rate(duration_counter)} / 1000 / {model_rate('nv_inference_request_success')}"


# Identifiers in a PromQL expression that are not metric names.
_PROMQL_WORDS = frozenset(
    """sum min max avg count stddev stdvar topk bottomk quantile count_values group by without on ignoring
    group_left group_right bool and or unless offset rate irate increase delta idelta deriv changes resets
    clamp clamp_min clamp_max abs ceil floor round sqrt exp ln log2 log10 histogram_quantile label_replace
    label_join vector scalar time timestamp sort sort_desc absent absent_over_time avg_over_time max_over_time
    min_over_time sum_over_time count_over_time last_over_time present_over_time quantile_over_time""".split()
)


def metric_names(expr):
    """The metric names an expression reads (identifiers outside strings, label matchers and groupings)."""
    names = set(re.findall(r'__name__\s*=\s*"([^"]+)"', expr))
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # drop string literals
    stripped = re.sub(r"\{[^}]*\}", "{}", stripped)  # drop label matchers
    stripped = re.sub(r"\[[^\]]*\]", "[]", stripped)  # drop range selectors
    stripped = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", stripped)
    for token in re.findall(r"(?<![\w.$])([A-Za-z_:][\w:]*)", stripped):
        if token not in _PROMQL_WORDS and not re.fullmatch(r"\d+[smhdwy]", token):
            names.add(token)
    return names


# --- builders ---------------------------------------------------------------------------------


def _datasource_ref():
    return gf_models.DataSourceRef(type_val="prometheus", uid="${datasource}")


def _query(expr, legend, ref_id):
    return gf_prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref_id).datasource(_datasource_ref())


def _panel(title, description, unit, queries, width=12, height=8, stacked=False, minimum=None):
    panel = (
        gf_timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(_datasource_ref())
        .unit(unit)
        .span(width)
        .height(height)
        .fill_opacity(10)
        .line_width(1)
        .legend(_legend())
    )
    if minimum is not None:
        panel = panel.min(minimum)
    if stacked:
        panel = panel.stacking(_stacking())
    for index, (expr, legend) in enumerate(queries):
        panel = panel.with_target(_query(expr, legend, chr(ord("A") + index)))
    return panel


def _legend():
    return (
        gf_common_builders.VizLegendOptions()
        .display_mode(gf_common.LegendDisplayMode.TABLE)
        .placement(gf_common.LegendPlacement.BOTTOM)
        .show_legend(True)
        .calcs(["mean", "max", "lastNotNull"])
    )


def _stacking():
    return gf_common_builders.StackingConfig().mode(gf_common.StackingMode.NORMAL)


def _annotations(annotation_tags):
    queries = [
        gf_dashboard.AnnotationQuery()
        .name("Annotations & Alerts")
        .datasource(gf_models.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
        .enable(True)
        .hide(True)
        .icon_color("rgba(0, 211, 255, 1)")
        .type("dashboard")
    ]
    if annotation_tags:
        queries.append(
            gf_dashboard.AnnotationQuery()
            .name("Run events (load tests, SLO breaches, node events)")
            .datasource(gf_models.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
            .enable(True)
            .icon_color("orange")
            .target(gf_dashboard.AnnotationTarget().limit(500).match_any(True).tags(list(annotation_tags)).type("tags"))
        )
    return queries


def _datasource_variable():
    return gf_dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus")


def _query_variable(name, label, query, include_all=True):
    return (
        gf_dashboard.QueryVariable(name)
        .label(label)
        .query(query)
        .datasource(_datasource_ref())
        .refresh(gf_models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(gf_models.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(include_all)
        .all_value(".*")
    )


def _base(uid, title, description, options, tags):
    return (
        gf_dashboard.Dashboard(f"{options['title_prefix']} / {title}")
        .uid(uid)
        .description(description)
        .tags(["gpu-e2e", *tags])
        .editable()
        .timezone("utc")
        .time("now-30m", "now")
        .refresh(options["refresh"])
        .tooltip(gf_models.DashboardCursorSync.CROSSHAIR)
        .annotations(_annotations(options["annotation_tags"]))
        .with_variable(_datasource_variable())
    )


def gpu_dashboard(options):
    node = 'Hostname=~"$node"'
    return (
        _base(
            "gpu-e2e-gpu",
            "GPU",
            "GPU telemetry from the NVIDIA DCGM exporter on the GPU node group (aws profile; no GPU locally).",
            options,
            ["gpu", "dcgm"],
        )
        .with_variable(_query_variable("node", "GPU node", "label_values(DCGM_FI_DEV_GPU_UTIL, Hostname)"))
        .with_row(gf_dashboard.Row("GPU"))
        .with_panel(
            _panel(
                "GPU utilisation",
                "DCGM_FI_DEV_GPU_UTIL: percent of time a kernel was running on the GPU.",
                "percent",
                [(f"avg by (Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL{{{node}}})", "{{Hostname}} GPU {{gpu}}")],
                width=24,
                minimum=0,
            )
        )
        .with_panel(
            _panel(
                "Framebuffer memory used",
                "DCGM_FI_DEV_FB_USED (MiB) and its share of the framebuffer (used / (used + free)).",
                "decmbytes",
                [(f"max by (Hostname, gpu) (DCGM_FI_DEV_FB_USED{{{node}}})", "{{Hostname}} GPU {{gpu}} used")],
                minimum=0,
            )
        )
        .with_panel(
            _panel(
                "Framebuffer memory used (%)",
                "100 * DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE).",
                "percent",
                [
                    (
                        f"100 * max by (Hostname, gpu) (DCGM_FI_DEV_FB_USED{{{node}}})"
                        f" / (max by (Hostname, gpu) (DCGM_FI_DEV_FB_USED{{{node}}})"
                        f" + max by (Hostname, gpu) (DCGM_FI_DEV_FB_FREE{{{node}}}))",
                        "{{Hostname}} GPU {{gpu}}",
                    )
                ],
                minimum=0,
            )
        )
        .with_panel(
            _panel(
                "Power draw",
                "DCGM_FI_DEV_POWER_USAGE in watts.",
                "watt",
                [(f"max by (Hostname, gpu) (DCGM_FI_DEV_POWER_USAGE{{{node}}})", "{{Hostname}} GPU {{gpu}}")],
                width=24,
                minimum=0,
            )
        )
    )


def inference_dashboard(options):
    success = model_rate("nv_inference_request_success")
    failure = model_rate("nv_inference_request_failure")
    model_var = "label_values(nv_inference_count, model)"
    quantiles = [
        (
            f'max by (model) (nv_inference_request_summary_us{{model=~"$model", quantile="{q}"}}) / 1000',
            f"{{{{model}}}} P{p}",
        )
        for q, p in (("0.5", 50), ("0.95", 95), ("0.99", 99))
    ]
    return (
        _base(
            "gpu-e2e-inference",
            "Inference",
            "Server-side inference KPIs from Triton's metrics (locally: NVIDIA Triton 2.51 on CPU, onnxruntime "
            "through a Python-based backend). Client-side figures are in the load test's kpis.json.",
            options,
            ["inference", "triton"],
        )
        .with_variable(_query_variable("model", "Model", model_var))
        .with_row(gf_dashboard.Row("Traffic"))
        .with_panel(
            _panel(
                "Request and inference rate",
                "Requests/s (successful) and inferences/s (requests x batch items) per model.",
                "reqps",
                [(success, "{{model}} requests/s"), (model_rate("nv_inference_count"), "{{model}} inferences/s")],
                minimum=0,
            )
        )
        .with_panel(
            _panel(
                "Success and failure",
                "Successful and failed requests per second (nv_inference_request_success / _failure), stacked.",
                "reqps",
                [(success, "{{model}} success"), (failure, "{{model}} failure")],
                stacked=True,
                minimum=0,
            )
        )
        .with_panel(
            _panel(
                "Error rate",
                "Failed requests as a percentage of all requests.",
                "percent",
                [(f"100 * {failure} / clamp_min({success} + {failure}, 1e-9)", "{{model}} errors %")],
                minimum=0,
            )
        )
        .with_panel(
            _panel(
                "Average batch size",
                "nv_inference_count / nv_inference_exec_count: inferences per model execution (dynamic batching).",
                "short",
                [
                    (
                        f"{model_rate('nv_inference_count')} / {model_rate('nv_inference_exec_count')}",
                        "{{model}} batch size",
                    )
                ],
                minimum=0,
            )
        )
        .with_panel(
            _panel(
                "Pending requests",
                "nv_inference_pending_request_count: requests waiting for an execution slot (queue depth).",
                "short",
                [('sum by (model) (nv_inference_pending_request_count{model=~"$model"})', "{{model}} pending")],
                minimum=0,
            )
        )
        .with_panel(
            _panel(
                "Server host CPU utilisation",
                "nv_cpu_utilization x 100: CPU busy share of the host the server runs on. Locally this is the CPU "
                "runtime's host (no GPU); on aws see the GPU dashboard for GPU utilisation.",
                "percent",
                [("100 * max(nv_cpu_utilization)", "host CPU %")],
                minimum=0,
            )
        )
        .with_row(gf_dashboard.Row("Latency"))
        .with_panel(
            _panel(
                "Request latency P50 / P95 / P99",
                "Quantiles of Triton's request latency summary (nv_inference_request_summary_us; Triton needs "
                "--metrics-config summary_latencies=true) and the average from the cumulative duration counter.",
                "ms",
                [*quantiles, (per_request_ms("nv_inference_request_duration_us"), "{{model}} average")],
                width=24,
                minimum=0,
            )
        )
        .with_panel(
            _panel(
                "Queue time vs compute time (per request)",
                "Average milliseconds a request spends queued and computing (input, infer, output), stacked: "
                "cumulative microsecond counters divided by successful requests.",
                "ms",
                [
                    (per_request_ms("nv_inference_queue_duration_us"), "{{model}} queue"),
                    (per_request_ms("nv_inference_compute_input_duration_us"), "{{model}} compute input"),
                    (per_request_ms("nv_inference_compute_infer_duration_us"), "{{model}} compute infer"),
                    (per_request_ms("nv_inference_compute_output_duration_us"), "{{model}} compute output"),
                ],
                width=24,
                stacked=True,
                minimum=0,
            )
        )
    )


def cluster_dashboard(options):
    namespace = 'namespace=~"$namespace"'
    spot = 'label_eks_amazonaws_com_capacity_type="SPOT"'
    return (
        _base(
            "gpu-e2e-cluster",
            "Cluster",
            "Nodes, pods and spot capacity from kube-state-metrics. Spot interruptions show as spot nodes "
            "cordoned (EKS drains an interrupted or rebalanced spot node) and spot nodes that disappeared; "
            "the Kubernetes events themselves are annotations.",
            options,
            ["cluster", "kubernetes"],
        )
        .with_variable(_query_variable("namespace", "Namespace", "label_values(kube_pod_status_phase, namespace)"))
        .with_row(gf_dashboard.Row("Nodes"))
        .with_panel(
            _panel(
                "Nodes by capacity type",
                "Nodes per EKS capacity type (ON_DEMAND / SPOT) and Ready nodes.",
                "short",
                [
                    (
                        "count by (label_eks_amazonaws_com_capacity_type) (kube_node_labels)",
                        "{{label_eks_amazonaws_com_capacity_type}}",
                    ),
                    ('sum(kube_node_status_condition{condition="Ready", status="true"})', "Ready"),
                    ("count(kube_node_info)", "all nodes"),
                ],
                minimum=0,
            )
        )
        .with_panel(
            _panel(
                "Allocatable GPUs",
                "nvidia.com/gpu allocatable across the cluster (advertised by the NVIDIA device plugin).",
                "short",
                [('sum(kube_node_status_allocatable{resource="nvidia_com_gpu"})', "GPUs")],
                minimum=0,
            )
        )
        .with_panel(
            _panel(
                "Spot interruptions",
                "Spot nodes cordoned (interruption notice or rebalance: EKS drains them) and spot nodes that "
                "existed 10 minutes ago but are gone now.",
                "short",
                [
                    (
                        f"sum(kube_node_spec_unschedulable * on (node) group_left () kube_node_labels{{{spot}}})",
                        "spot nodes cordoned",
                    ),
                    (
                        f"count(kube_node_labels{{{spot}}} offset 10m unless on (node) kube_node_labels)",
                        "spot nodes lost (10m)",
                    ),
                ],
                width=24,
                minimum=0,
            )
        )
        .with_row(gf_dashboard.Row("Pods"))
        .with_panel(
            _panel(
                "Pods by phase",
                "Pods per phase in the selected namespaces.",
                "short",
                [(f"sum by (phase) (kube_pod_status_phase{{{namespace}}})", "{{phase}}")],
                stacked=True,
                minimum=0,
            )
        )
        .with_panel(
            _panel(
                "Ready pods",
                "Pods whose Ready condition is true, per namespace.",
                "short",
                [(f'sum by (namespace) (kube_pod_status_ready{{condition="true", {namespace}}})', "{{namespace}}")],
                minimum=0,
            )
        )
    )


BUILDERS = {
    "gpu-e2e-gpu": gpu_dashboard,
    "gpu-e2e-inference": inference_dashboard,
    "gpu-e2e-cluster": cluster_dashboard,
}


def normalise_options(options=None):
    options = dict(options or {})
    options.setdefault("title_prefix", "GPU E2E")
    options.setdefault("refresh", "10s")
    options.setdefault("annotation_tags", [])
    options["annotation_tags"] = [str(tag) for tag in options["annotation_tags"]]
    return options


def build_dashboards(options=None):
    """Return {uid: dashboard dict} for the three dashboards."""
    if not HAS_GRAFANA_SDK:
        raise DashboardError(f"grafana-foundation-sdk is required: {GRAFANA_SDK_IMPORT_ERROR}")
    options = normalise_options(options)
    encoder = JSONEncoder(sort_keys=True, indent=2)
    built = {}
    for uid, builder in BUILDERS.items():
        model = builder(options).build()
        for number, panel in enumerate(model.panels or [], start=1):
            panel.id_val = number  # Grafana wants unique panel ids within a dashboard
        built[uid] = json.loads(encoder.encode(model))
    return built


def panels(dashboard):
    """Every panel of a dashboard, rows flattened."""
    found = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []) or [])
    return [p for p in found if p.get("type") != "row"]


def queries(dashboards):
    """(dashboard uid, panel title, expr) for every query of every panel."""
    return [
        (uid, panel["title"], target["expr"])
        for uid, dashboard in sorted(dashboards.items())
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]


def unknown_metrics(dashboards):
    """Metric names used by the dashboards that are not in the allow-list (should be empty)."""
    used = {name for _uid, _title, expr in queries(dashboards) for name in metric_names(expr)}
    return sorted(used - ALLOWED_METRICS)


def rules_file(dashboards):
    """A Prometheus rules file with one recording rule per query, for `promtool check rules`."""
    rules = []
    for index, (uid, _title, expr) in enumerate(queries(dashboards)):
        concrete = expr
        for variable, value in GRAFANA_VARIABLES.items():
            concrete = concrete.replace(variable, value)
        rules.append({"record": f"dashboard:query_{index}", "expr": concrete, "labels": {"dashboard": uid}})
    return {"groups": [{"name": "dashboard_queries", "rules": rules}]}


# --- files ------------------------------------------------------------------------------------


def dashboard_json(dashboard):
    return json.dumps(dashboard, indent=2, sort_keys=True) + "\n"


def configmap(uid, dashboard, namespace, labels):
    """A ConfigMap that kube-prometheus-stack's Grafana dashboard sidecar loads (label grafana_dashboard)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"dashboard-{uid}",
            "namespace": namespace,
            "labels": dict(labels),
            "annotations": {"gpu-e2e/dashboard-sha256": hashlib.sha256(dashboard_json(dashboard).encode()).hexdigest()},
        },
        "data": {f"{uid}.json": dashboard_json(dashboard)},
    }


def configmaps_yaml(dashboards, namespace, labels):
    if not HAS_YAML:
        raise DashboardError("PyYAML is required to write the ConfigMaps")
    docs = [configmap(uid, dashboards[uid], namespace, labels) for uid in sorted(dashboards)]
    return yaml.safe_dump_all(docs, default_flow_style=False, sort_keys=True)


def _write_if_changed(path, content, check_mode, diffs):
    """Write ``content`` unless ``path`` holds it; True when it changed (or would); the change goes to ``diffs``."""
    try:
        before = read_text(path)
    except OSError as exc:
        raise DashboardError(f"cannot read {path}: {exc}") from exc
    if before == content:
        return False
    diffs.append(text_file(path, before, content))
    if check_mode:
        return True
    try:
        write_atomic(path, content)
    except OSError as exc:
        raise DashboardError(f"cannot write {path}: {exc}") from exc
    return True


def write_dashboards(dest, options=None, configmap_file=None, namespace="monitoring", labels=None, check_mode=False):
    """Write <dest>/<uid>.json (and the ConfigMaps) when their content differs; return what happened."""
    dashboards = build_dashboards(options)
    changed = False
    summary = []
    diffs = []
    for uid in DASHBOARD_UIDS:
        path = os.path.join(dest, f"{uid}.json")
        changed |= _write_if_changed(path, dashboard_json(dashboards[uid]), check_mode, diffs)
        summary.append(
            {
                "uid": uid,
                "title": dashboards[uid]["title"],
                "path": path,
                "panels": [p["title"] for p in panels(dashboards[uid])],
            }
        )
    if configmap_file:
        labels = DEFAULT_CONFIGMAP_LABELS if labels is None else labels
        changed |= _write_if_changed(configmap_file, configmaps_yaml(dashboards, namespace, labels), check_mode,
                                     diffs)
    return {"changed": changed, "dashboards": summary, "files": [d["path"] for d in summary],
            "diff": combined(diffs)}
