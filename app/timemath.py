"""Pure schedule math: validate trigger configs and compute fire times as UTC instants.

Cron schedules are defined in the job's *local wall-clock time* ("09:00 in Berlin"),
while everything Almanac stores and compares is UTC. The two are not a fixed offset
apart: on a DST change day a local time can be skipped (spring forward) or occur twice
(fall back). So cron matching is done on naive local wall times and each match is then
mapped to UTC by an explicit rule (SPEC §4.2), never by adding a fixed offset.
Intervals are elapsed time and are computed in UTC directly, so DST cannot stretch them.
"""

import functools
import heapq
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterBadDateError, croniter

from app import cronfields

# Instants outside these years are refused: zone offsets would overflow datetime.
MIN_YEAR = 1970
MAX_YEAR = 9998

JOB_TYPES = ("interval", "cron", "date")

_SECOND = timedelta(seconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_TIMEZONE_LENGTH = 100
# These resolve to whatever the host is configured with, not to a fixed place.
_HOST_DEPENDENT_ZONES = frozenset({"localtime", "posixrules"})

_INTERVAL_UNIT_SECONDS = dict(weeks=604_800, days=86_400, hours=3_600, minutes=60, seconds=1)
_MAX_INTERVAL_SECONDS = 366 * 86_400

# Fixed, so validation does not depend on today's date; 30 years covers Feb 29 and rare
# combinations such as "fifth Monday of February" (every 28 years at worst).
_CRON_PROBE_START = datetime(2000, 1, 1)
_CRON_SCAN_SPAN = timedelta(days=366 * 30)
# Offsets rarely jump by more than 2 h; look this far ahead for a fall-back fold.
_FOLD_LOOKAHEAD_HOURS = 3

_RUN_AT_FORMAT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2})?")
_RUN_AT_OFFSET = re.compile(r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)", re.IGNORECASE)


class ScheduleError(ValueError):
    """Invalid schedule; .field names the offending config key, .message is one sentence."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class IntervalTrigger:
    """Fire every ``every`` of elapsed time from an anchor instant."""

    every: timedelta

    def __post_init__(self) -> None:
        if self.every <= timedelta(0):
            raise ScheduleError("scheduleConfig", "The interval must be positive.")


@dataclass(frozen=True)
class CronTrigger:
    """Fire whenever the local wall-clock time matches a 5- or 6-field cron expression."""

    expression: str


@dataclass(frozen=True)
class DateTrigger:
    """Fire once at a naive wall-clock time in the job's timezone."""

    run_at: datetime

    def __post_init__(self) -> None:
        if self.run_at.tzinfo is not None:
            raise ScheduleError("runAt", "The run time must be a naive local wall-clock time.")


Trigger = IntervalTrigger | CronTrigger | DateTrigger


@dataclass(frozen=True)
class _Window:
    """The bounds a fire time must respect, all in UTC."""

    after: datetime
    start: datetime | None
    end: datetime | None

    def admits(self, instant: datetime) -> bool:
        """Whether ``instant`` is after ``after`` and within start/end."""
        return (
            instant > self.after
            and (self.start is None or instant >= self.start)
            and (self.end is None or instant <= self.end)
        )


# --- parsing ------------------------------------------------------------------------------


@functools.cache
def known_timezones() -> frozenset[str]:
    """Every IANA zone this host can load, less the aliases of the host's own zone."""
    return frozenset(available_timezones() - _HOST_DEPENDENT_ZONES)


def parse_timezone(name: str) -> ZoneInfo:
    """Return the IANA zone called ``name``, or raise ScheduleError("timezone", ...)."""
    if not isinstance(name, str) or not name:
        raise ScheduleError("timezone", "The timezone must be an IANA name such as Europe/Berlin.")
    unusable = "\x00" in name or len(name) > _MAX_TIMEZONE_LENGTH
    if not unusable and name not in _HOST_DEPENDENT_ZONES:
        try:
            return ZoneInfo(name)
        # ZoneInfo raises KeyError subclasses, ValueError (paths, bad files) and OSError.
        except (ZoneInfoNotFoundError, ValueError, OSError, TypeError):
            pass
    shown = name[:40].replace("\x00", "\\0")
    raise ScheduleError("timezone", f"Unknown timezone {shown!r}; use an IANA name like UTC.")


