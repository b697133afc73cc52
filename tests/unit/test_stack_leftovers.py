"""The leftover scanner against the real local emulator (moto server + fixes) on a free loopback port."""
from __future__ import annotations

import json
import urllib.request

import boto3
import pytest
from botocore.config import Config
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from aws_emulator_process import free_port, running_emulator
from aws_emulator_process import emulator_client as raw

from ansible_collections.gpu_e2e.platform.plugins.filter.leftovers import leftover_line
from ansible_collections.gpu_e2e.platform.plugins.filter.leftovers import untagged_line
from ansible_collections.gpu_e2e.platform.plugins.module_utils.stack_leftovers import StackLeftoversError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.stack_leftovers import parse_arn
from ansible_collections.gpu_e2e.platform.plugins.module_utils.stack_leftovers import recorded_ids_from_files
from ansible_collections.gpu_e2e.platform.plugins.module_utils.stack_leftovers import scan

STACK = "lo"
STACK_TAGS = [{"Key": "stack", "Value": STACK}, {"Key": "project", "Value": "p"}]
ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def server():
    # No IAM managed policies: loading them after every reset costs seconds and the scan never needs them.
    with running_emulator({"MOTO_IAM_LOAD_MANAGED_POLICIES": "false"}) as url:
        yield url


@pytest.fixture
def endpoint(server):
    urllib.request.urlopen(urllib.request.Request(server + "/moto-api/reset", method="POST"), timeout=10)
    return server


def factory(endpoint):
    """What AnsibleAWSModule.client(service, retry_decorator=AWSRetry.jittered_backoff()) returns."""
    return lambda service: RetryingBotoClientWrapper(raw(endpoint, service), AWSRetry.jittered_backoff(retries=2))


def tagspec(rtype, name, tags=None):
    tags = STACK_TAGS if tags is None else tags
    return [{"ResourceType": rtype, "Tags": [*tags, {"Key": "Name", "Value": name}]}]


def run(endpoint, **params):
    return scan(factory(endpoint), {"stack_name": STACK, **params})


def kinds(items):
    return sorted(f"{i['service']}/{i['type']}" for i in items)


def make_network(endpoint):
    """The vpc role's shape: VPC, 2 subnets, IGW, NAT with its EIP, a route table; all tagged."""
    ec2 = raw(endpoint, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16", TagSpecifications=tagspec("vpc", "lo-vpc"))["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az,
                          TagSpecifications=tagspec("subnet", f"lo-public-{az[-1]}"))["Subnet"]["SubnetId"]
        for cidr, az in (("10.42.0.0/20", "us-east-1a"), ("10.42.16.0/20", "us-east-1b"))
    ]
    igw = ec2.create_internet_gateway(TagSpecifications=tagspec("internet-gateway", "lo-igw"))
    ec2.attach_internet_gateway(InternetGatewayId=igw["InternetGateway"]["InternetGatewayId"], VpcId=vpc)
    eip = ec2.allocate_address(Domain="vpc", TagSpecifications=tagspec("elastic-ip", "lo-nat"))["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnets[0], AllocationId=eip,
                                 TagSpecifications=tagspec("natgateway", "lo-nat"))["NatGateway"]["NatGatewayId"]
    ec2.create_route_table(VpcId=vpc, TagSpecifications=tagspec("route-table", "lo-public"))
    return {"vpc": vpc, "subnets": subnets, "nat": nat, "eip": eip}


def test_an_empty_account_has_no_leftovers(endpoint):
    result = run(endpoint)
    assert result["count"] == 0 and result["leftovers"] == []
    assert result["est_usd_per_day_total"] == 0
    assert result["untagged_in_stack_vpcs"] == []


def budget_record(tmp_path, name=f"{STACK}-monthly"):
    """What the bootstrap stage records for the stack's budget (aws/budget.json)."""
    path = tmp_path / "budget.json"
    path.write_text(json.dumps({"name": name, "limit_usd": 5.0}))
    return str(path)


