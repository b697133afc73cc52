#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: spot_capacity_info
short_description: Spot prices, offerings and G/VT vCPU quotas for a GPU node group (read-only)
version_added: 0.1.0
description:
  - Reads the current spot price of each instance type in each availability zone (the newest entry of the spot
    price history), where each type is offered, its vCPUs and GPUs, and the spot and on-demand G and VT vCPU quotas from
    Service Quotas.
  - When Service Quotas does not answer (for example C(NoSuchResourceException) on the local emulator), the quota
    is reported with C(checked=false) and the reason, and the module goes on.
  - Evaluates the findings against O(max_price) and O(max_size) and returns the problems as sentences, for the
    caller to stop on. The module itself never fails because of a problem and never reports changed.
  - EKS managed node groups cannot cap the spot price; a cap has to be enforced before the node group exists, which
    is what this check is for. Any AZ above the cap counts, because capacity-optimized allocation may launch there.
  - Every type is checked in every AZ. A type over the cap, without a price, or not offered in some AZ is dropped
    and named in RV(dropped); RV(usable_instance_types) is what is left. Only when nothing is left, or a type has no
    NVIDIA GPU (RV(not_gpu), from C(DescribeInstanceTypes)), is that a problem.
author:
  - gpu_e2e platform team (@gpu-e2e)
options:
  instance_types:
    description: Instance types of the node group.
    type: list
    elements: str
    required: true
  availability_zones:
    description: AZ names to check (the node group's subnets' AZs). Empty checks every AZ where a type is offered.
    type: list
    elements: str
    default: []
  lookback_hours:
    description: How far back to read the spot price history; the newest entry per type and AZ is the current price.
    type: int
    default: 3
  product_descriptions:
    description: Spot price product descriptions to read.
    type: list
    elements: str
    default: [Linux/UNIX]
  check_quota:
    description: Read the spot and on-demand G and VT vCPU quotas (only for G and VT instance types).
    type: bool
    default: true
  max_price:
    description: Spot price cap in USD per hour. A type whose current price is above it in any AZ is dropped. Omit for
      no cap.
    type: float
  max_size:
    description: Maximum size of the node group, to compare the vCPUs it may need with the quota.
    type: int
    default: 1
  capacity_type:
    description: The capacity the node group would use; decides which quota (and whether prices) are evaluated.
    type: str
    choices: [spot, on_demand]
    default: spot
  cluster_name:
    description: With O(nodegroup_name), also report whether that node group already exists.
    type: str
  nodegroup_name:
    description: Name of the node group to look up in O(cluster_name).
    type: str
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
notes:
  - "IAM actions: ec2:DescribeSpotPriceHistory, ec2:DescribeInstanceTypes, ec2:DescribeInstanceTypeOfferings,
    servicequotas:GetServiceQuota, eks:DescribeNodegroup."
"""

EXAMPLES = r"""
- name: Check spot prices and quota before the GPU node group is created.
  gpu_e2e.platform.spot_capacity_info:
    instance_types: [g4dn.xlarge, g5.xlarge, g6.xlarge]
    availability_zones: [us-east-1a, us-east-1b]
    max_price: 0.30
    max_size: 2
  register: spot

- name: Stop when spot capacity is too expensive or not allowed.
  ansible.builtin.assert:
    that: spot.problems | length == 0
    fail_msg: "{{ spot.problems | join('; ') }}"
"""

RETURN = r"""
region:
  description: The region read.
  returned: always
  type: str
  sample: us-east-1
instance_types:
  description: The instance types checked.
  returned: always
  type: list
  elements: str
  sample: [g4dn.xlarge]
availability_zones:
  description: The AZs checked.
  returned: always
  type: list
  elements: str
  sample: [us-east-1a, us-east-1b]
prices:
  description: The current spot price per instance type and AZ.
  returned: always
  type: list
  elements: dict
  sample: [{"instance_type": "g4dn.xlarge", "availability_zone": "us-east-1a", "price": 0.2104,
            "timestamp": "2026-11-01T12:00:00+00:00"}]
offered:
  description: AZs where each instance type is offered.
  returned: always
  type: dict
  sample: {"g4dn.xlarge": ["us-east-1a", "us-east-1b"]}
instance_vcpus:
  description: Default vCPUs of each instance type.
  returned: always
  type: dict
  sample: {"g4dn.xlarge": 4}
