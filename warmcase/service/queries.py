"""Questions to the books, for any moment: the four standard reports and any projection.

Every query takes ``as_of`` (what the books said: a recorded time or a global
position) and ``effective`` (what was true in the world: a datetime, or a date for
the end of that day), both defaulting to now, and returns an immutable answer with
its :class:`~warmcase.projections.basis.Basis`. Asking again with that basis gives
the identical answer, whatever was appended since. The default basis includes every
event recorded before the query began, so a command's effects are in the next answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any, Generic, TypeVar

import attrs

from warmcase.clock import DEFAULT_TIMEZONE
from warmcase.domain import campaign as campaign_
from warmcase.domain import household as household_
from warmcase.errors import InvalidCommand, StoreError
from warmcase.projections import audit_trail as trail_
from warmcase.projections import coverage as coverage_
from warmcase.projections import duplicate_aid as duplicate_aid_
from warmcase.projections import stock as stock_
from warmcase.projections.basis import AsOf, Basis, Effective, resolve
from warmcase.projections.history import History
from warmcase.projections.live import DEFAULT_CHECKPOINT_EVERY, LiveViews, RebuildReport
from warmcase.projections.parallel import GroupRebuilder, rebuild_in_groups, resolve_jobs
from warmcase.projections.plain import plain
from warmcase.projections.projection import Projection
from warmcase.service.base import ServiceBase

S = TypeVar("S")

STOCK = stock_.StockLevels()
COVERAGE = coverage_.Coverage()
DUPLICATE_AID = duplicate_aid_.DuplicateAid()
AUDIT_TRAIL = trail_.AuditTrail()
STANDARD: tuple[Projection[Any], ...] = (STOCK, COVERAGE, DUPLICATE_AID, AUDIT_TRAIL)
"""The projections behind the four standard reports."""

_ERASURES = frozenset({household_.HouseholdErased.type_name})


@attrs.frozen
class Answer(Generic[S]):
    """A projection's folded state at a basis."""

    basis: Basis
    state: S

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {"basis": self.basis.to_dict(), "state": plain(self.state)}


