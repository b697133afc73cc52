"""NVIDIA's tritonserver (the wheel `make setup` installs) with the collection's `onnxruntime` backend, for real.

One server for the session (tests/integration/conftest.py, `tritonserver`), driven through tritonclient over
HTTP and gRPC and through the triton_smoke module's logic. What was once tested against a copy of Triton is
tested here against Triton itself: metadata, binary and JSON tensors, concurrent requests, Triton's own 400s,
the metric counters, and a failing inference counted as a failure.
"""

from __future__ import annotations

import concurrent.futures
import json
import shutil
import time

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as tg
import tritonclient.http as th
from tritonclient.utils import InferenceServerException
from tritonserver_process import BACKEND_SOURCE, TritonServer, fails_on_odd_rows, write_model

from ansible_collections.gpu_e2e.platform.plugins.module_utils import triton_smoke


def infer_http(server, model, name, array, binary=True):
    client = th.InferenceServerClient(server.url, network_timeout=60)
    request = th.InferInput(name, list(array.shape), "FP32")
    request.set_data_from_numpy(array, binary_data=binary)
    return client.infer(model, [request])


def smoke_params(server, **overrides):
    params = {
        "url": server.url, "grpc_url": server.grpc_url, "model_name": "tiny", "model_version": "",
        "ready_timeout": 30, "request_timeout": 30, "model_repository": server.repository, "expected_inputs": None,
        "expected_outputs": None, "batch_size": 2, "warmup": 1, "requests": 3, "top_k": 3, "output_name": None,
        "output_file": None, "validate_certs": True,
    }
    params.update(overrides)
    return params


def test_server_metadata_is_tritons_own(tritonserver):
    status, _headers, body = tritonserver.request("/v2")
    meta = json.loads(body)
    assert status == 200 and meta["name"] == "triton" and meta["version"] == "2.51.0"
    assert {"binary_tensor_data", "model_configuration", "statistics"} <= set(meta["extensions"])
    model = json.loads(tritonserver.request("/v2/models/tiny")[2])
    assert model["platform"] == "onnxruntime_onnx"


def test_smoke_test_over_http_and_grpc_agrees_with_onnxruntime(tritonserver, tmp_path):
    out = tmp_path / "smoke.json"
    result = triton_smoke.run_smoke_test(smoke_params(tritonserver, output_file=str(out)))
    assert result["passed"] and result["protocols"] == ["http", "grpc"] and result["protocols_agree"]
    assert result["config"] == {"checked_against_package": True, "backend": "onnxruntime", "max_batch_size": 8,
                                "instance_count": 2, "dynamic_batching": True}
    record = json.loads(out.read_text())
    assert record["latency_ms"]["requests"] == 3 and record["latency_ms_grpc"]["requests"] == 3
    assert record["server"] == {"name": "triton", "version": "2.51.0"}
    # The same tensor straight through onnxruntime: Triton's answer is bit-identical.
    tensor = triton_smoke.synthetic_image(record["input"]["shape"], "FP32")
    session = ort.InferenceSession(f"{tritonserver.repository}/tiny/1/model.onnx", providers=["CPUExecutionProvider"])
    want = session.run(None, {"input": tensor})[0]
    grpc = tg.InferenceServerClient(tritonserver.grpc_url)
    request = tg.InferInput("input", list(tensor.shape), "FP32")
    request.set_data_from_numpy(tensor)
    assert np.array_equal(grpc.infer("tiny", [request]).as_numpy("logits"), want)
    assert np.array_equal(infer_http(tritonserver, "tiny", "input", tensor, binary=False).as_numpy("logits"), want)


def test_the_smoke_test_fails_when_the_package_differs_from_the_served_config(tritonserver, tmp_path):
    """Removing check_config() from SmokeTest.steps makes this pass silently (checked)."""
    repository = tmp_path / "models"
    shutil.copytree(tritonserver.repository, repository)
    config = repository / "tiny" / "config.pbtxt"
    config.write_text(config.read_text().replace("count: 2", "count: 3"))
    with pytest.raises(triton_smoke.SmokeTestError, match="instance_count is 2 on the server, 3 in the package"):
        triton_smoke.run_smoke_test(smoke_params(tritonserver, model_repository=str(repository)))


