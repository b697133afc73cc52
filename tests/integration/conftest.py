"""Fixtures of the integration tests (helpers to run playbooks are in tests/playbook_runner.py)."""
from __future__ import annotations

import os

import pytest
from aws_emulator_process import free_port
from tritonserver_process import TritonServer, fails_on_odd_rows, tiny_classifier, write_model


@pytest.fixture
def isolated_stack(tmp_path):
    """Extra vars for a run that shares nothing with a developer's `make run`."""
    port = free_port()
    runs_root = tmp_path / "runs"
    extra = [
        "-e", f"aws_emulator_port={port}",
        "-e", f"triton_http_port={free_port()}",
        "-e", f"triton_grpc_port={free_port()}",
        "-e", f"triton_metrics_port={free_port()}",
        "-e", f"observability_prometheus_port={free_port()}",
        "-e", f"runs_root={runs_root}",
        "-e", f"docs_dir={tmp_path / 'docs'}",
        "-e", "stack_name=it-e2e",
        # A short load test: behaviour, not speed, is under test here.
        "-e", '{"loadtest_scenarios": ["smoke", "spike"], "loadtest_smoke_duration_s": 10,'
              ' "loadtest_spike_base_s": 3, "loadtest_spike_hold_s": 5, "loadtest_spike_tail_s": 2}',
    ]
    yield {"port": port, "runs_root": runs_root, "extra": extra, "stack": "it-e2e", "docs_dir": tmp_path / "docs"}
    # Whatever happened, stop every local process this run recorded (by PID).
    for pid_file in (runs_root / "it-e2e" / "state").rglob("*.pid"):
        try:
            os.kill(int(pid_file.read_text().strip()), 15)
        except (ProcessLookupError, ValueError):
            pass


@pytest.fixture(scope="session")
def tritonserver(tmp_path_factory):
    """One real tritonserver for the session: `tiny` (2 instances, dynamic batching) and `odd` (fails on odd widths)."""
    root = tmp_path_factory.mktemp("tritonserver")
    repository = root / "models"
    write_model(repository, "tiny", tiny_classifier(), instance_count=2, intra_op_threads=1)
    write_model(repository, "odd", fails_on_odd_rows())
    server = TritonServer(str(repository), root / "tritonserver.log")
    server.repository = str(repository)
    yield server
    server.stop()
