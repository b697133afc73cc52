#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: loadtest_progress_info
short_description: Report the live progress of a Locust scenario running in the background
version_added: 0.1.0
description:
  - Reads the last Aggregated row of Locust's C(PREFIX_stats_history.csv) (elapsed time, users, current
    requests/s, current P95, failures) and whether the Locust processes still run.
  - Meant to be polled in an C(until) loop with a delay of at most 10 s; the collection's
    C(gpu_e2e.platform.loadtest_progress) callback prints RV(line) on every retry, so a running scenario
    is never silent.
author:
  - gpu_e2e platform team (@gpu-e2e)
options:
  scenario:
    description: Name of the scenario, used in RV(line).
    type: str
    required: true
  csv_prefix:
    description: The prefix given to Locust's C(--csv).
    type: path
    required: true
  pids:
    description: PIDs of the Locust processes (the single process, or the master and its workers).
    type: list
    elements: int
    default: []
  planned_s:
    description: The scenario's planned duration in seconds, shown beside the elapsed time.
    type: float
    default: 0
attributes:
  check_mode:
    support: full
    details: "Read-only; runs in check mode as usual."
  diff_mode:
    support: none
  platform:
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
notes:
  - Read-only; never reports changed.
"""

EXAMPLES = r"""
- name: Wait for the smoke scenario, printing progress every 5 s.
  gpu_e2e.platform.loadtest_progress_info:
    scenario: smoke
    csv_prefix: "{{ run_dir }}/loadtest/smoke/locust"
    pids: ["{{ locust_proc.pid }}"]
    planned_s: 30
  register: progress
  until: progress.finished
  retries: 20
  delay: 5
"""

RETURN = r"""
running:
  description: Whether any of the Locust processes still runs.
  returned: always
  type: bool
  sample: true
finished:
  description: The negation of RV(running).
  returned: always
  type: bool
  sample: false
elapsed_s:
  description: Seconds since Locust wrote its first history row, or null before that.
  returned: always
  type: float
  sample: 20.4
rps:
  description: Locust's current requests/s (failures included), or null before the first request.
  returned: always
  type: float
  sample: 81.3
p95_ms:
  description: Locust's current P95 latency (a sliding window of about 10 s), in ms.
  returned: always
  type: float
  sample: 24
requests:
  description: Requests so far.
  returned: always
  type: int
  sample: 1630
failures:
  description: Failed requests so far.
  returned: always
  type: int
  sample: 0
error_rate_pct:
  description: Failed requests so far, in % of requests.
  returned: always
  type: float
  sample: 0.0
users:
  description: Users running.
  returned: always
  type: int
  sample: 2
line:
  description: One human-readable progress line.
  returned: always
  type: str
  sample: "[loadtest smoke] 0:20/0:30 | users 2 | 81.3 req/s | P95 24 ms | errors 0 (0.00%) of 1630"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_progress import progress


def main():
    module = AnsibleModule(
        argument_spec=dict(
            scenario=dict(type="str", required=True),
            csv_prefix=dict(type="path", required=True),
            pids=dict(type="list", elements="int", default=[]),
            planned_s=dict(type="float", default=0),
        ),
        supports_check_mode=True,
    )
    p = module.params
    result = progress(p["scenario"], p["csv_prefix"], p["pids"], p["planned_s"])
    result.pop("scenario", None)
    result.pop("planned_s", None)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
