"""Acceptance of the spot price cap on the local profile: with the emulator's spot prices seeded above
gpu_nodegroup_spot_max_price, the run stops before the GPU node group exists and names the prices it saw; with
gpu_nodegroup_on_demand_fallback=true the node group is created as ON_DEMAND instead; a second run changes
nothing. Slow-ish (the vpc and eks stages run first against a private emulator)."""
from __future__ import annotations

import json

import boto3
import botocore.exceptions
import pytest

from playbook_runner import ROOT, changed_tasks, run_playbook

pytestmark = pytest.mark.slow

STAGES = "\n".join(
    f"- name: Import the {stage} stage.\n  ansible.builtin.import_playbook: {ROOT}/playbooks/{stage}.yml"
    for stage in ("preflight", "vpc", "eks", "gpu_nodegroup")
)


def nodegroups(port, cluster):
    eks = boto3.client("eks", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                       aws_access_key_id="local-emulator-key", aws_secret_access_key="local-emulator-secret")
    if cluster not in eks.list_clusters()["clusters"]:
        return {}  # the spot preflight runs in the preflight play, before even the cluster exists
    try:
        names = eks.list_nodegroups(clusterName=cluster)["nodegroups"]
    except botocore.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return {}
        raise
    return {n: eks.describe_nodegroup(clusterName=cluster, nodegroupName=n)["nodegroup"] for n in names}


def test_price_above_the_cap_stops_before_the_node_group_then_fallback_is_on_demand(isolated_stack, tmp_path):
    playbook = tmp_path / "stages.yml"
    playbook.write_text("---\n" + STAGES + "\n")
    prices = tmp_path / "spot-prices.json"
    # Every default type above the cap: a type under it would simply be left (the others dropped, named).
    prices.write_text(json.dumps({"g4dn.xlarge": 0.99, "g5.xlarge": 0.98, "g6.xlarge": 0.97}))
    extra = [*isolated_stack["extra"], "-e", f"bootstrap_emulator_spot_prices_file={prices}",
             "-e", "gpu_nodegroup_spot_max_price=0.30"]
    stack, port = isolated_stack["stack"], isolated_stack["port"]

    stopped = run_playbook(str(playbook), *extra)
    assert stopped.returncode != 0
    out = " ".join(stopped.stdout.split())  # the message is folded over lines
    assert f"GPU node group {stack}-gpu not created (SPOT)" in out
    assert "no instance type is left: g4dn.xlarge spot price above the cap of $0.3000/h in 2 of 2 AZs" in out
    assert "g4dn.xlarge us-east-1a $0.9900/h" in out and "g4dn.xlarge us-east-1b $0.9900/h" in out
    assert "g5.xlarge us-east-1b $0.9800/h" in out and "g6.xlarge us-east-1a $0.9700/h" in out
    assert "gpu_nodegroup_on_demand_fallback=true" in out
    # The refusal may come from preflight's read-only checks, which stop the emulator this run started:
    # then nothing of the stack exists at all. Otherwise the emulator answers and holds no node group.
    try:
        assert nodegroups(port, stack) == {}
    except botocore.exceptions.EndpointConnectionError:
        pass

    fallback = run_playbook(str(playbook), *extra, "-e", "gpu_nodegroup_on_demand_fallback=true")
    assert fallback.returncode == 0, fallback.stdout[-4000:] + fallback.stderr[-2000:]
    assert "FALLBACK: spot failed the check" in fallback.stdout
    nodegroup = nodegroups(port, stack)[f"{stack}-gpu"]  # beside the system node group
    assert nodegroup["capacityType"] == "ON_DEMAND"
    assert nodegroup["instanceTypes"] == ["g4dn.xlarge", "g5.xlarge", "g6.xlarge"]
    assert nodegroup["labels"] == {"accelerator": "nvidia"}
    assert nodegroup["taints"] == [{"key": "gpu", "value": "true", "effect": "NO_SCHEDULE"}]

    # The node group exists now: a re-run keeps it (capacity type is immutable), warns, and changes nothing.
    again = run_playbook(str(playbook), *extra, json_output=True)
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-2000:]
    assert "already exists as ON_DEMAND and keeps running" in again.stdout
    # (Files written into the new run directory, such as its kubeconfig, are new files: not counted.)
    assert changed_tasks(again.stdout, prefixes=("amazon.aws.", "community.aws.", "gpu_e2e.platform.iam_oidc_provider",
                                                 "gpu_e2e.platform.eks_cluster_config")) == []
