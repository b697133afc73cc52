# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find everything of a stack that still exists in one region (read-only).

What a stack is made of (types, delete order, how each is deleted) is data in
``stack_inventory``; what proves ownership is ``stack_ownership``; what runs
recorded is ``stack_records``. This file only looks: per-service look-ups,
plus the Resource Groups Tagging API for tagged types no look-up covers.

Every leftover is a record with the fields teardown acts on: ``kind``
(``service/type``), ``id``, ``region``, ``evidence`` (``by``: stack-tag,
recorded-id, cluster-tag or stack-cluster; ``detail``), ``state``, ``order``
(delete order), and the attributes deletion needs (``vpc_id``, ``cidr``,
``cluster``, ``attached_vpc``, ``public_ip``, ``lb_type``). ``reason`` is for
people only; nothing selects on it.

EKS is scanned first: clusters proven to be the stack's (tag or recorded ARN)
make the tags their controllers set (VPC CNI, EBS CSI, load balancer
controller) evidence too. A resource that is only named like the stack's is
never a leftover; untagged resources inside the stack's VPCs are listed
apart, for information, as ``untagged_in_stack_vpcs``.
"""

from __future__ import annotations

import datetime

from ansible_collections.amazon.aws.plugins.module_utils.botocore import paginated_query_with_retries
from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_errors import GpuE2eAWSError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_errors import aws_call
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.gpu_e2e.platform.plugins.module_utils import aws_prices
from ansible_collections.gpu_e2e.platform.plugins.module_utils import eks_versions
from ansible_collections.gpu_e2e.platform.plugins.module_utils import stack_inventory as inv
from ansible_collections.gpu_e2e.platform.plugins.module_utils.stack_ownership import Ownership
from ansible_collections.gpu_e2e.platform.plugins.module_utils import stack_records
from ansible_collections.gpu_e2e.platform.plugins.module_utils.stack_records import Records

try:
    import botocore
except ImportError:
    botocore = None  # the module reports the missing library

# Types the per-service look-ups enumerate completely (service, type): the tagging API's view of them is ignored.
# IAM roles and policies and S3 buckets are listed by name prefix only, so the tagging API adds the others.
AUTHORITATIVE_TYPES = {tuple(kind.split("/", 1)) for kind in inv.TYPES} - {("iam", "role"), ("iam", "policy"),
                                                                           ("s3", "bucket")}
# What one scan covers, in this order. "tagging" is the Resource Groups Tagging API.
SERVICES = ("eks", "ec2", "elbv2", "elb", "iam", "ecr", "s3", "logs", "budgets", "tagging")
SCANNER_OF = {"elasticloadbalancing": "elbv2"}
LIVE_INSTANCE_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"]
GONE_NAT_STATES = ("deleted",)
GONE_VOLUME_STATES = ("deleted",)
LOG_GROUP_PREFIXES = ("/aws/eks/{cluster}/", "/aws/containerinsights/{cluster}/")
GIB = 1024.0 ** 3


class StackLeftoversError(GpuE2eAWSError):
    """The one error type of the scanner; the module catches it once."""


def recorded_ids_from_files(paths):
    """Every EC2 id or ARN recorded in the given JSON files or glob patterns (see stack_records)."""
    return stack_records.recorded_ids_from_files(paths)


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


class Scanner:
    """One read-only scan. ``client`` is a factory: service name -> client wrapped with AWSRetry."""

    def __init__(self, client, stack_name, cluster_name=None, name_prefix=None, records=None,
                 ignore=None, prices=None, region=None):
        self._factory = client
        self._clients = {}
        self.stack = stack_name
        self.cluster = cluster_name or stack_name
        self.prefix = name_prefix or stack_name  # narrows listings only; never evidence
        self.records = records or Records()
        self.owner = Ownership(stack_name, self.records, self.records.cluster_names())
        self.region = region or ""
        self.ignore = set(ignore or [])
        self.prices = aws_prices.merged_table(prices)
        self.found = {}  # (service, type, id) -> record
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
        return aws_call(StackLeftoversError, what, func, **kwargs)

    def _paginate(self, what, client, operation, **kwargs):
        try:
            return paginated_query_with_retries(client, operation, retry_decorator=AWSRetry.jittered_backoff(),
                                                **kwargs)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise StackLeftoversError(message=f"Failed to {what}", exception=exc) from exc

    def add(self, service, rtype, rid, name, evidence, per_day, basis, state="", **attrs):
        key = (service, rtype, rid)
        if key in self.found:
            return
        kind = f"{service}/{rtype}"
        self.found[key] = {
            "service": service,
            "type": rtype,
            "kind": kind,
            "id": rid,
            "name": name or "",
            "region": self.region,
            "evidence": evidence,
            "state": state or "",
            "order": inv.order_of(kind),
            "reason": evidence["detail"] + (f"; {state}" if state else ""),
            "est_usd_per_day": per_day,
            "cost_basis": basis,
            **attrs,
        }

    def add_untagged(self, service, rtype, rid, name, vpc_id, note=""):
        self.untagged[(service, rtype, rid)] = {
            "service": service,
            "type": rtype,
            "kind": f"{service}/{rtype}",
            "id": rid,
            "name": name or "",
            "region": self.region,
            "vpc_id": vpc_id,
            "note": note or f"in stack VPC {vpc_id} without stack tags: not the stack's, never deleted by teardown",
        }

    def hourly(self, key):
        return self.prices["hourly"][key]

    # -- EKS (first: its clusters make controller tags evidence) --------
    def scan_eks(self):
        eks = self.client("eks")
        names = self._paginate("list EKS clusters", eks, "list_clusters")["clusters"]
        clusters = {}
        for name in names:
            cluster = self._call(f"describe EKS cluster {name}", eks.describe_cluster, name=name)["cluster"]
            clusters[name] = cluster
            evidence = self.owner.evidence(cluster.get("tags") or {}, cluster.get("arn"))
            vpc_id = (cluster.get("resourcesVpcConfig") or {}).get("vpcId")
            if evidence and evidence["by"] != inv.BY_CLUSTER_TAG:
                self.owner.add_cluster(name)
                version = cluster.get("version")
                hourly = eks_versions.control_plane_hourly(version, datetime.datetime.now(datetime.timezone.utc),
                                                           self.prices)
                extended = " (extended support)" if hourly != self.hourly("eks_cluster") else ""
                self.add("eks", "cluster", name, name, evidence, aws_prices.per_day_from_hourly(hourly),
                         f"EKS {version} control plane ${hourly}/h{extended}", state=cluster.get("status", ""),
                         vpc_id=vpc_id)
            elif name == self.cluster:
                self.add_untagged("eks", "cluster", name, name, vpc_id,
                                  note=f"named {self.cluster} but not tagged stack={self.stack}: not the stack's")
        for name in names:
            self._scan_nodegroups(eks, name, cluster_is_stack=name in self.owner.clusters)

    def _scan_nodegroups(self, eks, cluster_name, cluster_is_stack):
        names = self._paginate(f"list node groups of {cluster_name}", eks, "list_nodegroups",
                               clusterName=cluster_name)["nodegroups"]
        for name in names:
            ng = self._call(f"describe node group {name}", eks.describe_nodegroup, clusterName=cluster_name,
                            nodegroupName=name)["nodegroup"]
            evidence = self.owner.evidence(ng.get("tags") or {}, ng.get("nodegroupArn"))
            if not evidence and cluster_is_stack:
                evidence = Ownership.of_cluster(cluster_name, "node group")
            if not evidence:
                continue
            capacity = ng.get("capacityType", "ON_DEMAND")
            itypes = ng.get("instanceTypes") or []
            desired = (ng.get("scalingConfig") or {}).get("desiredSize", 0) or 0
            price_of = aws_prices.spot_hourly if capacity == "SPOT" else aws_prices.on_demand_hourly
            # A diversified group may launch any of its types: price the dearest known one (an upper bound).
            priced = [(price_of(t, self.prices), t) for t in itypes]
            known = [p for p in priced if p[0] is not None]
            hourly, itype = max(known) if known and len(known) == len(priced) else (None, itypes[0] if itypes else "")
            self.add("eks", "nodegroup", f"{cluster_name}/{name}", name, evidence, None, "", state=ng.get("status", ""),
                     cluster=cluster_name, desired=desired, capacity=capacity, instance_type=itype, hourly=hourly)

    def _price_nodegroups(self):
        """Nodes that already showed up as EC2 instances carry their own cost."""
        for record in self.found.values():
            if record["kind"] != "eks/nodegroup":
                continue
            unseen = max(0, record["desired"] - self.nodegroup_instances.get((record["cluster"], record["name"]), 0))
            hourly = record.pop("hourly")
            itype, capacity = record["instance_type"], record["capacity"]
            record["est_usd_per_day"] = None if hourly is None else aws_prices.per_day_from_hourly(hourly * unseen)
            record["cost_basis"] = (f"{unseen} x {itype} {capacity.lower()} ${hourly}/h (nodes not listed as instances)"
                                    if hourly is not None else f"{itype or 'instance type'}: price unknown")

    # -- EC2 -------------------------------------------------------------
    def scan_ec2(self):
        ec2 = self.client("ec2")
        for vpc in self._paginate("describe VPCs", ec2, "describe_vpcs")["Vpcs"]:
            tags = boto3_tag_list_to_ansible_dict(vpc.get("Tags"))
            evidence = self.owner.evidence(tags, vpc["VpcId"])
            if evidence:
                self.stack_vpcs.add(vpc["VpcId"])
                self.add("ec2", "vpc", vpc["VpcId"], tags.get("Name"), evidence, 0.0, "no charge",
                         state=vpc.get("State", ""), cidr=vpc.get("CidrBlock"))
        self._in_vpc_scan("subnet", self._paginate("describe subnets", ec2, "describe_subnets")["Subnets"],
                          "SubnetId", attrs=lambda s: {"vpc_id": s.get("VpcId"), "cidr": s.get("CidrBlock")})
        self._in_vpc_scan(
            "internet-gateway",
            self._paginate("describe internet gateways", ec2, "describe_internet_gateways")["InternetGateways"],
            "InternetGatewayId",
            attrs=lambda g: {"attached_vpc": next((a.get("VpcId") for a in g.get("Attachments", [])), None)})
        self._in_vpc_scan(
            "route-table", self._paginate("describe route tables", ec2, "describe_route_tables")["RouteTables"],
            "RouteTableId", skip=lambda rt: any(a.get("Main") for a in rt.get("Associations", [])),  # goes with the VPC
            attrs=lambda rt: {"vpc_id": rt.get("VpcId")})
        self._in_vpc_scan(
            "security-group",
            self._paginate("describe security groups", ec2, "describe_security_groups")["SecurityGroups"],
            "GroupId", skip=lambda sg: sg.get("GroupName") == "default",  # goes with the VPC
            attrs=lambda sg: {"vpc_id": sg.get("VpcId")})
        self._scan_nat_gateways(ec2)
        self._scan_addresses(ec2)
        instances = self._scan_instances(ec2)
        self._scan_volumes(ec2)
        self._scan_launch_templates(ec2)
        if self.stack_vpcs:
            self._scan_network_interfaces(ec2, [{"Name": "vpc-id", "Values": sorted(self.stack_vpcs)}], instances)

    def _in_vpc_scan(self, rtype, items, id_key, skip=None, attrs=None):
        for item in items:
            tags = boto3_tag_list_to_ansible_dict(item.get("Tags"))
            rid = item[id_key]
            evidence = self.owner.evidence(tags, rid)
            vpc_id = item.get("VpcId") or next(
                (a.get("VpcId") for a in item.get("Attachments", []) if a.get("VpcId")), None)
            if evidence:
                self.add("ec2", rtype, rid, tags.get("Name") or item.get("GroupName"), evidence, 0.0, "no charge",
                         state=item.get("State", ""), **(attrs(item) if attrs else {}))
            elif vpc_id in self.stack_vpcs and not (skip and skip(item)):
                self.add_untagged("ec2", rtype, rid, tags.get("Name"), vpc_id)

    def _scan_nat_gateways(self, ec2):
        for nat in self._paginate("describe NAT gateways", ec2, "describe_nat_gateways")["NatGateways"]:
            if nat.get("State") in GONE_NAT_STATES:
                continue
            self.nat_interfaces.update(
                a["NetworkInterfaceId"] for a in nat.get("NatGatewayAddresses", []) if a.get("NetworkInterfaceId"))
            tags = boto3_tag_list_to_ansible_dict(nat.get("Tags"))
            rid = nat["NatGatewayId"]
            evidence = self.owner.evidence(tags, rid)
            if evidence:
                per_day = aws_prices.per_day_from_hourly(self.hourly("nat_gateway"))
                self.add("ec2", "natgateway", rid, tags.get("Name"), evidence, per_day,
                         f"NAT gateway ${self.hourly('nat_gateway')}/h (data processing extra)",
                         state=nat.get("State", ""), vpc_id=nat.get("VpcId"))
            elif nat.get("VpcId") in self.stack_vpcs:
                self.add_untagged("ec2", "natgateway", rid, tags.get("Name"), nat.get("VpcId"))

    def _scan_addresses(self, ec2):
        for address in self._call("describe Elastic IPs", ec2.describe_addresses).get("Addresses", []):
            tags = boto3_tag_list_to_ansible_dict(address.get("Tags"))
            rid = address.get("AllocationId") or address.get("PublicIp")
            evidence = self.owner.evidence(tags, rid, address.get("PublicIp"))
            if evidence:
                per_day = aws_prices.per_day_from_hourly(self.hourly("public_ipv4"))
                self.add("ec2", "elastic-ip", rid, tags.get("Name") or address.get("PublicIp"), evidence, per_day,
                         f"public IPv4 ${self.hourly('public_ipv4')}/h",
                         state="associated" if address.get("AssociationId") else "unassociated",
                         public_ip=address.get("PublicIp"))

    def _scan_instances(self, ec2):
        reservations = self._paginate(
            "describe instances", ec2, "describe_instances",
            Filters=[{"Name": "instance-state-name", "Values": LIVE_INSTANCE_STATES}])["Reservations"]
        instances = {}
        for reservation in reservations:
            for inst in reservation.get("Instances", []):
                instances[inst["InstanceId"]] = inst
                tags = boto3_tag_list_to_ansible_dict(inst.get("Tags"))
                evidence = self.owner.evidence(tags, inst["InstanceId"])
                itype = inst.get("InstanceType", "")
                state = inst.get("State", {}).get("Name", "")
                if evidence:
                    spot = inst.get("InstanceLifecycle") == "spot"
                    running = state != "stopped"
                    hourly = (aws_prices.spot_hourly if spot else aws_prices.on_demand_hourly)(itype, self.prices)
                    per_day = aws_prices.per_day_from_hourly(hourly) if running and hourly is not None else (
                        0.0 if not running else None)
                    basis = (f"{itype} {'spot' if spot else 'on-demand'} ${hourly}/h" if hourly is not None
                             else f"{itype}: price unknown")
                    if not running:
                        basis = "stopped: no compute charge (its volumes are listed separately)"
                    nodegroup = tags.get("eks:nodegroup-name")
                    if nodegroup:
                        key = (tags.get("eks:cluster-name", self.cluster), nodegroup)
                        self.nodegroup_instances[key] = self.nodegroup_instances.get(key, 0) + 1
                    self.add("ec2", "instance", inst["InstanceId"], tags.get("Name"), evidence, per_day, basis,
                             state=state, vpc_id=inst.get("VpcId"))
                elif inst.get("VpcId") in self.stack_vpcs:
                    self.add_untagged("ec2", "instance", inst["InstanceId"], tags.get("Name"), inst.get("VpcId"))
        return instances

    def _scan_volumes(self, ec2):
        for vol in self._paginate("describe volumes", ec2, "describe_volumes")["Volumes"]:
            if vol.get("State") in GONE_VOLUME_STATES:
                continue
            tags = boto3_tag_list_to_ansible_dict(vol.get("Tags"))
            evidence = self.owner.evidence(tags, vol["VolumeId"])
            if not evidence:
                continue
            vtype = vol.get("VolumeType", "gp3")
            price = self.prices["gb_month"].get(f"ebs_{vtype}", self.prices["gb_month"]["ebs_gp3"])
            per_day = aws_prices.per_day_from_gb_month(vol.get("Size", 0), price)
            self.add("ec2", "volume", vol["VolumeId"], tags.get("Name"), evidence, per_day,
                     f"{vol.get('Size', 0)} GB {vtype} ${price}/GB-month", state=vol.get("State", ""))

    def _scan_launch_templates(self, ec2):
        templates = self._paginate("describe launch templates", ec2, "describe_launch_templates")["LaunchTemplates"]
        for template in templates:
            tags = boto3_tag_list_to_ansible_dict(template.get("Tags"))
            evidence = self.owner.evidence(tags, template["LaunchTemplateId"])
            if evidence:
                self.add("ec2", "launch-template", template["LaunchTemplateId"], template.get("LaunchTemplateName"),
                         evidence, 0.0, "no charge")

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
            tags = boto3_tag_list_to_ansible_dict(eni.get("TagSet") or eni.get("Tags"))
            description = eni.get("Description") or ""
            evidence = self.owner.evidence(tags, rid)
            if not evidence:
                cluster = next((c for c in sorted(self.owner.clusters) if description == f"Amazon EKS {c}"), None)
                if cluster:  # the control plane's interfaces: EKS deletes them some minutes after the cluster
                    evidence = Ownership.of_cluster(cluster, "EKS control-plane interface")
            if evidence:
                self.add("ec2", "network-interface", rid, description, evidence, 0.0,
                         "no charge (its public IPv4, if any, is listed with the EIPs)", state=eni.get("Status", ""),
                         vpc_id=eni.get("VpcId"), requester_managed=bool(eni.get("RequesterManaged")))
            else:
                self.add_untagged("ec2", "network-interface", rid, description, eni.get("VpcId"))

    # -- ELBv2 and classic ELB -------------------------------------------
    def scan_elbv2(self):
        elb = self.client("elbv2")
        lbs = self._paginate("describe load balancers", elb, "describe_load_balancers")["LoadBalancers"]
        tgs = self._paginate("describe target groups", elb, "describe_target_groups")["TargetGroups"]
        tags = self._elb_tags(elb, [lb["LoadBalancerArn"] for lb in lbs] + [tg["TargetGroupArn"] for tg in tgs])
        for lb in lbs:
            arn = lb["LoadBalancerArn"]
            evidence = self.owner.evidence(tags.get(arn, {}), arn)
            lb_type = lb.get("Type", "application")
            key = {"application": "alb", "network": "nlb"}.get(lb_type, "alb")
            if evidence:
                self.add("elasticloadbalancing", "loadbalancer", arn, lb.get("LoadBalancerName"), evidence,
                         aws_prices.per_day_from_hourly(self.hourly(key)),
                         f"{lb_type} load balancer ${self.hourly(key)}/h (capacity units extra)",
                         state=(lb.get("State") or {}).get("Code", ""), lb_type=lb_type, vpc_id=lb.get("VpcId"))
            elif lb.get("VpcId") in self.stack_vpcs:
                self.add_untagged("elasticloadbalancing", "loadbalancer", arn, lb.get("LoadBalancerName"),
                                  lb.get("VpcId"))
        for tg in tgs:
            arn = tg["TargetGroupArn"]
            evidence = self.owner.evidence(tags.get(arn, {}), arn)
            if evidence:
                self.add("elasticloadbalancing", "targetgroup", arn, tg.get("TargetGroupName"), evidence, 0.0,
                         "no charge", vpc_id=tg.get("VpcId"))
            elif tg.get("VpcId") in self.stack_vpcs:
                self.add_untagged("elasticloadbalancing", "targetgroup", arn, tg.get("TargetGroupName"),
                                  tg.get("VpcId"))

    def _elb_tags(self, elb, arns):
        result = {}
        for start in range(0, len(arns), 20):  # DescribeTags takes at most 20 ARNs
            described = self._call("describe load balancer tags", elb.describe_tags,
                                   ResourceArns=arns[start:start + 20])
            for desc in described.get("TagDescriptions", []):
                result[desc["ResourceArn"]] = boto3_tag_list_to_ansible_dict(desc.get("Tags"))
        return result

    def scan_elb(self):
        """Classic load balancers (Kubernetes Services of type LoadBalancer without the controller)."""
        elb = self.client("elb")
        lbs = self._paginate("describe classic load balancers", elb, "describe_load_balancers")[
            "LoadBalancerDescriptions"]
        names = [lb["LoadBalancerName"] for lb in lbs]
        tags = {}
        for start in range(0, len(names), 20):
            described = self._call("describe classic load balancer tags", elb.describe_tags,
                                   LoadBalancerNames=names[start:start + 20])
            for desc in described.get("TagDescriptions", []):
                tags[desc["LoadBalancerName"]] = boto3_tag_list_to_ansible_dict(desc.get("Tags"))
        for lb in lbs:
            name = lb["LoadBalancerName"]
            evidence = self.owner.evidence(tags.get(name, {}), name)
            if evidence:
                self.add("elb", "loadbalancer", name, name, evidence,
                         aws_prices.per_day_from_hourly(self.hourly("alb")),
                         f"classic load balancer ~${self.hourly('alb')}/h (ALB rate used; data extra)",
                         vpc_id=lb.get("VPCId"))
            elif lb.get("VPCId") in self.stack_vpcs:
                self.add_untagged("elb", "loadbalancer", name, name, lb.get("VPCId"))

    # -- IAM -------------------------------------------------------------
    def scan_iam(self):
        iam = self.client("iam")
        for role in self._paginate("list IAM roles", iam, "list_roles")["Roles"]:
            name = role["RoleName"]
            if not name.startswith(self.prefix) and not self.records.has(role.get("Arn")):
                continue  # the prefix narrows the listing; only the tag or a record is evidence
            listed = self._paginate(f"list tags of role {name}", iam, "list_role_tags", RoleName=name)
            tags = boto3_tag_list_to_ansible_dict(listed["Tags"])
            evidence = self.owner.evidence(tags, role.get("Arn"))
            if evidence:
                trust = role.get("AssumeRolePolicyDocument") or {}
                federated = "Federated" in str(trust)
                self.add("iam", "role", name, name, evidence, 0.0, "no charge", arn=role.get("Arn"),
                         federated=federated)
            else:
                self.add_untagged("iam", "role", name, name, None,
                                  note=f"named with prefix {self.prefix} but not tagged stack={self.stack}")
        for policy in self._paginate("list IAM policies", iam, "list_policies", Scope="Local")["Policies"]:
            name = policy["PolicyName"]
            if not name.startswith(self.prefix) and not self.records.has(policy["Arn"]):
                continue
            listed = self._call(f"list tags of policy {name}", iam.list_policy_tags, PolicyArn=policy["Arn"])
            tags = boto3_tag_list_to_ansible_dict(listed.get("Tags"))
            evidence = self.owner.evidence(tags, policy["Arn"])
            if evidence:
                self.add("iam", "policy", policy["Arn"], name, evidence, 0.0, "no charge")
        providers = self._call("list OIDC providers", iam.list_open_id_connect_providers)
        for provider in providers.get("OpenIDConnectProviderList", []):
            arn = provider["Arn"]
            detail = self._call(f"get OIDC provider {arn}", iam.get_open_id_connect_provider,
                                OpenIDConnectProviderArn=arn)
            evidence = self.owner.evidence(boto3_tag_list_to_ansible_dict(detail.get("Tags")), arn)
            if evidence:
                self.add("iam", "oidc-provider", arn, detail.get("Url", ""), evidence, 0.0, "no charge")

    # -- ECR, S3, Logs, Budgets -----------------------------------------
    def scan_ecr(self):
        ecr = self.client("ecr")
        for repo in self._paginate("describe ECR repositories", ecr, "describe_repositories")["repositories"]:
            name = repo["repositoryName"]
            listed = self._call(f"list tags of repository {name}", ecr.list_tags_for_resource,
                                resourceArn=repo["repositoryArn"])
            tags = boto3_tag_list_to_ansible_dict(listed.get("tags"))
            evidence = self.owner.evidence(tags, repo["repositoryArn"])
            if not evidence:
                continue
            images = self._paginate(f"describe images of {name}", ecr, "describe_images",
                                    repositoryName=name)["imageDetails"]
            size_gb = sum(i.get("imageSizeInBytes", 0) for i in images) / GIB
            price = self.prices["gb_month"]["ecr"]
            self.add("ecr", "repository", name, name, evidence, aws_prices.per_day_from_gb_month(size_gb, price),
                     f"{size_gb:.2f} GB stored ${price}/GB-month", state=f"{len(images)} images",
                     arn=repo["repositoryArn"])

    def scan_s3(self):
        s3 = self.client("s3")
        for bucket in self._call("list S3 buckets", s3.list_buckets).get("Buckets", []):
            name = bucket["Name"]
            if not name.startswith(self.prefix) and not self.records.has(f"arn:aws:s3:::{name}"):
                continue  # tagged buckets with other names come from the tagging API
            try:
                tag_set = s3.get_bucket_tagging(aws_retry=True, Bucket=name).get("TagSet")
            except botocore.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("NoSuchTagSet", "NoSuchBucket"):
                    raise StackLeftoversError(message=f"Failed to get tags of bucket {name}", exception=exc) from exc
                tag_set = []
            evidence = self.owner.evidence(boto3_tag_list_to_ansible_dict(tag_set), f"arn:aws:s3:::{name}")
            if evidence:
                self.add("s3", "bucket", name, name, evidence, 0.0,
                         f"storage ${self.prices['gb_month']['s3_standard']}/GB-month (size not scanned)")
            else:
                self.add_untagged("s3", "bucket", name, name, None,
                                  note=f"named with prefix {self.prefix} but not tagged stack={self.stack}")

    def scan_logs(self):
        logs = self.client("logs")
        groups = self._paginate("describe log groups", logs, "describe_log_groups")["logGroups"]
        for group in groups:
            name = group["logGroupName"]
            cluster = next((c for c in sorted(self.owner.clusters)
                            if any(name.startswith(p.format(cluster=c)) for p in LOG_GROUP_PREFIXES)), None)
            evidence = Ownership.of_cluster(cluster, "log group") if cluster else None
            if not evidence:
                arn = group.get("arn", "")
                try:
                    tags = self._call(f"list tags of log group {name}", logs.list_tags_for_resource,
                                      resourceArn=arn[:-2] if arn.endswith(":*") else arn).get("tags") or {}
                except StackLeftoversError:
                    tags = self._call(f"list tags of log group {name}", logs.list_tags_log_group,
                                      logGroupName=name).get("tags") or {}
                evidence = self.owner.evidence(tags, arn)
            if evidence:
                gigabytes = group.get("storedBytes", 0) / GIB
                price = self.prices["gb_month"]["cloudwatch_logs"]
                self.add("logs", "log-group", name, name, evidence,
                         aws_prices.per_day_from_gb_month(gigabytes, price),
                         f"{gigabytes:.3f} GB stored ${price}/GB-month")

    def scan_budgets(self):
        account = self._call("get the caller identity", self.client("sts").get_caller_identity)["Account"]
        found = self._paginate("describe budgets", self.client("budgets"), "describe_budgets", AccountId=account)
        for budget in found.get("Budgets", []):
            name = budget["BudgetName"]
            evidence = self.owner.recorded_name("budgets/budget", name)
            if evidence:
                self.add("budgets", "budget", name, name, evidence, 0.0,
                         "no charge (budgets without actions are free)")

    # -- Tagging API -----------------------------------------------------
    def scan_tagging(self):
        tagging = self.client("resourcegroupstaggingapi")
        mappings = self._paginate("get resources by tag", tagging, "get_resources",
                                  TagFilters=[{"Key": "stack", "Values": [self.stack]}])["ResourceTagMappingList"]
        for mapping in mappings:
            arn = mapping["ResourceARN"]
            service, rtype, rid = parse_arn(arn)
            if (service, rtype) in AUTHORITATIVE_TYPES and SCANNER_OF.get(service, service) in self.scanned:
                continue  # the per-service look-up saw it (or saw that it is gone)
            if (service, rtype, rid) in self.found or not self._still_exists(service, rtype, rid):
                continue
            name = boto3_tag_list_to_ansible_dict(mapping.get("Tags")).get("Name", rid)
            basis, per_day = "cost not estimated for this type", None
            if (service, rtype) == ("s3", "bucket"):
                per_day = 0.0
                basis = f"storage ${self.prices['gb_month']['s3_standard']}/GB-month (size not scanned)"
            evidence = {"by": inv.BY_TAG, "detail": f"tagged stack={self.stack} (tagging API)"}
            self.add(service, rtype, rid, name, evidence, per_day, basis)

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
        return True

    # -- all -------------------------------------------------------------
    def scan(self, services=None):
        """Scan ``services`` (default SERVICES, in that order: EKS first, then EC2, whose VPCs frame the rest)."""
        wanted = list(services or SERVICES)
        unknown = sorted(set(wanted) - set(SERVICES))
        if unknown:
            raise StackLeftoversError(message=f"unknown services {unknown}; choose from {list(SERVICES)}")
        if "eks" not in wanted and any(s in wanted for s in ("ec2", "elbv2", "elb", "logs")):
            self._discover_stack_clusters()
        for service in SERVICES:
            if service in wanted:
                getattr(self, f"scan_{service}")()
                self.scanned.add(service)
        self._price_nodegroups()
        leftovers, ignored = [], []
        for item in sorted(self.found.values(), key=lambda i: (i["order"], i["kind"], i["id"])):
            (ignored if item["kind"] in self.ignore else leftovers).append(item)
        known = [i["est_usd_per_day"] for i in leftovers if i["est_usd_per_day"] is not None]
        return {
            "leftovers": leftovers,
            "count": len(leftovers),
            "region": self.region,
            "est_usd_per_day_total": round(sum(known), 4),
            "cost_unknown_count": len(leftovers) - len(known),
            "ignored": ignored,
            "untagged_in_stack_vpcs": sorted(self.untagged.values(), key=lambda i: (i["kind"], i["id"])),
            "stack_vpc_ids": sorted(self.stack_vpcs),
            "stack_clusters": sorted(self.owner.clusters),
            "records_unreadable": list(self.records.unreadable),
            "prices": self.prices,
        }

    def _discover_stack_clusters(self):
        """Which clusters are the stack's (tag or recorded ARN), for a scan that leaves EKS out."""
        eks = self.client("eks")
        for name in self._paginate("list EKS clusters", eks, "list_clusters")["clusters"]:
            cluster = self._call(f"describe EKS cluster {name}", eks.describe_cluster, name=name)["cluster"]
            evidence = self.owner.evidence(cluster.get("tags") or {}, cluster.get("arn"))
            if evidence and evidence["by"] != inv.BY_CLUSTER_TAG:
                self.owner.add_cluster(name)


def scan(client, params, region=None):
    """Run one scan with the module's parameters."""
    if botocore is None:
        raise StackLeftoversError(message="botocore is required")
    records = Records.from_files(params.get("recorded_files"), ids=params.get("recorded_ids"))
    scanner = Scanner(
        client,
        stack_name=params["stack_name"],
        cluster_name=params.get("cluster_name"),
        name_prefix=params.get("name_prefix"),
        records=records,
        ignore=params.get("ignore"),
        prices=params.get("prices"),
        region=region or params.get("region") or "",
    )
    if not scanner.region:  # the clients' own region (boto3 resolved it)
        scanner.region = getattr(getattr(scanner.client("sts"), "meta", None), "region_name", "") or ""
    return scanner.scan(params.get("services"))
