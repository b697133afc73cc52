# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: aws_regions
author: gpu_e2e platform team (@gpu-e2e)
version_added: 0.1.0
short_description: List the real AWS region names known to botocore, offline
description:
  - Returns the region names of a partition from botocore's bundled endpoint data, without any API call.
  - Neither Ansible nor botocore validates a region name before a call is made, so preflight uses this list.
options:
  _terms:
    description: The service whose regions are listed.
    required: false
    default: [ec2]
  partition:
    description: The AWS partition.
    type: str
    default: aws
requirements:
  - boto3
"""

EXAMPLES = r"""
- name: Fail early on a misspelt region.
  ansible.builtin.assert:
    that: aws_region in lookup('gpu_e2e.platform.aws_regions', wantlist=True)
"""

RETURN = r"""
_raw:
  description: Region names.
  type: list
  elements: str
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

try:
    import boto3
except ImportError:
    boto3 = None


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        if boto3 is None:
            raise AnsibleLookupError("the aws_regions lookup needs boto3")
        self.set_options(var_options=variables, direct=kwargs)
        session = boto3.session.Session()
        services = terms or ["ec2"]
        regions = set()
        for service in services:
            regions.update(session.get_available_regions(service, partition_name=self.get_option("partition")))
        return sorted(regions)
