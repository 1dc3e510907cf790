"""Write-only task arguments: stored and sent, never shown again.

A task's argument schema marks a sensitive value with ``"writeOnly": true``,
either on a property (the whole value) or on ``additionalProperties`` (every
value of a map, like the ``http_request`` task's header values). Reads show
``PLACEHOLDER`` in its place; an edit that leaves it out, or sends back the
placeholder or an empty string, keeps the stored value.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from app.tasks.registry import registry

PLACEHOLDER = "set"
_KEEP = (PLACEHOLDER, "")


def _schema(task_name: str) -> dict[str, Any]:
    return registry.get(task_name).args_schema if task_name in registry else {}


def _marked(task_name: str) -> Iterator[tuple[str, bool]]:
    """(property, whole value?) for each write-only property (else each value of its map)."""
    for name, prop in _schema(task_name).get("properties", {}).items():
        if not isinstance(prop, dict):
            continue
        if prop.get("writeOnly") is True:
            yield name, True
        elif isinstance(prop.get("additionalProperties"), dict) and (
            prop["additionalProperties"].get("writeOnly") is True
        ):
            yield name, False


def has_write_only(task_name: str) -> bool:
    """True when the task declares any write-only argument."""
    return any(True for _ in _marked(task_name))


def redact(task_name: str, args: Any) -> Any:
    """``args`` with every write-only value replaced by ``PLACEHOLDER`` (a copy)."""
    if not isinstance(args, dict):
        return args
    shown = copy.deepcopy(args)
    for name, whole in _marked(task_name):
        if name not in shown or shown[name] is None:
            continue
        if whole:
            shown[name] = PLACEHOLDER
        elif isinstance(shown[name], dict):
            shown[name] = dict.fromkeys(shown[name], PLACEHOLDER)
    return shown


def merge_kept(task_name: str, old: Any, new: Any) -> Any:
    """``new`` arguments with the write-only values it leaves out (or blanks) taken from ``old``."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    merged = copy.deepcopy(new)
    for name, whole in _marked(task_name):
        if name not in old:
            continue
        if whole:
            if merged.get(name) in _KEEP or name not in merged:
                merged[name] = old[name]
        elif name not in merged:
            merged[name] = old[name]
        elif isinstance(merged[name], dict) and isinstance(old[name], dict):
            merged[name] = {
                key: old[name][key] if value in _KEEP and key in old[name] else value
                for key, value in merged[name].items()
            }
    return merged


def redact_changes(
    task_names: list[str], changes: dict[str, Any], *, updated: bool
) -> dict[str, Any]:
    """Audit ``changes`` with write-only arguments hidden by each task's schema (``from``/``to`` when ``updated``)."""  # noqa: E501

    def hide(args: Any) -> Any:
        for name in task_names:
            args = redact(name, args)
        return args

    args = changes["task_args"]
    if updated:
        return changes | {"task_args": {side: hide(value) for side, value in args.items()}}
    return changes | {"task_args": hide(args)}
