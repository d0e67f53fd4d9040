"""Text folding for finding the same household registered twice.

Two survey teams write the same head of household and address differently: with
full-width digits and letters (３号楼 / 3号楼), with spaces or without, in
traditional or simplified characters (陳國華 / 陈国华), with one of several dots
between the parts of an ethnic-minority name (买买提·艾力 / 买买提•艾力 / 买买提.艾力).
Folding both to one form lets the duplicate-aid report compare them.

:func:`fold` applies Unicode NFKC (full-width to half-width, compatibility
ideographs to unified ones) with case folding, removes every whitespace character,
writes every name-separator dot as ``·``, and writes each traditional character or
variant form in its simplified form (OpenCC's Hong Kong table, a superset of the
plain traditional-to-simplified one that also folds variants such as 衞 and 峯,
from the pure-Python ``opencc-python-reimplemented`` package).

Characters are converted one at a time, not by OpenCC's phrase tables: a name or an
address is not prose, and per-character folding, followed to its fixed point (薴 ->
苧 -> 苎), makes :func:`fold` idempotent and cheap. A character that is both a
traditional and a simplified form (乾 in 乾隆) may fold further than a reader would
write it; both sides of a comparison fold alike, so equal texts still compare equal.

Folded text is as personal as the text it came from: keep it in
:class:`~warmcase.personal.Personal` wrappers, never in plain fields.
"""

from __future__ import annotations

import unicodedata
from functools import cache

from opencc import OpenCC  # type: ignore[import-untyped]  # the package ships no type hints

NAME_DOT = "·"
"""The one dot that separates the parts of a transcribed name after folding."""

_NAME_DOTS = ".·•‧∙・⋅"
"""Dots written between the parts of transcribed names, as NFKC leaves them
(it already turns the full-width ．and the half-width ･ into . and ・)."""

_DOT_TABLE = str.maketrans(dict.fromkeys(_NAME_DOTS, NAME_DOT))

_CONVERSION = "hk2s"
"""Traditional (with Hong Kong variant forms) to simplified."""

_MAX_STEPS = 4
"""Variant chains are short (薴 -> 苧 -> 苎); a cycle in the tables must not loop forever."""


@cache
def _converter() -> OpenCC:
    # Loading the dictionaries takes a few milliseconds: once per process.
    return OpenCC(_CONVERSION)


@cache
def simplified_char(char: str) -> str:
    """The simplified form of one character, followed until it no longer changes."""
    current = char
    for _ in range(_MAX_STEPS):
        converted: str = _converter().convert(current)
        if converted == current or len(converted) != 1:
            break
        current = converted
    return current


def to_simplified(text: str) -> str:
    """`text` with each traditional character or variant form written simplified."""
    return "".join(map(simplified_char, text))


def _fold_once(text: str) -> str:
    compatible = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    joined = "".join(compatible.split()).translate(_DOT_TABLE)
    return to_simplified(joined)


def fold(text: str) -> str:
    """`text` in the one form that equal names and addresses share (see the module doc)."""
    folded = _fold_once(text)
    if _is_fixed(folded):
        return folded
    # Case folding and NFKC can each undo the other on rare letters: repeat to a fixed point.
    for _ in range(_MAX_STEPS):
        again = _fold_once(folded)
        if again == folded:
            break
        folded = again
    return folded


_SETTLED: set[str] = set()
"""Characters that every step of a fold leaves as they are (learnt as they are met)."""


def _is_fixed(text: str) -> bool:
    # Whether _fold_once(text) == text, without a second pass: every step but NFKC works
    # one character at a time, so it is enough that the text is NFKC-normal and each of
    # its characters is settled. Almost every folded text is, in about a third of a pass.
    if not unicodedata.is_normalized("NFKC", text):
        return False
    characters = set(text)
    if characters <= _SETTLED:
        return True
    for character in characters - _SETTLED:
        if not _is_settled(character):
            return False
        _SETTLED.add(character)
    return True


def _is_settled(character: str) -> bool:
    return (
        character.casefold() == character
        and not character.isspace()
        and character.translate(_DOT_TABLE) == character
        and simplified_char(character) == character
    )


def same_text(first: str, second: str) -> bool:
    """Whether `first` and `second` fold to the same form."""
    return fold(first) == fold(second)
