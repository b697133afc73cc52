# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The estimated AWS cost of a run, printed by preflight when a *_i_know override lets a heavy setting through.

An upper estimate from the price table the cost audit uses (module_utils/aws_prices.py): the GPU nodes at the
dearest of their instance types (a diversified spot node group may get any of them; each at the lower of its spot
cap and its on-demand price, or on-demand when the capacity type is ON_DEMAND), the system nodes on demand, the
EKS control plane and one NAT gateway, over the planned load plus a fixed provisioning and teardown time.
"""

from __future__ import annotations

from ansible_collections.gpu_e2e.platform.plugins.module_utils import aws_prices

# Creating and deleting the VPC, the cluster and the node group, and serving before the load starts.
OVERHEAD_HOURS = 1.0


def _types(instance_types):
    return [instance_types] if isinstance(instance_types, str) else list(instance_types)


def gpu_hourly(instance_types, capacity_type="SPOT", spot_max_price=None, table=None):
    """(type, $/h) of the dearest GPU type the node group may launch, at what it can cost."""
    table = table or aws_prices.default_table()
    priced = []
    for instance_type in _types(instance_types):
        on_demand = aws_prices.on_demand_hourly(instance_type, table) or 0.0
        price = on_demand
        if str(capacity_type).upper() == "SPOT" and spot_max_price:
            price = min(on_demand, float(spot_max_price)) if on_demand else float(spot_max_price)
        priced.append((price, instance_type))
    price, instance_type = max(priced)
    return instance_type, price


def estimate(load_seconds, nodes, instance_types, capacity_type="SPOT", spot_max_price=None,
             control_plane_usd_per_hour=None, table=None, system_nodes=0, system_instance_types=()):
    """{hours, usd, gpu_usd_per_hour, system_usd_per_hour, text}: the estimated cost of one run."""
    table = table or aws_prices.default_table()
    hours = float(load_seconds) / 3600.0 + OVERHEAD_HOURS
    gpu_type, gpu = gpu_hourly(instance_types, capacity_type, spot_max_price, table)
    system_types = _types(system_instance_types)
    system = (max(aws_prices.on_demand_hourly(t, table) or 0.0 for t in system_types)
              if system_types and int(system_nodes) else 0.0)
    control_plane = (float(control_plane_usd_per_hour) if control_plane_usd_per_hour is not None
                     else table["hourly"]["eks_cluster"])
    nat = table["hourly"]["nat_gateway"]
    usd = hours * (int(nodes) * gpu + int(system_nodes) * system + control_plane + nat)
    system_text = (f", {int(system_nodes)} system node(s) at ${system:.4f}/h" if system else "")
    text = (f"about ${usd:,.2f} on aws for about {hours:,.1f} h ({int(nodes)} x {gpu_type} at up to "
            f"${gpu:.3f}/h{system_text}, EKS control plane ${control_plane:.2f}/h, NAT gateway ${nat:.3f}/h)")
    return {"hours": round(hours, 3), "usd": round(usd, 2), "gpu_usd_per_hour": gpu,
            "system_usd_per_hour": system, "text": text}
