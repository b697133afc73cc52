# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline, strict validation of rendered Kubernetes manifests: the collection's one manifest validator.

Each YAML document of each file is checked, in this order, by the first rule that applies:

1. A kind kubernetes-validate ships a schema for (the core and built-in API groups of the target
   Kubernetes version) is validated against it, with strict=True: unknown fields are errors.
2. Any other kind (a custom resource, such as prometheus-operator's ServiceMonitor) is validated
   against ``<crd_schemas>/<group>_<version>_<Kind>.json`` when that JSON schema exists. The
   schemas the collection bundles set ``additionalProperties: false``, so they are strict too.
3. A kind listed in ``unchecked_kinds`` (``<apiVersion>/<Kind>`` -> reason) is reported as
   ``skipped`` with that reason: accepted unchecked, on purpose and on the record.
4. Anything else is ``invalid`` ("no schema for ..."): a kind without a schema never passes silently.

A ``List`` is invalid too (its items would pass unchecked): render the items as separate documents.
"""

import glob
import os

from ansible_collections.gpu_e2e.platform.plugins.module_utils.json_read import read_json

try:
    import kubernetes_validate

    HAS_KUBERNETES_VALIDATE = True
    KUBERNETES_VALIDATE_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - ansible-test import sanity
    HAS_KUBERNETES_VALIDATE = False
    KUBERNETES_VALIDATE_IMPORT_ERROR = exc

try:
    import jsonschema
except ImportError:  # pragma: no cover - kubernetes-validate depends on it
    jsonschema = None

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


def check_unchecked_kinds(unchecked_kinds):
    """Every entry is '<apiVersion>/<Kind>' -> a non-empty reason; return it as a dict."""
    kinds = dict(unchecked_kinds or {})
    for key, reason in kinds.items():
        if str(key).count("/") not in (1, 2) or not str(key).rsplit("/", 1)[-1]:
            raise ManifestValidationError(
                f"unchecked_kinds key {key!r} must be <apiVersion>/<Kind>, e.g. monitoring.coreos.com/v1/PodMonitor")
        if not isinstance(reason, str) or not reason.strip():
            raise ManifestValidationError(f"unchecked_kinds {key!r} needs a reason (a non-empty string)")
    return kinds


def _documents(path):
    if not HAS_YAML:
        raise ManifestValidationError("PyYAML is required")
    try:
        with open(path) as handle:
            return [doc for doc in yaml.safe_load_all(handle) if doc is not None]
    except (OSError, yaml.YAMLError) as exc:
        raise ManifestValidationError(f"cannot read {path}: {exc}") from exc


def crd_schema(crd_schemas, doc):
    """The JSON schema of a custom resource kind from the directory `crd_schemas`, or None."""
    if not crd_schemas:
        return None
    group, _slash, version = str(doc.get("apiVersion", "")).rpartition("/")
    path = os.path.join(crd_schemas, f"{group}_{version}_{doc.get('kind')}.json")
    if not os.path.isfile(path):
        return None
    return read_json(path, ManifestValidationError, "the CRD schema")


def _crd_errors(schema, doc):
    if jsonschema is None:
        raise ManifestValidationError("jsonschema is required to validate custom resources")
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    return "; ".join(f"{'/'.join(str(p) for p in e.path) or '(root)'}: {e.message}" for e in errors[:5])


def validate_document(doc, version, strict=True, crd_schemas=None, unchecked_kinds=None):
    """Return (status, error) with status valid | invalid | skipped (the module docstring's rules)."""
    if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
        return "invalid", "not a Kubernetes object (apiVersion and kind are required)"
    if doc["kind"] == "List":
        return "invalid", "List objects are not validated; render items as separate documents"
    try:
        kubernetes_validate.validate(doc, version, strict=strict)
    except kubernetes_validate.SchemaNotFoundError:
        schema = crd_schema(crd_schemas, doc)
        if schema is not None:
            errors = _crd_errors(schema, doc)
            return ("invalid", errors) if errors else ("valid", None)
        reason = (unchecked_kinds or {}).get(f"{doc['apiVersion']}/{doc['kind']}")
        if reason:
            return "skipped", f"not validated ({doc['apiVersion']}/{doc['kind']} is in unchecked_kinds): {reason}"
        return "invalid", (
            f"no schema for {doc['apiVersion']}/{doc['kind']} in Kubernetes {version}: give its CRD schema "
            "(crd_schemas) or list the kind in unchecked_kinds with a reason"
        )
    except kubernetes_validate.ValidationError as exc:
        where = "/".join(str(p) for p in exc.path) or "(root)"
        return "invalid", f"{where}: {exc.message}"
    except kubernetes_validate.InvalidSchemaError as exc:
        return "invalid", str(exc).splitlines()[0]
    return "valid", None


def validate_sources(sources, kubernetes_version, strict=True, crd_schemas=None, unchecked_kinds=None):
    if not HAS_KUBERNETES_VALIDATE:
        raise ManifestValidationError(f"kubernetes-validate is required: {KUBERNETES_VALIDATE_IMPORT_ERROR}")
    version = full_version(kubernetes_version)
    unchecked = check_unchecked_kinds(unchecked_kinds)
    if crd_schemas and not os.path.isdir(crd_schemas):
        raise ManifestValidationError(f"crd_schemas is not a directory: {crd_schemas}")
    files = manifest_files(sources)
    if not files:
        raise ManifestValidationError(f"no manifests found in {', '.join(sources)}")
    results = []
    for path in files:
        for index, doc in enumerate(_documents(path)):
            status, error = validate_document(doc, version, strict, crd_schemas, unchecked)
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


def invalid_message(result):
    """The one-line failure of a result with invalid documents (None when there are none)."""
    invalid = [d for d in result["documents"] if d["status"] == "invalid"]
    if not invalid:
        return None
    lines = [f"{d['file']}#{d['index']} {d['kind']}/{d['name']}: {d['error']}" for d in invalid]
    return f"{len(invalid)} manifest(s) invalid for Kubernetes {result['kubernetes_version']}: " + "; ".join(lines)
