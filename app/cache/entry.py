"""A cached response and the freshness rules per domain."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import msgspec


class CacheEntry(msgspec.Struct, array_like=True, frozen=True):
    """The encoded response body (served as is: a hit re-encodes nothing) and its timings,
    all as UNIX seconds."""

    body: bytes
    etag: str
    stored_at: float
    fresh_until: float
    stale_until: float
    error_until: float
    tags: tuple[str, ...]

    def fresh(self, now: float) -> bool:
        return now < self.fresh_until

    def age_left(self, now: float) -> int:
        """Freshness left, negative once stale (Cache-Status `ttl`)."""
        left = self.fresh_until - now
        return int(left) if left >= 0 else -max(1, int(-left))


@dataclass(frozen=True, slots=True)
class Freshness:
    """`fresh` seconds fresh; then served stale for `stale_while_revalidate` seconds while a
    refresh runs, and for `stale_if_error` seconds while the backend fails."""

    fresh: float
    stale_while_revalidate: float
    stale_if_error: float


DEFAULT_FRESHNESS = {
    "catalog": Freshness(fresh=300, stale_while_revalidate=300, stale_if_error=86_400),
    "customers": Freshness(fresh=60, stale_while_revalidate=60, stale_if_error=3_600),
    # Stock moves: short freshness, and a stale level is only shown briefly unless the
    # backend is down (then the last known level beats no answer).
    "inventory": Freshness(fresh=5, stale_while_revalidate=5, stale_if_error=900),
}


def etag_of(body: bytes) -> str:
    """A strong validator for a response body."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def freshness_from(overrides: dict[str, list[float]] | None) -> dict[str, Freshness]:
    table = dict(DEFAULT_FRESHNESS)
    for domain, values in (overrides or {}).items():
        table[domain] = Freshness(*values)
    return table


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(CacheEntry)


def pack(entry: CacheEntry) -> bytes:
    return _encoder.encode(entry)


def unpack(raw: bytes) -> CacheEntry | None:
    try:
        return _decoder.decode(raw)
    except msgspec.DecodeError:
        return None
