"""ASGI plumbing of the simulator: bodies, replies, dropping a connection without an answer,
and stopping/restarting uvicorn's listening socket (the `down: refuse` fault)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = b"application/json"
TEXT = b"text/plain; charset=utf-8"
HTML = b"text/html; charset=utf-8"


class Disconnected(Exception):
    pass


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def reply(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes = JSON,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *(headers or ()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def drop(receive: Receive, send: Send) -> None:
    """Close the connection without answering (uvicorn: through the request cycle's transport;
    elsewhere by breaking off a started response)."""
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is not None:
        cycle.disconnected = True  # type: ignore[union-attr]
        transport.close()
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1")]}
    )
    raise Disconnected


class Listener:
    """Stops and restarts uvicorn's listening socket, for the `down: refuse` fault."""

    def __init__(self, server: uvicorn.Server) -> None:
        self.server = server
        self.paused = False

    def pause(self) -> None:
        for listening in self.server.servers:
            listening.close()
        self.paused = True

    async def resume(self) -> None:
        if not self.paused:
            return
        server = self.server
        config = server.config

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config,
                server_state=server.server_state,
                app_state=server.lifespan.state,
                _loop=_loop,
            )

        loop = asyncio.get_running_loop()
        listening = await loop.create_server(
            create_protocol, host=config.host, port=config.port, backlog=config.backlog
        )
        server.servers = [listening]
        self.paused = False
