"""roles/teardown/tasks/eks.yml against the embedded emulator: from a partial state it deletes only what is the
stack's (tagged stack=<stack> and named from the stack), leaves look-alikes alone, and a re-run changes nothing."""
from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from aws_emulator_process import emulator_client, running_emulator

from playbook_runner import aws_play, changed_tasks, run_playbook

STACK = "it-td"
PLAY = aws_play("The EKS part of the teardown alone", """\
  tasks:
    - name: Delete the stack's EKS resources.
      ansible.builtin.include_role:
        name: gpu_e2e.platform.teardown
        tasks_from: eks.yml
""")


@pytest.fixture
def emulator():
    """A fresh emulator per test; its base URL (clients) and port (the playbook's aws_emulator_port)."""
    with running_emulator() as url:
        yield url


def tags(stack):
    return [{"Key": "stack", "Value": stack}, {"Key": "managed-by", "Value": "ansible"}]


def irsa_trust(provider_arn):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity"}]})


SERVICE_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def test_partial_state_is_cleaned_and_look_alikes_survive(emulator, tmp_path):
    iam, eks, ec2 = (emulator_client(emulator, service) for service in ("iam", "eks", "ec2"))
    # A partial stack: the cluster and node group are already gone; OIDC provider, IRSA role with its
    # customer-managed policy, and the node role are left.
    provider = iam.create_open_id_connect_provider(
        Url="https://oidc.eks.us-east-1.amazonaws.com/id/STACK", ClientIDList=["sts.amazonaws.com"],
        Tags=tags(STACK))["OpenIDConnectProviderArn"]
    policy = iam.create_policy(PolicyName=f"{STACK}-irsa-alb-controller", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:DescribeVpcs", "Resource": "*"}]}),
        Tags=tags(STACK))["Policy"]["Arn"]
    iam.create_role(RoleName=f"{STACK}-irsa-alb-controller", AssumeRolePolicyDocument=irsa_trust(provider),
                    Tags=tags(STACK))
    iam.attach_role_policy(RoleName=f"{STACK}-irsa-alb-controller", PolicyArn=policy)
    iam.create_role(RoleName=f"{STACK}-eks-node", AssumeRolePolicyDocument=SERVICE_TRUST, Tags=tags(STACK))
    # Look-alikes that must survive: named like the stack's but untagged or tagged for another stack.
    iam.create_role(RoleName=f"{STACK}-irsa-untagged", AssumeRolePolicyDocument=irsa_trust(provider))
    iam.create_role(RoleName=f"{STACK}-eks-cluster", AssumeRolePolicyDocument=SERVICE_TRUST, Tags=tags("other"))
    other_provider = iam.create_open_id_connect_provider(
        Url="https://oidc.eks.us-east-1.amazonaws.com/id/OTHER", ClientIDList=["sts.amazonaws.com"],
        Tags=tags("other"))["OpenIDConnectProviderArn"]
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.7.0.0/24")["Subnet"]["SubnetId"]
    eks.create_cluster(name=STACK, roleArn="arn:aws:iam::123456789012:role/x",
                       resourcesVpcConfig={"subnetIds": [subnet]}, tags={"stack": "other"})

    playbook = tmp_path / "teardown_eks.yml"
    playbook.write_text(PLAY)
    port = urlsplit(emulator).port
    extra = ["-e", f"aws_emulator_port={port}", "-e", f"stack_name={STACK}", "-e", f"runs_root={tmp_path}"]
    first = run_playbook(str(playbook), *extra, timeout=600)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]

    roles = {r["RoleName"] for r in iam.list_roles()["Roles"]}
    assert f"{STACK}-irsa-alb-controller" not in roles and f"{STACK}-eks-node" not in roles
    assert {f"{STACK}-irsa-untagged", f"{STACK}-eks-cluster"} <= roles
    providers = {p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]}
    assert providers == {other_provider}
    assert [p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]] == []
    assert eks.list_clusters()["clusters"] == [STACK]  # same name, another stack's tag: kept

    again = run_playbook(str(playbook), *extra, json_output=True, timeout=600)
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-2000:]
    assert changed_tasks(again.stdout) == []
