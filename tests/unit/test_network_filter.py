from __future__ import annotations

import pytest

from ansible_collections.gpu_e2e.platform.plugins.filter.network import cidr_problems

GOOD = {"public-a": "10.42.0.0/20", "public-b": "10.42.16.0/20",
        "private-a": "10.42.64.0/18", "private-b": "10.42.128.0/18"}


def test_the_default_layout_is_valid():
    assert cidr_problems("10.42.0.0/16", GOOD) == []


@pytest.mark.parametrize("vpc, fragment", [
    ("10.0.0.0/33", "is not a valid CIDR"),
    ("10.0.0.1/16", "is not a valid CIDR"),  # host bits set
    ("banana", "is not a valid CIDR"),
    ("10.0.0.0/8", "between /16 and /28"),
])
def test_a_bad_vpc_cidr_gives_one_reason(vpc, fragment):
    problems = cidr_problems(vpc, GOOD)
    assert problems and fragment in problems[0]


def test_subnets_outside_the_vpc_are_named():
    problems = cidr_problems("10.1.0.0/16", GOOD)
    assert len(problems) == 4
    assert all("is not inside vpc_cidr 10.1.0.0/16" in p for p in problems)


def test_overlapping_subnets_are_reported():
    subnets = dict(GOOD, **{"public-b": "10.42.0.0/21"})
    assert cidr_problems("10.42.0.0/16", subnets) == [
        "subnets public-a (10.42.0.0/20) and public-b (10.42.0.0/21) overlap"
    ]
