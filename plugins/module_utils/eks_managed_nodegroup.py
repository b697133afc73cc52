# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An EKS managed node group with any AMI type EKS accepts, kept idempotent.

Why not community.aws.eks_nodegroup: its ``ami_type`` choices stop at AL2_x86_64_GPU (community.aws
issue #2314), and AWS publishes Amazon Linux 2 AMIs only up to Kubernetes 1.32. ``AL2023_x86_64_NVIDIA``
(and ``AL2023_x86_64_STANDARD`` for the system nodes) exist in the EKS API's ``CreateNodegroup``.

Create: one ``CreateNodegroup`` call with the labels, taints, scaling and tags (tags at creation),
then the ``nodegroup_active`` waiter. Existing: what EKS cannot change in place (instance types, AMI
type, capacity type, disk size, subnets, node role) is compared and a difference is an error;
scaling, labels and taints are converged with ``UpdateNodegroupConfig``, tags with
``TagResource``/``UntagResource``. The current tags are read from ``DescribeNodegroup``.
"""

from __future__ import annotations

from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_errors import GpuE2eAWSError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_errors import aws_call
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import fields

try:
    import botocore
except ImportError:
    botocore = None  # the module reports the missing library

POLL_SECONDS = 30
IMMUTABLE = {
    "instance_types": "instanceTypes",
    "ami_type": "amiType",
    "capacity_type": "capacityType",
    "disk_size": "diskSize",
    "node_role": "nodeRole",
}


class EksNodegroupError(GpuE2eAWSError):
    """The one error type of the node group logic; the module catches it once."""


def _taints(taints):
    return sorted(
        ({"key": t["key"], "value": str(t.get("value") or ""), "effect": t["effect"]} for t in taints or []),
        key=lambda t: (t["key"], t["effect"]),
    )


def desired(params):
    return {
        "scaling": {
            "minSize": params["min_size"],
            "maxSize": params["max_size"],
            "desiredSize": params["desired_size"],
        },
        "labels": {str(k): str(v) for k, v in (params.get("labels") or {}).items()},
        "taints": _taints(params.get("taints")),
        "tags": {str(k): str(v) for k, v in (params.get("tags") or {}).items()},
    }


def managed_view(nodegroup):
    """The settings of a described node group that the module converges (what --diff shows)."""
    if not nodegroup:
        return {}
    scaling = nodegroup.get("scalingConfig") or {}
    return {
        "scaling": {k: scaling.get(k) for k in ("minSize", "maxSize", "desiredSize")},
        "labels": dict(nodegroup.get("labels") or {}),
        "taints": _taints(nodegroup.get("taints")),
        "tags": dict(nodegroup.get("tags") or {}),
    }


def planned_view(current, update, add, remove):
    """``managed_view(current)`` after the update and retagging ``differences`` planned."""
    after = managed_view(current)
    if "scalingConfig" in update:
        after["scaling"] = dict(update["scalingConfig"])
    if "labels" in update:
        labels = {k: v for k, v in after["labels"].items() if k not in update["labels"]["removeLabels"]}
        labels.update(update["labels"]["addOrUpdateLabels"])
        after["labels"] = labels
    if "taints" in update:
        kept = [t for t in after["taints"] if t not in update["taints"]["removeTaints"]]
        after["taints"] = _taints(kept + update["taints"]["addOrUpdateTaints"])
    tags = {k: v for k, v in after["tags"].items() if k not in remove}
    tags.update(add)
    after["tags"] = tags
    return after


def create_request(params):
    want = desired(params)
    request = {
        "clusterName": params["cluster_name"],
        "nodegroupName": params["name"],
        "nodeRole": params["node_role"],
        "subnets": sorted(params["subnets"]),
        "instanceTypes": list(params["instance_types"]),
        "amiType": params["ami_type"],
        "capacityType": params["capacity_type"],
        "scalingConfig": want["scaling"],
        "labels": want["labels"],
        "taints": want["taints"],
        "tags": want["tags"],
        "updateConfig": {"maxUnavailable": params.get("max_unavailable") or 1},
    }
    if params.get("disk_size"):
        request["diskSize"] = params["disk_size"]
    return request


def differences(current, params):
    """(immutable differences as sentences, config update kwargs or None, tags to add, tag keys to remove)."""
    fixed = []
    for key, field in IMMUTABLE.items():
        want = params.get(key)
        have = current.get(field)
        if want is None or (key == "disk_size" and have is None):
            continue
        if (sorted(want) if isinstance(want, list) else want) != (sorted(have) if isinstance(have, list) else have):
            fixed.append(f"{key} is {have!r}, wanted {want!r}")
    if params.get("subnets") and sorted(params["subnets"]) != sorted(current.get("subnets") or []):
        fixed.append(f"subnets are {sorted(current.get('subnets') or [])}, wanted {sorted(params['subnets'])}")
    want = desired(params)
    update = {}
    scaling = current.get("scalingConfig") or {}
    if any(scaling.get(k) != v for k, v in want["scaling"].items()):
        update["scalingConfig"] = want["scaling"]
    labels = current.get("labels") or {}
    if labels != want["labels"]:
        update["labels"] = {
            "addOrUpdateLabels": {k: v for k, v in want["labels"].items() if labels.get(k) != v},
            "removeLabels": sorted(k for k in labels if k not in want["labels"]),
        }
    taints = _taints(current.get("taints"))
    if taints != want["taints"]:
        update["taints"] = {
            "addOrUpdateTaints": [t for t in want["taints"] if t not in taints],
            "removeTaints": [t for t in taints if t not in want["taints"]],
        }
    tags = current.get("tags") or {}
    add = {k: v for k, v in want["tags"].items() if tags.get(k) != v}
    remove = sorted(k for k in tags if k not in want["tags"]) if params.get("purge_tags", True) else []
    return fixed, update or None, add, remove


class Api:
    def __init__(self, client):
        self.client = client

    def call(self, what, method, **kwargs):
        return aws_call(EksNodegroupError, what, getattr(self.client, method), **kwargs)

    def find(self, cluster, name):
        found = aws_call(EksNodegroupError, f"describe node group {name}", self.client.describe_nodegroup,
                         missing="ResourceNotFoundException", clusterName=cluster, nodegroupName=name)
        return found["nodegroup"] if found else None

    def wait(self, waiter, cluster, name, timeout):
        try:
            self.client.get_waiter(waiter).wait(
                clusterName=cluster,
                nodegroupName=name,
                WaiterConfig={"Delay": POLL_SECONDS, "MaxAttempts": max(1, timeout // POLL_SECONDS)},
            )
        except botocore.exceptions.WaiterError as exc:
            raise EksNodegroupError(
                message=f"node group {name} did not become {waiter.split('_')[-1]} within {timeout} s", exception=exc
            ) from exc


def ensure(client, params, check_mode):
    """Converge the node group; returns changed, nodegroup, actions."""
    if botocore is None:
        raise EksNodegroupError(message="botocore is required")
    api = Api(client)
    cluster, name = params["cluster_name"], params["name"]
    current = api.find(cluster, name)
    if params["state"] == "absent":
        if current is None:
            return {"changed": False, "nodegroup": {}, "actions": [], "diff": fields({}, {})}
        diff = fields(managed_view(current), None)
        if not check_mode:
            api.call(f"delete node group {name}", "delete_nodegroup", clusterName=cluster, nodegroupName=name)
            if params["wait"]:
                api.wait("nodegroup_deleted", cluster, name, params["wait_timeout"])
        return {"changed": True, "nodegroup": {}, "actions": [f"delete node group {name}"], "diff": diff}
    if current is None:
        request = create_request(params)
        action = (
            f"create node group {name} ({params['capacity_type']}, {', '.join(params['instance_types'])}, "
            f"{params['ami_type']})"
        )
        diff = fields(None, desired(params))
        if check_mode:
            return {"changed": True, "nodegroup": request, "actions": [action], "diff": diff}
        api.call(f"create node group {name}", "create_nodegroup", **request)
        if params["wait"]:
            api.wait("nodegroup_active", cluster, name, params["wait_timeout"])
        return {"changed": True, "nodegroup": api.find(cluster, name), "actions": [action], "diff": diff}
    fixed, update, add, remove = differences(current, params)
    if fixed:
        raise EksNodegroupError(
            message=f"node group {name} cannot be changed in place: {'; '.join(fixed)} "
            "(delete it, or create a new one under another name)"
        )
    actions = []
    if update:
        actions.append(f"update {', '.join(sorted(update))} of node group {name}")
    if add or remove:
        actions.append(f"retag node group {name}")
    diff = fields(managed_view(current), planned_view(current, update or {}, add, remove))
    if not actions or check_mode:
        return {"changed": bool(actions), "nodegroup": current, "actions": actions, "diff": diff}
    if update:
        api.call(
            f"update node group {name}", "update_nodegroup_config", clusterName=cluster, nodegroupName=name, **update
        )
        if params["wait"]:
            api.wait("nodegroup_active", cluster, name, params["wait_timeout"])
    if add:
        api.call(f"tag node group {name}", "tag_resource", resourceArn=current["nodegroupArn"], tags=add)
    if remove:
        api.call(f"untag node group {name}", "untag_resource", resourceArn=current["nodegroupArn"], tagKeys=remove)
    return {"changed": True, "nodegroup": api.find(cluster, name), "actions": actions, "diff": diff}
