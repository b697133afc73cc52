# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The embedded AWS emulator (roles/bootstrap/files/aws_emulator.py) as a test process on a free loopback port."""
from __future__ import annotations

import contextlib
import os
import random
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


# Ports handed out are only bound later, by a server a playbook starts (minutes later for Prometheus). So that
# two handed-out ports never coincide, each pytest-xdist worker draws from a block of its own, below the
# kernel's ephemeral range (32768-60999 by default, where bind(0) and outgoing connections draw), and no
# process hands out the same port twice. The block of a run without workers is the first one.
PORT_BLOCK_START, PORT_BLOCK_SIZE = 20000, 1500
_handed_out: set[int] = set()


def _port_block() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    start = PORT_BLOCK_START + (index % 8) * PORT_BLOCK_SIZE
    return range(start, start + PORT_BLOCK_SIZE)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now and that this process has not handed out."""
    block = _port_block()
    offset = random.randrange(len(block))
    for step in range(len(block)):
        port = block[(offset + step) % len(block)]
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port left in {block.start}-{block.stop - 1} on {HOST}")


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
