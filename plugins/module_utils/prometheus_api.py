# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus, read two ways: its HTTP query API (the one client of the collection) and its text
exposition format (a runtime's ``/metrics`` page, parsed by ``prometheus_client.parser``).

Two errors: ``PrometheusUnreachable`` (no usable answer: network, TLS, an HTTP error that is not a query
error, a body that is not JSON) and ``PrometheusQueryError`` (Prometheus answered and rejected the
query). Callers turn them into their own error types or record them as a missing figure.
"""
from __future__ import annotations

import json
from urllib.error import HTTPError
from urllib.parse import urlencode

from ansible.module_utils.urls import open_url

try:
    from prometheus_client.parser import text_string_to_metric_families

    HAS_PROMETHEUS_CLIENT = True
except ImportError:  # pragma: no cover - exercised by ansible-test's import sanity test
    HAS_PROMETHEUS_CLIENT = False


class PrometheusUnreachable(Exception):
    """Prometheus gave no usable answer."""


class PrometheusQueryError(Exception):
    """Prometheus answered that the query failed."""


def parse_exposition(text):
    """Prometheus text format -> {sample name: [(labels dict, value)]}.

    Names are prometheus_client's: a counter's samples always end in ``_total`` (Triton's own
    ``nv_inference_count`` reads as ``nv_inference_count_total``), other samples keep the page's name.
    """
    if not HAS_PROMETHEUS_CLIENT:
        raise PrometheusUnreachable("reading a /metrics page needs the Python library prometheus_client")
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
    return samples


def _error_body(exc):
    try:
        return exc.read() or b""
    except Exception:  # the body of an HTTPError may be gone already
        return b""


class PrometheusApi:
    """Instant, range and label queries of Prometheus' HTTP API (``/api/v1``) through ``open_url``."""

    def __init__(self, url, opener=None, timeout=5.0, validate_certs=True):
        self.url = url.rstrip("/")
        self._open = opener or open_url
        self.timeout = timeout
        self.validate_certs = validate_certs

    def get(self, path, params=None):
        """The ``data`` of a successful answer to ``GET <url><path>?<params>``."""
        query = ("?" + urlencode(params)) if params else ""
        try:
            response = self._open(f"{self.url}{path}{query}", headers={"Accept": "application/json"},
                                  timeout=self.timeout, validate_certs=self.validate_certs)
            try:
                body = response.read()
            finally:
                close = getattr(response, "close", None)
                if close:
                    close()
        except HTTPError as exc:
            try:
                doc = json.loads(_error_body(exc) or b"null")
            except ValueError:
                doc = None
            if isinstance(doc, dict) and doc.get("status") == "error":  # Prometheus rejected the query
                raise PrometheusQueryError(f"{doc.get('errorType', 'error')}: {doc.get('error', '')}") from exc
            raise PrometheusUnreachable(f"Prometheus at {self.url} answered HTTP {exc.code}: {exc.reason}") from exc
        except Exception as exc:  # open_url raises URLError, socket and SSL errors alike
            raise PrometheusUnreachable(f"Prometheus at {self.url} is unreachable: {exc}") from exc
        try:
            doc = json.loads(body or b"null")
        except ValueError as exc:
            raise PrometheusUnreachable(
                f"Prometheus at {self.url} answered something that is not JSON: {body[:200]!r}") from exc
        if not isinstance(doc, dict) or doc.get("status") != "success":
            error = doc.get("error", doc) if isinstance(doc, dict) else doc
            raise PrometheusQueryError(f"Prometheus answered: {error}")
        return doc.get("data")

    def metric_names(self):
        return set(self.get("/api/v1/label/__name__/values") or [])

    def query(self, expr, at):
        """The vector result of an instant query at epoch seconds ``at``."""
        return (self.get("/api/v1/query", {"query": expr, "time": f"{at:.3f}"}) or {}).get("result") or []

    def query_range(self, expr, start_s, end_s, step_s):
        """The matrix result of a range query: [{"metric": {...}, "values": [[epoch_s, "v"], ...]}, ...]."""
        params = {"query": expr, "start": f"{start_s:.3f}", "end": f"{end_s:.3f}", "step": f"{step_s}"}
        return (self.get("/api/v1/query_range", params) or {}).get("result") or []
