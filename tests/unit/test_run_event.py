"""Unit tests for gpu_e2e.platform.run_events and its logic (plugins/module_utils/run_events.py)."""

import io
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.gpu_e2e.platform.plugins.module_utils import run_events
from ansible_collections.gpu_e2e.platform.plugins.modules import run_events as run_events_module

T0 = 1767225600000  # 2026-01-01T00:00:00Z


class FakeGrafana:
    """Stands in for ansible.module_utils.urls.open_url and records what was sent."""

    def __init__(self, answer=None, error=None):
        self.calls = []
        self.answer = answer if answer is not None else {"id": 7, "message": "Annotation added"}
        self.error = error

    def __call__(self, url, data=None, headers=None, method=None, timeout=None, validate_certs=True):
        self.calls.append({"url": url, "data": json.loads(data), "headers": headers, "method": method})
        if self.error:
            raise self.error
        return io.BytesIO(json.dumps(self.answer).encode())


def read(path):
    with open(path) as handle:
        return json.load(handle)["events"]


# --- logic -----------------------------------------------------------------------------------


def test_iso_utc_is_utc_with_milliseconds():
    assert run_events.iso_utc(T0) == "2026-01-01T00:00:00.000Z"
    assert run_events.iso_utc(T0 + 1234) == "2026-01-01T00:00:01.234Z"
    assert run_events.iso_utc(None) is None


def test_event_defaults_to_now(tmp_path, monkeypatch):
    monkeypatch.setattr(run_events, "now_ms", lambda: T0 + 5)
    result = run_events.record_event(str(tmp_path / "events.json"), "hello")
    assert result["changed"] is True
    assert result["event"]["time_ms"] == T0 + 5
    assert result["event"]["time"] == "2026-01-01T00:00:00.005Z"


def test_events_are_appended_in_order(tmp_path):
    path = str(tmp_path / "events.json")
    run_events.record_event(path, "Load Test Start: smoke", ["loadtest", "smoke"], time_ms=T0)
    run_events.record_event(
        path, "Load Test Stop: smoke", ["loadtest", "smoke"], time_ms=T0 + 1000, time_end_ms=T0 + 2000
    )
    events = read(path)
    assert [e["text"] for e in events] == ["Load Test Start: smoke", "Load Test Stop: smoke"]
    assert events[1]["time_end"] == "2026-01-01T00:00:02.000Z"
    assert events[0]["grafana"] == {"posted": False, "annotation_id": None, "error": None}


def test_explicit_time_is_idempotent(tmp_path):
    path = str(tmp_path / "events.json")
    first = run_events.record_event(path, "SLO breach: p95", ["slo"], time_ms=T0)
    again = run_events.record_event(path, "SLO breach: p95", ["slo"], time_ms=T0)
    assert first["changed"] is True
    assert again["changed"] is False and again["duplicate"] is True
    assert len(read(path)) == 1


def test_implicit_time_always_adds(tmp_path, monkeypatch):
    path = str(tmp_path / "events.json")
    clock = iter([T0, T0 + 1])
    monkeypatch.setattr(run_events, "now_ms", lambda: next(clock))
    run_events.record_event(path, "error spike", ["error"])
    run_events.record_event(path, "error spike", ["error"])
    assert len(read(path)) == 2


