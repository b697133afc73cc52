# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Seeding the local emulator's Cost Explorer from a run (emulator-only, never real AWS).

The emulator (moto) answers ``get_cost_and_usage`` with empty results unless
answers are queued first: a POST of ``{"results": [...]}`` to
``/moto-api/static/ce/cost-and-usage-results``. ``seed_results`` builds an
answer that bills exactly the run's recorded timeline, so the audit's whole
path (query, usage-type parsing, spot savings, lag flag) runs on the local
profile. ``seed`` refuses any URL that is not the emulator on loopback.
"""

from __future__ import annotations

import datetime
import json
from urllib.parse import urlsplit

from ansible_collections.gpu_e2e.platform.plugins.module_utils import aws_prices
from ansible_collections.gpu_e2e.platform.plugins.module_utils import cost_explorer as ce
from ansible_collections.gpu_e2e.platform.plugins.module_utils.cost_explorer import CostExplorerError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.cost_timeline import timeline_from_run_dir

SEED_PATH = "/moto-api/static/ce/cost-and-usage-results"
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def usage_of(entry):
    resource = entry["resource"]
    if resource == "instance":
        prefix = "SpotUsage" if entry["capacity"] == "spot" else "BoxUsage"
        return ce.SERVICE_EC2, f"{prefix}:{entry['instance_type']}"
    return {
        "nat_gateway": (ce.SERVICE_EC2_OTHER, "NatGateway-Hours"),
        "public_ipv4": (ce.SERVICE_VPC, "PublicIPv4:InUseAddress"),
        "eks_cluster": (ce.SERVICE_EKS, "USE1-AmazonEKS-Hours:perCluster"),
        "alb": (ce.SERVICE_ELB, "LoadBalancerUsage"),
        "nlb": (ce.SERVICE_ELB, "LoadBalancerUsage"),
    }[resource]


def seed_results(entries, window_start, window_end, prices):
    """A get_cost_and_usage answer (DAILY, grouped by SERVICE and USAGE_TYPE) that bills exactly the timeline.

    Seeds the emulator's Cost Explorer so the whole audit path runs locally; the
    billed figures then equal the estimate by construction.
    """
    first, last = ce.ce_period(window_start, window_end)
    day = datetime.date.fromisoformat(first)
    end_day = datetime.date.fromisoformat(last)
    periods = []
    while day < end_day:
        day_start = datetime.datetime.combine(day, datetime.time(0), tzinfo=datetime.timezone.utc)
        day_end = day_start + datetime.timedelta(days=1)
        groups = {}
        for entry in entries:
            start, end = max(entry["start"], day_start), min(entry["end"], day_end)
            hours = ce.hours_between(start, end) * entry["count"]
            price = ce.hourly_price(entry, prices)
            if hours <= 0 or price is None:
                continue
            key = usage_of(entry)
            cost, quantity = groups.get(key, (0.0, 0.0))
            groups[key] = (cost + hours * price, quantity + hours)
        periods.append({
            "TimePeriod": {"Start": day.isoformat(), "End": (day + datetime.timedelta(days=1)).isoformat()},
            "Total": {},
            "Groups": [
                {"Keys": [service, usage],
                 "Metrics": {"UnblendedCost": {"Amount": f"{cost:.10f}", "Unit": "USD"},
                             "UsageQuantity": {"Amount": f"{quantity:.10f}", "Unit": "Hrs"}}}
                for (service, usage), (cost, quantity) in sorted(groups.items())
            ],
            "Estimated": True,
        })
        day += datetime.timedelta(days=1)
    return {"ResultsByTime": periods, "GroupDefinitions": ce.GROUP_BY, "DimensionValueAttributes": []}


def seed_url(emulator_url):
    """The emulator's seeding endpoint; only an http URL on loopback is accepted (the emulator binds nothing else)."""
    parts = urlsplit(emulator_url or "")
    if parts.scheme != "http" or parts.hostname not in LOOPBACK:
        raise CostExplorerError(
            message=f"emulator_url must be the emulator's http URL on loopback (127.0.0.1), got {emulator_url!r}")
    return emulator_url.rstrip("/") + SEED_PATH


def seed(params, opener, check_mode=False):
    """Queue one Cost Explorer answer billing the run's timeline in the emulator; the module's result.

    ``opener`` has the signature of ``ansible.module_utils.urls.open_url``. In check mode nothing is posted.
    """
    url = seed_url(params["emulator_url"])
    found = timeline_from_run_dir(params["run_dir"], params.get("end"), params.get("extra") or [])
    window = found["window"]
    answer = seed_results(found["entries"], ce.parse_time(window["start"]), ce.parse_time(window["end"]),
                          aws_prices.merged_table(params.get("prices") or {}))
    if not check_mode:
        try:
            opener(url, data=json.dumps({"results": [answer]}), method="POST",
                   headers={"Content-Type": "application/json"}, timeout=params.get("timeout", 10))
        except Exception as exc:  # open_url raises HTTPError, URLError and socket errors alike
            raise CostExplorerError(message=f"POST {url} failed: {exc}") from exc
    return {"changed": True, "url": url, "window": window, "ce_seed": answer}
