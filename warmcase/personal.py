"""Personal data: values that are stored encrypted and can be erased for good.

Names, ID numbers, phone numbers, exact addresses and health or income notes are
held in :class:`Personal` wrappers. The store encrypts each with the key of its
*subject* (a household or a person); erasing the subject destroys the key, after
which the value reads as erased while every event still replays.
"""

from __future__ import annotations

from typing import Protocol

import attrs

ERASED_TEXT = "[erased]"


@attrs.frozen(repr=False, eq=False)
class Personal:
    """A personal value that belongs to `subject`; ``value`` is None once erased.

    Two are equal when their subjects and values are, whatever their class: a store may
    hand out a subclass that decrypts its value only when it is first asked for.
    """

    subject: str
    value: str | None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Personal):
            return NotImplemented
        return self.subject == other.subject and self.value == other.value

    def __hash__(self) -> int:
        return hash((self.subject, self.value))

    @property
    def erased(self) -> bool:
        """Whether the subject's key was destroyed."""
        return self.value is None

    def __str__(self) -> str:
        return ERASED_TEXT if self.value is None else self.value

    def __repr__(self) -> str:
        # Never let plaintext reach logs through a repr.
        state = "erased" if self.value is None else "***"
        return f"Personal({self.subject!r}, {state})"


def household_subject(ref: str) -> str:
    """The key subject of a household's personal data."""
    return f"household:{ref}"


def person_subject(ref: str) -> str:
    """The key subject of a person met on patrol or calling the hotline."""
    return f"person:{ref}"


class Keyring(Protocol):
    """Keys per subject, kept by the store. Implemented by the storage adapters."""

    def key_for(self, subject: str, *, create: bool) -> bytes | None:
        """The subject's key (created if `create`); None if it was destroyed or never made."""
        ...

    def destroy(self, subject: str) -> bool:
        """Destroy the subject's key for good; whether there was one."""
        ...

    def id_digest(self, id_number: str) -> str:
        """A keyed hash of an ID number, equal for equal numbers, that reveals nothing."""
        ...
