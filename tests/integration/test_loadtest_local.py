"""Load tests against NVIDIA's tritonserver (the one `make setup` installs) on free loopback ports.

Each scenario is at most ~12 s of load: a smoke run with KPIs and the SLO gate, a run whose
server is killed half-way (an error rate, not a crash or a hang), a distributed run (a master
and two workers) and, when the `prometheus` binary is present, server-side KPIs from Prometheus.
Nothing asserts absolute speed.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from aws_emulator_process import free_port
from tritonserver_process import TritonServer

from ansible_collections.gpu_e2e.platform.plugins.module_utils import loadtest_kpis as kpis
from ansible_collections.gpu_e2e.platform.plugins.module_utils import loadtest_plan as plan_mu
from ansible_collections.gpu_e2e.platform.plugins.module_utils import onnx_model, triton_config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

LOCUSTFILE = os.path.join(ROOT, "roles", "loadtest", "files", "locustfile.py")
MODEL = "mobilenetv2"


def wait_http(url, timeout=60, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"{url} did not answer in {timeout}s")


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    if onnx_model.missing_libraries():
        pytest.skip("onnx/onnxruntime are not installed")
    root = tmp_path_factory.mktemp("repo")
    (root / MODEL / "1").mkdir(parents=True)
    data = onnx_model.build_builtin(MODEL)
    (root / MODEL / "1" / "model.onnx").write_bytes(data)
    info = onnx_model.inspect_model(data)
    config = triton_config.model_config(
        MODEL, onnx_model.batch_dims(info["inputs"], 8), onnx_model.batch_dims(info["outputs"], 8), max_batch_size=8
    )
    (root / MODEL / "config.pbtxt").write_text(triton_config.render(config))
    return str(root)


@pytest.fixture(scope="module")
def runtime(repository, tmp_path_factory):
    rt = TritonServer(repository, tmp_path_factory.mktemp("rt") / "tritonserver.log")
    yield rt
    rt.stop()


def locust_cmd(host, plan, out, extra=()):
    return [
        sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--headless", "--host", host, "--model", MODEL,
        "--plan", json.dumps(plan), "--stages-file", str(out / "stages.json"), "--csv", str(out / "locust"),
        "--csv-full-history", "--json-file", str(out / "locust"), "--request-timeout", "5", "--stop-timeout", "3",
        *extra,
    ]


def run_locust(cmd, out, timeout=60):
    with open(out / "locust.log", "wb") as log:
        return subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, check=False)


def build(out, start, end, **extra):
    opts = {
        "scenario": "smoke", "shape": "steady", "csv_prefix": str(out / "locust"),
        "stages_file": str(out / "stages.json"), "start": start, "end": end, "model": MODEL, "batch_size": 1,
        "platform_target": "local", "utilisation": "cpu", "prometheus_url": "", "prometheus_lag_s": 2.0,
        "slo_targets": {"p95_ms": 60000, "error_rate_pct": 1, "min_throughput_rps": 0.5}, "slo_enabled": True,
    }
    opts.update(extra)
    return kpis.build(opts)


def assert_server_counted_the_client_inferences(client_requests, served, plan):
    """Every inference the client completed was counted by the server.

    The client's count has 2 requests that are not inferences (the metadata and config look-ups). Locust
    abandons the requests its users have in flight when the run stops, without recording them; the
    server still completes and counts them. That is at most one per user, and a user stopped just as it
    sent its next request can add one more, so the server may be ahead by up to 2 per user, never behind.
    """
    inferences = client_requests - 2
    assert inferences <= served <= inferences + 2 * plan_mu.max_users(plan), (client_requests, served)


def test_triton_reads_the_load_generators_request_as_it_reads_tritonclients(runtime):
    """The locustfile's request body and response check, against Triton's own parsing and tritonclient's infer."""
    import numpy as np
    import tritonclient.http as httpclient
    from gpu_e2e_loadtest.triton_codec import HEADER, build_request, parse_response

    status, _headers, raw = runtime.request(f"/v2/models/{MODEL}")
    assert status == 200
    metadata = json.loads(raw)
    spec = metadata["inputs"][0]
    item = np.random.default_rng(3).standard_normal([3, 224, 224]).astype("<f4")
    body, headers, per_request = build_request(metadata, batch_size=2, batched=True, input_bytes=item.tobytes())
    assert per_request == 2
    status, answer_headers, answer = runtime.request(f"/v2/models/{MODEL}/infer", "POST", body, headers)
    assert status == 200, answer[:300]
    doc = parse_response(answer, answer_headers.get(HEADER))
    ours = httpclient.InferenceServerClient.parse_response_body(answer, header_length=int(answer_headers[HEADER]))

    client = httpclient.InferenceServerClient(runtime.url)
    try:
        tensor = httpclient.InferInput(spec["name"], [2, 3, 224, 224], spec["datatype"])
        tensor.set_data_from_numpy(np.stack([item, item]))
        theirs = client.infer(MODEL, [tensor])
    finally:
        client.close()
    for output in doc["outputs"]:
        assert np.array_equal(ours.as_numpy(output["name"]), theirs.as_numpy(output["name"])), output["name"]
    # A wrong shape in the header is Triton's own 400, not a hang or a silent answer.
    bad = body.replace(b"[2,3,224,224]", b"[2,3,224,225]", 1)
    assert bad != body
    assert runtime.request(f"/v2/models/{MODEL}/infer", "POST", bad, headers)[0] == 400


