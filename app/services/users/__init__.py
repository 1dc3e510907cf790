"""People: users, passwords and API tokens."""
