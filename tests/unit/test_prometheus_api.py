"""plugins/module_utils/prometheus_api.py: the one Prometheus client and the /metrics parser."""
from __future__ import annotations

import io
import json
from urllib.error import HTTPError, URLError

import pytest

from ansible_collections.gpu_e2e.platform.plugins.module_utils import prometheus_api as api

PAGE = """# HELP nv_inference_count Number of inferences performed
# TYPE nv_inference_count counter
nv_inference_count{model="mobilenetv2",version="1"} 120
nv_inference_count{model="other",version="1"} 3
# TYPE nv_inference_request_success_total counter
nv_inference_request_success_total{model="mobilenetv2",version="1"} 1.2e2
# TYPE nv_cpu_utilization gauge
nv_cpu_utilization 0.5
"""


def test_counters_read_with_total_and_gauges_keep_their_names_with_their_labels():
    samples = api.parse_exposition(PAGE)
    assert "nv_inference_count" not in samples  # Triton's unsuffixed counter, named as prometheus_client does
    assert samples["nv_inference_count_total"] == [
        ({"model": "mobilenetv2", "version": "1"}, 120.0), ({"model": "other", "version": "1"}, 3.0)]
    assert samples["nv_inference_request_success_total"][0][1] == 120.0
    assert samples["nv_cpu_utilization"] == [({}, 0.5)]


def test_a_malformed_page_is_an_error_not_a_guess():
    with pytest.raises(ValueError):
        api.parse_exposition('nv_inference_count{model="m" 1\n')


def answering(doc=None, exc=None):
    calls = []

    def opener(url, **kwargs):
        calls.append((url, kwargs))
        if exc is not None:
            raise exc
        return io.BytesIO(json.dumps(doc).encode())
    opener.calls = calls
    return opener


def test_a_query_returns_its_result_and_sends_what_prometheus_expects():
    opener = answering({"status": "success", "data": {"resultType": "vector", "result": [{"value": [1, "2"]}]}})
    prom = api.PrometheusApi("http://127.0.0.1:9090/", opener=opener, timeout=3, validate_certs=False)
    assert prom.query("up", 12.5) == [{"value": [1, "2"]}]
    url, kwargs = opener.calls[0]
    assert url == "http://127.0.0.1:9090/api/v1/query?query=up&time=12.500"
    assert kwargs == {"headers": {"Accept": "application/json"}, "timeout": 3, "validate_certs": False}


def test_a_rejected_query_and_no_answer_are_told_apart():
    rejected = HTTPError("http://x/api/v1/query_range", 400, "Bad Request", {},
                         io.BytesIO(b'{"status": "error", "errorType": "bad_data", "error": "parse error"}'))
    with pytest.raises(api.PrometheusQueryError, match="bad_data: parse error"):
        api.PrometheusApi("http://x", opener=answering(exc=rejected)).query_range("up(", 0, 1, 1)
    with pytest.raises(api.PrometheusUnreachable, match="is unreachable"):
        api.PrometheusApi("http://x", opener=answering(exc=URLError("refused"))).query("up", 0)
    with pytest.raises(api.PrometheusQueryError, match="Prometheus answered"):
        api.PrometheusApi("http://x", opener=answering({"status": "error", "error": "timeout"})).query("up", 0)
