"""Dashboards as code (plugins/module_utils/dashboards.py): content, PromQL validity, metric names, files."""

import json
import pathlib
import os
import shutil
import subprocess

import pytest
import yaml

from ansible_collections.gpu_e2e.platform.plugins.module_utils import dashboards
from ansible_collections.gpu_e2e.platform.plugins.modules import dashboards as module

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
needs_promtool = pytest.mark.skipif(
    not os.access(PROMTOOL, os.X_OK), reason="promtool is absent (it ships with the Debian prometheus package)"
)


@pytest.fixture(scope="module")
def built():
    return dashboards.build_dashboards({"annotation_tags": ["gpu-e2e", "loadtest"]})


def exprs(dashboard):
    return [t["expr"] for p in dashboards.panels(dashboard) for t in p.get("targets", [])]


def titles(dashboard):
    return [p["title"] for p in dashboards.panels(dashboard)]


# --- content ---------------------------------------------------------------------------------


def test_three_dashboards_with_unique_uids_and_panel_ids(built):
    assert sorted(built) == sorted(dashboards.DASHBOARD_UIDS)
    for uid, dashboard in built.items():
        assert dashboard["uid"] == uid
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), uid
        assert all(p["datasource"]["uid"] == "${datasource}" for p in dashboards.panels(dashboard))


def test_gpu_dashboard_reads_dcgm(built):
    text = " ".join(exprs(built["gpu-e2e-gpu"]))
    for metric in ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_POWER_USAGE"):
        assert metric in text


def test_inference_dashboard_has_every_kpi(built):
    dashboard = built["gpu-e2e-inference"]
    assert {
        "Request and inference rate",
        "Success and failure",
        "Error rate",
        "Average batch size",
        "Request latency P50 / P95 / P99",
        "Queue time vs compute time (per request)",
    } <= set(titles(dashboard))
    panel = {p["title"]: p for p in dashboards.panels(dashboard)}
    quantiles = " ".join(t["expr"] for t in panel["Request latency P50 / P95 / P99"]["targets"])
    for q in ('quantile="0.5"', 'quantile="0.95"', 'quantile="0.99"'):
        assert q in quantiles
    (batch,) = [t["expr"] for t in panel["Average batch size"]["targets"]]
    numerator, denominator = batch.split(" / ")
    assert "nv_inference_count{" in numerator and "nv_inference_exec_count{" in denominator
    legends = [t["legendFormat"] for t in panel["Queue time vs compute time (per request)"]["targets"]]
    assert any("queue" in legend for legend in legends) and any("compute infer" in legend for legend in legends)


def test_cluster_dashboard_has_nodes_pods_and_spot(built):
    text = " ".join(exprs(built["gpu-e2e-cluster"]))
    assert "kube_node_info" in text and "kube_pod_status_phase" in text
    assert 'label_eks_amazonaws_com_capacity_type="SPOT"' in text
    assert "Spot interruptions" in titles(built["gpu-e2e-cluster"])


def test_annotation_query_shows_run_events_by_tag(built):
    for dashboard in built.values():
        (run_events,) = [a for a in dashboard["annotations"]["list"] if a["name"].startswith("Run events")]
        assert run_events["target"] == {"limit": 500, "matchAny": True, "tags": ["gpu-e2e", "loadtest"], "type": "tags"}


def test_no_tags_no_run_events_query():
    built = dashboards.build_dashboards()
    assert all(len(d["annotations"]["list"]) == 1 for d in built.values())


# --- metric names ------------------------------------------------------------------------------


def test_only_allowed_metric_names(built):
    assert dashboards.unknown_metrics(built) == []
    used = {name for _title, _panel, expr in dashboards.queries(built) for name in dashboards.metric_names(expr)}
    # Every source is really used, so the allow-list is not a blank cheque.
    for source, names in dashboards.METRIC_SOURCES.items():
        assert used & names, source


@pytest.mark.parametrize(
    "expr, expected",
    [
        ('sum by (model) (rate(nv_inference_count{model=~"$model"}[$__rate_interval]))', {"nv_inference_count"}),
        ("100 * max(nv_cpu_utilization) / clamp_min(x_bogus_metric, 1e-9)", {"nv_cpu_utilization", "x_bogus_metric"}),
        ("count(kube_node_labels offset 10m unless on (node) kube_node_info)", {"kube_node_labels", "kube_node_info"}),
        ('{__name__="nv_inference_exec_count"}', {"nv_inference_exec_count"}),
        ('sum without (gpu) (DCGM_FI_DEV_GPU_UTIL{Hostname=~"a|b"})', {"DCGM_FI_DEV_GPU_UTIL"}),
    ],
)
def test_metric_name_extraction(expr, expected):
    assert dashboards.metric_names(expr) == expected


