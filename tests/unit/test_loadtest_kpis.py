"""KPI extraction from Locust CSV fixtures, Triton counters (scrapes and a fake Prometheus) and
the kpis.json document (module_utils/loadtest_locust_csv.py, loadtest_server_metrics.py, loadtest_kpis.py)."""

import io
import json
import os
import shutil
import urllib.parse

import pytest

from ansible_collections.gpu_e2e.platform.plugins.module_utils import loadtest_errors as errors
from ansible_collections.gpu_e2e.platform.plugins.module_utils import loadtest_kpis as kpis
from ansible_collections.gpu_e2e.platform.plugins.module_utils import loadtest_locust_csv as lcsv
from ansible_collections.gpu_e2e.platform.plugins.module_utils import loadtest_server_metrics as srv

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "loadtest")

T0 = 1767225600
PREFIX = os.path.join(FIXTURES, "killed")


def test_client_kpis_come_from_the_aggregated_row():
    client = lcsv.read_aggregated(PREFIX)
    assert client["requests"] == 460 and client["failures"] == 160
    assert client["error_rate_pct"] == pytest.approx(34.783, abs=1e-3)
    assert client["latency_ms"]["p50"] == 20 and client["latency_ms"]["p95"] == 30
    assert client["latency_ms"]["p99"] == 38 and client["rps"] == 46.0


def test_history_keeps_only_aggregated_rows_and_tolerates_na():
    history = lcsv.read_history(PREFIX)
    assert len(history) == 11
    assert history[0]["p95"] is None and history[0]["users"] == 0
    assert history[-1]["failures"] == 160 and history[-1]["t"] == T0 + 10


def test_error_spike_is_found_where_the_runtime_died():
    spikes = lcsv.error_spikes(lcsv.read_history(PREFIX))
    assert spikes == [{"start": T0 + 7, "end": T0 + 10, "peak_failures_per_s": 40.0}]
    assert lcsv.error_spikes(lcsv.read_history(PREFIX), min_failures_per_s=50) == []


def test_a_sudden_failure_is_a_spike_even_while_locusts_averages_still_lag():
    # Locust's Failures/s and Requests/s are 10 s averages lagging 2 s: right after the server dies they still
    # show mostly successes (5 failures/s against 120 requests/s, a 4 % share). The counters show the truth.
    row = {"users": 2, "p50": None, "p95": None, "p99": None}
    history = [dict(row, t=T0 + i, rps=150.0, failures_per_s=0.0, requests=150 * i, failures=0) for i in range(1, 5)]
    history += [dict(row, t=T0 + 4 + i, rps=120.0, failures_per_s=5.0, requests=600 + 10 * i, failures=10 * i)
                for i in range(1, 4)]
    assert lcsv.error_spikes(history) == [{"start": T0 + 5, "end": T0 + 7, "peak_failures_per_s": 10.0}]


def test_failures_are_ranked_by_occurrences():
    top = lcsv.read_failures(PREFIX)
    assert top[0]["occurrences"] == 150 and "Connection refused" in top[0]["error"]


def test_missing_csv_is_a_loadtest_error(tmp_path):
    with pytest.raises(errors.LoadtestError, match="does not exist"):
        lcsv.read_aggregated(str(tmp_path / "nothing"))


def test_live_tail_reads_the_last_aggregated_row():
    last, first_t = lcsv.read_history_tail(PREFIX, max_bytes=300)
    assert first_t == T0
    assert last["requests"] == 460 and last["failures"] == 160 and last["users"] == 2


