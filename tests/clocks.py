"""A clock that tests move by hand, so "now" and recorded times are theirs to choose."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

#: The default "now" of the tests: the visit week of the Spring Festival 2027 campaign.
TEST_NOW = datetime(2027, 1, 25, 9, 0, tzinfo=SHANGHAI)


class ManualClock:
    """Returns a fixed moment until moved with :meth:`set` or :meth:`advance`."""

    def __init__(self, start: datetime = TEST_NOW) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        """Jump to `moment` (backwards too: the store must keep recorded time monotonic)."""
        with self._lock:
            self._now = moment

    def advance(self, step: timedelta) -> datetime:
        """Move forward by `step`; returns the new now."""
        with self._lock:
            self._now += step
            return self._now


def at(day: int, hour: int = 9, minute: int = 0, month: int = 1, year: int = 2027) -> datetime:
    """A moment in Shanghai time, by default in January 2027."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)
