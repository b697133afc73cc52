# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Serving benchmark: raw onnxruntime against the local tritonserver (NVIDIA Triton 2.51 on CPU).

It measures, for the packaged model and the model stage's local settings (instances, intra-op threads,
dynamic batching), with the server started as the triton role starts it (tritonserver from `make setup`,
the role's flags, the collection's Python-based `onnxruntime` backend):
  - raw onnxruntime: one caller on one session (the latency reference), and one caller per
    instance (with 2 instances x 1 thread: both cores, the throughput reference at saturation);
  - tritonserver over HTTP with binary tensors and dynamic batching at concurrency 1, 4 and 16;
  - the ratios: served/raw throughput at saturation, and the P50 overhead at concurrency 1;
  - CPU per inference: raw against the server's process tree (tritonserver and its backend stubs).
Must reach: ratio >= 0.65, overhead <= 3 ms; aim: ratio >= 0.75, overhead <= 2 ms.

CPU speed on shared machines drifts minute to minute, so phases are short and interleaved in
rounds: each round measures raw and served back to back, each ratio and overhead is computed
within its round, and the summary is the median over rounds (with the spread). The latency pair
at concurrency 1 is finer still: raw and served alternate in short slices within the phase, so a
drift in CPU speed hits both alike instead of showing up as serving overhead. This is a
benchmark, not a test: it reports misses, it does not fail on them. The result is appended to
docs/benchmarks.md with a description of the machine.

The load generator is a small asyncio HTTP/1.1 client in this process (keep-alive connections,
one pre-encoded Triton binary-tensor request) so that the client costs as little CPU as possible:
client, server and onnxruntime share the same cores, and a heavier client would be measured as
server overhead.

    python benchmarks/serving_bench.py [--architecture mobilenetv2] [--rounds 3] [--phase-seconds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import socket
import sys
import tempfile
import threading
import time
import urllib.request

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "collections"))
sys.path.insert(0, os.path.join(ROOT, "tests"))  # the tritonserver process helper the tests use

from ansible_collections.gpu_e2e.platform.plugins.module_utils import onnx_package, triton_config  # noqa: E402
from ansible_collections.gpu_e2e.platform.plugins.module_utils import percentiles as latency_percentiles  # noqa: E402
from tritonserver_process import TritonServer  # noqa: E402

GOAL_RATIO = 0.65
GOAL_OVERHEAD_MS = 3.0
AIM_RATIO = 0.75
AIM_OVERHEAD_MS = 2.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def create_session(model_bytes, intra, inter):
    """A raw onnxruntime session with the thread settings the backend reads from config.pbtxt."""
    import onnxruntime as ort  # noqa: PLC0415

    options = ort.SessionOptions()
    options.intra_op_num_threads = intra
    options.inter_op_num_threads = inter
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def thread_settings(config):
    params = {p["key"]: p["value"]["string_value"] for p in config.get("parameters", [])}
    return int(params.get("intra_op_thread_count", 0)), int(params.get("inter_op_thread_count", 0))


