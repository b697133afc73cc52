"""The rules preflight applies to names, numbers, ports and the load target (plugins/module_utils)."""
from __future__ import annotations

import pytest

from ansible_collections.gpu_e2e.platform.plugins.filter import inputs
from ansible_collections.gpu_e2e.platform.plugins.module_utils import aws_names
from ansible_collections.gpu_e2e.platform.plugins.module_utils.input_bounds import number_problem
from ansible_collections.gpu_e2e.platform.plugins.module_utils.input_bounds import overridden
from ansible_collections.gpu_e2e.platform.plugins.module_utils.input_bounds import parse_number
from ansible_collections.gpu_e2e.platform.plugins.module_utils.input_ports import port_problems
from ansible_collections.gpu_e2e.platform.plugins.module_utils.load_target import load_target_problem
from ansible_collections.gpu_e2e.platform.plugins.module_utils.run_estimate import estimate


@pytest.mark.parametrize("name", ["gpu-e2e-models-123456789012", "abc", "a.b-c", "a" * 63])
def test_valid_bucket_names(name):
    assert aws_names.s3_bucket_problem(name) is None


@pytest.mark.parametrize("name, fragment", [
    ("xn--gpu-models-123456789012", "prefix 'xn--'"),
    ("sthree-x-models", "prefix 'sthree-'"),
    ("amzn-s3-demo-bucket", "prefix 'amzn-s3-demo-'"),
    ("models-s3alias", "suffix '-s3alias'"),
    ("models--ol-s3", "suffix '--ol-s3'"),
    ("models.mrap", "suffix '.mrap'"),
    ("models--x-s3", "suffix '--x-s3'"),
    ("ab", "3-63 characters"),
    ("a" * 64, "3-63 characters"),
    ("Upper-case", "lowercase"),
    ("-leading", "starts and ends"),
    ("a..b", "adjacent periods"),
    ("192.168.1.1", "IP address"),
])
def test_bucket_rules(name, fragment):
    assert fragment in aws_names.s3_bucket_problem(name)


def test_iam_eks_ecr_and_budget_lengths():
    assert aws_names.name_problem("r" * 64, "iam_role") is None
    assert "1-64" in aws_names.name_problem("r" * 65, "iam_role")
    assert aws_names.name_problem("p" * 128, "iam_policy") is None
    assert "1-128" in aws_names.name_problem("p" * 129, "iam_policy")
    assert "only letters" in aws_names.name_problem("a role", "iam_role")
    assert aws_names.name_problem("c" * 100, "eks_cluster") is None
    assert "1-100" in aws_names.name_problem("c" * 101, "eks_cluster")
    assert aws_names.name_problem("n" * 63, "eks_nodegroup") is None
    assert "1-63" in aws_names.name_problem("n" * 64, "eks_nodegroup")
    assert "starts with a letter or digit" in aws_names.name_problem("-x", "eks_cluster")
    assert aws_names.name_problem("gpu-e2e/tritonserver", "ecr_repository") is None
    assert "lowercase path" in aws_names.name_problem("xn--gpu/tritonserver", "ecr_repository")
    assert "no ':'" in aws_names.name_problem("a:b", "budget")
    with pytest.raises(ValueError):
        aws_names.name_problem("x", "sqs")


@pytest.mark.parametrize("value, expected", [
    (1, 1.0), ("2.5", 2.5), (" 3 ", 3.0), ("1e3", 1000.0),
    ("inf", None), (float("inf"), None), (float("nan"), None), ("nan", None), (True, None), (None, None), ("ten", None),
])
def test_parse_number(value, expected):
    assert parse_number(value) == expected


def test_number_rules_name_the_variable_and_the_fix():
    base = {"var": "x_s", "min": 0, "min_exclusive": True, "max": 10}
    assert number_problem(dict(base, value=5)) is None
    assert number_problem(dict(base, value="inf")).startswith("x_s='inf' is not a finite number: set x_s to")
    assert "at or below 0" in number_problem(dict(base, value=0))
    assert "above 10" in number_problem(dict(base, value=11))
    assert "is not a whole number" in number_problem(dict(base, value=2.5, integer=True))
    excl = {"var": "pct", "min": 0, "max": 100, "max_exclusive": True}
    assert "at or above 100" in number_problem(dict(excl, value=100))


def test_an_override_lifts_the_bound_up_to_the_hard_limit():
    check = {"var": "soak_s", "min": 1, "max": 7200, "override": "long_i_know", "hard_max": 86400}
    assert "or set long_i_know=true" in number_problem(dict(check, value=10000, overridden=False))
    assert number_problem(dict(check, value=10000, overridden=True)) is None
    assert "even with long_i_know=true" in number_problem(dict(check, value=10_000_000, overridden="true"))
    assert overridden([dict(check, value=10000, overridden=True), dict(check, value=10, overridden=True)]) == [
        {"var": "soak_s", "value": 10000.0, "override": "long_i_know", "text": "soak_s=10000 (long_i_know=true)"}]


def test_ports_must_be_distinct_and_valid():
    assert port_problems({"a": 8000, "b": "8001"}) == []
    assert port_problems({"triton_metrics_port": 9090, "observability_prometheus_port": 9090}) == [
        "observability_prometheus_port=9090 collides with triton_metrics_port=9090: give each service its own port"]
    assert "is not a TCP port" in port_problems({"a": 70000})[0]
    assert "is not a TCP port" in port_problems({"a": "http"})[0]


