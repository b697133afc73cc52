"""meta/execution-environment.yml against ansible-builder's own schema and loaders, without building an image.

The file is read two ways: `ansible-builder build -f meta/execution-environment.yml` resolves its dependency
files from meta/, and ansible-builder's introspection of the installed collection (inside that same build, and
in any other EE that includes the collection) resolves them from the collection root. Both must find the same
requirements. A key ansible-builder does not know, a missing dependency file, meta/ copies that drift from the
root files, a tarball name that no longer matches galaxy.yml's version or pins that disagree with the
controller's fail here.
"""
from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_builder._target_scripts import introspect
from ansible_builder.ee_schema import validate_schema
from ansible_builder.exceptions import DefinitionError
from ansible_builder.user_definition import UserDefinition

ROOT = Path(__file__).resolve().parents[2]
EE_FILE = ROOT / "meta" / "execution-environment.yml"
BIN = Path(sys.executable).parent


@pytest.fixture
def ee() -> dict:
    return yaml.safe_load(EE_FILE.read_text())


def requirement_lines(path: Path) -> list[str]:
    return [line.split("#")[0].strip() for line in path.read_text().splitlines() if line.split("#")[0].strip()]


def test_the_file_passes_ansible_builders_v3_schema(ee):
    assert ee["version"] == 3
    validate_schema(copy.deepcopy(ee))


def test_ansible_builder_loads_the_definition_and_finds_its_dependency_files():
    definition = UserDefinition(str(EE_FILE))
    definition.validate()  # the schema again, plus: every referenced dependency file exists
    assert Path(definition.get_dep_abs_path("python")).resolve() == (ROOT / "meta" / "requirements.txt").resolve()
    assert Path(definition.get_dep_abs_path("system")).resolve() == (ROOT / "meta" / "bindep.txt").resolve()


@pytest.mark.parametrize("name", ["requirements.txt", "bindep.txt"])
def test_the_meta_copies_are_the_root_files(name):
    """A build reads meta/<name>, introspection of the installed collection reads <root>/<name>."""
    assert (ROOT / "meta" / name).read_bytes() == (ROOT / name).read_bytes(), f"copy {name} to meta/{name}"
    assert not (ROOT / "meta" / name).is_symlink()


def test_introspection_of_the_collection_yields_the_controllers_requirements():
    pip_lines, bindep_lines = introspect.process_collection(str(ROOT))
    assert [line.split("#")[0].strip() for line in pip_lines] == requirement_lines(ROOT / "requirements.txt")
    assert [line.split("#")[0].strip() for line in bindep_lines] == requirement_lines(ROOT / "bindep.txt")
    assert any(line.startswith("prometheus ") for line in requirement_lines(ROOT / "bindep.txt"))
    assert any(line.startswith("libpython3.11 ") for line in requirement_lines(ROOT / "bindep.txt"))


def test_the_pins_agree_with_the_controller_and_galaxy_yml(ee):
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    constraints = requirement_lines(ROOT / "constraints.txt")
    tarball = f"gpu_e2e-platform-{galaxy['version']}.tar.gz"
    assert ee["dependencies"]["galaxy"]["collections"] == [{"name": f"/build/dist/{tarball}", "type": "file"}]
    assert [f["src"] for f in ee["additional_build_files"]] == [f"../{tarball}"]
    assert ee["dependencies"]["ansible_core"]["package_pip"] in constraints
    # The interpreter is the controller's Python: Triton's backend stub links that libpython.
    python = "python{}.{}".format(*sys.version_info[:2])
    assert ee["dependencies"]["python_interpreter"]["package_system"] == python
    steps = "\n".join(ee["additional_build_steps"]["append_final"])
    # helm and tritonserver come from the same scripts as `make setup` (one install path), from the
    # installed collection; the tritonserver pins are the ones requirements-triton.txt holds.
    for script in ("scripts/fetch_helm.py", "scripts/fetch_triton.py"):
        assert f"ansible_collections/gpu_e2e/platform/{script}" in steps and (ROOT / script).is_file(), script
    assert "nvidia-pytriton==0.7.0" in (ROOT / "requirements-triton.txt").read_text()


def test_ansible_builder_renders_the_build_context_without_building(tmp_path):
    result = subprocess.run(
        [str(BIN / "ansible-builder"), "create", "-f", str(EE_FILE), "--context", str(tmp_path / "ctx"),
         "--output-filename", "Containerfile"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    containerfile = (tmp_path / "ctx" / "Containerfile").read_text()
    assert 'ARG PYCMD="/usr/bin/python3.11"' in containerfile
    assert "fetch_helm.py /usr/bin/helm" in containerfile
    assert "fetch_triton.py /usr/triton" in containerfile
    for name in ("requirements.txt", "bindep.txt"):
        copied = tmp_path / "ctx" / "_build" / name
        assert not copied.is_symlink() and copied.read_bytes() == (ROOT / name).read_bytes()


@pytest.mark.parametrize("breakage", [
    lambda d: d.update(build_steps=[]),                               # unknown top-level key
    lambda d: d["dependencies"].update(pyhton="requirements.txt"),    # misspelt dependency key
    lambda d: d.update(version="three"),                              # not a version number
])
def test_the_schema_check_rejects_a_broken_definition(ee, breakage):
    """The validation used above can fail."""
    broken = copy.deepcopy(ee)
    breakage(broken)
    with pytest.raises(DefinitionError):
        validate_schema(broken)
