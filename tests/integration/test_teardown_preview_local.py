"""`playbooks/teardown.yml --check -e teardown_confirm=true` on the local profile: a dry run of the teardown.

The stack is provisioned by site.yml itself (preflight, bootstrap, vpc, eks, gpu_nodegroup, model) in the
embedded emulator, by the session fixture `dry_run_stack` (tests/dry_run_stack.py), shared with the site.yml
previews. Its two teardown dry runs must exit 0, change nothing through an AWS module, write teardown-plan.json
(every resource in the teardown's deletion order, each with its ownership evidence), skip the leftover verdict
and leave the local services running, saying so. An independent look at the emulator (boto3, not the
teardown's own scanner) before and after is the judge of "nothing deleted". The second dry run writes a plan of
its own beside the first. The real teardown that follows must delete everything the plan listed.
"""
from __future__ import annotations

import json
import os

import pytest
from aws_emulator_process import emulator_client
from dry_run_stack import STACK, ok
from emulator_inventory import AWS_MODULES

from playbook_runner import changed_tasks, run_playbook

pytestmark = pytest.mark.slow


@pytest.fixture
def preview(dry_run_stack):
    """The teardown's share of the dry-run stack, under the names of its two dry runs."""
    return {"run_dir": dry_run_stack["run_dir"], "before": dry_run_stack["before"],
            "first": dry_run_stack["teardown"], "after_first": dry_run_stack["after_teardown"],
            "first_plan": dry_run_stack["first_plan"],
            "second": dry_run_stack["second_teardown"], "after_second": dry_run_stack["after_second_teardown"],
            "emulator_alive": dry_run_stack["emulator_alive"], "runs_root": dry_run_stack["runs_root"],
            "leftovers_after_previews": dry_run_stack["leftovers_after_previews"],
            "clean_marker_after_previews": dry_run_stack["clean_marker_after_previews"],
            "real": dry_run_stack["real_teardown"], "after_real": dry_run_stack["after_real_teardown"]}


def said(result):
    return " ".join(result.stdout.split())


def plan_of(result):
    """The plan file the dry run named in its output."""
    for play in json.loads(result.stdout[result.stdout.index("{"):])["plays"]:
        for task in play["tasks"]:
            for host in task["hosts"].values():
                if host.get("action") == "gpu_e2e.platform.teardown_plan":
                    return host["path"]
    raise AssertionError("no teardown_plan task ran")


def test_the_dry_run_exits_0_and_changes_nothing_in_aws(preview):
    """Fails if the check-mode guard of the deletion steps is removed (checked: the deletion modules then run in
    check mode and 11 of them report changed, the first "Delete the node groups of the stack (wait until
    deleted)")."""
    for result in (preview["first"], preview["second"]):
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        assert changed_tasks(result.stdout, prefixes=AWS_MODULES) == []


def test_the_emulator_holds_the_same_stack_after_each_dry_run(preview):
    before = preview["before"]
    for kind in ("ec2/vpc", "ec2/natgateway", "eks/cluster", "eks/nodegroup", "s3/bucket", "budgets/budget"):
        assert before[kind], kind
    assert preview["after_first"] == before
    assert preview["after_second"] == before
    assert preview["emulator_alive"]


def test_the_plan_lists_every_resource_in_deletion_order_with_its_evidence(preview):
    plan_file = preview["run_dir"] / "teardown-plan.json"
    assert plan_of(preview["first"]) == str(plan_file)
    plan = json.loads(plan_file.read_text())
    assert plan["stack_name"] == STACK and plan["check_mode"] is True
    assert plan["steps"] == ["eks", "network", "storage", "logs", "budget"]
    resources = plan["resources"]
    assert [r["order"] for r in resources] == list(range(1, len(resources) + 1)) and plan["count"] == len(resources)
    planned = {}
    for entry in resources:
        planned.setdefault(entry["kind"], []).append(entry)
        assert entry["region"] == "us-east-1", entry
    # Everything the emulator holds for the stack is in the plan, under its own id.
    for kind, ids in preview["before"].items():
        if ids:
            assert sorted(e["id"] for e in planned[kind]) == ids, kind
    first_of = {kind: min(e["order"] for e in entries) for kind, entries in planned.items()}
    # The teardown's order: node groups before their cluster, the cluster before the network, the NAT
    # gateway before the subnets and the VPC, the storage after the network, the budget last.
    assert first_of["eks/nodegroup"] < first_of["eks/cluster"] < first_of["ec2/natgateway"] \
        < first_of["ec2/subnet"] < first_of["ec2/vpc"] < first_of["s3/bucket"] < first_of["budgets/budget"]
    assert resources[-1]["kind"] == "budgets/budget"
    for kind in ("ec2/vpc", "ec2/natgateway", "eks/cluster", "eks/nodegroup", "s3/bucket"):
        for entry in planned[kind]:
            assert entry["evidence"] == {"by": "stack-tag", "detail": f"tagged stack={STACK}"}, entry
    (budget,) = planned["budgets/budget"]
    assert budget["id"] == f"{STACK}-monthly"
    assert budget["evidence"]["by"] == "recorded-id" and f"{STACK}-monthly" in budget["evidence"]["detail"]
    assert {e["step"] for e in planned["eks/cluster"]} == {"eks"}
    assert planned["ec2/natgateway"][0]["module"] == "amazon.aws.ec2_vpc_nat_gateway"