def test_unknown_metric_is_caught(built):
    tampered = json.loads(json.dumps(built))
    panel = dashboards.panels(tampered["gpu-e2e-gpu"])[0]
    panel["targets"][0]["expr"] = "avg(DCGM_FI_DEV_GPU_UTILIZATION)"
    assert dashboards.unknown_metrics(tampered) == ["DCGM_FI_DEV_GPU_UTILIZATION"]


def served_metric_families():
    """The metric families tritonserver 2.51 wrote here with the role's flags (captured from the real server)."""
    text = (pathlib.Path(__file__).parent.parent / "fixtures" / "tritonserver-2.51-metrics.txt").read_text()
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def test_triton_names_are_what_tritonserver_emits(built):
    emitted = served_metric_families()
    used = {name for _title, _panel, expr in dashboards.queries(built) for name in dashboards.metric_names(expr)}
    triton_used = used & dashboards.METRIC_SOURCES["triton"]
    assert triton_used, "the Inference dashboard reads no Triton metric"
    assert triton_used <= emitted, sorted(triton_used - emitted)


# --- PromQL parses (promtool) -------------------------------------------------------------------


def promtool_check(tmp_path, rules):
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    return subprocess.run([PROMTOOL, "check", "rules", str(path)],
                          capture_output=True, text=True, timeout=60, check=False)


@needs_promtool
def test_every_panel_query_parses(tmp_path, built):
    rules = dashboards.rules_file(built)
    assert len(rules["groups"][0]["rules"]) == len(dashboards.queries(built)) >= 20
    result = promtool_check(tmp_path, rules)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules['groups'][0]['rules'])} rules found" in result.stdout


@needs_promtool
def test_promtool_rejects_a_broken_query(tmp_path, built):
    tampered = json.loads(json.dumps(built))
    dashboards.panels(tampered["gpu-e2e-inference"])[0]["targets"][0]["expr"] = "sum(rate(nv_inference_count[1m])"
    result = promtool_check(tmp_path, dashboards.rules_file(tampered))
    assert result.returncode != 0
    assert "parse error" in result.stdout + result.stderr


def test_rules_file_substitutes_grafana_variables(built):
    for rule in dashboards.rules_file(built)["groups"][0]["rules"]:
        assert "$" not in rule["expr"], rule["expr"]


# --- files -------------------------------------------------------------------------------------


def test_write_is_idempotent_and_check_mode_writes_nothing(tmp_path):
    dest = tmp_path / "dashboards"
    cms = tmp_path / "k8s" / "dashboards.yaml"
    dry = dashboards.write_dashboards(str(dest), configmap_file=str(cms), check_mode=True)
    assert dry["changed"] is True and not dest.exists() and not cms.exists()
    first = dashboards.write_dashboards(str(dest), configmap_file=str(cms))
    assert first["changed"] is True
    assert sorted(os.listdir(dest)) == sorted(f"{uid}.json" for uid in dashboards.DASHBOARD_UIDS)
    again = dashboards.write_dashboards(str(dest), configmap_file=str(cms))
    assert again["changed"] is False
    changed = dashboards.write_dashboards(str(dest), options={"title_prefix": "Other"}, configmap_file=str(cms))
    assert changed["changed"] is True
    assert json.loads((dest / "gpu-e2e-gpu.json").read_text())["title"] == "Other / GPU"


def test_configmaps_carry_the_sidecar_label_and_validate_strictly(tmp_path):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    cms = tmp_path / "dashboards.yaml"
    dashboards.write_dashboards(str(tmp_path / "d"), configmap_file=str(cms), namespace="monitoring")
    docs = list(yaml.safe_load_all(cms.read_text()))
    assert len(docs) == 3
    for doc in docs:
        assert doc["kind"] == "ConfigMap" and doc["metadata"]["namespace"] == "monitoring"
        assert doc["metadata"]["labels"]["grafana_dashboard"] == "1"
        ((key, value),) = doc["data"].items()
        assert json.loads(value) == json.loads((tmp_path / "d" / key).read_text())
        kubernetes_validate.validate(doc, "1.31.0", strict=True)


def test_module_reports_files_and_is_idempotent(tmp_path, monkeypatch, capsys):
    from ansible.module_utils.testing import patch_module_args

    args = {"dest": str(tmp_path / "d"), "configmap_file": str(tmp_path / "cm.yaml"), "annotation_tags": ["x"]}
    outputs = []
    for _attempt in range(2):
        with patch_module_args(args), pytest.raises(SystemExit):
            module.main()
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[0]["changed"] is True and outputs[1]["changed"] is False
    assert [d["uid"] for d in outputs[0]["dashboards"]] == list(dashboards.DASHBOARD_UIDS)
    assert outputs[0]["configmap_file"] == str(tmp_path / "cm.yaml")
