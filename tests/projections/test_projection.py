"""The projection kit: rules by event type, and the definition of an answer at a basis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st
from pyrsistent import PMap, pmap

from warmcase.domain import campaign
from warmcase.domain.campaign import CampaignClosed, ColdWaveWarned
from warmcase.events import Event
from warmcase.projections.answering import brute_force
from warmcase.projections.basis import Basis
from warmcase.projections.projection import Meta, Projection, on

T0 = datetime(2027, 1, 1, tzinfo=UTC)


class WarningsPerArea(Projection[PMap[str, int]]):
    """Counts cold-wave warnings per area (a projection written the documented way)."""

    name = "warnings_per_area"

    def initial(self) -> PMap[str, int]:
        return pmap()

    @on(ColdWaveWarned)
    def warned(self, state: PMap[str, int], event: ColdWaveWarned, meta: Meta) -> PMap[str, int]:
        return state.set(event.area, state.get(event.area, 0) + 1)


def warning(area: str, effective: datetime) -> ColdWaveWarned:
    """A warning event for `area`, effective at `effective`."""
    return ColdWaveWarned(
        ref="C",
        actor="a",
        effective_at=effective,
        area=area,
        starts_at=T0,
        ends_at=T0 + timedelta(1),
    )


def test_a_projection_reads_only_the_types_its_rules_name() -> None:
    """`reads` is derived from the @on rules, so the store can filter by type."""
    assert frozenset({"campaign.cold_wave_warned"}) == WarningsPerArea().reads


def test_events_without_a_rule_change_nothing() -> None:
    """An event type the projection does not read leaves the state as it was."""
    projection = WarningsPerArea()
    closed = CampaignClosed(ref="C", actor="a", effective_at=T0)
    meta = Meta(position=1, recorded_at=T0, stream_id=uuid4(), version=1)
    assert pmap() == projection.apply(pmap(), closed, meta)


def test_checkpoints_are_named_by_rule_version() -> None:
    """Changing a projection's rules (its version) never reuses checkpoints of the old rules."""
    assert WarningsPerArea().checkpoint_name == "warnings_per_area@v1"


@given(
    plan=st.lists(
        st.tuples(st.sampled_from(["Gulou", "Taijiang"]), st.integers(0, 30), st.integers(0, 30)),
        max_size=30,
    ),
    position=st.integers(0, 30),
    effective_day=st.integers(0, 30),
)
def test_an_answer_counts_what_was_recorded_by_then_and_effective_by_then(
    plan: list[tuple[str, int, int]], position: int, effective_day: int
) -> None:
    """At (P, V) an answer folds exactly the events recorded at or before P and effective by V."""
    recorded: list[tuple[Event, Meta]] = []
    for number, (area, effective, lag) in enumerate(plan, start=1):
        moment = T0 + timedelta(days=effective)
        meta = Meta(number, moment + timedelta(days=lag), uuid4(), 1)
        recorded.append((warning(area, moment), meta))
    basis = Basis(position=position, recorded_at=None, effective=T0 + timedelta(days=effective_day))
    expected: dict[str, int] = {}
    for number, (area, effective, _) in enumerate(plan, start=1):
        if number <= position and effective <= effective_day:
            expected[area] = expected.get(area, 0) + 1
    assert pmap(expected) == brute_force(WarningsPerArea(), recorded, basis)


def test_the_kit_imports_with_the_domain() -> None:
    """Projections sit beside the domain and import nothing from the adapters."""
    assert campaign.KIND.name == "campaign"