class Queries(ServiceBase):
    """Answers of any projection as of any recorded time and for any effective time."""

    checkpoint_every = DEFAULT_CHECKPOINT_EVERY
    """Positions between saved checkpoints of each projection."""

    _history: History | None = None
    _views: LiveViews | None = None
    _erasures_seen = 0

    def attach_history(self, history: History, *, checkpoint_every: int | None = None) -> None:
        """Answer queries from `history` (the composition root attaches the store's)."""
        self._history = history
        self._views = LiveViews(history, checkpoint_every=checkpoint_every or self.checkpoint_every)
        self._erasures_seen = history.last_position()

    @property
    def history(self) -> History:
        """The history queries read."""
        if self._history is None:
            msg = "this application has no history attached: open it with warmcase.open()"
            raise StoreError(msg)
        return self._history

    @property
    def views(self) -> LiveViews:
        """The states this process holds for answering."""
        if self._views is None:
            msg = "this application has no history attached: open it with warmcase.open()"
            raise StoreError(msg)
        return self._views

    def basis(
        self, *, as_of: AsOf = None, effective: Effective = None, timezone: str = DEFAULT_TIMEZONE
    ) -> Basis:
        """The basis `as_of` and `effective` name (a date means its end in `timezone`)."""
        return resolve(
            self.history, as_of=as_of, effective=effective, now=self.clock(), timezone=timezone
        )

    def query(
        self,
        projection: Projection[S],
        *,
        as_of: AsOf = None,
        effective: Effective = None,
        timezone: str = DEFAULT_TIMEZONE,
    ) -> Answer[S]:
        """The state of `projection` at the basis `as_of` and `effective` name."""
        if not isinstance(projection, Projection):
            msg = (
                f"query needs a Projection instance (e.g. StockLevels()), "
                f"got {type(projection).__name__}"
            )
            raise InvalidCommand(msg)
        basis = self.basis(as_of=as_of, effective=effective, timezone=timezone)
        return Answer(basis=basis, state=self._state(projection, basis))

    def _state(self, projection: Projection[S], basis: Basis) -> S:
        self._forget_if_erased(basis.position)
        return self.views.state_at(projection, basis)

    def _forget_if_erased(self, upto: int) -> None:
        # Held states keep personal values in clear; an erasure recorded by any process
        # since we last looked sends them away, so answers refold from sealed checkpoints.
        if upto <= self._erasures_seen:
            return
        seen = self._erasures_seen
        if next(iter(self.history.read(after=seen, upto=upto, types=_ERASURES)), None):
            self.views.forget()
        self._erasures_seen = upto

    def stock(
        self,
        *,
        warehouse: str | None = None,
        item: str | None = None,
        expiring_within_days: int | None = None,
        today: date | None = None,
        as_of: AsOf = None,
        effective: Effective = None,
    ) -> stock_.StockReport:
        """Stock levels per warehouse x item and per lot; see :func:`~.stock.report`."""
        answer = self.query(STOCK, as_of=as_of, effective=effective)
        return stock_.report(
            answer.state,
            answer.basis,
            warehouse=warehouse,
            item=item,
            expiring_within_days=expiring_within_days,
            today=today,
        )

    def coverage(
        self,
        campaign: str,
        *,
        area: str | Sequence[str] | None = None,
        as_of: AsOf = None,
        effective: Effective = None,
    ) -> coverage_.CoverageReport:
        """Who was reached and who was missed in `campaign`; see :func:`~.coverage.report`."""
        answer = self.query(
            COVERAGE, as_of=as_of, effective=effective, timezone=self._zone_of(campaign)
        )
        return coverage_.report(answer.state, answer.basis, campaign=campaign, area=area)

    def duplicate_aid(
        self, campaign: str, *, as_of: AsOf = None, effective: Effective = None
    ) -> duplicate_aid_.DuplicateAidReport:
        """What looks like aid given twice in `campaign`; see :func:`~.duplicate_aid.report`."""
        answer = self.query(
            DUPLICATE_AID, as_of=as_of, effective=effective, timezone=self._zone_of(campaign)
        )
        return duplicate_aid_.report(answer.state, answer.basis, campaign=campaign)

    def audit_trail(
        self, ref: str, *, as_of: AsOf = None, effective: Effective = None
    ) -> trail_.AuditTrailReport:
        """Every event that touched `ref`, in order; see :func:`~.audit_trail.report`."""
        answer = self.query(AUDIT_TRAIL, as_of=as_of, effective=effective)
        return trail_.report(
            answer.state, answer.basis, ref=ref, events_at=trail_.reader(self.history)
        )

    def sources(
        self, positions: Iterable[int], *, as_of: AsOf = None, effective: Effective = None
    ) -> tuple[trail_.TrailEntry, ...]:
        """The events at `positions` (a report line's ``sources``): the drill-down."""
        answer = self.query(AUDIT_TRAIL, as_of=as_of, effective=effective)
        return trail_.events_of(
            answer.state, answer.basis, positions, events_at=trail_.reader(self.history)
        )

    _rebuilder: GroupRebuilder | None = None

    def attach_rebuilder(self, rebuilder: GroupRebuilder | None) -> None:
        """Rebuild with several jobs through `rebuilder` (the composition root attaches
        one where other processes can open the same store; None: always in this one)."""
        self._rebuilder = rebuilder

    def rebuild(
        self,
        projections: Iterable[Projection[Any]] | None = None,
        *,
        progress: Callable[[int], None] | None = None,
        jobs: int | None = 1,
    ) -> RebuildReport:
        """Fold `projections` (the four standard ones by default) afresh from the first
        event, replacing their saved checkpoints. `progress`, if given, is called with
        the position reached now and then (for a progress bar).

        With `jobs` above 1 (0 or None: one per core), the projections are split into
        that many groups of about equal ``rebuild_cost``, each folded in a process of
        its own (see :mod:`~warmcase.projections.parallel`); a store no other process
        can open (``memory:``, SQLite ``:memory:``) is rebuilt in this process, and the
        report's ``jobs`` says which it was.
        """
        chosen = tuple(STANDARD if projections is None else projections)
        workers = resolve_jobs(jobs)
        upto = self.history.last_position()
        self._forget_if_erased(upto)
        rebuilder = self._rebuilder
        if workers > 1 and len(chosen) > 1 and upto > 0 and rebuilder is not None:
            return rebuild_in_groups(
                self.views, chosen, jobs=workers, upto=upto, rebuilder=rebuilder, progress=progress
            )
        return self.views.rebuild(chosen, upto=upto, progress=progress)

    def warm(self, projections: Iterable[Projection[Any]] | None = None) -> int:
        """Fold `projections` (the four standard ones by default) up to now in one read,
        holding snapshots in this process, so that answers at any basis afterwards fold
        only a short tail. Saves nothing; returns the events read."""
        chosen = tuple(STANDARD if projections is None else projections)
        upto = self.history.last_position()
        self._forget_if_erased(upto)
        return self.views.warm(chosen, upto=upto)

    def _forget_plaintext(self) -> None:
        # States held for answering keep personal values in clear.
        if self._views is not None:
            self._views.forget()

    def _zone_of(self, campaign: str) -> str:
        running = self.load(campaign_.KIND, campaign)
        return DEFAULT_TIMEZONE if running is None else str(running.timezone)
