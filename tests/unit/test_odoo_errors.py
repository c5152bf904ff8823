"""Every error Odoo 17 can send is classified: Odoo's own exception classes and the server
faults by table, anything else as a permanent protocol fault. A new name the simulator can
send, or a new class of odoo.exceptions, fails here until it is classified on purpose."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import adapters.odoo.simulator.errors as simulator_errors
from adapters.odoo.errors import VENDOR_ERRORS, classify
from contracts.errors import (
    BackendAuthError,
    BackendError,
    BackendProtocolError,
    BusinessRejection,
    PermanentBackendError,
    RetryableBackendError,
)

# odoo/exceptions.py of Odoo 17.0
ODOO_17_EXCEPTIONS = (
    "UserError",
    "RedirectWarning",
    "AccessDenied",
    "AccessError",
    "CacheMiss",
    "MissingError",
    "ValidationError",
)
# Python's own exceptions mean a call the adapter built wrongly (a mapping fault).
PROGRAMMING_FAULTS = {"builtins"}


def _simulator_names() -> set[str]:
    tree = ast.parse(Path(simulator_errors.__file__).read_text())
    return {
        node.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        and "." in node.value.value
        and node.value.value.split(".")[-1][:1].isupper()
    }


def _envelope(name: str, message: str = "boom") -> dict[str, object]:
    return {
        "code": 200,
        "message": "Odoo Server Error",
        "data": {"name": name, "message": message, "arguments": [message], "debug": ""},
    }


@pytest.mark.parametrize("name", ODOO_17_EXCEPTIONS)
def test_every_odoo_exception_class_is_in_the_table(name: str) -> None:
    assert f"odoo.exceptions.{name}" in VENDOR_ERRORS


def test_every_name_the_simulator_sends_is_classified_on_purpose() -> None:
    names = _simulator_names()
    assert names, "no error names found in the simulator"
    for name in names:
        if name.split(".")[0] in PROGRAMMING_FAULTS:
            assert isinstance(classify(_envelope(name)), BackendProtocolError), name
        else:
            assert name in VENDOR_ERRORS, f"{name} is not classified"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("odoo.exceptions.UserError", BusinessRejection),
        ("odoo.exceptions.ValidationError", BusinessRejection),
        ("odoo.exceptions.AccessDenied", BackendAuthError),
        ("odoo.exceptions.AccessError", PermanentBackendError),
        ("psycopg2.OperationalError", RetryableBackendError),
        ("builtins.ValueError", BackendProtocolError),
        ("builtins.KeyError", BackendProtocolError),
        ("something.New", BackendProtocolError),
    ],
)
def test_classify(name: str, kind: type[BackendError]) -> None:
    error = classify(_envelope(name, "Invalid field 'x' on model 'y'"))
    assert type(error) is kind
    assert error.vendor_code == name


def test_a_business_refusal_carries_odoos_message() -> None:
    error = classify(
        _envelope(
            "odoo.exceptions.UserError", "Some orders are not in a state requiring confirmation."
        )
    )
    assert isinstance(error, BusinessRejection)
    assert error.reasons == ["Some orders are not in a state requiring confirmation."]


@pytest.mark.parametrize("error", [None, "", [], 0, {"code": 200}])
def test_malformed_error_members_are_protocol_faults(error: object) -> None:
    result = classify(error)
    assert isinstance(result, BackendError)
    assert not isinstance(result, RetryableBackendError | BusinessRejection)
