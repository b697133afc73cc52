"""The system node group is in the cost audit: its run record is priced as on-demand t3.medium nodes.

The record's shape is the one roles/gpu_nodegroup/tasks/system.yml writes (aws/system_nodegroup.json);
without its instance_types/capacity_type/scaling the timeline would not see it and this test fails.
"""
from __future__ import annotations

import datetime

import yaml

from ansible_collections.gpu_e2e.platform.plugins.module_utils import aws_prices
from ansible_collections.gpu_e2e.platform.plugins.module_utils.cost_explorer import estimate, normalize_entry
from ansible_collections.gpu_e2e.platform.plugins.module_utils.cost_timeline import entries_from_record

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_system_nodes_are_priced_on_demand_for_their_desired_count():
    defaults = yaml.safe_load((ROOT / "roles" / "gpu_nodegroup" / "defaults" / "main.yml").read_text())
    record = {"nodegroup_name": "gpu-e2e-system", "cluster_name": "gpu-e2e", "capacity_type": "ON_DEMAND",
              "instance_types": defaults["gpu_nodegroup_system_instance_types"],
              "scaling": {"min_size": defaults["gpu_nodegroup_system_min_size"],
                          "desired_size": defaults["gpu_nodegroup_system_desired_size"],
                          "max_size": defaults["gpu_nodegroup_system_max_size"]}}
    start = datetime.datetime(2026, 12, 1, 10, 0, tzinfo=datetime.UTC)
    [entry] = entries_from_record("system_nodegroup", record, start)
    assert (entry["instance_type"], entry["capacity"], entry["count"]) == ("t3.medium", "on_demand", 2)
    end = start + datetime.timedelta(hours=1)
    [item] = estimate([normalize_entry(entry, start, end)], aws_prices.default_table())["items"]
    assert item["usd"] == round(2 * aws_prices.ON_DEMAND_HOURLY["t3.medium"], 4)
