# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run events: the annotations of a run.

Every event is appended to ``events.json`` in the run directory (always), and
posted to Grafana's ``/api/annotations`` when a Grafana URL and token are
configured. The file is the record; Grafana is a view of it.

``events.json`` layout::

    {"events": [
        {"text": "Load Test Start: smoke", "tags": ["loadtest", "smoke"],
         "time_ms": 1767225600000, "time": "2026-01-01T00:00:00.000Z",
         "time_end_ms": null, "time_end": null,
         "grafana": {"posted": false}}
    ]}

All logic lives here; the module only maps options to ``record_event``.
"""

import datetime
import json
import os
import time as _time

try:
    import fcntl

    HAS_FCNTL = True
except ImportError:  # pragma: no cover - non-POSIX
    HAS_FCNTL = False

from contextlib import nullcontext
from urllib.parse import urlsplit
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import fields
from ansible_collections.gpu_e2e.platform.plugins.module_utils.atomic_write import write_atomic


class RunEventError(Exception):
    """The one error raised by this module's logic."""


def now_ms():
    """Current time in epoch milliseconds."""
    return int(_time.time() * 1000)


def iso_utc(epoch_ms):
    """Epoch milliseconds to an ISO 8601 UTC timestamp with millisecond precision and a Z suffix."""
    if epoch_ms is None:
        return None
    stamp = datetime.datetime.fromtimestamp(epoch_ms / 1000.0, tz=datetime.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def build_event(text, tags=None, time_ms=None, time_end_ms=None):
    """Validate the inputs and return the event dict (without the grafana outcome)."""
    if not isinstance(text, str) or not text.strip():
        raise RunEventError("text must be a non-empty string")
    tags = [str(t) for t in (tags or [])]
    if any(not t.strip() for t in tags):
        raise RunEventError("tags must be non-empty strings")
    if time_ms is None:
        time_ms = now_ms()
    for name, value in (("time", time_ms), ("time_end", time_end_ms)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise RunEventError(f"{name} must be a non-negative integer (epoch milliseconds), got {value!r}")
    if time_end_ms is not None and time_end_ms < time_ms:
        raise RunEventError(f"time_end ({time_end_ms}) is before time ({time_ms})")
    return {
        "text": text,
        "tags": tags,
        "time_ms": time_ms,
        "time": iso_utc(time_ms),
        "time_end_ms": time_end_ms,
        "time_end": iso_utc(time_end_ms),
    }


def event_key(event):
    """What makes two events the same event (used for idempotency with an explicit time)."""
    return (event["text"], tuple(event["tags"]), event["time_ms"], event.get("time_end_ms"))


def load_events(path):
    """Return the list of events stored in path ([] when the file does not exist)."""
    if not os.path.exists(path):
        return []
    try:
        with open(path) as handle:
            content = handle.read()
    except OSError as exc:
        raise RunEventError(f"cannot read {path}: {exc}") from exc
    if not content.strip():
        return []
    try:
        data = json.loads(content)
    except ValueError as exc:
        raise RunEventError(f"{path} is not valid JSON: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("events"), list):
        return data["events"]
    raise RunEventError(f'{path} is not an events file (expected {{"events": [...]}})')


def _write_events(path, events):
    try:
        write_atomic(path, json.dumps({"events": events}, indent=2, sort_keys=True) + "\n", make_dirs=False)
    except OSError as exc:
        raise RunEventError(f"cannot write {path}: {exc}") from exc


class _FileLock:
    """An exclusive advisory lock beside the events file, so parallel writers do not lose events."""

    def __init__(self, path):
        self.lock_path = os.path.join(os.path.dirname(os.path.abspath(path)), "." + os.path.basename(path) + ".lock")
        self.handle = None

    def __enter__(self):
        if HAS_FCNTL:
            self.handle = open(self.lock_path, "a")
            fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc_info):
        if self.handle is not None:
            fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
            self.handle.close()
        return False


def validate_grafana_url(url):
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RunEventError(f"grafana_url must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


def annotation_payload(event):
    """The body of POST /api/annotations for an event (organisation-wide annotation, filtered by tags)."""
    payload = {"time": event["time_ms"], "tags": event["tags"], "text": event["text"]}
    if event.get("time_end_ms") is not None:
        payload["timeEnd"] = event["time_end_ms"]
    return payload


def post_annotation(opener, grafana_url, grafana_token, event, timeout=10, validate_certs=True):
    """POST the event to Grafana and return the annotation id.

    ``opener`` has the signature of ``ansible.module_utils.urls.open_url``.
    """
    url = validate_grafana_url(grafana_url) + "/api/annotations"
    headers = {
        "Authorization": f"Bearer {grafana_token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    try:
        response = opener(
            url,
            data=json.dumps(annotation_payload(event)),
            headers=headers,
            method="POST",
            timeout=timeout,
            validate_certs=validate_certs,
        )
        body = response.read()
    except Exception as exc:  # open_url raises HTTPError, URLError, socket and SSL errors alike
        raise RunEventError(f"POST {url} failed: {exc}") from exc
    try:
        answer = json.loads(body or b"{}")
    except ValueError as exc:
        raise RunEventError(f"POST {url} answered something that is not JSON: {body[:200]!r}") from exc
    annotation_id = answer.get("id") if isinstance(answer, dict) else None
    if annotation_id is None:
        raise RunEventError(f"POST {url} answered without an annotation id: {answer!r}")
    return annotation_id


def _shown(event):
    """The event as --diff shows it: what is appended to events_file (the Grafana outcome comes after)."""
    return {k: v for k, v in event.items() if k != "grafana"}


def record_event(
    events_file,
    text,
    tags=None,
    time_ms=None,
    time_end_ms=None,
    grafana_url=None,
    grafana_token=None,
    opener=None,
    check_mode=False,
    timeout=10,
    validate_certs=True,
):
    """Append one event to events_file and optionally post it to Grafana.

    Returns a dict: changed, event, duplicate, grafana (posted, annotation_id, error).
    An event with an explicit time that is already in the file is not added again
    (changed false), so replaying a play does not duplicate its annotations.
    A Grafana failure never loses the event: it is recorded and reported, not raised.
    """
    event = build_event(text, tags, time_ms, time_end_ms)
    explicit_time = time_ms is not None
    if grafana_url:
        validate_grafana_url(grafana_url)
    want_grafana = bool(grafana_url) and bool(grafana_token)
    directory = os.path.dirname(os.path.abspath(events_file))
    if not os.path.isdir(directory):
        raise RunEventError(f"the directory of events_file does not exist: {directory}")

    with _FileLock(events_file) if not check_mode else nullcontext():
        events = load_events(events_file)
        if explicit_time:
            for existing in events:
                if event_key(existing) == event_key(event):
                    return {"changed": False, "event": existing, "duplicate": True, "grafana": existing.get("grafana"),
                            "diff": fields({"events": len(events)}, {"events": len(events)})}
        grafana = {"posted": False, "annotation_id": None, "error": None}
        diff = fields({"events": len(events)}, {"events": len(events) + 1, "appended": _shown(event)})
        if check_mode:
            event["grafana"] = grafana
            return {"changed": True, "event": event, "duplicate": False, "grafana": grafana, "diff": diff}
        if want_grafana:
            try:
                grafana["annotation_id"] = post_annotation(
                    opener, grafana_url, grafana_token, event, timeout=timeout, validate_certs=validate_certs
                )
                grafana["posted"] = True
            except RunEventError as exc:
                grafana["error"] = str(exc)
        event["grafana"] = grafana
        events.append(event)
        _write_events(events_file, events)
    return {"changed": True, "event": event, "duplicate": False, "grafana": grafana, "diff": diff}
