# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage plans of the load test scenarios: every scenario is a list of stages (users, spawn rate, end time).

One plan format drives every scenario through one LoadTestShape, locally, as a
master with workers, or in Kubernetes:

    {"scenario": "spike", "stages": [
        {"name": "baseline", "users": 2, "spawn_rate": 2, "until_s": 10, "measure_from_s": 0},
        ...]}

`until_s` is the end of the stage counted from the start of the test;
`measure_from_s` is where the stage's statistics start (a sweep step lets the
new users settle before it is measured).

The one copy of the plan logic, on both sides of the load test: the role's
`loadtest_plan` filter builds plans with it on the controller, and the
locustfile reads and steps through them with it (`load_plan`, `stage_at`) as
`gpu_e2e_loadtest.plan`. That name is a symbolic link,
roles/loadtest/files/gpu_e2e_loadtest/plan.py -> this file: the load generator
(a local Locust, or the in-cluster one, whose ConfigMap the role fills with the
file's content) imports the package stand-alone, so this module imports nothing
but the standard library. The file lives here rather than in the role because
module_utils must be a real file for ansible-test sanity and for the modules
and filters that import it, while a file under a role's files/ may be a link;
tests/unit/test_single_source.py fails if a second copy appears.
"""

from __future__ import annotations

import json

SHAPES = ("steady", "spike", "sweep")


class PlanError(ValueError):
    """A scenario's parameters, or a plan given to the locustfile (--plan), do not make a valid plan."""


def _positive(name, value, allow_zero=False):
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise PlanError(f"{name} must be a number, got {value!r}") from exc
    if number < 0 or (number == 0 and not allow_zero):
        raise PlanError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return number


def _users(name, value):
    number = _positive(name, value)
    if int(number) != number:
        raise PlanError(f"{name} must be a whole number of users, got {value!r}")
    return int(number)


def steady(users, duration_s, spawn_rate=None):
    """Constant concurrency for a duration (smoke, soak)."""
    users = _users("users", users)
    duration_s = _positive("duration_s", duration_s)
    rate = _positive("spawn_rate", spawn_rate) if spawn_rate else float(users)
    return [{"name": "steady", "users": users, "spawn_rate": rate, "until_s": duration_s, "measure_from_s": 0.0}]


def spike(base_users, peak_users, base_s, ramp_s, hold_s, tail_s):
    """Baseline, a fast ramp to the peak, a hold at the peak, then a drop back to the baseline."""
    base = _users("base_users", base_users)
    peak = _users("peak_users", peak_users)
    if peak <= base:
        raise PlanError(f"peak_users ({peak}) must be greater than base_users ({base})")
    base_s = _positive("base_s", base_s)
    ramp_s = _positive("ramp_s", ramp_s)
    hold_s = _positive("hold_s", hold_s)
    tail_s = _positive("tail_s", tail_s)
    ramp_rate = (peak - base) / ramp_s
    t_base = base_s
    t_peak = t_base + ramp_s + hold_s
    t_end = t_peak + tail_s
    return [
        {"name": "baseline", "users": base, "spawn_rate": float(base), "until_s": t_base, "measure_from_s": 0.0},
        # The ramp belongs to the peak stage: it is measured from the end of the ramp.
        {"name": "peak", "users": peak, "spawn_rate": ramp_rate, "until_s": t_peak, "measure_from_s": t_base + ramp_s},
        # Dropping users is immediate (the rate only bounds how fast they stop).
        {"name": "drop", "users": base, "spawn_rate": float(peak), "until_s": t_end, "measure_from_s": t_peak},
    ]


def sweep(users_steps, step_s, settle_s=None):
    """Stepped concurrency in the manner of perf_analyzer's concurrency sweep."""
    if not users_steps:
        raise PlanError("a sweep needs at least one concurrency step")
    steps = [_users("sweep users", u) for u in users_steps]
    if steps != sorted(set(steps)):
        raise PlanError(f"sweep users must be strictly increasing, got {list(users_steps)}")
    step_s = _positive("step_s", step_s)
    settle = step_s / 4.0 if settle_s is None else _positive("settle_s", settle_s, allow_zero=True)
    if settle >= step_s:
        raise PlanError(f"settle_s ({settle}) must be shorter than step_s ({step_s})")
    stages = []
    start = 0.0
    for users in steps:
        stages.append(
            {
                "name": f"c{users}",
                "users": users,
                # Reach the step almost at once: the settle time absorbs the spawn.
                "spawn_rate": float(max(users, 1)),
                "until_s": start + step_s,
                "measure_from_s": start + settle,
            }
        )
        start += step_s
    return stages


def build_plan(scenario, shape, params):
    """Build the plan of a scenario from its inventory parameters."""
    if shape == "steady":
        stages = steady(params["users"], params["duration_s"], params.get("spawn_rate"))
    elif shape == "spike":
        stages = spike(
            params["base_users"], params["peak_users"], params["base_s"], params["ramp_s"], params["hold_s"],
            params["tail_s"],
        )
    elif shape == "sweep":
        stages = sweep(params["users"], params["step_s"], params.get("settle_s"))
    else:
        raise PlanError(f"unknown shape {shape!r}: expected one of {', '.join(SHAPES)}")
    return {"scenario": scenario, "shape": shape, "stages": stages}


def plan_duration(plan):
    return plan["stages"][-1]["until_s"] if plan["stages"] else 0.0


def max_users(plan):
    return max((stage["users"] for stage in plan["stages"]), default=0)


def load_plan(text):
    """Parse and check a plan given as JSON text (the locustfile's --plan)."""
    try:
        plan = json.loads(text)
    except ValueError as exc:
        raise PlanError(f"--plan is not valid JSON: {exc}") from exc
    stages = plan.get("stages") if isinstance(plan, dict) else None
    if not stages:
        raise PlanError("--plan has no stages")
    previous = 0.0
    for stage in stages:
        for key in ("name", "users", "spawn_rate", "until_s"):
            if key not in stage:
                raise PlanError(f"stage {stage!r} misses {key!r}")
        if float(stage["until_s"]) <= previous:
            raise PlanError("stage end times must increase")
        stage.setdefault("measure_from_s", previous)
        previous = float(stage["until_s"])
    plan.setdefault("scenario", "custom")
    return plan


def stage_at(plan, elapsed_s):
    """(index, stage) running at `elapsed_s` seconds, or None when the plan is over."""
    for index, stage in enumerate(plan["stages"]):
        if elapsed_s < float(stage["until_s"]):
            return index, stage
    return None
