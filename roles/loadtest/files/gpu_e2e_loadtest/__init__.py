"""Helpers of the Locust load test: the stage plans of the scenarios (plan.py, a link to the collection's
module_utils/loadtest_plan.py), the Triton binary request codec (tritonclient's request builder and response
parser) and the per-stage statistics (with percentiles.py, a link to module_utils/percentiles.py). No Locust
import, so each piece is unit-tested without Locust running."""
