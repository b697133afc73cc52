#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: evidence
short_description: Render a document of the evidence pack from a run directory
version_added: 0.1.0
description:
  - Renders one Markdown document from the files of a run directory (C(kpis.json), C(smoke.json), C(events.json),
    plots, C(cost.json), C(leftovers.json), C(aws/*.json)) and writes it only when its content changed.
  - "O(document=report): C(report.md), Problem, Architecture (Mermaid), Run, KPIs with SLO verdicts and plots,
    Cost, Teardown. O(document=cost_audit): the spend of the run (GPU hours, spot savings, total, NAT hours, cost
    per 1M inferences, leftover result, how to activate cost allocation tags). O(document=case_study): one page.
    O(document=post): a short write-up with the headline numbers and one plot."
  - A missing input is said in the document (for example a run where the load test did not run), never guessed.
  - Local-profile documents say plainly that AWS was emulated, the model weights are random and the figures are
    CPU figures.
author:
  - gpu_e2e platform team (@gpu-e2e)
options:
  document:
    description: Which document to render.
    type: str
    required: true
    choices: [report, cost_audit, case_study, post]
  run_dir:
    description: The run directory.
    type: path
    required: true
  dest:
    description: The Markdown file to write.
    type: path
    required: true
  platform_target:
    description: C(local) or C(aws); read from the run's records when not given.
    type: str
  stack_name:
    description: The stack; the run directory's parent name when not given.
    type: str
  plot_dest:
    description: For O(document=post), where to copy the chosen plot (the post links to the copy).
    type: path
attributes:
  check_mode:
    support: full
    details: "Renders the document and compares it with the file, writing nothing."
  diff_mode:
    support: full
    details: "The document's text before and after; the copied plot as SHA-256 and size."
  platform:
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
"""

EXAMPLES = r"""
- name: Write the run's report.
  gpu_e2e.platform.evidence:
    document: report
    run_dir: "{{ run_dir }}"
    dest: "{{ run_dir }}/report.md"
    platform_target: "{{ platform_target }}"
    stack_name: "{{ stack_name }}"
"""

RETURN = r"""
dest:
  description: The file written.
  returned: always
  type: str
  sample: runs/gpu-e2e/20261122T080000Z/report.md
missing:
  description: Inputs the run directory did not have (the document says so).
  returned: always
  type: list
  elements: str
  sample: ["cost", "leftovers"]
plot:
  description: The plot copied for O(document=post), or null.
  returned: always
  type: str
  sample: docs/assets/post-throughput.png
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import exit_result
from ansible_collections.gpu_e2e.platform.plugins.module_utils.evidence import EvidenceError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.evidence import write_document


def main():
    module = AnsibleModule(
        argument_spec=dict(
            document=dict(type="str", required=True, choices=["report", "cost_audit", "case_study", "post"]),
            run_dir=dict(type="path", required=True),
            dest=dict(type="path", required=True),
            platform_target=dict(type="str"),
            stack_name=dict(type="str"),
            plot_dest=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    try:
        result = write_document(module.params, check_mode=module.check_mode)
    except (EvidenceError, OSError) as exc:
        module.fail_json(msg=str(exc))
    exit_result(module, **result)


if __name__ == "__main__":
    main()