instance_gpus:
  description: The GPUs of each instance type, as C(DescribeInstanceTypes) lists them in C(GpuInfo.Gpus); empty for a
    type without a GPU.
  returned: always
  type: dict
  sample: {"g4dn.xlarge": [{"Name": "T4", "Manufacturer": "NVIDIA", "Count": 1}]}
not_gpu:
  description: The instance types without an NVIDIA GPU. A GPU node group cannot use them; RV(problems) names them.
  returned: always
  type: list
  elements: str
  sample: ["m5.large"]
dropped:
  description: The instance types left out of the node group, each with the reason (over O(max_price) in some AZ,
    no spot price, not offered in some AZ). Only when none is left is that one of the RV(problems).
  returned: always
  type: dict
  sample: {"g5.xlarge": "g5.xlarge spot price above the cap of $0.3000/h in 1 of 2 AZs (g5.xlarge us-east-1a
           $0.4124/h, g5.xlarge us-east-1b $0.2900/h)"}
usable_instance_types:
  description: The instance types that passed, in the order given; the node group's instance types.
  returned: always
  type: list
  elements: str
  sample: ["g4dn.xlarge", "g6.xlarge"]
quotas:
  description: G and VT vCPU quotas, keyed C(spot) and C(on_demand); C(checked=false) with a C(reason) when
    Service Quotas did not answer. Empty when O(check_quota=false) or no G/VT type is checked.
  returned: always
  type: dict
  sample: {"spot": {"code": "L-3819A6DF", "name": "All G and VT Spot Instance Requests", "checked": false,
                    "reason": "NoSuchResourceException: not available in the current Region"}}
nodegroup:
  description: Whether the node group exists, and its capacity type and status.
  returned: when O(cluster_name) and O(nodegroup_name) are given
  type: dict
  sample: {"exists": true, "capacity_type": "SPOT", "status": "ACTIVE", "instance_types": ["g4dn.xlarge"]}
problems:
  description: Why the node group should not be created as requested, one sentence each; empty when it may.
  returned: always
  type: list
  elements: str
  sample: ["spot price above the cap of $0.1000/h in 2 of 2 type/AZ pairs; prices seen: g4dn.xlarge us-east-1a
           $0.2104/h, g4dn.xlarge us-east-1b $0.2104/h"]
summary:
  description: Human-readable lines of prices and quota status.
  returned: always
  type: list
  elements: str
  sample: ["g4dn.xlarge: spot $0.2104/h-$0.2104/h across 2 AZ(s), on-demand $0.5260/h, cap $0.3000/h"]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.gpu_e2e.platform.plugins.module_utils.spot_capacity_info import SpotCapacityError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.spot_capacity_info import evaluate
from ansible_collections.gpu_e2e.platform.plugins.module_utils.spot_capacity_info import gather
from ansible_collections.gpu_e2e.platform.plugins.module_utils.spot_capacity_info import non_gpu_types
from ansible_collections.gpu_e2e.platform.plugins.module_utils.spot_capacity_info import screen
from ansible_collections.gpu_e2e.platform.plugins.module_utils.spot_capacity_info import summary


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            instance_types=dict(type="list", elements="str", required=True),
            availability_zones=dict(type="list", elements="str", default=[]),
            lookback_hours=dict(type="int", default=3),
            product_descriptions=dict(type="list", elements="str", default=["Linux/UNIX"]),
            check_quota=dict(type="bool", default=True),
            max_price=dict(type="float"),
            max_size=dict(type="int", default=1),
            capacity_type=dict(type="str", choices=["spot", "on_demand"], default="spot"),
            cluster_name=dict(type="str"),
            nodegroup_name=dict(type="str"),
        ),
        required_together=[("cluster_name", "nodegroup_name")],
        supports_check_mode=True,
    )

    def client(service):
        return module.client(service, retry_decorator=AWSRetry.jittered_backoff())

    try:
        report = gather(client, module.params, module.region)
    except SpotCapacityError as exc:
        module.fail_json_aws_error(exc)
    report["not_gpu"] = non_gpu_types(report)
    dropped, usable = screen(report, module.params["max_price"], module.params["capacity_type"])
    report["dropped"] = dropped
    report["usable_instance_types"] = [] if report["not_gpu"] else usable
    report["problems"] = evaluate(report, module.params["max_price"], module.params["max_size"],
                                  module.params["capacity_type"])
    report["summary"] = summary(report, module.params["max_price"])
    module.exit_json(changed=False, **report)


if __name__ == "__main__":
    main()
