"""Package -> start the runtime the way the role does -> smoke test -> re-run -> stop, all for real."""

from __future__ import annotations

import json
import os
import sys

import pytest
from triton_runtime_helpers import ROOT, free_port

from ansible_collections.gpu_e2e.platform.plugins.module_utils import local_process, onnx_package, triton_smoke


@pytest.fixture
def packaged(tmp_path):
    params = {"name": "mobilenetv2", "repository": str(tmp_path / "models"), "source": "builtin",
              "architecture": "mobilenetv2", "seed": 0, "path": None, "torchvision_model": None,
              "torchvision_weights": "DEFAULT", "version": 1, "max_batch_size": 8, "preferred_batch_sizes": [4, 8],
              "max_queue_delay_microseconds": 100, "max_queue_size": 128, "instance_kind": "KIND_CPU",
              "instance_count": 2, "tensorrt_fp16": False, "intra_op_threads": 1}
    return onnx_package.package(params)


def process_params(tmp_path, repository, port, metrics_port, state="started"):
    # The argv the triton role builds (roles/triton/vars/main.yml).
    return {
        "name": "triton-local",
        "command": [sys.executable, "-m", "triton_local", "--model-repository", repository, "--host", "127.0.0.1",
                    "--http-port", str(port), "--metrics-port", str(metrics_port)],
        "pid_file": str(tmp_path / "state" / "triton.pid"),
        "log_file": str(tmp_path / "run" / "triton" / "runtime.log"),
        "env": {"PYTHONPATH": os.path.join(ROOT, "runtime")},
        "chdir": None,
        "ready_url": f"http://127.0.0.1:{port}/v2/health/ready",
        "ready_timeout": 90,
        "stop_timeout": 10,
        "state": state,
    }


def test_package_serve_smoke_rerun_stop(tmp_path, packaged):
    port, metrics_port = free_port(), free_port()
    start = process_params(tmp_path, packaged["repository"], port, metrics_port)
    first = local_process.ensure(start, check_mode=False)
    try:
        assert first["changed"] is True and first["running"] is True
        out = tmp_path / "run" / "smoke.json"
        result = triton_smoke.run_smoke_test({
            "url": f"127.0.0.1:{port}", "model_name": "mobilenetv2", "model_version": "", "ready_timeout": 60,
            "request_timeout": 60, "model_repository": packaged["repository"], "expected_inputs": None,
            "expected_outputs": None, "batch_size": 1, "warmup": 1, "requests": 3, "top_k": 5, "output_name": None,
            "output_file": str(out), "validate_certs": True,
        })
        assert result["passed"] and result["checked_against_package"] and result["encodings_agree"]
        assert len(result["top_k"]) == 5
        record = json.loads(out.read_text())
        assert record["passed"] is True and record["model_name"] == "mobilenetv2"

        again = local_process.ensure(start, check_mode=False)
        assert again["changed"] is False and again["pid"] == first["pid"]  # no second copy
    finally:
        stopped = local_process.ensure(dict(start, state="stopped"), check_mode=False)
    assert stopped["running"] is False
    assert local_process.cmdline_of(first["pid"]) is None


def test_the_smoke_test_fails_clearly_when_the_runtime_is_down(tmp_path, packaged):
    with pytest.raises(triton_smoke.SmokeTestError, match="down or not ready"):
        triton_smoke.run_smoke_test({
            "url": f"127.0.0.1:{free_port()}", "model_name": "mobilenetv2", "model_version": "", "ready_timeout": 1,
            "request_timeout": 2, "model_repository": packaged["repository"], "expected_inputs": None,
            "expected_outputs": None, "batch_size": 1, "warmup": 0, "requests": 1, "top_k": 1, "output_name": None,
            "output_file": None, "validate_certs": True,
        })
