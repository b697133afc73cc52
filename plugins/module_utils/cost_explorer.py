# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The spend of one run: estimated from its timeline, billed from Cost Explorer.

Two views, because Cost Explorer trails usage by about 24 hours:

* ``estimated``: the recorded run timeline (what existed, how many, from when
  to when) times prices. Available at once.
* ``billed``: ``get_cost_and_usage`` filtered by the stack's cost allocation
  tags (``stack``, ``project``) for the run's window, grouped by service and
  usage type. Flagged ``complete: false`` while the window ended less than
  ``lag_hours`` ago.

GPU hours come from the EC2 usage types of GPU instance families:
``BoxUsage:<type>`` (on-demand) and ``SpotUsage:<type>`` (spot), with or
without a region prefix (``USE2-SpotUsage:g4dn.xlarge``). NAT gateway hours
come from ``NatGateway-Hours``. Spot savings are ``on-demand price x spot
hours - spot cost``; the on-demand price comes from the Pricing API
(``get_products``), or from the documented fallback table in aws_prices.py
when the Pricing API fails (the local emulator answers 500).

Cost allocation tags must be activated in the Billing console (or with
``ce update-cost-allocation-tags-status``) before tag filters match anything;
the audit reports their status when it can read it.

Pure helpers (estimate, classify_usage_type, summarize_billed) take plain data
and are unit-tested without AWS. Seeding the local emulator's Cost Explorer is
the emulator's job (emulator_cost_explorer_seed.py), not this module's.
"""

from __future__ import annotations

import datetime
import json
import re

from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_errors import GpuE2eAWSError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_errors import aws_call

from ansible_collections.gpu_e2e.platform.plugins.module_utils import aws_prices
from ansible_collections.gpu_e2e.platform.plugins.module_utils import eks_versions

try:
    import botocore
except ImportError:
    botocore = None  # the module reports the missing library

RESOURCES = ("instance", "nat_gateway", "public_ipv4", "eks_cluster", "alb", "nlb")
CAPACITIES = ("spot", "on_demand")
DEFAULT_LAG_HOURS = 24
METRICS = ["UnblendedCost", "UsageQuantity"]
GROUP_BY = [{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}]

# How each timeline resource appears in Cost Explorer (service, usage type) and what it costs per hour.
SERVICE_EC2 = "Amazon Elastic Compute Cloud - Compute"
SERVICE_EC2_OTHER = "EC2 - Other"
SERVICE_EKS = "Amazon Elastic Container Service for Kubernetes"
SERVICE_VPC = "Amazon Virtual Private Cloud"
SERVICE_ELB = "Amazon Elastic Load Balancing"

INSTANCE_USAGE = re.compile(r"(?:^|-)(BoxUsage|SpotUsage|DedicatedUsage):([a-z0-9-]+\.[a-z0-9-]+)$")

# Pricing API "location" of the regions this collection is used in (the rest: fallback table).
PRICING_LOCATIONS = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
    "eu-central-1": "EU (Frankfurt)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
}


class CostExplorerError(GpuE2eAWSError):
    """The one error type of the audit; the module catches it once."""


# -- time ----------------------------------------------------------------
def parse_time(value):
    """An aware UTC datetime from an ISO 8601 string (``Z`` or offset), a date, a run-dir stamp or epoch seconds."""
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.datetime.fromtimestamp(float(value), tz=datetime.timezone.utc)
    text = str(value).strip()
    if re.match(r"^\d{8}T\d{6}Z$", text):
        return datetime.datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError as exc:
        raise CostExplorerError(message=f"not a time: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.astimezone(datetime.timezone.utc)


def iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def hours_between(start, end):
    return max(0.0, (end - start).total_seconds() / 3600.0)


def ce_period(start, end):
    """Cost Explorer's DAILY period covering [start, end): whole UTC days, End exclusive."""
    first = start.date()
    last = end.date()
    if end.time() != datetime.time(0) or last == first:
        last = last + datetime.timedelta(days=1)
    return first.isoformat(), last.isoformat()


