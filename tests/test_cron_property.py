"""Almanac's cron fire times against an independent implementation, on random cases (issue 17).

The independent implementation is cronsim (Debian cron's rules; it has a seconds field, so
six-field expressions go through it too). Each case is a random five- or six-field
expression, a random zone (the odd ones included) and a random start, mostly just before a
DST transition; the next ``FIRES`` fire times are compared twice:

1. With the REFERENCE, which must agree exactly: cronsim run on naive wall-clock times
   decides which local times match (ranges, steps, names, the day rule), and the mapping of
   those wall times to UTC is SPEC §4.2 restated here from the zone data alone.
2. With cronsim run in the zone, i.e. Debian cron's DST behaviour. Every difference must
   fall into one of ``EXPLANATIONS``; anything else fails the test.

Seeded: set CRON_PROPERTY_SEED to reproduce a run (the seed is printed and in every
failure message) and CRON_PROPERTY_CASES to run more cases.
"""

import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from app.timemath import CronTrigger, ScheduleError, fire_times, parse_trigger

SEED = int(os.environ.get("CRON_PROPERTY_SEED", "20261204"))
CASES = int(os.environ.get("CRON_PROPERTY_CASES", "2000"))
FIRES = 6

ZONES = (
    "Australia/Lord_Howe",  # DST shift of 30 minutes
    "Pacific/Chatham",  # +12:45/+13:45, transitions at 02:45 local
    "America/Santiago",  # transitions at midnight
    "Africa/Casablanca",  # Ramadan: clocks go back and forward again each year
    "America/St_Johns",  # -03:30/-02:30
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Tehran",
    "Asia/Kolkata",
    "UTC",
)

EXPLANATIONS = {
    "agree": "Almanac and Debian cron give the same times.",
    "refused: never fires": (
        "Almanac refuses the expression because it never matches a date; cronsim finds no "
        "match either."
    ),
    "SPEC 4.2: fixed hour, Debian follows the clock": (
        "The hour field is fixed, so SPEC §4.2 fires once in a repeated hour and once at the "
        "end of a skipped one; Debian cron runs jobs whose minute (or hour) starts with * by "
        "the clock, and cronsim runs every six-field expression by the clock."
    ),
    "SPEC 4.2: hour step follows the clock, Debian does not": (
        "An hour step that does not start with * (1-5/2) is hourly-and-more-often, so SPEC "
        "§4.2 follows the clock; Debian cron treats only a leading * that way."
    ),
    "cronsim: started inside a repeated hour": (
        "Started in the second run of a repeated hour, cronsim's fixed-time mode carries on "
        "from that wall time and maps it to the first run, so it returns times before the "
        "start; its later times agree with the reference."
    ),
    "cronsim: DST shift not on a whole hour": (
        "cronsim steps over DST changes as if they were whole hours at whole hours; in "
        "Lord Howe (30 min) and Chatham (at 02:45) its times break its own rules, or it "
        "loops for ever (stopped here after 200,000 steps); Almanac's match the reference."
    ),
    "cronsim: midnight that does not exist": (
        "Where clocks jump from 00:00 to 01:00 (Santiago), cronsim starts the day at the "
        "missing 00:00: it fires at that non-existent time or steps past 01:xx; Almanac's "
        "times match the reference."
    ),
}


# --- the reference: cronsim for the calendar, SPEC §4.2 for the clock ----------------------


def wall_of(instant: datetime, tz: ZoneInfo) -> datetime:
    """The naive wall-clock time ``tz`` shows at ``instant``."""
    return instant.astimezone(tz).replace(tzinfo=None)


def clock_instants(wall: datetime, tz: ZoneInfo) -> list[datetime]:
    """Every UTC instant at which the clock in ``tz`` shows ``wall`` (0, 1 or 2 of them)."""
    found = {wall.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1)}
    return sorted(instant for instant in found if wall_of(instant, tz) == wall)


def first_instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """SPEC §4.2 for a fixed time: its first occurrence, or the end of the gap it falls in."""
    instants = clock_instants(wall, tz)
    return instants[0] if instants else _gap_end(wall.replace(second=0), tz)


@cache
def _gap_end(minute: datetime, tz: ZoneInfo) -> datetime:
    """The first instant after the gap holding ``minute`` (transitions are on whole minutes)."""
    probe = minute + timedelta(minutes=1)
    while not clock_instants(probe, tz):
        probe += timedelta(minutes=1)
    return clock_instants(probe, tz)[0]


