# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Triton model configuration (config.pbtxt): build, render and parse.

The configuration is protobuf text format of Triton's ModelConfig message, and Triton's own schema
decides what is a field: ``parse()`` reads a file with protobuf's ``text_format`` into the
``model_config_pb2.ModelConfig`` that tritonclient ships, and ``render()`` first loads the dict into that
message, so an unknown or misspelt field (or enum value) is refused in both directions.
``model_config()`` builds the configuration as a plain dict (repeated fields and maps as lists, enums
by name), which is what every caller reads.

``render()`` prints the validated dict itself rather than with ``text_format.MessageToString``:
protobuf's printer leaves out fields at their zero value, and ``max_batch_size: 0`` (no batching) is
written out for the reader, as in Triton's documentation. The order is stable, so identical inputs
give a byte-identical file and the model stage stays idempotent.
"""

from __future__ import annotations

import re

try:
    from google.protobuf import text_format
    from google.protobuf.descriptor import FieldDescriptor
    from tritonclient.grpc import model_config_pb2

    HAS_TRITON_SCHEMA = True
except ImportError:  # pragma: no cover - exercised by ansible-test's import sanity test
    HAS_TRITON_SCHEMA = False

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
                            {"key": "max_workspace_size_bytes", "value": "1073741824"},
                            {"key": "precision_mode", "value": "FP16"},
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
    if "parameters" in config:  # a map in Triton's schema: ordered by key, as parse() reads it back
        config["parameters"] = sorted(config["parameters"], key=lambda p: p["key"])
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
    """config.pbtxt text of a ModelConfig dict (stable: same dict, same bytes), checked against Triton's schema."""
    validate(config)
    return "\n".join(_render_message(config, 0, top=True)) + "\n"


# --- schema: Triton's ModelConfig message ---------------------------------------------------


def _schema():
    if not HAS_TRITON_SCHEMA:
        raise TritonConfigError("config.pbtxt is read with Triton's schema: needs the Python libraries "
                                "tritonclient[grpc] and protobuf")
    return model_config_pb2.ModelConfig()


def _is_map(field):
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _is_repeated(field):
    is_repeated = getattr(field, "is_repeated", None)  # protobuf >= 6.31; `label` before
    return is_repeated if is_repeated is not None else field.label == FieldDescriptor.LABEL_REPEATED


def _set_scalar(field, value, where):
    if field.enum_type is not None:
        number = field.enum_type.values_by_name.get(str(value))
        if number is None:
            raise TritonConfigError(f"{where}: {value!r} is not a {field.enum_type.name} value")
        return number.number
    return value


def _fill(message, data, where="ModelConfig"):
    """Load a config dict into a protobuf message; an unknown field or a wrong type is a TritonConfigError."""
    if not isinstance(data, dict):
        raise TritonConfigError(f"{where} must be a mapping, got {data!r}")
    fields = message.DESCRIPTOR.fields_by_name
    for key, value in data.items():
        field = fields.get(key)
        here = f"{where}.{key}"
        if field is None:
            raise TritonConfigError(f"{here}: {message.DESCRIPTOR.name} has no field {key!r} (Triton's schema)")
        try:
            if _is_map(field):
                target = getattr(message, key)
                value_field = field.message_type.fields_by_name["value"]
                for entry in value if isinstance(value, list) else [value]:
                    if value_field.message_type is not None:
                        _fill(target[entry["key"]], entry.get("value") or {}, f"{here}[{entry['key']}]")
                    else:
                        target[entry["key"]] = _set_scalar(value_field, entry["value"], here)
            elif _is_repeated(field):
                items = value if isinstance(value, list) else [value]
                if field.message_type is not None:
                    for item in items:
                        _fill(getattr(message, key).add(), item, here)
                else:
                    getattr(message, key).extend(_set_scalar(field, v, here) for v in items)
            elif field.message_type is not None:
                _fill(getattr(message, key), value, here)
            else:
                setattr(message, key, _set_scalar(field, value, here))
        except (TypeError, ValueError, KeyError) as exc:
            raise TritonConfigError(f"{here}: {exc}") from exc
    return message


def _scalar_of(field, value):
    if field.enum_type is not None:
        return field.enum_type.values_by_number[value].name
    return value


def _to_dict(message):
    """A parsed message as a dict: the fields set in it, repeated fields and maps as lists."""
    result = {}
    for field, value in message.ListFields():
        if _is_map(field):
            value_field = field.message_type.fields_by_name["value"]
            result[field.name] = [
                {"key": k, "value": _to_dict(v) if value_field.message_type is not None else _scalar_of(value_field, v)}
                for k, v in sorted(value.items())]  # a protobuf map has no order: by key
        elif _is_repeated(field):
            result[field.name] = [_to_dict(v) if field.message_type is not None else _scalar_of(field, v)
                                  for v in value]
        elif field.message_type is not None:
            result[field.name] = _to_dict(value)
        else:
            result[field.name] = _scalar_of(field, value)
    return result


def validate(config):
    """The config as Triton's ModelConfig message; TritonConfigError names an unknown field or a bad value."""
    return _fill(_schema(), config)


def parse(text):
    """Parse config.pbtxt text with Triton's schema into a dict (repeated fields as lists).

    ``max_batch_size`` is always present (0, no batching, when the file leaves it out).
    """
    message = _schema()
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as exc:
        raise TritonConfigError(f"config.pbtxt: {exc}") from exc
    config = _to_dict(message)
    config.setdefault("max_batch_size", 0)
    return config


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
