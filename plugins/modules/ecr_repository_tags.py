#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ecr_repository_tags
short_description: Set the tags of an existing ECR repository
version_added: 0.1.0
description:
  - Sets O(tags) on an ECR repository, idempotently; with O(purge_tags), other tags are removed.
  - C(community.aws.ecs_ecr) creates the repository but has no tags option; this module tags it right after,
    so that the stack's repository carries C(stack=<name>) like every other resource of the stack.
author:
  - gpu_e2e platform team (@gpu-e2e)
options:
  name:
    description: Name of the repository.
    type: str
    required: true
  tags:
    description: Tags to set.
    type: dict
    required: true
  purge_tags:
    description: Remove tags not in O(tags).
    type: bool
    default: false
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
    details: "The repository's tags before and after."
  platform:
    platforms: posix
notes:
  - "IAM actions: ecr:DescribeRepositories, ecr:ListTagsForResource, ecr:TagResource, ecr:UntagResource."
"""

EXAMPLES = r"""
- name: Tag the stack's repository.
  gpu_e2e.platform.ecr_repository_tags:
    name: gpu-e2e/triton
    tags:
      stack: gpu-e2e
      managed-by: ansible
"""

RETURN = r"""
tags:
  description: The repository's tags after the change.
  returned: always
  type: dict
  sample: {"stack": "gpu-e2e"}
repository_arn:
  description: ARN of the repository (empty in check mode when it does not exist yet).
  returned: always
  type: str
  sample: arn:aws:ecr:us-east-1:123456789012:repository/gpu-e2e/triton
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.gpu_e2e.platform.plugins.module_utils.ecr_tags import EcrTagsError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import exit_result
from ansible_collections.gpu_e2e.platform.plugins.module_utils.ecr_tags import ensure_tags


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            tags=dict(type="dict", required=True),
            purge_tags=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    client = module.client("ecr", retry_decorator=AWSRetry.jittered_backoff())
    try:
        result = ensure_tags(client, module.params, module.check_mode)
    except EcrTagsError as exc:
        module.fail_json_aws_error(exc)
    exit_result(module, **result)


if __name__ == "__main__":
    main()
