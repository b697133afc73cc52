# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The records a teardown deletion task acts on, from the one table of deletion targets (stack_inventory)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.gpu_e2e.platform.plugins.module_utils import stack_inventory


def teardown_targets(records, target):
    """``scan.leftovers | gpu_e2e.platform.teardown_targets('nat-gateway')``: the records that task deletes."""
    try:
        return stack_inventory.targets(records or [], target)
    except KeyError as exc:
        raise AnsibleFilterError(str(exc.args[0])) from exc


class FilterModule:
    """Teardown filters."""

    def filters(self):
        return {"teardown_targets": teardown_targets}
