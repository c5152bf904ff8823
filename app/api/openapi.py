"""The OpenAPI document as API.md describes the API.

Litestar generates operations, schemas and each route's own problems from the route decorators
(`problems(...)` below). `documented_openapi` then applies, in this one place, the conventions
every endpoint follows, derived from what each route declares (path, method, status, its
guard's scope, its cache marking, its request body, its `Idempotency-Key` parameter): the
correlation id, `ETag`/`If-None-Match`/304, `Cache-Status`, `Location`, `Idempotency-Key`
and `Idempotent-Replayed`, the quota headers, `Retry-After`, `WWW-Authenticate`, the problems
any route can answer with, HEAD beside every GET, and per-route security. A route adds
documentation of its own with `opt={"openapi": {...}}`, merged into its operation last.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.routes import HTTPRoute

from app.api.headers import HEADERS, PARAMETERS, idempotency_key
from app.api.middleware import PROTECTED_PREFIXES
from app.settings import HttpSettings
from contracts.v1 import Problem

if TYPE_CHECKING:
    from litestar import Litestar, Request
    from litestar.handlers import HTTPRouteHandler

_DESCRIPTIONS = {
    400: "The request is not valid (body, parameters, cursor or Idempotency-Key)",
    401: "A valid access token is required",
    403: "The access token lacks the required scope",
    404: "No such resource for this tenant",
    409: "Conflicts with the current state, or the same Idempotency-Key is in flight",
    413: "The request body is too large",
    415: "The body is not `application/json`",
    422: "Well-formed but refers to unknown things, or the Idempotency-Key was reused",
    429: "Over quota; see Retry-After",
    503: "The gateway's database or the backend cannot be reached; see Retry-After",
}

READ = (400, 401, 403, 429, 503)
GET_ONE = (400, 401, 403, 404, 429, 503)
WRITE = (400, 401, 403, 409, 413, 415, 422, 429, 503)
ADMIN = (400, 401, 403, 404, 409, 413, 503)

# API.md: `?limit=` is 1..200, 50 by default, on every list (outside: 400).
_PAGES = HttpSettings()
PAGE_LIMIT = {"minimum": 1, "maximum": _PAGES.max_page_size, "default": _PAGES.default_page_size}
METHODS = ("get", "put", "post", "patch", "delete")
PROBLEM_JSON = "application/problem+json"


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_DESCRIPTIONS[status],
            media_type=PROBLEM_JSON,
            generate_examples=False,
        )
        for status in sorted(set(statuses))
    }


def _problem(status: int) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _header(name: str) -> dict[str, Any]:
    assert name in HEADERS, name
    return {"$ref": f"#/components/headers/{name}"}


def _scope(handler: HTTPRouteHandler | None) -> str | None:
    if handler is None:
        return None
    scopes = [getattr(guard, "scope", None) for guard in handler.resolve_guards()]
    return next((scope for scope in scopes if scope), None)


def _add_problems(path: str, operation: dict[str, Any], json_body: bool) -> None:
    protected = path.startswith(PROTECTED_PREFIXES)
    wanted = [400]  # any query parameter holding NUL is refused before routing
    if protected:
        wanted += [401, 403, 503]
    if path.startswith("/v1/"):
        wanted.append(429)
    if json_body:
        wanted += [413, 415]
    responses = operation["responses"]
    for status in wanted:
        responses.setdefault(str(status), _problem(status))


def _response_headers(
    path: str,
    method: str,
    operation: dict[str, Any],
    handler: HTTPRouteHandler | None,
    idempotent: bool,
) -> None:
    v1, protected = path.startswith("/v1/"), path.startswith(PROTECTED_PREFIXES)
    read = v1 and method == "get"
    cached = bool(handler is not None and handler.opt.get("cache"))
    created = str(handler.status_code) if handler is not None else ""
    for status, response in operation["responses"].items():
        headers: dict[str, Any] = response.setdefault("headers", {})
        headers["X-Correlation-ID"] = _header("X-Correlation-ID")
        success = status.startswith("2") or status == "304"
        if v1 and status != "401":
            headers["RateLimit-Policy"] = _header("RateLimit-Policy")
            headers["RateLimit"] = _header("RateLimit")
        if status in ("429", "503"):
            headers["Retry-After"] = _header("Retry-After")
        if status == "401":
            headers["WWW-Authenticate"] = _header("WWW-Authenticate")
        if status == "403" and protected:
            headers["WWW-Authenticate"] = _header("WWW-Authenticate-Scope")
        if read and status in ("200", "304"):
            headers["ETag"] = _header("ETag")
            headers["Cache-Control"] = _header("Cache-Control")
            if cached:
                headers["Cache-Status"] = _header("Cache-Status")
        if v1 and status in ("201", "202") and status == created:
            headers["Location"] = _header("Location")
        if idempotent and success:
            headers["Idempotent-Replayed"] = _header("Idempotent-Replayed")


def _absent_not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema without the JSON `null` Litestar adds for an optional one: on the
    wire a parameter is absent or a string, never null (`required: false` says it may be
    absent)."""
    for key in ("oneOf", "anyOf"):
        options = [o for o in schema.get(key, []) if o != {"type": "null"}]
        if key in schema and len(options) == 1:
            rest = {k: v for k, v in schema.items() if k != key}
            return {**options[0], **rest}
        if key in schema:
            schema = {**schema, key: options}
    kinds = schema.get("type")
    if isinstance(kinds, list) and "null" in kinds:
        left = [kind for kind in kinds if kind != "null"]
        schema = {**schema, "type": left[0] if len(left) == 1 else left}
        if "enum" in schema:
            schema["enum"] = [value for value in schema["enum"] if value is not None]
    return schema


