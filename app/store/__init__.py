"""Persistence: SQLAlchemy models, the tenant-scoped session factory, repositories and the
Alembic migrations. Nothing here formats HTTP or calls a backend."""
