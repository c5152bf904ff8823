"""Generated requests against every /v1 operation of the served OpenAPI document, valid ones
and invalid ones (schemathesis' positive and negative modes), sent to the gateway in-process
(ASGI) on SQLite with a real access token holding every /v1 scope.

For each answer: never a 5xx; the status is documented for the operation; the content type
and body match what is documented for that status; documented required headers are present
and match their schemas; a request the document says is invalid is refused with a 4xx; a
missing required header is refused.

Hypothesis runs derandomized (the same examples every run) with a small example budget, so
the module takes about a minute here.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.gateway import ISSUER, Gateway, make_settings, running_gateway

PINNED = Path(__file__).resolve().parents[2] / "openapi" / "v1.json"
CLIENT = "acme-client"
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 25}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    missing_required_header,
]
T = TypeVar("T")


def _constrained(parameter: dict[str, Any]) -> bool:
    schema = parameter.get("schema", {})
    return (
        parameter.get("in") == "query" or set(schema) - {"type", "description", "examples"} != set()
    )


def _negatable(operation: dict[str, Any]) -> bool:
    """Whether the document rules out any request at all: an operation whose only inputs are
    free strings (an id in the path) has no invalid request to generate."""
    parameters = [p for p in operation.get("parameters", []) if "$ref" not in p]
    return "requestBody" in operation or any(_constrained(p) for p in parameters)


def _v1_cases() -> list[Any]:
    spec = json.loads(PINNED.read_text())
    cases = []
    for path, item in sorted(spec["paths"].items()):
        if not path.startswith("/v1/"):
            continue
        for method in ("get", "post", "put", "patch", "delete"):
            if method not in item:
                continue
            for mode in EXAMPLES:
                if mode is GenerationMode.NEGATIVE and not _negatable(item[method]):
                    continue
                cases.append(pytest.param(path, method, mode, id=f"{method}-{path}-{mode.value}"))
    return cases


class InProcessGateway:
    """The gateway on its own event loop in a thread: Hypothesis tests are synchronous, and
    the app's database engine and tasks belong to the loop they started on."""

    def __init__(self, tmp: Path) -> None:
        self._tmp = tmp
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._stack = AsyncExitStack()
        self.gateway: Gateway | None = None
        self.token = ""

    def run(self, work: Callable[[], Coroutine[Any, Any, T]], timeout: float = 120) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(work(), self._loop)
        return future.result(timeout)

    def start(self) -> None:
        self._thread.start()

        async def up() -> None:
            settings_ = make_settings(
                f"sqlite+aiosqlite:///{self._tmp / 'gateway.db'}", self._tmp / "var"
            )
            self.gateway = await self._stack.enter_async_context(running_gateway(settings_))
            await self.gateway.add_tenant("acme")
            self.token = await self.gateway.token(CLIENT)

        self.run(up)

    def stop(self) -> None:
        try:
            self.run(self._stack.aclose)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop.close()

    def spec(self) -> dict[str, Any]:
        async def fetch() -> dict[str, Any]:
            assert self.gateway is not None
            response = await self.gateway.http.get("/openapi/openapi.json")
            assert response.status_code == 200
            body: dict[str, Any] = response.json()
            return body

        return self.run(fetch)

    def send(self, prepared: requests.PreparedRequest) -> httpx.Response:
        """The request exactly as schemathesis serialised it, through the ASGI app."""

        async def call() -> httpx.Response:
            assert self.gateway is not None
            body = prepared.body
            content = body.encode() if isinstance(body, str) else body
            request = self.gateway.http.build_request(
                str(prepared.method),
                str(prepared.url),
                headers=list(prepared.headers.items()),
                content=content,
            )
            response = await self.gateway.http.send(request)
            await response.aread()
            return response

        return self.run(call, timeout=60)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessGateway]:
    gateway = InProcessGateway(tmp_path_factory.mktemp("schemathesis"))
    gateway.start()
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def schema(served: InProcessGateway) -> Any:
    return schemathesis.openapi.from_dict(served.spec())


@pytest.mark.slow
@pytest.mark.parametrize(("path", "method", "mode"), _v1_cases())
def test_generated_requests_get_documented_answers_and_never_a_5xx(
    served: InProcessGateway, schema: Any, path: str, method: str, mode: GenerationMode
) -> None:
    operation = schema[path][method.upper()]
    auth = {"Authorization": f"Bearer {served.token}"}

    @settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        kwargs = case.as_transport_kwargs(base_url=ISSUER, headers=auth)
        kwargs.pop("cookies", None)
        prepared = requests.Request(**kwargs).prepare()
        response = served.send(prepared)
        assert response.status_code < 500, (prepared.method, prepared.url, response.text)
        case.validate_response(response, checks=CHECKS, headers=auth)

    check()
