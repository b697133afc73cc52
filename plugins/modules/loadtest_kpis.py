#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: loadtest_kpis
short_description: Extract a load test scenario's KPIs and SLO verdicts into kpis.json
version_added: 0.1.0
description:
  - Reads Locust's CSV output of one scenario (the C(Aggregated) row of C(PREFIX_stats.csv) for P50/P95/P99,
    requests/s and error %, C(PREFIX_stats_history.csv) for error spikes, C(PREFIX_failures.csv) for the
    most frequent errors) and the per-stage statistics written by the locustfile's load shape.
  - Reads the server side from Triton's counters (queue and compute time per request, inferences/s, average
    batch size, successes and failures) at the start and the end of the scenario's window, from Prometheus when
    O(prometheus_url) answers, otherwise from two scrapes of the runtime's C(/metrics) taken around the scenario
    (O(metrics_before), O(metrics_after)). Each KPI that cannot be computed is listed under C(missing) with why.
  - Utilisation is the host CPU Triton reports (nv_cpu_utilization; locally, labelled as CPU) or the GPU (DCGM) on aws.
  - Judges the client-side KPIs against the SLO targets and writes everything to O(dest).
  - Never fails because of the SLO; the role fails the play from the returned violations.
author:
  - gpu_e2e platform team (@gpu-e2e)
