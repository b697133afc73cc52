# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Endpoint access and control-plane logging of an EKS cluster, set in the create call and kept idempotent.

community.aws.eks_cluster creates and deletes clusters but cannot set endpoint
access or control-plane logging: a cluster it creates is open to 0.0.0.0/0
until a later update, and stays open if that update fails. So, when the
cluster does not exist and ``role_arn`` and ``subnets`` are given, this logic
creates it with ``CreateCluster`` carrying the endpoint access (private on,
public only from the allowed CIDRs) and the logging: closed from birth. An
existing cluster is converged with ``UpdateClusterConfig``. EKS runs one update at a time per cluster, so the
endpoint update is waited for before the logging update is sent; each update
is polled with ``DescribeUpdate`` until Successful (bounded by wait_timeout).

A cluster that was created without these settings has AWS's defaults: private
access off, public access on from 0.0.0.0/0, all log types off. Missing keys
in a DescribeCluster answer are read as those defaults.
"""

from __future__ import annotations

import ipaddress
import time

from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_errors import GpuE2eAWSError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_errors import aws_call
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import fields

try:
    import botocore
except ImportError:
    botocore = None  # the module reports the missing library

LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
# What --diff shows: the settings the module manages.
DIFF_KEYS = ("endpoint_private_access", "endpoint_public_access", "public_access_cidrs", "logging_types")
AWS_DEFAULT_PUBLIC_CIDRS = ["0.0.0.0/0"]
POLL_SECONDS = 10


class EksClusterConfigError(GpuE2eAWSError):
    """The one error type of the cluster-config logic; the module catches it once."""


# --- pure helpers (unit-tested without AWS) ---------------------------------


def validate(params) -> None:
    if not params["endpoint_private_access"] and not params["endpoint_public_access"]:
        raise EksClusterConfigError(message="at least one of endpoint_private_access and endpoint_public_access "
                                            "must be true (EKS needs an endpoint)")
    if params["endpoint_public_access"]:
        if not params["public_access_cidrs"]:
            raise EksClusterConfigError(message="public_access_cidrs may not be empty when the public endpoint is on")
        for cidr in params["public_access_cidrs"]:
            try:
                network = ipaddress.ip_network(cidr, strict=True)
            except ValueError as exc:
                raise EksClusterConfigError(
                    message=f"public_access_cidrs: {cidr!r} is not a valid CIDR ({exc})") from exc
            if network.version != 4:
                raise EksClusterConfigError(message=f"public_access_cidrs: {cidr!r} is not IPv4 (EKS takes IPv4 only)")
    unknown = sorted(set(params.get("logging_types") or []) - set(LOG_TYPES))
    if unknown:
        raise EksClusterConfigError(message=f"unknown logging_types {unknown}; known: {', '.join(LOG_TYPES)}")


def current_access(cluster) -> dict:
    vpc = cluster.get("resourcesVpcConfig") or {}
    return {
        "endpoint_private_access": bool(vpc.get("endpointPrivateAccess", False)),
        "endpoint_public_access": bool(vpc.get("endpointPublicAccess", True)),
        "public_access_cidrs": sorted(vpc.get("publicAccessCidrs") or AWS_DEFAULT_PUBLIC_CIDRS),
    }


def current_logging(cluster) -> list:
    enabled = set()
    for entry in (cluster.get("logging") or {}).get("clusterLogging") or []:
        if entry.get("enabled"):
            enabled.update(entry.get("types") or [])
    return sorted(enabled)


def access_update(current, params):
    """The resourcesVpcConfig to send, or None when the endpoint access already matches."""
    want = {
        "endpoint_private_access": bool(params["endpoint_private_access"]),
        "endpoint_public_access": bool(params["endpoint_public_access"]),
        "public_access_cidrs": sorted(set(params["public_access_cidrs"] or [])),
    }
    same = (current["endpoint_private_access"] == want["endpoint_private_access"]
            and current["endpoint_public_access"] == want["endpoint_public_access"]
            and (not want["endpoint_public_access"] or current["public_access_cidrs"] == want["public_access_cidrs"]))
    if same:
        return None
    update = {"endpointPrivateAccess": want["endpoint_private_access"],
              "endpointPublicAccess": want["endpoint_public_access"]}
    if want["endpoint_public_access"]:
        update["publicAccessCidrs"] = want["public_access_cidrs"]
    return update


def logging_update(current_enabled, wanted):
    """The logging config to send, or None when it already matches (None wanted = not managed)."""
    if wanted is None or sorted(set(wanted)) == sorted(current_enabled):
        return None
    enabled = sorted(set(wanted))
    disabled = [t for t in LOG_TYPES if t not in enabled]
    cluster_logging = []
    if enabled:
        cluster_logging.append({"types": enabled, "enabled": True})
    if disabled:
        cluster_logging.append({"types": disabled, "enabled": False})
    return {"clusterLogging": cluster_logging}


def view(name, access, logging_types, status, cluster=None):
    cluster = cluster or {}
    return dict(access, name=name, logging_types=sorted(logging_types), status=status, arn=cluster.get("arn"),
                version=cluster.get("version"), endpoint=cluster.get("endpoint"))


# --- the EKS API, with errors translated once ---------------------------------


class EksApi:
    def __init__(self, client, sleep=time.sleep, clock=time.monotonic):
        self.client = client
        self.sleep = sleep
        self.clock = clock

    def _call(self, what, method, **kwargs):
        return aws_call(EksClusterConfigError, what, getattr(self.client, method), **kwargs)

    def describe(self, name):
        return self._call(f"describe EKS cluster {name}", "describe_cluster", name=name)["cluster"]

    def find(self, name):
        """The cluster's description, or None when it does not exist."""
        found = aws_call(EksClusterConfigError, f"describe EKS cluster {name}", self.client.describe_cluster,
                         missing="ResourceNotFoundException", name=name)
        return found["cluster"] if found else None

    def create(self, request):
        return self._call(f"create EKS cluster {request['name']}", "create_cluster", **request)["cluster"]

    def wait_active(self, name, deadline):
        while True:
            cluster = self.describe(name)
            if cluster.get("status") == "ACTIVE":
                return cluster
            if cluster.get("status") in ("FAILED", "DELETING") or self.clock() > deadline:
                raise EksClusterConfigError(
                    message=f"EKS cluster {name} is {cluster.get('status')}, not ACTIVE; "
                    "cannot change its configuration")
            self.sleep(POLL_SECONDS)

    def update(self, name, what, deadline, **config):
        answer = self._call(f"update the {what} of EKS cluster {name}", "update_cluster_config", name=name, **config)
        update = answer.get("update") or {}
        update_id, status = update.get("id"), update.get("status", "Successful")
        while status == "InProgress":
            if self.clock() > deadline:
                raise EksClusterConfigError(
                    message=f"the {what} update {update_id} of EKS cluster {name} is still in progress after "
                    "wait_timeout; it goes on in AWS: re-run later")
            self.sleep(POLL_SECONDS)
            update = self._call(f"read update {update_id} of EKS cluster {name}", "describe_update",
                                name=name, updateId=update_id)["update"]
            status = update.get("status")
        if status != "Successful":
            errors = "; ".join(e.get("errorMessage", "") for e in update.get("errors") or [])
            raise EksClusterConfigError(message=f"the {what} update {update_id} of EKS cluster {name} is {status}: "
                                                f"{errors or 'no error message'}")
        return update_id


