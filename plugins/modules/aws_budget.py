#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: aws_budget
short_description: Manage an AWS Budgets cost budget with an email billing alarm
version_added: 0.1.0
description:
  - Creates, updates or deletes a monthly (or daily, quarterly, yearly) COST budget in AWS Budgets with a fixed
    limit in USD and one email notification when the actual spend exceeds O(threshold_pct) percent of the limit.
  - The module owns the budget named O(name). It keeps exactly one notification on it (ACTUAL spend
    GREATER_THAN O(threshold_pct) PERCENTAGE) with exactly one EMAIL subscriber, O(email); other notifications
    of that budget, for example the one of a previous threshold, are removed. A notification whose subscribers
    differ is deleted and created again.
  - Changes to the limit, time unit or tag filters are made in place (UpdateBudget), which keeps the budget's
    history. Cost types and other settings the module does not manage are kept.
  - The account id comes from STS GetCallerIdentity. AWS Budgets is a global service; its endpoint does not
    depend on O(region).
author:
  - gpu_e2e platform team (@gpu-e2e)
options:
  name:
    description: Name of the budget (1-100 characters, no C(:) or C(\)).
    type: str
    required: true
  limit_usd:
    description: Budget limit in USD per O(time_unit), rounded to cents. Must be greater than 0.
    type: float
    default: 5
  threshold_pct:
    description: The alarm fires when the actual spend exceeds this percentage of O(limit_usd).
    type: float
    default: 80
  email:
    description:
      - Email address notified by the alarm. AWS sends no confirmation email for budget subscribers.
      - Required when O(state=present).
    type: str
  cost_filters_tags:
    description:
      - "Count only the costs of resources carrying these tags, for example C({stack: gpu-e2e}), which becomes
        the cost filter C(TagKeyValue=user:stack$gpu-e2e)."
      - The tags must be activated as cost allocation tags in the Billing console, or the budget sees no cost.
      - Omit it (or pass an empty dict) to budget the whole account; existing tag filters are then removed.
    type: dict
  time_unit:
    description: The period the limit applies to.
    type: str
    choices: [DAILY, MONTHLY, QUARTERLY, ANNUALLY]
    default: MONTHLY
  state:
    description: Whether the budget should exist.
    type: str
    choices: [present, absent]
    default: present
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
    details: "Before and after of the budget's managed fields and its alarm."
  platform:
    platforms: posix
notes:
  - "IAM actions: budgets:ViewBudget and budgets:ModifyBudget on the budget
    (C(arn:aws:budgets::<account>:budget/<name>)), and sts:GetCallerIdentity."
"""

EXAMPLES = r"""
- name: Ensure a $5 monthly budget that emails at 80 % of it, for the stack's tagged resources.
  gpu_e2e.platform.aws_budget:
    name: gpu-e2e-monthly
    limit_usd: 5
    threshold_pct: 80
    email: platform-team@example.com
    cost_filters_tags:
      stack: gpu-e2e

- name: Remove the budget.
  gpu_e2e.platform.aws_budget:
    name: gpu-e2e-monthly
    state: absent
"""

RETURN = r"""
budget:
  description: The budget after the task (what it would be, in check mode). Empty when O(state=absent).
  returned: always
  type: dict
  contains:
    name:
      description: Name of the budget.
      type: str
      sample: gpu-e2e-monthly
    limit_usd:
      description: Limit in USD per time unit.
      type: float
      sample: 5.0
    threshold_pct:
      description: Percentage of the limit above which the alarm emails.
      type: float
      sample: 80.0
    email:
      description: The email subscriber of the alarm.
      type: str
      sample: platform-team@example.com
    time_unit:
      description: The period of the limit.
      type: str
      sample: MONTHLY
    cost_filters_tags:
      description: The tag filters of the budget.
      type: dict
      sample: {"stack": "gpu-e2e"}
  sample:
    name: gpu-e2e-monthly
    limit_usd: 5.0
    threshold_pct: 80.0
    email: platform-team@example.com
    time_unit: MONTHLY
    cost_filters_tags: {"stack": "gpu-e2e"}
actions:
  description: What the task did (or would do in check mode), one sentence per API change.
  returned: always
  type: list
  elements: str
  sample: ["update budget gpu-e2e-monthly (limit_usd)"]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_budget import TIME_UNITS
from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_budget import AwsBudgetError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_budget import ensure
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import exit_result


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            limit_usd=dict(type="float", default=5),
            threshold_pct=dict(type="float", default=80),
            email=dict(type="str"),
            cost_filters_tags=dict(type="dict"),
            time_unit=dict(type="str", choices=list(TIME_UNITS), default="MONTHLY"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        required_if=[("state", "present", ["email"])],
        supports_check_mode=True,
    )

    def client(service):
        return module.client(service, retry_decorator=AWSRetry.jittered_backoff())

    try:
        result = ensure(client, module.params, module.check_mode)
    except AwsBudgetError as exc:
        module.fail_json_aws_error(exc)
    exit_result(module, **result)


if __name__ == "__main__":
    main()
