# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find everything of a stack that still exists in one region (read-only).

Two sources, merged by resource id:

* the Resource Groups Tagging API (``get_resources`` with ``stack=<stack>``),
  which sees most taggable services but, on the local emulator, only VPCs,
  subnets, IGWs, NAT gateways, route tables and S3 (and on real AWS may list a
  resource for a while after it is deleted);
* per-service look-ups for what that API does not cover or cannot be trusted
  with: EC2 (instances, volumes, ENIs, EIPs, NAT gateways, VPCs, subnets, IGWs,
  route tables, security groups), ELBv2, EKS, IAM, ECR, CloudWatch Logs, Budgets.
  For the types these look-ups enumerate completely, they are authoritative and
  the tagging API's view of them is ignored (a NAT gateway in state ``deleted``
  is not a leftover, even though both APIs still list it).

A resource belongs to the stack when it carries ``stack=<stack_name>``, or one
of the ownership tags the cluster's own controllers put on what they create
(``kubernetes.io/cluster/<cluster>=owned``, ``aws:eks:cluster-name``,
``eks:cluster-name``, ``elbv2.k8s.aws/cluster``), or when its id was recorded
in the run directory. Only a few things are recognised by name alone, because
AWS creates them untagged for the cluster: the cluster's control-plane log
groups ``/aws/eks/<cluster>/...`` and budgets named ``<name_prefix>-*``.
An untagged look-alike (same Name, same VPC) is never reported as a leftover;
untagged resources inside the stack's VPCs are listed separately, for
information, as ``untagged_in_stack_vpcs``.
"""

from __future__ import annotations

import datetime
import glob
import json
import re

from ansible_collections.amazon.aws.plugins.module_utils.botocore import paginated_query_with_retries
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.gpu_e2e.platform.plugins.module_utils import aws_prices
from ansible_collections.gpu_e2e.platform.plugins.module_utils import eks_versions

try:
    import botocore
except ImportError:
    botocore = None  # the module reports the missing library

# Types the per-service look-ups enumerate completely (service, type).
AUTHORITATIVE_TYPES = {
    ("ec2", "vpc"),
    ("ec2", "subnet"),
    ("ec2", "internet-gateway"),
    ("ec2", "natgateway"),
    ("ec2", "route-table"),
    ("ec2", "security-group"),
    ("ec2", "instance"),
    ("ec2", "volume"),
    ("ec2", "network-interface"),
    ("ec2", "elastic-ip"),
    ("elasticloadbalancing", "loadbalancer"),
    ("elasticloadbalancing", "targetgroup"),
    ("eks", "cluster"),
    ("eks", "nodegroup"),
    ("ecr", "repository"),
}
# What one scan covers, in this order. "tagging" is the Resource Groups Tagging API.
SERVICES = ("ec2", "elbv2", "eks", "iam", "ecr", "s3", "logs", "budgets", "tagging")
LIVE_INSTANCE_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"]
GONE_NAT_STATES = ("deleted",)
GONE_VOLUME_STATES = ("deleted",)
GIB = 1024.0 ** 3
# What counts as an id in a run directory record: EC2-style ids and ARNs.
RECORDED_ID = re.compile(r"^((vpc|subnet|igw|nat|rtb|sg|eipalloc|eni|i|vol|lt|acl)-[0-9a-f]{8,17}|arn:aws[\w-]*:.+)$")


class StackLeftoversError(AnsibleAWSError):
    """The one error type of the scanner; the module catches it once."""


def tags_to_dict(tag_list, key_name="Key", value_name="Value"):
    return {t[key_name]: t.get(value_name, "") for t in tag_list or []}


def parse_arn(arn):
    """(service, type, id) of an ARN, as the tagging API lists it."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return None, None, arn
    service, resource = parts[2], parts[5]
    if service == "s3":
        return "s3", "bucket", resource
    if service == "elasticloadbalancing":
        # loadbalancer/app/<name>/<id>, targetgroup/<name>/<id>: the ARN is the id.
        return service, resource.split("/", 1)[0], arn
    cut = min((i for i in (resource.find("/"), resource.find(":")) if i >= 0), default=-1)
    if cut < 0:
        return service, "", resource
    rtype, rid = resource[:cut], resource[cut + 1:]
    if service == "logs" and rid.endswith(":*"):
        rid = rid[:-2]
    return service, rtype, rid


