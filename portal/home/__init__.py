"""The home page: what waits for a person, and where to act on it."""
