# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate rendered Kubernetes manifests offline, strictly, for one Kubernetes version.

Core kinds are checked with kubernetes-validate (strict: unknown fields are
errors). Custom resources (e.g. the ServiceMonitor of prometheus-operator)
have no schema there; they are checked against the JSON schemas in --schemas
(<group>_<version>_<Kind>.json). A kind with no schema anywhere is an error,
never silently skipped. Prints a JSON summary; exit status 1 on any error.

usage: validate_manifests.py --kubernetes-version 1.31 --schemas DIR FILE...
"""

import argparse
import json
import os
import sys

import jsonschema
import kubernetes_validate
import yaml


def custom_schema(schemas_dir, doc):
    group_version = doc.get("apiVersion", "")
    group, _slash, version = group_version.rpartition("/")
    path = os.path.join(schemas_dir, f"{group}_{version}_{doc.get('kind')}.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def validate_file(path, k8s_version, schemas_dir):
    results = []
    with open(path, encoding="utf-8") as handle:
        documents = [d for d in yaml.safe_load_all(handle) if d]
    for doc in documents:
        name = f"{doc.get('kind', '?')}/{(doc.get('metadata') or {}).get('name', '?')}"
        entry = {"file": os.path.basename(path), "object": name, "apiVersion": doc.get("apiVersion")}
        try:
            kubernetes_validate.validate(doc, k8s_version, strict=True)
            entry["checked_with"] = f"kubernetes-validate {k8s_version} strict"
        except kubernetes_validate.SchemaNotFoundError:
            schema = custom_schema(schemas_dir, doc)
            if schema is None:
                entry["error"] = f"no schema for {doc.get('apiVersion')} {doc.get('kind')}"
            else:
                errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
                if errors:
                    entry["error"] = "; ".join(
                        f"{'.'.join(str(p) for p in e.path) or '<root>'}: {e.message}" for e in errors[:5])
                entry["checked_with"] = "bundled CRD schema"
        except kubernetes_validate.ValidationError as exc:
            entry["error"] = f"{'.'.join(str(p) for p in exc.path) or '<root>'}: {exc.message}"
        except Exception as exc:  # noqa: BLE001 - kubernetes-validate raises a few other types
            entry["error"] = str(exc).splitlines()[0]
        results.append(entry)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--kubernetes-version", required=True)
    parser.add_argument("--schemas", required=True)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    version = args.kubernetes_version
    if version.count(".") == 1:
        version += ".0"
    results = []
    for path in args.files:
        results.extend(validate_file(path, version, args.schemas))
    errors = [r for r in results if "error" in r]
    print(json.dumps({"kubernetes_version": version, "objects": len(results), "errors": errors,
                      "results": results}, indent=2))
    return 1 if errors or not results else 0


if __name__ == "__main__":
    sys.exit(main())
