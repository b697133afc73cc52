# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One loaded model version: onnxruntime sessions, the dynamic batcher and statistics.

Batching follows Triton's dynamic batcher: requests wait in one bounded
queue; when an instance is free the batcher takes as many queued requests
as fit in max_batch_size. It sends them at once when the batch is full (or
the next request does not fit), when it has reached a preferred batch size,
or when the oldest request has waited max_queue_delay_microseconds; else it
waits for more. A full queue rejects the request (HTTP 503). Inference runs
in one worker thread per instance (onnxruntime releases the GIL), so the
event loop keeps accepting and decoding requests meanwhile.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import time

import numpy as np
import onnxruntime as ort

from .tensors import ONNX_TYPES, RequestError

LOG = logging.getLogger("triton_local.model")
QUANTILES = (0.5, 0.9, 0.95, 0.99)
WINDOW = 4096  # latency samples kept per summary (quantiles are over the most recent ones)
TIMER_RESOLUTION_S = 0.001  # asyncio's selector timeout granularity


class QueueFull(Exception):
    """The model's queue is at max_queue_size (HTTP 503)."""


class ModelLoadError(Exception):
    """The model version cannot be loaded; the message is its reason."""


def _session_options(intra_threads, inter_threads, allow_spinning):
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_threads
    options.inter_op_num_threads = inter_threads
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if allow_spinning else "0")
    options.log_severity_level = 3
    return options


def thread_settings(config, intra_override=None, inter_override=None):
    """Intra/inter-op threads from the config's onnxruntime parameters, overridable (0: onnxruntime's default)."""
    params = {}
    for item in config.get("parameters") or []:
        value = item.get("value")
        params[item.get("key")] = value.get("string_value") if isinstance(value, dict) else value
    intra = intra_override if intra_override is not None else int(params.get("intra_op_thread_count") or 0)
    inter = inter_override if inter_override is not None else int(params.get("inter_op_thread_count") or 1)
    return intra, inter


def create_session(model_bytes, intra_threads=0, inter_threads=1, allow_spinning=True):
    """An onnxruntime CPU session with the runtime's settings (the benchmark uses the same)."""
    return ort.InferenceSession(
        model_bytes, _session_options(intra_threads, inter_threads, allow_spinning),
        providers=["CPUExecutionProvider"])


class Summary:
    """Count, sum and a sliding window of recent values for Prometheus summaries (microseconds)."""

    __slots__ = ("count", "total_ns", "window")

    def __init__(self):
        self.count = 0
        self.total_ns = 0
        self.window = collections.deque(maxlen=WINDOW)

    def add(self, ns):
        self.count += 1
        self.total_ns += ns
        self.window.append(ns)

    def quantiles_us(self):
        if not self.window:
            return [(q, 0.0) for q in QUANTILES]
        values = np.quantile(np.fromiter(self.window, dtype=np.float64, count=len(self.window)), QUANTILES)
        return [(q, float(v) / 1000.0) for q, v in zip(QUANTILES, values, strict=True)]


class Stats:
    """Triton's per-model statistics (the /stats endpoint and the metrics both read these)."""

    def __init__(self):
        self.success = Summary()
        self.fail = Summary()
        self.queue = Summary()
        self.compute_input = Summary()
        self.compute_infer = Summary()
        self.compute_output = Summary()
        self.inference_count = 0
        self.execution_count = 0
        self.last_inference_ms = 0
        self.batch = {}  # batch size -> [count, input ns, infer ns, output ns]

    def record_batch(self, size, input_ns, infer_ns, output_ns):
        self.execution_count += 1
        entry = self.batch.setdefault(size, [0, 0, 0, 0])
        entry[0] += 1
        entry[1] += input_ns
        entry[2] += infer_ns
        entry[3] += output_ns

    def as_triton(self, name, version):
        def pair(summary):
            return {"count": summary.count, "ns": summary.total_ns}

        return {
            "name": name,
            "version": version,
            "last_inference": self.last_inference_ms,
            "inference_count": self.inference_count,
            "execution_count": self.execution_count,
            "inference_stats": {
                "success": pair(self.success), "fail": pair(self.fail), "queue": pair(self.queue),
                "compute_input": pair(self.compute_input), "compute_infer": pair(self.compute_infer),
                "compute_output": pair(self.compute_output), "cache_hit": {"count": 0, "ns": 0},
                "cache_miss": {"count": 0, "ns": 0},
            },
            "batch_stats": [
                {
                    "batch_size": size,
                    "compute_input": {"count": e[0], "ns": e[1]},
                    "compute_infer": {"count": e[0], "ns": e[2]},
                    "compute_output": {"count": e[0], "ns": e[3]},
                }
                for size, e in sorted(self.batch.items())
            ],
        }


