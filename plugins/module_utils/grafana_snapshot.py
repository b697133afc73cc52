# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Grafana snapshots that carry their data.

Grafana's snapshot API stores the dashboard it is given and nothing else: its UI fills every
panel's ``snapshotData`` from the queries it has just run, an API caller has to do the same.
This module reads a dashboard from Grafana, runs each panel's Prometheus queries for a time
window (``/api/v1/query_range``), embeds the results as ``panel.snapshotData`` in Grafana's
legacy time-series form and POSTs the dashboard to ``/api/snapshots``::

    panel["snapshotData"] = [{"target": "<legend>", "datapoints": [[value, ts_ms], ...], "refId": "A"}]

Grafana's variables in a query are replaced before it is sent to Prometheus:

- ``$__interval`` is the query step, ``$__rate_interval`` is Grafana's
  ``max($__interval + scrape interval, 4 * scrape interval)``, ``$__range`` is the window
  (``$__interval_ms``, ``$__range_s`` and ``$__range_ms`` likewise);
- a dashboard template variable (``$model``, ``${model}``, ``[[model]]``) takes its current value
  when the dashboard has one, a list of values becomes a regex alternation, and ``All`` or no
  value becomes the variable's ``allValue``, else ``.*``;
- anything else is left as it is (a query that Prometheus then rejects is reported as missing).

A query that fails or returns nothing is reported under ``missing`` ("panel title: reason") and
leaves its panel without that series; an unreachable Grafana or Prometheus raises
``GrafanaSnapshotError``, the one error of this module.

All logic lives here; the module only maps options to ``take_snapshot``.
"""

import copy
import datetime
import json
import math
import re
from urllib.error import HTTPError
from urllib.parse import quote, urlsplit

from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import fields
from ansible_collections.gpu_e2e.platform.plugins.module_utils import prometheus_api


class GrafanaSnapshotError(Exception):
    """The one error raised by this module's logic (the module fails with it)."""


class QueryFailed(GrafanaSnapshotError):
    """Prometheus answered a query with an error: reported under ``missing``, never raised to the module."""


# Grafana's legacy time-series points per panel: the default step keeps about this many per series.
POINTS_PER_SERIES = 300
ALL_VALUE = "$__all"
_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")
_LEGEND_LABEL = re.compile(r"\{\{\s*(.+?)\s*\}\}")
_REGEX_SPECIAL = re.compile(r"[$^*{}\[\]'+?.()|]")


