"""Sync runs: background work a person watches (progress bar, counts, notes, Retry)."""