def parse_trigger(job_type: str, config: object) -> Trigger:
    """Validate a job type and its scheduleConfig object and return the trigger."""
    parser = _TRIGGER_PARSERS.get(job_type) if isinstance(job_type, str) else None
    if parser is None:
        raise ScheduleError("jobType", f"The job type must be one of {', '.join(JOB_TYPES)}.")
    if not isinstance(config, dict):
        raise ScheduleError("scheduleConfig", "The schedule config must be a JSON object.")
    return parser(config)


def _reject_unknown_keys(config: Mapping[str, object], allowed: tuple[str, ...]) -> None:
    """Raise for the first key that is not in ``allowed``, naming that key."""
    for key in config:
        if key not in allowed:
            field = str(key)[:40]
            raise ScheduleError(field, f"Unknown setting {field!r}; allowed: {', '.join(allowed)}.")


def _parse_interval(config: Mapping[str, object]) -> IntervalTrigger:
    """Parse {weeks, days, hours, minutes, seconds} into an elapsed-time trigger."""
    _reject_unknown_keys(config, tuple(_INTERVAL_UNIT_SECONDS))
    if not config:
        raise ScheduleError("scheduleConfig", "Give at least one of weeks, days, hours, minutes.")
    # Python ints do not overflow, so huge values fail the range check instead of crashing.
    total = sum(
        _interval_amount(key, value) * _INTERVAL_UNIT_SECONDS[key] for key, value in config.items()
    )
    if not 1 <= total <= _MAX_INTERVAL_SECONDS:
        raise ScheduleError("scheduleConfig", "The interval must be between 1 second and 366 days.")
    return IntervalTrigger(timedelta(seconds=total))


def _interval_amount(key: str, value: object) -> int:
    """Return ``value`` as a non-negative whole number or raise naming ``key``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ScheduleError(key, f"{key} must be a whole number of zero or more.")
    return value


def _parse_cron(config: Mapping[str, object]) -> CronTrigger:
    """Parse {expression} into a cron trigger that is known to fire."""
    _reject_unknown_keys(config, ("expression",))
    expression = _normalize_cron(config.get("expression"))
    _check_cron_fires(expression)
    return CronTrigger(expression)


def _normalize_cron(raw: object) -> str:
    """Check the shape of a cron expression and return it single-spaced, aliases expanded."""
    try:
        return cronfields.normalize(raw)
    except cronfields.CronSyntaxError as exc:
        raise ScheduleError("expression", str(exc)) from None


def _check_cron_fires(expression: str) -> None:
    """Raise unless cron and croniter read ``expression`` alike and it fires within 30 years."""
    spec = _cron_spec(expression)
    try:
        first = _cron_iterator(expression, _CRON_PROBE_START).get_next(datetime)
    except CroniterBadDateError:
        first = None
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise ScheduleError("expression", f"Invalid cron expression ({exc}).") from exc
    if first is None or first - _CRON_PROBE_START > _CRON_SCAN_SPAN:
        both = cronfields.BOTH_DAYS_HINT if spec.days_anded else ""
        raise ScheduleError("expression", f"This cron expression never matches a real date.{both}")


def _cron_spec(expression: str) -> cronfields.CronSpec:
    """The expression's fields read per crontab(5), or ScheduleError("expression", ...)."""
    try:
        return cronfields.parse(expression)
    except cronfields.CronSyntaxError as exc:
        raise ScheduleError("expression", str(exc)) from None


