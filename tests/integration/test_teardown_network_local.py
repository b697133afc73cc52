"""roles/teardown/tasks/network.yml against the embedded emulator, from partial states.

The network is made by the vpc role itself, then left as a failed or interrupted run would leave it. The
teardown must delete everything tagged for the stack (a detached interface and a security group the cluster's
controllers left in the VPC included), leave look-alikes without the tag alone, and change nothing when re-run.
An independent look at the emulator, not the teardown's own report, is the judge.
"""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from aws_emulator_process import emulator_client, running_emulator

from playbook_runner import aws_play, changed_tasks, run_playbook

STACK = "it-net"
VPC_PLAY = aws_play("The vpc stage alone", """\
  roles:
    - role: gpu_e2e.platform.vpc
""")
TEARDOWN_PLAY = aws_play("The network part of the teardown alone", """\
  tasks:
    - name: Delete the stack's network.
      ansible.builtin.include_role:
        name: gpu_e2e.platform.teardown
        tasks_from: network.yml
""")


@pytest.fixture
def stack(tmp_path):
    """A fresh emulator, the two playbooks and their extra vars."""
    with running_emulator() as url:
        (tmp_path / "run" / "aws").mkdir(parents=True)
        (tmp_path / "vpc.yml").write_text(VPC_PLAY)
        (tmp_path / "teardown.yml").write_text(TEARDOWN_PLAY)
        extra = ["-e", f"aws_emulator_port={urlsplit(url).port}", "-e", f"stack_name={STACK}",
                 "-e", f"runs_root={tmp_path}", "-e", f"run_dir={tmp_path / 'run'}"]
        yield {"ec2": emulator_client(url, "ec2"), "extra": extra, "dir": tmp_path}


def run(stack, name, **kwargs):
    result = run_playbook(str(stack["dir"] / name), *stack["extra"], timeout=600, **kwargs)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result


def tagged(ec2_items, key="Tags"):
    return [item for item in ec2_items if {"Key": "stack", "Value": STACK} in item.get(key, [])]


def stack_resources(ec2):
    """Everything of the stack's network that the emulator still holds."""
    left = {
        "vpcs": tagged(ec2.describe_vpcs()["Vpcs"]),
        "subnets": tagged(ec2.describe_subnets()["Subnets"]),
        "route_tables": tagged(ec2.describe_route_tables()["RouteTables"]),
        "igws": tagged(ec2.describe_internet_gateways()["InternetGateways"]),
        "nats": [n for n in tagged(ec2.describe_nat_gateways()["NatGateways"]) if n["State"] != "deleted"],
        "eips": tagged(ec2.describe_addresses()["Addresses"]),
        "security_groups": tagged(ec2.describe_security_groups()["SecurityGroups"]),
        "interfaces": tagged(ec2.describe_network_interfaces()["NetworkInterfaces"], key="TagSet"),
    }
    return {kind: items for kind, items in left.items() if items}


def test_after_the_vpc_stage_only_the_network_goes_and_a_rerun_changes_nothing(stack):
    run(stack, "vpc.yml")
    assert set(stack_resources(stack["ec2"])) == {"vpcs", "subnets", "route_tables", "igws", "nats", "eips"}

    run(stack, "teardown.yml")
    assert stack_resources(stack["ec2"]) == {}

    again = run(stack, "teardown.yml", json_output=True)
    assert changed_tasks(again.stdout) == []


def test_nat_deleted_by_hand_strays_go_and_look_alikes_survive(stack):
    ec2 = stack["ec2"]
    run(stack, "vpc.yml")
    (vpc,) = stack_resources(ec2)["vpcs"]
    (nat,) = stack_resources(ec2)["nats"]
    ec2.delete_nat_gateway(NatGatewayId=nat["NatGatewayId"])  # by hand: its Elastic IP stays allocated
    subnet = stack_resources(ec2)["subnets"][0]["SubnetId"]
    # What a crashed load balancer controller leaves in the VPC (it tags with stack_tags).
    stack_tags = [{"ResourceType": kind, "Tags": [{"Key": "stack", "Value": STACK}]}
                  for kind in ("security-group", "network-interface")]
    stray_sg = ec2.create_security_group(GroupName=f"{STACK}-alb", Description="left by the controller",
                                         VpcId=vpc["VpcId"], TagSpecifications=stack_tags[:1])["GroupId"]
    stray_eni = ec2.create_network_interface(SubnetId=subnet, TagSpecifications=stack_tags[1:])[
        "NetworkInterface"]["NetworkInterfaceId"]
    # Look-alikes: same names, no stack tag, in another VPC of the same region.
    name = [{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": f"{STACK}-vpc"}]}]
    other_vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16", TagSpecifications=name)["Vpc"]["VpcId"]
    other_subnet = ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.42.0.0/20")["Subnet"]["SubnetId"]
    other_sg = ec2.create_security_group(GroupName=f"{STACK}-alb", Description="someone else's",
                                         VpcId=other_vpc)["GroupId"]
    other_eni = ec2.create_network_interface(SubnetId=other_subnet)["NetworkInterface"]["NetworkInterfaceId"]

    run(stack, "teardown.yml")
    assert stack_resources(ec2) == {}
    assert not ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [stray_sg]}])["SecurityGroups"]
    interfaces = {i["NetworkInterfaceId"] for i in ec2.describe_network_interfaces()["NetworkInterfaces"]}
    assert stray_eni not in interfaces and other_eni in interfaces
    assert ec2.describe_vpcs(VpcIds=[other_vpc])["Vpcs"]
    assert ec2.describe_subnets(SubnetIds=[other_subnet])["Subnets"]
    assert ec2.describe_security_groups(GroupIds=[other_sg])["SecurityGroups"]

    again = run(stack, "teardown.yml", json_output=True)
    assert changed_tasks(again.stdout) == []
