"""The serving benchmark runs end to end and reports what it measured (its figures are not judged here)."""
from __future__ import annotations

import json
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
