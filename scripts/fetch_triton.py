"""Install NVIDIA's tritonserver (from a pinned PyPI wheel) and its backend environment.

Why by hand: no package manager reachable here installs tritonserver (NVIDIA
ships it in container images). The PyPI wheel nvidia-pytriton carries the real
server (Triton 2.51.0): `pytriton/tritonserver/` (the binary, the Python
backend, one backend stub per Python version) and `nvidia_pytriton.libs/`
(its shared libraries, found through the binaries' relative RPATH). Installing
the wheel itself would put pytriton's Python dependencies (numpy<2) into the
controller venv, so this downloads it with pip (--no-deps, hash-checked) and
extracts only those two trees, keeping their relative layout.

The stub needs numpy 1.x and onnxruntime in the Python it runs: pip installs
them from requirements-triton-backend.txt into a directory of their own
(`--target`, --no-deps: that file is the complete, frozen set).

Layout written (DEST, normally .venv/triton):
  server/pytriton/tritonserver/...   server/nvidia_pytriton.libs/...
  backend-env/                        (site directory of the backend)
  install.json                        (what was installed: versions and paths)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_REQUIREMENTS = ROOT / "requirements-triton.txt"
BACKEND_REQUIREMENTS = ROOT / "requirements-triton-backend.txt"
KEEP = ("pytriton/tritonserver/", "nvidia_pytriton.libs/")
STUBS = "pytriton/tritonserver/python_backend_stubs"


def sha256_of(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def extract(wheel: Path, dest: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        for info in whl.infolist():
            if info.is_dir() or not info.filename.startswith(KEEP):
                continue
            target = dest / info.filename
            if dest.resolve() not in target.resolve().parents:
                raise SystemExit(f"refusing a wheel member outside {dest}: {info.filename}")
            target.parent.mkdir(parents=True, exist_ok=True)
            with whl.open(info) as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)
            mode = (info.external_attr >> 16) & 0o777
            os.chmod(target, (mode & 0o755) or 0o644)  # no group/other write, whatever the zip says


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", help="install directory, e.g. .venv/triton")
    args = parser.parse_args()
    dest = Path(args.dest)
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--require-hashes",
             "-d", tmp, "-r", str(SERVER_REQUIREMENTS)],
            check=True,
        )
        wheel = next(Path(tmp).glob("nvidia_pytriton-*.whl"))
        staging = Path(tmp) / "staging"
        extract(wheel, staging / "server")
        stubs = sorted((p.name for p in (staging / "server" / STUBS).iterdir()),
                       key=lambda v: tuple(int(x) for x in v.split(".")))
        if python not in stubs:
            raise SystemExit(
                f"the tritonserver wheel has Python backend stubs for {', '.join(stubs)}, not for Python {python} "
                f"(the Python running this script): re-run `make setup` with PYTHON set to one of those")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary", ":all:",
             "--target", str(staging / "backend-env"), "-r", str(BACKEND_REQUIREMENTS)],
            check=True,
        )
        record = {
            "wheel": wheel.name,
            "python": python,
            "stubs": stubs,
            "requirements_sha256": sha256_of(SERVER_REQUIREMENTS, BACKEND_REQUIREMENTS),
        }
        (staging / "install.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), str(dest))
    print(f"tritonserver ({record['wheel']}) and its backend environment "
          f"for Python {python} installed in {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
