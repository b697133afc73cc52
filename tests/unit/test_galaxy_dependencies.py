"""galaxy.yml's dependencies agree with what requirements.txt installs and with what preflight demands.

requirements.txt pins the `ansible` package, which brings amazon.aws, community.aws and kubernetes.core; a user
who installs the tarball instead gets them through galaxy.yml's ranges. The two routes must land on versions
that the other accepts, and preflight's minimums must be the ranges' lower bounds (one floor, stated twice).
Removing a dependency from galaxy.yml, narrowing a range past the installed version, or bumping the `ansible`
pin to a release with a new major of a dependency fails here.
"""
from __future__ import annotations

import importlib.metadata
import json
import re
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.compat.version import LooseVersion
from ansible.utils.version import SemanticVersion

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = ("amazon.aws", "community.aws", "kubernetes.core")


def galaxy() -> dict:
    return yaml.safe_load((ROOT / "galaxy.yml").read_text())


def installed_version(fqcn: str) -> str:
    """The version of a collection the venv's `ansible` package installed (its MANIFEST.json)."""
    import ansible_collections

    namespace, name = fqcn.split(".")
    for base in ansible_collections.__path__:
        manifest = Path(base) / namespace / name / "MANIFEST.json"
        if manifest.is_file():
            return json.loads(manifest.read_text())["collection_info"]["version"]
    raise AssertionError(f"{fqcn} is not installed in the venv")


def satisfies(version: str, spec: str) -> bool:
    """ansible-galaxy's own range semantics: comma-separated clauses, all must hold."""
    ops = {
        ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
        "<": lambda a, b: a < b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
    }
    have = SemanticVersion(version)
    for clause in spec.split(","):
        match = re.fullmatch(r"\s*(>=|<=|==|!=|>|<)?\s*([0-9][^\s]*)\s*", clause)
        assert match, f"unparsable range clause {clause!r} in {spec!r}"
        op = match.group(1) or "=="
        if not ops[op](have, SemanticVersion(match.group(2))):
            return False
    return True


def lower_bound(spec: str) -> str:
    bounds = [c.strip()[2:].strip() for c in spec.split(",") if c.strip().startswith(">=")]
    assert len(bounds) == 1, f"range {spec!r} needs exactly one '>=' lower bound"
    return bounds[0]


def test_galaxy_declares_exactly_the_upstream_collections_the_roles_use():
    used = set()
    for path in [*ROOT.glob("roles/**/*.yml"), *ROOT.glob("playbooks/*.yml")]:
        used |= set(re.findall(r"\b(amazon\.aws|community\.aws|kubernetes\.core)\.", path.read_text()))
    assert used == set(UPSTREAM)
    assert set(galaxy()["dependencies"]) == set(UPSTREAM)


@pytest.mark.parametrize("fqcn", UPSTREAM)
def test_the_version_the_ansible_pin_installs_is_inside_the_galaxy_range(fqcn):
    spec = galaxy()["dependencies"][fqcn]
    version = installed_version(fqcn)
    assert satisfies(version, spec), f"{fqcn} {version} (from requirements.txt's ansible pin) is outside {spec!r}"
    # A range without a ceiling would accept the next major, which nothing here has been run against.
    assert re.search(r"<\s*\d", spec), f"{fqcn}: {spec!r} has no upper bound"


@pytest.mark.parametrize("fqcn", UPSTREAM)
def test_preflight_minimums_are_the_galaxy_lower_bounds(fqcn):
    minimums = yaml.safe_load((ROOT / "roles/preflight/defaults/main.yml").read_text())["preflight_min_collections"]
    assert minimums[fqcn] == lower_bound(galaxy()["dependencies"][fqcn])


def test_the_venv_runs_the_ansible_release_requirements_txt_pins():
    """The installed collections are the pinned release's, not a stray upgrade."""
    pins = dict(
        line.split("#")[0].strip().split("==", 1)
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line.split("#")[0]
    )
    assert importlib.metadata.version("ansible") == pins["ansible"]
    constraints = (ROOT / "constraints.txt").read_text().splitlines()
    assert f"ansible=={pins['ansible']}" in constraints


def test_galaxy_requires_an_ansible_core_the_runtime_metadata_accepts():
    runtime = yaml.safe_load((ROOT / "meta/runtime.yml").read_text())
    floor = runtime["requires_ansible"].lstrip(">=")
    assert LooseVersion(importlib.metadata.version("ansible-core")) >= LooseVersion(floor)


def test_satisfies_rejects_versions_outside_a_range():
    """The range check itself can fail (guards the tests above against a check that accepts anything)."""
    assert not satisfies("11.0.0", ">=10.0.0,<11.0.0")
    assert not satisfies("9.9.9", ">=10.0.0,<11.0.0")
    assert satisfies("10.1.2", ">=10.0.0,<11.0.0")
