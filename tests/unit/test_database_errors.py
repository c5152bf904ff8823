"""Which database errors mean "the database is away" (503, retry) rather than a fault of ours
(500): by exception class and by the SQLSTATE the driver reports."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from app.api.errors import database_unavailable


class DriverError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def wrapped(sqlstate: str | None, cls: type[DBAPIError] = DBAPIError) -> DBAPIError:
    return cls("SELECT 1", None, DriverError(sqlstate))


@pytest.mark.parametrize("sqlstate", ["08006", "08001", "57P01", "57P02", "57P03", "53300"])
def test_a_database_going_away_or_full_is_unavailable(sqlstate: str) -> None:
    assert database_unavailable(wrapped(sqlstate))


@pytest.mark.parametrize("sqlstate", [None, "42P01", "22001", "40001", "57014"])
def test_a_statement_fault_is_not(sqlstate: str | None) -> None:
    assert not database_unavailable(wrapped(sqlstate))
    assert not database_unavailable(wrapped(sqlstate, IntegrityError))


def test_driver_classes_and_sockets_say_unavailable_whatever_the_state() -> None:
    assert database_unavailable(wrapped(None, OperationalError))
    assert database_unavailable(wrapped(None, InterfaceError))
    assert database_unavailable(ConnectionRefusedError(111, "refused"))
    invalidated = DBAPIError("SELECT 1", None, DriverError(None), connection_invalidated=True)
    assert database_unavailable(invalidated)
