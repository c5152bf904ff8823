"""A TCP proxy on 127.0.0.1 that puts faults between a client and its upstream, for
fault-injection tests (an outbox worker posting to the ERP while the network misbehaves).

    async with FaultProxy("127.0.0.1", sim.port) as proxy:   # point the client at proxy.url
        proxy.set_latency(0.2, "downstream")   # the backend acts at once, the answer comes late
        proxy.hold_responses()                 # ... or not at all until release_responses()

Everything runs in the test's own event loop: the fault switches are plain methods, called from
the test between (or during) requests, and act on open connections as well as new ones. Each
connection accepted gets its own upstream connection, opened at once; bytes are relayed as they
come (nothing is parsed), so HTTP/1.1 keep-alive works as it does without the proxy.

Faults, checked in this order each time a chunk of bytes arrives from either side:
    reset(True)        abort the connection, both sides, with a TCP RST (SO_LINGER 0).
    drop_next(n)       the next n requests (a chunk from the client that starts a request: the
                       first on a connection, or the first after an answer came back) are not
                       forwarded; the client gets a FIN (HTTP clients: "server disconnected").
    blackhole(True)    read and discard, both ways: the client waits for an answer that never
                       comes (until its timeout), the upstream never sees the request.
    set_latency(s, d)  deliver each chunk `s` seconds after it arrived, in direction
                       "upstream" (requests), "downstream" (answers) or "both".
    hold_responses()   keep everything coming back from the upstream (and its end-of-stream)
                       until release_responses(): the backend has done the work, the client has
                       no answer; a client that gives up meanwhile never gets it.
    clear()            all of the above off; held answers are released.

`counters` (`ProxyCounters`) says what the proxy did; `stop()` then `start()` listens again on
the same port, so in between a client meets a refused connection.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from contextlib import suppress
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

Direction = Literal["both", "upstream", "downstream"]
CHUNK = 65536
# A queued item: (when to deliver it, the bytes), or None for end-of-stream.
_Item = tuple[float, bytes] | None


@dataclass
class ProxyCounters:
    """What went through. Bytes count what was delivered to the other side, so a held,
    dropped or blackholed chunk is not in them (`blackholed` counts the bytes swallowed)."""

    connections: int = 0
    bytes_upstream: int = 0
    bytes_downstream: int = 0
    dropped: int = 0
    reset: int = 0
    blackholed: int = 0
    upstream_failures: int = 0


@dataclass
class _Link:
    """One client connection and the upstream connection paired with it."""

    client_reader: asyncio.StreamReader
    client_writer: asyncio.StreamWriter
    upstream_reader: asyncio.StreamReader
    upstream_writer: asyncio.StreamWriter
    # A request starts with the first client chunk after an answer (or at connection start);
    # that is the unit `drop_next` counts, whatever the client's chunking of one request.
    awaiting_request: bool = True
    dropped: bool = False
    held: list[bytes] = field(default_factory=list)
    held_eof: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self, *, rst: bool = False) -> None:
        """Close both sides at once; with `rst`, with a TCP RST instead of a FIN."""
        for writer in (self.client_writer, self.upstream_writer):
            if rst:
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    with suppress(OSError):
                        sock.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
            writer.transport.abort()


def _write_eof(writer: asyncio.StreamWriter) -> None:
    if not writer.transport.is_closing() and writer.can_write_eof():
        with suppress(OSError):
            writer.write_eof()


class FaultProxy:
    """Relays 127.0.0.1:`port` to `upstream_host`:`upstream_port`, with faults switched at run
    time (see the module docstring). Use as `async with`, or `await start()` / `await stop()`."""

    def __init__(self, upstream_host: str, upstream_port: int, *, port: int = 0) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.port = port
        self.counters = ProxyCounters()
        self._latency = {"upstream": 0.0, "downstream": 0.0}
        self._drop_remaining = 0
        self._reset = False
        self._blackhole = False
        self._holding = False
        self._server: asyncio.Server | None = None
        self._links: dict[asyncio.Task[None], _Link] = {}
        self._handlers: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> int:
        """Listen (on the port of the previous start, if any) and return the port."""
        assert self._server is None, "already started"
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        """Stop listening and end every open connection (held answers are discarded)."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        for link in list(self._links.values()):
            link.abort()
            for task in link.tasks:  # the relays of this link, ours to cancel (a latency sleep)
                task.cancel()
        # Not cancelling the handlers: Python 3.11's stream callback logs every cancelled one.
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await server.wait_closed()

    async def __aenter__(self) -> FaultProxy:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        assert self.port, "not started"
        return f"http://127.0.0.1:{self.port}"

    @property
    def open_connections(self) -> int:
        return len(self._links)

    # -- faults ------------------------------------------------------------------------------

    def set_latency(self, seconds: float, direction: Direction = "both") -> None:
        """Delay each chunk by `seconds` in that direction; the other keeps its latency."""
        assert seconds >= 0 and direction in ("both", "upstream", "downstream"), direction
        for name in ("upstream", "downstream"):
            if direction in ("both", name):
                self._latency[name] = seconds

    def drop_next(self, n: int = 1) -> None:
        """Close the next `n` requests without forwarding them (replaces any pending count)."""
        assert n >= 0
        self._drop_remaining = n

    def reset(self, mode: bool = True) -> None:
        """While on, any data on any connection aborts that connection with a TCP RST."""
        self._reset = mode

    def blackhole(self, mode: bool = True) -> None:
        """While on, all data is read and discarded, both ways."""
        self._blackhole = mode

    def hold_responses(self) -> None:
        """Buffer everything coming back to clients until `release_responses()`."""
        self._holding = True

    def release_responses(self) -> None:
        """Deliver what was held, in order, to the clients still connected; stop holding."""
        self._holding = False
        for link in self._links.values():
            held, link.held = link.held, []
            if link.client_writer.transport.is_closing():
                continue  # the client is gone: the answer is lost, as it would be
            for chunk in held:
                link.client_writer.write(chunk)  # buffered by the transport, order kept
                self.counters.bytes_downstream += len(chunk)
            if link.held_eof:
                _write_eof(link.client_writer)

    def clear(self) -> None:
        """Every fault off; held answers are released."""
        self._latency = {"upstream": 0.0, "downstream": 0.0}
        self._drop_remaining = 0
        self._reset = False
        self._blackhole = False
        self.release_responses()

    @property
    def drops_pending(self) -> int:
        return self._drop_remaining

    @property
    def held_bytes(self) -> int:
        return sum(len(chunk) for link in self._links.values() for chunk in link.held)

    # -- relaying ----------------------------------------------------------------------------

    async def _handle(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        self.counters.connections += 1
        try:
            try:
                upstream_reader, upstream_writer = await asyncio.wait_for(
                    asyncio.open_connection(self.upstream_host, self.upstream_port), 5
                )
            except (OSError, TimeoutError):
                # The nearest a proxy that already accepted can come to "refused": hang up.
                self.counters.upstream_failures += 1
                client_writer.close()
                return
            link = _Link(client_reader, client_writer, upstream_reader, upstream_writer)
            up: asyncio.Queue[_Item] = asyncio.Queue()
            down: asyncio.Queue[_Item] = asyncio.Queue()
            link.tasks = [
                asyncio.create_task(self._read(link, "upstream", up)),
                asyncio.create_task(self._write(link, "upstream", up)),
                asyncio.create_task(self._read(link, "downstream", down)),
                asyncio.create_task(self._write(link, "downstream", down)),
            ]
            self._links[handler] = link
            try:
                await asyncio.gather(*link.tasks, return_exceptions=True)
            finally:
                del self._links[handler]
                client_writer.close()
                upstream_writer.close()
        finally:
            self._handlers.discard(handler)

    async def _read(self, link: _Link, direction: str, queue: asyncio.Queue[_Item]) -> None:
        """Read one side, apply the faults that act on arrival, queue the rest for `_write`.
        The queue is unbounded, so the proxy reads as fast as a side sends (fine for tests)."""
        upstream = direction == "upstream"
        reader = link.client_reader if upstream else link.upstream_reader
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    chunk = await reader.read(CHUNK)
                except OSError:  # reset by the peer: pass it on as an abort
                    link.abort()
                    return
                if not chunk:
                    return
                if self._reset:
                    self.counters.reset += 1
                    link.abort(rst=True)
                    return
                starts_request = upstream and link.awaiting_request
                link.awaiting_request = not upstream  # an answer (or part of one) came back
                if link.dropped:
                    continue  # read what the client still sends, so our close is a FIN
                if starts_request and self._drop_remaining > 0:
                    self._drop_remaining -= 1
                    self.counters.dropped += 1
                    link.dropped = True
                    link.upstream_writer.close()
                    _write_eof(link.client_writer)
                    continue
                if self._blackhole:
                    self.counters.blackholed += len(chunk)
                    continue
                queue.put_nowait((loop.time() + self._latency[direction], chunk))
        finally:
            queue.put_nowait(None)

    async def _write(self, link: _Link, direction: str, queue: asyncio.Queue[_Item]) -> None:
        """Deliver queued chunks when their latency is up, holding answers if asked to."""
        upstream = direction == "upstream"
        writer = link.upstream_writer if upstream else link.client_writer
        loop = asyncio.get_running_loop()
        while (item := await queue.get()) is not None:
            due, chunk = item
            if (delay := due - loop.time()) > 0:
                await asyncio.sleep(delay)
            if writer.transport.is_closing():
                continue  # aborted, dropped or gone meanwhile: drain the queue to its end
            if not upstream and self._holding:
                link.held.append(chunk)
                continue
            writer.write(chunk)
            try:
                await writer.drain()
            except OSError:
                link.abort()
                continue
            if upstream:
                self.counters.bytes_upstream += len(chunk)
            else:
                self.counters.bytes_downstream += len(chunk)
        # End of stream from the other side: pass the half-close on (after held answers).
        if link.dropped:
            return
        if not upstream and (self._holding or link.held):
            link.held_eof = True
        else:
            _write_eof(writer)
