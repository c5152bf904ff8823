"""OAuth 2.0 client credentials: clients, signing keys, access tokens and their checks."""
