"""Knee detection of a concurrency sweep (module_utils/loadtest_knee.py)."""

from ansible_collections.gpu_e2e.platform.plugins.module_utils import loadtest_knee as knee


def test_knee_is_the_last_step_that_still_paid_off():
    points = [
        {"users": 4, "rps": 95.0, "p95_ms": 52},
        {"users": 1, "rps": 50.0, "p95_ms": 22},
        {"users": 2, "rps": 90.0, "p95_ms": 25},
        {"users": 8, "rps": 96.0, "p95_ms": 101},
    ]
    found = knee.find_knee(points)
    assert found["users"] == 2 and found["within_range"] is True
    assert "raised throughput by 5.6%" in found["reason"] and "25 -> 52 ms" in found["reason"]


def test_a_still_rising_curve_has_no_knee_in_range():
    points = [{"users": u, "rps": 40.0 * u, "p95_ms": 20} for u in (1, 2, 4)]
    found = knee.find_knee(points)
    assert found["users"] == 4 and found["within_range"] is False
    assert "no knee up to 4 users" in found["reason"]


def test_threshold_moves_the_knee():
    points = [{"users": 1, "rps": 100.0}, {"users": 2, "rps": 130.0}, {"users": 4, "rps": 140.0}]
    assert knee.find_knee(points, min_gain=0.10)["users"] == 2
    assert knee.find_knee(points, min_gain=0.50)["users"] == 1


def test_falling_throughput_is_a_knee_and_no_points_is_none():
    assert knee.find_knee([{"users": 1, "rps": 50.0}, {"users": 2, "rps": 45.0}])["users"] == 1
    assert knee.find_knee([]) is None
    assert knee.find_knee([{"users": 1, "rps": None}]) is None
