"""Long-running processes: the scheduler loop and the worker pool."""
