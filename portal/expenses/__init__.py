"""Cost entries (expenses) people report on projects, and the cost categories a project accepts."""
