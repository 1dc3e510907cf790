"""What the settings views share: field errors from forms, and answering page or partial."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect
from flask_babel import gettext
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as Answer

from app import htmx


def form_errors(form: FlaskForm) -> dict[str, str]:
    """WTForms' shape errors, the first message per field."""
    return {name: str(messages[0]) for name, messages in form.errors.items() if messages}


def translated(fields: dict[str, str], names: dict[str, str] | None = None) -> dict[str, str]:
    """A service's field errors in the page's language, keyed by the form's field names."""
    names = names or {}
    return {names.get(path, path): gettext(message) for path, message in fields.items()}


def show(page: str, partial: str, status: int = 200, **context: Any) -> Response:
    """The page, or its region for htmx; refused input answers 422 to a whole page only
    (htmx swaps only 2xx answers, so the region with its errors comes back as 200)."""
    response = htmx.render(page, partial, **context)
    if status != 200 and not htmx.is_partial_request():
        response.status_code = status
    return response


def done(message: str, back: str, region: Response | None = None) -> Answer:
    """After a change: htmx gets the fresh region and a toast; a whole page a redirect (PRG)."""
    if htmx.is_partial_request() and region is not None:
        return htmx.add_toast(region, message, "success")
    flash(message, "success")
    return redirect(back, code=303)
