# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The billable timeline of one run, read from its run directory.

What existed, how many, from when to when:

* the window starts at the run directory's name (``runs/<stack>/<UTC stamp>``)
  and ends when the leftover check ran (``leftovers.json`` ``checked_at``),
  or at ``end`` / now when there is no leftover check yet;
* a stage's record ``aws/<stage>.json`` marks when its resources came into
  being: its ``created_at`` field (ISO 8601) when present, else the file's
  modification time. Resources are taken to live until the end of the window
  (teardown deletes them just before the leftover check).

Records read (any ``aws/*.json``):

* ``nat_gateway_id`` → one NAT gateway and its public IPv4 address;
* ``cluster_name`` or ``cluster_arn`` (in a record whose name starts with
  ``eks``) → one EKS control plane;
* ``instance_types``/``instance_type`` with ``capacity_type`` (SPOT or
  ON_DEMAND) → GPU nodes, ``desired_size`` (or ``scaling.desired_size``) of
  them (default 1), optionally at
  a recorded ``spot_price``/``usd_per_hour``;
* ``load_balancer_arn`` or ``load_balancer_arns`` → Application Load Balancers.

Extra entries (e.g. measured on real AWS) can be passed explicitly and are
appended. Pure Python: no AWS calls.
"""

from __future__ import annotations

import datetime
import glob
import os

from ansible_collections.gpu_e2e.platform.plugins.module_utils.cost_explorer import CostExplorerError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.cost_explorer import iso
from ansible_collections.gpu_e2e.platform.plugins.module_utils.cost_explorer import normalize_entry
from ansible_collections.gpu_e2e.platform.plugins.module_utils.cost_explorer import parse_time
from ansible_collections.gpu_e2e.platform.plugins.module_utils.json_read import read_json_or


def _load(path):
    return read_json_or(path)


def _created_at(path, record):
    if isinstance(record, dict) and record.get("created_at"):
        return parse_time(record["created_at"])
    # Whole seconds, like every time this module returns, so a re-read timeline prices the same.
    return datetime.datetime.fromtimestamp(int(os.path.getmtime(path)), tz=datetime.timezone.utc)


def _first(record, *keys):
    for key in keys:
        if record.get(key) not in (None, "", []):
            return record[key]
    return None


def entries_from_record(name, record, created):
    """Timeline entries described by one aws/<name>.json record."""
    if not isinstance(record, dict):
        return []
    source = f"aws/{name}.json"
    entries = []
    if record.get("nat_gateway_id"):
        entries.append({"resource": "nat_gateway", "start": created, "source": source})
        entries.append({"resource": "public_ipv4", "start": created, "source": source + " (NAT gateway EIP)"})
    if name.startswith("eks") and _first(record, "cluster_arn", "cluster_name") and not _first(
            record, "instance_types", "instance_type"):
        entry = {"resource": "eks_cluster", "start": created, "source": source}
        if record.get("version"):
            entry["version"] = str(record["version"])  # extended support is priced higher
        entries.append(entry)
    itypes = _first(record, "instance_types", "instance_type")
    if itypes:
        itype = itypes[0] if isinstance(itypes, list) else itypes
        capacity = str(_first(record, "capacity_type", "capacity") or "ON_DEMAND").lower().replace("-", "_")
        entry = {
            "resource": "instance",
            "instance_type": itype,
            "capacity": "spot" if capacity == "spot" else "on_demand",
            "count": int(_first(record, "desired_size", "count")
                         or (record.get("scaling") or {}).get("desired_size") or 1),
            "start": created,
            "source": source,
        }
        price = _first(record, "usd_per_hour", "spot_price")
        if price is not None and entry["capacity"] == "spot":
            entry["usd_per_hour"] = float(price)
        entries.append(entry)
    arns = record.get("load_balancer_arns") or []
    if not arns and record.get("load_balancer_arn"):
        arns = [record["load_balancer_arn"]]
    for _arn in arns:
        entries.append({"resource": "alb", "start": created, "source": source})
    return entries


def window_of(run_dir, end=None, now=None):
    """(start, end, how) of a run directory."""
    now = (now or datetime.datetime.now(datetime.timezone.utc)).replace(microsecond=0)
    stamp = os.path.basename(os.path.normpath(run_dir))
    try:
        start = parse_time(stamp)
        how_start = "run directory name"
    except CostExplorerError as exc:
        inputs = os.path.join(run_dir, "inputs.yml")
        if not os.path.exists(inputs):
            raise CostExplorerError(
                message=f"{run_dir} is not a run directory (no <UTC stamp> name, no inputs.yml)") from exc
        start = datetime.datetime.fromtimestamp(int(os.path.getmtime(inputs)), tz=datetime.timezone.utc)
        how_start = "inputs.yml modification time"
    if end:
        return start, parse_time(end), how_start + " → given end"
    leftovers = _load(os.path.join(run_dir, "leftovers.json"))
    if isinstance(leftovers, dict) and leftovers.get("checked_at"):
        return start, parse_time(leftovers["checked_at"]), how_start + " → leftover check"
    return start, now, how_start + " → now (no leftover check yet)"


def timeline_from_run_dir(run_dir, end=None, extra=None, now=None):
    """Window and normalized timeline entries of a run directory."""
    if not os.path.isdir(run_dir):
        raise CostExplorerError(message=f"run directory {run_dir} does not exist")
    start, stop, how = window_of(run_dir, end, now)
    if stop <= start:
        raise CostExplorerError(message=f"the run window ends ({iso(stop)}) before it starts ({iso(start)})")
    raw = []
    records = []
    for path in sorted(glob.glob(os.path.join(run_dir, "aws", "*.json"))):
        name = os.path.splitext(os.path.basename(path))[0]
        record = _load(path)
        found = entries_from_record(name, record, _created_at(path, record))
        if found:
            records.append(f"aws/{name}.json")
        raw.extend(found)
    raw.extend(extra or [])
    entries = [normalize_entry(e, start, stop) for e in raw]
    return {
        "window": {"start": iso(start), "end": iso(stop), "how": how},
        "entries": entries,
        "timeline": [dict(e, start=iso(e["start"]), end=iso(e["end"])) for e in entries],
        "records": records,
    }
