"""The teardown's dry run: the one table of deletion targets, the plan built from it, and the plan file."""
from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.gpu_e2e.platform.plugins.filter.teardown import teardown_targets
from ansible_collections.gpu_e2e.platform.plugins.module_utils import stack_inventory as inv
from ansible_collections.gpu_e2e.platform.plugins.module_utils.teardown_plan import TeardownPlanError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.teardown_plan import build_plan
from ansible_collections.gpu_e2e.platform.plugins.module_utils.teardown_plan import plan_line
from ansible_collections.gpu_e2e.platform.plugins.module_utils.teardown_plan import write_plan

ROOT = Path(__file__).resolve().parents[2]
TASKS = ROOT / "roles" / "teardown" / "tasks"
ALL_STEPS = ["helm", "eks", "network", "storage", "logs", "budget"]
LOCAL_STEPS = ALL_STEPS[1:]
WHEN = datetime.datetime(2026, 12, 3, 5, 0, 0, tzinfo=datetime.UTC)


def record(kind, rid, by="stack-tag", **attrs):
    detail = "tagged stack=pv" if by == "stack-tag" else f"{rid} recorded by a run of the stack"
    return {"kind": kind, "id": rid, "name": attrs.pop("name", ""), "region": "us-east-1",
            "evidence": {"by": by, "detail": detail}, "state": attrs.pop("state", ""),
            "order": inv.order_of(kind), **attrs}


def deletion_tasks():
    """(step, target, module) of every task of the steps that loops over teardown_targets, in the order they run."""
    found = []
    for step in ALL_STEPS:
        for task in yaml.safe_load((TASKS / f"{step}.yml").read_text()):
            for inner in task.get("block", [task]):
                match = re.search(r"teardown_targets\('([^']+)'\)", str(inner.get("loop", "")))
                if match:
                    module = next(key for key in inner if "." in key and key.count(".") == 2)
                    found.append((step, match.group(1), module))
    return found


def test_the_deletion_tasks_are_the_table_in_its_order():
    """The table the plan is built from is the deletion tasks, task for task: same targets, same order, same
    modules. Fails when a task is added, moved or changed without the table (or the other way round)."""
    assert deletion_tasks() == [(e["step"], e["target"], e["module"]) for e in inv.DELETE_SEQUENCE]
    steps = yaml.safe_load((ROOT / "roles/teardown/vars/main.yml").read_text())["teardown__steps"]
    assert steps == "{{ teardown__profile_steps + " + str(LOCAL_STEPS) + " }}"
    # The profile's first steps are set by its preflight (the role's one choice by profile): helm on aws only.
    profile_steps = {}
    for profile in ("aws", "local"):
        for task in yaml.safe_load((TASKS / f"preflight_{profile}.yml").read_text()):
            facts = task.get("ansible.builtin.set_fact") or {}
            if "teardown__profile_steps" in facts:
                profile_steps[profile] = facts["teardown__profile_steps"]
    assert profile_steps == {"aws": ALL_STEPS[:1], "local": []}
    assert profile_steps["aws"] + LOCAL_STEPS == ALL_STEPS
    for entry in inv.DELETE_SEQUENCE:
        assert entry["kind"] in inv.TYPES, entry
        assert inv.TYPES[entry["kind"]]["delete"].startswith(f"{entry['step']}.yml:"), entry


def test_no_deletion_task_selects_by_kind_itself():
    """Every deletion task's targets come from the table: none filters the records on its own."""
    for step in ALL_STEPS:
        assert "selectattr('kind'" not in (TASKS / f"{step}.yml").read_text(), step


def test_targets_follow_the_where_fields():
    records = [
        record("ec2/volume", "vol-free", state="available"), record("ec2/volume", "vol-used", state="in-use"),
        record("ec2/network-interface", "eni-cni", state="available", requester_managed=False),
        record("ec2/network-interface", "eni-eks", state="available", requester_managed=True),
        record("iam/role", "pv-irsa", federated=True), record("iam/role", "pv-node", federated=False),
        record("elasticloadbalancing/loadbalancer", "arn:alb", lb_type="application"),
        record("elasticloadbalancing/loadbalancer", "arn:nlb", lb_type="network"),
    ]
    ids = {target: [r["id"] for r in inv.targets(records, target)] for target in inv.TARGETS}
    assert ids["volume"] == ["vol-free"]
    assert ids["network-interface"] == ["eni-cni"]
    assert ids["irsa-role"] == ["pv-irsa"] and ids["other-role"] == ["pv-node"]
    assert ids["application-load-balancer"] == ["arn:alb"] and ids["network-load-balancer"] == ["arn:nlb"]


def test_an_unknown_target_is_one_clear_error():
    with pytest.raises(AnsibleFilterError, match="unknown teardown target 'nat'"):
        teardown_targets([], "nat")
    assert teardown_targets(None, "vpc") == []


