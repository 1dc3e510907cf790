"""Laying the service's entries out as a month, week, day or list, in the page's locale.

Only presentation: which cell an entry goes in, how many fit before "+N more",
names of months and weekdays from Babel (CLDR) so the first weekday and the
words follow the language.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from babel import Locale
from babel.core import get_global
from babel.dates import format_date, format_interval, format_time, get_day_names
from babel.numbers import format_compact_decimal, format_decimal

from app.services.calendar.aggregate import Summary
from app.services.calendar.entries import Bar, CalendarData, Entry
from app.services.calendar.window import Transition

# Items a cell lists before "+N more" (which opens the day, or the list from the day view).
CELL_LIMIT = {"month": 4, "week": 3, "day": 8}
# Frequent jobs' bars a week or day column lists before "+N more" (a big installation has
# hundreds a day: drawing them all made the page megabytes and most of its time).
BAR_LIMIT = {"week": 6, "day": 12}
# Rows the list view shows; beyond, it says how many more and asks for a filter.
LIST_LIMIT = 300
HOURS = range(24)


@dataclass
class Cell:
    """One day (month, list) or one hour of one day (week, day)."""

    day: date
    items: list[Entry | Bar] = field(default_factory=list)
    more: int = 0
    # Aggregated calendar: every visible job's totals in this day or hour.
    summary: Summary | None = None


@dataclass
class DayColumn:
    """A day of the time grid (week, day views): its bars on top, its hours below."""

    day: date
    bars: list[Bar]
    hours: list[Cell]
    transition: Transition | None
    more_bars: int = 0
    summary: Summary | None = None


@dataclass(frozen=True)
class Weekday:
    """A month column's header in CLDR's widths: a wide month shows the abbreviation, a narrow
    one (a phone) the short or narrow name, which fits a ~45 px column where Arabic's
    abbreviations ("الخميس") ran into each other; screen readers always hear the whole name."""

    wide: str
    abbreviated: str
    short: str
    narrow: str


@dataclass
class Layout:
    """What the grid template draws."""

    title: str
    # The week's "Sun 29" headers (a date: CLDR's format context).
    weekdays: list[str]
    # The month's column headers (names standing alone: the stand-alone context).
    headers: list[Weekday] = field(default_factory=list)
    weeks: list[list[Cell]] = field(default_factory=list)
    columns: list[DayColumn] = field(default_factory=list)
    agenda: list[Cell] = field(default_factory=list)
    unlisted: int = 0


def first_weekday(locale: Locale) -> int:
    """The locale's first day of the week (0 = Monday), from CLDR.

    A bare language has no territory, and CLDR's week data is per territory (a
    bare ``en`` would start on Monday); its likely territory decides (en → US: Sunday).
    """
    if locale.territory is None:
        likely = get_global("likely_subtags").get(locale.language)
        if likely:
            locale = Locale.parse(likely)
    return int(locale.first_week_day)


def layout(data: CalendarData, locale: Locale) -> Layout:
    """Group entries and bars into the cells of the chosen view."""
    window = data.window
    by_day: dict[date, list[Entry | Bar]] = defaultdict(list)
    for bar in data.bars:
        by_day[bar.day].append(bar)
    for entry in data.entries:
        by_day[window.day_of(entry.start)].append(entry)
    totals = {(s.day, s.hour): s for s in data.summaries}
    names = locale.days["format"]["abbreviated"]
    weekdays = [str(names[day.weekday()]) for day in window.days[:7]]
    result = Layout(_title(window.view, window.anchor, window.days, locale), weekdays)
    if window.view == "month":
        result.headers = [_weekday(day.weekday(), locale) for day in window.days[:7]]
        cells = [_cell(day, by_day[day], CELL_LIMIT["month"]) for day in window.days]
        for cell in cells:
            cell.summary = totals.get((cell.day, None))
        result.weeks = [cells[i : i + 7] for i in range(0, len(cells), 7)]
    elif window.view == "list":
        result.agenda, result.unlisted = _agenda(window.days, by_day, totals)
    else:
        limit = CELL_LIMIT.get(window.view, 0)
        result.columns = [_column(day, by_day[day], data, limit) for day in window.days]
        for column in result.columns:
            _sum_hours(column, totals)
    return result


def _weekday(weekday: int, locale: Locale) -> Weekday:
    def name(width: Literal["wide", "abbreviated", "short", "narrow"]) -> str:
        return str(get_day_names(width, "stand-alone", locale)[weekday])

    return Weekday(name("wide"), name("abbreviated"), name("short"), name("narrow"))


def _sum_hours(column: DayColumn, totals: dict[tuple[date, int | None], Summary]) -> None:
    """An aggregated time grid: each hour's totals, and the day's above the hours."""
    day_total: Counter[str] = Counter()
    for hour, cell in zip(HOURS, column.hours, strict=True):
        cell.summary = totals.get((column.day, hour))
        if cell.summary is not None:
            day_total.update(cell.summary.outcomes)
    if day_total:
        column.summary = Summary(column.day, None, dict(day_total))


def _agenda(
    days: list[date],
    by_day: dict[date, list[Entry | Bar]],
    totals: dict[tuple[date, int | None], Summary],
) -> tuple[list[Cell], int]:
    """The list's days with their items, up to ``LIST_LIMIT`` rows; and how many were left out."""
    cells, room, total = [], LIST_LIMIT, 0
    for day in days:
        total += len(by_day[day])
        summary = totals.get((day, None))
        if (by_day[day] or summary) and room > 0:
            cells.append(Cell(day, by_day[day][:room], summary=summary))
            room -= len(cells[-1].items)
    return cells, total - (LIST_LIMIT - room)


