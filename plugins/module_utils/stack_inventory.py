# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a stack is made of, as data: one entry per resource type.

For every type the collection creates, and every type AWS or the cluster's
controllers create on its behalf, this table says how the scanner finds it
(``find``), what proves it is this stack's (``ownership``), how teardown
deletes it (``delete``, the task file and the module), its delete ``order``
(lower goes first), and whether the leftover check prices it (``priced``).

Ownership is exact: the ``stack=<name>`` tag, an id or ARN recorded by a run
of the stack, or (for what a controller creates) a controller tag naming a
cluster that is itself proven to be this stack's. A name prefix never counts.

The README's coverage table is generated from this table
(``coverage_rows()``), and the teardown tasks select targets by ``kind`` and
``evidence.by``, never by message text.
"""

from __future__ import annotations

# Evidence kinds (record field ``evidence.by``).
BY_TAG = "stack-tag"            # tagged stack=<stack_name>
BY_RECORD = "recorded-id"        # id, ARN or name recorded by a run of the stack
BY_CLUSTER_TAG = "cluster-tag"   # a controller tag naming a cluster proven to be the stack's
BY_CLUSTER = "stack-cluster"     # part of a cluster proven to be the stack's (node groups, control-plane logs)
DELETABLE_EVIDENCE = (BY_TAG, BY_RECORD, BY_CLUSTER_TAG, BY_CLUSTER)

TYPES = {
    # kind: order, how it is found, what proves it, how teardown deletes it, priced
    "elasticloadbalancing/loadbalancer": dict(
        order=10, find="elbv2 describe_load_balancers + describe_tags",
        ownership="stack tag (controller defaultTags) or elbv2.k8s.aws/cluster=<stack cluster>",
        delete="helm.yml: amazon.aws.elb_application_lb / community.aws.elb_network_lb", priced=True),
    "elasticloadbalancing/targetgroup": dict(
        order=11, find="elbv2 describe_target_groups + describe_tags",
        ownership="stack tag or elbv2.k8s.aws/cluster=<stack cluster>",
        delete="helm.yml: community.aws.elb_target_group", priced=False),
    "elb/loadbalancer": dict(
        order=12, find="elb describe_load_balancers + describe_tags (classic)",
        ownership="stack tag or kubernetes.io/cluster/<stack cluster>=owned",
        delete="helm.yml: amazon.aws.elb_classic_lb", priced=True),
    "eks/nodegroup": dict(
        order=20, find="eks list_nodegroups/describe_nodegroup of every cluster",
        ownership="stack tag, or node group of a stack cluster",
        delete="eks.yml: community.aws.eks_nodegroup (wait)", priced=True),
    "ec2/instance": dict(
        order=21, find="ec2 describe_instances (live states)",
        ownership="stack tag, recorded id, or eks:cluster-name=<stack cluster>",
        delete="goes with its node group (EKS terminates it); leftover check reports it", priced=True),
    "ec2/launch-template": dict(
        order=22, find="ec2 describe_launch_templates",
        ownership="stack tag, recorded id, or eks:cluster-name=<stack cluster>",
        delete="eks.yml: amazon.aws.ec2_launch_template", priced=False),
    "iam/role": dict(
        order=30, find="iam list_roles (names starting with the stack name, listing only) + list_role_tags",
        ownership="stack tag or recorded ARN", delete="eks.yml: amazon.aws.iam_role", priced=False),
    "iam/policy": dict(
        order=31, find="iam list_policies (local) + list_policy_tags",
        ownership="stack tag or recorded ARN", delete="eks.yml: amazon.aws.iam_managed_policy", priced=False),
    "iam/oidc-provider": dict(
        order=32, find="iam list_open_id_connect_providers + get_open_id_connect_provider",
        ownership="stack tag or recorded ARN", delete="eks.yml: gpu_e2e.platform.iam_oidc_provider", priced=False),
    "eks/cluster": dict(
        order=33, find="eks list_clusters + describe_cluster",
        ownership="stack tag or recorded ARN", delete="eks.yml: community.aws.eks_cluster (wait)", priced=True),
    "ec2/natgateway": dict(
        order=40, find="ec2 describe_nat_gateways (not deleted)",
        ownership="stack tag or recorded id", delete="network.yml: amazon.aws.ec2_vpc_nat_gateway (release EIP)",
        priced=True),
    "ec2/elastic-ip": dict(
        order=41, find="ec2 describe_addresses", ownership="stack tag or recorded allocation id",
        delete="network.yml: amazon.aws.ec2_eip", priced=True),
    "ec2/volume": dict(
        order=42, find="ec2 describe_volumes",
        ownership="stack tag, recorded id, or kubernetes.io/cluster/<stack cluster>=owned (EBS CSI driver)",
        delete="network.yml: amazon.aws.ec2_vol (available volumes)", priced=True),
    "ec2/network-interface": dict(
        order=43, find="ec2 describe_network_interfaces in the stack's VPCs",
        ownership="stack tag, recorded id, cluster.k8s.amazonaws.com/name=<stack cluster> (VPC CNI), or an "
                  "EKS interface of a stack cluster",
        delete="network.yml: amazon.aws.ec2_eni (available interfaces; EKS's own are waited for)", priced=False),
    "ec2/security-group": dict(
        order=44, find="ec2 describe_security_groups (not the VPC's default group)",
        ownership="stack tag, recorded id, or elbv2.k8s.aws/cluster / kubernetes.io/cluster/<stack cluster>",
        delete="network.yml: amazon.aws.ec2_security_group", priced=False),
    "ec2/route-table": dict(
        order=45, find="ec2 describe_route_tables (not the main table)", ownership="stack tag or recorded id",
        delete="network.yml: amazon.aws.ec2_vpc_route_table", priced=False),
    "ec2/internet-gateway": dict(
        order=46, find="ec2 describe_internet_gateways", ownership="stack tag or recorded id",
        delete="network.yml: amazon.aws.ec2_vpc_igw (detach)", priced=False),
    "ec2/subnet": dict(
        order=47, find="ec2 describe_subnets", ownership="stack tag or recorded id",
        delete="network.yml: amazon.aws.ec2_vpc_subnet (DependencyViolation retried, bounded)", priced=False),
    "ec2/vpc": dict(
        order=48, find="ec2 describe_vpcs", ownership="stack tag or recorded id",
        delete="network.yml: amazon.aws.ec2_vpc_net (DependencyViolation retried, bounded)", priced=False),
    "ecr/repository": dict(
        order=50, find="ecr describe_repositories + list_tags_for_resource",
        ownership="stack tag (set at creation) or recorded ARN", delete="storage.yml: community.aws.ecs_ecr (force)",
        priced=True),
    "s3/bucket": dict(
        order=51, find="s3 list_buckets (names starting with the stack name) + get_bucket_tagging; tagging API",
        ownership="stack tag or recorded name", delete="storage.yml: amazon.aws.s3_bucket (force)", priced=True),
    "logs/log-group": dict(
        order=60, find="logs describe_log_groups + list_tags_for_resource",
        ownership="stack tag, or /aws/eks/<stack cluster>/ and /aws/containerinsights/<stack cluster>/",
        delete="logs.yml: amazon.aws.cloudwatchlogs_log_group", priced=True),
    "budgets/budget": dict(
        order=90, find="budgets describe_budgets", ownership="budget name recorded by the stack (aws/budget.json)",
        delete="budget.yml: gpu_e2e.platform.aws_budget", priced=False),
}


def order_of(kind):
    """Delete order of a kind; unknown kinds (from the tagging API) go last but one."""
    entry = TYPES.get(kind)
    return entry["order"] if entry else 80


def coverage_rows():
    """Rows of the README's coverage table: kind, scanned, deleted, priced."""
    return [(kind, "yes", entry["delete"].split(":", 1)[0] if ":" in entry["delete"] else entry["delete"],
             "yes" if entry["priced"] else "no (free)")
            for kind, entry in sorted(TYPES.items(), key=lambda kv: kv[1]["order"])]


