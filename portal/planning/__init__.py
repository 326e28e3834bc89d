"""Project planning: the task list and its task types, budget baselines, and resource requests."""
