# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Triton's `onnxruntime` backend for CPU, as a Python-based backend.

Why by hand: the tritonserver that installs here (the PyPI wheel
nvidia-pytriton) ships the Python backend but not NVIDIA's native
onnxruntime backend, and no package provides that one for CPU. Triton loads a
directory `<backend dir>/onnxruntime/model.py` beside `<backend dir>/python/`
as the backend named `onnxruntime`, so the collection's config.pbtxt
(`platform: "onnxruntime_onnx"`, `backend: "onnxruntime"`) loads unchanged,
exactly as it does with the native backend in NVIDIA's image on EKS.

What it does, in the native backend's terms:
- loads `<version>/model.onnx` (or `default_model_filename`) with onnxruntime's
  CPU execution provider;
- honours the native backend's `parameters` `intra_op_thread_count`,
  `inter_op_thread_count` and `execution_mode` (Triton itself starts one stub
  process per `instance_group` count);
- checks the model's inputs and outputs against the config at load time, so a
  config that disagrees with the model fails to load with one line saying how;
- runs all requests of one execute() call as one batch (the dynamic batcher's
  batch) and splits the outputs per request;
- reports a failing inference as a Triton error raised from execute(), the one
  way the Python backend counts it in nv_inference_request_failure (reason
  BACKEND); the client gets an error status with onnxruntime's reason.