# The order teardown deletes in: one target per deletion task of roles/teardown/tasks/<step>.yml, in the
# order those tasks run (steps in teardown__steps order, tasks in file order). Each task loops over
# ``records | gpu_e2e.platform.teardown_targets('<target>')``, and the check-mode plan
# (``teardown_plan``) lists the same records in this order: one table for both.
# ``where``: fields a record must have (a bool compares the field's truth); absent means every record of the kind.
DELETE_SEQUENCE = (
    dict(target="application-load-balancer", step="helm", kind="elasticloadbalancing/loadbalancer",
         where={"lb_type": "application"}, module="amazon.aws.elb_application_lb"),
    dict(target="network-load-balancer", step="helm", kind="elasticloadbalancing/loadbalancer",
         where={"lb_type": "network"}, module="community.aws.elb_network_lb"),
    dict(target="classic-load-balancer", step="helm", kind="elb/loadbalancer", module="amazon.aws.elb_classic_lb"),
    dict(target="target-group", step="helm", kind="elasticloadbalancing/targetgroup",
         module="community.aws.elb_target_group"),
    dict(target="nodegroup", step="eks", kind="eks/nodegroup", module="community.aws.eks_nodegroup"),
    dict(target="irsa-role", step="eks", kind="iam/role", where={"federated": True}, module="amazon.aws.iam_role"),
    dict(target="oidc-provider", step="eks", kind="iam/oidc-provider", module="gpu_e2e.platform.iam_oidc_provider"),
    dict(target="cluster", step="eks", kind="eks/cluster", module="community.aws.eks_cluster"),
    dict(target="other-role", step="eks", kind="iam/role", where={"federated": False}, module="amazon.aws.iam_role"),
    dict(target="policy", step="eks", kind="iam/policy", module="amazon.aws.iam_managed_policy"),
    dict(target="launch-template", step="eks", kind="ec2/launch-template", module="amazon.aws.ec2_launch_template"),
    dict(target="nat-gateway", step="network", kind="ec2/natgateway", module="amazon.aws.ec2_vpc_nat_gateway"),
    dict(target="elastic-ip", step="network", kind="ec2/elastic-ip", module="amazon.aws.ec2_eip"),
    dict(target="volume", step="network", kind="ec2/volume", where={"state": "available"},
         module="amazon.aws.ec2_vol"),
    dict(target="network-interface", step="network", kind="ec2/network-interface",
         where={"state": "available", "requester_managed": False}, module="amazon.aws.ec2_eni"),
    dict(target="security-group", step="network", kind="ec2/security-group",
         module="amazon.aws.ec2_security_group"),
    dict(target="route-table", step="network", kind="ec2/route-table", module="amazon.aws.ec2_vpc_route_table"),
    dict(target="internet-gateway", step="network", kind="ec2/internet-gateway", module="amazon.aws.ec2_vpc_igw"),
    dict(target="subnet", step="network", kind="ec2/subnet", module="amazon.aws.ec2_vpc_subnet"),
    dict(target="vpc", step="network", kind="ec2/vpc", module="amazon.aws.ec2_vpc_net"),
    dict(target="ecr-repository", step="storage", kind="ecr/repository", module="community.aws.ecs_ecr"),
    dict(target="s3-bucket", step="storage", kind="s3/bucket", module="amazon.aws.s3_bucket"),
    dict(target="log-group", step="logs", kind="logs/log-group", module="amazon.aws.cloudwatchlogs_log_group"),
    dict(target="budget", step="budget", kind="budgets/budget", module="gpu_e2e.platform.aws_budget"),
)
TARGETS = {entry["target"]: entry for entry in DELETE_SEQUENCE}


def is_target(record, target):
    """Whether teardown's deletion task ``target`` acts on ``record`` (its kind and its ``where`` fields)."""
    entry = TARGETS[target]
    if record.get("kind") != entry["kind"]:
        return False
    for field, wanted in entry.get("where", {}).items():
        value = record.get(field)
        if (bool(value) is not wanted) if isinstance(wanted, bool) else value != wanted:
            return False
    return True


def targets(records, target):
    """The records deletion task ``target`` acts on, in the scanner's order. Unknown targets raise KeyError."""
    if target not in TARGETS:
        raise KeyError(f"unknown teardown target {target!r}; known: {', '.join(TARGETS)}")
    return [record for record in records if is_target(record, target)]
