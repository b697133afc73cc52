"""Triton HTTP/REST v2 inference requests with the binary tensor extension.

A binary request body is the JSON inference header followed by the raw tensor
bytes; the header's length is sent in `Inference-Header-Content-Length`, and each
input declares its byte count in `parameters.binary_data_size`. Outputs are asked
for as binary too, so the response is parsed the same way. This is what
tritonclient sends by default, built here without tritonclient so that one
FastHttpUser request costs little CPU on the load generator.
"""

from __future__ import annotations

import json
import random
import struct
import sys
from array import array

HEADER = "Inference-Header-Content-Length"

# Triton datatype -> (array typecode or struct format, kind). BYTES is not supported.
DTYPES = {
    "BOOL": ("B", "bool"),
    "UINT8": ("B", "int"),
    "UINT16": ("H", "int"),
    "UINT32": ("I", "int"),
    "UINT64": ("Q", "int"),
    "INT8": ("b", "int"),
    "INT16": ("h", "int"),
    "INT32": ("i", "int"),
    "INT64": ("q", "int"),
    "FP16": ("e", "float"),
    "FP32": ("f", "float"),
    "FP64": ("d", "float"),
}


class CodecError(ValueError):
    """The model metadata or a response cannot be used."""


def concrete_shape(shape, batch_size, batched):
    """(dims, inferences) with the batch dimension set to `batch_size`.

    A batching model (max_batch_size > 0) gets the batch dimension prepended or its -1 replaced;
    a non-batching model with a leading -1 (dynamic first dimension) gets it replaced too. Any other
    -1 is not supported.
    """
    dims = [int(d) for d in shape]
    inferences = 1
    if batched and (not dims or dims[0] != -1):
        dims = [batch_size, *dims]
        inferences = batch_size
    elif dims and dims[0] == -1:
        dims[0] = batch_size
        inferences = batch_size
    if any(d < 0 for d in dims):
        raise CodecError(f"input shape {shape} has a dynamic dimension other than the batch")
    return dims, inferences


def random_tensor(datatype, shape, seed=0):
    """Little-endian bytes of a random tensor (standard normal floats, small integers)."""
    if datatype not in DTYPES:
        raise CodecError(f"datatype {datatype} is not supported by the load generator")
    code, kind = DTYPES[datatype]
    count = 1
    for dim in shape:
        count *= int(dim)
    rng = random.Random(seed)  # noqa: S311 - test payload, not cryptography
    if kind == "float":
        values = [rng.gauss(0.0, 1.0) for _index in range(count)]
    elif kind == "bool":
        values = [rng.randint(0, 1) for _index in range(count)]
    else:
        values = [rng.randint(0, 100) for _index in range(count)]
    if code == "e":  # no array typecode for half floats
        return struct.pack(f"<{count}e", *values)
    data = array(code, values)
    if sys.byteorder != "little":
        data.byteswap()
    return data.tobytes()


def _item_bytes(datatype, shape, inferences):
    count = 1
    for dim in shape:
        count *= int(dim)
    return count // max(1, inferences) * struct.calcsize("<" + DTYPES[datatype][0])


def build_request(metadata, batch_size=1, batched=True, seed=0, input_bytes=None):
    """Build (body bytes, headers, inferences per request) from the model's metadata.

    `metadata` is the JSON of GET /v2/models/<name>; `batched` is whether the model's
    max_batch_size is > 0 (its inputs then carry a dynamic batch dimension).
    `input_bytes`: the raw little-endian tensor of ONE inference for the first input (a real
    image preprocessed as the model records it), repeated for each inference of the batch;
    without it the inputs are random.
    """
    inputs = metadata.get("inputs") or []
    if not inputs:
        raise CodecError(f"model {metadata.get('name')!r} declares no inputs")
    header_inputs = []
    blobs = []
    per_request = 1
    for index, spec in enumerate(inputs):
        shape, per_request = concrete_shape(spec["shape"], batch_size, batched)
        if index == 0 and input_bytes is not None:
            if spec["datatype"] not in DTYPES:
                raise CodecError(f"datatype {spec['datatype']} is not supported by the load generator")
            want = _item_bytes(spec["datatype"], shape, per_request)
            if len(input_bytes) != want:
                raise CodecError(
                    f"the input file holds {len(input_bytes)} bytes; one inference of input '{spec['name']}' "
                    f"({spec['datatype']} {shape} for {per_request} inference(s)) needs {want}")
            raw = bytes(input_bytes) * per_request
        else:
            raw = random_tensor(spec["datatype"], shape, seed=seed + index)
        header_inputs.append(
            {
                "name": spec["name"],
                "shape": shape,
                "datatype": spec["datatype"],
                "parameters": {"binary_data_size": len(raw)},
            }
        )
        blobs.append(raw)
    outputs = [{"name": spec["name"], "parameters": {"binary_data": True}} for spec in metadata.get("outputs") or []]
    header = {"inputs": header_inputs}
    if outputs:
        header["outputs"] = outputs
    header_bytes = json.dumps(header, separators=(",", ":")).encode()
    body = header_bytes + b"".join(blobs)
    headers = {"Content-Type": "application/octet-stream", HEADER: str(len(header_bytes))}
    return body, headers, per_request


def parse_response(body, header_length=None):
    """Check an inference response; return its JSON header.

    With `header_length` (the response's Inference-Header-Content-Length) the body
    is a JSON header followed by binary outputs whose sizes must add up.
    """
    if header_length is None:
        head, rest = body, b""
    else:
        try:
            length = int(header_length)
        except (TypeError, ValueError) as exc:
            raise CodecError(f"bad {HEADER}: {header_length!r}") from exc
        if length > len(body):
            raise CodecError(f"{HEADER} {length} exceeds the body ({len(body)} bytes)")
        head, rest = body[:length], body[length:]
    try:
        doc = json.loads(head)
    except ValueError as exc:
        raise CodecError(f"response header is not JSON: {head[:120]!r}") from exc
    if "error" in doc:
        raise CodecError(f"server error: {doc['error']}")
    outputs = doc.get("outputs")
    if not outputs:
        raise CodecError("response has no outputs")
    expected = sum(int((o.get("parameters") or {}).get("binary_data_size", 0)) for o in outputs)
    if expected != len(rest):
        raise CodecError(f"binary outputs declare {expected} bytes, body carries {len(rest)}")
    return doc
