# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Logic of the triton_smoke module: an inference smoke test through tritonclient (HTTP and gRPC).

The test is a list of steps (SmokeTest.steps); each returns the keys it adds
to the result, so a new check is one more method and one more entry there.
Steps: wait for server and model readiness (bounded), compare the served
model's metadata and configuration with the packaged model (config.pbtxt or a
given signature), send a deterministic synthetic image over HTTP (binary and
JSON tensors) and over gRPC, time a few requests on each protocol, fail when
the answers differ, and return both latencies and the top-k; then the
known-answer check (known_answer.py): real photos preprocessed as the
package's config.pbtxt records, the top-k labels asked of Triton's
classification extension and checked against each photo's expected label
(skipped, and said so, for random weights). Every failure has a one-line
reason that says which step failed.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

from ansible_collections.gpu_e2e.platform.plugins.module_utils import image_preprocess
from ansible_collections.gpu_e2e.platform.plugins.module_utils.atomic_write import write_atomic
from ansible_collections.gpu_e2e.platform.plugins.module_utils import known_answer
from ansible_collections.gpu_e2e.platform.plugins.module_utils.percentiles import sample_percentile
from ansible_collections.gpu_e2e.platform.plugins.module_utils import triton_config

try:
    import numpy as np
except ImportError:  # pragma: no cover
    np = None

try:
    import tritonclient.http as triton_http
    from tritonclient.utils import InferenceServerException
except ImportError:  # pragma: no cover
    triton_http = None
    InferenceServerException = Exception

try:
    import tritonclient.grpc as triton_grpc
except ImportError:  # pragma: no cover
    triton_grpc = None

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NUMPY_TYPES = {
    "FP32": "float32", "FP16": "float16", "FP64": "float64", "INT8": "int8", "INT16": "int16", "INT32": "int32",
    "INT64": "int64", "UINT8": "uint8", "UINT16": "uint16", "UINT32": "uint32", "UINT64": "uint64", "BOOL": "bool",
}


def missing_libraries():
    """Names of the Python libraries the smoke test needs that are not importable."""
    return [name for name, lib in (("numpy", np), ("tritonclient[http]", triton_http),
                                   ("tritonclient[grpc]", triton_grpc)) if lib is None]


class SmokeTestError(Exception):
    """The one error type of the smoke test; its message is the one-line reason."""

    partial = None  # result fields worth recording in smoke.json with the failure


class KnownAnswerFailure(SmokeTestError):
    """A real photo did not get its expected label; carries the top-5 of the images checked so far."""

    def __init__(self, message, images):
        super().__init__(message)
        self.images = images


def _short(exc):
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:240]


def normalize_url(url):
    """tritonclient wants host:port; accept http:// and https:// URLs too. Returns (host:port, ssl)."""
    ssl = url.startswith("https://")
    for prefix in ("http://", "https://"):
        if url.startswith(prefix):
            url = url[len(prefix):]
    return url.rstrip("/"), ssl


def synthetic_image(shape, datatype="FP32"):
    """A deterministic, image-like tensor: smooth colour gradients, ImageNet-normalized for float inputs.

    NCHW when the second dimension is 3 (or 1), NHWC when the last one is; any other shape gets a ramp.
    """
    shape = tuple(int(d) for d in shape)
    if datatype not in NUMPY_TYPES:
        raise SmokeTestError(f"cannot synthesize an input of datatype {datatype}")
    channels_first = len(shape) == 4 and shape[1] in (1, 3)
    channels_last = len(shape) == 4 and not channels_first and shape[3] in (1, 3)
    if channels_first or channels_last:
        n, c, h, w = (shape[0], shape[1], shape[2], shape[3]) if channels_first else (
            shape[0], shape[3], shape[1], shape[2])
        yy, xx = np.meshgrid(np.linspace(0.0, 1.0, h), np.linspace(0.0, 1.0, w), indexing="ij")
        planes = [0.5 + 0.5 * np.sin(2 * np.pi * (xx + 0.5 * yy)), yy, 0.5 + 0.5 * np.cos(3 * np.pi * xx * yy)][:c]
        pixels = np.stack(planes)  # [c, h, w] in 0..1
        if datatype in ("FP32", "FP16", "FP64"):
            mean = np.array(IMAGENET_MEAN[:c]).reshape(c, 1, 1)
            std = np.array(IMAGENET_STD[:c]).reshape(c, 1, 1)
            pixels = (pixels - mean) / std
        else:
            pixels = np.round(pixels * 255.0)
        image = np.broadcast_to(pixels, (n, c, h, w))
        if channels_last:
            image = image.transpose(0, 2, 3, 1)
        return np.ascontiguousarray(image.astype(NUMPY_TYPES[datatype]))
    count = int(np.prod(shape)) if shape else 1
    ramp = (np.arange(count) % 251) / 251.0
    return ramp.reshape(shape).astype(NUMPY_TYPES[datatype])


