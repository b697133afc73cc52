# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one home for latency percentiles.

- `histogram_percentile`: the percentile of a Locust response-time histogram
  ({rounded ms: count}), computed as Locust computes it. The load generator's
  per-stage statistics use it (roles/loadtest/files/gpu_e2e_loadtest/percentiles.py
  is a link to this file, like plan.py, so this module imports only the standard library).
- `sample_percentile` / `sample_percentiles`: the percentile of raw samples, the
  same figures as numpy.percentile with method "linear" (its default) or "nearest",
  for the smoke test's and the serving benchmark's timed requests.
"""

from __future__ import annotations

import math

METHODS = ("linear", "nearest")


def histogram_percentile(histogram, fraction):
    """Percentile of a {rounded ms: count} histogram, as Locust computes it; None for an empty window.

    Not locust.stats.calculate_response_time_percentile itself: importing locust gevent-patches the whole
    process that imports it (the unit tests' too, where ssl is already imported and then breaks).
    tests/unit/test_loadtest_codec.py checks this against Locust's function in a subprocess.
    """
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank = int(total * fraction)
    seen = total
    # Walk from the slowest bucket down, like locust.stats.calculate_response_time_percentile.
    for value in sorted(histogram, reverse=True):
        seen -= histogram[value]
        if seen <= rank:
            return value
    return min(histogram)


def sample_percentile(values, percent, method="linear"):
    """The `percent` (0-100) percentile of samples, as numpy.percentile(values, percent, method=method)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if not 0 <= percent <= 100:
        raise ValueError(f"percent must be from 0 to 100, got {percent!r}")
    ordered = sorted(float(v) for v in values)
    if not ordered:
        return None
    position = percent / 100.0 * (len(ordered) - 1)
    if method == "nearest":
        return ordered[round(position)]  # round half to even, as numpy does
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def sample_percentiles(values, percents=(50, 95, 99), method="linear", digits=3):
    """{"p50": ..., "p95": ..., "p99": ...} of samples, rounded; None for each when there are none."""
    result = {}
    for percent in percents:
        value = sample_percentile(values, percent, method)
        result[f"p{percent:g}"] = None if value is None else round(value, digits)
    return result
