"""gpu_e2e.platform.grafana_snapshot: snapshots with the panels' data embedded.

The logic (plugins/module_utils/grafana_snapshot.py) piece by piece, then the module end to end against a
fake Grafana serving the collection's dashboards (plugins/module_utils/dashboards.py) and a fake
Prometheus answering query_range, both on loopback ports opened by the test; and, when the prometheus
binary is installed, against a real Prometheus scraping itself on loopback.
"""

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
from ansible.module_utils.testing import patch_module_args
from loopback_http import StubHandler, serving

from ansible_collections.gpu_e2e.platform.plugins.module_utils import dashboards
from ansible_collections.gpu_e2e.platform.plugins.module_utils import grafana_snapshot as snap
from ansible_collections.gpu_e2e.platform.plugins.modules import grafana_snapshot as module

TOKEN = "glsa_test-token-value"
FROM_MS = 1767225600000  # 2026-01-01T00:00:00Z
TO_MS = FROM_MS + 60_000


# --- panels ----------------------------------------------------------------------------------------


def test_walk_panels_flattens_rows_collapsed_rows_and_the_old_schema():
    dashboard = {
        "panels": [
            {"type": "row", "title": "open row", "panels": []},
            {"type": "timeseries", "title": "a"},
            {"type": "row", "title": "collapsed", "collapsed": True, "panels": [{"type": "stat", "title": "b"}]},
        ],
        "rows": [{"panels": [{"type": "graph", "title": "c"}]}],
    }
    assert [p["title"] for p in snap.walk_panels(dashboard)] == ["a", "b", "c"]
    # The dicts themselves, so snapshotData lands in the dashboard.
    snap.walk_panels(dashboard)[1]["snapshotData"] = []
    assert dashboard["panels"][2]["panels"][0]["snapshotData"] == []


def test_walk_panels_finds_every_panel_of_the_collections_dashboards():
    built = dashboards.build_dashboards({})
    for dashboard in built.values():
        assert [p["title"] for p in snap.walk_panels(dashboard)] == [p["title"] for p in dashboards.panels(dashboard)]


def test_panel_queries_skip_hidden_targets_and_name_what_cannot_be_queried():
    panel = {
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "targets": [
            {"refId": "A", "expr": "up"},
            {"refId": "B", "expr": "up", "hide": True},
            {"refId": "C", "expr": "", "datasource": {"type": "prometheus"}},
            {"refId": "D", "expr": '{job="x"}', "datasource": {"type": "loki", "uid": "l"}},
        ],
    }
    reasons = [(t["refId"], reason) for t, reason in snap.panel_queries(panel)]
    assert reasons == [
        ("A", None),
        ("C", "query C has no expression"),
        ("D", "query D is a loki query, not Prometheus"),
    ]
    assert snap.panel_queries({"type": "text", "title": "notes"}) == []


# --- legends and datapoints ---------------------------------------------------------------------------


def test_format_legend():
    labels = {"__name__": "nv_inference_count", "model": "resnet", "version": "1"}
    assert snap.format_legend("{{model}} requests/s", labels) == "resnet requests/s"
    assert snap.format_legend("{{ model }} v{{version}} on {{node}}", labels) == "resnet v1 on "
    assert snap.format_legend("", labels) == 'nv_inference_count{model="resnet", version="1"}'
    assert snap.format_legend("__auto", {"model": "resnet"}) == '{model="resnet"}'
    assert snap.format_legend(None, {"__name__": "up"}) == "up"
    assert snap.format_legend(None, {}, "sum(up)") == "sum(up)"


def test_datapoints_are_value_then_milliseconds_and_not_numbers_become_null():
    values = [[1767225600, "1.5"], [1767225601.25, "NaN"], [1767225602, "+Inf"], [1767225603, "0"]]
    assert snap.to_datapoints(values) == [
        [1.5, 1767225600000],
        [None, 1767225601250],
        [None, 1767225602000],
        [0.0, 1767225603000],
    ]
    json.dumps(snap.to_datapoints(values), allow_nan=False)  # valid JSON for Grafana


