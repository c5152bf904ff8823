"""Retail Gateway service: HTTP API, auth, domain services, persistence, worker and CLI.

`app.bootstrap` is the composition root: the one place that wires concrete adapters in.
"""