def describe_days(expression: str) -> str | None:
    """The days a cron expression runs on, in English; None when it runs every day."""
    return cronfields.describe_days(_cron_spec(_normalize_cron(expression)))


def _parse_date(config: Mapping[str, object]) -> DateTrigger:
    """Parse {runAt} (local ISO-8601 without offset) into a one-off trigger."""
    _reject_unknown_keys(config, ("runAt",))
    raw = config.get("runAt")
    if not isinstance(raw, str):
        raise ScheduleError("runAt", "runAt must be a string like 2026-12-01T09:00:00.")
    match = _RUN_AT_FORMAT.match(raw)
    if match and _RUN_AT_OFFSET.fullmatch(raw[match.end() :]):
        raise ScheduleError("runAt", "Give runAt without Z or offset; the job's timezone applies.")
    invalid = ScheduleError("runAt", "runAt must be a real local time like 2026-12-01T09:00.")
    if not _RUN_AT_FORMAT.fullmatch(raw):
        raise invalid
    try:
        run_at = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise invalid from exc
    # Far ends of datetime's range overflow once shifted by a zone's offset.
    if not MIN_YEAR <= run_at.year <= MAX_YEAR:
        raise ScheduleError("runAt", f"runAt must be between the years {MIN_YEAR} and {MAX_YEAR}.")
    return DateTrigger(run_at)


_TRIGGER_PARSERS: dict[str, Callable[[Mapping[str, object]], Trigger]] = {
    "interval": _parse_interval,
    "cron": _parse_cron,
    "date": _parse_date,
}


# --- wall time <-> UTC --------------------------------------------------------------------


def resolve_wall_time(naive: datetime, tz: ZoneInfo) -> datetime:
    """Map a naive local time to UTC: skipped times to the gap's end, repeated ones to the first."""
    if naive.tzinfo is not None:
        raise ValueError("resolve_wall_time expects a naive wall-clock time")
    naive = naive.replace(fold=0)
    # fold=0 picks the first occurrence of a repeated time; a skipped time does not survive
    # the round trip through UTC, which is how it is detected.
    first = naive.replace(tzinfo=tz).astimezone(UTC)
    if _wall_time(first, tz) == naive:
        return first
    return _gap_end(naive, tz)


def _wall_time(instant: datetime, tz: ZoneInfo) -> datetime:
    """Return the naive local wall time shown in ``tz`` at ``instant``."""
    return instant.astimezone(tz).replace(tzinfo=None, fold=0)


