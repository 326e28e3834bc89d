"""Forecasts: projected value per month, weighted by each project's percent likelihood (seed 004)."""
