"""gpu_e2e.platform.iam_oidc_provider: pure logic, a fake IAM client shaped like real AWS, and the module end to
end against the embedded emulator (roles/bootstrap/files/aws_emulator.py) on a free loopback port."""
from __future__ import annotations

import json
import uuid

import pytest
from ansible.module_utils.testing import patch_module_args
from aws_emulator_process import emulator_client, running_emulator

from ansible_collections.gpu_e2e.platform.plugins.module_utils import iam_oidc_provider as op
from ansible_collections.gpu_e2e.platform.plugins.modules import iam_oidc_provider as module

ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
PRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


# --- pure logic ------------------------------------------------------------------------------


def test_provider_path_strips_the_scheme_and_trailing_slash():
    assert op.provider_path(ISSUER + "/") == ISSUER[len("https://"):]
    for bad in ["http://oidc.example.com/id/x", "oidc.example.com", "https://", "https:///id", "https://a/b?c=d"]:
        with pytest.raises(op.IamOidcProviderError):
            op.provider_path(bad)


def test_thumbprints_are_validated_and_normalised():
    assert op.normalize_thumbprints(None) is None
    assert op.normalize_thumbprints([PRINT.upper(), PRINT]) == [PRINT]
    with pytest.raises(op.IamOidcProviderError, match="40 hexadecimal"):
        op.normalize_thumbprints(["abc"])
    with pytest.raises(op.IamOidcProviderError, match="at most 5"):
        op.normalize_thumbprints([f"{i:040x}" for i in range(6)])


def test_the_provider_is_found_by_its_exact_path_only():
    arns = [
        "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLEX",
        "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE",
    ]
    assert op.find_provider_arn(arns, op.provider_path(ISSUER)) == arns[1]
    assert op.find_provider_arn(arns[:1], op.provider_path(ISSUER)) is None


def test_plan_is_empty_when_nothing_differs_and_thumbprints_are_unmanaged():
    current = {"client_ids": ["sts.amazonaws.com"], "thumbprints": [PRINT.upper()], "tags": {"stack": "s"}}
    desired = {"client_ids": ["sts.amazonaws.com"], "thumbprints": None, "tags": {"stack": "s"}}
    assert op.plan_changes(current, desired) == {}
    assert op.plan_changes(current, dict(desired, thumbprints=[PRINT])) == {}


def test_plan_lists_every_difference():
    current = {"client_ids": ["old"], "thumbprints": [], "tags": {"stack": "s", "extra": "x", "aws:keep": "y"}}
    desired = {"client_ids": ["sts.amazonaws.com"], "thumbprints": [PRINT], "tags": {"stack": "t"}}
    plan = op.plan_changes(current, desired)
    assert plan == {"add_client_ids": ["sts.amazonaws.com"], "remove_client_ids": ["old"], "thumbprints": [PRINT],
                    "set_tags": {"stack": "t"}, "unset_tags": ["extra"]}
    assert op.plan_changes(current, desired, purge_tags=False).get("unset_tags") is None


class FakeIam:
    """The IAM OIDC provider API as AWS answers it (tags in GetOpenIDConnectProvider)."""

    def __init__(self):
        self.providers = {}
        self.calls = []

    def _rec(self, name, **kwargs):
        kwargs.pop("aws_retry", None)
        self.calls.append(name)
        return kwargs

    def list_open_id_connect_providers(self, **kwargs):
        self._rec("list")
        return {"OpenIDConnectProviderList": [{"Arn": arn} for arn in self.providers]}

    def get_open_id_connect_provider(self, **kwargs):
        kwargs = self._rec("get", **kwargs)
        p = self.providers[kwargs["OpenIDConnectProviderArn"]]
        return {"Url": p["url"], "ClientIDList": list(p["ids"]), "ThumbprintList": list(p["prints"]),
                "Tags": [{"Key": k, "Value": v} for k, v in p["tags"].items()]}

    def create_open_id_connect_provider(self, **kwargs):
        kwargs = self._rec("create", **kwargs)
        path = kwargs["Url"][len("https://"):]
        arn = f"arn:aws:iam::123456789012:oidc-provider/{path}"
        self.providers[arn] = {"url": path, "ids": kwargs["ClientIDList"],
                               "prints": kwargs.get("ThumbprintList", [PRINT]),  # IAM fetches one itself
                               "tags": {t["Key"]: t["Value"] for t in kwargs.get("Tags", [])}}
        return {"OpenIDConnectProviderArn": arn}

    def delete_open_id_connect_provider(self, **kwargs):
        kwargs = self._rec("delete", **kwargs)
        del self.providers[kwargs["OpenIDConnectProviderArn"]]

    def add_client_id_to_open_id_connect_provider(self, **kwargs):
        kwargs = self._rec("add_client_id", **kwargs)
        self.providers[kwargs["OpenIDConnectProviderArn"]]["ids"].append(kwargs["ClientID"])

    def remove_client_id_from_open_id_connect_provider(self, **kwargs):
        kwargs = self._rec("remove_client_id", **kwargs)
        self.providers[kwargs["OpenIDConnectProviderArn"]]["ids"].remove(kwargs["ClientID"])

    def update_open_id_connect_provider_thumbprint(self, **kwargs):
        kwargs = self._rec("update_thumbprint", **kwargs)
        self.providers[kwargs["OpenIDConnectProviderArn"]]["prints"] = kwargs["ThumbprintList"]

    def tag_open_id_connect_provider(self, **kwargs):
        kwargs = self._rec("tag", **kwargs)
        self.providers[kwargs["OpenIDConnectProviderArn"]]["tags"].update(
            {t["Key"]: t["Value"] for t in kwargs["Tags"]})

    def untag_open_id_connect_provider(self, **kwargs):
        kwargs = self._rec("untag", **kwargs)
        for key in kwargs["TagKeys"]:
            self.providers[kwargs["OpenIDConnectProviderArn"]]["tags"].pop(key)


