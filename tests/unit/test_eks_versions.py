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


# --- The default version, and the calendar read from EKS DescribeClusterVersions -----------------------------

CHANGE_DAY = "2026-12-02"  # the day the default moved to 1.35


def _default_versions():
    import pathlib

    import yaml

    root = pathlib.Path(__file__).resolve().parents[2]
    # The one home of the version, and any inventory that overrides it.
    files = ["roles/platform_defaults/defaults/main.yml", "inventories/local/group_vars/all/kubernetes.yml",
             "inventories/aws/group_vars/all/kubernetes.yml"]
    found = {f: (yaml.safe_load((root / f).read_text()) or {}).get("eks_cluster_version") for f in files}
    assert found[files[0]] is not None
    return {f: version for f, version in found.items() if version is not None}


def test_the_default_version_is_the_newest_in_standard_support_and_priced_at_the_standard_rate():
    """Moving any default back to 1.32 (extended support on that day) fails this."""
    defaults = _default_versions()
    assert set(defaults.values()) == {eks_versions.newest_in_standard_support(CHANGE_DAY)}, defaults
    (version,) = set(defaults.values())
    assert eks_versions.support(version, CHANGE_DAY)["status"] == "standard"
    prices = aws_prices.default_table()
    window = (ce.parse_time(f"{CHANGE_DAY}T00:00:00Z"), ce.parse_time(f"{CHANGE_DAY}T02:00:00Z"))
    (item,) = ce.estimate([ce.normalize_entry({"resource": "eks_cluster", "version": version}, *window)],
                          prices)["items"]
    assert item["usd_per_hour"] == 0.10
    assert eks_support(version, CHANGE_DAY)["control_plane_usd_per_hour"] == 0.10
    # The extended rate only for a version in extended support on that day.
    (old,) = ce.estimate([ce.normalize_entry({"resource": "eks_cluster", "version": "1.32"}, *window)],
                         prices)["items"]
    assert old["usd_per_hour"] == 0.60


def test_newest_in_standard_support_follows_the_date():
    assert eks_versions.newest_in_standard_support("2026-07-28") == "1.35"
    assert eks_versions.newest_in_standard_support("2027-03-27") is None  # the table runs out: never guessed
    calendar = {"1.36": ("2027-06-01", "2028-06-01"), "1.35": ("2027-03-27", "2028-03-27")}
    assert eks_versions.newest_in_standard_support("2027-03-27", calendar) == "1.36"


API_ANSWER = [
    {"clusterVersion": "1.36", "endOfStandardSupportDate": datetime.datetime(2027, 7, 29, tzinfo=datetime.UTC),
     "endOfExtendedSupportDate": datetime.datetime(2028, 7, 29, tzinfo=datetime.UTC)},
    {"clusterVersion": "1.32", "endOfStandardSupportDate": datetime.datetime(2026, 3, 23, tzinfo=datetime.UTC),
     "endOfExtendedSupportDate": datetime.datetime(2027, 3, 23, tzinfo=datetime.UTC)},
    {"clusterVersion": "1.37", "versionStatus": "UNSUPPORTED"},  # no dates: left to the table
]


def test_the_calendar_from_the_api_answers_for_the_versions_it_dates():
    calendar = eks_versions.calendar_from_api(API_ANSWER)
    assert calendar == {"1.36": ("2027-07-29", "2028-07-29"), "1.32": ("2026-03-23", "2027-03-23")}
    # 1.36 is unknown to the table, but the API dates it.
    assert eks_versions.support("1.36", CHANGE_DAY)["status"] == "unknown"
    assert eks_versions.support("1.36", CHANGE_DAY, calendar)["status"] == "standard"
    assert eks_support("1.36", CHANGE_DAY, calendar={"1.36": ["2027-07-29", "2028-07-29"]})[
        "control_plane_usd_per_hour"] == 0.10
    # The API wins over the table where both date a version.
    assert eks_versions.support("1.35", "2027-01-01", {"1.35": ("2026-12-31", "2027-12-31")})["status"] == "extended"


class _Eks:
    def __init__(self, pages=None, error=None):
        self.pages, self.error, self.calls = list(pages or []), error, []

    def describe_cluster_versions(self, aws_retry=False, **kwargs):
        self.calls.append(kwargs)
        if self.error:
            raise self.error
        return self.pages.pop(0)


class _ApiError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.response = {"Error": {"Code": code, "Message": message}}


def test_the_module_reads_every_page_and_judges_the_version_by_the_api():
    eks = _Eks(pages=[{"clusterVersions": API_ANSWER[:1], "nextToken": "n"}, {"clusterVersions": API_ANSWER[1:]}])
    result = eks_versions.report(eks, (_ApiError,), "1.36", CHANGE_DAY)
    assert [c.get("nextToken") for c in eks.calls] == [None, "n"] and eks.calls[0]["includeAll"] is True
    assert result["source"] == "api" and result["reason"] == ""
    assert result["support"]["status"] == "standard" and result["newest_standard"] == "1.36"
    assert result["calendar"]["1.32"] == ["2026-03-23", "2027-03-23"]


def test_the_table_answers_when_the_api_does_not():
    """The emulator answers 404 "Not yet implemented": the table's verdict, with the reason."""
    eks = _Eks(error=_ApiError("404", "Not yet implemented"))
    result = eks_versions.report(eks, (_ApiError,), "1.35", CHANGE_DAY)
    assert result["source"] == "table"
    assert result["reason"] == "DescribeClusterVersions did not answer (404: Not yet implemented)"
    assert result["support"]["status"] == "standard" and result["newest_standard"] == "1.35"
    assert eks_versions.report(_Eks(pages=[{"clusterVersions": []}]), (_ApiError,), None, CHANGE_DAY)[
        "source"] == "table"
