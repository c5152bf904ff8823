"""What every binding to an ERP server over HTTP says: where it is, which database, who logs
in, which of its locations are shops, how long a request may take; and the password. Each
adapter's settings extend these; the gateway validates a binding against them before it saves
it (unknown keys are refused)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from adapters._http.urls import HttpUrl, url_problem

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
LocationCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class ServerSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`url` of the server, its `database` and the `username` to log in as;
    `store_location_codes` names the locations that are shops; `timeout` (seconds) bounds
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


class PasswordSecrets(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
