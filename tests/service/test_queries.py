"""The application's questions: every report for any (as_of, effective), on every store."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from pyrsistent import PMap, pmap

import warmcase
from tests.clocks import ManualClock, at
from tests.scenario import CAMPAIGN, enrolled_household, open_campaign
from warmcase.app import Warmcase
from warmcase.domain.visit import VisitPlanned
from warmcase.errors import InvalidCommand, NotFound
from warmcase.projections.projection import Meta, Projection, on

STORES = ("memory", "sqlite", "postgresql")


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store of each kind: memory, a SQLite file, a PostgreSQL database."""
    if request.param == "memory":
        return "memory:"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/books.db"
    factory: Callable[[], str] = request.getfixturevalue("postgres_database_factory")
    return factory()


@pytest.fixture
def books(store_url: str, clock: ManualClock) -> Iterator[Warmcase]:
    """An application over the store, its clock set to 10 January 2027."""
    clock.set(at(10))
    app = warmcase.open(store_url, clock=clock)
    yield app
    app.close()


def stock_the_store(app: Warmcase, clock: ManualClock) -> None:
    """100 quilts received on 10 January and accepted, in the Gulou store."""
    app.receive_lot(
        "L-1",
        donor="Xinhua Textiles Co.",
        item="quilt",
        unit="piece",
        quantity=100,
        warehouse="Gulou store",
        actor="keeper",
    )
    app.inspect_lot("L-1", accepted=100, actor="keeper")


def on_hand(app: Warmcase, **basis: object) -> int:
    """Quilts on hand in the Gulou store at a basis."""
    return app.stock(warehouse="Gulou store", **basis).line("Gulou store", "quilt").on_hand  # type: ignore[arg-type]


def test_a_backdated_correction_changes_later_books_but_not_earlier_ones(
    books: Warmcase, clock: ManualClock
) -> None:
    """A write-off recorded on day 15 with effective day 11 changes the answer for (effective
    day 12, as of day 16) but not for (effective day 12, as of day 14): what the books said on
    day 14 stays what they said."""
    stock_the_store(books, clock)
    clock.set(at(15))
    books.write_off(
        "L-1", quantity=10, reason="water damage found", actor="keeper", effective_at=at(11)
    )
    clock.set(at(20))
    assert on_hand(books, effective=at(12), as_of=at(16)) == 90
    assert on_hand(books, effective=at(12), as_of=at(14)) == 100
    assert on_hand(books, effective=at(10, 18), as_of=at(16)) == 100
    assert on_hand(books, effective=date(2027, 1, 12), as_of=at(16)) == 90
    assert on_hand(books, effective=date(2027, 1, 12), as_of=date(2027, 1, 14)) == 100
    assert on_hand(books, effective=date(2027, 1, 12), as_of=date(2027, 1, 15)) == 90
    assert on_hand(books) == 90


def test_the_basis_of_an_answer_gives_the_same_answer_whatever_is_appended(
    books: Warmcase, clock: ManualClock
) -> None:
    """Asking again with an answer's basis gives the identical answer after more events,
    including backdated ones that fall before its effective time."""
    stock_the_store(books, clock)
    clock.set(at(12))
    first = books.stock()
    clock.set(at(13))
    books.write_off("L-1", quantity=5, reason="torn", actor="keeper", effective_at=at(11))
    books.write_off("L-1", quantity=5, reason="torn", actor="keeper")
    again = books.stock(as_of=first.basis.position, effective=first.basis.effective)
    assert again == first
    assert again.to_dict() == first.to_dict()
    assert books.stock().line("Gulou store", "quilt").on_hand == 90


def test_a_command_is_in_the_next_answer(books: Warmcase, clock: ManualClock) -> None:
    """Read-your-writes: every report answered by default includes what was just saved,
    and its basis is the last position."""
    stock_the_store(books, clock)
    assert on_hand(books) == 100
    books.write_off("L-1", quantity=1, reason="stained", actor="keeper")
    report = books.stock()
    assert report.line("Gulou store", "quilt").on_hand == 99
    assert report.basis.position == books.history.last_position()


def test_another_process_writes_are_in_the_next_answer(tmp_path: Path, clock: ManualClock) -> None:
    """Two applications over one SQLite file: what one saves, the other's next answer shows,
    though it holds a live state of its own."""
    url = f"sqlite:///{tmp_path}/shared.db"
    clock.set(at(10))
    writer, reader = warmcase.open(url, clock=clock), warmcase.open(url, clock=clock)
    try:
        stock_the_store(writer, clock)
        assert on_hand(reader) == 100
        writer.write_off("L-1", quantity=3, reason="stained", actor="keeper")
        assert on_hand(reader) == 97
    finally:
        writer.close()
        reader.close()