def _gap_end(naive: datetime, tz: ZoneInfo) -> datetime:
    """Return the transition instant that ends the spring-forward gap containing ``naive``."""
    # A skipped time read with the offset after the jump (fold=1) lands before the transition,
    # read with the offset before it (fold=0) lands after; bisect in whole seconds between,
    # since tz transitions fall on whole seconds.
    low = (naive.replace(tzinfo=tz, fold=1) - _EPOCH) // _SECOND
    high = -((_EPOCH - naive.replace(tzinfo=tz, fold=0)) // _SECOND)
    after_offset = _offset(_EPOCH + high * _SECOND, tz)
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(_EPOCH + middle * _SECOND, tz) == after_offset:
            high = middle
        else:
            low = middle
    return _EPOCH + high * _SECOND


def _offset(instant: datetime, tz: ZoneInfo) -> timedelta:
    """The UTC offset in effect in ``tz`` at ``instant``."""
    return instant.astimezone(tz).utcoffset() or timedelta(0)


def _clock_instants(wall: datetime, tz: ZoneInfo) -> tuple[datetime, ...]:
    """Every instant the clock in ``tz`` shows ``wall``: none in a gap, two in a fold."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if _wall_time(first, tz) != wall:
        return ()
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return (first,) if second == first else (first, second)


# --- fire times ---------------------------------------------------------------------------


def fire_times(
    trigger: Trigger,
    tz: ZoneInfo,
    after: datetime,
    count: int,
    *,
    anchor: datetime | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[datetime]:
    """Return up to ``count`` ascending UTC fire times after ``after`` within start/end."""
    window = _Window(_utc(after), _utc_or_none(start), _utc_or_none(end))
    if count <= 0:
        return []
    match trigger:
        case IntervalTrigger(every=every):
            origin = anchor if anchor is not None else (start if start is not None else after)
            return _interval_times(every, _utc(origin), window, count)
        case CronTrigger(expression=expression):
            return list(islice(_cron_times(expression, tz, window), count))
        case DateTrigger(run_at=run_at):
            instant = resolve_wall_time(run_at, tz)
            return [instant] if window.admits(instant) else []


def next_fire_time(
    trigger: Trigger,
    tz: ZoneInfo,
    after: datetime,
    *,
    anchor: datetime | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> datetime | None:
    """Return the first fire time after ``after`` within start/end, or None."""
    times = fire_times(trigger, tz, after, 1, anchor=anchor, start=start, end=end)
    return times[0] if times else None


def _utc(instant: datetime) -> datetime:
    """Convert an aware datetime to UTC; naive ones are a programming error."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("fire time bounds must be timezone-aware datetimes")
    return instant.astimezone(UTC)


def _utc_or_none(instant: datetime | None) -> datetime | None:
    """``_utc`` that passes None through."""
    return None if instant is None else _utc(instant)


def _interval_times(every: timedelta, anchor: datetime, window: _Window, n: int) -> list[datetime]:
    """Return ``anchor + k*every`` fire times admitted by ``window`` (elapsed time, no DST)."""
    # Anchors may be years back, so jump straight to the first admissible k.
    first = (window.after - anchor) // every + 1
    if window.start is not None:
        first = max(first, -((anchor - window.start) // every))
    times: list[datetime] = []
    for k in range(max(first, 0), max(first, 0) + n):
        try:
            instant = anchor + k * every
        except OverflowError:
            break
        if window.end is not None and instant > window.end:
            break
        times.append(instant)
    return times


def _cron_times(expression: str, tz: ZoneInfo, window: _Window) -> Iterator[datetime]:
    """Yield the cron trigger's fire times admitted by ``window``, strictly increasing."""
    floor = window.after if window.start is None else max(window.after, window.start)
    last: datetime | None = None
    for instant in _ordered_instants(expression, tz, floor - _SECOND):
        if window.end is not None and instant > window.end:
            return
        if (last is None or instant > last) and window.admits(instant):
            last = instant
            yield instant


def _ordered_instants(expression: str, tz: ZoneInfo, floor: datetime) -> Iterator[datetime]:
    """Yield UTC instants for local matches after ``floor`` in non-decreasing UTC order."""
    follows_clock = _follows_clock(expression)
    pending: list[datetime] = []
    for wall in _wall_times(expression, _earliest_wall_time(floor, tz)):
        # In a fall-back fold, naive order is not UTC order (01:59 EDT comes before 01:00 EST),
        # so buffer instants. resolve_wall_time never decreases as wall time grows and is a
        # lower bound for every later instant, so anything at or below it is safe to emit.
        lowest = resolve_wall_time(wall, tz)
        for instant in _clock_instants(wall, tz) if follows_clock else (lowest,):
            heapq.heappush(pending, instant)
        while pending and pending[0] <= lowest:
            yield heapq.heappop(pending)
    while pending:
        yield heapq.heappop(pending)


def _follows_clock(expression: str) -> bool:
    """Whether the hour field is a wildcard or step, i.e. "hourly and more often" (SPEC §4.2)."""
    return _cron_spec(expression).follows_clock


def _earliest_wall_time(floor: datetime, tz: ZoneInfo) -> datetime:
    """A naive local time before every wall time whose instants can fall after ``floor``."""
    # After a fall-back the clock shows earlier wall times again, so start from the smallest
    # offset in effect soon after ``floor``, not from its own wall time.
    hours = range(_FOLD_LOOKAHEAD_HOURS + 1)
    smallest = min(_offset(floor + timedelta(hours=hour), tz) for hour in hours)
    return floor.replace(tzinfo=None) + smallest


def _wall_times(expression: str, begin: datetime) -> Iterator[datetime]:
    """Yield naive wall times matching ``expression`` after ``begin``, for at most 30 years."""
    limit = begin + _CRON_SCAN_SPAN if begin < datetime.max - _CRON_SCAN_SPAN else datetime.max
    matches = _cron_iterator(expression, begin)
    while True:
        try:
            wall = matches.get_next(datetime)
        except (ValueError, OverflowError):  # incl. CroniterBadDateError: no match in 50 years
            return
        if wall > limit:
            return
        yield wall


def _cron_iterator(expression: str, begin: datetime) -> "croniter[datetime]":
    """A croniter over naive wall times; 6-field expressions put seconds first."""
    # croniter sees explicit values and the crontab(5) day rule, never the user's text:
    # it reads "4-4" as "*" and would OR day fields that cron ANDs (see cronfields).
    spec = _cron_spec(expression)
    return croniter(
        spec.croniter_expression(),
        begin,
        ret_type=datetime,
        second_at_beginning=True,
        day_or=spec.day_or,
    )


# --- DST flags and impossible schedules (for previews) --------------------------------------
# Added for the schedule preview service; kept apart from the parsing and fire-time code.


@dataclass(frozen=True)
class FireFlags:
    """How DST touched one fire time.

    ``shifted``: the wall time the schedule names does not exist that day (spring
    forward), so the fire moved to the end of the gap. ``repeated``: the clock
    shows this wall time twice (fall back); jobs at fixed hours fire at the first
    occurrence only, clock-following ones (hourly and more often) at both.
    """

    shifted: bool
    repeated: bool


def classify_fire(trigger: Trigger, instant: datetime, tz: ZoneInfo) -> FireFlags:
    """The DST flags of a fire time ``instant`` (UTC) of ``trigger`` in ``tz``."""
    wall = _wall_time(_utc(instant), tz)
    repeated = len(_clock_instants(wall, tz)) == 2
    return FireFlags(shifted=_was_shifted(trigger, _utc(instant), wall, tz), repeated=repeated)


def _was_shifted(trigger: Trigger, instant: datetime, wall: datetime, tz: ZoneInfo) -> bool:
    match trigger:
        case DateTrigger(run_at=run_at):
            return not _clock_instants(run_at.replace(fold=0), tz)
        case CronTrigger(expression=expression):
            # Moved to a gap's end: the instant opens a spring-forward transition and the
            # wall time it shows is not itself one the expression names.
            return _ends_gap(instant, tz) and not _cron_matches(expression, wall)
    return False


def _ends_gap(instant: datetime, tz: ZoneInfo) -> bool:
    """Whether a spring-forward transition happens exactly at ``instant``."""
    return _offset(instant - _SECOND, tz) < _offset(instant, tz)


def _cron_matches(expression: str, wall: datetime) -> bool:
    """Whether ``expression`` names the naive wall time ``wall`` itself."""
    try:
        return bool(_cron_iterator(expression, wall - _SECOND).get_next(datetime) == wall)
    except (ValueError, OverflowError):
        return False


def cron_never_matches(raw: object) -> bool:
    """True for a well-formed cron expression that no real date matches (``0 0 30 2 *``)."""
    try:
        expression = _normalize_cron(raw)
        first = _cron_iterator(expression, _CRON_PROBE_START).get_next(datetime)
    except CroniterBadDateError:
        return True
    except (ScheduleError, ValueError, TypeError, KeyError, IndexError, OverflowError):
        return False
    return bool(first - _CRON_PROBE_START > _CRON_SCAN_SPAN)
