#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: stack_leftovers_info
short_description: List everything of a stack that still exists in an AWS region
version_added: 0.1.0
description:
  - Read-only. Combines per-service look-ups with the Resource Groups Tagging API (resources tagged
    C(stack=<stack_name>)) and returns every leftover of the stack in the module's region as a record that
    teardown acts on (kind, id, region, ownership evidence, state, delete order), with an estimate of what it
    costs per day.
  - "Per-service look-ups: EKS (clusters and node groups, first), EC2 (instances, volumes incl. those of the EBS
    CSI driver, ENIs in the stack's VPCs incl. VPC CNI ones, Elastic IPs, NAT gateways not in state deleted, VPCs,
    subnets, internet gateways, route tables, security groups incl. the load balancer controller's, launch
    templates), ELBv2 (load balancers and target groups), classic ELB, IAM (roles, customer managed policies,
    OIDC providers), ECR repositories, S3 buckets, CloudWatch log groups, AWS Budgets."
  - "Ownership is exact: the tag C(stack=<stack_name>), an id, ARN or name recorded by a run of the stack
    (O(recorded_ids), O(recorded_files)), or a controller tag (C(kubernetes.io/cluster/<cluster>=owned),
    C(elbv2.k8s.aws/cluster), C(eks:cluster-name), C(cluster.k8s.amazonaws.com/name)) naming a cluster that is
    itself proven to be the stack's. A name prefix is never evidence: budgets count only when a budget record
    names them, log groups only when tagged or under C(/aws/eks/<stack cluster>/) or
    C(/aws/containerinsights/<stack cluster>/)."
  - An untagged look-alike (same name, same VPC) is never a leftover; untagged resources inside the stack's VPCs
    are returned separately in RV(untagged_in_stack_vpcs), for information.
  - "Cost estimates use a documented table of us-east-1 list prices (see RV(prices)): NAT gateway $0.045/h,
    public IPv4 $0.005/h, EKS control plane $0.10/h, ALB/NLB $0.0225/h, g4dn.xlarge on-demand $0.526/h,
    EBS gp3 $0.08/GB-month, ECR $0.10/GB-month, CloudWatch Logs $0.03/GB-month. Data transfer and capacity
    units are not included."
author:
  - gpu_e2e platform team (@gpu-e2e)
