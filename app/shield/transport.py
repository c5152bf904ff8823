"""The shield as an httpx transport: every HTTP request an adapter sends to its backend takes a
slot first, so the backend's budget is counted in requests, which is what the backend's own
quota counts (one adapter method may send several). The adapter keeps its httpx API and never
knows. A slot is released when the response body is closed, so the concurrency cap covers the
whole exchange; 429 and 5xx count as failures, and a Retry-After pauses every replica."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx

from adapters._http import parse_retry_after
from app.shield.service import Shield, Slot


class _ReleasingStream(httpx.AsyncByteStream):
    def __init__(
        self, inner: httpx.AsyncByteStream, slot: Slot, outcome: str, pause: float, error: str
    ) -> None:
        self._inner = inner
        self._slot = slot
        self._outcome = outcome
        self._pause = pause
        self._error = error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except BaseException as error:
            self._outcome, self._error = "fail", type(error).__name__
            raise

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            await self._slot.release(self._outcome, self._pause, self._error)


class ShieldedTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, shield: Shield) -> None:
        self._inner = inner
        self.shield = shield

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        slot = await self.shield.acquire(look_ahead=True)
        try:
            async with asyncio.timeout(self.shield.policy.timeout):
                response = await self._inner.handle_async_request(request)
        except BaseException as error:
            await slot.release("fail", error=type(error).__name__)
            raise
        status = response.status_code
        failed = status == 429 or status >= 500
        pause = (
            parse_retry_after(response.headers.get("retry-after")) or 0.0
            if status in (429, 503)
            else 0.0
        )
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        # The same response, its body now returning the slot when closed (httpx wraps the
        # stream in turn the same way; a second Response would copy the headers for nothing).
        response.stream = _ReleasingStream(
            stream, slot, "fail" if failed else "ok", pause, f"HTTP {status}" if failed else ""
        )
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
