"""Marking user-facing text for translation, before a translation library is installed.

Services wrap every message a person reads in ``_()`` (translated where it is
shown) and constant texts defined at import time in ``N_()`` (only marked).
Both return the text unchanged today. Flask-Babel's extractor (``pybabel
extract -k _ -k N_``) finds the marked strings later; swapping these two
functions for Flask-Babel's ``gettext``/``lazy_gettext`` is then local to this
module.
"""

from __future__ import annotations


def _(text: str) -> str:
    """A message shown to a person (translated once a catalog exists)."""
    return text


def N_(text: str) -> str:
    """A constant message, only marked for extraction."""
    return text


__all__ = ["N_", "_"]
