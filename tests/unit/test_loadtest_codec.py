"""The Triton binary tensor request codec and the per-stage statistics of the locustfile."""

import json
import math
import struct

import pytest

from gpu_e2e_loadtest import stage_stats
from gpu_e2e_loadtest.triton_codec import HEADER, CodecError, build_request, parse_response

METADATA = {
    "name": "mobilenetv2",
    "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 3, 4, 4]}],
    "outputs": [{"name": "logits", "datatype": "FP32", "shape": [-1, 10]}],
}


def test_binary_request_carries_the_json_header_then_the_raw_tensor():
    body, headers, per_request = build_request(METADATA, batch_size=2, batched=True)
    length = int(headers[HEADER])
    header = json.loads(body[:length])
    assert header["inputs"][0]["shape"] == [2, 3, 4, 4]
    assert header["inputs"][0]["parameters"]["binary_data_size"] == 2 * 3 * 4 * 4 * 4
    assert len(body) - length == 2 * 3 * 4 * 4 * 4
    assert header["outputs"] == [{"name": "logits", "parameters": {"binary_data": True}}]
    assert headers["Content-Type"] == "application/octet-stream"
    assert per_request == 2
    values = struct.unpack("<96f", body[length:])
    assert all(math.isfinite(v) and abs(v) < 10 for v in values)  # standard normal


def test_unbatched_models_keep_their_shape_and_integer_types_work():
    meta = {"name": "m", "inputs": [{"name": "ids", "datatype": "INT64", "shape": [5]}], "outputs": []}
    body, headers, per_request = build_request(meta, batch_size=8, batched=False)
    length = int(headers[HEADER])
    assert json.loads(body[:length])["inputs"][0]["shape"] == [5]
    assert len(body) - length == 5 * 8
    assert per_request == 1


