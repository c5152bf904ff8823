"""Secrets at rest: AES-256-GCM under the master key, and salted hashes for client secrets.

The master key comes from `GATEWAY_SECRET_KEY` (production: every replica shares it) or, on
the embedded tier, from `var/secret.key`, created on first start with mode 0600.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PREFIX = "v1:"


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_or_create_master_key(configured: str | None, var_dir: Path) -> bytes:
    if configured:
        raw = _b64d(configured)
        if len(raw) != 32:
            msg = "GATEWAY_SECRET_KEY must be 32 bytes, base64url-encoded"
            raise ValueError(msg)
        return raw
    path = var_dir / "secret.key"
    if path.exists():
        return _b64d(path.read_text().strip())
    var_dir.mkdir(parents=True, exist_ok=True)
    raw = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(_b64e(raw) + "\n")
    return raw


class SecretBox:
    """Encrypts small secrets; a purpose label binds each ciphertext to its use."""

    def __init__(self, master_key: bytes) -> None:
        self._aead = AESGCM(hashlib.sha256(b"retail-gateway/secretbox/" + master_key).digest())
        self._mac_key = hashlib.sha256(b"retail-gateway/mac/" + master_key).digest()

    def encrypt(self, plaintext: bytes, purpose: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext, purpose.encode())
        return _PREFIX + _b64e(nonce + sealed)

    def decrypt(self, token: str, purpose: str) -> bytes:
        if not token.startswith(_PREFIX):
            msg = "unknown secret format"
            raise ValueError(msg)
        raw = _b64d(token[len(_PREFIX) :])
        return self._aead.decrypt(raw[:12], raw[12:], purpose.encode())

    def mac(self, data: bytes, purpose: str) -> bytes:
        return hmac.new(self._mac_key, purpose.encode() + b"\0" + data, hashlib.sha256).digest()


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_client_secret(secret: str) -> str:
    # Client secrets are 256-bit random strings, so a salted SHA-256 is as strong as a slow
    # KDF here and keeps the token endpoint cheap.
    salt = secrets.token_hex(16)
    digest = hashlib.sha256((salt + secret).encode()).hexdigest()
    return f"sha256${salt}${digest}"


def verify_client_secret(secret: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$", 2)
    except ValueError:
        return False
    if scheme != "sha256":
        return False
    candidate = hashlib.sha256((salt + secret).encode()).hexdigest()
    return hmac.compare_digest(candidate, digest)


def b64url_encode(raw: bytes) -> str:
    return _b64e(raw)


def b64url_decode(text: str) -> bytes:
    return _b64d(text)
