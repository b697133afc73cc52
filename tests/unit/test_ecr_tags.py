"""ecr_repository_tags' logic against the real local emulator: tags set once, a re-run changes nothing."""
from __future__ import annotations

import pytest
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from aws_emulator_process import emulator_client, running_emulator

from ansible_collections.gpu_e2e.platform.plugins.module_utils.ecr_tags import EcrTagsError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.ecr_tags import ensure_tags


@pytest.fixture(scope="module")
def ecr():
    with running_emulator({"MOTO_IAM_LOAD_MANAGED_POLICIES": "false"}) as url:
        raw = emulator_client(url, "ecr")
        raw.create_repository(repositoryName="st/triton", tags=[{"Key": "keep", "Value": "1"}])
        yield RetryingBotoClientWrapper(raw, AWSRetry.jittered_backoff(retries=2)), raw


def tags_of(raw):
    arn = raw.describe_repositories(repositoryNames=["st/triton"])["repositories"][0]["repositoryArn"]
    return {t["Key"]: t["Value"] for t in raw.list_tags_for_resource(resourceArn=arn)["tags"]}


def test_tags_are_set_once_and_check_mode_changes_nothing(ecr):
    client, raw = ecr
    params = {"name": "st/triton", "tags": {"stack": "st"}, "purge_tags": False}

    dry = ensure_tags(client, params, check_mode=True)
    assert dry["changed"] and tags_of(raw) == {"keep": "1"}

    first = ensure_tags(client, params)
    assert first["changed"] and tags_of(raw) == {"keep": "1", "stack": "st"}
    assert ensure_tags(client, params)["changed"] is False

    purged = ensure_tags(client, dict(params, purge_tags=True))
    assert purged["changed"] and tags_of(raw) == {"stack": "st"}


def test_a_missing_repository_is_one_error_outside_check_mode(ecr):
    client = ecr[0]
    params = {"name": "st/nope", "tags": {"stack": "st"}, "purge_tags": False}
    assert ensure_tags(client, params, check_mode=True)["changed"] is True
    with pytest.raises(EcrTagsError, match="Failed to describe ECR repository st/nope"):
        ensure_tags(client, params)