def test_smoke_scenario_gives_client_and_server_kpis_and_passes_a_generous_slo(runtime, tmp_path):
    plan = plan_mu.build_plan("smoke", "steady", {"users": 2, "duration_s": 8})
    before = runtime.scrape(tmp_path / "metrics-before.txt")
    start = time.time()
    result = run_locust(locust_cmd(runtime.base, plan, tmp_path), tmp_path)
    end = time.time()
    after = runtime.scrape(tmp_path / "metrics-after.txt")
    assert result.returncode == 0, (tmp_path / "locust.log").read_text()[-2000:]

    doc = build(tmp_path, start, end, metrics_before=before, metrics_after=after)
    client, server = doc["client"], doc["server"]
    assert client["requests"] > 10 and client["failures"] == 0
    assert client["latency_ms"]["p50"] <= client["latency_ms"]["p95"] <= client["latency_ms"]["p99"]
    assert_server_counted_the_client_inferences(client["requests"], server["requests_success"], plan)
    assert server["compute_infer_ms_avg"] > 0 and server["queue_ms_avg"] >= 0
    # Each served request's time on the server is part of some client's wait, so the server's mean cannot
    # exceed the slowest request the client saw. (It may exceed the client's mean: the client's mean counts
    # the two near-instant metadata/config look-ups, and the server's counts the in-flight inferences Locust
    # abandons at stop.) A unit or plumbing error (µs read as ms, a cumulative counter read as a delta) breaks it.
    assert 0 < server["request_ms_avg"] <= client["latency_ms"]["max"] + 1
    assert "CPU" in doc["utilisation"]["label"] and "gauge" in doc["missing"]["utilisation"]
    assert [s["name"] for s in doc["stages"]] == ["steady"]
    assert doc["slo"]["passed"] is True

    impossible = build(tmp_path, start, end, slo_targets={"p95_ms": 0.001})
    assert [v["slo"] for v in impossible["slo"]["violations"]] == ["slo_p95_ms"]


