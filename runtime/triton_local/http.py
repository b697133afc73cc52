# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small HTTP/1.1 server on asyncio.BufferedProtocol.

Why not uvicorn/Starlette: measured on the 2-core controller, uvicorn (h11,
no httptools/uvloop available) spends ~2 ms per request carrying one
MobileNet input (600 KB), and a plain asyncio.Protocol ~1.5 ms; a
BufferedProtocol that receives straight into one growing buffer takes
~0.2 ms. The inference path is the product here, so the transport is kept
this thin. What it supports: keep-alive, pipelining (answered in order),
Content-Length and chunked request bodies, `Expect: 100-continue`, a body
size limit (400 with Triton's JSON error body, then close) and a header size
limit.
"""

from __future__ import annotations

import asyncio
import logging

import orjson

LOG = logging.getLogger("triton_local.http")

REASONS = {
    100: "Continue", 200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
    413: "Payload Too Large", 500: "Internal Server Error", 503: "Service Unavailable",
}
MAX_HEADER_BYTES = 64 * 1024
MIN_FREE = 64 * 1024
# After rejecting an oversized body the rest of it is read and dropped (up to this much) before the
# connection closes: closing with unread data makes the kernel reset the connection, and the client
# would never see the 400.
MAX_DISCARD_BYTES = 256 * 1024 * 1024


class Request:
    __slots__ = ("method", "path", "query", "headers", "body")

    def __init__(self, method, path, query, headers, body):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body


class Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status=200, body=b"", headers=None):
        self.status = status
        self.body = body  # bytes, or a list of bytes-like parts written in order
        self.headers = headers or []

    @classmethod
    def json(cls, payload, status=200, headers=None):
        return cls(status, orjson.dumps(payload), [("Content-Type", "application/json")] + (headers or []))

    @classmethod
    def error(cls, status, message):
        """Triton's error body: {"error": "..."}."""
        return cls.json({"error": message}, status)


class HttpProtocol(asyncio.BufferedProtocol):
    """One connection. `handler(request)` returns a Response or an awaitable of one."""

    def __init__(self, handler, max_body_bytes):
        self.handler = handler
        self.max_body = max_body_bytes
        self.transport = None
        self.buf = bytearray(256 * 1024)
        self.view = memoryview(self.buf)
        self.have = 0
        self.head = None  # parsed request head while its body is incomplete
        self.busy = False
        self.closing = False
        self.paused = False
        self.sent_continue = False
        self.discard_left = 0
        self.scratch = None

    # --- asyncio callbacks ----------------------------------------------------------------
    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        self.closing = True

    def get_buffer(self, sizehint):
        if self.discard_left:
            if self.scratch is None:
                self.scratch = memoryview(bytearray(MIN_FREE))
            return self.scratch
        need = MIN_FREE
        if self.head is not None and self.head["length"] is not None:
            need = max(need, self.head["start"] + self.head["length"] - self.have)
        if len(self.buf) - self.have < need:
            self._grow(self.have + need)
        return self.view[self.have:]

    def buffer_updated(self, nbytes):
        if self.discard_left:
            self.discard_left = max(0, self.discard_left - nbytes)
            if not self.discard_left:
                self.transport.close()
            return
        self.have += nbytes
        self._process()

    # --- buffer management ----------------------------------------------------------------
    def _grow(self, size):
        size = max(size, len(self.buf) * 2)
        new = bytearray(size)
        new[: self.have] = self.view[: self.have]
        self.buf = new  # the old buffer goes with its views (the transport may still hold one)
        self.view = memoryview(new)

    def _consume(self, end):
        rest = self.have - end
        if rest:  # pipelined bytes of the next request move to the front (copied: the ranges may overlap)
            self.view[:rest] = bytes(self.view[end : self.have])
        self.have = rest

    # --- parsing --------------------------------------------------------------------------
    def _parse_head(self):
        end = self.buf.find(b"\r\n\r\n", 0, self.have)
        if end < 0:
            if self.have > MAX_HEADER_BYTES:
                self._fail(400, "request header too large")
            return None
        lines = bytes(self.view[:end]).decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._fail(400, "malformed HTTP request line")
            return None
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                self._fail(400, "malformed HTTP header")
                return None
            headers[name.strip().lower()] = value.strip()
        target = parts[1]
        path, _sep, query = target.partition("?")
        keep_alive = parts[2] == "HTTP/1.1"
        connection = headers.get("connection", "").lower()
        if "close" in connection:
            keep_alive = False
        elif "keep-alive" in connection:
            keep_alive = True
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = None
        if not chunked:
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                self._fail(400, "malformed Content-Length")
                return None
            if length < 0:
                self._fail(400, "malformed Content-Length")
                return None
            if length > self.max_body:
                buffered = self.have - (end + 4)
                self._fail(400, f"request body of {length} bytes exceeds the limit of {self.max_body} bytes",
                           discard=length - buffered)
                return None
        return {
            "method": parts[0], "path": path, "query": query, "headers": headers, "start": end + 4,
            "length": length, "keep_alive": keep_alive,
        }

    def _dechunk(self, start):
        """(body, end) when the whole chunked body is buffered, else None."""
        pos = start
        pieces = []
        total = 0
        while True:
            eol = self.buf.find(b"\r\n", pos, self.have)
            if eol < 0:
                return None
            try:
                size = int(bytes(self.view[pos:eol]).split(b";")[0].strip(), 16)
            except ValueError:
                self._fail(400, "malformed chunked body")
                return None
            total += size
            if total > self.max_body:
                self._fail(400, f"request body exceeds the limit of {self.max_body} bytes")
                return None
            data_start = eol + 2
            if size == 0:
                trailer_end = self.buf.find(b"\r\n\r\n", eol, self.have)
                if self.buf[eol : eol + 4] == b"\r\n\r\n":
                    return b"".join(pieces), eol + 4
                if trailer_end < 0:
                    return None
                return b"".join(pieces), trailer_end + 4
            if self.have < data_start + size + 2:
                return None
            pieces.append(bytes(self.view[data_start : data_start + size]))
            pos = data_start + size + 2

    def _process(self):
        while not self.busy and not self.closing:
            if self.head is None:
                self.head = self._parse_head()
                if self.head is None:
                    return
                self.sent_continue = False
            head = self.head
            if head["length"] is None:
                found = self._dechunk(head["start"])
                if found is None:
                    self._maybe_continue(head)
                    return
                body, end = found
            else:
                end = head["start"] + head["length"]
                if self.have < end:
                    self._maybe_continue(head)
                    return
                body = bytes(self.view[head["start"] : end])
            self._consume(end)
            self.head = None
            self.busy = True
            request = Request(head["method"], head["path"], head["query"], head["headers"], body)
            self._dispatch(request, head["keep_alive"])
        if self.busy and self.have > self.max_body + MAX_HEADER_BYTES and not self.paused:
            self.transport.pause_reading()  # a client pipelining far ahead of us
            self.paused = True

    def _maybe_continue(self, head):
        if not self.sent_continue and head["headers"].get("expect", "").lower() == "100-continue":
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.sent_continue = True

    # --- dispatch and response ------------------------------------------------------------
    def _dispatch(self, request, keep_alive):
        try:
            result = self.handler(request)
        except Exception as exc:  # noqa: BLE001 - a handler bug must not kill the connection loop
            LOG.exception("handler failed")
            result = Response.error(500, f"internal error: {exc}")
        if isinstance(result, Response):
            self._respond(result, keep_alive)
            return
        task = asyncio.ensure_future(result)
        task.add_done_callback(lambda t: self._finish(t, keep_alive))

    def _finish(self, task, keep_alive):
        if task.cancelled():
            response = Response.error(500, "request cancelled")
        elif task.exception() is not None:
            exc = task.exception()
            LOG.error("handler failed: %r", exc)
            response = Response.error(500, f"internal error: {exc}")
        else:
            response = task.result()
        self._respond(response, keep_alive)

    def _respond(self, response, keep_alive, linger=False):
        if self.closing or self.transport.is_closing():
            return
        body = response.body
        length = sum(len(p) if not isinstance(p, memoryview) else p.nbytes for p in body) if isinstance(
            body, list) else len(body)
        head = [f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Unknown')}"]
        head.extend(f"{k}: {v}" for k, v in response.headers)
        head.append(f"Content-Length: {length}")
        if not keep_alive:
            head.append("Connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if isinstance(body, list):
            self.transport.write(b"".join([data, *body]))
        else:
            self.transport.write(data + body)
        self.busy = False
        if not keep_alive:
            if linger:  # closed by buffer_updated once the rest of the rejected body has arrived
                self.busy = True
                return
            self.closing = True
            self.transport.close()
            return
        if self.paused:
            self.paused = False
            self.transport.resume_reading()
        if self.have:
            self._process()

    def _fail(self, status, message, discard=0):
        """Answer a request we will not read to the end, then close the connection.

        With `discard`, that many body bytes still on their way are read and dropped first (lingering close).
        """
        LOG.info("rejected request: %s", message)
        self.head = None
        self.have = 0
        self.busy = True
        if 0 < discard <= MAX_DISCARD_BYTES:
            self.discard_left = discard
            self._respond(Response.error(status, message), keep_alive=False, linger=True)
            return
        self._respond(Response.error(status, message), keep_alive=False)


async def serve(handler, host, port, max_body_bytes):
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: HttpProtocol(handler, max_body_bytes), host, port, reuse_address=True)