def concrete_shape(shape, batch_size, name, image_size=224):
    """Replace -1s: the batch dimension by batch_size, spatial ones by image_size."""
    result = []
    for i, dim in enumerate(shape):
        if dim >= 0:
            result.append(dim)
        elif i == 0:
            result.append(batch_size)
        elif len(shape) == 4:
            result.append(image_size)
        else:
            raise SmokeTestError(f"input '{name}' has a variable dimension {i} the smoke test cannot choose")
    return result


def expected_signature(params):
    """Expected inputs/outputs: given explicitly, or read from the repository's config.pbtxt, or None."""
    if params.get("expected_inputs") or params.get("expected_outputs"):
        return params.get("expected_inputs") or [], params.get("expected_outputs") or []
    repository = params.get("model_repository")
    if not repository:
        return None
    path = os.path.join(repository, params["model_name"], "config.pbtxt")
    try:
        with open(path, encoding="utf-8") as handle:
            config = triton_config.parse(handle.read())
    except FileNotFoundError as exc:
        raise SmokeTestError(f"the packaged model has no {path}: run the model stage first") from exc
    except triton_config.TritonConfigError as exc:
        raise SmokeTestError(f"{path} cannot be parsed: {exc}") from exc
    return triton_config.io_signature(config)


def compare_signature(kind, served, expected):
    """Mismatches between the served tensors and the packaged ones, as readable strings."""
    problems = []
    by_name = {t["name"]: t for t in served}
    for tensor in expected:
        got = by_name.get(tensor["name"])
        if got is None:
            problems.append(f"{kind} '{tensor['name']}' is not served (served: {', '.join(by_name) or 'none'})")
            continue
        want_shape = [int(d) for d in tensor["shape"]]
        got_shape = [int(d) for d in got.get("shape", [])]
        if got.get("datatype") != tensor["datatype"] or got_shape != want_shape:
            problems.append(
                f"{kind} '{tensor['name']}' is {got.get('datatype')} {got_shape}, packaged "
                f"{tensor['datatype']} {want_shape}")
    extra = set(by_name) - {t["name"] for t in expected}
    if extra:
        problems.append(f"served {kind}s not in the package: {', '.join(sorted(extra))}")
    return problems


def softmax_top_k(row, k):
    row = np.asarray(row, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(row)):
        raise SmokeTestError("malformed output: it contains NaN or infinite values")
    is_probability = row.min() >= 0.0 and abs(row.sum() - 1.0) < 1e-3
    probs = row if is_probability else np.exp(row - row.max()) / np.exp(row - row.max()).sum()
    order = np.argsort(-probs, kind="stable")[: max(1, k)]
    return [{"index": int(i), "score": round(float(probs[i]), 6), "value": round(float(row[i]), 6)} for i in order]


def packaged_config(params):
    """The packaged config.pbtxt as a dict, or None without a model repository."""
    repository = params.get("model_repository")
    if not repository:
        return None
    path = os.path.join(repository, params["model_name"], "config.pbtxt")
    try:
        with open(path, encoding="utf-8") as handle:
            return triton_config.parse(handle.read())
    except (OSError, triton_config.TritonConfigError):
        return None  # expected_signature() already said why


