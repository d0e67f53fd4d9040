"""Recorded histories of a whole campaign season, played through the domain's decisions.

A :class:`World` keeps the state of every record and appends what each decision
returns, with the position, recorded time, stream and version the store would add.
Hypothesis draws a sequence of commands (survey, enrol, visit and pay, issue goods,
merge duplicates, erase, patrol, hotline...); a command the rules refuse appends
nothing, as in the application. Each command happens at the world's "now", which
only moves forward, and some are backdated, so effective times come out of position
order as they do in a real store.

One extra command, ``import_legacy_payment``, appends a ``household.aid_paid`` the
current rules would refuse (a second payment, a non-member signature): history
written under older rules or imported from another system, which evolution and
every projection must still take.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from hypothesis import strategies as st

from tests.clocks import at
from tests.strategies.campaign import spring_festival_standards
from tests.strategies.household import fake_digest
from warmcase.domain import campaign as campaign_
from warmcase.domain import hotline as hotline_
from warmcase.domain import household as household_
from warmcase.domain import lot as lot_
from warmcase.domain import patrol as patrol_
from warmcase.domain import visit as visit_
from warmcase.domain.campaign import AidStandard
from warmcase.domain.household import NewMember
from warmcase.domain.stream import Kind
from warmcase.domain.visit import ProblemReport
from warmcase.errors import CommandRefused
from warmcase.events import Event
from warmcase.personal import Personal, household_subject
from warmcase.projections.projection import Meta

S = TypeVar("S")

ACTOR = "auditor.zhou"
START = at(16)
"""The world starts on 16 January 2027; the visits of the reference plan are 20-28 January."""

CAMPAIGNS = {
    "SF-2027": (date(2027, 1, 15), date(2027, 3, 15)),
    "UNION-2027": (date(2027, 1, 10), date(2027, 2, 10)),
}
"""Two campaigns over the same season, as two departments run them."""

HOUSEHOLDS = ("H-1", "H-2", "H-3", "H-4", "H-5")
VISITS = ("V-1", "V-2", "V-3", "V-4", "V-5", "V-6", "V-7", "V-8")
LOTS = ("L-1", "L-2", "L-3")
PATROLS = ("P-1", "P-2")
CALLS = ("T-1", "T-2")
DISTRIBUTION_POINTS = ("DP-1",)

HEAD_NAMES = ("陈国华", "陳國華", "陈 国华", "王秀英", "买买提·艾力", "買買提•艾力")
"""Few names, written several ways, so registrations of one family recur."""
ADDRESSES = ("红桥路12号3单元401", "紅橋路１２號3單元401", "红桥路 12 号 3 单元 401", "东街口5号")
COMMUNITIES = ("温泉社区", "溫泉社區", "红桥社区")
ID_NUMBERS = (None, "350102195001011234", "35010219500101123X", "350102196203034567")
CATEGORY_SETS = (
    ("minimum_allowance",),
    ("marginal",),
    ("marginal", "entitled_group"),
    ("minimum_allowance", "serious_illness"),
    ("low_income",),
)
PHONE = "13800138000"

Op = Callable[["World", st.DrawFn], None]


class World:
    """Every record's state and the recorded history so far."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start
        self.states: dict[tuple[str, str], Any] = {}
        self.versions: dict[tuple[str, str], int] = {}
        self.recorded: list[tuple[Event, Meta]] = []

    def get(self, kind: Kind[S], ref: str) -> S | None:
        """The state of `ref`, if it exists."""
        found: S | None = self.states.get((kind.name, ref))
        return found

    def require(self, kind: Kind[S], ref: str) -> S:
        """The state of `ref`; refused (the command appends nothing) if it does not exist."""
        found = self.get(kind, ref)
        if found is None:
            msg = f"{kind.name} {ref} does not exist"
            raise CommandRefused(msg)
        return found

    def refs(self, kind: Kind[Any]) -> list[str]:
        """References of the existing records of `kind`, sorted."""
        return sorted(ref for name, ref in self.states if name == kind.name)

    def emit(self, kind: Kind[Any], ref: str, events: Sequence[Event]) -> None:
        """Append `events` to the stream of `ref`, as the store would at commit."""
        key = (kind.name, ref)
        for event in events:
            self.states[key] = kind.evolve(self.states.get(key), event)
            version = self.versions.get(key, 0) + 1
            self.versions[key] = version
            meta = Meta(len(self.recorded) + 1, self.now, kind.stream_id(ref), version)
            self.recorded.append((event, meta))

    def run(self, op: Op, draw: st.DrawFn) -> bool:
        """Play `op` at a later "now"; whether the rules accepted it."""
        self.now += timedelta(minutes=draw(st.integers(1, 12 * 60)))
        try:
            op(self, draw)
        except CommandRefused:
            return False
        return True

    def moment(self, draw: st.DrawFn) -> datetime:
        """When a command took effect: now, or backdated by up to a day."""
        minutes = draw(st.sampled_from((0, 0, 0, 0, 30, 6 * 60, 24 * 60)))
        return self.now - timedelta(minutes=minutes)


