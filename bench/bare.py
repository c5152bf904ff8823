"""The baseline: a bare Litestar app answering GET /v1/products/{id} with fixed bytes, no
auth, no quota, no cache. Served by uvicorn like the gateway (`uvicorn bench.bare:app`)."""

from __future__ import annotations

import os
from pathlib import Path

from litestar import Litestar, MediaType, Response, get

BODY = (
    Path(os.environ.get("BENCH_BODY_FILE", "")).read_bytes()
    if os.environ.get("BENCH_BODY_FILE")
    else b"{}"
)


@get("/v1/products/{product_id:str}", sync_to_thread=False)
def product(product_id: str) -> Response[bytes]:
    return Response(content=BODY, media_type=MediaType.JSON)


app = Litestar(route_handlers=[product], openapi_config=None)
