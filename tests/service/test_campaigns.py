"""Campaign commands through the application."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.clocks import ManualClock, at
from tests.strategies.campaign import spring_festival_standards
from warmcase.app import Warmcase
from warmcase.domain import campaign
from warmcase.domain.campaign import AidStandard
from warmcase.errors import AlreadyExists, EffectiveTimeRefused, InvalidCommand, NotFound


def open_spring_festival(app: Warmcase) -> str:
    """Open the reference campaign, backdated to its first day."""
    return app.open_campaign(
        "SF-2027",
        name="Spring Festival visits 2027",
        owner="Street office",
        starts_on=date(2026, 11, 15),
        ends_on=date(2027, 3, 15),
        standards=spring_festival_standards(),
        actor="office",
        effective_at=at(15, month=11, year=2026),
    )


def test_commands_return_the_reference_and_persist(app: Warmcase) -> None:
    """Each command returns the campaign's reference; its state is read back from the store."""
    assert open_spring_festival(app) == "SF-2027"
    app.warn_cold_wave("SF-2027", area="Gulou", starts_at=at(20), ends_at=at(23), actor="duty")
    state = app.load(campaign.KIND, "SF-2027")
    assert len(state.cold_waves) == 1
    assert app.recorder.max_notification_id() == 2


def test_refused_commands_append_nothing(app: Warmcase) -> None:
    """A refusal of any kind leaves the store exactly as it was."""
    open_spring_festival(app)
    before = app.recorder.max_notification_id()
    with pytest.raises(AlreadyExists):
        open_spring_festival(app)
    with pytest.raises(InvalidCommand):
        app.amend_standards("SF-2027", standards=(), reason="", actor="x")
    with pytest.raises(NotFound, match="campaign SF-2099 does not exist"):
        app.close_campaign("SF-2099", actor="x")
    assert before == app.recorder.max_notification_id()


def test_effective_time_may_be_backdated_but_not_in_the_future(
    app: Warmcase, clock: ManualClock
) -> None:
    """A backdated entry is accepted; one dated after now is refused, naming now."""
    open_spring_festival(app)
    with pytest.raises(EffectiveTimeRefused, match="in the future"):
        app.close_campaign("SF-2027", actor="x", effective_at=clock() + timedelta(minutes=1))
    assert app.close_campaign("SF-2027", actor="x", effective_at=clock() - timedelta(days=3))


def test_an_actor_is_required(app: Warmcase) -> None:
    """Every fact says who did it: a blank actor is refused."""
    with pytest.raises(InvalidCommand, match="actor"):
        app.open_campaign(
            "C",
            name="n",
            owner="o",
            starts_on=date(2027, 1, 1),
            ends_on=date(2027, 1, 2),
            standards=[AidStandard(category="marginal", tiers=((1, 1),))],
            actor=" ",
        )
