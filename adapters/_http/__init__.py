"""Shared HTTP plumbing for adapters that speak a vendor protocol over HTTP: one place that
turns transport failures, overload answers and oversized or unreadable bodies into the
`contracts.errors` taxonomy."""

from adapters._http.transport import HttpEndpoint, HttpReply, default_transport, parse_retry_after
from adapters._http.urls import HttpUrl, url_problem

__all__ = [
    "HttpEndpoint",
    "HttpReply",
    "HttpUrl",
    "default_transport",
    "parse_retry_after",
    "url_problem",
]
