# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Triton model configuration (config.pbtxt): build, render and parse.

The configuration is protobuf text format (Triton's ModelConfig message).
``model_config()`` builds it as a plain dict, ``render()`` writes it in a
stable order (so the file is byte-identical for identical inputs and the
model stage is idempotent), ``parse()`` reads it back (and reads configs
written by hand in the usual Triton style). Pure Python, no dependency.
"""

from __future__ import annotations

import re

# Fields of ModelConfig (and its sub-messages) that are `repeated`: always lists after parse().
REPEATED = frozenset(
    {
        "input", "output", "dims", "instance_group", "preferred_batch_size", "gpus", "parameters",
        "gpu_execution_accelerator", "cpu_execution_accelerator", "profile", "host_policy",
        "model_warmup", "versions",
    }
)
# Enum-valued fields: rendered without quotes.
ENUMS = frozenset({"data_type", "kind", "format", "priority", "timeout_action"})
KINDS = ("KIND_CPU", "KIND_GPU", "KIND_AUTO")
# Key order of the top-level fields, as Triton documents them.
TOP_ORDER = (
    "name", "platform", "backend", "version_policy", "max_batch_size", "input", "output", "dynamic_batching",
    "instance_group", "optimization", "parameters",
)


class TritonConfigError(ValueError):
    """A configuration that cannot be built or parsed."""


# --- build ------------------------------------------------------------------------------------


def model_config(
    name,
    inputs,
    outputs,
    max_batch_size=8,
    preferred_batch_sizes=None,
    max_queue_delay_us=100,
    max_queue_size=128,
    instance_kind="KIND_CPU",
    instance_count=1,
    tensorrt_fp16=False,
    intra_op_threads=0,
    parameters=None,
):
    """The ModelConfig dict of an ONNX model served by Triton's onnxruntime backend.

    inputs/outputs: [{"name", "data_type" (TYPE_FP32), "dims" (without the batch dimension)}], an output
    may carry "label_filename" (Triton's classification extension).
    Dynamic batching is only set when the model batches (max_batch_size > 0).
    parameters: extra `parameters` entries ({key, value: {string_value}}), after the backend's own.
    """
    if not re.match(r"^[A-Za-z0-9_.-]+$", name or ""):
        raise TritonConfigError(f"model name '{name}' must be letters, digits, '_', '.' or '-'")
    if max_batch_size < 0:
        raise TritonConfigError(f"max_batch_size must be >= 0, got {max_batch_size}")
    if instance_kind not in KINDS:
        raise TritonConfigError(f"instance kind must be one of {', '.join(KINDS)}, got '{instance_kind}'")
    if instance_count < 1:
        raise TritonConfigError(f"instance count must be >= 1, got {instance_count}")
    if max_queue_delay_us < 0 or max_queue_size < 0 or intra_op_threads < 0:
        raise TritonConfigError("queue delay, queue size and thread count must be >= 0")
    config = {
        "name": name,
        "platform": "onnxruntime_onnx",
        "backend": "onnxruntime",
        "version_policy": {"latest": {"num_versions": 1}},
        "max_batch_size": int(max_batch_size),
        "input": [dict(t, dims=list(t["dims"])) for t in inputs],
        "output": [dict(t, dims=list(t["dims"])) for t in outputs],
    }
    if max_batch_size > 0:
        preferred = sorted({int(s) for s in (preferred_batch_sizes or [])})
        bad = [s for s in preferred if s < 1 or s > max_batch_size]
        if bad:
            raise TritonConfigError(f"preferred batch sizes {bad} are outside 1..max_batch_size ({max_batch_size})")
        batching = {}
        if preferred:
            batching["preferred_batch_size"] = preferred
        batching["max_queue_delay_microseconds"] = int(max_queue_delay_us)
        if max_queue_size:
            batching["default_queue_policy"] = {"max_queue_size": int(max_queue_size)}
        config["dynamic_batching"] = batching
    config["instance_group"] = [{"count": int(instance_count), "kind": instance_kind}]
    if tensorrt_fp16:
        if instance_kind == "KIND_CPU":
            raise TritonConfigError("the TensorRT FP16 accelerator needs instance kind KIND_GPU")
        config["optimization"] = {
            "execution_accelerators": {
                "gpu_execution_accelerator": [
                    {
                        "name": "tensorrt",
                        "parameters": [
                            {"key": "precision_mode", "value": "FP16"},
                            {"key": "max_workspace_size_bytes", "value": "1073741824"},
                        ],
                    }
                ]
            }
        }
    if intra_op_threads:
        config["parameters"] = [
            {"key": "intra_op_thread_count", "value": {"string_value": str(int(intra_op_threads))}},
        ]
    if parameters:
        config["parameters"] = config.get("parameters", []) + [dict(p) for p in parameters]
    return config


# --- render -----------------------------------------------------------------------------------


def _quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _scalar(key, value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if key in ENUMS:
        return str(value)
    return _quote(value)


def _ordered(message, top):
    if not top:
        return list(message.items())
    keys = [k for k in TOP_ORDER if k in message] + [k for k in message if k not in TOP_ORDER]
    return [(k, message[k]) for k in keys]


def _render_message(message, indent, top=False):
    pad = "  " * indent
    lines = []
    for key, value in _ordered(message, top):
        if value is None:
            continue
        if isinstance(value, dict):
            lines.append(f"{pad}{key} {{")
            lines.extend(_render_message(value, indent + 1))
            lines.append(f"{pad}}}")
        elif isinstance(value, list):
            if value and all(isinstance(v, dict) for v in value):
                lines.append(f"{pad}{key} [")
                for i, item in enumerate(value):
                    lines.append(f"{pad}  {{")
                    lines.extend(_render_message(item, indent + 2))
                    lines.append(f"{pad}  }}{',' if i < len(value) - 1 else ''}")
                lines.append(f"{pad}]")
            else:
                lines.append(f"{pad}{key}: [ {', '.join(_scalar(key, v) for v in value)} ]")
        else:
            lines.append(f"{pad}{key}: {_scalar(key, value)}")
    return lines


def render(config):
    """config.pbtxt text of a ModelConfig dict (stable: same dict, same bytes)."""
    return "\n".join(_render_message(config, 0, top=True)) + "\n"


# --- parse ------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<comment>\#[^\n]*)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<number>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
      | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<punct>[{}\[\]:,;<>])
    )""",
    re.VERBOSE,
)


def _tokenize(text):
    tokens = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            bad = len(text) - len(text[pos:].lstrip())  # where the unexpected text starts
            line = text.count("\n", 0, bad) + 1
            raise TritonConfigError(f"config.pbtxt line {line}: unexpected text {text[bad:bad + 20]!r}")
        pos = match.end()
        kind = match.lastgroup
        if kind == "comment":
            continue
        tokens.append((kind, match.group(kind), text.count("\n", 0, match.start()) + 1))
    return tokens


def _unquote(token):
    body = token[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


class _Parser:
    def __init__(self, text):
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None, None)

    def take(self, expected=None):
        kind, value, line = self.peek()
        if kind is None:
            raise TritonConfigError("config.pbtxt ends too early")
        if expected is not None and value != expected:
            raise TritonConfigError(f"config.pbtxt line {line}: expected '{expected}', found '{value}'")
        self.pos += 1
        return kind, value, line

    def message(self, closing=None):
        result = {}
        while True:
            kind, value, line = self.peek()
            if kind is None:
                if closing:
                    raise TritonConfigError(f"config.pbtxt: missing '{closing}'")
                return result
            if value == closing:
                self.take()
                return result
            if value in (",", ";"):
                self.take()
                continue
            if kind != "ident":
                raise TritonConfigError(f"config.pbtxt line {line}: expected a field name, found '{value}'")
            self.take()
            if self.peek()[1] == ":":
                self.take()
            field_value = self.value(value)
            self._add(result, value, field_value)

    @staticmethod
    def _add(result, key, value):
        if key in result:
            if not isinstance(result[key], list) or key not in REPEATED:
                result[key] = [result[key]] if not isinstance(result[key], list) else result[key]
            result[key].extend(value if isinstance(value, list) else [value])
        elif key in REPEATED and not isinstance(value, list):
            result[key] = [value]
        else:
            result[key] = value

    def value(self, key):
        kind, value, line = self.take()
        if value in ("{", "<"):
            return self.message("}" if value == "{" else ">")
        if value == "[":
            items = []
            while self.peek()[1] != "]":
                if self.peek()[1] == ",":
                    self.take()
                    continue
                items.append(self.value(key))
            self.take("]")
            return items
        if kind == "string":
            parts = [_unquote(value)]
            while self.peek()[0] == "string":  # adjacent strings concatenate
                parts.append(_unquote(self.take()[1]))
            return "".join(parts)
        if kind == "number":
            return float(value) if any(c in value for c in ".eE") else int(value)
        if kind == "ident":
            if value in ("true", "True"):
                return True
            if value in ("false", "False"):
                return False
            return value
        raise TritonConfigError(f"config.pbtxt line {line}: unexpected '{value}' for field '{key}'")


def parse(text):
    """Parse config.pbtxt text into a dict (repeated fields as lists)."""
    return _Parser(text).message()


def io_signature(config):
    """Inputs and outputs of a parsed config as [{name, datatype, shape}] with the batch dimension (-1) added."""
    batched = int(config.get("max_batch_size", 0)) > 0

    def convert(items):
        result = []
        for item in items or []:
            data_type = str(item.get("data_type", ""))
            datatype = "BYTES" if data_type == "TYPE_STRING" else data_type.replace("TYPE_", "", 1)
            dims = [int(d) for d in item.get("dims", [])]
            result.append({"name": item.get("name"), "datatype": datatype, "shape": ([-1] if batched else []) + dims})
        return result

    return convert(config.get("input")), convert(config.get("output"))
