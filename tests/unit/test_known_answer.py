"""The known-answer smoke test: real photos, the package's preprocessing, labels from the server.

A fake tritonclient answers as Triton does, from the packaged model repository: it runs the
packaged model.onnx with onnxruntime and, for an output asked with class_count, returns
Triton's classification strings "score:index:label" with the labels of the repository's
labels.txt (the output's label_filename). So a shuffled labels.txt or a changed
normalisation in config.pbtxt reaches the check exactly as it would on a real server.
"""

import json
import os
import random
import re
import shutil

import numpy as np
import onnxruntime as ort
import pytest

from ansible_collections.gpu_e2e.platform.plugins.module_utils import known_answer as ka
from ansible_collections.gpu_e2e.platform.plugins.module_utils import onnx_package
from ansible_collections.gpu_e2e.platform.plugins.module_utils import triton_config
from ansible_collections.gpu_e2e.platform.plugins.module_utils import triton_smoke as ts

LABELS = os.path.join(os.path.dirname(__file__), "..", "..", "roles", "model", "files", "imagenet_labels.txt")


def package_params(repository, architecture):
    return {
        "name": "m", "repository": str(repository), "source": "builtin", "architecture": architecture, "seed": 0,
        "path": None, "torchvision_model": None, "torchvision_weights": "DEFAULT", "version": 1,
        "max_batch_size": 8, "preferred_batch_sizes": [], "max_queue_delay_microseconds": 100,
        "max_queue_size": 128, "instance_kind": "KIND_CPU", "instance_count": 1, "tensorrt_fp16": False,
        "intra_op_threads": 0, "labels_file": LABELS, "labels_output": None, "preprocessing": None,
    }


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    repository = tmp_path_factory.mktemp("repo")
    onnx_package.package(package_params(repository, "efficientnet_lite0"))
    return repository


@pytest.fixture
def repository(packaged, tmp_path):
    """A private copy of the packaged repository, free to break."""
    copy = tmp_path / "repo"
    shutil.copytree(packaged, copy)
    return copy


class Result:
    def __init__(self, arrays):
        self.arrays = arrays

    def as_numpy(self, name):
        return self.arrays.get(name)


class TritonLike:
    """tritonclient.http's client, answered from a model repository the way Triton does."""

    def __init__(self, repository):
        model_dir = os.path.join(repository, "m")
        with open(os.path.join(model_dir, "config.pbtxt"), encoding="utf-8") as handle:
            self.config = triton_config.parse(handle.read())
        self.session = ort.InferenceSession(os.path.join(model_dir, "1", "model.onnx"),
                                            providers=["CPUExecutionProvider"])
        label_file = self.config["output"][0].get("label_filename")
        self.labels = None
        if label_file:
            with open(os.path.join(model_dir, label_file), encoding="utf-8") as handle:
                self.labels = handle.read().splitlines()
        inputs, outputs = triton_config.io_signature(self.config)
        self.meta = {"name": "m", "versions": ["1"], "platform": "onnxruntime_onnx", "inputs": inputs,
                     "outputs": outputs}
        self.class_counts = []

    def is_server_live(self):
        return True

    is_server_ready = is_server_live

    def is_model_ready(self, name, version=""):
        return True

    def get_model_metadata(self, name, version=""):
        return self.meta

    def get_model_config(self, name, version=""):
        return self.config

    def get_server_metadata(self):
        return {"name": "triton", "version": "2.51.0"}

    def infer(self, model, inputs, model_version="", outputs=None):
        item = inputs[0]
        if item._raw_data is not None:
            tensor = np.frombuffer(item._raw_data, np.float32).reshape(item._shape)
        else:
            tensor = np.asarray(item._data, np.float32).reshape(item._shape)
        logits = self.session.run(None, {item.name(): tensor})[0]
        arrays = {}
        for out in outputs:
            k = out._parameters.get("classification", 0)
            self.class_counts.append(k)
            if not k:
                arrays[out._name] = logits
                continue
            rows = []
            for row in logits:
                top = np.argsort(-row)[:k]
                rows.append([f"{row[i]:f}:{i}" + (f":{self.labels[i]}" if self.labels else "") for i in top])
            arrays[out._name] = np.array([[s.encode() for s in r] for r in rows], dtype=object)
        return Result(arrays)


