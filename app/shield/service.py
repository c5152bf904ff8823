"""Running one backend call through its shield: wait for budget as the call's priority allows,
call within the timeout, report the outcome (the breaker learns, a 429 pauses everyone)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from redis.exceptions import RedisError

from app.admission import admitted
from app.shield.policy import (
    OperationState,
    ShieldPolicy,
    current_operation,
    current_patience,
    current_priority,
)
from app.shield.store import NOTHING, Grant, MemoryShieldStore, Returned, ShieldStore
from contracts.errors import (
    BackendError,
    BackendOverloaded,
    BackendUnavailable,
    BusinessRejection,
    RetryableBackendError,
)

T = TypeVar("T")

log = logging.getLogger("gateway.shield")
RETURN_AFTER = 0.002


class ShieldRefused(BackendOverloaded):
    """The shield did not let the call through (budget, concurrency, breaker, pause)."""


class Slot:
    """A granted call; release it once with its outcome ("ok", "fail" or "neutral"), the
    pause the backend asked for, if any, and for a failure its class (kept for readiness)."""

    def __init__(self, shield: Shield, member: str, probe: bool) -> None:
        self._shield = shield
        self._member = member
        self._probe = probe
        self._released = False

    async def release(self, outcome: str, pause: float = 0.0, error: str = "") -> None:
        if self._released:
            return
        self._released = True
        if outcome == "ok" and not pause and not self._probe:
            # Nothing waits on a plain success: the slot goes back with this shield's next
            # call to the shared store (or one of its own, in the background, if none comes)
            # instead of adding a round trip to every backend request. (A failure, a pause
            # or a probe's verdict is told before the caller goes on.)
            self._shield._owe(done=self._member)
            return
        await self._shield._release(self._member, outcome, self._probe, pause, error)


class Shield:
    def __init__(
        self,
        target: str,
        backend: str,
        policy: ShieldPolicy,
        store: ShieldStore,
        fallback: MemoryShieldStore,
    ) -> None:
        self.target = target
        self.backend = backend
        self.policy = policy
        self._store = store
        self._fallback = fallback
        self._store_down_until = 0.0
        self._releasing: set[asyncio.Task[Any]] = set()
        # Slots owed back to the store, carried by the next call to it (see Returned).
        self._owed_done: list[str] = []
        self._owed_unused: list[str] = []
        self._paying = False
        # Grants asked ahead that their operation did not use, kept until the next payment
        # for another operation's first request (member, grant).
        self._spares: list[tuple[str, Grant]] = []
        self.counts = {
            "granted": 0,
            "refused_checkout": 0,
            "refused_browse": 0,
            "granted_checkout": 0,
            "granted_browse": 0,
        }

    async def acquire(self, *, look_ahead: bool = False) -> Slot:
        """Wait for budget as the current priority allows; ShieldRefused when it runs out.
        With `look_ahead` (an HTTP request of an operation that may send more), the grant for
        the operation's next request is asked for while this one is under way, so a request
        that follows finds its grant waiting instead of asking the shared store itself. A
        grant asked for ahead is a real grant (its token taken, its place in the concurrency
        cap held), so the backend still never sees more than its budget; one the operation
        does not use serves the first request of another operation of this process that
        comes within moments (see `_spare_for`), or is handed back, token and place. A read
        whose quota is still being decided waits for it (app.admission) first."""
        await admitted()
        level = current_priority()
        checkout = level == "checkout"
        state = current_operation()
        begun = state is not None and self.target in state.started
        if state is not None and begun:
            ahead = state.ahead.pop(self.target, None)
            if isinstance(ahead, _Ahead):
                grant = await ahead.grant()
                if grant is not None and grant.granted:
                    return self._granted(level, ahead.member, grant, state, look_ahead)
        # The next request of an operation already under way finishes it rather than waste
        # the budget its first requests spent; it waits for budget, never for a broken or
        # paused backend.
        mode = "checkout" if checkout else "continue" if begun else "browse"
        spare = self._spare_for(mode)
        if spare is not None:
            return self._granted(level, spare[0], spare[1], state, look_ahead)
        wait = (
            self.policy.checkout_wait if checkout else self.policy.browse_wait * (4 if begun else 1)
        )
        patience = current_patience()
        deadline = time.monotonic() + (wait if patience is None else min(wait, patience))
        member = uuid.uuid4().hex
        while True:
            grant = await self._acquire(mode, member, self._take_owed())
            if grant.granted:
                break
            left = deadline - time.monotonic()
            hopeless = mode == "continue" and grant.reason in ("open", "paused")
            if hopeless or grant.wait > left:
                self.counts[f"refused_{level}"] += 1
                raise ShieldRefused(
                    f"{self.backend} shield: {grant.reason}",
                    backend=self.backend,
                    vendor_code=f"shield:{grant.reason}",
                    retry_after=max(1.0, grant.wait),
                )
            await asyncio.sleep(grant.wait)
        return self._granted(level, member, grant, state, look_ahead)

    def _granted(
        self,
        level: str,
        member: str,
        grant: Grant,
        state: OperationState | None,
        look_ahead: bool,
    ) -> Slot:
        self.counts["granted"] += 1
        self.counts[f"granted_{level}"] += 1
        if state is not None:
            state.started.add(self.target)
            # Only where the store is shared (one round trip saved per request), and never
            # past a probe: while the breaker is deciding, one request at a time.
            if look_ahead and not grant.probe and self._store is not self._fallback:
                ahead = _Ahead(self, uuid.uuid4().hex)
                state.ahead[self.target] = ahead
        return Slot(self, member, grant.probe)

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """One call of an in-process adapter, metered as one request."""
        slot = await self.acquire()
        outcome, pause, error = "ok", 0.0, ""
        try:
            async with asyncio.timeout(self.policy.timeout):
                return await call()
        except TimeoutError:
            outcome, error = "fail", "TimeoutError"
            raise BackendUnavailable(
                f"{self.backend} did not answer within {self.policy.timeout} s",
                backend=self.backend,
            ) from None
        except BusinessRejection:
            outcome = "neutral"  # it answered: the backend is up
            raise
        except RetryableBackendError as failure:
            outcome, error = "fail", type(failure).__name__
            if isinstance(failure, BackendOverloaded) and failure.retry_after:
                pause = failure.retry_after  # the backend asked everyone to wait
            raise
        except BackendError:
            outcome = "neutral"
            raise
        finally:
            await slot.release(outcome, pause, error)

    async def state(self) -> dict[str, Any]:
        try:
            state = await self._store.state(self.target)
        except (RedisError, OSError):
            state = await self._fallback.state(self.target)
            state["degraded"] = True
        return {
            "target": self.target,
            "backend": self.backend,
            "policy": _policy(self.policy),
            **state,
            "counts": dict(self.counts),
        }

    async def _acquire(self, mode: str, member: str, returned: Returned) -> Grant:
        if time.monotonic() >= self._store_down_until:
            try:
                return await self._store.acquire(self.target, self.policy, mode, member, returned)
            except (RedisError, OSError) as error:
                self._store_down_until = time.monotonic() + 5.0
                log.warning(
                    "Redis unreachable; shielding %s in this process only",
                    self.backend,
                    extra={"error": str(error)},
                )
        return await self._fallback.acquire(self.target, self.policy, mode, member, returned)

    async def settle(self) -> None:
        """Wait for the slots being returned in the background (tests, shutdown)."""
        if self._owed_done or self._owed_unused or self._spares:
            self._pay_soon()
        while self._releasing:
            await asyncio.gather(*list(self._releasing), return_exceptions=True)

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        self._track(asyncio.get_running_loop().create_task(work))

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    async def _refund(self, member: str, probe: bool) -> None:
        await self._tell(lambda store: store.refund(self.target, self.policy, member, probe=probe))

    async def _tell(self, call: Callable[[ShieldStore], Awaitable[None]]) -> None:
        """Tell the shared store, or this process's own while the shared one is down (or if
        it fails now)."""
        store = self._store if time.monotonic() >= self._store_down_until else self._fallback
        try:
            await call(store)
        except (RedisError, OSError):
            await call(self._fallback)

    def _drop_spares(self) -> None:
        """Hand every spare grant back with what is owed."""
        self._owed_unused.extend(member for member, _ in self._spares)
        self._spares.clear()

    def _owe(self, *, done: str | None = None, unused: str | None = None) -> None:
        if done is not None:
            self._owed_done.append(done)
        if unused is not None:
            self._owed_unused.append(unused)
        self._pay_soon()

    def _keep_spare(self, member: str, grant: Grant) -> None:
        self._spares.append((member, grant))
        self._pay_soon()

    def _spare_for(self, mode: str) -> tuple[str, Grant] | None:
        """A grant asked ahead moments ago and not used, if it serves this request: it was
        asked as "continue", so it serves checkout and continuing requests, and browsing
        only if browsing would have been granted it too."""
        for index, (member, grant) in enumerate(self._spares):
            if mode != "browse" or grant.browse:
                del self._spares[index]
                return member, grant
        return None

    def _take_owed(self) -> Returned:
        if not (self._owed_done or self._owed_unused):
            return NOTHING
        returned = Returned(tuple(self._owed_done), tuple(self._owed_unused))
        self._owed_done.clear()
        self._owed_unused.clear()
        return returned

    def _pay_soon(self) -> None:
        """What is owed goes back on its own unless a call to the store that this turn of
        the event loop makes (the grant asked ahead for an operation's next request, most
        often) takes it along first."""
        if not self._paying:
            self._paying = True
            self._background(self._pay())

    async def _pay(self) -> None:
        await asyncio.sleep(RETURN_AFTER)
        self._paying = False
        self._drop_spares()
        returned = self._take_owed()
        if returned:
            await self._tell(lambda store: store.give_back(self.target, self.policy, returned))

    async def _release(
        self, member: str, outcome: str, probe: bool, pause: float, error: str = ""
    ) -> None:
        if (outcome == "fail" or pause) and self._spares:
            # The store may now refuse (a breaker, a pause): no spare grant slips past that.
            self._drop_spares()
            self._pay_soon()
        await self._tell(
            lambda store: store.release(
                self.target,
                self.policy,
                member,
                outcome=outcome,
                probe=probe,
                pause=pause,
                error=error,
            )
        )


def _policy(policy: ShieldPolicy) -> dict[str, Any]:
    return {field: getattr(policy, field) for field in policy.__struct_fields__}


class _Ahead:
    """The grant asked for an operation's next request, asked for at once in the background
    ("continue": it leaves checkout its token, as the request itself would)."""

    def __init__(self, shield: Shield, member: str) -> None:
        self.member = member
        self._shield = shield
        # Taken now, what is owed goes with it rather than in a call of its own.
        self._task = asyncio.get_running_loop().create_task(
            shield._acquire("continue", member, shield._take_owed())
        )
        shield._track(self._task)

    async def grant(self) -> Grant | None:
        try:
            return await self._task
        except Exception:  # noqa: BLE001 - the request asks again itself
            return None

    def abandon(self) -> None:
        """The operation ended without it: keep it for a moment as a spare (its token and
        its place go back unless another operation takes it), once the store has answered."""
        task = self._task
        if task.done() and not task.cancelled() and task.exception() is None:
            self._spare(task.result())
            return

        async def hand_back() -> None:
            self._spare(await self.grant())

        self._shield._background(hand_back())

    def _spare(self, grant: Grant | None) -> None:
        if grant is None or not grant.granted:
            return
        if grant.probe:  # the breaker's turn given up at once
            self._shield._background(self._shield._refund(self.member, grant.probe))
        else:
            self._shield._keep_spare(self.member, grant)


class ShieldRegistry:
    """One shield per backend configuration in this process, all sharing one store."""

    def __init__(self, store: ShieldStore | None) -> None:
        self._fallback = MemoryShieldStore()
        self._store = store or self._fallback
        self._shields: dict[str, Shield] = {}

    def shield(self, target: str, backend: str, policy: ShieldPolicy) -> Shield:
        current = self._shields.get(target)
        if current is None or current.policy != policy:
            current = Shield(target, backend, policy, self._store, self._fallback)
            self._shields[target] = current
        return current

    def known(self) -> list[Shield]:
        return list(self._shields.values())
