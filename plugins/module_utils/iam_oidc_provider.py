# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An IAM OpenID Connect identity provider (the EKS cluster's issuer, for IRSA), kept idempotent.

IAM names a provider by its URL without the scheme: the ARN is
``arn:<partition>:iam::<account>:oidc-provider/<host>/<path>``. The module finds
the provider by that suffix among ``ListOpenIDConnectProviders``, then converges:

* client ids (audiences): ``AddClientIDToOpenIDConnectProvider`` /
  ``RemoveClientIDFromOpenIDConnectProvider``;
* thumbprints: only when the caller gives them. Without thumbprints, the
  provider is created without a ThumbprintList and IAM fetches the issuer's
  top intermediate CA thumbprint itself (AWS behaviour since July 2023; for
  EKS issuers IAM trusts its own library of root CAs anyway). Thumbprints
  that are given are compared case-insensitively and as a set, and replaced
  with ``UpdateOpenIDConnectProviderThumbprint``;
* tags, with ``purge_tags``.
"""

from __future__ import annotations

import re

from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_errors import GpuE2eAWSError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_errors import aws_call
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import fields
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

try:
    import botocore
except ImportError:
    botocore = None  # the module reports the missing library

THUMBPRINT_RE = re.compile(r"^[0-9a-fA-F]{40}$")
DEFAULT_CLIENT_IDS = ("sts.amazonaws.com",)


class IamOidcProviderError(GpuE2eAWSError):
    """The one error type of the OIDC provider logic; the module catches it once."""


# --- pure helpers (unit-tested without AWS) ---------------------------------


def provider_path(url) -> str:
    """'https://oidc.eks.us-east-1.amazonaws.com/id/ABC/' -> 'oidc.eks.us-east-1.amazonaws.com/id/ABC'."""
    text = (url or "").strip()
    if not text.startswith("https://"):
        raise IamOidcProviderError(message=f"url must start with https://, got {url!r}")
    path = text[len("https://"):].rstrip("/")
    if not path or path.startswith("/") or "?" in path or "#" in path or " " in path:
        raise IamOidcProviderError(message=f"url {url!r} is not an issuer URL (https://host[/path])")
    if len(text) > 255:
        raise IamOidcProviderError(message=f"url is longer than 255 characters: {url!r}")
    return path


def normalize_thumbprints(thumbprints):
    """Validated, lower-cased, sorted, de-duplicated SHA-1 thumbprints (or None when not managed)."""
    if thumbprints is None:
        return None
    bad = [t for t in thumbprints if not THUMBPRINT_RE.match(str(t))]
    if bad:
        raise IamOidcProviderError(message=f"thumbprints must be 40 hexadecimal characters (SHA-1), got {bad}")
    if len(set(t.lower() for t in thumbprints)) > 5:
        raise IamOidcProviderError(message="IAM accepts at most 5 thumbprints per provider")
    return sorted(set(t.lower() for t in thumbprints))


def normalize_client_ids(client_ids):
    ids = sorted(set(client_ids or []))
    bad = [c for c in ids if not 1 <= len(c) <= 255]
    if bad:
        raise IamOidcProviderError(message=f"client ids must be 1-255 characters, got {bad}")
    return ids


def find_provider_arn(arns, path):
    """The ARN among `arns` whose resource part is exactly oidc-provider/<path>, else None."""
    suffix = ":oidc-provider/" + path
    for arn in arns:
        if arn.endswith(suffix):
            return arn
    return None


def plan_changes(current, desired, purge_tags=True):
    """What to change on an existing provider: a dict with the keys that need a call.

    current: {'client_ids': [...], 'thumbprints': [...], 'tags': {...}}
    desired: {'client_ids': [...], 'thumbprints': [...] or None, 'tags': {...} or None}
    """
    plan = {}
    have_ids = set(current.get("client_ids") or [])
    want_ids = set(desired["client_ids"])
    if want_ids - have_ids:
        plan["add_client_ids"] = sorted(want_ids - have_ids)
    if have_ids - want_ids:
        plan["remove_client_ids"] = sorted(have_ids - want_ids)
    if desired.get("thumbprints") is not None:
        have_prints = sorted(set(t.lower() for t in current.get("thumbprints") or []))
        if have_prints != desired["thumbprints"]:
            plan["thumbprints"] = desired["thumbprints"]
    if desired.get("tags") is not None:
        to_set, to_unset = compare_aws_tags(current.get("tags") or {}, desired["tags"], purge_tags)
        if to_set:
            plan["set_tags"] = to_set
        if to_unset:
            plan["unset_tags"] = sorted(to_unset)
    return plan


def describe_plan(path, plan) -> list:
    actions = []
    if "add_client_ids" in plan:
        actions.append(f"add client ids {', '.join(plan['add_client_ids'])} to {path}")
    if "remove_client_ids" in plan:
        actions.append(f"remove client ids {', '.join(plan['remove_client_ids'])} from {path}")
    if "thumbprints" in plan:
        actions.append(f"set thumbprints of {path} to {', '.join(plan['thumbprints'])}")
    if "set_tags" in plan:
        actions.append(f"tag {path} with {', '.join(sorted(plan['set_tags']))}")
    if "unset_tags" in plan:
        actions.append(f"untag {path}: {', '.join(plan['unset_tags'])}")
    return actions


# --- the IAM API, with errors translated once --------------------------------


class OidcApi:
    def __init__(self, client):
        self.client = client

    def _call(self, what, method, **kwargs):
        return aws_call(IamOidcProviderError, what, getattr(self.client, method), **kwargs)

    def list_arns(self):
        found = self._call("list the OIDC providers", "list_open_id_connect_providers")
        return [p["Arn"] for p in found.get("OpenIDConnectProviderList") or []]

    def get(self, arn):
        detail = self._call(f"read OIDC provider {arn}", "get_open_id_connect_provider", OpenIDConnectProviderArn=arn)
        tags = detail.get("Tags")
        if tags is None:  # older API answers: tags only through the tag listing
            tags = self._call(f"list the tags of {arn}", "list_open_id_connect_provider_tags",
                              OpenIDConnectProviderArn=arn).get("Tags") or []
        return {
            "arn": arn,
            "url": detail.get("Url", ""),
            "client_ids": sorted(detail.get("ClientIDList") or []),
            "thumbprints": sorted(t.lower() for t in detail.get("ThumbprintList") or []),
            "tags": boto3_tag_list_to_ansible_dict(tags),
        }

    def create(self, url, client_ids, thumbprints, tags):
        kwargs = {"Url": url, "ClientIDList": client_ids}
        if thumbprints:
            kwargs["ThumbprintList"] = thumbprints
        if tags:
            kwargs["Tags"] = ansible_dict_to_boto3_tag_list(tags)
        return self._call(f"create OIDC provider {url}", "create_open_id_connect_provider",
                          **kwargs)["OpenIDConnectProviderArn"]

    def delete(self, arn):
        self._call(f"delete OIDC provider {arn}", "delete_open_id_connect_provider", OpenIDConnectProviderArn=arn)

    def apply(self, arn, plan):
        for client_id in plan.get("add_client_ids", []):
            self._call(f"add client id {client_id} to {arn}", "add_client_id_to_open_id_connect_provider",
                       OpenIDConnectProviderArn=arn, ClientID=client_id)
        for client_id in plan.get("remove_client_ids", []):
            self._call(f"remove client id {client_id} from {arn}", "remove_client_id_from_open_id_connect_provider",
                       OpenIDConnectProviderArn=arn, ClientID=client_id)
        if "thumbprints" in plan:
            self._call(f"update the thumbprints of {arn}", "update_open_id_connect_provider_thumbprint",
                       OpenIDConnectProviderArn=arn, ThumbprintList=plan["thumbprints"])
        if plan.get("set_tags"):
            self._call(f"tag {arn}", "tag_open_id_connect_provider", OpenIDConnectProviderArn=arn,
                       Tags=ansible_dict_to_boto3_tag_list(plan["set_tags"]))
        if plan.get("unset_tags"):
            self._call(f"untag {arn}", "untag_open_id_connect_provider", OpenIDConnectProviderArn=arn,
                       TagKeys=plan["unset_tags"])


# --- the state machine -------------------------------------------------------


def result_view(provider, path):
    if not provider:
        return {}
    return {
        "arn": provider["arn"],
        "url": "https://" + path,
        "issuer_host_path": path,
        "client_ids": sorted(provider["client_ids"]),
        "thumbprints": sorted(provider["thumbprints"]),
        "tags": provider["tags"],
    }


def diff_view(view):
    """The attributes of a provider that the module manages (what --diff shows; no ARN)."""
    return {k: view[k] for k in ("url", "client_ids", "thumbprints", "tags")}


def ensure(client, params, check_mode):
    """Make the provider match params; returns changed, provider, actions.

    `client` is an IAM client wrapped with AWSRetry.
    """
    if botocore is None:
        raise IamOidcProviderError(message="botocore is required")
    path = provider_path(params["url"])
    api = OidcApi(client)
    arn = find_provider_arn(api.list_arns(), path)
    current = api.get(arn) if arn else None

    if params["state"] == "absent":
        if current is None:
            return {"changed": False, "provider": {}, "actions": [], "diff": fields({}, {})}
        diff = fields(diff_view(result_view(current, path)), None)
        if not check_mode:
            api.delete(arn)
        return {"changed": True, "provider": {}, "actions": [f"delete OIDC provider {path}"], "diff": diff}

    desired = {
        "client_ids": normalize_client_ids(params["client_ids"]),
        "thumbprints": normalize_thumbprints(params.get("thumbprints")),
        "tags": params.get("tags"),
    }
    if current is None:
        actions = [f"create OIDC provider {path} for {', '.join(desired['client_ids'])}"]
        if check_mode:
            would_be = {"arn": "", "client_ids": desired["client_ids"], "thumbprints": desired["thumbprints"] or [],
                        "tags": desired["tags"] or {}}
            planned = result_view(would_be, path)
            return {"changed": True, "provider": planned, "actions": actions,
                    "diff": fields(None, diff_view(planned))}
        arn = api.create("https://" + path, desired["client_ids"], desired["thumbprints"], desired["tags"])
        created = result_view(api.get(arn), path)
        return {"changed": True, "provider": created, "actions": actions, "diff": fields(None, diff_view(created))}

    plan = plan_changes(current, desired, params.get("purge_tags", True))
    actions = describe_plan(path, plan)
    before = diff_view(result_view(current, path))
    planned = dict(current)
    if plan:  # what it will be (check mode returns this)
        if "thumbprints" in plan:
            planned["thumbprints"] = plan["thumbprints"]
        planned["client_ids"] = desired["client_ids"]
        if desired["tags"] is not None:
            tags = {k: v for k, v in current["tags"].items() if k not in plan.get("unset_tags", [])}
            tags.update(plan.get("set_tags", {}))
            planned["tags"] = tags
    diff = fields(before, diff_view(result_view(planned, path)))
    if plan and not check_mode:
        api.apply(arn, plan)
        planned = api.get(arn)
    return {"changed": bool(plan), "provider": result_view(planned, path), "actions": actions, "diff": diff}
