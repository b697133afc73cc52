"""The profile is chosen once per role (issue #16).

A role that differs by profile reads `platform_target` in one place (one include_tasks/include_vars keyed on it, or
one condition) and nowhere else; every other profile-specific value is an inventory value
(inventories/<profile>/group_vars). roles/platform_defaults owns the name and reads it nowhere. A place counts
wherever the profile decides something: a Jinja expression in tasks, vars, defaults, handlers, templates or the
argument spec, a `when`/`that`/`until`/`changed_when`/`failed_when` condition, or a playbook's include of a role's
tasks. Passing the value on as data (`platform_target: "{{ platform_target }}"` into a record) decides nothing and
is not counted.

The stops of what a run starts on the controller (the triton and observability roles' stop.yml, the aws
port-forwards among them) must be reachable on both profiles: they read no profile and are not included from a
profile-specific file (once, the aws port-forwards' stop was reachable only through a local-only include).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HOME = "platform_defaults"
PROFILES = ("local", "aws")
NAME = re.compile(r"\bplatform_target\b")
JINJA = re.compile(r"{{.*?}}|{%.*?%}", re.DOTALL)
BARE = re.compile(r"^\s*{{\s*platform_target\s*}}\s*$")
CONDITIONS = {"when", "that", "until", "changed_when", "failed_when"}
INCLUDES = {"include_tasks", "import_tasks", "include_vars", "tasks_from", "vars_from", "file", "src"}
ROLE_DIRS = ("tasks", "vars", "defaults", "handlers", "templates", "meta")


def _short(key):
    return key.rsplit(".", 1)[-1] if isinstance(key, str) else key


def _reads(value, key):
    """How many places in one scalar read the profile."""
    if not isinstance(value, str) or not NAME.search(value):
        return 0
    if _short(key) in CONDITIONS:
        return 1
    if BARE.match(value) and _short(key) not in INCLUDES:
        return 0  # the value passed on as data
    return 1 if any(NAME.search(block) for block in JINJA.findall(value)) else 0


def _walk(node, key=None, trail="", skip=frozenset()):
    """[(trail, count)] of every scalar of a YAML document that reads the profile (nodes in `skip` left out)."""
    found = []
    if isinstance(node, dict) and id(node) not in skip:
        for child_key, child in node.items():
            found += _walk(child, child_key, f"{trail}/{child_key}", skip)
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _walk(child, key, f"{trail}[{index}]", skip)
    elif _reads(node, key):
        found.append((trail, 1))
    return found


def _template_reads(text):
    return [(f"{{{{ {block.strip('{}% ')} }}}}", 1) for block in JINJA.findall(text)
            if NAME.search(block) and not BARE.match(block)]


def role_reads(root, role):
    """[(file, where)] of every place in the role that reads the profile."""
    found = []
    for folder in ROLE_DIRS:
        for path in sorted((root / "roles" / role / folder).rglob("*")):
            if not path.is_file():
                continue
            rel = str(path.relative_to(root))
            if path.suffix in {".yml", ".yaml"}:
                for document in yaml.safe_load_all(path.read_text()):
                    found += [(rel, where) for where, _count in _walk(document)]
            elif path.suffix == ".j2":
                found += [(rel, where) for where, _count in _template_reads(path.read_text())]
    return found


def _role_includes(node):
    """(role, tasks_from, include task) of every include_role/import_role in a YAML tree."""
    found = []
    if isinstance(node, dict):
        for key, child in node.items():
            if _short(key) in {"include_role", "import_role"} and isinstance(child, dict):
                found.append((str(child.get("name", "")).rsplit(".", 1)[-1], str(child.get("tasks_from", "main")),
                              node))
            found += _role_includes(child)
    elif isinstance(node, list):
        for child in node:
            found += _role_includes(child)
    return found


def playbook_reads(root):
    """{role or 'playbooks': [(file, where)]}: a playbook's profile-keyed include counts for the role it includes."""
    found = {}
    for path in sorted((root / "playbooks").glob("*.yml")):
        rel = str(path.relative_to(root))
        plays = yaml.safe_load(path.read_text()) or []
        keyed = set()
        for role, tasks_from, task in _role_includes(plays):
            if NAME.search(tasks_from) or any(NAME.search(str(c)) for c in _as_list(task.get("when"))):
                found.setdefault(role, []).append((rel, f"{role} tasks_from {tasks_from}"))
                keyed.add(id(task))
        for where, _count in _walk(plays, skip=frozenset(keyed)):
            found.setdefault("playbooks", []).append((rel, where))
    return found


