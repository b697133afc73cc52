#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_cluster_config
short_description: Create an EKS cluster closed from birth, and keep its endpoint access and logging
version_added: 0.1.0
description:
  - When the cluster does not exist and O(role_arn) and O(subnets) are given, creates it with C(CreateCluster)
    carrying the endpoint access and the logging, so the endpoint is never open wider than O(public_access_cidrs)
    (C(community.aws.eks_cluster) creates clusters with AWS's default, public from C(0.0.0.0/0)), and waits until it
    is ACTIVE.
  - Converges the API endpoint access (private, public and the CIDRs allowed to reach the public endpoint) and the
    control-plane log types of an existing EKS cluster, which C(community.aws.eks_cluster) cannot set.
  - Uses C(UpdateClusterConfig). EKS runs one update at a time, so each update is polled with C(DescribeUpdate)
    until it succeeds, bounded by O(wait_timeout), before the next one is sent.
  - Settings missing from the cluster's description are read as AWS's defaults (private access off, public access
    on from C(0.0.0.0/0), no logs), so a re-run reports no change.
author:
  - gpu_e2e platform team (@gpu-e2e)
options:
  name:
    description: Name of the EKS cluster. Without O(role_arn) and O(subnets) it must exist.
    type: str
    required: true
  role_arn:
    description: IAM role of the control plane, to create the cluster when it does not exist.
    type: str
  version:
    description: Kubernetes version of a cluster this module creates (an existing cluster's version is not changed).
    type: str
  subnets:
    description: Subnet IDs of a cluster this module creates.
    type: list
    elements: str
  security_groups:
    description: Additional security group IDs of a cluster this module creates.
    type: list
    elements: str
    default: []
  tags:
    description: Tags of a cluster this module creates (set in the create call).
    type: dict
  endpoint_private_access:
    description: Whether the API endpoint is reachable from inside the VPC.
    type: bool
    default: true
  endpoint_public_access:
    description: Whether the API endpoint is reachable from the internet (from O(public_access_cidrs) only).
    type: bool
    default: true
  public_access_cidrs:
    description:
      - IPv4 CIDRs allowed to reach the public endpoint. Ignored when O(endpoint_public_access=false).
      - C(0.0.0.0/0) opens the endpoint to the internet (still behind IAM authentication).
    type: list
    elements: str
    default: [0.0.0.0/0]
  logging_types:
    description:
      - Control-plane log types sent to CloudWatch Logs (group C(/aws/eks/<name>/cluster)); the others are turned
        off. An empty list turns every type off. Omit to leave logging unchanged.
    type: list
    elements: str
    choices: [api, audit, authenticator, controllerManager, scheduler]
  wait_timeout:
    description: Seconds to wait in total for the cluster to be ACTIVE and for the updates to finish.
    type: int
    default: 1800
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: "Endpoint access and control-plane logging before and after (everything, for a new cluster)."
  platform:
    platforms: posix
notes:
  - "IAM actions: eks:DescribeCluster, eks:CreateCluster (and iam:PassRole on O(role_arn)), eks:TagResource,
    eks:UpdateClusterConfig, eks:DescribeUpdate."
"""

EXAMPLES = r"""
- name: Create the cluster with private access and public access from one address only.
  gpu_e2e.platform.eks_cluster_config:
    name: gpu-e2e
    role_arn: arn:aws:iam::123456789012:role/gpu-e2e-eks-cluster
    version: "1.33"
    subnets: [subnet-0a, subnet-0b]
    public_access_cidrs: [203.0.113.10/32]
    logging_types: [api, audit, authenticator]
    tags: {stack: gpu-e2e}

- name: Keep the API endpoint private, and public only from the office.
  gpu_e2e.platform.eks_cluster_config:
    name: gpu-e2e
    endpoint_private_access: true
    endpoint_public_access: true
    public_access_cidrs: [203.0.113.0/24]
    logging_types: [api, audit, authenticator]
"""

RETURN = r"""
cluster:
  description: The endpoint access and logging of the cluster after the task (what they would be, in check mode).
  returned: always
  type: dict
  contains:
    name:
      description: Name of the cluster.
      type: str
      sample: gpu-e2e
    endpoint_private_access:
      description: Whether the endpoint is reachable from the VPC.
      type: bool
      sample: true
    endpoint_public_access:
      description: Whether the endpoint is reachable from the internet.
      type: bool
      sample: true
    public_access_cidrs:
      description: CIDRs allowed to reach the public endpoint.
      type: list
      elements: str
      sample: [203.0.113.0/24]
    logging_types:
      description: The enabled control-plane log types.
      type: list
      elements: str
      sample: [api, audit]
    status:
      description: Status of the cluster.
      type: str
      sample: ACTIVE
    arn:
      description: ARN of the cluster (null in check mode before creation).
      type: str
      sample: arn:aws:eks:us-east-1:123456789012:cluster/gpu-e2e
    version:
      description: Kubernetes version of the cluster.
      type: str
      sample: "1.33"
    endpoint:
      description: URL of the API endpoint.
      type: str
      sample: https://ABC.gr7.us-east-1.eks.amazonaws.com
actions:
  description: What the task did (or would do in check mode).
  returned: always
  type: list
  elements: str
  sample: ["set control-plane logging of gpu-e2e to api, audit"]
updates:
  description: Ids of the EKS updates that were run.
  returned: always
  type: list
  elements: str
  sample: [b5f0ba18-9a87-4450-b5a0-825e6e84496f]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import exit_result
from ansible_collections.gpu_e2e.platform.plugins.module_utils.eks_cluster_config import LOG_TYPES
from ansible_collections.gpu_e2e.platform.plugins.module_utils.eks_cluster_config import EksClusterConfigError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.eks_cluster_config import ensure


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            role_arn=dict(type="str"),
            version=dict(type="str"),
            subnets=dict(type="list", elements="str"),
            security_groups=dict(type="list", elements="str", default=[]),
            tags=dict(type="dict"),
            endpoint_private_access=dict(type="bool", default=True),
            endpoint_public_access=dict(type="bool", default=True),
            public_access_cidrs=dict(type="list", elements="str", default=["0.0.0.0/0"]),
            logging_types=dict(type="list", elements="str", choices=list(LOG_TYPES)),
            wait_timeout=dict(type="int", default=1800),
        ),
        supports_check_mode=True,
    )
    client = module.client("eks", retry_decorator=AWSRetry.jittered_backoff())
    try:
        result = ensure(client, module.params, module.check_mode)
    except EksClusterConfigError as exc:
        module.fail_json_aws_error(exc)
    exit_result(module, **result)


if __name__ == "__main__":
    main()
