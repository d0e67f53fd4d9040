"""`atomically`: several commands appended in one write, or none of them."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import warmcase
from tests.clocks import ManualClock
from tests.scenario import register
from warmcase.app import Warmcase
from warmcase.domain import household
from warmcase.domain.household import HouseholdExists
from warmcase.errors import CommandRefused


def last_position(app: Warmcase) -> int:
    """The position of the last stored event (0 for an empty store)."""
    return app.recorder.max_notification_id() or 0


def test_commands_of_a_batch_are_appended_together_and_see_each_other(app: Warmcase) -> None:
    """Every command of the batch is stored; a later command decides on what an earlier one
    decided (verifying a household registered in the same batch)."""

    def commands() -> str:
        register(app, "H-0001")
        register(app, "H-0002")
        return app.verify_household("H-0001", actor="checker")

    assert app.atomically(commands) == "H-0001"
    assert last_position(app) == 3
    state = app.load(household.KIND, "H-0001")
    assert state is not None
    assert state.verified


def test_nothing_is_appended_until_the_batch_returns(app: Warmcase) -> None:
    """Inside the batch the store holds none of its commands yet."""
    seen: list[int] = []

    def commands() -> None:
        register(app, "H-0001")
        seen.append(last_position(app))

    app.atomically(commands)
    assert seen == [0]
    assert last_position(app) == 1


def test_a_batch_that_raises_appends_nothing(app: Warmcase) -> None:
    """An exception leaving the batch discards every command in it, and the records read
    afterwards are the store's, not the discarded states."""

    class Abandon(Exception):
        pass

    def commands() -> None:
        register(app, "H-0001")
        raise Abandon

    with pytest.raises(Abandon):
        app.atomically(commands)
    assert last_position(app) == 0
    assert app.load(household.KIND, "H-0001") is None
    register(app, "H-0001")
    assert last_position(app) == 1


def test_a_refusal_caught_inside_leaves_out_only_its_command(app: Warmcase) -> None:
    """A command refused inside the batch decides nothing; the others are appended."""
    refused: list[CommandRefused] = []

    def commands() -> None:
        register(app, "H-0001")
        try:
            register(app, "H-0001")
        except HouseholdExists as error:
            refused.append(error)
        register(app, "H-0002")

    app.atomically(commands)
    assert len(refused) == 1
    assert last_position(app) == 2


def test_nested_batches_join_the_outer_one(app: Warmcase) -> None:
    """A batch inside a batch is part of it: nothing is appended before the outer one ends."""

    def inner() -> None:
        register(app, "H-0002")

    def outer() -> None:
        register(app, "H-0001")
        app.atomically(inner)
        assert last_position(app) == 0

    app.atomically(outer)
    assert last_position(app) == 2


def test_other_threads_are_not_part_of_the_batch(app: Warmcase) -> None:
    """A command sent by another thread while a batch runs is its own write, kept even
    when the batch is abandoned."""

    def other() -> None:
        register(app, "H-0009")

    def commands() -> None:
        register(app, "H-0001")
        worker = threading.Thread(target=other)
        worker.start()
        worker.join()
        raise RuntimeError

    with pytest.raises(RuntimeError):
        app.atomically(commands)
    assert app.load(household.KIND, "H-0009") is not None
    assert app.load(household.KIND, "H-0001") is None


def test_a_batch_losing_a_race_is_decided_again(tmp_path: Path, clock: ManualClock) -> None:
    """When another writer changes a record after the batch read it, the batch's commit
    conflicts, the batch runs again on the new state, and both changes are kept."""
    url = f"sqlite:///{tmp_path / 'books.db'}"
    ours, theirs = warmcase.open(url, clock=clock), warmcase.open(url, clock=clock)
    try:
        register(ours, "H-0001")
        runs: list[int] = []

        def commands() -> None:
            runs.append(len(runs))
            ours.update_household(
                "H-0001", reason="new phone", phone=f"1380000000{len(runs)}", actor="a"
            )
            if len(runs) == 1:
                theirs.update_household("H-0001", reason="moved", grid="G-09", actor="b")

        ours.atomically(commands)
        state = theirs.load(household.KIND, "H-0001")
        assert runs == [0, 1]
        assert state.address.grid == "G-09"
        assert state.phone.value == "13800000002"
    finally:
        ours.close()
        theirs.close()
