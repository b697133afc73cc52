# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The embedded AWS emulator (roles/bootstrap/files/aws_emulator.py) as a test process on a free loopback port."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

import boto3
import pytest

EMULATOR = Path(__file__).resolve().parents[1] / "roles" / "bootstrap" / "files" / "aws_emulator.py"
HOST = "127.0.0.1"
REGION = "us-east-1"
ACCESS_KEY = "local-emulator-key"
SECRET_KEY = "local-emulator-secret"
STOP_TIMEOUT = 10


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_emulator(env: Mapping[str, str] | None = None, timeout: float = 60) -> Iterator[str]:
    """Start the emulator on a free 127.0.0.1 port and yield its base URL once GET /moto-api/ answers.

    env: variables set on top of os.environ. The test fails if the process exits or does not answer within
    timeout seconds. The process is always stopped by its PID: SIGTERM, then kill() after 10 s.
    """
    port = free_port()
    url = f"http://{HOST}:{port}"
    with tempfile.TemporaryFile() as log:  # not a pipe: nobody reads it while the tests run
        proc = subprocess.Popen(
            [sys.executable, str(EMULATOR), "--host", HOST, "--port", str(port)],
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
        )
        try:
            _wait_until_ready(proc, url, timeout, log)
            yield url
        finally:
            _stop(proc)


def emulator_client(url: str, service: str, region: str | None = None):
    """A boto3 client of the emulator at url, with its fixed local credentials."""
    return boto3.client(service, endpoint_url=url, region_name=region or REGION,
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)


def _wait_until_ready(proc: subprocess.Popen, url: str, timeout: float, log) -> None:
    deadline = time.monotonic() + timeout
    while True:
        code = proc.poll()
        if code is not None:
            pytest.fail(f"the AWS emulator ({EMULATOR}) exited with code {code} before answering on {url}"
                        f"{_tail(log)}", pytrace=False)
        try:
            with urllib.request.urlopen(url + "/moto-api/", timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"the AWS emulator ({EMULATOR}) did not answer on {url}/moto-api/ within {timeout} s"
                            f"{_tail(log)}", pytrace=False)
            time.sleep(0.3)


def _tail(log, lines: int = 20) -> str:
    """The end of what the process wrote to stderr, for the failure message."""
    log.seek(0, os.SEEK_END)
    log.seek(max(0, log.tell() - 8192))
    text = "\n".join(log.read().decode(errors="replace").strip().splitlines()[-lines:])
    return f"; its last output:\n{text}" if text else ""


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:  # not reaped yet, so the PID is still this process
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
