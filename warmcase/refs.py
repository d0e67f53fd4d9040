"""Natural references ("H-0001", "L-2027-031") and the stream ids derived from them.

Ids are `uuid5` of the kind and the reference, so the same household registered
twice maps to the same stream and the store itself refuses the second one, and
imports are idempotent.
"""

from __future__ import annotations

import re
from uuid import UUID, uuid5

from warmcase.errors import InvalidCommand

#: Fixed forever: changing it would orphan every stored stream.
NAMESPACE = UUID("6f1d3c52-8a07-5b1e-9c3f-2b7e4a9d0c11")

_REF_PATTERN = re.compile(r"^[^\s\x00-\x1f]{1,64}$")


def stream_id(kind: str, ref: str) -> UUID:
    """The stream id of the aggregate of `kind` named `ref`."""
    return uuid5(NAMESPACE, f"{kind}:{ref}")


def checked_ref(kind: str, ref: object) -> str:
    """`ref` if it is a usable reference; otherwise refuse with what would be accepted."""
    if not isinstance(ref, str) or not _REF_PATTERN.match(ref):
        msg = (
            f"{kind} reference {ref!r} is not usable: a reference is 1 to 64 characters "
            f"with no spaces or control characters, e.g. 'H-0001'"
        )
        raise InvalidCommand(msg)
    return ref
