"""The known-answer smoke test against NVIDIA's tritonserver: labels from Triton's classification extension.

The built-in EfficientNet-Lite0 (trained weights) is packaged three times into one repository: as is, with
its labels.txt shuffled, and with config.pbtxt recording no normalisation (raw 0..255 pixels). One real
tritonserver serves all three; triton_smoke's logic must pass the first and fail the other two in one line.
"""

from __future__ import annotations

import json
import random
import re

import pytest
from tritonserver_process import TritonServer

from ansible_collections.gpu_e2e.platform.plugins.module_utils import onnx_package
from ansible_collections.gpu_e2e.platform.plugins.module_utils import triton_smoke

LABELS = "roles/model/files/imagenet_labels.txt"


def _package(repository, name):
    params = {
        "name": name, "repository": str(repository), "source": "builtin", "architecture": "efficientnet_lite0",
        "seed": 0, "path": None, "torchvision_model": None, "torchvision_weights": "DEFAULT", "version": 1,
        "max_batch_size": 8, "preferred_batch_sizes": [], "max_queue_delay_microseconds": 100,
        "max_queue_size": 128, "instance_kind": "KIND_CPU", "instance_count": 1, "tensorrt_fp16": False,
        "intra_op_threads": 1, "labels_file": LABELS, "labels_output": None, "preprocessing": None,
    }
    return onnx_package.package(params)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("known-answer")
    repository = root / "models"
    _package(repository, "lite0")
    shuffled = _package(repository, "lite0_shuffled")
    names = open(shuffled["labels_path"], encoding="utf-8").read().splitlines()
    random.Random(1).shuffle(names)
    with open(shuffled["labels_path"], "w", encoding="utf-8") as handle:
        handle.write("\n".join(names) + "\n")
    raw = _package(repository, "lite0_raw")
    config = open(raw["config_path"], encoding="utf-8").read()
    for key, value in (("image_mean", "0,0,0"), ("image_std", "1,1,1")):
        config = re.sub(rf'(key: "{key}"\s*value \{{\s*string_value: )"[^"]*"', rf'\1"{value}"', config)
    with open(raw["config_path"], "w", encoding="utf-8") as handle:
        handle.write(config)
    triton = TritonServer(str(repository), root / "tritonserver.log")
    triton.repository = str(repository)
    yield triton
    triton.stop()


def _params(server, model, tmp_path):
    return {
        "url": server.url, "grpc_url": server.grpc_url, "model_name": model, "model_version": "",
        "ready_timeout": 60, "request_timeout": 60, "model_repository": server.repository,
        "expected_inputs": None, "expected_outputs": None, "batch_size": 1, "warmup": 0, "requests": 1,
        "top_k": 5, "output_name": None, "output_file": str(tmp_path / "smoke.json"), "validate_certs": True,
        "images": None,
    }


def test_triton_labels_coffee_espresso_and_chelsea_a_cat(server, tmp_path):
    result = triton_smoke.run_smoke_test(_params(server, "lite0", tmp_path))
    answers = result["known_answer"]
    assert result["weights"] == "trained" and answers["passed"]
    coffee, cat = answers["images"]
    assert coffee["top_5"][0]["label"] == "espresso" and coffee["top_5"][0]["index"] == 967
    assert coffee["top_5"][0]["probability"] > 0.5
    assert cat["top_5"][0]["label"] in ("tiger cat", "tabby, tabby cat", "Egyptian cat")
    assert json.loads((tmp_path / "smoke.json").read_text())["known_answer"]["images"][0]["top_5"]


def test_a_shuffled_labels_file_on_the_server_fails(server, tmp_path):
    """The labels come from Triton (label_filename): shuffling them there must fail the check."""
    with pytest.raises(triton_smoke.SmokeTestError) as caught:
        triton_smoke.run_smoke_test(_params(server, "lite0_shuffled", tmp_path))
    assert re.match(r"^known answer: coffee.png: expected 'espresso' as top-1, got top-5: .+ \(p [0-9.]+\)",
                    str(caught.value))
    assert "\n" not in str(caught.value)
    recorded = json.loads((tmp_path / "smoke.json").read_text())
    assert recorded["passed"] is False and len(recorded["known_answer"]["images"][0]["top_5"]) == 5


def test_a_swapped_normalisation_fails(server, tmp_path):
    """The client takes the normalisation from config.pbtxt: raw pixels there must fail the check."""
    with pytest.raises(triton_smoke.SmokeTestError, match=r"^known answer: coffee.png: expected 'espresso'"):
        triton_smoke.run_smoke_test(_params(server, "lite0_raw", tmp_path))
