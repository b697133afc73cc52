"""The spot/quota preflight of the GPU node group (gpu_e2e.platform.spot_capacity_info): pure evaluation, and
gather() against fake EC2 / Service Quotas / EKS clients shaped like AWS's answers."""
from __future__ import annotations

import datetime

import botocore.exceptions
import pytest

from ansible_collections.gpu_e2e.platform.plugins.module_utils import spot_capacity_info as sc

NOW = datetime.datetime(2026, 11, 1, 12, 0, tzinfo=datetime.UTC)


def entry(itype, zone, price, minutes_ago):
    return {"InstanceType": itype, "AvailabilityZone": zone, "SpotPrice": f"{price:.6f}",
            "ProductDescription": "Linux/UNIX", "Timestamp": NOW - datetime.timedelta(minutes=minutes_ago)}


T4 = [{"Name": "T4", "Manufacturer": "NVIDIA", "Count": 1}]


def report(prices, quotas=None, offered=None, vcpus=None, zones=("us-east-1a", "us-east-1b"), types=None, gpus=None):
    types = types or sorted({r["instance_type"] for r in prices} or {"g4dn.xlarge"})
    return {
        "region": "us-east-1",
        "instance_types": types,
        "availability_zones": list(zones),
        "prices": prices,
        "offered": offered if offered is not None else {t: list(zones) for t in types},
        "instance_vcpus": vcpus if vcpus is not None else {t: 4 for t in types},
        "instance_gpus": gpus if gpus is not None else {t: T4 for t in types},
        "quotas": quotas or {},
    }


def row(zone, price, itype="g4dn.xlarge"):
    return {"instance_type": itype, "availability_zone": zone, "price": price, "timestamp": "t"}


def test_the_newest_entry_per_type_and_az_is_the_current_price():
    history = [
        entry("g4dn.xlarge", "us-east-1a", 0.50, minutes_ago=90),
        entry("g4dn.xlarge", "us-east-1a", 0.21, minutes_ago=5),
        entry("g4dn.xlarge", "us-east-1b", 0.19, minutes_ago=30),
        entry("g4dn.xlarge", "us-east-1c", 0.01, minutes_ago=1),  # not an AZ of the node group
        entry("g5.xlarge", "us-east-1a", 0.01, minutes_ago=1),  # not a type of the node group
    ]
    rows = sc.price_rows(sc.latest_prices(history, ["g4dn.xlarge"], ["us-east-1a", "us-east-1b"]))
    assert [(r["availability_zone"], r["price"]) for r in rows] == [("us-east-1a", 0.21), ("us-east-1b", 0.19)]


def test_prices_under_the_cap_pass():
    assert sc.evaluate(report([row("us-east-1a", 0.21), row("us-east-1b", 0.19)]), 0.30, 2) == []


def test_one_az_above_the_cap_stops_the_only_type_with_every_price_seen():
    problems = sc.evaluate(report([row("us-east-1a", 0.21), row("us-east-1b", 0.3101)]), 0.30, 2)
    assert len(problems) == 1
    assert problems[0].startswith("no instance type is left: g4dn.xlarge spot price above the cap of $0.3000/h")
    assert "in 1 of 2 AZs" in problems[0]
    assert "g4dn.xlarge us-east-1a $0.2100/h" in problems[0] and "g4dn.xlarge us-east-1b $0.3101/h" in problems[0]


def test_every_type_in_every_az_is_checked_and_the_types_over_the_cap_are_dropped_by_name():
    """Removing the per-type drop of screen() (a whole-list verdict) fails this: g5 and g6 must be named."""
    prices = [row("us-east-1a", 0.21), row("us-east-1b", 0.22),
              row("us-east-1a", 0.29, "g5.xlarge"), row("us-east-1b", 0.41, "g5.xlarge"),
              row("us-east-1a", 0.25, "g6.xlarge"),  # no price in us-east-1b
              row("us-east-1a", 0.28, "g6e.xlarge"), row("us-east-1b", 0.28, "g6e.xlarge")]
    types = ["g4dn.xlarge", "g5.xlarge", "g6.xlarge", "g6e.xlarge"]
    rep = report(prices, types=types)
    dropped, usable = sc.screen(rep, 0.30)
    assert usable == ["g4dn.xlarge", "g6e.xlarge"]
    assert sorted(dropped) == ["g5.xlarge", "g6.xlarge"]
    assert dropped["g5.xlarge"].startswith("g5.xlarge spot price above the cap of $0.3000/h in 1 of 2 AZs")
    assert "g5.xlarge us-east-1b $0.4124/h" not in dropped["g5.xlarge"] and "$0.4100/h" in dropped["g5.xlarge"]
    assert dropped["g6.xlarge"] == "no spot price history for g6.xlarge in us-east-1b"
    assert sc.evaluate(rep, 0.30, 2) == []  # two types are left: the node group goes ahead
    # Without a cap nothing is dropped for its price; on demand, prices do not matter at all.
    assert sc.screen(rep, None)[1] == ["g4dn.xlarge", "g5.xlarge", "g6e.xlarge"]
    assert sc.screen(rep, 0.30, capacity="on_demand") == ({}, types)


