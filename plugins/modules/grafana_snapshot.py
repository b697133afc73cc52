#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: grafana_snapshot
short_description: Take a Grafana snapshot of a dashboard for a time window, with the panels' data embedded
version_added: 1.0.0
description:
  - Grafana's snapshot API stores only the dashboard it is given, so a snapshot posted as read from
    C(/api/dashboards/uid/UID) has empty panels. Grafana's UI fills each panel's C(snapshotData) itself;
    this module does what the UI does.
  - Reads the dashboard O(dashboard_uid) from Grafana, walks every panel (panels nested in rows included)
    and runs each visible Prometheus query (a target with an C(expr)) as a range query on O(prometheus_url)
    for the window O(from_ms) to O(to_ms).
  - "Grafana's variables are replaced first: C($__interval) by the step, C($__rate_interval) by
    max(step + O(scrape_interval_s), 4 * O(scrape_interval_s)), C($__range) by the window (also
    C($__interval_ms), C($__range_s), C($__range_ms)). A dashboard template variable such as C($model),
    C(${model}) or C([[model]]) takes its current value when the dashboard has one (several values become a
    regex alternation); C(All) or no value becomes its C(allValue), else C(.*)."
  - "Embeds the results as C(panel.snapshotData) in Grafana's legacy time-series form
    C([{target: legend, datapoints: [[value, ts_ms], ...], refId: A}]); the legend is the target's
    C(legendFormat) with C({{label}}) replaced, else the series' labels."
  - As Grafana's own snapshots, the panels keep their C(targets) (for reading) but lose their data source,
    template variables keep only the value used, the dashboard's C(id) is null and its C(time) is the window
    in ISO 8601 UTC. Then POSTs the dashboard to C(/api/snapshots).
  - A query that Prometheus rejects or that returns nothing does not fail the module; it is listed in
    RV(missing). An unreachable Grafana or Prometheus fails it.
  - Annotations are not embedded (the snapshot shows none).
author:
  - gpu_e2e platform team (@gpu-e2e)
options:
  grafana_url:
    description: Base URL of Grafana, for example C(http://127.0.0.1:3000).
    type: str
    required: true
  grafana_token:
    description: A Grafana service account token that can read the dashboard and create snapshots.
    type: str
    required: true
  dashboard_uid:
    description: UID of the dashboard to snapshot.
    type: str
    required: true
  prometheus_url:
    description:
      - Base URL of the Prometheus the dashboard's queries run on, for example C(http://127.0.0.1:9090).
      - May be empty only when the dashboard has no Prometheus query.
    type: str
    required: true
  from_ms:
    description: Start of the window, epoch milliseconds.
    type: int
    required: true
  to_ms:
    description: End of the window, epoch milliseconds (after O(from_ms)).
    type: int
    required: true
  name:
    description:
      - Name of the snapshot; C({title}) in it is replaced by the dashboard's title.
      - Defaults to the dashboard's title.
    type: str
  step_s:
    description:
      - Seconds between the points of each series (the query step and C($__interval)).
      - Defaults to the window divided by 300, rounded up, at least 1.
    type: int
  scrape_interval_s:
    description:
      - Prometheus' scrape interval in seconds, for C($__rate_interval) (Grafana's default is 15).
    type: int
    default: 15
  timeout:
    description: Timeout in seconds of each HTTP request to Grafana and Prometheus.
    type: float
    default: 10.0
  expires:
    description: Seconds until Grafana deletes the snapshot; C(0) keeps it forever.
    type: int
    default: 0
  validate_certs:
    description: Whether to validate the TLS certificates of Grafana and Prometheus.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details: "The dashboard is read and the queries run, but no snapshot is created."
  diff_mode:
    support: partial
    details: "A snapshot is a new object each time: the diff shows its name, dashboard and time range, not its panels."
  platform:
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
notes:
  - Always reports a change, a snapshot is a new object each time.
seealso:
  - name: Grafana snapshot HTTP API
    description: The API the snapshot is posted to.
    link: https://grafana.com/docs/grafana/latest/developers/http_api/snapshot/
"""

EXAMPLES = r"""
- name: Snapshot the Inference dashboard for the smoke scenario's window.
  gpu_e2e.platform.grafana_snapshot:
    grafana_url: "{{ grafana_url }}"
    grafana_token: "{{ grafana_token }}"
    prometheus_url: "{{ prometheus_url }}"
    dashboard_uid: gpu-e2e-inference
    from_ms: 1767225600000
    to_ms: 1767225660000
    name: "gpu-e2e smoke - {title}"
  register: snapshot

- name: Show what has no data.
  ansible.builtin.debug:
    msg: "{{ snapshot.url }}: {{ snapshot.series }} series, missing {{ snapshot.missing }}"
"""

RETURN = r"""
url:
  description: URL of the snapshot (null in check mode).
  returned: always
  type: str
  sample: http://127.0.0.1:3000/dashboard/snapshot/YYYYYYY
key:
  description: Key of the snapshot (null in check mode).
  returned: always
  type: str
  sample: YYYYYYY
delete_url:
  description: URL that deletes the snapshot (null in check mode).
  returned: always
  type: str
  sample: http://127.0.0.1:3000/api/snapshots-delete/XXXXXXX
uid:
  description: The dashboard's UID.
  returned: always
  type: str
  sample: gpu-e2e-inference
title:
  description: The dashboard's title.
  returned: always
  type: str
  sample: GPU E2E / Inference
name:
  description: The snapshot's name.
  returned: always
  type: str
  sample: gpu-e2e smoke - GPU E2E / Inference
step_s:
  description: The query step used, seconds.
  returned: always
  type: int
  sample: 1
panels:
  description: Number of panels whose snapshot has at least one series.
  returned: always
  type: int
  sample: 8
series:
  description: Number of series embedded in the snapshot.
  returned: always
  type: int
  sample: 17
missing:
  description: "Queries that failed or returned nothing, each as C(panel title: reason)."
  returned: always
  type: list
  elements: str
  sample: ["Pending requests: query A returned no data"]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import exit_result
from ansible_collections.gpu_e2e.platform.plugins.module_utils.grafana_snapshot import (
    GrafanaSnapshotError,
    take_snapshot,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "grafana_url": {"type": "str", "required": True},
            "grafana_token": {"type": "str", "required": True, "no_log": True},
            "dashboard_uid": {"type": "str", "required": True},
            "prometheus_url": {"type": "str", "required": True},
            "from_ms": {"type": "int", "required": True},
            "to_ms": {"type": "int", "required": True},
            "name": {"type": "str"},
            "step_s": {"type": "int"},
            "scrape_interval_s": {"type": "int", "default": 15},
            "timeout": {"type": "float", "default": 10.0},
            "expires": {"type": "int", "default": 0},
            "validate_certs": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    try:
        result = take_snapshot(module.params, open_url, check_mode=module.check_mode)
    except GrafanaSnapshotError as exc:
        module.fail_json(msg=str(exc))
    exit_result(module, **result)


if __name__ == "__main__":
    main()
