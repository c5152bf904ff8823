"""The canonical model of Retail Gateway: wire types per major version and the backend port.

Pure data and types. Nothing in this package may import `app` or `adapters`.
"""
