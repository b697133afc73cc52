"""The real Prometheus binary on a free loopback port, scraping a small Triton-like metrics endpoint.

1. The observability role's Prometheus config (templates/prometheus.yml.j2) is rendered, checked by
   promtool and run; a Triton series becomes queryable, and every dashboard query executes
   against the live server without error (stronger than parsing).
2. The role itself runs through ansible-playbook: Prometheus comes up, a re-run changes nothing,
   stop.yml stops it by PID; without the binary the role still succeeds and says why.

Skipped with a reason when the prometheus binary is absent (CI installs the Debian package).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import jinja2
import pytest
from aws_emulator_process import free_port
from loopback_http import StubHandler, serving

from ansible_collections.gpu_e2e.platform.plugins.module_utils import dashboards

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
pytestmark = pytest.mark.skipif(
    not os.access(PROMETHEUS, os.X_OK),
    reason="the prometheus binary is absent (apt-get install prometheus; CI installs it)",
)
TEMPLATE = os.path.join(ROOT, "roles", "observability", "templates", "prometheus.yml.j2")
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")


class TritonLikeMetrics(StubHandler):
    """Exposition text with Triton's metric names, as tritonserver writes them."""

    scrapes = 0

    def do_GET(self):
        TritonLikeMetrics.scrapes += 1
        n = TritonLikeMetrics.scrapes
        lines = []
        for name, value in (
            ("nv_inference_request_success", 10 * n),
            ("nv_inference_request_failure", n // 5),
            ("nv_inference_count", 40 * n),
            ("nv_inference_exec_count", 10 * n),
            ("nv_inference_request_duration_us", 25000 * n),
            ("nv_inference_queue_duration_us", 5000 * n),
            ("nv_inference_compute_input_duration_us", 1000 * n),
            ("nv_inference_compute_infer_duration_us", 18000 * n),
            ("nv_inference_compute_output_duration_us", 1000 * n),
        ):
            lines += [f"# TYPE {name} counter", f'{name}{{model="mobilenetv2",version="1"}} {value}']
        lines += [
            "# TYPE nv_inference_pending_request_count gauge",
            'nv_inference_pending_request_count{model="mobilenetv2",version="1"} 2',
        ]
        lines += ["# TYPE nv_cpu_utilization gauge", "nv_cpu_utilization 0.25"]
        lines.append("# TYPE nv_inference_request_summary_us summary")
        for quantile, value in (("0.5", 2000), ("0.95", 4000), ("0.99", 6000)):
            labels = f'model="mobilenetv2",version="1",quantile="{quantile}"'
            lines.append(f"nv_inference_request_summary_us{{{labels}}} {value}")
        self.answer(200, "\n".join(lines) + "\n", content_type="text/plain; version=0.0.4")


@pytest.fixture
def metrics_endpoint():
    with serving(TritonLikeMetrics) as url:
        yield url.removeprefix("http://")  # a scrape target is host:port


def render_config(target, stack="itest"):
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)  # noqa: S701 - renders YAML, not HTML
    env.filters["to_json"] = json.dumps
    with open(TEMPLATE) as handle:
        template = env.from_string(handle.read())
    return template.render(
        ansible_managed="test",
        observability_prometheus_scrape_interval="1s",
        observability_prometheus_targets=[target],
        stack_name=stack,
    )


def get_json(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:  # loopback only
        return json.loads(response.read())


def query(base, expr):
    return get_json(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))


