"""Stage plans of the scenarios (module_utils/loadtest_plan.py, the loadtest_plan filter) and how the
locustfile steps through them (roles/loadtest/files/gpu_e2e_loadtest/plan.py)."""

import json

import pytest

from ansible_collections.gpu_e2e.platform.plugins.filter import loadtest as flt
from ansible_collections.gpu_e2e.platform.plugins.module_utils import loadtest_plan as mu
from gpu_e2e_loadtest import plan as runner_plan


def test_steady_is_one_stage_for_the_whole_duration():
    plan = mu.build_plan("smoke", "steady", {"users": "2", "duration_s": "20"})
    assert plan["stages"] == [
        {"name": "steady", "users": 2, "spawn_rate": 2.0, "until_s": 20.0, "measure_from_s": 0.0}
    ]
    assert mu.plan_duration(plan) == 20.0


def test_spike_ramps_fast_holds_and_drops_back():
    stages = mu.spike(base_users=1, peak_users=9, base_s=5, ramp_s=2, hold_s=10, tail_s=5)
    assert [s["name"] for s in stages] == ["baseline", "peak", "drop"]
    assert [s["users"] for s in stages] == [1, 9, 1]
    assert stages[1]["spawn_rate"] == 4.0  # (9 - 1) users in 2 s
    assert [s["until_s"] for s in stages] == [5.0, 17.0, 22.0]
    assert stages[1]["measure_from_s"] == 7.0  # the peak is measured after the ramp


def test_sweep_steps_concurrency_and_skips_the_settle_time():
    stages = mu.sweep([1, 2, 4], step_s=10, settle_s=3)
    assert [(s["name"], s["users"], s["until_s"], s["measure_from_s"]) for s in stages] == [
        ("c1", 1, 10.0, 3.0),
        ("c2", 2, 20.0, 13.0),
        ("c4", 4, 30.0, 23.0),
    ]


@pytest.mark.parametrize(
    "shape, params, message",
    [
        ("spike", {"base_users": 4, "peak_users": 4, "base_s": 1, "ramp_s": 1, "hold_s": 1, "tail_s": 1},
         "greater than base_users"),
        ("sweep", {"users": [4, 2], "step_s": 10}, "strictly increasing"),
        ("sweep", {"users": [1, 2], "step_s": 10, "settle_s": 10}, "shorter than step_s"),
        ("steady", {"users": -1, "duration_s": 10}, "users must be > 0"),
        ("steady", {"users": 2.5, "duration_s": 10}, "whole number"),
        ("steady", {"users": 2, "duration_s": "abc"}, "must be a number"),
        ("ramp", {}, "unknown shape"),
    ],
)
def test_invalid_parameters_are_rejected_with_a_reason(shape, params, message):
    with pytest.raises(mu.PlanError, match=message):
        mu.build_plan("x", shape, params)


def test_filter_adds_the_duration_and_names_the_scenario_on_error():
    plan = flt.loadtest_plan({"users": [1, 2], "step_s": 5, "settle_s": 1}, "sweep", "sweep")
    assert plan["duration_s"] == 10.0
    with pytest.raises(Exception, match="scenario sweep: .*strictly increasing"):
        flt.loadtest_plan({"users": [2, 1], "step_s": 5}, "sweep", "sweep")


def test_the_locustfile_reads_the_plan_and_finds_the_stage_at_a_time():
    plan = runner_plan.load_plan(json.dumps(mu.build_plan("spike", "spike", {
        "base_users": 1, "peak_users": 3, "base_s": 2, "ramp_s": 1, "hold_s": 2, "tail_s": 2})))
    assert runner_plan.stage_at(plan, 0)[1]["name"] == "baseline"
    assert runner_plan.stage_at(plan, 2.5)[1]["name"] == "peak"
    assert runner_plan.stage_at(plan, 6.9)[1]["name"] == "drop"
    assert runner_plan.stage_at(plan, 7.0) is None  # over: the shape stops the test


@pytest.mark.parametrize("text", ["not json", "{}", '{"stages": [{"name": "a"}]}',
                                  '{"stages": [{"name": "a", "users": 1, "spawn_rate": 1, "until_s": 5},'
                                  ' {"name": "b", "users": 1, "spawn_rate": 1, "until_s": 5}]}'])
def test_the_locustfile_rejects_a_broken_plan(text):
    with pytest.raises(runner_plan.PlanError):
        runner_plan.load_plan(text)
