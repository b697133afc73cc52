"""Every bad input stops site.yml in preflight, with one line naming the variable, and nothing exists afterwards.

Each case runs the real `site.yml` on the local profile with one bad input and asserts:
- a non-zero exit;
- one line (ansible's `[ERROR]: Task failed: ...` line) that names the variable and the broken rule;
- the time taken under CASE_BOUND_S: a generous guard that the run stopped in preflight, before any stage's
  multi-minute waits, not a performance figure;
- an independent emulator inventory that is empty afterwards: every AWS call of the run goes to one emulator this
  test starts and owns (aws_endpoint_url), listed with boto3 after each case;
- no process left running (every pid file of the stack names a dead process, and the port of the run's own
  emulator is free), and no run directory, or (for a refusal by a read-only AWS check) only the refusal's own.

Verified by removing checks one at a time (December 2026): with the S3 reserved-prefix rule of
plugins/module_utils/aws_names.py removed, `s3-xn-prefix` failed (only the ECR rule refused it, with a line that does
not name model_bucket_name); with the assert of roles/vpc/tasks/preflight_aws.yml removed, `azs-of-another-region`
failed (the run reached the spot check, whose line does not name vpc_azs); with the load-target task of
roles/loadtest/tasks/preflight_create.yml removed, `load-target-not-ours` failed on the time bound: the run went
through the stages and started Locust (against 127.0.0.2:9, a loopback address nothing listens on).
`gpu-type-without-gpu` stands on the NVIDIA-GPU check of plugins/module_utils/spot_capacity_info.py (its unit
tests turn red without it); without that check m5.large (cheap, offered in every AZ) passes the spot check and the run
goes on to create the stack.

The load target is only ever tested with loopback addresses (127.0.0.0/8) that are not the stack's.
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import time

import pytest
from aws_emulator_process import emulator_client, free_port, running_emulator

from playbook_runner import run_playbook

STACK = "it-bad"
CASE_BOUND_S = 120
CASE_TIMEOUT_S = 300
ERROR_LINE = re.compile(r"^\[ERROR\]: Task failed: Action failed: (.*)$", re.MULTILINE)

# (id, extra vars, variable the line must name, fragment of the rule, where it stops)
# where: "static" stops before the run directory exists; "aws" stops in a read-only AWS check, after the
# run directory and the run's own emulator exist (the emulator is stopped and the refusal recorded).
CASES = [
    # From the issue.
    ("s3-xn-prefix", ["stack_name=xn--gpu"], "model_bucket_name", "prefix 'xn--'", "static"),
    ("s3-sthree-prefix", ["stack_name=sthree-x"], "model_bucket_name", "prefix 'sthree-'", "static"),
    ("model-name-dotdot", ["model_name=.."], "model_name", "without '..'", "static"),
    ("azs-of-another-region", ['{"vpc_azs": ["us-west-2a", "us-west-2b"]}'], "vpc_azs",
     "is not an available AZ of aws_region us-east-1", "aws"),
    ("private-endpoint-off", ["eks_endpoint_private_access=false"], "eks_endpoint_private_access",
     "private endpoint off only when", "static"),
    ("zero-gpu-nodes", ["gpu_nodegroup_desired_size=0", "gpu_nodegroup_min_size=0"], "gpu_nodegroup_desired_size",
     "is below 1", "static"),
    ("spot-cap-zero", ["gpu_nodegroup_spot_max_price=0"], "gpu_nodegroup_spot_max_price", "at or below 0", "static"),
    ("spot-cap-inf", ["gpu_nodegroup_spot_max_price=inf"], "gpu_nodegroup_spot_max_price", "not a finite number",
     "static"),
    ("disk-over-ebs", ["gpu_nodegroup_disk_size=20000"], "gpu_nodegroup_disk_size", "above 16384", "static"),
    ("batch-over-max", ["loadtest_batch_size=16"], "loadtest_batch_size", "model_max_batch_size=8", "static"),
    ("batch-zero", ["loadtest_batch_size=0"], "loadtest_batch_size", "below 1", "static"),
    ("load-target-not-ours", ["loadtest_target_url=http://127.0.0.2:9"], "loadtest_target_url",
     "is not this stack's own endpoint", "static"),
    ("smoke-inf", ["loadtest_smoke_duration_s=inf"], "loadtest_smoke_duration_s", "not a finite number", "static"),
    ("soak-116-days", ["loadtest_soak_duration_s=10000000"], "loadtest_soak_duration_s",
     "loadtest_long_run_i_know=true", "static"),
    ("users-50000", ["loadtest_smoke_users=50000"], "loadtest_smoke_users", "loadtest_many_users_i_know=true",
     "static"),
    ("slo-never-passes", ["slo_p95_ms=0"], "slo_p95_ms", "can never pass", "static"),
    ("slo-never-fails", ["slo_error_rate_pct=100", "slo_min_throughput_rps=0"], "slo_error_rate_pct",
     "can never fail", "static"),
    ("timeout-zero", ["loadtest_request_timeout_s=0"], "loadtest_request_timeout_s", "at or below 0", "static"),
    ("metrics-port-is-prometheus", ["triton_metrics_port=9090", "observability_prometheus_port=9090"],
     "triton_metrics_port", "collides with", "static"),
    ("run-dir-mode-unknown", ["preflight_run_dir_mode=New"], "preflight_run_dir_mode", "is not 'new'", "static"),
    ("budget-threshold-1000", ["bootstrap_budget_threshold_pct=1000"], "bootstrap_budget_threshold_pct",
     "bootstrap_budget_threshold_i_know=true", "static"),
    ("cluster-outside-policy", ["cluster_name=other"], "cluster_name", "operator policy", "static"),
    ("eks-version-unknown-al2", ["eks_cluster_version=1.36"], "eks_cluster_version", "1.36", "static"),
    ("eks-version-unknown", ["eks_cluster_version=1.36", "gpu_nodegroup_ami_type=BOTTLEROCKET_x86_64_NVIDIA"],
     "eks_cluster_version", "not in this collection's version calendar", "static"),
    # Found while reading the code.
    ("disk-not-a-number", ["gpu_nodegroup_disk_size=abc"], "gpu_nodegroup_disk_size", "convert to int", "static"),
    ("capacity-type-unknown", ["gpu_nodegroup_capacity_type=spot"], "gpu_nodegroup_capacity_type", "must be one of",
     "static"),
    ("azs-twice", ['{"vpc_azs": ["us-east-1a", "us-east-1a"]}'], "vpc_azs", "names an AZ twice", "static"),
    ("iam-role-too-long", ["eks_triton_role_name=it-bad-" + "r" * 60], "eks_triton_role_name", "1-64 characters",
     "static"),
    ("load-target-other-port", ["loadtest_target_url=http://localhost:9"], "loadtest_target_url",
     "is not this stack's own endpoint", "static"),
    ("sweep-users-over-hard-limit", ['{"loadtest_sweep_users": [1, 100000]}', "loadtest_many_users_i_know=true"],
     "loadtest_sweep_users", "the most allowed even with", "static"),
    ("s3-prefix-escapes", ["model_s3_prefix=../state"], "model_s3_prefix", "without '..'", "static"),
    ("budget-email", ["bootstrap_budget_email=nobody"], "bootstrap_budget_email", "not an email address", "static"),
    ("emulator-port-is-triton", ["aws_emulator_port=18000", "triton_http_port=18000"], "aws_emulator_port",
     "collides with", "static"),
    ("gpu-type-without-gpu", ['{"gpu_nodegroup_instance_types": ["m5.large"]}'], "gpu_nodegroup_instance_types",
     "m5.large has no NVIDIA GPU", "aws"),
    ("log-type-unknown", ['{"eks_cluster_log_types": ["api", "kubelet"]}'], "eks_cluster_log_types",
     "Got no match for: kubelet (roles/eks/meta/argument_specs.yml)", "static"),
    ("scrape-interval-not-a-duration", ["observability_prometheus_scrape_interval=fast"],
     "observability_prometheus_scrape_interval", "must be a Prometheus duration", "static"),
    ("scrape-target-off-loopback", ['{"observability_prometheus_targets": ["10.0.0.5:8002"]}'],
     "observability_prometheus_targets", "refused: 10.0.0.5:8002", "static"),
]


@pytest.fixture(scope="module")
def emulator():
    """One emulator for every case: the run's AWS endpoint, and the independent inventory afterwards."""
    with running_emulator() as url:
        assert inventory(url) == EMPTY, "the emulator must start empty"
        yield url


