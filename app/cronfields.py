"""Read cron expressions the way crontab(5) does, and hand croniter an unambiguous copy.

croniter does the calendar search, but it reads some fields differently from cron: an
equal range such as ``4-4`` as a wildcard, a backwards range such as ``5-3`` as a wrap
around midnight, and it combines day-of-month and day-of-week by its own rule. So every
field is parsed here into the plain list of values cron means, croniter gets only those
lists, and the day rule (``day_or``) is decided here. The stored expression is never
rewritten; the translated copy exists only on its way to croniter.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

SECOND, MINUTE, HOUR, DAY, MONTH, WEEKDAY = (
    "second",
    "minute",
    "hour",
    "day-of-month",
    "month",
    "day-of-week",
)
_FIVE = (MINUTE, HOUR, DAY, MONTH, WEEKDAY)
_SIX = (SECOND, *_FIVE)
# Sunday is both 0 and 7, as in crontab(5).
_BOUNDS = {SECOND: (0, 59), MINUTE: (0, 59), HOUR: (0, 23), DAY: (1, 31), MONTH: (1, 12)}
_BOUNDS[WEEKDAY] = (0, 7)
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_NAMES = {
    MONTH: {name: number for number, name in enumerate(_MONTHS, start=1)},
    WEEKDAY: {name: number for number, name in enumerate(_WEEKDAYS)},
}

_MAX_LENGTH = 200
_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# Hashed (H) and random (R) values depend on a seed, so fire times would not be reproducible.
_SEEDED_TOKENS = frozenset({"h", "r"})

_ITEM = re.compile(r"(\*|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/([0-9]+))?", re.IGNORECASE)
_NEAREST_WEEKDAY = re.compile(r"([0-9]+)w", re.IGNORECASE)
_NTH_WEEKDAY = re.compile(r"([0-9a-z]+)#([0-9]+)", re.IGNORECASE)
_LAST_WEEKDAY = re.compile(r"l([0-9a-z]+)|([0-9a-z]+)l", re.IGNORECASE)


BOTH_DAYS_HINT = (
    " A day field starting with * makes cron require both day-of-month and day-of-week."
)


class CronSyntaxError(ValueError):
    """A cron expression cron would not read, or croniter would misread; str() is one sentence."""


@dataclass(frozen=True)
class Field:
    """One parsed field: the values it allows, or a Quartz-style special day token."""

    kind: str
    text: str
    values: frozenset[int]
    special: str | None = None

    @property
    def restricted(self) -> bool:
        """crontab(5): a day field that starts with ``*`` (or is ``?``) does not restrict."""
        return not (self.text.startswith("*") or self.text == "?")

    @property
    def everything(self) -> bool:
        """Whether the field allows every value of its range."""
        low, high = _BOUNDS[self.kind]
        return self.special is None and len(self.values) == len(_span(self.kind, low, high))

    def for_croniter(self) -> str:
        """The field as croniter must see it: ``*``, a special token or a plain list."""
        if self.special is not None:
            return self.special
        if self.text in ("*", "?"):
            return "*"
        # Runs become a-b (a < b, which croniter reads right): long lists are slow to expand.
        runs = _runs(sorted(self.values))
        return ",".join(f"{run[0]}-{run[-1]}" if len(run) > 2 else _plain(run) for run in runs)


@dataclass(frozen=True)
class CronSpec:
    """A parsed expression: its fields, the day rule and how croniter must be called."""

    fields: dict[str, Field]
    follows_clock: bool

    @property
    def day_or(self) -> bool:
        """crontab(5): days match on either field only when both are restricted."""
        return self.fields[DAY].restricted and self.fields[WEEKDAY].restricted

    @property
    def days_anded(self) -> bool:
        """Whether both day fields narrow the days and cron requires both to match."""
        day, weekday = self.fields[DAY], self.fields[WEEKDAY]
        return not self.day_or and not day.everything and not weekday.everything

    def croniter_expression(self) -> str:
        """The expression with every field spelled as explicit values (seconds first)."""
        order = _SIX if SECOND in self.fields else _FIVE
        return " ".join(self.fields[kind].for_croniter() for kind in order)


def normalize(raw: object) -> str:
    """Check the shape of a cron expression and return it single-spaced, aliases expanded."""
    if not isinstance(raw, str) or not raw.strip():
        raise CronSyntaxError("The cron expression must be a non-empty string.")
    if len(raw) > _MAX_LENGTH or any(char in raw for char in "\x00\r\n"):
        raise CronSyntaxError("The cron expression must be one short line.")
    text = " ".join(raw.split())
    text = _ALIASES.get(text.lower(), text)
    if text.startswith("@"):
        raise CronSyntaxError(f"Unknown alias; use {', '.join(_ALIASES)}.")
    count = len(text.split(" "))
    if count not in (5, 6):
        raise CronSyntaxError(f"Use 5 fields, or 6 with seconds first, not {count}.")
    if _SEEDED_TOKENS.intersection(re.findall(r"[a-z]+", text.lower())):
        raise CronSyntaxError("Hashed (H) and random (R) values are not supported.")
    return text


@lru_cache(maxsize=512)
def parse(expression: str) -> CronSpec:
    """Parse an expression ``normalize`` returned into its fields and clock rule."""
    texts = expression.split()
    kinds = _SIX if len(texts) == 6 else _FIVE
    if len(texts) not in (5, 6):
        raise CronSyntaxError(f"Use 5 fields, or 6 with seconds first, not {len(texts)}.")
    fields = {kind: _parse_field(kind, text) for kind, text in zip(kinds, texts, strict=True)}
    spec = CronSpec(fields, _follows_clock(fields[HOUR].text))
    _check_day_combination(spec)
    return spec


def _parse_field(kind: str, text: str) -> Field:
    """Parse one field into the values it allows."""
    if text == "?":
        if kind not in (DAY, WEEKDAY):
            raise CronSyntaxError(f"'?' is allowed only in the day fields, not in the {kind}.")
        return Field(kind, text, frozenset(_span(kind, *_BOUNDS[kind])))
    special = _special_day(kind, text)
    if special is not None:
        return Field(kind, text, frozenset(), special)
    values: set[int] = set()
    for item in text.split(","):
        values.update(_parse_item(kind, item))
    return Field(kind, text, frozenset(values))


def _parse_item(kind: str, item: str) -> set[int]:
    """Values of one list item: ``*``, ``N``, ``N-M``, each with an optional ``/step``."""
    match = _ITEM.fullmatch(item)
    if not match:
        raise _unreadable(kind, item)
    base, step_text = match.groups()
    step = int(step_text) if step_text else 1
    if step == 0:
        raise CronSyntaxError(f"The step in {item!r} ({kind}) must be 1 or more.")
    low, high = _BOUNDS[kind]
    if base != "*":
        first, _, last = base.partition("-")
        low = _value(kind, first, item)
        if last:
            high = _value(kind, last, item)
        elif step_text is None:
            high = low
        elif kind == WEEKDAY:
            # "1/2" runs to Saturday in some crons and to Sunday (7) in others.
            raise CronSyntaxError(f"Write {item!r} with an end, such as 1-5/2 ({kind}).")
        if high < low:
            raise CronSyntaxError(
                f"The range {item!r} ({kind}) runs backwards; cron needs low-high, "
                "so split it, e.g. 22-23,0-3."
            )
    return _span(kind, low, high, step)


def _span(kind: str, low: int, high: int, step: int = 1) -> set[int]:
    """``low..high`` by ``step``; a day-of-week 7 is read as 0 (both are Sunday)."""
    values = range(low, high + 1, step)
    return {value % 7 for value in values} if kind == WEEKDAY else set(values)


def _value(kind: str, token: str, item: str) -> int:
    """A number or a name (``jan``, ``mon``) within the field's bounds."""
    names = _NAMES.get(kind, {})
    if token.lower() in names:
        return names[token.lower()]
    if not token.isdigit():
        raise _unreadable(kind, item)
    low, high = _BOUNDS[kind]
    value = int(token)
    if not low <= value <= high:
        raise CronSyntaxError(f"{item!r} is out of range for the {kind} ({low}-{high}).")
    return value