def reference(expression: str, tz: ZoneInfo, after: datetime, clock: bool) -> list[datetime]:
    """The next FIRES times by cronsim's calendar and SPEC §4.2's clock rules."""
    # After a fall-back the clock shows earlier wall times again: start from the smallest.
    soon = [at for at, _, _ in transitions(tz.key) if after < at <= after + timedelta(hours=3)]
    begin = min(wall_of(instant, tz) for instant in [after, *soon]) - timedelta(seconds=1)
    found: list[datetime] = []
    for wall in _walls(expression, begin):
        lowest = first_instant(wall, tz)
        # Later wall times never map below this one's first instant: nothing more to find.
        if len(found) >= FIRES and lowest > found[FIRES - 1]:
            break
        instants = clock_instants(wall, tz) if clock else [lowest]
        found = sorted({*found, *(instant for instant in instants if instant > after)})[:FIRES]
    return found


def _walls(expression: str, begin: datetime) -> Iterator[datetime]:
    """Naive wall times matching ``expression`` after ``begin`` (none past cronsim's horizon)."""
    try:
        yield from CronSim(expression, begin)
    except StopIteration:
        return


def spec_follows_clock(expression: str) -> bool:
    """SPEC §4.2: the hour field has a wildcard or a step over more than one hour."""
    fields = expression.split()
    for item in fields[-4].split(","):
        base, _, step = item.partition("/")
        low, _, high = base.partition("-")
        if item.startswith("*") or (step and int(low) < int(high or 23)):
            return True
    return False


def debian_follows_clock(expression: str) -> bool:
    """cronsim's rule: a five-field job with neither minute nor hour starting with * is fixed."""
    fields = expression.split()
    return len(fields) == 6 or fields[0].startswith("*") or fields[1].startswith("*")


class _Stuck(Exception):
    """cronsim went round in circles."""


class _BoundedCronSim(CronSim):
    """cronsim that gives up after 200,000 clock steps instead of looping for ever."""

    steps = 0

    def tick(self, seconds: int = 1) -> None:
        """Count the step, then take it."""
        self.steps += 1
        if self.steps > 200_000:
            raise _Stuck
        super().tick(seconds)


def debian(expression: str, tz: ZoneInfo, after: datetime) -> list[datetime] | None:
    """The next FIRES times cronsim gives when run in ``tz``; None if it gets stuck."""
    times = _BoundedCronSim(expression, after.astimezone(tz))
    try:
        return [next(times).astimezone(UTC) for _ in range(FIRES)]
    except _Stuck:
        return None


# --- classifying a case ---------------------------------------------------------------------


@cache
def transitions(zone: str) -> tuple[tuple[datetime, timedelta, datetime], ...]:
    """(instant, offset change, wall time just before) of each transition in 2024-2032."""
    tz = ZoneInfo(zone)
    found = []
    day = datetime(2024, 1, 1, tzinfo=UTC)
    while day.year < 2032:
        following = day + timedelta(days=1)
        if day.astimezone(tz).utcoffset() != following.astimezone(tz).utcoffset():
            found.append(_bisect(tz, day, following))
        day = following
    return tuple(found)


def _bisect(tz: ZoneInfo, low: datetime, high: datetime) -> tuple[datetime, timedelta, datetime]:
    """The transition between ``low`` and ``high``, to the second."""
    before = low.astimezone(tz).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == before:
            low = middle
        else:
            high = middle
    change = (high.astimezone(tz).utcoffset() or timedelta()) - (before or timedelta())
    return high, change, wall_of(low, tz) + timedelta(seconds=1)


def midnight_gap_near(zone: str, start: datetime, end: datetime) -> bool:
    """Whether the clock jumps forward from 00:00 (there is no midnight that day) in the window."""
    return any(
        start - timedelta(days=1) <= instant <= end + timedelta(days=1)
        and change > timedelta(0)
        and (wall.hour, wall.minute, wall.second) == (0, 0, 0)
        for instant, change, wall in transitions(zone)
    )


def odd_transition_near(zone: str, start: datetime, end: datetime) -> bool:
    """Whether a DST change that is not a whole hour at a whole hour happens in the window."""
    return any(
        start - timedelta(days=1) <= instant <= end + timedelta(days=1)
        and (change % timedelta(hours=1) or wall.minute)
        for instant, change, wall in transitions(zone)
    )


