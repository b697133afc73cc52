"""Write (or check) roles/model/files/imagenet_labels.txt from its published source.

Source: the npm package @tensorflow-models/mobilenet (Apache-2.0), file
dist/imagenet_classes.js, a JavaScript object {0: 'tench, Tinca tinca', ...}
of the 1,000 ImageNet-1k classes in the standard training order. The
package is fetched with npm's own client (`npm pack`), its tarball is
checked against the pinned SHA-256, and the object is parsed without
running JavaScript. The labels file holds one class per line, line i being
class i: the format of Triton's `label_filename`.

    python scripts/imagenet_labels.py            # (re)write the labels file
    python scripts/imagenet_labels.py --check    # fail if the committed file differs from the source
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tarfile
import tempfile

PACKAGE = "@tensorflow-models/mobilenet"
VERSION = "2.1.1"
TARBALL_SHA256 = "29b97f8db758d1d699c5654100fd363beaaeda1874e1488b5bceb267d13f90ff"
MEMBER = "package/dist/imagenet_classes.js"
NUM_CLASSES = 1000
LABELS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "roles", "model", "files",
                           "imagenet_labels.txt")

_STRING = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
_ENTRY = re.compile(rf"(\d+)\s*:\s*((?:{_STRING})(?:\s*\+\s*(?:{_STRING}))*)")


class LabelsError(Exception):
    """The source cannot be fetched or parsed into 1,000 classes."""


def _unquote(literal):
    body = literal[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def parse_classes_js(text):
    """The class names of imagenet_classes.js, index order, as a list of strings."""
    classes = {}
    for match in _ENTRY.finditer(text):
        index = int(match.group(1))
        name = "".join(_unquote(part) for part in re.findall(_STRING, match.group(2)))
        if index in classes:
            raise LabelsError(f"class {index} appears twice")
        classes[index] = name
    if sorted(classes) != list(range(NUM_CLASSES)):
        raise LabelsError(f"expected classes 0..{NUM_CLASSES - 1}, found {len(classes)}")
    names = [classes[i] for i in range(NUM_CLASSES)]
    bad = [n for n in names if not n.strip() or "\n" in n]
    if bad:
        raise LabelsError(f"empty or multi-line class names: {bad[:3]}")
    return names


def labels_text(names):
    return "".join(name + "\n" for name in names)


def fetch_source(workdir):
    """Bytes of imagenet_classes.js from the pinned npm tarball (npm pack, SHA-256 checked)."""
    try:
        subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"], cwd=workdir, check=True,  # noqa: S607
                       capture_output=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as exc:
        raise LabelsError(f"npm pack {PACKAGE}@{VERSION} failed: {exc}") from exc
    tarball = os.path.join(workdir, "tensorflow-models-mobilenet-" + VERSION + ".tgz")
    with open(tarball, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    if digest != TARBALL_SHA256:
        raise LabelsError(f"{tarball} has sha256 {digest}, pinned {TARBALL_SHA256}")
    with tarfile.open(tarball) as archive:
        member = archive.extractfile(MEMBER)
        if member is None:
            raise LabelsError(f"{MEMBER} is not in the tarball")
        return member.read()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--labels", default=LABELS_PATH, help="labels file (default: the role's)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        text = labels_text(parse_classes_js(fetch_source(workdir).decode("utf-8")))
    if args.check:
        with open(args.labels, encoding="utf-8") as handle:
            if handle.read() != text:
                print(f"{args.labels} differs from {PACKAGE}@{VERSION} {MEMBER}", file=sys.stderr)
                return 1
        print(f"{args.labels} matches {PACKAGE}@{VERSION} {MEMBER}")
        return 0
    with open(args.labels, "w", encoding="utf-8") as handle:
        handle.write(text)
    print(f"wrote {args.labels} ({NUM_CLASSES} classes from {PACKAGE}@{VERSION})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
