"""Request bodies that the tests vary from: a valid order and a valid customer."""

from __future__ import annotations

import uuid
from typing import Any

# SKUs of the demo data set (adapters/_demo), present in every backend seeded from it.
SKU_A = "TEE-1001-GRY-S"
SKU_B = "HOD-1002-BRG-M"


def address(**overrides: Any) -> dict[str, Any]:
    base = {
        "first_name": "Ana",
        "last_name": "Smit",
        "line1": "Damstraat 1",
        "city": "Amsterdam",
        "postal_code": "1012 AB",
        "country": "NL",
    }
    return {**base, **overrides}


def order(**overrides: Any) -> dict[str, Any]:
    unique = uuid.uuid4().hex[:10]
    base = {
        "channel": "web",
        "external_reference": f"WEB-{unique}",
        "customer": {
            "email": f"shopper-{unique}@example.com",
            "first_name": "Ana",
            "last_name": "Smit",
        },
        "lines": [
            {"sku": SKU_A, "quantity": 2, "unit_price": {"amount": "16.00", "currency": "EUR"}},
        ],
        "shipping_address": address(),
        "placed_at": "2026-11-28T10:00:00Z",
    }
    return {**base, **overrides}


def customer(**overrides: Any) -> dict[str, Any]:
    unique = uuid.uuid4().hex[:10]
    base = {"email": f"new-{unique}@example.com", "first_name": "Daan", "last_name": "Visser"}
    return {**base, **overrides}


def idem() -> str:
    return uuid.uuid4().hex
