# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The EKS Kubernetes version lifecycle: standard support, extended support, and what an hour costs.

A minor version has 14 months of standard support, then 12 months of extended
support at a higher control-plane price, after which AWS upgrades the cluster
and no longer creates new ones at that version. The dates below are AWS's
published calendar (docs: eks/latest/userguide/kubernetes-versions.html); a
version missing here is reported as "unknown", never guessed.

Why by hand: neither boto3 nor the AWS collections expose the calendar
(DescribeClusterVersions gives a status, but only with credentials and only
for today), and preflight must judge a version before anything is created.
"""

from __future__ import annotations

import datetime

# version: (end of standard support, end of extended support), both UTC dates.
CALENDAR = {
    "1.29": ("2025-03-23", "2026-03-23"),
    "1.30": ("2025-07-23", "2026-07-23"),
    "1.31": ("2025-11-26", "2026-11-26"),
    "1.32": ("2026-03-23", "2027-03-23"),
    "1.33": ("2026-07-29", "2027-07-29"),
    "1.34": ("2026-12-02", "2027-12-02"),
    "1.35": ("2027-03-27", "2028-03-27"),
}


def _date(value):
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value)[:10])


def _key(version):
    """(1, 32) for "1.32"; None when it is not a minor version."""
    parts = str(version).split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def support(version, on):
    """Support status of an EKS Kubernetes version on a date.

    Returns {version, status, standard_end, extended_end, message}; status is one of
    "standard", "extended", "ended" or "unknown".
    """
    version = str(version).strip()
    day = _date(on)
    dates = CALENDAR.get(version)
    if dates is None:
        if _key(version) is not None and _key(version) < min(_key(v) for v in CALENDAR):
            return {"version": version, "status": "ended", "standard_end": None, "extended_end": None,
                    "message": f"EKS {version} is older than every version AWS still supports: AWS no longer "
                               "creates clusters at this version"}
        return {"version": version, "status": "unknown", "standard_end": None, "extended_end": None,
                "message": f"EKS {version} is not in this collection's version calendar; its support and price "
                           "are not checked"}
    standard_end, extended_end = (_date(d) for d in dates)
    if day < standard_end:
        status = "standard"
        message = f"EKS {version} is in standard support until {standard_end}"
    elif day < extended_end:
        status = "extended"
        message = (f"EKS {version} left standard support on {standard_end}: the cluster runs on extended support "
                   f"(a higher control-plane price) until {extended_end}")
    else:
        status = "ended"
        message = (f"EKS {version} reached the end of extended support on {extended_end}: AWS no longer creates "
                   "clusters at this version")
    return {"version": version, "status": status, "standard_end": standard_end.isoformat(),
            "extended_end": extended_end.isoformat(), "message": message}


def control_plane_hourly(version, on, prices):
    """USD per hour of an EKS control plane at `version` on a date (extended support costs more)."""
    hourly = prices["hourly"]
    if version and support(version, on)["status"] in ("extended", "ended"):
        return hourly["eks_cluster_extended_support"]
    return hourly["eks_cluster"]
