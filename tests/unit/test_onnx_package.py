"""The onnx_package module and its logic (plugins/module_utils/onnx_package.py)."""

import json
import sys
import types

import pytest
from ansible.module_utils.testing import patch_module_args
from onnx import TensorProto, helper

from ansible_collections.gpu_e2e.platform.plugins.module_utils import onnx_model, onnx_package
from ansible_collections.gpu_e2e.platform.plugins.modules import onnx_package as module


def tiny(batch="batch"):
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, 4, 4])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 3])
    nodes = [helper.make_node("GlobalAveragePool", ["input"], ["p"]),
             helper.make_node("Flatten", ["p"], ["logits"], axis=1)]
    model = helper.make_model(helper.make_graph(nodes, "t", [x], [y]), opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def run_module(args, capsys, check_mode=False, diff=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    if diff:
        args = dict(args, _ansible_diff=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def user_file(tmp_path):
    path = tmp_path / "user.onnx"
    path.write_bytes(tiny())
    return path


def file_args(tmp_path, path, **extra):
    return dict({"name": "classifier", "repository": str(tmp_path / "repo"), "source": "file", "path": str(path)},
                **extra)


def test_check_mode_writes_nothing_and_reports_the_change(tmp_path, user_file, capsys):
    result = run_module(file_args(tmp_path, user_file), capsys, check_mode=True, diff=True)
    assert result["changed"] is True
    assert set(result["changed_files"]) == {"config.pbtxt", "1/model.onnx", "package.json"}
    assert not (tmp_path / "repo").exists()
    assert 'name: "classifier"' in result["diff"]["after"]


def test_apply_then_reapply_is_idempotent(tmp_path, user_file, capsys):
    first = run_module(file_args(tmp_path, user_file), capsys)
    assert first["changed"] is True
    repo = tmp_path / "repo" / "classifier"
    assert (repo / "config.pbtxt").read_text() == first["config"]
    assert (repo / "1" / "model.onnx").read_bytes() == user_file.read_bytes()
    record = json.loads((repo / "package.json").read_text())
    assert record["weights"] == "user-supplied" and record["sha256"] == first["sha256"]
    second = run_module(file_args(tmp_path, user_file), capsys)
    assert second["changed"] is False and second["changed_files"] == []
    assert second["package_sha256"] == first["package_sha256"]


def test_a_config_change_is_reported_with_a_diff(tmp_path, user_file, capsys):
    run_module(file_args(tmp_path, user_file), capsys)
    result = run_module(file_args(tmp_path, user_file, max_batch_size=4), capsys, check_mode=True, diff=True)
    assert result["changed_files"] == ["config.pbtxt"]
    assert "max_batch_size: 8" in result["diff"]["before"]
    assert "max_batch_size: 4" in result["diff"]["after"]
    assert "max_batch_size: 8" in (tmp_path / "repo" / "classifier" / "config.pbtxt").read_text()


def test_config_for_gpu_with_tensorrt_fp16(tmp_path, user_file, capsys):
    result = run_module(file_args(tmp_path, user_file, instance_kind="KIND_GPU", tensorrt_fp16=True,
                                  preferred_batch_sizes=[4, 8], max_queue_delay_microseconds=500), capsys)
    config = result["config"]
    assert "kind: KIND_GPU" in config
    assert 'name: "tensorrt"' in config and 'value: "FP16"' in config
    assert "preferred_batch_size: [ 4, 8 ]" in config
    assert "max_queue_delay_microseconds: 500" in config


def test_corrupt_user_file_fails_with_one_line_and_writes_nothing(tmp_path, user_file, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(user_file.read_bytes()[:40])
    result = run_module(file_args(tmp_path, bad), capsys)
    assert result["failed"] is True
    assert "is not an ONNX model or is corrupt" in result["msg"]
    assert str(bad) in result["msg"]
    assert "\n" not in result["msg"]
    assert not (tmp_path / "repo").exists()


def test_missing_user_file_fails_clearly(tmp_path, capsys):
    result = run_module(file_args(tmp_path, tmp_path / "nope.onnx"), capsys)
    assert result["failed"] is True
    assert "does not exist" in result["msg"]


def test_file_source_needs_a_path(tmp_path, capsys):
    result = run_module({"name": "m", "repository": str(tmp_path), "source": "file"}, capsys)
    assert result["failed"] is True
    assert "path" in result["msg"]


def test_fixed_batch_dimension_needs_max_batch_size_0(tmp_path, capsys):
    path = tmp_path / "fixed.onnx"
    path.write_bytes(tiny(batch=1))
    result = run_module(file_args(tmp_path, path), capsys)
    assert result["failed"] is True and "set max_batch_size to 0" in result["msg"]
    ok = run_module(file_args(tmp_path, path, max_batch_size=0), capsys)
    assert ok["changed"] is True
    assert "dynamic_batching" not in ok["config"]
    assert "dims: [ 1, 3, 4, 4 ]" in ok["config"]


def test_builtin_says_the_weights_are_random(tmp_path, capsys):
    result = run_module({"name": "mobilenetv2", "repository": str(tmp_path / "repo")}, capsys, check_mode=True)
    assert result["weights"] == "random"
    assert "RANDOM" in result["weights_note"]
    assert result["inputs"][0]["shape"] == [-1, 3, 224, 224]


def test_builtin_is_idempotent(tmp_path, capsys):
    args = {"name": "mobilenetv2", "repository": str(tmp_path / "repo")}
    assert run_module(args, capsys)["changed"] is True
    assert run_module(args, capsys)["changed"] is False


def install_fake_torch(monkeypatch, payload, calls):
    """Stand-ins for torch/torchvision: export writes `payload` (the real export needs a download)."""
    torch = types.ModuleType("torch")
    torch.zeros = lambda *shape: ("zeros", shape)

    def export(model, dummy, buffer, **kwargs):
        calls.append(kwargs)
        buffer.write(payload)

    torch.onnx = types.SimpleNamespace(export=export)
    torchvision = types.ModuleType("torchvision")

    class Model:
        def eval(self):
            return self

    torchvision.models = types.SimpleNamespace(get_model=lambda name, weights=None: Model())
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torchvision", torchvision)


def test_torchvision_export_then_reuse_without_exporting_again(tmp_path, monkeypatch, capsys):
    calls = []
    install_fake_torch(monkeypatch, tiny(), calls)
    args = {"name": "resnet50", "repository": str(tmp_path / "repo"), "source": "torchvision",
            "architecture": "resnet50"}
    first = run_module(args, capsys)
    assert first["changed"] is True and first["weights"] == "pretrained"
    assert calls[0]["dynamic_axes"] == {"input": {0: "batch"}, "logits": {0: "batch"}}
    assert calls[0]["opset_version"] == 17
    second = run_module(args, capsys)
    assert second["changed"] is False
    assert len(calls) == 1  # same provenance, intact file: no second export


def test_torchvision_without_torch_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)
    result = run_module({"name": "r", "repository": str(tmp_path), "source": "torchvision"}, capsys)
    assert result["failed"] is True
    assert "needs torch and torchvision" in result["msg"]


def test_logic_reports_a_missing_library(monkeypatch, tmp_path):
    monkeypatch.setattr(onnx_model, "missing_libraries", lambda: ["onnxruntime"])
    with pytest.raises(onnx_package.OnnxPackageError, match="onnxruntime"):
        onnx_package.package({"name": "m", "repository": str(tmp_path), "version": 1, "source": "builtin"})


def test_export_helper_buffers_bytes(monkeypatch):
    calls = []
    install_fake_torch(monkeypatch, b"bytes", calls)
    assert onnx_model.export_torchvision("mobilenet_v2") == b"bytes"