def _unreadable(kind: str, item: str) -> CronSyntaxError:
    """The error for an item that is not a number, name, range or step."""
    hint = "; L, W and # must stand alone in their field" if kind in (DAY, WEEKDAY) else ""
    return CronSyntaxError(f"Cannot read {item!r} in the {kind} field{hint}.")


def _special_day(kind: str, text: str) -> str | None:
    """croniter's spelling of L, nW, n#k or last weekday (Ln / nL), else None."""
    if kind == DAY:
        if text in ("l", "L"):
            return "l"
        match = _NEAREST_WEEKDAY.fullmatch(text)
        if match:
            return f"{_value(DAY, match.group(1), text)}w"
    if kind == WEEKDAY:
        match = _NTH_WEEKDAY.fullmatch(text)
        if match:
            nth = int(match.group(2))
            if not 1 <= nth <= 5:
                raise CronSyntaxError(f"In {text!r} the week number must be 1 to 5.")
            return f"{_value(WEEKDAY, match.group(1), text) % 7}#{nth}"
        match = _LAST_WEEKDAY.fullmatch(text)
        if match:
            return f"l{_value(WEEKDAY, match.group(1) or match.group(2), text) % 7}"
    return None


def _follows_clock(hour: str) -> bool:
    """SPEC §4.2: an hour field with a wildcard or a step is hourly-or-more-often."""
    # A step over a single hour ("4-4/2", "23/2") is that one fixed hour.
    for item in hour.split(","):
        if item.startswith("*"):
            return True
        base, _, step = item.partition("/")
        first, _, last = base.partition("-")
        end = last if last else (_BOUNDS[HOUR][1] if step else first)
        if step and int(first) < int(end):
            return True
    return False


