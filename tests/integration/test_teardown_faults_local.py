"""playbooks/teardown.yml on the local profile, from partial states and under injected faults.

Every stack is provisioned by site.yml itself (only the stages named), in the embedded emulator, then torn down
by the whole teardown playbook. The teardown runs with teardown_stop_local_services=false so that an independent
look at the emulator (boto3, not the teardown's own report) can judge what is left; the fixtures then stop every
process a run recorded, by PID. Faults are injected at emulator start with GPU_E2E_EMULATOR_FAULTS (a test-only
hook of roles/bootstrap/files/aws_emulator.py, unset in every real run).
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import time

import pytest
from aws_emulator_process import emulator_client, free_port

from playbook_runner import ROOT, changed_tasks, run_playbook

pytestmark = pytest.mark.slow

STAGES = ["bootstrap", "vpc", "eks", "gpu_nodegroup", "nvidia_plugin", "model", "triton"]
AWS_MODULES = ("amazon.aws.", "community.aws.") + tuple(
    f"gpu_e2e.platform.{name}"
    for name in __import__("yaml").safe_load((ROOT / "meta" / "runtime.yml").read_text())["action_groups"]["aws"]
    if name != "eks_kubeconfig"
)


class Stack:
    """One stack of the local profile in a temporary runs_root, with its own emulator port."""

    def __init__(self, tmp_path, name, port=None):
        self.name = name
        self.runs_root = tmp_path / "runs"
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra = [
            "-e", f"aws_emulator_port={self.port}", "-e", f"stack_name={name}",
            "-e", f"runs_root={self.runs_root}", "-e", f"docs_dir={tmp_path / 'docs'}",
            "-e", f"triton_http_port={free_port()}", "-e", f"triton_grpc_port={free_port()}",
            "-e", f"triton_metrics_port={free_port()}",
            "-e", f"observability_prometheus_port={free_port()}",
            # Bounded and quick: behaviour, not AWS's real waiting times, is under test.
            "-e", "teardown_dependency_retries=2", "-e", "teardown_dependency_delay=1",
        ]

    def site(self, *stages, env=None, args=(), ok=True):
        tags = ["--tags", ",".join(stages)] if stages else []
        result = run_playbook("site.yml", *tags, *self.extra, *args, env=env, timeout=900)
        if ok:
            assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        return result

    def teardown(self, *args, json_output=False, ok=True):
        result = run_playbook("playbooks/teardown.yml", *self.extra, "-e", "teardown_confirm=true",
                              "-e", "teardown_stop_local_services=false", *args, json_output=json_output,
                              timeout=900)
        if ok is True:
            assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        elif ok is False:
            assert result.returncode != 0, result.stdout[-4000:]
        return result

    def client(self, service, region=None):
        return emulator_client(self.url, service, region)

    def pid_files(self):
        # Prometheus keeps its pid file in state/prometheus/: every pid file under state/, at any depth.
        return sorted((self.runs_root / self.name / "state").rglob("*.pid"))

    def stop_all(self):
        for pid_file in self.pid_files():
            with contextlib.suppress(ProcessLookupError, ValueError, FileNotFoundError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)

    def leftovers_files(self):
        return sorted(f for f in (self.runs_root / self.name).glob("*/leftovers*.json") if f.parent.name != "latest")

    def latest(self, name):
        return json.loads(((self.runs_root / self.name / "latest").resolve() / name).read_text())


def said(result):
    return " ".join(result.stdout.split())  # the callback folds long messages


def tagged_with(stack_client_pairs, stack):
    """Everything tagged stack=<stack> the emulator still holds, by independent look-ups (not the scanner)."""
    found = []
    for ec2 in stack_client_pairs["ec2"]:
        want = {"Key": "stack", "Value": stack}
        found += [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if want in v.get("Tags", [])]
        found += [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"] if want in s.get("Tags", [])]
        found += [n["NatGatewayId"] for n in ec2.describe_nat_gateways()["NatGateways"]
                  if want in n.get("Tags", []) and n["State"] != "deleted"]
        found += [a["AllocationId"] for a in ec2.describe_addresses()["Addresses"] if want in a.get("Tags", [])]
        found += [g["InternetGatewayId"] for g in ec2.describe_internet_gateways()["InternetGateways"]
                  if want in g.get("Tags", [])]
    return found


def everything_of(stack):
    """Independent look-ups of the emulator for what a stack of this collection creates."""
    ec2, eks, iam = stack.client("ec2"), stack.client("eks"), stack.client("iam")
    left = {"network": tagged_with({"ec2": [ec2]}, stack.name)}
    left["clusters"] = [c for c in eks.list_clusters()["clusters"]
                        if eks.describe_cluster(name=c)["cluster"].get("tags", {}).get("stack") == stack.name]
    left["roles"] = [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(stack.name + "-")
                     and {"Key": "stack", "Value": stack.name} in iam.list_role_tags(RoleName=r["RoleName"])["Tags"]]
    left["buckets"] = [b["Name"] for b in stack.client("s3").list_buckets().get("Buckets", [])
                       if b["Name"].startswith(stack.name + "-models")]
    left["repositories"] = [r["repositoryName"] for r in stack.client("ecr").describe_repositories()["repositories"]
                            if r["repositoryName"].startswith(stack.name + "/")]
    account = stack.client("sts").get_caller_identity()["Account"]
    left["budgets"] = [b["BudgetName"] for b in stack.client("budgets").describe_budgets(AccountId=account)
                       .get("Budgets", []) if b["BudgetName"] == f"{stack.name}-monthly"]
    return {kind: items for kind, items in left.items() if items}


# -- look-alikes, a forced DependencyViolation, the region, a re-run -----------------------------------------

@pytest.fixture(scope="module")
def two_stacks(tmp_path_factory):
    """gpu-e2e and gpu-e2e-2 provisioned (bootstrap + vpc) in one emulator, plus look-alikes; gpu-e2e torn down.

    The emulator answers DependencyViolation to the first subnet deletion, as AWS does while EKS still holds
    interfaces in the subnet.
    """
    tmp = tmp_path_factory.mktemp("two_stacks")
    ours, theirs = Stack(tmp, "gpu-e2e"), Stack(tmp, "gpu-e2e-2")
    theirs.port, theirs.url = ours.port, ours.url
    theirs.extra[1] = f"aws_emulator_port={ours.port}"
    try:
        ours.site("bootstrap", "vpc", env={"GPU_E2E_EMULATOR_FAULTS": '{"delete_subnet": 1}'})
        # gpu-e2e-2 shares gpu-e2e's emulator: its pid file names the same process (same command line).
        (theirs.runs_root / theirs.name / "state").mkdir(parents=True)
        (theirs.runs_root / theirs.name / "state" / "aws-emulator.pid").write_text(
            (ours.runs_root / ours.name / "state" / "aws-emulator.pid").read_text())
        theirs.site("bootstrap", "vpc")
        ec2 = ours.client("ec2")
        untagged_vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16", TagSpecifications=[{
            "ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "gpu-e2e-vpc"}]}])["Vpc"]["VpcId"]
        ours.client("s3").create_bucket(Bucket="gpu-e2e-lookalike")
        west = ours.client("ec2", region="us-west-2")
        west_vpc = west.create_vpc(CidrBlock="10.42.0.0/16", TagSpecifications=[{
            "ResourceType": "vpc", "Tags": [{"Key": "stack", "Value": "gpu-e2e"}]}])["Vpc"]["VpcId"]
        before = {"theirs": everything_of(theirs), "ours": everything_of(ours)}

        wrong_region = ours.teardown("-e", "aws_region=us-west-2", ok=False)
        after_wrong_region = everything_of(ours)
        first = ours.teardown()
        again = ours.teardown(json_output=True)
        yield {"ours": ours, "theirs": theirs, "before": before, "wrong_region": wrong_region,
               "after_wrong_region": after_wrong_region, "first": first, "again": again,
               "untagged_vpc": untagged_vpc, "west_vpc": west_vpc, "west": west}
    finally:
        ours.stop_all()


def test_another_stack_its_budget_and_untagged_look_alikes_survive(two_stacks):
    """Fails if ownership falls back to a name prefix: the former budget scan matched `gpu-e2e-*` and deleted
    gpu-e2e-2-monthly (checked by restoring that match: this test then fails on the budget)."""
    ours, theirs = two_stacks["ours"], two_stacks["theirs"]
    assert two_stacks["before"]["ours"]["budgets"] == ["gpu-e2e-monthly"]
    assert everything_of(ours) == {}
    assert everything_of(theirs) == two_stacks["before"]["theirs"]
    assert everything_of(theirs)["budgets"] == ["gpu-e2e-2-monthly"]
    ec2 = ours.client("ec2")
    assert ec2.describe_vpcs(VpcIds=[two_stacks["untagged_vpc"]])["Vpcs"]
    assert "gpu-e2e-lookalike" in {b["Name"] for b in ours.client("s3").list_buckets()["Buckets"]}


def test_the_same_stack_in_another_region_is_refused_not_reported_clean(two_stacks):
    """A teardown in a region the stack was not recorded in stops with one line before anything is deleted, and
    never says 0 leftovers. Fails if the recorded-region check is removed (checked: the teardown then scans
    us-west-2, deletes the twin there and reports a clean verdict for a region the stack never was in)."""
    result = two_stacks["wrong_region"]
    assert "stack gpu-e2e was recorded in us-east-1, not in us-west-2" in said(result)
    assert "0 leftovers" not in result.stdout
    assert two_stacks["after_wrong_region"] == two_stacks["before"]["ours"]
    # The us-east-1 teardown leaves the us-west-2 twin alone (records carry their region).
    assert two_stacks["west"].describe_vpcs(VpcIds=[two_stacks["west_vpc"]])["Vpcs"]


def test_a_dependency_violation_on_the_first_subnet_is_retried_and_said(two_stacks):
    """Fails if subnet deletion is not retried (checked by removing `until`/`retries`: the network step fails,
    the verdict names it and the VPC is left)."""
    first = two_stacks["first"]
    assert "FAILED - RETRYING" in first.stdout
    assert "DependencyViolation (interfaces still in the subnet) 1 time(s)" in said(first)
    assert "STEP FAILED" not in first.stdout
    assert "0 leftovers of stack gpu-e2e in us-east-1" in first.stdout


def test_a_rerun_changes_nothing_and_overwrites_no_result(two_stacks):
    """Fails if a second teardown writes into the first one's run directory (checked: with the former
    run-directory choice the second leftovers.json replaced the first)."""
    ours = two_stacks["ours"]
    assert changed_tasks(two_stacks["again"].stdout, prefixes=AWS_MODULES) == []
    files = ours.leftovers_files()
    assert len(files) == 2 and len({f.parent for f in files}) == 2
    assert all(json.loads(f.read_text())["verdict"].startswith("0 leftovers") for f in files)


# -- partial states -----------------------------------------------------------------------------------------

# The model stage's partial state is torn down by the dry-run stack (test_dry_runs_local.py) and, under a
# fault, by test_a_step_that_fails_for_good_does_not_stop_the_later_steps_or_the_verdict below.
@pytest.mark.parametrize("last_stage", ["eks", "gpu_nodegroup", "triton"])
def test_teardown_from_a_partial_state_leaves_nothing(tmp_path, last_stage):
    """After site.yml stopped at a stage, the teardown deletes everything and says 0 leftovers. Fails if a
    step misses a type the stage creates (checked by dropping the eks step from teardown__steps: the cluster,
    node group and roles are left and the verdict fails)."""
    stack = Stack(tmp_path, f"pt-{last_stage.replace('_', '')[:8]}")
    try:
        # The schedulability proof (a play tagged with every stage it renders) creates nothing: skipped here.
        stack.site(*STAGES[:STAGES.index(last_stage) + 1], args=("--skip-tags", "schedulability"))
        assert everything_of(stack)
        result = stack.teardown()
        assert everything_of(stack) == {}
        assert f"0 leftovers of stack {stack.name} in us-east-1" in result.stdout
    finally:
        stack.stop_all()


def test_a_step_that_fails_for_good_does_not_stop_the_later_steps_or_the_verdict(tmp_path):
    """After the model stage: the VPC deletion answers DependencyViolation longer than the bounded retries. The
    network step fails; storage, logs and budget still run; leftovers.json, cost.json, report.md and the verdict
    are written and name the failure; a second teardown (the fault is spent) finishes the job.
    Fails if a failing step ends the teardown (checked by removing the rescue in roles/teardown/tasks/step.yml:
    the S3 bucket, ECR repository and budget are then left and no leftovers.json is written)."""
    stack = Stack(tmp_path, "pt-model")
    try:
        stack.site(*STAGES[:STAGES.index("model") + 1], env={"GPU_E2E_EMULATOR_FAULTS": '{"delete_vpc": 3}'})
        before = everything_of(stack)
        assert {"buckets", "repositories", "budgets", "network"} <= set(before)

        failed = stack.teardown(ok=False)
        left = everything_of(stack)
        assert set(left) == {"network"}  # the VPC: storage, logs and budget went after the network step failed
        assert "STEP FAILED network" in failed.stdout
        assert "failed steps: network" in said(failed)
        record = stack.latest("leftovers.json")
        assert record["failed_steps"][0]["step"] == "network"
        assert [i["kind"] for i in record["leftovers"]] == ["ec2/vpc"]
        run_dir = (stack.runs_root / stack.name / "latest").resolve()
        assert (run_dir / "cost.json").exists() and (run_dir / "report.md").exists()

        stack.teardown()
        assert everything_of(stack) == {}
    finally:
        stack.stop_all()


def test_a_lost_emulator_state_gives_unknown_not_zero(tmp_path):
    """The emulator holding the stack is killed; the teardown starts a fresh (empty) one. The verdict must be
    "unknown: ...", never "0 leftovers". Fails if the state-loss check is removed (checked by making
    preflight_local.yml's reasons always empty: the teardown then passes with 0 leftovers)."""
    stack = Stack(tmp_path, "pt-lost")
    try:
        stack.site("bootstrap", "vpc")
        (pid_file,) = [p for p in stack.pid_files() if p.name == "aws-emulator.pid"]
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            time.sleep(0.1)

        result = stack.teardown(ok=False)
        assert "unknown: the emulator that held the stack" in said(result)
        assert "0 leftovers" not in result.stdout
        record = stack.latest("leftovers.json")
        assert record["verdict"].startswith("unknown: ")
        assert (stack.runs_root / stack.name / "latest" / "report.md").exists()
    finally:
        stack.stop_all()


def test_the_aws_inventory_teardown_needs_only_credentials_and_a_region(tmp_path):
    """`-i inventories/aws playbooks/teardown.yml -e teardown_confirm=true` with only credentials and a region,
    its endpoint pointed at the emulator: it gets past preflight (no eks_public_access_cidrs, helm or model
    file needed) and ends with 0 leftovers. Fails if the teardown imports the create-time preflight again
    (checked: it then stops at "eks_public_access_cidrs is empty")."""
    from aws_emulator_process import running_emulator

    with running_emulator() as url:
        defaults = {"aws_module_defaults": {"region": "us-east-1", "endpoint_url": url,
                                            "access_key": "local-emulator-key",
                                            "secret_key": "local-emulator-secret"}}
        result = run_playbook("-i", "inventories/aws", "playbooks/teardown.yml", "-e", "teardown_confirm=true",
                              "-e", json.dumps(defaults), "-e", f"runs_root={tmp_path / 'runs'}",
                              "-e", f"docs_dir={tmp_path / 'docs'}", "-e", "teardown_helm_binary=/nonexistent",
                              env={"AWS_ENDPOINT_URL": url}, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "eks_public_access_cidrs" not in result.stdout
    assert "0 leftovers of stack gpu-e2e in us-east-1" in result.stdout