def packaged_model(params):
    """(preprocessing spec or None, weights or None) of the packaged model in model_repository."""
    repository = params.get("model_repository")
    if not repository:
        return None, None
    model_dir = os.path.join(repository, params["model_name"])
    try:
        with open(os.path.join(model_dir, "config.pbtxt"), encoding="utf-8") as handle:
            spec = image_preprocess.from_config(triton_config.parse(handle.read()))
    except (OSError, triton_config.TritonConfigError, image_preprocess.PreprocessError) as exc:
        raise SmokeTestError(f"the preprocessing in {model_dir}/config.pbtxt cannot be used: {exc}") from exc
    try:
        with open(os.path.join(model_dir, "package.json"), encoding="utf-8") as handle:
            weights = json.load(handle).get("weights")
    except (OSError, ValueError):
        weights = None
    return spec, weights


def _config_view(config):
    """The fields of a model configuration the served one must share with the packaged one."""
    def tensors(items):
        return sorted((t.get("name"), t.get("data_type"), [int(d) for d in t.get("dims", [])]) for t in items or [])
    groups = config.get("instance_group") or []
    return {
        "platform": config.get("platform") or "",
        "backend": config.get("backend") or "",
        "max_batch_size": int(config.get("max_batch_size") or 0),
        "input": tensors(config.get("input")),
        "output": tensors(config.get("output")),
        "instance_count": sum(int(g.get("count") or 1) for g in groups) if groups else None,
        "dynamic_batching": bool(config.get("dynamic_batching")) or "dynamic_batching" in config,
    }


def compare_config(served, packaged):
    """Differences between the served model configuration and the packaged config.pbtxt, as strings."""
    want, got = _config_view(packaged), _config_view(served)
    problems = []
    for key, expected in want.items():
        if key == "instance_count" and expected is None:
            continue
        if got[key] != expected:
            problems.append(f"{key} is {got[key]!r} on the server, {expected!r} in the package")
    return problems