def test_the_four_reports_and_their_plain_forms(books: Warmcase, clock: ManualClock) -> None:
    """Coverage, duplicate aid and the audit trail answer for a campaign and a household, each
    with a basis, and all four convert to JSON-ready dicts."""
    open_campaign(books)
    enrolled_household(books, "H-0001")
    stock_the_store(books, clock)
    coverage = books.coverage(CAMPAIGN)
    duplicates = books.duplicate_aid(CAMPAIGN)
    trail = books.audit_trail("H-0001")
    stock = books.stock()
    for answer in (coverage, duplicates, trail, stock):
        assert answer.basis.position == books.history.last_position()
        json.dumps(answer.to_dict())
    assert [entry.event_type for entry in trail.entries][:1] == ["household.surveyed"]
    assert books.sources(stock.line("Gulou store", "quilt").sources)[0].ref == "L-1"


def test_a_campaign_not_yet_opened_at_the_basis_is_not_found(
    books: Warmcase, clock: ManualClock
) -> None:
    """Coverage as of position 0 names the campaign and the basis: it was not opened by then."""
    open_campaign(books)
    with pytest.raises(NotFound, match="not opened by then"):
        books.coverage(CAMPAIGN, as_of=0)


class VisitsPerLeader(Projection[PMap[str, int]]):
    """Visits planned per team leader: a developer's own projection."""

    name = "visits_per_leader"

    def initial(self) -> PMap[str, int]:
        """No visits yet."""
        return pmap()

    @on(VisitPlanned)
    def planned(self, state: PMap[str, int], event: VisitPlanned, meta: Meta) -> PMap[str, int]:
        """One more visit for the leader."""
        return state.set(event.leader, state.get(event.leader, 0) + 1)


def test_any_projection_is_answerable_and_plain(books: Warmcase, clock: ManualClock) -> None:
    """`query` answers a developer's own projection with a basis and a plain dict form."""
    open_campaign(books)
    enrolled_household(books, "H-0001")
    books.plan_visit(
        "V-1",
        campaign=CAMPAIGN,
        household="H-0001",
        team="team 1",
        leader="李书记",
        planned_on=date(2027, 1, 20),
        actor="office",
    )
    answer = books.query(VisitsPerLeader())
    assert answer.state == {"李书记": 1}
    assert answer.to_dict()["state"] == {"李书记": 1}
    assert books.query(VisitsPerLeader(), as_of=answer.basis.position - 1).state == {}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"as_of": "yesterday"}, "as_of must be a datetime"),
        ({"as_of": -1}, "negative"),
        ({"effective": 20}, "effective must be a datetime or a date"),
    ],
)
def test_a_basis_that_names_no_moment_is_refused(
    app: Warmcase, arguments: dict[str, object], message: str
) -> None:
    """as_of and effective that are neither times nor positions are refused with the forms
    accepted."""
    with pytest.raises(InvalidCommand, match=message):
        app.stock(**arguments)  # type: ignore[arg-type]


def test_query_needs_a_projection(app: Warmcase) -> None:
    """Passing a class or anything else instead of a projection instance is refused."""
    with pytest.raises(InvalidCommand, match="needs a Projection instance"):
        app.query(VisitsPerLeader)  # type: ignore[arg-type]


def test_a_rebuild_gives_the_same_answers(books: Warmcase, clock: ManualClock) -> None:
    """Rebuilding the four standard projections from the first event leaves every answer as
    it was, and reports how many events it read."""
    open_campaign(books)
    enrolled_household(books, "H-0001")
    stock_the_store(books, clock)
    before = (books.stock(), books.coverage(CAMPAIGN), books.audit_trail("H-0001"))
    report = books.rebuild()
    assert report.position == books.history.last_position()
    assert report.events == books.history.last_position()
    assert (books.stock(), books.coverage(CAMPAIGN), books.audit_trail("H-0001")) == before


def test_a_warm_process_gives_the_same_answers_at_every_basis(
    books: Warmcase, clock: ManualClock
) -> None:
    """Warming the four standard projections (snapshots held in memory, nothing saved)
    leaves every answer, at the latest and at every earlier position, as it was."""
    open_campaign(books)
    opened = books.history.last_position()
    enrolled_household(books, "H-0001")
    stock_the_store(books, clock)
    last = books.history.last_position()

    def answers(position: int) -> tuple[object, ...]:
        return (
            books.stock(as_of=position),
            books.coverage(CAMPAIGN, as_of=position),
            books.audit_trail("H-0001", as_of=position),
        )

    before = [answers(position) for position in range(opened, last + 1)]
    books.views.forget()
    books.views.snapshot_every = 2
    assert books.warm() == last
    assert [answers(position) for position in range(opened, last + 1)] == before


def test_an_erasure_reaches_answers_held_in_memory(books: Warmcase, clock: ManualClock) -> None:
    """After a household is erased, its head's name reads as erased in the trail, though the
    process held a state with the name in clear."""
    open_campaign(books)
    enrolled_household(books, "H-0001", head_name="王建国")
    assert "王建国" in json.dumps(books.audit_trail("H-0001").to_dict(), ensure_ascii=False)
    books.erase_household("H-0001", reason="moved away; asked", actor="office")
    assert "王建国" not in json.dumps(books.audit_trail("H-0001").to_dict(), ensure_ascii=False)
