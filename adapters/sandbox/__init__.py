"""The sandbox backend: an in-process reference ERP on its own tables, one data set per
binding, seeded with the retail demo data. The default backend of every new tenant."""

from adapters.sandbox.backend import SandboxBackend
from adapters.sandbox.settings import SandboxSettings

__all__ = ["SandboxBackend", "SandboxSettings"]
