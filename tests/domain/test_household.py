"""The Household aggregate: the registry of households in hardship and its aid ledger."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.clocks import at
from tests.strategies.campaign import standard_sets
from tests.strategies.household import (
    ACTOR,
    CAMPAIGN,
    apply,
    category_sets,
    enrolled,
    fake_digest,
    household_sizes,
    id_numbers,
    open_campaign,
    survey,
    surveyed_households,
)
from warmcase.domain import household
from warmcase.domain.campaign import AidStandard, Campaign, CampaignClosedError
from warmcase.domain.household import (
    AboveTier,
    AidAlreadyPaid,
    AidPaid,
    AlreadyDisqualified,
    AlreadyEnrolled,
    AlreadyPosted,
    AlreadyVerified,
    CircumstancesUpdated,
    Disqualified,
    DuplicateAbsorbed,
    Heating,
    Household,
    HouseholdClosedError,
    HouseholdDisqualified,
    HouseholdErasedError,
    HouseholdExists,
    HouseholdMergedError,
    MergedInto,
    NewMember,
    NoAidStandard,
    NotEnrolled,
    NotPosted,
    NotVerified,
    ObjectionAlreadyResolved,
    ObjectionExists,
    ObjectionNotFound,
    PostingWindowOpen,
    ProxySignatureRefused,
    SplitPaymentRefused,
    UnderObjection,
)
from warmcase.errors import InvalidCommand, RuleViolation
from warmcase.events import Event
from warmcase.personal import Personal, household_subject

ID_HEAD = "11010519510304002X"
ID_SPOUSE = "110105195305060017"
SUBJECT = household_subject("H-0001")


def pay_events(
    state: Household,
    amount_fen: int,
    *,
    campaign: Campaign | None = None,
    visit: str = "V-02",
    signed_by: str = "1",
    signer_phone: str = "13800138000",
    override_reason: str | None = None,
) -> list[Event]:
    """The events of a payment on 22 January (or its refusal)."""
    return household.pay_aid(
        state,
        campaign=campaign or open_campaign(),
        visit=visit,
        amount_fen=amount_fen,
        signed_by=signed_by,
        signer_phone=signer_phone,
        override_reason=override_reason,
        actor=ACTOR,
        at=at(22),
    )


def pay(
    state: Household, amount_fen: int, *, visit: str = "V-01", override_reason: str | None = None
) -> Household:
    """`state` after a payment that must be accepted."""
    events = pay_events(state, amount_fen, visit=visit, override_reason=override_reason)
    return apply(state, events)


def update(state: Household, **changes: object) -> Household:
    """`state` after an accepted update on 10 January."""
    events = household.update(state, reason="回访核实", actor=ACTOR, at=at(10), **changes)  # type: ignore[arg-type]
    return apply(state, events)


def verified(state: Household) -> Household:
    """`state` verified on 6 January."""
    return apply(state, household.verify(state, actor=ACTOR, at=at(6)))


def posted(window_days: int = 7) -> Household:
    """A household verified and posted on 6 January at 10:00."""
    state = verified(survey())
    events = household.post(
        state, place="公告栏", window_days=window_days, actor=ACTOR, at=at(6, 10)
    )
    return apply(state, events)


def with_objection(state: Household, objection_id: str = "O-1") -> Household:
    """`state` with an open objection raised on 8 January."""
    events = household.raise_objection(
        state,
        objection_id=objection_id,
        grounds="邻居反映家中有两辆车",
        raised_by="neighbour",
        actor=ACTOR,
        at=at(8),
    )
    return apply(state, events)


def resolved(state: Household, *, upheld: bool, objection_id: str = "O-1") -> Household:
    """`state` with its objection resolved on 9 January."""
    events = household.resolve_objection(
        state, objection_id=objection_id, upheld=upheld, reason="checked", actor=ACTOR, at=at(9)
    )
    return apply(state, events)


def disqualified(state: Household, campaign: Campaign | None = None) -> Household:
    """`state` disqualified in `campaign` (default: the Spring Festival campaign)."""
    events = household.disqualify(
        state, campaign=campaign or open_campaign(), reason="hid income", actor=ACTOR, at=at(27)
    )
    return apply(state, events)


def closed(state: Household) -> Household:
    """`state` closed because the household moved away."""
    events = household.close(state, cause="moved", reason="moved to Tianjin", actor=ACTOR, at=at(9))
    return apply(state, events)


def merged(state: Household, into: str = "H-0009") -> Household:
    """`state` merged into a survivor."""
    events = household.merge(state, survey(ref=into), reason="same family", actor=ACTOR, at=at(9))
    return apply(state, [e for e in events if e.ref == state.ref])


def erased(state: Household) -> Household:
    """`state` after its personal data was erased."""
    return apply(
        state, household.erase(state, reason="asked to be forgotten", actor=ACTOR, at=at(9))
    )


def survey_arguments(**overrides: object) -> dict[str, object]:
    """Valid survey arguments for H-0003, with `overrides`."""
    arguments: dict[str, object] = {
        "ref": "H-0003",
        "district": "朝阳区",
        "street": "红桥街道",
        "community": "红桥社区",
        "grid": "第3网格",
        "address_detail": "红桥路1号",
        "head": NewMember(name="张伟", relation="head"),
        "phone": "13800138000",
        "categories": ["marginal"],
        "hardship_level": 2,
        "actor": ACTOR,
        "at": at(5),
    }
    arguments.update(overrides)
    return arguments


# ---------------------------------------------------------------- survey


def test_survey_numbers_the_head_one_and_members_on() -> None:
    """The head is member "1" with relation "head"; other members are numbered 2, 3, ..."""
    state = survey(size=3)
    assert tuple(m.member_id for m in state.members) == ("1", "2", "3")
    assert tuple(m.is_head for m in state.members) == (True, False, False)
    assert state.head.relation == "head"
    assert state.size == 3


def test_survey_keeps_personal_fields_under_the_households_key() -> None:
    """Name, phone, exact address line and ID number are Personal under household:<ref>;
    district to grid are plain, since coverage is reported by them."""
    state = survey(head_id_number=ID_HEAD)
    assert Personal(SUBJECT, "李秀英") == state.head.name
    assert Personal(SUBJECT, "13800138000") == state.phone
    assert Personal(SUBJECT, "红桥路12号3单元401") == state.address.detail
    assert Personal(SUBJECT, ID_HEAD) == state.head.id_number
    assert fake_digest(ID_HEAD) == state.head.id_digest
    assert (
        state.address.district,
        state.address.street,
        state.address.community,
        state.address.grid,
    ) == ("朝阳区", "红桥街道", "红桥社区", "第3网格")


def test_survey_records_categories_level_and_heating() -> None:
    """The survey's categories, hardship level and heating status are the state's."""
    heating = Heating(electricity=True, gas=False, central_heating=False, co_alarm=False)
    arguments = survey_arguments(
        categories=["marginal", "elderly_alone"], hardship_level=1, heating=heating
    )
    state = apply_first(household.survey(None, **arguments))  # type: ignore[arg-type]
    assert frozenset({"marginal", "elderly_alone"}) == state.categories
    assert state.hardship_level == 1
    assert heating == state.heating
    assert not state.verified


def apply_first(events: list[Event]) -> Household:
    """The household folded from `events`."""
    return apply(household.evolve(None, events[0]), events[1:])


def test_id_numbers_are_normalised_before_hashing() -> None:
    """A lower-case x or full-width digits give the same number, hence the same digest."""
    full_width = "１１０１０５１９５１０３０４００２x"
    assert household.id_number(full_width, "ID") == ID_HEAD
    person = NewMember(name="a", relation="head", id_number=full_width)
    assert {ID_HEAD: fake_digest(ID_HEAD)} == household.id_digests([person], fake_digest)


@given(id_numbers)
def test_any_number_of_the_right_shape_is_accepted(number: str) -> None:
    """17 digits then a digit or X is accepted as an ID number (no checksum is enforced)."""
    assert number == household.id_number(number, "ID")


def test_survey_refuses_a_reference_in_use() -> None:
    """A second survey under the same reference is refused, naming the reference."""
    with pytest.raises(HouseholdExists, match="household H-0001 is already registered"):
        household.survey(survey(), **survey_arguments(ref="H-0001"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"categories": []}, "at least one hardship category is required"),
        ({"categories": ["rich"]}, "unknown hardship categories ['rich']"),
        ({"categories": "marginal"}, "categories must be a collection of codes"),
        ({"hardship_level": 0}, "hardship_level is 0; accepted: 1, 2 or 3"),
        ({"hardship_level": 4}, "hardship_level is 4; accepted: 1, 2 or 3"),
        ({"hardship_level": True}, "hardship_level is True"),
        ({"phone": "  "}, "phone of household H-0003 is not a phone number"),
        ({"phone": "call me"}, "phone of household H-0003 is not a phone number"),
        ({"phone": "12345"}, "give 7 to 20 digits"),
        ({"grid": ""}, "grid must be a non-empty text"),
        ({"address_detail": " "}, "address_detail must be a non-empty text"),
        ({"heating": "yes"}, "heating must be a Heating value"),
        ({"head": NewMember(name="", relation="head")}, "name of member 1 of household H-0003"),
        (
            {"head": NewMember(name="n", relation="head", birth_year=1850)},
            "birth_year of member 1 of household H-0003 is 1850; accepted: 1900 to 2027",
        ),
        ({"members": [NewMember(name="n", relation=" ")]}, "relation of member 2 of household"),
        ({"members": ["not a member"]}, "members must be NewMember values, got str"),
    ],
)
def test_survey_refuses_malformed_arguments(overrides: dict[str, object], message: str) -> None:
    """Each malformed field is refused with a message naming the field and what is accepted."""
    with pytest.raises(InvalidCommand, match=re.escape(message)):
        household.survey(None, **survey_arguments(**overrides))  # type: ignore[arg-type]


def test_survey_refuses_a_malformed_id_number_without_echoing_it() -> None:
    """An ID number of the wrong shape is refused by its length; the number is never printed."""
    bad = "1101051951030400"
    head = NewMember(name="n", relation="head", id_number=bad)
    with pytest.raises(InvalidCommand, match="not a resident ID number") as refused:
        household.survey(None, **survey_arguments(head=head))  # type: ignore[arg-type]
    assert "17 digits then a digit or X; got 16 characters" in str(refused.value)
    assert bad not in str(refused.value)


def test_survey_refuses_an_id_number_without_its_digest() -> None:
    """Command code must pass the keyed digest of every ID number."""
    head = NewMember(name="n", relation="head", id_number=ID_HEAD)
    with pytest.raises(InvalidCommand, match="ID number of member 1 of household H-0003 has no"):
        household.survey(None, **survey_arguments(head=head, digests={}))  # type: ignore[arg-type]


def test_survey_refuses_one_person_registered_twice() -> None:
    """Two members with the same ID number are refused, naming both member ids."""
    head = NewMember(name="n", relation="head", id_number=ID_SPOUSE)
    other = NewMember(name="m", relation="spouse", id_number=ID_SPOUSE)
    arguments = survey_arguments(
        head=head, members=[other], digests=household.id_digests([head, other], fake_digest)
    )
    with pytest.raises(InvalidCommand, match="members 1 and 2 of household H-0003 have the same"):
        household.survey(None, **arguments)  # type: ignore[arg-type]


# ---------------------------------------------------------------- update


def test_update_stores_only_what_changed() -> None:
    """Fields given equal to the registered ones are left out of the event."""
    events = household.update(
        survey(),
        reason="diagnosed in December",
        phone="13800138000",
        community="红桥社区",
        categories=["minimum_allowance", "serious_illness"],
        actor=ACTOR,
        at=at(10),
    )
    expected = CircumstancesUpdated(
        ref="H-0001",
        actor=ACTOR,
        effective_at=at(10),
        categories=frozenset({"minimum_allowance", "serious_illness"}),
        reason="diagnosed in December",
    )
    assert [expected] == events


def test_update_changes_address_phone_level_and_heating() -> None:
    """Each changed field is the new state; the rest stays."""
    heating = Heating(electricity=True, gas=True, central_heating=False, co_alarm=True)
    state = update(
        survey(),
        grid="第4网格",
        address_detail="红桥路14号",
        phone="13900139000",
        hardship_level=1,
        heating=heating,
    )
    assert state.address.grid == "第4网格"
    assert state.address.community == "红桥社区"
    assert Personal(SUBJECT, "红桥路14号") == state.address.detail
    assert Personal(SUBJECT, "13900139000") == state.phone
    assert state.hardship_level == 1
    assert heating == state.heating


def test_new_members_are_numbered_after_every_id_ever_used() -> None:
    """A removed member's id is never given again: old signatures name it."""
    state = update(survey(size=3), remove_members=["3"])
    state = update(state, add_members=[NewMember(name="新生儿", relation="grandchild")])
    assert tuple(m.member_id for m in state.members) == ("1", "2", "4")
    assert state.size == 3


