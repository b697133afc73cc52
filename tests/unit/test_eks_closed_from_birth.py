"""The EKS API endpoint is closed from birth: CreateCluster itself carries the endpoint access.

Against the embedded emulator with moto's request recorder on: the recorded CreateCluster request must
hold private access on and public access only from the given CIDRs (removing resourcesVpcConfig's
endpoint fields from create_request() turns the test red: the request then carries subnets only).
The preflight filter parses CIDRs with ipaddress: 300.1.1.1/32 and 0.0.0.0/0 (without the opt-in) fail.
"""
from __future__ import annotations

import base64
import json
import urllib.request
import uuid

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.gpu_e2e.platform.plugins.filter.eks_access import eks_cidr_problems
from ansible_collections.gpu_e2e.platform.plugins.modules import eks_cluster_config as module
from aws_emulator_process import emulator_client, running_emulator


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    path = tmp_path_factory.mktemp("recorder") / "requests.jsonl"
    with running_emulator(env={"MOTO_RECORDER_FILEPATH": str(path)}) as url:
        urllib.request.urlopen(urllib.request.Request(url + "/moto-api/recorder/start-recording", method="POST"))
        yield url, path


def recorded(path, target):
    """Bodies of the recorded requests whose X-Amz-Target or URL names ``target``."""
    bodies = []
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        body = entry.get("body") or ""
        if entry.get("body_encoded"):
            body = base64.b64decode(body).decode()
        if entry["method"] == "POST" and entry["url"].rstrip("/").endswith(target):
            bodies.append(json.loads(body))
    return bodies


def run(url, capsys, check=False, **args):
    args = dict(args, endpoint_url=url, region="us-east-1", access_key="local-emulator-key",
                secret_key="local-emulator-secret", _ansible_check_mode=check)
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


def test_create_cluster_carries_the_restricted_endpoint_access(recording, capsys):
    url, path = recording
    name = f"c-{uuid.uuid4().hex[:8]}"
    args = dict(name=name, role_arn="arn:aws:iam::123456789012:role/r", version="1.33",
                subnets=["subnet-1", "subnet-2"], public_access_cidrs=["203.0.113.10/32"], logging_types=["api"],
                tags={"stack": "gpu-e2e"})
    planned = run(url, capsys, check=True, **args)
    assert planned["changed"] and planned["actions"][0].startswith(f"create EKS cluster {name}")
    assert recorded(path, "/clusters") == []  # check mode creates nothing

    created = run(url, capsys, **args)
    assert created["changed"] and created["updates"] == []  # no UpdateClusterConfig after the create
    [request] = [b for b in recorded(path, "/clusters") if b.get("name") == name]
    assert request["resourcesVpcConfig"] == {
        "subnetIds": ["subnet-1", "subnet-2"], "securityGroupIds": [],
        "endpointPrivateAccess": True, "endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.10/32"]}
    assert request["tags"] == {"stack": "gpu-e2e"} and request["version"] == "1.33"
    described = emulator_client(url, "eks").describe_cluster(name=name)["cluster"]
    assert described["resourcesVpcConfig"]["publicAccessCidrs"] == ["203.0.113.10/32"]
    assert created["cluster"]["arn"] == described["arn"]
    assert run(url, capsys, **args)["changed"] is False


def test_a_missing_cluster_without_create_parameters_is_one_clear_error(recording, capsys):
    url, _path = recording
    result = run(url, capsys, name="never-created")
    assert result["failed"] and "does not exist; give role_arn and subnets" in result["msg"]


@pytest.mark.parametrize("cidr, message", [
    ("300.1.1.1/32", "is not a valid IPv4 CIDR"),
    ("203.0.113.10", "is not a CIDR"),
    ("203.0.113.10/24", "is not a valid IPv4 CIDR"),  # host bits set
    ("2001:db8::/32", "is IPv6"),
    ("0.0.0.0/0", "opens the API endpoint to the whole internet"),
])
def test_preflight_refuses_bad_or_open_cidrs(cidr, message):
    [problem] = eks_cidr_problems([cidr])
    assert message in problem


def test_preflight_accepts_good_cidrs_and_the_explicit_opt_in():
    assert eks_cidr_problems(["203.0.113.10/32", "198.51.100.0/24"]) == []
    assert eks_cidr_problems(["0.0.0.0/0"], allow_anywhere=True) == []
