# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Triton's HTTP/REST v2 API over the repository.

Endpoints (as tritonserver serves them):
  GET  /v2                                     server metadata
  GET  /v2/health/live | /v2/health/ready      200, or 400 when not ready
  GET  /v2/models/{m}[/versions/{v}]           model metadata
  GET  /v2/models/{m}[/versions/{v}]/ready     200 or 400
  GET  /v2/models/{m}[/versions/{v}]/config    model configuration (JSON)
  POST /v2/models/{m}[/versions/{v}]/infer     inference (JSON or binary tensors)
  GET  /v2/models[/{m}[/versions/{v}]]/stats   statistics extension
  POST /v2/repository/index                    model repository extension
  POST /v2/repository/models/{m}/load|unload
Errors are {"error": "..."}: 400 for bad requests and unknown models, 503 when
the queue is full, 500 when the model itself fails.
"""

from __future__ import annotations

import logging
import time
import urllib.parse

from . import __version__
from .http import Response
from .model import ModelLoadError, QueueFull
from .tensors import RequestError, classify, decode, encode, requested_outputs

LOG = logging.getLogger("triton_local.server")
EXTENSIONS = [
    "classification", "model_repository", "model_configuration", "binary_tensor_data",
    "parameters", "statistics",
]
EMPTY_OK = Response(200, b"")


class App:
    def __init__(self, repository, metrics=None):
        self.repository = repository
        self.metrics = metrics

    # --- entry points ----------------------------------------------------------------------
    def handle(self, request):
        """Route an HTTP request; returns a Response or an awaitable of one."""
        parts = [urllib.parse.unquote(p) for p in request.path.split("/") if p]
        if not parts or parts[0] != "v2":
            return Response.error(404, "Not Found")
        try:
            return self._route(request, parts[1:])
        except RequestError as exc:
            return Response.error(400, str(exc))

    def handle_metrics(self, request):
        if request.path != "/metrics":
            return Response.error(404, "Not Found")
        if request.method != "GET":
            return Response.error(405, "Method Not Allowed")
        return Response(200, self.metrics.render(), [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")])

    # --- routing ---------------------------------------------------------------------------
    def _route(self, request, parts):
        method = request.method
        if not parts:
            return self._get(method) or self.server_metadata()
        head = parts[0]
        if head == "health" and len(parts) == 2 and parts[1] in ("live", "ready"):
            if method != "GET":
                return Response.error(405, "Method Not Allowed")
            ok = parts[1] == "live" or self.repository.ready()
            return Response(200 if ok else 400, b"")
        if head == "repository":
            return self._repository(method, parts[1:])
        if head == "models":
            if parts[1:] == ["stats"]:
                return self._get(method) or self.stats(None, None)
            if len(parts) < 2:
                return Response.error(404, "Not Found")
            name = parts[1]
            rest = parts[2:]
            version = None
            if len(rest) >= 2 and rest[0] == "versions":
                version = rest[1]
                rest = rest[2:]
            action = rest[0] if rest else ""
            if len(rest) > 1:
                return Response.error(404, "Not Found")
            if action == "infer":
                if method != "POST":
                    return Response.error(405, "Method Not Allowed")
                return self.infer(request, name, version)
            if action not in ("", "ready", "config", "stats"):
                return Response.error(404, "Not Found")
            if method != "GET":
                return Response.error(405, "Method Not Allowed")
            if action == "stats":
                return self.stats(name, version)
            model = self.repository.get(name, version)
            if action == "ready":
                return Response(200 if model else 400, b"")
            if model is None:
                return self._unknown(name, version)
            if action == "config":
                return Response.json(model.config)
            return Response.json(model.metadata())
        return Response.error(404, "Not Found")

    @staticmethod
    def _get(method):
        return None if method == "GET" else Response.error(405, "Method Not Allowed")

    @staticmethod
    def _unknown(name, version):
        if version:
            return Response.error(400, f"Request for unknown model: '{name}' version {version} is not found")
        return Response.error(400, f"Request for unknown model: '{name}' is not found")

    # --- metadata, stats, repository -------------------------------------------------------
    def server_metadata(self):
        return Response.json({"name": "triton", "version": __version__, "extensions": EXTENSIONS})

    def stats(self, name, version):
        if name is None:
            models = list(self.repository.all_versions())
        else:
            if name not in self.repository.models:
                return self._unknown(name, version)
            models = [m for m in self.repository.models[name].values() if version in (None, m.version)]
            if not models:
                return self._unknown(name, version)
        return Response.json({"model_stats": [m.stats.as_triton(m.name, m.version) for m in models]})

    def _repository(self, method, parts):
        if method != "POST":
            return Response.error(405, "Method Not Allowed")
        if parts == ["index"]:
            return Response.json(self.repository.index())
        if len(parts) == 3 and parts[0] == "models" and parts[2] in ("load", "unload"):
            name = parts[1]
            if parts[2] == "unload":
                self.repository.unload(name)
                return EMPTY_OK
            try:
                reloaded = self.repository.load(name)
            except ModelLoadError as exc:
                return Response.error(400, f"failed to load '{name}': {exc}")
            # Triton answers an empty 200; the header says whether the files had changed.
            return Response(200, b"", [("X-Triton-Local-Reloaded", "true" if reloaded else "false")])
        return Response.error(404, "Not Found")

    # --- inference -------------------------------------------------------------------------
    async def infer(self, request, name, version):
        started = time.perf_counter_ns()
        model = self.repository.get(name, version)
        if model is None:
            return self._unknown(name, version)
        try:
            header_length = request.headers.get("inference-header-content-length")
            if header_length is not None:
                try:
                    header_length = int(header_length)
                except ValueError as exc:
                    raise RequestError("Inference-Header-Content-Length must be an integer") from exc
            encoding = request.headers.get("content-encoding", "identity").lower()
            body = request.body
            if encoding in ("gzip", "deflate"):
                body = _decompress(body, encoding)
            elif encoding != "identity":
                raise RequestError(f"unsupported Content-Encoding '{encoding}'")
            doc, arrays = decode(body, header_length)
            declared = {item["name"]: item["datatype"] for item in doc["inputs"]}
            batch = model.check_inputs(arrays, declared)
            wanted = requested_outputs(doc, model.output_names)
            pending = model.submit(arrays, batch)
        except RequestError as exc:
            model.record_failure(time.perf_counter_ns() - started)
            return Response.error(400, str(exc))
        except QueueFull as exc:
            model.record_failure(time.perf_counter_ns() - started)
            return Response.error(503, str(exc))
        try:
            outputs = await pending.future
        except Exception as exc:  # noqa: BLE001 - onnxruntime errors during execution
            model.record_failure(time.perf_counter_ns() - started)
            LOG.error("inference failed for '%s': %s", name, str(exc).splitlines()[0] if str(exc) else exc)
            return Response.error(500, f"inference failed: {str(exc).splitlines()[0] if str(exc) else exc}")
        batched = model.max_batch_size > 0
        chosen = []
        for output_name, binary, classes in wanted:
            array = outputs[output_name]
            if classes:
                array = classify(array, classes, batched, model.labels.get(output_name))
            chosen.append((output_name, array, binary))
        headers, body = encode(model.name, model.version, doc.get("id"), chosen)
        model.record_success(pending, time.perf_counter_ns() - started)
        return Response(200, body, headers)


def _decompress(body, encoding):
    import zlib  # pylint: disable=import-outside-toplevel

    try:
        return zlib.decompress(body, 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    except zlib.error as exc:
        raise RequestError(f"cannot decompress the {encoding} request body: {exc}") from exc
