"""The audit sample: a reproducible stratified draw of visited households, and its check."""

from __future__ import annotations

import json
import math
import random
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyrsistent import pmap, pset

import warmcase
from tests.clocks import ManualClock, at
from tests.scenario import CAMPAIGN, enrolled_household, open_campaign
from tests.strategies.coverage_history import CAMPAIGNS, coverage_histories
from tests.strategies.stock_history import ListHistory, Recorded
from warmcase.app import Warmcase
from warmcase.projections.answering import brute_force, state_at
from warmcase.projections.basis import Basis
from warmcase.projections.coverage import (
    LEVELS,
    CampaignInfo,
    Completion,
    Coverage,
    CoverageState,
    HouseholdInfo,
    VisitInfo,
    report,
)
from warmcase_adapters import sampling
from warmcase_adapters.sampling import SampleError

refs = st.text(st.characters(codec="utf-8", categories=("L", "N", "Pd")), min_size=1, max_size=8)
names = st.text(st.characters(codec="utf-8", categories=("L", "N")), min_size=1, max_size=6).map(
    lambda name: f"Gulou/{name}"
)
populations = st.dictionaries(names, st.sets(refs, min_size=1, max_size=40), min_size=1, max_size=5)
rates = st.decimals(min_value="0.001", max_value=1, places=3).map(str)
seeds = st.text(st.characters(codec="utf-8", categories=("L", "N", "P")), min_size=1, max_size=20)


def drawn(
    population: Mapping[str, Iterable[str]], seed: str, rate: str
) -> dict[str, sampling.Stratum]:
    """The draw by stratum name."""
    strata = sampling.draw(population, seed=seed, rate=sampling.parse_rate(rate))
    return {stratum.name: stratum for stratum in strata}


# ---------------------------------------------------------------- the method


@given(populations, seeds, rates)
def test_every_stratum_gives_at_least_its_share_of_its_own_households(
    population: dict[str, set[str]], seed: str, rate: str
) -> None:
    """Each stratum of n households gives exactly ceil(rate * n) distinct ones, all its own:
    never fewer than the share the rule asks for."""
    result = drawn(population, seed, rate)
    assert set(result) == set(population)
    for name, members in population.items():
        sample = result[name].sample
        assert len(set(sample)) == len(sample) == math.ceil(Fraction(rate) * len(members))
        assert len(sample) >= float(rate) * len(members)
        assert set(sample) <= members


@given(populations, seeds, rates, st.randoms(use_true_random=False))
def test_the_same_inputs_give_the_same_sample_in_any_order(
    population: dict[str, set[str]], seed: str, rate: str, shuffler: random.Random
) -> None:
    """Redrawing with the same population, seed and rate gives the same households in the
    same order, however the population is listed."""
    reordered: dict[str, list[str]] = {}
    for name in reversed(list(population)):
        members = sorted(population[name])
        shuffler.shuffle(members)
        reordered[name] = members
    assert drawn(population, seed, rate) == drawn(reordered, seed, rate)


@given(
    st.lists(st.integers(200, 400), min_size=1, max_size=3),
    st.decimals(min_value="0.05", max_value="0.5", places=2).map(str),
    seeds,
    seeds,
)
def test_a_different_seed_draws_differently(
    sizes: list[int], rate: str, seed: str, other: str
) -> None:
    """In strata of hundreds, two seeds draw different households in every stratum (equal
    draws have a chance below 1 in 10^9)."""
    if seed == other:
        return
    population = {
        f"Gulou/C{number}": {f"H-{number}-{n:04d}" for n in range(size)}
        for number, size in enumerate(sizes)
    }
    one, two = drawn(population, seed, rate), drawn(population, other, rate)
    for name in population:
        assert set(one[name].sample) != set(two[name].sample)


@given(populations, seeds, rates, st.data())
def test_adding_a_household_changes_only_its_strata_fingerprint_and_draw(
    population: dict[str, set[str]], seed: str, rate: str, data: st.DataObject
) -> None:
    """A household more in one stratum changes that stratum's fingerprint and the
    population's; every other stratum keeps its fingerprint and its draw."""
    name = data.draw(st.sampled_from(sorted(population)))
    newcomer = data.draw(refs.filter(lambda ref: ref not in population[name]))
    grown = {**population, name: population[name] | {newcomer}}
    before, after = drawn(population, seed, rate), drawn(grown, seed, rate)
    assert before[name].population_sha256 != after[name].population_sha256
    assert sampling.population_fingerprint(population) != sampling.population_fingerprint(grown)
    for other in set(population) - {name}:
        assert before[other] == after[other]