def test_a_new_head_takes_over_and_the_old_head_can_then_leave() -> None:
    """After the head dies, another member becomes head and the old head is removed."""
    state = update(survey(size=2), new_head="2", remove_members=["1"])
    assert tuple(m.member_id for m in state.members) == ("2",)
    assert state.head.member_id == "2"
    assert state.head.relation == "head"


def test_a_former_head_who_stays_is_no_longer_head() -> None:
    """Handing over the headship keeps the old head as a member, marked former head."""
    state = update(survey(size=2), new_head="2")
    former = state.member("1")
    assert former is not None
    assert (former.is_head, former.relation) == (False, "former head")


def test_update_refuses_without_a_reason() -> None:
    """A change of circumstances needs a reason, since it can change the aid."""
    with pytest.raises(InvalidCommand, match="a reason is required: a change to household H-0001"):
        household.update(survey(), reason=" ", hardship_level=1, actor=ACTOR, at=at(10))


def test_update_refuses_a_change_that_changes_nothing() -> None:
    """An update whose fields all equal the registered ones is refused."""
    with pytest.raises(InvalidCommand, match="update of household H-0001 changes nothing"):
        household.update(survey(), reason="check", hardship_level=2, actor=ACTOR, at=at(10))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"remove_members": ["1"]}, "member 1 is the head of household H-0001"),
        ({"remove_members": ["7"]}, "household H-0001 has no member '7' to remove (members: 1, 2)"),
        ({"new_head": "9"}, "new_head '9' is not a registered member of household H-0001"),
        ({"categories": []}, "at least one hardship category is required"),
        ({"hardship_level": 5}, "hardship_level is 5"),
        ({"phone": "x"}, "phone of household H-0001 is not a phone number"),
    ],
)
def test_update_refuses_malformed_changes(changes: dict[str, object], message: str) -> None:
    """Removing the head or an unknown member, an unknown new head, bad values: refused."""
    with pytest.raises(InvalidCommand, match=re.escape(message)):
        household.update(survey(), reason="r", actor=ACTOR, at=at(10), **changes)  # type: ignore[arg-type]


