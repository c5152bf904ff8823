"""The served OpenAPI document is the pinned one in `openapi/v1.json`, to the byte of its
JSON content. A change to the API shows up here; the pin is then updated on purpose
(`gateway openapi > openapi/v1.json`) and reviewed as an additive change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.gateway import Gateway

PINNED = Path(__file__).resolve().parents[2] / "openapi" / "v1.json"
METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


async def test_served_spec_is_the_pinned_spec(gateway: Gateway) -> None:
    response = await gateway.http.get("/openapi/openapi.json")
    assert response.status_code == 200
    served = response.json()
    pinned = json.loads(PINNED.read_text())
    assert served == pinned, (
        "the served OpenAPI differs from openapi/v1.json; if the change is intended and "
        "additive, re-pin with `.venv/bin/gateway openapi > openapi/v1.json`"
    )


def test_every_operation_has_a_stable_unique_operation_id() -> None:
    spec = json.loads(PINNED.read_text())
    ids = [operation.get("operationId") for _, _, operation in _operations(spec)]
    assert all(ids), "every route needs an explicit operation_id"
    assert len(ids) == len(set(ids))


def test_every_v1_operation_documents_its_problems_and_security() -> None:
    spec = json.loads(PINNED.read_text())
    for path, method, operation in _operations(spec):
        if not path.startswith(("/v1/", "/admin/")):
            continue
        assert "401" in operation["responses"], (method, path)
        assert "403" in operation["responses"], (method, path)
        problem = operation["responses"]["401"]["content"]["application/problem+json"]
        assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_the_product_contract_fields_are_in_the_spec() -> None:
    """The fields API.md names are present (new fields may be added, none removed)."""
    schemas = json.loads(PINNED.read_text())["components"]["schemas"]
    required = {
        "Product": {
            "id",
            "title",
            "description",
            "brand",
            "status",
            "attributes",
            "variants",
            "external_ids",
            "updated_at",
        },
        "Variant": {
            "sku",
            "barcode",
            "options",
            "price",
            "compare_at_price",
            "weight",
            "external_ids",
        },
        "Money": {"amount", "currency"},
        "InventoryLevel": {
            "sku",
            "location_id",
            "on_hand",
            "reserved",
            "available",
            "incoming",
            "safety_stock",
            "updated_at",
            "source",
            "as_of",
        },
        "Address": {
            "first_name",
            "last_name",
            "company",
            "line1",
            "line2",
            "city",
            "region",
            "postal_code",
            "country",
            "phone",
        },
        "OrderEvent": {
            "id",
            "order_id",
            "type",
            "status",
            "previous_status",
            "cause",
            "correlation_id",
            "backend_reference",
            "detail",
            "occurred_at",
        },
        "Customer": {
            "id",
            "email",
            "first_name",
            "last_name",
            "phone",
            "addresses",
            "marketing_consent",
            "external_ids",
            "created_at",
            "updated_at",
        },
        "Problem": {"type", "title", "status", "detail", "errors", "correlation_id"},
        "OrderCreate": {
            "channel",
            "external_reference",
            "customer",
            "lines",
            "shipping_address",
            "billing_address",
            "totals",
            "reservation_id",
            "placed_at",
        },
    }
    for name, fields in required.items():
        assert fields <= set(schemas[name]["properties"]), (
            name,
            fields - set(schemas[name]["properties"]),
        )
