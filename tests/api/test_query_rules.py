"""Query parameters held to the document: a one-value parameter given twice, or the text
`null` for a typed one, is a 400 problem naming it (Litestar alone would pick one value, or
read `null` as "not given"); repeatable and free-text parameters are untouched."""

from __future__ import annotations

import pytest

from tests.support import payloads
from tests.support.gateway import Gateway

CLIENT = "acme-client"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("/v1/products?limit=3&limit=4", "limit"),
        ("/v1/products?limit=null", "limit"),
        ("/v1/products?status=null", "status"),
        ("/v1/orders?updated_since=null", "updated_since"),
        ("/v1/customers?cursor=a&cursor=b", "cursor"),
        ("/v1/inventory?limit=null&sku=A", "limit"),
    ],
)
async def test_an_ambiguous_query_is_400_naming_the_parameter(
    gateway: Gateway, query: str, field: str
) -> None:
    response = await gateway.http.get(query, headers=await gateway.headers(CLIENT))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert [error["field"] for error in problem["errors"]] == [field]


async def test_repeatable_and_free_text_parameters_are_untouched(gateway: Gateway) -> None:
    headers = await gateway.headers(CLIENT)
    repeated = await gateway.http.get(
        f"/v1/inventory?sku={payloads.SKU_A}&sku={payloads.SKU_B}", headers=headers
    )
    assert repeated.status_code == 200, repeated.text
    assert {level["sku"] for level in repeated.json()["data"]} == {payloads.SKU_A, payloads.SKU_B}
    literal = await gateway.http.get("/v1/customers?email=null", headers=headers)
    assert literal.status_code == 200, literal.text
    assert literal.json()["data"] == []
