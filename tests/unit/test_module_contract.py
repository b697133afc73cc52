"""The check-mode and diff contract every module of plugins/modules keeps, read from its source.

- DOCUMENTATION extends ``ansible.builtin.action_common_attributes`` and sets ``attributes.check_mode``,
  ``attributes.diff_mode`` (support full, partial or none) and ``attributes.platform``.
- The module is built with ``supports_check_mode=True`` (AnsibleModule or AnsibleAWSModule).
- A module whose diff_mode is supported returns through ``exit_result`` (plugins/module_utils/diff.py),
  which returns ``diff`` only with --diff.
- An ``_info`` module never reports a change: each of its exits passes ``changed=False`` literally.
- Partial check-mode support is an exemption: it is listed in EXEMPT with the reason, and the docs
  give that reason in ``attributes.check_mode.details``.

The planted modules at the end prove the checker finds each breach (and passes a module that keeps
the contract), so the contract test itself can fail.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

MODULES = Path(__file__).resolve().parents[2] / "plugins" / "modules"
SUPPORT = {"full", "partial", "none"}
FRAGMENT = "ansible.builtin.action_common_attributes"
# Modules that cannot be honest in check mode alone, and why (their docs say the same).
EXEMPT = {
    "triton_smoke": "a smoke test cannot be predicted without running it: check mode runs the inference "
                    "(read-only towards the server) and writes no output_file",
}


def documentation(tree):
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            return yaml.safe_load(node.value.value)
    return None


def calls_named(tree, *names):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in names:
                yield name, node


def changed_argument(name, call):
    """The AST node passed as ``changed`` to exit_json(**) / exit_result(module, changed, ...), or None."""
    for keyword in call.keywords:
        if keyword.arg == "changed":
            return keyword.value
    if name == "exit_result" and len(call.args) >= 2:
        return call.args[1]
    return None


def violations(path):
    """Every breach of the contract by the module at ``path`` (empty when it keeps it)."""
    name = Path(path).stem
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    found = []
    doc = documentation(tree) or {}
    attributes = doc.get("attributes") or {}
    for attribute in ("check_mode", "diff_mode"):
        support = (attributes.get(attribute) or {}).get("support")
        if support not in SUPPORT:
            found.append(f"attributes.{attribute}.support is {support!r}, not one of {sorted(SUPPORT)}")
    if "platform" not in attributes:
        found.append("attributes.platform is missing")
    if FRAGMENT not in (doc.get("extends_documentation_fragment") or []):
        found.append(f"extends_documentation_fragment lacks {FRAGMENT}")
    check = attributes.get("check_mode") or {}
    if check.get("support") == "partial" and (name not in EXEMPT or not check.get("details")):
        found.append("partial check mode needs an EXEMPT entry and attributes.check_mode.details saying why")

    constructors = [call for _name, call in calls_named(tree, "AnsibleModule", "AnsibleAWSModule")]
    if not constructors:
        found.append("no AnsibleModule or AnsibleAWSModule call")
    for call in constructors:
        value = next((k.value for k in call.keywords if k.arg == "supports_check_mode"), None)
        if not (isinstance(value, ast.Constant) and value.value is True):
            found.append("the module is not built with supports_check_mode=True")

    exits = sorted(calls_named(tree, "exit_json", "exit_result"), key=lambda found_exit: found_exit[1].lineno)
    if (attributes.get("diff_mode") or {}).get("support") in ("full", "partial"):
        if not any(n == "exit_result" for n, _call in exits):
            found.append("diff_mode is supported but the module does not return through exit_result")
    if name.endswith("_info"):
        for exit_name, call in exits:
            value = changed_argument(exit_name, call)
            if not (isinstance(value, ast.Constant) and value.value is False):
                found.append(f"{exit_name} on line {call.lineno} of an _info module does not pass changed=False")
    return found


def module_params():
    return [pytest.param(path, id=path.stem) for path in sorted(MODULES.glob("*.py")) if path.stem != "__init__"]


@pytest.mark.parametrize("path", module_params())
def test_the_module_keeps_the_check_mode_and_diff_contract(path):
    assert violations(path) == []


def test_every_exemption_names_a_module_that_exists():
    names = {p.stem for p in MODULES.glob("*.py")}
    assert set(EXEMPT) <= names


GOOD = '''
DOCUMENTATION = r"""
module: planted_info
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
"""
from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    module.exit_json(changed=False, found=[])
'''

BAD = '''
DOCUMENTATION = r"""
module: planted_info
attributes:
  diff_mode:
    support: sometimes
"""
from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={}, supports_check_mode=False)
    if module.params:
        module.exit_json(changed=True)
    module.exit_json(changed=bool(module.params))
'''


def test_a_planted_module_that_keeps_the_contract_passes(tmp_path):
    path = tmp_path / "planted_info.py"
    path.write_text(GOOD)
    assert violations(path) == []


def test_a_planted_bad_module_fails_on_every_breach(tmp_path):
    path = tmp_path / "planted_info.py"
    path.write_text(BAD)
    found = violations(path)
    assert found == [
        "attributes.check_mode.support is None, not one of ['full', 'none', 'partial']",
        "attributes.diff_mode.support is 'sometimes', not one of ['full', 'none', 'partial']",
        "attributes.platform is missing",
        f"extends_documentation_fragment lacks {FRAGMENT}",
        "the module is not built with supports_check_mode=True",
        "exit_json on line 14 of an _info module does not pass changed=False",
        "exit_json on line 15 of an _info module does not pass changed=False",
    ]


def test_a_planted_module_with_diff_but_a_plain_exit_and_unexplained_partial_check_mode_fails(tmp_path):
    path = tmp_path / "planted.py"
    path.write_text(GOOD.replace("support: none", "support: full").replace("support: full\n  diff",
                                                                           "support: partial\n  diff", 1))
    assert violations(path) == [
        "partial check mode needs an EXEMPT entry and attributes.check_mode.details saying why",
        "diff_mode is supported but the module does not return through exit_result",
    ]
