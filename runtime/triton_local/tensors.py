# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inference request decoding and response encoding (KServe v2 / Triton HTTP).

Both tensor encodings, both directions:
- JSON: `data` holds the values (flat or nested, row-major).
- Binary tensor extension: the body is a JSON header of
  `Inference-Header-Content-Length` bytes followed by the raw tensors in
  input order; each binary input says `parameters.binary_data_size`. Outputs
  asked with `parameters.binary_data: true` (or the request-level
  `binary_data_output`) come back the same way.
- Classification extension: `parameters.classification: k` on an output
  returns the top k as BYTES "score:index".
Binary inputs are not copied: numpy views the request body.
"""

from __future__ import annotations

import struct

import numpy as np
import orjson

DTYPES = {
    "BOOL": np.dtype(np.bool_), "UINT8": np.dtype(np.uint8), "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32), "UINT64": np.dtype(np.uint64), "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16), "INT32": np.dtype(np.int32), "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16), "FP32": np.dtype(np.float32), "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
DATATYPE_OF = {dtype: name for name, dtype in DTYPES.items() if name != "BYTES"}
ONNX_TYPES = {
    "tensor(bool)": "BOOL", "tensor(uint8)": "UINT8", "tensor(uint16)": "UINT16", "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64", "tensor(int8)": "INT8", "tensor(int16)": "INT16", "tensor(int32)": "INT32",
    "tensor(int64)": "INT64", "tensor(float16)": "FP16", "tensor(float)": "FP32", "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
}
JSON_NUMPY = orjson.OPT_SERIALIZE_NUMPY


class RequestError(ValueError):
    """A malformed or unacceptable inference request (HTTP 400)."""


def datatype_of(array):
    if array.dtype == object or array.dtype.kind in "SU":
        return "BYTES"
    try:
        return DATATYPE_OF[array.dtype.newbyteorder("=")]
    except KeyError as exc:
        raise RequestError(f"output dtype {array.dtype} has no Triton datatype") from exc


def _shape(value, where):
    if not isinstance(value, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                              for d in value):
        raise RequestError(f"{where}: 'shape' must be a list of non-negative integers")
    return value


def _count(shape):
    count = 1
    for dim in shape:
        count *= dim
    return count


def _decode_bytes_binary(body, offset, size, count, where):
    values = []
    pos = offset
    end = offset + size
    while pos < end:
        if pos + 4 > end:
            raise RequestError(f"{where}: truncated BYTES element length")
        (length,) = struct.unpack_from("<I", body, pos)
        pos += 4
        if pos + length > end:
            raise RequestError(f"{where}: truncated BYTES element")
        values.append(bytes(body[pos : pos + length]))
        pos += length
    if len(values) != count:
        raise RequestError(f"{where}: expected {count} BYTES elements, got {len(values)}")
    return np.array(values, dtype=object)


def _decode_json_data(data, datatype, count, where):
    if datatype == "BYTES":
        flat = _flatten(data)
        array = np.array([v.encode("utf-8") if isinstance(v, str) else v for v in flat], dtype=object)
    else:
        try:
            array = np.asarray(data, dtype=DTYPES[datatype])
        except (ValueError, TypeError, OverflowError) as exc:
            raise RequestError(f"{where}: unable to parse 'data' as {datatype}: {exc}") from exc
    if array.size != count:
        raise RequestError(f"{where}: 'data' has {array.size} elements, shape needs {count}")
    return array


def _flatten(data):
    if not isinstance(data, list):
        return [data]
    out = []
    for item in data:
        out.extend(_flatten(item))
    return out


def decode(body, header_length):
    """Parse the request: (json document, {name: array}, [(name, shape, datatype)])."""
    if header_length is not None:
        if header_length < 0 or header_length > len(body):
            raise RequestError(
                f"Inference-Header-Content-Length {header_length} is outside the body ({len(body)} bytes)")
        header = memoryview(body)[:header_length]
    else:
        header = body
        header_length = len(body)
    try:
        doc = orjson.loads(header)
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"failed to parse the request JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise RequestError("the request JSON must be an object")
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise RequestError("the request must carry a non-empty 'inputs' list")
    offset = header_length
    arrays = {}
    for index, item in enumerate(inputs):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise RequestError(f"input #{index} must be an object with a 'name'")
        name = item["name"]
        where = f"input '{name}'"
        if name in arrays:
            raise RequestError(f"{where} is given twice")
        shape = _shape(item.get("shape"), where)
        datatype = item.get("datatype")
        if datatype not in DTYPES:
            raise RequestError(f"{where}: unsupported datatype '{datatype}'")
        count = _count(shape)
        params = item.get("parameters") or {}
        if not isinstance(params, dict):
            raise RequestError(f"{where}: 'parameters' must be an object")
        size = params.get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise RequestError(f"{where}: binary_data_size must be a non-negative integer")
            if offset + size > len(body):
                raise RequestError(f"{where}: binary_data_size {size} runs past the end of the request body")
            if datatype == "BYTES":
                array = _decode_bytes_binary(body, offset, size, count, where)
            else:
                dtype = DTYPES[datatype]
                if size != count * dtype.itemsize:
                    raise RequestError(
                        f"{where}: unexpected byte size {size}, shape {shape} of {datatype} needs "
                        f"{count * dtype.itemsize}")
                array = np.frombuffer(body, dtype=dtype, count=count, offset=offset)
                if offset % dtype.itemsize:  # a JSON header of odd length leaves the tensor unaligned
                    array = array.copy()
            offset += size
        elif "data" in item:
            array = _decode_json_data(item["data"], datatype, count, where)
        else:
            raise RequestError(f"{where} has neither 'data' nor parameters.binary_data_size")
        arrays[name] = array.reshape(shape)
    if offset != len(body):
        raise RequestError(f"unexpected {len(body) - offset} bytes of binary data after the last input")
    return doc, arrays


def requested_outputs(doc, all_outputs):
    """[(name, binary, class_count)] for the response, in request order (all outputs when none asked)."""
    params = doc.get("parameters") or {}
    if not isinstance(params, dict):
        raise RequestError("request 'parameters' must be an object")
    default_binary = bool(params.get("binary_data_output", False))
    asked = doc.get("outputs")
    if asked is None:
        return [(name, default_binary, 0) for name in all_outputs]
    if not isinstance(asked, list):
        raise RequestError("'outputs' must be a list")
    result = []
    for item in asked:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise RequestError("each requested output must be an object with a 'name'")
        if item["name"] not in all_outputs:
            raise RequestError(f"unexpected inference output '{item['name']}' for model")
        oparams = item.get("parameters") or {}
        if not isinstance(oparams, dict):
            raise RequestError(f"output '{item['name']}': 'parameters' must be an object")
        classes = oparams.get("classification", 0)
        if not isinstance(classes, int) or isinstance(classes, bool) or classes < 0:
            raise RequestError(f"output '{item['name']}': classification must be a non-negative integer")
        result.append((item["name"], bool(oparams.get("binary_data", default_binary)), classes))
    return result


def classify(array, k, batched, labels=None):
    """Top-k of each batch row as BYTES "score:index" (Triton's classification extension), with ":label"
    appended when the output has a label_filename (labels: the file's lines)."""
    rows = array.reshape(array.shape[0], -1) if batched else array.reshape(1, -1)
    k = min(k, rows.shape[1])
    top = np.argsort(-rows, axis=1, kind="stable")[:, :k]

    def entry(r, i):
        text = f"{float(rows[r, i]):f}:{int(i)}"
        if labels and int(i) < len(labels):
            text += f":{labels[int(i)]}"
        return text.encode()

    values = np.array([[entry(r, i) for i in top[r]] for r in range(rows.shape[0])], dtype=object)
    return values if batched else values.reshape(k)


def _bytes_binary(array):
    parts = []
    for value in array.reshape(-1):
        raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
        parts.append(struct.pack("<I", len(raw)))
        parts.append(raw)
    return b"".join(parts)


def encode(model_name, model_version, request_id, outputs):
    """Response (headers, body) for [(name, array, binary)]."""
    entries = []
    binary_parts = []
    for name, array, binary in outputs:
        datatype = datatype_of(array)
        entry = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        if binary:
            if datatype == "BYTES":
                raw = _bytes_binary(array)
            else:
                raw = memoryview(np.ascontiguousarray(array)).cast("B")
            entry["parameters"] = {"binary_data_size": raw.nbytes if isinstance(raw, memoryview) else len(raw)}
            binary_parts.append(raw)
        elif datatype == "BYTES":
            entry["data"] = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                             for v in array.reshape(-1)]
        else:
            entry["data"] = np.ascontiguousarray(array).reshape(-1)
        entries.append(entry)
    doc = {"model_name": model_name, "model_version": model_version, "outputs": entries}
    if request_id is not None:
        doc["id"] = request_id
    header = orjson.dumps(doc, option=JSON_NUMPY)
    if not binary_parts:
        return [("Content-Type", "application/json")], header
    headers = [("Content-Type", "application/octet-stream"), ("Inference-Header-Content-Length", str(len(header)))]
    return headers, [header, *binary_parts]
