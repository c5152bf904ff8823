"""The HTTP layer: controllers per version, OAuth endpoints, health and the admin API.
Controllers translate HTTP to domain calls and back; they never build SQL or call httpx."""
