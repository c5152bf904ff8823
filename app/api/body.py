"""Strict request bodies.

Litestar converts bodies leniently (a quantity of "5" would pass as 5). Every write here is
decoded strictly by msgspec instead, through `StrictBody`, a DTO that keeps the plain model's
OpenAPI schema, and every failure becomes a 400 problem naming each bad field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from litestar.dto import MsgspecDTO
from litestar.typing import FieldDefinition

from app.problems import FieldError, InvalidRequest, UnsupportedMediaType, field_error_from

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.openapi.spec import Reference, Schema

T = TypeVar("T", bound=msgspec.Struct)


def _nul_path(value: Any, path: str = "") -> str | None:
    """The path of the first string holding a NUL character (no database stores one)."""
    if isinstance(value, str):
        return path or "$" if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return f"{path}.{key}".lstrip(".").replace("\x00", "\\0")
            found = _nul_path(item, f"{path}.{key}" if path else key)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_path(item, f"{path}[{index}]")
            if found:
                return found
    return None


def decode_strict(raw: bytes, model: type[T]) -> T:
    if not raw:
        raise InvalidRequest("the request body is empty", errors=[FieldError("$", "required")])
    if b"\\u0000" in raw:
        try:
            where = _nul_path(msgspec.json.decode(raw))
        except msgspec.DecodeError:
            where = None
        if where:
            raise InvalidRequest(
                f"{where}: NUL characters are not allowed",
                errors=[FieldError(where, "NUL characters are not allowed")],
            )
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
        content_type = self.asgi_connection.headers.get("content-type", "")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type != "application/json" and not media_type.endswith("+json"):
            raise UnsupportedMediaType(
                f"send the body as application/json, not {media_type or 'without a Content-Type'}",
                headers={"Accept": "application/json"},
            )
        return decode_strict(value, self.model_type)

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: SchemaCreator
    ) -> Reference | Schema:
        return schema_creator.for_field_definition(FieldDefinition.from_annotation(cls.model_type))