def test_update_refuses_an_added_member_already_registered() -> None:
    """A new member with the ID number of a registered one is refused."""
    twin = NewMember(name="x", relation="spouse", id_number=ID_HEAD)
    with pytest.raises(InvalidCommand, match="members 1 and 3 of household H-0001 have the same"):
        household.update(
            survey(head_id_number=ID_HEAD),
            reason="r",
            add_members=[twin],
            digests=household.id_digests([twin], fake_digest),
            actor=ACTOR,
            at=at(10),
        )


# ---------------------------------------------------------------- verify, post, objections


def test_verify_then_post_opens_an_objection_window() -> None:
    """Posting records the place and a window that ends `window_days` later."""
    state = verified(survey())
    state = apply(
        state, household.post(state, place="公告栏", window_days=5, actor=ACTOR, at=at(7))
    )
    assert state.verified
    assert state.posting is not None
    assert (at(7), at(12), "公告栏") == (
        state.posting.posted_at,
        state.posting.window_ends_at,
        state.posting.place,
    )


def test_verify_refuses_twice() -> None:
    """A verified household is not verified again."""
    with pytest.raises(AlreadyVerified, match="household H-0001 is already verified"):
        household.verify(verified(survey()), actor=ACTOR, at=at(6))


def test_post_refuses_an_unverified_household() -> None:
    """Only a verified household is posted publicly."""
    with pytest.raises(NotVerified, match="H-0001 is not verified: verify it before posting"):
        household.post(survey(), place="公告栏", actor=ACTOR, at=at(7))


def test_post_refuses_twice() -> None:
    """A posted household is not posted again; the message names place and window end."""
    with pytest.raises(AlreadyPosted, match="already posted at 公告栏 until 2027-01-13T10:00"):
        household.post(posted(), place="x", actor=ACTOR, at=at(15))