def recorded_ids_from_files(paths):
    """Every EC2 id or ARN found anywhere in the given JSON files or glob patterns (missing or broken files skipped)."""
    found = set()
    files = []
    for path in paths or []:
        files.extend(sorted(glob.glob(path)) if glob.has_magic(path) else [path])

    def walk(value):
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and RECORDED_ID.match(value):
            found.add(value)

    for path in files:
        try:
            with open(path, encoding="utf-8") as handle:
                walk(json.load(handle))
        except (OSError, ValueError):
            continue
    return sorted(found)


class Scanner:
    """One read-only scan. ``client`` is a factory: service name -> client wrapped with AWSRetry."""

    def __init__(self, client, stack_name, cluster_name=None, name_prefix=None, recorded_ids=None,
                 ignore=None, prices=None):
        self._factory = client
        self._clients = {}
        self.stack = stack_name
        self.cluster = cluster_name or stack_name
        self.prefix = name_prefix or stack_name
        self.recorded = set(recorded_ids or [])
        self.ignore = set(ignore or [])
        self.prices = aws_prices.merged_table(prices)
        self.found = {}  # (service, type, id) -> leftover
        self.untagged = {}
        self.stack_vpcs = set()
        self.nodegroup_instances = {}  # (cluster, nodegroup) -> instances seen
        self.nat_interfaces = set()  # ENIs of live NAT gateways (covered by the NAT gateway)
        self.scanned = set()

    # -- helpers ---------------------------------------------------------
    def client(self, service):
        if service not in self._clients:
            self._clients[service] = self._factory(service)
        return self._clients[service]

    def _call(self, what, func, **kwargs):
        try:
            return func(aws_retry=True, **kwargs)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise StackLeftoversError(message=f"Failed to {what}", exception=exc) from exc

    def _paginate(self, what, client, operation, **kwargs):
        try:
            return paginated_query_with_retries(client, operation, retry_decorator=AWSRetry.jittered_backoff(),
                                                **kwargs)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise StackLeftoversError(message=f"Failed to {what}", exception=exc) from exc

    def ownership(self, tags, *ids):
        """Why a resource belongs to the stack, or None."""
        if tags.get("stack") == self.stack:
            return f"tagged stack={self.stack}"
        if tags.get(f"kubernetes.io/cluster/{self.cluster}") == "owned":
            return f"tagged kubernetes.io/cluster/{self.cluster}=owned"
        for key in ("aws:eks:cluster-name", "eks:cluster-name", "elbv2.k8s.aws/cluster"):
            if tags.get(key) == self.cluster:
                return f"tagged {key}={self.cluster}"
        for rid in ids:
            if rid and rid in self.recorded:
                return "id recorded in the run directory"
        return None

    def add(self, service, rtype, rid, name, reason, per_day, basis):
        key = (service, rtype, rid)
        if key in self.found:
            return
        self.found[key] = {
            "service": service,
            "type": rtype,
            "id": rid,
            "name": name or "",
            "reason": reason,
            "est_usd_per_day": per_day,
            "cost_basis": basis,
        }

    def add_untagged(self, service, rtype, rid, name, vpc_id, note=""):
        self.untagged[(service, rtype, rid)] = {
            "service": service,
            "type": rtype,
            "id": rid,
            "name": name or "",
            "vpc_id": vpc_id,
            "note": note or f"in stack VPC {vpc_id} without stack tags: not the stack's, never deleted by teardown",
        }

    def hourly(self, key):
        return self.prices["hourly"][key]

    # -- EC2 -------------------------------------------------------------
    def scan_ec2(self):
        ec2 = self.client("ec2")
        vpcs = self._paginate("describe VPCs", ec2, "describe_vpcs")["Vpcs"]
        for vpc in vpcs:
            tags = tags_to_dict(vpc.get("Tags"))
            reason = self.ownership(tags, vpc["VpcId"])
            if reason:
                self.stack_vpcs.add(vpc["VpcId"])
                self.add("ec2", "vpc", vpc["VpcId"], tags.get("Name"), reason, 0.0, "no charge")
        vpc_filter = [{"Name": "vpc-id", "Values": sorted(self.stack_vpcs)}]

        def in_vpc_scan(rtype, items, id_key, skip=None):
            for item in items:
                tags = tags_to_dict(item.get("Tags"))
                rid = item[id_key]
                reason = self.ownership(tags, rid)
                vpc_id = item.get("VpcId") or next(
                    (a.get("VpcId") for a in item.get("Attachments", []) if a.get("VpcId")), None)
                if reason:
                    self.add("ec2", rtype, rid, tags.get("Name"), reason, 0.0, "no charge")
                elif vpc_id in self.stack_vpcs and not (skip and skip(item)):
                    self.add_untagged("ec2", rtype, rid, tags.get("Name"), vpc_id)

        in_vpc_scan("subnet", self._paginate("describe subnets", ec2, "describe_subnets")["Subnets"], "SubnetId")
        in_vpc_scan("internet-gateway",
                    self._paginate("describe internet gateways", ec2, "describe_internet_gateways")[
                        "InternetGateways"], "InternetGatewayId")
        in_vpc_scan("route-table", self._paginate("describe route tables", ec2, "describe_route_tables")[
            "RouteTables"], "RouteTableId",
            skip=lambda rt: any(a.get("Main") for a in rt.get("Associations", [])))  # goes with the VPC
        in_vpc_scan("security-group",
                    self._paginate("describe security groups", ec2, "describe_security_groups")["SecurityGroups"],
                    "GroupId", skip=lambda sg: sg.get("GroupName") == "default")  # goes with the VPC
        self._scan_nat_gateways(ec2)
        self._scan_addresses(ec2)
        instances = self._scan_instances(ec2)
        self._scan_volumes(ec2)
        if self.stack_vpcs:
            self._scan_network_interfaces(ec2, vpc_filter, instances)

    def _scan_nat_gateways(self, ec2):
        nats = self._paginate("describe NAT gateways", ec2, "describe_nat_gateways")["NatGateways"]
        for nat in nats:
            if nat.get("State") in GONE_NAT_STATES:
                continue
            self.nat_interfaces.update(
                a["NetworkInterfaceId"] for a in nat.get("NatGatewayAddresses", []) if a.get("NetworkInterfaceId"))
            tags = tags_to_dict(nat.get("Tags"))
            rid = nat["NatGatewayId"]
            reason = self.ownership(tags, rid)
            if reason:
                state = nat.get("State", "")
                per_day = aws_prices.per_day_from_hourly(self.hourly("nat_gateway"))
                self.add("ec2", "natgateway", rid, tags.get("Name"), f"{reason}; state {state}", per_day,
                         f"NAT gateway ${self.hourly('nat_gateway')}/h (data processing extra)")
            elif nat.get("VpcId") in self.stack_vpcs:
                self.add_untagged("ec2", "natgateway", rid, tags.get("Name"), nat.get("VpcId"))

    def _scan_addresses(self, ec2):
        addresses = self._call("describe Elastic IPs", ec2.describe_addresses).get("Addresses", [])
        for address in addresses:
            tags = tags_to_dict(address.get("Tags"))
            rid = address.get("AllocationId") or address.get("PublicIp")
            reason = self.ownership(tags, rid, address.get("PublicIp"))
            if reason:
                per_day = aws_prices.per_day_from_hourly(self.hourly("public_ipv4"))
                self.add("ec2", "elastic-ip", rid, tags.get("Name") or address.get("PublicIp"), reason, per_day,
                         f"public IPv4 ${self.hourly('public_ipv4')}/h")

    def _scan_instances(self, ec2):
        reservations = self._paginate(
            "describe instances", ec2, "describe_instances",
            Filters=[{"Name": "instance-state-name", "Values": LIVE_INSTANCE_STATES}])["Reservations"]
        instances = {}
        for reservation in reservations:
            for inst in reservation.get("Instances", []):
                instances[inst["InstanceId"]] = inst
                tags = tags_to_dict(inst.get("Tags"))
                reason = self.ownership(tags, inst["InstanceId"])
                itype = inst.get("InstanceType", "")
                if reason:
                    spot = inst.get("InstanceLifecycle") == "spot"
                    running = inst.get("State", {}).get("Name") != "stopped"
                    hourly = (aws_prices.spot_hourly if spot else aws_prices.on_demand_hourly)(itype, self.prices)
                    per_day = aws_prices.per_day_from_hourly(hourly) if running else 0.0
                    basis = (f"{itype} {'spot' if spot else 'on-demand'} ${hourly}/h" if hourly is not None
                             else f"{itype}: price unknown")
                    if not running:
                        basis = "stopped: no compute charge (its volumes are listed separately)"
                    nodegroup = tags.get("eks:nodegroup-name")
                    if nodegroup:
                        key = (tags.get("eks:cluster-name", self.cluster), nodegroup)
                        self.nodegroup_instances[key] = self.nodegroup_instances.get(key, 0) + 1
                    self.add("ec2", "instance", inst["InstanceId"], tags.get("Name"),
                             f"{reason}; {inst.get('State', {}).get('Name')}", per_day, basis)
                elif inst.get("VpcId") in self.stack_vpcs:
                    self.add_untagged("ec2", "instance", inst["InstanceId"], tags.get("Name"), inst.get("VpcId"))
        return instances

    def _scan_volumes(self, ec2):
        volumes = self._paginate("describe volumes", ec2, "describe_volumes")["Volumes"]
        for vol in volumes:
            if vol.get("State") in GONE_VOLUME_STATES:
                continue
            tags = tags_to_dict(vol.get("Tags"))
            reason = self.ownership(tags, vol["VolumeId"])
            if not reason:
                continue
            vtype = vol.get("VolumeType", "gp3")
            price = self.prices["gb_month"].get(f"ebs_{vtype}", self.prices["gb_month"]["ebs_gp3"])
            per_day = aws_prices.per_day_from_gb_month(vol.get("Size", 0), price)
            self.add("ec2", "volume", vol["VolumeId"], tags.get("Name"), f"{reason}; {vol.get('State')}",
                     per_day, f"{vol.get('Size', 0)} GB {vtype} ${price}/GB-month")

    def _scan_network_interfaces(self, ec2, vpc_filter, instances):
        enis = self._paginate("describe network interfaces", ec2, "describe_network_interfaces",
                              Filters=vpc_filter)["NetworkInterfaces"]
        for eni in enis:
            rid = eni["NetworkInterfaceId"]
            attachment = eni.get("Attachment") or {}
            # Covered by the resource they belong to: NAT gateways' and instances' own interfaces.
            if (eni.get("InterfaceType") == "nat_gateway" or rid in self.nat_interfaces
                    or attachment.get("InstanceId") in instances):
                continue
            tags = tags_to_dict(eni.get("TagSet") or eni.get("Tags"))
            description = eni.get("Description") or ""
            reason = self.ownership(tags, rid)
            if not reason and description.startswith(f"Amazon EKS {self.cluster}"):
                reason = f"EKS interface of cluster {self.cluster} ({description!r})"
            if reason:
                self.add("ec2", "network-interface", rid, description, f"{reason}; {eni.get('Status')}", 0.0,
                         "no charge (its public IPv4, if any, is listed with the EIPs)")
            else:
                self.add_untagged("ec2", "network-interface", rid, description, eni.get("VpcId"))

    # -- ELBv2 -----------------------------------------------------------
    def scan_elbv2(self):
        elb = self.client("elbv2")
        lbs = self._paginate("describe load balancers", elb, "describe_load_balancers")["LoadBalancers"]
        tgs = self._paginate("describe target groups", elb, "describe_target_groups")["TargetGroups"]
        tags = self._elb_tags(elb, [lb["LoadBalancerArn"] for lb in lbs] + [tg["TargetGroupArn"] for tg in tgs])
        for lb in lbs:
            arn = lb["LoadBalancerArn"]
            reason = self.ownership(tags.get(arn, {}), arn, lb.get("LoadBalancerName"))
            lb_type = lb.get("Type", "application")
            key = {"application": "alb", "network": "nlb"}.get(lb_type, "alb")
            if reason:
                self.add("elasticloadbalancing", "loadbalancer", arn, lb.get("LoadBalancerName"), reason,
                         aws_prices.per_day_from_hourly(self.hourly(key)),
                         f"{lb_type} load balancer ${self.hourly(key)}/h (capacity units extra)")
            elif lb.get("VpcId") in self.stack_vpcs:
                self.add_untagged("elasticloadbalancing", "loadbalancer", arn, lb.get("LoadBalancerName"),
                                  lb.get("VpcId"))
        for tg in tgs:
            arn = tg["TargetGroupArn"]
            reason = self.ownership(tags.get(arn, {}), arn, tg.get("TargetGroupName"))
            if reason:
                self.add("elasticloadbalancing", "targetgroup", arn, tg.get("TargetGroupName"), reason, 0.0,
                         "no charge")
            elif tg.get("VpcId") in self.stack_vpcs:
                self.add_untagged("elasticloadbalancing", "targetgroup", arn, tg.get("TargetGroupName"),
                                  tg.get("VpcId"))

    def _elb_tags(self, elb, arns):
        result = {}
        for start in range(0, len(arns), 20):  # DescribeTags takes at most 20 ARNs
            described = self._call("describe load balancer tags", elb.describe_tags,
                                   ResourceArns=arns[start:start + 20])
            for desc in described.get("TagDescriptions", []):
                result[desc["ResourceArn"]] = tags_to_dict(desc.get("Tags"))
        return result

    # -- EKS -------------------------------------------------------------
    def scan_eks(self):
        eks = self.client("eks")
        names = self._paginate("list EKS clusters", eks, "list_clusters")["clusters"]
        for name in names:
            cluster = self._call(f"describe EKS cluster {name}", eks.describe_cluster, name=name)["cluster"]
            tags = cluster.get("tags") or {}
            vpc_id = (cluster.get("resourcesVpcConfig") or {}).get("vpcId")
            reason = self.ownership(tags, name, cluster.get("arn"))
            if not reason and name == self.cluster and vpc_id in self.stack_vpcs:
                reason = f"named {self.cluster} in a stack VPC"
            if reason:
                version = cluster.get("version")
                hourly = eks_versions.control_plane_hourly(version, datetime.datetime.now(datetime.timezone.utc),
                                                           self.prices)
                extended = " (extended support)" if hourly != self.hourly("eks_cluster") else ""
                self.add("eks", "cluster", name, name, f"{reason}; {cluster.get('status')}",
                         aws_prices.per_day_from_hourly(hourly), f"EKS {version} control plane ${hourly}/h{extended}")
            elif name == self.cluster:
                self.add_untagged("eks", "cluster", name, name, vpc_id,
                                  note=f"named {self.cluster} but not tagged stack={self.stack}: not the stack's")
            self._scan_nodegroups(eks, name, cluster_is_stack=bool(reason))

    def _scan_nodegroups(self, eks, cluster_name, cluster_is_stack):
        names = self._paginate(f"list node groups of {cluster_name}", eks, "list_nodegroups",
                               clusterName=cluster_name)["nodegroups"]
        for name in names:
            ng = self._call(f"describe node group {name}", eks.describe_nodegroup, clusterName=cluster_name,
                            nodegroupName=name)["nodegroup"]
            reason = self.ownership(ng.get("tags") or {}, ng.get("nodegroupArn"))
            if not reason and cluster_is_stack:
                reason = f"node group of stack cluster {cluster_name}"
            if not reason:
                continue
            capacity = ng.get("capacityType", "ON_DEMAND")
            itypes = ng.get("instanceTypes") or []
            itype = itypes[0] if itypes else ""
            desired = (ng.get("scalingConfig") or {}).get("desiredSize", 0) or 0
            # Nodes that already showed up as EC2 instances carry their own cost.
            unseen = max(0, desired - self.nodegroup_instances.get((cluster_name, name), 0))
            price_of = aws_prices.spot_hourly if capacity == "SPOT" else aws_prices.on_demand_hourly
            hourly = price_of(itype, self.prices)
            per_day = None if hourly is None else aws_prices.per_day_from_hourly(hourly * unseen)
            basis = (f"{unseen} x {itype} {capacity.lower()} ${hourly}/h (nodes not listed as instances)"
                     if hourly is not None else f"{itype or 'instance type'}: price unknown")
            self.add("eks", "nodegroup", f"{cluster_name}/{name}", name, f"{reason}; {ng.get('status')}", per_day,
                     basis)

    # -- IAM -------------------------------------------------------------
    def scan_iam(self):
        iam = self.client("iam")
        roles = self._paginate("list IAM roles", iam, "list_roles")["Roles"]
        for role in roles:
            name = role["RoleName"]
            if not name.startswith(self.prefix):
                continue
            tags = tags_to_dict(self._paginate(f"list tags of role {name}", iam, "list_role_tags",
                                               RoleName=name)["Tags"])
            reason = self.ownership(tags, name, role.get("Arn"))
            if reason:
                self.add("iam", "role", name, name, reason, 0.0, "no charge")
            else:
                self.add_untagged("iam", "role", name, name, None,
                                  note=f"named with prefix {self.prefix} but not tagged stack={self.stack}")
        policies = self._paginate("list IAM policies", iam, "list_policies", Scope="Local")["Policies"]
        for policy in policies:
            name = policy["PolicyName"]
            if not name.startswith(self.prefix):
                continue
            tags = tags_to_dict(self._call(f"list tags of policy {name}", iam.list_policy_tags,
                                           PolicyArn=policy["Arn"]).get("Tags"))
            reason = self.ownership(tags, policy["Arn"], name)
            if reason:
                self.add("iam", "policy", policy["Arn"], name, reason, 0.0, "no charge")
        providers = self._call("list OIDC providers", iam.list_open_id_connect_providers)
        for provider in providers.get("OpenIDConnectProviderList", []):
            arn = provider["Arn"]
            detail = self._call(f"get OIDC provider {arn}", iam.get_open_id_connect_provider,
                                OpenIDConnectProviderArn=arn)
            reason = self.ownership(tags_to_dict(detail.get("Tags")), arn)
            if reason:
                self.add("iam", "oidc-provider", arn, detail.get("Url", ""), reason, 0.0, "no charge")

    # -- ECR, S3, Logs, Budgets -----------------------------------------
    def scan_ecr(self):
        ecr = self.client("ecr")
        repos = self._paginate("describe ECR repositories", ecr, "describe_repositories")["repositories"]
        for repo in repos:
            name = repo["repositoryName"]
            tags = tags_to_dict(self._call(f"list tags of repository {name}", ecr.list_tags_for_resource,
                                           resourceArn=repo["repositoryArn"]).get("tags"))
            reason = self.ownership(tags, repo["repositoryArn"], name)
            if not reason:
                continue
            images = self._paginate(f"describe images of {name}", ecr, "describe_images",
                                    repositoryName=name)["imageDetails"]
            size_gb = sum(i.get("imageSizeInBytes", 0) for i in images) / GIB
            price = self.prices["gb_month"]["ecr"]
            self.add("ecr", "repository", name, name, f"{reason}; {len(images)} images",
                     aws_prices.per_day_from_gb_month(size_gb, price),
                     f"{size_gb:.2f} GB stored ${price}/GB-month")

    def scan_s3(self):
        s3 = self.client("s3")
        buckets = self._call("list S3 buckets", s3.list_buckets).get("Buckets", [])
        for bucket in buckets:
            name = bucket["Name"]
            if not name.startswith(self.prefix):
                continue  # tagged buckets with other names come from the tagging API
            try:
                tag_set = s3.get_bucket_tagging(aws_retry=True, Bucket=name).get("TagSet")
            except botocore.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("NoSuchTagSet", "NoSuchBucket"):
                    raise StackLeftoversError(message=f"Failed to get tags of bucket {name}", exception=exc) from exc
                tag_set = []
            reason = self.ownership(tags_to_dict(tag_set), name)
            if reason:
                self.add("s3", "bucket", name, name, reason, 0.0,
                         f"storage ${self.prices['gb_month']['s3_standard']}/GB-month (size not scanned)")
            else:
                self.add_untagged("s3", "bucket", name, name, None,
                                  note=f"named with prefix {self.prefix} but not tagged stack={self.stack}")

    def scan_logs(self):
        logs = self.client("logs")
        prefix = f"/aws/eks/{self.cluster}/"
        groups = self._paginate("describe log groups", logs, "describe_log_groups",
                                logGroupNamePrefix=prefix)["logGroups"]
        for group in groups:
            self._add_log_group(group, f"control-plane log group of cluster {self.cluster}")

    def _add_log_group(self, group, reason):
        gigabytes = group.get("storedBytes", 0) / GIB
        price = self.prices["gb_month"]["cloudwatch_logs"]
        self.add("logs", "log-group", group["logGroupName"], group["logGroupName"], reason,
                 aws_prices.per_day_from_gb_month(gigabytes, price), f"{gigabytes:.3f} GB stored ${price}/GB-month")

    def scan_budgets(self):
        account = self._call("get the caller identity", self.client("sts").get_caller_identity)["Account"]
        budgets = self.client("budgets")
        found = self._paginate("describe budgets", budgets, "describe_budgets", AccountId=account)
        for budget in found.get("Budgets", []):
            name = budget["BudgetName"]
            if name.startswith(f"{self.prefix}-"):
                self.add("budgets", "budget", name, name, f"budget named {self.prefix}-*", 0.0,
                         "no charge (budgets without actions are free)")

    # -- Tagging API -----------------------------------------------------
    def scan_tagging(self):
        tagging = self.client("resourcegroupstaggingapi")
        mappings = self._paginate("get resources by tag", tagging, "get_resources",
                                  TagFilters=[{"Key": "stack", "Values": [self.stack]}])["ResourceTagMappingList"]
        for mapping in mappings:
            arn = mapping["ResourceARN"]
            service, rtype, rid = parse_arn(arn)
            scanner = {"elasticloadbalancing": "elbv2"}.get(service, service)
            if (service, rtype) in AUTHORITATIVE_TYPES and scanner in self.scanned:
                continue  # the per-service look-up saw it (or saw that it is gone)
            if (service, rtype, rid) in self.found:
                continue
            if not self._still_exists(service, rtype, rid):
                continue
            name = tags_to_dict(mapping.get("Tags")).get("Name", rid)
            basis = "cost not estimated for this type"
            per_day = None
            if (service, rtype) == ("s3", "bucket"):
                per_day = 0.0
                basis = f"storage ${self.prices['gb_month']['s3_standard']}/GB-month (size not scanned)"
            self.add(service, rtype, rid, name, f"tagged stack={self.stack} (tagging API)", per_day, basis)

    def _still_exists(self, service, rtype, rid):
        """The tagging API may list a resource for a while after deletion: check the ones we can."""
        if (service, rtype) == ("s3", "bucket"):
            try:
                self.client("s3").head_bucket(aws_retry=True, Bucket=rid)
            except botocore.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
                    return False
                raise StackLeftoversError(message=f"Failed to check bucket {rid}", exception=exc) from exc
            return True
        if (service, rtype) == ("logs", "log-group"):
            groups = self._paginate("describe log groups", self.client("logs"), "describe_log_groups",
                                    logGroupNamePrefix=rid)["logGroups"]
            return any(g["logGroupName"] == rid for g in groups)
        return True

    # -- all -------------------------------------------------------------
    def scan(self, services=None):
        """Scan ``services`` (default SERVICES, in that order: EC2 first, its VPCs frame the rest)."""
        wanted = list(services or SERVICES)
        unknown = sorted(set(wanted) - set(SERVICES))
        if unknown:
            raise StackLeftoversError(message=f"unknown services {unknown}; choose from {list(SERVICES)}")
        for service in SERVICES:
            if service in wanted:
                getattr(self, f"scan_{service}")()
                self.scanned.add(service)
        leftovers, ignored = [], []
        for item in sorted(self.found.values(), key=lambda i: (i["service"], i["type"], i["id"])):
            (ignored if f"{item['service']}/{item['type']}" in self.ignore else leftovers).append(item)
        known = [i["est_usd_per_day"] for i in leftovers if i["est_usd_per_day"] is not None]
        return {
            "leftovers": leftovers,
            "count": len(leftovers),
            "est_usd_per_day_total": round(sum(known), 4),
            "cost_unknown_count": len(leftovers) - len(known),
            "ignored": ignored,
            "untagged_in_stack_vpcs": sorted(self.untagged.values(),
                                             key=lambda i: (i["service"], i["type"], i["id"])),
            "stack_vpc_ids": sorted(self.stack_vpcs),
            "prices": self.prices,
        }


def scan(client, params):
    """Run one scan with the module's parameters."""
    if botocore is None:
        raise StackLeftoversError(message="botocore is required")
    scanner = Scanner(
        client,
        stack_name=params["stack_name"],
        cluster_name=params.get("cluster_name"),
        name_prefix=params.get("name_prefix"),
        recorded_ids=list(params.get("recorded_ids") or []) + recorded_ids_from_files(params.get("recorded_files")),
        ignore=params.get("ignore"),
        prices=params.get("prices"),
    )
    return scanner.scan(params.get("services"))
