"""Task functions Almanac can run; importing this package registers the built-ins."""

from app.tasks import builtin
from app.tasks.builtin import HttpTaskError
from app.tasks.registry import TaskArgsError, TaskSpec, UnknownTaskError, registry, task

__all__ = [
    "HttpTaskError",
    "TaskArgsError",
    "TaskSpec",
    "UnknownTaskError",
    "builtin",
    "registry",
    "task",
]