def smoke(repository, tmp_path=None, **extra):
    params = {"url": "127.0.0.1:8000", "model_name": "m", "model_version": "", "ready_timeout": 1,
              "request_timeout": 5, "model_repository": str(repository), "expected_inputs": None,
              "expected_outputs": None, "batch_size": 1, "warmup": 0, "requests": 1, "top_k": 5,
              "output_name": None, "output_file": str(tmp_path / "smoke.json") if tmp_path else None,
              "validate_certs": True, "images": None, "grpc_url": ""}
    params.update(extra)
    client = TritonLike(repository)
    return ts.run_smoke_test(params, client_factory=lambda url, **kw: client), client


def _set_parameter(repository, key, value):
    path = os.path.join(repository, "m", "config.pbtxt")
    text = open(path, encoding="utf-8").read()
    new = re.sub(rf'(key: "{key}"\s*value \{{\s*string_value: )"[^"]*"', rf'\1"{value}"', text)
    assert new != text
    open(path, "w", encoding="utf-8").write(new)


def test_the_package_records_labels_and_preprocessing(packaged):
    config = triton_config.parse(open(os.path.join(packaged, "m", "config.pbtxt"), encoding="utf-8").read())
    assert config["output"][0]["label_filename"] == "labels.txt"
    params = {p["key"]: p["value"]["string_value"] for p in config["parameters"]}
    assert params["image_mean"] == "127,127,127" and params["image_std"] == "128,128,128"
    assert params["image_crop_size"] == "224" and params["image_layout"] == "NCHW"
    assert json.load(open(os.path.join(packaged, "m", "package.json")))["weights"] == "trained"


def test_coffee_and_chelsea_pass_with_labels_from_the_server(repository, tmp_path):
    result, client = smoke(repository, tmp_path)
    answers = result["known_answer"]
    assert answers["checked"] and answers["passed"]
    coffee, cat = answers["images"]
    assert coffee["image"] == "coffee.png" and coffee["top_5"][0]["label"] == "espresso"
    assert coffee["top_5"][0]["index"] == 967 and len(coffee["top_5"]) == 5
    assert coffee["top_5"][0]["probability"] > 0.5
    assert cat["matched"]["label"] in ("tiger cat", "tabby, tabby cat", "Egyptian cat")
    assert 5 in client.class_counts  # asked Triton for the top-k, not computed locally
    recorded = json.load(open(tmp_path / "smoke.json"))
    assert recorded["known_answer"]["images"][0]["top_5"][0]["label"] == "espresso"