@pytest.mark.parametrize("days", [0, 61, True, 7.5])
def test_post_refuses_a_window_out_of_range(days: object) -> None:
    """The objection window is 1 to 60 whole days."""
    with pytest.raises(InvalidCommand, match="window_days"):
        household.post(verified(survey()), place="p", window_days=days, actor=ACTOR, at=at(7))  # type: ignore[arg-type]


def test_an_objection_is_open_until_resolved() -> None:
    """A raised objection is open, its grounds personal; a dismissed one is closed and the
    household stays verified."""
    state = with_objection(enrolled())
    assert tuple(o.objection_id for o in state.open_objections) == ("O-1",)
    assert Personal(SUBJECT, "邻居反映家中有两辆车") == state.objections["O-1"].grounds
    state = resolved(state, upheld=False)
    assert state.open_objections == ()
    assert state.objections["O-1"].upheld is False
    assert state.verified


def test_an_upheld_objection_withdraws_verification_and_posting() -> None:
    """An upheld objection means the listing was wrong: verify and post again to enrol."""
    state = resolved(with_objection(posted()), upheld=True)
    assert not state.verified
    assert state.posting is None
    with pytest.raises(NotVerified, match=re.escape("H-0001 is not verified (objection O-1 was")):
        household.enroll(state, campaign=open_campaign(), actor=ACTOR, at=at(14))


def test_raise_objection_refuses_a_used_id() -> None:
    """Objection ids are unique within a household."""
    with pytest.raises(ObjectionExists, match="objection O-1 was already raised against household"):
        household.raise_objection(
            with_objection(survey()),
            objection_id="O-1",
            grounds="g",
            raised_by="resident",
            actor=ACTOR,
            at=at(9),
        )


def test_raise_objection_needs_grounds_and_who_raised_it() -> None:
    """Blank grounds or a blank raiser are refused."""
    with pytest.raises(InvalidCommand, match="grounds must be a non-empty text"):
        household.raise_objection(
            survey(), objection_id="O-1", grounds=" ", raised_by="r", actor=ACTOR, at=at(9)
        )
    with pytest.raises(InvalidCommand, match="raised_by must be a non-empty text"):
        household.raise_objection(
            survey(), objection_id="O-1", grounds="g", raised_by="", actor=ACTOR, at=at(9)
        )


def test_resolve_refuses_an_unknown_objection() -> None:
    """Resolving an objection never raised names the ones that were."""
    with pytest.raises(ObjectionNotFound, match=re.escape("no objection 'O-9' (objections: O-1)")):
        household.resolve_objection(
            with_objection(survey()),
            objection_id="O-9",
            upheld=False,
            reason="r",
            actor=ACTOR,
            at=at(9),
        )


def test_resolve_refuses_twice() -> None:
    """A resolved objection is not resolved again."""
    with pytest.raises(
        ObjectionAlreadyResolved, match="objection O-1 to household H-0001 was already dismissed"
    ):
        household.resolve_objection(
            resolved(with_objection(survey()), upheld=False),
            objection_id="O-1",
            upheld=True,
            reason="r",
            actor=ACTOR,
            at=at(9),
        )


@pytest.mark.parametrize(
    ("upheld", "reason", "message"),
    [(False, "", "a reason is required"), (1, "r", "upheld must be True or False, got 1")],
)
def test_resolve_refuses_malformed_arguments(upheld: object, reason: str, message: str) -> None:
    """A resolution needs a reason and a yes/no outcome."""
    with pytest.raises(InvalidCommand, match=message):
        household.resolve_objection(
            with_objection(survey()),
            objection_id="O-1",
            upheld=upheld,  # type: ignore[arg-type]
            reason=reason,
            actor=ACTOR,
            at=at(9),
        )


# ---------------------------------------------------------------- enrolment


def test_enroll_once_the_window_is_over() -> None:
    """A verified, posted household is enrolled as soon as its posting window ends."""
    state = posted()
    state = apply(
        state, household.enroll(state, campaign=open_campaign(), actor=ACTOR, at=at(13, 10))
    )
    assert frozenset({CAMPAIGN}) == state.enrollments


def test_enroll_refuses_while_the_window_is_open() -> None:
    """Before the window ends, enrolment is refused, naming the end of the window."""
    with pytest.raises(
        PostingWindowOpen, match=re.escape("posted at 公告栏 until 2027-01-13T10:00:00+08:00")
    ):
        household.enroll(posted(), campaign=open_campaign(), actor=ACTOR, at=at(13, 9))


def test_enroll_refuses_an_unposted_household() -> None:
    """A verified household that was not posted is not enrolled."""
    with pytest.raises(NotPosted, match="H-0001 has not been publicly posted"):
        household.enroll(verified(survey()), campaign=open_campaign(), actor=ACTOR, at=at(14))


def test_enroll_refuses_an_unverified_household() -> None:
    """A household only surveyed is not enrolled."""
    with pytest.raises(NotVerified, match="H-0001 is not verified: verify and post it"):
        household.enroll(survey(), campaign=open_campaign(), actor=ACTOR, at=at(14))


def test_enroll_refuses_under_objection() -> None:
    """An unresolved objection stops enrolment, naming it, who raised it and when."""
    with pytest.raises(
        UnderObjection,
        match=re.escape("1 unresolved objection(s): O-1 raised by neighbour on 2027"),
    ):
        household.enroll(with_objection(posted()), campaign=open_campaign(), actor=ACTOR, at=at(14))


def test_enroll_after_a_dismissed_objection() -> None:
    """Once the objection is dismissed, the household is enrolled."""
    state = resolved(with_objection(posted()), upheld=False)
    events = household.enroll(state, campaign=open_campaign(), actor=ACTOR, at=at(14))
    assert CAMPAIGN in apply(state, events).enrollments


