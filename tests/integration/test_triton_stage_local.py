"""The triton stage's local serving (roles/triton/tasks/local.yml) and its preflight, through ansible-playbook.

Real tritonserver, real model repositories on free loopback ports. Covered: an unchanged re-run changes
nothing and keeps the process; a changed model is served after the next run (restart); a corrupt ONNX, a
config that disagrees with its model and a busy port each stop the stage in one line; a missing libpython
and a Python without a stub stop the preflight naming what to install.
"""

from __future__ import annotations

import json
import os
import shutil
import socket

import numpy as np
import pytest
import tritonclient.http as th
from aws_emulator_process import free_port
from playbook_runner import run_playbook
from tritonserver_process import INSTALL, tiny_classifier, write_model

from ansible_collections.gpu_e2e.platform.plugins.module_utils import local_process

SERVE = """
- name: Serve with the triton stage's local tasks
  hosts: controller
  gather_facts: false
  tasks:
    - name: Serve the model.
      ansible.builtin.include_role:
        name: gpu_e2e.platform.triton
        tasks_from: {tasks}
"""


@pytest.fixture
def stage(tmp_path):
    """Extra vars of an isolated triton stage; whatever happens, its tritonserver is stopped by PID."""
    repository = tmp_path / "models"
    write_model(repository, "tiny", tiny_classifier(), instance_count=1, intra_op_threads=1)
    ports = {"triton_http_port": free_port(), "triton_grpc_port": free_port(), "triton_metrics_port": free_port()}
    values = {
        "run_dir": str(tmp_path / "run"), "runs_root": str(tmp_path / "runs"), "stack_name": "it-triton",
        "platform_target": "local", "triton_model_name": "tiny", "triton_model_repository_dir": str(repository),
        "triton_smoke_requests": 2, "triton_local_ready_timeout": 60, **ports,
    }
    yield values
    pid = local_process.read_pid(str(tmp_path / "runs" / "it-triton" / "state" / "triton.pid"))
    if pid is not None and local_process.cmdline_of(pid) and "tritonserver" in local_process.cmdline_of(pid)[0]:
        local_process.stop_pid(pid, 10)


def play(tmp_path, values, tasks="local.yml"):
    playbook = tmp_path / f"serve-{tasks}"
    playbook.write_text(SERVE.format(tasks=tasks))
    result = run_playbook(str(playbook), "-e", json.dumps(values), json_output=True, timeout=300)
    doc = json.loads(result.stdout[result.stdout.index("{"):])
    changed, failures = [], []
    for task in doc["plays"][0]["tasks"]:
        for host in task["hosts"].values():
            if host.get("changed"):
                changed.append(task["task"]["name"])
            if host.get("failed") and not host.get("ignore_errors"):
                failures.append(host.get("msg", ""))
    return result.returncode, changed, failures


def served_pid(values):
    return local_process.read_pid(os.path.join(values["runs_root"], "it-triton", "state", "triton.pid"))


def logits(values, array):
    client = th.InferenceServerClient(f"127.0.0.1:{values['triton_http_port']}")
    request = th.InferInput("input", list(array.shape), "FP32")
    request.set_data_from_numpy(array)
    return client.infer("tiny", [request]).as_numpy("logits")


def test_rerun_changes_nothing_and_a_changed_model_is_served_after_a_restart(tmp_path, stage):
    rc, _changed, failures = play(tmp_path, stage)
    assert rc == 0, failures
    first = served_pid(stage)
    smoke = json.loads((tmp_path / "run" / "smoke.json").read_text())
    assert smoke["passed"] and smoke["protocols"] == ["http", "grpc"] and smoke["server"]["version"] == "2.51.0"
    log = (tmp_path / "run" / "triton" / "tritonserver.log").read_text()
    assert "successfully loaded 'tiny'" in log

    rc, changed, failures = play(tmp_path, stage)
    assert rc == 0 and changed == [], (changed, failures)
    assert served_pid(stage) == first

    # New weights (a new content hash): the next run restarts the server, which serves them.
    write_model(stage["triton_model_repository_dir"], "tiny", tiny_classifier(seed=1), instance_count=1,
                intra_op_threads=1)
    x = np.ones((1, 3, 8, 8), dtype=np.float32)
    old = logits(stage, x)
    rc, changed, failures = play(tmp_path, stage)
    assert rc == 0, failures
    assert any("Ensure tritonserver is running" in name for name in changed), changed  # "<role> : <task>"
    assert served_pid(stage) != first
    assert not np.allclose(logits(stage, x), old)


