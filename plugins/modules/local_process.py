#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: local_process
short_description: Start or stop a local daemon idempotently by pid file
version_added: 0.1.0
description:
  - Starts a long-running process detached from Ansible (own session, output to a log file),
    records its PID in a pid file and waits until an optional loopback readiness URL answers.
  - A process is considered running only when the pid file names a live PID whose command line equals
    O(command) exactly, so a re-run never starts a second copy and a recycled PID is never signalled.
  - Stops by PID only (SIGTERM, then SIGKILL after O(stop_timeout)), never by process name.
author:
  - gpu_e2e platform team (@gpu-e2e)
options:
  name:
    description: A label used in messages.
    type: str
    required: true
  command:
    description: The argv to run, as a list.
    type: list
    elements: str
    required: true
  pid_file:
    description: Where the PID is recorded. Keep it stable across runs.
    type: path
    required: true
  log_file:
    description: File that receives stdout and stderr (appended).
    type: path
    required: true
  env:
    description: Extra environment variables for the process.
    type: dict
    default: {}
  chdir:
    description: Working directory of the process.
    type: path
  ready_url:
    description:
      - An C(http://) URL on loopback polled until it answers 2xx after a start (and checked when already running).
    type: str
  ready_timeout:
    description: Seconds to wait for O(ready_url).
    type: int
    default: 60
  stop_timeout:
    description: Seconds between SIGTERM and SIGKILL.
    type: int
    default: 10
  state:
    description: Desired state.
    type: str
    choices: [started, stopped, restarted]
    default: started
attributes:
  check_mode:
    support: full
    details: "Nothing is started or stopped."
  diff_mode:
    support: full
    details: "Whether the process runs, and its PID, before and after (C(new) for a process check mode would start)."
  platform:
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
"""

EXAMPLES = r"""
- name: Ensure the AWS emulator is running.
  gpu_e2e.platform.local_process:
    name: aws-emulator
    command: ["{{ ansible_playbook_python }}", "emulator.py", "--port", "5055"]
    pid_file: /tmp/state/emulator.pid
    log_file: /tmp/run/emulator.log
    ready_url: http://127.0.0.1:5055/moto-api/
    state: started

- name: Stop it by PID.
  gpu_e2e.platform.local_process:
    name: aws-emulator
    command: ["{{ ansible_playbook_python }}", "emulator.py", "--port", "5055"]
    pid_file: /tmp/state/emulator.pid
    log_file: /tmp/run/emulator.log
    state: stopped
"""

RETURN = r"""
pid:
  description: PID of the running process, or null when stopped.
  returned: always
  type: int
  sample: 4242
running:
  description: Whether the process runs after the task.
  returned: always
  type: bool
  sample: true
pid_file:
  description: The pid file.
  returned: always
  type: str
  sample: /tmp/state/emulator.pid
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import exit_result
from ansible_collections.gpu_e2e.platform.plugins.module_utils.local_process import LocalProcessError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.local_process import ensure


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            command=dict(type="list", elements="str", required=True),
            pid_file=dict(type="path", required=True),
            log_file=dict(type="path", required=True),
            env=dict(type="dict", default={}),
            chdir=dict(type="path"),
            ready_url=dict(type="str"),
            ready_timeout=dict(type="int", default=60),
            stop_timeout=dict(type="int", default=10),
            state=dict(type="str", choices=["started", "stopped", "restarted"], default="started"),
        ),
        supports_check_mode=True,
    )
    try:
        result = ensure(module.params, module.check_mode)
    except LocalProcessError as exc:
        module.fail_json(msg=str(exc))
    exit_result(module, **result)


if __name__ == "__main__":
    main()
