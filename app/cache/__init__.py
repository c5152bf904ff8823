"""The read cache: encoded responses per tenant, fresh for a while, then served stale while
they are refreshed or while the backend fails; one backend call per cold key across all
replicas; invalidated by tag when a change is known."""
