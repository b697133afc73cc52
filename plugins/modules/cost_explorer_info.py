#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cost_explorer_info
short_description: Audit a stack's spend with Cost Explorer, with billing-lag awareness
version_added: 0.1.0
description:
  - Read-only. Queries Cost Explorer (C(get_cost_and_usage), DAILY, grouped by service and usage type) for the
    resources carrying the stack's cost allocation tags (O(tags), e.g. C(project) and C(stack)) during the run's
    window, and reports the total unblended cost, the cost by service, GPU instance hours (spot and on-demand,
    from the C(BoxUsage)/C(SpotUsage) usage types of GPU instance families), NAT gateway hours and the spot
    savings (on-demand price x spot hours - spot cost).
  - The on-demand price comes from the Pricing API (C(get_products) in us-east-1), with a documented fallback
    table when the Pricing API fails (the local emulator answers 500).
  - "Two views: RV(estimated), the recorded run timeline (O(timeline)) x prices, available at once; and RV(billed),
    from Cost Explorer, flagged C(complete: false) while the window ended less than O(lag_hours) ago."
  - Tag filters only match after the tags are activated as cost allocation tags (Billing console, Cost allocation
    tags, or C(aws ce update-cost-allocation-tags-status)); RV(cost_allocation_tags) reports their status when
    it can be read.
  - Each Cost Explorer request is billed by AWS (USD 0.01 per request); one audit makes one or two.
author:
  - gpu_e2e platform team (@gpu-e2e)
options:
  tags:
    description:
      - "Cost allocation tags that select the stack's costs, e.g. C({stack: gpu-e2e, project: gpu-e2e-platform})."
    type: dict
    required: true
  start:
    description: Start of the run's window (ISO 8601, or a run directory stamp C(20261122T080000Z)).
    type: str
    required: true
  end:
    description: End of the window (ISO 8601). Defaults to now.
    type: str
  timeline:
    description:
      - What existed during the run, for RV(estimated), as returned by M(gpu_e2e.platform.cost_timeline_info).
        Keys C(resource) (one of C(instance), C(nat_gateway), C(public_ipv4), C(eks_cluster), C(alb), C(nlb)),
        C(instance_type), C(capacity) (C(spot) or C(on_demand)), C(count), C(start), C(end), C(usd_per_hour),
        C(version) (of an C(eks_cluster); a version on extended support is priced higher), C(source).
    type: list
    elements: dict
    default: []
  lag_hours:
    description: Hours Cost Explorer trails usage; RV(billed) is incomplete until the window ended this long ago.
    type: int
    default: 24
  use_pricing_api:
    description: Ask the Pricing API for on-demand prices (else use the fallback table only).
    type: bool
    default: true
  check_cost_allocation_tags:
    description: Report whether the tags in O(tags) are active cost allocation tags.
    type: bool
    default: true
  prices:
    description: Overrides of the fallback price table (see M(gpu_e2e.platform.stack_leftovers_info)).
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
- name: Audit the run's spend.
  gpu_e2e.platform.cost_explorer_info:
    tags:
      stack: gpu-e2e
      project: gpu-e2e-platform
    start: "{{ timeline.window.start }}"
    end: "{{ timeline.window.end }}"
    timeline: "{{ timeline.timeline }}"
  register: cost
"""

RETURN = r"""
window:
  description: The window (ISO 8601 UTC), its length, and the whole days Cost Explorer was asked for.
  returned: always
  type: dict
  sample: {"start": "2026-11-22T08:00:00Z", "end": "2026-11-22T09:00:00Z", "hours": 1.0,
           "ce_start": "2026-11-22", "ce_end": "2026-11-23"}
filter:
  description: The Cost Explorer filter expression used.
  returned: always
  type: dict
  sample: {"Tags": {"Key": "stack", "Values": ["gpu-e2e"], "MatchOptions": ["EQUALS"]}}
estimated:
  description: The timeline x prices.
  returned: always
  type: dict
  contains:
    total_usd:
      description: Estimated total.
      type: float
    items:
      description: One line per timeline entry (hours, price, cost).
      type: list
      elements: dict
    gpu_hours:
      description: GPU instance hours, C(spot), C(on_demand) and C(total).
      type: dict
    nat_gateway_hours:
      description: NAT gateway hours.
      type: float
    spot_savings_usd:
      description: On-demand price x spot hours - spot price x spot hours.
      type: float
  sample: {"total_usd": 0.42}
billed:
  description: What Cost Explorer reports, with the billing-lag verdict.
  returned: always
  type: dict
  contains:
    total_usd:
      description: Total unblended cost.
      type: float
    by_service:
      description: Unblended cost per service.
      type: dict
    gpu_hours:
      description: GPU instance hours from usage types, C(spot), C(on_demand) and C(total).
      type: dict
    nat_gateway_hours:
      description: Hours of the C(NatGateway-Hours) usage types.
      type: float
    spot_savings_usd:
      description: On-demand price x spot hours - spot cost, over GPU instance types.
      type: float
    complete:
      description: Whether the window ended more than O(lag_hours) ago.
      type: bool
    note:
      description: The lag verdict in words.
      type: str
  sample: {"total_usd": 0.42, "complete": false}
on_demand_prices:
  description: On-demand USD per hour of each instance type involved, with its source (Pricing API or fallback table).
  returned: always
  type: dict
  sample: {"g4dn.xlarge": {"usd_per_hour": 0.526, "source": "fallback table"}}
cost_allocation_tags:
  description: Status of each tag key of O(tags) as a cost allocation tag (empty when not checked).
  returned: always
  type: dict
  sample: {"stack": "Active"}
checked_at:
  description: When the audit ran (ISO 8601 UTC).
  returned: always
  type: str
  sample: "2026-11-22T09:05:00Z"
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.gpu_e2e.platform.plugins.module_utils.cost_explorer import CostExplorerError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.cost_explorer import audit


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            tags=dict(type="dict", required=True),
            start=dict(type="str", required=True),
            end=dict(type="str"),
            timeline=dict(type="list", elements="dict", default=[]),
            lag_hours=dict(type="int", default=24),
            use_pricing_api=dict(type="bool", default=True),
            check_cost_allocation_tags=dict(type="bool", default=True),
            prices=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )

    def client(service, region=None):
        extra = {"region": region} if region else {}
        return module.client(service, retry_decorator=AWSRetry.jittered_backoff(), **extra)

    params = dict(module.params, region=module.region)
    try:
        result = audit(client, params)
    except CostExplorerError as exc:
        module.fail_json_aws_error(exc)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
