"""Small argument checks shared by every aggregate's decisions.

Each raises :class:`~warmcase.errors.InvalidCommand` naming the field, the value
and what would be accepted.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from warmcase.errors import InvalidCommand

_PHONE = re.compile(r"^\+?[0-9(][0-9 ()-]*[0-9]$")

MAX_QUANTITY = 10**12
"""Largest quantity (units, or fen for cash) any single movement may carry; keeps
every stored integer well inside msgpack's 64 bits."""


def text(value: object, field: str, *, max_length: int = 200) -> str:
    """A non-blank string of at most `max_length` characters, stripped."""
    if not isinstance(value, str) or not value.strip():
        msg = f"{field} must be a non-empty text, got {value!r}"
        raise InvalidCommand(msg)
    stripped = value.strip()
    if len(stripped) > max_length:
        msg = f"{field} is {len(stripped)} characters long; at most {max_length} are accepted"
        raise InvalidCommand(msg)
    return stripped


def optional_text(value: object, field: str, *, max_length: int = 2000) -> str | None:
    """None, or a non-blank string (see :func:`text`)."""
    if value is None:
        return None
    return text(value, field, max_length=max_length)


def reason(value: object, *, why: str) -> str:
    """A reason, required because `why` (e.g. 'a write-off needs one for the auditors')."""
    if not isinstance(value, str) or not value.strip():
        msg = f"a reason is required: {why}; give reason='...'"
        raise InvalidCommand(msg)
    return text(value, "reason", max_length=2000)


def quantity(value: object, field: str, *, allow_zero: bool = False) -> int:
    """A whole number of units (or fen), positive unless `allow_zero`, below MAX_QUANTITY."""
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"{field} must be a whole number, got {value!r}"
        raise InvalidCommand(msg)
    low = 0 if allow_zero else 1
    if not low <= value <= MAX_QUANTITY:
        msg = f"{field} is {value}; accepted: {low} to {MAX_QUANTITY}"
        raise InvalidCommand(msg)
    return value


def day(value: object, field: str) -> date:
    """A calendar date (not a datetime)."""
    if isinstance(value, datetime) or not isinstance(value, date):
        msg = f"{field} must be a date such as date(2027, 1, 20), got {value!r}"
        raise InvalidCommand(msg)
    return value


def one_of(value: object, field: str, accepted: tuple[str, ...]) -> str:
    """`value` if it is one of `accepted`."""
    if value not in accepted:
        msg = f"{field} {value!r} is not accepted; use one of: {', '.join(accepted)}"
        raise InvalidCommand(msg)
    assert isinstance(value, str)
    return value


def phone(value: object, field: str) -> str:
    """A phone number: 7 to 20 digits, optionally with +, spaces, hyphens or brackets."""
    digits = sum(ch.isdigit() for ch in value) if isinstance(value, str) else 0
    if not isinstance(value, str) or not _PHONE.match(value.strip()) or not 7 <= digits <= 20:
        msg = (
            f"{field} is not a phone number: give 7 to 20 digits, optionally with +, spaces, "
            f"hyphens or brackets, e.g. '13800138000' or '0571-87654321'"
        )
        raise InvalidCommand(msg)
    return value.strip()