def rarely(op: Op) -> Op:
    """`op`, played one time in eight it is drawn: for commands that end a record's life."""

    def seldom(world: World, draw: st.DrawFn) -> None:
        if draw(st.integers(0, 7)):
            msg = "not this time"
            raise CommandRefused(msg)
        op(world, draw)

    seldom.__name__ = op.__name__
    return seldom


def pick(draw: st.DrawFn, values: Sequence[S]) -> S:
    """One of `values` (refused when there are none, so the command appends nothing)."""
    if not values:
        msg = "nothing to act on yet"
        raise CommandRefused(msg)
    return draw(st.sampled_from(values))


# ---------------------------------------------------------------- campaigns


def open_campaigns(world: World) -> None:
    """Open both campaigns before anything else happens."""
    for ref, (starts_on, ends_on) in CAMPAIGNS.items():
        world.emit(
            campaign_.KIND,
            ref,
            campaign_.open_campaign(
                None,
                ref=ref,
                name=f"{ref} winter relief",
                owner="Gulou street office",
                starts_on=starts_on,
                ends_on=ends_on,
                standards=spring_festival_standards(),
                actor=ACTOR,
                at=world.now,
            ),
        )


def amend_standards(world: World, draw: st.DrawFn) -> None:
    """Raise the minimum-allowance tiers of a campaign."""
    ref = pick(draw, world.refs(campaign_.KIND))
    running = world.require(campaign_.KIND, ref)
    raised = AidStandard(category="minimum_allowance", tiers=((1, 60_000), (2, 95_000)))
    standards = [s for s in running.standards if s.category != "minimum_allowance"]
    world.emit(
        campaign_.KIND,
        ref,
        campaign_.amend_standards(
            running,
            standards=[*standards, raised],
            reason="city raised the allowance",
            actor=ACTOR,
            at=world.moment(draw),
        ),
    )


def warn_cold_wave(world: World, draw: st.DrawFn) -> None:
    """A cold-wave warning for one area of a campaign."""
    ref = pick(draw, world.refs(campaign_.KIND))
    world.emit(
        campaign_.KIND,
        ref,
        campaign_.warn_cold_wave(
            world.require(campaign_.KIND, ref),
            area="Gulou",
            starts_at=world.now,
            ends_at=world.now + timedelta(days=3),
            actor=ACTOR,
            at=world.now,
        ),
    )


def close_campaign(world: World, draw: st.DrawFn) -> None:
    """Close a campaign (rarely drawn: it stops its visits and patrols)."""
    ref = pick(draw, world.refs(campaign_.KIND))
    world.emit(
        campaign_.KIND,
        ref,
        campaign_.close_campaign(
            world.require(campaign_.KIND, ref), reason="season over", actor=ACTOR, at=world.now
        ),
    )


# ---------------------------------------------------------------- households


def _new_member(draw: st.DrawFn, number: int) -> NewMember:
    return NewMember(
        name=f"家属{number}", relation="spouse", id_number=draw(st.sampled_from(ID_NUMBERS))
    )