def assert_one_line_failure(rc, failures, *fragments):
    assert rc != 0 and failures, failures
    message = failures[-1]
    assert "\n" not in message.strip(), message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_a_corrupt_onnx_stops_the_stage_with_tritons_load_error(tmp_path, stage):
    """Without the log-reading task the message is local_process's multi-line tail instead (checked)."""
    model = os.path.join(stage["triton_model_repository_dir"], "tiny", "1", "model.onnx")
    with open(model, "rb") as handle:
        data = handle.read()
    with open(model, "wb") as handle:
        handle.write(data[: len(data) // 2])  # truncated
    rc, _changed, failures = play(tmp_path, stage)
    assert_one_line_failure(rc, failures, "tritonserver did not start: failed to load 'tiny'", "onnxruntime")
    assert served_pid(stage) is None  # stopped, pid file removed
    assert not (tmp_path / "run" / "smoke.json").exists()


def test_a_config_that_disagrees_with_its_model_gives_tritons_error(tmp_path, stage):
    config = os.path.join(stage["triton_model_repository_dir"], "tiny", "config.pbtxt")
    with open(config, encoding="utf-8") as handle:
        text = handle.read()
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(text.replace('name: "input"', 'name: "image"'))
    rc, _changed, failures = play(tmp_path, stage)
    assert_one_line_failure(rc, failures, "failed to load 'tiny'", "configuration input 'image' is not in the model")
    assert served_pid(stage) is None


def test_a_busy_port_names_the_port_and_its_holder(tmp_path, stage):
    """Removing the port check leaves tritonserver's own multi-line exit instead (checked)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", stage["triton_grpc_port"]))
        holder.listen()
        rc, _changed, failures = play(tmp_path, stage)
    assert_one_line_failure(rc, failures, f"port {stage['triton_grpc_port']} (127.0.0.1) is held by pid {os.getpid()}")
    assert served_pid(stage) is None


def fake_install(tmp_path, python=None, stub_library=None):
    """A copy of install.json (and, optionally, of the stub with its libpython name changed) in a new install dir."""
    fake = tmp_path / "install"
    with open(os.path.join(INSTALL, "install.json"), encoding="utf-8") as handle:
        record = json.load(handle)
    server = fake / "server"
    os.makedirs(fake)
    os.symlink(os.path.join(INSTALL, "backend-env"), fake / "backend-env")
    real = os.path.join(INSTALL, "server")
    os.makedirs(server / "pytriton" / "tritonserver" / "python_backend_stubs" / record["python"])
    os.symlink(os.path.join(real, "nvidia_pytriton.libs"), server / "nvidia_pytriton.libs")
    stub = os.path.join(real, "pytriton", "tritonserver", "python_backend_stubs", record["python"],
                        "triton_python_backend_stub")
    target = server / "pytriton" / "tritonserver" / "python_backend_stubs" / record["python"] / stub.rsplit("/", 1)[1]
    with open(stub, "rb") as handle:
        data = handle.read()
    if stub_library:
        data = data.replace(b"libpython3.11.so.1.0", stub_library)
    target.write_bytes(data)
    target.chmod(0o755)
    if python:
        record["python"] = python
    (fake / "install.json").write_text(json.dumps(record))
    return str(fake)


def test_preflight_names_the_debian_package_of_a_missing_libpython(tmp_path, stage):
    """The stub copy links libpython3.99: ldd cannot find it. Without the ldd check the preflight passes (checked)."""
    install = fake_install(tmp_path, stub_library=b"libpython3.99.so.1.0")
    rc, _changed, failures = play(tmp_path, dict(stage, triton_local_install_dir=install), "preflight_local.yml")
    assert_one_line_failure(rc, failures, "libpython3.99.so.1.0", "install the Debian package libpython3.99")


def test_preflight_names_the_pythons_the_wheel_has_stubs_for(tmp_path, stage):
    install = fake_install(tmp_path, python="3.14")
    rc, _changed, failures = play(tmp_path, dict(stage, triton_local_install_dir=install), "preflight_local.yml")
    assert_one_line_failure(rc, failures, "stubs for Python 3.8, 3.9, 3.10, 3.11, 3.12, 3.13, not for Python 3.14")


def test_preflight_passes_on_this_install(tmp_path, stage):
    rc, _changed, failures = play(tmp_path, stage, "preflight_local.yml")
    assert rc == 0, failures
    assert shutil.which("ldd")
