"""EKS tokens and kubeconfigs (gpu_e2e.platform.eks_kubeconfig): the token is a presigned STS GetCallerIdentity
URL with the cluster name signed in, exactly as aws-iam-authenticator builds it. Offline: presigning needs no
network, only (dummy) credentials."""
from __future__ import annotations

import datetime
import json
import os
import stat
import subprocess
import sys
import urllib.parse

import boto3
import pytest
import yaml

from ansible_collections.gpu_e2e.platform.plugins.module_utils import eks_kubeconfig as ek

CREDS = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "local-emulator-secret"}


@pytest.fixture
def sts():
    return boto3.client("sts", region_name="eu-west-1", aws_access_key_id=CREDS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=CREDS["AWS_SECRET_ACCESS_KEY"])


def query_of(url):
    parsed = urllib.parse.urlparse(url)
    return parsed, {k: v[0] for k, v in urllib.parse.parse_qs(parsed.query).items()}


def assert_is_an_eks_token(bearer, cluster, access_key=CREDS["AWS_ACCESS_KEY_ID"]):
    assert bearer.startswith("k8s-aws-v1.")
    assert "=" not in bearer  # unpadded, URL-safe base64
    url = ek.decode_token(bearer)
    parsed, query = query_of(url)
    assert parsed.scheme == "https" and parsed.netloc.startswith("sts.") and parsed.path == "/"
    assert query["Action"] == "GetCallerIdentity" and query["Version"] == "2011-06-15"
    assert query["X-Amz-Expires"] == "60"
    assert query["X-Amz-Credential"].startswith(access_key + "/")
    # The cluster name is bound to the signature through a signed header, never in the query string.
    assert query["X-Amz-SignedHeaders"].split(";") == ["host", "x-k8s-aws-id"]
    assert cluster not in url


def test_token_is_a_presigned_get_caller_identity_bound_to_the_cluster(sts):
    now = datetime.datetime(2026, 11, 1, 12, 0, tzinfo=datetime.UTC)
    bearer, expires = ek.token(sts, "gpu-e2e", now=now)
    assert_is_an_eks_token(bearer, "gpu-e2e")
    assert expires == "2026-11-01T12:14:00Z"


def test_tokens_of_two_clusters_have_different_signatures(sts):
    one = query_of(ek.decode_token(ek.token(sts, "cluster-one")[0]))[1]
    two = query_of(ek.decode_token(ek.token(sts, "cluster-two")[0]))[1]
    assert one["X-Amz-Signature"] != two["X-Amz-Signature"]


def test_the_header_hook_does_not_leak_into_later_calls(sts):
    ek.token(sts, "gpu-e2e")
    plain = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60)
    assert query_of(plain)[1]["X-Amz-SignedHeaders"] == "host"


def test_decode_is_the_inverse_of_encode_and_rejects_other_strings():
    url = "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&x=1"
    for cut in range(4):  # every padding length
        assert ek.decode_token(ek.encode_token(url + "a" * cut)) == url + "a" * cut
    with pytest.raises(ek.EksKubeconfigError):
        ek.decode_token("Bearer abc")


def test_exec_script_prints_an_exec_credential_with_a_valid_token(tmp_path):
    env = dict(os.environ, **CREDS, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
               AWS_EC2_METADATA_DISABLED="true")
    env.pop("AWS_PROFILE", None)
    out = subprocess.run([sys.executable, "-c", ek.EXEC_SCRIPT, "gpu-e2e", "eu-west-1"], env=env,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    credential = json.loads(out)
    assert credential["kind"] == "ExecCredential"
    assert credential["apiVersion"] == ek.EXEC_API_VERSION
    assert_is_an_eks_token(credential["status"]["token"], "gpu-e2e")
    expires = datetime.datetime.strptime(credential["status"]["expirationTimestamp"], "%Y-%m-%dT%H:%M:%SZ")
    left = expires.replace(tzinfo=datetime.UTC) - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(minutes=13) < left <= datetime.timedelta(minutes=14)


CLUSTER = {"name": "gpu-e2e", "arn": "arn:aws:eks:eu-west-1:123456789012:cluster/gpu-e2e", "status": "ACTIVE",
           "endpoint": "https://ABC.gr7.eu-west-1.eks.amazonaws.com", "certificateAuthority": {"data": "Q0FEQVRB"}}


def test_kubeconfig_uses_the_exec_plugin_and_is_deterministic(tmp_path):
    access = ek.cluster_access(CLUSTER)
    user = ek.exec_user("gpu-e2e", "eu-west-1", "/venv/bin/python", profile="prod")
    text = ek.render(ek.kubeconfig(access, user))
    config = yaml.safe_load(text)
    assert config["current-context"] == CLUSTER["arn"]
    assert config["clusters"][0]["cluster"] == {"server": CLUSTER["endpoint"], "certificate-authority-data": "Q0FEQVRB"}
    exec_ = config["users"][0]["user"]["exec"]
    assert exec_["command"] == "/venv/bin/python" and exec_["args"][0] == "-c"
    assert exec_["args"][2:] == ["gpu-e2e", "eu-west-1"]
    assert {"name": "AWS_PROFILE", "value": "prod"} in exec_["env"]

    path = tmp_path / "sub" / "kubeconfig"
    assert ek.write_if_changed(str(path), text, check_mode=True) is True and not path.exists()
    assert ek.write_if_changed(str(path), text) is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ek.write_if_changed(str(path), text) is False
    path.chmod(0o644)
    assert ek.write_if_changed(str(path), text) is True and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_cluster_without_endpoint_is_refused():
    with pytest.raises(ek.EksKubeconfigError, match="CREATING"):
        ek.cluster_access(dict(CLUSTER, status="CREATING", endpoint=None))


def test_the_kubernetes_client_authenticates_with_the_exec_kubeconfig(tmp_path, monkeypatch):
    """kubernetes.core uses the kubernetes Python client: it must run the exec plugin and send the EKS token."""
    kubernetes_config = pytest.importorskip("kubernetes.config")
    for key, value in dict(CREDS, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                           AWS_EC2_METADATA_DISABLED="true").items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    path = tmp_path / "kubeconfig"
    user = ek.exec_user("gpu-e2e", "eu-west-1", sys.executable)
    ek.write_if_changed(str(path), ek.render(ek.kubeconfig(ek.cluster_access(CLUSTER), user)))
    api_client = kubernetes_config.new_client_from_config(config_file=str(path))
    configuration = api_client.configuration
    assert configuration.host == CLUSTER["endpoint"]
    # The key name differs between client versions (BearerToken since v12, authorization before).
    header = configuration.api_key.get("BearerToken") or configuration.api_key.get("authorization")
    assert header.startswith("Bearer ")
    assert_is_an_eks_token(header[len("Bearer "):], "gpu-e2e")
