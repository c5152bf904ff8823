"""`app.crypto`: secrets at rest (AES-GCM with a purpose label) and client secret hashes."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from hypothesis import given
from hypothesis import strategies as st

from app.crypto import (
    SecretBox,
    b64url_decode,
    b64url_encode,
    hash_client_secret,
    load_or_create_master_key,
    new_client_secret,
    verify_client_secret,
)


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(os.urandom(32))


def test_encrypt_decrypt_round_trip(box: SecretBox) -> None:
    token = box.encrypt(b"odoo-api-key", "binding:acme:orders")
    assert token.startswith("v1:")
    assert b"odoo-api-key" not in token.encode()
    assert box.decrypt(token, "binding:acme:orders") == b"odoo-api-key"


@given(st.binary(max_size=300), st.text(max_size=30))
def test_round_trip_property(plaintext: bytes, purpose: str) -> None:
    box = SecretBox(b"m" * 32)
    assert box.decrypt(box.encrypt(plaintext, purpose), purpose) == plaintext


def test_each_encryption_is_fresh(box: SecretBox) -> None:
    assert box.encrypt(b"same", "p") != box.encrypt(b"same", "p")


def test_the_wrong_purpose_fails(box: SecretBox) -> None:
    token = box.encrypt(b"secret", "binding:acme")
    with pytest.raises(InvalidTag):
        box.decrypt(token, "binding:globex")


def test_another_master_key_fails(box: SecretBox) -> None:
    token = box.encrypt(b"secret", "p")
    with pytest.raises(InvalidTag):
        SecretBox(os.urandom(32)).decrypt(token, "p")


def test_a_tampered_ciphertext_fails(box: SecretBox) -> None:
    token = box.encrypt(b"secret", "p")
    raw = bytearray(b64url_decode(token[3:]))
    raw[-1] ^= 0x01
    with pytest.raises(InvalidTag):
        box.decrypt("v1:" + b64url_encode(bytes(raw)), "p")


def test_an_unknown_format_fails(box: SecretBox) -> None:
    with pytest.raises(ValueError, match="unknown secret format"):
        box.decrypt("plain-text", "p")


def test_mac_is_deterministic_and_bound_to_key_and_purpose() -> None:
    a, b = SecretBox(b"a" * 32), SecretBox(b"b" * 32)
    assert a.mac(b"data", "cursor") == a.mac(b"data", "cursor")
    assert len(a.mac(b"data", "cursor")) == 32
    assert a.mac(b"data", "cursor") != a.mac(b"data", "webhook")
    assert a.mac(b"data", "cursor") != a.mac(b"datb", "cursor")
    assert a.mac(b"data", "cursor") != b.mac(b"data", "cursor")


def test_client_secret_hash_verifies_and_rejects() -> None:
    secret = new_client_secret()
    stored = hash_client_secret(secret)
    assert secret not in stored
    assert stored.startswith("sha256$")
    assert verify_client_secret(secret, stored)
    assert not verify_client_secret(secret + "x", stored)
    assert not verify_client_secret(secret[:-1], stored)
    assert not verify_client_secret("", stored)


def test_hashes_are_salted() -> None:
    secret = new_client_secret()
    first, second = hash_client_secret(secret), hash_client_secret(secret)
    assert first != second
    assert verify_client_secret(secret, first)
    assert verify_client_secret(secret, second)


@pytest.mark.parametrize("stored", ["", "nonsense", "sha256$onlysalt", "md5$salt$digest", "$$"])
def test_malformed_stored_hashes_never_verify(stored: str) -> None:
    assert not verify_client_secret("anything", stored)


def test_another_clients_hash_does_not_verify() -> None:
    assert not verify_client_secret(new_client_secret(), hash_client_secret(new_client_secret()))


def test_new_client_secrets_are_long_and_random() -> None:
    secrets = {new_client_secret() for _ in range(20)}
    assert len(secrets) == 20
    assert all(len(s) >= 43 for s in secrets)


def test_a_configured_master_key_is_used_and_checked() -> None:
    raw = os.urandom(32)
    configured = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    # A configured key never touches the var directory: pass one that does not exist.
    missing = Path("/nonexistent/retail-gateway-test/var")
    assert load_or_create_master_key(configured, missing) == raw
    assert not missing.exists()
    short = base64.urlsafe_b64encode(os.urandom(16)).decode()
    with pytest.raises(ValueError, match="32 bytes"):
        load_or_create_master_key(short, missing)


@given(st.binary(max_size=100))
def test_b64url_round_trip(raw: bytes) -> None:
    text = b64url_encode(raw)
    assert not set(text) & set("=+/")
    assert b64url_decode(text) == raw
