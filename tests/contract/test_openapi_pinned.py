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
        if method == "head":  # the same answers as the GET, without a body
            continue
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


# --- API.md's conventions, in the pinned document -------------------------------------------
# Each of these fails when the served spec loses a header or status API.md names (the pin and
# the served document are the same, see the first test).

PUBLIC_PREFIXES = ("/oauth/", "/.well-known/", "/health/")
CACHED_READS = {"listProducts", "getProduct", "listCustomers", "getCustomer", "listInventoryLevels"}
CREATES = {"createOrder": "202", "createReservation": "201", "createCustomer": "201"}
KEY_REQUIRED = {"createOrder": True, "createReservation": True, "createCustomer": False}


def _spec() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(PINNED.read_text())
    return spec


def _resolve(spec: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in item:
        node: Any = spec
        for part in item["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        item = node
    return item


def _header(spec: dict[str, Any], response: dict[str, Any], name: str) -> dict[str, Any] | None:
    found = response.get("headers", {}).get(name)
    return _resolve(spec, found) if found is not None else None


def _required_header(spec: dict[str, Any], response: dict[str, Any], name: str) -> bool:
    header = _header(spec, response, name)
    return bool(header and header.get("required"))


def _parameters(spec: dict[str, Any], operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    resolved = [_resolve(spec, p) for p in operation.get("parameters", [])]
    return {p["name"]: p for p in resolved if p["in"] == "header"}


def _v1_reads(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [op for op in _operations(spec) if op[0].startswith("/v1/") and op[1] in ("get", "head")]


def test_the_pinned_spec_is_a_valid_openapi_3_1_document() -> None:
    from openapi_spec_validator import OpenAPIV31SpecValidator

    spec = _spec()
    assert spec["openapi"].startswith("3.1")
    errors = [f"{list(e.path)}: {e.message}" for e in OpenAPIV31SpecValidator(spec).iter_errors()]
    assert not errors, errors[:5]


def test_every_operation_takes_and_every_response_carries_a_correlation_id() -> None:
    spec = _spec()
    for path, method, operation in _operations(spec):
        assert "X-Correlation-ID" in _parameters(spec, operation), (method, path)
        assert not _parameters(spec, operation)["X-Correlation-ID"]["required"]
        for status, response in operation["responses"].items():
            assert _required_header(spec, response, "X-Correlation-ID"), (method, path, status)


def test_every_v1_read_has_etag_if_none_match_and_304() -> None:
    spec = _spec()
    reads = _v1_reads(spec)
    assert len(reads) >= 2 * 9
    for path, method, operation in reads:
        assert "If-None-Match" in _parameters(spec, operation), (method, path)
        responses = operation["responses"]
        for status in ("200", "304"):
            assert _required_header(spec, responses[status], "ETag"), (method, path, status)
            assert _required_header(spec, responses[status], "Cache-Control"), (method, path)
        assert "content" not in responses["304"]
        cached = operation["operationId"].removeprefix("head")
        cached = cached[0].lower() + cached[1:]
        if cached in CACHED_READS:
            for status in ("200", "304"):
                assert _required_header(spec, responses[status], "Cache-Status"), (path, status)


def test_every_get_has_a_head_with_the_same_answers_and_no_body() -> None:
    spec = _spec()
    for path, item in spec["paths"].items():
        if "get" not in item:
            continue
        head = item.get("head")
        assert head is not None, path
        assert set(head["responses"]) == set(item["get"]["responses"]), path
        assert all("content" not in r for r in head["responses"].values()), path
        for status, response in head["responses"].items():
            assert response.get("headers") == item["get"]["responses"][status].get("headers")


def test_creates_document_location_and_idempotency() -> None:
    spec = _spec()
    by_id = {op["operationId"]: op for _, _, op in _operations(spec)}
    for operation_id, status in CREATES.items():
        operation = by_id[operation_id]
        success = operation["responses"][status]
        assert _required_header(spec, success, "Location"), operation_id
        assert _header(spec, success, "Idempotent-Replayed") is not None, operation_id
        key = _parameters(spec, operation)["Idempotency-Key"]
        assert key["required"] is KEY_REQUIRED[operation_id], operation_id
        assert key["schema"]["maxLength"] == 255
        for problem in ("400", "409", "422"):
            assert problem in operation["responses"], (operation_id, problem)


def test_every_authenticated_v1_response_documents_the_quota_headers() -> None:
    spec = _spec()
    for path, method, operation in _operations(spec):
        if not path.startswith("/v1/"):
            continue
        assert "429" in operation["responses"], (method, path)
        for status, response in operation["responses"].items():
            if status == "401":  # no token, nothing counted
                continue
            for name in ("RateLimit-Policy", "RateLimit"):
                assert _header(spec, response, name) is not None, (method, path, status, name)
    token = spec["paths"]["/oauth/token"]["post"]["responses"]
    for status in ("200", "429"):
        assert _header(spec, token[status], "RateLimit") is not None, status


def test_retry_after_on_429_and_503_and_www_authenticate_on_401() -> None:
    spec = _spec()
    for path, method, operation in _operations(spec):
        responses = operation["responses"]
        for status in ("429", "503"):
            if status in responses:
                assert _required_header(spec, responses[status], "Retry-After"), (path, status)
        if "401" in responses:
            assert _required_header(spec, responses["401"], "WWW-Authenticate"), (method, path)


def test_protected_routes_document_their_problems_and_json_writes_413_and_415() -> None:
    spec = _spec()
    for path, method, operation in _operations(spec):
        responses = operation["responses"]
        if path.startswith(("/v1/", "/admin/")):
            for status in ("400", "401", "403", "503"):
                assert status in responses, (method, path, status)
        body = operation.get("requestBody", {}).get("content", {})
        if "application/json" in body:
            for status in ("400", "413", "415"):
                assert status in responses, (method, path, status)


def test_security_is_bearer_with_the_routes_scope_except_on_public_routes() -> None:
    from app.auth.principal import KNOWN_SCOPES

    spec = _spec()
    for path, method, operation in _operations(spec):
        if path.startswith(PUBLIC_PREFIXES):
            assert operation["security"] == [], (method, path)
            continue
        [requirement] = operation["security"]
        [scope] = requirement["oauth2"]
        assert scope in KNOWN_SCOPES, (method, path)
        if path.startswith("/admin/"):
            assert scope == "admin", (method, path)
    assert spec["paths"]["/v1/orders"]["post"]["security"] == [{"oauth2": ["orders:write"]}]


def test_cancel_documents_200_now_and_202_through_the_backend() -> None:
    responses = _spec()["paths"]["/v1/orders/{order_id}/cancel"]["post"]["responses"]
    for status in ("200", "202"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Order"}, status
    assert "409" in responses


def test_readiness_documents_503_and_the_backends_health() -> None:
    spec = _spec()
    responses = spec["paths"]["/health/ready"]["get"]["responses"]
    assert _required_header(spec, responses["503"], "Retry-After")
    schema = responses["503"]["content"]["application/json"]["schema"]
    assert schema == responses["200"]["content"]["application/json"]["schema"]
    health = spec["components"]["schemas"]["HealthStatus"]["properties"]
    assert {"status", "checks", "backend_health"} <= set(health)
    backend = spec["components"]["schemas"]["BackendHealth"]["properties"]
    assert {"status", "breaker", "last_success_at", "last_failure_at", "last_failure"} <= set(
        backend
    )


def test_the_token_endpoint_documents_its_form_and_rfc_6749_errors() -> None:
    spec = _spec()
    operation = spec["paths"]["/oauth/token"]["post"]
    form = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert {"grant_type", "scope", "client_id", "client_secret"} <= set(form["properties"])
    assert form["required"] == ["grant_type"]
    assert form["properties"]["grant_type"]["enum"] == ["client_credentials"]
    assert "Basic" in operation["description"]
    responses = operation["responses"]
    ok = responses["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/TokenResponse"}
    for status in ("400", "401", "413", "429"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/OAuthError"}, status
    assert _required_header(spec, responses["401"], "WWW-Authenticate")
    assert _required_header(spec, responses["429"], "Retry-After")
    token = spec["components"]["schemas"]["TokenResponse"]["properties"]
    assert {"access_token", "token_type", "expires_in", "scope"} <= set(token)