def test_killing_the_runtime_mid_scenario_gives_an_error_rate_not_a_hang(repository, tmp_path):
    rt = TritonServer(repository, tmp_path / "tritonserver.log")
    try:
        plan = plan_mu.build_plan("smoke", "steady", {"users": 2, "duration_s": 10})
        start = time.time()
        proc = subprocess.Popen(locust_cmd(rt.base, plan, tmp_path), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(4)
        rt.proc.kill()  # the server dies while the scenario runs (killed by its PID)
        rc = proc.wait(timeout=40)  # bounded: request timeouts and the plan end the test
        end = time.time()
    finally:
        rt.stop()
    assert rc != 0  # Locust exits non-zero when requests failed
    doc = build(tmp_path, start, end)
    assert doc["client"]["requests"] > 0
    assert 0 < doc["client"]["error_rate_pct"] <= 100
    assert any("connection" in e["error"].lower() for e in doc["errors"])
    assert doc["error_spikes"], "the failures after the kill form an error spike"
    assert "slo_error_rate_pct" in [v["slo"] for v in doc["slo"]["violations"]]
    assert end - start < 45


def test_distributed_master_and_two_workers(runtime, tmp_path):
    port = free_port()
    plan = plan_mu.build_plan("sweep", "sweep", {"users": [2, 4], "step_s": 5, "settle_s": 1})
    common = ["-f", LOCUSTFILE, "--host", runtime.base, "--model", MODEL, "--request-timeout", "5"]
    workers = [
        subprocess.Popen([sys.executable, "-m", "locust", *common, "--worker", "--master-host", "127.0.0.1",
                          "--master-port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _index in range(2)
    ]
    try:
        result = run_locust(
            locust_cmd(runtime.base, plan, tmp_path, extra=["--master", "--master-bind-host", "127.0.0.1",
                                                            "--master-bind-port", str(port), "--expect-workers", "2",
                                                            "--expect-workers-max-wait", "30"]),
            tmp_path,
        )
        for worker in workers:
            worker.wait(timeout=20)  # the master tells its workers to quit
    finally:
        for worker in workers:
            stop(worker)
    assert result.returncode == 0, (tmp_path / "locust.log").read_text()[-2000:]
    stages = json.loads((tmp_path / "stages.json").read_text())
    assert stages["complete"] is True
    assert [(s["name"], s["users"]) for s in stages["stages"]] == [("c2", 2), ("c4", 4)]
    assert all(s["requests"] > 0 and s["latency_ms"]["p95"] is not None for s in stages["stages"])
    log = (tmp_path / "locust.log").read_text()
    assert "2 workers" in log or "worker" in log.lower()
    doc = build(tmp_path, time.time() - 12, time.time(), shape="sweep", slo_enabled=False)
    assert doc["sweep"]["knee"] is not None and len(doc["sweep"]["points"]) == 2


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="the prometheus binary is not installed")
def test_server_side_kpis_come_from_prometheus_when_it_runs(runtime, tmp_path):
    port = free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: triton\n    static_configs: [{{targets: ['127.0.0.1:{runtime.metrics_port}']}}]\n"
    )
    prom = subprocess.Popen(
        ["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready", proc=prom)
        up = f"http://127.0.0.1:{port}/api/v1/query?query=up%7Binstance%3D%22127.0.0.1%3A{runtime.metrics_port}%22%7D"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # a first scrape of the runtime before the window starts
            with urllib.request.urlopen(up, timeout=5) as response:
                if json.loads(response.read())["data"]["result"]:
                    break
            time.sleep(0.5)
        time.sleep(1)
        plan = plan_mu.build_plan("smoke", "steady", {"users": 2, "duration_s": 8})
        start = time.time()
        result = run_locust(locust_cmd(runtime.base, plan, tmp_path), tmp_path)
        end = time.time()
        assert result.returncode == 0
        doc = build(tmp_path, start, end, prometheus_url=f"http://127.0.0.1:{port}",
                    runtime_selector=f'instance="127.0.0.1:{runtime.metrics_port}"')
    finally:
        stop(prom)
    assert doc["server"]["source"].startswith("prometheus"), doc["missing"]
    assert "requests_success" in doc["server"], (doc["server"], doc["missing"])
    assert_server_counted_the_client_inferences(doc["client"]["requests"], doc["server"]["requests_success"], plan)
    assert doc["server"]["compute_infer_ms_avg"] > 0
    assert doc["utilisation"]["avg_pct"] > 0 and len(doc["utilisation"]["series"]) > 3, doc["utilisation"]
    assert doc["missing"] == {}, doc["missing"]


def run_role(runtime, repository, tmp_path, **env):
    """ansible-playbook of the loadtest role (one 6 s smoke scenario, an impossible SLO); (result, run_dir)."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- name: Run the loadtest role.\n  hosts: controller\n  gather_facts: false\n"
        "  roles:\n    - role: gpu_e2e.platform.loadtest\n"
    )
    run_dir = tmp_path / "run"
    (run_dir / "k8s").mkdir(parents=True)
    extra = {
        "run_dir": str(run_dir), "runs_root": str(tmp_path / "runs"), "stack_name": "pytest-loadtest",
        "loadtest_target_url": runtime.base, "loadtest_metrics_url": f"http://127.0.0.1:{runtime.metrics_port}/metrics",
        "prometheus_url": "", "loadtest_scenarios": ["smoke"], "loadtest_smoke_duration_s": 6,
        "loadtest_poll_delay_s": 2, "slo_p95_ms": "0.001",
        "model_name": MODEL, "loadtest_model_name": MODEL, "loadtest_model_repository": str(repository),
    }
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_CALLBACKS_ENABLED="gpu_e2e.platform.loadtest_progress", ANSIBLE_NOCOLOR="1", **env)
    bin_dir = os.path.dirname(sys.executable)
    result = subprocess.run(
        [os.path.join(bin_dir, "ansible-playbook"), str(playbook), "-e", json.dumps(extra)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False,
    )
    return result, run_dir


def test_role_fails_an_impossible_slo_with_the_violation_table(runtime, repository, tmp_path):
    """The loadtest role end to end (one 6 s smoke scenario): progress lines, files, and the gate."""
    result, run_dir = run_role(runtime, repository, tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-3000:]
    assert "SLO gate failed" in out and "P95 latency (ms)" in out and "<= 0.001" in out, out[-3000:]
    assert "[loadtest smoke]" in out  # live progress lines from the callback
    doc = json.loads((run_dir / "kpis.json").read_text())
    assert doc["slo"]["passed"] is False and doc["slo"]["enforced"] is True
    assert doc["scenarios"]["smoke"]["client"]["requests"] > 0
    assert doc["scenarios"]["smoke"]["server"]["requests_success"] > 0  # from the /metrics scrapes
    for name in ("locust_stats.csv", "locust_stats_history.csv", "locust.json", "kpis.json", "latency.png",
                 "throughput.png"):
        assert (run_dir / "loadtest" / "smoke" / name).exists(), name
    events = [e["text"] for e in json.loads((run_dir / "events.json").read_text())["events"]]
    assert events[:2] == ["Load Test Start: smoke", "Load Test Stop: smoke"]
    assert any(text.startswith("SLO breach in smoke") for text in events)


def test_with_the_json_stdout_callback_stdout_is_one_json_document(runtime, repository, tmp_path):
    """How CI systems and AWX read a run: ANSIBLE_STDOUT_CALLBACK=json, the progress callback still enabled.

    Fails when the progress callback prints beside a non-human stdout callback: its "[loadtest smoke]"
    lines would come before the JSON document and json.loads would refuse stdout (checked by making
    the callback print whatever the stdout callback is).
    """
    result, run_dir = run_role(runtime, repository, tmp_path, ANSIBLE_STDOUT_CALLBACK="json")
    assert result.returncode != 0, result.stderr[-3000:]  # the impossible SLO fails the play, as above
    doc = json.loads(result.stdout)  # the whole of stdout, nothing before or after
    # The progress lines are there, inside the document (the progress module's results), not printed before it.
    assert '"line": "[loadtest smoke]' in result.stdout
    assert doc["plays"][0]["play"]["name"] == "Run the loadtest role."
    names = [task["task"]["name"] for play in doc["plays"] for task in play["tasks"]]
    assert any("SLO" in name for name in names), names
    assert any(host.get("failures") for host in doc["stats"].values()), doc["stats"]
    assert json.loads((run_dir / "kpis.json").read_text())["scenarios"]["smoke"]["client"]["requests"] > 0
