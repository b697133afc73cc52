"""The emulator's fixes, checked against a real moto server on a free loopback port."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from aws_emulator_process import EMULATOR, running_emulator
from aws_emulator_process import emulator_client as client


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    prices = tmp_path_factory.mktemp("prices") / "spot.json"
    prices.write_text(json.dumps({"g4dn.xlarge": 0.99}))
    with running_emulator({"GPU_E2E_EMULATOR_SPOT_PRICES": str(prices)}) as url:
        yield url


def test_refuses_to_bind_beyond_loopback():
    argv = [sys.executable, str(EMULATOR), "--host", "0.0.0.0"]  # noqa: S104 - must be refused
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "loopback only" in result.stderr


def test_nat_gateway_tags_carry_the_aws_resource_type(endpoint):
    ec2 = client(endpoint, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.0.0/24")["Subnet"]["SubnetId"]
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=eip,
                                 TagSpecifications=[{"ResourceType": "natgateway",
                                                     "Tags": [{"Key": "stack", "Value": "t"}]}])
    nat_id = nat["NatGateway"]["NatGatewayId"]
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [nat_id]},
                                      {"Name": "resource-type", "Values": ["natgateway"]}])["Tags"]
    assert [(t["Key"], t["ResourceType"]) for t in tags] == [("stack", "natgateway")]


def test_spot_prices_come_from_the_seeded_table(endpoint):
    history = client(endpoint, "ec2").describe_spot_price_history(InstanceTypes=["g4dn.xlarge"])["SpotPriceHistory"]
    assert history and {h["SpotPrice"] for h in history} == {"0.990000"}


def test_nodegroups_default_update_config_and_take_tags_by_arn(endpoint):
    iam = client(endpoint, "iam")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    eks = client(endpoint, "eks")
    eks.create_cluster(name="c", roleArn=role, resourcesVpcConfig={"subnetIds": []})
    ng = eks.create_nodegroup(clusterName="c", nodegroupName="ng", nodeRole=role, subnets=["subnet-1"],
                              tags={"stack": "t"})["nodegroup"]
    assert ng["updateConfig"] == {"maxUnavailable": 1}
    assert eks.list_tags_for_resource(resourceArn=ng["nodegroupArn"])["tags"] == {"stack": "t"}
    eks.tag_resource(resourceArn=ng["nodegroupArn"], tags={"owner": "me"})
    eks.untag_resource(resourceArn=ng["nodegroupArn"], tagKeys=["stack"])
    assert eks.list_tags_for_resource(resourceArn=ng["nodegroupArn"])["tags"] == {"owner": "me"}
