"""Query parameters held to what the OpenAPI document says they are.

Litestar is lenient where the contract is not: a parameter documented as one value that comes
twice (`?limit=3&limit=4`) is silently read as one of them, and the text `null` for a typed
optional parameter (`?limit=null`, `?updated_since=null`) silently means "not given". Both are
refused here with a 400 problem naming the parameter, before the handler runs. The rules come
from the parameters as the served document shows them (`parameter_schema`), so they are the
ones clients read; they are read once per app, on the first request with a query.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from app.api.openapi import parameter_schema
from app.problems import FieldError, InvalidParameter

if TYPE_CHECKING:
    from litestar import Litestar, Request


class QueryRules:
    """Per operation: the query parameters that take one value, and those of them whose
    values are not free text (so `null` cannot be meant literally)."""

    def __init__(self) -> None:
        self._rules: dict[str, tuple[frozenset[str], frozenset[str]]] | None = None

    def _build(self, app: Litestar) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
        rules = {}
        for item in app.openapi_schema.to_schema()["paths"].values():
            for operation in item.values():
                single, typed = set(), set()
                for parameter in operation.get("parameters", []):
                    if parameter.get("in") != "query":
                        continue
                    schema = parameter_schema(parameter)
                    if schema.get("type") != "array":
                        single.add(parameter["name"])
                        if schema.get("type") != "string" or "enum" in schema or "format" in schema:
                            typed.add(parameter["name"])
                rules[operation["operationId"]] = (frozenset(single), frozenset(typed))
        return rules

    async def __call__(self, request: Request[Any, Any, Any]) -> None:
        query = request.scope.get("query_string", b"")
        if not query:
            return
        if self._rules is None:
            self._rules = self._build(request.app)
        single, typed = self._rules.get(str(request.route_handler.operation_id), ((), ()))
        seen: set[str] = set()
        errors = []
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if name in single and name in seen:
                errors.append(FieldError(name, "give this parameter once"))
            elif name in typed and value == "null":
                errors.append(FieldError(name, "`null` is not a value; leave the parameter out"))
            seen.add(name)
        if errors:
            raise InvalidParameter(
                "; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors
            )
