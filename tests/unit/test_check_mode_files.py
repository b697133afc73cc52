"""Check mode and --diff of the modules that write files (and of local_process), end to end.

Each test takes a snapshot of every file under the test's directory, runs the task in check mode
with --diff and asserts that not one byte changed, then runs it for real and asserts the same
``changed`` and the same diff, that the diff's ``after`` is what was written, and that a re-run (in
check mode or not) reports no change and returns no diff. Without a module's check-mode guard the
snapshot assertion fails; with a wrong ``changed`` or diff, the comparison with the real run fails.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args
from aws_emulator_process import free_port

from ansible_collections.gpu_e2e.platform.plugins.modules import dashboards
from ansible_collections.gpu_e2e.platform.plugins.modules import evidence
from ansible_collections.gpu_e2e.platform.plugins.modules import image_tensor
from ansible_collections.gpu_e2e.platform.plugins.modules import loadtest_kpis
from ansible_collections.gpu_e2e.platform.plugins.modules import loadtest_plots
from ansible_collections.gpu_e2e.platform.plugins.modules import loadtest_summary
from ansible_collections.gpu_e2e.platform.plugins.modules import local_process
from ansible_collections.gpu_e2e.platform.plugins.modules import run_events
from ansible_collections.gpu_e2e.platform.plugins.modules import teardown_plan

ROOT = Path(__file__).resolve().parents[2]
LOADTEST = ROOT / "tests" / "fixtures" / "loadtest"
RUN = ROOT / "tests" / "fixtures" / "run" / "gpu-e2e" / "20261122T060000Z"
T0 = 1767225600


def run(module, args, capsys, check=False, diff=False):
    args = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    result = json.loads(capsys.readouterr().out)
    assert "failed" not in result, result
    return result


def tree(root):
    """{relative path: sha256} of every file under root."""
    found = {}
    for directory, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, root)] = hashlib.sha256(handle.read()).hexdigest()
    return found


def as_list(diff):
    return diff if isinstance(diff, list) else [diff]


def preview_then_apply(module, args, capsys, root):
    """Check mode with --diff writes nothing; the real run reports the same; a re-run changes nothing."""
    before = tree(root)
    preview = run(module, args, capsys, check=True, diff=True)
    assert tree(root) == before, "check mode wrote a file"
    assert preview["changed"] is True and preview["diff"]
    applied = run(module, args, capsys, diff=True)
    assert applied["changed"] is True and applied["diff"] == preview["diff"]
    for entry in as_list(applied["diff"]):
        if not entry["after"].startswith("sha256: "):
            assert Path(entry["after_header"]).read_text(encoding="utf-8") == entry["after"]
    again = run(module, args, capsys, check=True, diff=True)
    assert again["changed"] is False and "diff" not in again
    assert run(module, args, capsys)["changed"] is False
    return preview


@pytest.fixture
def scenario(tmp_path):
    for name in ("killed_stats.csv", "killed_stats_history.csv", "killed_failures.csv"):
        shutil.copy(LOADTEST / name, tmp_path / name.replace("killed", "locust"))
    return tmp_path


def kpis_args(directory):
    return {"scenario": "smoke", "csv_prefix": str(directory / "locust"), "start": T0, "end": T0 + 10,
            "dest": str(directory / "kpis.json"), "model": "mobilenetv2",
            "metrics_before": str(LOADTEST / "metrics_before.txt"),
            "metrics_after": str(LOADTEST / "metrics_after.txt"), "slo_targets": {"p95_ms": 1000}}


def test_kpis_and_summary_are_previewed_as_the_text_they_write(scenario, capsys):
    preview = preview_then_apply(loadtest_kpis, kpis_args(scenario), capsys, scenario)
    assert preview["diff"]["before"] == "" and json.loads(preview["diff"]["after"])["scenario"] == "smoke"
    summary = {"kpis_files": [str(scenario / "kpis.json")], "dest": str(scenario / "run.json")}
    preview = preview_then_apply(loadtest_summary, summary, capsys, scenario)
    assert json.loads(preview["diff"]["after"])["scenarios"]["smoke"]["scenario"] == "smoke"

    changed = run(loadtest_kpis, dict(kpis_args(scenario), slo_targets={"p95_ms": 1}), capsys, check=True, diff=True)
    assert changed["changed"] and '"p95_ms": 1000.0' in changed["diff"]["before"]
    assert '"p95_ms": 1.0' in changed["diff"]["after"]
    assert "diff" not in run(loadtest_kpis, dict(kpis_args(scenario), slo_targets={"p95_ms": 2}), capsys, check=True)


def test_plots_in_check_mode_say_which_files_would_change(scenario, capsys):
    run(loadtest_kpis, kpis_args(scenario), capsys)
    args = {"kpis_file": str(scenario / "kpis.json"), "csv_prefix": str(scenario / "locust"),
            "dest_dir": str(scenario), "label": "test"}
    preview = preview_then_apply(loadtest_plots, args, capsys, scenario)
    headers = [entry["after_header"] for entry in preview["diff"]]
    assert headers == [str(scenario / "latency.png"), str(scenario / "throughput.png"), str(scenario / "kpis.json")]
    png = preview["diff"][0]
    assert png["before"] == "(absent)\n" and png["after"].startswith("sha256: ")
    assert f"bytes: {(scenario / 'latency.png').stat().st_size}\n" in png["after"]
    assert set(preview["plots"]) == {"latency", "throughput"}

    relabelled = run(loadtest_plots, dict(args, label="other"), capsys, check=True, diff=True)
    assert relabelled["changed"] and [e["after_header"] for e in relabelled["diff"]] == headers[:2]


def test_dashboards_are_previewed_file_by_file(tmp_path, capsys):
    args = {"dest": str(tmp_path / "dashboards"), "configmap_file": str(tmp_path / "configmaps.yaml")}
    preview = preview_then_apply(dashboards, args, capsys, tmp_path)
    assert [e["after_header"] for e in preview["diff"]][-1] == str(tmp_path / "configmaps.yaml")
    retitled = run(dashboards, dict(args, title_prefix="Other"), capsys, check=True, diff=True)
    assert retitled["changed"] and all("Other" in e["after"] for e in retitled["diff"])


def test_an_evidence_document_and_its_plot_are_previewed(tmp_path, capsys):
    run_dir = tmp_path / "runs" / "gpu-e2e" / RUN.name
    shutil.copytree(RUN, run_dir)
    docs = tmp_path / "docs"
    args = {"document": "post", "run_dir": str(run_dir), "dest": str(docs / "post.md"),
            "plot_dest": str(docs / "assets" / "post-plot.png"), "platform_target": "local", "stack_name": "gpu-e2e"}
    preview = preview_then_apply(evidence, args, capsys, tmp_path)
    plot, post = preview["diff"]
    assert plot["after_header"] == args["plot_dest"] and plot["after"].startswith("sha256: ")
    assert post["before"] == "" and "](assets/post-plot.png)" in post["after"]


def test_an_event_is_previewed_and_appended_once(tmp_path, capsys):
    args = {"events_file": str(tmp_path / "events.json"), "text": "Load Test Start: smoke", "tags": ["loadtest"],
            "time": T0 * 1000}
    before = tree(tmp_path)
    preview = run(run_events, args, capsys, check=True, diff=True)
    assert tree(tmp_path) == before and preview["changed"]
    assert preview["diff"]["before"] == {"events": 0} and preview["diff"]["after"]["events"] == 1
    assert preview["diff"]["after"]["appended"]["text"] == "Load Test Start: smoke"
    applied = run(run_events, args, capsys, diff=True)
    assert applied["changed"] and applied["diff"] == preview["diff"]
    assert run(run_events, args, capsys, check=True)["changed"] is False


def test_a_teardown_plan_is_previewed_as_the_file_it_writes(tmp_path, capsys):
    records = [{"kind": "eks/cluster", "id": "pv", "name": "", "region": "us-east-1", "state": "",
                "evidence": {"by": "stack-tag", "detail": "tagged stack=pv"}}]
    args = {"records": records, "steps": ["eks", "network", "storage", "logs", "budget"], "run_dir": str(tmp_path),
            "stack_name": "pv", "aws_region": "us-east-1", "platform_target": "local"}
    preview = run(teardown_plan, args, capsys, check=True, diff=True)
    assert tree(tmp_path) == {} and preview["changed"]
    assert preview["diff"]["after_header"] == preview["path"] == str(tmp_path / "teardown-plan.json")
    assert json.loads(preview["diff"]["after"])["resources"][0]["id"] == "pv"
    applied = run(teardown_plan, args, capsys, diff=True)
    assert Path(applied["path"]).read_text() == applied["diff"]["after"]
    # a plan is never replaced: a second plan is a new file, so the task changes something again
    assert run(teardown_plan, args, capsys, check=True)["changed"] is True


CONFIG = """name: "m"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  {
    name: "input"
    data_type: TYPE_FP32
    dims: [ 3, 16, 16 ]
  }
]
output [
  {
    name: "output"
    data_type: TYPE_FP32
    dims: [ 10 ]
  }
]
parameters [
  { key: "image_color_order" value: { string_value: "RGB" } },
  { key: "image_layout" value: { string_value: "NCHW" } },
  { key: "image_resize_short_side" value: { string_value: "18" } },
  { key: "image_crop_size" value: { string_value: "16" } },
  { key: "image_resize_filter" value: { string_value: "bilinear" } },
  { key: "image_mean" value: { string_value: "127,127,127" } },
  { key: "image_std" value: { string_value: "128,128,128" } }
]
"""


def test_a_payload_tensor_is_previewed_as_its_digest(tmp_path, capsys):
    repository = tmp_path / "repo"
    (repository / "m").mkdir(parents=True)
    (repository / "m" / "config.pbtxt").write_text(CONFIG)
    dest = tmp_path / "input.bin"
    args = {"model_repository": str(repository), "model_name": "m", "dest": str(dest)}
    preview = preview_then_apply(image_tensor, args, capsys, tmp_path)
    digest = hashlib.sha256(dest.read_bytes()).hexdigest()
    assert preview["diff"] == {"before_header": str(dest), "after_header": str(dest), "before": "(absent)\n",
                               "after": f"sha256: {digest}\nbytes: {3 * 16 * 16 * 4}\n"}


def test_a_process_start_and_stop_are_previewed(tmp_path, capsys):
    port = free_port()
    args = {"name": "http-check", "command": [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
            "pid_file": str(tmp_path / "http.pid"), "log_file": str(tmp_path / "http.log"), "chdir": str(tmp_path),
            "ready_url": f"http://127.0.0.1:{port}/", "ready_timeout": 20, "stop_timeout": 5}
    preview = run(local_process, args, capsys, check=True, diff=True)
    assert tree(tmp_path) == {} and preview["changed"]
    assert preview["diff"] == {"before": {"running": False, "pid": None}, "after": {"running": True, "pid": "new"}}
    started = run(local_process, args, capsys, diff=True)
    try:
        assert started["changed"] and started["diff"]["after"] == {"running": True, "pid": started["pid"]}
        assert run(local_process, args, capsys, check=True)["changed"] is False
        stop = run(local_process, dict(args, state="stopped"), capsys, check=True, diff=True)
        assert stop["changed"] and stop["diff"] == {"before": {"running": True, "pid": started["pid"]},
                                                    "after": {"running": False, "pid": None}}
        assert os.path.exists(args["pid_file"])
    finally:
        stopped = run(local_process, dict(args, state="stopped"), capsys, diff=True)
    assert stopped["diff"] == stop["diff"]
