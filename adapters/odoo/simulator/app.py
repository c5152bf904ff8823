"""The simulator as a plain ASGI application (msgspec for JSON, nothing else on the hot path)
and `run(port)` serving it with uvicorn. Routes: `POST /jsonrpc` (Odoo's external API),
`POST /web/webclient/version_info` and the `/_sim/...` control API described in the package
docstring."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import uvicorn

from adapters.odoo.simulator.asgi import (
    HTML,
    TEXT,
    Disconnected,
    Listener,
    Receive,
    Scope,
    Send,
    drop,
    read_body,
    reply,
)
from adapters.odoo.simulator.errors import envelope
from adapters.odoo.simulator.faults import (
    HTTP_REASONS,
    Call,
    Faults,
    FaultSpecError,
    retry_after,
)
from adapters.odoo.simulator.rpc import VERSION, OdooServer
from adapters.odoo.simulator.stats import Stats

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


class SimulatorApp:
    def __init__(self, server: OdooServer) -> None:
        self.server = server
        self.faults = Faults()
        self.stats = Stats()
        self.listener: Listener | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            try:
                path = scope["path"]
                if path == "/jsonrpc":
                    await self._jsonrpc(scope, receive, send)
                elif path.startswith("/_sim/"):
                    await self._control(scope, receive, send)
                elif path == "/web/webclient/version_info":
                    await read_body(receive)
                    await reply(
                        send, 200, _encode({"jsonrpc": "2.0", "id": None, "result": VERSION})
                    )
                else:
                    await reply(send, 404, b"404: Not Found", TEXT)
            except Disconnected:
                return
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    # -- JSON-RPC -----------------------------------------------------------------------------

    async def _jsonrpc(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await reply(send, 405, b"405: Method Not Allowed", TEXT, [(b"allow", b"POST")])
            return
        body = await read_body(receive)
        try:
            payload = _decode(body)
        except msgspec.DecodeError:
            await reply(send, 400, b"Invalid JSON data", HTML)
            return
        if not isinstance(payload, dict):
            await reply(send, 400, b"Invalid JSON-RPC data", HTML)
            return
        call = self._count(payload)
        if self.faults.active and await self._faults(payload, call, receive, send):
            return
        self.stats.dispatched += 1
        response = self.server.handle(payload)
        error = response.get("error")
        if error is not None:
            self.stats.errors[error["data"]["name"]] += 1
        await reply(send, 200, _encode(response))

    def _count(self, payload: dict[str, Any]) -> Call:
        """Count the request; answers what it calls, for the faults' `models`/`methods`."""
        params = payload.get("params")
        service = method = "?"
        model = model_method = None
        if isinstance(params, dict):
            service = str(params.get("service"))
            method = str(params.get("method"))
            args = params.get("args")
            if service == "object" and isinstance(args, list) and len(args) >= 5:
                model, model_method = str(args[3]), str(args[4])
        self.stats.arrived(service, method, model, model_method)
        if model is not None and model_method is not None:
            return (model, model_method)
        return (None, f"{service}.{method}")

    async def _faults(  # noqa: PLR0911
        self, payload: dict[str, Any], call: Call, receive: Receive, send: Send
    ) -> bool:
        """Apply the active faults; True when the request has been answered or dropped."""
        faults, counts = self.faults, self.stats.faults
        mode = faults.down_mode()
        if mode == "503":
            counts["down"] += 1
            wait = retry_after(faults.down_remaining() or 1.0)
            await reply(send, 503, b"Service Unavailable", TEXT, [(b"retry-after", wait.encode())])
            return True
        if mode == "refuse":
            counts["down"] += 1
            await drop(receive, send)
            return True
        wait_s = faults.rate_limited(call)
        if wait_s:
            counts["rate_limited"] += 1
            headers = [(b"retry-after", retry_after(wait_s).encode())]
            await reply(send, 429, b"Too Many Requests", TEXT, headers)
            return True
        if faults.fire("drop", call):
            counts["dropped"] += 1
            await drop(receive, send)
            return True
        hold = faults.fire("timeout", call)
        if hold:
            counts["timeout"] += 1
            await asyncio.sleep(hold)
        delay = faults.latency()
        if delay:
            counts["latency"] += 1
            await asyncio.sleep(delay)
        status = faults.fire("http_error", call)
        if status:
            counts["http_error"] += 1
            reason = HTTP_REASONS.get(status, "Error").encode()
            await reply(send, status, reason, TEXT)
            return True
        error = faults.injected_error(call)
        if error is not None:
            counts["error"] += 1
            self.stats.errors[error.name] += 1
            await reply(send, 200, _encode(envelope(payload.get("id"), error)))
            return True
        return False

    # -- control API --------------------------------------------------------------------------

    async def _control(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive)
        verb, path = scope["method"], scope["path"]
        try:
            spec = _decode(body) if body.strip() else {}
        except msgspec.DecodeError:
            await reply(send, 400, _encode({"error": "invalid JSON"}))
            return
        try:
            status, answer = await self._control_action(verb, path, spec)
        except FaultSpecError as exc:
            status, answer = 400, {"error": str(exc)}
        await reply(send, status, _encode(answer))

    async def _control_action(self, verb: str, path: str, spec: Any) -> tuple[int, Any]:  # noqa: PLR0911
        if path == "/_sim/health":
            return 200, {"ok": True, "database": self.server.database, "server_version": "17.0"}
        if path == "/_sim/stats" and verb == "GET":
            return 200, self.stats.describe()
        if path == "/_sim/reset" and verb == "POST":
            self.faults.clear()
            self.stats.clear()
            if isinstance(spec, dict) and spec.get("data"):
                self.server.reset_data()
            if self.listener is not None:
                await self.listener.resume()
            return 200, {"ok": True}
        if path == "/_sim/faults":
            if verb == "GET":
                return 200, self.faults.describe()
            if verb == "DELETE":
                self.faults.clear()
                if self.listener is not None:
                    await self.listener.resume()
                return 200, self.faults.describe()
            if verb == "POST":
                self.faults.configure(spec)
                if isinstance(spec, dict) and isinstance(spec.get("down"), dict):
                    self._schedule_refusal()
                return 200, self.faults.describe()
        if path in ("/_sim/health", "/_sim/stats", "/_sim/reset", "/_sim/faults"):
            return 405, {"error": f"{verb} not allowed on {path}"}
        return 404, {"error": f"unknown control path {path}"}

    def _schedule_refusal(self) -> None:
        if self.faults.down_mode() != "refuse" or self.listener is None:
            return
        listener = self.listener
        listener.pause()
        seconds = self.faults.down_remaining() or 1.0

        async def reopen() -> None:
            await asyncio.sleep(seconds)
            await listener.resume()

        task = asyncio.get_running_loop().create_task(reopen())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def create_app(
    database: str = "demo",
    login: str = "admin",
    password: str = "admin",  # noqa: S107 - the simulator's documented demo credentials
    seed: bool = True,
) -> SimulatorApp:
    """An ASGI application simulating an Odoo 17 server with one database."""
    return SimulatorApp(OdooServer(database=database, login=login, password=password, seed=seed))


def run(port: int, host: str = "127.0.0.1", *, log_level: str = "warning", **kw: Any) -> None:
    """Serve the simulator with uvicorn until interrupted. `kw` goes to `create_app`."""
    app = create_app(**kw)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    app.listener = Listener(server)
    server.run()
