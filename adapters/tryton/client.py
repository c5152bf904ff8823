"""Tryton's JSON-RPC on the wire: login, sessions, the typed JSON encoding and errors.

`POST /<database>/rpc/` with `{"id", "method", "params"}`. Login is `common.db.login`, which
answers `[user_id, session, ...]`; later calls send `Authorization: Session
base64(login:user_id:session)`. An expired session is HTTP 401: the client logs in again once
and repeats the call. Decimals, dates and datetimes travel as `{"__class__": ...}` objects.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx

from adapters._http import HttpEndpoint
from adapters.tryton.errors import NAME, classify
from contracts.errors import BackendAuthError, BackendUnavailable


def _object_hook(value: dict[str, Any]) -> Any:
    kind = value.get("__class__")
    if kind is None:
        return value
    if kind == "Decimal":
        return Decimal(value["decimal"])
    if kind == "datetime":
        return datetime(
            value["year"],
            value["month"],
            value["day"],
            value.get("hour", 0),
            value.get("minute", 0),
            value.get("second", 0),
            value.get("microsecond", 0),
            tzinfo=UTC,
        )
    if kind == "date":
        return date(value["year"], value["month"], value["day"])
    if kind == "bytes":
        return base64.b64decode(value["base64"])
    return value


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": format(value, "f")}
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
        return {
            "__class__": "datetime",
            "year": value.year,
            "month": value.month,
            "day": value.day,
            "hour": value.hour,
            "minute": value.minute,
            "second": value.second,
            "microsecond": value.microsecond,
        }
    if isinstance(value, date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    msg = f"cannot send {type(value).__name__} to Tryton"
    raise TypeError(msg)


def encode(payload: Any) -> bytes:
    return json.dumps(payload, default=_default, separators=(",", ":")).encode()


def decode(body: bytes) -> Any:
    return json.loads(body, object_hook=_object_hook)


class TrytonClient:
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
        self._path = f"/{database}/rpc/"
        self._username = username
        self._password = password
        self._endpoint = endpoint or HttpEndpoint(
            url, backend=NAME, timeout=timeout, transport=transport
        )
        self._authorization: str | None = None
        self._context: dict[str, Any] | None = None
        self._login_lock = asyncio.Lock()
        self._ids = itertools.count(1)

    @property
    def context(self) -> dict[str, Any]:
        assert self._context is not None, "call ensure_session() first"
        return self._context

    async def ensure_session(self) -> None:
        if self._authorization is None or self._context is None:
            await self._login(stale=self._authorization)

    async def _login(self, stale: str | None) -> None:
        async with self._login_lock:
            if self._authorization is not None and self._authorization != stale and self._context:
                return  # another task logged in while we waited
            status, reply = await self._post(
                "common.db.login", [self._username, {"password": self._password}], None
            )
            if status in (401, 403):
                raise BackendAuthError(
                    "Tryton refused our credentials", backend=NAME, vendor_code=str(status)
                )
            result = self._result(status, reply)
            if not isinstance(result, list) or len(result) < 2:
                raise BackendAuthError("Tryton login answered no session", backend=NAME)
            token = f"{self._username}:{result[0]}:{result[1]}".encode()
            self._authorization = "Session " + base64.b64encode(token).decode()
            status, reply = await self._post(
                "model.res.user.get_preferences", [True, {}], self._authorization
            )
            preferences = self._result(status, reply)
            if not isinstance(preferences, dict):
                raise BackendUnavailable("Tryton answered no preferences", backend=NAME)
            self._context = preferences

    async def call(self, method: str, *params: Any, context: dict[str, Any] | None = None) -> Any:
        """Call `method`; the session context (company, language...) plus `context` is appended
        as the last parameter, as Tryton's own client does."""
        await self.ensure_session()
        for attempt in range(2):
            authorization = self._authorization
            args = [*params, {**self.context, **(context or {})}]
            status, reply = await self._post(method, args, authorization)
            if status == 401 and attempt == 0:
                await self._login(stale=authorization)  # the session expired: log in once more
                continue
            return self._result(status, reply)
        raise BackendAuthError("Tryton keeps refusing our session", backend=NAME)

    async def _post(
        self, method: str, params: list[Any], authorization: str | None
    ) -> tuple[int, Any]:
        headers = {"Authorization": authorization} if authorization else {}
        payload = encode({"id": next(self._ids), "method": method, "params": params})
        reply = await self._endpoint.post(self._path, payload, headers)
        if reply.status in (401, 403):
            return reply.status, None
        try:
            return reply.status, decode(reply.body)
        except (ValueError, KeyError, TypeError, ArithmeticError, RecursionError) as error:
            # Not JSON-RPC at all (a proxy page, a truncated body): treat as a passing fault.
            raise BackendUnavailable(
                f"Tryton answered HTTP {reply.status} with an unreadable body", backend=NAME
            ) from error

    @staticmethod
    def _result(status: int, reply: Any) -> Any:
        if status in (401, 403):
            raise BackendAuthError(
                "Tryton refused our session", backend=NAME, vendor_code=str(status)
            )
        if not isinstance(reply, dict) or status != 200:
            raise BackendUnavailable(
                f"Tryton answered HTTP {status} without a JSON-RPC body", backend=NAME
            )
        if reply.get("error") is not None or ("result" not in reply and "error" in reply):
            raise classify(reply["error"])
        if "result" not in reply:
            raise BackendUnavailable("Tryton answered without a result", backend=NAME)
        return reply["result"]

    async def aclose(self) -> None:
        await self._endpoint.aclose()
