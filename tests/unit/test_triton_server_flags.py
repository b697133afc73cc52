"""One tritonserver flag list for both profiles (roles/triton/vars/main.yml, `triton__server_args`).

The chart's default `serverArgs` are that list rendered for the aws profile, and the local process
binds every port to loopback with it.
"""

import os

import triton_role_flags as role_flags
import yaml

VALUES = os.path.join(role_flags.ROLE, "files", "charts", "triton", "values.yaml")


def test_the_chart_defaults_are_the_role_list_for_the_aws_profile():
    with open(VALUES, encoding="utf-8") as handle:
        chart = yaml.safe_load(handle)
    assert chart["serverArgs"] == role_flags.server_args("aws")


def test_the_local_profile_binds_http_grpc_and_metrics_to_loopback_only():
    args = role_flags.server_args("local")
    addresses = {a.split("=", 1)[0]: a.split("=", 1)[1] for a in args if a.split("=", 1)[0].endswith("-address")}
    assert addresses == {"--http-address": "127.0.0.1", "--grpc-address": "127.0.0.1",
                         "--metrics-address": "127.0.0.1"}
    assert "--allow-gpu-metrics=false" in args


def test_overrides_reach_the_list_as_extra_vars_would():
    args = role_flags.server_args("local", triton_http_port=18000, triton_server_extra_args=["--log-info=false"])
    assert "--http-port=18000" in args and args[-1] == "--log-info=false"
