#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: emulator_cost_explorer_seed
short_description: Queue a Cost Explorer answer in the local AWS emulator that bills a run's timeline
version_added: 1.0.0
description:
  - Emulator-only (the local profile); never talks to real AWS. The embedded emulator (moto) answers Cost Explorer's
    C(get_cost_and_usage) with empty results unless answers are queued first.
  - Reads the run's billable timeline from its run directory, as M(gpu_e2e.platform.cost_timeline_info) does, and
    queues one C(get_cost_and_usage) answer (DAILY, grouped by SERVICE and USAGE_TYPE) that bills exactly that
    timeline, so M(gpu_e2e.platform.cost_explorer_info) runs its whole path against the emulator.
  - Refuses an O(emulator_url) that is not an http URL on loopback.
author:
  - gpu_e2e platform team (@gpu-e2e)
options:
  run_dir:
    description: The run directory, C(runs/<stack>/<UTC stamp>).
    type: path
    required: true
  emulator_url:
    description: Base URL of the embedded AWS emulator, on loopback (C(http://127.0.0.1:5055)).
    type: str
    required: true
  end:
    description: End of the window (ISO 8601). Defaults to the leftover check's time, or now.
    type: str
  extra:
    description:
      - Extra timeline entries, as M(gpu_e2e.platform.cost_timeline_info) takes them.
    type: list
    elements: dict
    default: []
  prices:
    description: Overrides of the price table (see M(gpu_e2e.platform.stack_leftovers_info)).
    type: dict
    default: {}
  timeout:
    description: Seconds to wait for the emulator to answer.
    type: int
    default: 10
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: "Nothing is posted; RV(ce_seed) is the answer that would be queued, and the change is reported."
  diff_mode:
    support: none
    details: "Each call queues one more answer; RV(ce_seed) is that answer."
  platform:
    platforms: posix
notes:
  - Each call queues one more answer (the emulator hands them out in order), so it always reports a change.
seealso:
  - module: gpu_e2e.platform.cost_timeline_info
  - module: gpu_e2e.platform.cost_explorer_info
"""

EXAMPLES = r"""
- name: Queue a Cost Explorer answer derived from the recorded run.
  gpu_e2e.platform.emulator_cost_explorer_seed:
    run_dir: "{{ run_dir }}"
    emulator_url: "http://127.0.0.1:5055"
"""

RETURN = r"""
url:
  description: The emulator's endpoint the answer was posted to.
  returned: always
  type: str
  sample: http://127.0.0.1:5055/moto-api/static/ce/cost-and-usage-results
window:
  description: The run's window (ISO 8601 UTC) and how it was found.
  returned: always
  type: dict
  sample: {"start": "2026-11-22T08:00:00Z", "end": "2026-11-22T08:40:00Z", "how": "run directory name → leftover check"}
ce_seed:
  description: The queued get_cost_and_usage answer (DAILY, grouped by SERVICE and USAGE_TYPE).
  returned: always
  type: dict
  sample: {"ResultsByTime": []}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

from ansible_collections.gpu_e2e.platform.plugins.module_utils.cost_explorer import CostExplorerError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.emulator_cost_explorer_seed import seed


def main():
    module = AnsibleModule(
        argument_spec=dict(
            run_dir=dict(type="path", required=True),
            emulator_url=dict(type="str", required=True),
            end=dict(type="str"),
            extra=dict(type="list", elements="dict", default=[]),
            prices=dict(type="dict", default={}),
            timeout=dict(type="int", default=10),
        ),
        supports_check_mode=True,
    )
    try:
        result = seed(module.params, open_url, check_mode=module.check_mode)
    except CostExplorerError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
