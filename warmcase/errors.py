"""The one hierarchy of errors that warmcase raises.

Every refusal says what was wrong, why, and what would be accepted. A refused
command appends nothing, so catching one of these leaves the store as it was.
Aggregate modules define their specific refusals as subclasses of these bases.
"""

from __future__ import annotations


class WarmcaseError(Exception):
    """Base of every error warmcase raises on purpose."""


class CommandRefused(WarmcaseError):
    """A command was refused; nothing was appended."""


class InvalidCommand(CommandRefused, ValueError):
    """The command's arguments are malformed (wrong type, empty, out of range)."""


class NotFound(CommandRefused, LookupError):
    """The command names a household, lot, visit, patrol or campaign that does not exist."""


class AlreadyExists(CommandRefused):
    """The command would create something that already exists under that reference."""


class RuleViolation(CommandRefused):
    """The command breaks a rule of the campaign (stock, duplicate aid, signatures, ...)."""


class WrongState(CommandRefused):
    """The command does not fit the current state (e.g. completing a cancelled visit)."""


class EffectiveTimeRefused(InvalidCommand):
    """The effective time is naive, in the future, or outside what the rule allows."""


class ConcurrencyConflict(WarmcaseError):
    """Other writers kept changing the same records; the command was retried and gave up."""


class StoreError(WarmcaseError):
    """The store cannot be opened or used (bad URL, unreachable server, wrong schema)."""


class StoredHistoryError(WarmcaseError):
    """Stored history cannot be read (unknown event type, undecodable bytes)."""


class ProjectionFailed(WarmcaseError):
    """A projection's rule raised on an event; its view stays at its last saved batch."""

    def __init__(self, projection: str, position: int, event_type: str, cause: Exception) -> None:
        self.projection = projection
        self.position = position
        self.event_type = event_type
        super().__init__(
            f"projection {projection!r} failed on the {event_type} event at position "
            f"{position}: {type(cause).__name__}: {cause}; its view stays at the last batch "
            f"saved before it, and following stops until the rule is fixed (bump the "
            f"projection's version if the fix changes what earlier events gave)"
        )