def _check_day_combination(spec: CronSpec) -> None:
    """Refuse OR-combined day fields croniter would read as AND (W, #, last weekday)."""
    day, weekday = spec.fields[DAY], spec.fields[WEEKDAY]
    either_special = (day.special or "").endswith("w") or weekday.special is not None
    if spec.day_or and either_special:
        raise CronSyntaxError(
            "With both day fields set, cron runs on either one, which is not supported "
            "with W, # or a last weekday; set day-of-month or day-of-week to *."
        )


# --- the day rule in words ----------------------------------------------------------------

_DAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_ORDINALS = ("first", "second", "third", "fourth", "fifth")
_DASH = "\N{EN DASH}"
# Weeks read Monday to Sunday, so Saturday-Sunday is one run.
_WEEK_ORDER = (1, 2, 3, 4, 5, 6, 0)


def describe_days(spec: CronSpec) -> str | None:
    """The days ``spec`` runs on in English, such as "on days 1 and 15, or on Mondays"."""
    day, weekday = spec.fields[DAY], spec.fields[WEEKDAY]
    if spec.day_or and (day.everything or weekday.everything):
        return None
    dates = None if day.everything else _dates_phrase(day)
    if weekday.everything:
        return None if dates is None else f"on {dates}"
    if dates is None:
        return f"on {_weekdays_phrase(weekday, plural=True)}"
    if spec.day_or:
        return f"on {dates}, or on {_weekdays_phrase(weekday, plural=True)}"
    return f"on {dates} if it is {_weekdays_phrase(weekday, plural=False)}"


def _dates_phrase(day: Field) -> str:
    """ "day 1", "days 1-10 and 15", "the last day of the month"."""
    if day.special == "l":
        return "the last day of the month"
    if day.special is not None:
        return f"the weekday nearest day {day.special[:-1]}"
    items = _items(sorted(day.values), str)
    return f"day{'' if len(day.values) == 1 else 's'} {_join(items, 'and')}"


def _weekdays_phrase(weekday: Field, *, plural: bool) -> str:
    """ "Mondays", "Tuesday-Saturday", "the second Monday of the month"."""
    special = weekday.special
    if special is not None and "#" in special:
        number, nth = special.split("#")
        return f"the {_ORDINALS[int(nth) - 1]} {_DAY_NAMES[int(number)]} of the month"
    if special is not None:
        return f"the last {_DAY_NAMES[int(special[1:])]} of the month"
    positions = [_WEEK_ORDER.index(value) for value in sorted(weekday.values)]
    items = _items(sorted(positions), lambda position: _DAY_NAMES[_WEEK_ORDER[position]])
    if plural:
        items = [item if _DASH in item else f"{item}s" for item in items]
    return _join(items, "and" if plural else "or")


def _items(values: list[int], name: Callable[[int], str]) -> list[str]:
    """Name sorted values, runs of three or more as one "first-last" item."""
    items: list[str] = []
    for run in _runs(values):
        items += [f"{name(run[0])}{_DASH}{name(run[-1])}"] if len(run) >= 3 else map(name, run)
    return items


def _runs(values: list[int]) -> list[list[int]]:
    """Sorted values split into runs of consecutive numbers."""
    runs: list[list[int]] = []
    for value in values:
        if runs and runs[-1][-1] == value - 1:
            runs[-1].append(value)
        else:
            runs.append([value])
    return runs


def _plain(run: list[int]) -> str:
    """One or two values as a croniter list item."""
    return ",".join(str(value) for value in run)


def _join(items: list[str], word: str) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {word} {items[-1]}"
