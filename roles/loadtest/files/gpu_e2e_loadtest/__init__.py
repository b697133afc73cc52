"""Helpers of the Locust load test: the stage plans of the scenarios, the Triton
binary request codec and the per-stage statistics. Pure Python (numpy only for
tensor bytes) so each piece is unit-tested without Locust running."""