def test_every_service_is_found_with_a_cost_per_day(endpoint, tmp_path):
    net = make_network(endpoint)
    ec2 = raw(endpoint, "ec2")
    ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="g4dn.xlarge",
                      SubnetId=net["subnets"][0], TagSpecifications=tagspec("instance", "lo-node"))
    ec2.create_volume(AvailabilityZone="us-east-1a", Size=30, VolumeType="gp3",
                      TagSpecifications=tagspec("volume", "lo-data"))
    ec2.create_security_group(GroupName="lo-sg", Description="sg", VpcId=net["vpc"],
                              TagSpecifications=tagspec("security-group", "lo-sg"))
    elb = raw(endpoint, "elbv2")
    # Created by the AWS Load Balancer Controller: tagged for the cluster, not with stack=.
    elb.create_load_balancer(Name="k8s-triton", Subnets=net["subnets"],
                             Tags=[{"Key": "elbv2.k8s.aws/cluster", "Value": STACK}])
    elb.create_target_group(Name="k8s-triton-tg", Protocol="HTTP", Port=8000, VpcId=net["vpc"],
                            Tags=[{"Key": "elbv2.k8s.aws/cluster", "Value": STACK}])
    iam = raw(endpoint, "iam")
    role = iam.create_role(RoleName="lo-cluster", AssumeRolePolicyDocument="{}", Tags=STACK_TAGS)["Role"]["Arn"]
    iam.create_open_id_connect_provider(Url="https://oidc.eks.us-east-1.amazonaws.com/id/LO",
                                        ThumbprintList=["a" * 40], ClientIDList=["sts.amazonaws.com"],
                                        Tags=STACK_TAGS)
    eks = raw(endpoint, "eks")
    eks.create_cluster(name=STACK, roleArn=role, resourcesVpcConfig={"subnetIds": net["subnets"]},
                       tags={"stack": STACK}, version="1.35")  # standard support until 2027-03-27
    eks.create_nodegroup(clusterName=STACK, nodegroupName="gpu", nodeRole=role, subnets=net["subnets"],
                         instanceTypes=["g4dn.xlarge"], capacityType="SPOT",
                         scalingConfig={"minSize": 0, "maxSize": 2, "desiredSize": 2}, tags={"stack": STACK})
    s3 = raw(endpoint, "s3")
    s3.create_bucket(Bucket="lo-models")
    s3.put_bucket_tagging(Bucket="lo-models", Tagging={"TagSet": STACK_TAGS})
    raw(endpoint, "ecr").create_repository(repositoryName="lo/triton", tags=STACK_TAGS)
    raw(endpoint, "logs").create_log_group(logGroupName=f"/aws/eks/{STACK}/cluster")
    raw(endpoint, "budgets").create_budget(AccountId=ACCOUNT, Budget={
        "BudgetName": f"{STACK}-monthly", "BudgetLimit": {"Amount": "5", "Unit": "USD"},
        "TimeUnit": "MONTHLY", "BudgetType": "COST"})

    result = run(endpoint, recorded_files=[budget_record(tmp_path)])

    assert kinds(result["leftovers"]) == sorted([
        "budgets/budget", "ec2/elastic-ip", "ec2/instance", "ec2/internet-gateway", "ec2/natgateway",
        "ec2/route-table", "ec2/security-group", "ec2/subnet", "ec2/subnet", "ec2/volume", "ec2/vpc",
        "ecr/repository", "eks/cluster", "eks/nodegroup", "elasticloadbalancing/loadbalancer",
        "elasticloadbalancing/targetgroup", "iam/oidc-provider", "iam/role", "logs/log-group", "s3/bucket",
    ])
    assert result["count"] == len(result["leftovers"])
    per_day = {(i["service"], i["type"]): i["est_usd_per_day"] for i in result["leftovers"]}
    assert per_day[("ec2", "natgateway")] == pytest.approx(0.045 * 24)
    assert per_day[("ec2", "elastic-ip")] == pytest.approx(0.005 * 24)
    assert per_day[("ec2", "instance")] == pytest.approx(0.526 * 24)  # on-demand
    assert per_day[("eks", "cluster")] == pytest.approx(0.10 * 24)
    assert per_day[("eks", "nodegroup")] == pytest.approx(2 * 0.2104 * 24)  # 2 spot nodes, not seen as instances
    assert per_day[("elasticloadbalancing", "loadbalancer")] == pytest.approx(0.0225 * 24)
    assert per_day[("ec2", "volume")] == pytest.approx(30 * 0.08 / 30)
    assert result["est_usd_per_day_total"] == pytest.approx(sum(per_day.values()), abs=0.01)
    lb = next(i for i in result["leftovers"] if i["type"] == "loadbalancer")
    assert lb["evidence"] == {"by": "cluster-tag", "detail": f"tagged elbv2.k8s.aws/cluster={STACK} (stack cluster)"}
    # Every record carries what teardown acts on.
    for item in result["leftovers"]:
        assert item["region"] == "us-east-1"
        assert item["kind"] == f"{item['service']}/{item['type']}"
        assert item["evidence"]["by"] in ("stack-tag", "recorded-id", "cluster-tag", "stack-cluster")
        assert isinstance(item["order"], int)
    orders = [i["order"] for i in result["leftovers"]]
    assert orders == sorted(orders)


