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


def test_a_cold_dry_run_dry_run_stack_every_stage_and_creates_nothing(dry_run_stack):
    """Fails without check_mode: false on the emulator's start (checked: "AWS credentials do not resolve") and
    without the placeholder (checked: "object of type 'dict' has no attribute 'vpc'")."""
    cold = dry_run_stack["cold"]
    ok(cold)
    assert all(ids == [] for ids in dry_run_stack["after_cold"].values()), dry_run_stack["after_cold"]
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


def test_a_cold_dry_run_writes_no_stage_record(dry_run_stack):
    """The run directory of a dry run holds its inputs and the emulator's log, and no stage writes into it; the
    latest pointer is not moved to it."""
    (cold_dir,) = dry_run_stack["cold_dirs"]
    files = sorted(str(p.relative_to(cold_dir)) for p in cold_dir.rglob("*") if p.is_file())
    assert files == ["aws-emulator.log", "inputs.yml"], files
    assert not dry_run_stack["cold_model_repository"]
    assert dry_run_stack["run_dir"] != cold_dir


def test_a_provisioned_stack_dry_run_stack_with_no_aws_change(dry_run_stack):
    unchanged = dry_run_stack["unchanged"]
    ok(unchanged)
    assert changed_tasks(unchanged.stdout, prefixes=AWS_MODULES) == []
    before = dry_run_stack["before"]
    for kind in ("ec2/vpc", "ec2/natgateway", "eks/cluster", "eks/nodegroup", "ecr/repository", "budgets/budget"):
        assert before[kind], kind
    assert dry_run_stack["after_unchanged"] == before


def test_one_changed_input_dry_run_stack_that_change_and_nothing_else(dry_run_stack):
    """Fails when the run's record files show their whole content as a difference (checked on a `--check --diff
    --tags gpu_nodegroup` run without their `diff: false`: both node group records were then shown too)."""
    changed = dry_run_stack["changed"]
    ok(changed)
    assert changed_tasks(changed.stdout, prefixes=AWS_MODULES) == [CLUSTER_TASK]
    (cluster,) = [host for name, host in results(changed) if name == CLUSTER_TASK]
    assert cluster["actions"] == [f"set endpoint access of {STACK}: private=True, public=True from {CIDR}"]
    assert set(shown_diffs(changed)) <= {CLUSTER_TASK}, shown_diffs(changed)
    assert dry_run_stack["after_changed"] == dry_run_stack["before"]


def test_the_site_dry_runs_leave_latest_at_the_real_run(dry_run_stack):
    """The site.yml dry runs left runs/<stack>/latest at the provisioning run, so the teardown plans from its
    records (the plan itself is checked below)."""
    assert dry_run_stack["latest_after_previews"] == dry_run_stack["run_dir"]


# -- the teardown's dry runs ------------------------------------------------------------------------------

def plan_of(result):
    """The plan file the dry run named in its output."""
    paths = [host["path"] for _name, host in results(result) if host.get("action") == "gpu_e2e.platform.teardown_plan"]
    assert paths, "no teardown_plan task ran"
    return paths[0]


def test_the_dry_run_exits_0_and_changes_nothing_in_aws(dry_run_stack):
    """Fails if the check-mode guard of the deletion steps is removed (checked: the deletion modules then run in
    check mode and 11 of them report changed, the first "Delete the node groups of the stack (wait until
    deleted)")."""
    for result in (dry_run_stack["teardown"], dry_run_stack["second_teardown"]):
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        assert changed_tasks(result.stdout, prefixes=AWS_MODULES) == []


def test_the_emulator_holds_the_same_stack_after_each_dry_run(dry_run_stack):
    before = dry_run_stack["before"]
    for kind in ("ec2/vpc", "ec2/natgateway", "eks/cluster", "eks/nodegroup", "s3/bucket", "budgets/budget"):
        assert before[kind], kind
    assert dry_run_stack["after_teardown"] == before
    assert dry_run_stack["after_second_teardown"] == before
    assert dry_run_stack["emulator_alive"]


def test_the_plan_lists_every_resource_in_deletion_order_with_its_evidence(dry_run_stack):
    plan_file = dry_run_stack["run_dir"] / "teardown-plan.json"
    assert plan_of(dry_run_stack["teardown"]) == str(plan_file)
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
    for kind, ids in dry_run_stack["before"].items():
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


def test_the_output_says_what_check_mode_skips(dry_run_stack):
    text = said(dry_run_stack["teardown"])
    assert "CHECK MODE: nothing was deleted. The teardown would delete" in text
    assert "CHECK MODE: leftover verdict skipped in check mode" in text
    assert "CHECK MODE: the processes this run started on the controller" in text
    assert "0 leftovers" not in text and "LEFTOVER " not in text


def test_a_second_dry_run_keeps_the_first_plan(dry_run_stack):
    """Fails if a plan replaces an earlier one (checked by writing always to teardown-plan.json: the second run
    then names the same file)."""
    first, second = plan_of(dry_run_stack["teardown"]), plan_of(dry_run_stack["second_teardown"])
    assert first != second
    assert os.path.dirname(second) == str(dry_run_stack["run_dir"])
    assert os.path.basename(second).startswith("teardown-plan-")
    with open(first, "rb") as handle:
        assert handle.read() == dry_run_stack["first_plan"]
    with open(second, encoding="utf-8") as handle:
        assert json.load(handle)["resources"] == json.loads(dry_run_stack["first_plan"])["resources"]
    # The dry runs wrote no leftover check and no clean-teardown marker.
    assert dry_run_stack["leftovers_after_previews"] == []
    assert not dry_run_stack["clean_marker_after_previews"]


def test_after_the_dry_runs_the_real_teardown_deletes_everything_planned(dry_run_stack):
    """The teardown from the model stage (a partial state: no device plugin, Triton or load test yet) deletes
    everything it planned and says 0 leftovers, judged by the independent inventory. Fails if a step misses a
    type the stage creates (checked by dropping the storage step from teardown__steps: the bucket and the
    repository are then left and the verdict fails)."""
    ok(dry_run_stack["real_teardown"])
    assert all(ids == [] for ids in dry_run_stack["after_real_teardown"].values()), dry_run_stack["after_real_teardown"]
    assert f"0 leftovers of stack {STACK} in us-east-1" in dry_run_stack["real_teardown"].stdout
    planned = {entry["kind"] for entry in json.loads(dry_run_stack["first_plan"])["resources"]}
    assert {kind for kind, ids in dry_run_stack["before"].items() if ids} <= planned


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
