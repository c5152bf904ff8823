"""A read's quota decided while the read begins (app.admission): what costs something waits
for the verdict, and a refused read leaves a key it was loading to the next reader."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from app.admission import NotAdmitted, Verdict, admitted, decided_by, undecided
from app.cache.reads import CachedReads
from app.cache.stores import MemoryCacheStore


@dataclass(frozen=True)
class _Decision:
    allowed: bool


async def _under(verdict: asyncio.Future[Verdict]) -> None:
    token = decided_by(verdict)
    try:
        await admitted()
    finally:
        undecided(token)


async def test_work_waits_for_the_verdict_and_a_refusal_stops_it() -> None:
    await admitted()  # nothing to decide: goes on at once
    allowed: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
    waiting = asyncio.create_task(_under(allowed))
    await asyncio.sleep(0.01)
    assert not waiting.done()  # held until the quota answers
    allowed.set_result(_Decision(allowed=True))
    await waiting
    refused: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
    refused.set_result(_Decision(allowed=False))
    with pytest.raises(NotAdmitted):
        await _under(refused)


async def test_a_read_refused_by_its_quota_leaves_the_key_to_the_next_reader() -> None:
    reads = CachedReads(MemoryCacheStore())
    loading = asyncio.Event()
    loads: list[str] = []

    async def load() -> dict[str, str]:
        loading.set()
        await admitted()  # as the backend call does
        loads.append("loaded")
        return {"sku": "A-1"}

    verdict: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()

    async def refused_read() -> object:
        token = decided_by(verdict)
        try:
            return await reads.read("t", "catalog", "t:catalog:k", load, lambda _: ["sku:A-1"])
        finally:
            undecided(token)

    first = asyncio.create_task(refused_read())
    await loading.wait()  # the first holds the key, waiting for its verdict
    second = asyncio.create_task(
        reads.read("t", "catalog", "t:catalog:k", load, lambda _: ["sku:A-1"])
    )
    for _ in range(5):
        await asyncio.sleep(0)  # the second now waits for the first's answer
    verdict.set_result(_Decision(allowed=False))
    with pytest.raises(NotAdmitted):
        await first
    cached = await second  # not the first's refusal: loaded for itself
    assert cached.body == b'{"sku":"A-1"}'
    assert cached.cache_status.endswith("fwd=miss")
    assert loads == ["loaded"]