def test_snapshot_data_is_grafanas_legacy_time_series_form():
    result = [
        {"metric": {"model": "a"}, "values": [[1767225600, "2"]]},
        {"metric": {"model": "b"}, "values": [[1767225600, "3"]]},
    ]
    frames = snap.to_snapshot_data(result, {"refId": "B", "legendFormat": "{{model}} x"})
    assert frames == [
        {"target": "a x", "datapoints": [[2.0, 1767225600000]], "refId": "B"},
        {"target": "b x", "datapoints": [[3.0, 1767225600000]], "refId": "B"},
    ]


# --- variables and the window ------------------------------------------------------------------------


def test_default_step_is_the_window_over_300_rounded_up_at_least_1():
    assert snap.default_step(FROM_MS, FROM_MS + 60_000) == 1
    assert snap.default_step(FROM_MS, FROM_MS + 300_000) == 1
    assert snap.default_step(FROM_MS, FROM_MS + 301_000) == 2
    assert snap.default_step(FROM_MS, FROM_MS + 3_600_000) == 12


def test_interval_variables():
    values = snap.interval_values(FROM_MS, FROM_MS + 3_600_000, 12, scrape_interval_s=15)
    assert values["__interval"] == "12s" and values["__interval_ms"] == "12000"
    assert values["__rate_interval"] == "60s"  # Grafana: max(interval + scrape, 4 * scrape)
    assert values["__range"] == "3600s" and values["__range_s"] == "3600" and values["__range_ms"] == "3600000"
    assert snap.interval_values(FROM_MS, FROM_MS + 86_400_000, 288, 15)["__rate_interval"] == "303s"


def test_template_variables_take_their_current_value_else_all():
    dashboard = {
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus"},
                {"name": "model", "type": "query", "multi": True, "includeAll": True, "allValue": ".*"},
                {"name": "node", "type": "query", "includeAll": True, "current": {"text": "All", "value": ["$__all"]}},
                {"name": "gpu", "type": "custom", "current": {"text": "0", "value": "0"}},
                {"name": "ns", "type": "query", "multi": True, "current": {"value": ["a.b", "c"]}},
                {"name": "job", "type": "constant", "query": "triton"},
                {"name": "pod", "type": "query", "allValue": "pod-.+"},
            ]
        }
    }
    values = snap.variable_values(dashboard)
    assert "datasource" not in values
    assert values["model"] == ".*" and values["node"] == ".*" and values["pod"] == "pod-.+"
    assert values["gpu"] == "0" and values["job"] == "triton"
    assert values["ns"] == "(a\\\\.b|c)"  # escaped for a regex inside a PromQL string, as Grafana does


def test_substitute_replaces_every_syntax_and_leaves_unknown_names():
    values = {"model": ".*", "__rate_interval": "60s", "__range": "60s", "model_version": "1"}
    expr = 'rate(x{model=~"$model",v="$model_version"}[$__rate_interval]) + y{m=~"${model:regex}"}[[model]]'
    assert snap.substitute(expr, values) == 'rate(x{model=~".*",v="1"}[60s]) + y{m=~".*"}.*'
    assert snap.substitute('z{a="$unknown"}[$__range]', values) == 'z{a="$unknown"}[60s]'


def test_every_query_of_the_collections_dashboards_is_concrete_after_substitution():
    for dashboard in dashboards.build_dashboards({}).values():
        values = snap.variable_values(dashboard)
        values.update(snap.interval_values(FROM_MS, TO_MS, 1))
        for panel in snap.walk_panels(dashboard):
            for target, _reason in snap.panel_queries(panel):
                assert "$" not in snap.substitute(target["expr"], values), target["expr"]


def test_snapshot_names_and_window_validation():
    assert snap.snapshot_name("gpu-e2e smoke - {title}", "GPU E2E / GPU") == "gpu-e2e smoke - GPU E2E / GPU"
    assert snap.snapshot_name(None, "GPU E2E / GPU") == "GPU E2E / GPU"
    assert snap.iso_utc(FROM_MS + 1234) == "2026-01-01T00:00:01.234Z"
    with pytest.raises(snap.GrafanaSnapshotError, match="must be after"):
        snap.take_snapshot(
            {
                "grafana_url": "http://127.0.0.1:1",
                "grafana_token": "t",
                "dashboard_uid": "u",
                "prometheus_url": "",
                "from_ms": TO_MS,
                "to_ms": FROM_MS,
            },
            opener=None,
        )


# --- end to end against loopback fakes ------------------------------------------------------------