# -- timeline and estimate ------------------------------------------------
def normalize_entry(entry, window_start, window_end):
    """Check one timeline entry and fill in its defaults (window bounds, count 1, on-demand)."""
    resource = entry.get("resource")
    if resource not in RESOURCES:
        raise CostExplorerError(message=f"timeline entry {entry!r}: resource must be one of {', '.join(RESOURCES)}")
    capacity = entry.get("capacity") or "on_demand"
    if capacity not in CAPACITIES:
        raise CostExplorerError(message=f"timeline entry {entry!r}: capacity must be spot or on_demand")
    if resource == "instance" and not entry.get("instance_type"):
        raise CostExplorerError(message=f"timeline entry {entry!r}: an instance needs instance_type")
    start = parse_time(entry["start"]) if entry.get("start") else window_start
    end = parse_time(entry["end"]) if entry.get("end") else window_end
    start, end = max(start, window_start), min(end, window_end)
    count = int(entry.get("count", 1))
    if count < 0:
        raise CostExplorerError(message=f"timeline entry {entry!r}: count must not be negative")
    return {
        "resource": resource,
        "instance_type": entry.get("instance_type") or "",
        "capacity": capacity if resource == "instance" else "on_demand",
        "count": count,
        "start": start,
        "end": max(start, end),
        "source": entry.get("source", ""),
        "usd_per_hour": None if entry.get("usd_per_hour") is None else float(entry["usd_per_hour"]),
        "version": str(entry["version"]) if entry.get("version") else "",
    }


def hourly_price(entry, prices, on_demand=None):
    """USD per hour of one unit of a normalized timeline entry (None when unknown)."""
    resource = entry["resource"]
    if entry.get("usd_per_hour") is not None:
        return float(entry["usd_per_hour"])
    if resource == "instance":
        itype = entry["instance_type"]
        if entry["capacity"] == "spot":
            return aws_prices.spot_hourly(itype, prices)
        if on_demand and itype in on_demand:
            return on_demand[itype]
        return aws_prices.on_demand_hourly(itype, prices)
    if resource == "eks_cluster":
        return eks_versions.control_plane_hourly(entry.get("version"), entry["start"], prices)
    key = {"nat_gateway": "nat_gateway", "public_ipv4": "public_ipv4", "alb": "alb", "nlb": "nlb"}[resource]
    return prices["hourly"][key]


def estimate(entries, prices, on_demand=None):
    """Cost of normalized timeline entries: items, totals, GPU hours, NAT hours, spot savings."""
    on_demand = on_demand or {}
    items = []
    gpu = {"spot": 0.0, "on_demand": 0.0}
    savings = 0.0
    nat_hours = 0.0
    total = 0.0
    unknown = 0
    for entry in entries:
        hours = hours_between(entry["start"], entry["end"]) * entry["count"]
        price = hourly_price(entry, prices, on_demand)
        usd = None if price is None else hours * price
        if usd is None:
            unknown += 1
        else:
            total += usd
        if entry["resource"] == "instance" and aws_prices.is_gpu_instance_type(entry["instance_type"]):
            gpu[entry["capacity"]] += hours
            od_price = on_demand.get(entry["instance_type"]) or aws_prices.on_demand_hourly(
                entry["instance_type"], prices)
            if entry["capacity"] == "spot" and price is not None and od_price is not None:
                savings += hours * (od_price - price)
        if entry["resource"] == "nat_gateway":
            nat_hours += hours
        label = entry["resource"]
        if entry["resource"] == "instance":
            label = f"{entry['instance_type']} {entry['capacity'].replace('_', '-')}"
        elif entry["resource"] == "eks_cluster" and entry.get("version"):
            label = f"eks_cluster {entry['version']}"
        items.append({
            "resource": entry["resource"],
            "label": label,
            "count": entry["count"],
            "start": iso(entry["start"]),
            "end": iso(entry["end"]),
            "hours": round(hours, 4),
            "usd_per_hour": price,
            "usd": None if usd is None else round(usd, 4),
            "source": entry["source"],
        })
    return {
        "total_usd": round(total, 4),
        "items": items,
        "cost_unknown_count": unknown,
        "gpu_hours": {"spot": round(gpu["spot"], 4), "on_demand": round(gpu["on_demand"], 4),
                      "total": round(gpu["spot"] + gpu["on_demand"], 4)},
        "nat_gateway_hours": round(nat_hours, 4),
        "spot_savings_usd": round(savings, 4),
        "basis": "recorded run timeline x list prices (data transfer, NAT data processing, storage not included)",
    }


