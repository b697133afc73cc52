"""The nvidia_plugin stage on the local profile: the device plugin chart is rendered offline with helm template,
validated strictly (kubernetes-validate) for the cluster version and stored in the run directory; a misspelled
field in the values must make the stage fail."""
from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from playbook_runner import run_playbook

ROOT = Path(__file__).resolve().parents[2]
# The cluster version every stage validates for: the shared eks_cluster_version.
SHARED = ROOT / "roles" / "platform_defaults" / "defaults" / "main.yml"
VERSION = yaml.safe_load(SHARED.read_text())["eks_cluster_version"]

PLAY = """\
- name: The nvidia_plugin role alone, after its preflight checks (as the preflight play runs them)
  hosts: controller
  gather_facts: false
  tasks:
    - name: Run the static checks of the stage.
      ansible.builtin.import_role:
        name: gpu_e2e.platform.nvidia_plugin
        tasks_from: preflight.yml
      when: not skip_preflight | default(false) | bool
    - name: Run the stage.
      ansible.builtin.import_role:
        name: gpu_e2e.platform.nvidia_plugin
"""


@pytest.fixture
def stage(tmp_path):
    playbook = tmp_path / "nvidia_plugin.yml"
    playbook.write_text(PLAY)
    run_dir = tmp_path / "run"

    def run(**extra_vars):
        extra = {"run_dir": str(run_dir), "runs_root": str(tmp_path / "runs"), "stack_name": "it-ndp", **extra_vars}
        return run_playbook(str(playbook), "-e", json.dumps(extra), timeout=300)

    return run, run_dir


def documents(path: Path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_rendered_manifests_are_strictly_valid_and_target_the_gpu_nodes(stage):
    run, run_dir = stage
    result = run()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    manifest = run_dir / "k8s" / "nvidia-device-plugin.yaml"
    docs = documents(manifest)
    assert sorted(d["kind"] for d in docs) == ["DaemonSet", "ServiceAccount"]
    for version in (f"{VERSION}.0", "1.34.0"):
        for doc in docs:
            kubernetes_validate.validate(doc, version, strict=True)
    (daemonset,) = [d for d in docs if d["kind"] == "DaemonSet"]
    pod = daemonset["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"accelerator": "nvidia"}
    assert {"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in pod["tolerations"]
    assert "affinity" not in pod  # NVIDIA's default NFD affinity would keep the plugin off nodes without NFD
    assert pod["containers"][0]["image"] == "nvcr.io/nvidia/k8s-device-plugin:v0.17.1"
    values = yaml.safe_load((run_dir / "k8s" / "nvidia-device-plugin-values.yaml").read_text())
    assert values["affinity"] is None


def test_a_misspelled_field_in_the_values_fails_strict_validation(stage):
    run, run_dir = stage
    misspelled = {"resources": {"requests": {"cpu": "10m"}, "limts": {"memory": "128Mi"}}}
    result = run(nvidia_plugin_extra_values=misspelled)
    assert result.returncode != 0
    assert f"manifest(s) invalid for Kubernetes {VERSION}.0" in result.stdout
    assert "limts" in result.stdout
    # The invalid render is kept in the run directory for inspection.
    assert "limts" in (run_dir / "k8s" / "nvidia-device-plugin.yaml").read_text()


def test_a_misspelled_toleration_field_fails_strict_validation(stage):
    run, _run_dir = stage
    tolerations = [{"key": "gpu", "operator": "Equal", "value": "true", "efect": "NoSchedule"}]
    result = run(nvidia_plugin_tolerations=tolerations)
    assert result.returncode != 0
    assert "efect" in result.stdout and "invalid for Kubernetes" in result.stdout


def test_a_misspelled_top_level_value_is_refused_by_the_chart_schema(stage):
    run, _run_dir = stage
    result = run(nvidia_plugin_extra_values={"nodeSelectr": {"accelerator": "nvidia"}})
    assert result.returncode != 0
    assert "nodeSelectr" in result.stdout


def test_an_untolerated_gpu_taint_stops_the_stage(stage):
    run, run_dir = stage
    wrong = {"nvidia_plugin_tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
             "gpu_node_taints": [{"key": "gpu", "value": "true", "effect": "NO_SCHEDULE"}]}
    early = run(**wrong)
    assert early.returncode != 0
    assert "not tolerated by nvidia_plugin_tolerations: gpu=true:NoSchedule" in early.stdout
    assert not (run_dir / "k8s").exists()  # stopped before anything was rendered
    # The same mistake is caught again on the rendered DaemonSet when the preflight did not run.
    late = run(skip_preflight=True, **wrong)
    assert late.returncode != 0
    assert "does not target the GPU nodes" in late.stdout and "gpu=true:NoSchedule" in late.stdout