options:
  scenario:
    description: Name of the scenario, for example C(smoke).
    type: str
    required: true
  shape:
    description: The scenario's load shape; a C(sweep) also gets its throughput-latency points and knee.
    type: str
    choices: [steady, spike, sweep]
    default: steady
  csv_prefix:
    description: The prefix given to Locust's C(--csv).
    type: path
    required: true
  stages_file:
    description: The per-stage statistics written by the locustfile (C(--stages-file)).
    type: path
  start:
    description: Start of the scenario's window, epoch seconds.
    type: float
    required: true
  end:
    description: End of the scenario's window, epoch seconds.
    type: float
    required: true
  dest:
    description: Where to write the scenario's kpis.json.
    type: path
    required: true
  model:
    description: The model the scenario loaded (the C(model) label of Triton's metrics).
    type: str
    required: true
  batch_size:
    description: Inferences per request.
    type: int
    default: 1
  platform_target:
    description: The platform target, recorded in the document.
    type: str
    choices: [local, aws]
    default: local
  target_url:
    description: The inference server's URL, recorded in the document.
    type: str
  utilisation:
    description: C(cpu) reports Triton's nv_cpu_utilization (local); C(gpu) reports DCGM_FI_DEV_GPU_UTIL (aws).
    type: str
    choices: [cpu, gpu]
    default: cpu
  prometheus_url:
    description: Base URL of Prometheus. Empty means no Prometheus; the server side then comes from the scrapes.
    type: str
    default: ''
  prometheus_timeout:
    description: Timeout of each Prometheus query, seconds.
    type: float
    default: 5.0
  prometheus_lag_s:
    description: Seconds to wait after O(end) before querying, so that the window's last scrape has landed.
    type: float
    default: 2.0
  runtime_selector:
    description:
      - PromQL label matchers selecting tritonserver's scrape target for C(nv_cpu_utilization),
        for example C(instance="127.0.0.1:8002").
    type: str
    default: ''
  metrics_before:
    description: A file with the runtime's C(/metrics) text scraped just before the scenario (fallback source).
    type: path
  metrics_after:
    description: A file with the runtime's C(/metrics) text scraped just after the scenario (fallback source).
    type: path
  slo_targets:
    description:
      - Targets keyed C(p95_ms), C(error_rate_pct), C(min_throughput_rps); a missing key is not judged.
    type: dict
    default: {}
  slo_enabled:
    description: Whether this scenario is judged against the SLO targets (a sweep usually is not).
    type: bool
    default: true
  spike_min_failures_per_s:
    description: A second is part of an error spike when it has at least this many failures/s ...
    type: float
    default: 1.0
  spike_min_share_pct:
    description: ... and failures are at least this share of its requests, in %.
    type: float
    default: 5.0
  knee_min_gain:
    description: The sweep's knee is the last step after which throughput still rose by this fraction.
    type: float
    default: 0.1
  grafana_snapshots:
    description: Grafana snapshots taken of the scenario's window (aws), recorded as given (C(url), C(key)).
    type: list
    elements: dict
    default: []
  notes:
    description: Free-text notes recorded in the document (for example that local figures are CPU figures).
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    details: "Computes the document and compares it with O(dest), writing nothing."
  diff_mode:
    support: full
    details: "The text of O(dest) before and after."
  platform:
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
"""

EXAMPLES = r"""
- name: Extract the smoke scenario's KPIs.
  gpu_e2e.platform.loadtest_kpis:
    scenario: smoke
    csv_prefix: "{{ run_dir }}/loadtest/smoke/locust"
    stages_file: "{{ run_dir }}/loadtest/smoke/stages.json"
    start: "{{ loadtest__start }}"
    end: "{{ loadtest__end }}"
    dest: "{{ run_dir }}/loadtest/smoke/kpis.json"
    model: mobilenetv2
    prometheus_url: http://127.0.0.1:9090
    runtime_selector: instance="127.0.0.1:8002"
    slo_targets: {p95_ms: 250, error_rate_pct: 1, min_throughput_rps: 5}
  register: kpis
"""

RETURN = r"""
kpis:
  description: The document written to O(dest).
  returned: always
  type: dict
  sample:
    scenario: smoke
    client: {requests: 1200, failures: 0, error_rate_pct: 0.0, rps: 59.8, latency_ms: {p50: 14, p95: 31, p99: 45}}
    server: {source: "prometheus (http://127.0.0.1:9090)", queue_ms_avg: 0.05, compute_infer_ms_avg: 4.1}
    missing: {}
slo_passed:
  description: Whether every judged SLO passed (true when the scenario is not judged).
  returned: always
  type: bool
  sample: true
slo_violations:
  description: The SLOs that failed, with target and measured values.
  returned: always
  type: list
  elements: dict
  sample: [{scenario: smoke, slo: slo_p95_ms, kpi: P95 latency (ms), comparison: "<=", target: 0.001, measured: 31}]
error_spikes:
  description: Windows of the scenario with failures above the thresholds (epoch seconds).
  returned: always
  type: list
  elements: dict
  sample: [{start: 1767225600, end: 1767225612, peak_failures_per_s: 41.0}]
dest:
  description: The path written.
  returned: always
  type: str
  sample: /work/main/runs/gpu-e2e/20260101T000000Z/loadtest/smoke/kpis.json
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import combined
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import exit_result
from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_errors import LoadtestError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_kpis import build
from ansible_collections.gpu_e2e.platform.plugins.module_utils.loadtest_kpis import write_json


def main():
    module = AnsibleModule(
        argument_spec=dict(
            scenario=dict(type="str", required=True),
            shape=dict(type="str", choices=["steady", "spike", "sweep"], default="steady"),
            csv_prefix=dict(type="path", required=True),
            stages_file=dict(type="path"),
            start=dict(type="float", required=True),
            end=dict(type="float", required=True),
            dest=dict(type="path", required=True),
            model=dict(type="str", required=True),
            batch_size=dict(type="int", default=1),
            platform_target=dict(type="str", choices=["local", "aws"], default="local"),
            target_url=dict(type="str"),
            utilisation=dict(type="str", choices=["cpu", "gpu"], default="cpu"),
            prometheus_url=dict(type="str", default=""),
            prometheus_timeout=dict(type="float", default=5.0),
            prometheus_lag_s=dict(type="float", default=2.0),
            runtime_selector=dict(type="str", default=""),
            metrics_before=dict(type="path"),
            metrics_after=dict(type="path"),
            slo_targets=dict(type="dict", default={}),
            slo_enabled=dict(type="bool", default=True),
            spike_min_failures_per_s=dict(type="float", default=1.0),
            spike_min_share_pct=dict(type="float", default=5.0),
            knee_min_gain=dict(type="float", default=0.1),
            grafana_snapshots=dict(type="list", elements="dict", default=[]),
            notes=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    params = dict(module.params)
    targets = {}
    for key, value in (params["slo_targets"] or {}).items():
        if value is None or value == "":
            continue
        try:
            targets[key] = float(value)
        except (TypeError, ValueError):
            module.fail_json(msg=f"slo_targets.{key} must be a number, got {value!r}")
    params["slo_targets"] = targets
    try:
        doc = build(params)
        diffs = []
        changed = write_json(params["dest"], doc, check_mode=module.check_mode, diffs=diffs)
    except LoadtestError as exc:
        module.fail_json(msg=str(exc))
    exit_result(
        module,
        changed,
        diff=combined(diffs),
        kpis=doc,
        slo_passed=doc["slo"]["passed"],
        slo_violations=doc["slo"]["violations"],
        error_spikes=doc["error_spikes"],
        dest=params["dest"],
    )


if __name__ == "__main__":
    main()
