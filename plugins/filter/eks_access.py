# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""eks_cidr_problems: why a list of CIDRs may not open the EKS public API endpoint (for preflight)."""

from __future__ import annotations

import ipaddress


def eks_cidr_problems(cidrs, allow_anywhere=False):
    """One sentence per CIDR that EKS would refuse or that opens the endpoint wider than allowed.

    Parsed with ``ipaddress`` (strict: host bits must be zero): 300.1.1.1/32 is refused, and so is an IPv6
    network (EKS's publicAccessCidrs take IPv4 only). A network that covers every address (0.0.0.0/0) needs
    ``allow_anywhere``.
    """
    problems = []
    for cidr in cidrs or []:
        text = str(cidr).strip()
        if "/" not in text:
            problems.append(f"{text!r} is not a CIDR (write a prefix length, e.g. {text}/32)")
            continue
        try:
            network = ipaddress.ip_network(text, strict=True)
        except ValueError as exc:
            problems.append(f"{text!r} is not a valid IPv4 CIDR ({exc})")
            continue
        if network.version != 4:
            problems.append(f"{text!r} is IPv6; EKS public access CIDRs are IPv4 only")
        elif network.prefixlen == 0 and not allow_anywhere:
            problems.append(f"{text!r} opens the API endpoint to the whole internet: set "
                            "eks_allow_public_endpoint_anywhere: true to mean it, or give your own address/32")
    return problems


class FilterModule:
    """EKS endpoint access filters."""

    def filters(self):
        return {"eks_cidr_problems": eks_cidr_problems}
