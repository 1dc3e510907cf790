"""Where a form may send the user back to: only a path on this site."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_local_path(target: str | None, fallback: str) -> str:
    """``target`` if it is a relative path on this site, else ``fallback`` (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and "\\" not in target:
            return target
    return fallback