def classify(expression: str, zone: str, after: datetime) -> tuple[str, str]:
    """The category of one case, and details for a failure message."""
    tz = ZoneInfo(zone)
    try:
        trigger = parse_trigger("cron", {"expression": expression})
    except ScheduleError as error:
        return _classify_refusal(expression, error)
    assert isinstance(trigger, CronTrigger)
    ours = fire_times(trigger, tz, after, FIRES)
    clock = spec_follows_clock(expression)
    try:
        expected = reference(expression, tz, after, clock)
    except CronSimError as error:
        return "unexplained: accepted, but cronsim refuses it", str(error)
    if ours != expected:
        return "unexplained: differs from the SPEC reference", f"{_show(ours)} != {_show(expected)}"
    theirs = debian(expression, tz, after)
    if ours == theirs:
        return "agree", ""
    if theirs is None:
        stuck_near_odd = odd_transition_near(zone, after, after + timedelta(days=2))
        return (
            ("cronsim: DST shift not on a whole hour", "")
            if stuck_near_odd
            else ("unexplained: cronsim is stuck", _show(ours))
        )
    details = f"almanac {_show(ours)} debian {_show(theirs)}"
    debian_clock = debian_follows_clock(expression)
    if theirs == reference(expression, tz, after, debian_clock) and clock != debian_clock:
        if debian_clock:
            return "SPEC 4.2: fixed hour, Debian follows the clock", details
        return "SPEC 4.2: hour step follows the clock, Debian does not", details
    if _restarts_in_fold(after, tz, theirs, reference(expression, tz, after, debian_clock)):
        return "cronsim: started inside a repeated hour", details
    end = max(ours[-1:] + theirs[-1:])
    if odd_transition_near(zone, after, end):
        return "cronsim: DST shift not on a whole hour", details
    if midnight_gap_near(zone, after, end):
        return "cronsim: midnight that does not exist", details
    return "unexplained: differs from Debian cron", details


def _restarts_in_fold(
    after: datetime, tz: ZoneInfo, theirs: list[datetime], expected: list[datetime]
) -> bool:
    """Whether ``after`` is the second run of its wall time and cronsim went back before it."""
    runs = clock_instants(wall_of(after, tz), tz)
    later = [instant for instant in theirs if instant > after]
    return runs[-1:] == [after] and len(runs) == 2 and later == expected[: len(later)]


def _classify_refusal(expression: str, error: ScheduleError) -> tuple[str, str]:
    """A refusal is explained only if the expression really never fires."""
    if "never matches" not in error.message:
        return "unexplained: refused", error.message
    try:
        first = next(iter(_walls(expression, datetime(2000, 1, 1))), None)
    except CronSimError:
        first = None
    if first is None or first.year > 2030:
        return "refused: never fires", ""
    return "unexplained: refused but cronsim fires", f"{first}"


def _show(times: list[datetime]) -> str:
    """Times as short UTC strings for failure messages."""
    return "[" + ", ".join(t.strftime("%m-%d %H:%M:%S") for t in times) + "]"


# --- random cases ---------------------------------------------------------------------------

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# Field bounds; hours around 0-4 are where DST changes happen, so they are drawn more often.
_BOUNDS = {"second": (0, 59), "minute": (0, 59), "hour": (0, 23), "day": (1, 31)}
_BOUNDS |= {"month": (1, 12), "weekday": (0, 7)}


def _number(rng: random.Random, kind: str) -> int:
    """A value for ``kind``, biased towards the small hours and the first days."""
    low, high = _BOUNDS[kind]
    if kind == "hour" and rng.random() < 0.6:
        return rng.randint(0, 4)
    return rng.randint(low, high)


def _name(rng: random.Random, kind: str, value: int) -> str:
    """``value`` as a number, or sometimes as a month or weekday name."""
    if kind == "month" and rng.random() < 0.3:
        return _MONTHS[value - 1]
    if kind == "weekday" and value < 7 and rng.random() < 0.3:
        return _WEEKDAYS[value]
    return str(value)


