"""Model building and validation (plugins/module_utils/onnx_model.py)."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from ansible_collections.gpu_e2e.platform.plugins.module_utils import onnx_model
from ansible_collections.gpu_e2e.platform.plugins.module_utils.onnx_model import OnnxModelError


@pytest.fixture(scope="module")
def mobilenet():
    return onnx_model.build_builtin("mobilenetv2", seed=0)


def relu_model(ir_version=8, opset=17, batch="batch", elem=TensorProto.FLOAT):
    x = helper.make_tensor_value_info("x", elem, [batch, 4])
    y = helper.make_tensor_value_info("y", elem, [batch, 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    return model


def test_builtin_is_deterministic_and_seed_dependent(mobilenet):
    assert onnx_model.build_builtin("mobilenetv2", seed=0) == mobilenet
    assert onnx_model.build_builtin("mobilenetv2", seed=1) != mobilenet


def test_builtin_mobilenet_signature_and_inference(mobilenet):
    info = onnx_model.inspect_model(mobilenet)
    assert info["ir_version"] == 8 and info["opset"] == 17
    assert info["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 3, 224, 224]}]
    assert info["outputs"] == [{"name": "logits", "datatype": "FP32", "shape": [-1, 1000]}]
    assert 10_000_000 < info["bytes"] < 20_000_000  # MobileNetV2: ~3.5M parameters
    session = ort.InferenceSession(mobilenet, providers=["CPUExecutionProvider"])
    out = session.run(None, {"input": np.zeros((2, 3, 224, 224), np.float32)})[0]
    assert out.shape == (2, 1000) and np.all(np.isfinite(out))


def test_builtin_says_its_weights_are_random(mobilenet):
    model = onnx.load_from_string(mobilenet)
    assert "RANDOM" in model.doc_string


def test_resnet50_builds_to_the_real_size():
    data = onnx_model.build_builtin("resnet50", seed=0)
    info = onnx_model.inspect_model(data)
    assert 95_000_000 < info["bytes"] < 110_000_000  # ResNet50: ~25.5M parameters
    assert info["outputs"][0]["shape"] == [-1, 1000]


def test_unknown_architecture():
    with pytest.raises(OnnxModelError, match="unknown architecture 'vgg'"):
        onnx_model.build_builtin("vgg")


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "is empty"),
        (b"this is plain text, not a model", "not an ONNX model or is corrupt"),
        (b"\x08\x07", r"not an ONNX model \(no graph"),
    ],
)
def test_refuses_what_is_not_onnx(data, message):
    with pytest.raises(OnnxModelError, match=message):
        onnx_model.inspect_model(data, label="upload.onnx")


def test_refuses_a_truncated_file(mobilenet):
    with pytest.raises(OnnxModelError, match="not an ONNX model or is corrupt"):
        onnx_model.inspect_model(mobilenet[: len(mobilenet) // 3])


def test_refuses_a_graph_onnx_checker_rejects():
    model = relu_model()
    model.graph.node[0].input[0] = "nowhere"  # an undefined input
    with pytest.raises(OnnxModelError, match="fails onnx.checker"):
        onnx_model.inspect_model(model.SerializeToString())


def test_refuses_an_ir_version_onnxruntime_cannot_load():
    limits = onnx_model.runtime_limits()
    data = relu_model(ir_version=limits["ir_version"] + 1).SerializeToString()
    with pytest.raises(OnnxModelError, match=rf"IR version {limits['ir_version'] + 1}; onnxruntime .* at most"):
        onnx_model.inspect_model(data)


def test_refuses_an_opset_onnxruntime_cannot_load():
    limits = onnx_model.runtime_limits()
    if limits["opset"] >= onnx.defs.onnx_opset_version():
        pytest.skip("this onnxruntime supports every opset the installed onnx knows")
    data = relu_model(ir_version=10, opset=limits["opset"] + 1).SerializeToString()
    with pytest.raises(OnnxModelError, match=f"opset {limits['opset'] + 1}"):
        onnx_model.inspect_model(data)


def test_runtime_limits_are_probed_from_onnxruntime():
    limits = onnx_model.runtime_limits()
    assert limits["onnxruntime"] == ort.__version__
    assert 8 <= limits["ir_version"] <= onnx.IR_VERSION
    assert 17 <= limits["opset"] <= onnx.defs.onnx_opset_version()


def test_error_messages_are_one_line():
    with pytest.raises(OnnxModelError) as excinfo:
        onnx_model.inspect_model(b"garbage" * 100)
    assert "\n" not in str(excinfo.value)


def test_batch_dims_strip_the_batch_dimension():
    signature = [{"name": "x", "datatype": "FP32", "shape": [-1, 3, 224, 224]}]
    assert onnx_model.batch_dims(signature, 8) == [{"name": "x", "data_type": "TYPE_FP32", "dims": [3, 224, 224]}]
    assert onnx_model.batch_dims(signature, 0)[0]["dims"] == [-1, 3, 224, 224]


def test_a_fixed_batch_dimension_cannot_batch():
    signature = [{"name": "x", "datatype": "FP32", "shape": [1, 3, 224, 224]}]
    with pytest.raises(OnnxModelError, match="set max_batch_size to 0"):
        onnx_model.batch_dims(signature, 8)


def test_datatypes_map_to_triton_names():
    info = onnx_model.inspect_model(relu_model(elem=TensorProto.FLOAT16).SerializeToString())
    assert info["inputs"][0]["datatype"] == "FP16"
    assert onnx_model.triton_config_type("BYTES") == "TYPE_STRING"
