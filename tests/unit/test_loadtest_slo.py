"""SLO targets (preflight validation), the gate's verdicts and its violation table."""

import json

import pytest

from ansible_collections.gpu_e2e.platform.plugins.filter import loadtest as flt
from ansible_collections.gpu_e2e.platform.plugins.module_utils import loadtest_slo as slo
from ansible_collections.gpu_e2e.platform.plugins.module_utils import loadtest_summary as summary

CLIENT = {"latency_ms": {"p95": 31.0}, "error_rate_pct": 0.5, "rps": 60.1, "success_rps": 59.8}


@pytest.mark.parametrize("value", [0, 0.001, "0.001", 250, "250", "1e3", 100])
def test_valid_targets_pass_preflight(value):
    assert slo.target_problem("slo_p95_ms", value) is None


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("slo_p95_ms", -1, "slo_p95_ms must not be negative, got -1"),
        ("slo_p95_ms", "-0.5", "must not be negative"),
        ("slo_p95_ms", "abc", "slo_p95_ms must be a non-negative number, got 'abc'"),
        ("slo_min_throughput_rps", "", "must be a non-negative number"),
        ("slo_min_throughput_rps", None, "must be a non-negative number"),
        ("slo_error_rate_pct", True, "must be a non-negative number"),
        ("slo_error_rate_pct", 150, "percentage and must be <= 100"),
        ("slo_p95_ms", "nan", "must be a non-negative number"),
    ],
)
def test_invalid_targets_are_rejected_in_one_line(name, value, message):
    problem = slo.target_problem(name, value)
    assert message in problem and "\n" not in problem


def test_filter_lists_every_problem():
    assert flt.loadtest_slo_problems({"slo_p95_ms": -1, "slo_error_rate_pct": "x", "slo_min_throughput_rps": 1}) == [
        "slo_p95_ms must not be negative, got -1",
        "slo_error_rate_pct must be a non-negative number, got 'x'",
    ]


def test_generous_targets_pass():
    results = slo.evaluate(CLIENT, {"p95_ms": 1000, "error_rate_pct": 1, "min_throughput_rps": 5})
    assert [r["passed"] for r in results] == [True, True, True]


def test_impossible_targets_fail_with_target_and_measured():
    results = slo.evaluate(CLIENT, {"p95_ms": 0.001, "error_rate_pct": 0, "min_throughput_rps": 1000})
    failed = {r["slo"]: r for r in results if not r["passed"]}
    assert set(failed) == {"slo_p95_ms", "slo_error_rate_pct", "slo_min_throughput_rps"}
    assert failed["slo_p95_ms"]["target"] == 0.001 and failed["slo_p95_ms"]["measured"] == 31.0
    assert failed["slo_min_throughput_rps"]["comparison"] == ">="


def test_boundaries_are_inclusive_and_no_data_fails():
    assert all(r["passed"] for r in slo.evaluate(CLIENT, {"p95_ms": 31.0, "min_throughput_rps": 59.8}))
    no_data = slo.evaluate({"latency_ms": {"p95": None}, "error_rate_pct": None, "success_rps": 0.0}, {"p95_ms": 100})
    assert no_data[0]["passed"] is False


def test_unset_targets_are_not_judged():
    assert [r["slo"] for r in slo.evaluate(CLIENT, {"p95_ms": 100})] == ["slo_p95_ms"]


def test_violation_table_is_small_and_aligned():
    lines = slo.violation_table([
        {"scenario": "smoke", "kpi": "P95 latency (ms)", "comparison": "<=", "target": 0.001, "measured": 31.0},
        {"scenario": "spike", "kpi": "throughput (successful req/s)", "comparison": ">=", "target": 1000.0,
         "measured": 59.8},
    ])
    assert lines[0].split() == ["scenario", "KPI", "target", "measured"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert "<= 0.001" in lines[2] and lines[2].endswith("31")
    assert ">= 1,000" in lines[3] and lines[3].endswith("59.8")
    assert len({line.index("KPI") if "KPI" in line else None for line in lines[:1]}) == 1


def write(tmp_path, name, violations):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"scenario": name, "client": {"latency_ms": {"p95": 31}, "rps": 60},
                                "server": {"queue_ms_avg": 0.1}, "slo": {"passed": not violations,
                                                                         "violations": violations}}))
    return str(path)


def test_summary_gate_passes_when_no_scenario_violates(tmp_path):
    doc = summary.combine([write(tmp_path, "smoke", []), write(tmp_path, "spike", [])], enforce=True)
    assert doc["slo"]["passed"] is True and doc["slo"]["table"] == []
    assert doc["headline"]["smoke"]["p95_ms"] == 31 and doc["headline"]["smoke"]["server_queue_ms_avg"] == 0.1
    assert list(doc["scenarios"]) == ["smoke", "spike"]


def test_summary_gate_fails_with_the_table_of_every_scenario(tmp_path):
    violation = {"scenario": "spike", "slo": "slo_p95_ms", "kpi": "P95 latency (ms)", "comparison": "<=",
                 "target": 0.001, "measured": 31, "passed": False}
    doc = summary.combine([write(tmp_path, "smoke", []), write(tmp_path, "spike", [violation])], enforce=False)
    assert doc["slo"]["passed"] is False and doc["slo"]["enforced"] is False
    assert doc["slo"]["table"][2].startswith("spike")


def test_failed_requests_are_no_throughput():
    client = {"latency_ms": {"p95": 4.0}, "error_rate_pct": 100.0, "rps": 32.5, "success_rps": 0.0}
    results = {r["slo"]: r for r in slo.evaluate(client, {"min_throughput_rps": 5})}
    assert results["slo_min_throughput_rps"]["passed"] is False