def _cell(day: date, items: list[Entry | Bar], limit: int) -> Cell:
    if limit and len(items) > limit:
        return Cell(day, items[: limit - 1], len(items) - (limit - 1))
    return Cell(day, items)


def _column(day: date, items: list[Entry | Bar], data: CalendarData, limit: int) -> DayColumn:
    hours: dict[int, list[Entry | Bar]] = defaultdict(list)
    bars: list[Bar] = []
    for item in items:
        if isinstance(item, Bar):
            bars.append(item)
        else:
            hours[item.start.astimezone(data.window.zone).hour].append(item)
    cells = [_cell(day, hours[hour], limit) for hour in HOURS]
    shown = _cell(day, list(bars), BAR_LIMIT.get(data.window.view, 0))
    listed = [item for item in shown.items if isinstance(item, Bar)]
    return DayColumn(day, listed, cells, data.transitions.get(day), shown.more)


def _title(view: str, anchor: date, days: list[date], locale: Locale) -> str:
    """The month, the week's span or the day, in the locale's words (CLDR interval formats)."""
    if view == "month":
        return str(format_date(anchor, "LLLL y", locale=locale))
    if view == "day":
        return str(format_date(anchor, "full", locale=locale))
    return str(format_interval(days[0], days[-1], "yMMMd", locale=locale))


def clock(instant: datetime, data: CalendarData, locale: Locale) -> str:
    """A time of day in the display zone, in the locale's short format."""
    return str(format_time(instant, "short", tzinfo=data.window.zone, locale=locale))


def wall(moment: datetime, locale: Locale) -> str:
    """A naive wall time (a DST transition's before/after) in the locale's short format."""
    return str(format_time(moment.time(), "short", locale=locale))


def day_label(day: date, locale: Locale) -> str:
    """A day in full words, for headers and accessible names."""
    return str(format_date(day, "full", locale=locale))


@functools.lru_cache(maxsize=4096)
def number(value: int, locale: Locale) -> str:
    """A count in the locale's digits and grouping (an aggregated week formats ~500 of them,
    mostly the same few: Babel's formatting was a third of drawing it)."""
    return str(format_decimal(value, locale=locale))


@functools.lru_cache(maxsize=4096)
def compact(value: int, locale: Locale) -> str:
    """A count in a few characters for a phone's month cell, CLDR's short form: 293, 1.4K, 12K,
    1.4M ("1.4 مليون" in Arabic); one decimal only while the figure has one digit. A word after
    the figure may go to the next line (CLDR joins them with a no-break space)."""
    if value < 1000:
        return number(value, locale)
    short = str(format_compact_decimal(value, locale=locale))
    if sum(char.isdigit() for char in short) == 1:
        short = str(format_compact_decimal(value, locale=locale, fraction_digits=1))
    return short.replace("\N{NO-BREAK SPACE}", " ")
