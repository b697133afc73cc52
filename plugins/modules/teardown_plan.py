#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: teardown_plan
short_description: Record what a teardown would delete, in its deletion order, with the ownership evidence
version_added: 1.1.0
description:
  - Builds the plan of a teardown from the records of one M(gpu_e2e.platform.stack_leftovers_info) scan,
    the inventory the teardown's deletion tasks act on, and writes it to the run directory as
    C(teardown-plan.json), or C(teardown-plan-<UTC timestamp>.json) when the run directory already holds a
    plan, so an earlier plan is never replaced. The file is written atomically.
  - A record is planned exactly when a deletion task of one of O(steps) would act on it (the same targets the
    tasks loop over, C(gpu_e2e.platform.teardown_targets)), in the order those tasks run. Each entry gives the
    order, the step, the resource type, its id and name, the region, and the ownership evidence (the exact
    stack tag, or the id recorded by a run of the stack).
  - Records no deletion task acts on are returned in RV(plan.not_deleted) with the reason.
  - Talks to no AWS API; it only writes a local file.
author:
  - gpu_e2e platform team (@gpu-e2e)
options:
  records:
    description: The RV(gpu_e2e.platform.stack_leftovers_info#module:leftovers) of the scan.
    type: list
    elements: dict
    required: true
  kept:
    description: Records kept on purpose (the scan's RV(gpu_e2e.platform.stack_leftovers_info#module:ignored)).
    type: list
    elements: dict
    default: []
  untagged:
    description: The scan's untagged resources in the stack's VPCs, recorded for information.
    type: list
    elements: dict
    default: []
  steps:
    description: The teardown's deletion steps, in the order they run (C(teardown__steps)).
    type: list
    elements: str
    required: true
  run_dir:
    description: The run directory the plan is written to (created if missing).
    type: path
    required: true
  stack_name:
    description: The stack the plan is for.
    type: str
    required: true
  aws_region:
    description: The region the plan is for.
    type: str
    required: true
  platform_target:
    description: The profile the plan is for.
    type: str
    choices: [local, aws]
    required: true
attributes:
  check_mode:
    support: full
    details: "Builds the plan and writes nothing."
  diff_mode:
    support: full
    details: "The plan file the task writes (a new file each time)."
  platform:
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
notes:
  - The teardown's dry run (C(--check)) runs this task with C(check_mode=false), so that the plan is written while
    nothing is deleted.
"""

EXAMPLES = r"""
- name: Record what the teardown would delete.
  gpu_e2e.platform.teardown_plan:
    records: "{{ scan.leftovers }}"
    kept: "{{ scan.ignored }}"
    steps: [eks, network, storage, logs, budget]
    run_dir: "{{ run_dir }}"
    stack_name: gpu-e2e
    aws_region: us-east-1
    platform_target: local
  check_mode: false
"""

RETURN = r"""
path:
  description: The file the plan was (or, in check mode, would be) written to.
  returned: always
  type: str
  sample: runs/gpu-e2e/20261203T050000Z/teardown-plan.json
lines:
  description: One line per planned deletion, in order, for people.
  returned: always
  type: list
  elements: str
  sample: ["6. eks/cluster gpu-e2e (us-east-1) - stack-tag: tagged stack=gpu-e2e [eks: community.aws.eks_cluster]"]
other_lines:
  description: One line per record of the scan that is not deleted (and why), or kept on purpose.
  returned: always
  type: list
  elements: str
  sample: ["NOT DELETED ec2/instance i-0abc (us-east-1) - stack-tag: tagged stack=gpu-e2e: goes with its node group"]
plan:
  description: The plan as written.
  returned: always
  type: dict
  contains:
    count:
      description: Number of planned deletions.
      type: int
      sample: 14
    steps:
      description: The steps, in order.
      type: list
      elements: str
      sample: [eks, network, storage, logs, budget]
    resources:
      description:
        - The planned deletions in deletion order. Each has C(order) (1 first), C(step), C(target) (the deletion
          task), C(module), C(kind), C(id), C(name), C(region), C(state) and C(evidence) (C(by), C(detail)).
      type: list
      elements: dict
      sample: []
    not_deleted:
      description: Records of the scan that no deletion task acts on, each with its C(reason).
      type: list
      elements: dict
      sample: []
    kept:
      description: Records kept on purpose, each with its C(reason).
      type: list
      elements: dict
      sample: []
  sample: {}
"""

import datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import exit_result
from ansible_collections.gpu_e2e.platform.plugins.module_utils.teardown_plan import TeardownPlanError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.teardown_plan import record_plan


def main():
    module = AnsibleModule(
        argument_spec=dict(
            records=dict(type="list", elements="dict", required=True),
            kept=dict(type="list", elements="dict", default=[]),
            untagged=dict(type="list", elements="dict", default=[]),
            steps=dict(type="list", elements="str", required=True),
            run_dir=dict(type="path", required=True),
            stack_name=dict(type="str", required=True),
            aws_region=dict(type="str", required=True),
            platform_target=dict(type="str", required=True, choices=["local", "aws"]),
        ),
        supports_check_mode=True,
    )
    now = datetime.datetime.now(datetime.timezone.utc)
    try:
        result = record_plan(module.params, now, check_mode=module.check_mode)
    except TeardownPlanError as exc:
        module.fail_json(msg=str(exc))
    exit_result(module, **result)


if __name__ == "__main__":
    main()
