"""The collection's one manifest validator (module_utils/k8s_validate.py and k8s_validate_info): core kinds
strictly with kubernetes-validate, custom resources with their bundled CRD schema, explicitly unchecked kinds
skipped with their reason, and every other kind invalid."""

import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.gpu_e2e.platform.plugins.module_utils import k8s_validate as kv
from ansible_collections.gpu_e2e.platform.plugins.modules import k8s_validate_info

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCHEMAS = os.path.join(ROOT, "roles", "triton", "files", "schemas")
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n"
MONITOR = """\
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: triton
spec:
  selector:
    matchLabels: {app: triton}
  endpoints:
    - port: metrics
      interval: 15s
"""
POD_MONITOR = "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata:\n  name: p\nspec: {}\n"


def manifest(tmp_path, *docs):
    path = tmp_path / "m.yaml"
    path.write_text("---\n".join(docs))
    return str(path)


def statuses(result):
    return [(d["kind"], d["status"]) for d in result["documents"]]


def run(args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit):
        k8s_validate_info.main()
    return json.loads(capsys.readouterr().out)


def test_core_kinds_are_validated_strictly(tmp_path):
    ok = kv.validate_sources([manifest(tmp_path, CONFIGMAP)], "1.32")
    assert statuses(ok) == [("ConfigMap", "valid")] and ok["kubernetes_version"] == "1.32.0"
    typo = kv.validate_sources([manifest(tmp_path, CONFIGMAP.replace("data:", "dta:"))], "1.32")
    assert statuses(typo) == [("ConfigMap", "invalid")] and "dta" in typo["documents"][0]["error"]


def test_a_kind_without_any_schema_is_invalid(tmp_path):
    result = kv.validate_sources([manifest(tmp_path, POD_MONITOR)], "1.32", crd_schemas=SCHEMAS)
    assert statuses(result) == [("PodMonitor", "invalid")]
    assert result["documents"][0]["error"].startswith("no schema for monitoring.coreos.com/v1/PodMonitor")
    assert result["counts"] == {"valid": 0, "invalid": 1, "skipped": 0}


def test_a_custom_resource_is_validated_with_its_crd_schema(tmp_path):
    ok = kv.validate_sources([manifest(tmp_path, MONITOR)], "1.32", crd_schemas=SCHEMAS)
    assert statuses(ok) == [("ServiceMonitor", "valid")]
    typo = kv.validate_sources([manifest(tmp_path, MONITOR.replace("interval:", "intervall:"))], "1.32",
                               crd_schemas=SCHEMAS)
    assert statuses(typo) == [("ServiceMonitor", "invalid")] and "intervall" in typo["documents"][0]["error"]
    # Without the schema directory the same ServiceMonitor has no schema at all.
    assert statuses(kv.validate_sources([manifest(tmp_path, MONITOR)], "1.32")) == [("ServiceMonitor", "invalid")]


def test_an_unchecked_kind_is_skipped_with_its_reason_never_valid(tmp_path):
    result = kv.validate_sources([manifest(tmp_path, POD_MONITOR, CONFIGMAP)], "1.32",
                                 unchecked_kinds={"monitoring.coreos.com/v1/PodMonitor": "the operator checks it"})
    assert statuses(result) == [("PodMonitor", "skipped"), ("ConfigMap", "valid")]
    assert result["documents"][0]["error"].endswith("the operator checks it")
    # Only the exact apiVersion/kind is let through.
    other = kv.validate_sources([manifest(tmp_path, POD_MONITOR.replace("/v1", "/v1alpha1"))], "1.32",
                                unchecked_kinds={"monitoring.coreos.com/v1/PodMonitor": "the operator checks it"})
    assert statuses(other) == [("PodMonitor", "invalid")]


@pytest.mark.parametrize(
    "unchecked, message",
    [
        ({"monitoring.coreos.com/v1/PodMonitor": ""}, "needs a reason"),
        ({"monitoring.coreos.com/v1/PodMonitor": None}, "needs a reason"),
        ({"PodMonitor": "why"}, "must be <apiVersion>/<Kind>"),
    ],
)
def test_an_unchecked_kind_without_a_reason_or_apiversion_is_refused(tmp_path, unchecked, message):
    with pytest.raises(kv.ManifestValidationError, match=message):
        kv.validate_sources([manifest(tmp_path, POD_MONITOR)], "1.32", unchecked_kinds=unchecked)


def test_a_list_is_invalid_because_its_items_would_pass_unchecked(tmp_path):
    result = kv.validate_sources([manifest(tmp_path, "apiVersion: v1\nkind: List\nitems: []\n")], "1.32")
    assert statuses(result) == [("List", "invalid")]


def test_the_module_fails_with_every_invalid_object_and_never_reports_changed(tmp_path, capsys):
    path = manifest(tmp_path, MONITOR, POD_MONITOR, CONFIGMAP)
    failed = run({"src": [path], "kubernetes_version": "1.32", "crd_schemas": SCHEMAS}, capsys)
    assert failed["failed"] and failed["msg"].startswith("1 manifest(s) invalid for Kubernetes 1.32.0: ")
    assert "PodMonitor/p: no schema" in failed["msg"]
    passed = run({"src": [path], "kubernetes_version": "1.32", "crd_schemas": SCHEMAS, "_ansible_check_mode": True,
                  "unchecked_kinds": {"monitoring.coreos.com/v1/PodMonitor": "the operator checks it"}}, capsys)
    assert not passed.get("failed") and passed["changed"] is False
    assert passed["counts"] == {"valid": 2, "invalid": 0, "skipped": 1}


def test_bad_inputs_fail_with_one_line_before_reading_anything(tmp_path, capsys):
    path = manifest(tmp_path, CONFIGMAP)
    out = run({"src": [path], "crd_schemas": str(tmp_path / "nowhere")}, capsys)
    assert out["failed"] and out["msg"] == f"crd_schemas is not a directory: {tmp_path / 'nowhere'}"
    out = run({"src": [path], "kubernetes_version": "1.x"}, capsys)
    assert out["failed"] and "kubernetes_version must look like 1.31" in out["msg"]
