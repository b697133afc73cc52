#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: loadtest_plots
short_description: Draw a load test scenario's PNG plots from its Locust history and kpis.json
version_added: 0.1.0
description:
  - Draws C(latency.png) (P50/P95/P99 over time), C(throughput.png) (requests/s and failures/s over time),
    C(utilisation.png) (runtime CPU locally, GPU on aws, when Prometheus gave a time series) and, for a sweep,
    C(sweep.png) (throughput vs P95 per concurrency step, with the knee) into O(dest_dir).
  - Records the plot paths in the scenario's kpis.json under C(plots).
  - Locally these plots stand in for Grafana snapshots.
author:
  - gpu_e2e platform team (@gpu-e2e)
requirements:
  - matplotlib
options:
  kpis_file:
    description: The scenario's kpis.json written by M(gpu_e2e.platform.loadtest_kpis).
    type: path
    required: true
  csv_prefix:
    description: The prefix given to Locust's C(--csv).
    type: path
    required: true
  dest_dir:
    description: Directory that receives the PNG files.
    type: path
    required: true
  label:
    description: Shown in every title, for example C(local CPU runtime, random weights).
    type: str
    default: ''
attributes:
  check_mode:
    support: full
    details: "Draws the plots in memory and compares them with the files, writing nothing."
  diff_mode:
    support: full
    details: "Each PNG that changes as SHA-256 and size, and the text of O(kpis_file) before and after."
  platform:
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
"""

EXAMPLES = r"""
- name: Draw the smoke scenario's plots.
  gpu_e2e.platform.loadtest_plots:
    kpis_file: "{{ run_dir }}/loadtest/smoke/kpis.json"
    csv_prefix: "{{ run_dir }}/loadtest/smoke/locust"
    dest_dir: "{{ run_dir }}/loadtest/smoke"
    label: local CPU runtime
"""

RETURN = r"""
plots:
  description: Paths of the PNG files drawn, by kind.
  returned: always
  type: dict
  sample: {latency: /runs/x/loadtest/smoke/latency.png, throughput: /runs/x/loadtest/smoke/throughput.png}
skipped:
  description: Plots not drawn, with why.
  returned: always
  type: dict
  sample: {utilisation: "no time series without Prometheus"}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.basic import missing_required_lib

from ansible_collections.gpu_e2e.platform.plugins.module_utils import loadtest_plots
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import exit_result
from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_errors import LoadtestError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kpis_file=dict(type="path", required=True),
            csv_prefix=dict(type="path", required=True),
            dest_dir=dict(type="path", required=True),
            label=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    if not loadtest_plots.HAS_MATPLOTLIB:
        module.fail_json(msg=missing_required_lib("matplotlib"), exception=str(loadtest_plots.MATPLOTLIB_IMPORT_ERROR))
    p = module.params
    try:
        result = loadtest_plots.draw(p["kpis_file"], p["csv_prefix"], p["dest_dir"], p["label"],
                                     check_mode=module.check_mode)
    except LoadtestError as exc:
        module.fail_json(msg=str(exc))
    exit_result(module, **result)


if __name__ == "__main__":
    main()