# -- Cost Explorer answers -------------------------------------------------
def classify_usage_type(usage_type):
    """What a usage type measures.

    ('instance', capacity, type), ('nat_gateway_hours',), ('eks',), ('public_ipv4',), ('load_balancer',) or None.
    """
    match = INSTANCE_USAGE.search(usage_type or "")
    if match:
        capacity = "spot" if match.group(1) == "SpotUsage" else "on_demand"
        return ("instance", capacity, match.group(2))
    if usage_type.endswith("NatGateway-Hours"):
        return ("nat_gateway_hours",)
    if "AmazonEKS-Hours" in usage_type:
        return ("eks",)
    if "PublicIPv4:" in usage_type:
        return ("public_ipv4",)
    if usage_type.endswith("LoadBalancerUsage"):
        return ("load_balancer",)
    return None


def _amount(metrics, name):
    try:
        return float(metrics.get(name, {}).get("Amount", 0) or 0)
    except (TypeError, ValueError):
        return 0.0


def summarize_billed(results_by_time):
    """Totals of get_cost_and_usage answers grouped by SERVICE and USAGE_TYPE."""
    by_service = {}
    by_usage_type = {}
    instances = {}
    nat_hours = 0.0
    total = 0.0
    estimated_flag = False
    for period in results_by_time or []:
        estimated_flag = estimated_flag or bool(period.get("Estimated"))
        groups = period.get("Groups") or []
        if not groups:  # ungrouped answer: only a total
            total += _amount(period.get("Total") or {}, "UnblendedCost")
            continue
        for group in groups:
            keys = group.get("Keys") or []
            service = keys[0] if keys else "unknown"
            usage_type = keys[1] if len(keys) > 1 else ""
            cost = _amount(group.get("Metrics") or {}, "UnblendedCost")
            quantity = _amount(group.get("Metrics") or {}, "UsageQuantity")
            total += cost
            by_service[service] = by_service.get(service, 0.0) + cost
            usage = by_usage_type.setdefault(usage_type, {"usd": 0.0, "quantity": 0.0})
            usage["usd"] += cost
            usage["quantity"] += quantity
            kind = classify_usage_type(usage_type)
            if kind and kind[0] == "instance":
                per_type = instances.setdefault(kind[2], {"spot_hours": 0.0, "on_demand_hours": 0.0,
                                                          "spot_cost_usd": 0.0, "on_demand_cost_usd": 0.0})
                per_type[f"{kind[1]}_hours"] += quantity
                per_type[f"{kind[1]}_cost_usd"] += cost
            elif kind == ("nat_gateway_hours",):
                nat_hours += quantity
    gpu_types = {t: v for t, v in instances.items() if aws_prices.is_gpu_instance_type(t)}
    spot = sum(v["spot_hours"] for v in gpu_types.values())
    on_demand = sum(v["on_demand_hours"] for v in gpu_types.values())
    return {
        "total_usd": round(total, 4),
        "by_service": {k: round(v, 4) for k, v in sorted(by_service.items())},
        "by_usage_type": {k: {"usd": round(v["usd"], 4), "quantity": round(v["quantity"], 4)}
                          for k, v in sorted(by_usage_type.items())},
        "instances": {t: {k: round(x, 4) for k, x in v.items()} for t, v in sorted(instances.items())},
        "gpu_hours": {"spot": round(spot, 4), "on_demand": round(on_demand, 4), "total": round(spot + on_demand, 4)},
        "gpu_spot_cost_usd": round(sum(v["spot_cost_usd"] for v in gpu_types.values()), 4),
        "nat_gateway_hours": round(nat_hours, 4),
        "aws_marked_estimated": estimated_flag,
    }


