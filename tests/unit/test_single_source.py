"""One owner for every shared piece of logic: the load test's plan is one file (the role's package links to the
module_utils), no function or class is copied between plugins/ and a role's files/, and the collection has one
manifest validator."""

import ast
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "plugins" / "module_utils" / "loadtest_plan.py"


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


PACKAGE = ROOT / "roles" / "loadtest" / "files" / "gpu_e2e_loadtest"
# The load generator's modules that are the collection's module_utils (one copy, shipped through a link).
SHARED = {"plan.py": PLAN, "percentiles.py": ROOT / "plugins" / "module_utils" / "percentiles.py"}


@pytest.mark.parametrize("name", sorted(SHARED))
def test_the_load_generators_shared_modules_are_links_to_the_module_utils(name):
    link, target = PACKAGE / name, SHARED[name]
    assert link.is_symlink(), f"{link.relative_to(ROOT)} must stay a link to {target.relative_to(ROOT)}"
    assert link.resolve() == target.resolve()
    # Relative, inside the collection: ansible-galaxy keeps it in the tarball and the installed copy.
    assert not os.path.isabs(os.readlink(link))


@pytest.mark.parametrize("name", sorted(SHARED))
def test_the_shared_modules_import_only_the_standard_library(name):
    """The load generator imports them stand-alone (locally and in the in-cluster Locust pods)."""
    tree = ast.parse(SHARED[name].read_text(encoding="utf-8"))
    modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module}
    assert modules <= {"__future__", "json", "math"}, modules


@pytest.mark.parametrize("name", sorted(SHARED))
def test_no_shared_name_is_defined_again_in_the_load_generator(name):
    names = set(definitions(SHARED[name]))
    again = {f"{path.relative_to(ROOT)}: {other}" for path in python_files("roles/loadtest/files")
             for other in set(definitions(path)) & names}
    assert not again, f"defined again beside {SHARED[name].relative_to(ROOT)}: {sorted(again)}"


def test_latency_percentiles_have_one_home():
    """Raw-sample percentiles go through module_utils/percentiles.py, not numpy.percentile in place."""
    callers = [str(path.relative_to(ROOT)) for path in python_files("plugins", "roles", "benchmarks", "scripts")
               if "np.percentile(" in path.read_text(encoding="utf-8")]
    assert not callers, callers


def test_no_function_or_class_is_copied_between_plugins_and_a_roles_files():
    """The same body under any name (a copy renamed is still a copy); one-liners are too small to count."""
    plugins = {}
    for path in python_files("plugins"):
        for name, source in definitions(path).items():
            plugins.setdefault(source, f"{path.relative_to(ROOT)}: {name}")
    copies = [f"{path.relative_to(ROOT)}: {name} (= {plugins[source]})" for path in role_files()
              for name, source in definitions(path).items() if source in plugins and source.count("(") > 12]
    assert not copies, copies


def test_one_manifest_validator():
    """Only module_utils/k8s_validate.py calls kubernetes-validate; roles use gpu_e2e.platform.k8s_validate_info."""
    callers = [str(path.relative_to(ROOT)) for path in python_files("plugins", "roles", "scripts")
               if "kubernetes_validate" in path.read_text(encoding="utf-8")]
    assert callers == ["plugins/module_utils/k8s_validate.py"], callers


def test_the_in_cluster_load_generator_installs_the_controllers_pinned_versions():
    """constraints.txt owns the versions; the Locust pods' init container installs the same ones."""
    import re

    import yaml

    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "constraints.txt").read_text(), re.M))
    pins = {name.lower().replace("_", "-"): version for name, version in pins.items()}
    packages = yaml.safe_load((ROOT / "roles" / "loadtest" / "vars" / "main.yml").read_text())[
        "loadtest__k8s_python_packages"]
    assert any(p.startswith("tritonclient==") for p in packages)
    for package in packages:
        name, version = package.split("==")
        assert pins.get(name.lower().replace("_", "-")) == version, f"{package}: constraints.txt pins {pins.get(name)}"
