"""What a binding to the sandbox says: which data set of the sandbox's tables it serves. The
sandbox needs no secrets. Which data sets a binding may name is the gateway's decision."""

from __future__ import annotations

from typing import Annotated

import msgspec


class SandboxSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`dataset` names the data set (at most 64 characters, the width of its column)."""

    dataset: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9:._-]{0,63}$")]
