"""The load test modules end to end on fixture files (args through patch_module_args), the
progress line and the progress callback."""

import json
import os
import shutil
import time
import types

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.gpu_e2e.platform.plugins.callback import loadtest_progress as callback
from ansible_collections.gpu_e2e.platform.plugins.module_utils import loadtest_progress as progress
from ansible_collections.gpu_e2e.platform.plugins.modules import loadtest_kpis as kpis_module
from ansible_collections.gpu_e2e.platform.plugins.modules import loadtest_plots as plots_module
from ansible_collections.gpu_e2e.platform.plugins.modules import loadtest_progress_info as progress_module
from ansible_collections.gpu_e2e.platform.plugins.modules import loadtest_summary as summary_module

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "loadtest")
T0 = 1767225600


def run(module, args, capsys, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def scenario(tmp_path):
    for name in ("killed_stats.csv", "killed_stats_history.csv", "killed_failures.csv"):
        shutil.copy(os.path.join(FIXTURES, name), tmp_path / name.replace("killed", "locust"))
    return tmp_path


def kpis_args(directory, **extra):
    args = {
        "scenario": "smoke", "csv_prefix": str(directory / "locust"), "start": T0, "end": T0 + 10,
        "dest": str(directory / "kpis.json"), "model": "mobilenetv2",
        "metrics_before": os.path.join(FIXTURES, "metrics_before.txt"),
        "metrics_after": os.path.join(FIXTURES, "metrics_after.txt"),
        "slo_targets": {"p95_ms": "1000", "error_rate_pct": 1, "min_throughput_rps": ""},
    }
    args.update(extra)
    return args


def test_kpis_module_writes_the_document_and_returns_the_violations(scenario, capsys):
    out = run(kpis_module, kpis_args(scenario), capsys)
    assert out["changed"] is True
    assert [v["slo"] for v in out["slo_violations"]] == ["slo_error_rate_pct"]
    assert out["slo_passed"] is False and out["error_spikes"]
    written = json.loads((scenario / "kpis.json").read_text())
    assert written["slo"]["targets"] == {"p95_ms": 1000.0, "error_rate_pct": 1.0}  # '' is not judged
    assert written["server"]["compute_infer_ms_avg"] == 4.0


def test_kpis_module_check_mode_writes_nothing_and_bad_targets_fail(scenario, capsys):
    out = run(kpis_module, kpis_args(scenario), capsys, check_mode=True)
    assert out["changed"] is True and not (scenario / "kpis.json").exists()
    out = run(kpis_module, kpis_args(scenario, slo_targets={"p95_ms": "fast"}), capsys)
    assert out["failed"] is True and "slo_targets.p95_ms must be a number" in out["msg"]


def test_kpis_module_fails_clearly_without_locust_results(tmp_path, capsys):
    out = run(kpis_module, kpis_args(tmp_path), capsys)
    assert out["failed"] is True and "Locust wrote no results" in out["msg"]


def test_plots_and_summary_modules(scenario, capsys):
    run(kpis_module, kpis_args(scenario), capsys)
    out = run(plots_module, {"kpis_file": str(scenario / "kpis.json"), "csv_prefix": str(scenario / "locust"),
                             "dest_dir": str(scenario), "label": "test"}, capsys)
    assert set(out["plots"]) == {"latency", "throughput"} and "utilisation" in out["skipped"]
    for path in out["plots"].values():
        with open(path, "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    assert json.loads((scenario / "kpis.json").read_text())["plots"] == out["plots"]
    out = run(summary_module, {"kpis_files": [str(scenario / "kpis.json")], "dest": str(scenario / "run.json")},
              capsys)
    assert out["slo_passed"] is False and out["table"][2].startswith("smoke")
    assert json.loads((scenario / "run.json").read_text())["scenarios"]["smoke"]["scenario"] == "smoke"


def test_progress_module_reports_a_line_and_never_changes(scenario, capsys):
    out = run(progress_module, {"scenario": "smoke", "csv_prefix": str(scenario / "locust"), "pids": [os.getpid()],
                                "planned_s": 10}, capsys)
    assert out["changed"] is False and out["running"] is True and out["finished"] is False
    assert out["requests"] == 460 and out["failures"] == 160
    assert "[loadtest smoke]" in out["line"] and "errors 160 (34.78%) of 460" in out["line"]


def test_progress_line_before_any_request_and_after_the_end(tmp_path):
    early = progress.progress("spike", str(tmp_path / "none"), pids=[], planned_s=22, now=time.time())
    assert early["finished"] is True and early["line"] == "[loadtest spike] starting/0:22 | no requests yet | finished"
    late = progress.progress("smoke", os.path.join(FIXTURES, "killed"), pids=[], planned_s=10, now=T0 + 75)
    assert late["elapsed_s"] == 75 and late["line"].startswith("[loadtest smoke] 1:15/0:10 | users 2 | 40.0 req/s")


def test_a_dead_or_missing_pid_is_not_running():
    assert progress.pid_running(os.getpid()) is True
    assert progress.pid_running(None) is False
    assert progress.pid_running(2 ** 22 + 12345) is False


class Display:
    def __init__(self):
        self.lines = []

    def display(self, msg, color=None):
        self.lines.append(msg)


def test_callback_prints_the_line_of_the_progress_module_only():
    plugin = callback.CallbackModule()
    plugin._display = Display()
    ours = types.SimpleNamespace(task=types.SimpleNamespace(resolved_action="gpu_e2e.platform.loadtest_progress_info"),
                                 result={"line": "[loadtest smoke] 0:05 | ..."})
    other = types.SimpleNamespace(task=types.SimpleNamespace(resolved_action="ansible.builtin.uri"),
                                  result={"line": "not ours"})
    plugin.v2_runner_retry(ours)
    plugin.v2_runner_retry(other)
    plugin.v2_runner_on_ok(ours)
    assert plugin._display.lines == ["[loadtest smoke] 0:05 | ...", "[loadtest smoke] 0:05 | ..."]


@pytest.mark.parametrize("stdout_callback, prints", [
    ("default", True), ("ansible.builtin.default", True), ("minimal", True), ("community.general.dense", True),
    ("json", False), ("ansible.posix.json", False), ("ansible.posix.jsonl", False), ("my_site.custom", False),
])
def test_callback_prints_only_beside_a_human_stdout_callback(monkeypatch, stdout_callback, prints):
    """With a machine-readable stdout callback the progress lines would break its document (stdout
    must stay one JSON document under ANSIBLE_STDOUT_CALLBACK=json). Fails if the check is removed."""
    monkeypatch.setattr(callback.C, "DEFAULT_STDOUT_CALLBACK", stdout_callback)
    plugin = callback.CallbackModule()
    plugin._display = Display()
    ours = types.SimpleNamespace(task=types.SimpleNamespace(resolved_action="gpu_e2e.platform.loadtest_progress_info"),
                                 result={"line": "[loadtest smoke] 0:05 | ..."})
    plugin.v2_runner_retry(ours)
    plugin.v2_runner_on_ok(ours)
    assert bool(plugin._display.lines) is prints
