"""The aws-only task files of the observability role, run offline against loopback stand-ins.

- tasks/snapshot.yml against a stub of Grafana's dashboard and snapshot APIs: one snapshot per dashboard
  for the scenario's window, URLs recorded in run_dir/observability/snapshots.json across scenarios.
- tasks/k8s_events.yml with given node events (no cluster): relevant, recent events become run events
  with UTC timestamps; old and irrelevant ones are skipped.
"""

import datetime
import json
import os
import subprocess
import sys
from typing import ClassVar

import pytest
from loopback_http import StubHandler, serving

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
pytestmark = pytest.mark.skipif(not os.path.exists(ANSIBLE_PLAYBOOK), reason="ansible-playbook is not beside python")
TOKEN = "glsa_stub-token-value"


class StubGrafana(StubHandler):
    posted: ClassVar[list] = []

    def do_GET(self):
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self.answer(401, {"message": "Unauthorized"})
        uid = self.path.rsplit("/", 1)[1]
        return self.answer(200, {"dashboard": {"id": 7, "uid": uid, "title": f"T {uid}", "panels": []}, "meta": {}})

    def do_POST(self):
        if self.headers.get("Authorization") != f"Bearer {TOKEN}" or self.path != "/api/snapshots":
            return self.answer(401, {"message": "Unauthorized"})
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        StubGrafana.posted.append(body)
        key = f"key{len(StubGrafana.posted)}"
        return self.answer(200, {"key": key, "url": f"http://grafana.test/dashboard/snapshot/{key}", "id": 1})


@pytest.fixture
def grafana():
    StubGrafana.posted = []
    with serving(StubGrafana) as url:
        yield url


def run(tmp_path, play, extra):
    path = tmp_path / "play.yml"
    path.write_text(play)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    args = [ANSIBLE_PLAYBOOK, str(path), "-i", os.path.join(ROOT, "inventories", "local"), "-e", json.dumps(extra)]
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result.stdout


SNAPSHOTS = """
- hosts: controller
  gather_facts: false
  tasks:
    - name: Snapshot the smoke scenario.
      ansible.builtin.include_role:
        name: gpu_e2e.platform.observability
        tasks_from: snapshot.yml
      vars: {observability_snapshot_name: smoke, observability_snapshot_from_ms: 1767225600000,
             observability_snapshot_to_ms: 1767225660000}
    - name: Snapshot the spike scenario.
      ansible.builtin.include_role:
        name: gpu_e2e.platform.observability
        tasks_from: snapshot.yml
      vars: {observability_snapshot_name: spike, observability_snapshot_from_ms: 1767225700000,
             observability_snapshot_to_ms: 1767225760000}
"""


def test_snapshots_per_scenario_are_posted_and_recorded(tmp_path, grafana):
    run_dir = tmp_path / "run"
    (run_dir / "observability").mkdir(parents=True)
    stdout = run(
        tmp_path,
        SNAPSHOTS,
        {"run_dir": str(run_dir), "platform_target": "aws", "grafana_url": grafana, "grafana_token": TOKEN},
    )
    assert TOKEN not in stdout
    assert len(StubGrafana.posted) == 6
    first = StubGrafana.posted[0]
    assert first["dashboard"]["time"] == {"from": "2026-01-01T00:00:00.000Z", "to": "2026-01-01T00:01:00.000Z"}
    assert first["dashboard"]["id"] is None and first["name"] == "gpu-e2e smoke - T gpu-e2e-gpu"
    records = json.loads((run_dir / "observability" / "snapshots.json").read_text())
    assert [r["scenario"] for r in records] == ["smoke"] * 3 + ["spike"] * 3
    assert [r["uid"] for r in records[:3]] == ["gpu-e2e-gpu", "gpu-e2e-inference", "gpu-e2e-cluster"]
    assert records[0]["url"] == "http://grafana.test/dashboard/snapshot/key1"
    assert records[3]["dashboard_url"] == f"{grafana}/d/gpu-e2e-gpu?from=1767225700000&to=1767225760000"


def test_snapshots_are_skipped_locally(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    stdout = run(tmp_path, SNAPSHOTS, {"run_dir": str(run_dir), "platform_target": "local"})
    assert "plots" in stdout and "stand in" in stdout
    assert not (run_dir / "observability" / "snapshots.json").exists()


EVENTS = """
- hosts: controller
  gather_facts: false
  tasks:
    - name: Record the node events.
      ansible.builtin.include_role:
        name: gpu_e2e.platform.observability
        tasks_from: k8s_events.yml
"""


def test_node_events_become_run_events(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    recent = (now - datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent_micro = (now - datetime.timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%S.123456Z")
    events = [
        {"reason": "RegisteredNode", "involvedObject": {"name": "ip-10-0-1-1"}, "message": "registered",
         "lastTimestamp": recent},
        {"reason": "SpotInterruption", "involvedObject": {"name": "ip-10-0-1-2"}, "message": "2 min notice",
         "lastTimestamp": None, "eventTime": recent_micro},
        {"reason": "Scheduled", "involvedObject": {"name": "pod"}, "message": "not a node event",
         "lastTimestamp": recent},
        {"reason": "NodeReady", "involvedObject": {"name": "old"}, "message": "too old",
         "lastTimestamp": "2020-01-01T00:00:00Z"},
    ]
    extra = {"run_dir": str(run_dir), "observability__k8s_node_events": events}
    run(tmp_path, EVENTS, extra)
    recorded = json.loads((run_dir / "events.json").read_text())["events"]
    assert [e["text"].split(":")[0] for e in recorded] == ["RegisteredNode", "SpotInterruption"]
    assert recorded[0]["time"] == recent.replace("Z", ".000Z")
    assert "spot-interruption" in recorded[1]["tags"] and "scale-up" in recorded[0]["tags"]
    assert recorded[1]["time"] == (now - datetime.timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    # Replaying the same events adds nothing.
    run(tmp_path, EVENTS, extra)
    assert len(json.loads((run_dir / "events.json").read_text())["events"]) == 2
