"""The local Triton-compatible runtime as a real process, driven through tritonclient and raw HTTP.

Behaviour only, never speed (CPU speed on CI machines swings 2-3x).
"""

from __future__ import annotations

import concurrent.futures
import json
import socket

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.http as th
from triton_runtime_helpers import Runtime, slow_model, tiny_classifier, write_model
from tritonclient.utils import InferenceServerException

TINY = tiny_classifier()
X = np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32)


def reference(x):
    session = ort.InferenceSession(TINY, providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    repo = tmp_path_factory.mktemp("repo")
    write_model(str(repo), "tiny", TINY, max_batch_size=8, preferred_batch_sizes=[4, 8])
    write_model(str(repo), "plain", TINY, max_batch_size=0)
    rt = Runtime(repo, str(tmp_path_factory.mktemp("logs") / "runtime.log"), extra_args=["--max-body-bytes", "1000000"])
    yield rt
    rt.stop()


@pytest.fixture
def client(runtime):
    c = th.InferenceServerClient(runtime.url, network_timeout=30)
    yield c
    c.close()


def infer(client, model, x, binary):
    inp = th.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary)
    out = th.InferRequestedOutput("logits", binary_data=binary)
    return client.infer(model, [inp], outputs=[out], request_id="req-1")


# --- tritonclient, unchanged ----------------------------------------------------------------------


def test_health_and_metadata_through_tritonclient(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("tiny")
    assert not client.is_model_ready("missing")
    server = client.get_server_metadata()
    assert "binary_tensor_data" in server["extensions"]
    meta = client.get_model_metadata("tiny")
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 3, 8, 8]}]
    assert meta["outputs"] == [{"name": "logits", "datatype": "FP32", "shape": [-1, 10]}]
    assert client.get_model_metadata("plain")["inputs"][0]["shape"] == [-1, 3, 8, 8]  # the model's own dims


def test_model_config_through_tritonclient(client):
    config = client.get_model_config("tiny")
    assert config["max_batch_size"] == 8
    assert config["platform"] == "onnxruntime_onnx"
    assert config["dynamic_batching"]["preferred_batch_size"] == [4, 8]
    assert config["input"][0]["dims"] == [3, 8, 8]
    assert client.get_model_config("plain")["max_batch_size"] == 0


@pytest.mark.parametrize("binary", [True, False])
def test_infer_binary_and_json_match_onnxruntime(client, binary):
    result = infer(client, "tiny", X, binary)
    np.testing.assert_allclose(result.as_numpy("logits"), reference(X), rtol=1e-5, atol=1e-6)
    assert result.get_response()["id"] == "req-1"
    assert result.get_response()["model_name"] == "tiny"


def test_binary_input_with_json_output_and_default_outputs(client, runtime):
    inp = th.InferInput("input", list(X.shape), "FP32")
    inp.set_data_from_numpy(X, binary_data=True)
    result = client.infer("tiny", [inp])  # no requested outputs: all of them
    np.testing.assert_allclose(result.as_numpy("logits"), reference(X), rtol=1e-5, atol=1e-6)


def test_classification_extension(client):
    inp = th.InferInput("input", list(X.shape), "FP32")
    inp.set_data_from_numpy(X)
    result = client.infer("tiny", [inp], outputs=[th.InferRequestedOutput("logits", class_count=3)])
    classes = result.as_numpy("logits")
    assert classes.shape == (2, 3)
    expected = np.argsort(-reference(X), axis=1)[:, :3]
    got = np.array([[int(item.decode().split(":")[1]) for item in row] for row in classes])
    np.testing.assert_array_equal(got, expected)


def test_explicit_version_and_non_batching_model(client):
    single = X[0]
    inp = th.InferInput("input", [1, 3, 8, 8], "FP32")
    inp.set_data_from_numpy(single[None])
    result = client.infer("plain", [inp], model_version="1")
    assert result.as_numpy("logits").shape == (1, 10)


def test_concurrent_requests_all_get_their_own_answer(runtime):
    rows = np.random.default_rng(7).standard_normal((24, 3, 8, 8)).astype(np.float32)
    expected = reference(rows)

    def one(i):
        c = th.InferenceServerClient(runtime.url, network_timeout=60)
        try:
            return infer(c, "tiny", rows[i : i + 1], True).as_numpy("logits")[0]
        finally:
            c.close()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(len(rows))))
    np.testing.assert_allclose(np.stack(results), expected, rtol=1e-5, atol=1e-6)


# --- malformed requests: 400 with {"error"}, and the server lives on ------------------------------


