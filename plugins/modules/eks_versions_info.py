#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_versions_info
short_description: EKS Kubernetes version calendar from DescribeClusterVersions (read-only)
version_added: 0.1.0
description:
  - Reads every EKS Kubernetes version with its end of standard and extended support from the EKS
    C(DescribeClusterVersions) API, and judges O(version) by it on today's date (UTC).
  - Where the API does not answer (an error, missing permission, an emulator that does not implement it), the
    collection's own calendar (C(plugins/module_utils/eks_versions.py)) answers instead, and RV(reason) says why.
    A version the API does not list is also looked up in that table.
  - No upstream module reads the version calendar. Read-only; never reports changed.
author:
  - gpu_e2e platform team (@gpu-e2e)
options:
  version:
    description: A Kubernetes minor version such as C("1.35") to judge; omitted, only the calendar is returned.
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: "Read-only; runs in check mode as usual."
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Read the EKS version calendar and judge the cluster version.
  gpu_e2e.platform.eks_versions_info:
    version: "1.35"
  register: eks_versions

- name: Stop unless the version is in standard support.
  ansible.builtin.assert:
    that: eks_versions.support.status == 'standard'
    fail_msg: "{{ eks_versions.support.message }} (calendar from {{ eks_versions.source }})"
"""

RETURN = r"""
source:
  description: C(api) when the calendar came from DescribeClusterVersions, C(table) when it is the collection's own.
  returned: always
  type: str
  sample: api
reason:
  description: Why the table answers instead of the API; empty when the API answered.
  returned: always
  type: str
  sample: "DescribeClusterVersions did not answer (404: Not yet implemented)"
calendar:
  description: Each version's end of standard support and end of extended support (ISO dates).
  returned: always
  type: dict
  sample: {"1.35": ["2027-03-27", "2028-03-27"]}
judged_on:
  description: The date the version was judged on (UTC).
  returned: always
  type: str
  sample: "2026-12-02"
newest_standard:
  description: The newest version in standard support on that date, or null.
  returned: always
  type: str
  sample: "1.35"
support:
  description: The support status of O(version) (C(standard), C(extended), C(ended) or C(unknown)), its dates and a
    sentence.
  returned: when O(version) is given
  type: dict
  sample: {"version": "1.35", "status": "standard", "standard_end": "2027-03-27", "extended_end": "2028-03-27",
           "message": "EKS 1.35 is in standard support until 2027-03-27"}
"""

import datetime

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.gpu_e2e.platform.plugins.module_utils.eks_versions import report

try:
    import botocore
except ImportError:
    botocore = None  # AnsibleAWSModule reports the missing library


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(version=dict(type="str")),
        supports_check_mode=True,
    )
    eks = module.client("eks", retry_decorator=AWSRetry.jittered_backoff())
    errors = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)
    result = report(eks, errors, module.params["version"], datetime.datetime.now(datetime.timezone.utc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
