"""The basis of an answer: the point in both clocks it was computed at.

``as_of`` says what the books said: a recorded time (a date means the end of that
day) or a global position.
``effective`` says what was true in the world: a valid time (a date means the end
of that day in the campaign's time zone), as known at ``as_of``. Asking again with
the basis of an answer gives the identical answer, whatever was appended since.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import attrs

from warmcase.clock import DEFAULT_TIMEZONE, require_aware, zone
from warmcase.errors import InvalidCommand
from warmcase.projections.history import History

AsOf = datetime | date | int | None
Effective = datetime | date | None


@attrs.frozen
class Basis:
    """Position, its recorded time, and the effective time an answer was computed at."""

    position: int
    recorded_at: datetime | None
    effective: datetime

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            "position": self.position,
            "recorded_at": None if self.recorded_at is None else self.recorded_at.isoformat(),
            "effective": self.effective.isoformat(),
        }


def end_of_day(day: date, timezone: str = DEFAULT_TIMEZONE) -> datetime:
    """The last microsecond of `day` in `timezone`."""
    next_day = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone(timezone))
    return next_day - timedelta(microseconds=1)


def resolve(
    history: History,
    *,
    as_of: AsOf,
    effective: Effective,
    now: datetime,
    timezone: str = DEFAULT_TIMEZONE,
) -> Basis:
    """The basis that `as_of` and `effective` name, both defaulting to now."""
    last = history.last_position()
    if as_of is None:
        position = last
    elif isinstance(as_of, bool) or not isinstance(as_of, int | date):
        msg = (
            f"as_of must be a datetime (recorded time), a date (its end) or an int "
            f"(position), got {as_of!r}"
        )
        raise InvalidCommand(msg)
    elif isinstance(as_of, int):
        if as_of < 0:
            msg = f"as_of position {as_of} is negative; positions start at 1 (0 = before any)"
            raise InvalidCommand(msg)
        position = min(as_of, last)
    elif isinstance(as_of, datetime):
        position = history.position_at(require_aware(as_of, "as_of"))
    else:
        position = history.position_at(end_of_day(as_of, timezone))
    recorded_at = history.recorded_at(position) if position else None
    if effective is None:
        moment = now if as_of is None else (recorded_at or now)
        # Nothing recorded by then can be effective later than its recording.
        moment = max(moment, recorded_at) if recorded_at else moment
    elif isinstance(effective, datetime):
        moment = require_aware(effective, "effective")
    elif isinstance(effective, date):
        moment = end_of_day(effective, timezone)
    else:
        msg = f"effective must be a datetime or a date, got {effective!r}"
        raise InvalidCommand(msg)
    return Basis(position=position, recorded_at=recorded_at, effective=moment)
