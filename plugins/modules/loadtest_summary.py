#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: loadtest_summary
short_description: Combine the load test scenarios' KPIs into the run's kpis.json and the SLO gate's verdict
version_added: 0.1.0
description:
  - Reads each scenario's kpis.json (written by M(gpu_e2e.platform.loadtest_kpis)) and writes one document with
    every scenario, a headline per scenario (client and server figures side by side) and the SLO verdict.
  - Returns the SLO violations and a small fixed-width table (scenario, KPI, target, measured) that the role
    prints when it fails the play. The module itself never fails on an SLO.
author:
  - gpu_e2e platform team (@gpu-e2e)
options:
  kpis_files:
    description: The scenarios' kpis.json files, in run order.
    type: list
    elements: path
    required: true
  dest:
    description: Where to write the run's kpis.json, normally C({{ run_dir }}/kpis.json).
    type: path
    required: true
  enforce:
    description: Whether the SLO gate is enforced (recorded in the document; the role fails the play on it).
    type: bool
    default: true
  notes:
    description: Free-text notes recorded in the document.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    details: "Computes the document and compares it with O(dest), writing nothing."
  diff_mode:
    support: full
    details: "The text of O(dest) before and after."
  platform:
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
"""

EXAMPLES = r"""
- name: Combine the scenarios' KPIs.
  gpu_e2e.platform.loadtest_summary:
    kpis_files:
      - "{{ run_dir }}/loadtest/smoke/kpis.json"
      - "{{ run_dir }}/loadtest/spike/kpis.json"
    dest: "{{ run_dir }}/kpis.json"
    enforce: true
  register: summary

- name: Fail on SLO violations.
  ansible.builtin.fail:
    msg: "{{ summary.table }}"
  when: not summary.slo_passed
"""

RETURN = r"""
slo_passed:
  description: Whether no judged SLO was violated in any scenario.
  returned: always
  type: bool
  sample: false
violations:
  description: Every violated SLO with its scenario, target and measured value.
  returned: always
  type: list
  elements: dict
  sample: [{scenario: smoke, slo: slo_p95_ms, kpi: P95 latency (ms), comparison: "<=", target: 0.001, measured: 31}]
table:
  description: The violations as fixed-width lines (empty when none).
  returned: always
  type: list
  elements: str
  sample: ["scenario  KPI               target     measured", "smoke     P95 latency (ms)  <= 0.001   31"]
headline:
  description: Per scenario, the main client- and server-side figures.
  returned: always
  type: dict
  sample: {smoke: {p95_ms: 31, rps: 59.8, error_rate_pct: 0.0, server_queue_ms_avg: 0.05}}
dest:
  description: The path written.
  returned: always
  type: str
  sample: /work/main/runs/gpu-e2e/20260101T000000Z/kpis.json
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import combined
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import exit_result
from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_errors import LoadtestError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_kpis import write_json
from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_summary import combine


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kpis_files=dict(type="list", elements="path", required=True),
            dest=dict(type="path", required=True),
            enforce=dict(type="bool", default=True),
            notes=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        doc = combine(p["kpis_files"], p["enforce"], p["notes"])
        diffs = []
        changed = write_json(p["dest"], doc, check_mode=module.check_mode, diffs=diffs)
    except LoadtestError as exc:
        module.fail_json(msg=str(exc))
    exit_result(
        module,
        changed,
        diff=combined(diffs),
        slo_passed=doc["slo"]["passed"],
        violations=doc["slo"]["violations"],
        table=doc["slo"]["table"],
        headline=doc["headline"],
        dest=p["dest"],
    )


if __name__ == "__main__":
    main()
