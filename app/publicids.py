"""Our ids for records the backend owns. A product's id encodes its style code and a
customer's id its customer number, so ids survive a move to another ERP that carries the same
business keys, and no backend id ever leaks as ours."""

from __future__ import annotations

import binascii

from app.crypto import b64url_decode, b64url_encode

PRODUCT = "prd"
CUSTOMER = "cus"


def public_id(prefix: str, key: str) -> str:
    return f"{prefix}_{b64url_encode(key.encode())}"


def key_of(prefix: str, value: str) -> str | None:
    """The business key inside one of our ids, or None when it is not one."""
    head, sep, tail = value.partition("_")
    if head != prefix or not sep or not tail or len(tail) > 700:
        return None
    try:
        raw = b64url_decode(tail)
        key = raw.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    # Only the canonical spelling is an id: no two strings name the same record.
    return key if b64url_encode(raw) == tail else None
