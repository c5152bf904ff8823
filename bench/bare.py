"""The baselines: a bare Litestar app with no auth, no quota, no cache, served by uvicorn like
the gateway (`uvicorn bench.bare:app`).

GET /v1/products/{id}   fixed bytes (BENCH_BODY_FILE): what a cached read costs at the least.
POST /v1/orders         one row per request inserted into BENCH_DATABASE_URL's
                        `bare_orders` table (the body as jsonb): what taking an order durably
                        costs at the least.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from litestar import Litestar, MediaType, Request, Response, get, post

BODY = (
    Path(os.environ.get("BENCH_BODY_FILE", "")).read_bytes()
    if os.environ.get("BENCH_BODY_FILE")
    else b"{}"
)
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "")
_pools: dict[str, Any] = {}


async def _open_pool() -> None:
    if DATABASE_URL:
        import asyncpg

        _pools["orders"] = await asyncpg.create_pool(DATABASE_URL, min_size=2, max_size=10)


async def _close_pool() -> None:
    if "orders" in _pools:
        await _pools.pop("orders").close()


@get("/v1/products/{product_id:str}", sync_to_thread=False)
def product(product_id: str) -> Response[bytes]:
    return Response(content=BODY, media_type=MediaType.JSON)


@post("/v1/orders")
async def order(request: Request[Any, Any, Any]) -> Response[bytes]:
    body = await request.body()
    order_id = uuid.uuid4().hex
    async with _pools["orders"].acquire() as conn:
        await conn.execute(
            "INSERT INTO bare_orders (id, body) VALUES ($1, $2::jsonb)", order_id, body.decode()
        )
    return Response(
        content=b'{"id": "' + order_id.encode() + b'"}', status_code=202, media_type=MediaType.JSON
    )


app = Litestar(
    route_handlers=[product, order],
    on_startup=[_open_pool],
    on_shutdown=[_close_pool],
    openapi_config=None,
)
