"""The collection's Triton Helm chart: rendered with `helm template`, validated strictly, offline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from ansible_collections.gpu_e2e.platform.plugins.module_utils.k8s_validate import validate_sources

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(ROOT, "roles", "triton", "files", "charts", "triton")
SCHEMAS = os.path.join(ROOT, "roles", "triton", "files", "schemas")
K8S_VERSION = "1.32"
BASE = {
    "modelRepository": "s3://gpu-e2e-models-123456789012/model-repository/0123456789abcdef",
    "serviceAccount.roleArn": "arn:aws:iam::123456789012:role/gpu-e2e-triton-s3-read",
}
INGRESS = {
    "ingress.enabled": "true",
    "ingress.host": "triton.example.com",
    "ingress.certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555",
}


def find_helm():
    candidates = [os.environ.get("HELM"), os.path.join(os.path.dirname(sys.executable), "helm"),
                  os.path.join(ROOT, ".venv", "bin", "helm"), shutil.which("helm")]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


HELM = find_helm()
pytestmark = pytest.mark.skipif(HELM is None, reason="no helm binary (make setup installs it into .venv/bin)")


def render(values, tmp_path=None):
    args = [HELM, "template", "triton", CHART, "--namespace", "triton"]
    for key, value in values.items():
        args += ["--set-string" if key.endswith(("Arn", "host", "modelRepository", "tags")) else "--set",
                 f"{key}={value}"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    return proc


def objects(values):
    proc = render(values)
    assert proc.returncode == 0, proc.stderr
    return {doc["kind"]: doc for doc in yaml.safe_load_all(proc.stdout) if doc}


def validate(tmp_path, text):
    """The stage's check: the collection's validator with the role's CRD schemas (roles/triton/tasks/render.yml)."""
    path = tmp_path / "rendered.yaml"
    path.write_text(text)
    result = validate_sources([str(path)], K8S_VERSION, strict=True, crd_schemas=SCHEMAS)
    errors = [{"object": f"{d['kind']}/{d['name']}", "error": d["error"]}
              for d in result["documents"] if d["status"] != "valid"]
    return (1 if errors else 0), {"objects": len(result["documents"]), "errors": errors}


@pytest.mark.parametrize(
    "extra, kinds",
    [
        ({}, {"ServiceAccount", "Service", "Deployment", "ServiceMonitor"}),
        ({"hpa.enabled": "true"}, {"ServiceAccount", "Service", "Deployment", "ServiceMonitor",
                                   "HorizontalPodAutoscaler"}),
        (INGRESS, {"ServiceAccount", "Service", "Deployment", "ServiceMonitor", "Ingress"}),
        (dict(INGRESS, **{"hpa.enabled": "true"}),
         {"ServiceAccount", "Service", "Deployment", "ServiceMonitor", "Ingress", "HorizontalPodAutoscaler"}),
        ({"serviceMonitor.enabled": "false"}, {"ServiceAccount", "Service", "Deployment"}),
    ],
    ids=["default", "hpa", "ingress", "ingress+hpa", "no-servicemonitor"],
)
def test_chart_renders_and_validates_strictly(tmp_path, extra, kinds):
    proc = render(dict(BASE, **extra))
    assert proc.returncode == 0, proc.stderr
    rendered = {d["kind"] for d in yaml.safe_load_all(proc.stdout) if d}
    assert rendered == kinds
    rc, report = validate(tmp_path, proc.stdout)
    assert rc == 0, report["errors"]
    assert report["objects"] == len(kinds)


def test_deployment_asks_for_a_gpu_and_tolerates_the_gpu_taint():
    pod = objects(BASE)["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["nodeSelector"] == {"accelerator": "nvidia"}
    assert {"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in pod["tolerations"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_probes_and_ports():
    container = objects(BASE)["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    startup = container["startupProbe"]
    assert startup["httpGet"]["path"] == "/v2/health/ready"
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600  # model download and load
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": 8000, "grpc": 8001, "metrics": 8002}


def test_model_repository_comes_from_s3_through_irsa_without_static_keys():
    docs = objects(BASE)
    container = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert f"--model-repository={BASE['modelRepository']}" in container["args"]
    env_names = {e["name"] for e in container["env"]}
    assert not env_names & {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    assert docs["ServiceAccount"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == \
        BASE["serviceAccount.roleArn"]
    assert docs["Deployment"]["spec"]["template"]["spec"]["serviceAccountName"] == \
        docs["ServiceAccount"]["metadata"]["name"]


def test_image_is_pinned_and_digest_is_honoured():
    container = objects(BASE)["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nvcr.io/nvidia/tritonserver:25.03-py3"
    digest = "sha256:" + "a" * 64
    pinned = objects(dict(BASE, **{"image.digest": digest}))["Deployment"]["spec"]["template"]["spec"]
    assert pinned["containers"][0]["image"].endswith("@" + digest)


def test_servicemonitor_scrapes_the_metrics_port_of_the_service():
    docs = objects(dict(BASE, **{"serviceMonitor.labels.release": "kube-prometheus-stack"}))
    monitor = docs["ServiceMonitor"]
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= docs["Service"]["metadata"]["labels"].items()


def test_hpa_scales_on_queue_time():
    docs = objects(dict(BASE, **{"hpa.enabled": "true"}))
    metric = docs["HorizontalPodAutoscaler"]["spec"]["metrics"][0]
    assert metric["type"] == "Pods"
    assert "queue" in metric["pods"]["metric"]["name"]
    assert "replicas" not in docs["Deployment"]["spec"]  # the HPA owns the replica count


def test_ingress_is_https_only_on_an_alb_with_the_ready_health_check():
    ingress = objects(dict(BASE, **INGRESS))["Ingress"]
    notes = ingress["metadata"]["annotations"]
    assert ingress["spec"]["ingressClassName"] == "alb"
    assert notes["alb.ingress.kubernetes.io/certificate-arn"] == INGRESS["ingress.certificateArn"]
    assert notes["alb.ingress.kubernetes.io/ssl-redirect"] == "443"
    assert notes["alb.ingress.kubernetes.io/healthcheck-path"] == "/v2/health/ready"
    assert ingress["spec"]["rules"][0]["host"] == "triton.example.com"


@pytest.mark.parametrize(
    "values, message",
    [
        ({"serviceAccount.roleArn": BASE["serviceAccount.roleArn"]}, "modelRepository"),
        ({"modelRepository": BASE["modelRepository"]}, "roleArn"),
        (dict(BASE, **{"ingress.enabled": "true"}), "certificateArn"),
    ],
)
def test_missing_required_values_fail_with_a_clear_message(values, message):
    proc = render(values)
    assert proc.returncode != 0
    assert message in proc.stderr


def test_validation_catches_a_misspelled_field(tmp_path):
    proc = render(BASE)
    broken = proc.stdout.replace("serviceAccountName:", "serviceAcountName:").replace(
        "      interval: 15s", "      interval: 15s\n      intervall: 15s")
    rc, report = validate(tmp_path, broken)
    assert rc == 1
    failing = {e["object"].split("/")[0] for e in report["errors"]}
    assert failing == {"Deployment", "ServiceMonitor"}


def test_a_kind_without_any_schema_is_an_error(tmp_path):
    rc, report = validate(tmp_path, "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n")
    assert rc == 1
    assert "no schema" in report["errors"][0]["error"]
