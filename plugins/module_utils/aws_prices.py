# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documented fallback price table (USD, us-east-1 public list prices, November 2026).

Used where a live price is unavailable: the leftover scanner estimates what a
forgotten resource costs per day, and the Cost Explorer audit falls back to it
when the Pricing API does not answer (the local emulator answers 500). These
are estimates for decisions ("is this worth deleting now?"), not invoices:
data transfer, NAT data processing, requests and taxes are not included.
"""

from __future__ import annotations

HOURS_PER_DAY = 24.0
DAYS_PER_MONTH = 30.0

# Hourly prices of things billed while they exist.
HOURLY = {
    "nat_gateway": 0.045,  # per NAT gateway hour (plus $0.045/GB processed, not included)
    "public_ipv4": 0.005,  # per public IPv4 address hour (Elastic IPs, attached or not)
    "eks_cluster": 0.10,  # EKS control plane, standard support
    "eks_cluster_extended_support": 0.60,  # EKS control plane on extended support ($0.10 + $0.50)
    "alb": 0.0225,  # Application Load Balancer hour (plus LCUs, not included)
    "nlb": 0.0225,  # Network Load Balancer hour (plus NLCUs, not included)
    "clb": 0.025,  # Classic Load Balancer hour
}

# Storage prices per GB-month.
GB_MONTH = {
    "ebs_gp3": 0.08,
    "ebs_gp2": 0.10,
    "ebs_io1": 0.125,
    "ebs_io2": 0.125,
    "ebs_st1": 0.045,
    "ebs_sc1": 0.015,
    "ebs_standard": 0.05,
    "s3_standard": 0.023,
    "ecr": 0.10,
    "cloudwatch_logs": 0.03,
}

# EC2 Linux on-demand prices per hour.
ON_DEMAND_HOURLY = {
    "g4dn.xlarge": 0.526,
    "g4dn.2xlarge": 0.752,
    "g4dn.4xlarge": 1.204,
    "g4dn.8xlarge": 2.176,
    "g4dn.12xlarge": 3.912,
    "g5.xlarge": 1.006,
    "g5.2xlarge": 1.212,
    "g6.xlarge": 0.8048,
    "g6.2xlarge": 0.9776,
    "p3.2xlarge": 3.06,
    "t3.small": 0.0208,
    "t3.medium": 0.0416,
    "t3.large": 0.0832,
    "m5.large": 0.096,
    "m5.xlarge": 0.192,
    "m6i.large": 0.096,
    "c5.large": 0.085,
}

# Typical spot prices per hour (spot moves; the audit prefers billed figures).
SPOT_HOURLY = {
    "g4dn.xlarge": 0.2104,
    "g4dn.2xlarge": 0.3010,
    "g5.xlarge": 0.4124,
    "g6.xlarge": 0.3712,
}
# For an instance type missing from SPOT_HOURLY: this fraction of on-demand.
SPOT_FRACTION_OF_ON_DEMAND = 0.4

# GPU instance families: their usage types count as "GPU hours" in the audit.
GPU_FAMILIES = ("g4dn", "g4ad", "g5", "g5g", "g6", "g6e", "gr6", "p3", "p4d", "p4de", "p5", "p5e", "inf1", "inf2")


def default_table():
    """A fresh copy of the whole table (callers may override entries)."""
    return {
        "hourly": dict(HOURLY),
        "gb_month": dict(GB_MONTH),
        "on_demand_hourly": dict(ON_DEMAND_HOURLY),
        "spot_hourly": dict(SPOT_HOURLY),
        "spot_fraction_of_on_demand": SPOT_FRACTION_OF_ON_DEMAND,
    }


def merged_table(overrides=None):
    """The default table with a (possibly partial) override merged in, section by section."""
    table = default_table()
    for section, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(table.get(section), dict):
            table[section].update({str(k): float(v) for k, v in value.items()})
        else:
            table[section] = float(value)
    return table


def on_demand_hourly(instance_type, table=None):
    """On-demand price per hour of an instance type, or None when unknown."""
    table = table or default_table()
    return table["on_demand_hourly"].get(instance_type)


def spot_hourly(instance_type, table=None):
    """Typical spot price per hour, or a fraction of on-demand, or None when unknown."""
    table = table or default_table()
    if instance_type in table["spot_hourly"]:
        return table["spot_hourly"][instance_type]
    on_demand = on_demand_hourly(instance_type, table)
    if on_demand is None:
        return None
    return round(on_demand * table["spot_fraction_of_on_demand"], 6)


def is_gpu_instance_type(instance_type):
    family = (instance_type or "").split(".")[0]
    return family in GPU_FAMILIES


def per_day_from_hourly(hourly):
    return None if hourly is None else round(hourly * HOURS_PER_DAY, 4)


def per_day_from_gb_month(gigabytes, price_gb_month):
    return round(float(gigabytes) * price_gb_month / DAYS_PER_MONTH, 4)
