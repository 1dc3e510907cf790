"""The failed-tasks page's one form: retry now or discard, on ticked rows, a group or all."""

from __future__ import annotations

from wtforms import HiddenField, SelectField

from app.web.jobs.action_forms import ActionForm

ACTIONS = ("trigger", "discard")


class FailedBulkForm(ActionForm):
    """``action`` on ticked items (``ids``), on an error group, or on every matching item."""

    action = SelectField(choices=list(ACTIONS))
    all = HiddenField()
    target_group = HiddenField()
