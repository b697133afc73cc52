"""gpu_e2e.platform.eks_managed_nodegroup: AL2023_x86_64_NVIDIA node groups, idempotent, in check mode too.

Against moto in process (mock_aws). Each test fails when its behaviour is removed: without the
scaling/label comparison the re-run reports a change or the update is never sent; without the
check-mode return a node group is created in check mode; without the immutable comparison an
instance type change passes silently.
"""

from __future__ import annotations

import json

import boto3
import pytest
from ansible.module_utils.testing import patch_module_args
from moto import mock_aws

from ansible_collections.gpu_e2e.platform.plugins.module_utils import eks_managed_nodegroup as ng
from ansible_collections.gpu_e2e.platform.plugins.modules import eks_managed_nodegroup as module


@pytest.fixture
def cluster(monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        eks = boto3.client("eks", region_name="us-east-1")
        eks.create_cluster(
            name="c",
            roleArn="arn:aws:iam::123456789012:role/r",
            resourcesVpcConfig={"subnetIds": ["subnet-1", "subnet-2"]},
        )
        yield eks


def run(capsys, check=False, **overrides):
    args = dict(
        name="gpu",
        cluster_name="c",
        node_role="arn:aws:iam::123456789012:role/node",
        subnets=["subnet-2", "subnet-1"],
        instance_types=["g4dn.xlarge", "g5.xlarge", "g6.xlarge"],
        ami_type="AL2023_x86_64_NVIDIA",
        capacity_type="SPOT",
        min_size=1,
        desired_size=1,
        max_size=2,
        labels={"accelerator": "nvidia"},
        taints=[{"key": "gpu", "value": "true", "effect": "NO_SCHEDULE"}],
        tags={"stack": "gpu-e2e"},
        wait=False,
        region="us-east-1",
        _ansible_check_mode=check,
    )
    args.update(overrides)
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


def test_check_mode_creates_nothing_then_one_create_carries_everything(cluster, capsys):
    planned = run(capsys, check=True)
    assert planned["changed"] and cluster.list_nodegroups(clusterName="c")["nodegroups"] == []
    created = run(capsys)
    assert created["changed"]
    described = cluster.describe_nodegroup(clusterName="c", nodegroupName="gpu")["nodegroup"]
    assert described["amiType"] == "AL2023_x86_64_NVIDIA" and described["capacityType"] == "SPOT"
    assert described["labels"] == {"accelerator": "nvidia"} and described["tags"]["stack"] == "gpu-e2e"
    assert described["taints"] == [{"key": "gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    assert run(capsys)["changed"] is False


def test_scaling_and_labels_are_updated_in_place(cluster, capsys):
    run(capsys)
    planned = run(capsys, check=True, max_size=3, labels={"accelerator": "nvidia", "tier": "gpu"})
    assert planned["changed"] and planned["actions"] == ["update labels, scalingConfig of node group gpu"]
    assert (
        cluster.describe_nodegroup(clusterName="c", nodegroupName="gpu")["nodegroup"]["scalingConfig"]["maxSize"] == 2
    )
    updated = run(capsys, max_size=3, labels={"accelerator": "nvidia", "tier": "gpu"})
    assert updated["changed"]
    described = cluster.describe_nodegroup(clusterName="c", nodegroupName="gpu")["nodegroup"]
    assert described["scalingConfig"]["maxSize"] == 3 and described["labels"]["tier"] == "gpu"
    assert run(capsys, max_size=3, labels={"accelerator": "nvidia", "tier": "gpu"})["changed"] is False


def test_what_eks_cannot_change_in_place_is_one_clear_error(cluster, capsys):
    run(capsys)
    failed = run(capsys, instance_types=["g4dn.xlarge"])
    assert failed["failed"] and "cannot be changed in place: instance_types" in failed["msg"]


def test_label_and_taint_differences_are_computed_both_ways():
    current = {
        "scalingConfig": {"minSize": 1, "maxSize": 2, "desiredSize": 1},
        "labels": {"a": "1", "old": "x"},
        "taints": [{"key": "gpu", "value": "true", "effect": "NO_SCHEDULE"}],
        "tags": {"stack": "s", "x": "y"},
    }
    params = {
        "min_size": 1,
        "max_size": 2,
        "desired_size": 1,
        "labels": {"a": "2"},
        "taints": [],
        "tags": {"stack": "s"},
        "purge_tags": True,
    }
    fixed, update, add, remove = ng.differences(current, params)
    assert fixed == [] and add == {} and remove == ["x"]
    assert update == {
        "labels": {"addOrUpdateLabels": {"a": "2"}, "removeLabels": ["old"]},
        "taints": {"addOrUpdateTaints": [], "removeTaints": [{"key": "gpu", "value": "true", "effect": "NO_SCHEDULE"}]},
    }