def register(world: World, draw: st.DrawFn) -> None:
    """Survey, verify and post a household, then enrol it in a campaign (or not)."""
    ref = draw(st.sampled_from(HOUSEHOLDS))
    head = NewMember(
        name=draw(st.sampled_from(HEAD_NAMES)),
        relation="head",
        id_number=draw(st.sampled_from(ID_NUMBERS)),
    )
    others = [_new_member(draw, n) for n in range(draw(st.integers(0, 2)))]
    surveyed_at = world.now - timedelta(days=2)
    events = household_.survey(
        world.get(household_.KIND, ref),
        ref=ref,
        district="鼓楼区",
        street="东街街道",
        community=draw(st.sampled_from(COMMUNITIES)),
        grid=draw(st.sampled_from(("G-01", "G-02"))),
        address_detail=draw(st.sampled_from(ADDRESSES)),
        head=head,
        members=others,
        phone=PHONE,
        categories=draw(st.sampled_from(CATEGORY_SETS)),
        hardship_level=2,
        digests=household_.id_digests([head, *others], fake_digest),
        actor=ACTOR,
        at=surveyed_at,
    )
    state = household_.KIND.evolve(None, events[0])
    verified = household_.verify(state, actor=ACTOR, at=surveyed_at + timedelta(hours=1))
    state = household_.KIND.evolve(state, verified[0])
    posted = household_.post(
        state, place="notice board", window_days=1, actor=ACTOR, at=surveyed_at + timedelta(hours=2)
    )
    world.emit(household_.KIND, ref, [*events, *verified, *posted])
    if draw(st.integers(0, 3)):
        enroll(world, draw, ref)


def enroll(world: World, draw: st.DrawFn, ref: str | None = None) -> None:
    """Enrol a household in a campaign."""
    ref = ref or pick(draw, world.refs(household_.KIND))
    campaign = world.require(campaign_.KIND, pick(draw, world.refs(campaign_.KIND)))
    world.emit(
        household_.KIND,
        ref,
        household_.enroll(
            world.require(household_.KIND, ref), campaign=campaign, actor=ACTOR, at=world.now
        ),
    )


def update(world: World, draw: st.DrawFn) -> None:
    """Change a household's categories, members, head or address, with a reason."""
    ref = pick(draw, world.refs(household_.KIND))
    state = world.require(household_.KIND, ref)
    change = draw(st.sampled_from(("categories", "add", "remove", "head", "address")))
    options: dict[str, Any] = {}
    if change == "categories":
        options["categories"] = draw(st.sampled_from(CATEGORY_SETS))
    elif change == "add":
        added = [_new_member(draw, state.last_member_id + 1)]
        options["add_members"] = added
        options["digests"] = household_.id_digests(added, fake_digest)
    elif change == "remove":
        options["remove_members"] = [draw(st.sampled_from(("1", "2", "3")))]
    elif change == "head":
        options["new_head"] = draw(st.sampled_from(("1", "2", "3")))
    else:
        options["address_detail"] = draw(st.sampled_from(ADDRESSES))
        options["community"] = draw(st.sampled_from(COMMUNITIES))
    world.emit(
        household_.KIND,
        ref,
        household_.update(
            state, reason="found at the door", actor=ACTOR, at=world.moment(draw), **options
        ),
    )


def object_to(world: World, draw: st.DrawFn) -> None:
    """Raise an objection to a household's listing, or resolve an open one."""
    ref = pick(draw, world.refs(household_.KIND))
    state = world.require(household_.KIND, ref)
    if state.open_objections:
        events = household_.resolve_objection(
            state,
            objection_id=state.open_objections[0].objection_id,
            upheld=draw(st.booleans()),
            reason="checked with the neighbours",
            actor=ACTOR,
            at=world.now,
        )
    else:
        events = household_.raise_objection(
            state,
            objection_id=f"O-{len(state.objections) + 1}",
            grounds="家里有车",
            raised_by="neighbour",
            actor=ACTOR,
            at=world.now,
        )
    world.emit(household_.KIND, ref, events)


def disqualify(world: World, draw: st.DrawFn) -> None:
    """Disqualify a household in a campaign after a false report."""
    ref = pick(draw, world.refs(household_.KIND))
    campaign = world.require(campaign_.KIND, pick(draw, world.refs(campaign_.KIND)))
    world.emit(
        household_.KIND,
        ref,
        household_.disqualify(
            world.require(household_.KIND, ref),
            campaign=campaign,
            reason="undeclared income",
            actor=ACTOR,
            at=world.now,
        ),
    )


