"""What a projection is: an initial state and one rule per event type it reads.

A developer writes one module::

    class VisitsPerLeader(Projection[PMap[str, int]]):
        name = "visits_per_leader"

        def initial(self) -> PMap[str, int]:
            return pmap()

        @on(VisitPlanned)
        def planned(self, state: PMap[str, int], event: VisitPlanned, meta: Meta) -> PMap[str, int]:
            return state.set(event.leader, state.get(event.leader, 0) + 1)

and gets, with nothing more, answers as of any recorded time or position and for any
effective time, rebuilds, checkpoints and live updating. Rules are pure: they return
a new state and never refuse. The event types a projection reads are the ones its
rules name, so the store reads only those.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID

import attrs

from warmcase.events import Event
from warmcase.projections.transient import freeze, thaw

S = TypeVar("S")

E = TypeVar("E", bound=Event)

Rule = Callable[[Any, Any, Any, "Meta"], Any]


@attrs.frozen
class Meta:
    """Where an event sits in the history: what a rule may need besides the event."""

    position: int
    """Global position, assigned by the store at commit."""
    recorded_at: datetime
    """When the store recorded it (never supplied by a caller)."""
    stream_id: UUID
    version: int


def on(*event_classes: type[Event]) -> Callable[[Callable[..., S]], Callable[..., S]]:
    """Mark a method as the rule for `event_classes`."""

    def mark(method: Callable[..., S]) -> Callable[..., S]:
        method.__warmcase_reads__ = tuple(event_classes)  # type: ignore[attr-defined]
        return method

    return mark


class Projection(Generic[S]):
    """Base of every projection. Subclasses set `name`, `initial` and `@on` rules.

    ``version`` is bumped when the rules change, so saved checkpoints of the old
    rules are not reused.
    """

    name: ClassVar[str] = ""
    version: ClassVar[int] = 1
    checkpoint_every: ClassVar[int | None] = None
    """Positions between saved checkpoints of this projection (None: the application's).
    A projection whose state grows with every event it reads saves less often."""
    snapshot_every: ClassVar[int | None] = None
    """Events of this projection between the states a process holds in memory (None: the
    application's). A projection that reads few events holds them more often, so that an
    answer's tail spans few positions of the history too."""
    in_place: ClassVar[tuple[str, ...]] = ()
    """Fields of the state (pyrsistent maps and vectors) that a page of events may change
    in place: see :mod:`~warmcase.projections.transient`. Empty: a page is folded event
    by event."""
    rebuild_cost: ClassVar[float] = 1.0
    """What a full rebuild of this projection costs, relative to others (its fold and the
    reads of its events): a rebuild with several processes balances their groups by it."""
    _rules: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        rules: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            for attribute, member in vars(klass).items():
                for event_class in getattr(member, "__warmcase_reads__", ()):
                    rules[event_class.type_name] = attribute
        cls._rules = rules

    def initial(self) -> S:
        """The state before any event."""
        raise NotImplementedError

    @property
    def reads(self) -> frozenset[str]:
        """The type names of the events this projection reads."""
        return frozenset(self._rules)

    @property
    def checkpoint_name(self) -> str:
        """Name under which checkpoints of this projection's rules are kept."""
        return f"{self.name}@v{self.version}"

    def apply(self, state: S, event: Event, meta: Meta) -> S:
        """The state after `event`; events the projection does not read change nothing."""
        rule_name = self._rules.get(event.type_name)
        if rule_name is None:
            return state
        result: S = getattr(self, rule_name)(state, event, meta)
        return result

    def thawed(self, state: S) -> Any:
        """`state` made ready to fold many events with its ``in_place`` fields changed in
        place (see :mod:`~warmcase.projections.transient`); :meth:`frozen` undoes it."""
        return thaw(state, self.in_place) if self.in_place else state

    def fold_thawed(self, work: Any, recorded: Iterable[tuple[Event, Meta]]) -> Any:
        """`work` (a :meth:`thawed` state) after every event of `recorded`, in order."""
        for event, meta in recorded:
            work = self.apply(work, event, meta)
        return work

    def frozen(self, work: Any) -> S:
        """The persistent state a :meth:`thawed` one holds."""
        result: S = freeze(work, self.in_place) if self.in_place else work
        return result

    def fold_page(self, state: S, page: Sequence[tuple[Event, Meta]]) -> S:
        """The state after every event of `page`, in order: the same as applying them one
        by one, with the ``in_place`` fields changed in place and made persistent once."""
        if not self.in_place or len(page) < 2:
            for event, meta in page:
                state = self.apply(state, event, meta)
            return state
        return self.frozen(self.fold_thawed(self.thawed(state), page))

    def fold(self, recorded: Iterable[tuple[Event, Meta]], state: S | None = None) -> S:
        """The state after every event of `recorded`, from `state` or the initial state.

        No state on the way is kept, so the whole fold runs thawed: each changed entry
        of an ``in_place`` map is made persistent once, at the end, not once a page."""
        current = self.initial() if state is None else state
        return self.frozen(self.fold_thawed(self.thawed(current), recorded))