def read(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def test_counters_resolve_total_suffix_and_filter_by_model():
    values = srv.counters_from_text(read("metrics_before.txt"), "mobilenetv2")
    assert values["nv_inference_request_success"] == 100.0  # the other model's 7 is not counted
    assert values["nv_cpu_utilization"] == 0.25
    assert srv.resolve_name("nv_inference_count", {"nv_inference_count"}) == "nv_inference_count"
    assert srv.resolve_name("nv_inference_count", {"nv_inference_count_total"}) == "nv_inference_count_total"
    assert srv.resolve_name("nv_inference_count", set()) is None


def test_server_figures_from_counter_deltas():
    before = srv.counters_from_text(read("metrics_before.txt"), "mobilenetv2")
    after = srv.counters_from_text(read("metrics_after.txt"), "mobilenetv2")
    figures, missing = srv.server_figures(before, after, duration_s=10)
    assert missing == {}
    assert figures["requests_success"] == 300 and figures["requests_failure"] == 2
    assert figures["rps"] == 30.0 and figures["inferences_per_s"] == 30.0
    assert figures["avg_batch_size"] == 6.0  # 300 inferences in 50 executions
    assert figures["queue_ms_avg"] == 0.1  # 30000 us / 300
    assert figures["compute_infer_ms_avg"] == 4.0
    assert figures["request_ms_avg"] == 5.0


def test_missing_counters_and_restarts_are_explained():
    before = {"nv_inference_request_success": 10.0, "nv_inference_count": 50.0}
    after = {"nv_inference_request_success": 20.0, "nv_inference_count": 5.0}
    figures, missing = srv.server_figures(before, after, 10)
    assert figures["requests_success"] == 10
    assert "went backwards" in missing["nv_inference_count"]
    assert "does not export nv_inference_queue_duration_us" in missing["queue_ms_avg"]
    assert "inferences_per_s" not in figures


class FakePrometheus:
    """Answers the Prometheus HTTP API from a table of counter values by time."""

    def __init__(self, values_at, names, cpu_avg=37.5, up=True):
        self.values_at = values_at  # {time: {metric name: value}}
        self.names = names
        self.cpu_avg = cpu_avg
        self.up = up
        self.queries = []

    def __call__(self, url, timeout=None, **kwargs):  # open_url's signature: headers, validate_certs...
        if not self.up:
            raise OSError("connection refused")
        parsed = urllib.parse.urlparse(url)
        params = dict(urllib.parse.parse_qsl(parsed.query))
        self.queries.append(params.get("query"))
        if parsed.path.endswith("/label/__name__/values"):
            data = sorted(self.names)
        elif parsed.path.endswith("/query_range"):
            start = float(params["start"])
            data = {"resultType": "matrix", "result": [{"metric": {}, "values": [
                [start + i, str(30.0 + i)] for i in range(3)]}]}
        else:
            query, at = params["query"], float(params["time"])
            if query.startswith("100 * max(avg_over_time(nv_cpu_utilization"):
                value = self.cpu_avg
            else:
                assert query.startswith("sum(last_over_time(") and query.endswith("s]))"), query
                name = query[len("sum(last_over_time("):].split("{")[0]
                value = self.values_at[at].get(name)
            result = [] if value is None else [{"metric": {}, "value": [at, str(value)]}]
            data = {"resultType": "vector", "result": result}
        return io.BytesIO(json.dumps({"status": "success", "data": data}).encode())


def scenario_dir(tmp_path):
    for name in ("killed_stats.csv", "killed_stats_history.csv", "killed_failures.csv"):
        shutil.copy(os.path.join(FIXTURES, name), tmp_path / name.replace("killed", "locust"))
    return str(tmp_path / "locust")


def options(prefix, **extra):
    opts = {
        "scenario": "smoke", "shape": "steady", "csv_prefix": prefix, "stages_file": None,
        "start": T0, "end": T0 + 10, "model": "mobilenetv2", "batch_size": 1, "platform_target": "local",
        "utilisation": "cpu", "prometheus_url": "", "prometheus_lag_s": 0, "runtime_selector": 'instance="x:8002"',
        "slo_targets": {"p95_ms": 100, "error_rate_pct": 1, "min_throughput_rps": 5}, "slo_enabled": True,
    }
    opts.update(extra)
    return opts


def test_kpis_from_prometheus_put_client_and_server_side_by_side(tmp_path):
    names = {b + "_total" for b in srv.COUNTERS} | {"nv_cpu_utilization"}
    before = {n + "_total": v for n, v in srv.counters_from_text(read("metrics_before.txt"), "mobilenetv2").items()}
    after = {n + "_total": v for n, v in srv.counters_from_text(read("metrics_after.txt"), "mobilenetv2").items()}
    fake = FakePrometheus({float(T0): before, float(T0 + 10): after}, names)
    doc = kpis.build(options(scenario_dir(tmp_path), prometheus_url="http://127.0.0.1:9090", opener=fake))
    assert doc["server"]["source"].startswith("prometheus")
    assert doc["server"]["queue_ms_avg"] == 0.1 and doc["server"]["compute_infer_ms_avg"] == 4.0
    assert doc["utilisation"]["avg_pct"] == 37.5 and doc["utilisation"]["kind"] == "cpu"
    assert "CPU" in doc["utilisation"]["label"] and doc["utilisation"]["max_pct"] == 32.0
    assert any('instance="x:8002"' in q for q in fake.queries if q and "nv_cpu_utilization" in q)
    rows = {row["kpi"]: row for row in doc["side_by_side"]}
    assert rows["average latency (ms)"] == {"kpi": "average latency (ms)", "client": 21.45, "server": 5.0}
    assert rows["queue time (ms, avg)"]["server"] == 0.1
    assert list(doc["missing"]) == ["stages"]  # only the stages file, which this test does not give


def test_without_prometheus_the_scrapes_are_used_and_the_gap_is_named(tmp_path):
    doc = kpis.build(options(scenario_dir(tmp_path),
                             metrics_before=os.path.join(FIXTURES, "metrics_before.txt"),
                             metrics_after=os.path.join(FIXTURES, "metrics_after.txt")))
    assert "tritonserver /metrics scraped" in doc["server"]["source"]
    assert "no Prometheus URL" in doc["server"]["source"]
    assert doc["server"]["compute_infer_ms_avg"] == 4.0
    # Two readings of a gauge are no average: the utilisation is named missing, not guessed.
    assert doc["utilisation"]["avg_pct"] is None
    assert "nv_cpu_utilization is a gauge" in doc["missing"]["utilisation"]


def test_unreachable_prometheus_and_no_scrapes_leave_reasons_not_a_crash(tmp_path):
    fake = FakePrometheus({}, set(), up=False)
    doc = kpis.build(options(scenario_dir(tmp_path), prometheus_url="http://127.0.0.1:9", opener=fake))
    assert doc["server"] == {"source": None}
    assert "did not answer" in doc["missing"]["server"]
    assert "did not answer" in doc["missing"]["utilisation"]


def test_a_killed_runtime_shows_as_error_rate_spike_and_slo_failure(tmp_path):
    doc = kpis.build(options(scenario_dir(tmp_path)))
    assert doc["client"]["error_rate_pct"] == pytest.approx(34.783, abs=1e-3)
    assert doc["error_spikes"][0]["start_iso"] == "2026-01-01T00:00:07.000Z"
    assert doc["errors"][0]["occurrences"] == 150
    assert doc["slo"]["passed"] is False
    assert [v["slo"] for v in doc["slo"]["violations"]] == ["slo_error_rate_pct"]
    assert doc["window"]["start"] == "2026-01-01T00:00:00.000Z"


def test_a_sweep_gets_its_points_and_knee(tmp_path):
    doc = kpis.build(options(scenario_dir(tmp_path), shape="sweep", slo_enabled=False,
                             stages_file=os.path.join(FIXTURES, "sweep_stages.json")))
    assert [p["users"] for p in doc["sweep"]["points"]] == [1, 2, 4, 8]
    assert doc["sweep"]["knee"]["users"] == 2
    assert doc["slo"] == {"judged": False, "targets": doc["slo"]["targets"], "results": [], "passed": True,
                          "violations": []}


def test_locust_that_never_started_is_reported_with_its_log(tmp_path):
    (tmp_path / "locust.log").write_text("Traceback...\nImportError: no module named gpu_e2e_loadtest\n")
    with pytest.raises(errors.LoadtestError, match="Locust wrote no results.*ImportError"):
        kpis.build(options(str(tmp_path / "locust")))


def test_write_json_reports_changes_and_respects_check_mode(tmp_path):
    dest = str(tmp_path / "kpis.json")
    assert kpis.write_json(dest, {"a": 1}, check_mode=True) is True
    assert not os.path.exists(dest)
    assert kpis.write_json(dest, {"a": 1}) is True
    assert kpis.write_json(dest, {"a": 1}) is False
    with pytest.raises(errors.LoadtestError, match="does not exist"):
        kpis.write_json(str(tmp_path / "no" / "kpis.json"), {})


def test_utilisation_queries_select_the_runtime_or_the_gpus():
    name, avg_q, series_q = srv.utilisation_queries("cpu", 'instance="127.0.0.1:8002"', 30)
    assert name == "nv_cpu_utilization"
    assert avg_q == '100 * max(avg_over_time(nv_cpu_utilization{instance="127.0.0.1:8002"}[30s]))'
    assert series_q == '100 * max(nv_cpu_utilization{instance="127.0.0.1:8002"})'
    name, avg_q, _series = srv.utilisation_queries("gpu", "", 12)
    assert name == "DCGM_FI_DEV_GPU_UTIL" and avg_q == "avg(avg_over_time(DCGM_FI_DEV_GPU_UTIL[12s]))"


def test_prometheus_without_a_sample_at_the_start_falls_back_to_the_scrapes(tmp_path):
    names = {b + "_total" for b in srv.COUNTERS}
    after = {n + "_total": v for n, v in srv.counters_from_text(read("metrics_after.txt"), "mobilenetv2").items()}
    fake = FakePrometheus({float(T0): {}, float(T0 + 10): after}, names)
    doc = kpis.build(options(scenario_dir(tmp_path), prometheus_url="http://127.0.0.1:9090", opener=fake,
                             metrics_before=os.path.join(FIXTURES, "metrics_before.txt"),
                             metrics_after=os.path.join(FIXTURES, "metrics_after.txt")))
    assert doc["server"]["source"].startswith("tritonserver /metrics scraped")
    assert "no Triton samples at the start of the window" in doc["server"]["source"]
    assert doc["server"]["requests_success"] == 300
