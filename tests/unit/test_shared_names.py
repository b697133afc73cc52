"""One home for cross-stage names (roles/platform_defaults).

Every stage role depends on platform_defaults, so its defaults are loaded at the head of every play. No other role
or shipped inventory restates one of its values, and no role guesses a shared name, or another role's input, with a
`| default(...)` fallback: the literal in such a fallback is what actually runs whenever the owner is not loaded,
and it must then be kept equal to the owner's value by hand.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml
from test_role_inputs import UNDECLARABLE

ROOT = Path(__file__).resolve().parents[2]
HOME = "platform_defaults"
# Facts a stage publishes with set_fact for the stages after it, read with an empty fallback because the
# publishing stage may not have run (another tag, an earlier run): an absence, not a copied value. Each must be
# set by its owner's tasks (checked below), so this list cannot hide an input.
PUBLISHED = {
    "observability_snapshots": "the Grafana snapshots taken so far (aws)",
    "leftover_check_recorded_file": "where the leftover check wrote its result",
    "eks_irsa_role_arns": "the IRSA roles the eks stage created",
    "model_repository_s3_uri": "where the model stage uploaded the repository (aws)",
    "model_triton_image_mirrored": "the ECR copy of Triton's image, when mirrored",
    "vpc_id": "the VPC the vpc stage created or found",
}
FALLBACK = re.compile(r"\b([a-z][a-z0-9_]*)(?:\.[A-Za-z0-9_.]+)?\s*\|\s*default\(")


def roles(root):
    return sorted(p.name for p in (root / "roles").iterdir() if p.is_dir())


def shared(root):
    return yaml.safe_load((root / "roles" / HOME / "defaults" / "main.yml").read_text())


def owner(name, role_names):
    """The role whose input `name` is by its prefix (the longest role name that prefixes it), or None."""
    matches = [r for r in role_names if name.startswith(r + "_") and not name.startswith(r + "__")]
    return max(matches, key=len) if matches else None


def fallbacks(root):
    """[(file, line number, name)] of every `name | default(` on a shared name or on another role's input."""
    names = set(shared(root))
    role_names = roles(root)
    found = []
    for role in role_names:
        for path in sorted((root / "roles" / role).rglob("*")):
            if path.suffix not in {".yml", ".yaml", ".j2"} or not path.is_file():
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                for match in FALLBACK.finditer(line):
                    name = match.group(1)
                    theirs = owner(name, role_names)
                    if name in names or (theirs is not None and theirs != role and name not in PUBLISHED):
                        found.append((str(path.relative_to(root)), number, name))
    return found


def restated(root):
    """[(file, name)] of role defaults, role vars and shipped inventories that restate a shared name's value."""
    values = shared(root)
    files = [p for p in (root / "roles").glob("*/defaults/main.yml") if p.parent.parent.name != HOME]
    files += list((root / "roles").glob("*/vars/*.yml")) + list((root / "inventories").glob("*/group_vars/all/*.yml"))
    found = []
    for path in sorted(files):
        data = yaml.safe_load(path.read_text()) or {}
        found += [(str(path.relative_to(root)), name) for name in data
                  if name in values and (path.parts[-3] != "group_vars" or data[name] == values[name])]
    return found


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_a_published_fact_is_set_by_its_owner(name):
    theirs = owner(name, roles(ROOT))
    setters = [p for p in (ROOT / "roles" / theirs / "tasks").glob("*.yml")
               if re.search(rf"^\s+{name}:", p.read_text(), re.MULTILINE) and "set_fact" in p.read_text()]
    assert setters, f"{name} is not set by a set_fact of roles/{theirs}/tasks"


def test_every_stage_role_loads_the_shared_names_first():
    missing = []
    for role in roles(ROOT):
        if role == HOME:
            continue
        meta = yaml.safe_load((ROOT / "roles" / role / "meta" / "main.yml").read_text())
        deps = [d["role"] if isinstance(d, dict) else d for d in meta.get("dependencies") or []]
        if deps[:1] != [f"gpu_e2e.platform.{HOME}"]:
            missing.append(role)
    assert missing == []


def test_no_role_falls_back_to_a_copy_of_a_shared_name_or_another_roles_input():
    assert fallbacks(ROOT) == []


def test_no_role_or_shipped_inventory_restates_a_shared_value():
    assert restated(ROOT) == []


def test_the_shared_home_has_no_tasks_of_its_own():
    """It only defines names; a task there would run once per stage."""
    assert not (ROOT / "roles" / HOME / "tasks").exists()


def test_the_checks_catch_a_fallback_and_a_restated_value(tmp_path, monkeypatch):
    """The checks themselves: a planted fallback, another role's input guessed, and an inventory copy are found."""
    (tmp_path / "roles" / HOME / "defaults").mkdir(parents=True)
    (tmp_path / "roles" / HOME / "meta").mkdir()
    (tmp_path / "roles" / HOME / "meta" / "main.yml").write_text("dependencies: []\n")
    (tmp_path / "roles" / HOME / "defaults" / "main.yml").write_text('eks_cluster_version: "1.35"\n')
    for role in ("triton", "eks"):
        (tmp_path / "roles" / role / "defaults").mkdir(parents=True)
        (tmp_path / "roles" / role / "meta").mkdir()
        (tmp_path / "roles" / role / "meta" / "main.yml").write_text("dependencies: []\n")
    (tmp_path / "roles" / "triton" / "defaults" / "main.yml").write_text(
        "triton_version: \"{{ eks_cluster_version | default('1.32') }}\"\n"
        "triton_ns: \"{{ eks_triton_namespace | default('triton') }}\"\n"
        "triton_own: \"{{ triton_other | default('') }}\"\n"
        "triton_result: \"{{ triton__reply.msg | default('none') }}\"\n")
    (tmp_path / "roles" / "eks" / "defaults" / "main.yml").write_text('eks_triton_namespace: triton\n')
    inventory = tmp_path / "inventories" / "local" / "group_vars" / "all"
    inventory.mkdir(parents=True)
    (inventory / "kubernetes.yml").write_text('eks_cluster_version: "1.35"\n')
    (inventory / "override.yml").write_text('---\n')
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert fallbacks(tmp_path) == [("roles/triton/defaults/main.yml", 1, "eks_cluster_version"),
                                   ("roles/triton/defaults/main.yml", 2, "eks_triton_namespace")]
    assert restated(tmp_path) == [("inventories/local/group_vars/all/kubernetes.yml", "eks_cluster_version")]
    (inventory / "kubernetes.yml").write_text('eks_cluster_version: "1.34"\n')  # a real override is fine
    assert restated(tmp_path) == []


# Shared names the argument spec cannot declare (tests/unit/test_role_inputs.py says why).
UNDECLARED = {name for role, name in UNDECLARABLE if role == HOME}


@pytest.mark.parametrize("name", sorted(shared(ROOT)))
def test_every_shared_name_is_documented(name):
    spec = yaml.safe_load((ROOT / "roles" / HOME / "meta" / "argument_specs.yml").read_text())
    declared = name in spec["argument_specs"]["main"]["options"]
    assert declared != (name in UNDECLARED)
