#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cost_timeline_info
short_description: Read the billable timeline of a run from its run directory
version_added: 0.1.0
description:
  - Read-only, no AWS calls. Derives the run's time window and what existed during it (NAT gateway, public IPv4,
    EKS control plane, GPU nodes with their capacity type, load balancers) from the records the stages wrote
    in C(<run_dir>/aws/*.json).
  - The window starts at the run directory's name (its UTC stamp) and ends when the leftover check ran
    (C(leftovers.json) C(checked_at)), at O(end), or now.
  - A record's C(created_at) field, or else its modification time, marks when its resources came into being.
  - The result feeds M(gpu_e2e.platform.cost_explorer_info) (O(gpu_e2e.platform.cost_explorer_info#module:timeline)).
    Seeding the local emulator's Cost Explorer is M(gpu_e2e.platform.emulator_cost_explorer_seed)'s job.
author:
  - gpu_e2e platform team (@gpu-e2e)
options:
  run_dir:
    description: The run directory, C(runs/<stack>/<UTC stamp>).
    type: path
    required: true
  end:
    description: End of the window (ISO 8601). Defaults to the leftover check's time, or now.
    type: str
  extra:
    description:
      - Extra timeline entries appended to those read from the records. Keys C(resource) (one of C(instance),
        C(nat_gateway), C(public_ipv4), C(eks_cluster), C(alb), C(nlb)), C(instance_type), C(capacity)
        (C(spot) or C(on_demand)), C(count), C(start), C(end), C(usd_per_hour), C(source).
    type: list
    elements: dict
    default: []
  prices:
    description: Overrides of the price table (see M(gpu_e2e.platform.stack_leftovers_info)).
    type: dict
    default: {}
extends_documentation_fragment:
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
- name: Read the timeline of the newest run.
  gpu_e2e.platform.cost_timeline_info:
    run_dir: "{{ run_dir }}"
  register: timeline
"""

RETURN = r"""
window:
  description: The run's window (ISO 8601 UTC) and how it was found.
  returned: always
  type: dict
  sample: {"start": "2026-11-22T08:00:00Z", "end": "2026-11-22T08:40:00Z", "how": "run directory name → leftover check"}
timeline:
  description: Normalized timeline entries, clipped to the window.
  returned: always
  type: list
  elements: dict
  sample: [{"resource": "nat_gateway", "count": 1, "start": "2026-11-22T08:01:00Z", "end": "2026-11-22T08:40:00Z"}]
records:
  description: The records of the run directory that contributed entries.
  returned: always
  type: list
  elements: str
  sample: ["aws/vpc.json"]
estimated:
  description: The timeline priced with the fallback table (the audit re-prices it with the Pricing API).
  returned: always
  type: dict
  sample: {"total_usd": 0.12}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpu_e2e.platform.plugins.module_utils import aws_prices
from ansible_collections.gpu_e2e.platform.plugins.module_utils.cost_explorer import CostExplorerError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.cost_explorer import estimate
from ansible_collections.gpu_e2e.platform.plugins.module_utils.cost_timeline import timeline_from_run_dir


def main():
    module = AnsibleModule(
        argument_spec=dict(
            run_dir=dict(type="path", required=True),
            end=dict(type="str"),
            extra=dict(type="list", elements="dict", default=[]),
            prices=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        found = timeline_from_run_dir(params["run_dir"], params["end"], params["extra"])
        prices = aws_prices.merged_table(params["prices"])
        result = {
            "window": found["window"],
            "timeline": found["timeline"],
            "records": found["records"],
            "estimated": estimate(found["entries"], prices),
        }
    except CostExplorerError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