def test_an_untagged_look_alike_is_not_a_leftover(endpoint):
    net = make_network(endpoint)
    ec2 = raw(endpoint, "ec2")
    no_stack = [{"Key": "project", "Value": "p"}]
    # Same names, same VPC, without the stack tag; plus a look-alike VPC elsewhere.
    twin = ec2.create_subnet(VpcId=net["vpc"], CidrBlock="10.42.32.0/20",
                             TagSpecifications=tagspec("subnet", "lo-public-a", no_stack))["Subnet"]["SubnetId"]
    twin_vpc = ec2.create_vpc(CidrBlock="10.43.0.0/16", TagSpecifications=tagspec("vpc", "lo-vpc", no_stack))
    twin_eip = ec2.allocate_address(Domain="vpc", TagSpecifications=tagspec("elastic-ip", "lo-nat", no_stack))
    raw(endpoint, "iam").create_role(RoleName="lo-cluster-copy", AssumeRolePolicyDocument="{}")
    raw(endpoint, "s3").create_bucket(Bucket="lo-models-copy")

    result = run(endpoint)

    ids = {i["id"] for i in result["leftovers"]}
    assert twin not in ids
    assert twin_vpc["Vpc"]["VpcId"] not in ids
    assert twin_eip["AllocationId"] not in ids
    assert not ids & {"lo-cluster-copy", "lo-models-copy"}
    assert net["vpc"] in ids and net["nat"] in ids
    untagged = {i["id"]: i for i in result["untagged_in_stack_vpcs"]}
    assert untagged[twin]["vpc_id"] == net["vpc"]
    assert {"lo-cluster-copy", "lo-models-copy"} <= set(untagged)


def test_a_deleted_nat_gateway_is_not_a_leftover(endpoint):
    net = make_network(endpoint)
    ec2 = raw(endpoint, "ec2")
    ec2.delete_nat_gateway(NatGatewayId=net["nat"])
    ec2.release_address(AllocationId=net["eip"])
    states = {n["NatGatewayId"]: n["State"] for n in ec2.describe_nat_gateways()["NatGateways"]}
    assert states[net["nat"]] == "deleted"  # the emulator (like AWS) still lists it

    result = run(endpoint)

    assert "ec2/natgateway" not in kinds(result["leftovers"])
    assert "ec2/elastic-ip" not in kinds(result["leftovers"])
    assert "ec2/vpc" in kinds(result["leftovers"])


