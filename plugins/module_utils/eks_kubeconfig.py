# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""EKS bearer tokens and kubeconfigs without the aws CLI.

A token is what aws-iam-authenticator (and ``aws eks get-token``) produce: a
presigned STS ``GetCallerIdentity`` GET request carrying the signed header
``x-k8s-aws-id: <cluster name>``, valid for 60 s as a URL, encoded as
``k8s-aws-v1.`` + unpadded URL-safe base64 of the URL. EKS accepts the token
for 15 minutes; clients treat it as expired after 14.

A kubeconfig written here authenticates in one of two ways:

* ``exec`` (default): the client runs a Python interpreter that has boto3 with
  a short stand-alone script (EXEC_SCRIPT, the same algorithm as ``token()``)
  and gets a fresh token whenever it needs one. The file is deterministic, so
  writing it again changes nothing.
* ``token``: a token is embedded. It expires after 15 minutes and the file
  changes on every run.
"""

from __future__ import annotations

import base64
import datetime
import os
import re

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_YAML = False

try:
    import botocore
except ImportError:
    botocore = None  # the module reports the missing library

from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_errors import GpuE2eAWSError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_errors import aws_call
from ansible_collections.gpu_e2e.platform.plugins.module_utils.atomic_write import write_atomic
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import read_text
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import text_file

TOKEN_PREFIX = "k8s-aws-v1."  # noqa: S105 - the format prefix of EKS tokens, not a secret
CLUSTER_ID_HEADER = "x-k8s-aws-id"
URL_EXPIRES_IN = 60
TOKEN_LIFETIME = datetime.timedelta(minutes=14)
EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"

# Run as `python -c EXEC_SCRIPT <cluster> <region>` by kubectl / the kubernetes client.
# Keep it in step with token() below (tests/unit/test_eks_token.py checks both).
EXEC_SCRIPT = """\
import base64, datetime, json, sys
import boto3
cluster, region = sys.argv[1], sys.argv[2]
sts = boto3.session.Session(region_name=region).client("sts", region_name=region)
def add_cluster_id(request, **kwargs):
    request.headers["x-k8s-aws-id"] = cluster
sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster_id)
url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
token = "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=14)
print(json.dumps({"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1beta1", "spec": {},
                  "status": {"expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ"), "token": token}}))
