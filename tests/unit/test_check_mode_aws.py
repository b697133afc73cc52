"""Check mode and --diff of the collection's AWS modules, end to end against moto.

Every AWS call the modules make is recorded at botocore's one entry point (``BaseClient._make_api_call``),
so "check mode writes nothing" is asserted on the calls themselves, not only on the state afterwards:
a check-mode run may only Describe/List/Get. Each test then runs the same task for real and asserts it
reports the same ``changed`` and the same diff that check mode predicted, and that a diff appears only
with --diff. Removing a module's check-mode return makes the write assertion fail; dropping its diff
makes the diff assertions fail.

Most modules run against moto in process (mock_aws); aws_budget needs the embedded emulator's patches
(moto's budgets API lacks DescribeSubscribersForNotification), so it runs against that on a free
loopback port, like tests/unit/test_aws_budget.py.
"""
from __future__ import annotations

import json
import uuid

import boto3
import botocore.client
import pytest
import yaml
from ansible.module_utils.testing import patch_module_args
from aws_emulator_process import running_emulator
from moto import mock_aws

from ansible_collections.gpu_e2e.platform.plugins.modules import aws_budget
from ansible_collections.gpu_e2e.platform.plugins.modules import ecr_repository_tags
from ansible_collections.gpu_e2e.platform.plugins.modules import eks_cluster_config
from ansible_collections.gpu_e2e.platform.plugins.modules import eks_kubeconfig
from ansible_collections.gpu_e2e.platform.plugins.modules import eks_managed_nodegroup
from ansible_collections.gpu_e2e.platform.plugins.modules import iam_oidc_provider

READS = ("Describe", "List", "Get")
ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


