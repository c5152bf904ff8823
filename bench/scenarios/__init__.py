"""One module per area; each returns report rows."""