def parameter_schema(parameter: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema as documented: never null, and `limit` as API.md bounds it."""
    schema = _absent_not_null(parameter["schema"])
    if parameter.get("in") == "query" and parameter["name"] == "limit":
        schema = {**schema, **PAGE_LIMIT}
    return schema


def _document_operation(
    path: str, method: str, operation: dict[str, Any], handler: HTTPRouteHandler | None
) -> None:
    v1 = path.startswith("/v1/")
    body = operation.get("requestBody", {}).get("content", {})
    json_body = "application/json" in body
    parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
    idempotent = False
    for index, parameter in enumerate(parameters):
        if "schema" in parameter:
            parameter["schema"] = parameter_schema(parameter)
        if parameter.get("in") == "header" and parameter["name"].lower() == "idempotency-key":
            parameters[index] = idempotency_key(required=bool(parameter.get("required")))
            idempotent = True
    parameters.append({"$ref": "#/components/parameters/X-Correlation-ID"})
    if v1 and method == "get":
        parameters.append({"$ref": "#/components/parameters/If-None-Match"})
        operation["responses"].setdefault(
            "304",
            {"description": "Not modified: the representation still has the ETag sent"},
        )
    _add_problems(path, operation, json_body)
    _response_headers(path, method, operation, handler, idempotent)
    scope = _scope(handler)
    if path.startswith(PROTECTED_PREFIXES):
        operation["security"] = [{"oauth2": [scope] if scope else []}]
    else:
        operation["security"] = []
    extra = handler.opt.get("openapi") if handler is not None else None
    if extra:
        _merge(operation, copy.deepcopy(extra))
    operation["responses"] = dict(sorted(operation["responses"].items()))


def _merge(target: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def _head_of(get: dict[str, Any]) -> dict[str, Any]:
    """HEAD answers as GET would, with the same status and headers and no body (RFC 9110)."""
    head = copy.deepcopy(get)
    operation_id = str(head["operationId"])
    head["operationId"] = "head" + operation_id[0].upper() + operation_id[1:]
    head["summary"] = f"{get.get('summary', operation_id)}: headers only (HEAD)"
    head.pop("description", None)
    for response in head["responses"].values():
        response.pop("content", None)
    return head


def _handlers(app: Litestar) -> dict[str, HTTPRouteHandler]:
    found: dict[str, HTTPRouteHandler] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                if isinstance(handler.operation_id, str):
                    found[handler.operation_id] = handler
    return found


def document(spec: dict[str, Any], handlers: dict[str, HTTPRouteHandler]) -> dict[str, Any]:
    """`spec` (as Litestar generated it) with the conventions applied; `spec` is not changed."""
    out = copy.deepcopy(spec)
    components = out.setdefault("components", {})
    components["headers"] = copy.deepcopy(HEADERS)
    components["parameters"] = copy.deepcopy(PARAMETERS)
    for path, item in out["paths"].items():
        for method in METHODS:
            if method in item:
                operation = item[method]
                _document_operation(path, method, operation, handlers.get(operation["operationId"]))
        if "get" in item and "head" not in item:
            item["head"] = _head_of(item["get"])
    return out


def documented_openapi(app: Litestar) -> dict[str, Any]:
    """The document the gateway serves at /openapi/openapi.json and pins in openapi/v1.json."""
    return document(app.openapi_schema.to_schema(), _handlers(app))


class DocumentedJsonRenderPlugin(JsonRenderPlugin):
    """Serves `documented_openapi`, built once per app."""

    def __init__(self) -> None:
        super().__init__()
        self._rendered: bytes | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        if self._rendered is None:
            spec = document(openapi_schema, _handlers(request.app))
            self._rendered = self.render_json(request, spec)
        return self._rendered