def create_request(params) -> dict:
    """The CreateCluster request: endpoint access and logging are part of it, never a later update."""
    vpc = {"subnetIds": list(params["subnets"]), "securityGroupIds": list(params.get("security_groups") or []),
           "endpointPrivateAccess": bool(params["endpoint_private_access"]),
           "endpointPublicAccess": bool(params["endpoint_public_access"])}
    if params["endpoint_public_access"]:
        vpc["publicAccessCidrs"] = sorted(set(params["public_access_cidrs"]))
    request = {"name": params["name"], "roleArn": params["role_arn"], "resourcesVpcConfig": vpc}
    if params.get("version"):
        request["version"] = str(params["version"])
    if params.get("tags"):
        request["tags"] = dict(params["tags"])
    log = logging_update([], params.get("logging_types"))
    if log:
        request["logging"] = log
    return request


# --- the state machine -------------------------------------------------------


def ensure(client, params, check_mode, sleep=time.sleep, clock=time.monotonic):
    """Converge endpoint access and logging; returns changed, cluster, actions, updates."""
    if botocore is None:
        raise EksClusterConfigError(message="botocore is required")
    validate(params)
    api = EksApi(client, sleep, clock)
    name = params["name"]
    deadline = clock() + params["wait_timeout"]
    cluster = api.find(name)
    if cluster is None:
        if not params.get("role_arn") or not params.get("subnets"):
            raise EksClusterConfigError(message=f"EKS cluster {name} does not exist; give role_arn and subnets "
                                                "to create it")
        request = create_request(params)
        access = current_access({"resourcesVpcConfig": request["resourcesVpcConfig"]})
        enabled = sorted(params.get("logging_types") or [])
        action = [f"create EKS cluster {name} with endpoint access private={access['endpoint_private_access']}, "
                  f"public={access['endpoint_public_access']}"
                  + (f" from {', '.join(access['public_access_cidrs'])}" if access["endpoint_public_access"] else "")]
        planned = view(name, access, enabled, "CREATING")
        diff = fields(None, {k: planned[k] for k in DIFF_KEYS})
        if check_mode:
            return {"changed": True, "cluster": planned, "actions": action, "updates": [], "diff": diff}
        api.create(request)
        cluster = api.wait_active(name, deadline)
        return {"changed": True, "cluster": view(name, current_access(cluster), current_logging(cluster),
                                                 cluster.get("status"), cluster),
                "actions": action, "updates": [], "diff": diff}
    access, enabled = current_access(cluster), current_logging(cluster)
    before = view(name, access, enabled, cluster.get("status"), cluster)
    vpc_update = access_update(access, params)
    log_update = logging_update(enabled, params.get("logging_types"))
    actions, updates = [], []
    if vpc_update:
        shown = f"private={vpc_update['endpointPrivateAccess']}, public={vpc_update['endpointPublicAccess']}"
        if vpc_update["endpointPublicAccess"]:
            shown += f" from {', '.join(vpc_update['publicAccessCidrs'])}"
        actions.append(f"set endpoint access of {name}: {shown}")
    if log_update:
        actions.append(f"set control-plane logging of {name} to {', '.join(sorted(params['logging_types'])) or 'none'}")
    if not actions:
        return {"changed": False, "cluster": before, "actions": [], "updates": [],
                "diff": fields(before, before, DIFF_KEYS)}
    if vpc_update:
        access = current_access({"resourcesVpcConfig": vpc_update})
    if log_update:
        enabled = sorted(params["logging_types"])
    planned = view(name, access, enabled, cluster.get("status"), cluster)
    diff = fields(before, planned, DIFF_KEYS)
    if check_mode:
        return {"changed": True, "cluster": planned, "actions": actions, "updates": [], "diff": diff}

    api.wait_active(name, deadline)
    if vpc_update:
        updates.append(api.update(name, "endpoint access", deadline, resourcesVpcConfig=vpc_update))
        if log_update:
            api.wait_active(name, deadline)
    if log_update:
        updates.append(api.update(name, "logging", deadline, logging=log_update))
    cluster = api.wait_active(name, deadline)
    return {"changed": True, "cluster": view(name, current_access(cluster), current_logging(cluster),
                                             cluster.get("status"), cluster),
            "actions": actions, "updates": [u for u in updates if u], "diff": diff}
