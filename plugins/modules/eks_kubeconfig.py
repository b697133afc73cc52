#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_kubeconfig
short_description: Write a kubeconfig for an EKS cluster, with tokens from boto3 (no aws CLI)
version_added: 0.1.0
description:
  - Reads the endpoint and certificate authority of an ACTIVE EKS cluster and writes a kubeconfig for it.
  - Authentication uses EKS bearer tokens made the way aws-iam-authenticator makes them, a presigned STS
    C(GetCallerIdentity) request with the signed header C(x-k8s-aws-id), so neither the aws CLI nor
    aws-iam-authenticator is needed.
  - With O(auth=exec) (default) the kubeconfig runs O(python) with a short boto3 script to get a fresh token
    whenever the client needs one; the file is deterministic and a re-run reports no change.
  - With O(auth=token) a token is embedded. EKS accepts it for 15 minutes; the file changes on every run.
author:
  - gpu_e2e platform team (@gpu-e2e)
options:
  cluster_name:
    description: Name of the EKS cluster.
    type: str
    required: true
  path:
    description: Where to write the kubeconfig. Parent directories are created.
    type: path
    required: true
  auth:
    description: How the kubeconfig authenticates, see the description.
    type: str
    choices: [exec, token]
    default: exec
  python:
    description:
      - Python interpreter with boto3 that the kubeconfig runs with O(auth=exec).
      - Defaults to the interpreter that runs this module.
    type: path
  exec_profile:
    description:
      - AWS profile the token script of O(auth=exec) uses (set as C(AWS_PROFILE) in the kubeconfig).
      - Omit to use the environment of the Kubernetes client (C(AWS_PROFILE), C(AWS_ACCESS_KEY_ID), SSO...).
    type: str
  context_name:
    description: Name of the cluster, user and context entries. Defaults to the cluster ARN, like the aws CLI.
    type: str
  mode:
    description: File mode of the kubeconfig, in octal.
    type: str
    default: "0600"
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
    details: "The kubeconfig's text before and after, with its file mode in the headers; an embedded token is shown as
      C(k8s-aws-v1.<hidden>)."
  platform:
    platforms: posix
notes:
  - "IAM actions: eks:DescribeCluster. Using the token needs the caller's identity to be allowed in the cluster
    (the cluster creator is, by default)."
"""

EXAMPLES = r"""
- name: Write the kubeconfig of the cluster into the run directory.
  gpu_e2e.platform.eks_kubeconfig:
    cluster_name: gpu-e2e
    path: "{{ run_dir }}/kubeconfig"

- name: Write a kubeconfig with an embedded token (valid 15 minutes).
  gpu_e2e.platform.eks_kubeconfig:
    cluster_name: gpu-e2e
    path: /tmp/kubeconfig-short-lived
    auth: token
"""

RETURN = r"""
path:
  description: The kubeconfig written.
  returned: always
  type: str
  sample: /work/runs/gpu-e2e/20261101T120000Z/kubeconfig
server:
  description: The cluster's API endpoint.
  returned: always
  type: str
  sample: https://EXAMPLE.gr7.us-east-1.eks.amazonaws.com
context:
  description: The current context of the kubeconfig.
  returned: always
  type: str
  sample: arn:aws:eks:us-east-1:123456789012:cluster/gpu-e2e
auth:
  description: The authentication method written.
  returned: always
  type: str
  sample: exec
expiration:
  description: When the embedded token expires (RFC 3339, UTC).
  returned: when O(auth=token)
  type: str
  sample: "2026-11-01T12:14:00Z"
"""

import sys

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import exit_result
from ansible_collections.gpu_e2e.platform.plugins.module_utils.eks_kubeconfig import HAS_YAML
from ansible_collections.gpu_e2e.platform.plugins.module_utils.eks_kubeconfig import EksKubeconfigError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.eks_kubeconfig import ensure


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            cluster_name=dict(type="str", required=True),
            path=dict(type="path", required=True),
            auth=dict(type="str", choices=["exec", "token"], default="exec"),
            python=dict(type="path"),
            exec_profile=dict(type="str"),
            context_name=dict(type="str"),
            mode=dict(type="str", default="0600"),
        ),
        supports_check_mode=True,
    )
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"))
    try:
        int(module.params["mode"], 8)
    except ValueError:
        module.fail_json(msg=f"mode must be an octal string such as 0600, got {module.params['mode']!r}")

    def client(service):
        return module.client(service, retry_decorator=AWSRetry.jittered_backoff())

    params = dict(module.params, region=module.region)
    try:
        result = ensure(client, params, module.check_mode, sys.executable)
    except EksKubeconfigError as exc:
        module.fail_json_aws_error(exc)
    exit_result(module, **result)


if __name__ == "__main__":
    main()
