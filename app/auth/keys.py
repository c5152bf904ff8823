"""Token signing keys, kept in the database so every replica and restart signs and verifies
with the same keys. Private halves are encrypted with the master key.

Rotation: a new key becomes active; the old one is retired but stays in the JWKS until the
tokens it signed have expired.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import msgspec
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select

from app.crypto import SecretBox
from app.store.database import Database
from app.store.ids import new_id
from app.store.models import SigningKey
from app.store.types import utcnow

ALGORITHM = "RS256"
_PURPOSE = "signing-key"


class SigningKeys:
    """The active signing key and the public key set, cached and refreshed from the database
    when an unknown `kid` shows up (another replica rotated)."""

    def __init__(self, db: Database, box: SecretBox, token_ttl: int) -> None:
        self._db = db
        self._box = box
        self._token_ttl = token_ttl
        self._active: RSAKey | None = None
        self._public = KeySet([])
        self._jwks: dict[str, object] = {"keys": []}
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def public_keys(self) -> KeySet:
        return self._public

    @property
    def jwks(self) -> dict[str, object]:
        return self._jwks

    async def active_key(self) -> RSAKey:
        if self._active is None:
            await self.load(create_if_missing=True)
        assert self._active is not None
        return self._active

    def knows(self, kid: str) -> bool:
        return any(key.kid == kid for key in self._public.keys)

    async def refresh_if_stale(self, min_interval: float = 5.0) -> None:
        if time.monotonic() - self._loaded_at >= min_interval:
            await self.load()

    async def load(self, *, create_if_missing: bool = False) -> None:
        async with self._lock:
            async with self._db.session() as session:
                rows = list((await session.scalars(select(SigningKey))).all())
            active = [row for row in rows if row.status == "active"]
            if not active and create_if_missing:
                await self._create()
                async with self._db.session() as session:
                    rows = list((await session.scalars(select(SigningKey))).all())
                active = [row for row in rows if row.status == "active"]
            cutoff = utcnow() - timedelta(seconds=self._token_ttl + 300)
            published = [
                row for row in rows if row.status == "active" or (row.retired_at or cutoff) > cutoff
            ]
            self._public = KeySet([RSAKey.import_key(row.public_jwk) for row in published])
            self._jwks = {"keys": [row.public_jwk for row in published]}
            if active:
                newest = max(active, key=lambda row: row.created_at)
                private = self._box.decrypt(newest.private_jwk_encrypted, _PURPOSE)
                self._active = RSAKey.import_key(msgspec.json.decode(private))
            self._loaded_at = time.monotonic()

    async def _create(self) -> None:
        kid = new_id("key")
        key = RSAKey.generate_key(2048, parameters={"kid": kid, "alg": ALGORITHM, "use": "sig"})
        private_json = msgspec.json.encode(key.as_dict(private=True)).decode()
        async with self._db.session(write=True) as session:
            session.add(
                SigningKey(
                    kid=kid,
                    alg=ALGORITHM,
                    public_jwk=key.as_dict(private=False),
                    private_jwk_encrypted=self._box.encrypt(private_json.encode(), _PURPOSE),
                    status="active",
                )
            )

    async def rotate(self) -> str:
        """Retire the active keys and make a new one; returns the new `kid`."""
        async with self._db.session(write=True) as session:
            for row in (
                await session.scalars(select(SigningKey).where(SigningKey.status == "active"))
            ).all():
                row.status = "retired"
                row.retired_at = utcnow()
        await self._create()
        await self.load()
        assert self._active is not None
        return str(self._active.kid)