# --------------------------------------------------------------------------------- time window
def iso_utc(epoch_ms):
    """Epoch milliseconds -> ISO 8601 UTC with milliseconds and a Z, as Grafana writes `time`."""
    stamp = datetime.datetime.fromtimestamp(int(epoch_ms) // 1000, tz=datetime.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(epoch_ms) % 1000:03d}Z"


def default_step(from_ms, to_ms):
    """Seconds between points: the window / POINTS_PER_SERIES, rounded up, at least 1."""
    return max(1, int(math.ceil((int(to_ms) - int(from_ms)) / 1000.0 / POINTS_PER_SERIES)))


def interval_values(from_ms, to_ms, step_s, scrape_interval_s=15):
    """Grafana's built-in interval variables for the window (names without the `$`)."""
    step_s = int(step_s)
    scrape_interval_s = int(scrape_interval_s)
    range_s = max(1, int(math.ceil((int(to_ms) - int(from_ms)) / 1000.0)))
    rate_s = max(step_s + scrape_interval_s, 4 * scrape_interval_s)
    return {
        "__interval": f"{step_s}s",
        "__interval_ms": str(step_s * 1000),
        "__rate_interval": f"{rate_s}s",
        "__range": f"{range_s}s",
        "__range_s": str(range_s),
        "__range_ms": str(int(to_ms) - int(from_ms)),
    }


# ------------------------------------------------------------------------------------ variables
def _regex_escape(value):
    """Grafana's escaping of one value of a multi-value variable for a PromQL regex matcher."""
    value = value.replace("\\", "\\\\\\\\")
    return _REGEX_SPECIAL.sub(lambda match: "\\\\" + match.group(0), value)


def _current_values(variable):
    current = variable.get("current") or {}
    value = current.get("value") if isinstance(current, dict) else None
    if value is None or value == "":
        return []
    values = value if isinstance(value, list) else [value]
    return [str(v) for v in values]


def variable_values(dashboard):
    """{name: replacement} of the dashboard's template variables (data source variables excluded).

    The current value when there is one; several values become `(a|b)` (each escaped for a regex,
    as Grafana does); `All` or no value becomes the variable's allValue, else `.*`.
    """
    values = {}
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        name = variable.get("name")
        if not name or variable.get("type") == "datasource":
            continue
        current = _current_values(variable)
        if variable.get("type") == "constant" and not current:
            current = [str(variable.get("query") or "")]
        if not current or ALL_VALUE in current:
            values[name] = variable.get("allValue") or ".*"
        elif len(current) == 1:
            single = current[0]
            values[name] = _regex_escape(single) if variable.get("multi") or variable.get("includeAll") else single
        else:
            values[name] = "(" + "|".join(_regex_escape(v) for v in current) + ")"
    return values


def substitute(text, values):
    """Replace `$name`, `${name}`, `${name:format}` and `[[name]]` by values[name]; others stay."""

    def replace(match):
        name = match.group(1) or match.group(2) or match.group(3)
        return values.get(name, match.group(0))

    return _VARIABLE.sub(replace, text)


# --------------------------------------------------------------------------------------- panels
def walk_panels(dashboard):
    """Every panel of a dashboard (the dicts themselves): rows flattened, collapsed rows' panels included."""
    found = []

    def visit(panels):
        for panel in panels or []:
            if not isinstance(panel, dict):
                continue
            if panel.get("type") == "row":
                visit(panel.get("panels"))
            else:
                found.append(panel)
                visit(panel.get("panels"))

    visit(dashboard.get("panels"))
    for row in dashboard.get("rows") or []:  # schema before Grafana 5
        if isinstance(row, dict):
            visit(row.get("panels"))
    return found


def panel_title(panel):
    return panel.get("title") or f"panel {panel.get('id', '?')}"


def _datasource_type(datasource):
    if isinstance(datasource, dict):
        return datasource.get("type")
    return None  # a name, a variable or nothing: taken to be Prometheus


def panel_queries(panel):
    """(target, reason) of each visible target of a panel: reason is None for a Prometheus query."""
    queries = []
    for target in panel.get("targets") or []:
        if not isinstance(target, dict) or target.get("hide"):
            continue
        kind = _datasource_type(target.get("datasource")) or _datasource_type(panel.get("datasource"))
        if kind not in (None, "prometheus", "datasource"):
            queries.append((target, f"query {target.get('refId', '?')} is a {kind} query, not Prometheus"))
        elif not str(target.get("expr") or "").strip():
            queries.append((target, f"query {target.get('refId', '?')} has no expression"))
        else:
            queries.append((target, None))
    return queries


# ---------------------------------------------------------------------------------------- series
def format_legend(legend_format, labels, expr=""):
    """A series' name: legendFormat with `{{label}}` replaced (unknown labels -> ''), else its labels."""
    labels = labels or {}
    if legend_format and legend_format != "__auto":
        return _LEGEND_LABEL.sub(lambda match: str(labels.get(match.group(1), "")), legend_format)
    name = labels.get("__name__", "")
    rest = [f'{key}="{value}"' for key, value in sorted(labels.items()) if key != "__name__"]
    if not name and not rest:
        return expr or "value"
    return name + ("{" + ", ".join(rest) + "}" if rest else "")


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None  # NaN and Inf are not JSON


def to_datapoints(values):
    """Prometheus' [[epoch_s, "value"], ...] -> Grafana's [[value, epoch_ms], ...] (NaN/Inf -> null)."""
    return [[_number(value), int(round(float(stamp) * 1000))] for stamp, value in values or []]


def to_snapshot_data(result, target, expr=""):
    """The snapshotData entries of one query's matrix result."""
    frames = []
    for series in result or []:
        values = series.get("values")
        if values is None and "value" in series:  # an instant vector, should a server answer one
            values = [series["value"]]
        frames.append(
            {
                "target": format_legend(target.get("legendFormat"), series.get("metric"), expr),
                "datapoints": to_datapoints(values),
                "refId": target.get("refId", "A"),
            }
        )
    return frames


# ------------------------------------------------------------------------------------------ HTTP
def validate_url(url, option):
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise GrafanaSnapshotError(f"{option} must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


def _error_body(exc):
    try:
        body = exc.read()
    except Exception:  # the body of an HTTPError may be gone already
        return b""
    return body or b""


def _json(body, what):
    try:
        return json.loads(body or b"null")
    except ValueError as exc:
        raise GrafanaSnapshotError(f"{what} answered something that is not JSON: {body[:200]!r}") from exc


class Grafana:
    """Grafana's dashboard and snapshot HTTP APIs with a service account token."""

    def __init__(self, url, token, opener, timeout=10.0, validate_certs=True):
        self.url = validate_url(url, "grafana_url")
        self.token = token
        self._open = opener
        self.timeout = timeout
        self.validate_certs = validate_certs

    def _request(self, method, path, payload=None):
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        data = None
        if payload is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(payload)
        what = f"Grafana {method} {self.url}{path}"
        try:
            response = self._open(
                f"{self.url}{path}",
                data=data,
                headers=headers,
                method=method,
                timeout=self.timeout,
                validate_certs=self.validate_certs,
            )
            body = response.read()
        except HTTPError as exc:
            detail = _error_body(exc)[:300].decode("utf-8", "replace")
            raise GrafanaSnapshotError(f"{what} answered HTTP {exc.code}: {detail or exc.reason}") from exc
        except Exception as exc:  # open_url raises URLError, socket and SSL errors alike
            raise GrafanaSnapshotError(f"{what} failed, Grafana is unreachable: {exc}") from exc
        return _json(body, what)

    def dashboard(self, uid):
        answer = self._request("GET", f"/api/dashboards/uid/{quote(str(uid), safe='')}")
        if not isinstance(answer, dict) or not isinstance(answer.get("dashboard"), dict):
            raise GrafanaSnapshotError(f"Grafana answered no dashboard for uid {uid!r}")
        return answer["dashboard"]

    def create_snapshot(self, dashboard, name, expires=0):
        answer = self._request("POST", "/api/snapshots", {"dashboard": dashboard, "name": name, "expires": expires})
        if not isinstance(answer, dict) or not answer.get("key"):
            raise GrafanaSnapshotError(f"Grafana answered the snapshot without a key: {answer!r}")
        return answer


class Prometheus:
    """Prometheus' range query API (prometheus_api's client). An answered error is QueryFailed, no answer is
    GrafanaSnapshotError."""

    def __init__(self, url, opener, timeout=10.0, validate_certs=True):
        self.url = validate_url(url, "prometheus_url")
        self._api = prometheus_api.PrometheusApi(self.url, opener=opener, timeout=timeout,
                                                 validate_certs=validate_certs)

    def query_range(self, expr, start_s, end_s, step_s):
        """The matrix result of a range query: [{"metric": {...}, "values": [[epoch_s, "v"], ...]}, ...]."""
        try:
            return self._api.query_range(expr, start_s, end_s, step_s)
        except prometheus_api.PrometheusQueryError as exc:
            raise QueryFailed(str(exc)) from exc
        except prometheus_api.PrometheusUnreachable as exc:
            raise GrafanaSnapshotError(str(exc)) from exc


# -------------------------------------------------------------------------------------- snapshot
def _freeze_variables(dashboard, values):
    """Template variables as Grafana's own snapshot leaves them: no query, the value used as the only option."""
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        name = variable.get("name")
        if name in values and not variable.get("current"):
            if variable.get("includeAll"):
                variable["current"] = {"selected": True, "text": "All", "value": ALL_VALUE}
            else:
                variable["current"] = {"selected": True, "text": values[name], "value": values[name]}
        variable["query"] = "" if variable.get("type") != "constant" else variable.get("query", "")
        variable["options"] = [variable["current"]] if variable.get("current") else []
        variable["refresh"] = 0


def build_snapshot_dashboard(dashboard, prometheus, from_ms, to_ms, step_s, scrape_interval_s=15):
    """The dashboard to POST, with every Prometheus panel's snapshotData, and what was embedded.

    Returns (dashboard, stats) with stats {"panels": panels with data, "series": series, "missing": [...]}.
    ``prometheus`` needs a ``query_range(expr, start_s, end_s, step_s)``; it is only called when the
    dashboard has Prometheus queries (it may be None otherwise).
    """
    snap = copy.deepcopy(dashboard)
    snap["id"] = None
    snap["time"] = {"from": iso_utc(from_ms), "to": iso_utc(to_ms)}
    values = variable_values(snap)
    values.update(interval_values(from_ms, to_ms, step_s, scrape_interval_s))
    stats = {"panels": 0, "series": 0, "missing": []}
    for panel in walk_panels(snap):
        queries = panel_queries(panel)
        if not queries:
            continue
        title = panel_title(panel)
        frames = []
        for target, reason in queries:
            if reason is not None:
                stats["missing"].append(f"{title}: {reason}")
                continue
            ref_id = target.get("refId", "A")
            expr = substitute(str(target["expr"]), values)
            if prometheus is None:
                raise GrafanaSnapshotError(
                    f"prometheus_url is empty but panel {title!r} of dashboard {snap.get('uid')!r}"
                    " has a Prometheus query"
                )
            try:
                result = prometheus.query_range(expr, int(from_ms) / 1000.0, int(to_ms) / 1000.0, step_s)
            except QueryFailed as exc:
                stats["missing"].append(f"{title}: query {ref_id} failed: {exc}")
                continue
            found = [frame for frame in to_snapshot_data(result, target, expr) if frame["datapoints"]]
            if not found:
                stats["missing"].append(f"{title}: query {ref_id} returned no data")
            frames.extend(found)
        panel["snapshotData"] = frames
        panel["datasource"] = None  # as in Grafana's own snapshots: the data is embedded, no data source needed
        for target in panel.get("targets") or []:
            if isinstance(target, dict):
                target.pop("datasource", None)
        stats["series"] += len(frames)
        stats["panels"] += 1 if frames else 0
    _freeze_variables(snap, variable_values(dashboard))
    return snap, stats


def snapshot_name(name, title):
    """The snapshot's name: `name` with `{title}` replaced by the dashboard's title, else the title."""
    if not name:
        return title
    return name.replace("{title}", title)


def take_snapshot(params, opener, check_mode=False):
    """Read the dashboard, query Prometheus, POST the snapshot (not in check mode); return the module's result."""
    from_ms, to_ms = int(params["from_ms"]), int(params["to_ms"])
    if to_ms <= from_ms:
        raise GrafanaSnapshotError(f"to_ms ({to_ms}) must be after from_ms ({from_ms})")
    step_s = params.get("step_s") or default_step(from_ms, to_ms)
    if int(step_s) < 1:
        raise GrafanaSnapshotError(f"step_s must be at least 1, got {step_s}")
    timeout = params.get("timeout") or 10.0
    validate_certs = params.get("validate_certs", True)
    grafana = Grafana(params["grafana_url"], params["grafana_token"], opener, timeout, validate_certs)
    prometheus = None
    if params.get("prometheus_url"):
        prometheus = Prometheus(params["prometheus_url"], opener, timeout, validate_certs)

    dashboard = grafana.dashboard(params["dashboard_uid"])
    snap, stats = build_snapshot_dashboard(
        dashboard, prometheus, from_ms, to_ms, int(step_s), params.get("scrape_interval_s") or 15
    )
    title = str(dashboard.get("title") or params["dashboard_uid"])
    name = snapshot_name(params.get("name"), title)
    result = {
        "changed": True,
        "uid": params["dashboard_uid"],
        "title": title,
        "name": name,
        "step_s": int(step_s),
        "url": None,
        "key": None,
        "delete_url": None,
        **stats,
    }
    # A snapshot is a new object each time: nothing before it, the snapshot's identity after.
    result["diff"] = fields(None, {"name": name, "dashboard_uid": params["dashboard_uid"], "from_ms": from_ms,
                                   "to_ms": to_ms, "expires": int(params.get("expires") or 0)})
    if check_mode:
        return result
    answer = grafana.create_snapshot(snap, name, int(params.get("expires") or 0))
    result.update(url=answer.get("url"), key=answer.get("key"), delete_url=answer.get("deleteUrl"))
    return result
