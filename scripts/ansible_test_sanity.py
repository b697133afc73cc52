"""Run `ansible-test sanity` offline on a copy of this collection.

Why a wrapper: ansible-test only runs from a real
`.../ansible_collections/<namespace>/<name>` directory (a symlinked path is
refused), and its `--venv` bootstrap downloads get-pip.py from the internet,
which CI cannot reach. We copy the tracked tree to such a path and give
ansible-test a local stand-in for get-pip that uses ensurepip and PyPI.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Outside the repository: inside it, ansible-test would list files with git and skip ignored paths.
DEST = Path(tempfile.gettempdir()) / "gpu-e2e-ansible-test" / "ansible_collections" / "gpu_e2e" / "platform"
GET_PIP_STANDIN = '''"""Offline stand-in for get-pip.py, written by scripts/ansible_test_sanity.py."""
import subprocess
import sys
import tempfile

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
args = [a for a in sys.argv[1:] if not a.startswith("--")] or ["pip"]
subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *args])
'''


def collection_files() -> list[str]:
    out = subprocess.run(
        [shutil.which("git") or "git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    return [line for line in out.splitlines() if line and not line.startswith(("collections/", ".cache/"))]


def copy_tree() -> None:
    if DEST.exists():
        shutil.rmtree(DEST)
    for rel in collection_files():
        src = ROOT / rel
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the work tree, not yet committed
        dst = DEST / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)


def copy_dependencies() -> None:
    """Put amazon.aws beside the copy: our modules extend its doc fragments."""
    import ansible_collections.amazon.aws as amazon_aws  # noqa: PLC0415 - from the venv's ansible package

    dst = DEST.parent.parent / "amazon" / "aws"
    if not dst.exists():
        shutil.copytree(Path(amazon_aws.__path__[0]), dst, ignore=shutil.ignore_patterns("tests", "__pycache__"))


def install_get_pip_standin() -> None:
    cache = Path.home() / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    import ansible.release  # noqa: PLC0415 - only needed here

    # ansible-core 2.19 asks for get_pip_24_2.py; keep the other names it has used too.
    for name in ("get_pip_24_2.py", "get_pip_24_0.py", "get_pip_23_1_2.py", "get_pip_25_0_1.py"):
        (cache / name).write_text(GET_PIP_STANDIN, encoding="utf-8")
    print(f"ansible-core {ansible.release.__version__}: offline get-pip stand-in in {cache}")


def main() -> int:
    copy_tree()
    copy_dependencies()
    install_get_pip_standin()
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    cmd = [str(Path(sys.executable).parent / "ansible-test"), "sanity", "--venv", "--python", python, *sys.argv[1:]]
    print("+", " ".join(cmd), f"(in {DEST})", flush=True)
    return subprocess.call(cmd, cwd=DEST)


if __name__ == "__main__":
    sys.exit(main())
