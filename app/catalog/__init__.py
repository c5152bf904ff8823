"""Products and variants, read from the tenant's catalog backend."""
