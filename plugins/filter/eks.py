# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""eks_support: where an EKS Kubernetes version stands in AWS's support calendar (for preflight)."""

from __future__ import annotations

import datetime

from ansible_collections.gpu_e2e.platform.plugins.module_utils import aws_prices
from ansible_collections.gpu_e2e.platform.plugins.module_utils import eks_versions


def eks_support(version, on=None, calendar=None):
    """Support status of `version` on `on` (an ISO date; default: today, UTC). See module_utils/eks_versions.py.

    calendar: {version: [standard_end, extended_end]} as gpu_e2e.platform.eks_versions_info returns it (read
    from EKS); omitted or empty, the collection's table answers. Adds control_plane_usd_per_hour, from the same
    price table the cost audit uses.
    """
    day = on or datetime.datetime.now(datetime.timezone.utc).date()
    calendar = {str(k): tuple(v) for k, v in (calendar or {}).items()}
    hourly = eks_versions.control_plane_hourly(version, day, aws_prices.default_table(), calendar)
    return dict(eks_versions.support(version, day, calendar), control_plane_usd_per_hour=hourly)


class FilterModule:
    """EKS filters."""

    def filters(self):
        return {"eks_support": eks_support}
