"""The smoke-test logic of triton_smoke (plugins/module_utils/triton_smoke.py), with a fake tritonclient."""

import json

import numpy as np
import pytest

from ansible_collections.gpu_e2e.platform.plugins.module_utils import triton_config as tc
from ansible_collections.gpu_e2e.platform.plugins.module_utils import triton_smoke as ts

CONFIG = tc.model_config("m", [{"name": "input", "data_type": "TYPE_FP32", "dims": [3, 8, 8]}],
                         [{"name": "logits", "data_type": "TYPE_FP32", "dims": [5]}])
META = {
    "name": "m", "versions": ["1"], "platform": "onnxruntime_onnx",
    "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 3, 8, 8]}],
    "outputs": [{"name": "logits", "datatype": "FP32", "shape": [-1, 5]}],
}


class FakeResult:
    def __init__(self, arrays):
        self.arrays = arrays

    def as_numpy(self, name):
        return self.arrays.get(name)


class FakeClient:
    """Answers like tritonclient.http.InferenceServerClient; knobs make it fail in chosen ways."""

    def __init__(self, url, live=True, model_ready=True, meta=None, logits=None, json_logits=None, index=None,
                 config=None, **kwargs):
        self.url = url
        self.live = live
        self.model_ready = model_ready
        self.meta = meta or META
        self.logits = np.array([[0.1, 2.0, 0.3, -1.0, 0.5]], np.float32) if logits is None else logits
        self.json_logits = json_logits
        self.index = index or []
        self.config = config or CONFIG
        self.requests = []

    def get_server_metadata(self):
        return {"name": "triton", "version": "2.51.0", "extensions": []}

    def get_model_config(self, name, version=""):
        return self.config

    def is_server_live(self):
        if self.live is None:
            raise ConnectionRefusedError("[Errno 111] Connection refused")
        return self.live

    def is_server_ready(self):
        return self.live

    def is_model_ready(self, name, version=""):
        return self.model_ready

    def get_model_repository_index(self):
        return self.index

    def get_model_metadata(self, name, version=""):
        return self.meta

    def infer(self, model, inputs, model_version="", outputs=None):
        self.requests.append(inputs[0])
        binary = inputs[0]._parameters.get("binary_data_size") is not None
        value = self.logits if binary or self.json_logits is None else self.json_logits
        return FakeResult({"logits": value})


class FakeGrpcClient:
    """Answers like tritonclient.grpc.InferenceServerClient.infer."""

    def __init__(self, url, logits=None):
        self.url = url
        self.logits = np.array([[0.1, 2.0, 0.3, -1.0, 0.5]], np.float32) if logits is None else logits

    def infer(self, model, inputs, model_version="", outputs=None, client_timeout=None):
        return FakeResult({"logits": self.logits})


def params(**extra):
    base = {"url": "127.0.0.1:8000", "grpc_url": "", "model_name": "m", "model_version": "", "ready_timeout": 1,
            "request_timeout": 5, "model_repository": None, "expected_inputs": None, "expected_outputs": None,
            "batch_size": 1, "warmup": 1, "requests": 3, "top_k": 2, "output_name": None, "output_file": None,
            "validate_certs": True}
    base.update(extra)
    return base


def run(client_kwargs=None, grpc_kwargs=None, **extra):
    clock = iter(range(0, 10_000))
    test = ts.SmokeTest(params(**extra), client_factory=lambda url, **kw: FakeClient(url, **(client_kwargs or {})),
                        grpc_client_factory=lambda url: FakeGrpcClient(url, **(grpc_kwargs or {})),
                        clock=lambda: next(clock), sleep=lambda s: None)
    return test.run()


def test_a_healthy_server_passes_with_latency_and_top_k():
    result = run()
    assert result["passed"] is True
    assert [c["index"] for c in result["top_k"]] == [1, 4]
    assert result["top_k"][0]["score"] > result["top_k"][1]["score"]
    assert result["latency_ms"]["requests"] == 3
    assert result["encodings_agree"] is True
    assert result["input"]["shape"] == [1, 3, 8, 8]
    assert result["protocols"] == ["http"] and result["latency_ms_grpc"] is None
    assert result["server"] == {"name": "triton", "version": "2.51.0"}


def test_grpc_is_checked_with_the_same_tensor_and_timed():
    result = run(grpc_url="127.0.0.1:8001")
    assert result["protocols"] == ["http", "grpc"] and result["protocols_agree"] is True
    assert result["latency_ms_grpc"]["requests"] == 3 and result["grpc_url"] == "127.0.0.1:8001"


def test_a_grpc_answer_that_differs_from_http_fails():
    """Removing the protocol comparison from check_tensor() makes this pass silently (checked)."""
    with pytest.raises(ts.SmokeTestError, match="differs between binary tensors over HTTP and gRPC"):
        run(grpc_kwargs={"logits": np.zeros((1, 5), np.float32)}, grpc_url="127.0.0.1:8001")