def spot_savings(instances, on_demand_prices):
    """Sum over GPU instance types of on-demand price x spot hours - spot cost (types without a price skipped)."""
    savings = 0.0
    skipped = []
    for itype, usage in instances.items():
        if not aws_prices.is_gpu_instance_type(itype) or not usage.get("spot_hours"):
            continue
        price = on_demand_prices.get(itype)
        if price is None:
            skipped.append(itype)
            continue
        savings += price * usage["spot_hours"] - usage["spot_cost_usd"]
    return round(savings, 4), skipped


def lag_status(window_end, now, lag_hours):
    """Whether Cost Explorer can be expected to hold the whole window yet."""
    ready_at = window_end + datetime.timedelta(hours=lag_hours)
    complete = now >= ready_at
    note = (f"window ended {hours_between(window_end, now):.1f} h ago, more than the {lag_hours} h billing lag"
            if complete else
            f"INCOMPLETE: Cost Explorer trails usage by about {lag_hours} h; the window ended "
            f"{hours_between(window_end, now):.1f} h ago. Re-run the audit after {iso(ready_at)}.")
    return {"complete": complete, "lag_hours": lag_hours, "complete_after": iso(ready_at), "note": note}


# -- AWS calls --------------------------------------------------------------
def tag_filter(tags):
    expressions = [{"Tags": {"Key": k, "Values": [v], "MatchOptions": ["EQUALS"]}} for k, v in sorted(tags.items())]
    if not expressions:
        raise CostExplorerError(message="at least one tag is needed to filter the stack's costs")
    return expressions[0] if len(expressions) == 1 else {"And": expressions}


def short_error(exc):
    """One line about a botocore error: its code and HTTP status, not the emulator's HTML page."""
    response = getattr(exc, "response", None) or {}
    code = (response.get("Error") or {}).get("Code")
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    if code or status:
        return f"{code or 'error'} (HTTP {status})" if status else str(code)
    return (str(exc).splitlines() or [type(exc).__name__])[0][:160]


def get_cost_and_usage(ce, first, last, expression):
    results = []
    token = None
    for _page in range(100):  # bounded
        kwargs = dict(TimePeriod={"Start": first, "End": last}, Granularity="DAILY", Metrics=METRICS,
                      GroupBy=GROUP_BY, Filter=expression)
        if token:
            kwargs["NextPageToken"] = token
        answer = aws_call(CostExplorerError, "query Cost Explorer (get_cost_and_usage)", ce.get_cost_and_usage,
                          **kwargs)
        results.extend(answer.get("ResultsByTime") or [])
        token = answer.get("NextPageToken")
        if not token:
            break
    return results


def cost_allocation_tag_status(ce, keys):
    """{key: Active|Inactive|not found} or {key: 'unknown (<why>)'} when the API cannot be read."""
    try:
        answer = ce.list_cost_allocation_tags(aws_retry=True, TagKeys=list(keys), Type="UserDefined")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        return {k: f"unknown (ListCostAllocationTags failed: {short_error(exc)})" for k in keys}
    found = {t["TagKey"]: t.get("Status", "unknown") for t in answer.get("CostAllocationTags") or []}
    return {k: found.get(k, "not found (never seen in billing data)") for k in keys}