def test_a_recorded_id_is_a_leftover_even_without_tags(endpoint, tmp_path):
    ec2 = raw(endpoint, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.44.0.0/16")["Vpc"]["VpcId"]  # tag removed by hand
    record = tmp_path / "vpc.json"
    record.write_text(json.dumps({"vpc_id": vpc, "azs": ["us-east-1a"], "nested": {"ids": ["nat-0123456789abcdef0"]}}))

    assert run(endpoint)["count"] == 0
    result = run(endpoint, recorded_files=[str(record), str(tmp_path / "missing.json")])

    assert [(i["id"], i["evidence"]["by"]) for i in result["leftovers"]] == [(vpc, "recorded-id")]
    assert result["records_unreadable"] == []


def test_ignored_types_are_reported_apart(endpoint, tmp_path):
    raw(endpoint, "budgets").create_budget(AccountId=ACCOUNT, Budget={
        "BudgetName": f"{STACK}-monthly", "BudgetLimit": {"Amount": "5", "Unit": "USD"},
        "TimeUnit": "MONTHLY", "BudgetType": "COST"})
    raw(endpoint, "budgets").create_budget(AccountId=ACCOUNT, Budget={
        "BudgetName": "someone-else", "BudgetLimit": {"Amount": "5", "Unit": "USD"},
        "TimeUnit": "MONTHLY", "BudgetType": "COST"})

    result = run(endpoint, ignore=["budgets/budget"], recorded_files=[budget_record(tmp_path)])

    assert result["count"] == 0
    assert [i["id"] for i in result["ignored"]] == [f"{STACK}-monthly"]


def test_tagged_resources_of_other_services_come_from_the_tagging_api(endpoint):
    s3 = raw(endpoint, "s3")
    s3.create_bucket(Bucket="unrelated-name")
    s3.put_bucket_tagging(Bucket="unrelated-name", Tagging={"TagSet": STACK_TAGS})

    result = run(endpoint)

    assert [(i["id"], i["reason"]) for i in result["leftovers"]] == [
        ("unrelated-name", f"tagged stack={STACK} (tagging API)")]


def test_price_overrides_change_the_estimate(endpoint):
    make_network(endpoint)

    result = run(endpoint, prices={"hourly": {"nat_gateway": 0.1}})

    nat = next(i for i in result["leftovers"] if i["type"] == "natgateway")
    assert nat["est_usd_per_day"] == pytest.approx(2.4)


def test_an_unreachable_endpoint_raises_the_one_error_type():
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StackLeftoversError, match="Failed to list EKS clusters"):
        scan(lambda service: RetryingBotoClientWrapper(
            boto3.client(service, endpoint_url=dead, region_name="us-east-1", aws_access_key_id="k",
                         aws_secret_access_key="local-emulator-secret",
                         config=Config(retries={"max_attempts": 1}, connect_timeout=2)),
            AWSRetry.jittered_backoff(retries=1)), {"stack_name": STACK})


def test_arns_and_recorded_ids_are_parsed(tmp_path):
    assert parse_arn("arn:aws:ec2:us-east-1:1:vpc/vpc-0abc") == ("ec2", "vpc", "vpc-0abc")
    assert parse_arn("arn:aws:s3:::bucket-a") == ("s3", "bucket", "bucket-a")
    lb = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/k8s/abc"
    assert parse_arn(lb) == ("elasticloadbalancing", "loadbalancer", lb)
    assert parse_arn("arn:aws:logs:us-east-1:1:log-group:/aws/eks/x/cluster") == (
        "logs", "log-group", "/aws/eks/x/cluster")
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"a": "vpc-0123456789abcdef0", "b": ["10.0.0.0/16", "us-east-1a", "vpc-xyz"],
                                "c": {"d": "arn:aws:iam::1:role/x"}}))
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert recorded_ids_from_files([str(path), str(broken)]) == ["arn:aws:iam::1:role/x", "vpc-0123456789abcdef0"]


def test_output_lines_name_the_cost_and_the_reason():
    item = {"service": "ec2", "type": "natgateway", "id": "nat-1", "name": "lo-nat", "reason": "tagged stack=lo",
            "est_usd_per_day": 1.08}
    assert leftover_line(item) == "LEFTOVER ec2/natgateway nat-1 (lo-nat): ~$1.08/day - tagged stack=lo"
    kept = leftover_line(dict(item, est_usd_per_day=None), "KEPT")
    assert kept.startswith("KEPT ec2/natgateway nat-1 (lo-nat): cost unknown")
    assert untagged_line({"service": "ec2", "type": "subnet", "id": "subnet-1", "name": "x", "vpc_id": "vpc-1",
                          "note": "not the stack's"}) == "UNTAGGED ec2/subnet subnet-1 (x) in vpc-1: not the stack's"