class FakeGrafana(StubHandler):
    dashboards: dict = {}
    posted: list = []

    def do_GET(self):
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self.answer(401, {"message": "invalid API key"})
        uid = self.path.rsplit("/", 1)[-1]
        if not self.path.startswith("/api/dashboards/uid/") or uid not in self.dashboards:
            return self.answer(404, {"message": "Dashboard not found"})
        return self.answer(200, {"dashboard": self.dashboards[uid], "meta": {"slug": uid}})

    def do_POST(self):
        if self.headers.get("Authorization") != f"Bearer {TOKEN}" or self.path != "/api/snapshots":
            return self.answer(401, {"message": "invalid API key"})
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeGrafana.posted.append(body)
        key = f"key{len(FakeGrafana.posted)}"
        host = f"http://{self.headers['Host']}"
        return self.answer(
            200,
            {
                "key": key,
                "deleteKey": f"del{key}",
                "url": f"{host}/dashboard/snapshot/{key}",
                "deleteUrl": f"{host}/api/snapshots-delete/del{key}",
                "id": len(FakeGrafana.posted),
            },
        )


class FakePrometheus(StubHandler):
    """query_range answers a fixed two-series matrix, except: an expression containing EMPTY_WORD
    gets an empty result and one containing ERROR_WORD gets Prometheus' 400 bad_data."""

    queries: list = []
    empty_word = "\x00"
    error_word = "\x00"

    def do_GET(self):
        parsed = urllib.parse.urlsplit(self.path)
        if parsed.path != "/api/v1/query_range":
            return self.answer(404, b"", content_type="text/plain")
        params = dict(urllib.parse.parse_qsl(parsed.query))
        FakePrometheus.queries.append(params)
        start, end, step = float(params["start"]), float(params["end"]), float(params["step"])
        status, doc = 200, None
        if self.error_word in params["query"]:
            status, doc = 400, {"status": "error", "errorType": "bad_data", "error": "parse error: unexpected"}
        elif self.empty_word in params["query"]:
            doc = {"status": "success", "data": {"resultType": "matrix", "result": []}}
        else:
            stamps = [start + i * step for i in range(int((end - start) / step) + 1)]
            labels = {
                "model": "mobilenetv2",
                "Hostname": "ip-10-0-1-1",
                "gpu": "0",
                "phase": "Running",
                "namespace": "triton",
                "label_eks_amazonaws_com_capacity_type": "SPOT",
            }
            result = [
                {"metric": dict(labels), "values": [[t, "1.5"] for t in stamps]},
                {"metric": dict(labels, model="resnet50", gpu="1"), "values": [[t, "NaN"] for t in stamps[:2]]},
            ]
            doc = {"status": "success", "data": {"resultType": "matrix", "result": result}}
        return self.answer(status, doc)


@pytest.fixture
def fakes():
    FakeGrafana.dashboards = dashboards.build_dashboards({"annotation_tags": ["gpu-e2e", "loadtest"]})
    FakeGrafana.posted = []
    FakePrometheus.queries = []
    FakePrometheus.empty_word = FakePrometheus.error_word = "\x00"
    with serving(FakeGrafana) as grafana, serving(FakePrometheus) as prometheus:
        yield grafana, prometheus


def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens any more


