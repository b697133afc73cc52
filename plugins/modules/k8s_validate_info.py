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
  - Every document is checked by the first rule that applies. A kind that kubernetes-validate has a schema for is
    validated against it (strictly by default). Any other kind (a custom resource such as ServiceMonitor) is
    validated against its JSON schema in O(crd_schemas). A kind listed in O(unchecked_kinds) is reported as
    C(skipped) with its reason. Anything else is C(invalid) (no schema), so no kind passes unchecked silently.
  - A C(List) is C(invalid); render its items as separate documents.
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
  crd_schemas:
    description:
      - Directory of JSON schemas (draft 7) of custom resource kinds, one file per kind named
        C(<group>_<version>_<Kind>.json), for example C(monitoring.coreos.com_v1_ServiceMonitor.json).
      - The schema decides its own strictness; give it C(additionalProperties) C(false) to refuse unknown fields.
    type: path
  unchecked_kinds:
    description:
      - Custom resource kinds accepted without any schema, as a mapping of C(<apiVersion>/<Kind>) to the reason
        (a non-empty string), for example C(monitoring.coreos.com/v1/PodMonitor).
      - They are reported as C(skipped) with the reason, never as C(valid).
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    details: "Read-only; runs in check mode as usual."
  diff_mode:
    support: none
  platform:
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
"""

EXAMPLES = r"""
- name: Validate the rendered observability manifests for the cluster's Kubernetes version.
  gpu_e2e.platform.k8s_validate_info:
    src: ["{{ run_dir }}/k8s/observability-dashboards.yaml"]
    kubernetes_version: "{{ eks_cluster_version }}"

- name: Validate a chart's render with the CRD schemas of its custom resources.
  gpu_e2e.platform.k8s_validate_info:
    src: ["{{ run_dir }}/k8s/triton.yaml"]
    kubernetes_version: "{{ eks_cluster_version }}"
    crd_schemas: "{{ role_path }}/files/schemas"
    unchecked_kinds:
      monitoring.coreos.com/v1/PodMonitor: no schema of this CRD is bundled; the operator validates it on apply
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
    - {file: /tmp/run/k8s/x.yaml, index: 1, kind: Widget, name: w, status: invalid, error: "no schema for ..."}
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
    invalid_message,
    validate_sources,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "src": {"type": "list", "elements": "path", "required": True},
            "kubernetes_version": {"type": "str", "default": "1.32"},
            "strict": {"type": "bool", "default": True},
            "fail_on_invalid": {"type": "bool", "default": True},
            "crd_schemas": {"type": "path"},
            "unchecked_kinds": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    if not HAS_KUBERNETES_VALIDATE:
        module.fail_json(
            msg=missing_required_lib("kubernetes-validate"), exception=str(KUBERNETES_VALIDATE_IMPORT_ERROR)
        )
    try:
        result = validate_sources(
            module.params["src"],
            module.params["kubernetes_version"],
            module.params["strict"],
            crd_schemas=module.params["crd_schemas"],
            unchecked_kinds=module.params["unchecked_kinds"],
        )
    except ManifestValidationError as exc:
        module.fail_json(msg=str(exc))
    message = invalid_message(result)
    if message and module.params["fail_on_invalid"]:
        module.fail_json(msg=message, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