@given(populations, seeds, rates)
def test_the_draw_takes_the_smallest_ranks(
    population: dict[str, set[str]], seed: str, rate: str
) -> None:
    """Every household drawn ranks below every household not drawn, in draw order."""
    for name, stratum in drawn(population, seed, rate).items():
        ranks = [sampling.rank(seed, name, ref) for ref in stratum.sample]
        assert ranks == sorted(ranks)
        rest = [sampling.rank(seed, name, r) for r in population[name] - set(stratum.sample)]
        assert not rest or max(ranks) < min(rest)


def test_the_method_is_pinned_by_a_known_answer() -> None:
    """A fixed population, seed and rate give the households and fingerprints computed with
    `sha256sum` (docs/audit-sample.md): records drawn by earlier versions still verify."""
    population = {
        "Gulou/Dongjie/Wenquan": [f"H-{n:04d}" for n in range(1, 11)],
        "Gulou/Dongjie/Xihu": ["H-0011", "H-0012", "H-0013"],
    }
    strata = sampling.draw(population, seed="2027", rate=sampling.parse_rate("0.25"))
    expected = [
        (
            "Gulou/Dongjie/Wenquan",
            ("H-0001", "H-0008", "H-0003"),
            "1806ceecf60f5046ea72181cad91cf09e90074ceaa2d9cc6f060b820e1d89351",
        ),
        (
            "Gulou/Dongjie/Xihu",
            ("H-0013",),
            "adc1dfcc10f3d8b6e3593e0e3954bceca0b85cfe83213b64d33e4b53280c5b4b",
        ),
    ]
    assert expected == [(s.name, s.sample, s.population_sha256) for s in strata]
    assert (
        sampling.rank("2027", "Gulou/Dongjie/Xihu", "H-0011")
        == "7d914b50aeb01614692b83044c08caa5a4cca561df0f0ec127a8d713c80c3256"
    )


@pytest.mark.parametrize(
    ("text", "size", "expected"),
    [("0.1", 30, 3), ("0.10", 333, 34), ("10%", 30, 3), ("1", 7, 7), ("0.001", 5, 1)],
)
def test_the_share_is_computed_exactly(text: str, size: int, expected: int) -> None:
    """ceil(rate * n) in exact arithmetic: 0.1 * 30 is 3 (a float would make it 4)."""
    assert expected == sampling.quota(sampling.parse_rate(text), size)


@pytest.mark.parametrize("text", ["0", "-0.1", "1.5", "110%", "ten", "", "NaN", "Infinity"])
def test_a_rate_outside_zero_to_one_is_refused(text: str) -> None:
    """A rate must be a decimal or percentage above 0 and at most 1."""
    with pytest.raises(SampleError, match="rate"):
        sampling.parse_rate(text)


def test_a_level_or_seed_that_cannot_be_typed_again_is_refused() -> None:
    """Strata are drawn at an area level, and a seed must survive being typed again."""
    with pytest.raises(SampleError, match="cannot stratify by 'household'"):
        sampling.check_by("household")
    for seed in ("", " 2027", "20\n27"):
        with pytest.raises(SampleError, match="seed"):
            sampling.check_seed(seed)


def test_a_fresh_seed_is_random_and_recorded() -> None:
    """Without a seed, one comes from the system's randomness: 32 hex digits, never twice."""
    one, two = sampling.new_seed(), sampling.new_seed()
    assert one != two
    assert len(one) == 32
    assert int(one, 16) >= 0


# ---------------------------------------------------------------- the population


@given(coverage_histories(), st.sampled_from(CAMPAIGNS), st.sampled_from(LEVELS))
def test_the_population_is_the_households_coverage_counts_as_reached(
    recorded: Recorded, campaign: str, level: str
) -> None:
    """Over random histories (merges, closures, cancelled visits...), the strata and their
    sizes are coverage's area lines at that level with their reached households."""
    last = recorded[-1][1]
    basis = Basis(last.position, last.recorded_at, last.recorded_at)
    state = Coverage().fold(recorded)
    strata = sampling.visited(state, campaign, level)
    answer = report(state, basis, campaign=campaign)
    reached = {
        line.key: line.households.reached
        for line in answer.areas
        if line.level == level and line.households.reached
    }
    assert reached == {name: len(members) for name, members in strata.items()}
    assert answer.total.households.reached == sum(len(m) for m in strata.values())