def tree_cpu_seconds(pid):
    """User + system CPU seconds of a process and all its descendants (tritonserver and its stubs)."""
    parents = {}
    times = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    tree, frontier = {pid}, [pid]
    while frontier:
        current = frontier.pop()
        children = [p for p, parent in parents.items() if parent == current and p not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(times.get(p, 0.0) for p in tree)


# --- helpers --------------------------------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentiles(values_ms):
    """P50/P95/P99 of the timed requests (numpy's linear method), from the collection's one helper."""
    return latency_percentiles.sample_percentiles(values_ms, (50, 95, 99), method="linear", digits=3)


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            mem_gib = round(int(handle.readline().split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    import onnxruntime  # noqa: PLC0415

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem_gib, "kernel": platform.release(),
        "python": platform.python_version(), "onnxruntime": onnxruntime.__version__,
        "load_average_1m_at_start": round(load, 2) if load is not None else None,
    }


# --- the model under test -------------------------------------------------------------------------


def package_model(architecture, repository, instances, intra_threads, delay_us=100, preferred=(4, 8)):
    """The model stage's local-profile config.pbtxt (instances and threads as the role's defaults, or given)."""
    params = {
        "name": architecture, "repository": repository, "source": "builtin", "architecture": architecture, "seed": 0,
        "path": None, "torchvision_model": None, "torchvision_weights": "DEFAULT", "version": 1, "max_batch_size": 8,
        "preferred_batch_sizes": list(preferred), "max_queue_delay_microseconds": delay_us, "max_queue_size": 128,
        "instance_kind": "KIND_CPU", "instance_count": instances, "tensorrt_fp16": False,
        "intra_op_threads": intra_threads,
    }
    return onnx_package.package(params)


def request_bytes(model_name, tensor):
    header = json.dumps({
        "inputs": [{"name": "input", "shape": list(tensor.shape), "datatype": "FP32",
                    "parameters": {"binary_data_size": tensor.nbytes}}],
        "outputs": [{"name": "logits", "parameters": {"binary_data": True}}],
    }).encode()
    body = header + tensor.tobytes()
    head = (f"POST /v2/models/{model_name}/infer HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/octet-stream\r\nInference-Header-Content-Length: {len(header)}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    return head + body


# --- raw onnxruntime ------------------------------------------------------------------------------


def _raw_loop(session, feeds, deadline, latencies):
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        session.run(None, feeds)
        latencies.append((time.perf_counter() - t0) * 1000.0)


def raw_parallel(sessions, tensor, duration):
    """One caller per instance, as the runtime runs them: throughput at saturation."""
    per_caller = [[] for _unused in sessions]
    started, cpu_started = time.perf_counter(), time.process_time()
    threads = [threading.Thread(target=_raw_loop, args=(session, {"input": tensor}, started + duration, lat))
               for session, lat in zip(sessions, per_caller, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    count = sum(len(lat) for lat in per_caller)
    return {"callers": len(sessions), "requests": count, "throughput": round(count / elapsed, 2),
            "cpu_ms_per_inference": round(cpu / count * 1000.0, 3) if count else None}


# --- served ---------------------------------------------------------------------------------------


async def _connection(port, payload, deadline, latencies, errors, first_body):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            header_length = None
            for line in head.split(b"\r\n")[1:]:
                name, _sep, value = line.partition(b":")
                lname = name.strip().lower()
                if lname == b"content-length":
                    length = int(value)
                elif lname == b"inference-header-content-length":
                    header_length = int(value)
            body = await reader.readexactly(length)
            if status != 200:
                errors.append(status)
                continue
            latencies.append((time.perf_counter() - t0) * 1000.0)
            if not first_body:
                first_body.append((header_length, body))
    finally:
        writer.close()


async def _served(port, payload, concurrency, duration, warmup=0.5):
    latencies, errors, first = [], [], []
    warm_deadline = time.perf_counter() + warmup
    await asyncio.gather(*[_connection(port, payload, warm_deadline, [], [], []) for _unused in range(concurrency)])
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(*[_connection(port, payload, deadline, latencies, errors, first)
                           for _unused in range(concurrency)])
    elapsed = time.perf_counter() - started
    return latencies, errors, elapsed, first


def bench_served(port, payload, concurrency, duration):
    latencies, errors, elapsed, first = asyncio.run(_served(port, payload, concurrency, duration))
    return {
        "concurrency": concurrency, "requests": len(latencies), "errors": len(errors),
        "throughput": round(len(latencies) / elapsed, 2), **percentiles(latencies),
    }, first


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:  # noqa: S310
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith(("nv_inference_count{", "nv_inference_exec_count{")):
            values[line.split("{")[0].split(" ")[0]] = float(line.rsplit(" ", 1)[1])
    return values


# --- report ---------------------------------------------------------------------------------------


def _cell(values):
    """Median of a list, with the range when it has more than one value."""
    if not values:
        return ""
    mid = round(float(np.median(values)), 2)
    return f"{mid}" if len(values) == 1 else f"{mid} ({round(min(values), 2)}-{round(max(values), 2)})"


def markdown(result):
    m = result["machine"]
    c = result["config"]
    rounds = result["rounds"]
    lines = [
        f"## {result['date']} - {result['architecture']} (random weights), NVIDIA Triton 2.51 on CPU",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Linux {m['kernel']}, "
        f"Python {m['python']}, onnxruntime {m['onnxruntime']}; "
        f"1-min load average at start {m['load_average_1m_at_start']}. Server: tritonserver 2.51 (the "
        "nvidia-pytriton wheel's, started with the triton role's flags), onnxruntime through the collection's "
        "Python-based `onnxruntime` backend; client: a keep-alive HTTP/1.1 client in the benchmark sending "
        "binary tensors. Client, server and onnxruntime share "
        f"these cores. Model {result['model_bytes'] / 1e6:.1f} MB; config.pbtxt: max_batch_size {c['max_batch_size']}, "
        f"preferred {c['preferred']}, queue delay {c['delay_us']} us, {c['instances']} instance(s) x "
        f"{c['intra_threads'] or 'default'} intra-op thread(s)"
        f"{', server flags ' + c['runtime_args'] if c['runtime_args'] else ''}. {len(rounds)} interleaved rounds of "
        f"{result['phase_seconds']} s phases; cells are medians over rounds (range). "
        "CPU figures: nothing here predicts GPU numbers.",
        "",
        "| phase | concurrency | requests | errors | throughput (infer/s) | P50 ms | P95 ms | mean batch |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def row(label, concurrency, key):
        items = [r[key] for r in rounds if key in r]
        return (f"| {label} | {concurrency} | {sum(i['requests'] for i in items)} | "
                f"{sum(i.get('errors', 0) for i in items)} | {_cell([i['throughput'] for i in items])} | "
                f"{_cell([i['p50'] for i in items if i.get('p50') is not None])} | "
                f"{_cell([i['p95'] for i in items if i.get('p95') is not None])} | "
                f"{_cell([i['mean_batch'] for i in items if i.get('mean_batch') is not None])} |")

    lines.append(row("raw onnxruntime, 1 caller", 1, "raw_single"))
    lines.append(row(f"raw onnxruntime, {c['raw_callers']} caller(s) x 1 thread", c["raw_callers"], "raw_parallel"))
    for level in result["levels"]:
        lines.append(row("served (HTTP, binary tensors)", level, f"served_{level}"))
    s = result["summary"]
    lines += [
        "",
        f"- Throughput at saturation (served at concurrency {s['saturation_concurrency']} / raw with "
        f"{c['raw_callers']} caller(s), per round): **{s['throughput_ratio']:.2f}** "
        f"(rounds: {', '.join(f'{v:.2f}' for v in s['ratios'])}; must reach >= {GOAL_RATIO}: "
        f"{'met' if s['ratio_ok'] else 'MISSED'}; aim >= {AIM_RATIO}: "
        f"{'met' if s['throughput_ratio'] >= AIM_RATIO else 'missed'}).",
        f"- P50 overhead at concurrency 1 (served P50 - raw P50, per round, the two alternating in 8 slices): "
        f"**{s['overhead_p50_ms']:.2f} ms** "
        f"(rounds: {', '.join(f'{v:.2f}' for v in s['overheads'])}; must reach <= {GOAL_OVERHEAD_MS} ms: "
        f"{'met' if s['overhead_ok'] else 'MISSED'}; aim <= {AIM_OVERHEAD_MS} ms: "
        f"{'met' if s['overhead_p50_ms'] <= AIM_OVERHEAD_MS else 'missed'}).",
        cpu_line(result),
        f"- Raw throughput drift across the run (last round vs first): {s['raw_drift_pct']}%.",
        "",
    ]
    return "\n".join(lines)


def cpu_line(result):
    """Where the cores went at saturation: CPU per inference, raw against served (runtime and load generator)."""
    rounds, top = result["rounds"], max(result["levels"])
    raw = [r["raw_parallel"]["cpu_ms_per_inference"] for r in rounds if r["raw_parallel"].get("cpu_ms_per_inference")]
    served = [r[f"served_{top}"] for r in rounds if r.get(f"served_{top}", {}).get("cpu_ms_per_inference")]
    if not raw or not served:
        return "- CPU per inference at saturation: not measured."
    server = _cell([r["cpu_ms_per_inference"] for r in served])
    client = _cell([r["client_cpu_ms_per_inference"] for r in served])
    return (f"- CPU per inference at saturation: raw onnxruntime {_cell(raw)} ms; served {server} ms in "
            "tritonserver and its backend stubs (HTTP, batching, the Python backend's round trip and onnxruntime "
            f"together) plus {client} ms in the load generator, on the same cores.")


def append_report(path, text):
    header = (
        "# Benchmarks\n\nAppended by `make bench` (benchmarks/serving_bench.py). Local figures are CPU figures of the "
        "machine named in each section, with built-in models whose weights are random; compare ratios within a "
        "section, not absolute numbers across sections.\n\n"
    )
    exists = os.path.exists(path)
    with open(path, "a", encoding="utf-8") as handle:
        if not exists:
            handle.write(header)
        handle.write(text + "\n")


def summarize(rounds, levels):
    top = max(levels)
    ratios = [r[f"served_{top}"]["throughput"] / r["raw_parallel"]["throughput"] for r in rounds
              if r["raw_parallel"]["throughput"]]
    overheads = [r["served_1"]["p50"] - r["raw_single"]["p50"] for r in rounds if "served_1" in r]
    ratio = float(np.median(ratios)) if ratios else 0.0
    overhead = float(np.median(overheads)) if overheads else float("nan")
    first, last = rounds[0]["raw_parallel"]["throughput"], rounds[-1]["raw_parallel"]["throughput"]
    return {
        "saturation_concurrency": top, "ratios": [round(v, 3) for v in ratios], "throughput_ratio": round(ratio, 3),
        "ratio_ok": ratio >= GOAL_RATIO, "overheads": [round(v, 3) for v in overheads],
        "overhead_p50_ms": round(overhead, 3), "overhead_ok": overhead <= GOAL_OVERHEAD_MS,
        "raw_drift_pct": round((last - first) / first * 100.0, 1) if first else None,
    }


def mean_batch(before, after):
    execs = after["nv_inference_exec_count"] - before["nv_inference_exec_count"]
    inferences = after["nv_inference_count"] - before["nv_inference_count"]
    return round(inferences / execs, 2) if execs else None


def check_output(first, reference):
    if first:
        header_length, body = first[0]
        served_out = np.frombuffer(body[header_length:], dtype=np.float32).reshape(reference.shape)
        if not np.allclose(served_out, reference, rtol=1e-4, atol=1e-5):
            raise SystemExit("the served output differs from raw onnxruntime's: not the same model?")


def served_phase(port, metrics_port, payload, level, seconds, reference, server_pid):
    """One load level; besides latency and throughput, the CPU each inference cost the server and the client."""
    before, client_started, server_started = scrape(metrics_port), time.process_time(), tree_cpu_seconds(server_pid)
    row, first = bench_served(port, payload, level, seconds)
    client_cpu, after = time.process_time() - client_started, scrape(metrics_port)
    server_cpu = tree_cpu_seconds(server_pid) - server_started
    row["mean_batch"] = mean_batch(before, after)
    inferences = after["nv_inference_count"] - before["nv_inference_count"]  # the warm-up included, as in the CPU
    if inferences:
        row["cpu_ms_per_inference"] = round(server_cpu / inferences * 1000.0, 3)
        row["client_cpu_ms_per_inference"] = round(client_cpu / inferences * 1000.0, 3)
    check_output(first, reference)
    return row


def paired_single(session, tensor, port, metrics_port, payload, seconds, reference, slices=8):
    """Raw onnxruntime and served at concurrency 1, alternating in `slices` slices of the phase.

    Returns (raw row, served row), each over all its slices.
    """
    slice_s = seconds / slices
    raw_latencies, served_latencies, errors, first = [], [], [], []
    raw_elapsed = served_elapsed = 0.0
    before = scrape(metrics_port)
    for _slice in range(slices):
        started = time.perf_counter()
        _raw_loop(session, {"input": tensor}, started + slice_s, raw_latencies)
        raw_elapsed += time.perf_counter() - started
        latencies, slice_errors, elapsed, slice_first = asyncio.run(_served(port, payload, 1, slice_s, warmup=0.05))
        served_latencies += latencies
        errors += slice_errors
        served_elapsed += elapsed
        first = first or slice_first
    after = scrape(metrics_port)
    raw = {"requests": len(raw_latencies), "throughput": round(len(raw_latencies) / raw_elapsed, 2),
           **percentiles(raw_latencies)}
    served = {"concurrency": 1, "requests": len(served_latencies), "errors": len(errors),
              "throughput": round(len(served_latencies) / served_elapsed, 2), **percentiles(served_latencies)}
    served["mean_batch"] = mean_batch(before, after)
    check_output(first, reference)
    return raw, served


# The tuning sweep: one setting changed at a time from the role's local default (2 instances x 1 thread,
# 100 us queue delay, preferred batch sizes [4, 8]). Each runs in the same invocation as the others, so their
# ratios to raw onnxruntime on both cores are comparable within the sweep.
SWEEP = [
    {"label": "role default", "instances": 2, "intra_threads": 1, "delay_us": 100, "preferred": [4, 8]},
    {"label": "1 instance x 1 thread", "instances": 1, "intra_threads": 1, "delay_us": 100, "preferred": [4, 8]},
    {"label": "1 instance x 2 threads", "instances": 1, "intra_threads": 2, "delay_us": 100, "preferred": [4, 8]},
    {"label": "3 instances x 1 thread", "instances": 3, "intra_threads": 1, "delay_us": 100, "preferred": [4, 8]},
    {"label": "no queue delay", "instances": 2, "intra_threads": 1, "delay_us": 0, "preferred": [4, 8]},
    {"label": "1 ms queue delay", "instances": 2, "intra_threads": 1, "delay_us": 1000, "preferred": [4, 8]},
    {"label": "no preferred sizes", "instances": 2, "intra_threads": 1, "delay_us": 100, "preferred": []},
    {"label": "preferred [8]", "instances": 2, "intra_threads": 1, "delay_us": 100, "preferred": [8]},
]


def measure(architecture, setting, levels, rounds_wanted, phase, extra):
    """One server configuration: start tritonserver on it, run the interleaved rounds, stop it.

    The references are the same for every configuration: raw onnxruntime with one caller on a session
    with the configuration's intra-op threads (the latency reference: what one served inference runs),
    and one single-threaded caller per core (the throughput reference: the machine's limit).
    """
    with tempfile.TemporaryDirectory(prefix="serving-bench-") as tmp:
        repository = os.path.join(tmp, "models")
        pkg = package_model(architecture, repository, setting["instances"], setting["intra_threads"],
                            setting["delay_us"], setting["preferred"])
        with open(pkg["config_path"], encoding="utf-8") as handle:
            config = triton_config.parse(handle.read())
        intra, inter = thread_settings(config)
        with open(pkg["model_path"], "rb") as handle:
            model_bytes = handle.read()
        single = create_session(model_bytes, intra, inter)
        parallel = [create_session(model_bytes, 1, 1) for _unused in range(os.cpu_count() or 1)]
        tensor = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
        reference = single.run(None, {"input": tensor})[0]
        for session in [single, *parallel]:
            for _warm in range(5):
                session.run(None, {"input": tensor})
        payload = request_bytes(pkg["name"], tensor)
        server = TritonServer(repository, os.path.join(tmp, "tritonserver.log"), extra_args=extra)
        http_port, metrics_port, server_pid = server.http_port, server.metrics_port, server.proc.pid
        rounds = []
        try:
            for number in range(1, rounds_wanted + 1):
                raw, served = paired_single(single, tensor, http_port, metrics_port, payload, phase, reference)
                result = {"raw_single": raw, "served_1": served}
                for level in levels:
                    if level not in (1, max(levels)):
                        result[f"served_{level}"] = served_phase(http_port, metrics_port, payload, level, phase,
                                                                 reference, server_pid)
                result["raw_parallel"] = raw_parallel(parallel, tensor, phase)
                top = max(levels)
                if top != 1:
                    result[f"served_{top}"] = served_phase(http_port, metrics_port, payload, top, phase, reference,
                                                           server_pid)
                rounds.append(result)
                print(f"{setting['label']}, round {number}: " + "; ".join(
                    f"{key} {value['throughput']}/s" + (f" p50 {value['p50']} ms" if value.get("p50") else "")
                    for key, value in result.items()), flush=True)
        finally:
            server.stop()
    return {
        "model_bytes": pkg["bytes"],
        "config": {"max_batch_size": 8, "preferred": setting["preferred"], "delay_us": setting["delay_us"],
                   "instances": setting["instances"], "intra_threads": intra, "raw_callers": len(parallel),
                   "runtime_args": " ".join(extra)},
        "rounds": rounds,
        "summary": summarize(rounds, levels),
    }


def measure_or_failure(architecture, setting, levels, rounds_wanted, phase, extra):
    """measure(), or the reason it did not complete: one setting that fails is a row of the table, not the end."""
    try:
        return measure(architecture, setting, levels, rounds_wanted, phase, extra)
    except (OSError, RuntimeError, SystemExit) as error:
        print(f"{setting['label']}: did not complete: {error}", flush=True)
        return {"failed": str(error).splitlines()[0][:200]}


def sweep_markdown(date, architecture, machine_info, phase, rounds, results):
    """The tuning table: one row per setting, ratios and overheads each within its own rounds."""
    m = machine_info
    lines = [
        f"## {date} - tuning sweep, {architecture} (random weights), NVIDIA Triton 2.51 on CPU",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, Linux {m['kernel']}, onnxruntime {m['onnxruntime']}; "
        f"1-min load average at start {m['load_average_1m_at_start']}, at end {m['load_average_1m_at_end']}. "
        "One setting changed at a time from the role's local default; every row has its own server and "
        f"{rounds} interleaved round(s) of {phase} s phases against the same raw references (one caller on a "
        "session with the row's intra-op threads for latency; one single-threaded caller per core for "
        "throughput). Ratios are medians over the row's rounds (range). CPU figures: nothing here predicts "
        "GPU numbers.",
        "",
        "| setting | instances x threads | queue delay us | preferred | served inf/s at saturation | "
        "x raw on both cores | P50 overhead ms at 1 | mean batch at saturation |",
        "|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for setting, result in results:
        if "failed" in result:
            lines.append(f"| {setting['label']} | {setting['instances']} x {setting['intra_threads']} | "
                         f"{setting['delay_us']} | {setting['preferred'] or 'none'} | did not complete: "
                         f"{result['failed']} | | | |")
            continue
        s, top = result["summary"], s_top(result)
        served = _cell([r[f"served_{top}"]["throughput"] for r in result["rounds"]])
        batches = [r[f"served_{top}"]["mean_batch"] for r in result["rounds"]
                   if r[f"served_{top}"].get("mean_batch") is not None]
        lines.append(
            f"| {setting['label']} | {setting['instances']} x {setting['intra_threads']} | {setting['delay_us']} | "
            f"{setting['preferred'] or 'none'} | {served} | "
            f"{_cell(s['ratios'])} | {_cell(s['overheads'])} | {_cell(batches)} |")
    completed = [item for item in results if "failed" not in item[1]]
    if not completed:
        return "\n".join([*lines, "", "- No setting completed.", ""])
    best = max(completed, key=lambda item: item[1]["summary"]["throughput_ratio"])
    fastest = max(completed, key=lambda item: float(np.median(
        [r[f"served_{s_top(item[1])}"]["throughput"] for r in item[1]["rounds"]])))
    raw = [r["raw_parallel"]["throughput"] for _setting, result in completed for r in result["rounds"]]
    lines += [
        "",
        f"- Highest ratio to raw on both cores: **{best[0]['label']}** "
        f"({best[1]['summary']['throughput_ratio']:.2f}); must reach >= {GOAL_RATIO}, aim >= {AIM_RATIO}.",
        f"- Highest served throughput at saturation: **{fastest[0]['label']}**.",
        f"- Raw onnxruntime on both cores across the sweep: {min(raw):.0f}-{max(raw):.0f} inf/s. When that range is "
        "wide the machine was busy with other work, and a ratio moves with the raw round as much as with the server.",
        "",
    ]
    return "\n".join(lines)


def s_top(result):
    return result["summary"]["saturation_concurrency"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--architecture", default="mobilenetv2", choices=["mobilenetv2", "resnet50"])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--phase-seconds", type=float, default=4.0, help="seconds per phase (default 4)")
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--instances", type=int, default=2, help="instance_group count (the role's local default: 2)")
    parser.add_argument("--intra-threads", type=int, default=1,
                        help="intra_op_thread_count per instance (the role's local default: 1; 0 = onnxruntime's)")
    parser.add_argument("--delay-us", type=int, default=100, help="max_queue_delay_microseconds (role default 100)")
    parser.add_argument("--preferred", default="4,8", help="preferred batch sizes, comma-separated ('' for none)")
    parser.add_argument("--sweep", action="store_true",
                        help="run the tuning sweep (one setting changed at a time) instead of one configuration")
    parser.add_argument("--sweep-settings", default="",
                        help="with --sweep: only these settings (comma-separated labels of SWEEP)")
    parser.add_argument("--output", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    parser.add_argument("--json", help="also write the raw results as JSON here")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--server-args", default="",
                        help="extra tritonserver flags, e.g. '--backend-config=python,shm-default-byte-size=33554432'")
    args = parser.parse_args(argv)
    levels = sorted({int(c) for c in args.concurrency.split(",")} | {1})
    extra = args.server_args.split()
    load = machine()["load_average_1m_at_start"]
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")

    if args.sweep:
        wanted = [label.strip() for label in args.sweep_settings.split(",") if label.strip()]
        unknown = sorted(set(wanted) - {setting["label"] for setting in SWEEP})
        if unknown:
            parser.error(f"unknown --sweep-settings {unknown}; known: {[setting['label'] for setting in SWEEP]}")
        chosen = [setting for setting in SWEEP if not wanted or setting["label"] in wanted]
        results = [(setting, measure_or_failure(args.architecture, setting, levels, args.rounds, args.phase_seconds,
                                                extra)) for setting in chosen]
        machine_info = machine()
        machine_info["load_average_1m_at_end"] = machine_info["load_average_1m_at_start"]
        machine_info["load_average_1m_at_start"] = load
        text = sweep_markdown(date, args.architecture, machine_info, args.phase_seconds, args.rounds, results)
        document = {"date": date, "architecture": args.architecture, "machine": machine_info,
                    "sweep": [{"setting": setting, **result} for setting, result in results]}
    else:
        setting = {"label": "given", "instances": args.instances, "intra_threads": args.intra_threads,
                   "delay_us": args.delay_us, "preferred": [int(v) for v in args.preferred.split(",") if v.strip()]}
        measured = measure(args.architecture, setting, levels, args.rounds, args.phase_seconds, extra)
        machine_info = machine()
        machine_info["load_average_1m_at_start"] = load
        document = {"date": date, "architecture": args.architecture, "machine": machine_info,
                    "phase_seconds": args.phase_seconds, "levels": levels, **measured}
        text = markdown(document)
    print()
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
    if not args.no_write:
        append_report(args.output, text)
        print(f"appended to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
