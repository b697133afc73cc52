"""The one percentile helper (module_utils/percentiles.py): raw samples as numpy computes them, and Locust's
histogram walk (checked against Locust itself in tests/unit/test_loadtest_codec.py)."""

import random

import numpy as np
import pytest

from ansible_collections.gpu_e2e.platform.plugins.module_utils import percentiles


@pytest.mark.parametrize("method", percentiles.METHODS)
def test_sample_percentiles_are_numpys(method):
    rng = random.Random(11)
    for _case in range(200):
        values = [rng.uniform(0.1, 50.0) for _value in range(rng.randint(1, 40))]
        for percent in (0, 1, 25, 50, 90, 95, 99, 100, rng.uniform(0, 100)):
            ours = percentiles.sample_percentile(values, percent, method)
            assert ours == pytest.approx(float(np.percentile(values, percent, method=method)), rel=1e-12, abs=1e-12)


def test_nearest_rounds_half_to_even_like_numpy():
    for values, expected in (([1, 2, 3, 4], 3.0), ([1, 2], 1.0)):
        assert percentiles.sample_percentile(values, 50, "nearest") == expected
        assert np.percentile(values, 50, method="nearest") == expected


def test_sample_percentiles_round_and_empty_samples_give_none():
    assert percentiles.sample_percentiles([1.0, 2.0, 4.0]) == {"p50": 2.0, "p95": 3.8, "p99": 3.96}
    assert percentiles.sample_percentiles([]) == {"p50": None, "p95": None, "p99": None}


@pytest.mark.parametrize("args, message", [((50, "midpoint"), "method must be one of"), ((101,), "from 0 to 100")])
def test_bad_arguments_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        percentiles.sample_percentile([1.0], *args)


def test_histogram_percentile_walks_from_the_slowest_bucket():
    assert percentiles.histogram_percentile({10: 100, 50: 50, 90: 60}, 0.40) == 10
    assert percentiles.histogram_percentile({10: 100, 50: 50, 90: 60}, 0.95) == 90
    assert percentiles.histogram_percentile({}, 0.5) is None
