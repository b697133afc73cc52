"""Generate docs/iam/operator-policy.json: the least-privilege IAM policy of the operator who runs the playbooks.

The actions are derived, not written by hand:

1. every task file of every role (roles/*/tasks, roles/*/handlers) and every playbook (playbooks/*.yml) is
   scanned for the modules it calls (FQCN keys of tasks, at any depth of blocks);
2. of those, the AWS modules (amazon.aws.*, community.aws.*, and this collection's modules built on
   AnsibleAWSModule) are looked up in scripts/operator_policy_map.yml, which says per module which IAM actions
   it needs and under which scope (one policy statement each: resources by name prefix, or a condition on the
   `stack` tag);
3. the statements are merged scope by scope, with {stack} and {cluster} filled in;
4. besides the whole policy, the statements are packed into operator-policy-managed-<n>.json documents that
   each fit AWS's 6,144-character limit of a customer managed policy (attach all of them).

A module with no entry in the map is an error: the policy would silently miss its actions.

    python scripts/gen_operator_policy.py                 # rewrite docs/iam/operator-policy*.json
    python scripts/gen_operator_policy.py --check         # exit 1 if the file is not what would be generated
    python scripts/gen_operator_policy.py --explain       # which role file uses which module, and its actions
    python scripts/gen_operator_policy.py --stack my-stack --output -   # the policy of another stack, to stdout
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MAP_FILE = ROOT / "scripts" / "operator_policy_map.yml"
OUTPUT = ROOT / "docs" / "iam" / "operator-policy.json"
STACK_VARS = ROOT / "inventories" / "local" / "group_vars" / "all" / "stack.yml"
COLLECTION = "gpu_e2e.platform"
MANAGED_POLICY_LIMIT = 6144  # characters of a customer managed policy, whitespace excluded
AWS_NAMESPACES = ("amazon.aws.", "community.aws.")
FQCN_RE = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+$")
# Task files whose module calls count: what `ansible-playbook site.yml` / `teardown.yml` run.
SCAN_GLOBS = ("roles/*/tasks/**/*.yml", "roles/*/handlers/**/*.yml", "playbooks/*.yml")


class PolicyError(Exception):
    """Something the generator cannot turn into a correct policy."""


# --- which modules the playbooks call ---------------------------------------------------------


def _fqcn_keys(node, found):
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and FQCN_RE.match(key):
                found.add(key)
            _fqcn_keys(value, found)
    elif isinstance(node, list):
        for item in node:
            _fqcn_keys(item, found)


def scanned_files(root=ROOT):
    files = set()
    for pattern in SCAN_GLOBS:
        files.update(p for p in root.glob(pattern) if p.is_file())
    return sorted(files)


def modules_used(root=ROOT):
    """{module FQCN: [files relative to root]} for every FQCN task key in the scanned files."""
    used = {}
    for path in scanned_files(root):
        try:
            documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except yaml.YAMLError as exc:
            raise PolicyError(f"{path.relative_to(root)}: not valid YAML ({exc})") from exc
        found = set()
        _fqcn_keys(documents, found)
        for fqcn in found:
            used.setdefault(fqcn, []).append(str(path.relative_to(root)))
    return used


def is_aws_module(fqcn, root=ROOT):
    if fqcn.startswith(AWS_NAMESPACES):
        return True
    if fqcn.startswith(COLLECTION + "."):
        source = root / "plugins" / "modules" / (fqcn.rsplit(".", 1)[1] + ".py")
        return source.is_file() and "AnsibleAWSModule" in source.read_text(encoding="utf-8")
    return False


def aws_modules_used(root=ROOT):
    return {m: files for m, files in modules_used(root).items() if is_aws_module(m, root)}


# --- the map ----------------------------------------------------------------------------------


def load_map(path=MAP_FILE):
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    scopes = {s["name"]: s for s in data["scopes"]}
    for module, grants in data["modules"].items():
        for scope, actions in grants.items():
            if scope not in scopes:
                raise PolicyError(f"{path}: {module} uses unknown scope {scope!r}")
            bad = [a for a in actions if not re.match(r"^[a-z0-9-]+:[A-Za-z0-9]+$", a)]
            if bad:
                raise PolicyError(f"{path}: {module}: not IAM action names: {bad}")
    return data


def non_module_grants(root=ROOT, policy_map=None):
    """The non_module_calls entries of the map whose files exist in this tree."""
    policy_map = policy_map or load_map()
    return [entry for entry in policy_map.get("non_module_calls", [])
            if any((root / f).exists() for f in entry["files"])]


def boto3_scripts(root=ROOT):
    """Scripts the roles ship that call AWS themselves (they import boto3 or botocore)."""
    return sorted(str(p.relative_to(root)) for p in root.glob("roles/*/files/**/*.py")
                  if re.search(r"^\s*(import|from)\s+(boto3|botocore)\b", p.read_text(encoding="utf-8"), re.M))


def unlisted_scripts(root=ROOT, policy_map=None):
    policy_map = policy_map or load_map()
    listed = {f for entry in policy_map.get("non_module_calls", []) for f in entry["files"]}
    return [script for script in boto3_scripts(root) if script not in listed]


def unmapped_modules(root=ROOT, policy_map=None):
    policy_map = policy_map or load_map()
    return {m: f for m, f in aws_modules_used(root).items() if m not in policy_map["modules"]}


def default_stack_name():
    data = yaml.safe_load(STACK_VARS.read_text(encoding="utf-8")) if STACK_VARS.is_file() else {}
    name = (data or {}).get("stack_name", "gpu-e2e")
    if "{{" in str(name):
        raise PolicyError(f"{STACK_VARS}: stack_name is templated; pass --stack")
    return str(name)


# --- the policy -------------------------------------------------------------------------------


def _fill(value, names):
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    if isinstance(value, dict):
        return {k.format(**names): _fill(v, names) for k, v in value.items()}
    return value


def build_policy(stack, cluster=None, root=ROOT, policy_map=None):
    policy_map = policy_map or load_map()
    missing = unmapped_modules(root, policy_map)
    if missing:
        lines = [f"  {m} (used in {', '.join(sorted(files))})" for m, files in sorted(missing.items())]
        raise PolicyError("AWS modules with no entry in scripts/operator_policy_map.yml:\n" + "\n".join(lines))
    scripts = unlisted_scripts(root, policy_map)
    if scripts:
        raise PolicyError("scripts calling AWS with no non_module_calls entry in scripts/operator_policy_map.yml: "
                          + ", ".join(scripts))
    names = {"stack": stack, "cluster": cluster or stack}
    grants = [policy_map["modules"][module] for module in sorted(aws_modules_used(root))]
    grants += [entry["grants"] for entry in non_module_grants(root, policy_map)]
    actions_by_scope = {}
    for grant in grants:
        for scope, actions in grant.items():
            if scope not in {s["name"] for s in policy_map["scopes"]}:
                raise PolicyError(f"unknown scope {scope!r} in scripts/operator_policy_map.yml")
            actions_by_scope.setdefault(scope, set()).update(actions)

    statements = []
    for scope in policy_map["scopes"]:
        actions = actions_by_scope.get(scope["name"], set())
        condition = _fill(scope.get("condition"), names) if scope.get("condition") else None
        source = scope.get("derive_create_tags_from")
        if source:
            creates = sorted(a.split(":", 1)[1] for a in actions_by_scope.get(source, ()))
            if not creates:
                continue
            actions = {a.split(":", 1)[0] + ":CreateTags" for a in actions_by_scope[source]}
            condition = dict(condition or {})
            condition["StringEquals"] = dict(condition.get("StringEquals", {}), **{"ec2:CreateAction": creates})
        if not actions:
            continue
        resources = _fill(scope["resources"], names)
        statement = {
            "Sid": scope["sid"],
            "Effect": "Allow",
            "Action": sorted(actions),
            "Resource": resources[0] if len(resources) == 1 else resources,
        }
        if condition:
            statement["Condition"] = condition
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def render(policy):
    return json.dumps(policy, indent=2, sort_keys=False) + "\n"


def policy_size(policy):
    """Characters AWS counts against the 6,144 limit of a managed policy (whitespace excluded)."""
    return len(re.sub(r"\s", "", json.dumps(policy)))


def managed_parts(policy, limit=MANAGED_POLICY_LIMIT):
    """The policy cut into documents that each fit a customer managed policy; statements are never split."""
    parts, current = [], []
    for statement in policy["Statement"]:
        candidate = {"Version": policy["Version"], "Statement": current + [statement]}
        if current and policy_size(candidate) > limit:
            parts.append({"Version": policy["Version"], "Statement": current})
            current = [statement]
        else:
            current = candidate["Statement"]
    if current:
        parts.append({"Version": policy["Version"], "Statement": current})
    for part in parts:
        if policy_size(part) > limit:
            raise PolicyError(f"statement {part['Statement'][0]['Sid']} alone exceeds {limit} characters")
    return parts


def outputs(policy, output=OUTPUT):
    """{path: text} of every generated file: the whole policy and its managed-policy parts."""
    output = Path(output)
    files = {output: render(policy)}
    for number, part in enumerate(managed_parts(policy), start=1):
        files[output.with_name(f"{output.stem}-managed-{number}{output.suffix}")] = render(part)
    return files


def stale_outputs(policy, output=OUTPUT):
    """Generated files that are missing or differ, and leftover parts that should not exist."""
    output = Path(output)
    files = outputs(policy, output)
    stale = [str(path) for path, text in files.items()
             if not path.is_file() or path.read_text(encoding="utf-8") != text]
    stale += [str(path) for path in output.parent.glob(f"{output.stem}-managed-*{output.suffix}") if path not in files]
    return sorted(stale)


# --- this collection's own modules: does the map grant what their code calls? -----------------


def _own_module_sources(module_name, root):
    path = root / "plugins" / "modules" / f"{module_name}.py"
    texts = [path.read_text(encoding="utf-8")]
    for util in re.findall(r"gpu_e2e\.platform\.plugins\.module_utils\.([a-z0-9_]+)", texts[0]):
        util_path = root / "plugins" / "module_utils" / f"{util}.py"
        if util_path.is_file():
            texts.append(util_path.read_text(encoding="utf-8"))
    return "\n".join(texts)


def _called_actions(text, session, policy_map):
    import botocore  # noqa: PLC0415 - only this check needs it

    aliases = policy_map.get("operation_aliases", {})
    service_aliases = policy_map.get("service_aliases", {})
    words = set(re.findall(r"\b([a-z][a-z0-9_]*)\b", text))
    called = set()
    for service in set(re.findall(r"client\(\s*['\"]([a-z0-9-]+)['\"]", text)):
        for operation in session.get_service_model(service).operation_names:
            if botocore.xform_name(operation) in words:
                default = f"{service_aliases.get(service, service)}:{operation}"
                called.add(aliases.get(f"{service}:{operation}", default))
    return called


def script_gaps(root=ROOT, policy_map=None):
    """{script: [IAM actions it calls that its non_module_calls entry does not grant]}."""
    import botocore.session  # noqa: PLC0415 - only this check needs it

    policy_map = policy_map or load_map()
    session = botocore.session.get_session()
    gaps = {}
    for entry in policy_map.get("non_module_calls", []):
        granted = {a for actions in entry["grants"].values() for a in actions}
        for name in entry["files"]:
            path = root / name
            if path.suffix == ".py" and path.is_file():
                missing = sorted(_called_actions(path.read_text(encoding="utf-8"), session, policy_map) - granted)
                if missing:
                    gaps[name] = missing
    return gaps


def own_module_mismatches(root=ROOT, policy_map=None):
    """{module: {"missing": [...], "unused": [...]}} for this collection's AWS modules.

    `missing`: IAM actions the code calls that the module's map entry does not grant (the policy would break
    the module on real AWS). `unused`: actions the entry grants that the code never calls (more privilege than
    needed). Calls are found by name: every botocore operation (snake_case) of every service the code creates a
    client for, appearing in the module or its module_utils. Needs botocore.
    """
    import botocore.session  # noqa: PLC0415 - only this check needs it

    policy_map = policy_map or load_map()
    session = botocore.session.get_session()
    result = {}
    for source in sorted((root / "plugins" / "modules").glob("*.py")):
        fqcn = f"{COLLECTION}.{source.stem}"
        if not is_aws_module(fqcn, root):
            continue
        called = _called_actions(_own_module_sources(source.stem, root), session, policy_map)
        granted = {a for actions in policy_map["modules"].get(fqcn, {}).values() for a in actions}
        missing, unused = sorted(called - granted), sorted(granted - called)
        if missing or unused:
            result[fqcn] = {"missing": missing, "unused": unused}
    return result


# --- command line -----------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--stack", help="stack name (default: stack_name of inventories/local)")
    parser.add_argument("--cluster", help="EKS cluster name (default: the stack name)")
    parser.add_argument("--output", default=str(OUTPUT), help="file to write, or - for stdout")
    parser.add_argument("--check", action="store_true", help="fail if the output file is not up to date")
    parser.add_argument("--explain", action="store_true", help="print module -> files -> actions")
    args = parser.parse_args(argv)
    try:
        stack = args.stack or default_stack_name()
        policy = build_policy(stack, args.cluster)
    except PolicyError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    if args.explain:
        policy_map = load_map()
        for module, files in sorted(aws_modules_used().items()):
            print(f"{module}  ({', '.join(sorted(files))})")
            for scope, actions in policy_map["modules"][module].items():
                print(f"    {scope}: {', '.join(actions)}")
        print(f"{policy_size(policy)} characters; {len(managed_parts(policy))} managed policy part(s)")
        return 0
    if args.output == "-":
        sys.stdout.write(render(policy))
        return 0
    if args.check:
        stale = stale_outputs(policy, args.output)
        if stale:
            print(f"out of date: {', '.join(stale)}: run python scripts/gen_operator_policy.py", file=sys.stderr)
            return 1
        return 0
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    for old in output.parent.glob(f"{output.stem}-managed-*{output.suffix}"):
        old.unlink()
    for path, text in outputs(policy, output).items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    print(f"{len(policy['Statement'])} statements, {policy_size(policy)} characters "
          f"({len(managed_parts(policy))} managed policy part(s) of at most {MANAGED_POLICY_LIMIT})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
