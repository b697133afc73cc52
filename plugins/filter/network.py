# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CIDR checks for preflight, with the standard library's ipaddress.

Why by hand: ansible.utils' ipaddr filters need the netaddr library and give
no reason when a value is wrong; preflight needs one readable line per problem.
"""

from __future__ import annotations

import ipaddress


def _network(value):
    try:
        return ipaddress.ip_network(str(value), strict=True), None
    except ValueError as exc:
        return None, str(exc)


def cidr_problems(vpc_cidr, subnets, min_prefix=16, max_prefix=28):
    """Return a list of one-line problems with a VPC CIDR and its subnet CIDRs.

    ``subnets`` maps a label (``public-a``) to a CIDR. An empty list means valid.
    """
    problems = []
    vpc, error = _network(vpc_cidr)
    if vpc is None:
        return [f"vpc_cidr {vpc_cidr!r} is not a valid CIDR ({error})"]
    if vpc.version != 4 or not min_prefix <= vpc.prefixlen <= max_prefix:
        problems.append(
            f"vpc_cidr {vpc_cidr} must be an IPv4 block between /{min_prefix} and /{max_prefix} (AWS limit)"
        )
    parsed = {}
    for label, cidr in (subnets or {}).items():
        net, error = _network(cidr)
        if net is None:
            problems.append(f"subnet {label} CIDR {cidr!r} is not a valid CIDR ({error})")
            continue
        if net.version != vpc.version or not net.subnet_of(vpc):
            problems.append(f"subnet {label} CIDR {cidr} is not inside vpc_cidr {vpc_cidr}")
        elif net.prefixlen > max_prefix:
            problems.append(f"subnet {label} CIDR {cidr} is smaller than /{max_prefix} (AWS limit)")
        parsed[label] = net
    labels = sorted(parsed)
    for i, first in enumerate(labels):
        for second in labels[i + 1:]:
            if parsed[first].overlaps(parsed[second]):
                problems.append(f"subnets {first} ({parsed[first]}) and {second} ({parsed[second]}) overlap")
    return problems


class FilterModule:
    """Network filters."""

    def filters(self):
        return {"cidr_problems": cidr_problems}
