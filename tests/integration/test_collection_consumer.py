"""The collection as an Ansible user consumes it: a tarball installed into their own project.

The only thing taken from the checkout is the tarball `ansible-galaxy collection build` makes of it. It is
installed with `--offline` into a fresh collections path in a temporary project outside the checkout (the
upstream collections it depends on come from the venv's `ansible` package). The project gets a local-profile
inventory the way the README tells a user to make one: its own hosts.yml plus the profile's group_vars copied
out of the *installed* collection. Then, from that project, with a fresh ansible.cfg and no path into the
checkout, `gpu_e2e.platform.site --tags vpc` builds the network against the embedded emulator and
`gpu_e2e.platform.teardown` removes it and must report 0 leftovers; every module's documentation renders
with ansible-doc from the installed copy.

What fails here: a role that reaches outside the collection (`role_path/../..` to a repo-only file, a file
left out of the tarball by build_ignore), a collection playbook that no longer resolves by FQCN, a galaxy.yml
dependency the offline install cannot satisfy, a profile default that only exists in the checkout, or a
module whose DOCUMENTATION does not parse. Checked by putting the old `{{ role_path }}/../../loadtest/locustfile.py`
back into roles/loadtest/vars/main.yml (the role-file check fails) and by adding `playbooks` to build_ignore
(the tarball check fails and gpu_e2e.platform.site no longer resolves).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest
import yaml
from aws_emulator_process import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The upstream collections (amazon.aws, community.aws, kubernetes.core) of requirements.txt's `ansible` pin.
VENV_SITE_PACKAGES = Path(sysconfig.get_paths(vars={"base": sys.prefix, "platbase": sys.prefix})["purelib"]).resolve()
STACK = "it-consumer"
TIMEOUT = 600  # seconds per command; a vpc-only site plus a teardown take about a minute here


def consumer_env(project: Path, collections: Path) -> dict:
    """The environment of a user's shell: nothing of the checkout's Ansible settings survives."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "MOLECULE_")) and k != "PYTHONPATH"}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        ANSIBLE_CONFIG=str(project / "ansible.cfg"),
        ANSIBLE_HOME=str(project.parent / "ansible-home"),
        ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([str(collections), str(VENV_SITE_PACKAGES)]),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def run(argv: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT,
                            stdin=subprocess.DEVNULL, check=False)
    assert result.returncode == 0, f"{argv}\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    return result


@pytest.fixture(scope="module")
def consumer(tmp_path_factory):
    """A built tarball, installed into a fresh project outside the checkout, with a local-profile inventory."""
    base = tmp_path_factory.mktemp("consumer")
    assert ROOT not in base.parents
    dist, collections, project = base / "dist", base / "collections", base / "project"
    for path in (dist, collections, project):
        path.mkdir()

    build = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(dist), str(ROOT)],
                           cwd=base, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    (tarball,) = dist.glob("gpu_e2e-platform-*.tar.gz")

    # A fresh ansible.cfg: nothing of the checkout's (no collections/ symlink, no roles_path).
    (project / "ansible.cfg").write_text("[defaults]\ninterpreter_python = auto_silent\n")
    env = consumer_env(project, collections)
    run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "-p", str(collections), str(tarball)],
        cwd=project, env=env)
    installed = collections / "ansible_collections" / "gpu_e2e" / "platform"

    # The user's inventory: their own hosts file, the profile's group_vars copied from the installed collection.
    inventory = project / "inventories" / "local"
    inventory.mkdir(parents=True)
    (inventory / "hosts.yml").write_text(yaml.safe_dump(
        {"controller": {"hosts": {"localhost": {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        }}}}))
    shutil.copytree(installed / "inventories" / "local" / "group_vars", inventory / "group_vars")
    extra = ["-e", f"stack_name={STACK}", "-e", f"aws_emulator_port={free_port()}"]
    yield {"tarball": tarball, "installed": installed, "project": project, "env": env, "extra": extra,
           "inventory": inventory}
    # Whatever happened, stop every local process the run recorded (by PID).
    for pid_file in (project / "runs" / STACK / "state").rglob("*.pid"):
        try:
            os.kill(int(pid_file.read_text().strip()), 15)
        except (ProcessLookupError, ValueError):
            pass


