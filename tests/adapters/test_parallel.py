"""A rebuild with several jobs: groups folded in spawned processes over the same real store."""

from __future__ import annotations

import itertools
import multiprocessing
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import warmcase
from tests.adapters.parallel_probe import Dying, Exploding, Failing
from tests.clocks import ManualClock
from tests.scenario import enrolled_household, later, open_campaign
from warmcase.app import Warmcase
from warmcase.projections.parallel import RebuildFailed, UnpicklableProjection
from warmcase.projections.projection import Projection
from warmcase.service.queries import AUDIT_TRAIL, STANDARD, STOCK
from warmcase_adapters import city
from warmcase_adapters.parallel import PROGRESS_STEPS, ProcessRebuilder, _sparse, attach, reopenable


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A city season of about 4,000 events in a SQLite file, generated once."""
    path = tmp_path_factory.mktemp("parallel") / "season.db"
    city.generate(path, events=4_000, seed=11)
    return path


@pytest.fixture
def store(season: Path, tmp_path: Path) -> str:
    """The URL of a copy of the season this test may rebuild."""
    copy = tmp_path / "season.db"
    for suffix in ("", "-wal", "-shm"):
        source = season.with_name(season.name + suffix)
        if source.exists():
            shutil.copyfile(source, copy.with_name(copy.name + suffix))
    return f"sqlite:///{copy}"


@pytest.fixture
def books(store: str) -> Iterator[Warmcase]:
    """The application over the copy, able to rebuild in other processes."""
    app = attach(warmcase.open(store), store)
    yield app
    app.close()


def replayed(app: Warmcase, projection: Projection[Any], upto: int) -> Any:
    """The projection folded from every event up to `upto`: the answer by definition."""
    return projection.fold(app.history.read(after=0, upto=upto, types=projection.reads))


def saved(url: str, projection: Projection[Any], upto: int) -> Any:
    """The checkpoint of `projection` at `upto`, as a fresh process reads it."""
    fresh = warmcase.open(url)
    try:
        found = fresh.history.checkpoint(projection.checkpoint_name, at_or_before=upto)
    finally:
        fresh.close()
    assert found is not None
    assert found[0] == upto
    return found[1]


def test_two_jobs_save_what_one_job_saves_and_a_replay_gives(books: Warmcase, store: str) -> None:
    """Rebuilt in two processes, each standard projection's checkpoint at the last position
    equals the one a rebuild in one process saves and the fold of the whole history; the
    report counts each event once, and the answers afterwards are the same."""
    upto = books.history.last_position()
    done = books.rebuild(jobs=2)
    assert done.jobs == 2
    assert len(done.groups) == 2
    assert done.position == upto
    assert done.events == upto
    assert done.checkpoints == len(STANDARD)
    # The group that reads every type was folded here: its states stay for answers.
    assert books.views.live_position(AUDIT_TRAIL) == upto
    assert books.views.live_position(STOCK) is None
    assert not multiprocessing.active_children()
    parallel = {p.name: saved(store, p, upto) for p in STANDARD}
    expected = {p.name: replayed(books, p, upto) for p in STANDARD}
    assert parallel == expected
    for projection in STANDARD:
        assert books.query(projection).state == expected[projection.name]
    single = books.rebuild(jobs=1)
    assert single.jobs == 1
    assert single.events == done.events
    assert {p.name: saved(store, p, upto) for p in STANDARD} == parallel


def test_progress_follows_the_slowest_process_up_to_the_last_position(books: Warmcase) -> None:
    """The progress callback gets positions that never go back, ending at the last one."""
    seen: list[int] = []
    books.rebuild(jobs=2, progress=seen.append)
    assert seen
    assert seen == sorted(seen)
    assert seen[-1] == books.history.last_position()


def test_a_child_sends_at_most_one_position_per_step_and_always_the_last() -> None:
    """Positions reached page by page are sent only a step (1/PROGRESS_STEPS of the way)
    apart, so the queue carries a bounded number of messages, and the last one is sent."""
    sent: list[int] = []
    upto = 100_000
    reached = _sparse(sent.append, upto)
    for position in range(100, upto + 1, 100):
        reached(position)
    assert sent[-1] == upto
    assert len(sent) <= PROGRESS_STEPS + 1
    assert all(b - a >= upto // PROGRESS_STEPS for a, b in itertools.pairwise(sent[:-1]))
    few: list[int] = []
    reached = _sparse(few.append, 3)
    for position in (1, 2, 3):
        reached(position)
    assert few == [1, 2, 3]


def test_a_failing_process_raises_in_the_caller_and_a_rerun_repairs(
    books: Warmcase, store: str
) -> None:
    """A rule that raises in a child fails the rebuild with a typed error naming the group's
    projections and the child's error; the other group's checkpoints are complete, the
    failed group's old ones are gone, and answers still equal the replay."""
    upto = books.history.last_position()
    books.rebuild()
    with pytest.raises(RebuildFailed, match=r"test\.failing.*ZeroDivisionError") as failed:
        books.rebuild([*STANDARD, Failing()], jobs=2)
    assert failed.value.projections == ("test.failing",)
    assert "ZeroDivisionError" in failed.value.details
    fresh = warmcase.open(store)
    try:
        assert fresh.history.checkpoint(Failing().checkpoint_name, at_or_before=upto) is None
    finally:
        fresh.close()
    for projection in STANDARD:
        assert saved(store, projection, upto) == replayed(books, projection, upto)
    assert books.rebuild(jobs=2).checkpoints == len(STANDARD)