def test_the_output_says_what_check_mode_skips(preview):
    text = said(preview["first"])
    assert "CHECK MODE: nothing was deleted. The teardown would delete" in text
    assert "CHECK MODE: leftover verdict skipped in check mode" in text
    assert "CHECK MODE: the processes this run started on the controller" in text
    assert "0 leftovers" not in text and "LEFTOVER " not in text


def test_a_second_dry_run_keeps_the_first_plan(preview):
    """Fails if a plan replaces an earlier one (checked by writing always to teardown-plan.json: the second run
    then names the same file)."""
    first, second = plan_of(preview["first"]), plan_of(preview["second"])
    assert first != second
    assert os.path.dirname(second) == str(preview["run_dir"])
    assert os.path.basename(second).startswith("teardown-plan-")
    with open(first, "rb") as handle:
        assert handle.read() == preview["first_plan"]
    with open(second, encoding="utf-8") as handle:
        assert json.load(handle)["resources"] == json.loads(preview["first_plan"])["resources"]
    # The dry runs wrote no leftover check and no clean-teardown marker.
    assert preview["leftovers_after_previews"] == []
    assert not preview["clean_marker_after_previews"]


def test_after_the_dry_runs_the_real_teardown_deletes_everything_planned(preview):
    """The teardown from the model stage (a partial state: no device plugin, Triton or load test yet) deletes
    everything it planned and says 0 leftovers, judged by the independent inventory. Fails if a step misses a
    type the stage creates (checked by dropping the storage step from teardown__steps: the bucket and the
    repository are then left and the verdict fails)."""
    ok(preview["real"])
    assert all(ids == [] for ids in preview["after_real"].values()), preview["after_real"]
    assert f"0 leftovers of stack {STACK} in us-east-1" in preview["real"].stdout
    planned = {entry["kind"] for entry in json.loads(preview["first_plan"])["resources"]}
    assert {kind for kind, ids in preview["before"].items() if ids} <= planned


def test_the_aws_inventory_dry_run_takes_the_same_code_path(tmp_path):
    """`-i inventories/aws playbooks/teardown.yml --check`, its endpoint pointed at an emulator holding one tagged
    VPC and one untagged look-alike: the plan has the Helm step first and the VPC with its stack tag, never the
    look-alike, and both VPCs are still there."""
    from aws_emulator_process import running_emulator

    with running_emulator() as url:
        ec2 = emulator_client(url, "ec2")
        ours = ec2.create_vpc(CidrBlock="10.8.0.0/16", TagSpecifications=[{
            "ResourceType": "vpc", "Tags": [{"Key": "stack", "Value": "gpu-e2e"}]}])["Vpc"]["VpcId"]
        theirs = ec2.create_vpc(CidrBlock="10.9.0.0/16", TagSpecifications=[{
            "ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "gpu-e2e-vpc"}]}])["Vpc"]["VpcId"]
        defaults = {"aws_module_defaults": {"region": "us-east-1", "endpoint_url": url,
                                            "access_key": "local-emulator-key",
                                            "secret_key": "local-emulator-secret"}}
        result = run_playbook("-i", "inventories/aws", "playbooks/teardown.yml", "--check",
                              "-e", "teardown_confirm=true", "-e", json.dumps(defaults),
                              "-e", f"runs_root={tmp_path / 'runs'}", "-e", f"docs_dir={tmp_path / 'docs'}",
                              "-e", "teardown_helm_binary=/nonexistent", env={"AWS_ENDPOINT_URL": url},
                              json_output=True, timeout=300)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        assert {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]} >= {ours, theirs}
    assert changed_tasks(result.stdout, prefixes=AWS_MODULES) == []
    with open(plan_of(result), encoding="utf-8") as handle:
        plan = json.load(handle)
    assert plan["platform_target"] == "aws" and plan["steps"][0] == "helm"
    assert [(e["kind"], e["id"], e["evidence"]["by"]) for e in plan["resources"]] == [("ec2/vpc", ours, "stack-tag")]
    assert "CHECK MODE: leftover verdict skipped in check mode" in said(result)