def post_infer(runtime, model, payload, headers=None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return runtime.request(f"/v2/models/{model}/infer", "POST", body, headers or {"Content-Type": "application/json"})


def good_json(shape=(1, 3, 8, 8), datatype="FP32", name="input"):
    count = int(np.prod(shape))
    return {"inputs": [{"name": name, "shape": list(shape), "datatype": datatype, "data": [0.5] * count}]}


@pytest.mark.parametrize(
    "payload, fragment",
    [
        (good_json(shape=(1, 3, 8, 7)), "unexpected shape"),
        (good_json(datatype="FP64"), "data-type is 'FP64'"),
        (good_json(name="image"), "unexpected inference input 'image'"),
        (good_json(shape=(9, 3, 8, 8)), "batch-size must be <= 8"),
        ({"inputs": [{"name": "input", "shape": [1, 3, 8, 8], "datatype": "FP32", "data": [1, 2]}]}, "elements"),
        ({"inputs": [{"name": "input", "shape": [1, 3, 8, 8], "datatype": "FP32", "data": ["a"] * 192}]}, "parse"),
        ({"inputs": []}, "non-empty 'inputs'"),
        ({"inputs": [{"name": "input", "shape": [1, 3, 8, 8], "datatype": "NOPE", "data": []}]}, "datatype"),
        (b"{not json", "JSON"),
        (b"[1, 2]", "object"),
    ],
)
def test_bad_requests_are_400_with_an_error_body(runtime, payload, fragment):
    status, _sep, body = post_infer(runtime, "tiny", payload)
    assert status == 400
    assert fragment in json.loads(body)["error"]
    assert runtime.alive()


def test_unknown_model_is_400(runtime):
    status, _sep, body = post_infer(runtime, "missing", good_json())
    assert status == 400
    assert "unknown model" in json.loads(body)["error"]
    assert runtime.status("/v2/models/missing") == 400
    assert runtime.status("/v2/models/missing/ready") == 400


def test_binary_size_mismatch_is_400(runtime):
    header = json.dumps({"inputs": [{"name": "input", "shape": [1, 3, 8, 8], "datatype": "FP32",
                                     "parameters": {"binary_data_size": 100}}]}).encode()
    body = header + b"\0" * 100
    status, _sep, reply = post_infer(runtime, "tiny", body, {"Inference-Header-Content-Length": str(len(header))})
    assert status == 400
    assert "byte size" in json.loads(reply)["error"]
    status, _sep, reply = post_infer(runtime, "tiny", header, {"Inference-Header-Content-Length": str(len(header))})
    assert status == 400 and "past the end" in json.loads(reply)["error"]
    assert runtime.alive()


def test_oversized_body_is_400_and_the_server_survives(runtime):
    status, _sep, body = post_infer(runtime, "tiny", b"x" * 1_500_000, {"Content-Type": "application/json"})
    assert status == 400
    assert "exceeds the limit" in json.loads(body)["error"]
    assert runtime.alive()


def test_garbage_on_the_socket_does_not_crash_the_server(runtime):
    with socket.create_connection(("127.0.0.1", runtime.http_port), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01 this is not http\r\n\r\n")
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400")
    with socket.create_connection(("127.0.0.1", runtime.http_port), timeout=5) as sock:
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 400")
    assert runtime.alive()


def test_unknown_path_and_wrong_method(runtime):
    assert runtime.status("/v3/anything") == 404
    assert runtime.status("/v2/models/tiny/infer", "GET") == 405


def test_keep_alive_pipelining_answers_in_order(runtime):
    with socket.create_connection(("127.0.0.1", runtime.http_port), timeout=10) as sock:
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /v2/models/nope/ready HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    statuses = [line.split(b" ")[1] for line in data.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]
    assert statuses == [b"200", b"400", b"200"]


# --- metrics and statistics -----------------------------------------------------------------------


def test_metrics_counters_rise_by_exactly_the_requests(runtime, client):
    before = {n: runtime.metric(n, "tiny") for n in (
        "nv_inference_request_success", "nv_inference_request_failure", "nv_inference_count")}
    exec_before = runtime.metric("nv_inference_exec_count", "tiny")
    for _unused in range(5):
        infer(client, "tiny", X, True)  # batch of 2 each
    for _unused in range(3):
        assert post_infer(runtime, "tiny", good_json(datatype="FP64"))[0] == 400
    after = {n: runtime.metric(n, "tiny") for n in before}
    assert after["nv_inference_request_success"] - before["nv_inference_request_success"] == 5
    assert after["nv_inference_request_failure"] - before["nv_inference_request_failure"] == 3
    assert after["nv_inference_count"] - before["nv_inference_count"] == 10
    executions = runtime.metric("nv_inference_exec_count", "tiny") - exec_before
    assert 1 <= executions <= 5


def test_metrics_use_tritons_names_without_total_suffix(runtime):
    text = runtime.metrics()
    for name in ("nv_inference_request_success", "nv_inference_request_failure", "nv_inference_count",
                 "nv_inference_exec_count", "nv_inference_request_duration_us", "nv_inference_queue_duration_us",
                 "nv_inference_compute_input_duration_us", "nv_inference_compute_infer_duration_us",
                 "nv_inference_compute_output_duration_us"):
        assert f"# TYPE {name} counter" in text
        assert f'{name}{{model="tiny",version="1"}} ' in text
    assert "nv_inference_request_success_total" not in text
    assert '# TYPE nv_inference_request_summary_us summary' in text
    assert "process_cpu_seconds_total" in text
    assert "nv_cpu_utilization" in text


def test_statistics_extension(runtime, client):
    infer(client, "tiny", X, False)
    stats = client.get_inference_statistics("tiny")["model_stats"][0]
    assert stats["name"] == "tiny" and stats["version"] == "1"
    assert stats["inference_stats"]["success"]["count"] >= 1
    assert stats["inference_count"] >= 2
    assert stats["batch_stats"]


# --- repository: reload only on change ------------------------------------------------------------


def test_load_reloads_only_when_files_change(runtime, tmp_path):
    status, headers, _body = runtime.request("/v2/repository/models/tiny/load", "POST", b"{}")
    assert status == 200
    assert headers.get("X-Triton-Local-Reloaded") == "false"
    index = json.loads(runtime.request("/v2/repository/index", "POST", b"{}")[2])
    assert {"name": "tiny", "version": "1", "state": "READY", "reason": ""} in index


def test_repository_reload_picks_up_a_new_config(tmp_path):
    repo = tmp_path / "repo"
    write_model(str(repo), "tiny", TINY, max_batch_size=8)
    rt = Runtime(repo, str(tmp_path / "rt.log"))
    try:
        write_model(str(repo), "tiny", TINY, max_batch_size=4)
        status, headers, _body = rt.request("/v2/repository/models/tiny/load", "POST", b"{}")
        assert status == 200 and headers.get("X-Triton-Local-Reloaded") == "true"
        assert json.loads(rt.request("/v2/models/tiny/config")[2])["max_batch_size"] == 4
    finally:
        rt.stop()


# --- bounded queue --------------------------------------------------------------------------------


def test_a_full_queue_answers_503_and_the_server_recovers(tmp_path):
    repo = tmp_path / "repo"
    write_model(str(repo), "slow", slow_model(), max_batch_size=0)
    rt = Runtime(repo, str(tmp_path / "rt.log"), extra_args=["--max-queue-size", "2"])
    try:
        x = np.ones((256, 512), dtype=np.float32)
        header = json.dumps({"inputs": [{"name": "x", "shape": [256, 512], "datatype": "FP32",
                                         "parameters": {"binary_data_size": x.nbytes}}],
                             "outputs": [{"name": "y", "parameters": {"binary_data": True}}]}).encode()
        body = header + x.tobytes()
        headers = {"Inference-Header-Content-Length": str(len(header)), "Content-Type": "application/octet-stream"}

        def one(_index):
            status, _sep, reply = rt.request("/v2/models/slow/infer", "POST", body, headers, timeout=120)
            return status, reply

        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            results = list(pool.map(one, range(12)))
        statuses = [s for s, _reply in results]
        assert set(statuses) <= {200, 503}
        assert statuses.count(503) >= 1
        assert statuses.count(200) >= 1
        rejected = next(reply for s, reply in results if s == 503)
        assert json.loads(rejected)["error"] == "Exceeds maximum queue size"
        assert rt.metric("nv_inference_request_failure", "slow") == statuses.count(503)
        assert rt.alive()
        assert one(0)[0] == 200  # the queue drains and serves again
    finally:
        rt.stop()


def test_startup_fails_clearly_on_a_broken_repository(tmp_path):
    repo = tmp_path / "repo"
    (repo / "broken" / "1").mkdir(parents=True)
    (repo / "broken" / "1" / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(RuntimeError, match="broken"):
        Runtime(repo, str(tmp_path / "rt.log"), ready_timeout=30)


def test_a_config_that_does_not_match_the_model_is_refused(tmp_path):
    repo = tmp_path / "repo"
    write_model(str(repo), "tiny", TINY, max_batch_size=8)
    config = (repo / "tiny" / "config.pbtxt").read_text().replace("dims: [ 10 ]", "dims: [ 11 ]")
    (repo / "tiny" / "config.pbtxt").write_text(config)
    with pytest.raises(RuntimeError, match="do not match"):
        Runtime(repo, str(tmp_path / "rt.log"), ready_timeout=30)


def test_tritonclient_raises_on_bad_input(client):
    inp = th.InferInput("input", [1, 3, 8], "FP32")
    inp.set_data_from_numpy(np.zeros((1, 3, 8), np.float32))
    with pytest.raises(InferenceServerException, match="unexpected shape"):
        client.infer("tiny", [inp])