def parse_price_list(price_list):
    """The on-demand USD price per hour in a Pricing API PriceList (JSON strings), or None."""
    for item in price_list or []:
        product = json.loads(item) if isinstance(item, str) else item
        for term in (product.get("terms", {}).get("OnDemand") or {}).values():
            for dimension in (term.get("priceDimensions") or {}).values():
                usd = (dimension.get("pricePerUnit") or {}).get("USD")
                if usd not in (None, "") and float(usd) > 0:
                    return float(usd)
    return None


def on_demand_prices(pricing, instance_types, region, prices, use_pricing_api=True):
    """{type: {usd_per_hour, source}} from the Pricing API, falling back to the documented table."""
    result = {}
    location = PRICING_LOCATIONS.get(region)
    for itype in sorted(set(instance_types)):
        price, source = None, ""
        if use_pricing_api and pricing is not None and location:
            try:
                answer = pricing.get_products(
                    aws_retry=True, ServiceCode="AmazonEC2", MaxResults=10,
                    Filters=[{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in (
                        ("instanceType", itype), ("location", location), ("operatingSystem", "Linux"),
                        ("tenancy", "Shared"), ("preInstalledSw", "NA"), ("capacitystatus", "Used"))])
                price = parse_price_list(answer.get("PriceList"))
                source = "Pricing API" if price is not None else ""
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, ValueError) as exc:
                source = f"fallback table (Pricing API failed: {short_error(exc)})"
        if price is None:
            price = aws_prices.on_demand_hourly(itype, prices)
            if not source:
                source = "fallback table" if use_pricing_api and location else "fallback table (Pricing API not used)"
            if price is None:
                source = "unknown (not in the fallback table)"
        result[itype] = {"usd_per_hour": price, "source": source}
    return result


def audit(client, params, now=None):
    """The whole audit. ``client(service, region=None)`` returns an AWSRetry-wrapped client."""
    if botocore is None:
        raise CostExplorerError(message="botocore is required")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    start = parse_time(params["start"])
    end = parse_time(params["end"]) if params.get("end") else now
    if end <= start:
        raise CostExplorerError(message=f"the window ends ({iso(end)}) before it starts ({iso(start)})")
    prices = aws_prices.merged_table(params.get("prices"))
    tags = {k: v for k, v in (params.get("tags") or {}).items() if v not in (None, "")}
    entries = [normalize_entry(e, start, end) for e in params.get("timeline") or []]
    lag_hours = params.get("lag_hours", DEFAULT_LAG_HOURS)

    first, last = ce_period(start, end)
    expression = tag_filter(tags)
    results = get_cost_and_usage(client("ce"), first, last, expression)
    billed = summarize_billed(results)

    instance_types = {e["instance_type"] for e in entries if e["resource"] == "instance"}
    instance_types |= {t for t in billed["instances"] if aws_prices.is_gpu_instance_type(t)}
    pricing = client("pricing", region="us-east-1") if params.get("use_pricing_api", True) else None
    od = on_demand_prices(pricing, instance_types, params.get("region") or "us-east-1", prices,
                          params.get("use_pricing_api", True))
    od_hourly = {t: v["usd_per_hour"] for t, v in od.items() if v["usd_per_hour"] is not None}

    estimated = estimate(entries, prices, od_hourly)
    billed["spot_savings_usd"], billed["spot_savings_skipped_types"] = spot_savings(billed["instances"], od_hourly)
    billed.update(lag_status(end, now, lag_hours))
    billed["source"] = "Cost Explorer get_cost_and_usage (UnblendedCost, DAILY, SERVICE x USAGE_TYPE)"

    tag_status = {}
    if params.get("check_cost_allocation_tags", True):
        tag_status = cost_allocation_tag_status(client("ce"), sorted(tags))
    return {
        "window": {"start": iso(start), "end": iso(end), "hours": round(hours_between(start, end), 4),
                   "ce_start": first, "ce_end": last},
        "filter": expression,
        "estimated": estimated,
        "billed": billed,
        "on_demand_prices": od,
        "cost_allocation_tags": tag_status,
        "checked_at": iso(now),
    }