def test_a_scan_can_be_limited_to_some_services(endpoint, tmp_path):
    net = make_network(endpoint)
    raw(endpoint, "elbv2").create_load_balancer(Name="k8s-only", Subnets=net["subnets"],
                                                Tags=[{"Key": "elbv2.k8s.aws/cluster", "Value": STACK}])
    role = raw(endpoint, "iam").create_role(RoleName="lo-c", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    raw(endpoint, "eks").create_cluster(name=STACK, roleArn=role, resourcesVpcConfig={"subnetIds": net["subnets"]},
                                        tags={"stack": STACK})

    only_elb = run(endpoint, services=["elbv2"])
    only_tagging = run(endpoint, services=["tagging"])

    assert kinds(only_elb["leftovers"]) == ["elasticloadbalancing/loadbalancer"]
    # Without the EC2 look-ups, the tagging API's view of the network is reported.
    assert "ec2/vpc" in kinds(only_tagging["leftovers"])
    with pytest.raises(StackLeftoversError, match="unknown services"):
        run(endpoint, services=["dragons"])


def test_recorded_files_may_be_glob_patterns(tmp_path):
    for ts, vpc in (("20261122T060000Z", "vpc-0123456789abcdef0"), ("20261122T070000Z", "vpc-0fedcba9876543210")):
        (tmp_path / ts / "aws").mkdir(parents=True)
        (tmp_path / ts / "aws" / "vpc.json").write_text(json.dumps({"vpc_id": vpc}))

    found = recorded_ids_from_files([str(tmp_path / "*" / "aws" / "*.json"), str(tmp_path / "state" / "*.json")])

    assert found == ["vpc-0123456789abcdef0", "vpc-0fedcba9876543210"]


def budget(endpoint, name):
    raw(endpoint, "budgets").create_budget(AccountId=ACCOUNT, Budget={
        "BudgetName": name, "BudgetLimit": {"Amount": "5", "Unit": "USD"}, "TimeUnit": "MONTHLY",
        "BudgetType": "COST"})


def test_a_budget_is_the_stacks_only_by_its_recorded_name(endpoint, tmp_path):
    """Fails if a name prefix makes a budget the stack's again (checked: the former `<prefix>-*` match reports
    `lo-2-monthly` as lo's, and deleting by it removed another stack's budget)."""
    budget(endpoint, f"{STACK}-monthly")
    budget(endpoint, f"{STACK}-2-monthly")  # stack lo-2's budget

    assert run(endpoint)["count"] == 0  # no record, no evidence
    result = run(endpoint, recorded_files=[budget_record(tmp_path)])

    assert [i["id"] for i in result["leftovers"]] == [f"{STACK}-monthly"]
    assert result["leftovers"][0]["evidence"]["by"] == "recorded-id"


def test_controller_tags_count_only_for_a_cluster_proven_to_be_the_stacks(endpoint, tmp_path):
    """CNI interfaces, CSI volumes, launch templates, classic ELBs and log groups of the stack's cluster are found;
    the same tags naming another cluster, or a cluster only *named* like the stack's, are not evidence.
    Fails if the cluster-tag evidence ignores which clusters are proven (checked by letting any cluster count)."""
    net = make_network(endpoint)
    ec2, logs = raw(endpoint, "ec2"), raw(endpoint, "logs")
    role = raw(endpoint, "iam").create_role(RoleName="x-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]

    def leave_behind(cluster):
        eni = ec2.create_network_interface(SubnetId=net["subnets"][0], TagSpecifications=[{
            "ResourceType": "network-interface",
            "Tags": [{"Key": "cluster.k8s.amazonaws.com/name", "Value": cluster}]}])["NetworkInterface"]
        vol = ec2.create_volume(AvailabilityZone="us-east-1a", Size=8, TagSpecifications=[{
            "ResourceType": "volume", "Tags": [{"Key": "ebs.csi.aws.com/cluster", "Value": "true"},
                                               {"Key": f"kubernetes.io/cluster/{cluster}", "Value": "owned"}]}])
        template = ec2.create_launch_template(LaunchTemplateName=f"eks-{cluster}", LaunchTemplateData={},
                                              TagSpecifications=[{"ResourceType": "launch-template", "Tags": [
                                                  {"Key": "eks:cluster-name", "Value": cluster}]}])
        raw(endpoint, "elb").create_load_balancer(
            LoadBalancerName=f"classic-{cluster}", Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80,
                                                               "InstancePort": 80}],
            Subnets=[net["subnets"][0]], Tags=[{"Key": f"kubernetes.io/cluster/{cluster}", "Value": "owned"}])
        logs.create_log_group(logGroupName=f"/aws/eks/{cluster}/cluster")
        logs.create_log_group(logGroupName=f"/aws/containerinsights/{cluster}/application")
        return {eni["NetworkInterfaceId"], vol["VolumeId"], template["LaunchTemplate"]["LaunchTemplateId"],
                f"classic-{cluster}", f"/aws/eks/{cluster}/cluster", f"/aws/containerinsights/{cluster}/application"}

    ours = leave_behind(STACK)
    theirs = leave_behind(f"{STACK}-2")
    # An untagged cluster named like the stack's proves nothing.
    raw(endpoint, "eks").create_cluster(name=STACK, roleArn=role, resourcesVpcConfig={"subnetIds": net["subnets"]})
    ids = {i["id"] for i in run(endpoint)["leftovers"]}
    assert not ids & (ours | theirs)

    # The cluster's ARN recorded by the eks stage makes it (and what its controllers tagged) the stack's.
    arn = raw(endpoint, "eks").describe_cluster(name=STACK)["cluster"]["arn"]
    record = tmp_path / "eks.json"
    record.write_text(json.dumps({"cluster_arn": arn}))
    result = run(endpoint, recorded_files=[str(record)])
    ids = {i["id"] for i in result["leftovers"]}
    assert ours <= ids
    assert not ids & theirs
    assert result["stack_clusters"] == [STACK]
    by_kind = {i["kind"]: i["evidence"]["by"] for i in result["leftovers"] if i["id"] in ours}
    assert by_kind == {"ec2/network-interface": "cluster-tag", "ec2/volume": "cluster-tag",
                       "ec2/launch-template": "cluster-tag", "elb/loadbalancer": "cluster-tag",
                       "logs/log-group": "stack-cluster"}


