"""Tenants, their backend bindings, and the adapter registry that turns a binding into a live
adapter. The app reaches adapters only through here."""
