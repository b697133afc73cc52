"""Every pod is proven to schedule before anything is installed (the schedulability play).

On the aws profile a Helm release that can never schedule hangs in its wait while the GPU bills, so the offline
proof must run before the first `kubernetes.core.helm` or `kubernetes.core.k8s` apply of the run, not after the
last chart is rendered. These tests read the playbooks and roles as Ansible would load them and fail if a stage
that installs something runs before the proof, can be run by its tag without it, or renders through a task file
that already installs; or if the proof leaves a chart out or runs anywhere else.
"""
from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
INSTALLING = ("kubernetes.core.helm", "kubernetes.core.k8s")
PROOF = ("gpu_e2e.platform.gpu_nodegroup", "schedulability")


def site_plays() -> list[tuple[str, dict]]:
    order = [entry["ansible.builtin.import_playbook"] for entry in yaml.safe_load((PLAYBOOKS / "site.yml").read_text())]
    return [(name, yaml.safe_load((PLAYBOOKS / name).read_text())[0]) for name in order]


def tasks_of(items) -> list[dict]:
    """Every task of a task list, blocks flattened."""
    found = []
    for task in items or []:
        found.append(task)
        for section in ("block", "rescue", "always"):
            found.extend(tasks_of(task.get(section)))
    return found


def closure(role: str, entry: str) -> dict[str, list[dict]]:
    """The task files a role's entry point reaches through import_tasks/include_tasks, with their tasks."""
    tasks_dir = ROOT / "roles" / role / "tasks"
    seen: dict[str, list[dict]] = {}
    pending = [f"{entry}.yml"]
    while pending:
        name = pending.pop()
        if name in seen or not (tasks_dir / name).exists():  # a role without tasks (platform_defaults)
            continue
        seen[name] = tasks_of(yaml.safe_load((tasks_dir / name).read_text()))
        for task in seen[name]:
            for key in ("ansible.builtin.import_tasks", "ansible.builtin.include_tasks"):
                target = task.get(key)
                if isinstance(target, dict):
                    target = target.get("file")
                if target and "{{" not in target:
                    pending.append(target)
                elif target:  # a templated include (one per profile): every file it can name
                    prefix = target.split("{{")[0]
                    pending.extend(p.name for p in tasks_dir.glob(f"{prefix}*.yml"))
    return seen


def installs(tasks: list[dict]) -> list[str]:
    names = []
    for task in tasks:
        for module in INSTALLING:
            args = task.get(module)
            if isinstance(args, dict) and args.get("state", "present") != "absent":
                names.append(task.get("name", module))
    return names


def play_roles(play: dict) -> list[str]:
    return [(r["role"] if isinstance(r, dict) else r).split(".")[-1] for r in play.get("roles", [])]


def included_roles(play: dict) -> list[tuple[str, str]]:
    return [(t["ansible.builtin.include_role"]["name"], t["ansible.builtin.include_role"].get("tasks_from", "main"))
            for t in tasks_of(play.get("tasks")) if "ansible.builtin.include_role" in t]


def installing_plays() -> list[tuple[int, str, dict, str]]:
    found = []
    for index, (name, play) in enumerate(site_plays()):
        for role in play_roles(play):
            files = closure(role, "main")
            if any(installs(tasks) for tasks in files.values()):
                found.append((index, name, play, role))
    return found


def proof_play() -> tuple[int, dict]:
    matches = [(i, play) for i, (_name, play) in enumerate(site_plays()) if PROOF in included_roles(play)]
    assert len(matches) == 1, "exactly one site play runs the schedulability proof"
    return matches[0]


def test_the_stages_that_install_are_the_chart_stages():
    """Guards the test itself: if it found no installing stage, every other assertion here would be empty."""
    assert {role for _i, _n, _p, role in installing_plays()} >= {"nvidia_plugin", "triton", "observability", "loadtest"}


def test_the_proof_runs_before_every_stage_that_installs():
    index, _play = proof_play()
    late = [name for i, name, _play, _role in installing_plays() if i < index]
    assert not late, f"these stages install before the schedulability proof: {late}"


def test_every_installing_stage_tag_runs_the_proof():
    _index, play = proof_play()
    missing = {tag for _i, _n, stage, _r in installing_plays() for tag in stage["tags"]} - set(play["tags"])
    assert not missing, f"--tags {','.join(sorted(missing))} would install without the proof"


def test_the_proof_renders_every_installing_role_first_through_a_path_that_installs_nothing():
    _index, play = proof_play()
    included = included_roles(play)
    assert included[-1] == PROOF, "the proof is the play's last task, after every render"
    rendered = {name.split(".")[-1]: entry for name, entry in included[:-1]}
    for _i, _n, _stage, role in installing_plays():
        assert role in rendered, f"the schedulability play does not render {role}'s manifests"
        entry = rendered[role]
        assert entry != "main", f"{role}: the play must run a render entry point, not the whole role"
        for name, tasks in closure(role, entry).items():
            assert not installs(tasks), f"{role}/tasks/{name} (from tasks_from: {entry}) installs: {installs(tasks)}"
        assert f"{entry}.yml" in closure(role, "main"), (
            f"{role}'s stage does not import {entry}.yml: the proof would check other manifests than it installs")


def test_the_proof_runs_nowhere_else():
    def runs_proof(tasks):
        return any(t.get("ansible.builtin.include_role", {}).get("tasks_from") == PROOF[1] for t in tasks_of(tasks))

    users = [path.relative_to(ROOT).as_posix() for path in ROOT.glob("roles/*/tasks/*.yml")
             if runs_proof(yaml.safe_load(path.read_text()))]
    users += [path.relative_to(ROOT).as_posix() for path in PLAYBOOKS.glob("*.yml")
              if any(runs_proof(play.get("tasks")) for play in yaml.safe_load(path.read_text()))]
    assert users == ["playbooks/schedulability.yml"], users