def test_a_type_without_an_nvidia_gpu_is_a_problem_even_when_cheap():
    """Removing non_gpu_types() from evaluate() fails this (m5.large is cheap and offered everywhere)."""
    prices = [row("us-east-1a", 0.21), row("us-east-1b", 0.22),
              row("us-east-1a", 0.05, "m5.large"), row("us-east-1b", 0.05, "m5.large")]
    rep = report(prices, gpus={"g4dn.xlarge": T4, "m5.large": []})
    assert sc.non_gpu_types(rep) == ["m5.large"]
    assert sc.evaluate(rep, 0.30, 1) == ["m5.large has no NVIDIA GPU (describe_instance_types)"]
    assert sc.evaluate(rep, 0.30, 1, capacity="on_demand") == ["m5.large has no NVIDIA GPU (describe_instance_types)"]
    other = report(prices[:2], gpus={"g4dn.xlarge": [{"Name": "Radeon Pro V520", "Manufacturer": "AMD", "Count": 1}]})
    assert sc.non_gpu_types(other) == ["g4dn.xlarge"]
    assert "1 x NVIDIA T4" in sc.summary(rep, 0.3)[0] and "no GPU" in sc.summary(rep, 0.3)[1]


def test_the_quota_is_checked_against_the_largest_type_left():
    quota = {"spot": {"code": "L-3819A6DF", "name": "All G and VT Spot Instance Requests", "checked": True,
                      "value": 8.0}}
    prices = [row("us-east-1a", 0.2), row("us-east-1b", 0.2),
              row("us-east-1a", 0.9, "g4dn.2xlarge"), row("us-east-1b", 0.9, "g4dn.2xlarge")]
    rep = report(prices, quotas=quota, vcpus={"g4dn.xlarge": 4, "g4dn.2xlarge": 8})
    assert sc.evaluate(rep, 0.30, max_size=2) == []  # the 8-vCPU type is dropped: 2 x 4 fits in 8
    (problem,) = sc.evaluate(rep, 1.0, max_size=2)
    assert "may need 16 (2 x 8 vCPUs)" in problem


def test_no_cap_means_any_price_passes():
    assert sc.evaluate(report([row("us-east-1a", 9.99), row("us-east-1b", 9.99)]), None, 1) == []
    assert sc.evaluate(report([row("us-east-1a", 9.99), row("us-east-1b", 9.99)]), 0, 1) == []


def test_missing_prices_and_offerings_are_problems():
    missing_price = sc.evaluate(report([row("us-east-1a", 0.2)]), 0.3, 1)
    assert missing_price == ["no instance type is left: no spot price history for g4dn.xlarge in us-east-1b"]
    not_offered = sc.evaluate(report([row("us-east-1a", 0.2)], offered={"g4dn.xlarge": ["us-east-1a"]}), 0.3, 1)
    assert not_offered == ["no instance type is left: g4dn.xlarge is not offered in us-east-1b of us-east-1"]


def test_a_quota_below_the_worst_case_vcpus_is_a_problem():
    quota = {"spot": {"code": "L-3819A6DF", "name": "All G and VT Spot Instance Requests", "checked": True,
                      "value": 4.0}}
    prices = [row("us-east-1a", 0.2), row("us-east-1b", 0.2)]
    assert sc.evaluate(report(prices, quotas=quota), 0.3, max_size=1) == []
    (problem,) = sc.evaluate(report(prices, quotas=quota), 0.3, max_size=2)
    assert "quota is 4 vCPUs, the node group may need 8 (2 x 4 vCPUs)" in problem and "L-3819A6DF" in problem


def test_an_unchecked_quota_is_reported_not_failed():
    quota = {"spot": {"code": "L-3819A6DF", "name": "x", "checked": False, "reason": "NoSuchResourceException: no"}}
    rep = report([row("us-east-1a", 0.2), row("us-east-1b", 0.2)], quotas=quota)
    assert sc.evaluate(rep, 0.3, 5) == []
    assert "spot G/VT vCPU quota not checked: NoSuchResourceException: no" in sc.summary(rep, 0.3)


def test_on_demand_evaluation_ignores_spot_prices_but_checks_its_quota():
    quota = {"on_demand": {"code": "L-DB2E81BA", "name": "Running On-Demand G and VT instances", "checked": True,
                           "value": 0.0}}
    rep = report([row("us-east-1a", 9.0), row("us-east-1b", 9.0)], quotas=quota)
    (problem,) = sc.evaluate(rep, 0.3, 1, capacity="on_demand")
    assert "Running On-Demand G and VT instances quota is 0 vCPUs" in problem


