"""gpu_e2e.platform.run_events against a stub of Grafana's annotations API on a free loopback port.

Exercises the real HTTP path (ansible.module_utils.urls.open_url): method, path, bearer token, JSON body,
and that a refusing or unreachable Grafana never loses the event in events.json.
"""

import json
from typing import ClassVar

import pytest
from ansible.module_utils.urls import open_url
from loopback_http import StubHandler, serving

from ansible_collections.gpu_e2e.platform.plugins.module_utils import run_events

TOKEN = "glsa_integration-test-token"
T0 = 1767225600000


class StubGrafana(StubHandler):
    received: ClassVar[list] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/api/annotations":
            self.answer(404, {"message": "Not found"})
        elif self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.answer(401, {"message": "Unauthorized"})
        else:
            StubGrafana.received.append(body)
            self.answer(200, {"id": len(StubGrafana.received), "message": "Annotation added"})


@pytest.fixture
def grafana():
    StubGrafana.received = []
    with serving(StubGrafana) as url:
        yield url


def events(path):
    with open(path) as handle:
        return json.load(handle)["events"]


def test_annotation_is_posted_and_recorded(tmp_path, grafana):
    path = str(tmp_path / "events.json")
    result = run_events.record_event(
        path,
        "Load Test Start: smoke",
        ["loadtest", "smoke"],
        time_ms=T0,
        time_end_ms=T0 + 30000,
        grafana_url=grafana,
        grafana_token=TOKEN,
        opener=open_url,
        timeout=5,
    )
    assert result["grafana"] == {"posted": True, "annotation_id": 1, "error": None}
    assert StubGrafana.received == [
        {"time": T0, "timeEnd": T0 + 30000, "tags": ["loadtest", "smoke"], "text": "Load Test Start: smoke"}
    ]
    assert events(path)[0]["grafana"]["annotation_id"] == 1


def test_wrong_token_is_recorded_not_raised(tmp_path, grafana):
    path = str(tmp_path / "events.json")
    result = run_events.record_event(
        path, "SLO breach", ["slo"], grafana_url=grafana, grafana_token="wrong", opener=open_url, timeout=5
    )
    assert result["grafana"]["posted"] is False
    assert "401" in result["grafana"]["error"]
    assert StubGrafana.received == []
    assert len(events(path)) == 1


def test_unreachable_grafana_is_bounded_and_recorded(tmp_path, grafana):
    # A port that was just free: connection refused, answered at once.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = str(tmp_path / "events.json")
    result = run_events.record_event(
        path,
        "error spike",
        ["error"],
        grafana_url=f"http://127.0.0.1:{port}",
        grafana_token=TOKEN,
        opener=open_url,
        timeout=2,
    )
    assert result["grafana"]["posted"] is False and result["grafana"]["error"]
    assert len(events(path)) == 1
