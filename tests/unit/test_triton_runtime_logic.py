"""Pure logic of the runtime: tensor coding and the dynamic batcher's rules (runtime/triton_local)."""

import json
import struct

import numpy as np
import pytest

from triton_local import tensors
from triton_local.model import ModelVersion
from triton_local.tensors import RequestError


def binary_request(arrays, outputs=None):
    inputs = [{"name": n, "shape": list(a.shape), "datatype": tensors.datatype_of(a),
               "parameters": {"binary_data_size": a.nbytes}} for n, a in arrays.items()]
    doc = {"inputs": inputs}
    if outputs is not None:
        doc["outputs"] = outputs
    header = json.dumps(doc).encode()
    return header + b"".join(a.tobytes() for a in arrays.values()), len(header)


def test_binary_inputs_are_decoded_without_copies_when_aligned():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    body, n = binary_request({"x": x})
    body = b" " * ((-n) % 4) + body  # pad the header to a multiple of 4: the tensor is aligned
    n += (-n) % 4
    doc, arrays = tensors.decode(body, n)
    assert np.array_equal(arrays["x"], x)
    assert arrays["x"].base is not None  # a view of the body


def test_unaligned_binary_inputs_are_copied_and_correct():
    x = np.arange(6, dtype=np.float32)
    body, n = binary_request({"x": x})
    if n % 4 == 0:
        body, n = b" " + body, n + 1
    _doc, arrays = tensors.decode(body, n)
    assert np.array_equal(arrays["x"], x)


def test_json_inputs_nested_or_flat():
    doc = {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "INT32", "data": [[1, 2], [3, 4]]},
                      {"name": "y", "shape": [2], "datatype": "BYTES", "data": ["a", "b"]}]}
    _doc, arrays = tensors.decode(json.dumps(doc).encode(), None)
    assert arrays["x"].tolist() == [[1, 2], [3, 4]] and arrays["x"].dtype == np.int32
    assert arrays["y"].tolist() == [b"a", b"b"]


def test_bytes_binary_input():
    raw = b"".join(struct.pack("<I", len(v)) + v for v in (b"ab", b"cde"))
    header = json.dumps({"inputs": [{"name": "s", "shape": [2], "datatype": "BYTES",
                                     "parameters": {"binary_data_size": len(raw)}}]}).encode()
    _doc, arrays = tensors.decode(header + raw, len(header))
    assert arrays["s"].tolist() == [b"ab", b"cde"]


@pytest.mark.parametrize(
    "body, header, message",
    [
        (b"{}", None, "non-empty 'inputs'"),
        (b'{"inputs": [{"name": "x", "shape": [-1], "datatype": "FP32", "data": []}]}', None, "non-negative"),
        (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32"}]}', None, "neither 'data'"),
        (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]}xyz', 5, "JSON"),
        (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]}', 10_000, "outside the body"),
    ],
)
def test_malformed_requests(body, header, message):
    with pytest.raises(RequestError, match=message):
        tensors.decode(body, header)


def test_trailing_binary_data_is_refused():
    body, n = binary_request({"x": np.zeros(2, np.float32)})
    with pytest.raises(RequestError, match="after the last input"):
        tensors.decode(body + b"extra", n)


def test_requested_outputs_and_binary_default():
    doc = {"parameters": {"binary_data_output": True}, "outputs": [{"name": "a"}, {"name": "b",
           "parameters": {"binary_data": False, "classification": 3}}]}
    assert tensors.requested_outputs(doc, ["a", "b"]) == [("a", True, 0), ("b", False, 3)]
    assert tensors.requested_outputs({}, ["a"]) == [("a", False, 0)]
    with pytest.raises(RequestError, match="unexpected inference output 'c'"):
        tensors.requested_outputs({"outputs": [{"name": "c"}]}, ["a"])


def test_encode_binary_and_json():
    y = np.array([[1.5, -2.0]], np.float32)
    headers, parts = tensors.encode("m", "1", "id-1", [("y", y, True)])
    header = json.loads(parts[0])
    assert dict(headers)["Inference-Header-Content-Length"] == str(len(parts[0]))
    assert header["outputs"][0]["parameters"]["binary_data_size"] == 8
    assert header["id"] == "id-1"
    assert np.frombuffer(bytes(parts[1]), np.float32).tolist() == [1.5, -2.0]
    headers, body = tensors.encode("m", "1", None, [("y", y, False)])
    assert json.loads(body)["outputs"][0] == {"name": "y", "datatype": "FP32", "shape": [1, 2], "data": [1.5, -2.0]}


def test_classify_top_k_as_triton_strings():
    out = tensors.classify(np.array([[0.1, 0.9, 0.5]], np.float32), 2, batched=True)
    assert out.tolist() == [[b"0.900000:1", b"0.500000:2"]]


class FakeModel:
    """Just what ModelVersion._form_batch reads."""

    def __init__(self, max_batch, preferred=(), delay_us=100, queue=()):
        self.dynamic = max_batch > 0
        self.max_batch_size = max_batch
        self.preferred = frozenset(preferred)
        self.delay_ns = delay_us * 1000
        self.queue = list(queue)


class P:
    def __init__(self, batch, enqueued_ns=0):
        self.batch_size = batch
        self.enqueued_ns = enqueued_ns


def form(model, now):
    return ModelVersion._form_batch(model, now)


def test_batcher_waits_for_more_within_the_delay():
    count, wait = form(FakeModel(8, queue=[P(1, 0)]), now=20_000)
    assert count == 0 and wait == pytest.approx(80e-6)


def test_batcher_sends_after_the_delay():
    assert form(FakeModel(8, queue=[P(1, 0), P(1, 0)]), now=100_000) == (2, 0.0)


def test_batcher_sends_a_full_batch_at_once():
    assert form(FakeModel(4, queue=[P(2), P(2), P(1)]), now=0) == (2, 0.0)


def test_batcher_sends_a_preferred_size_at_once():
    assert form(FakeModel(8, preferred=[2], queue=[P(1), P(1)]), now=0) == (2, 0.0)


def test_batcher_without_delay_or_batching_sends_immediately():
    assert form(FakeModel(8, delay_us=0, queue=[P(1)]), now=0) == (1, 0.0)
    assert form(FakeModel(0, queue=[P(1), P(1)]), now=0) == (1, 0.0)
