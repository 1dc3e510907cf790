"""A job's schedule in words: cron through cron-descriptor, intervals and one-offs in our own.

cron-descriptor has no Arabic locale, so an Arabic page shows its English
words (marked ``lang="en"`` by the template) next to the raw expression;
intervals and one-off runs are said in the page's language with ``ngettext``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from cron_descriptor import ExpressionDescriptor, Options
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

from app.models import ScheduledJob

# cron-descriptor's locales that Almanac's languages map to.
_CRON_LOCALES = {"en": "en_US"}
_UNITS = ("weeks", "days", "hours", "minutes", "seconds")


@dataclass(frozen=True)
class ScheduleWords:
    """What the schedule cell shows: words, their language, and the raw form (left to right)."""

    words: str
    raw: str
    words_lang: str | None = None  # set when the words are not in the page's language


@lru_cache(maxsize=2048)
def cron_words(expression: str, locale_code: str) -> str:
    """cron-descriptor's description, or "" for an expression it cannot read."""
    options = Options()
    options.locale_code = locale_code
    options.use_24hour_time_format = True
    try:
        return str(ExpressionDescriptor(expression, options).get_description())
    except Exception:  # its errors have no common base; the raw expression still shows
        return ""


def _interval_part(unit: str, count: int) -> str:
    texts = {
        "weeks": lambda: ngettext("%(num)d week", "%(num)d weeks", count),
        "days": lambda: ngettext("%(num)d day", "%(num)d days", count),
        "hours": lambda: ngettext("%(num)d hour", "%(num)d hours", count),
        "minutes": lambda: ngettext("%(num)d minute", "%(num)d minutes", count),
        "seconds": lambda: ngettext("%(num)d second", "%(num)d seconds", count),
    }
    return str(texts[unit]())


def interval_words(config: dict[str, object]) -> ScheduleWords:
    """ "Every 2 hours 30 minutes", in the page's language."""
    parts = [
        _interval_part(unit, int(value))
        for unit in _UNITS
        if isinstance(value := config.get(unit), int | float) and value
    ]
    raw = " ".join(f"{unit}={config[unit]}" for unit in _UNITS if config.get(unit))
    return ScheduleWords(_("Every %(span)s", span=" ".join(parts)), raw)


def once_words(config: dict[str, object]) -> ScheduleWords:
    """ "Once, at <wall time>" (the job's zone shows in its own column)."""
    raw = str(config.get("runAt", ""))
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        return ScheduleWords(_("Once"), raw)
    return ScheduleWords(_("Once, at %(time)s", time=at.strftime("%Y-%m-%d %H:%M")), raw)


def schedule_words(job: ScheduledJob) -> ScheduleWords:
    """The schedule of ``job`` in words, with its raw form."""
    config = job.schedule_config or {}
    if "expression" in config:
        expression = str(config["expression"])
        lang = str(get_locale() or "en")
        words = cron_words(expression, _CRON_LOCALES.get(lang, "en_US"))
        return ScheduleWords(words, expression, None if lang in _CRON_LOCALES else "en")
    if "runAt" in config:
        return once_words(config)
    return interval_words(config)


__all__ = ["ScheduleWords", "cron_words", "schedule_words"]
