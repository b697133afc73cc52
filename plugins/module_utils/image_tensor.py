# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Logic of the image_tensor module: one photo as the packaged model's input tensor, in a file.

The photo is preprocessed as the model's config.pbtxt records it
(image_preprocess.py) and written as the raw little-endian tensor of one
inference of the model's first input: what a client sends in a binary
inference request. The load generator repeats it for each inference of a
batch. Idempotent by content.
"""

from __future__ import annotations

import hashlib
import os

from ansible_collections.gpu_e2e.platform.plugins.module_utils import image_preprocess
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import binary_file
from ansible_collections.gpu_e2e.platform.plugins.module_utils.atomic_write import write_atomic
from ansible_collections.gpu_e2e.platform.plugins.module_utils import known_answer
from ansible_collections.gpu_e2e.platform.plugins.module_utils import triton_config


class ImageTensorError(Exception):
    """The one error type of this file; the module reports its message."""


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write_tensor(params, check_mode=False):
    model_dir = os.path.join(params["model_repository"], params["model_name"])
    config_path = os.path.join(model_dir, "config.pbtxt")
    try:
        with open(config_path, encoding="utf-8") as handle:
            config = triton_config.parse(handle.read())
        spec = image_preprocess.from_config(config)
    except FileNotFoundError as exc:
        raise ImageTensorError(f"the packaged model has no {config_path}: run the model stage first") from exc
    except (triton_config.TritonConfigError, image_preprocess.PreprocessError) as exc:
        raise ImageTensorError(f"{config_path}: {exc}") from exc
    if spec is None:
        return {"changed": False, "written": False,
                "reason": f"{config_path} records no image preprocessing: the load test sends random tensors"}
    inputs, _outputs = triton_config.io_signature(config)
    if len(inputs) != 1:
        raise ImageTensorError(f"{config_path}: an image classifier has one input, this one has {len(inputs)}")
    source = params.get("src")
    if not source:
        try:
            source = known_answer.default_images()[0]["path"]
        except known_answer.KnownAnswerError as exc:
            raise ImageTensorError(str(exc)) from exc
    try:
        tensor = image_preprocess.preprocess(source, spec, inputs[0]["datatype"])
    except image_preprocess.PreprocessError as exc:
        raise ImageTensorError(str(exc)) from exc
    item_shape = [d for d in inputs[0]["shape"] if d != -1] if int(config.get("max_batch_size", 0)) > 0 else None
    if item_shape is not None and list(tensor.shape) != item_shape:
        raise ImageTensorError(
            f"the preprocessed image is {list(tensor.shape)}, input '{inputs[0]['name']}' takes {item_shape}")
    data = tensor.astype("<f4").tobytes()
    dest = params["dest"]
    before = _read(dest)
    changed = before != data
    if changed and not check_mode:
        write_atomic(dest, data)
    return {
        "changed": changed, "diff": binary_file(dest, before, data) if changed else None,
        "written": True, "dest": dest, "src": source, "input": inputs[0]["name"],
        "datatype": inputs[0]["datatype"], "shape": list(tensor.shape), "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(), "preprocessing": spec,
    }