EMPTY = {"vpcs": [], "subnets": [], "nat_gateways": [], "addresses": [], "eks_clusters": [], "iam_roles": [],
         "iam_policies": [], "s3_buckets": [], "ecr_repositories": [], "budgets": [], "tagged": []}


def inventory(url):
    """What exists in the emulator, less the defaults of an empty account (default VPC and its subnets)."""
    ec2 = emulator_client(url, "ec2")
    iam = emulator_client(url, "iam")
    account = emulator_client(url, "sts").get_caller_identity()["Account"]
    return {
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")],
        "subnets": [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"] if not s.get("DefaultForAz")],
        "nat_gateways": [n["NatGatewayId"] for n in ec2.describe_nat_gateways()["NatGateways"]],
        "addresses": [a.get("AllocationId") for a in ec2.describe_addresses()["Addresses"]],
        "eks_clusters": emulator_client(url, "eks").list_clusters()["clusters"],
        "iam_roles": [r["RoleName"] for r in iam.list_roles()["Roles"]],
        "iam_policies": [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]],
        "s3_buckets": [b["Name"] for b in emulator_client(url, "s3").list_buckets()["Buckets"]],
        "ecr_repositories": [r["repositoryName"] for r in
                             emulator_client(url, "ecr").describe_repositories()["repositories"]],
        "budgets": [b["BudgetName"] for b in
                    emulator_client(url, "budgets").describe_budgets(AccountId=account).get("Budgets", [])],
        "tagged": [r["ResourceARN"] for r in
                   emulator_client(url, "resourcegroupstaggingapi").get_resources()["ResourceTagMappingList"]],
    }


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _port_in_use(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def case_vars(tmp_path, emulator):
    """Extra vars of one case: its own runs_root and ports; every AWS call goes to the shared test emulator."""
    own_emulator_port = free_port()
    runs_root = tmp_path / "runs"
    extra = [
        "-e", f"aws_emulator_port={own_emulator_port}",
        "-e", f"aws_endpoint_url={emulator}",
        "-e", f"triton_http_port={free_port()}",
        "-e", f"triton_grpc_port={free_port()}",
        "-e", f"triton_metrics_port={free_port()}",
        "-e", f"observability_prometheus_port={free_port()}",
        "-e", f"runs_root={runs_root}",
        "-e", f"docs_dir={tmp_path / 'docs'}",
        "-e", f"stack_name={STACK}",
    ]
    yield {"extra": extra, "runs_root": runs_root, "own_emulator_port": own_emulator_port}
    # Whatever happened, stop every local process the run recorded (by PID).
    for pid_file in runs_root.glob("*/state/**/*.pid"):
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)


