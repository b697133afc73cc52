# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""run_cost_estimate: the estimated AWS cost of a run (see module_utils/run_estimate.py)."""

from __future__ import annotations

from ansible_collections.gpu_e2e.platform.plugins.module_utils.run_estimate import estimate


def run_cost_estimate(load_seconds, nodes, instance_types, capacity_type="SPOT", spot_max_price=None,
                      control_plane_usd_per_hour=None, system_nodes=0, system_instance_types=()):
    """`{{ seconds | gpu_e2e.platform.run_cost_estimate(nodes, ['g4dn.xlarge', 'g5.xlarge'], 'SPOT', 0.45, 0.10,
    2, ['t3.medium']) }}`."""
    return estimate(load_seconds, nodes, instance_types, capacity_type, spot_max_price, control_plane_usd_per_hour,
                    system_nodes=system_nodes, system_instance_types=system_instance_types)


class FilterModule:
    """Cost estimate filters."""

    def filters(self):
        return {"run_cost_estimate": run_cost_estimate}
