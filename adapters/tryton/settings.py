"""What a binding to a Tryton server says: its connection settings and its secrets. The
gateway validates a binding against these before it saves it (unknown keys are refused)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from adapters._http import HttpUrl, url_problem

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
LocationCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class TrytonSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`url` of the trytond server, its `database` and the `username` to log in as;
    `store_location_codes` names the warehouses that are shops; `timeout` (seconds) bounds
    each request."""

    url: HttpUrl
    database: Name
    username: Name
    store_location_codes: Annotated[list[LocationCode], msgspec.Meta(max_length=200)] = (
        msgspec.field(default_factory=list)
    )
    timeout: Annotated[float, msgspec.Meta(gt=0, le=120)] = 10.0

    def __post_init__(self) -> None:
        problem = url_problem(self.url)
        if problem:
            raise ValueError(f"`url`: {problem}")


class TrytonSecrets(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