@pytest.mark.parametrize("extra, variable, fragment, where", [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_bad_input_stops_in_preflight_and_nothing_exists(case_vars, emulator, extra, variable, fragment, where):
    args = [arg for value in extra for arg in ("-e", value)]
    started = time.monotonic()
    result = run_playbook("site.yml", *case_vars["extra"], *args, timeout=CASE_TIMEOUT_S)
    took = time.monotonic() - started
    output = result.stdout + result.stderr

    assert result.returncode != 0, output[-3000:]
    lines = ERROR_LINE.findall(result.stderr) or ERROR_LINE.findall(result.stdout)
    assert lines, f"no one-line refusal in the output:\n{output[-3000:]}"
    line = lines[-1]
    assert variable in line and fragment in line, line
    assert took < CASE_BOUND_S, f"took {took:.0f} s: the run went past preflight"

    assert inventory(emulator) == EMPTY
    pids = {p: int(p.read_text().strip()) for p in case_vars["runs_root"].glob("*/state/**/*.pid")}
    assert [p for p, pid in pids.items() if _alive(pid)] == []
    assert not _port_in_use(case_vars["own_emulator_port"])

    stack_dir = case_vars["runs_root"] / STACK
    if where == "static":
        assert not stack_dir.exists(), sorted(str(p) for p in stack_dir.rglob("*"))
    else:
        runs = [p for p in stack_dir.iterdir() if p.is_dir() and p.name[:1].isdigit()]
        assert len(runs) == 1 and (runs[0] / "preflight-refusal.txt").read_text().strip() == line
        assert list((runs[0] / "aws").iterdir()) == []  # no record of anything created


def test_an_earlier_run_is_never_overwritten(case_vars, emulator):
    """run_dir naming an earlier run stops in preflight and leaves that run's files as they were."""
    earlier = case_vars["runs_root"] / STACK / "20261122T060000Z"
    (earlier / "aws").mkdir(parents=True)
    (earlier / "report.md").write_text("the earlier evidence\n")
    before = sorted((str(p), p.stat().st_mtime_ns) for p in earlier.rglob("*"))

    started = time.monotonic()
    result = run_playbook("site.yml", *case_vars["extra"], "-e", f"run_dir={earlier}", timeout=CASE_TIMEOUT_S)
    took = time.monotonic() - started

    assert result.returncode != 0
    (line,) = ERROR_LINE.findall(result.stderr)[-1:] or ERROR_LINE.findall(result.stdout)[-1:]
    assert "run_dir=" in line and "is an earlier run" in line, line
    assert took < CASE_BOUND_S
    assert sorted((str(p), p.stat().st_mtime_ns) for p in earlier.rglob("*")) == before
    assert sorted(p.name for p in (case_vars["runs_root"] / STACK).iterdir()) == [earlier.name]
    assert inventory(emulator) == EMPTY


def test_an_override_lets_a_heavy_setting_through_and_prints_its_cost(case_vars, emulator):
    """With loadtest_long_run_i_know the long soak passes preflight, which prints the estimated cost.

    Stopped by a later read-only AWS check (vpc_azs of another region) so that nothing is created: preflight
    prints the cost line before it.
    """
    result = run_playbook("site.yml", *case_vars["extra"], "-e", "loadtest_soak_duration_s=10000",
                          "-e", "loadtest_long_run_i_know=true", "-e", '{"loadtest_scenarios": ["smoke", "soak"]}',
                          "-e", '{"vpc_azs": ["us-west-2a", "us-west-2b"]}', timeout=CASE_TIMEOUT_S)
    assert result.returncode != 0
    said = " ".join(result.stdout.split())
    assert "OVERRIDES IN EFFECT: loadtest_soak_duration_s=10000 (loadtest_long_run_i_know=true)" in said
    assert re.search(r"Estimated cost: about \$[0-9.]+ on aws for about 3\.8 h", said), said[-3000:]
    assert "AWS is emulated and nothing is billed" in said
    assert inventory(emulator) == EMPTY
