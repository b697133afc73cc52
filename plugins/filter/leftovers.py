# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One readable line per leftover, for the leftover check's output."""

from __future__ import annotations


def leftover_line(item, label="LEFTOVER"):
    """``LEFTOVER ec2/natgateway nat-0abc (gpu-e2e-nat): ~$1.08/day - tagged stack=gpu-e2e; state available``."""
    per_day = item.get("est_usd_per_day")
    cost = "cost unknown" if per_day is None else f"~${float(per_day):.2f}/day"
    name = item.get("name") or ""
    named = f" ({name})" if name and name != item.get("id") else ""
    kind = f"{item.get('service')}/{item.get('type')}"
    return f"{label} {kind} {item.get('id')}{named}: {cost} - {item.get('reason', '')}"


def untagged_line(item):
    """``UNTAGGED ec2/subnet subnet-0abc (gpu-e2e-public-a) in vpc-0def: not the stack's, never deleted``."""
    name = item.get("name") or ""
    named = f" ({name})" if name and name != item.get("id") else ""
    where = f" in {item['vpc_id']}" if item.get("vpc_id") else ""
    return f"UNTAGGED {item.get('service')}/{item.get('type')} {item.get('id')}{named}{where}: {item.get('note', '')}"


class FilterModule:
    """Leftover check filters."""

    def filters(self):
        return {"leftover_line": leftover_line, "untagged_line": untagged_line}
