"""EKS version lifecycle: support status by date, the preflight filter, and the control-plane price it implies."""
from __future__ import annotations

import datetime

import pytest

from ansible_collections.gpu_e2e.platform.plugins.filter.eks import eks_support
from ansible_collections.gpu_e2e.platform.plugins.module_utils import aws_prices
from ansible_collections.gpu_e2e.platform.plugins.module_utils import cost_explorer as ce
from ansible_collections.gpu_e2e.platform.plugins.module_utils import eks_versions


@pytest.mark.parametrize(("version", "day", "status"), [
    ("1.32", "2026-03-22", "standard"),
    ("1.32", "2026-03-23", "extended"),  # the end date is the first day of extended support
    ("1.32", "2026-11-30", "extended"),
    ("1.31", "2026-11-25", "extended"),
    ("1.31", "2026-11-26", "ended"),
    ("1.34", "2026-11-30", "standard"),
    ("1.19", "2026-11-30", "ended"),  # older than the calendar: long gone
    ("1.40", "2026-11-30", "unknown"),  # newer than the calendar: not guessed
    ("latest", "2026-11-30", "unknown"),
])
def test_status_by_date(version, day, status):
    assert eks_versions.support(version, day)["status"] == status


def test_messages_name_the_dates():
    extended = eks_versions.support("1.32", "2026-11-30")
    assert extended["standard_end"] == "2026-03-23" and extended["extended_end"] == "2027-03-23"
    assert "extended support" in extended["message"] and "2027-03-23" in extended["message"]
    assert "no longer creates" in eks_versions.support("1.31", "2026-11-30")["message"]


def test_the_filter_defaults_to_today():
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    assert eks_support("1.33") == dict(eks_versions.support("1.33", today), control_plane_usd_per_hour=0.60)
    assert eks_support("1.35", "2026-11-30")["control_plane_usd_per_hour"] == 0.10
    assert eks_support("1.33", "2026-07-28")["status"] == "standard"


def test_extended_support_costs_six_times_the_standard_control_plane():
    prices = aws_prices.default_table()
    assert eks_versions.control_plane_hourly("1.35", "2026-11-30", prices) == 0.10
    assert eks_versions.control_plane_hourly("1.32", "2026-11-30", prices) == 0.60
    assert eks_versions.control_plane_hourly(None, "2026-11-30", prices) == 0.10  # version not recorded


def test_the_cost_estimate_prices_the_recorded_version_at_the_run_date():
    prices = aws_prices.default_table()
    window = (ce.parse_time("2026-11-20T00:00:00Z"), ce.parse_time("2026-11-20T10:00:00Z"))
    entries = [ce.normalize_entry({"resource": "eks_cluster", "version": v}, *window) for v in ("1.32", "1.34")]
    result = ce.estimate(entries, prices)
    assert [(i["label"], i["usd_per_hour"]) for i in result["items"]] == [
        ("eks_cluster 1.32", 0.60), ("eks_cluster 1.34", 0.10)]
    assert result["total_usd"] == pytest.approx(10 * 0.60 + 10 * 0.10)
