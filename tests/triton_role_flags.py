"""The triton role's one tritonserver flag list, rendered the way Ansible renders it.

roles/triton/vars/main.yml owns the flags (`triton__server_args`); the local process and the
chart's container both take them. The tests and the benchmark start tritonserver with the same
list, read from that file, so they cannot drift from what the role runs.
"""

from __future__ import annotations

import glob
import os

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
ROLE = os.path.join(ROOT, "roles", "triton")


def _load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def profile_vars(profile):
    """The shared names and the triton role's defaults under the profile's inventory group_vars (the inventory
    wins, as in a run)."""
    variables = dict(_load(os.path.join(ROOT, "roles", "platform_defaults", "defaults", "main.yml")))
    variables.update(_load(os.path.join(ROLE, "defaults", "main.yml")))
    for path in sorted(glob.glob(os.path.join(ROOT, "inventories", profile, "group_vars", "all", "*.yml"))):
        variables.update(_load(path))
    return variables


def server_args(profile, **overrides):
    """`triton__server_args` for a profile, with overrides (e.g. free ports) applied as extra vars would be."""
    expression = _load(os.path.join(ROLE, "vars", "main.yml"))["triton__server_args"]
    variables = {**profile_vars(profile), **overrides}
    return list(Templar(loader=DataLoader(), variables=variables).template(trust_as_template(expression)))
