"""Household commands through the application: survey to enrolment, objections,
disqualification, merging and closing, each refusal appending nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest

from tests.clocks import ManualClock, at
from tests.scenario import CAMPAIGN, enrolled_household, open_campaign, register
from tests.strategies.campaign import spring_festival_standards
from warmcase.app import Warmcase
from warmcase.domain import household
from warmcase.domain.household import (
    AlreadyEnrolled,
    Disqualified,
    Heating,
    Household,
    HouseholdClosedError,
    HouseholdExists,
    HouseholdMergedError,
    NewMember,
    NotVerified,
    ObjectionNotFound,
    PostingWindowOpen,
    UnderObjection,
)
from warmcase.errors import EffectiveTimeRefused, InvalidCommand, NotFound
from warmcase.personal import Personal, household_subject

ID_HEAD = "350102195001011234"
ID_CHILD = "35010220100303002X"


def state_of(app: Warmcase, ref: str) -> Household:
    """The household as the store has it."""
    state = app.load(household.KIND, ref)
    assert isinstance(state, Household)
    return state


def topics(app: Warmcase) -> list[str]:
    """The type names of every stored event, in order."""
    last = app.recorder.max_notification_id() or 0
    return [n.topic for n in app.recorder.select_notifications(1, last)]


def refuses(
    app: Warmcase, error: type[Exception], message: str, command: Callable[[], object]
) -> None:
    """`command` raises `error` with `message` and appends nothing."""
    before = app.recorder.max_notification_id()
    with pytest.raises(error, match=message):
        command()
    assert before == app.recorder.max_notification_id()


def test_register_stores_the_survey_with_personal_fields_sealed(app: Warmcase) -> None:
    """Registration returns the reference; the survey reads back from the store, ID numbers
    hashed with the store's own key."""
    ref = app.register_household(
        "H-0001",
        district="Gulou",
        street="Dongjie",
        community="Wenquan",
        grid="G-03",
        address_detail="Building 3, Room 402",
        head_name="王建国",
        head_id_number=ID_HEAD,
        head_birth_year=1950,
        phone="13800138000",
        members=[
            NewMember(name="王小明", relation="grandchild", id_number=ID_CHILD, birth_year=2010)
        ],
        categories=["minimum_allowance", "elderly_alone"],
        hardship_level=1,
        heating=Heating(electricity=True, gas=False, central_heating=False, co_alarm=False),
        actor="surveyor",
    )
    assert ref == "H-0001"
    state = state_of(app, "H-0001")
    subject = household_subject("H-0001")
    assert (Personal(subject, "王建国"), Personal(subject, "王小明")) == tuple(
        m.name for m in state.members
    )
    assert (app.keyring.id_digest(ID_HEAD), app.keyring.id_digest(ID_CHILD)) == tuple(
        m.id_digest for m in state.members
    )
    assert Personal(subject, "Building 3, Room 402") == state.address.detail
    assert frozenset({"minimum_allowance", "elderly_alone"}) == state.categories
    assert topics(app) == ["household.surveyed"]


def test_register_refuses_a_reference_in_use(app: Warmcase) -> None:
    """A second registration under the same reference is refused and appends nothing."""
    register(app, "H-0001")
    refuses(app, HouseholdExists, "H-0001 is already registered", lambda: register(app, "H-0001"))


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        (
            {"head_id_number": "35010219500101123"},
            InvalidCommand,
            "ID number of member 1 of household H-0001 is not a resident ID number",
        ),
        ({"categories": ()}, InvalidCommand, "at least one hardship category"),
        ({"phone": ""}, InvalidCommand, "is not a phone number"),
    ],
)
def test_register_refuses_a_malformed_survey(
    app: Warmcase, changes: dict[str, object], error: type[Exception], message: str
) -> None:
    """A malformed survey is refused and appends nothing."""
    refuses(app, error, message, lambda: register(app, "H-0001", **changes))  # type: ignore[arg-type]


def test_register_refuses_an_unusable_reference(app: Warmcase) -> None:
    """References have no spaces; the message says what one looks like."""
    refuses(
        app, InvalidCommand, "household reference 'H 1' is not usable", lambda: register(app, "H 1")
    )


