"""The serving benchmark runs end to end and reports what it measured (its figures are not judged here)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_one_short_round_reports_every_phase_and_both_goals(tmp_path):
    out = tmp_path / "bench.json"
    report = tmp_path / "benchmarks.md"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "serving_bench.py"), "--rounds", "1", "--phase-seconds", "1",
         "--concurrency", "1,4", "--json", str(out), "--output", str(report)],
        capture_output=True, text=True, timeout=300, check=False, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    data = json.loads(out.read_text())
    (only_round,) = data["rounds"]
    assert set(only_round) == {"raw_single", "served_1", "served_4", "raw_parallel"}
    assert only_round["served_1"]["errors"] == 0 and only_round["served_1"]["requests"] > 0
    assert only_round["raw_single"]["p50"] > 0 and only_round["served_1"]["p50"] > 0
    assert only_round["served_1"]["mean_batch"] == 1.0  # one client: nothing to batch
    summary = data["summary"]
    assert summary["overheads"] == [round(only_round["served_1"]["p50"] - only_round["raw_single"]["p50"], 3)]
    text = report.read_text()
    assert text.startswith("# Benchmarks") and "random weights" in text and "CPU figures" in text
    assert "P50 overhead at concurrency 1" in text and "Throughput at saturation" in text
    assert only_round["raw_parallel"]["cpu_ms_per_inference"] > 0 and only_round["served_4"]["cpu_ms_per_inference"] > 0
    assert "CPU per inference at saturation: raw onnxruntime" in text


def test_the_tuning_sweep_gives_one_row_per_setting_against_the_same_raw_reference(tmp_path):
    out = tmp_path / "sweep.json"
    report = tmp_path / "benchmarks.md"
    settings = "role default,1 instance x 2 threads"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "serving_bench.py"), "--sweep", "--sweep-settings", settings,
         "--rounds", "1", "--phase-seconds", "0.5", "--concurrency", "1,4", "--json", str(out), "--output",
         str(report)],
        capture_output=True, text=True, timeout=300, check=False, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    data = json.loads(out.read_text())
    rows = data["sweep"]
    assert [row["setting"]["label"] for row in rows] == settings.split(",")
    assert [row["config"]["instances"] for row in rows] == [2, 1]
    assert [row["config"]["intra_threads"] for row in rows] == [1, 2]
    # The throughput reference is the machine's limit, whatever the server's configuration.
    assert {row["config"]["raw_callers"] for row in rows} == {os.cpu_count()}
    for row in rows:
        (only_round,) = row["rounds"]
        assert only_round["served_4"]["errors"] == 0 and only_round["served_4"]["requests"] > 0
        assert row["summary"]["ratios"] == [
            round(only_round["served_4"]["throughput"] / only_round["raw_parallel"]["throughput"], 3)]
    text = report.read_text()
    assert "tuning sweep" in text and "| role default | 2 x 1 |" in text
    assert "| 1 instance x 2 threads | 1 x 2 |" in text
    assert "Highest ratio to raw on both cores" in text


def test_an_unknown_sweep_setting_is_refused_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "serving_bench.py"), "--sweep", "--sweep-settings", "turbo",
         "--no-write"],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )
    assert result.returncode == 2 and "unknown --sweep-settings ['turbo']" in result.stderr