def test_gpu_quota_families():
    assert sc.family_uses_gpu_quota("g4dn.xlarge") and sc.family_uses_gpu_quota("vt1.3xlarge")
    assert not sc.family_uses_gpu_quota("m5.large") and not sc.family_uses_gpu_quota("gr6.4xlarge")


class FakeEc2:
    def __init__(self, history):
        self.history = history
        self.history_calls = []

    def describe_instance_types(self, InstanceTypes, aws_retry=False):
        known = {"g4dn.xlarge": 4, "g4dn.2xlarge": 8, "m5.large": 2}
        unknown = [t for t in InstanceTypes if t not in known]
        if unknown:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "InvalidInstanceType", "Message": f"bad {unknown}"}}, "DescribeInstanceTypes")
        return {"InstanceTypes": [dict({"InstanceType": t, "VCpuInfo": {"DefaultVCpus": known[t]}},
                                       **({} if t.startswith("m5") else {"GpuInfo": {"Gpus": T4}}))
                                  for t in InstanceTypes]}

    def describe_instance_type_offerings(self, aws_retry=False, **kwargs):
        types = kwargs["Filters"][0]["Values"]
        return {"InstanceTypeOfferings": [{"InstanceType": t, "Location": z}
                                          for t in types for z in ("us-east-1a", "us-east-1b", "us-east-1c")]}

    def describe_spot_price_history(self, aws_retry=False, **kwargs):
        self.history_calls.append(kwargs)
        if "NextToken" not in kwargs:
            return {"SpotPriceHistory": self.history[:1], "NextToken": "page2"}
        return {"SpotPriceHistory": self.history[1:]}


class NoQuotas:
    def get_service_quota(self, ServiceCode, QuotaCode, aws_retry=False):
        raise botocore.exceptions.ClientError(
            {"Error": {"Code": "NoSuchResourceException", "Message": "not available in the current Region"}},
            "GetServiceQuota")


class NoNodegroup:
    def describe_nodegroup(self, clusterName, nodegroupName, aws_retry=False):
        raise botocore.exceptions.ClientError(
            {"Error": {"Code": "ResourceNotFoundException", "Message": "No cluster found"}}, "DescribeNodegroup")


def params(**overrides):
    return dict({"instance_types": ["g4dn.xlarge"], "availability_zones": ["us-east-1b", "us-east-1a"],
                 "lookback_hours": 3, "product_descriptions": ["Linux/UNIX"], "check_quota": True,
                 "cluster_name": "c", "nodegroup_name": "ng"}, **overrides)


def test_gather_pages_history_and_goes_on_without_quotas():
    ec2 = FakeEc2([entry("g4dn.xlarge", "us-east-1a", 0.2, 3), entry("g4dn.xlarge", "us-east-1b", 0.25, 3)])
    clients = {"ec2": ec2, "service-quotas": NoQuotas(), "eks": NoNodegroup()}
    rep = sc.gather(clients.__getitem__, params(), "us-east-1", now=NOW)
    assert rep["availability_zones"] == ["us-east-1a", "us-east-1b"]
    assert [r["price"] for r in rep["prices"]] == [0.2, 0.25]
    assert len(ec2.history_calls) == 2
    assert ec2.history_calls[0]["StartTime"] == NOW - datetime.timedelta(hours=3)
    assert ec2.history_calls[0]["Filters"] == [{"Name": "availability-zone", "Values": ["us-east-1a", "us-east-1b"]}]
    assert rep["quotas"]["spot"] == {"code": "L-3819A6DF", "name": "All G and VT Spot Instance Requests",
                                     "checked": False,
                                     "reason": "NoSuchResourceException: not available in the current Region"}
    assert rep["nodegroup"] == {"exists": False}
    assert rep["instance_gpus"] == {"g4dn.xlarge": T4}
    assert sc.evaluate(rep, 0.3, 2) == []


def test_gather_reads_the_gpus_from_describe_instance_types():
    clients = {"ec2": FakeEc2([]), "service-quotas": NoQuotas(), "eks": NoNodegroup()}
    rep = sc.gather(clients.__getitem__, params(instance_types=["g4dn.xlarge", "m5.large"]), "us-east-1", now=NOW)
    assert rep["instance_gpus"] == {"g4dn.xlarge": T4, "m5.large": []}
    assert sc.evaluate(rep, 0.3, 1) == ["m5.large has no NVIDIA GPU (describe_instance_types)"]


def test_gather_reports_an_unknown_instance_type_as_one_error():
    clients = {"ec2": FakeEc2([]), "service-quotas": NoQuotas(), "eks": NoNodegroup()}
    with pytest.raises(sc.SpotCapacityError, match="describe instance types g4dn.huge"):
        sc.gather(clients.__getitem__, params(instance_types=["g4dn.huge"]), "us-east-1", now=NOW)