def test_update_household_records_the_changes_with_new_members_hashed(app: Warmcase) -> None:
    """An update changes categories and adds a member numbered on, hashed by the store."""
    register(app, "H-0001")
    newborn = NewMember(name="王小红", relation="grandchild", id_number=ID_CHILD)
    assert (
        app.update_household(
            "H-0001",
            reason="grandchild came to live with him",
            categories=["minimum_allowance", "left_behind"],
            add_members=[newborn],
            actor="surveyor",
        )
        == "H-0001"
    )
    state = state_of(app, "H-0001")
    assert frozenset({"minimum_allowance", "left_behind"}) == state.categories
    added = state.member("2")
    assert added is not None
    assert app.keyring.id_digest(ID_CHILD) == added.id_digest
    assert topics(app) == ["household.surveyed", "household.circumstances_updated"]


def test_update_household_refusals_append_nothing(app: Warmcase) -> None:
    """No reason, no change, or an unknown household: refused, nothing appended."""
    register(app, "H-0001")
    refuses(
        app,
        InvalidCommand,
        "a reason is required",
        lambda: app.update_household("H-0001", reason="", hardship_level=1, actor="s"),
    )
    refuses(
        app,
        InvalidCommand,
        "changes nothing",
        lambda: app.update_household("H-0001", reason="r", hardship_level=2, actor="s"),
    )
    refuses(
        app,
        NotFound,
        "household H-0404 does not exist",
        lambda: app.update_household("H-0404", reason="r", hardship_level=1, actor="s"),
    )


def test_survey_to_enrolment_waits_out_the_posting_window(
    app: Warmcase, clock: ManualClock
) -> None:
    """Verified and posted now, the household is enrolled only once 7 days have passed."""
    open_campaign(app)
    register(app, "H-0001")
    refuses(
        app,
        NotVerified,
        "H-0001 is not verified",
        lambda: app.post_household("H-0001", place="notice board", actor="community"),
    )
    assert app.verify_household("H-0001", actor="community") == "H-0001"
    assert app.post_household("H-0001", place="notice board", actor="community") == "H-0001"
    refuses(
        app,
        PostingWindowOpen,
        "until 2027-02-01T09:00:00\\+08:00",
        lambda: app.enroll_household("H-0001", campaign=CAMPAIGN, actor="office"),
    )
    clock.advance(timedelta(days=7))
    assert app.enroll_household("H-0001", campaign=CAMPAIGN, actor="office") == "H-0001"
    assert frozenset({CAMPAIGN}) == state_of(app, "H-0001").enrollments
    refuses(
        app,
        AlreadyEnrolled,
        "already enrolled in campaign SF-2027",
        lambda: app.enroll_household("H-0001", campaign=CAMPAIGN, actor="office"),
    )


def test_enrolment_in_an_unknown_campaign_is_refused(app: Warmcase) -> None:
    """The campaign must exist."""
    register(app, "H-0001")
    refuses(
        app,
        NotFound,
        "campaign SF-2099 does not exist",
        lambda: app.enroll_household("H-0001", campaign="SF-2099", actor="office"),
    )


def test_an_objection_holds_enrolment_until_dismissed(app: Warmcase) -> None:
    """An open objection stops enrolment; once dismissed, the household is enrolled."""
    open_campaign(app)
    register(app, "H-0001")
    app.verify_household("H-0001", actor="community", effective_at=at(2, month=12, year=2026))
    app.post_household(
        "H-0001", place="notice board", actor="community", effective_at=at(3, month=12, year=2026)
    )
    assert (
        app.raise_objection(
            "H-0001",
            objection_id="O-1",
            grounds="家里有车",
            raised_by="neighbour",
            actor="community",
        )
        == "H-0001"
    )
    refuses(
        app,
        UnderObjection,
        "O-1 raised by neighbour",
        lambda: app.enroll_household("H-0001", campaign=CAMPAIGN, actor="office"),
    )
    refuses(
        app,
        ObjectionNotFound,
        "no objection 'O-2'",
        lambda: app.resolve_objection(
            "H-0001", objection_id="O-2", upheld=False, reason="r", actor="community"
        ),
    )
    assert (
        app.resolve_objection(
            "H-0001",
            objection_id="O-1",
            upheld=False,
            reason="the car is a son's",
            actor="community",
        )
        == "H-0001"
    )
    app.enroll_household("H-0001", campaign=CAMPAIGN, actor="office")
    assert CAMPAIGN in state_of(app, "H-0001").enrollments


