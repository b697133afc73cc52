# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The EKS Kubernetes version lifecycle: standard support, extended support, and what an hour costs.

A minor version has 14 months of standard support, then 12 months of extended
support at a higher control-plane price, after which AWS upgrades the cluster
and no longer creates new ones at that version. The dates below are AWS's
published calendar (docs: eks/latest/userguide/kubernetes-versions.html); a
version missing here is reported as "unknown", never guessed.

Why a table as well: the static preflight (and the local profile, whose
emulator answers DescribeClusterVersions with 404 "Not yet implemented" in
moto 5.2.5) must judge a version without credentials. On the aws profile the
read-only preflight reads the calendar from EKS ``DescribeClusterVersions``
(module ``eks_versions_info``; ``calendar_from_api()`` below) and judges the
version by what AWS says; the table is the fallback when the API does not
answer.
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


def calendar_from_api(cluster_versions):
    """{version: (standard_end, extended_end)} from DescribeClusterVersions' ``clusterVersions`` entries.

    An entry without an end of standard support is left out (the table then answers for it); an entry
    without an end of extended support keeps the standard end for both (no extended support known).
    """
    calendar = {}
    for entry in cluster_versions or []:
        version = str(entry.get("clusterVersion") or "")
        standard_end = entry.get("endOfStandardSupportDate")
        if _key(version) is None or not standard_end:
            continue
        extended_end = entry.get("endOfExtendedSupportDate") or standard_end
        calendar[version] = (_date(standard_end).isoformat(), _date(extended_end).isoformat())
    return calendar


def newest_in_standard_support(on, calendar=None):
    """The newest version in standard support on a date, by the calendar (the table by default); None if none."""
    day = _date(on)
    versions = [v for v, (standard_end, _extended) in (calendar or CALENDAR).items() if day < _date(standard_end)]
    return max(versions, key=_key) if versions else None


def support(version, on, calendar=None):
    """Support status of an EKS Kubernetes version on a date.

    calendar: {version: (standard_end, extended_end)} read from EKS (calendar_from_api), or None for
    the table; a version the API did not list is looked up in the table.

    Returns {version, status, standard_end, extended_end, message}; status is one of
    "standard", "extended", "ended" or "unknown".
    """
    version = str(version).strip()
    day = _date(on)
    dates = (calendar or {}).get(version) or CALENDAR.get(version)
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


def control_plane_hourly(version, on, prices, calendar=None):
    """USD per hour of an EKS control plane at `version` on a date (extended support costs more)."""
    hourly = prices["hourly"]
    if version and support(version, on, calendar)["status"] in ("extended", "ended"):
        return hourly["eks_cluster_extended_support"]
    return hourly["eks_cluster"]


# --- DescribeClusterVersions, read-only (module eks_versions_info) --------------------------------


def _call_pages(eks, **kwargs):
    """Every clusterVersions entry of DescribeClusterVersions (``eks`` wrapped with AWSRetry)."""
    entries, token = [], None
    while True:
        if token:
            kwargs["nextToken"] = token
        page = eks.describe_cluster_versions(aws_retry=True, **kwargs)
        entries.extend(page.get("clusterVersions") or [])
        token = page.get("nextToken")
        if not token:
            return entries


def read_calendar(eks, errors):
    """The calendar as EKS answers it, or the table with the reason when it does not.

    errors: the exception types that mean "no answer" (botocore's ClientError and BotoCoreError): an old
    region, a role without eks:DescribeClusterVersions, or an emulator that does not implement it (moto
    5.2.5 answers 404 "Not yet implemented"). Returns {source, reason, calendar} with calendar
    {version: [standard_end, extended_end]}; source "api" when EKS answered with at least one dated version.
    """
    try:
        entries = _call_pages(eks, includeAll=True)
    except errors as exc:
        response = getattr(exc, "response", None) or {}
        error = response.get("Error", {})
        reason = f"{error.get('Code')}: {error.get('Message', '')}".strip() if error else str(exc)
        return {"source": "table", "reason": f"DescribeClusterVersions did not answer ({reason})",
                "calendar": {v: list(d) for v, d in CALENDAR.items()}}
    calendar = calendar_from_api(entries)
    if not calendar:
        return {"source": "table", "reason": "DescribeClusterVersions listed no version with support dates",
                "calendar": {v: list(d) for v, d in CALENDAR.items()}}
    return {"source": "api", "reason": "", "calendar": {v: list(d) for v, d in calendar.items()}}


def report(eks, errors, version, on):
    """What the module returns: the calendar, its source, the version's support and the newest standard one."""
    found = read_calendar(eks, errors)
    calendar = {v: tuple(d) for v, d in found["calendar"].items()} if found["source"] == "api" else None
    result = dict(found, newest_standard=newest_in_standard_support(on, calendar or CALENDAR),
                  judged_on=_date(on).isoformat())
    if version:
        result["support"] = support(version, on, calendar)
    return result
