"""A real HTTP/1.1 server on 127.0.0.1 that misbehaves on demand, for transport-fault tests.

    async with faulty_http() as server:      # server.url, e.g. "http://127.0.0.1:41234/"
        server.mode = "busy"                  # switch at any time; applies to the next request

Modes (see `MODES`): `ok` answers a canned JSON-RPC body (nothing is forwarded anywhere):
`results[method]`, else a fresh session for `common.db.login` (Tryton), a user id for
`common.authenticate` (Odoo, whose `call` envelopes are recorded as "service.method"), else `[]`; `garbage` answers
HTTP 200 with `garbage` (not JSON); `huge` streams 64 MiB chunked, with no length;
`huge_declared` announces 64 MiB in Content-Length, then streams; `slow` sleeps `slow_seconds`
before answering; `drop` closes the connection without answering; `reset` aborts it with a TCP
RST; `busy`/`throttle` answer 503/429 with `Retry-After: 7`; `html500` answers 500 with an HTML
page; `unauthorized` answers 401. `methods` records the JSON-RPC method of every request read;
`sent` counts the body bytes a huge answer managed to write.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

MODES = (
    "ok", "garbage", "huge", "huge_declared", "slow", "drop", "reset",
    "busy", "throttle", "html500", "unauthorized",
)  # fmt: skip
HUGE = 64 * 1024 * 1024
CHUNK = b"x" * 65536
HTML = b"<!doctype html><html><body><h1>500 Internal Server Error</h1></body></html>"
_STATUS = {"busy": 503, "throttle": 429, "html500": 500, "unauthorized": 401}


@dataclass
class FaultyServer:
    url: str = ""
    mode: str = "ok"
    results: dict[str, Any] = field(default_factory=dict)
    garbage: bytes = b"\x00\xff<html>definitely not JSON"
    slow_seconds: float = 30.0
    methods: list[str] = field(default_factory=list)
    sent: int = 0
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    def _result(self, method: str) -> Any:
        if method in self.results:
            return self.results[method]
        if method == "common.db.login":  # a new session key each time: renewals are visible
            return [1, f"session-{self.methods.count(method)}", None]
        if method == "model.res.user.get_preferences":
            return {"company": 1, "language": "en"}
        if method == "common.authenticate":  # Odoo's login: a user id
            return 2
        return []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:  # keep-alive: one request after another on this connection
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return  # the client closed the connection
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            body, request = await reader.readexactly(length), None
            with suppress(ValueError):
                request = json.loads(body)
            if not isinstance(request, dict):
                request = {}
            method = str(request.get("method", ""))
            params = request.get("params")
            if method == "call" and isinstance(params, dict):  # Odoo: "common.authenticate"...
                method = f"{params.get('service')}.{params.get('method')}"
            self.methods.append(method)
            mode = self.mode
            if mode == "slow":  # stalls until `slow_seconds` pass or the server stops
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), self.slow_seconds)
                mode = "drop" if self._closing.is_set() else "ok"
            if mode == "drop":
                writer.close()
                return
            if mode == "reset":  # linger 0: closing sends RST instead of FIN
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
                return
            if mode in ("huge", "huge_declared"):
                await self._huge(writer, declared=mode == "huge_declared")
                return
            status, headers, payload = _STATUS.get(mode, 200), {}, b""
            if mode == "ok":
                reply = {"id": request.get("id", 0), "result": self._result(method)}
                headers["Content-Type"], payload = "application/json", json.dumps(reply).encode()
            elif mode == "garbage":
                headers["Content-Type"], payload = "application/json", self.garbage
            elif mode in ("busy", "throttle"):
                headers["Retry-After"], payload = "7", b"slow down"
            elif mode == "html500":
                headers["Content-Type"], payload = "text/html; charset=utf-8", HTML
            await self._send(writer, status, headers, payload)

    @staticmethod
    async def _send(
        writer: asyncio.StreamWriter, status: int, headers: dict[str, str], payload: bytes
    ) -> None:
        lines = [
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
            f"Content-Length: {len(payload)}",
        ]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        await writer.drain()

    async def _huge(self, writer: asyncio.StreamWriter, *, declared: bool) -> None:
        """Stream HUGE bytes until the client hangs up; `sent` says how far it got."""
        framing = f"Content-Length: {HUGE}" if declared else "Transfer-Encoding: chunked"
        writer.write(
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{framing}\r\n\r\n".encode()
        )
        self.sent = 0
        frame = CHUNK if declared else b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK)
        while self.sent < HUGE:
            writer.write(frame)
            await writer.drain()  # raises once the client has closed the connection
            self.sent += len(CHUNK)
        if not declared:
            writer.write(b"0\r\n\r\n")
            await writer.drain()


@asynccontextmanager
async def faulty_http(mode: str = "ok") -> AsyncIterator[FaultyServer]:
    """Serve on a free loopback port; on exit stop listening and end every open connection."""
    assert mode in MODES, mode
    state = FaultyServer(mode=mode)
    open_connections: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        open_connections[task] = writer
        try:
            await state._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up first (a timeout, a capped read): expected here
        finally:
            del open_connections[task]
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    try:
        yield state
    finally:
        # Not Task.cancel(): Python 3.11's stream callback logs every cancelled handler.
        server.close()
        state._closing.set()
        for writer in open_connections.values():
            writer.transport.abort()  # wakes handlers blocked reading or writing
        await asyncio.gather(*open_connections, return_exceptions=True)
        await server.wait_closed()
