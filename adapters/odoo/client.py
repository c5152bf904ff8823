"""Odoo's external JSON-RPC API on the wire: `POST /jsonrpc`, `common.authenticate` once for the
user id, then `object.execute_kw` with database, user id and password on every call (Odoo
keeps no session for this API)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx
import msgspec

from adapters._http import HttpEndpoint
from adapters.odoo.errors import NAME, classify
from contracts.errors import BackendAuthError, BackendUnavailable

_decoder = msgspec.json.Decoder()


class OdooClient:
    def __init__(
        self,
        url: str,
        database: str,
        username: str,
        password: str,
        *,
        timeout: float = 10.0,
        endpoint: HttpEndpoint | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._database = database
        self._username = username
        self._password = password
        self._endpoint = endpoint or HttpEndpoint(
            url, backend=NAME, timeout=timeout, transport=transport
        )
        self._uid: int | None = None
        self._lock = asyncio.Lock()
        self._ids = itertools.count(1)

    async def uid(self) -> int:
        if self._uid is None:
            async with self._lock:
                if self._uid is None:
                    result = await self._call(
                        "common",
                        "authenticate",
                        [self._database, self._username, self._password, {}],
                    )
                    if not isinstance(result, int) or isinstance(result, bool) or result <= 0:
                        raise BackendAuthError("Odoo refused our credentials", backend=NAME)
                    self._uid = result
        return self._uid

    async def execute(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        uid = await self.uid()
        return await self._call(
            "object",
            "execute_kw",
            [self._database, uid, self._password, model, method, list(args), kwargs],
        )

    async def search_read(
        self,
        model: str,
        domain: list[Any],
        fields: list[str],
        *,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"fields": fields, "offset": offset, "context": context or {}}
        if limit is not None:
            kwargs["limit"] = limit
        if order is not None:
            kwargs["order"] = order
        rows = await self.execute(model, "search_read", domain, **kwargs)
        return list(rows or [])

    async def _call(self, service: str, method: str, args: list[Any]) -> Any:
        payload = msgspec.json.encode(
            {
                "jsonrpc": "2.0",
                "method": "call",
                "params": {"service": service, "method": method, "args": args},
                "id": next(self._ids),
            }
        )
        reply = await self._endpoint.post("/jsonrpc", payload, {})
        if reply.status in (401, 403):  # a proxy or gateway in front of Odoo refused us
            raise BackendAuthError(
                f"Odoo answered HTTP {reply.status}", backend=NAME, vendor_code=str(reply.status)
            )
        if reply.status != 200:
            raise BackendUnavailable(
                f"Odoo answered HTTP {reply.status}", backend=NAME, vendor_code=str(reply.status)
            )
        try:
            body = _decoder.decode(reply.body)
        except (msgspec.DecodeError, RecursionError) as error:
            raise BackendUnavailable("Odoo answered an unreadable body", backend=NAME) from error
        if not isinstance(body, dict):
            raise BackendUnavailable("Odoo answered no JSON-RPC object", backend=NAME)
        if body.get("error") is not None:
            raise classify(body["error"])
        return body.get("result")

    async def aclose(self) -> None:
        await self._endpoint.aclose()
