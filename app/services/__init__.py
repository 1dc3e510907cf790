"""Business logic: takes explicit arguments, never touches ``request``."""
