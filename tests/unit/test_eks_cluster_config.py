"""gpu_e2e.platform.eks_cluster_config: plan logic, the update wait loop with a fake EKS client, and the module
end to end against the embedded emulator (which carries fix_eks_update_cluster_config)."""
from __future__ import annotations

import json
import uuid

import boto3
import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.gpu_e2e.platform.plugins.module_utils import eks_cluster_config as ec
from ansible_collections.gpu_e2e.platform.plugins.modules import eks_cluster_config as module

import test_iam_oidc_provider

endpoint = test_iam_oidc_provider.endpoint  # the module-scoped emulator fixture


def params(**overrides):
    return dict({"name": "c", "endpoint_private_access": True, "endpoint_public_access": True,
                 "public_access_cidrs": ["203.0.113.0/24"], "logging_types": ["api", "audit"],
                 "wait_timeout": 60}, **overrides)


def test_missing_settings_read_as_aws_defaults():
    assert ec.current_access({}) == {"endpoint_private_access": False, "endpoint_public_access": True,
                                     "public_access_cidrs": ["0.0.0.0/0"]}
    assert ec.current_logging({}) == []


def test_access_update_only_when_something_differs():
    current = {"endpoint_private_access": True, "endpoint_public_access": True,
               "public_access_cidrs": ["203.0.113.0/24"]}
    assert ec.access_update(current, params()) is None
    assert ec.access_update(current, params(public_access_cidrs=["0.0.0.0/0"])) == {
        "endpointPrivateAccess": True, "endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}
    # With the public endpoint off, its CIDRs do not matter and are not sent.
    closed = dict(current, endpoint_public_access=False)
    assert ec.access_update(closed, params(endpoint_public_access=False, public_access_cidrs=["1.2.3.0/24"])) is None
    assert ec.access_update(current, params(endpoint_public_access=False)) == {
        "endpointPrivateAccess": True, "endpointPublicAccess": False}


def test_logging_update_turns_the_other_types_off():
    assert ec.logging_update(["api", "audit"], ["audit", "api"]) is None
    assert ec.logging_update(["api"], None) is None
    assert ec.logging_update(["api"], []) == {"clusterLogging": [{"types": list(ec.LOG_TYPES), "enabled": False}]}
    assert ec.logging_update([], ["api"]) == {"clusterLogging": [
        {"types": ["api"], "enabled": True},
        {"types": ["audit", "authenticator", "controllerManager", "scheduler"], "enabled": False}]}


@pytest.mark.parametrize("bad, message", [
    ({"endpoint_private_access": False, "endpoint_public_access": False}, "at least one"),
    ({"public_access_cidrs": ["10.0.0.0/33"]}, "not a valid CIDR"),
    ({"public_access_cidrs": ["10.0.0.1/8"]}, "not a valid CIDR"),
    ({"public_access_cidrs": ["2001:db8::/32"]}, "not IPv4"),
    ({"public_access_cidrs": []}, "may not be empty"),
])
def test_bad_inputs_are_refused(bad, message):
    with pytest.raises(ec.EksClusterConfigError, match=message):
        ec.validate(params(**bad))


class FakeEks:
    """A cluster whose updates take two polls, like AWS (InProgress, InProgress, Successful)."""

    def __init__(self):
        self.cluster = {"name": "c", "status": "ACTIVE", "resourcesVpcConfig": {"subnetIds": ["s-1"]}}
        self.updates = {}
        self.calls = []

    def describe_cluster(self, name, aws_retry=False):
        self.calls.append("describe_cluster")
        return {"cluster": self.cluster}

    def update_cluster_config(self, name, aws_retry=False, **config):
        assert not any(u["status"] == "InProgress" for u in self.updates.values()), "one update at a time"
        self.calls.append("update_cluster_config")
        update_id = f"u{len(self.updates)}"
        self.updates[update_id] = {"id": update_id, "status": "InProgress", "polls": 0, "config": config}
        return {"update": {"id": update_id, "status": "InProgress"}}

    def describe_update(self, name, updateId, aws_retry=False):
        update = self.updates[updateId]
        update["polls"] += 1
        if update["polls"] >= 2:
            update["status"] = "Successful"
            config = update["config"]
            if "resourcesVpcConfig" in config:
                self.cluster["resourcesVpcConfig"].update(config["resourcesVpcConfig"])
            if "logging" in config:
                self.cluster["logging"] = config["logging"]
        return {"update": {"id": updateId, "status": update["status"], "errors": []}}


def test_updates_run_one_after_the_other_and_converge():
    eks, sleeps = FakeEks(), []
    result = ec.ensure(eks, params(), check_mode=False, sleep=sleeps.append, clock=lambda: 0)
    assert result["changed"] and result["updates"] == ["u0", "u1"]
    assert result["cluster"] == {"name": "c", "endpoint_private_access": True, "endpoint_public_access": True,
                                 "public_access_cidrs": ["203.0.113.0/24"], "logging_types": ["api", "audit"],
                                 "status": "ACTIVE", "arn": None, "version": None, "endpoint": None}
    assert eks.cluster["resourcesVpcConfig"]["subnetIds"] == ["s-1"]
    assert len(sleeps) == 4
    again = ec.ensure(eks, params(), check_mode=False, sleep=sleeps.append, clock=lambda: 0)
    assert again["changed"] is False and again["actions"] == []


def test_check_mode_calls_no_update():
    eks = FakeEks()
    result = ec.ensure(eks, params(), check_mode=True)
    assert result["changed"] and len(result["actions"]) == 2
    assert "update_cluster_config" not in eks.calls


def test_a_stuck_update_stops_at_the_timeout():
    eks = FakeEks()
    eks.describe_update = lambda name, updateId, aws_retry=False: {"update": {"id": updateId, "status": "InProgress"}}
    ticks = iter(range(0, 10_000, 30))
    with pytest.raises(ec.EksClusterConfigError, match="still in progress"):
        ec.ensure(eks, params(wait_timeout=100), check_mode=False, sleep=lambda s: None, clock=lambda: next(ticks))


def test_module_against_the_emulator_converges_and_reruns_clean(endpoint, capsys):  # noqa: F811
    kwargs = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="local-emulator-key",
                  aws_secret_access_key="local-emulator-secret")
    eks = boto3.client("eks", **kwargs)
    name = f"c-{uuid.uuid4().hex[:8]}"
    eks.create_cluster(name=name, roleArn="arn:aws:iam::123456789012:role/r",
                       resourcesVpcConfig={"subnetIds": ["subnet-1", "subnet-2"]})

    def run(check=False):
        args = dict(name=name, public_access_cidrs=["203.0.113.0/24"], logging_types=["api"],
                    endpoint_url=endpoint, region="us-east-1", access_key="local-emulator-key",
                    secret_key="local-emulator-secret", _ansible_check_mode=check)
        with patch_module_args(args), pytest.raises(SystemExit):
            module.main()
        return json.loads(capsys.readouterr().out)

    assert run(check=True)["changed"]
    first = run()
    assert first["changed"] and len(first["updates"]) == 2, first
    described = eks.describe_cluster(name=name)["cluster"]
    assert described["resourcesVpcConfig"]["subnetIds"] == ["subnet-1", "subnet-2"]
    assert described["resourcesVpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert run()["changed"] is False
