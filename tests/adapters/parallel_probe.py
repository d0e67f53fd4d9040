"""Projections the parallel rebuild tests send to child processes: rules that fail."""

from __future__ import annotations

import os
from typing import ClassVar

import warmcase.app  # noqa: F401 - registers every event type
from warmcase.domain.household import HouseholdSurveyed
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