def run(args, capsys, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


def args_for(grafana, prometheus, uid, **extra):
    args = {
        "grafana_url": grafana,
        "grafana_token": TOKEN,
        "prometheus_url": prometheus,
        "dashboard_uid": uid,
        "from_ms": FROM_MS,
        "to_ms": TO_MS,
        "name": "gpu-e2e smoke - {title}",
    }
    args.update(extra)
    return args


def test_every_panel_with_queries_gets_data_and_the_snapshot_is_posted(fakes, capsys):
    grafana, prometheus = fakes
    for number, uid in enumerate(dashboards.DASHBOARD_UIDS, start=1):
        source = FakeGrafana.dashboards[uid]
        out = run(args_for(grafana, prometheus, uid), capsys)
        assert out["changed"] is True and not out.get("failed"), out
        assert out["missing"] == []
        assert out["key"] == f"key{number}" and out["url"] == f"{grafana}/dashboard/snapshot/key{number}"
        assert out["delete_url"] == f"{grafana}/api/snapshots-delete/delkey{number}"
        assert out["uid"] == uid and out["title"] == source["title"] and out["step_s"] == 1

        posted = FakeGrafana.posted[-1]
        assert posted["name"] == f"gpu-e2e smoke - {source['title']}" and posted["expires"] == 0
        dashboard = posted["dashboard"]
        assert dashboard["id"] is None and dashboard["uid"] == uid
        assert dashboard["time"] == {"from": "2026-01-01T00:00:00.000Z", "to": "2026-01-01T00:01:00.000Z"}
        with_targets = [p for p in snap.walk_panels(dashboard) if p.get("targets")]
        assert with_targets and out["panels"] == len(with_targets)
        for panel in with_targets:
            assert panel["snapshotData"], panel["title"]
            assert panel["datasource"] is None and all("datasource" not in t for t in panel["targets"])
            assert all(t["expr"] for t in panel["targets"])  # kept for the reader
            for frame in panel["snapshotData"]:
                assert set(frame) == {"target", "datapoints", "refId"}
                assert frame["datapoints"] and all(len(point) == 2 for point in frame["datapoints"])
        assert out["series"] == sum(len(p["snapshotData"]) for p in with_targets)
    assert len(FakeGrafana.posted) == 3

    inference = {p["title"]: p for p in snap.walk_panels(FakeGrafana.posted[1]["dashboard"])}
    rate = inference["Request and inference rate"]["snapshotData"]
    assert [f["target"] for f in rate] == [
        "mobilenetv2 requests/s",
        "resnet50 requests/s",
        "mobilenetv2 inferences/s",
        "resnet50 inferences/s",
    ]
    assert [f["refId"] for f in rate] == ["A", "A", "B", "B"]
    assert rate[0]["datapoints"][0] == [1.5, FROM_MS] and rate[0]["datapoints"][-1] == [1.5, TO_MS]
    assert rate[1]["datapoints"] == [[None, FROM_MS], [None, FROM_MS + 1000]]
    model = next(v for v in FakeGrafana.posted[1]["dashboard"]["templating"]["list"] if v["name"] == "model")
    assert model["query"] == "" and model["current"]["value"] == "$__all" and model["options"] == [model["current"]]

    # Every query reached Prometheus concrete, for the window, at the default step.
    assert FakePrometheus.queries
    for params in FakePrometheus.queries:
        assert "$" not in params["query"], params["query"]
        assert (params["start"], params["end"], params["step"]) == ("1767225600.000", "1767225660.000", "1")
    assert any('model=~".*"' in q["query"] and "[60s]" in q["query"] for q in FakePrometheus.queries)
    assert TOKEN not in json.dumps(FakeGrafana.posted)


def test_queries_without_data_or_rejected_are_missing_not_fatal(fakes, capsys):
    grafana, prometheus = fakes
    FakePrometheus.empty_word = "nv_inference_pending_request_count"
    FakePrometheus.error_word = "nv_inference_request_failure"
    out = run(args_for(grafana, prometheus, "gpu-e2e-inference", step_s=20), capsys)
    assert out["changed"] is True and not out.get("failed"), out
    assert out["missing"] == [
        "Success and failure: query B failed: bad_data: parse error: unexpected",
        "Error rate: query A failed: bad_data: parse error: unexpected",
        "Pending requests: query A returned no data",
    ]
    panels = {p["title"]: p for p in snap.walk_panels(FakeGrafana.posted[0]["dashboard"])}
    assert panels["Pending requests"]["snapshotData"] == [] and panels["Error rate"]["snapshotData"] == []
    assert {f["refId"] for f in panels["Success and failure"]["snapshotData"]} == {"A"}
    with_targets = [p for p in panels.values() if p.get("targets")]
    assert out["panels"] == len(with_targets) - 2
    assert {q["step"] for q in FakePrometheus.queries} == {"20"}
    assert all(len(f["datapoints"]) == 4 for f in panels["Average batch size"]["snapshotData"][:1])


def test_check_mode_reads_and_queries_but_posts_nothing(fakes, capsys):
    grafana, prometheus = fakes
    out = run(args_for(grafana, prometheus, "gpu-e2e-gpu"), capsys, check_mode=True)
    assert out["changed"] is True and out["url"] is None and out["key"] is None and out["delete_url"] is None
    assert out["series"] > 0 and FakePrometheus.queries and FakeGrafana.posted == []


def test_unreachable_grafana_or_prometheus_fails(fakes, capsys):
    grafana, prometheus = fakes
    out = run(args_for(grafana, closed_port_url(), "gpu-e2e-gpu"), capsys)
    assert out["failed"] is True and "Prometheus at http://127.0.0.1:" in out["msg"] and "unreachable" in out["msg"]
    out = run(args_for(closed_port_url(), prometheus, "gpu-e2e-gpu"), capsys)
    assert out["failed"] is True and "Grafana is unreachable" in out["msg"]
    out = run(args_for(grafana, "", "gpu-e2e-gpu"), capsys)
    assert out["failed"] is True and "prometheus_url is empty" in out["msg"]
    out = run(args_for(grafana, prometheus, "no-such-dashboard"), capsys)
    assert out["failed"] is True and "HTTP 404" in out["msg"]
    out = run(args_for(grafana, prometheus, "gpu-e2e-gpu", grafana_token="wrong"), capsys)
    assert out["failed"] is True and "HTTP 401" in out["msg"]
    assert FakeGrafana.posted == []
    assert TOKEN not in json.dumps(out)


def test_a_dashboard_without_queries_needs_no_prometheus(fakes, capsys):
    grafana, _prometheus = fakes
    FakeGrafana.dashboards["notes"] = {"id": 3, "uid": "notes", "title": "Notes", "panels": [{"type": "text"}]}
    out = run(args_for(grafana, "", "notes", name=None), capsys)
    assert out["changed"] is True and out["name"] == "Notes" and out["panels"] == 0 and out["series"] == 0
    assert FakeGrafana.posted[0]["dashboard"]["panels"] == [{"type": "text"}]


# --- optionally, a real Prometheus ------------------------------------------------------------------

PROMETHEUS = shutil.which("prometheus")


@pytest.mark.skipif(PROMETHEUS is None, reason="the prometheus binary is absent (apt-get install prometheus)")
def test_against_a_real_prometheus_scraping_itself(fakes, tmp_path, capsys):
    grafana, _fake_prometheus = fakes
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs: [{{job_name: self, static_configs: [{{targets: ['127.0.0.1:{port}']}}]}}]\n"
    )
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        start_ms = int(time.time() * 1000)
        deadline = time.time() + 30
        samples = 0
        while time.time() < deadline and samples < 6:
            time.sleep(1)
            try:
                query = urllib.parse.urlencode({"query": "count_over_time(up[1m])"})
                with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=2) as response:  # loopback only
                    result = json.loads(response.read())["data"]["result"]
                samples = int(float(result[0]["value"][1])) if result else 0
            except (OSError, ValueError, KeyError):
                continue
        assert samples >= 6, "Prometheus did not scrape itself in time"
        FakeGrafana.dashboards["self"] = {
            "id": 9,
            "uid": "self",
            "title": "Self",
            "templating": {"list": [{"name": "job", "type": "query", "includeAll": True, "allValue": ".+"}]},
            "panels": [
                {
                    "type": "timeseries",
                    "title": "Up",
                    "targets": [{"refId": "A", "expr": 'up{job=~"$job"}', "legendFormat": "{{instance}}"}],
                },
                {
                    "type": "timeseries",
                    "title": "Requests",
                    "targets": [{"refId": "A", "expr": "sum(rate(prometheus_http_requests_total[$__rate_interval]))"}],
                },
                {
                    "type": "timeseries",
                    "title": "Nothing",
                    "targets": [{"refId": "A", "expr": "no_such_metric_anywhere"}],
                },
                {"type": "timeseries", "title": "Broken", "targets": [{"refId": "A", "expr": "sum(("}]},
            ],
        }
        out = run(
            args_for(grafana, url, "self", from_ms=start_ms, to_ms=int(time.time() * 1000), scrape_interval_s=1), capsys
        )
        assert not out.get("failed"), out
        panels = {p["title"]: p for p in snap.walk_panels(FakeGrafana.posted[-1]["dashboard"])}
        (up,) = panels["Up"]["snapshotData"]
        assert up["target"] == f"127.0.0.1:{port}" and any(v == 1.0 for v, _ts in up["datapoints"])
        assert panels["Requests"]["snapshotData"]
        assert out["missing"][0] == "Nothing: query A returned no data"
        assert out["missing"][1].startswith("Broken: query A failed: bad_data")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
