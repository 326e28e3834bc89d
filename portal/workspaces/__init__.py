"""Client workspaces: a read-only view of a project for its client's users (seed 004)."""
