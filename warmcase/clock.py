"""Time: the two clocks and the rules every effective time must follow.

Effective time (valid time) is when something happened in the world; a caller may
backdate it but never put it in the future. Recorded time is assigned by the store
at commit and can never be supplied by a caller.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from warmcase.errors import EffectiveTimeRefused, InvalidCommand

DEFAULT_TIMEZONE = "Asia/Shanghai"

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware."""


def system_clock() -> datetime:
    """The machine's clock, in UTC."""
    return datetime.now(UTC)


def zone(name: str) -> ZoneInfo:
    """The time zone named `name`, or a refusal that says what names look like."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        msg = f"time zone {name!r} is unknown: use an IANA name such as 'Asia/Shanghai'"
        raise InvalidCommand(msg) from error


def require_aware(value: object, field: str) -> datetime:
    """`value` if it is a timezone-aware datetime; a typed refusal otherwise."""
    if not isinstance(value, datetime):
        msg = f"{field} must be a timezone-aware datetime, got {type(value).__name__} {value!r}"
        raise InvalidCommand(msg)
    if value.tzinfo is None or value.utcoffset() is None:
        msg = (
            f"{field} {value.isoformat()} has no time zone: warmcase compares moments across "
            f"offices, so give one, e.g. "
            f"datetime(2027, 1, 20, 9, 0, tzinfo=ZoneInfo('Asia/Shanghai'))"
        )
        raise EffectiveTimeRefused(msg)
    return value


def effective_time(value: datetime | None, now: datetime) -> datetime:
    """The effective time of a command: `now` by default, backdated if given, never future."""
    if value is None:
        return now
    moment = require_aware(value, "effective_at")
    if moment > now:
        msg = (
            f"effective_at {moment.isoformat()} is in the future (now is {now.isoformat()}): "
            f"record what has happened, at the time it happened or earlier"
        )
        raise EffectiveTimeRefused(msg)
    return moment


def start_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The first moment of `day` in `tz`."""
    return datetime.combine(day, time.min, tzinfo=tz)


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    """The calendar day of `moment` in `tz`."""
    return moment.astimezone(tz).date()


def week_start(day: date) -> date:
    """The Monday of the ISO week that holds `day`."""
    return day - timedelta(days=day.weekday())