def params(**overrides):
    return dict({"url": ISSUER, "client_ids": ["sts.amazonaws.com"], "thumbprints": None,
                 "tags": {"stack": "gpu-e2e"}, "purge_tags": True, "state": "present"}, **overrides)


def test_check_mode_creates_nothing_then_create_then_no_change():
    iam = FakeIam()
    preview = op.ensure(iam, params(), check_mode=True)
    assert preview["changed"] and not iam.providers and "create" not in iam.calls
    assert preview["provider"]["issuer_host_path"] == op.provider_path(ISSUER)

    created = op.ensure(iam, params(), check_mode=False)
    assert created["changed"] and len(iam.providers) == 1
    assert created["provider"]["arn"].endswith(":oidc-provider/" + op.provider_path(ISSUER))
    assert created["provider"]["tags"] == {"stack": "gpu-e2e"}

    iam.calls.clear()
    again = op.ensure(iam, params(), check_mode=False)
    assert again == dict(again, changed=False, actions=[])
    assert set(iam.calls) <= {"list", "get"}


def test_without_thumbprints_iam_is_left_to_fetch_them():
    iam = FakeIam()
    op.ensure(iam, params(), check_mode=False)
    [provider] = list(iam.providers.values())
    assert provider["prints"] == [PRINT]  # what the fake 'IAM' fetched, never sent by the module


def test_drift_is_converged_and_check_mode_reports_without_calling():
    iam = FakeIam()
    op.ensure(iam, params(), check_mode=False)
    [arn] = list(iam.providers)
    iam.providers[arn]["ids"].append("other-audience")
    iam.providers[arn]["tags"]["manual"] = "x"

    iam.calls.clear()
    preview = op.ensure(iam, params(thumbprints=["a" * 40]), check_mode=True)
    assert preview["changed"] and set(iam.calls) <= {"list", "get"}
    assert preview["provider"]["thumbprints"] == ["a" * 40]

    fixed = op.ensure(iam, params(thumbprints=["A" * 40]), check_mode=False)
    assert fixed["changed"]
    assert iam.providers[arn] == {"url": op.provider_path(ISSUER), "ids": ["sts.amazonaws.com"],
                                  "prints": ["a" * 40], "tags": {"stack": "gpu-e2e"}}
    assert op.ensure(iam, params(thumbprints=["a" * 40]), check_mode=False)["changed"] is False


def test_absent_deletes_once():
    iam = FakeIam()
    op.ensure(iam, params(), check_mode=False)
    assert op.ensure(iam, params(state="absent"), check_mode=True)["changed"] and iam.providers
    assert op.ensure(iam, params(state="absent"), check_mode=False)["changed"] and not iam.providers
    assert op.ensure(iam, params(state="absent"), check_mode=False)["changed"] is False


# --- the module against the embedded emulator ------------------------------------------------


@pytest.fixture(scope="module")
def endpoint():
    with running_emulator() as url:
        yield url


def run(endpoint, capsys, check=False, **args):
    args = dict(args, endpoint_url=endpoint, region="us-east-1", access_key="local-emulator-key",
                secret_key="local-emulator-secret", _ansible_check_mode=check)
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


def test_module_check_create_idempotent_delete(endpoint, capsys):
    issuer = f"https://oidc.eks.us-east-1.amazonaws.com/id/{uuid.uuid4().hex.upper()}"
    iam = emulator_client(endpoint, "iam")

    def count():
        return sum(1 for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
                   if p["Arn"].endswith(issuer[len("https://"):]))

    assert run(endpoint, capsys, check=True, url=issuer, tags={"stack": "t"})["changed"] and count() == 0
    first = run(endpoint, capsys, url=issuer, tags={"stack": "t"}, thumbprints=[PRINT])
    assert first["changed"] and count() == 1
    assert first["provider"]["thumbprints"] == [PRINT] and first["provider"]["tags"] == {"stack": "t"}
    second = run(endpoint, capsys, url=issuer, tags={"stack": "t"}, thumbprints=[PRINT])
    assert second["changed"] is False and second["provider"]["arn"] == first["provider"]["arn"]
    retag = run(endpoint, capsys, url=issuer, tags={"stack": "t", "owner": "o"})
    assert retag["changed"] and retag["provider"]["tags"] == {"stack": "t", "owner": "o"}
    assert run(endpoint, capsys, url=issuer, state="absent")["changed"] and count() == 0
    assert run(endpoint, capsys, url=issuer, state="absent")["changed"] is False


def test_module_rejects_a_bad_url_with_one_line(endpoint, capsys):
    result = run(endpoint, capsys, url="http://insecure.example.com")
    assert result["failed"] and "must start with https://" in result["msg"]