def stack_records():
    return [  # in the scanner's order (inventory order), not the deletion order
        record("elasticloadbalancing/loadbalancer", "arn:alb", lb_type="application"),
        record("eks/nodegroup", "pv/pv-gpu", name="pv-gpu", cluster="pv"),
        record("ec2/instance", "i-0abc"),
        record("ec2/launch-template", "lt-0abc"),
        record("iam/role", "pv-eks-node", federated=False),
        record("iam/role", "pv-irsa-triton", federated=True),
        record("iam/oidc-provider", "arn:oidc"),
        record("eks/cluster", "pv"),
        record("ec2/natgateway", "nat-0abc", name="pv-nat"),
        record("ec2/volume", "vol-used", state="in-use"),
        record("ec2/subnet", "subnet-0abc"),
        record("ec2/vpc", "vpc-0abc"),
        record("s3/bucket", "pv-models-1"),
        record("budgets/budget", "pv-monthly", by="recorded-id"),
    ]


def test_the_plan_is_the_deletion_order_with_the_evidence():
    plan = build_plan(stack_records(), LOCAL_STEPS, stack_name="pv", aws_region="us-east-1",
                      platform_target="local", planned_at=WHEN)
    assert [(e["order"], e["id"]) for e in plan["resources"]] == list(enumerate([
        "pv/pv-gpu", "pv-irsa-triton", "arn:oidc", "pv", "pv-eks-node", "lt-0abc",
        "nat-0abc", "subnet-0abc", "vpc-0abc", "pv-models-1", "pv-monthly"], start=1))
    assert plan["count"] == 11 and plan["planned_at"] == "2026-12-03T05:00:00Z"
    budget = plan["resources"][-1]
    assert budget["step"] == "budget" and budget["module"] == "gpu_e2e.platform.aws_budget"
    assert budget["evidence"] == {"by": "recorded-id", "detail": "pv-monthly recorded by a run of the stack"}
    reasons = {e["id"]: e["reason"] for e in plan["not_deleted"]}
    assert set(reasons) == {"arn:alb", "i-0abc", "vol-used"}
    assert reasons["arn:alb"].startswith("step helm does not run on this profile")
    assert reasons["i-0abc"].startswith("goes with its node group")
    assert reasons["vol-used"].startswith("not in a state teardown deletes (in-use)")
    assert plan_line(plan["resources"][6]) == ("7. ec2/natgateway nat-0abc (pv-nat) (us-east-1) - stack-tag: "
                                               "tagged stack=pv [network: amazon.aws.ec2_vpc_nat_gateway]")


def test_the_aws_profile_plans_the_load_balancers_first_and_a_kept_budget_is_apart():
    kept = [record("budgets/budget", "pv-monthly", by="recorded-id")]
    records = [r for r in stack_records() if r["kind"] != "budgets/budget"]
    plan = build_plan(records, ALL_STEPS, kept=kept, planned_at=WHEN)
    assert plan["resources"][0]["id"] == "arn:alb" and plan["resources"][0]["step"] == "helm"
    assert "pv-monthly" not in [e["id"] for e in plan["resources"]]
    assert [e["id"] for e in plan["kept"]] == ["pv-monthly"]


def test_an_unknown_step_is_refused():
    with pytest.raises(TeardownPlanError, match=r"unknown teardown steps \['dns'\]"):
        build_plan([], ["eks", "dns"])


def test_a_plan_never_replaces_an_earlier_one_and_check_mode_writes_nothing(tmp_path):
    """Fails if the plan file name ignores an existing plan (checked: the second write then replaced the first)."""
    plan = build_plan(stack_records(), LOCAL_STEPS, planned_at=WHEN)
    assert write_plan(str(tmp_path), plan, WHEN, check_mode=True) == str(tmp_path / "teardown-plan.json")
    assert list(tmp_path.iterdir()) == []
    first = write_plan(str(tmp_path), plan, WHEN)
    second = write_plan(str(tmp_path), {"count": 0}, WHEN)
    third = write_plan(str(tmp_path), {"count": 1}, WHEN)
    assert first == str(tmp_path / "teardown-plan.json")
    assert second == str(tmp_path / "teardown-plan-20261203T050000Z.json")
    assert third == str(tmp_path / "teardown-plan-20261203T050000Z-2.json")
    assert json.loads(Path(first).read_text())["count"] == 11
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "teardown-plan-20261203T050000Z-2.json", "teardown-plan-20261203T050000Z.json", "teardown-plan.json"]


def test_a_plan_that_cannot_be_written_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(TeardownPlanError, match="cannot write the teardown plan"):
        write_plan(str(blocker / "run"), {}, WHEN)