def _as_list(value):
    return value if isinstance(value, list) else [] if value is None else [value]


def all_reads(root):
    """{role: [(file, where)]} over every role (platform_defaults excluded) and the playbooks."""
    reads = {}
    for path in sorted((root / "roles").iterdir()):
        if path.is_dir() and path.name != HOME:
            reads[path.name] = role_reads(root, path.name)
    for role, places in playbook_reads(root).items():
        reads.setdefault(role, []).extend(places)
    return reads


def too_many(root):
    """['role: n places (file where; ...)'] of every role reading the profile in more than one place."""
    limit = {"playbooks": 0}
    return [f"{role}: {len(places)} places ({'; '.join(f'{f} {w}' for f, w in places)})"
            for role, places in sorted(all_reads(root).items()) if len(places) > limit.get(role, 1)]


def profile_files(root, role):
    """The task and vars files of the role that only one profile reaches (named by a profile-keyed include)."""
    names = set()
    for folder in ("tasks", "vars"):
        for path in (root / "roles" / role / folder).glob("*.yml"):
            text = path.read_text()
            for match in re.finditer(r"([\w./-]*)({{\s*platform_target\s*}})([\w./-]*)", text):
                names.update(match.group(1) + profile + match.group(3) for profile in PROFILES)
    return {Path(name).name for name in names}


def includers(root, role, tasks_from):
    """[(file, include task)] of every task file or playbook that includes the role's `tasks_from`."""
    found = []
    files = list((root / "roles").glob("*/tasks/*.yml")) + list((root / "playbooks").glob("*.yml"))
    for path in sorted(files):
        for name, wanted, task in _role_includes(yaml.safe_load(path.read_text())):
            if name == role and Path(wanted).stem == Path(tasks_from).stem:
                found.append((path, task))
    return found


# The stops of the processes a run starts on the controller, tritonserver and Prometheus locally and the
# port-forwards to Grafana and Prometheus on aws: the teardown reaches them on both profiles.
STOPS = [("triton", "stop.yml"), ("observability", "stop.yml")]


def unreachable_stops(root):
    problems = []
    for role, stop in STOPS:
        reads = [where for file, where in role_reads(root, role) if file.endswith(f"/tasks/{stop}")]
        if reads:
            problems.append(f"roles/{role}/tasks/{stop} reads the profile: {reads}")
        found = includers(root, role, stop)
        if not found:
            problems.append(f"nothing includes roles/{role}/tasks/{stop}")
        for path, task in found:
            rel = path.relative_to(root)
            owner = rel.parts[1] if rel.parts[0] == "roles" else None
            if owner and path.name in profile_files(root, owner):
                problems.append(f"roles/{role}/tasks/{stop} is included from {rel}, which only one profile reaches")
            if any(NAME.search(str(condition)) for condition in _as_list(task.get("when"))):
                problems.append(f"{rel} includes roles/{role}/tasks/{stop} for one profile only")
    return problems


def test_each_role_reads_the_profile_in_one_place_at_most():
    assert too_many(ROOT) == []


def test_the_controller_stops_are_reachable_on_both_profiles():
    assert unreachable_stops(ROOT) == []


def test_the_profile_owner_reads_it_nowhere():
    assert role_reads(ROOT, HOME) == []


