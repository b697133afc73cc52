from __future__ import annotations

import os
import sys
import time

import pytest
from aws_emulator_process import free_port

from ansible_collections.gpu_e2e.platform.plugins.module_utils import local_process as lp


@pytest.fixture
def params(tmp_path):
    port = free_port()
    return {
        "name": "http-test",
        "command": [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        "pid_file": str(tmp_path / "state" / "http.pid"),
        "log_file": str(tmp_path / "run" / "http.log"),
        "env": {},
        "chdir": str(tmp_path),
        "ready_url": f"http://127.0.0.1:{port}/",
        "ready_timeout": 20,
        "stop_timeout": 5,
        "state": "started",
    }


def test_start_is_idempotent_and_stop_is_by_pid(params):
    first = lp.ensure(params, check_mode=False)
    try:
        assert first["changed"] and first["running"]
        assert lp.cmdline_of(first["pid"]) == params["command"]
        second = lp.ensure(params, check_mode=False)
        assert second == {**second, "changed": False, "pid": first["pid"], "running": True}
    finally:
        stopped = lp.ensure(dict(params, state="stopped"), check_mode=False)
    assert stopped["changed"] and not stopped["running"]
    assert not os.path.exists(params["pid_file"])
    assert lp.ensure(dict(params, state="stopped"), check_mode=False)["changed"] is False


def test_check_mode_starts_nothing(params):
    result = lp.ensure(params, check_mode=True)
    assert result["changed"] is True
    assert not os.path.exists(params["pid_file"])


def test_a_recycled_pid_is_never_signalled(params):
    os.makedirs(os.path.dirname(params["pid_file"]))
    with open(params["pid_file"], "w") as handle:
        handle.write(f"{os.getpid()}\n")  # alive, but not our command
    assert lp.running_pid(params["pid_file"], params["command"]) is None
    result = lp.ensure(dict(params, state="stopped"), check_mode=False)
    assert result["changed"] is False  # and we are still alive to assert it
    assert not os.path.exists(params["pid_file"])


def test_a_process_that_dies_at_start_fails_with_its_log(params):
    params["command"] = [sys.executable, "-c", "import sys; print('boom: bad flag'); sys.exit(3)"]
    with pytest.raises(lp.LocalProcessError, match="exited during start-up.*boom: bad flag"):
        lp.ensure(params, check_mode=False)
    assert not os.path.exists(params["pid_file"])


def test_ready_url_must_be_loopback(params):
    params["ready_url"] = "http://10.0.0.1:8000/"
    with pytest.raises(lp.LocalProcessError, match="loopback"):
        lp.ensure(params, check_mode=True)


def test_readiness_timeout_stops_the_process(params):
    params["command"] = [sys.executable, "-c", "import time; time.sleep(30)"]
    params["ready_timeout"] = 1
    started = time.monotonic()
    with pytest.raises(lp.LocalProcessError, match="was not ready"):
        lp.ensure(params, check_mode=False)
    assert time.monotonic() - started < 15
    assert not os.path.exists(params["pid_file"])


def test_a_port_held_by_something_else_is_refused(params):
    lp.ensure(dict(params, pid_file=params["pid_file"] + ".other"), check_mode=False)
    try:
        with pytest.raises(lp.LocalProcessError, match="already answers"):
            lp.ensure(params, check_mode=False)
        assert not os.path.exists(params["pid_file"])
    finally:
        lp.ensure(dict(params, pid_file=params["pid_file"] + ".other", state="stopped"), check_mode=False)
