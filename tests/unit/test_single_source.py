"""One owner for every shared piece of logic: the load test's plan is one file (the role's package links to the
module_utils), no function or class is copied between plugins/ and a role's files/, and the collection has one
manifest validator."""

import ast
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "plugins" / "module_utils" / "loadtest_plan.py"
PACKAGE_PLAN = ROOT / "roles" / "loadtest" / "files" / "gpu_e2e_loadtest" / "plan.py"


def python_files(*tops):
    """Real Python files (links are the same file as their target: they are no copy)."""
    for top in tops:
        for path in sorted((ROOT / top).rglob("*.py")):
            if not path.is_symlink() and "__pycache__" not in path.parts:
                yield path


def role_files():
    for role in sorted((ROOT / "roles").iterdir()):
        if (role / "files").is_dir():
            yield from python_files(role.relative_to(ROOT) / "files")


def definitions(path):
    """{name: normalised source} of the top-level functions and classes, docstrings left out."""
    found = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
                body = body[1:]
            found[node.name] = ast.dump(ast.Module(body=body, type_ignores=[]), annotate_fields=False)
    return found


def test_the_load_generators_plan_module_is_a_link_to_the_module_utils():
    assert PACKAGE_PLAN.is_symlink(), f"{PACKAGE_PLAN.relative_to(ROOT)} must stay a link to {PLAN.relative_to(ROOT)}"
    assert PACKAGE_PLAN.resolve() == PLAN.resolve()
    # Relative, inside the collection: ansible-galaxy keeps it in the tarball and the installed copy.
    assert not os.path.isabs(os.readlink(PACKAGE_PLAN))


def test_the_plan_module_imports_only_the_standard_library():
    """The load generator imports it stand-alone (locally and in the in-cluster Locust pods)."""
    tree = ast.parse(PLAN.read_text(encoding="utf-8"))
    modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module}
    assert modules <= {"__future__", "json"}, modules


def test_no_plan_name_is_defined_again_in_the_load_generator():
    names = set(definitions(PLAN))
    again = {f"{path.relative_to(ROOT)}: {name}" for path in python_files("roles/loadtest/files")
             for name in set(definitions(path)) & names}
    assert not again, f"defined again beside {PLAN.relative_to(ROOT)}: {sorted(again)}"


def test_no_function_or_class_is_copied_between_plugins_and_a_roles_files():
    plugins = {}
    for path in python_files("plugins"):
        for name, source in definitions(path).items():
            plugins.setdefault((name, source), path)
    copies = [f"{path.relative_to(ROOT)}: {name} (= {plugins[(name, source)].relative_to(ROOT)})"
              for path in role_files() for name, source in definitions(path).items() if (name, source) in plugins]
    assert not copies, copies


def test_one_manifest_validator():
    """Only module_utils/k8s_validate.py calls kubernetes-validate; roles use gpu_e2e.platform.k8s_validate_info."""
    callers = [str(path.relative_to(ROOT)) for path in python_files("plugins", "roles", "scripts")
               if "kubernetes_validate" in path.read_text(encoding="utf-8")]
    assert callers == ["plugins/module_utils/k8s_validate.py"], callers