@pytest.mark.parametrize(
    "meta, message",
    [
        ({"name": "m", "inputs": []}, "declares no inputs"),
        ({"name": "m", "inputs": [{"name": "s", "datatype": "BYTES", "shape": [1]}]}, "not supported"),
        ({"name": "m", "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, -1]}]}, "dynamic dimension"),
    ],
)
def test_unusable_metadata_is_refused(meta, message):
    with pytest.raises(CodecError, match=message):
        build_request(meta, 1, True)


def _response(outputs_bytes, declared):
    head = json.dumps({"outputs": [{"name": "logits", "parameters": {"binary_data_size": declared}}]}).encode()
    return head + outputs_bytes, str(len(head))


def test_a_binary_response_must_carry_the_declared_bytes():
    body, length = _response(b"\0" * 40, 40)
    assert parse_response(body, length)["outputs"][0]["name"] == "logits"
    body, length = _response(b"\0" * 39, 40)
    with pytest.raises(CodecError, match="declare 40 bytes"):
        parse_response(body, length)


def test_json_responses_and_server_errors():
    assert parse_response(json.dumps({"outputs": [{"name": "o", "data": [1]}]}).encode())["outputs"]
    with pytest.raises(CodecError, match="server error"):
        parse_response(b'{"error": "model not ready"}')
    with pytest.raises(CodecError, match="no outputs"):
        parse_response(b"{}")
    with pytest.raises(CodecError, match="not JSON"):
        parse_response(b"<html>")


class Entry:
    def __init__(self, num_requests, num_failures, response_times, total):
        self.num_requests = num_requests
        self.num_failures = num_failures
        self.response_times = response_times
        self.total_response_time = total


def test_stage_delta_isolates_the_window_like_locust_would():
    # Locust's histogram buckets are rounded milliseconds; percentiles are walked from the slowest bucket.
    before = stage_stats.snapshot(Entry(100, 1, {10: 90, 50: 10}, 1400.0), now=1000.0)
    after = stage_stats.snapshot(Entry(310, 3, {10: 190, 50: 60, 90: 60}, 10300.0), now=1010.0)
    delta = stage_stats.delta(before, after, "c4", 4)
    assert delta["requests"] == 210 and delta["failures"] == 2
    assert delta["rps"] == 21.0
    # window histogram: {10: 100, 50: 50, 90: 60}
    assert delta["latency_ms"]["p50"] == 50
    assert delta["latency_ms"]["p95"] == 90 and delta["latency_ms"]["p99"] == 90
    assert delta["latency_ms"]["avg"] == pytest.approx(8900 / 210, abs=1e-3)
    assert stage_stats.percentile({10: 100, 50: 50, 90: 60}, 0.40) == 10


def test_percentile_of_an_empty_window_is_none():
    assert stage_stats.percentile({}, 0.95) is None


def test_stage_percentiles_are_what_locusts_own_function_gives():
    """Locust is imported in a subprocess: importing it gevent-patches the process (see stage_stats)."""
    import os
    import subprocess
    import sys
    import random

    rng = random.Random(7)
    cases = [({rng.randint(1, 400): rng.randint(1, 50) for _bucket in range(rng.randint(1, 30))}, fraction)
             for _case in range(40) for fraction in (0.01, 0.5, 0.95, 0.99, 1.0)]
    script = ("import json, sys\nfrom locust.stats import calculate_response_time_percentile as f\n"
              "cases = json.load(sys.stdin)\n"
              "print(json.dumps([f({int(k): v for k, v in h.items()}, sum(h.values()), q) for h, q in cases]))\n")
    out = subprocess.run([sys.executable, "-c", script], input=json.dumps(cases), capture_output=True, text=True,
                         check=True, timeout=120, env=dict(os.environ, PYTHONWARNINGS="ignore")).stdout
    assert [stage_stats.percentile(h, q) for h, q in cases] == json.loads(out)


def test_a_non_batching_model_with_a_dynamic_first_dimension_gets_the_batch_size():
    meta = {"name": "m", "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 3]}], "outputs": []}
    body, headers, per_request = build_request(meta, batch_size=4, batched=False)
    assert json.loads(body[: int(headers[HEADER])])["inputs"][0]["shape"] == [4, 3]
    assert per_request == 4


def test_a_real_input_file_is_sent_once_per_inference_of_the_batch():
    item = struct.pack("<48f", *range(48))  # one inference of [3, 4, 4]
    body, headers, per_request = build_request(METADATA, batch_size=3, batched=True, input_bytes=item)
    length = int(headers[HEADER])
    header = json.loads(body[:length])
    assert header["inputs"][0]["shape"] == [3, 3, 4, 4] and per_request == 3
    assert body[length:] == item * 3
    assert header["inputs"][0]["parameters"]["binary_data_size"] == 3 * len(item)


def test_an_input_file_of_the_wrong_size_is_refused():
    with pytest.raises(CodecError, match="holds 8 bytes; one inference of input 'input'.* needs 192"):
        build_request(METADATA, batch_size=1, batched=True, input_bytes=b"\0" * 8)


class _Sent(Exception):
    """Raised by the patched transport once tritonclient has built its request."""


def _what_tritonclient_sends(monkeypatch, inputs, outputs):
    from tritonclient.http import InferenceServerClient

    sent = {}

    def capture(self, request_uri, request_body, headers, query_params):
        sent.update(uri=request_uri, body=request_body, headers=headers)
        raise _Sent

    monkeypatch.setattr(InferenceServerClient, "_post", capture)
    client = InferenceServerClient("127.0.0.1:9")  # never connected: the transport is patched
    with pytest.raises(_Sent):
        client.infer("mobilenetv2", inputs, outputs=outputs)
    return sent


def test_the_request_is_byte_for_byte_what_tritonclient_infer_sends(monkeypatch):
    import numpy as np
    from tritonclient.http import InferInput, InferRequestedOutput

    item = struct.pack("<48f", *range(48))
    body, headers, _per_request = build_request(METADATA, batch_size=2, batched=True, input_bytes=item)
    tensor = np.frombuffer(item * 2, dtype="<f4").reshape(2, 3, 4, 4)
    infer_input = InferInput("input", [2, 3, 4, 4], "FP32")
    infer_input.set_data_from_numpy(tensor, binary_data=True)
    sent = _what_tritonclient_sends(monkeypatch, [infer_input], [InferRequestedOutput("logits", binary_data=True)])
    assert body == sent["body"]
    assert headers[HEADER] == str(sent["headers"][HEADER])
    # Decoded the way Triton reads it (header, then each input's binary_data_size bytes), the tensor is the file's.
    length = int(headers[HEADER])
    spec = json.loads(body[:length])["inputs"][0]
    decoded = np.frombuffer(body[length:length + spec["parameters"]["binary_data_size"]], dtype="<f4")
    assert np.array_equal(decoded.reshape(spec["shape"]), tensor)


def _triton_response(values, shape=(1, 10), declared_shape=None):
    import numpy as np

    raw = np.asarray(values, dtype="<f4").tobytes()
    head = json.dumps({"model_name": "mobilenetv2", "model_version": "1", "outputs": [
        {"name": "logits", "datatype": "FP32", "shape": list(declared_shape or shape),
         "parameters": {"binary_data_size": len(raw)}}]}).encode()
    return head + raw, str(len(head))


def test_a_response_reads_as_tritonclient_reads_it():
    import numpy as np
    from tritonclient.http import InferenceServerClient

    body, length = _triton_response(range(10))
    doc = parse_response(body, length)
    result = InferenceServerClient.parse_response_body(body, header_length=int(length))
    assert doc == result.get_response()
    assert np.array_equal(result.as_numpy("logits"), np.arange(10, dtype=np.float32).reshape(1, 10))


def test_an_output_that_does_not_fill_its_shape_is_refused():
    body, length = _triton_response(range(10), declared_shape=(1, 1000))
    with pytest.raises(CodecError, match=r"output 'logits' does not decode: cannot reshape array of size 10 into"):
        parse_response(body, length)