class SmokeTest:
    """The smoke test as a list of steps; run() applies them in order and merges what they return."""

    def __init__(self, params, client_factory=None, grpc_client_factory=None, clock=time.monotonic,
                 sleep=time.sleep):
        if missing_libraries():
            raise SmokeTestError("triton_smoke needs numpy and tritonclient[http,grpc] on the controller "
                                 "(pip install 'tritonclient[http,grpc]' numpy)")
        self.params = params
        self.url, ssl = normalize_url(params["url"])
        self.grpc_url = normalize_url(params["grpc_url"])[0] if params.get("grpc_url") else ""
        self.model = params["model_name"]
        self.version = params.get("model_version") or ""
        self.clock = clock
        self.sleep = sleep
        timeout = float(params["request_timeout"])
        factory = client_factory or triton_http.InferenceServerClient
        self.client = factory(
            self.url, connection_timeout=timeout, network_timeout=timeout, ssl=ssl,
            insecure=not params.get("validate_certs", True),
        )
        self.grpc = None
        if self.grpc_url:
            self.grpc = (grpc_client_factory or triton_grpc.InferenceServerClient)(self.grpc_url)
        self.state = {}  # what earlier steps found, for later ones

    def steps(self):
        """The checks, in order. Each returns a dict merged into the result."""
        return [self.wait_ready, self.check_metadata, self.check_config, self.check_tensor, self.check_known_answer]

    # --- steps ----------------------------------------------------------------------------
    def wait_ready(self):
        start = self.clock()
        deadline = start + float(self.params["ready_timeout"])
        last = "no answer yet"
        server_ready = False
        while True:
            try:
                server_ready = bool(self.client.is_server_live()) and bool(self.client.is_server_ready())
                if server_ready and self.client.is_model_ready(self.model, self.version):
                    return {"ready_after_s": round(self.clock() - start, 3), "server": self._server_metadata()}
                last = "the server is not ready yet" if not server_ready else f"model '{self.model}' is not ready"
            except Exception as exc:  # noqa: BLE001 - InferenceServerException and transport errors alike
                last = _short(exc)
                if not isinstance(exc, InferenceServerException):
                    server_ready = False  # connection refused, reset, timeout: the server is not there
            if self.clock() >= deadline:
                break
            self.sleep(0.5)
        if server_ready:
            raise SmokeTestError(
                f"model '{self.model}' is not ready on {self.url} after {self.params['ready_timeout']}s "
                f"({self._repository_reason()})")
        raise SmokeTestError(f"the Triton server at {self.url} is down or not ready after "
                             f"{self.params['ready_timeout']}s (last error: {last})")

    def _server_metadata(self):
        try:
            meta = self.client.get_server_metadata()
        except Exception:  # noqa: BLE001 - informative only
            return {}
        return {"name": meta.get("name"), "version": meta.get("version")}

    def _repository_reason(self):
        try:
            index = self.client.get_model_repository_index()
        except Exception:  # noqa: BLE001 - the index is an optional extension
            return "the server does not list its repository"
        names = sorted({entry.get("name") for entry in index if entry.get("name")})
        for entry in index:
            if entry.get("name") == self.model:
                return f"state {entry.get('state', '?')}: {entry.get('reason') or 'no reason given'}"
        return f"it is not in the server's repository; models there: {', '.join(names) or 'none'}"

    def check_metadata(self):
        try:
            meta = self.client.get_model_metadata(self.model, self.version)
        except InferenceServerException as exc:
            raise SmokeTestError(f"model metadata of '{self.model}' is not available: {_short(exc)}") from exc
        expected = expected_signature(self.params)
        if expected is not None:
            problems = compare_signature("input", meta.get("inputs", []), expected[0])
            problems += compare_signature("output", meta.get("outputs", []), expected[1])
            if problems:
                raise SmokeTestError("the served model differs from the packaged one: " + "; ".join(problems))
        inputs = meta.get("inputs") or []
        outputs = meta.get("outputs") or []
        if len(inputs) != 1 or not outputs:
            raise SmokeTestError(
                f"the smoke test feeds one image input; '{self.model}' has {len(inputs)} inputs, "
                f"{len(outputs)} outputs")
        self.state["meta"] = meta
        return {
            "model_version": self.version or (meta.get("versions") or [""])[-1],
            "platform": meta.get("platform"),
            "metadata": {"inputs": inputs, "outputs": outputs},
            "checked_against_package": expected is not None,
        }

    def check_config(self):
        try:
            served = self.client.get_model_config(self.model, self.version)
        except InferenceServerException as exc:
            raise SmokeTestError(f"model configuration of '{self.model}' is not available: {_short(exc)}") from exc
        packaged = packaged_config(self.params)
        if packaged is not None:
            problems = compare_config(served, packaged)
            if problems:
                raise SmokeTestError("the served configuration differs from the packaged config.pbtxt: "
                                     + "; ".join(problems))
        self.state["config"] = served
        view = _config_view(served)
        return {"config": {"checked_against_package": packaged is not None,
                           "backend": view["backend"], "max_batch_size": view["max_batch_size"],
                           "instance_count": view["instance_count"], "dynamic_batching": view["dynamic_batching"]}}

    def infer(self, name, tensor, datatype, output_names, binary, class_count=0):
        """One inference over HTTP, with binary or JSON tensors; returns {output: array}.

        class_count > 0 asks Triton's classification extension for the top classes ("score:index:label").
        """
        request_input = triton_http.InferInput(name, list(tensor.shape), datatype)
        request_input.set_data_from_numpy(tensor, binary_data=binary)
        outputs = [triton_http.InferRequestedOutput(o, binary_data=binary, class_count=class_count)
                   for o in output_names]
        try:
            result = self.client.infer(self.model, [request_input], model_version=self.version, outputs=outputs)
        except Exception as exc:  # noqa: BLE001 - InferenceServerException and transport errors alike
            raise SmokeTestError(f"inference on '{self.model}' over HTTP failed: {_short(exc)}") from exc
        return self._arrays(result, output_names, "HTTP")

    def infer_grpc(self, name, tensor, datatype, output_names):
        """The same inference over gRPC."""
        request_input = triton_grpc.InferInput(name, list(tensor.shape), datatype)
        request_input.set_data_from_numpy(tensor)
        outputs = [triton_grpc.InferRequestedOutput(o) for o in output_names]
        try:
            result = self.grpc.infer(self.model, [request_input], model_version=self.version, outputs=outputs,
                                     client_timeout=float(self.params["request_timeout"]))
        except Exception as exc:  # noqa: BLE001 - InferenceServerException and transport errors alike
            raise SmokeTestError(f"inference on '{self.model}' over gRPC ({self.grpc_url}) failed: "
                                 f"{_short(exc)}") from exc
        return self._arrays(result, output_names, "gRPC")

    @staticmethod
    def _arrays(result, output_names, protocol):
        arrays = {}
        for output in output_names:
            try:
                array = result.as_numpy(output)
            except Exception as exc:  # noqa: BLE001 - tritonclient raises on undecodable buffers
                raise SmokeTestError(f"malformed {protocol} output '{output}': {_short(exc)}") from exc
            if array is None:
                raise SmokeTestError(f"malformed {protocol} response: output '{output}' is missing")
            arrays[output] = array
        return arrays

    def _timed(self, call):
        latencies = []
        result = None
        for _request in range(max(1, int(self.params["requests"]))):
            started = time.perf_counter()
            result = call()
            latencies.append((time.perf_counter() - started) * 1000.0)
        return result, {
            "requests": len(latencies),
            "min": round(min(latencies), 3),
            "p50": round(sample_percentile(latencies, 50, method="nearest"), 3),
            "max": round(max(latencies), 3),
            "mean": round(sum(latencies) / len(latencies), 3),
        }

    def check_tensor(self):
        """The same synthetic image over HTTP (binary, JSON) and gRPC: well-formed and equal answers."""
        meta = self.state["meta"]
        spec, outputs = meta["inputs"][0], meta["outputs"]
        batch = int(self.params["batch_size"])
        shape = concrete_shape([int(d) for d in spec["shape"]], batch, spec["name"])
        tensor = synthetic_image(shape, spec["datatype"])
        output_names = [o["name"] for o in outputs]
        top_output = self.params.get("output_name") or output_names[0]
        if top_output not in output_names:
            raise SmokeTestError(f"output '{top_output}' is not served (served: {', '.join(output_names)})")

        def http_binary():
            return self.infer(spec["name"], tensor, spec["datatype"], output_names, True)

        def grpc():
            return self.infer_grpc(spec["name"], tensor, spec["datatype"], output_names)

        for _warmup in range(int(self.params["warmup"])):
            http_binary()
            if self.grpc is not None:
                grpc()
        binary_result, http_latency = self._timed(http_binary)
        json_result = self.infer(spec["name"], tensor, spec["datatype"], output_names, False)
        answers = {"JSON tensors over HTTP": json_result}
        grpc_latency = None
        if self.grpc is not None:
            grpc_result, grpc_latency = self._timed(grpc)
            answers["gRPC"] = grpc_result

        for out in outputs:
            array = binary_result[out["name"]]
            dims = [int(d) for d in out["shape"]]
            want = [batch if (i == 0 and d == -1) else d for i, d in enumerate(dims)]
            if len(array.shape) != len(want) or any(d not in (-1, s) for d, s in zip(want, array.shape, strict=True)):
                raise SmokeTestError(
                    f"malformed output '{out['name']}': shape {list(array.shape)}, metadata says {out['shape']}")
            if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
                raise SmokeTestError(f"malformed output '{out['name']}': it contains NaN or infinite values")
            for label, other_result in answers.items():
                other = other_result[out["name"]]
                if other.shape != array.shape or not np.allclose(other, array, rtol=1e-5, atol=1e-6):
                    raise SmokeTestError(
                        f"output '{out['name']}' differs between binary tensors over HTTP and {label}")

        first = binary_result[top_output]
        row = first[0] if first.ndim > 1 else first
        return {
            "input": {
                "name": spec["name"], "datatype": spec["datatype"], "shape": shape,
                "sha256": hashlib.sha256(tensor.tobytes()).hexdigest(),
                "description": "deterministic synthetic image (colour gradients, ImageNet-normalized)",
            },
            "encodings_agree": True,
            "protocols": ["http"] + (["grpc"] if self.grpc is not None else []),
            "protocols_agree": True,
            "grpc_url": self.grpc_url or None,
            "latency_ms": http_latency,
            "latency_ms_grpc": grpc_latency,
            "top_k": softmax_top_k(row, int(self.params["top_k"])),
            "top_k_output": top_output,
        }

    def check_known_answer(self):
        """Each real photo preprocessed as the package says; Triton's top-k labels checked against the answer."""
        preprocessing, weights = packaged_model(self.params)
        meta = self.state["meta"]
        spec = meta["inputs"][0]
        top_output = self.params.get("output_name") or meta["outputs"][0]["name"]
        if weights == "random":
            return {"weights": weights, "known_answer": {
                "checked": False, "reason": "the served weights are random: no known answer to check"}}
        if preprocessing is None:
            return {"weights": weights, "known_answer": {
                "checked": False, "reason": "the packaged model records no image preprocessing"}}
        try:
            images = (known_answer.normalize_images(self.params["images"]) if self.params.get("images")
                      else known_answer.default_images())
        except known_answer.KnownAnswerError as exc:
            raise SmokeTestError(str(exc)) from exc
        batched = bool(spec["shape"]) and int(spec["shape"][0]) == -1
        results = []
        for image in images:
            try:
                tensor = image_preprocess.preprocess(image["path"], preprocessing, spec["datatype"])
            except image_preprocess.PreprocessError as exc:
                raise SmokeTestError(f"{image['name']}: {exc}") from exc
            tensor = tensor[None] if batched else tensor
            answer = self.infer(spec["name"], tensor, spec["datatype"], [top_output], True,
                                class_count=max(known_answer.TOP_RECORDED, image["within"]))[top_output]
            # The same photo without class_count: the softmax of the whole output gives each class a probability
            # (the classification extension's score is the raw output value, a logit here).
            logits = self.infer(spec["name"], tensor, spec["datatype"], [top_output], True)[top_output]
            probs = np.asarray(logits, dtype=np.float64).reshape(-1)
            probs = np.exp(probs - probs.max()) / np.exp(probs - probs.max()).sum()
            try:
                classes = known_answer.parse_classes(np.asarray(answer).reshape(-1))
                for found in classes:
                    inside = 0 <= found["index"] < probs.size
                    found["probability"] = round(float(probs[found["index"]]), 6) if inside else None
                entry = {"image": image["name"], "path": image["path"], "expect": image["expect"],
                         "within": image["within"], "top_5": classes[: known_answer.TOP_RECORDED]}
                results.append(entry)
                entry["matched"] = known_answer.check(image, classes)
            except known_answer.KnownAnswerError as exc:
                failure = KnownAnswerFailure(f"known answer: {exc}", results)
                failure.partial = {"weights": weights,
                                   "known_answer": {"checked": True, "passed": False, "images": results}}
                raise failure from exc
        return {"weights": weights, "known_answer": {"checked": True, "passed": True, "images": results}}

    # --- the whole test -------------------------------------------------------------------
    def run(self):
        result = {"passed": False, "url": self.url, "model_name": self.model}
        for step in self.steps():
            result.update(step())
        result["passed"] = True
        return result


def write_result(path, result):
    write_atomic(path, json.dumps(result, indent=2, sort_keys=True) + "\n")


def run_smoke_test(params, check_mode=False, client_factory=None, grpc_client_factory=None):
    """Run the test; write output_file (pass or fail, not in check mode); return the result or raise."""
    started = time.time()
    try:
        result = SmokeTest(params, client_factory=client_factory, grpc_client_factory=grpc_client_factory).run()
    except SmokeTestError as exc:
        if params.get("output_file") and not check_mode:
            failure = dict(exc.partial or {})
            failure.update({
                "passed": False, "error": str(exc), "url": params["url"], "model_name": params["model_name"],
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            })
            write_result(params["output_file"], failure)
        raise
    result["started_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
    if params.get("output_file") and not check_mode:
        write_result(params["output_file"], result)
        result["output_file"] = params["output_file"]
    return result
