"""Shared HTTP plumbing for adapters that speak a vendor protocol over HTTP: one place that
turns transport failures, overload answers and oversized or unreadable bodies into the
`contracts.errors` taxonomy."""

from adapters._http.transport import HttpEndpoint, HttpReply, default_transport, parse_retry_after

__all__ = ["HttpEndpoint", "HttpReply", "default_transport", "parse_retry_after"]
