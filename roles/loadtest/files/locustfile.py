"""Locust load test of a Triton inference server (NVIDIA Triton on EKS, or the local tritonserver on CPU).

Each user is one closed-loop client, like one of perf_analyzer's concurrent
requests: it POSTs a real inference request with binary input tensors
(Triton's binary tensor extension) to /v2/models/<model>/infer, checks the
binary outputs, and sends the next one. The load follows a stage plan (see
gpu_e2e_loadtest/plan.py) through one LoadTestShape, so smoke, spike, soak and
sweep differ only in their plan; the role builds plans from inventory.

    locust -f roles/loadtest/files/locustfile.py --headless --host http://127.0.0.1:8000 \
        --model mobilenetv2 --plan "$(cat plan.json)" --stages-file stages.json \
        --csv out/locust --csv-full-history --json-file out/locust.json

Works unchanged as a single process, as a master with workers (--master /
--worker: the shape and the stage statistics run on the master) and in
Kubernetes (the role's ConfigMap carries this file and gpu_e2e_loadtest/).
"""

from __future__ import annotations

import json
import logging
import os
import time

import gevent
import locust.stats
from gevent.lock import Semaphore
from locust import FastHttpUser, LoadTestShape, events, task
from locust.runners import WorkerRunner

from gpu_e2e_loadtest import stage_stats
from gpu_e2e_loadtest.plan import PlanError, load_plan, stage_at
from gpu_e2e_loadtest.triton_codec import HEADER, CodecError, build_request, parse_response

# Flush the CSV files every second: the role's progress poller reads them live.
locust.stats.CSV_STATS_FLUSH_INTERVAL_SEC = 1

LOG = logging.getLogger("gpu_e2e_loadtest")


@events.init_command_line_parser.add_listener
def _add_arguments(parser):
    group = parser.add_argument_group("gpu_e2e load test")
    group.add_argument("--model", default=os.environ.get("LOADTEST_MODEL", "mobilenetv2"), help="Model name")
    group.add_argument("--model-version", default="", help="Model version (empty: the server's policy)")
    group.add_argument("--batch-size", type=int, default=1, help="Inferences per request (batched models)")
    group.add_argument(
        "--request-timeout", type=float, default=10.0, help="Connect and network timeout of one request, seconds"
    )
    group.add_argument(
        "--error-backoff", type=float, default=0.2, help="Pause after a failed request so a dead server is not spun on"
    )
    group.add_argument(
        "--input-file", default="",
        help="Raw tensor of one inference for the first input (a preprocessed image); random without it",
    )
    group.add_argument("--plan", default=os.environ.get("LOADTEST_PLAN", ""), help="Stage plan (JSON)")
    group.add_argument("--stages-file", default="", help="Where the master writes per-stage statistics (JSON)")


class _Model:
    """The request body, built once per process from the model's metadata."""

    lock = Semaphore()
    body = None
    headers = None
    path = None


def _model_request(user):
    if _Model.body is not None:
        return _Model.body, _Model.headers, _Model.path
    with _Model.lock:
        if _Model.body is None:
            opts = user.environment.parsed_options
            base = f"/v2/models/{opts.model}" + (f"/versions/{opts.model_version}" if opts.model_version else "")
            with user.client.get(base, name="metadata", catch_response=True) as resp:
                if resp.status_code != 200:
                    resp.failure(_describe(resp))
                    return None
                metadata = resp.json()
                resp.success()
            batched = False
            with user.client.get(base + "/config", name="config", catch_response=True) as resp:
                if resp.status_code == 200:
                    batched = int(resp.json().get("max_batch_size", 0) or 0) > 0
                    resp.success()
                else:  # the config endpoint is optional: fall back to the metadata's dynamic dimension
                    batched = any(spec["shape"] and int(spec["shape"][0]) == -1 for spec in metadata["inputs"])
                    resp.success()
            try:
                input_bytes = None
                if opts.input_file:
                    with open(opts.input_file, "rb") as handle:
                        input_bytes = handle.read()
                body, headers, per_request = build_request(metadata, opts.batch_size, batched,
                                                           input_bytes=input_bytes)
            except (CodecError, OSError) as exc:
                LOG.error("cannot build an inference request: %s", exc)
                return None
            _Model.headers = headers
            _Model.path = base + "/infer"
            _Model.body = body
            LOG.info(
                "model %s: %d bytes per request, %d inference(s) per request, input %s", opts.model, len(body),
                per_request, opts.input_file or "random",
            )
    return _Model.body, _Model.headers, _Model.path