def _item(rng: random.Random, kind: str) -> str:
    """One list item: N, N-M (often N-N), N-M/S or N/S."""
    low = _number(rng, kind)
    high = low if rng.random() < 0.3 else rng.randint(low, _BOUNDS[kind][1])
    shape = rng.choice(("value", "range", "range", "step", "start-step"))
    if shape == "value":
        return _name(rng, kind, low)
    span = f"{_name(rng, kind, low)}-{_name(rng, kind, high)}"
    if shape == "range":
        return span
    step = rng.randint(1, 12)
    if shape == "start-step" and kind != "weekday":
        return f"{low}/{step}"
    return f"{span}/{step}"


def _field(rng: random.Random, kind: str) -> str:
    """A random field: mostly * for days and months, lists and steps elsewhere."""
    wild = {"month": 0.7, "day": 0.55, "weekday": 0.55}.get(kind, 0.25)
    roll = rng.random()
    if roll < wild:
        return "*"
    if roll < wild + 0.15:
        return f"*/{rng.randint(1, 15)}"
    return ",".join(_item(rng, kind) for _ in range(rng.choice((1, 1, 2, 3))))


def _days(rng: random.Random) -> tuple[str, str]:
    """Day-of-month and day-of-week, sometimes with L, nL or n#k (unsupported OR avoided)."""
    day, weekday = _field(rng, "day"), _field(rng, "weekday")
    roll = rng.random()
    if roll < 0.05:
        day = "L"
    elif roll < 0.08:
        day, weekday = rng.choice(("*", "*/2")), f"{rng.randint(0, 7)}L"
    elif roll < 0.11:
        day, weekday = rng.choice(("*", "*/3")), f"{rng.randint(0, 7)}#{rng.randint(1, 5)}"
    return day, weekday


def expression(rng: random.Random) -> str:
    """A random five-field expression, or a six-field one with seconds first."""
    day, weekday = _days(rng)
    month = _field(rng, "month")
    if rng.random() < 0.03:
        # 30 February: never under AND (weekday starts with *), every Monday under OR.
        day, month, weekday = rng.choice(("30", "30-31", "31")), "2", rng.choice(("*", "*/2", "1"))
    fields = [_field(rng, "minute"), _field(rng, "hour"), day, month, weekday]
    if rng.random() < 0.25:
        fields.insert(0, _field(rng, "second"))
    return " ".join(fields)


def start(rng: random.Random, zone: str) -> datetime:
    """Mostly just before a DST change, some up to two days before, else any time in 2025-2030."""
    changes = [instant for instant, _, _ in transitions(zone) if instant.year >= 2025]
    roll = rng.random()
    if changes and roll < 0.6:
        base = rng.choice(changes) - timedelta(minutes=rng.randint(-30, 180))
    elif changes and roll < 0.8:
        base = rng.choice(changes) - timedelta(minutes=rng.randint(-120, 48 * 60))
    else:
        base = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 3_000_000))
    return base.replace(second=rng.choice((0, 0, rng.randint(0, 59))), microsecond=0)


def cases(seed: int, count: int) -> Iterator[tuple[int, str, str, datetime]]:
    """``count`` reproducible cases: (index, expression, zone, start)."""
    for index in range(count):
        rng = random.Random(f"{seed}:{index}")
        zone = rng.choice(ZONES)
        yield index, expression(rng), zone, start(rng, zone)


# --- the test -------------------------------------------------------------------------------


def run(seed: int, count: int, check: Callable[..., tuple[str, str]] = classify) -> Counter[str]:
    """Classify ``count`` cases; return the counts and raise listing unexplained ones."""
    counts: Counter[str] = Counter()
    failures = []
    for index, expr, zone, after in cases(seed, count):
        category, details = check(expr, zone, after)
        counts[category] += 1
        if category not in EXPLANATIONS:
            failures.append(f"case {index}: {expr!r} {zone} after {after:%Y-%m-%d %H:%M:%S}Z")
            failures.append(f"    {category}: {details}")
    assert not failures, f"seed {seed}:\n" + "\n".join(failures[:40])
    return counts


def test_cron_times_match_an_independent_implementation():
    began = time.perf_counter()
    counts = run(SEED, CASES)
    elapsed = time.perf_counter() - began
    print(f"\ncron property: seed {SEED}, {CASES} cases in {elapsed:.1f}s")
    for category, number in counts.most_common():
        print(f"  {number:5d}  {category}")
    assert sum(counts.values()) == CASES
    # A run that never meets a DST difference or a refusal would prove little.
    if CASES >= 1000:
        assert sum(n for category, n in counts.items() if category.startswith(("SPEC", "cron"))) > 5
        assert counts["refused: never fires"] > 0
