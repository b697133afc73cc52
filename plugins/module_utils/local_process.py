# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start and stop local daemons idempotently, by pid file and PID only.

Why by hand: Ansible has no module that supervises a foreground process
without an init system (systemd is not available on every controller, and the
emulator, the runtime and Prometheus must live only as long as a run). This is
the smallest supervisor that is idempotent: a process counts as "ours" only
when the pid file names a live PID whose /proc cmdline equals the argv we
would start, so a recycled PID is never signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.parse

from ansible.module_utils.urls import open_url
from ansible_collections.gpu_e2e.platform.plugins.module_utils.atomic_write import write_atomic
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import fields

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class LocalProcessError(Exception):
    """The one error type of this module_utils; the module catches it once."""


def read_pid(pid_file):
    try:
        with open(pid_file, encoding="utf-8") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def cmdline_of(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    if not raw:
        return None  # zombie or kernel thread
    return [part.decode("utf-8", "replace") for part in raw.rstrip(b"\0").split(b"\0")]


def running_pid(pid_file, command):
    """Return the PID recorded in pid_file when that process runs `command`."""
    pid = read_pid(pid_file)
    if pid is None:
        return None
    if cmdline_of(pid) != list(command):
        return None
    return pid


def check_ready_url(url):
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or parsed.hostname not in LOOPBACK_HOSTS:
        raise LocalProcessError(f"ready_url must be an http(s) URL on loopback, got {url!r}")


def is_ready(url, timeout=2.0):
    try:
        with open_url(url, timeout=timeout, validate_certs=False) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def tail(path, lines=15):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return "".join(handle.readlines()[-lines:]).strip()
    except OSError:
        return ""


def pid_alive(pid):
    """True while the PID exists and is not a zombie (works for processes we did not start)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_ready(name, pid, url, timeout, log_file, alive=None):
    """Poll `url` until it answers; fail early when the process dies.

    `alive` defaults to a /proc check; for a child we just spawned pass its
    Popen.poll-based check, since /proc/<pid>/cmdline reads empty while exec runs.
    """
    alive = alive or (lambda: pid_alive(pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise LocalProcessError(
                f"{name} exited during start-up; last lines of {log_file}: {tail(log_file)}"
            )
        if url is None or is_ready(url):
            return
        time.sleep(0.25)
    raise LocalProcessError(f"{name} (pid {pid}) was not ready at {url} after {timeout}s; see {log_file}")


def spawn(command, log_file, env=None, chdir=None):
    os.makedirs(os.path.dirname(os.path.abspath(log_file)), exist_ok=True)
    full_env = dict(os.environ)
    full_env.update({str(k): str(v) for k, v in (env or {}).items()})
    with open(log_file, "ab") as log:
        try:
            proc = subprocess.Popen(  # pylint: disable=consider-using-with
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=chdir,
                env=full_env,
                start_new_session=True,  # survives the end of the ansible task
                close_fds=True,
            )
        except OSError as exc:
            raise LocalProcessError(f"cannot start {command[0]}: {exc}") from exc
    return proc


def write_pid(pid_file, pid):
    write_atomic(pid_file, f"{pid}\n")


def stop_pid(pid, timeout):
    """SIGTERM the PID, then SIGKILL it after `timeout` seconds."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            break
        time.sleep(0.1)
    else:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    # Reap it when we happen to be the parent (tests); harmless otherwise.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def ensure(params, check_mode):
    """Bring the process to params['state']; return the module result dict, with the diff of the process.

    The diff shows whether the process runs and its PID, before and after; in check mode the PID of a
    process that would be started is not known yet and shows as C(new).
    """
    result = _converge(params, check_mode)
    before = {"running": result.pop("_was_running"), "pid": result.pop("_was_pid")}
    after = {"running": result["running"], "pid": result["pid"]}
    if check_mode and result["changed"] and params["state"] != "stopped":
        after = {"running": True, "pid": "new"}
    result["diff"] = fields(before, after)
    return result


def _converge(params, check_mode):
    name = params["name"]
    command = params["command"]
    pid_file = params["pid_file"]
    state = params["state"]
    if params.get("ready_url"):
        check_ready_url(params["ready_url"])
    if not command:
        raise LocalProcessError("command must not be empty")
    pid = running_pid(pid_file, command)
    result = {"changed": False, "name": name, "pid": pid, "running": pid is not None, "pid_file": pid_file,
              "_was_running": pid is not None, "_was_pid": pid}

    if state == "stopped" or (state == "restarted" and pid is not None):
        if pid is not None:
            result["changed"] = True
            if not check_mode:
                stop_pid(pid, params["stop_timeout"])
                remove(pid_file)
            result.update(pid=None, running=False)
        elif not check_mode and os.path.exists(pid_file):
            remove(pid_file)  # stale: it names a dead or foreign PID, never signalled
        if state == "stopped":
            return result
        pid = None

    if pid is not None:
        if params.get("ready_url"):
            wait_ready(name, pid, params["ready_url"], params["ready_timeout"], params["log_file"])
        return result

    result["changed"] = True
    if check_mode:
        return result
    if params.get("ready_url") and is_ready(params["ready_url"]):
        # Something else (a stale copy, another service) already answers: a new
        # process would die on the busy port while the other one passed for it.
        raise LocalProcessError(
            f"{params['ready_url']} already answers but not from the process in {pid_file}: "
            "stop what holds the port (by its PID) or choose another port"
        )
    proc = spawn(command, params["log_file"], params.get("env"), params.get("chdir"))
    new_pid = proc.pid
    write_pid(pid_file, new_pid)
    try:
        wait_ready(name, new_pid, params.get("ready_url"), params["ready_timeout"], params["log_file"],
                   alive=lambda: proc.poll() is None)
    except LocalProcessError:
        stop_pid(new_pid, params["stop_timeout"])
        remove(pid_file)
        raise
    result.update(pid=new_pid, running=True, log_file=params["log_file"])
    return result
