"""RFC 9068 JWT access tokens: issued by `TokenIssuer`, checked by `TokenVerifier`.

joserfc's `jwt.decode` checks only the signature; the claims registry checks `iss`, `aud`,
`exp`, `iat`, and we check the `typ` header ourselves. A verified token is remembered until it
expires, so a busy client pays for one RSA verification per token, not per request.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import msgspec
from joserfc import jwt
from joserfc.errors import JoseError

from app.auth.keys import ALGORITHM, SigningKeys
from app.auth.principal import Principal
from app.crypto import b64url_decode
from app.store.ids import new_id

TOKEN_TYPE = "at+jwt"  # noqa: S105 - the JWT typ header, not a secret


class InvalidToken(Exception):
    """The token is malformed, forged, expired or meant for someone else."""


class TokenIssuer:
    def __init__(self, keys: SigningKeys, issuer: str, audience: str, ttl: int) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self.ttl = ttl

    async def issue(self, client_id: str, tenant_id: str | None, scopes: list[str]) -> str:
        key = await self._keys.active_key()
        now = int(time.time())
        claims: dict[str, object] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": client_id,
            "client_id": client_id,
            "scope": " ".join(scopes),
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl,
            "jti": new_id("tok"),
        }
        if tenant_id is not None:
            claims["tenant"] = tenant_id
        header = {"alg": ALGORITHM, "kid": key.kid, "typ": TOKEN_TYPE}
        return jwt.encode(header, claims, key, algorithms=[ALGORITHM])


class TokenVerifier:
    def __init__(self, keys: SigningKeys, issuer: str, audience: str, cache_size: int) -> None:
        self._keys = keys
        self._registry = jwt.JWTClaimsRegistry(
            leeway=30,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            iat={"essential": True},
            sub={"essential": True},
            jti={"essential": True},
        )
        self._cache: OrderedDict[str, Principal] = OrderedDict()
        self._cache_size = cache_size

    async def verify(self, token: str) -> Principal:
        cached = self._cache.get(token)
        now = time.time()
        if cached is not None:
            if cached.expires_at > now:
                return cached
            del self._cache[token]
        principal = await self._verify(token)
        if principal.expires_at <= now:
            raise InvalidToken("token expired")
        self._cache[token] = principal
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> Principal:
        if token.count(".") != 2 or len(token) > 8192:
            raise InvalidToken("not a JWT")
        kid = _peek_kid(token)
        if kid is not None and not self._keys.knows(kid):
            # Another replica may have rotated keys since we loaded them.
            await self._keys.refresh_if_stale(min_interval=1.0)
        try:
            decoded = jwt.decode(token, self._keys.public_keys, algorithms=[ALGORITHM])
            if decoded.header.get("typ") != TOKEN_TYPE:
                raise InvalidToken("wrong token type")
            self._registry.validate(decoded.claims)
        except JoseError as error:
            raise InvalidToken(error.error) from error
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidToken("malformed token") from error
        claims = decoded.claims
        scope = claims.get("scope", "")
        tenant = claims.get("tenant")
        if not isinstance(scope, str) or (tenant is not None and not isinstance(tenant, str)):
            raise InvalidToken("malformed claims")
        return Principal(
            client_id=str(claims.get("client_id") or claims["sub"]),
            tenant_id=tenant,
            scopes=frozenset(scope.split()),
            token_id=str(claims["jti"]),
            expires_at=int(claims["exp"]),
        )


def _peek_kid(token: str) -> str | None:
    """The `kid` of a token's header, read without verifying anything."""
    try:
        header = msgspec.json.decode(b64url_decode(token.split(".", 1)[0]))
    except (ValueError, msgspec.DecodeError):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None
