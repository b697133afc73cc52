# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: run_events
short_description: Record a run event in events.json and optionally as a Grafana annotation
version_added: 1.0.0
description:
  - Appends one event (text, tags, start and optional end time) to the run's C(events.json),
    with UTC ISO 8601 timestamps beside the epoch milliseconds.
  - When O(grafana_url) and O(grafana_token) are both set, also posts the event to Grafana's
    C(/api/annotations) as an organisation-wide annotation carrying O(tags); the dashboards of
    this collection show annotations by tag.
  - The file is always written first. A Grafana failure is recorded in the event and returned
    as a warning; it never fails the task, so a load test is not stopped by its monitoring.
  - With an explicit O(time), an identical event (same text, tags, time and time_end) already in
    the file is not added again, so replaying a play is idempotent. Without O(time) the event is
    stamped now and always added.
author:
  - gpu_e2e.platform contributors (@gpu-e2e)
options:
  events_file:
    description:
      - Path of the events file, normally C({{ run_dir }}/events.json). Its directory must exist.
    type: path
    required: true
  text:
    description:
      - "The event text, for example C(Load Test Start: smoke)."
    type: str
    required: true
  tags:
    description:
      - Tags of the event, for example C([loadtest, smoke, start]).
    type: list
    elements: str
    default: []
  time:
    description:
      - Start of the event in epoch milliseconds. Defaults to now.
    type: int
  time_end:
    description:
      - End of the event in epoch milliseconds, for region annotations (a scenario's window).
      - Must not be before O(time).
    type: int
  grafana_url:
    description:
      - Base URL of Grafana, for example C(http://grafana.example:3000). Posting happens only when
        O(grafana_token) is also set.
    type: str
  grafana_token:
    description:
      - A Grafana service account token with the annotation writer permission.
    type: str
  grafana_timeout:
    description:
      - Timeout in seconds of the POST to Grafana.
    type: int
    default: 10
  validate_certs:
    description:
      - Whether to validate Grafana's TLS certificate.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details: "Nothing is written or posted."
  diff_mode:
    support: full
    details: "The number of events in O(events_file) before and after, and the event that is appended."
  platform:
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
seealso:
  - name: Grafana annotations HTTP API
    description: The API the event is posted to.
    link: https://grafana.com/docs/grafana/latest/developers/http_api/annotations/
"""

EXAMPLES = r"""
- name: Record the start of the smoke scenario.
  gpu_e2e.platform.run_events:
    events_file: "{{ run_dir }}/events.json"
    text: "Load Test Start: smoke"
    tags: [loadtest, smoke, start]

- name: Record the smoke scenario's window and post it to Grafana.
  gpu_e2e.platform.run_events:
    events_file: "{{ run_dir }}/events.json"
    text: "Load Test Stop: smoke"
    tags: [loadtest, smoke, stop]
    time: "{{ loadtest__start_ms | int }}"
    time_end: "{{ loadtest__stop_ms | int }}"
    grafana_url: "{{ grafana_url }}"
    grafana_token: "{{ grafana_token }}"
"""

RETURN = r"""
event:
  description: The event as stored in events.json.
  returned: always
  type: dict
  sample:
    text: "Load Test Start: smoke"
    tags: [loadtest, smoke]
    time_ms: 1767225600000
    time: "2026-01-01T00:00:00.000Z"
    time_end_ms: null
    time_end: null
    grafana: {posted: false, annotation_id: null, error: null}
events_file:
  description: The path of the events file.
  returned: always
  type: str
  sample: /work/main/runs/gpu-e2e/20260101T000000Z/events.json
duplicate:
  description: Whether an identical event was already recorded (nothing was added).
  returned: always
  type: bool
  sample: false
annotation_id:
  description: The id of the Grafana annotation, or null when nothing was posted.
  returned: always
  type: int
  sample: 42
posted:
  description: Whether the event was posted to Grafana.
  returned: always
  type: bool
  sample: false
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import exit_result
from ansible_collections.gpu_e2e.platform.plugins.module_utils.run_events import (
    RunEventError,
    record_event,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "events_file": {"type": "path", "required": True},
            "text": {"type": "str", "required": True},
            "tags": {"type": "list", "elements": "str", "default": []},
            "time": {"type": "int"},
            "time_end": {"type": "int"},
            "grafana_url": {"type": "str"},
            "grafana_token": {"type": "str", "no_log": True},
            "grafana_timeout": {"type": "int", "default": 10},
            "validate_certs": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        result = record_event(
            params["events_file"],
            params["text"],
            tags=params["tags"],
            time_ms=params["time"],
            time_end_ms=params["time_end"],
            grafana_url=params["grafana_url"],
            grafana_token=params["grafana_token"],
            opener=open_url,
            check_mode=module.check_mode,
            timeout=params["grafana_timeout"],
            validate_certs=params["validate_certs"],
        )
    except RunEventError as exc:
        module.fail_json(msg=str(exc))

    grafana = result["grafana"] or {}
    if params["grafana_url"] and not params["grafana_token"]:
        module.warn("grafana_url is set but grafana_token is not: the event was only written to events_file.")
    if grafana.get("error"):
        module.warn(f"The event was recorded in events_file but not posted to Grafana: {grafana['error']}")
    exit_result(
        module,
        result["changed"],
        diff=result["diff"],
        event=result["event"],
        events_file=params["events_file"],
        duplicate=result["duplicate"],
        annotation_id=grafana.get("annotation_id"),
        posted=bool(grafana.get("posted")),
    )


if __name__ == "__main__":
    main()