def test_a_shuffled_labels_file_fails_in_one_line(repository, tmp_path):
    """Fails if the labels were not taken from the server's answer or not checked."""
    path = os.path.join(repository, "m", "labels.txt")
    names = open(path, encoding="utf-8").read().splitlines()
    random.Random(1).shuffle(names)
    open(path, "w", encoding="utf-8").write("\n".join(names) + "\n")
    with pytest.raises(ts.SmokeTestError) as caught:
        smoke(repository, tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("known answer: coffee.png: expected 'espresso' as top-1, got top-5: ")
    recorded = json.load(open(tmp_path / "smoke.json"))
    assert recorded["passed"] is False and recorded["known_answer"]["images"][0]["top_5"]


def test_a_swapped_normalisation_fails(repository, tmp_path):
    """Raw 0..255 pixels instead of (x - 127) / 128: the photos lose their answer (fails if the smoke test kept
    its own constants instead of the repository's). ImageNet mean/std, 0..1 scaling or BGR order still give
    the right answer on these photos: this model is robust to them."""
    _set_parameter(repository, "image_mean", "0,0,0")
    _set_parameter(repository, "image_std", "1,1,1")
    with pytest.raises(ts.SmokeTestError, match=r"^known answer: coffee.png: expected 'espresso'"):
        smoke(repository, tmp_path)


def test_a_user_image_with_a_wrong_expectation_names_image_label_and_top_5(repository, tmp_path):
    chelsea = os.path.join(ka.skimage_data_dir(), "chelsea.png")
    with pytest.raises(ts.SmokeTestError) as caught:
        smoke(repository, images=[{"path": chelsea, "expect": ["espresso"], "within": 3, "name": None}])
    assert re.match(r"^known answer: chelsea.png: expected 'espresso' as top-3, got top-5: (tiger cat|Egyptian cat) "
                    r"\(p [0-9.]+\), ", str(caught.value))


def test_random_weights_skip_the_known_answer_and_say_so(tmp_path):
    onnx_package.package(package_params(tmp_path, "mobilenetv2"))
    result, client = smoke(tmp_path)
    assert result["weights"] == "random"
    assert result["known_answer"] == {"checked": False,
                                      "reason": "the served weights are random: no known answer to check"}
    assert 5 not in client.class_counts


def test_classes_without_labels_are_a_failure(repository):
    os.remove(os.path.join(repository, "m", "labels.txt"))
    path = os.path.join(repository, "m", "config.pbtxt")
    text = open(path, encoding="utf-8").read().replace('    label_filename: "labels.txt"\n', "")
    open(path, "w", encoding="utf-8").write(text)
    with pytest.raises(ts.SmokeTestError, match="without labels"):
        smoke(repository)


# --- the pure parts -----------------------------------------------------------------------------


def test_parse_classes_reads_tritons_strings():
    parsed = ka.parse_classes([b"12.5:967:espresso", b"3.0:281:tabby, tabby cat", "1.0:5"])
    assert parsed == [{"score": 12.5, "index": 967, "label": "espresso"},
                      {"score": 3.0, "index": 281, "label": "tabby, tabby cat"},
                      {"score": 1.0, "index": 5, "label": None}]
    with pytest.raises(ka.KnownAnswerError, match="not 'score:index:label'"):
        ka.parse_classes([b"garbage"])


def test_label_matching_uses_synonyms_and_ignores_case():
    assert ka.label_matches("tabby", "tabby, tabby cat")
    assert ka.label_matches("Tabby Cat", "tabby, tabby cat")
    assert not ka.label_matches("cat", "tabby, tabby cat")
    assert not ka.label_matches("espresso", None)


def test_bad_user_images_are_refused_in_one_line(tmp_path):
    with pytest.raises(ka.KnownAnswerError, match="needs a path"):
        ka.normalize_images([{"expect": "cat"}])
    with pytest.raises(ka.KnownAnswerError, match="needs expect"):
        ka.normalize_images([{"path": str(tmp_path)}])
    with pytest.raises(ka.KnownAnswerError, match="does not exist"):
        ka.normalize_images([{"path": str(tmp_path / "nope.png"), "expect": "cat"}])
    with pytest.raises(ka.KnownAnswerError, match="within must be >= 1"):
        ka.normalize_images([{"path": str(tmp_path / "x"), "expect": "cat", "within": 0}])


# --- the load test's payload and the packaging of labels ------------------------------------------


def test_the_load_test_payload_is_the_photo_the_smoke_test_sends(repository, tmp_path):
    from ansible_collections.gpu_e2e.platform.plugins.module_utils import image_tensor

    dest = tmp_path / "input.bin"
    params = {"model_repository": str(repository), "model_name": "m", "src": None, "dest": str(dest)}
    result = image_tensor.write_tensor(params)
    assert result["changed"] and result["written"] and result["src"].endswith("coffee.png")
    assert result["bytes"] == 3 * 224 * 224 * 4 == dest.stat().st_size
    assert image_tensor.write_tensor(params)["changed"] is False
    client = TritonLike(repository)
    tensor = np.frombuffer(dest.read_bytes(), "<f4").reshape(1, 3, 224, 224)
    assert int(np.argmax(client.session.run(None, {"input": tensor})[0])) == 967  # espresso
    _set_parameter(repository, "image_std", "1,1,1")
    assert image_tensor.write_tensor(params, check_mode=True)["changed"]  # the recorded preprocessing drives it


def test_labels_that_do_not_fit_the_output_are_refused(tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\n")
    params = package_params(tmp_path / "repo", "mobilenetv2")
    params["labels_file"] = str(labels)
    with pytest.raises(onnx_package.OnnxPackageError, match="has 2 lines .* output 'logits' has 1000 classes"):
        onnx_package.package(params)
    assert not (tmp_path / "repo").exists()  # refused before anything is written
