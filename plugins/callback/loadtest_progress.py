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
requirements:
  - enable in configuration
"""

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "gpu_e2e.platform.loadtest_progress"
    CALLBACK_NEEDS_ENABLED = True

    @staticmethod
    def _line(result):
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
