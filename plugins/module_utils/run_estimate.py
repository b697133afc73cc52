# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The estimated AWS cost of a run, printed by preflight when a *_i_know override lets a heavy setting through.

An upper estimate from the price table the cost audit uses (module_utils/aws_prices.py):
GPU nodes at the spot cap or on-demand price (whichever is lower; on-demand
when the capacity type is ON_DEMAND), the EKS control plane and one NAT
gateway, over the planned load plus a fixed provisioning and teardown time.
"""

from __future__ import annotations

from ansible_collections.gpu_e2e.platform.plugins.module_utils import aws_prices

# Creating and deleting the VPC, the cluster and the node group, and serving before the load starts.
OVERHEAD_HOURS = 1.0


def estimate(load_seconds, nodes, instance_type, capacity_type="SPOT", spot_max_price=None,
             control_plane_usd_per_hour=None, table=None):
    """{hours, usd, gpu_usd_per_hour, text}: the estimated cost of one run."""
    table = table or aws_prices.default_table()
    hours = float(load_seconds) / 3600.0 + OVERHEAD_HOURS
    on_demand = aws_prices.on_demand_hourly(instance_type, table) or 0.0
    gpu = on_demand
    if str(capacity_type).upper() == "SPOT" and spot_max_price:
        gpu = min(on_demand, float(spot_max_price)) if on_demand else float(spot_max_price)
    control_plane = (float(control_plane_usd_per_hour) if control_plane_usd_per_hour is not None
                     else table["hourly"]["eks_cluster"])
    nat = table["hourly"]["nat_gateway"]
    usd = hours * (int(nodes) * gpu + control_plane + nat)
    text = (f"about ${usd:,.2f} on aws for about {hours:,.1f} h ({int(nodes)} x {instance_type} at up to "
            f"${gpu:.3f}/h, EKS control plane ${control_plane:.2f}/h, NAT gateway ${nat:.3f}/h)")
    return {"hours": round(hours, 3), "usd": round(usd, 2), "gpu_usd_per_hour": gpu, "text": text}
