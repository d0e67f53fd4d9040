"""Erasing a household's personal data: the history stays, the personal fields go."""

from __future__ import annotations

import pytest

from tests.scenario import enrolled_household, open_campaign, register
from warmcase.app import Warmcase
from warmcase.domain import household
from warmcase.errors import InvalidCommand, NotFound
from warmcase.personal import ERASED_TEXT


def test_erased_household_replays_with_personal_fields_erased(app: Warmcase) -> None:
    """After erasure the household still loads; name, phone, ID and address read as erased."""
    open_campaign(app)
    enrolled_household(app, "H-0001")
    app.erase_household("H-0001", reason="data subject's request", actor="dpo")

    state = app.load(household.KIND, "H-0001")
    assert state.erased
    assert str(state.phone) == ERASED_TEXT
    assert all(member.name.erased for member in state.members)
    assert state.address.detail.erased
    # What is not personal still counts: categories, size, enrolment, the area.
    assert frozenset({"minimum_allowance"}) == state.categories
    assert "SF-2027" in state.enrollments
    assert state.address.community == "Wenquan"


def test_erasure_is_recorded_with_reason_and_actor(app: Warmcase) -> None:
    """The erasure itself is an event: auditors see who erased what and why."""
    register(app, "H-0001")
    app.erase_household("H-0001", reason="data subject's request", actor="dpo")
    last = app.recorder.select_notifications(app.recorder.max_notification_id(), 1)[0]
    assert last.topic == "household.erased"
    event = app.envelope(last).event
    assert isinstance(event, household.HouseholdErased)
    assert (event.actor, event.reason) == ("dpo", "data subject's request")


def test_erasing_twice_records_one_erasure(app: Warmcase) -> None:
    """A repeated erasure destroys nothing new and records nothing new."""
    register(app, "H-0001")
    app.erase_household("H-0001", reason="request", actor="dpo")
    before = app.recorder.max_notification_id()
    assert app.erase_household("H-0001", reason="request", actor="dpo") == "H-0001"
    assert before == app.recorder.max_notification_id()


def test_other_households_keep_their_personal_data(app: Warmcase) -> None:
    """Each household has its own key: erasing one leaves the others readable."""
    register(app, "H-0001", head_name="王建国")
    register(app, "H-0002", head_name="李秀英", head_id_number="350102196002022345")
    app.erase_household("H-0001", reason="request", actor="dpo")
    assert str(app.load(household.KIND, "H-0002").head.name) == "李秀英"


def test_erasure_needs_a_reason_and_an_existing_household(app: Warmcase) -> None:
    """An erasure without a reason, or of an unknown household, is refused and appends nothing."""
    register(app, "H-0001")
    before = app.recorder.max_notification_id()
    with pytest.raises(InvalidCommand, match="reason"):
        app.erase_household("H-0001", reason=" ", actor="dpo")
    with pytest.raises(NotFound):
        app.erase_household("H-0404", reason="request", actor="dpo")
    assert before == app.recorder.max_notification_id()
    assert str(app.load(household.KIND, "H-0001").head.name) == "王建国"