def test_enroll_refuses_twice() -> None:
    """A household is enrolled once per campaign."""
    with pytest.raises(AlreadyEnrolled, match="H-0001 is already enrolled in campaign SF-2027"):
        household.enroll(enrolled(), campaign=open_campaign(), actor=ACTOR, at=at(15))


def test_enroll_refuses_in_a_closed_campaign() -> None:
    """A closed campaign takes no enrolment."""
    with pytest.raises(CampaignClosedError, match="campaign SF-2027 is closed"):
        household.enroll(posted(), campaign=open_campaign(closed=True), actor=ACTOR, at=at(14))


Left = Callable[[Household], Household]


@pytest.mark.parametrize(
    ("leave", "error", "message"),
    [
        (closed, HouseholdClosedError, "H-0001 was closed on 2027-01-09 (moved: moved to Tianjin)"),
        (
            merged,
            HouseholdMergedError,
            "H-0001 was merged into household H-0009 as a duplicate; act on H-0009",
        ),
        (erased, HouseholdErasedError, "H-0001's personal data was erased"),
    ],
)
def test_a_household_that_left_the_registry_takes_no_changes(
    leave: Left, error: type[Exception], message: str
) -> None:
    """Closed, merged and erased households refuse every change but erasure."""
    state = leave(posted())
    attempts: list[Callable[[], object]] = [
        lambda: household.enroll(state, campaign=open_campaign(), actor=ACTOR, at=at(14)),
        lambda: household.update(state, reason="r", hardship_level=1, actor=ACTOR, at=at(14)),
        lambda: household.verify(state, actor=ACTOR, at=at(14)),
        lambda: household.post(state, place="p", actor=ACTOR, at=at(14)),
        lambda: household.raise_objection(
            state, objection_id="O-2", grounds="g", raised_by="r", actor=ACTOR, at=at(14)
        ),
        lambda: household.disqualify(
            state, campaign=open_campaign(), reason="r", actor=ACTOR, at=at(14)
        ),
        lambda: household.close(state, cause="other", reason="r", actor=ACTOR, at=at(14)),
    ]
    for attempt in attempts:
        with pytest.raises(error, match=re.escape(message)):
            attempt()


# ---------------------------------------------------------------- disqualification


def test_disqualification_lasts_until_a_year_after_the_campaign_ends() -> None:
    """A false report costs the next season too: `until` is the campaign's end plus a year."""
    events = household.disqualify(
        enrolled(), campaign=open_campaign(), reason="hid income", actor=ACTOR, at=at(27)
    )
    expected = HouseholdDisqualified(
        ref="H-0001",
        actor=ACTOR,
        effective_at=at(27),
        campaign=CAMPAIGN,
        until=date(2028, 3, 15),
        reason="hid income",
    )
    assert [expected] == events


def test_next_seasons_campaign_refuses_a_disqualified_household() -> None:
    """Enrolment in a campaign starting on or before `until` is refused, naming both."""
    next_season = open_campaign(
        ref="SF-2028", starts_on=date(2027, 11, 15), ends_on=date(2028, 3, 15)
    )
    with pytest.raises(
        Disqualified,
        match=re.escape(
            "disqualified in campaign SF-2027 (hid income) until 2028-03-15; "
            "campaign SF-2028 starts on 2027-11-15"
        ),
    ):
        household.enroll(
            disqualified(enrolled()), campaign=next_season, actor=ACTOR, at=at(14, month=11)
        )


def test_a_campaign_after_the_disqualification_enrols_again() -> None:
    """Two seasons on, the disqualification no longer stands in the way."""
    later = open_campaign(ref="SF-2029", starts_on=date(2028, 11, 15), ends_on=date(2029, 3, 15))
    state = disqualified(enrolled())
    state = apply(
        state, household.enroll(state, campaign=later, actor=ACTOR, at=at(16, month=11, year=2028))
    )
    assert "SF-2029" in state.enrollments


def test_disqualification_after_a_leap_day_lasts_to_28_february() -> None:
    """A campaign ending on 29 February disqualifies until 28 February of the next year."""
    leap = open_campaign(ref="W-2028", starts_on=date(2028, 2, 1), ends_on=date(2028, 2, 29))
    assert date(2029, 2, 28) == disqualified(survey(), leap).disqualifications[0].until


def test_disqualification_keeps_paid_aid_in_the_ledger() -> None:
    """Aid paid before the false report was found stays on the books."""
    assert disqualified(pay(enrolled(), 90000)).paid_fen(CAMPAIGN) == 90000


def test_disqualify_refuses_twice_and_without_a_reason() -> None:
    """A household is disqualified once per campaign, and always with a reason."""
    with pytest.raises(InvalidCommand, match="a reason is required: a disqualification also costs"):
        household.disqualify(
            enrolled(), campaign=open_campaign(), reason="", actor=ACTOR, at=at(27)
        )
    with pytest.raises(
        AlreadyDisqualified,
        match=re.escape("already disqualified in campaign SF-2027 until 2028-03-15 (hid income)"),
    ):
        household.disqualify(
            disqualified(enrolled()), campaign=open_campaign(), reason="r", actor=ACTOR, at=at(27)
        )


# ---------------------------------------------------------------- merge, close, erase


def test_merge_gives_events_for_both_records() -> None:
    """The duplicate is marked merged; the survivor absorbs its payments."""
    duplicate = pay(enrolled(ref="H-0002"), 90000)
    survivor = survey(ref="H-0001")
    events = household.merge(duplicate, survivor, reason="same ID number", actor=ACTOR, at=at(23))
    assert [(MergedInto, "H-0002"), (DuplicateAbsorbed, "H-0001")] == [
        (type(e), e.ref) for e in events
    ]
    survivor = apply(survivor, events[1:])
    assert survivor.absorbed == ("H-0002",)
    assert survivor.paid_fen(CAMPAIGN) == 90000
    assert survivor.payments(CAMPAIGN)[0].household == "H-0002"
    assert apply(duplicate, events[:1]).merged_into == "H-0001"


