# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: k8s_validate_info
short_description: Validate rendered Kubernetes manifests offline and strictly
version_added: 1.0.0
description:
  - Validates every YAML document of the given files (or C(*.yaml)/C(*.yml) files of the given directories) against
    the OpenAPI schema of a Kubernetes version with kubernetes-validate, in strict mode by default (unknown fields
    are errors). No cluster is needed.
  - Kinds without a bundled schema (custom resources such as ServiceMonitor) are reported as C(skipped).
  - Read-only; never reports changed. Fails when any document is invalid unless O(fail_on_invalid=false).
author:
  - gpu_e2e.platform contributors (@gpu-e2e)
requirements:
  - kubernetes-validate
  - PyYAML
options:
  src:
    description: Files or directories to validate.
    type: list
    elements: path
    required: true
  kubernetes_version:
    description: Kubernetes version whose schemas are used, C(1.32) or C(1.32.0).
    type: str
    default: "1.32"
  strict:
    description: Reject fields that the schema does not define.
    type: bool
    default: true
  fail_on_invalid:
    description: Fail the task when any document is invalid.
    type: bool
    default: true
notes:
  - Supports check mode (it changes nothing).
"""

EXAMPLES = r"""
- name: Validate the rendered observability manifests for the cluster's Kubernetes version.
  gpu_e2e.platform.k8s_validate_info:
    src: ["{{ run_dir }}/k8s/observability-dashboards.yaml"]
    kubernetes_version: "{{ eks_cluster_version }}"
"""

RETURN = r"""
kubernetes_version:
  description: The version validated against.
  returned: always
  type: str
  sample: 1.32.0
files:
  description: The manifest files read.
  returned: always
  type: list
  elements: str
  sample: [/tmp/run/k8s/observability-dashboards.yaml]
documents:
  description: One entry per YAML document.
  returned: always
  type: list
  elements: dict
  sample:
    - {file: /tmp/run/k8s/x.yaml, index: 0, kind: ConfigMap, name: dashboard-gpu-e2e-gpu, status: valid, error: null}
counts:
  description: Number of documents per status (valid, invalid, skipped).
  returned: always
  type: dict
  sample: {valid: 3, invalid: 0, skipped: 0}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.gpu_e2e.platform.plugins.module_utils.k8s_validate import (
    HAS_KUBERNETES_VALIDATE,
    KUBERNETES_VALIDATE_IMPORT_ERROR,
    ManifestValidationError,
    validate_sources,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "src": {"type": "list", "elements": "path", "required": True},
            "kubernetes_version": {"type": "str", "default": "1.32"},
            "strict": {"type": "bool", "default": True},
            "fail_on_invalid": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    if not HAS_KUBERNETES_VALIDATE:
        module.fail_json(
            msg=missing_required_lib("kubernetes-validate"), exception=str(KUBERNETES_VALIDATE_IMPORT_ERROR)
        )
    try:
        result = validate_sources(module.params["src"], module.params["kubernetes_version"], module.params["strict"])
    except ManifestValidationError as exc:
        module.fail_json(msg=str(exc))
    invalid = [d for d in result["documents"] if d["status"] == "invalid"]
    if invalid and module.params["fail_on_invalid"]:
        lines = [f"{d['file']}#{d['index']} {d['kind']}/{d['name']}: {d['error']}" for d in invalid]
        module.fail_json(
            msg=f"{len(invalid)} manifest(s) invalid for Kubernetes {result['kubernetes_version']}: "
            + "; ".join(lines),
            **result,
        )
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
