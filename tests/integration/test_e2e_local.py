"""The whole local lifecycle, as `make run` does it: site.yml, site.yml again (and its serving stages alone), a
plan that cannot schedule, a load test that fails its SLO gate, teardown, teardown again.

Slow (minutes): it is the one end-to-end test of the local profile.
"""
from __future__ import annotations

import json
import subprocess

import pytest

from playbook_runner import ROOT, changed_tasks, run_playbook

pytestmark = pytest.mark.slow

# Every module that can change AWS: upstream ones and this collection's action group,
# less eks_kubeconfig, which only writes a local file (into each new run directory).
AWS_MODULES = ("amazon.aws.", "community.aws.") + tuple(
    f"gpu_e2e.platform.{name}"
    for name in __import__("yaml").safe_load((ROOT / "meta" / "runtime.yml").read_text())["action_groups"]["aws"]
    if name != "eks_kubeconfig"
)


def checkout_status():
    """`git status --porcelain` of this checkout (None outside a git checkout)."""
    if not (ROOT / ".git").exists():
        return None
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout


def test_site_then_teardown_leaves_nothing(isolated_stack):
    extra = isolated_stack["extra"]
    status_before = checkout_status()
    first = run_playbook("site.yml", *extra)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]

    run_dir = (isolated_stack["runs_root"] / isolated_stack["stack"] / "latest").resolve()
    assert (run_dir / "aws" / "vpc.json").exists()
    smoke = json.loads((run_dir / "smoke.json").read_text())
    assert smoke["top_k"]
    kpis = json.loads((run_dir / "kpis.json").read_text())
    assert kpis

    second = run_playbook("site.yml", *extra, json_output=True)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-2000:]
    assert changed_tasks(second.stdout, prefixes=AWS_MODULES) == []

    # The serving stages alone, unchanged: nothing at all changes (no task of any module), the server keeps running.
    serving = run_playbook("site.yml", *extra, "--tags", "model,triton", json_output=True)
    assert serving.returncode == 0, serving.stdout[-4000:] + serving.stderr[-2000:]
    assert changed_tasks(serving.stdout, prefixes=("",)) == []

    # Without the system node group, CoreDNS and Prometheus have no node: the schedulability play fails, one
    # line per workload, before the first stage that installs anything (Stage 4a, the device plugin) starts.
    unplaceable = run_playbook("site.yml", *extra, "-e", "gpu_nodegroup_system_enabled=false", json_output=True)
    assert unplaceable.returncode != 0
    output = json.loads(unplaceable.stdout[unplaceable.stdout.index("{"):])
    plays = [play["play"]["name"] for play in output["plays"]]
    assert plays[-1].startswith("Stage 3c - "), plays
    failures = [str(result.get("msg")) for play in output["plays"] for task in play["tasks"]
                for result in task["hosts"].values() if result.get("failed") and not result.get("ignore_errors")]
    unplaced = [line for line in failures[-1].splitlines() if "closest group" in line]
    assert any(line.startswith("Deployment kube-system/coredns: ") for line in unplaced), failures[-1]
    assert any("prometheus" in line.split(":")[0].lower() for line in unplaced), failures[-1]

    # What `make run ARGS='-e slo_p95_ms=0.001'` meets: an SLO the served model cannot keep fails site.yml at the
    # gate, and the teardown below must still end clean and write the report into that failed run.
    gate = run_playbook("site.yml", *extra, "--tags", "loadtest", "-e", "slo_p95_ms=0.001",
                        "-e", '{"loadtest_scenarios": ["smoke"], "loadtest_smoke_duration_s": 5}')
    assert gate.returncode != 0
    assert "SLO gate failed" in gate.stdout, gate.stdout[-4000:]
    gate_run = (isolated_stack["runs_root"] / isolated_stack["stack"] / "latest").resolve()

    down = run_playbook("playbooks/teardown.yml", *extra, "-e", "teardown_confirm=true")
    assert down.returncode == 0, down.stdout[-4000:] + down.stderr[-2000:]
    assert "0 leftovers" in down.stdout
    # The teardown completes the newest run: the one the SLO gate failed.
    run_dir = (isolated_stack["runs_root"] / isolated_stack["stack"] / "latest").resolve()
    assert run_dir == gate_run
    leftovers = json.loads((run_dir / "leftovers.json").read_text())
    assert int(leftovers["count"]) == 0
    report = (run_dir / "report.md").read_text()
    assert "emulated" in report.lower()
    assert "0 leftovers" in report or "no leftovers" in report.lower()

    again = run_playbook("playbooks/teardown.yml", *extra, "-e", "teardown_confirm=true", json_output=True)
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-2000:]
    assert changed_tasks(again.stdout, prefixes=AWS_MODULES) == []
    # A normal run writes only under runs_root: the example evidence pack in docs/
    # is regenerated on request (make evidence-example), so the checkout stays clean.
    assert not isolated_stack["docs_dir"].exists(), sorted(isolated_stack["docs_dir"].rglob("*"))
    # Nor does anything else in the checkout change (git status as before the run).
    assert checkout_status() == status_before


def test_bad_inputs_stop_before_anything_exists(isolated_stack):
    for bad, message in [
        ("vpc_cidr=10.0.0.0/33", "is not a valid CIDR"),
        ("aws_region=xx-fake-9", "is not an AWS region"),
        ("eks_cluster_version=1.31", "AWS no longer creates clusters at this version"),
    ]:
        result = run_playbook("site.yml", *isolated_stack["extra"], "-e", bad)
        assert result.returncode != 0
        assert message in result.stdout
        # Nothing was created: not even the run directory or the emulator.
        assert not (isolated_stack["runs_root"] / isolated_stack["stack"]).exists()


def test_teardown_still_runs_at_a_version_aws_no_longer_creates(isolated_stack):
    """Creating at an ended EKS version stops in preflight; deleting what exists must not: the teardown has its
    own preflight and never runs the create-time checks."""
    result = run_playbook("playbooks/teardown.yml", *isolated_stack["extra"], "-e", "eks_cluster_version=1.31",
                          "-e", "teardown_confirm=true")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    said = " ".join(result.stdout.split())  # the callback folds long messages
    assert "AWS no longer creates clusters at this version" not in said  # create-time checks do not run
    assert "0 leftovers" in result.stdout


def test_missing_credentials_on_the_aws_profile(tmp_path):
    env = {
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_ACCESS_KEY_ID": None,
        "AWS_SECRET_ACCESS_KEY": None,
        "AWS_SESSION_TOKEN": None,
        "AWS_PROFILE": None,
    }
    result = run_playbook("-i", "inventories/aws", "site.yml", "-e", f"runs_root={tmp_path}",
                          "-e", '{"eks_public_access_cidrs": ["203.0.113.10/32"]}', env=env)
    assert result.returncode != 0
    assert "AWS credentials do not resolve" in result.stdout
