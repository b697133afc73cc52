# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only spot preflight for a GPU node group: prices, offerings, vCPU quota.

EKS managed node groups cannot cap the spot price (they launch spot capacity
with the capacity-optimized strategy and pay the current spot price, up to the
on-demand price). A price cap therefore has to be enforced before the node
group is created, from the spot price history. This logic reads:

* the current spot price of every instance type in every AZ of interest (the
  newest ``DescribeSpotPriceHistory`` entry per type and AZ);
* where each type is offered (``DescribeInstanceTypeOfferings``), its vCPUs and
  its GPUs (``DescribeInstanceTypes``);
* the vCPU quota of spot (or on-demand) G and VT instances from Service
  Quotas, when Service Quotas answers; otherwise the quota is reported as not
  checked, with the reason;

``screen()`` drops the types that are over the cap in any AZ, have no price or
are not offered in a chosen AZ (any AZ counts: capacity-optimized allocation may
launch in the most expensive one), naming each with its reason, and
``evaluate()`` turns the rest into problems: a type without an NVIDIA GPU, no
type left, a quota too small for the largest type left.

The emulator (moto 5.2.5) describes g4dn.xlarge (T4), g5.xlarge (A10G) and
g6.xlarge (L4) with one NVIDIA GPU and 4 vCPUs each, and m5.large with no
``GpuInfo`` at all; it offers all three in every us-east-1 AZ except
us-east-1e. Its own spot price history is 0.00001 for every type with a 2006
timestamp and product "Linux/UNIX (Amazon VPC)" whatever is asked (the
stack's emulator replaces it with a price table, see roles/bootstrap).
"""

from __future__ import annotations

import datetime

from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_errors import GpuE2eAWSError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_errors import aws_call

from ansible_collections.gpu_e2e.platform.plugins.module_utils import aws_prices

try:
    import botocore
except ImportError:
    botocore = None  # the module reports the missing library

# Service Quotas codes (service ec2), in vCPUs.
QUOTAS = {
    "spot": ("L-3819A6DF", "All G and VT Spot Instance Requests"),
    "on_demand": ("L-DB2E81BA", "Running On-Demand G and VT instances"),
}
GPU_QUOTA_FAMILIES = ("g", "vt")


class SpotCapacityError(GpuE2eAWSError):
    """The one error type of the spot preflight logic; the module catches it once."""


# --- pure helpers (unit-tested without AWS) ---------------------------------


def latest_prices(history, instance_types, zones):
    """{(type, az): {'price': float, 'timestamp': str}} of the newest entry per type and AZ of interest."""
    newest = {}
    for entry in history:
        key = (entry.get("InstanceType"), entry.get("AvailabilityZone"))
        if key[0] not in instance_types or (zones and key[1] not in zones):
            continue
        stamp = entry.get("Timestamp")
        stamp = stamp.isoformat() if isinstance(stamp, datetime.datetime) else str(stamp)
        if key not in newest or stamp > newest[key]["timestamp"]:
            newest[key] = {"price": float(entry["SpotPrice"]), "timestamp": stamp}
    return newest


def price_rows(newest):
    return [
        {"instance_type": itype, "availability_zone": zone, "price": value["price"], "timestamp": value["timestamp"]}
        for (itype, zone), value in sorted(newest.items())
    ]


def family_uses_gpu_quota(instance_type):
    family = instance_type.split(".", 1)[0].lower()
    return any(family.startswith(prefix) and family[len(prefix):len(prefix) + 1].isdigit()
               for prefix in GPU_QUOTA_FAMILIES)


def vcpus_needed(instance_vcpus, instance_types, max_size):
    """Worst case: max_size nodes of the largest type in the list."""
    sizes = [instance_vcpus.get(t) for t in instance_types if t in instance_vcpus]
    return max(sizes) * max_size if sizes else None


def fmt_price(value):
    return f"${value:.4f}/h"


def gpu_label(gpus):
    """'1 x NVIDIA T4' from a describe_instance_types GpuInfo.Gpus list; '' when there is none."""
    return ", ".join(f"{g.get('Count', 1)} x {g.get('Manufacturer', '?')} {g.get('Name', '?')}" for g in gpus or [])


def non_gpu_types(report):
    """Types without an NVIDIA GPU, by describe_instance_types (a GPU node group needs one on every node)."""
    gpus = report.get("instance_gpus") or {}
    return [t for t in report["instance_types"]
            if not any(str(g.get("Manufacturer", "")).upper() == "NVIDIA" for g in gpus.get(t) or [])]


def screen(report, max_price, capacity="spot"):
    """Split the types into the usable ones and the dropped ones, with the reason for each drop.

    A type is dropped when it is not offered in some chosen AZ, has no spot price in some AZ where it is
    offered, or (spot, with a cap) its current price is above the cap in any AZ: capacity-optimized
    allocation may launch it in the dearest one. Returns ({type: reason}, [usable types in order]).
    """
    types, zones = report["instance_types"], report["availability_zones"]
    offered = report["offered"]
    dropped = {}
    for itype in types:
        missing = [z for z in zones if z not in offered.get(itype, [])]
        if missing:
            dropped[itype] = f"{itype} is not offered in {', '.join(missing)} of {report['region']}"
            continue
        if capacity != "spot":
            continue
        rows = [r for r in report["prices"] if r["instance_type"] == itype]
        seen = {r["availability_zone"] for r in rows}
        no_price = [z for z in zones if z not in seen]
        if no_price:
            dropped[itype] = f"no spot price history for {itype} in {', '.join(no_price)}"
            continue
        above = [r for r in rows if max_price and r["price"] > max_price]
        if above:
            listing = ", ".join(f"{itype} {r['availability_zone']} {fmt_price(r['price'])}" for r in rows)
            dropped[itype] = (f"{itype} spot price above the cap of {fmt_price(max_price)} in {len(above)} of "
                              f"{len(rows)} AZs ({listing})")
    return dropped, [t for t in types if t not in dropped]


def evaluate(report, max_price, max_size, capacity="spot"):
    """Problems that must stop the node group, as sentences; empty when it may go ahead.

    report: what gather() returns. max_price: cap in USD/h (None or 0 = no cap). Types that fail the
    price or offering check are dropped (see screen()); only when none is left is that a problem. A type
    without an NVIDIA GPU is always a problem.
    """
    not_gpu = non_gpu_types(report)
    if not_gpu:
        return [f"{t} has no NVIDIA GPU (describe_instance_types)" for t in not_gpu]
    dropped, usable = screen(report, max_price, capacity)
    problems = []
    if not usable:
        problems.append(f"no instance type is left: {'; '.join(dropped.values())}")
    types = usable or report["instance_types"]
    quota = report["quotas"].get(capacity) or {}
    needed = vcpus_needed(report["instance_vcpus"], types, max_size)
    if quota.get("checked") and needed is not None and quota["value"] < needed:
        problems.append(
            f"{quota['name']} quota is {quota['value']:g} vCPUs, the node group may need {needed} "
            f"({max_size} x {max(report['instance_vcpus'][t] for t in types if t in report['instance_vcpus'])} vCPUs): "
            f"request an increase of {quota['code']} in Service Quotas"
        )
    return problems


def summary(report, max_price):
    """One line per type: cheapest/dearest current spot price vs on-demand, and the quota status."""
    lines = []
    for itype in report["instance_types"]:
        prices = [r["price"] for r in report["prices"] if r["instance_type"] == itype]
        on_demand = aws_prices.on_demand_hourly(itype)
        od_text = f", on-demand {fmt_price(on_demand)}" if on_demand else ""
        gpu = gpu_label((report.get("instance_gpus") or {}).get(itype))
        od_text = (f", {gpu}" if gpu else ", no GPU") + od_text
        if prices:
            lines.append(f"{itype}: spot {fmt_price(min(prices))}-{fmt_price(max(prices))} across "
                         f"{len(prices)} AZ(s){od_text}" + (f", cap {fmt_price(max_price)}" if max_price else ""))
        else:
            lines.append(f"{itype}: no spot price{od_text}")
    for kind, quota in sorted(report["quotas"].items()):
        if quota.get("checked"):
            lines.append(f"{kind} G/VT vCPU quota {quota['code']}: {quota['value']:g}")
        else:
            lines.append(f"{kind} G/VT vCPU quota not checked: {quota.get('reason')}")
    return lines


# --- the AWS APIs, read-only, with errors translated once --------------------


def _call(what, method, **kwargs):
    return aws_call(SpotCapacityError, what, method, **kwargs)


def read_history(ec2, instance_types, zones, lookback_hours, product_descriptions, now):
    kwargs = {
        "InstanceTypes": list(instance_types),
        "ProductDescriptions": list(product_descriptions),
        "StartTime": now - datetime.timedelta(hours=lookback_hours),
        "EndTime": now,
    }
    if zones:
        kwargs["Filters"] = [{"Name": "availability-zone", "Values": list(zones)}]
    history, token = [], None
    while True:
        if token:
            kwargs["NextToken"] = token
        page = _call("read the spot price history", ec2.describe_spot_price_history, **kwargs)
        history.extend(page.get("SpotPriceHistory") or [])
        token = page.get("NextToken")
        if not token:
            return history


def read_offerings(ec2, instance_types):
    offered = {t: [] for t in instance_types}
    kwargs = {"LocationType": "availability-zone",
              "Filters": [{"Name": "instance-type", "Values": list(instance_types)}]}
    while True:
        page = _call("read the instance type offerings", ec2.describe_instance_type_offerings, **kwargs)
        for offering in page.get("InstanceTypeOfferings") or []:
            offered.setdefault(offering["InstanceType"], []).append(offering["Location"])
        if not page.get("NextToken"):
            return {t: sorted(set(z)) for t, z in offered.items()}
        kwargs["NextToken"] = page["NextToken"]


def read_instance_types(ec2, instance_types):
    """({type: default vCPUs}, {type: GpuInfo.Gpus list}) from DescribeInstanceTypes (unknown types raise)."""
    answer = _call(f"describe instance types {', '.join(instance_types)}", ec2.describe_instance_types,
                   InstanceTypes=list(instance_types))
    entries = answer.get("InstanceTypes") or []
    return ({t["InstanceType"]: t["VCpuInfo"]["DefaultVCpus"] for t in entries},
            {t["InstanceType"]: (t.get("GpuInfo") or {}).get("Gpus") or [] for t in entries})


def read_quota(quotas_client, kind):
    """{'checked': True, 'value': n, ...} or {'checked': False, 'reason': ...}; never raises for a missing quota."""
    code, name = QUOTAS[kind]
    base = {"code": code, "name": name}
    try:
        answer = quotas_client.get_service_quota(ServiceCode="ec2", QuotaCode=code, aws_retry=True)
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        return dict(base, checked=False, reason=f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip())
    except botocore.exceptions.BotoCoreError as exc:
        return dict(base, checked=False, reason=str(exc))
    return dict(base, checked=True, value=float(answer["Quota"]["Value"]))


def read_nodegroup(eks, cluster_name, name):
    found = aws_call(SpotCapacityError, f"describe node group {cluster_name}/{name}", eks.describe_nodegroup,
                     missing="ResourceNotFoundException", clusterName=cluster_name, nodegroupName=name)
    if found is None:
        return {"exists": False}
    nodegroup = found["nodegroup"]
    return {"exists": True, "capacity_type": nodegroup.get("capacityType"), "status": nodegroup.get("status"),
            "instance_types": nodegroup.get("instanceTypes") or []}


def gather(client, params, region, now=None):
    """Everything evaluate() needs; `client(service)` returns a boto3 client wrapped with AWSRetry."""
    if botocore is None:
        raise SpotCapacityError(message="botocore is required")
    types = list(dict.fromkeys(params["instance_types"]))
    if not types:
        raise SpotCapacityError(message="instance_types may not be empty")
    zones = sorted(set(params.get("availability_zones") or []))
    now = now or datetime.datetime.now(datetime.timezone.utc)
    ec2 = client("ec2")
    vcpus, gpus = read_instance_types(ec2, types)
    offered = read_offerings(ec2, types)
    if not zones:
        zones = sorted({z for azs in offered.values() for z in azs})
    history = read_history(ec2, types, zones, params["lookback_hours"], params["product_descriptions"], now)
    report = {
        "region": region,
        "instance_types": types,
        "availability_zones": zones,
        "prices": price_rows(latest_prices(history, types, zones)),
        "offered": offered,
        "instance_vcpus": vcpus,
        "instance_gpus": gpus,
        "quotas": {},
    }
    if params["check_quota"] and any(family_uses_gpu_quota(t) for t in types):
        quotas = client("service-quotas")
        report["quotas"] = {kind: read_quota(quotas, kind) for kind in QUOTAS}
    if params.get("cluster_name") and params.get("nodegroup_name"):
        report["nodegroup"] = read_nodegroup(client("eks"), params["cluster_name"], params["nodegroup_name"])
    return report
