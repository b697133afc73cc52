"""`site.yml --check` on the local profile: a dry run of a fresh stack and of an existing one.

The stack, its order of runs and the independent emulator inventory that judges them are in
tests/dry_run_stack.py (the session fixture `dry_run_stack`, shared with the teardown previews).
"""
from __future__ import annotations

import json

import pytest
from dry_run_stack import CIDR, STACK, ok
from emulator_inventory import AWS_MODULES

from playbook_runner import changed_tasks

pytestmark = pytest.mark.slow

CLUSTER_TASK = ("Stage 2 - EKS control plane, OIDC provider and IRSA roles / gpu_e2e.platform.eks : Ensure the EKS "
                "cluster exists with private endpoint access, public access only from the allowed CIDRs, and logging.")


def results(result):
    """(play / task name, host result) of every task of a json-callback run."""
    data = json.loads(result.stdout[result.stdout.index("{"):])
    for play in data["plays"]:
        for task in play["tasks"]:
            for host in task["hosts"].values():
                yield f"{play['play']['name']} / {task['task']['name']}", host


def shown_diffs(result):
    """Names of the tasks whose difference `--diff` prints: changed, with a non-empty diff."""
    return [name for name, host in results(result) if host.get("changed") and has_diff(host.get("diff"))]


def has_diff(diff):
    return any(diff) if isinstance(diff, list) else bool(diff)


def said(result):
    return " ".join(result.stdout.split())


@pytest.fixture
def previews(dry_run_stack):
    return dry_run_stack


def test_a_cold_dry_run_previews_every_stage_and_creates_nothing(previews):
    """Fails without check_mode: false on the emulator's start (checked: "AWS credentials do not resolve") and
    without the placeholder (checked: "object of type 'dict' has no attribute 'vpc'")."""
    cold = previews["cold"]
    ok(cold)
    assert all(ids == [] for ids in previews["after_cold"].values()), previews["after_cold"]
    would = changed_tasks(cold.stdout, prefixes=AWS_MODULES)
    for task in ("Ensure the VPC exists.", "Ensure the NAT gateway exists in the first public subnet.",
                 "Ensure the cluster IAM role exists with the EKS cluster policy.",
                 "Ensure the IAM OIDC provider of the cluster exists.",
                 "Ensure the GPU managed node group exists (wait until ACTIVE, bounded).",
                 "Ensure the ECR repository for the Triton image exists (scan on push, lifecycle policy).",
                 "Ensure the billing alarm (AWS Budgets) exists with an email notification."):
        assert any(name.endswith(" : " + task) for name in would), (task, would)
    text = said(cold)
    assert "CHECK MODE: the emulator runs for real: it is infrastructure of this run, not a resource of the stack" \
        in text
    for stage in ("device plugin", "triton", "observability", "loadtest", "report"):
        assert f"CHECK MODE: the {stage} stage is not previewed" in text, stage
    # Where a value comes from something not created yet, the placeholder shows.
    assert "(would be created)" in cold.stdout


def test_a_cold_dry_run_writes_no_stage_record(previews):
    """The run directory of a dry run holds its inputs and the emulator's log, and no stage writes into it; the
    latest pointer is not moved to it."""
    (cold_dir,) = previews["cold_dirs"]
    files = sorted(str(p.relative_to(cold_dir)) for p in cold_dir.rglob("*") if p.is_file())
    assert files == ["aws-emulator.log", "inputs.yml"], files
    assert not previews["cold_model_repository"]
    assert previews["run_dir"] != cold_dir


def test_a_provisioned_stack_previews_with_no_aws_change(previews):
    unchanged = previews["unchanged"]
    ok(unchanged)
    assert changed_tasks(unchanged.stdout, prefixes=AWS_MODULES) == []
    before = previews["before"]
    for kind in ("ec2/vpc", "ec2/natgateway", "eks/cluster", "eks/nodegroup", "ecr/repository", "budgets/budget"):
        assert before[kind], kind
    assert previews["after_unchanged"] == before


def test_one_changed_input_previews_that_change_and_nothing_else(previews):
    """Fails when the run's record files show their whole content as a difference (checked on a `--check --diff
    --tags gpu_nodegroup` run without their `diff: false`: both node group records were then shown too)."""
    changed = previews["changed"]
    ok(changed)
    assert changed_tasks(changed.stdout, prefixes=AWS_MODULES) == [CLUSTER_TASK]
    (cluster,) = [host for name, host in results(changed) if name == CLUSTER_TASK]
    assert cluster["actions"] == [f"set endpoint access of {STACK}: private=True, public=True from {CIDR}"]
    assert set(shown_diffs(changed)) <= {CLUSTER_TASK}, shown_diffs(changed)
    assert previews["after_changed"] == previews["before"]


def test_the_teardown_dry_run_plans_the_provisioned_stack(previews):
    teardown = previews["teardown"]
    ok(teardown)
    assert changed_tasks(teardown.stdout, prefixes=AWS_MODULES) == []
    # The site.yml dry runs left runs/<stack>/latest at the provisioning run, so the plan is of its records.
    assert previews["latest_after_previews"] == previews["run_dir"]
    plan = json.loads((previews["run_dir"] / "teardown-plan.json").read_text())
    assert plan["stack_name"] == STACK and plan["check_mode"] is True
    planned = {}
    for entry in plan["resources"]:
        planned.setdefault(entry["kind"], []).append(entry["id"])
    for kind, ids in previews["before"].items():
        if ids:
            assert sorted(planned[kind]) == ids, kind
    assert previews["after_teardown"] == previews["before"]
