#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: iam_oidc_provider
short_description: Manage an IAM OpenID Connect identity provider (for EKS IRSA)
version_added: 0.1.0
description:
  - Creates, updates or deletes the IAM OIDC identity provider of an issuer URL, typically the OIDC issuer of an
    EKS cluster, so that IAM roles can trust the cluster's service accounts (IRSA).
  - The provider is found by its URL (IAM names it by the URL without the scheme), so a re-run changes nothing.
  - Client ids (audiences) are converged exactly to O(client_ids).
  - Thumbprints are managed only when O(thumbprints) is given. Without it, the provider is created without a
    thumbprint list and IAM obtains the thumbprint of the issuer's top intermediate CA itself (AWS behaviour since
    July 2023; for EKS issuers IAM relies on its own library of trusted root CAs), and existing thumbprints are left
    alone.
author:
  - gpu_e2e platform team (@gpu-e2e)
options:
  url:
    description:
      - The issuer URL, for example the C(identity.oidc.issuer) of an EKS cluster
        (C(https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE)).
      - Must start with C(https://); a trailing slash is ignored.
    type: str
    required: true
  client_ids:
    description: Audiences allowed to use the provider. IRSA uses C(sts.amazonaws.com).
    type: list
    elements: str
    default: [sts.amazonaws.com]
  thumbprints:
    description:
      - SHA-1 thumbprints (40 hexadecimal characters) of the issuer's certificate authority, at most 5.
      - Omit to let IAM obtain the thumbprint itself and to leave existing thumbprints unchanged.
    type: list
    elements: str
  tags:
    description: Tags of the provider. Omit to leave the tags unchanged.
    type: dict
  purge_tags:
    description: Remove tags that are not in O(tags) (tags starting with C(aws:) are never removed).
    type: bool
    default: true
  state:
    description: Whether the provider should exist.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: "URL, client IDs, thumbprints and tags before and after."
  platform:
    platforms: posix
notes:
  - "IAM actions: iam:ListOpenIDConnectProviders, iam:GetOpenIDConnectProvider, iam:CreateOpenIDConnectProvider,
    iam:DeleteOpenIDConnectProvider, iam:AddClientIDToOpenIDConnectProvider,
    iam:RemoveClientIDFromOpenIDConnectProvider, iam:UpdateOpenIDConnectProviderThumbprint,
    iam:TagOpenIDConnectProvider, iam:UntagOpenIDConnectProvider, iam:ListOpenIDConnectProviderTags."
"""

EXAMPLES = r"""
- name: Ensure the IAM OIDC provider of the EKS cluster exists (IRSA).
  gpu_e2e.platform.iam_oidc_provider:
    url: "{{ cluster.identity.oidc.issuer }}"
    client_ids: [sts.amazonaws.com]
    tags:
      stack: gpu-e2e
  register: oidc

- name: Pin the thumbprint explicitly.
  gpu_e2e.platform.iam_oidc_provider:
    url: https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE
    thumbprints: [9e99a48a9960b14926bb7f3b02e22da2b0ab7280]

- name: Delete the provider.
  gpu_e2e.platform.iam_oidc_provider:
    url: https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE
    state: absent
"""

RETURN = r"""
provider:
  description: The provider after the task (what it would be, in check mode; the ARN is empty before creation).
    Empty when O(state=absent).
  returned: always
  type: dict
  contains:
    arn:
      description: ARN of the provider.
      type: str
      sample: arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE
    url:
      description: The issuer URL.
      type: str
      sample: https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE
    issuer_host_path:
      description: The issuer without C(https://), the prefix of the C(:sub) and C(:aud) condition keys of IRSA
        trust policies.
      type: str
      sample: oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE
    client_ids:
      description: The audiences of the provider.
      type: list
      elements: str
      sample: [sts.amazonaws.com]
    thumbprints:
      description: The thumbprints of the provider.
      type: list
      elements: str
      sample: [9e99a48a9960b14926bb7f3b02e22da2b0ab7280]
    tags:
      description: The tags of the provider.
      type: dict
      sample: {"stack": "gpu-e2e"}
actions:
  description: What the task did (or would do in check mode), one sentence per API change.
  returned: always
  type: list
  elements: str
  sample: ["create OIDC provider oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE for sts.amazonaws.com"]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import exit_result
from ansible_collections.gpu_e2e.platform.plugins.module_utils.iam_oidc_provider import IamOidcProviderError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.iam_oidc_provider import ensure


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            client_ids=dict(type="list", elements="str", default=["sts.amazonaws.com"]),
            thumbprints=dict(type="list", elements="str"),
            tags=dict(type="dict"),
            purge_tags=dict(type="bool", default=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    client = module.client("iam", retry_decorator=AWSRetry.jittered_backoff())
    try:
        result = ensure(client, module.params, module.check_mode)
    except IamOidcProviderError as exc:
        module.fail_json_aws_error(exc)
    exit_result(module, **result)


if __name__ == "__main__":
    main()