options:
  stack_name:
    description: Value of the C(stack) tag that marks the stack's resources.
    type: str
    required: true
  cluster_name:
    description: Name of the stack's EKS cluster. Defaults to O(stack_name).
    type: str
  name_prefix:
    description:
      - Prefix that narrows the listing of IAM roles, IAM policies and S3 buckets. Defaults to O(stack_name).
      - Never evidence; roles, policies and buckets with this prefix are leftovers only when tagged or recorded.
    type: str
  recorded_ids:
    description:
      - Ids, ARNs or names recorded in the run directory. A resource named here counts as the stack's even
        when its tags were removed.
    type: list
    elements: str
    default: []
  recorded_files:
    description:
      - JSON files or glob patterns of run records (for example C(runs/gpu-e2e/*/aws/*.json)); every EC2 id
        (C(vpc-...), C(nat-...), ...) and ARN found in them is added to O(recorded_ids), and the C(name) of a
        C(budget*.json) record names the stack's budget. Missing files are skipped; files that cannot be read
        are listed in RV(records_unreadable).
    type: list
    elements: path
    default: []
  ignore:
    description:
      - Leftover kinds, as C(service/type), to return in RV(ignored) instead of RV(leftovers),
        for example C(budgets/budget) when the billing alarm is kept on purpose.
    type: list
    elements: str
    default: []
  services:
    description:
      - Limit the scan to these look-ups (C(tagging) is the Resource Groups Tagging API), for example
        C([elbv2]) while waiting for the load balancer controller to delete its load balancers.
      - The default scans everything.
    type: list
    elements: str
    choices: [eks, ec2, elbv2, elb, iam, ecr, s3, logs, budgets, tagging]
    default: [eks, ec2, elbv2, elb, iam, ecr, s3, logs, budgets, tagging]
  prices:
    description:
      - Overrides of the price table, merged section by section (C(hourly), C(gb_month), C(on_demand_hourly),
        C(spot_hourly), C(spot_fraction_of_on_demand)).
    type: dict
    default: {}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: "Read-only; runs in check mode as usual."
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: List what is left of the stack.
  gpu_e2e.platform.stack_leftovers_info:
    stack_name: gpu-e2e
    cluster_name: gpu-e2e
  register: leftovers

- name: Keep the billing alarm out of the verdict.
  gpu_e2e.platform.stack_leftovers_info:
    stack_name: gpu-e2e
    ignore: [budgets/budget]
    recorded_files: ["{{ run_dir }}/aws/vpc.json"]
"""

RETURN = r"""
leftovers:
  description: Every resource of the stack that still exists, sorted by service, type and id.
  returned: always
  type: list
  elements: dict
  contains:
    service:
      description: AWS service, as in ARNs.
      type: str
      sample: ec2
    type:
      description: Resource type, as in ARNs.
      type: str
      sample: natgateway
    kind:
      description: C(service/type); what teardown selects on.
      type: str
      sample: ec2/natgateway
    region:
      description: The region the resource is in (the module's region).
      type: str
      sample: us-east-1
    evidence:
      description:
        - Why it is the stack's. C(by) is one of C(stack-tag), C(recorded-id), C(cluster-tag), C(stack-cluster);
          C(detail) says which tag, record or cluster.
      type: dict
      sample: {"by": "stack-tag", "detail": "tagged stack=gpu-e2e"}
    state:
      description: The resource's state as AWS reports it, if it has one.
      type: str
      sample: available
    order:
      description: Delete order (lower goes first), from the stack inventory.
      type: int
      sample: 40
    id:
      description: Id, name or ARN of the resource.
      type: str
      sample: nat-0123456789abcdef0
    name:
      description: Name tag or name of the resource.
      type: str
      sample: gpu-e2e-nat
    reason:
      description: The evidence and state as one line, for people; teardown never selects on it.
      type: str
      sample: tagged stack=gpu-e2e; state available
    est_usd_per_day:
      description: Estimated cost per day in USD, null when unknown.
      type: float
      sample: 1.08
    cost_basis:
      description: How the estimate was made.
      type: str
      sample: NAT gateway $0.045/h (data processing extra)
  sample: []
count:
  description: Number of leftovers.
  returned: always
  type: int
  sample: 0
est_usd_per_day_total:
  description: Sum of the known per-day estimates.
  returned: always
  type: float
  sample: 0.0
cost_unknown_count:
  description: Number of leftovers whose cost could not be estimated.
  returned: always
  type: int
  sample: 0
ignored:
  description: Leftovers of the types named in O(ignore), same shape as RV(leftovers).
  returned: always
  type: list
  elements: dict
  sample: []
untagged_in_stack_vpcs:
  description:
    - Resources without the stack's tags found inside the stack's VPCs, or named like the stack's.
      Not the stack's; teardown never deletes them. For information.
  returned: always
  type: list
  elements: dict
  sample: []
region:
  description: The region scanned.
  returned: always
  type: str
  sample: us-east-1
stack_clusters:
  description: EKS clusters proven to be the stack's (tag or recorded ARN), whose controller tags counted.
  returned: always
  type: list
  elements: str
  sample: []
records_unreadable:
  description: Run records that exist but could not be read; when not empty, what the stack is made of is unknown.
  returned: always
  type: list
  elements: str
  sample: []
stack_vpc_ids:
  description: The stack's VPCs that still exist.
  returned: always
  type: list
  elements: str
  sample: []
prices:
  description: The price table the estimates used.
  returned: always
  type: dict
  sample: {"hourly": {"nat_gateway": 0.045}}
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.gpu_e2e.platform.plugins.module_utils.stack_leftovers import SERVICES
from ansible_collections.gpu_e2e.platform.plugins.module_utils.stack_leftovers import StackLeftoversError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.stack_leftovers import scan


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            stack_name=dict(type="str", required=True),
            cluster_name=dict(type="str"),
            name_prefix=dict(type="str"),
            recorded_ids=dict(type="list", elements="str", default=[]),
            recorded_files=dict(type="list", elements="path", default=[]),
            ignore=dict(type="list", elements="str", default=[]),
            services=dict(type="list", elements="str", default=list(SERVICES), choices=list(SERVICES)),
            prices=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )

    def client(service):
        return module.client(service, retry_decorator=AWSRetry.jittered_backoff())

    try:
        result = scan(client, module.params, region=module.region)
    except StackLeftoversError as exc:
        module.fail_json_aws_error(exc)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