def wait_until(predicate, timeout, interval=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except OSError:
            pass
        time.sleep(interval)
    return None


@pytest.fixture
def prometheus(tmp_path, metrics_endpoint):
    config = tmp_path / "prometheus.yml"
    config.write_text(render_config(metrics_endpoint))
    port = free_port()
    log = open(tmp_path / "prometheus.log", "w")
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        ready = wait_until(lambda: urllib.request.urlopen(f"{base}/-/ready", timeout=2).status == 200, 30)
        assert ready, (tmp_path / "prometheus.log").read_text()[-2000:]
        yield base, config
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


@pytest.mark.skipif(not os.access(PROMTOOL, os.X_OK), reason="promtool is absent (it ships with prometheus)")
def test_rendered_config_passes_promtool(tmp_path):
    config = tmp_path / "prometheus.yml"
    config.write_text(render_config("127.0.0.1:8002"))
    result = subprocess.run([PROMTOOL, "check", "config", str(config)],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_scrapes_the_runtime_metrics_every_second(prometheus):
    base, _unused = prometheus
    series = wait_until(
        lambda: query(base, 'nv_inference_count{model="mobilenetv2"}')["data"]["result"], timeout=30
    )
    assert series, "no nv_inference_count series after 30 s"
    assert series[0]["metric"]["job"] == "triton"
    assert series[0]["metric"]["service"] == "triton-local"
    # 1 s scrape interval: several samples arrive within a few seconds.
    samples = wait_until(
        lambda: len(query(base, "nv_inference_count[10s]")["data"]["result"][0]["values"]) >= 3, timeout=15
    )
    assert samples


def test_every_dashboard_query_executes(prometheus):
    base, _unused = prometheus
    wait_until(lambda: query(base, "nv_inference_count[10s]")["data"]["result"], timeout=30)
    built = dashboards.build_dashboards()
    checked = 0
    for uid, title, expr in dashboards.queries(built):
        concrete = expr
        for variable, value in dashboards.GRAFANA_VARIABLES.items():
            concrete = concrete.replace(variable, value)
        answer = query(base, concrete)
        assert answer["status"] == "success", (uid, title, concrete, answer)
        checked += 1
    assert checked == len(dashboards.queries(built))


def test_inference_queries_see_the_local_series(prometheus):
    """The Inference dashboard's batch size query on live data: 40 inferences per 10 executions = 4."""
    base, _unused = prometheus
    batch = next(
        expr
        for uid, title, expr in dashboards.queries(dashboards.build_dashboards())
        if title == "Average batch size"
    )
    concrete = batch.replace("$__rate_interval", "5s").replace("$model", ".*")
    result = wait_until(lambda: query(base, concrete)["data"]["result"], timeout=30)
    assert result, concrete
    assert float(result[0]["value"][1]) == pytest.approx(4.0, rel=0.01)


# --- the role through ansible-playbook --------------------------------------------------------

PLAY = """
- hosts: controller
  gather_facts: false
  tasks:
    - name: Run the observability role.
      ansible.builtin.import_role:
        name: gpu_e2e.platform.observability
    - name: Save the facts the load test reads.
      ansible.builtin.copy:
        content: "{{ {'prometheus_url': prometheus_url, 'reason': prometheus_unavailable_reason} | to_json }}"
        dest: "{{ run_dir }}/facts.json"
        mode: "0644"
"""
STOP = """
- hosts: controller
  gather_facts: false
  tasks:
    - name: Stop what the role started.
      ansible.builtin.include_role:
        name: gpu_e2e.platform.observability
        tasks_from: stop.yml
"""


def run_playbook(tmp_path, playbook, extra):
    path = tmp_path / "play.yml"
    path.write_text(playbook)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    args = [ANSIBLE_PLAYBOOK, str(path), "-i", os.path.join(ROOT, "inventories", "local")]
    for key, value in extra.items():
        args += ["-e", json.dumps({key: value})]
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result.stdout


def recap_changed(stdout):
    line = next(line for line in stdout.splitlines() if line.startswith("localhost") and "changed=" in line)
    return int(line.split("changed=")[1].split()[0])


@pytest.mark.skipif(not os.path.exists(ANSIBLE_PLAYBOOK), reason="ansible-playbook is not beside this python")
def test_role_starts_is_idempotent_and_stops(tmp_path, metrics_endpoint):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    port = free_port()
    extra = {
        "run_dir": str(run_dir),
        "runs_root": str(tmp_path / "runs"),
        "stack_name": "itest",
        "observability_prometheus_port": port,
        "observability_prometheus_targets": [metrics_endpoint],
        "observability_prometheus_install": False,
        "observability_prometheus_target_wait": 20,
    }
    try:
        run_playbook(tmp_path, PLAY, extra)
        facts = json.loads((run_dir / "facts.json").read_text())
        assert facts == {"prometheus_url": f"http://127.0.0.1:{port}", "reason": ""}
        status = json.loads((run_dir / "observability" / "prometheus.json").read_text())
        assert status["available"] is True and status["targets_down"] == []
        assert sorted(os.listdir(run_dir / "dashboards")) == [
            "gpu-e2e-cluster.json",
            "gpu-e2e-gpu.json",
            "gpu-e2e-inference.json",
        ]
        assert query(facts["prometheus_url"], "up")["data"]["result"][0]["value"][1] == "1"

        again = run_playbook(tmp_path, PLAY, extra)
        assert recap_changed(again) == 0, again[-3000:]
    finally:
        run_playbook(tmp_path, STOP, extra)
    pid_file = tmp_path / "runs" / "itest" / "state" / "prometheus" / "prometheus.pid"
    assert not wait_until(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1), 1)
    assert not pid_file.exists() or not pid_file.read_text().strip() or not os.path.exists(
        f"/proc/{pid_file.read_text().strip()}"
    )


@pytest.mark.skipif(not os.path.exists(ANSIBLE_PLAYBOOK), reason="ansible-playbook is not beside this python")
def test_role_without_prometheus_still_succeeds_and_says_why(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    extra = {
        "run_dir": str(run_dir),
        "runs_root": str(tmp_path / "runs"),
        "stack_name": "itest",
        "observability_prometheus_binary": str(tmp_path / "no-such-prometheus"),
        "observability_prometheus_install": False,
    }
    stdout = run_playbook(tmp_path, PLAY, extra)
    facts = json.loads((run_dir / "facts.json").read_text())
    assert facts["prometheus_url"] == ""
    assert "no-such-prometheus is missing" in facts["reason"]
    assert "Prometheus is NOT available" in stdout
    assert json.loads((run_dir / "observability" / "prometheus.json").read_text())["available"] is False