def test_the_checks_catch_a_second_branch_and_a_profile_only_stop(tmp_path, monkeypatch):
    """The checks themselves, on planted roles: a second read, a read in defaults, a template, a playbook and a
    stop reachable on one profile only are found; data passed on and comments are not counted."""
    def write(rel, text):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    write("roles/platform_defaults/defaults/main.yml", "platform_target: local\n")
    write("roles/once/tasks/main.yml", "---\n# platform_target is read once, below.\n"
          "- name: Go by profile.\n  ansible.builtin.include_tasks: \"{{ platform_target }}.yml\"\n"
          "- name: Record it.\n  ansible.builtin.copy:\n    content: \"{{ record | to_json }}\"\n    dest: /x\n"
          "  vars:\n    record:\n      platform_target: \"{{ platform_target }}\"\n")
    write("roles/once/templates/values.yaml.j2", "# {{ platform_target }} profile\n")
    write("roles/twice/tasks/main.yml", "- name: One.\n  ansible.builtin.debug:\n    msg: hi\n"
          "  when: platform_target == 'aws'\n")
    write("roles/twice/defaults/main.yml", "twice_kind: \"{{ 'GPU' if platform_target == 'aws' else 'CPU' }}\"\n")
    write("roles/tmpl/templates/x.j2", "{% if platform_target == 'aws' %}gpu{% endif %}\n")
    write("roles/tmpl/tasks/main.yml", "- name: By profile.\n  ansible.builtin.include_tasks: "
          "\"profile_{{ platform_target }}.yml\"\n")
    write("roles/triton/tasks/stop.yml", "- name: Stop.\n  ansible.builtin.debug:\n    msg: stop\n"
          "  when: platform_target == 'local'\n")
    write("roles/observability/tasks/main.yml", "- name: By profile.\n  ansible.builtin.include_tasks: "
          "\"{{ platform_target }}.yml\"\n")
    write("roles/observability/tasks/stop.yml", "- name: Stop.\n  ansible.builtin.debug:\n    msg: stop\n")
    write("roles/observability/tasks/local.yml", "- name: Stop them.\n  ansible.builtin.include_role:\n"
          "    name: gpu_e2e.platform.observability\n    tasks_from: stop.yml\n")
    write("roles/teardown/tasks/stop_all.yml", "- name: Stop triton.\n  ansible.builtin.include_role:\n"
          "    name: gpu_e2e.platform.triton\n    tasks_from: stop.yml\n")
    write("playbooks/teardown.yml", "- hosts: all\n  tasks:\n    - name: Check.\n      ansible.builtin.include_role:\n"
          "        name: gpu_e2e.platform.teardown\n        tasks_from: \"check_{{ platform_target }}.yml\"\n"
          "    - name: Say.\n      ansible.builtin.debug:\n        msg: \"{{ 'a' if platform_target == 'aws' }}\"\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)

    reads = all_reads(tmp_path)
    assert len(reads["once"]) == 1 and reads["once"][0][0] == "roles/once/tasks/main.yml"
    assert sorted(f for f, _w in reads["twice"]) == ["roles/twice/defaults/main.yml", "roles/twice/tasks/main.yml"]
    assert [f for f, _w in reads["tmpl"]] == ["roles/tmpl/tasks/main.yml", "roles/tmpl/templates/x.j2"]
    assert [w for _f, w in reads["teardown"]] == ["teardown tasks_from check_{{ platform_target }}.yml"]
    assert len(reads["playbooks"]) == 1
    assert [line.split(":")[0] for line in too_many(tmp_path)] == ["playbooks", "tmpl", "twice"]
    assert profile_files(tmp_path, "observability") == {"local.yml", "aws.yml"}
    problems = unreachable_stops(tmp_path)
    assert any("roles/triton/tasks/stop.yml reads the profile" in p for p in problems), problems
    assert any("included from roles/observability/tasks/local.yml" in p for p in problems), problems
    assert len(problems) == 2, problems


@pytest.mark.parametrize("profile", PROFILES)
def test_the_inventories_set_the_profile_values(profile):
    """The values that moved out of the roles are set by both shipped inventories (the molecule scenarios read
    inventories/local/group_vars too), and aws_emulated is true only where AWS is emulated."""
    values = {}
    for path in (ROOT / "inventories" / profile / "group_vars" / "all").glob("*.yml"):
        values.update(yaml.safe_load(path.read_text()) or {})
    assert values["platform_target"] == profile
    for name in ("model_instance_kind", "model_instance_count", "model_intra_op_threads", "loadtest_metrics_url",
                 "eks_validate_connectivity", "cost_audit_check_cost_allocation_tags"):
        assert name in values, f"inventories/{profile} does not set {name}"
    assert values.get("aws_emulated", False) is (profile == "local")