def merge(world: World, draw: st.DrawFn) -> None:
    """Merge one household into another as a duplicate (both records in one write)."""
    duplicate = pick(draw, world.refs(household_.KIND))
    survivor = pick(draw, world.refs(household_.KIND))
    merged, absorbed = household_.merge(
        world.require(household_.KIND, duplicate),
        world.require(household_.KIND, survivor),
        reason="same family registered twice",
        actor=ACTOR,
        at=world.now,
    )
    world.emit(household_.KIND, duplicate, [merged])
    world.emit(household_.KIND, survivor, [absorbed])


def close_household(world: World, draw: st.DrawFn) -> None:
    """A household moves away."""
    ref = pick(draw, world.refs(household_.KIND))
    world.emit(
        household_.KIND,
        ref,
        household_.close(
            world.require(household_.KIND, ref),
            cause="moved",
            reason="moved to Fuqing",
            actor=ACTOR,
            at=world.now,
        ),
    )


def erase(world: World, draw: st.DrawFn) -> None:
    """Erase a household's personal data (the store would also destroy its key)."""
    ref = pick(draw, world.refs(household_.KIND))
    world.emit(
        household_.KIND,
        ref,
        household_.erase(
            world.require(household_.KIND, ref),
            reason="request under the personal information law",
            actor=ACTOR,
            at=world.now,
        ),
    )


def import_legacy_payment(world: World, draw: st.DrawFn) -> None:
    """A payment from an older system that today's rules would refuse."""
    ref = pick(draw, world.refs(household_.KIND))
    world.emit(
        household_.KIND,
        ref,
        [
            household_.AidPaid(
                ref=ref,
                actor="import",
                effective_at=world.moment(draw),
                campaign=pick(draw, world.refs(campaign_.KIND)),
                visit=draw(st.sampled_from(("LEGACY-1", "LEGACY-2", *VISITS))),
                amount_fen=draw(st.sampled_from((55_000, 70_000, 90_000))),
                category="minimum_allowance",
                entitlement_fen=draw(st.sampled_from((55_000, 70_000, 90_000))),
                signed_by=draw(st.sampled_from(("1", "2", "9"))),
                signer_phone=Personal(household_subject(ref), PHONE),
                override_reason=draw(st.sampled_from((None, "approved by the director"))),
            )
        ],
    )


# ---------------------------------------------------------------- lots


def receive_lot(world: World, draw: st.DrawFn) -> None:
    """Receive goods (inspected at once, some rejected) or cash."""
    ref = draw(st.sampled_from(LOTS))
    cash = draw(st.booleans())
    quantity = draw(st.integers(1, 40)) * (100_000 if cash else 1)
    received = lot_.receive(
        world.get(lot_.KIND, ref),
        ref=ref,
        donor="Xinhua Textiles Co.",
        item="donation" if cash else "quilt",
        unit="yuan" if cash else "piece",
        kind="cash" if cash else "goods",
        quantity=quantity,
        warehouse="Gulou store",
        actor=ACTOR,
        at=world.now - timedelta(hours=2),
    )
    events = list(received)
    if not cash:
        rejected = draw(st.integers(0, quantity))
        state = lot_.KIND.evolve(world.get(lot_.KIND, ref), received[0])
        events += lot_.inspect(
            state,
            accepted=quantity - rejected,
            rejected=rejected,
            rejections=[(rejected, "holes")] if rejected else [],
            actor=ACTOR,
            at=world.now - timedelta(hours=1),
        )
    world.emit(lot_.KIND, ref, events)


def pledge_lot(world: World, draw: st.DrawFn) -> None:
    """A donor pledges goods before they arrive."""
    ref = draw(st.sampled_from(LOTS))
    world.emit(
        lot_.KIND,
        ref,
        lot_.pledge(
            world.get(lot_.KIND, ref),
            ref=ref,
            donor="Xinhua Textiles Co.",
            item="quilt",
            unit="piece",
            quantity=draw(st.integers(1, 40)),
            actor=ACTOR,
            at=world.now,
        ),
    )


