"""Strict request bodies.

Litestar converts bodies leniently (a quantity of "5" would pass as 5). Every write here is
decoded strictly by msgspec instead, through `StrictBody`, a DTO that keeps the plain model's
OpenAPI schema, and every failure becomes a 400 problem naming each bad field.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from litestar.dto import MsgspecDTO
from litestar.typing import FieldDefinition

from app.problems import FieldError, InvalidRequest

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.openapi.spec import Reference, Schema

T = TypeVar("T", bound=msgspec.Struct)

_AT_PATH = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_FIELD_PREFIX = re.compile(r"^`(?P<field>[a-z_]+)`: (?P<message>.*)$", re.DOTALL)


def field_error_from(error: msgspec.ValidationError) -> FieldError:
    """Turn msgspec's "message - at `$.a[0].b`" into a field path and a message."""
    text = str(error)
    match = _AT_PATH.match(text)
    message = match.group("message") if match else text
    path = (match.group("path") if match else "") or ""
    path = path.lstrip(".")
    # Checks in __post_init__ name their field as "`field`: message".
    prefixed = _FIELD_PREFIX.match(message)
    if prefixed:
        path = f"{path}.{prefixed.group('field')}" if path else prefixed.group("field")
        message = prefixed.group("message")
    if message.startswith("Object contains unknown field"):
        unknown = re.search(r"`([^`]+)`", message)
        if unknown:
            path = f"{path}.{unknown.group(1)}" if path else unknown.group(1)
        message = "unknown field"
    elif message.startswith("Object missing required field"):
        missing = re.search(r"`([^`]+)`", message)
        if missing:
            path = f"{path}.{missing.group(1)}" if path else missing.group(1)
        message = "required"
    return FieldError(field=path or "$", message=message)


def decode_strict(raw: bytes, model: type[T]) -> T:
    if not raw:
        raise InvalidRequest("the request body is empty", errors=[FieldError("$", "required")])
    try:
        return msgspec.json.decode(raw, type=model, strict=True)
    except msgspec.ValidationError as error:
        field_error = field_error_from(error)
        raise InvalidRequest(
            f"{field_error.field}: {field_error.message}", errors=[field_error]
        ) from None
    except msgspec.DecodeError as error:
        raise InvalidRequest(f"the body is not valid JSON: {error}") from None


class StrictBody(MsgspecDTO[T]):
    """Use as `dto=StrictBody[Model]`; the handler's `data: Model` is then strictly decoded."""

    def decode_bytes(self, value: bytes) -> Any:
        return decode_strict(value, self.model_type)

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: SchemaCreator
    ) -> Reference | Schema:
        return schema_creator.for_field_definition(FieldDefinition.from_annotation(cls.model_type))
