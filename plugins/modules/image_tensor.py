#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: image_tensor
short_description: Write a photo as the packaged model's input tensor, preprocessed as its config.pbtxt records
version_added: 0.1.0
description:
  - Reads the image preprocessing (colour order, layout, resize, crop, mean and std) that the model stage
    recorded as C(parameters) of C(<model_repository>/<model_name>/config.pbtxt), applies it to one photo and
    writes the raw little-endian tensor of one inference of the model's first input to O(dest).
  - This is the payload a client sends in a binary inference request; the load test repeats it per inference.
  - A model whose config.pbtxt records no preprocessing gets no file; RV(written) is false and RV(reason) says why.
  - Idempotent by content.
author:
  - gpu_e2e platform team (@gpu-e2e)
requirements:
  - numpy
  - pillow
options:
  model_repository:
    description: The Triton model repository on the controller.
    type: path
    required: true
  model_name:
    description: The model in the repository.
    type: str
    required: true
  src:
    description: The photo; scikit-image's CC0 C(coffee.png) by default.
    type: path
  dest:
    description: Where to write the tensor.
    type: path
    required: true
attributes:
  check_mode:
    support: full
    details: "Computes the tensor and compares it with the file, writing nothing."
  diff_mode:
    support: full
    details: "The tensor file as SHA-256 and size, before and after."
  platform:
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
"""

EXAMPLES = r"""
- name: Preprocess the load test's photo as the packaged model records it.
  gpu_e2e.platform.image_tensor:
    model_repository: /srv/models
    model_name: efficientnet_lite0
    dest: /tmp/input.bin
  register: payload
"""

RETURN = r"""
written:
  description: Whether the model records preprocessing and the tensor was (or is) in O(dest).
  returned: always
  type: bool
  sample: true
reason:
  description: Why no tensor was written.
  returned: when RV(written) is false
  type: str
  sample: config.pbtxt records no image preprocessing
dest:
  description: The tensor file.
  returned: when RV(written)
  type: str
  sample: /tmp/input.bin
src:
  description: The photo used.
  returned: when RV(written)
  type: str
  sample: /venv/lib/python3.11/site-packages/skimage/data/coffee.png
input:
  description: The model input the tensor is for.
  returned: when RV(written)
  type: str
  sample: input
datatype:
  description: Triton datatype of the tensor.
  returned: when RV(written)
  type: str
  sample: FP32
shape:
  description: Shape of one inference (no batch dimension).
  returned: when RV(written)
  type: list
  elements: int
  sample: [3, 224, 224]
bytes:
  description: Size of the tensor.
  returned: when RV(written)
  type: int
  sample: 602112
sha256:
  description: SHA-256 of the tensor bytes.
  returned: when RV(written)
  type: str
  sample: 3f2a...
preprocessing:
  description: The preprocessing applied, as read from config.pbtxt.
  returned: when RV(written)
  type: dict
  sample: {"color_order": "RGB", "layout": "NCHW", "crop_size": 224}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.basic import missing_required_lib

from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import exit_result
from ansible_collections.gpu_e2e.platform.plugins.module_utils.image_preprocess import missing_libraries
from ansible_collections.gpu_e2e.platform.plugins.module_utils.image_tensor import ImageTensorError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.image_tensor import write_tensor


def main():
    module = AnsibleModule(
        argument_spec=dict(
            model_repository=dict(type="path", required=True),
            model_name=dict(type="str", required=True),
            src=dict(type="path"),
            dest=dict(type="path", required=True),
        ),
        supports_check_mode=True,
    )
    if missing_libraries():
        module.fail_json(msg=missing_required_lib(" and ".join(missing_libraries())))
    try:
        result = write_tensor(module.params, check_mode=module.check_mode)
    except ImageTensorError as exc:
        module.fail_json(msg=str(exc))
    exit_result(module, **result)


if __name__ == "__main__":
    main()
