"""Helpers of the Triton runtime tests: tiny models, repositories and a runtime process on loopback.

Not a conftest: imported explicitly by the test files that need it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
from aws_emulator_process import free_port
from onnx import TensorProto, helper, numpy_helper

from ansible_collections.gpu_e2e.platform.plugins.module_utils import onnx_model, triton_config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


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


class Runtime:
    """The runtime as a real process on free loopback ports; stopped by PID."""

    def __init__(self, repository, log_path, extra_args=(), ready_timeout=60):
        self.http_port = free_port()
        self.metrics_port = free_port()
        self.log_path = log_path
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "runtime"))
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "triton_local", "--model-repository", str(repository), "--host", "127.0.0.1",
             "--http-port", str(self.http_port), "--metrics-port", str(self.metrics_port), *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT, env=env,
        )
        self.url = f"127.0.0.1:{self.http_port}"
        self.base = f"http://{self.url}"
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"runtime exited with {self.proc.returncode}: {self.read_log()}")
            if self.status("/v2/health/ready") == 200:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"runtime not ready after {ready_timeout}s: {self.read_log()}")

    def read_log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()[-2000:]

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

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as r:  # noqa: S310
            return r.read().decode()

    def metric(self, name, model):
        prefix = f'{name}{{model="{model}",version="1"}} '
        for line in self.metrics().splitlines():
            if line.startswith(prefix):
                return float(line[len(prefix):])
        raise AssertionError(f"{name} for {model} not in the metrics")

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
        self.log.close()