def test_the_same_stack_in_another_region_is_not_in_this_regions_scan(endpoint):
    """Records carry their region; a scan of us-east-1 never reports (or deletes) the us-west-2 twin."""
    west_ec2 = raw(endpoint, "ec2", region="us-west-2")
    west_ec2.create_vpc(CidrBlock="10.50.0.0/16", TagSpecifications=tagspec("vpc", "lo-vpc"))
    east = scan(factory(endpoint), {"stack_name": STACK}, region="us-east-1")
    assert east["count"] == 0 and east["region"] == "us-east-1"
    west = scan(lambda service: RetryingBotoClientWrapper(raw(endpoint, service, region="us-west-2"),
                                                          AWSRetry.jittered_backoff(retries=2)),
                {"stack_name": STACK}, region="us-west-2")
    assert [(i["kind"], i["region"]) for i in west["leftovers"]] == [("ec2/vpc", "us-west-2")]


def test_an_unreadable_record_is_reported_not_skipped(endpoint, tmp_path):
    """An unreadable record means what the stack is made of is unknown. Fails if broken records are skipped
    silently (checked: the former reader dropped them)."""
    broken = tmp_path / "vpc.json"
    broken.write_text('{"vpc_id": "vpc-0123')
    result = run(endpoint, recorded_files=[str(broken)])
    assert result["count"] == 0
    assert result["records_unreadable"] == [f"{broken}: JSONDecodeError"]