@st.composite
def coverage_states(draw: st.DrawFn) -> CoverageState:
    """Coverage states of two campaigns with households in a few areas, merged into one
    another (chains, even cycles), and visits made, planned or cancelled."""
    households = [f"H-{n:02d}" for n in range(1, 11)]
    places = st.tuples(
        st.sampled_from(["Gulou", "Taijiang"]),
        st.sampled_from(["Dongjie", "Nanjie"]),
        st.sampled_from(["Wenquan", "Anle"]),
        st.sampled_from(["G-01", "G-02"]),
    )
    enrolled = {c: draw(st.sets(st.sampled_from(households))) for c in CAMPAIGNS}
    infos = {
        ref: HouseholdInfo(
            ref=ref,
            area=draw(places),
            size=draw(st.integers(1, 4)),
            enrolled=pmap({c: 1 for c in CAMPAIGNS if ref in enrolled[c]}),
            merged_into=draw(st.none() | st.sampled_from(households)),
        )
        for ref in households
    }
    visits = {}
    for number in range(draw(st.integers(0, 14))):
        ref = f"V-{number:02d}"
        visits[ref] = VisitInfo(
            ref=ref,
            campaign=draw(st.sampled_from(CAMPAIGNS)),
            household=draw(st.sampled_from(households)),
            planned=2,
            completed=draw(
                st.none() | st.just(Completion(visited_on=date(2027, 1, 20), position=3))
            ),
            cancelled=draw(st.none() | st.just(4)),
        )
    return CoverageState(
        campaigns=pmap({c: CampaignInfo(ref=c, opened=1) for c in CAMPAIGNS}),
        households=pmap(infos),
        visits=pmap(visits),
        enrolled=pmap({c: pset(refs) for c, refs in enrolled.items()}),
        campaign_visits=pmap(
            {c: pset(ref for ref, v in visits.items() if v.campaign == c) for c in CAMPAIGNS}
        ),
    )


@given(coverage_states(), st.sampled_from(CAMPAIGNS), st.sampled_from(LEVELS))
def test_the_population_is_coverages_reached_households_whatever_the_merges(
    state: CoverageState, campaign: str, level: str
) -> None:
    """Over states with merge chains and cycles, cancelled and unmade visits, the strata
    and their sizes are coverage's area lines at that level with their reached households."""
    basis = Basis(10, at(25), at(25))
    strata = sampling.visited(state, campaign, level)
    answer = report(state, basis, campaign=campaign)
    reached = {
        line.key: line.households.reached
        for line in answer.areas
        if line.level == level and line.households.reached
    }
    assert reached == {name: len(members) for name, members in strata.items()}


@given(coverage_histories())
def test_an_audit_folds_the_events_not_the_saved_checkpoints(recorded: Recorded) -> None:
    """With a saved checkpoint that disagrees with the events (an empty state saved at the
    end), the audit's reading gives the state of the events themselves."""
    history = ListHistory(recorded)
    last = recorded[-1][1]
    basis = Basis(last.position, last.recorded_at, last.recorded_at)
    projection = Coverage()
    history.save_checkpoint(projection.checkpoint_name, last.position, projection.initial())
    assert state_at(projection, history, basis) == projection.initial()
    expected = brute_force(projection, recorded, basis)
    assert expected == state_at(projection, sampling.EventsOnly(history), basis)


# ---------------------------------------------------------------- on a store


@pytest.fixture
def books(tmp_path: Path, clock: ManualClock) -> Iterator[Warmcase]:
    """A SQLite store: six enrolled households in two communities, four of them visited
    (H-01, H-02 in Wenquan; H-04, H-05 in Anle)."""
    clock.set(at(1))
    app = warmcase.open(f"sqlite:///{tmp_path / 'books.db'}", clock=clock)
    open_campaign(app)
    for number in range(1, 7):
        community = "Wenquan" if number <= 3 else "Anle"
        enrolled_household(app, f"H-0{number}", community=community, head_id_number=None)
    for number in range(1, 7):
        app.plan_visit(
            f"V-0{number}",
            campaign=CAMPAIGN,
            household=f"H-0{number}",
            team="Team 1",
            leader="leader 1",
            planned_on=date(2027, 1, 20),
            actor="office",
        )
    clock.set(at(20))
    for number in (1, 2, 4, 5):
        visit_household(app, number)
    clock.set(at(21))
    yield app
    app.close()


