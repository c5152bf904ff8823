"""Version 1 of the channel API."""