The stub runs Python isolated: PYTHONPATH is in the environment but not on
sys.path. Its entries (the backend environment with numpy 1.x and
onnxruntime) are added as site directories before the imports below.
"""

import json
import os
import site

for _entry in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    if _entry:
        site.addsitedir(_entry)

import numpy as np  # noqa: E402 - after the backend environment is on sys.path
import onnxruntime as ort  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402

# Triton config data types -> onnxruntime's type strings.
ORT_TYPES = {
    "TYPE_BOOL": "tensor(bool)", "TYPE_UINT8": "tensor(uint8)", "TYPE_UINT16": "tensor(uint16)",
    "TYPE_UINT32": "tensor(uint32)", "TYPE_UINT64": "tensor(uint64)", "TYPE_INT8": "tensor(int8)",
    "TYPE_INT16": "tensor(int16)", "TYPE_INT32": "tensor(int32)", "TYPE_INT64": "tensor(int64)",
    "TYPE_FP16": "tensor(float16)", "TYPE_FP32": "tensor(float)", "TYPE_FP64": "tensor(double)",
    "TYPE_STRING": "tensor(string)",
}


def _int_parameter(config, key, default=0):
    raw = (config.get("parameters") or {}).get(key, {}).get("string_value", "")
    try:
        return int(raw) if raw != "" else default
    except ValueError as exc:
        raise pb_utils.TritonModelException(f"parameter '{key}' must be an integer, got '{raw}'") from exc


def _dims_match(config_dims, model_dims):
    if len(config_dims) != len(model_dims):
        return False
    pairs = zip(config_dims, model_dims, strict=True)
    return all(c == -1 or not isinstance(m, int) or m < 0 or c == m for c, m in pairs)


def _check_tensors(kind, configured, served, batching):
    """Compare the config's inputs or outputs with the model's, as the native backend does at load time."""
    by_name = {t.name: t for t in served}
    if len(configured) != len(served):
        raise pb_utils.TritonModelException(
            f"unable to load model: configuration expects {len(configured)} {kind}s, model provides {len(served)}")
    for tensor in configured:
        got = by_name.get(tensor["name"])
        if got is None:
            raise pb_utils.TritonModelException(
                f"unable to load model: configuration {kind} '{tensor['name']}' is not in the model "
                f"(model {kind}s: {', '.join(sorted(by_name))})")
        want_type = ORT_TYPES.get(tensor["data_type"])
        if want_type != got.type:
            raise pb_utils.TritonModelException(
                f"unable to load model: {kind} '{tensor['name']}' data type is {tensor['data_type']} in the "
                f"configuration, {got.type} in the model")
        model_dims = list(got.shape)
        if batching:
            model_dims = model_dims[1:]
        config_dims = [int(d) for d in tensor.get("dims", [])]
        if not _dims_match(config_dims, model_dims):
            raise pb_utils.TritonModelException(
                f"unable to load model: {kind} '{tensor['name']}' dims {config_dims} in the configuration "
                f"(batch dimension excluded: {batching}) do not match the model's {list(got.shape)}")


class TritonPythonModel:
    """One instance per `instance_group` count; Triton runs each in its own stub process."""

    def initialize(self, args):
        if int(np.__version__.split(".")[0]) >= 2:
            # The stub exchanges tensors through numpy 1.x's buffer layout: with numpy 2 its
            # outputs come back empty. Fail the load instead of serving empty answers.
            raise pb_utils.TritonModelException(
                f"the Python backend stub needs numpy 1.x, but numpy {np.__version__} was imported from "
                f"{os.path.dirname(np.__file__)}: put the backend environment first (PYTHONPATH) and keep "
                "virtualenvs off the server's PATH")
        config = json.loads(args["model_config"])
        filename = config.get("default_model_filename") or "model.onnx"
        path = os.path.join(args["model_repository"], args["model_version"], filename)
        options = ort.SessionOptions()
        options.intra_op_num_threads = _int_parameter(config, "intra_op_thread_count")
        options.inter_op_num_threads = _int_parameter(config, "inter_op_thread_count")
        if _int_parameter(config, "execution_mode") == 1:
            options.execution_mode = ort.ExecutionMode.ORT_PARALLEL
        try:
            self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf/NoSuchFile types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise pb_utils.TritonModelException(f"onnxruntime cannot load {path}: {first}") from exc
        self.batching = int(config.get("max_batch_size", 0)) > 0
        _check_tensors("input", config.get("input", []), self.session.get_inputs(), self.batching)
        _check_tensors("output", config.get("output", []), self.session.get_outputs(), self.batching)
        self.input_names = [t["name"] for t in config["input"]]
        self.output_names = [t["name"] for t in config["output"]]

    def _run(self, feeds):
        return dict(zip(self.output_names, self.session.run(self.output_names, feeds), strict=True))

    def _respond(self, outputs, request):
        wanted = request.requested_output_names() or self.output_names
        return pb_utils.InferenceResponse(
            output_tensors=[pb_utils.Tensor(name, np.ascontiguousarray(outputs[name])) for name in wanted])

    def _one(self, request):
        feeds = {n: pb_utils.get_input_tensor_by_name(request, n).as_numpy() for n in self.input_names}
        return self._respond(self._run(feeds), request)

    def _execute(self, requests):
        if len(requests) == 1 or not self.batching:
            return [self._one(request) for request in requests]
        per_request = [
            {n: pb_utils.get_input_tensor_by_name(r, n).as_numpy() for n in self.input_names} for r in requests]
        if len({tuple(f[n].shape[1:] for n in self.input_names) for f in per_request}) != 1:
            return [self._one(request) for request in requests]  # variable dims differ: no common batch
        outputs = self._run({n: np.concatenate([f[n] for f in per_request]) for n in self.input_names})
        responses = []
        start = 0
        for request, feed in zip(requests, per_request, strict=True):
            size = feed[self.input_names[0]].shape[0]
            responses.append(self._respond({k: v[start:start + size] for k, v in outputs.items()}, request))
            start += size
        return responses

    def execute(self, requests):
        # Triton's Python backend counts a request in nv_inference_request_failure only when
        # execute() raises: an error inside a returned InferenceResponse reaches the client
        # but is counted in nv_inference_request_success. So a failing inference raises, as a
        # Triton error with onnxruntime's reason; the requests batched with it in this call
        # get the same error (Triton answers and counts each of them).
        try:
            return self._execute(requests)
        except pb_utils.TritonModelException:
            raise
        except Exception as exc:  # onnxruntime's Fail/InvalidArgument/RuntimeException types
            raise pb_utils.TritonModelException(_first_line(exc)) from exc

    def finalize(self):
        self.session = None


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
