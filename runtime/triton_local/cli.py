# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Command line of the runtime: tritonserver-like flags, loopback by default."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from . import __version__
from .http import serve
from .metrics import Metrics
from .model import ModelLoadError
from .repository import Repository
from .server import App

LOG = logging.getLogger("triton_local")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m triton_local",
        description="Triton-compatible HTTP inference server for ONNX models on the CPU (onnxruntime).",
    )
    parser.add_argument("--model-repository", action="append", required=True, metavar="DIR",
                        help="Triton model repository (repeatable)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--http-port", type=int, default=8000, help="HTTP/REST port (default 8000)")
    parser.add_argument("--metrics-port", type=int, default=8002,
                        help="Prometheus metrics port, 0 to disable (default 8002)")
    parser.add_argument("--max-queue-size", type=int, default=128,
                        help="queue bound when config.pbtxt sets none (requests beyond it get 503)")
    parser.add_argument("--max-body-bytes", type=int, default=64 * 1024 * 1024,
                        help="largest request body accepted (400 beyond it)")
    parser.add_argument("--intra-op-threads", type=int, default=None,
                        help="onnxruntime intra-op threads (default: the config's intra_op_thread_count, "
                             "else onnxruntime's default)")
    parser.add_argument("--inter-op-threads", type=int, default=None, help="onnxruntime inter-op threads")
    parser.add_argument("--allow-spinning", type=int, choices=(0, 1), default=1,
                        help="let onnxruntime worker threads spin between runs (default 1, onnxruntime's default)")
    parser.add_argument("--exit-on-error", type=int, choices=(0, 1), default=1,
                        help="exit when a model fails to load at start (default 1, like tritonserver)")
    parser.add_argument("--log-verbose", type=int, default=0, help="1 for debug logging")
    return parser.parse_args(argv)


async def run(args):
    repository = Repository(args.model_repository, args)
    try:
        errors = repository.load_all()
    except ModelLoadError as exc:
        LOG.error("%s", exc)
        return 1
    if errors and args.exit_on_error:
        LOG.error("exiting: %d model(s) failed to load: %s", len(errors), "; ".join(errors))
        return 1
    if not repository.models:
        LOG.error("no model found in %s", ", ".join(repository.roots))
        if args.exit_on_error:
            return 1
    app = App(repository, Metrics(repository))
    servers = [await serve(app.handle, args.host, args.http_port, args.max_body_bytes)]
    LOG.info("HTTP/REST v2 on http://%s:%d (triton_local %s, CPU, onnxruntime)", args.host, args.http_port,
             __version__)
    if args.metrics_port:
        servers.append(await serve(app.handle_metrics, args.host, args.metrics_port, 1024 * 1024))
        LOG.info("metrics on http://%s:%d/metrics", args.host, args.metrics_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    LOG.info("stopping")
    for server in servers:
        server.close()
    for model in list(repository.all_versions()):
        model.close()
    return 0


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.log_verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stdout,
    )
    try:
        return asyncio.run(run(args))
    except OSError as exc:  # e.g. the port is taken
        LOG.error("cannot serve: %s", exc)
        return 1