def test_a_process_that_dies_fails_the_rebuild_naming_what_it_was_rebuilding(
    books: Warmcase, store: str
) -> None:
    """A child that ends abruptly fails the rebuild with a typed error naming its projections
    and its exit code; the group folded here completes, and a rerun saves every checkpoint."""
    upto = books.history.last_position()
    with pytest.raises(RebuildFailed, match=r"test\.dying failed: ProcessDied.*code 3") as failed:
        books.rebuild([*STANDARD, Dying()], jobs=2)
    assert failed.value.projections == ("test.dying",)
    for projection in STANDARD:
        assert saved(store, projection, upto) == replayed(books, projection, upto)
    assert books.rebuild(jobs=2).checkpoints == len(STANDARD)


def test_a_rule_failing_in_the_calling_process_waits_for_the_children(
    books: Warmcase, store: str
) -> None:
    """A rule that raises in the group this process folds fails the rebuild with the same
    typed error, naming that group, once the children have ended with their checkpoints
    saved; nothing of the failed group is held or saved."""
    upto = books.history.last_position()
    exploding = Exploding()
    with pytest.raises(RebuildFailed, match=r"test\.exploding failed: ZeroDivisionError") as failed:
        books.rebuild([exploding, *STANDARD], jobs=2)
    assert failed.value.projections == ("test.exploding",)
    assert "ZeroDivisionError" in failed.value.details
    assert not multiprocessing.active_children()
    assert books.views.live_position(exploding) is None
    assert books.history.checkpoint(exploding.checkpoint_name, at_or_before=upto) is None
    for projection in STANDARD:
        assert saved(store, projection, upto) == replayed(books, projection, upto)


def test_an_unpicklable_projection_is_refused_before_anything_is_dropped(
    books: Warmcase, store: str
) -> None:
    """A projection of a class defined in a function cannot reach a child: the rebuild is
    refused naming it, and the checkpoints saved before are all still there."""

    class Local(Failing):
        name = "test.local"

    upto = books.history.last_position()
    books.rebuild()
    with pytest.raises(UnpicklableProjection, match=r"test\.local"):
        books.rebuild([*STANDARD, Local()], jobs=2)
    for projection in STANDARD:
        assert saved(store, projection, upto) is not None


@pytest.mark.parametrize("url", ["memory:", "sqlite:///:memory:"])
def test_a_store_only_this_process_sees_is_rebuilt_here(url: str) -> None:
    """In memory, no other process can open the store: several jobs rebuild in this one,
    and the report says one job did."""
    app = attach(warmcase.open(url, clock=ManualClock()), url)
    try:
        open_campaign(app)
        done = app.rebuild(jobs=2)
        assert done.jobs == 1
        assert done.events == app.history.last_position()
    finally:
        app.close()


def test_another_process_opens_a_sqlite_file_by_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files are named absolutely (the caller may change directory); servers as given;
    stores in this process's memory by nothing."""
    monkeypatch.chdir(tmp_path)
    assert reopenable("books.db") == f"sqlite:///{tmp_path / 'books.db'}"
    assert reopenable("sqlite:///books.db") == f"sqlite:///{tmp_path / 'books.db'}"
    assert reopenable("sqlite:////srv/books.db") == "sqlite:////srv/books.db"
    url = "postgresql://warmcase@db.example/relief"
    assert reopenable(url) == url
    for private in ("memory:", "sqlite:///:memory:", "sqlite://", ":memory:"):
        assert reopenable(private) is None


def test_two_jobs_on_postgresql_save_what_a_replay_gives(postgres_url: str) -> None:
    """On PostgreSQL, two processes rebuild the standard projections; every checkpoint
    equals the fold of the whole history."""
    clock = ManualClock()
    app = warmcase.open(postgres_url, clock=clock)
    try:
        app.attach_rebuilder(ProcessRebuilder(postgres_url))
        open_campaign(app)
        for number in range(1, 6):
            later(clock)
            enrolled_household(app, f"H-{number:04d}")
        upto = app.history.last_position()
        done = app.rebuild(jobs=2)
        assert done.jobs == 2
        assert done.checkpoints == len(STANDARD)
        for projection in STANDARD:
            assert saved(postgres_url, projection, upto) == replayed(app, projection, upto)
    finally:
        app.close()
