# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline, strict validation of rendered Kubernetes manifests with kubernetes-validate.

Each YAML document of each file is checked against the OpenAPI schema of the target Kubernetes
version with strict=True (unknown fields are errors). Kinds without a bundled schema (custom
resources such as ServiceMonitor) are reported as `skipped`, never silently passed as valid.
"""

import glob
import os

try:
    import kubernetes_validate

    HAS_KUBERNETES_VALIDATE = True
    KUBERNETES_VALIDATE_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - ansible-test import sanity
    HAS_KUBERNETES_VALIDATE = False
    KUBERNETES_VALIDATE_IMPORT_ERROR = exc

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover
    HAS_YAML = False


class ManifestValidationError(Exception):
    """The one error raised by this module's logic."""


def full_version(version):
    """'1.31' -> '1.31.0' (kubernetes-validate wants major.minor.patch)."""
    parts = str(version).strip().lstrip("v").split(".")
    if len(parts) == 2:
        parts.append("0")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ManifestValidationError(f"kubernetes_version must look like 1.31 or 1.31.0, got {version!r}")
    return ".".join(parts)


def manifest_files(sources):
    files = []
    for source in sources:
        if os.path.isdir(source):
            found = sorted(glob.glob(os.path.join(source, "*.yaml")) + glob.glob(os.path.join(source, "*.yml")))
            files.extend(found)
        elif os.path.isfile(source):
            files.append(source)
        else:
            raise ManifestValidationError(f"no such file or directory: {source}")
    return files


def _documents(path):
    if not HAS_YAML:
        raise ManifestValidationError("PyYAML is required")
    try:
        with open(path) as handle:
            return [doc for doc in yaml.safe_load_all(handle) if doc is not None]
    except (OSError, yaml.YAMLError) as exc:
        raise ManifestValidationError(f"cannot read {path}: {exc}") from exc


def validate_document(doc, version, strict=True):
    """Return (status, error) with status valid | invalid | skipped."""
    if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
        return "invalid", "not a Kubernetes object (apiVersion and kind are required)"
    if doc["kind"] == "List":
        return "skipped", "List objects are not validated; render items as separate documents"
    try:
        kubernetes_validate.validate(doc, version, strict=strict)
    except kubernetes_validate.SchemaNotFoundError:
        return "skipped", f"no schema for {doc['apiVersion']}/{doc['kind']} in Kubernetes {version} (custom resource?)"
    except kubernetes_validate.ValidationError as exc:
        where = "/".join(str(p) for p in exc.path) or "(root)"
        return "invalid", f"{where}: {exc.message}"
    except kubernetes_validate.InvalidSchemaError as exc:
        return "invalid", str(exc).splitlines()[0]
    return "valid", None


def validate_sources(sources, kubernetes_version, strict=True):
    if not HAS_KUBERNETES_VALIDATE:
        raise ManifestValidationError(f"kubernetes-validate is required: {KUBERNETES_VALIDATE_IMPORT_ERROR}")
    version = full_version(kubernetes_version)
    files = manifest_files(sources)
    if not files:
        raise ManifestValidationError(f"no manifests found in {', '.join(sources)}")
    results = []
    for path in files:
        for index, doc in enumerate(_documents(path)):
            status, error = validate_document(doc, version, strict)
            metadata = doc.get("metadata", {}) if isinstance(doc, dict) else {}
            results.append(
                {
                    "file": path,
                    "index": index,
                    "kind": doc.get("kind") if isinstance(doc, dict) else None,
                    "name": metadata.get("name") if isinstance(metadata, dict) else None,
                    "status": status,
                    "error": error,
                }
            )
    counts = {status: sum(1 for r in results if r["status"] == status) for status in ("valid", "invalid", "skipped")}
    return {"kubernetes_version": version, "files": files, "documents": results, "counts": counts}