def test_absorbed_payments_count_against_the_survivors_entitlement() -> None:
    """A household paid under a duplicate record is not paid again under the survivor."""
    duplicate = pay(enrolled(ref="H-0002"), 90000, visit="V-07")
    survivor = enrolled(ref="H-0001")
    events = household.merge(duplicate, survivor, reason="dup", actor=ACTOR, at=at(23))
    survivor = apply(survivor, events[1:])
    with pytest.raises(
        AidAlreadyPaid,
        match=re.escape("900.00 yuan by visit V-07 on 2027-01-22 to duplicate H-0002"),
    ):
        pay_events(survivor, 90000)


def test_merge_carries_disqualifications() -> None:
    """A false report is not laundered by merging the record into another."""
    duplicate = disqualified(enrolled(ref="H-0002"))
    survivor = enrolled(ref="H-0001")
    events = household.merge(duplicate, survivor, reason="dup", actor=ACTOR, at=at(23))
    with pytest.raises(Disqualified, match="H-0001 was disqualified in campaign SF-2027"):
        household.require_eligible(apply(survivor, events[1:]), CAMPAIGN)


def test_merge_refuses_a_record_into_itself() -> None:
    """Merging needs two different records."""
    with pytest.raises(InvalidCommand, match="H-0001 cannot be merged into itself"):
        household.merge(survey(), survey(), reason="r", actor=ACTOR, at=at(9))


def test_merge_refuses_merged_or_closed_records_and_needs_a_reason() -> None:
    """Neither record may be merged or closed already; a reason is required."""
    with pytest.raises(HouseholdMergedError, match="H-0002 was merged into household H-0009"):
        household.merge(merged(survey(ref="H-0002")), survey(), reason="r", actor=ACTOR, at=at(9))
    with pytest.raises(HouseholdClosedError, match="H-0001 was closed"):
        household.merge(survey(ref="H-0002"), closed(survey()), reason="r", actor=ACTOR, at=at(9))
    with pytest.raises(InvalidCommand, match="a reason is required: auditors must see"):
        household.merge(survey(ref="H-0002"), survey(), reason=" ", actor=ACTOR, at=at(9))


def test_close_records_cause_and_reason() -> None:
    """A closed household keeps why and when it left the registry."""
    state = closed(survey())
    assert state.closed is not None
    assert ("moved", "moved to Tianjin", at(9)) == (
        state.closed.cause,
        state.closed.reason,
        state.closed.closed_at,
    )


def test_close_refuses_an_unknown_cause_or_a_blank_reason() -> None:
    """The cause is moved, deceased or other; a reason is required."""
    with pytest.raises(
        InvalidCommand,
        match="cause 'emigrated' is not accepted; use one of: moved, deceased, other",
    ):
        household.close(survey(), cause="emigrated", reason="r", actor=ACTOR, at=at(9))
    with pytest.raises(InvalidCommand, match="a reason is required"):
        household.close(survey(), cause="deceased", reason="", actor=ACTOR, at=at(9))


def test_erase_blanks_personal_fields_in_the_state() -> None:
    """After erasure every personal field reads as erased; plain fields and digests remain."""
    state = erased(with_objection(survey(head_id_number=ID_HEAD)))
    assert state.erased
    assert state.head.id_number is not None
    assert [
        state.head.name.erased,
        state.head.id_number.erased,
        state.phone.erased,
        state.address.detail.erased,
        state.objections["O-1"].grounds.erased,
    ] == [True] * 5
    assert state.address.community == "红桥社区"
    assert fake_digest(ID_HEAD) == state.head.id_digest


def test_erase_refuses_twice_and_needs_a_reason() -> None:
    """Erasure happens once, with a reason."""
    with pytest.raises(InvalidCommand, match="a reason is required: erasing personal data"):
        household.erase(survey(), reason="", actor=ACTOR, at=at(9))
    with pytest.raises(HouseholdErasedError, match="H-0001's personal data is already erased"):
        household.erase(erased(survey()), reason="r", actor=ACTOR, at=at(9))


def test_erase_is_allowed_after_closing_or_merging() -> None:
    """A household that moved away or was merged can still have its personal data erased."""
    assert erased(closed(survey())).erased
    assert erased(merged(survey())).erased


# ---------------------------------------------------------------- eligibility and signers


def test_an_enrolled_household_is_eligible() -> None:
    """Enrolled, not disqualified, no open objection: aid may be handed over."""
    household.require_eligible(enrolled(), CAMPAIGN)


@pytest.mark.parametrize(
    ("leave", "error", "message"),
    [
        (with_objection, UnderObjection, "H-0001 has 1 unresolved objection(s): O-1"),
        (disqualified, Disqualified, "disqualified in campaign SF-2027 (hid income)"),
        (closed, HouseholdClosedError, "H-0001 was closed"),
        (
            merged,
            HouseholdMergedError,
            "merged into household H-0009 as a duplicate; act on H-0009",
        ),
        (erased, HouseholdErasedError, "H-0001's personal data was erased"),
    ],
)
def test_require_eligible_refusals(leave: Left, error: type[Exception], message: str) -> None:
    """Each reason an enrolled household may not receive aid is a typed refusal naming it."""
    with pytest.raises(error, match=re.escape(message)):
        household.require_eligible(leave(enrolled()), CAMPAIGN)


def test_require_eligible_refuses_another_campaign() -> None:
    """Enrolment is per campaign: the message names the campaigns it is enrolled in."""
    with pytest.raises(
        NotEnrolled,
        match=re.escape("H-0001 is not enrolled in campaign UNION-2027 (enrolled in: SF-2027)"),
    ):
        household.require_eligible(enrolled(), "UNION-2027")


