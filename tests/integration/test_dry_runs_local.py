"""Dry runs on the local profile: `site.yml --check` of a fresh stack and of an existing one, then
`playbooks/teardown.yml --check -e teardown_confirm=true` of that stack, then its real teardown.

The stack, its order of runs and the independent emulator inventory that judges each of them are in
tests/dry_run_stack.py; the module-scoped fixture `dry_run_stack` provisions it once for every test here.
The teardown dry runs must exit 0, change nothing through an AWS module, write teardown-plan.json (every
resource in the teardown's deletion order, each with its ownership evidence), skip the leftover verdict and
leave the local services running, saying so. The second dry run writes a plan of its own beside the first. The
real teardown that follows must delete everything the plan listed.
"""
from __future__ import annotations

import json
import os

import pytest
from aws_emulator_process import emulator_client
from dry_run_stack import CIDR, STACK, ok, run_every_dry_run
from emulator_inventory import AWS_MODULES

from playbook_runner import changed_tasks, run_playbook

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


@pytest.fixture(scope="module")
def dry_run_stack(tmp_path_factory):
    """One stack through every dry run of site.yml and of the teardown, then torn down (tests/dry_run_stack.py)."""
    yield from run_every_dry_run(tmp_path_factory.mktemp("dry-runs"))


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


# -- the teardown's dry runs ------------------------------------------------------------------------------

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
