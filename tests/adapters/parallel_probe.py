"""Projections the parallel rebuild tests send to child processes: rules that fail."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import warmcase.app  # noqa: F401 - registers every event type
from warmcase.domain.household import HouseholdSurveyed
from warmcase.projections.audit_trail import AuditTrail
from warmcase.projections.projection import Meta, Projection, on


class Failing(Projection[int]):
    """Counts surveys, dividing by zero on the first: a rule with a bug."""

    name = "test.failing"
    # Heavier than the four standard projections together: it gets a process of its own.
    rebuild_cost: ClassVar[float] = 10.0

    def initial(self) -> int:
        return 0

    @on(HouseholdSurveyed)
    def surveyed(self, state: int, event: HouseholdSurveyed, meta: Meta) -> int:
        return state + 1 // (meta.position - meta.position)


class Dying(Projection[int]):
    """Ends its process on the first survey, as a crash of the interpreter would."""

    name = "test.dying"
    rebuild_cost: ClassVar[float] = 10.0

    def initial(self) -> int:
        return 0

    @on(HouseholdSurveyed)
    def surveyed(self, state: int, event: HouseholdSurveyed, meta: Meta) -> int:
        os._exit(3)


class Exploding(AuditTrail):
    """Reads what the audit trail reads (every type), costly enough to be a group alone,
    and fails on its first page: a bug in the group the calling process folds."""

    name = "test.exploding"
    rebuild_cost: ClassVar[float] = 10.0

    def fold_thawed(self, work: Any, recorded: Any) -> Any:
        return 1 // 0
