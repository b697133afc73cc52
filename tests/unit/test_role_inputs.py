"""One source of truth for role inputs: defaults/main.yml holds the values, meta/argument_specs.yml documents them.

Ansible never takes a value from an argument spec's `default` (the role's defaults/main.yml does); so a spec
default that differs from defaults/main.yml documents a value the role does not use. These tests fail on any
disagreement: a spec default that differs, a spec default for a variable the role does not default, and a role
default the spec does not document.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.parent.parent.name for p in ROOT.glob("roles/*/meta/argument_specs.yml"))
# Disagreements in files this change does not own, each with its reason; the test fails when one is fixed
# (so it is removed from here) or when a new one appears.
KNOWN = {}
# Role defaults the spec cannot declare: Ansible templates every declared option when it validates the spec at the
# head of the first play, before preflight has resolved the credentials these are made from.
UNDECLARABLE = {("platform_defaults", "models_bucket_name"): "made from aws_account_id (preflight, from the caller)"}


def role_defaults(role):
    path = ROOT / "roles" / role / "defaults" / "main.yml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def spec_options(role):
    """[(entry point, option, spec)] of every entry point of the role's argument spec."""
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    return [(entry, name, option) for entry, body in specs.items()
            for name, option in ((body or {}).get("options") or {}).items()]


def disagreements(role):
    defaults = role_defaults(role)
    found = set()
    for _entry, name, option in spec_options(role):
        if "default" in option and (name not in defaults or option["default"] != defaults[name]):
            found.add((role, name))
    return found


def test_every_role_with_defaults_has_an_argument_spec():
    with_defaults = sorted(p.parent.parent.name for p in ROOT.glob("roles/*/defaults/main.yml"))
    assert [role for role in with_defaults if role not in ROLES] == []


@pytest.mark.parametrize("role", ROLES)
def test_spec_defaults_are_the_role_defaults(role):
    """Every `default:` in the spec equals the value in defaults/main.yml, in every entry point."""
    defaults = role_defaults(role)
    wrong = [f"{entry}.{name}: spec {option['default']!r} != defaults/main.yml {defaults.get(name, '<absent>')!r}"
             for entry, name, option in spec_options(role)
             if "default" in option and (role, name) not in KNOWN
             and (name not in defaults or option["default"] != defaults[name])]
    assert wrong == []


@pytest.mark.parametrize("role", ROLES)
def test_every_role_default_is_documented(role):
    documented = {name for _entry, name, _option in spec_options(role)}
    assert sorted(set(role_defaults(role)) - documented - {name for r, name in UNDECLARABLE if r == role}) == []


def test_known_disagreements_are_still_there():
    """A fixed known disagreement must leave KNOWN, so the list never hides a new one."""
    actual = set().union(*(disagreements(role) for role in ROLES))
    assert sorted(set(KNOWN) - actual) == []


def test_the_check_catches_a_disagreement(tmp_path, monkeypatch):
    """The comparison itself: a spec default of 5056 against defaults 5055 is reported."""
    role = tmp_path / "roles" / "demo"
    (role / "meta").mkdir(parents=True)
    (role / "defaults").mkdir()
    (role / "defaults" / "main.yml").write_text("demo_port: 5055\ndemo_name: x\n")
    (role / "meta" / "argument_specs.yml").write_text(yaml.safe_dump({"argument_specs": {"main": {"options": {
        "demo_port": {"type": "int", "default": 5056}, "demo_name": {"type": "str", "default": "x"},
        "demo_extra": {"type": "str", "default": ""}}}}}))
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert disagreements("demo") == {("demo", "demo_port"), ("demo", "demo_extra")}
