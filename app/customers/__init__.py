"""Customers, written through to the backend that owns them."""