def test_check_signer_accepts_the_head_and_registered_members() -> None:
    """The head or any registered member signs; the member is returned."""
    state = survey(size=3)
    assert state.head == household.check_signer(state, "1")
    assert household.check_signer(state, "3").member_id == "3"


def test_check_signer_refuses_a_proxy_naming_ids_not_names() -> None:
    """An unregistered signer is refused; the message lists member ids, never names."""
    with pytest.raises(
        ProxySignatureRefused, match=re.escape("registered members: 1 (head), 2")
    ) as refused:
        household.check_signer(survey(size=2), "neighbour")
    assert isinstance(refused.value, RuleViolation)
    assert "李秀英" not in str(refused.value)


def test_a_removed_member_no_longer_signs() -> None:
    """A member who left the household is no longer a registered signer."""
    state = update(survey(size=2), remove_members=["2"])
    with pytest.raises(ProxySignatureRefused, match="signer '2' is not a registered member"):
        household.check_signer(state, "2")


# ---------------------------------------------------------------- paying aid


def test_a_two_person_minimum_allowance_household_is_paid_900_yuan() -> None:
    """The reference scenario: 550/900/1,100 yuan by size; two persons get 900, signed by a
    registered member with a phone kept under the household's key."""
    events = pay_events(enrolled(size=2), 90000, signed_by="2")
    expected = AidPaid(
        ref="H-0001",
        actor=ACTOR,
        effective_at=at(22),
        campaign=CAMPAIGN,
        visit="V-02",
        amount_fen=90000,
        category="minimum_allowance",
        entitlement_fen=90000,
        signed_by="2",
        signer_phone=Personal(SUBJECT, "13800138000"),
    )
    assert [expected] == events


@pytest.mark.parametrize(("size", "fen"), [(1, 55000), (2, 90000), (3, 110000), (6, 110000)])
def test_minimum_allowance_tiers_by_household_size(size: int, fen: int) -> None:
    """550 yuan for one person, 900 for two, 1,100 for three or more."""
    paid = pay(enrolled(size=size), fen)
    assert fen == paid.paid_fen(CAMPAIGN)


def test_a_household_with_several_categories_is_paid_the_highest_tier_once() -> None:
    """One person on the minimum allowance (550) and marginal (700) is paid 700, once."""
    state = pay(enrolled(size=1, categories=["minimum_allowance", "marginal"]), 70000)
    assert state.paid_fen(CAMPAIGN) == 70000
    assert state.payments(CAMPAIGN)[0].category == "marginal"
    with pytest.raises(
        AidAlreadyPaid,
        match=re.escape(
            "H-0001 already received its aid in campaign SF-2027: "
            "700.00 yuan by visit V-01 on 2027-01-22"
        ),
    ):
        pay_events(state, 70000)


def test_entitled_groups_are_paid_per_person() -> None:
    """Entitled groups: 800 yuan per person, so 2,400 for three persons (above 1,100)."""
    state = pay(enrolled(size=3, categories=["entitled_group", "minimum_allowance"]), 240000)
    assert state.payments(CAMPAIGN)[0].category == "entitled_group"


def test_no_standard_for_the_households_categories() -> None:
    """A campaign paying none of the household's categories refuses, listing what it pays;
    an override does not make it pay a category it has no standard for."""
    state = enrolled(categories=["left_behind"])
    with pytest.raises(
        NoAidStandard,
        match=re.escape(
            "campaign SF-2027 has no aid standard for the categories of household H-0001 "
            "(left_behind); it pays: minimum_allowance, marginal"
        ),
    ):
        pay_events(state, 70000)
    with pytest.raises(NoAidStandard):
        pay_events(state, 70000, override_reason="leader's decision")


def test_above_tier_is_refused_with_the_figures() -> None:
    """More than what remains is refused, naming entitlement, paid and remaining."""
    with pytest.raises(
        AboveTier,
        match=re.escape(
            "visit V-02 would pay household H-0001 1,000.00 yuan in campaign SF-2027, above its "
            "tier: entitlement 900.00 yuan (minimum_allowance, 2 persons), 0.00 yuan already "
            "paid, 900.00 yuan remains"
        ),
    ):
        pay_events(enrolled(), 100000)


def test_a_payment_is_not_split() -> None:
    """Less than what remains is refused: one payment, not several."""
    with pytest.raises(
        SplitPaymentRefused,
        match=re.escape("450.00 yuan in campaign SF-2027, less than the 900.00 yuan that remains"),
    ):
        pay_events(enrolled(), 45000)


def test_a_top_up_after_a_category_change_pays_exactly_the_difference() -> None:
    """Paid 900 as minimum allowance; once the entitled-group category (800 per person) is
    added, the top-up is exactly 1,600 - 900 = 700 yuan."""
    state = update(pay(enrolled(size=2), 90000), categories=["minimum_allowance", "entitled_group"])
    with pytest.raises(AboveTier, match=re.escape("900.00 yuan already paid, 700.00 yuan remains")):
        pay_events(state, 160000)
    state = pay(state, 70000, visit="V-03")
    assert state.paid_fen(CAMPAIGN) == 160000
    assert tuple(p.entitlement_fen for p in state.payments(CAMPAIGN)) == (90000, 160000)