class Pending:
    """One request waiting for (or in) execution."""

    __slots__ = ("inputs", "batch_size", "future", "enqueued_ns", "dispatched_ns", "timing")

    def __init__(self, inputs, batch_size, future):
        self.inputs = inputs
        self.batch_size = batch_size
        self.future = future
        self.enqueued_ns = 0
        self.dispatched_ns = 0
        self.timing = (0, 0, 0)


class ModelVersion:
    """A servable model version: config, sessions, batcher, stats."""

    def __init__(self, name, version, config, model_bytes, options):
        self.name = name
        self.version = str(version)
        self.config = config
        self.labels = {}  # output name -> class names (label_filename), set by the repository
        self.max_batch_size = int(config.get("max_batch_size", 0))
        batching = config.get("dynamic_batching")
        self.dynamic = batching is not None and self.max_batch_size > 0
        batching = batching or {}
        self.preferred = frozenset(int(s) for s in batching.get("preferred_batch_size", []))
        self.delay_ns = int(batching.get("max_queue_delay_microseconds", 0)) * 1000
        queue_size = int((batching.get("default_queue_policy") or {}).get("max_queue_size", 0))
        self.max_queue_size = queue_size or options.max_queue_size
        count = sum(int(g.get("count", 1)) for g in config.get("instance_group") or [{"count": 1}])
        self.instance_count = max(1, count)
        self.intra_threads, self.inter_threads = thread_settings(
            config, options.intra_op_threads, options.inter_op_threads)
        try:
            self.sessions = [
                create_session(model_bytes, self.intra_threads, self.inter_threads, options.allow_spinning)
                for _unused in range(self.instance_count)
            ]
        except Exception as exc:  # noqa: BLE001 - onnxruntime's pybind errors
            raise ModelLoadError(f"onnxruntime cannot load the model: {str(exc).splitlines()[0]}") from exc
        self.inputs, self.outputs = self._check_signature()
        self.output_names = [o["name"] for o in self.outputs]
        self.stats = Stats()
        self.queue = collections.deque()
        self.idle = list(range(self.instance_count))
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.instance_count, thread_name_prefix=f"infer-{name}")
        self.timer = None
        self.executing = 0

    # --- signature ------------------------------------------------------------------------
    def _check_signature(self):
        """Match config inputs/outputs to the ONNX graph; return [{name, datatype, dims, shape}]."""
        session = self.sessions[0]
        graph_inputs = {i.name: i for i in session.get_inputs()}
        graph_outputs = {o.name: o for o in session.get_outputs()}
        batched = self.max_batch_size > 0

        def entries(configured, graph, kind):
            if not configured:  # auto-complete from the model, as Triton does for ONNX
                configured = [
                    {"name": n, "data_type": "TYPE_" + ONNX_TYPES.get(v.type, "FP32"),
                     "dims": [d if isinstance(d, int) else -1 for d in v.shape][1 if batched else 0:]}
                    for n, v in graph.items()
                ]
            result = []
            for item in configured:
                name = item.get("name")
                if name not in graph:
                    raise ModelLoadError(f"{kind} '{name}' of config.pbtxt is not in the model ({', '.join(graph)})")
                data_type = str(item.get("data_type", ""))
                datatype = "BYTES" if data_type == "TYPE_STRING" else data_type.replace("TYPE_", "", 1)
                actual = ONNX_TYPES.get(graph[name].type)
                if datatype != actual:
                    raise ModelLoadError(f"{kind} '{name}': config says {data_type}, the model has {graph[name].type}")
                dims = [int(d) for d in item.get("dims", [])]
                model_shape = [d if isinstance(d, int) else -1 for d in graph[name].shape]
                expected = model_shape[1:] if batched else model_shape
                if batched and model_shape and model_shape[0] not in (-1,):
                    raise ModelLoadError(
                        f"{kind} '{name}' has a fixed first dimension {model_shape[0]}: max_batch_size must be 0")
                if len(dims) != len(expected) or any(e not in (-1, d) and d != -1 for d, e in
                                                     zip(dims, expected, strict=True)):
                    raise ModelLoadError(f"{kind} '{name}': config dims {dims} do not match the model's {expected}")
                result.append({"name": name, "datatype": datatype, "dims": dims,
                               "shape": ([-1] if batched else []) + dims})
            return result

        inputs = entries(self.config.get("input"), graph_inputs, "input")
        outputs = entries(self.config.get("output"), graph_outputs, "output")
        missing = set(graph_inputs) - {i["name"] for i in inputs}
        if missing:
            raise ModelLoadError(f"config.pbtxt lacks the model inputs {sorted(missing)}")
        return inputs, outputs

    def metadata(self):
        return {
            "name": self.name,
            "versions": [self.version],
            "platform": self.config.get("platform", "onnxruntime_onnx"),
            "inputs": [{"name": i["name"], "datatype": i["datatype"], "shape": i["shape"]} for i in self.inputs],
            "outputs": [{"name": o["name"], "datatype": o["datatype"], "shape": o["shape"]} for o in self.outputs],
        }

    # --- request validation ---------------------------------------------------------------
    def check_inputs(self, arrays, declared_types):
        """Validate decoded inputs against the model; return the request's batch size."""
        if len(arrays) != len(self.inputs):
            raise RequestError(
                f"expected {len(self.inputs)} inputs but got {len(arrays)} inputs for model '{self.name}'")
        known = {spec["name"] for spec in self.inputs}
        for name in arrays:
            if name not in known:
                raise RequestError(f"unexpected inference input '{name}' for model '{self.name}'")
        batch = None
        for spec in self.inputs:
            name = spec["name"]
            if name not in arrays:
                raise RequestError(f"input '{name}' is missing for model '{self.name}'")
            if declared_types[name] != spec["datatype"]:
                raise RequestError(
                    f"inference input '{name}' data-type is '{declared_types[name]}', but model '{self.name}' "
                    f"expects '{spec['datatype']}'")
            shape = list(arrays[name].shape)
            dims = spec["dims"]
            if self.max_batch_size > 0:
                if not shape or shape[0] < 1:
                    raise RequestError(f"input '{name}': the first dimension is the batch size and must be >= 1")
                if shape[0] > self.max_batch_size:
                    raise RequestError(
                        f"inference request batch-size must be <= {self.max_batch_size} for '{self.name}'")
                if batch is not None and shape[0] != batch:
                    raise RequestError("all inputs must have the same batch size")
                batch = shape[0]
                rest = shape[1:]
            else:
                rest = shape
            if len(rest) != len(dims) or any(d != -1 and d != s for d, s in zip(dims, rest, strict=True)):
                raise RequestError(
                    f"unexpected shape for input '{name}' for model '{self.name}'. Expected {spec['shape']}, "
                    f"got {shape}")
        return batch or 1

    # --- batching and execution -----------------------------------------------------------
    def submit(self, inputs, batch_size):
        """Queue a validated request; return the future of its outputs."""
        if len(self.queue) >= self.max_queue_size:
            raise QueueFull("Exceeds maximum queue size")
        loop = asyncio.get_running_loop()
        pending = Pending(inputs, batch_size, loop.create_future())
        pending.enqueued_ns = time.perf_counter_ns()
        self.queue.append(pending)
        self._schedule()
        return pending

    def pending_count(self):
        return len(self.queue) + self.executing

    def _form_batch(self, now):
        """(number of queued requests to send now, seconds to wait) per the dynamic batcher's rules."""
        if not self.dynamic:
            return 1, 0.0
        total = 0
        count = 0
        preferred_count = 0
        for pending in self.queue:
            if total + pending.batch_size > self.max_batch_size:
                break
            total += pending.batch_size
            count += 1
            if total in self.preferred:
                preferred_count = count
        if total >= self.max_batch_size or count < len(self.queue) or self.delay_ns == 0:
            return count, 0.0
        waited = now - self.queue[0].enqueued_ns
        if waited >= self.delay_ns:
            return count, 0.0
        if preferred_count:
            return preferred_count, 0.0
        return 0, (self.delay_ns - waited) / 1e9

    def _schedule(self):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        loop = asyncio.get_running_loop()
        while self.idle and self.queue:
            now = time.perf_counter_ns()
            count, wait = self._form_batch(now)
            if count == 0:
                # epoll sleeps in whole milliseconds: a 100 us batching window would become 1 ms. Shorter
                # waits re-check on the next loop turn instead (new requests can only arrive on a turn).
                if wait < TIMER_RESOLUTION_S:
                    self.timer = loop.call_soon(self._schedule)
                else:
                    self.timer = loop.call_later(wait, self._schedule)
                return
            batch = [self.queue.popleft() for _unused in range(count)]
            for pending in batch:
                pending.dispatched_ns = now
            instance = self.idle.pop()
            self.executing += len(batch)
            future = loop.run_in_executor(self.executor, self._execute, instance, batch)
            future.add_done_callback(lambda f, i=instance, b=batch: self._done(f, i, b))

    def _execute(self, instance, batch):
        """Worker thread: run one batch; return (per-request outputs, timings in ns)."""
        t0 = time.perf_counter_ns()
        if len(batch) == 1:
            feeds = batch[0].inputs
        else:
            feeds = {spec["name"]: np.concatenate([p.inputs[spec["name"]] for p in batch])
                     for spec in self.inputs}
        t1 = time.perf_counter_ns()
        results = self.sessions[instance].run(self.output_names, feeds)
        t2 = time.perf_counter_ns()
        if len(batch) == 1:
            split = [dict(zip(self.output_names, results, strict=True))]
        else:
            split = []
            start = 0
            for pending in batch:
                stop = start + pending.batch_size
                split.append({n: r[start:stop] for n, r in zip(self.output_names, results, strict=True)})
                start = stop
        t3 = time.perf_counter_ns()
        return split, (t1 - t0, t2 - t1, t3 - t2)

    def _done(self, future, instance, batch):
        self.idle.append(instance)
        self.executing -= len(batch)
        error = future.exception() if not future.cancelled() else RuntimeError("cancelled")
        if error is None:
            split, timing = future.result()
            size = sum(p.batch_size for p in batch)
            self.stats.record_batch(size, *timing)
            for pending, outputs in zip(batch, split, strict=True):
                pending.timing = timing
                if not pending.future.done():
                    pending.future.set_result(outputs)
        else:
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(error)
        if self.queue:
            self._schedule()

    def record_success(self, pending, request_ns):
        stats = self.stats
        stats.success.add(request_ns)
        stats.queue.add(pending.dispatched_ns - pending.enqueued_ns)
        input_ns, infer_ns, output_ns = pending.timing
        stats.compute_input.add(input_ns)
        stats.compute_infer.add(infer_ns)
        stats.compute_output.add(output_ns)
        stats.inference_count += pending.batch_size
        stats.last_inference_ms = int(time.time() * 1000)

    def record_failure(self, request_ns):
        self.stats.fail.add(request_ns)

    def close(self):
        if self.timer is not None:
            self.timer.cancel()
        self.executor.shutdown(wait=False, cancel_futures=False)
