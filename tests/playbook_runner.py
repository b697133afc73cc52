"""Running this repository's playbooks from tests: ansible-playbook from the repo root, and what changed."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


AWS_PLAY_HEADER = """\
- name: {name}
  hosts: controller
  gather_facts: false
  module_defaults:
    group/amazon.aws.aws: "{{{{ aws_module_defaults }}}}"
    group/community.aws.aws: "{{{{ aws_module_defaults }}}}"
    group/gpu_e2e.platform.aws: "{{{{ aws_module_defaults }}}}"
"""


def aws_play(name: str, body: str) -> str:
    """A one-play playbook on the controller with the AWS module_defaults site.yml's plays have."""
    return AWS_PLAY_HEADER.format(name=name) + body


def run_playbook(*args: str, env: dict | None = None, json_output: bool = False, timeout: int = 1800):
    """Run ansible-playbook from the repo root; return the CompletedProcess."""
    full_env = dict(os.environ)
    full_env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        PATH=f"{BIN}{os.pathsep}{full_env.get('PATH', '')}",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        # Never let boto3 look for credentials on the network (instance metadata).
        AWS_EC2_METADATA_DISABLED="true",
    )
    if json_output:
        full_env["ANSIBLE_STDOUT_CALLBACK"] = "json"
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)  # None removes a variable
        else:
            full_env[key] = value
    return subprocess.run(
        [str(BIN / "ansible-playbook"), *args],
        cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False,
    )


def changed_tasks(json_stdout: str, prefixes=("amazon.aws.", "community.aws.", "gpu_e2e.platform.")) -> list[str]:
    """Names of tasks whose module matches a prefix and that reported changed (json callback output)."""
    data = json.loads(json_stdout[json_stdout.index("{"):])
    changed = []
    for play in data["plays"]:
        for task in play["tasks"]:
            for host_result in task["hosts"].values():
                action = host_result.get("action", "")
                if action.startswith(prefixes) and host_result.get("changed"):
                    changed.append(f"{play['play']['name']} / {task['task']['name']}")
    return changed