@pytest.fixture
def calls(monkeypatch):
    """The names of the AWS operations called, in order."""
    seen = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        seen.append(operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return seen


def writes(operations):
    return [op for op in operations if not op.startswith(READS)]


@pytest.fixture
def aws(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield


def run(module, capsys, args, check=False, diff=False):
    args = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
    args.setdefault("region", "us-east-1")
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


def preview_then_apply(module, capsys, calls, args):
    """Run the task in check mode with --diff, then for real with --diff; assert the preview was honest."""
    del calls[:]
    preview = run(module, capsys, args, check=True, diff=True)
    assert "failed" not in preview, preview
    assert writes(calls) == [], f"check mode called {writes(calls)}"
    del calls[:]
    applied = run(module, capsys, args, diff=True)
    assert "failed" not in applied, applied
    assert applied["changed"] == preview["changed"]
    assert applied["diff"] == preview["diff"]
    return preview, applied


def test_nodegroup_create_update_delete_are_previewed_exactly(aws, calls, capsys):
    eks = boto3.client("eks", region_name="us-east-1")
    eks.create_cluster(name="c", roleArn="arn:aws:iam::123456789012:role/r",
                       resourcesVpcConfig={"subnetIds": ["subnet-1", "subnet-2"]})
    args = dict(name="gpu", cluster_name="c", node_role="arn:aws:iam::123456789012:role/node",
                subnets=["subnet-1", "subnet-2"], instance_types=["g4dn.xlarge"], ami_type="AL2023_x86_64_NVIDIA",
                capacity_type="SPOT", min_size=0, desired_size=1, max_size=2, labels={"accelerator": "nvidia"},
                tags={"stack": "gpu-e2e"}, wait=False)

    preview, applied = preview_then_apply(eks_managed_nodegroup, capsys, calls, args)
    assert preview["changed"] and preview["diff"]["before"] == {}
    assert preview["diff"]["after"]["scaling"] == {"minSize": 0, "maxSize": 2, "desiredSize": 1}
    assert "CreateNodegroup" in calls

    preview, applied = preview_then_apply(eks_managed_nodegroup, capsys, calls, {**args, "max_size": 3})
    assert preview["changed"]
    assert preview["diff"] == {"before": {"scaling": {"minSize": 0, "maxSize": 2, "desiredSize": 1}},
                               "after": {"scaling": {"minSize": 0, "maxSize": 3, "desiredSize": 1}}}

    unchanged = run(eks_managed_nodegroup, capsys, {**args, "max_size": 3}, check=True, diff=True)
    assert unchanged["changed"] is False and unchanged["diff"] == {"before": {}, "after": {}}
    assert "diff" not in run(eks_managed_nodegroup, capsys, {**args, "max_size": 4}, check=True)

    preview, applied = preview_then_apply(eks_managed_nodegroup, capsys, calls, {**args, "state": "absent"})
    assert preview["changed"] and preview["diff"]["after"] == {} and preview["diff"]["before"]["tags"]
    assert eks.list_nodegroups(clusterName="c")["nodegroups"] == []


def test_cluster_creation_and_an_access_change_are_previewed(aws, calls, capsys):
    args = dict(name="c", role_arn="arn:aws:iam::123456789012:role/r", version="1.33",
                subnets=["subnet-1", "subnet-2"], public_access_cidrs=["203.0.113.10/32"],
                logging_types=["api"], tags={"stack": "gpu-e2e"}, wait_timeout=60)
    preview, applied = preview_then_apply(eks_cluster_config, capsys, calls, args)
    assert preview["changed"] and preview["diff"]["before"] == {}
    assert preview["diff"]["after"]["public_access_cidrs"] == ["203.0.113.10/32"]
    assert "CreateCluster" in calls

    # moto has no DescribeUpdate, so the update itself is not applied here: check mode only.
    del calls[:]
    wider = run(eks_cluster_config, capsys, {**args, "public_access_cidrs": ["0.0.0.0/0"]}, check=True, diff=True)
    assert wider["changed"] and writes(calls) == []
    assert wider["diff"] == {"before": {"public_access_cidrs": ["203.0.113.10/32"]},
                             "after": {"public_access_cidrs": ["0.0.0.0/0"]}}
    cluster = boto3.client("eks", region_name="us-east-1").describe_cluster(name="c")["cluster"]
    assert cluster["resourcesVpcConfig"]["publicAccessCidrs"] == ["203.0.113.10/32"]


def test_oidc_provider_create_and_retag_are_previewed(aws, calls, capsys):
    args = dict(url=ISSUER, thumbprints=[THUMBPRINT], tags={"stack": "gpu-e2e"})
    preview, applied = preview_then_apply(iam_oidc_provider, capsys, calls, args)
    assert preview["changed"] and preview["diff"]["before"] == {}
    assert preview["diff"]["after"]["client_ids"] == ["sts.amazonaws.com"]
    assert "CreateOpenIDConnectProvider" in calls

    preview, applied = preview_then_apply(iam_oidc_provider, capsys, calls, {**args, "tags": {"stack": "other"}})
    assert preview["diff"] == {"before": {"tags": {"stack": "gpu-e2e"}}, "after": {"tags": {"stack": "other"}}}
    again = run(iam_oidc_provider, capsys, {**args, "tags": {"stack": "other"}}, check=True, diff=True)
    assert again["changed"] is False


def test_ecr_tags_are_previewed(aws, calls, capsys):
    boto3.client("ecr", region_name="us-east-1").create_repository(repositoryName="gpu-e2e/triton")
    args = dict(name="gpu-e2e/triton", tags={"stack": "gpu-e2e"})
    preview, applied = preview_then_apply(ecr_repository_tags, capsys, calls, args)
    assert preview["changed"] and preview["diff"] == {"before": {"tags": {}}, "after": {"tags": {"stack": "gpu-e2e"}}}
    assert "TagResource" in calls
    assert run(ecr_repository_tags, capsys, args, check=True)["changed"] is False


def test_kubeconfig_is_previewed_and_never_shows_a_token(aws, calls, capsys, tmp_path):
    boto3.client("eks", region_name="us-east-1").create_cluster(
        name="c", roleArn="arn:aws:iam::123456789012:role/r", resourcesVpcConfig={"subnetIds": ["subnet-1"]})
    path = tmp_path / "kubeconfig"
    args = dict(cluster_name="c", path=str(path))
    del calls[:]
    preview = run(eks_kubeconfig, capsys, args, check=True, diff=True)
    assert preview["changed"] and not path.exists() and writes(calls) == []
    assert preview["diff"]["before"] == "" and preview["diff"]["after_header"] == f"{path} (mode 0600)"
    applied = run(eks_kubeconfig, capsys, args, diff=True)
    assert applied["changed"] and applied["diff"] == preview["diff"]
    assert path.read_text() == preview["diff"]["after"]
    assert run(eks_kubeconfig, capsys, args, check=True)["changed"] is False

    token = run(eks_kubeconfig, capsys, {**args, "auth": "token"}, check=True, diff=True)
    shown = [user["user"]["token"] for user in yaml.safe_load(token["diff"]["after"])["users"]]
    assert token["changed"] and shown == ["k8s-aws-v1.<hidden>"]


@pytest.fixture(scope="module")
def emulator():
    with running_emulator() as url:
        yield url


def test_budget_create_and_limit_change_are_previewed(emulator, calls, capsys):
    name = f"check-{uuid.uuid4().hex[:10]}"
    args = dict(name=name, limit_usd=5, threshold_pct=80, email="ops@example.com",
                cost_filters_tags={"stack": "gpu-e2e"}, endpoint_url=emulator,
                access_key="local-emulator-key", secret_key="local-emulator-secret")
    preview, applied = preview_then_apply(aws_budget, capsys, calls, args)
    assert preview["changed"] and preview["diff"]["before"] == {}
    assert "CreateBudget" in calls
    preview, applied = preview_then_apply(aws_budget, capsys, calls, {**args, "limit_usd": 7.5})
    assert preview["diff"]["before"]["limit_usd"] == 5.0 and preview["diff"]["after"]["limit_usd"] == 7.5
    preview, applied = preview_then_apply(aws_budget, capsys, calls, {**args, "state": "absent"})
    assert preview["changed"] and preview["diff"]["after"] == {}