# Loopback addresses only, on purpose: this is a refusal test of a load tool.
OWN = ["http://127.0.0.1:8000"]


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost:8000/", "HTTP://127.0.0.1:8000"])
def test_the_stacks_own_endpoint_is_accepted(url):
    assert load_target_problem(url, OWN) is None


@pytest.mark.parametrize("url, fragment", [
    ("http://127.0.0.2:9", "not this stack's own endpoint (http://127.0.0.1:8000)"),
    ("http://127.0.0.1:8001", "not this stack's own endpoint"),
    ("https://127.0.0.1:8000", "not this stack's own endpoint"),
    ("http://[::1]:8000", "not this stack's own endpoint"),
    ("http://user:pw@127.0.0.1:8000", "carries credentials"),
    ("http://127.0.0.1:8000/v2/models", "has a path"),
    ("ftp://127.0.0.1:8000", "not an http:// or https://"),
    ("http://127.0.0.1:99999", "is not a URL"),
])
def test_any_other_target_is_refused(url, fragment):
    assert fragment in load_target_problem(url, OWN)


def test_the_ingress_host_is_an_own_endpoint_when_configured():
    own = ["http://127.0.0.1:8000", "https://triton.example.com"]
    assert load_target_problem("https://triton.example.com/", own) is None
    assert load_target_problem("https://triton.example.com:443", own) is None
    assert load_target_problem("http://triton.example.com", own)
    # An empty ingress host allows nothing.
    assert load_target_problem("https://", ["https://"]) == "is not an http:// or https:// URL with a host"


def test_estimate_uses_the_lower_of_the_spot_cap_and_on_demand():
    run = estimate(3600, 2, "g4dn.xlarge", "SPOT", 0.30, 0.10)
    assert run["hours"] == 2.0
    assert run["gpu_usd_per_hour"] == 0.30
    assert run["usd"] == round(2.0 * (2 * 0.30 + 0.10 + 0.045), 2)
    assert estimate(0, 1, "g4dn.xlarge", "ON_DEMAND", 0.30)["gpu_usd_per_hour"] == 0.526


def test_estimate_prices_the_dearest_gpu_type_and_the_system_nodes():
    """A diversified spot group may launch any of its types: the upper estimate takes the dearest one."""
    types = ["g4dn.xlarge", "g5.xlarge", "g6.xlarge"]
    on_demand = estimate(0, 1, types, "ON_DEMAND", None, 0.10)
    assert on_demand["gpu_usd_per_hour"] == max(estimate(0, 1, t, "ON_DEMAND", None, 0.10)["gpu_usd_per_hour"]
                                                for t in types)
    assert on_demand["gpu_usd_per_hour"] > estimate(0, 1, "g4dn.xlarge", "ON_DEMAND", None, 0.10)["gpu_usd_per_hour"]
    assert "g5.xlarge" in on_demand["text"]
    capped = estimate(0, 1, types, "SPOT", 0.45, 0.10)
    assert capped["gpu_usd_per_hour"] == 0.45  # every type's on-demand price is above the cap
    with_system = estimate(3600, 1, types, "SPOT", 0.45, 0.10, system_nodes=2, system_instance_types=["t3.medium"])
    assert with_system["system_usd_per_hour"] == 0.0416
    assert with_system["usd"] == round(2.0 * (0.45 + 2 * 0.0416 + 0.10 + 0.045), 2)
    assert "2 system node(s)" in with_system["text"]


def test_filters_give_one_line_per_refusal():
    assert inputs.one_line(["a\n b", "c"]) == "a b; c"
    assert inputs.one_line(["1", "2", "3", "4", "5"]) == "1; 2; 3 (and 2 more)"
    assert inputs.aws_name_problems([{"var": "model_bucket_name", "value": "xn--a-b", "kind": "s3_bucket"}]) == [
        "model_bucket_name='xn--a-b' is refused: S3 reserves the bucket name prefix 'xn--'; "
        "set model_bucket_name to a valid name"]
    assert inputs.scope_problems([
        {"var": "cluster_name", "value": "other", "equals": "gpu-e2e"},
        {"var": "eks_triton_role_name", "value": "x-irsa", "prefix": "gpu-e2e-"},
        {"var": "model_ecr_repository", "value": "gpu-e2e/tritonserver", "prefix": "gpu-e2e/"},
    ]) == ["cluster_name='other' is not 'gpu-e2e'", "eks_triton_role_name='x-irsa' does not start with 'gpu-e2e-'"]
    spec = {"argument_specs": {"main": {"options": {"a": {"type": "int", "default": 1}, "b": {"type": "str"}}}}}
    assert inputs.spec_options(spec, "main", ["b"]) == {"a": {"type": "int"}}


def test_spec_errors_name_the_role():
    results = [{"preflight__role": "eks", "argument_errors": ["value of x must be one of: a"]},
               {"preflight__role": "vpc", "msg": "The arg spec validation passed"}]
    assert inputs.spec_errors(results) == ["value of x must be one of: a (roles/eks/meta/argument_specs.yml)"]
