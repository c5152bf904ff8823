"""Customers through the API: lists with paging and filters, reads, creates written through to
the backend (with and without an Idempotency-Key), and merge-patch updates."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest

from adapters._demo import demo_dataset
from app.publicids import CUSTOMER, public_id
from tests.support import payloads
from tests.support.gateway import Gateway

CLIENT = "acme-client"
DATASET = demo_dataset()
PROBLEM_JSON = "application/problem+json"


async def headers(gateway: Gateway, **extra: str) -> dict[str, str]:
    return await gateway.headers(CLIENT, **extra)


async def get(gateway: Gateway, path: str, params: Any = None, **extra: str) -> Any:
    return await gateway.http.get(path, params=params, headers=await headers(gateway, **extra))


async def create(gateway: Gateway, body: dict[str, Any], **extra: str) -> Any:
    return await gateway.http.post(
        "/v1/customers", json=body, headers=await headers(gateway, **extra)
    )


async def patch(gateway: Gateway, customer_id: str, body: Any) -> Any:
    return await gateway.http.patch(
        f"/v1/customers/{customer_id}", json=body, headers=await headers(gateway)
    )


async def by_email(gateway: Gateway, email: str) -> list[dict[str, Any]]:
    response = await get(gateway, "/v1/customers", {"email": email})
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["correlation_id"]
    return body


def timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def unique_email(tag: str = "c") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.com"


# -- reads ---------------------------------------------------------------------------------


async def test_list_customers_with_paging(gateway: Gateway) -> None:
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        response = await get(gateway, "/v1/customers", params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["data"]) <= 7
        seen.extend(c["id"] for c in page["data"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    seeded = {public_id(CUSTOMER, c.code) for c in DATASET.customers}
    assert seeded <= set(seen)
    assert pages >= 8  # 50 seeded customers, 7 a page


async def test_the_default_page_size_is_50(gateway: Gateway) -> None:
    page = (await get(gateway, "/v1/customers")).json()
    assert len(page["data"]) == 50


async def test_a_seeded_customer(gateway: Gateway) -> None:
    demo = DATASET.customers[4]
    response = await get(gateway, f"/v1/customers/{public_id(CUSTOMER, demo.code)}")
    assert response.status_code == 200, response.text
    assert "etag" in response.headers
    customer = response.json()
    assert customer["id"] == public_id(CUSTOMER, demo.code)
    assert customer["id"].startswith("cus_")
    assert customer["email"] == demo.email
    assert customer["first_name"] == demo.first_name
    assert customer["last_name"] == demo.last_name
    assert customer["phone"] == demo.phone
    assert customer["marketing_consent"] is demo.marketing_consent
    assert set(customer["external_ids"]) == {"sandbox"}
    assert customer["addresses"][0]["country"] == demo.addresses[0].country
    assert customer["addresses"][0]["line1"] == demo.addresses[0].line1
    assert timestamp(customer["created_at"]) == demo.created_at
    assert timestamp(customer["updated_at"]).tzinfo is not None


async def test_email_filter_is_case_insensitive(gateway: Gateway) -> None:
    demo = DATASET.customers[7]
    for spelling in (demo.email, demo.email.upper(), demo.email.title()):
        found = await by_email(gateway, spelling)
        assert [c["id"] for c in found] == [public_id(CUSTOMER, demo.code)], spelling


async def test_email_filter_finds_nothing_for_an_unknown_address(gateway: Gateway) -> None:
    assert await by_email(gateway, unique_email("nobody")) == []


async def test_phone_filter(gateway: Gateway) -> None:
    demo = DATASET.customers[11]
    assert demo.phone
    found = (await get(gateway, "/v1/customers", {"phone": demo.phone})).json()["data"]
    assert public_id(CUSTOMER, demo.code) in {c["id"] for c in found}
    assert all(c["phone"] == demo.phone for c in found)


async def test_updated_since_filter(gateway: Gateway) -> None:
    customer = await created(gateway)
    since = customer["updated_at"]
    found = await all_customer_ids(gateway, {"updated_since": since})
    assert customer["id"] in found
    assert public_id(CUSTOMER, DATASET.customers[0].code) not in found  # seeded long ago
    future = (await get(gateway, "/v1/customers", {"updated_since": "2100-01-01T00:00:00Z"})).json()
    assert future == {"data": [], "next_cursor": None}


async def all_customer_ids(gateway: Gateway, params: dict[str, Any]) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        query = {**params, "limit": 200}
        if cursor:
            query["cursor"] = cursor
        page = (await get(gateway, "/v1/customers", query)).json()
        ids.extend(c["id"] for c in page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


async def test_a_cursor_with_another_email_filter_is_refused(gateway: Gateway) -> None:
    page = (await get(gateway, "/v1/customers", {"limit": 1})).json()
    response = await get(
        gateway,
        "/v1/customers",
        {"cursor": page["next_cursor"], "email": DATASET.customers[0].email},
    )
    assert_problem(response, 400)


async def test_an_unknown_customer_is_a_404(gateway: Gateway) -> None:
    assert_problem(await get(gateway, f"/v1/customers/{public_id(CUSTOMER, 'C99999')}"), 404)


@pytest.mark.parametrize(
    "customer_id", ["nonsense", "cus_", "cus_!!", "prd_VEVFLTEwMDE", "C00001", "1"]
)
async def test_a_malformed_customer_id_is_a_404(gateway: Gateway, customer_id: str) -> None:
    assert_problem(await get(gateway, f"/v1/customers/{customer_id}"), 404)


# -- create --------------------------------------------------------------------------------


async def test_customer_reads_answer_304_to_a_matching_etag(gateway: Gateway) -> None:
    path = f"/v1/customers/{public_id(CUSTOMER, DATASET.customers[5].code)}"
    first = await get(gateway, path)
    response = await get(gateway, path, **{"If-None-Match": first.headers["etag"]})
    assert response.status_code == 304
    assert response.content == b""


async def test_a_patch_changes_the_etag(gateway: Gateway) -> None:
    customer = await created(gateway)
    path = f"/v1/customers/{customer['id']}"
    etag = (await get(gateway, path)).headers["etag"]
    assert (await patch(gateway, customer["id"], {"last_name": "Mulder"})).status_code == 200
    response = await get(gateway, path, **{"If-None-Match": etag})
    assert response.status_code == 200
    assert response.json()["last_name"] == "Mulder"


async def test_create_answers_201_with_location_and_the_customer_is_readable(
    gateway: Gateway,
) -> None:
    body = payloads.customer(
        phone="+31 20 555 0100", marketing_consent=True, addresses=[payloads.address()]
    )
    response = await create(gateway, body)
    assert response.status_code == 201, response.text
    customer = response.json()
    assert customer["id"].startswith("cus_")
    assert response.headers["location"] == f"/v1/customers/{customer['id']}"
    assert customer["email"] == body["email"]
    assert customer["first_name"] == "Daan"
    assert customer["last_name"] == "Visser"
    assert customer["phone"] == "+31 20 555 0100"
    assert customer["marketing_consent"] is True
    assert [{k: v for k, v in a.items() if v is not None} for a in customer["addresses"]] == [
        payloads.address()
    ]
    assert customer["external_ids"].get("sandbox")
    assert customer["id"] != customer["external_ids"]["sandbox"]
    assert "idempotent-replayed" not in response.headers

    read = await gateway.http.get(response.headers["location"], headers=await headers(gateway))
    assert read.status_code == 200, read.text
    assert read.json() == customer
    assert [c["id"] for c in await by_email(gateway, body["email"])] == [customer["id"]]


async def test_create_defaults(gateway: Gateway) -> None:
    response = await create(gateway, payloads.customer())
    assert response.status_code == 201, response.text
    customer = response.json()
    assert customer["marketing_consent"] is False
    assert customer["phone"] is None
    assert customer["addresses"] == []
    assert timestamp(customer["created_at"]) <= timestamp(customer["updated_at"])


async def test_a_duplicate_email_is_a_409(gateway: Gateway) -> None:
    body = payloads.customer()
    assert (await create(gateway, body)).status_code == 201
    problem = assert_problem(await create(gateway, {**body, "first_name": "Other"}), 409)
    assert problem["status"] == 409
    assert len(await by_email(gateway, body["email"])) == 1


async def test_a_duplicate_email_in_other_case_is_a_409(gateway: Gateway) -> None:
    body = payloads.customer()
    assert (await create(gateway, body)).status_code == 201
    assert_problem(await create(gateway, {**body, "email": body["email"].upper()}), 409)
    assert len(await by_email(gateway, body["email"])) == 1


async def test_a_seeded_customers_email_is_a_409(gateway: Gateway) -> None:
    assert_problem(await create(gateway, payloads.customer(email=DATASET.customers[2].email)), 409)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"first_name": ""}, "first_name"),
        ({"phone": "call me"}, "phone"),
        ({"marketing_consent": "yes"}, "marketing_consent"),
        ({"nickname": "D"}, "nickname"),
        ({"addresses": [{**payloads.address(), "country": "XX"}]}, "addresses[0].country"),
    ],
)
async def test_invalid_creates_are_400_naming_the_field(
    gateway: Gateway, change: dict[str, Any], field: str
) -> None:
    body = assert_problem(await create(gateway, payloads.customer(**change)), 400)
    assert [e["field"] for e in body["errors"]] == [field]


async def test_a_create_missing_required_fields_is_a_400(gateway: Gateway) -> None:
    body = assert_problem(await create(gateway, {"email": unique_email()}), 400)
    assert body["errors"][0]["message"] == "required"


async def test_create_with_an_idempotency_key_twice_replays(gateway: Gateway) -> None:
    body = payloads.customer()
    key = payloads.idem()
    first = await create(gateway, body, **{"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    second = await create(gateway, body, **{"Idempotency-Key": key})
    assert second.status_code == 201, second.text
    assert second.content == first.content
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["location"] == first.headers["location"]
    found = await by_email(gateway, body["email"])
    assert [c["id"] for c in found] == [first.json()["id"]]


async def test_a_replay_ignores_key_order_and_whitespace(gateway: Gateway) -> None:
    body = payloads.customer()
    key = payloads.idem()
    first = await create(gateway, body, **{"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    reordered = (
        "{\n" + ",\n".join(f'  "{k}": "{v}"' for k, v in reversed(list(body.items()))) + "\n}"
    )
    second = await gateway.http.post(
        "/v1/customers",
        content=reordered,
        headers=await headers(
            gateway, **{"Idempotency-Key": key, "Content-Type": "application/json"}
        ),
    )
    assert second.status_code == 201, second.text
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()


async def test_the_same_key_with_a_different_body_is_a_422(gateway: Gateway) -> None:
    body = payloads.customer()
    key = payloads.idem()
    assert (await create(gateway, body, **{"Idempotency-Key": key})).status_code == 201
    other = {**body, "first_name": "Someone"}
    assert_problem(await create(gateway, other, **{"Idempotency-Key": key}), 422)
    different_email = payloads.customer()
    assert_problem(await create(gateway, different_email, **{"Idempotency-Key": key}), 422)
    assert await by_email(gateway, different_email["email"]) == []
    found = await by_email(gateway, body["email"])
    assert len(found) == 1
    assert found[0]["first_name"] == body["first_name"]


async def test_a_failed_keyed_create_can_be_retried_with_the_same_key(gateway: Gateway) -> None:
    key = payloads.idem()
    taken = payloads.customer(email=DATASET.customers[3].email)
    assert_problem(await create(gateway, taken, **{"Idempotency-Key": key}), 409)
    body = payloads.customer()
    response = await create(gateway, body, **{"Idempotency-Key": key})
    assert response.status_code == 201, response.text


async def test_an_overlong_idempotency_key_is_a_400(gateway: Gateway) -> None:
    body = payloads.customer()
    assert_problem(await create(gateway, body, **{"Idempotency-Key": "k" * 256}), 400)
    assert await by_email(gateway, body["email"]) == []


async def test_idempotency_keys_are_scoped_by_tenant(gateway: Gateway) -> None:
    key = payloads.idem()
    acme = await create(gateway, payloads.customer(), **{"Idempotency-Key": key})
    assert acme.status_code == 201, acme.text
    other = payloads.customer()
    globex = await gateway.http.post(
        "/v1/customers",
        json=other,
        headers=await gateway.headers("globex-client", **{"Idempotency-Key": key}),
    )
    assert globex.status_code == 201, globex.text
    assert "idempotent-replayed" not in globex.headers
    assert globex.json()["email"] == other["email"]


# -- update --------------------------------------------------------------------------------


async def created(gateway: Gateway, **fields: Any) -> dict[str, Any]:
    response = await create(gateway, payloads.customer(**fields))
    assert response.status_code == 201, response.text
    customer: dict[str, Any] = response.json()
    return customer


async def test_patch_changes_only_the_given_fields(gateway: Gateway) -> None:
    before = await created(
        gateway, phone="+31 6 1234 5678", addresses=[payloads.address()], marketing_consent=True
    )
    response = await patch(gateway, before["id"], {"first_name": "Bram"})
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["first_name"] == "Bram"
    unchanged = (
        "id",
        "email",
        "last_name",
        "phone",
        "addresses",
        "marketing_consent",
        "external_ids",
        "created_at",
    )
    for field in unchanged:
        assert after[field] == before[field], field
    assert timestamp(after["updated_at"]) >= timestamp(before["updated_at"])
    read = (await get(gateway, f"/v1/customers/{before['id']}")).json()
    assert read == after


async def test_patch_several_fields(gateway: Gateway) -> None:
    before = await created(gateway)
    new_email = unique_email("moved")
    changes = {
        "email": new_email,
        "last_name": "Bakker",
        "marketing_consent": True,
        "addresses": [payloads.address(city="Utrecht")],
    }
    after = (await patch(gateway, before["id"], changes)).json()
    assert after["email"] == new_email
    assert after["last_name"] == "Bakker"
    assert after["marketing_consent"] is True
    assert [a["city"] for a in after["addresses"]] == ["Utrecht"]
    assert after["first_name"] == before["first_name"]
    assert [c["id"] for c in await by_email(gateway, new_email)] == [before["id"]]
    assert await by_email(gateway, before["email"]) == []


async def test_patch_phone_null_clears_it(gateway: Gateway) -> None:
    before = await created(gateway, phone="+31 6 1234 5678")
    assert before["phone"] == "+31 6 1234 5678"
    after = (await patch(gateway, before["id"], {"phone": None})).json()
    assert after["phone"] is None
    assert after["first_name"] == before["first_name"]
    assert (await get(gateway, f"/v1/customers/{before['id']}")).json()["phone"] is None


async def test_patch_with_an_empty_body_changes_nothing(gateway: Gateway) -> None:
    before = await created(gateway, phone="+31 6 1234 5678")
    response = await patch(gateway, before["id"], {})
    assert response.status_code == 200, response.text
    after = response.json()
    for field in ("email", "first_name", "last_name", "phone", "addresses", "marketing_consent"):
        assert after[field] == before[field]


async def test_patch_to_another_customers_email_is_a_409(gateway: Gateway) -> None:
    first = await created(gateway)
    second = await created(gateway)
    assert_problem(await patch(gateway, second["id"], {"email": first["email"]}), 409)
    assert_problem(await patch(gateway, second["id"], {"email": first["email"].upper()}), 409)
    assert (await get(gateway, f"/v1/customers/{second['id']}")).json()["email"] == second["email"]


async def test_patch_keeping_ones_own_email_is_fine(gateway: Gateway) -> None:
    customer = await created(gateway)
    response = await patch(
        gateway, customer["id"], {"email": customer["email"], "first_name": "Isa"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["first_name"] == "Isa"


async def test_patch_of_an_unknown_customer_is_a_404(gateway: Gateway) -> None:
    assert_problem(
        await patch(gateway, public_id(CUSTOMER, "C99999"), {"first_name": "Ghost"}), 404
    )
    assert_problem(await patch(gateway, public_id(CUSTOMER, "C99998"), {}), 404)
    assert_problem(await patch(gateway, "nonsense", {"first_name": "Ghost"}), 404)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": None}, "email"),
        ({"first_name": None}, "first_name"),
        ({"email": "nope"}, "email"),
        ({"phone": 31612345678}, "phone"),
        ({"id": "cus_x"}, "id"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
    ],
)
async def test_invalid_patches_are_400_naming_the_field(
    gateway: Gateway, change: dict[str, Any], field: str
) -> None:
    customer = await created(gateway)
    body = assert_problem(await patch(gateway, customer["id"], change), 400)
    assert [e["field"] for e in body["errors"]] == [field]
    after = (await get(gateway, f"/v1/customers/{customer['id']}")).json()
    assert after == customer