def move_stock(world: World, draw: st.DrawFn) -> None:
    """One stock movement: reserve, release, transfer, count, write off or return."""
    ref = pick(draw, world.refs(lot_.KIND))
    state = world.require(lot_.KIND, ref)
    when = world.moment(draw)
    quantity = draw(st.integers(1, 5))
    movement = draw(st.sampled_from(("reserve", "release", "transfer", "count", "off", "return")))
    if movement == "reserve":
        events = lot_.reserve(
            state,
            reservation_id=f"R-{len(state.reservations) + 1}",
            quantity=quantity,
            for_ref=draw(st.sampled_from((*VISITS, *PATROLS))),
            actor=ACTOR,
            at=when,
        )
    elif movement == "release":
        held = pick(draw, sorted(state.reservations))
        events = lot_.release(state, reservation_id=held, actor=ACTOR, at=when)
    elif movement == "transfer":
        to = "Taijiang store" if state.warehouse == "Gulou store" else "Gulou store"
        events = lot_.transfer(state, to_warehouse=to, reason="space", actor=ACTOR, at=when)
    elif movement == "count":
        events = lot_.count(
            state,
            counted=max(0, state.balance_at(when).on_hand - draw(st.integers(0, 2))),
            reason="shelf count",
            actor=ACTOR,
            at=when,
        )
    elif movement == "off":
        events = lot_.write_off(state, quantity=quantity, reason="damp", actor=ACTOR, at=when)
    else:
        events = lot_.return_to_donor(
            state, quantity=quantity, reason="wrong size", actor=ACTOR, at=when
        )
    world.emit(lot_.KIND, ref, events)


def issue_to_distribution(world: World, draw: st.DrawFn) -> None:
    """Goods handed out at a distribution point, some registered against a household."""
    ref = pick(draw, world.refs(lot_.KIND))
    world.emit(
        lot_.KIND,
        ref,
        lot_.issue(
            world.require(lot_.KIND, ref),
            quantity=draw(st.integers(1, 3)),
            channel="distribution",
            to=draw(st.sampled_from((*DISTRIBUTION_POINTS, *HOUSEHOLDS))),
            actor=ACTOR,
            at=world.moment(draw),
        ),
    )


# ---------------------------------------------------------------- visits


def plan_visit(world: World, draw: st.DrawFn) -> None:
    """Plan a visit of a household in a campaign, in the next few days."""
    ref = draw(st.sampled_from(VISITS))
    campaign = world.require(campaign_.KIND, pick(draw, world.refs(campaign_.KIND)))
    households = world.refs(household_.KIND)
    enrolled = [h for h in households if campaign.ref in world.states[("household", h)].enrollments]
    world.emit(
        visit_.KIND,
        ref,
        visit_.plan_visit(
            world.get(visit_.KIND, ref),
            ref=ref,
            campaign=campaign,
            household=world.require(household_.KIND, pick(draw, enrolled or households)),
            team="team 3",
            leader="Zhang Wei",
            planned_on=world.now.date() + timedelta(days=draw(st.integers(0, 3))),
            actor=ACTOR,
            at=world.now,
        ),
    )


