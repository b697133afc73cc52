"""The observability role's chart values (aws profile), rendered from its templates with its defaults.

The charts themselves are not available offline; these tests hold the values to what matters:
pinned versions, the release-label ServiceMonitor trap avoided, the DCGM exporter on the GPU nodes
only (taint tolerated) with a ServiceMonitor, the Grafana dashboard sidecar label, no secrets.
The Kubernetes fragments (tolerations, nodeSelector, resources) are validated strictly inside a Pod.
"""

import json
import os

import jinja2
import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ROLE = os.path.join(ROOT, "roles", "observability")


@pytest.fixture(scope="module")
def defaults():
    with open(os.path.join(ROLE, "defaults", "main.yml")) as handle:
        values = yaml.safe_load(handle)
    # Values that are Jinja in defaults/main.yml, resolved as the inventory would.
    values.update(stack_name="gpu-e2e", ansible_managed="test")
    return values


def render(name, variables):
    def to_nice_yaml(value, indent=2):
        return yaml.safe_dump(value, indent=indent, default_flow_style=False)

    env = jinja2.Environment(undefined=jinja2.StrictUndefined)  # noqa: S701 - renders YAML, not HTML
    env.filters.update(to_json=json.dumps, to_nice_yaml=to_nice_yaml)
    with open(os.path.join(ROLE, "templates", name)) as handle:
        return yaml.safe_load(env.from_string(handle.read()).render(**variables))


@pytest.fixture(scope="module")
def kps(defaults):
    return render("kube-prometheus-stack-values.yml.j2", defaults)


@pytest.fixture(scope="module")
def dcgm(defaults):
    return render("dcgm-exporter-values.yml.j2", defaults)


def test_chart_versions_are_pinned(defaults):
    for key in ("observability_kps_chart_version", "observability_dcgm_chart_version"):
        version = str(defaults[key])
        assert version.count(".") == 2 and all(part.isdigit() for part in version.split(".")), (key, version)
    assert defaults["observability_dcgm_image_tag"].split("-")[1] == defaults["observability_dcgm_chart_version"]


def test_release_label_trap_is_avoided(kps):
    spec = kps["prometheus"]["prometheusSpec"]
    for key in (
        "serviceMonitorSelectorNilUsesHelmValues",
        "podMonitorSelectorNilUsesHelmValues",
        "ruleSelectorNilUsesHelmValues",
        "probeSelectorNilUsesHelmValues",
        "scrapeConfigSelectorNilUsesHelmValues",
    ):
        assert spec[key] is False, key
    assert spec["serviceMonitorSelector"] == {} and spec["serviceMonitorNamespaceSelector"] == {}


def test_triton_is_scraped_through_a_service_monitor(kps, defaults):
    (monitor,) = kps["prometheus"]["additionalServiceMonitors"]
    assert monitor["selector"]["matchLabels"] == defaults["observability_triton_service_labels"]
    assert monitor["endpoints"][0]["port"] == defaults["observability_triton_metrics_port_name"]
    assert monitor["namespaceSelector"] == {"any": True}


def test_grafana_loads_the_dashboard_configmaps_and_holds_no_secret(kps):
    sidecar = kps["grafana"]["sidecar"]["dashboards"]
    assert sidecar["enabled"] is True
    assert (sidecar["label"], sidecar["labelValue"]) == ("grafana_dashboard", "1")
    assert kps["grafana"]["admin"]["existingSecret"] == "grafana-admin"
    text = json.dumps(kps)
    assert "adminPassword" not in text
    # The only mentions of a password are the Secret's key names.
    assert text.lower().count("password") == text.count('"passwordKey": "admin-password"') * 2


def test_kube_state_metrics_exports_the_node_labels_the_cluster_dashboard_reads(kps):
    (allow,) = kps["kube-state-metrics"]["metricLabelsAllowlist"]
    assert allow.startswith("nodes=[") and "eks.amazonaws.com/capacityType" in allow and "accelerator" in allow


def test_dcgm_exporter_runs_only_on_gpu_nodes_with_a_service_monitor(dcgm):
    assert dcgm["nodeSelector"] == {"accelerator": "nvidia"}
    assert {"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in dcgm["tolerations"]
    assert dcgm["serviceMonitor"]["enabled"] is True
    assert dcgm["serviceMonitor"]["additionalLabels"]["release"] == "kube-prometheus-stack"


def test_kubernetes_fragments_validate_strictly_in_a_pod(dcgm, kps):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "fragment-check"},
        "spec": {
            "nodeSelector": dcgm["nodeSelector"],
            "tolerations": dcgm["tolerations"] + kps["prometheus-node-exporter"]["tolerations"],
            "containers": [{"name": "c", "image": "busybox", "resources": dcgm["resources"]}],
        },
    }
    kubernetes_validate.validate(pod, "1.31.0", strict=True)
    broken = json.loads(json.dumps(pod))
    broken["spec"]["tolerations"][0]["efect"] = "NoSchedule"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.31.0", strict=True)
