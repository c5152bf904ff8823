"""The base URL of a vendor endpoint, as a binding's settings give it: checked before any client
is built on it, so a URL httpx cannot use is refused where it is entered, naming the field."""

from __future__ import annotations

import re
from typing import Annotated

import httpx
import msgspec

# Scheme, a host (a name, an IPv4 address or a bracketed IPv6 address), an optional port and
# path; no query, fragment or user info (credentials go in a binding's secrets).
_SHAPE = re.compile(
    r"^https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)"
    r"(:[0-9]{1,5})?(/[^\s?#]*)?$"
)

HttpUrl = Annotated[
    str, msgspec.Meta(max_length=2048, description="http(s)://host[:port][/path] of the server")
]


def url_problem(url: str) -> str | None:
    """Why `url` cannot serve as a base URL (httpx refuses it, or its port is out of range);
    None when it can."""
    if not _SHAPE.match(url):
        return "not an http(s) URL of the form http://host[:port][/path]"
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        return str(error)
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return f"port {parsed.port} is out of range"
    return None