def test_check_mode_writes_nothing_and_posts_nothing(tmp_path):
    path = tmp_path / "events.json"
    grafana = FakeGrafana()
    result = run_events.record_event(
        str(path), "x", time_ms=T0, grafana_url="http://g", grafana_token="t", opener=grafana, check_mode=True
    )
    assert result["changed"] is True
    assert not path.exists()
    assert grafana.calls == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"text": ""}, "text must be"),
        ({"text": "x", "tags": [" "]}, "tags must be"),
        ({"text": "x", "time_ms": -1}, "time must be"),
        ({"text": "x", "time_ms": T0, "time_end_ms": T0 - 1}, "before time"),
        ({"text": "x", "grafana_url": "ftp://grafana"}, "http(s) URL"),
    ],
)
def test_invalid_input_is_rejected(tmp_path, kwargs, message):
    with pytest.raises(run_events.RunEventError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_events.record_event(str(tmp_path / "events.json"), **kwargs)


def test_missing_directory_is_an_error(tmp_path):
    with pytest.raises(run_events.RunEventError, match="does not exist"):
        run_events.record_event(str(tmp_path / "nope" / "events.json"), "x")


def test_corrupt_file_is_an_error_not_overwritten(tmp_path):
    path = tmp_path / "events.json"
    path.write_text("[1, 2")
    with pytest.raises(run_events.RunEventError, match="not valid JSON"):
        run_events.record_event(str(path), "x")
    assert path.read_text() == "[1, 2"


def test_posts_annotation_with_bearer_token_and_region(tmp_path):
    grafana = FakeGrafana()
    result = run_events.record_event(
        str(tmp_path / "events.json"),
        "Load Test Stop: spike",
        ["loadtest", "spike"],
        time_ms=T0,
        time_end_ms=T0 + 60000,
        grafana_url="http://grafana.example:3000/",
        grafana_token="glsa_secret",
        opener=grafana,
    )
    (call,) = grafana.calls
    assert call["url"] == "http://grafana.example:3000/api/annotations"
    assert call["method"] == "POST"
    assert call["headers"]["Authorization"] == "Bearer glsa_secret"
    assert call["data"] == {
        "time": T0,
        "timeEnd": T0 + 60000,
        "tags": ["loadtest", "spike"],
        "text": "Load Test Stop: spike",
    }
    assert result["grafana"] == {"posted": True, "annotation_id": 7, "error": None}
    assert read(str(tmp_path / "events.json"))[0]["grafana"]["annotation_id"] == 7


def test_url_without_token_does_not_post(tmp_path):
    grafana = FakeGrafana()
    run_events.record_event(str(tmp_path / "events.json"), "x", grafana_url="http://g", opener=grafana)
    assert grafana.calls == []


def test_grafana_failure_keeps_the_event(tmp_path):
    grafana = FakeGrafana(error=OSError("connection refused"))
    result = run_events.record_event(
        str(tmp_path / "events.json"), "x", grafana_url="http://g", grafana_token="t", opener=grafana
    )
    assert result["changed"] is True
    assert result["grafana"]["posted"] is False
    assert "connection refused" in result["grafana"]["error"]
    assert "t" not in result["grafana"]["error"].split()
    assert len(read(str(tmp_path / "events.json"))) == 1


def test_grafana_answer_without_id_is_a_failure(tmp_path):
    grafana = FakeGrafana(answer={"message": "Unauthorized"})
    result = run_events.record_event(
        str(tmp_path / "events.json"), "x", grafana_url="http://g", grafana_token="t", opener=grafana
    )
    assert result["grafana"]["posted"] is False
    assert "without an annotation id" in result["grafana"]["error"]


# --- module ----------------------------------------------------------------------------------


def run_module(args, monkeypatch, opener=None):
    if opener is not None:
        monkeypatch.setattr(run_events_module, "open_url", opener)
    with patch_module_args(args), pytest.raises(SystemExit):
        run_events_module.main()


def module_output(capsys):
    return json.loads(capsys.readouterr().out)


def test_module_records_and_reports(tmp_path, monkeypatch, capsys):
    path = str(tmp_path / "events.json")
    run_module({"events_file": path, "text": "Load Test Start: smoke", "tags": ["loadtest"], "time": T0}, monkeypatch)
    out = module_output(capsys)
    assert out["changed"] is True
    assert out["posted"] is False and out["annotation_id"] is None
    assert out["event"]["time"] == "2026-01-01T00:00:00.000Z"
    run_module({"events_file": path, "text": "Load Test Start: smoke", "tags": ["loadtest"], "time": T0}, monkeypatch)
    assert module_output(capsys)["changed"] is False


def test_module_posts_and_hides_the_token(tmp_path, monkeypatch, capsys):
    grafana = FakeGrafana(answer={"id": 99})
    args = {
        "events_file": str(tmp_path / "events.json"),
        "text": "SLO breach",
        "grafana_url": "http://127.0.0.1:3000",
        "grafana_token": "super-secret-token-value",
    }
    run_module(args, monkeypatch, opener=grafana)
    raw = capsys.readouterr().out
    out = json.loads(raw)
    assert out["posted"] is True and out["annotation_id"] == 99
    assert "super-secret-token-value" not in raw
    assert grafana.calls[0]["headers"]["Authorization"] == "Bearer super-secret-token-value"


def test_module_warns_when_grafana_fails(tmp_path, monkeypatch, capsys):
    grafana = FakeGrafana(error=OSError("boom"))
    args = {
        "events_file": str(tmp_path / "events.json"),
        "text": "x",
        "grafana_url": "http://g",
        "grafana_token": "t0k3n",
    }
    warnings = []
    # Where a warning ends up depends on what else the process has loaded; record it at the source.
    monkeypatch.setattr(run_events_module.AnsibleModule, "warn", lambda self, msg: warnings.append(msg))
    run_module(args, monkeypatch, opener=grafana)
    out = module_output(capsys)
    assert out["changed"] is True and out["posted"] is False
    assert any("not posted to Grafana" in w and "boom" in w for w in warnings)


def test_module_fails_cleanly_on_bad_window(tmp_path, monkeypatch, capsys):
    run_module({"events_file": str(tmp_path / "events.json"), "text": "x", "time": T0, "time_end": T0 - 1}, monkeypatch)
    out = module_output(capsys)
    assert out["failed"] is True
    assert "before time" in out["msg"]


def test_module_check_mode(tmp_path, monkeypatch, capsys):
    path = tmp_path / "events.json"
    run_module({"events_file": str(path), "text": "x", "_ansible_check_mode": True}, monkeypatch)
    assert module_output(capsys)["changed"] is True
    assert not path.exists()
