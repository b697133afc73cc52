# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tags of an existing ECR repository, kept idempotent.

Hand-written because no maintained module does it: community.aws.ecs_ecr has
no tags option and neither collection has a generic tagging module for ECR.
The stack's repository must carry ``stack=<name>`` so that the leftover check
finds it from any machine, not only through an ARN in a local run directory.
"""

from __future__ import annotations

from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_errors import GpuE2eAWSError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_errors import aws_call
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags


class EcrTagsError(GpuE2eAWSError):
    """The one error type of the ECR tag logic; the module catches it once."""


def _call(what, func, **kwargs):
    return aws_call(EcrTagsError, what, func, **kwargs)


def ensure_tags(client, params, check_mode=False):
    """Set ``params['tags']`` on repository ``params['name']`` (other tags removed when ``purge_tags``)."""
    name = params["name"]
    # In check mode the repository may be about to be created by the task before.
    found = aws_call(EcrTagsError, f"describe ECR repository {name}", client.describe_repositories,
                     missing="RepositoryNotFoundException" if check_mode else None, repositoryNames=[name])
    if found is None:
        return {"changed": True, "tags": dict(params["tags"]), "repository_arn": "",
                "diff": {"before": {}, "after": {"tags": dict(params["tags"])}}}
    arn = found["repositories"][0]["repositoryArn"]
    current = boto3_tag_list_to_ansible_dict(
        _call(f"list tags of {name}", client.list_tags_for_resource, resourceArn=arn).get("tags") or [])
    to_set, to_unset = compare_aws_tags(current, params["tags"], purge_tags=params["purge_tags"])
    if not check_mode:
        if to_set:
            _call(f"tag {name}", client.tag_resource, resourceArn=arn, tags=ansible_dict_to_boto3_tag_list(to_set))
        if to_unset:
            _call(f"untag {name}", client.untag_resource, resourceArn=arn, tagKeys=list(to_unset))
    after = {k: v for k, v in current.items() if k not in to_unset}
    after.update(to_set)
    return {"changed": bool(to_set or to_unset), "tags": after, "repository_arn": arn,
            "diff": {"before": {"tags": current}, "after": {"tags": after}}}
