"""What the embedded emulator holds for a stack, found with boto3 and not with the collection's own scanner.

The judge of "nothing created" and "nothing deleted" in the dry-run tests: an independent look at the emulator
before and after a run.
"""
from __future__ import annotations

import yaml
from aws_emulator_process import emulator_client

from playbook_runner import ROOT

# The modules that act on AWS: both upstream collections and the collection's own AWS action group.
AWS_MODULES = ("amazon.aws.", "community.aws.") + tuple(
    f"gpu_e2e.platform.{name}"
    for name in yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["action_groups"]["aws"]
)


def inventory(url: str, stack: str) -> dict[str, list[str]]:
    """{kind: sorted ids} of what the emulator at url holds for stack (tagged `stack`, or named after it)."""
    ec2, eks, s3 = (emulator_client(url, s) for s in ("ec2", "eks", "s3"))
    want = {"Key": "stack", "Value": stack}
    clusters = [c for c in eks.list_clusters()["clusters"]
                if eks.describe_cluster(name=c)["cluster"].get("tags", {}).get("stack") == stack]
    account = emulator_client(url, "sts").get_caller_identity()["Account"]
    found = {
        "ec2/vpc": [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if want in v.get("Tags", [])],
        "ec2/subnet": [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"] if want in s.get("Tags", [])],
        "ec2/natgateway": [n["NatGatewayId"] for n in ec2.describe_nat_gateways()["NatGateways"]
                           if want in n.get("Tags", []) and n["State"] != "deleted"],
        "ec2/elastic-ip": [a["AllocationId"] for a in ec2.describe_addresses()["Addresses"]
                           if want in a.get("Tags", [])],
        "ec2/internet-gateway": [g["InternetGatewayId"] for g in ec2.describe_internet_gateways()["InternetGateways"]
                                 if want in g.get("Tags", [])],
        "eks/cluster": clusters,
        "eks/nodegroup": [f"{c}/{n}" for c in clusters for n in eks.list_nodegroups(clusterName=c)["nodegroups"]],
        "iam/role": [r["RoleName"] for r in emulator_client(url, "iam").list_roles()["Roles"]
                     if r["RoleName"].startswith(stack + "-")],
        "s3/bucket": [b["Name"] for b in s3.list_buckets().get("Buckets", []) if b["Name"].startswith(stack + "-")],
        "ecr/repository": [r["repositoryName"] for r in
                           emulator_client(url, "ecr").describe_repositories()["repositories"]],
        "budgets/budget": [b["BudgetName"] for b in emulator_client(url, "budgets").describe_budgets(
            AccountId=account).get("Budgets", [])],
    }
    return {kind: sorted(ids) for kind, ids in found.items()}
