# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: dashboards
short_description: Render the collection's Grafana dashboards (GPU, Inference, Cluster) as JSON and ConfigMaps
version_added: 1.0.0
description:
  - Builds the three dashboards of the platform from one source (plugins/module_utils/dashboards.py) with
    grafana-foundation-sdk and writes them as C(<dest>/<uid>.json).
  - Optionally also writes them as Kubernetes ConfigMaps (one per dashboard, multi-document YAML) carrying the
    label the Grafana dashboard sidecar of kube-prometheus-stack watches (C(grafana_dashboard=1) by default).
  - Idempotent by content; files are only rewritten when their content differs.
  - The dashboards read only metric names that Triton 2.51 (local) and the EKS image, the DCGM exporter
    and kube-state-metrics really emit.
author:
  - gpu_e2e.platform contributors (@gpu-e2e)
requirements:
  - grafana-foundation-sdk
  - PyYAML (for O(configmap_file))
options:
  dest:
    description: Directory that receives one JSON file per dashboard. Created if missing.
    type: path
    required: true
  configmap_file:
    description: Also write the dashboards as ConfigMaps to this file (multi-document YAML).
    type: path
  configmap_namespace:
    description: Namespace of the ConfigMaps.
    type: str
    default: monitoring
  configmap_labels:
    description: Labels of the ConfigMaps; the Grafana sidecar loads ConfigMaps with its label.
    type: dict
    default: {grafana_dashboard: "1"}
  annotation_tags:
    description:
      - Grafana annotations carrying any of these tags are shown on every dashboard (the run events posted by
        M(gpu_e2e.platform.run_events)). Empty shows only the built-in dashboard annotations.
    type: list
    elements: str
    default: []
  title_prefix:
    description: Prefix of the dashboard titles (C(<prefix> / GPU)).
    type: str
    default: GPU E2E
  refresh:
    description: Auto-refresh interval of the dashboards.
    type: str
    default: 10s
attributes:
  check_mode:
    support: full
    details: "Renders the dashboards and compares them with the files, writing nothing."
  diff_mode:
    support: full
    details: "The text of each dashboard file (and the ConfigMaps file) that changes."
  platform:
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
"""

EXAMPLES = r"""
- name: Render the dashboards into the run directory, and as ConfigMaps for the Grafana sidecar.
  gpu_e2e.platform.dashboards:
    dest: "{{ run_dir }}/dashboards"
    configmap_file: "{{ run_dir }}/k8s/observability-dashboards.yaml"
    configmap_namespace: monitoring
    annotation_tags: ["{{ stack_name }}", loadtest]
"""

RETURN = r"""
dashboards:
  description: One entry per dashboard.
  returned: always
  type: list
  elements: dict
  sample:
    - uid: gpu-e2e-inference
      title: GPU E2E / Inference
      path: /work/main/runs/gpu-e2e/20260101T000000Z/dashboards/gpu-e2e-inference.json
      panels: [Request and inference rate, Success and failure]
files:
  description: The JSON files written (or that would be written).
  returned: always
  type: list
  elements: str
  sample: [/work/main/runs/gpu-e2e/20260101T000000Z/dashboards/gpu-e2e-gpu.json]
configmap_file:
  description: The ConfigMaps file, when requested.
  returned: when O(configmap_file) is set
  type: str
  sample: /work/main/runs/gpu-e2e/20260101T000000Z/k8s/observability-dashboards.yaml
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.gpu_e2e.platform.plugins.module_utils.dashboards import (
    GRAFANA_SDK_IMPORT_ERROR,
    HAS_GRAFANA_SDK,
    DashboardError,
    write_dashboards,
)
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import exit_result


def main():
    module = AnsibleModule(
        argument_spec={
            "dest": {"type": "path", "required": True},
            "configmap_file": {"type": "path"},
            "configmap_namespace": {"type": "str", "default": "monitoring"},
            "configmap_labels": {"type": "dict", "default": {"grafana_dashboard": "1"}},
            "annotation_tags": {"type": "list", "elements": "str", "default": []},
            "title_prefix": {"type": "str", "default": "GPU E2E"},
            "refresh": {"type": "str", "default": "10s"},
        },
        supports_check_mode=True,
    )
    if not HAS_GRAFANA_SDK:
        module.fail_json(msg=missing_required_lib("grafana-foundation-sdk"), exception=str(GRAFANA_SDK_IMPORT_ERROR))
    params = module.params
    try:
        result = write_dashboards(
            params["dest"],
            options={
                "title_prefix": params["title_prefix"],
                "refresh": params["refresh"],
                "annotation_tags": params["annotation_tags"],
            },
            configmap_file=params["configmap_file"],
            namespace=params["configmap_namespace"],
            labels={str(k): str(v) for k, v in params["configmap_labels"].items()},
            check_mode=module.check_mode,
        )
    except DashboardError as exc:
        module.fail_json(msg=str(exc))
    if params["configmap_file"]:
        result["configmap_file"] = params["configmap_file"]
    exit_result(module, **result)


if __name__ == "__main__":
    main()