def test_an_override_pays_again_and_is_recorded_with_its_reason() -> None:
    """With a reason, a further payment is accepted and the reason kept in the ledger."""
    state = pay(enrolled(), 90000)
    state = pay(state, 20000, visit="V-05", override_reason="fire in the flat on 22 January")
    assert state.paid_fen(CAMPAIGN) == 110000
    assert state.payments(CAMPAIGN)[1].override_reason == "fire in the flat on 22 January"
    with pytest.raises(
        AidAlreadyPaid, match=re.escape("200.00 yuan by visit V-05 on 2027-01-22 (override)")
    ):
        pay_events(state, 10000)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"override_reason": "  "}, "override_reason must be a non-empty text"),
        ({"signer_phone": ""}, "signer_phone of visit V-02 is not a phone number"),
        ({"visit": ""}, "visit must be a non-empty text"),
    ],
)
def test_pay_aid_refuses_malformed_arguments(changes: dict[str, str], message: str) -> None:
    """A blank override, a missing phone or visit is refused."""
    with pytest.raises(InvalidCommand, match=message):
        pay_events(enrolled(), 90000, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [0, -100, 10**13, 900.0])
def test_pay_aid_refuses_an_amount_out_of_range(amount: object) -> None:
    """Amounts are positive whole fen, bounded, even with an override."""
    with pytest.raises(InvalidCommand, match="amount_fen"):
        pay_events(enrolled(), amount, override_reason="r")  # type: ignore[arg-type]


def test_pay_aid_checks_the_campaign_eligibility_and_signer() -> None:
    """A closed campaign, an ineligible household and a proxy signer are each refused."""
    with pytest.raises(CampaignClosedError):
        pay_events(enrolled(), 90000, campaign=open_campaign(closed=True))
    with pytest.raises(NotEnrolled):
        pay_events(posted(), 90000)
    with pytest.raises(ProxySignatureRefused):
        pay_events(enrolled(), 90000, signed_by="9")


# ---------------------------------------------------------------- properties


@given(standards=standard_sets, categories=category_sets, size=household_sizes)
def test_entitlement_is_the_highest_standard_among_the_categories(
    standards: list[AidStandard], categories: frozenset[str], size: int
) -> None:
    """Whatever the standards, categories and size, the amount accepted without override is
    the highest amount any of the household's categories gives; none at all: NoAidStandard."""
    campaign = open_campaign(standards=standards)
    state = enrolled(size=size, categories=categories, campaign=campaign)
    amounts = [s.amount_for(size) for s in standards if s.category in categories]
    if not amounts:
        with pytest.raises(NoAidStandard):
            pay_events(state, 1, campaign=campaign)
        return
    [paid] = pay_events(state, max(amounts), campaign=campaign)
    assert isinstance(paid, AidPaid)
    assert (max(amounts), max(amounts)) == (paid.entitlement_fen, paid.amount_fen)
    assert paid.category in categories


payment_attempts = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(1, 400_000), st.booleans(), st.booleans()),
        st.tuples(st.just("categories"), category_sets, st.just(False), st.just(False)),
        st.tuples(st.just("size"), st.integers(1, 6), st.just(False), st.just(False)),
    ),
    max_size=25,
)


def resized(state: Household, size: int) -> Household:
    """`state` with members added or removed (never the head) to reach `size`."""
    if size > state.size:
        newcomers = [NewMember(name="n", relation="child")] * (size - state.size)
        return update(state, add_members=newcomers)
    if size < state.size:
        leaving = [m.member_id for m in state.members if not m.is_head][: state.size - size]
        return update(state, remove_members=leaving)
    return state


@given(attempts=payment_attempts)
def test_aid_never_exceeds_the_highest_entitlement_reached(
    attempts: list[tuple[str, object, bool, bool]],
) -> None:
    """Over random payments (exact, random, overridden) and changes of categories and size:
    each refusal is the one the rule gives, each payment accepted without override is exactly
    what remained, and the total paid without override never exceeds the highest
    entitlement reached."""
    campaign = open_campaign()
    state = enrolled(size=2)
    highest = 0
    for step, (kind, value, exact, override) in enumerate(attempts):
        if kind == "categories":
            assert isinstance(value, frozenset)
            if value != state.categories:
                state = update(state, categories=value)
        elif kind == "size":
            assert isinstance(value, int)
            state = resized(state, value)
        highest = max(highest, campaign.entitlement(state.categories, state.size)[0])
        if kind != "pay":
            continue
        assert isinstance(value, int)
        entitlement, category = campaign.entitlement(state.categories, state.size)
        remaining = entitlement - state.paid_fen(CAMPAIGN)
        amount = remaining if exact and remaining > 0 else value
        expected: type[RuleViolation] | None = None
        if category is None:
            expected = NoAidStandard
        elif not override:
            if remaining <= 0:
                expected = AidAlreadyPaid
            elif amount != remaining:
                expected = AboveTier if amount > remaining else SplitPaymentRefused
        if expected is not None:
            with pytest.raises(expected):
                pay_events(state, amount, visit=f"V-{step}")
            continue
        [paid] = pay_events(
            state, amount, visit=f"V-{step}", override_reason="special case" if override else None
        )
        assert isinstance(paid, AidPaid)
        if not override:
            assert remaining == paid.amount_fen
        state = apply(state, [paid])
        plain = sum(p.amount_fen for p in state.payments(CAMPAIGN) if p.override_reason is None)
        assert plain <= highest


@given(surveyed_households)
def test_evolve_never_refuses_a_household_event(state: Household) -> None:
    """Evolution applies stored facts without checking rules, so old history always replays:
    an objection resolved that was never raised (stored under older rules) leaves the state."""
    event = household.ObjectionResolved(
        ref=state.ref, actor=ACTOR, effective_at=at(9), objection_id="O-X", upheld=False, reason="r"
    )
    assert state == household.evolve(state, event)


def test_state_is_immutable() -> None:
    """States are frozen attrs classes: a change makes a new one."""
    state = survey()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        state.verified = True  # type: ignore[misc]
