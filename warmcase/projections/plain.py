"""Any projection state or report value as plain JSON values.

Dates and times become ISO text, maps become dicts with text keys, sequences and
sets become lists (sets sorted when their items sort), attrs classes become dicts of
their fields, and personal values become their text (``[erased]`` once erased), so
a developer's own projection converts with nothing more to write.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import attrs

from warmcase.personal import Personal


def plain(value: Any) -> Any:  # noqa: PLR0911 - one branch per kind of value
    """`value` as JSON has it."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Personal):
        return str(value)
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {_key(key): plain(item) for key, item in value.items()}
    if isinstance(value, Set):
        items = [plain(item) for item in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if attrs.has(type(value)):
        fields = attrs.fields(type(value))
        return {field.name: plain(getattr(value, field.name)) for field in fields}
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "__iter__"):
        return [plain(item) for item in value]
    return str(value)


def _key(key: Any) -> str:
    converted = plain(key)
    return converted if isinstance(converted, str) else str(converted)