def test_the_served_config_is_checked_against_the_package(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.pbtxt").write_text(tc.render(CONFIG))
    assert run(model_repository=str(tmp_path))["config"]["checked_against_package"] is True
    served = dict(CONFIG, max_batch_size=4)
    with pytest.raises(ts.SmokeTestError, match="max_batch_size is 4 on the server, 8 in the package"):
        run({"config": served}, model_repository=str(tmp_path))


def test_server_down_is_reported_as_down():
    with pytest.raises(ts.SmokeTestError, match="down or not ready.*Connection refused"):
        run({"live": None})


def test_missing_model_names_what_the_server_has():
    with pytest.raises(ts.SmokeTestError, match="not in the server's repository; models there: other"):
        run({"model_ready": False, "index": [{"name": "other", "version": "1", "state": "READY"}]})


def test_unavailable_model_gives_the_servers_reason():
    with pytest.raises(ts.SmokeTestError, match="state UNAVAILABLE: bad config"):
        run({"model_ready": False, "index": [{"name": "m", "state": "UNAVAILABLE", "reason": "bad config"}]})


def test_metadata_is_checked_against_the_package(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.pbtxt").write_text(tc.render(CONFIG))
    assert run(model_repository=str(tmp_path))["checked_against_package"] is True
    other = dict(META, inputs=[{"name": "input", "datatype": "FP16", "shape": [-1, 3, 8, 8]}])
    with pytest.raises(ts.SmokeTestError, match="differs from the packaged one: input 'input' is FP16"):
        run({"meta": other}, model_repository=str(tmp_path))


def test_missing_package_config_says_to_run_the_model_stage(tmp_path):
    with pytest.raises(ts.SmokeTestError, match="run the model stage first"):
        run(model_repository=str(tmp_path))


@pytest.mark.parametrize(
    "client_kwargs, message",
    [
        ({"logits": np.full((1, 5), np.nan, np.float32)}, "NaN"),
        ({"logits": np.zeros((1, 7), np.float32)}, "malformed output 'logits': shape"),
        ({"json_logits": np.zeros((1, 5), np.float32)}, "differs between binary tensors over HTTP and JSON tensors"),
    ],
)
def test_malformed_outputs_fail(client_kwargs, message):
    with pytest.raises(ts.SmokeTestError, match=message):
        run(client_kwargs)


def test_missing_output_fails():
    class NoOutput(FakeClient):
        def infer(self, *args, **kwargs):
            return FakeResult({})

    test = ts.SmokeTest(params(), client_factory=lambda url, **kw: NoOutput(url), clock=lambda: 0, sleep=lambda s: None)
    with pytest.raises(ts.SmokeTestError, match="output 'logits' is missing"):
        test.run()


def test_result_file_is_written_for_a_failure_too(tmp_path, monkeypatch):
    out = tmp_path / "smoke.json"

    class Down(FakeClient):
        def is_server_live(self):
            raise ConnectionRefusedError("refused")

    monkeypatch.setattr(ts.triton_http, "InferenceServerClient", lambda url, **kw: Down(url))
    monkeypatch.setattr(ts.time, "sleep", lambda s: None)
    with pytest.raises(ts.SmokeTestError):
        ts.run_smoke_test(params(output_file=str(out), ready_timeout=0))
    record = json.loads(out.read_text())
    assert record["passed"] is False and "refused" in record["error"]


def test_check_mode_writes_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(ts.triton_http, "InferenceServerClient", lambda url, **kw: FakeClient(url))
    out = tmp_path / "smoke.json"
    assert ts.run_smoke_test(params(output_file=str(out)), check_mode=True)["passed"] is True
    assert not out.exists()


def test_synthetic_image_is_deterministic_and_image_like():
    a = ts.synthetic_image([2, 3, 16, 16])
    assert np.array_equal(a, ts.synthetic_image([2, 3, 16, 16]))
    assert a.dtype == np.float32 and a.shape == (2, 3, 16, 16)
    assert np.array_equal(a[0], a[1])
    assert a.std() > 0.1
    nhwc = ts.synthetic_image([1, 16, 16, 3], "UINT8")
    assert nhwc.dtype == np.uint8 and nhwc.max() <= 255


def test_concrete_shape_and_urls():
    assert ts.concrete_shape([-1, 3, -1, -1], 2, "x") == [2, 3, 224, 224]
    with pytest.raises(ts.SmokeTestError, match="variable dimension"):
        ts.concrete_shape([-1, -1], 1, "x")
    assert ts.normalize_url("https://triton.example.com/") == ("triton.example.com", True)
    assert ts.normalize_url("127.0.0.1:8000") == ("127.0.0.1:8000", False)


def test_softmax_top_k_keeps_probabilities():
    probs = ts.softmax_top_k([0.1, 0.7, 0.2], 2)
    assert [p["index"] for p in probs] == [1, 2] and probs[0]["score"] == 0.7
    logits = ts.softmax_top_k([1.0, 3.0, 2.0], 3)
    assert abs(sum(p["score"] for p in logits) - 1.0) < 1e-5
