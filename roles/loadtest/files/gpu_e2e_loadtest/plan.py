"""Read a stage plan (built by the role's `loadtest_plan` filter) and step through it.

    {"scenario": "spike", "shape": "spike", "stages": [
        {"name": "baseline", "users": 2, "spawn_rate": 2, "until_s": 10, "measure_from_s": 0}, ...]}

`until_s` ends the stage, counted from the start of the test; `measure_from_s`
is where the stage's statistics start (a sweep step settles before it counts).
"""

from __future__ import annotations

import json


class PlanError(ValueError):
    """The --plan given to the locustfile is unusable."""


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