def visit_household(app: Warmcase, number: int) -> None:
    """Complete visit V-0n, paying its household 550 yuan."""
    app.complete_visit(
        f"V-0{number}",
        cash_fen=55_000,
        signed_by="1",
        signer_phone="13800138000",
        actor="team.1",
    )


def as_read(drawn_sample: sampling.Sample) -> sampling.Record:
    """The sample as written to its file and read back."""
    return sampling.read_record(json.loads(json.dumps(drawn_sample.to_dict())))


def test_a_sample_is_drawn_from_the_visited_households_of_each_community(books: Warmcase) -> None:
    """Two visited households per community at 10% gives one from each, with its basis."""
    drawn_sample = sampling.take(books, CAMPAIGN, rate="0.10", seed="s")
    expected = [("Gulou/Dongjie/Anle", 2, 1), ("Gulou/Dongjie/Wenquan", 2, 1)]
    assert expected == [(s.name, s.size, s.drawn) for s in drawn_sample.strata]
    assert {"H-01", "H-02"} == set(drawn_sample.strata[1].population)
    assert books.history.last_position() == drawn_sample.basis.position


def test_a_sample_read_back_from_its_file_verifies_after_later_appends(
    books: Warmcase, clock: ManualClock
) -> None:
    """The basis is pinned: visits completed after the draw change neither the population
    nor the draw, and the record verifies as identical."""
    drawn_sample = sampling.take(books, CAMPAIGN, rate="0.5", seed="2027")
    clock.set(at(22))
    visit_household(books, 3)
    found = sampling.verify(books, as_read(drawn_sample))
    assert found.identical, found.problems
    assert all(check.status == sampling.SAME for check in found.strata)


def test_a_store_whose_history_was_edited_under_a_checkpoint_does_not_verify(
    books: Warmcase, tmp_path: Path
) -> None:
    """A visit deleted from the database after the draw, under a saved checkpoint that still
    counts it: the reports (read from the checkpoint) do not show it, the audit does, and
    names the household."""
    drawn_sample = sampling.take(books, CAMPAIGN, rate="0.5", seed="2027")
    books.rebuild()
    books.close()
    with sqlite3.connect(tmp_path / "books.db") as database:
        database.execute(
            "DELETE FROM stored_events WHERE rowid = (SELECT max(rowid) FROM stored_events "
            "WHERE topic = 'visit.completed')"
        )
    database.close()
    reopened = warmcase.open(f"sqlite:///{tmp_path / 'books.db'}")
    try:
        assert reopened.coverage(CAMPAIGN).total.households.reached == 4
        found = sampling.verify(reopened, as_read(drawn_sample))
    finally:
        reopened.close()
    assert not found.identical
    anle = next(check for check in found.strata if check.name == "Gulou/Dongjie/Anle")
    expected = (sampling.POPULATION_DIFFERS, ("H-05",))
    assert expected == (anle.status, anle.removed)
    assert any("H-05" in problem for problem in found.problems)


def test_an_edited_record_does_not_verify(books: Warmcase) -> None:
    """A sampled household swapped for another in the file: the record contradicts its own
    seed, and the redraw names both households."""
    data = sampling.take(books, CAMPAIGN, rate="0.5", seed="2027").to_dict()
    wenquan = next(s for s in data["strata"] if s["stratum"] == "Gulou/Dongjie/Wenquan")
    (chosen,) = wenquan["sample"]
    swapped = "H-02" if chosen == "H-01" else "H-01"
    wenquan["sample"] = [swapped]
    found = sampling.verify(books, sampling.read_record(data))
    check = next(c for c in found.strata if c.name == "Gulou/Dongjie/Wenquan")
    assert (sampling.DRAW_DIFFERS, (chosen,), (swapped,)) == (
        check.status,
        check.drawn_now,
        check.not_drawn_now,
    )
    assert any("the file was edited" in problem for problem in found.problems)


def test_a_file_that_is_not_a_sample_record_is_refused() -> None:
    """Another JSON file, another version, or a record with a field missing is named."""
    with pytest.raises(SampleError, match="not a warmcase audit sample"):
        sampling.read_record({"rows": []})
    with pytest.raises(SampleError, match="version 9"):
        sampling.read_record({"format": sampling.FORMAT, "version": 9})
    with pytest.raises(SampleError, match="incomplete or malformed"):
        sampling.read_record({"format": sampling.FORMAT, "version": sampling.VERSION})
