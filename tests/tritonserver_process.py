"""NVIDIA's tritonserver as a real process on free loopback ports, and tiny models to serve.

The server is the one `make setup` installs (.venv/triton, scripts/fetch_triton.py),
started with the flags the triton role passes (roles/triton/vars/main.yml) and the
collection's `onnxruntime` backend (roles/triton/files/backends/onnxruntime/model.py).
Not a conftest: imported explicitly by the test files that need it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import numpy as np
import triton_role_flags as role_flags
from aws_emulator_process import free_port
from onnx import TensorProto, helper, numpy_helper

from ansible_collections.gpu_e2e.platform.plugins.module_utils import onnx_model, triton_config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
INSTALL = os.environ.get("GPU_E2E_TRITON_INSTALL", os.path.join(ROOT, ".venv", "triton"))
SERVER = os.path.join(INSTALL, "server", "pytriton", "tritonserver")
BACKEND_SOURCE = os.path.join(ROOT, "roles", "triton", "files", "backends", "onnxruntime", "model.py")


def tiny_classifier(classes=10, channels=3, size=8, seed=0):
    """input [-1, channels, size, size] FP32 -> logits [-1, classes]: average pool + linear layer."""
    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(rng.standard_normal((classes, channels)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal((classes,)).astype(np.float32), "b")
    nodes = [
        helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "w", "b"], ["logits"], transB=1),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", channels, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])],
        initializer=[w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def slow_model(width=512, rows=256, layers=20, seed=0):
    """A model slow enough (hundreds of ms) to fill a queue: x [rows, width] through `layers` MatMuls."""
    rng = np.random.default_rng(seed)
    inits = []
    nodes = []
    current = "x"
    for i in range(layers):
        weight = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
        inits.append(numpy_helper.from_array(weight, f"w{i}"))
        out = "y" if i == layers - 1 else f"h{i}"
        nodes.append(helper.make_node("MatMul", [current, f"w{i}"], [out]))
        current = out
    graph = helper.make_graph(
        nodes, "slow",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [rows, width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [rows, width])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def write_model(repository, name, model_bytes, max_batch_size=8, **config_options):
    """Write <repository>/<name>/{config.pbtxt,1/model.onnx} the way onnx_package does."""
    info = onnx_model.inspect_model(model_bytes)
    config = triton_config.model_config(
        name,
        onnx_model.batch_dims(info["inputs"], max_batch_size),
        onnx_model.batch_dims(info["outputs"], max_batch_size),
        max_batch_size=max_batch_size,
        **config_options,
    )
    os.makedirs(os.path.join(repository, name, "1"), exist_ok=True)
    with open(os.path.join(repository, name, "1", "model.onnx"), "wb") as handle:
        handle.write(model_bytes)
    with open(os.path.join(repository, name, "config.pbtxt"), "w", encoding="utf-8") as handle:
        handle.write(triton_config.render(config))
    return config


def fails_on_odd_rows(seed=0):
    """x [-1, n] FP32 -> y [-1, 2, n/2]: a Reshape that onnxruntime rejects at run time when n is odd.

    The config allows any n (dims [-1]), so Triton accepts the request and the backend's inference fails.
    """
    shape = numpy_helper.from_array(np.array([0, 2, -1], dtype=np.int64), "shape")
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape"], ["y"])], "odd",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "n"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2, "half"])],
        initializer=[shape],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def installed():
    with open(os.path.join(INSTALL, "install.json"), encoding="utf-8") as handle:
        return json.load(handle)


def backend_dir(path, model_py=BACKEND_SOURCE):
    """<path>/python (the wheel's Python backend and stub) and <path>/onnxruntime/model.py, as the role does."""
    python = installed()["python"]
    os.makedirs(os.path.join(path, "python"), exist_ok=True)
    os.makedirs(os.path.join(path, "onnxruntime"), exist_ok=True)
    for name in ("libtriton_python.so", "triton_python_backend_utils.py"):
        shutil.copy2(os.path.join(SERVER, "backends", "python", name), os.path.join(path, "python", name))
    shutil.copy2(os.path.join(SERVER, "python_backend_stubs", python, "triton_python_backend_stub"),
                 os.path.join(path, "python", "triton_python_backend_stub"))
    shutil.copy2(model_py, os.path.join(path, "onnxruntime", "model.py"))
    return str(path)


def server_env():
    """The environment the role gives tritonserver (roles/triton/vars/main.yml, triton__local_env)."""
    return dict(os.environ, PATH="/usr/sbin:/usr/bin:/sbin:/bin",
                LD_LIBRARY_PATH=os.path.join(INSTALL, "server", "nvidia_pytriton.libs"),
                PYTHONPATH=os.path.join(INSTALL, "backend-env"))


def server_command(repository, backends, http_port, grpc_port, metrics_port, extra_args=()):
    """The argv the role runs (triton__local_command), on the given ports."""
    flags = role_flags.server_args(
        "local", triton_http_port=http_port, triton_grpc_port=grpc_port, triton_metrics_port=metrics_port)
    return [
        os.path.join(SERVER, "bin", "tritonserver"), f"--model-repository={repository}",
        f"--backend-directory={backends}", *flags, *extra_args,
    ]


class TritonServer:
    """tritonserver as a real process on free loopback ports; stopped by PID."""

    def __init__(self, repository, log_path, extra_args=(), ready_timeout=90, backend_source=BACKEND_SOURCE):
        self.http_port, self.grpc_port, self.metrics_port = free_port(), free_port(), free_port()
        self.log_path = str(log_path)
        backends = backend_dir(os.path.join(os.path.dirname(self.log_path), "backends"), backend_source)
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            server_command(repository, backends, self.http_port, self.grpc_port, self.metrics_port, extra_args),
            stdout=self.log, stderr=subprocess.STDOUT, env=server_env(),
        )
        self.url = f"127.0.0.1:{self.http_port}"
        self.grpc_url = f"127.0.0.1:{self.grpc_port}"
        self.base = f"http://{self.url}"
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.close()
                raise RuntimeError(f"tritonserver exited with {self.proc.returncode}: {self.read_log()}")
            # Triton opens its metrics port after HTTP and gRPC: ready means all three answer.
            if self.status("/v2/health/ready") == 200 and self.metrics_answer():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"tritonserver not ready after {ready_timeout}s: {self.read_log()}")

    def read_log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()[-3000:]

    def status(self, path, method="GET", body=None, headers=None):
        return self.request(path, method, body, headers)[0]

    def request(self, path, method="GET", body=None, headers=None, timeout=30):
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310 - loopback
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()
        except (urllib.error.URLError, ConnectionError, OSError):
            return None, {}, b""

    def metrics_answer(self):
        try:
            self.metrics()
        except OSError:
            return False
        return True

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as r:  # noqa: S310
            return r.read().decode()

    def scrape(self, path):
        path.write_text(self.metrics())
        return str(path)

    def metric(self, name, model, **labels):
        """The value of one sample: labels other than model/version must be given (e.g. reason="BACKEND")."""
        want = dict(labels, model=model, version="1")
        for line in self.metrics().splitlines():
            if not line.startswith(name + "{"):
                continue
            raw_labels, value = line[len(name) + 1:].rsplit("} ", 1)
            found = dict(part.split("=", 1) for part in raw_labels.split(","))
            if {k: v.strip('"') for k, v in found.items()} == want:
                return float(value)
        raise AssertionError(f"{name}{want} not in the metrics")

    def alive(self):
        return self.proc.poll() is None and self.status("/v2/health/live") == 200

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        if not self.log.closed:
            self.log.close()
