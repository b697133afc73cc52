# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load test filters: a scenario's stage plan, and SLO target problems for preflight.

Why filters: both are pure functions of inventory values; the plan logic lives
in module_utils/loadtest_plan.py so it is unit-tested once.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_plan import PlanError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_plan import build_plan
from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_plan import plan_duration
from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_slo import target_problems


def loadtest_plan(params, scenario, shape):
    """Stage plan of a scenario: `{{ params | gpu_e2e.platform.loadtest_plan('spike', 'spike') }}`."""
    try:
        plan = build_plan(scenario, shape, dict(params))
    except (PlanError, KeyError) as exc:
        raise AnsibleFilterError(f"scenario {scenario}: {exc}") from exc
    plan["duration_s"] = plan_duration(plan)
    return plan


def loadtest_slo_problems(targets):
    """One line per invalid SLO target (negative or not a number); empty when all are valid."""
    return target_problems(dict(targets))


class FilterModule:
    """Load test filters."""

    def filters(self):
        return {"loadtest_plan": loadtest_plan, "loadtest_slo_problems": loadtest_slo_problems}