def test_the_inventory_covers_every_kind_the_scanner_reports():
    from ansible_collections.gpu_e2e.platform.plugins.module_utils import stack_inventory as inv

    orders = [entry["order"] for entry in inv.TYPES.values()]
    assert len(set(orders)) == len(orders)
    assert inv.order_of("eks/nodegroup") < inv.order_of("eks/cluster") < inv.order_of("ec2/subnet") \
        < inv.order_of("ec2/vpc") < inv.order_of("budgets/budget")
    for kind, entry in inv.TYPES.items():
        assert set(entry) == {"order", "find", "ownership", "delete", "priced"}, kind
        assert "prefix" not in entry["ownership"], kind
    assert {row[0] for row in inv.coverage_rows()} == set(inv.TYPES)


def test_the_report_never_turns_an_unknown_verdict_into_zero_leftovers():
    """Fails if the report ignores the recorded verdict (checked: it then printed "0 leftovers")."""
    from ansible_collections.gpu_e2e.platform.plugins.module_utils.evidence import leftover_verdict

    unknown = {"count": 0, "verdict": "unknown: the emulator was restarted", "checked_at": "t", "stack_name": "lo"}
    assert leftover_verdict(unknown) == "**unknown: the emulator was restarted** (checked at t)."
    failed = {"count": 1, "failed_steps": [{"step": "network"}], "checked_at": "t"}
    assert "teardown steps failed: network" in leftover_verdict(failed)
    assert leftover_verdict({"count": 0, "verdict": "0 leftovers", "checked_at": "t", "stack_name": "lo"}
                            ).startswith("**0 leftovers**")


def test_the_readme_coverage_table_is_the_inventory():
    """The README's table of types (scanned, deleted, priced) is the inventory's data, row for row."""
    from pathlib import Path

    from ansible_collections.gpu_e2e.platform.plugins.module_utils import stack_inventory as inv

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("<!-- stack-inventory-table:start -->")[1].split("<!-- stack-inventory-table:end -->")[0]
    kinds_in_readme = [line.split("`")[1] for line in table.strip().splitlines()[2:]]
    assert kinds_in_readme == sorted(inv.TYPES, key=inv.order_of)
    for line in table.strip().splitlines()[2:]:
        kind = line.split("`")[1]
        entry = inv.TYPES[kind]
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1:] == [str(entry["order"]), "yes", entry["ownership"], entry["delete"],
                             "yes" if entry["priced"] else "no (free)"], kind


def test_the_system_node_group_and_a_diversified_gpu_group_are_found_and_priced(endpoint):
    """Both node groups of a stack cluster are leftovers; a group of several types is priced at its dearest one."""
    net = make_network(endpoint)
    role = raw(endpoint, "iam").create_role(RoleName="lo-node", AssumeRolePolicyDocument="{}",
                                            Tags=STACK_TAGS)["Role"]["Arn"]
    eks = raw(endpoint, "eks")
    eks.create_cluster(name=STACK, roleArn=role, resourcesVpcConfig={"subnetIds": net["subnets"]},
                       tags={"stack": STACK}, version="1.35")
    eks.create_nodegroup(clusterName=STACK, nodegroupName=f"{STACK}-gpu", nodeRole=role, subnets=net["subnets"],
                         instanceTypes=["g4dn.xlarge", "g5.xlarge", "g6.xlarge"], capacityType="SPOT",
                         scalingConfig={"minSize": 1, "maxSize": 2, "desiredSize": 1}, tags={"stack": STACK})
    eks.create_nodegroup(clusterName=STACK, nodegroupName=f"{STACK}-system", nodeRole=role, subnets=net["subnets"],
                         instanceTypes=["t3.medium"], capacityType="ON_DEMAND",
                         scalingConfig={"minSize": 2, "maxSize": 4, "desiredSize": 2}, tags={"stack": STACK})
    result = run(endpoint)
    groups = {i["name"]: i for i in result["leftovers"] if i["kind"] == "eks/nodegroup"}
    assert sorted(groups) == [f"{STACK}-gpu", f"{STACK}-system"]
    assert groups[f"{STACK}-gpu"]["est_usd_per_day"] == pytest.approx(0.4124 * 24)  # g5.xlarge spot, the dearest
    assert "g5.xlarge spot" in groups[f"{STACK}-gpu"]["cost_basis"]
    assert groups[f"{STACK}-system"]["est_usd_per_day"] == pytest.approx(2 * 0.0416 * 24)