"""


class EksKubeconfigError(GpuE2eAWSError):
    """The one error type of the token/kubeconfig logic; the module catches it once."""


# --- tokens ------------------------------------------------------------------


def encode_token(presigned_url) -> str:
    return TOKEN_PREFIX + base64.urlsafe_b64encode(presigned_url.encode("utf-8")).decode("ascii").rstrip("=")


def decode_token(token) -> str:
    """The presigned URL inside a token (for tests and troubleshooting)."""
    if not token.startswith(TOKEN_PREFIX):
        raise EksKubeconfigError(message="not an EKS token (missing the k8s-aws-v1. prefix)")
    body = token[len(TOKEN_PREFIX):]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8")


def presigned_caller_identity_url(sts_client, cluster_name) -> str:
    """Presign STS GetCallerIdentity with the x-k8s-aws-id header signed in, as aws-iam-authenticator does."""

    def add_cluster_id(request, **kwargs):
        request.headers[CLUSTER_ID_HEADER] = cluster_name

    events = sts_client.meta.events
    handler_id = f"gpu-e2e-eks-token-{cluster_name}"
    events.register("before-sign.sts.GetCallerIdentity", add_cluster_id, unique_id=handler_id)
    try:
        return sts_client.generate_presigned_url(
            "get_caller_identity", Params={}, ExpiresIn=URL_EXPIRES_IN, HttpMethod="GET"
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise EksKubeconfigError(message=f"Failed to presign an STS request for cluster {cluster_name}",
                                 exception=exc) from exc
    finally:
        events.unregister("before-sign.sts.GetCallerIdentity", unique_id=handler_id)


def token(sts_client, cluster_name, now=None):
    """(token, expiration as an RFC 3339 string)."""
    url = presigned_caller_identity_url(sts_client, cluster_name)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return encode_token(url), (now + TOKEN_LIFETIME).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- kubeconfig --------------------------------------------------------------


def cluster_access(cluster) -> dict:
    """Endpoint, CA data and ARN of a DescribeCluster answer; fails while the cluster has no endpoint yet."""
    endpoint = cluster.get("endpoint")
    ca_data = (cluster.get("certificateAuthority") or {}).get("data")
    if cluster.get("status") != "ACTIVE" or not endpoint or not ca_data:
        raise EksKubeconfigError(
            message=f"cluster {cluster.get('name')} is {cluster.get('status')} and has no endpoint/CA yet: "
            "wait until it is ACTIVE"
        )
    return {"server": endpoint, "ca_data": ca_data, "arn": cluster.get("arn") or cluster.get("name")}


def exec_user(cluster_name, region, python, profile=None) -> dict:
    env = [{"name": "AWS_REGION", "value": region}]
    if profile:
        env.append({"name": "AWS_PROFILE", "value": profile})
    return {
        "exec": {
            "apiVersion": EXEC_API_VERSION,
            "command": python,
            "args": ["-c", EXEC_SCRIPT, cluster_name, region],
            "env": env,
            "interactiveMode": "Never",
            "provideClusterInfo": False,
        }
    }


def kubeconfig(access, user, context_name=None) -> dict:
    name = context_name or access["arn"]
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": name, "cluster": {"server": access["server"],
                                                "certificate-authority-data": access["ca_data"]}}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }


def render(config) -> str:
    if not HAS_YAML:
        raise EksKubeconfigError(message="PyYAML is required")
    return yaml.safe_dump(config, default_flow_style=False, sort_keys=False, width=1000)


def write_if_changed(path, content, mode=0o600, check_mode=False) -> bool:
    """Write content atomically with mode; True when the file content or mode changed (or would)."""
    try:
        with open(path, encoding="utf-8") as handle:
            same = handle.read() == content
        same_mode = (os.stat(path).st_mode & 0o777) == mode
    except FileNotFoundError:
        same, same_mode = False, False
    except OSError as exc:
        raise EksKubeconfigError(message=f"cannot read {path}: {exc}") from exc
    if same and same_mode:
        return False
    if check_mode:
        return True
    try:
        write_atomic(path, content, mode=mode)
    except OSError as exc:
        raise EksKubeconfigError(message=f"cannot write {path}: {exc}") from exc
    return True


def shown(content):
    """``content`` as --diff shows it: embedded tokens are credentials, so only their prefix is kept."""
    if content is None:
        return None
    return re.sub(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_=-]+", TOKEN_PREFIX + "<hidden>", content)


def file_diff(path, content, mode):
    """The --diff of writing ``content`` with ``mode`` to ``path`` (tokens hidden, modes in the headers)."""
    before = read_text(path)
    try:
        before_mode = os.stat(path).st_mode & 0o777 if before is not None else None
    except OSError:
        before_mode = None
    diff = text_file(path, shown(before), shown(content))
    if before_mode is not None:
        diff["before_header"] = f"{path} (mode {before_mode:04o})"
    diff["after_header"] = f"{path} (mode {mode:04o})"
    return diff


def describe_cluster(eks_client, name) -> dict:
    return aws_call(EksKubeconfigError, f"describe EKS cluster {name}", eks_client.describe_cluster,
                    name=name)["cluster"]


def ensure(client, params, check_mode, python):
    """Write the kubeconfig; `client(service)` returns a boto3 client wrapped with AWSRetry."""
    if botocore is None:
        raise EksKubeconfigError(message="botocore is required")
    access = cluster_access(describe_cluster(client("eks"), params["cluster_name"]))
    result = {"server": access["server"], "context": params["context_name"] or access["arn"],
              "path": params["path"], "auth": params["auth"]}
    if params["auth"] == "exec":
        user = exec_user(params["cluster_name"], params["region"], params["python"] or python,
                         params["exec_profile"])
    else:
        bearer, expires = token(client("sts"), params["cluster_name"])
        user = {"token": bearer}
        result["expiration"] = expires
    content = render(kubeconfig(access, user, params["context_name"]))
    mode = int(params["mode"], 8)
    result["diff"] = file_diff(params["path"], content, mode)
    result["changed"] = write_if_changed(params["path"], content, mode, check_mode)
    return result