def test_concurrent_requests_each_get_their_own_answer(tritonserver):
    session = ort.InferenceSession(f"{tritonserver.repository}/tiny/1/model.onnx", providers=["CPUExecutionProvider"])
    inputs = [np.full((1, 3, 8, 8), i / 10.0, dtype=np.float32) for i in range(24)]

    def one(array):
        return infer_http(tritonserver, "tiny", "input", array).as_numpy("logits")

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(one, inputs))
    for array, answer in zip(inputs, answers, strict=True):
        assert np.allclose(answer, session.run(None, {"input": array})[0], rtol=1e-5, atol=1e-6)


def test_a_wrong_shape_is_tritons_own_400_and_the_server_carries_on(tritonserver):
    with pytest.raises(InferenceServerException, match=r"unexpected shape for input 'input'.*Expected \[-1,3,8,8\]"):
        infer_http(tritonserver, "tiny", "input", np.zeros((1, 3, 9, 8), dtype=np.float32))
    with pytest.raises(InferenceServerException, match="Request for unknown model"):
        infer_http(tritonserver, "missing", "input", np.zeros((1, 3, 8, 8), dtype=np.float32))
    assert tritonserver.alive()


def test_counters_rise_by_exactly_the_requests(tritonserver):
    before = tritonserver.metric("nv_inference_request_success", "tiny")
    count_before = tritonserver.metric("nv_inference_count", "tiny")
    for _request in range(5):
        infer_http(tritonserver, "tiny", "input", np.zeros((2, 3, 8, 8), dtype=np.float32))
    assert tritonserver.metric("nv_inference_request_success", "tiny") - before == 5
    assert tritonserver.metric("nv_inference_count", "tiny") - count_before == 10  # batch 2 each
    text = tritonserver.metrics()
    assert "nv_inference_pending_request_count{" in text and "nv_cpu_utilization " in text
    assert "nv_inference_request_success_total" not in text


def failure_counted(server, model="odd"):
    """Send one request the backend fails on; return (client error, failure delta, success delta)."""
    failures = server.metric("nv_inference_request_failure", model, reason="BACKEND")
    successes = server.metric("nv_inference_request_success", model)
    with pytest.raises(InferenceServerException) as caught:
        infer_http(server, model, "x", np.ones((1, 3), dtype=np.float32)).as_numpy("y")
    # Triton counts a request after it has sent the response: wait (bounded) until one of the two counters moved.
    deadline = time.monotonic() + 10
    while True:
        failed = server.metric("nv_inference_request_failure", model, reason="BACKEND") - failures
        succeeded = server.metric("nv_inference_request_success", model) - successes
        if failed + succeeded or time.monotonic() > deadline:
            return str(caught.value), failed, succeeded
        time.sleep(0.05)


def test_a_failing_inference_is_counted_as_a_failure_and_the_client_gets_an_error(tritonserver):
    error, failed, succeeded = failure_counted(tritonserver)
    assert "cannot be reshaped" in error or "Reshape" in error
    assert (failed, succeeded) == (1, 0)
    assert infer_http(tritonserver, "odd", "x", np.ones((1, 4), dtype=np.float32)).as_numpy("y").shape == (1, 2, 2)


def test_a_backend_returning_the_error_in_its_response_is_counted_as_a_success(tmp_path):
    """The test above can fail: the same failure returned inside an InferenceResponse is counted as a success.

    This variant of the backend answers with `InferenceResponse(error=TritonError(...))`: the client still
    gets an error, but Triton counts the request in nv_inference_request_success.
    """
    with open(BACKEND_SOURCE, encoding="utf-8") as handle:
        source = handle.read()
    marker = "            raise pb_utils.TritonModelException(_first_line(exc)) from exc\n"
    assert marker in source
    wrong = tmp_path / "model.py"
    replacement = ("            return [pb_utils.InferenceResponse(error=pb_utils.TritonError(_first_line(exc)))\n"
                   "                    for _request in requests]\n")
    wrong.write_text(source.replace(marker, replacement))
    write_model(tmp_path / "models", "odd", fails_on_odd_rows())
    server = TritonServer(str(tmp_path / "models"), tmp_path / "tritonserver.log", backend_source=str(wrong))
    try:
        _error, failed, succeeded = failure_counted(server)
    finally:
        server.stop()
    assert (failed, succeeded) == (0, 1)
