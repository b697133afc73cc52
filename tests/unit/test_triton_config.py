"""config.pbtxt: build, render, parse (plugins/module_utils/triton_config.py)."""

import pytest

from ansible_collections.gpu_e2e.platform.plugins.module_utils import triton_config as tc

INPUTS = [{"name": "input", "data_type": "TYPE_FP32", "dims": [3, 224, 224]}]
OUTPUTS = [{"name": "logits", "data_type": "TYPE_FP32", "dims": [1000]}]

# A configuration in the style of Triton's documentation, written by hand.
HANDWRITTEN = """
name: "densenet_onnx"   # trailing comment
platform: "onnxruntime_onnx"
max_batch_size : 0
input [
  {
    name: "data_0"
    data_type: TYPE_FP32
    format: FORMAT_NCHW
    dims: [ 3, 224, 224 ]
    reshape { shape: [ 1, 3, 224, 224 ] }
  }
]
output { name: "fc6_1" data_type: TYPE_FP32 dims: 1000 label_filename: "densenet_labels.txt" }
output { name: "aux" data_type: TYPE_INT64 dims: [ 1 ] }
instance_group [ { kind: KIND_GPU count: 2 gpus: [ 0 ] } ]
optimization { execution_accelerators {
  gpu_execution_accelerator : [ {
    name : "tensorrt"
    parameters { key: "precision_mode" value: "FP16" }
    parameters { key: "max_workspace_size_bytes" value: "1073741824" }
  } ]
}}
parameters: { key: "intra_op_thread_count" value: { string_value: "2" } }
"""


def test_render_is_stable_and_round_trips():
    config = tc.model_config("mobilenetv2", INPUTS, OUTPUTS, preferred_batch_sizes=[8, 4], intra_op_threads=2)
    text = tc.render(config)
    assert text == tc.render(tc.model_config("mobilenetv2", INPUTS, OUTPUTS, preferred_batch_sizes=[4, 8],
                                             intra_op_threads=2))
    assert tc.parse(text) == config


def test_rendered_config_has_the_triton_fields():
    text = tc.render(tc.model_config("m", INPUTS, OUTPUTS, max_batch_size=16, preferred_batch_sizes=[4, 16],
                                     max_queue_delay_us=250, max_queue_size=64, instance_kind="KIND_GPU",
                                     instance_count=2, tensorrt_fp16=True))
    for line in ('name: "m"', 'platform: "onnxruntime_onnx"', "max_batch_size: 16", "data_type: TYPE_FP32",
                 "dims: [ 3, 224, 224 ]", "preferred_batch_size: [ 4, 16 ]", "max_queue_delay_microseconds: 250",
                 "max_queue_size: 64", "kind: KIND_GPU", "count: 2", 'name: "tensorrt"', 'value: "FP16"'):
        assert line in text


def test_no_dynamic_batching_without_batching():
    config = tc.model_config("m", INPUTS, OUTPUTS, max_batch_size=0)
    assert "dynamic_batching" not in config
    assert "max_batch_size: 0" in tc.render(config)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "bad name"}, "model name"),
        ({"max_batch_size": -1}, "max_batch_size"),
        ({"preferred_batch_sizes": [16]}, "outside 1..max_batch_size"),
        ({"instance_kind": "KIND_TPU"}, "instance kind"),
        ({"tensorrt_fp16": True}, "needs instance kind KIND_GPU"),
        ({"instance_count": 0}, "instance count"),
    ],
)
def test_invalid_configs_are_refused(kwargs, message):
    args = dict({"name": "m", "inputs": INPUTS, "outputs": OUTPUTS}, **kwargs)
    with pytest.raises(tc.TritonConfigError, match=message):
        tc.model_config(**args)


def test_parse_handwritten_config():
    config = tc.parse(HANDWRITTEN)
    assert config["max_batch_size"] == 0
    assert config["input"][0]["dims"] == [3, 224, 224]
    assert config["input"][0]["reshape"] == {"shape": [1, 3, 224, 224]}
    assert [o["name"] for o in config["output"]] == ["fc6_1", "aux"]
    assert config["output"][0]["dims"] == [1000]  # a single value of a repeated field is a list
    assert config["instance_group"] == [{"kind": "KIND_GPU", "count": 2, "gpus": [0]}]
    accel = config["optimization"]["execution_accelerators"]["gpu_execution_accelerator"][0]
    # A protobuf map (Triton's schema) has no order: entries come back by key.
    assert accel["parameters"] == [{"key": "max_workspace_size_bytes", "value": "1073741824"},
                                   {"key": "precision_mode", "value": "FP16"}]
    assert config["parameters"] == [{"key": "intra_op_thread_count", "value": {"string_value": "2"}}]


@pytest.mark.parametrize("text", ['name: "x" input [ { name: "a" ', "name: @", 'name "x" }'])
def test_parse_errors_name_the_problem(text):
    with pytest.raises(tc.TritonConfigError):
        tc.parse(text)


def test_io_signature_adds_the_batch_dimension():
    inputs, outputs = tc.io_signature(tc.model_config("m", INPUTS, OUTPUTS, max_batch_size=8))
    assert inputs == [{"name": "input", "datatype": "FP32", "shape": [-1, 3, 224, 224]}]
    assert outputs == [{"name": "logits", "datatype": "FP32", "shape": [-1, 1000]}]
    strings = {"max_batch_size": 0, "input": [{"name": "s", "data_type": "TYPE_STRING", "dims": [1]}]}
    assert tc.io_signature(strings)[0] == [{"name": "s", "datatype": "BYTES", "shape": [1]}]


@pytest.mark.parametrize("text, message", [
    ('name: "m"\nmax_batch_size: 8\ninstance_group [ { count: 1 kind: KIND_CPU } ]\ndynamic_batching { '
     'max_queue_delay_microsecond: 100 }\n', "max_queue_delay_microsecond"),
    ('name: "m"\ninput [ { name: "x" data_typ: TYPE_FP32 dims: [ 1 ] } ]\n', "data_typ"),
    ('name: "m"\ninput [ { name: "x" data_type: TYPE_FP33 dims: [ 1 ] } ]\n', "TYPE_FP33"),
])
def test_triton_schema_rejects_a_misspelt_field_or_value_in_a_file(text, message):
    """The hand-written parser this replaced accepted any field name; Triton's ModelConfig does not."""
    with pytest.raises(tc.TritonConfigError, match=message):
        tc.parse(text)


def test_a_misspelt_field_is_refused_before_anything_is_written():
    config = tc.model_config("m", INPUTS, OUTPUTS)
    config["dynamic_batching"]["max_queue_delay_microsecond"] = config["dynamic_batching"].pop(
        "max_queue_delay_microseconds")
    with pytest.raises(tc.TritonConfigError, match="no field 'max_queue_delay_microsecond'"):
        tc.render(config)
    config = tc.model_config("m", INPUTS, OUTPUTS, max_batch_size=0)
    config["instance_group"][0]["kind"] = "KIND_TPU"
    with pytest.raises(tc.TritonConfigError, match="KIND_TPU"):
        tc.render(config)


def test_tensorrt_parameters_round_trip():
    config = tc.model_config("m", INPUTS, OUTPUTS, instance_kind="KIND_GPU", tensorrt_fp16=True,
                             parameters=[{"key": "a_key", "value": {"string_value": "x"}}], intra_op_threads=2)
    assert tc.parse(tc.render(config)) == config
