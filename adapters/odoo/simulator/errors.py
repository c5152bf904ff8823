"""Odoo's exceptions as they travel in a JSON-RPC error envelope.

Odoo 17 (`odoo/http.py`, `JsonRPCDispatcher.handle_error` + `serialize_exception`) answers any
exception with HTTP 200 and::

    {"jsonrpc": "2.0", "id": <id>, "error": {"code": 200, "message": "Odoo Server Error",
     "data": {"name": "<module>.<Class>", "debug": "<traceback>", "message": "<str(exc)>",
              "arguments": [<exc.args>], "context": {}}}}

`name` is the exception's module-qualified class name, so Odoo's own exceptions read
`odoo.exceptions.UserError` and Python's read `builtins.ValueError`.
"""

from __future__ import annotations

from typing import Any

USER_ERROR = "odoo.exceptions.UserError"
VALIDATION_ERROR = "odoo.exceptions.ValidationError"
ACCESS_ERROR = "odoo.exceptions.AccessError"
ACCESS_DENIED = "odoo.exceptions.AccessDenied"
MISSING_ERROR = "odoo.exceptions.MissingError"
VALUE_ERROR = "builtins.ValueError"
KEY_ERROR = "builtins.KeyError"
TYPE_ERROR = "builtins.TypeError"
ATTRIBUTE_ERROR = "builtins.AttributeError"
NAME_ERROR = "builtins.NameError"
INDEX_ERROR = "builtins.IndexError"
EXCEPTION = "builtins.Exception"
OPERATIONAL_ERROR = "psycopg2.OperationalError"

# The last frames of a typical Odoo 17 traceback for an `execute_kw` call; the final line names
# the exception. Real servers send the full traceback; clients only ever show or log it.
_TRACE_HEAD = (
    "Traceback (most recent call last):\n"
    '  File "/usr/lib/python3/dist-packages/odoo/http.py", line 1767, in _serve_db\n'
    "    return service_model.retrying(self._serve_ir_http, self.env)\n"
    '  File "/usr/lib/python3/dist-packages/odoo/service/model.py", line 133, in retrying\n'
    "    result = func()\n"
    '  File "/usr/lib/python3/dist-packages/odoo/http.py", line 1794, in _serve_ir_http\n'
    "    response = self.dispatcher.dispatch(rule.endpoint, args)\n"
    '  File "/usr/lib/python3/dist-packages/odoo/http.py", line 1998, in dispatch\n'
    "    result = self.request.registry['ir.http']._dispatch(endpoint)\n"
    '  File "/usr/lib/python3/dist-packages/odoo/addons/base/controllers/rpc.py", line 149,'
    " in jsonrpc\n"
    "    return dispatch_rpc(service, method, args)\n"
)


class OdooError(Exception):
    """An exception the simulated server reports in an error envelope."""

    def __init__(self, name: str, message: str, arguments: list[Any] | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.message = message
        self.arguments = [message] if arguments is None else arguments

    def data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "debug": f"{_TRACE_HEAD}{self.name}: {self.message}\n",
            "message": self.message,
            "arguments": self.arguments,
            "context": {},
        }


def envelope(request_id: Any, error: OdooError, code: int = 200) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {"code": code, "message": "Odoo Server Error", "data": error.data()},
    }


def user_error(message: str) -> OdooError:
    return OdooError(USER_ERROR, message)


def validation_error(message: str) -> OdooError:
    return OdooError(VALIDATION_ERROR, message)


def value_error(message: str) -> OdooError:
    return OdooError(VALUE_ERROR, message)


def type_error(message: str) -> OdooError:
    return OdooError(TYPE_ERROR, message)


def missing_arguments(function: str, names: list[str] | tuple[str, ...]) -> OdooError:
    # Python's own TypeError for a call short of positional arguments
    plural = "s" if len(names) > 1 else ""
    listed = " and ".join(f"'{name}'" for name in names)
    return type_error(
        f"{function} missing {len(names)} required positional argument{plural}: {listed}"
    )


def access_denied() -> OdooError:
    return OdooError(ACCESS_DENIED, "Access Denied")


def missing_error(model: str, ids: list[int], uid: int) -> OdooError:
    shown = ", ".join(str(i) for i in ids[:6])
    trailer = "," if len(ids) == 1 else ""
    return OdooError(
        MISSING_ERROR,
        "Record does not exist or has been deleted.\n"
        f"(Record: {model}({shown}{trailer}), User: {uid})",
    )


def invalid_field(model: str, field: str) -> OdooError:
    # BaseModel.read / search_fetch / create / write in Odoo 17
    return value_error(f"Invalid field {field!r} on model {model!r}")


def wrong_value(model: str, field: str, value: Any) -> OdooError:
    # Field.convert_to_cache: "Wrong value for sale.order.state: 'foo'"
    return value_error(f"Wrong value for {model}.{field}: {value!r}")


def missing_required(model_description: str, model: str, string: str, field: str) -> OdooError:
    # service.model._as_validation_error for a NOT NULL violation
    return validation_error(
        "The operation cannot be completed:\n"
        "- Create/update: a mandatory field is not set.\n"
        "- Delete: another model requires the record being deleted. If possible, archive it"
        " instead.\n\n"
        f"Model: {model_description} ({model})\n"
        f"Field: {string} ({field})\n"
    )


def foreign_key(model_description: str, model: str, field: str) -> OdooError:
    # service.model._as_validation_error for a FOREIGN KEY violation
    table = model.replace(".", "_")
    return validation_error(
        "The operation cannot be completed: another model requires the record being deleted."
        " If possible, archive it instead.\n\n"
        f"Model: {model_description} ({model})\n"
        f"Constraint: {table}_{field}_fkey\n"
    )