def deliver(world: World, draw: st.DrawFn) -> None:
    """Complete a visit: goods from a lot and the cash the rules allow (or an override)."""
    visits = world.refs(visit_.KIND)
    planned = [v for v in visits if world.states[("visit", v)].status == visit_.PLANNED]
    if not planned or draw(st.booleans()):
        # The team plans the visit and goes the same day, as most do.
        plan_visit(world, draw)
        visits = world.refs(visit_.KIND)
        planned = [v for v in visits if world.states[("visit", v)].status == visit_.PLANNED]
    ref = pick(draw, planned)
    visit = world.require(visit_.KIND, ref)
    campaign = world.require(campaign_.KIND, visit.campaign)
    household = world.require(household_.KIND, visit.household)
    entitled, _ = campaign.entitlement(household.categories, household.size)
    remaining = entitled - household.paid_fen(campaign.ref)
    mode = draw(st.sampled_from(("exact", "exact", "none", "override", "split")))
    cash = {"exact": remaining, "none": 0, "override": 30_000, "split": remaining // 2}[mode]
    goods_lots = [r for r in world.refs(lot_.KIND) if world.states[("lot", r)].kind == "goods"]
    goods: list[tuple[str, int]] = []
    if goods_lots and draw(st.booleans()) is True:
        goods.append((draw(st.sampled_from(goods_lots)), draw(st.integers(1, 2))))
    members = [m.member_id for m in household.members]
    decided = visit_.deliver(
        visit,
        campaign=campaign,
        household=household,
        lots={r: world.states[("lot", r)] for r, _ in goods},
        goods=goods,
        cash_fen=max(cash, 0),
        signed_by=draw(st.sampled_from([*members, "9"])),
        signer_phone=PHONE,
        health="bad knees",
        needs=["coal"],
        problems=[ProblemReport(problem_id="p1", description="roof leaks")],
        override_reason="director approved" if mode == "override" else None,
        actor=ACTOR,
        at=world.now,
    )
    world.emit(visit_.KIND, ref, decided.visit)
    world.emit(household_.KIND, household.ref, decided.household)
    for lot_ref, events in decided.lots.items():
        world.emit(lot_.KIND, lot_ref, events)


def follow_visit(world: World, draw: st.DrawFn) -> None:
    """After the door: problem work, a return visit, an audit callback, or a cancellation."""
    visits = world.refs(visit_.KIND)
    completed = [v for v in visits if world.states[("visit", v)].status == visit_.COMPLETED]
    ref = pick(draw, completed or visits)
    visit = world.require(visit_.KIND, ref)
    step = draw(st.sampled_from(("assign", "follow", "resolve", "report", "return", "check")))
    if visit.status == visit_.PLANNED and step == "check":
        events = visit_.cancel_visit(visit, reason="household away", actor=ACTOR, at=world.now)
    elif step == "assign":
        events = visit_.assign_problem(
            visit,
            problem_id="p1",
            department="housing",
            assignee="Liu",
            due_on=world.now.date() + timedelta(days=7),
            actor=ACTOR,
            at=world.now,
        )
    elif step == "follow":
        events = visit_.follow_up_problem(
            visit, problem_id="p1", note="roofer booked", actor=ACTOR, at=world.now
        )
    elif step == "resolve":
        events = visit_.resolve_problem(
            visit, problem_id="p1", outcome="roof fixed", actor=ACTOR, at=world.now
        )
    elif step == "report":
        events = visit_.report_problem_back(
            visit, problem_id="p1", note="told the head", actor=ACTOR, at=world.now
        )
    elif step == "return":
        events = visit_.record_return_visit(visit, note="warm now", actor=ACTOR, at=world.now)
    else:
        events = visit_.verify_visit(
            visit, method="phone", result=visit_.CONFIRMED, actor=ACTOR, at=world.now
        )
    world.emit(visit_.KIND, ref, events)


# ---------------------------------------------------------------- patrols and hotline


def patrol(world: World, draw: st.DrawFn) -> None:
    """The next step of a patrol: schedule, start, check, meet someone, end or cancel."""
    ref = draw(st.sampled_from(PATROLS))
    state = world.get(patrol_.KIND, ref)
    if state is None:
        campaign = world.require(campaign_.KIND, pick(draw, world.refs(campaign_.KIND)))
        events = patrol_.schedule_patrol(
            None,
            ref=ref,
            campaign=campaign,
            area="Gulou",
            team="night team",
            leader="Chen Jie",
            scheduled_for=world.now,
            night=draw(st.booleans()),
            actor=ACTOR,
            at=world.now,
        )
        world.emit(patrol_.KIND, ref, events)
        return
    if state.status == patrol_.SCHEDULED:
        if draw(st.integers(0, 4)):
            world.emit(patrol_.KIND, ref, patrol_.start_patrol(state, actor=ACTOR, at=world.now))
        else:
            world.emit(
                patrol_.KIND,
                ref,
                patrol_.cancel_patrol(state, reason="storm", actor=ACTOR, at=world.now),
            )
        return
    what = draw(st.sampled_from(("place", "encounter", "end")))
    if what == "place":
        events = patrol_.check_place(
            state, kind="underpass", name="Wuyi underpass", actor=ACTOR, at=world.now
        )
        world.emit(patrol_.KIND, ref, events)
    elif what == "end":
        world.emit(patrol_.KIND, ref, patrol_.end_patrol(state, actor=ACTOR, at=world.now))
    else:
        _encounter(world, draw, state)


def _encounter(world: World, draw: st.DrawFn, state: patrol_.Patrol) -> None:
    supplies: list[tuple[str, int]] = []
    goods_lots = [r for r in world.refs(lot_.KIND) if world.states[("lot", r)].kind == "goods"]
    if goods_lots and draw(st.booleans()) is True:
        supplies.append((draw(st.sampled_from(goods_lots)), 1))
    events = patrol_.log_encounter(
        state,
        encounter_id=f"E-{len(state.encounters) + 1}",
        outcome="refused_given_supplies" if supplies else "accepted_shelter",
        condition="cold",
        person_ref=draw(st.sampled_from((None, "PER-1"))),
        description="man, about 50",
        supplies=supplies,
        actor=ACTOR,
        at=world.now,
    )
    issues = {
        lot_ref: lot_.issue(
            world.require(lot_.KIND, lot_ref),
            quantity=quantity,
            channel="patrol",
            to=state.ref,
            actor=ACTOR,
            at=world.now,
        )
        for lot_ref, quantity in supplies
    }
    world.emit(patrol_.KIND, state.ref, events)
    for lot_ref, issued in issues.items():
        world.emit(lot_.KIND, lot_ref, issued)


def hotline(world: World, draw: st.DrawFn) -> None:
    """The next step of a hotline call: received, dispatched, arrived, closed."""
    ref = draw(st.sampled_from(CALLS))
    call = world.get(hotline_.KIND, ref)
    if call is None:
        campaign = world.require(campaign_.KIND, pick(draw, world.refs(campaign_.KIND)))
        events = hotline_.log_hotline_call(
            None,
            ref=ref,
            campaign=campaign,
            area="Gulou",
            place="Wuyi square",
            far=draw(st.booleans()),
            description="woman sleeping on a bench",
            caller_phone=PHONE,
            actor=ACTOR,
            at=world.now,
        )
    elif call.status == hotline_.RECEIVED:
        on_patrol = world.get(patrol_.KIND, draw(st.sampled_from(PATROLS)))
        events = hotline_.dispatch_call(
            call,
            patrol=on_patrol,
            team=None if on_patrol else "standby team",
            actor=ACTOR,
            at=world.now,
        )
    elif call.status == hotline_.DISPATCHED:
        arrival = min(world.now, call.received_at + timedelta(minutes=draw(st.integers(5, 90))))
        events = hotline_.arrive_on_call(
            call,
            campaign=world.require(campaign_.KIND, call.campaign),
            actor=ACTOR,
            at=max(arrival, call.dispatched_at or arrival),
        )
    else:
        events = hotline_.close_call(call, outcome="accepted_shelter", actor=ACTOR, at=world.now)
    world.emit(hotline_.KIND, ref, events)


# ---------------------------------------------------------------- strategies

EVERY_OP: tuple[Op, ...] = (
    register,
    register,
    enroll,
    update,
    object_to,
    rarely(disqualify),
    merge,
    rarely(close_household),
    rarely(erase),
    import_legacy_payment,
    receive_lot,
    pledge_lot,
    move_stock,
    issue_to_distribution,
    plan_visit,
    plan_visit,
    deliver,
    deliver,
    follow_visit,
    follow_visit,
    patrol,
    patrol,
    hotline,
    amend_standards,
    warn_cold_wave,
    rarely(close_campaign),
)
"""Every command, the common ones more than once so they are drawn more often."""


@st.composite
def histories(
    draw: st.DrawFn, ops: Sequence[Op] = EVERY_OP, min_steps: int = 0, max_steps: int = 40
) -> list[tuple[Event, Meta]]:
    """A recorded history: both campaigns opened, then `min_steps` to `max_steps` drawn
    commands (refused ones append nothing)."""
    world = World()
    open_campaigns(world)
    for _ in range(draw(st.integers(min_steps, max_steps))):
        world.run(draw(st.sampled_from(ops)), draw)
    return world.recorded
