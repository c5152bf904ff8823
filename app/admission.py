"""A read's quota, decided while the read begins rather than before it.

The quota middleware asks Redis for a read's verdict and lets the read start meanwhile: what it
does first (routing, its key, the cache lookup) costs the backend and the database nothing, and
a cache hit or miss no longer waits one round trip for the quota and then another for the
cache. What a refused read must never cost waits for the verdict first: every backend request
(the shield's grant) and every database session call `admitted()`. A refused read raises
`NotAdmitted` there, and the middleware answers 429 in place of whatever the read produced.
(A refresh a read starts in the background, for a stale entry it was served, waits for the
same verdict.)
Writes, the token endpoint and admin calls are decided before they begin, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from typing import Any, Protocol, TypeVar

from app.problems import GatewayError


class Verdict(Protocol):
    @property
    def allowed(self) -> bool: ...


V = TypeVar("V", bound=Verdict)
# The request's own task and its verdict. Only work done in that task waits: a task it starts
# may serve other requests too (a load shared by every replica's readers, say) and must not
# inherit one request's refusal; work it starts for itself alone waits through `carried`.
_Held = tuple["asyncio.Task[Any] | None", "asyncio.Future[Any]"]
_verdict: ContextVar[_Held | None] = ContextVar("admission", default=None)


class NotAdmitted(GatewayError):
    """This request's quota is used up: what it was about to do is not done."""

    status = 429
    slug = "too-many-requests"
    title = "Too many requests"


def decided_by(verdict: asyncio.Future[V]) -> Token[_Held | None]:
    """From here on in this task, work that costs something waits for `verdict`."""
    return _verdict.set((asyncio.current_task(), verdict))


def undecided(token: Token[_Held | None]) -> None:
    _verdict.reset(token)


async def admitted() -> None:
    """Return once this request may go on; NotAdmitted if its quota refused it."""
    held = _verdict.get()
    if held is not None and held[0] is asyncio.current_task():
        await _wait(held[1])


def carried() -> Callable[[], Awaitable[None]]:
    """This request's `admitted`, for work it starts in a task of its own on its behalf."""
    held = _verdict.get()
    if held is None:
        return _nothing
    verdict = held[1]
    return lambda: _wait(verdict)


async def _wait(verdict: asyncio.Future[Any]) -> None:
    if not verdict.done():
        await asyncio.shield(verdict)
    if not verdict.result().allowed:
        raise NotAdmitted("the quota for reads is used up")


async def _nothing() -> None:
    return None