def test_a_disqualified_household_is_refused_next_season(app: Warmcase) -> None:
    """A false report found in SF-2027 refuses enrolment in SF-2028 too."""
    open_campaign(app)
    enrolled_household(app, "H-0001")
    assert (
        app.disqualify_household(
            "H-0001", campaign=CAMPAIGN, reason="income not declared", actor="office"
        )
        == "H-0001"
    )
    assert date(2028, 3, 15) == state_of(app, "H-0001").disqualifications[0].until
    app.open_campaign(
        "SF-2028",
        name="Spring Festival visits 2028",
        owner="Gulou street office",
        starts_on=date(2027, 11, 15),
        ends_on=date(2028, 3, 15),
        standards=spring_festival_standards(),
        actor="office",
    )
    refuses(
        app,
        Disqualified,
        "disqualified in campaign SF-2027 \\(income not declared\\) until 2028-03-15",
        lambda: app.enroll_household("H-0001", campaign="SF-2028", actor="office"),
    )


def test_merge_saves_both_records_in_one_write(app: Warmcase) -> None:
    """Merging appends one event to each record together and returns the survivor."""
    register(app, "H-0001")
    register(app, "H-0002", head_id_number=None)
    before = app.recorder.max_notification_id() or 0
    assert (
        app.merge_households(
            "H-0002", into="H-0001", reason="same family registered twice", actor="office"
        )
        == "H-0001"
    )
    assert before + 2 == app.recorder.max_notification_id()
    assert state_of(app, "H-0002").merged_into == "H-0001"
    assert state_of(app, "H-0001").absorbed == ("H-0002",)
    assert topics(app)[-2:] == ["household.merged_into", "household.duplicate_absorbed"]
    refuses(
        app,
        HouseholdMergedError,
        "H-0002 was merged into household H-0001",
        lambda: app.verify_household("H-0002", actor="community"),
    )


def test_merge_refusals_append_nothing(app: Warmcase) -> None:
    """Into itself, into an unknown record, or without a reason: refused."""
    register(app, "H-0001")
    register(app, "H-0002", head_id_number=None)
    refuses(
        app,
        InvalidCommand,
        "cannot be merged into itself",
        lambda: app.merge_households("H-0001", into="H-0001", reason="r", actor="o"),
    )
    refuses(
        app,
        NotFound,
        "household H-0404 does not exist",
        lambda: app.merge_households("H-0002", into="H-0404", reason="r", actor="o"),
    )
    refuses(
        app,
        InvalidCommand,
        "a reason is required",
        lambda: app.merge_households("H-0002", into="H-0001", reason="", actor="o"),
    )


def test_a_closed_household_takes_no_more_changes(app: Warmcase) -> None:
    """Closing records cause and reason; later changes are refused, as is an unknown cause."""
    register(app, "H-0001")
    register(app, "H-0002", head_id_number=None)
    assert (
        app.close_household(
            "H-0001", cause="deceased", reason="head died on 3 January", actor="community"
        )
        == "H-0001"
    )
    refuses(
        app,
        HouseholdClosedError,
        "H-0001 was closed on .* \\(deceased: head died on 3 January\\)",
        lambda: app.update_household("H-0001", reason="r", hardship_level=1, actor="s"),
    )
    refuses(
        app,
        InvalidCommand,
        "cause 'vanished' is not accepted",
        lambda: app.close_household("H-0002", cause="vanished", reason="r", actor="c"),
    )


def test_effective_time_may_be_backdated_but_not_in_the_future(
    app: Warmcase, clock: ManualClock
) -> None:
    """A survey entered late keeps the day it happened; a future date is refused."""
    refuses(
        app,
        EffectiveTimeRefused,
        "in the future",
        lambda: register_at(app, clock() + timedelta(hours=1)),
    )
    register_at(app, at(1, month=12, year=2026))
    state = state_of(app, "H-0001")
    assert state.ref == "H-0001"


def register_at(app: Warmcase, moment: datetime) -> str:
    """Register H-0001 effective at `moment`."""
    return app.register_household(
        "H-0001",
        district="Gulou",
        street="Dongjie",
        community="Wenquan",
        grid="G-03",
        address_detail="Building 3, Room 402",
        head_name="王建国",
        phone="13800138000",
        categories=["marginal"],
        hardship_level=2,
        actor="surveyor",
        effective_at=moment,
    )


def test_the_full_history_uses_the_permanent_type_names(app: Warmcase) -> None:
    """Survey to enrolment is stored under the permanent household.* type names."""
    open_campaign(app)
    enrolled_household(app, "H-0001")
    assert [t for t in topics(app) if t.startswith("household.")] == [
        "household.surveyed",
        "household.verified",
        "household.posted",
        "household.enrolled",
    ]
