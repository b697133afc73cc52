# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: loadtest_progress
type: notification
short_description: Print a load test's live progress line while the role waits for Locust
version_added: 0.1.0
author: gpu_e2e platform team (@gpu-e2e)
description:
  - Ansible shows nothing of a module's output until a task ends. The loadtest role polls
    M(gpu_e2e.platform.loadtest_progress_info) in an C(until) loop; this callback prints the
    module's C(line) (elapsed time, users, requests/s, P95, errors) on every retry and at the end,
    so a running scenario prints a line at least every poll delay (5 s by default).
  - Enable it in C(ansible.cfg) with C(callbacks_enabled = gpu_e2e.platform.loadtest_progress).
  - It prints only when the stdout callback is one meant for people (C(default), C(minimal), C(oneline),
    C(dense), C(debug) and the like). With a machine-readable one such as C(json) or C(ansible.posix.jsonl),
    or any stdout callback it does not know, it stays silent, so stdout remains one valid document.
requirements:
  - enable in configuration
"""

from ansible import constants as C
from ansible.plugins.callback import CallbackBase

# Stdout callbacks whose output is read by people (short names; ansible.builtin,
# ansible.posix and community.general). Anything else may be parsed by a machine
# (json, jsonl, junit-style or a site's own), so progress lines stay out of it.
HUMAN_STDOUT_CALLBACKS = frozenset(
    ("default", "minimal", "oneline", "dense", "debug", "unixy", "counter_enabled", "selective", "skippy", "yaml")
)


def prints_for(stdout_callback):
    """True when progress lines may go to stdout beside this stdout callback."""
    return str(stdout_callback or "default").rsplit(".", 1)[-1] in HUMAN_STDOUT_CALLBACKS


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "gpu_e2e.platform.loadtest_progress"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._enabled_for_stdout = prints_for(C.DEFAULT_STDOUT_CALLBACK)

    def _line(self, result):
        if not self._enabled_for_stdout:
            return None
        task = getattr(result, "task", None) or getattr(result, "_task", None)
        action = str(getattr(task, "resolved_action", None) or getattr(task, "action", ""))
        if task is None or not action.endswith("loadtest_progress_info"):
            return None
        data = getattr(result, "result", None)
        if data is None:
            data = getattr(result, "_result", {})
        line = data.get("line") if hasattr(data, "get") else None
        return str(line) if line else None

    def v2_runner_retry(self, result):
        line = self._line(result)
        if line:
            self._display.display(line, color="cyan")

    def v2_runner_on_ok(self, result):
        line = self._line(result)
        if line:
            self._display.display(line, color="cyan")