def _describe(resp):
    if resp.status_code == 0 or resp.status_code is None:
        return f"connection error: {resp.error!r}"
    text = (resp.text or "")[:160].replace("\n", " ")
    return f"HTTP {resp.status_code}: {text}"


class TritonUser(FastHttpUser):
    """One closed-loop client sending binary inference requests."""

    # Bounded requests: a dead or stuck server yields failures, never a hang.
    network_timeout = 10.0
    connection_timeout = 10.0
    max_retries = 0

    def wait_time(self):
        return 0

    @task
    def infer(self):
        request = _model_request(self)
        if request is None:
            gevent.sleep(self.environment.parsed_options.error_backoff)
            return
        body, headers, path = request
        ok = True
        with self.client.post(path, data=body, headers=headers, name="infer", catch_response=True) as resp:
            if resp.status_code != 200:
                ok = False
                resp.failure(_describe(resp))
            else:
                try:
                    parse_response(resp.content or b"", resp.headers.get(HEADER))
                    resp.success()
                except CodecError as exc:
                    ok = False
                    resp.failure(f"bad response: {exc}")
        if not ok:
            gevent.sleep(self.environment.parsed_options.error_backoff)


@events.init.add_listener
def _configure(environment, **_kwargs):
    opts = environment.parsed_options
    if opts is None:
        return
    TritonUser.network_timeout = opts.request_timeout
    TritonUser.connection_timeout = opts.request_timeout
    if not isinstance(environment.runner, WorkerRunner) and not opts.plan:
        LOG.warning("no --plan given: the stage shape stops the test at once")


class PlanShape(LoadTestShape):
    """Follow the stage plan and record each stage's own statistics (on the master)."""

    def __init__(self):
        super().__init__()
        self._plan = None
        self._stage_index = None
        self._marks = {}
        self._results = []
        self._written = False

    def _load(self):
        if self._plan is None:
            text = self.runner.environment.parsed_options.plan
            try:
                self._plan = load_plan(text) if text else {"scenario": "none", "stages": []}
            except PlanError as exc:
                LOG.error("%s", exc)
                self._plan = {"scenario": "invalid", "stages": []}
        return self._plan

    def reset_time(self):
        super().reset_time()
        self._stage_index = None
        self._marks = {}
        self._results = []
        self._written = False

    def _record(self, elapsed):
        stats_total = self.runner.stats.total
        now = time.time()
        for index, stage in enumerate(self._plan["stages"]):
            start_key, end_key = (index, "start"), (index, "end")
            if start_key not in self._marks and elapsed >= float(stage["measure_from_s"]):
                self._marks[start_key] = stage_stats.snapshot(stats_total, now)
            if end_key not in self._marks and start_key in self._marks and elapsed >= float(stage["until_s"]):
                self._marks[end_key] = stage_stats.snapshot(stats_total, now)
                self._results.append(
                    stage_stats.delta(self._marks[start_key], self._marks[end_key], stage["name"], stage["users"])
                )
                self._write()

    def _write(self, final=False):
        path = self.runner.environment.parsed_options.stages_file
        if not path:
            return
        doc = {
            "scenario": self._plan.get("scenario"),
            "plan": self._plan,
            "stages": self._results,
            "complete": final,
        }
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(doc, handle, indent=2)
        os.replace(tmp, path)

    def tick(self):
        plan = self._load()
        elapsed = self.get_run_time()
        self._record(elapsed)
        current = stage_at(plan, elapsed)
        if current is None:
            if not self._written:
                self._written = True
                self._write(final=True)
            return None
        index, stage = current
        if index != self._stage_index:
            self._stage_index = index
            LOG.info("stage %s: %s users (spawn rate %.2f/s)", stage["name"], stage["users"], stage["spawn_rate"])
        return int(stage["users"]), float(stage["spawn_rate"])