def playbook(consumer, *args: str) -> subprocess.CompletedProcess:
    return run([str(BIN / "ansible-playbook"), "-i", str(consumer["inventory"]), *args, *consumer["extra"]],
               cwd=consumer["project"], env=consumer["env"])


def test_the_tarball_holds_the_collection_and_nothing_local(consumer):
    with tarfile.open(consumer["tarball"]) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    assert {"playbooks/site.yml", "playbooks/teardown.yml", "roles/loadtest/files/locustfile.py"} <= set(names)
    assert not [n for n in names if n.split("/")[0] in {".venv", "runs", "collections", ".cache", ".ansible"}
                or "__pycache__" in n or n.startswith("tests/output")]
    assert set(manifest["collection_info"]["dependencies"]) == {"amazon.aws", "community.aws", "kubernetes.core"}


def test_every_file_a_role_names_by_role_path_is_inside_that_role(consumer):
    """`{{ role_path }}/...` paths stay inside the installed role: nothing depends on the repository layout."""
    roles = consumer["installed"] / "roles"
    found = 0
    for path in roles.rglob("*.yml"):
        role_dir = roles / path.relative_to(roles).parts[0]
        for ref in re.findall(r"\{\{\s*role_path\s*\}\}(/[^\"'\s}]*)", path.read_text()):
            found += 1
            target = Path(os.path.normpath(str(role_dir) + ref))
            assert target.is_relative_to(role_dir), f"{path.relative_to(roles)}: {ref} leaves the role"
            assert target.exists(), f"{path.relative_to(roles)}: {ref} is not in the installed collection"
    assert found, "no role_path references found: the pattern is stale"


def test_site_vpc_then_teardown_from_the_installed_collection_leaves_nothing(consumer):
    listed = run([str(BIN / "ansible-galaxy"), "collection", "list", "gpu_e2e.platform", "--format", "json"],
                 cwd=consumer["project"], env=consumer["env"])
    paths = [p for p, found in json.loads(listed.stdout).items() if "gpu_e2e.platform" in found]
    assert [Path(p).resolve() for p in paths] == [consumer["installed"].parent.parent.resolve()]

    site = playbook(consumer, "gpu_e2e.platform.site", "--tags", "vpc")
    runs = consumer["project"] / "runs" / STACK
    run_dir = (runs / "latest").resolve()
    vpc = json.loads((run_dir / "aws" / "vpc.json").read_text())
    assert vpc, site.stdout[-2000:]
    # The stage ran from the installed copy, and nothing was read from or written to the checkout.
    assert str(ROOT) not in site.stdout

    down = playbook(consumer, "gpu_e2e.platform.teardown", "-e", "teardown_confirm=true")
    assert f"0 leftovers of stack {STACK}" in down.stdout
    leftovers = json.loads(((runs / "latest").resolve() / "leftovers.json").read_text())
    assert int(leftovers["count"]) == 0


def test_every_module_documentation_renders_from_the_installed_collection(consumer):
    with tarfile.open(consumer["tarball"]) as tar:
        expected = sorted(
            "gpu_e2e.platform." + Path(n).stem for n in tar.getnames()
            if n.startswith("plugins/modules/") and n.endswith(".py") and not Path(n).name.startswith("_")
        )
    assert "gpu_e2e.platform.onnx_package" in expected
    env, cwd = consumer["env"], consumer["project"]

    listed = run([str(BIN / "ansible-doc"), "-t", "module", "-l", "gpu_e2e.platform", "-j"], cwd=cwd, env=env)
    assert sorted(json.loads(listed.stdout)) == expected

    docs = json.loads(run([str(BIN / "ansible-doc"), "-t", "module", "-j", *expected], cwd=cwd, env=env).stdout)
    for name in expected:
        doc = docs[name]["doc"]
        assert doc["short_description"] and doc["options"] is not None, name
        assert docs[name]["examples"].strip() and docs[name]["return"] is not None, name
        assert Path(doc["filename"]).resolve().is_relative_to(consumer["installed"].resolve()), doc["filename"]

    text = run([str(BIN / "ansible-doc"), "-t", "module", *expected], cwd=cwd, env=env)
    for name in expected:
        assert f"MODULE {name}" in text.stdout, name
