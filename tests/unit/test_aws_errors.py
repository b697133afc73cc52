"""plugins/module_utils/aws_errors.py: the one AWS call wrapper and error type."""
from __future__ import annotations

import botocore.exceptions
import pytest

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_errors import GpuE2eAWSError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_errors import aws_call
from ansible_collections.gpu_e2e.platform.plugins.module_utils.ecr_tags import EcrTagsError


def client_error(code):
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": code}}, "DescribeThing")


def raising(exc):
    def method(**kwargs):
        raise exc
    return method


def test_each_call_opts_in_to_the_clients_retries():
    seen = {}

    def method(**kwargs):
        seen.update(kwargs)
        return {"ok": True}

    assert aws_call(EcrTagsError, "describe it", method, name="x") == {"ok": True}
    assert seen == {"aws_retry": True, "name": "x"}


def test_a_missing_resource_is_the_default_only_for_the_named_codes():
    method = raising(client_error("ResourceNotFoundException"))
    assert aws_call(EcrTagsError, "describe it", method, missing="ResourceNotFoundException") is None
    assert aws_call(EcrTagsError, "describe it", method, missing=("A", "ResourceNotFoundException"),
                    default={}) == {}
    with pytest.raises(EcrTagsError, match="Failed to describe it"):
        aws_call(EcrTagsError, "describe it", method)


@pytest.mark.parametrize("exc", [client_error("AccessDenied"), botocore.exceptions.EndpointConnectionError(
    endpoint_url="http://127.0.0.1:1")])
def test_every_botocore_error_becomes_the_callers_error_type(exc):
    with pytest.raises(EcrTagsError, match="Failed to tag repo") as raised:
        aws_call(EcrTagsError, "tag repo", raising(exc), missing="ResourceNotFoundException")
    assert isinstance(raised.value, GpuE2eAWSError) and isinstance(raised.value, AnsibleAWSError)
    assert raised.value.exception is exc
