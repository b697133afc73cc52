#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_managed_nodegroup
short_description: An EKS managed node group with any AMI type, including AL2023_x86_64_NVIDIA
version_added: 0.1.0
description:
  - Creates an EKS managed node group in one C(CreateNodegroup) call with its labels, taints, scaling and tags, and
    waits until it is ACTIVE (bounded by O(wait_timeout)).
  - Exists because C(community.aws.eks_nodegroup) cannot select the AL2023 AMI types (community.aws issue 2314),
    and AWS publishes Amazon Linux 2 AMIs only up to Kubernetes 1.32.
  - On an existing node group, converges scaling, labels and taints with C(UpdateNodegroupConfig) and tags with
    C(TagResource)/C(UntagResource); a difference in what EKS cannot change in place (instance types, AMI type,
    capacity type, disk size, subnets, node role) is an error.
author:
  - gpu_e2e platform team (@gpu-e2e)
options:
  name:
    description: Name of the node group.
    type: str
    required: true
  cluster_name:
    description: Name of the EKS cluster.
    type: str
    required: true
  state:
    description: Whether the node group exists.
    type: str
    choices: [present, absent]
    default: present
  node_role:
    description: ARN of the nodes' IAM role. Required with O(state=present).
    type: str
  subnets:
    description: Subnet IDs of the nodes. Required with O(state=present).
    type: list
    elements: str
  instance_types:
    description: Instance types. Required with O(state=present).
    type: list
    elements: str
  ami_type:
    description: EKS AMI type, for example C(AL2023_x86_64_NVIDIA) or C(AL2023_x86_64_STANDARD).
    type: str
    default: AL2023_x86_64_STANDARD
  capacity_type:
    description: C(ON_DEMAND) or C(SPOT).
    type: str
    choices: [ON_DEMAND, SPOT]
    default: ON_DEMAND
  disk_size:
    description: Root volume size in GiB.
    type: int
  min_size:
    description: Minimum number of nodes.
    type: int
    default: 1
  desired_size:
    description: Desired number of nodes.
    type: int
    default: 1
  max_size:
    description: Maximum number of nodes.
    type: int
    default: 1
  max_unavailable:
    description: Nodes that may be unavailable during an update.
    type: int
    default: 1
  labels:
    description: Kubernetes labels of the nodes.
    type: dict
    default: {}
  taints:
    description: Taints (C(key), C(value), C(effect) in C(NO_SCHEDULE), C(NO_EXECUTE), C(PREFER_NO_SCHEDULE)).
    type: list
    elements: dict
    default: []
  tags:
    description: Tags of the node group, set at creation.
    type: dict
    default: {}
  purge_tags:
    description: Remove tags that are not in O(tags).
    type: bool
    default: true
  wait:
    description: Wait until the node group is ACTIVE (or deleted).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 1200
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
    details: "Scaling, labels, taints and tags before and after."
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Ensure the spot GPU node group runs the AL2023 NVIDIA AMI.
  gpu_e2e.platform.eks_managed_nodegroup:
    name: gpu-e2e-gpu
    cluster_name: gpu-e2e
    node_role: arn:aws:iam::123456789012:role/gpu-e2e-eks-node
    subnets: [subnet-0a, subnet-0b]
    instance_types: [g4dn.xlarge, g5.xlarge, g6.xlarge]
    ami_type: AL2023_x86_64_NVIDIA
    capacity_type: SPOT
    labels: {accelerator: nvidia}
    taints: [{key: gpu, value: "true", effect: NO_SCHEDULE}]
    min_size: 1
    desired_size: 1
    max_size: 2
    tags: {stack: gpu-e2e}
"""

RETURN = r"""
nodegroup:
  description: The node group as DescribeNodegroup returns it (the create request in check mode; empty when absent).
  returned: always
  type: dict
actions:
  description: What the task did (or would do in check mode).
  returned: always
  type: list
  elements: str
  sample: ["update scalingConfig of node group gpu-e2e-gpu"]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import exit_result
from ansible_collections.gpu_e2e.platform.plugins.module_utils.eks_managed_nodegroup import EksNodegroupError, ensure


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            cluster_name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            node_role=dict(type="str"),
            subnets=dict(type="list", elements="str"),
            instance_types=dict(type="list", elements="str"),
            ami_type=dict(type="str", default="AL2023_x86_64_STANDARD"),
            capacity_type=dict(type="str", choices=["ON_DEMAND", "SPOT"], default="ON_DEMAND"),
            disk_size=dict(type="int"),
            min_size=dict(type="int", default=1),
            desired_size=dict(type="int", default=1),
            max_size=dict(type="int", default=1),
            max_unavailable=dict(type="int", default=1),
            labels=dict(type="dict", default={}),
            taints=dict(type="list", elements="dict", default=[]),
            tags=dict(type="dict", default={}),
            purge_tags=dict(type="bool", default=True),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=1200),
        ),
        required_if=[("state", "present", ["node_role", "subnets", "instance_types"])],
        supports_check_mode=True,
    )
    client = module.client("eks", retry_decorator=AWSRetry.jittered_backoff())
    try:
        result = ensure(client, module.params, module.check_mode)
    except EksNodegroupError as exc:
        module.fail_json_aws_error(exc)
    exit_result(module, **result)


if __name__ == "__main__":
    main()
