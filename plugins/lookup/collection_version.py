# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: collection_version
author: gpu_e2e platform team (@gpu-e2e)
version_added: 0.1.0
short_description: Version of an installed Ansible collection
description:
  - Returns the version recorded in the MANIFEST.json (or galaxy.yml) of each named collection, or an empty
    string when the collection is not installed.
options:
  _terms:
    description: Collection names, for example C(amazon.aws).
    required: true
"""

EXAMPLES = r"""
- name: Require amazon.aws 10 or later.
  ansible.builtin.assert:
    that: lookup('gpu_e2e.platform.collection_version', 'amazon.aws') is version('10.0.0', '>=')
"""

RETURN = r"""
_raw:
  description: One version string per term, empty when the collection is not installed.
  type: list
  elements: str
"""

import importlib.util
import json
import os

from ansible.plugins.lookup import LookupBase

try:
    import yaml
except ImportError:
    yaml = None


def collection_version(name):
    try:
        spec = importlib.util.find_spec(f"ansible_collections.{name}")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return ""
    for location in spec.submodule_search_locations:
        manifest = os.path.join(location, "MANIFEST.json")
        if os.path.exists(manifest):
            with open(manifest, encoding="utf-8") as handle:
                return json.load(handle)["collection_info"]["version"]
        galaxy = os.path.join(location, "galaxy.yml")
        if yaml is not None and os.path.exists(galaxy):
            with open(galaxy, encoding="utf-8") as handle:
                return str(yaml.safe_load(handle)["version"])
    return ""


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        return [collection_version(term) for term in terms]
