"""The main job: a street office's Spring Festival campaign, played through the public API.

The figures are the reference plan's (see the domain notes): 93 minimum-allowance
households paid 550/900/1,100 yuan by household size, 1,861 marginal targets in their
8 groups at 700 yuan, 42 entitled persons at 600 to 800 yuan; some households on two
lists, so the highest-tier rule bites. Donated goods arrive in three warehouses and are
inspected, moved, counted and written off; 8 visit teams hand out goods and money
against signatures over the visit week, with a few refused and corrected entries and a
backdated correction; a patrol season runs with a cold-wave warning, encounters and
hotline calls. Time is simulated: the store records each step at its moment in the
season, so the history reads as it would have been kept.

Run: ``make demo`` or ``python -m warmcase_adapters.demo [--store PATH] [--seed N]``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs

import warmcase
from warmcase.app import Warmcase
from warmcase.domain import hotline, household, lot
from warmcase.domain.campaign import AidStandard
from warmcase.domain.household import NewMember
from warmcase.domain.visit import ProblemReport
from warmcase.errors import CommandRefused

SHANGHAI = ZoneInfo("Asia/Shanghai")
CAMPAIGN = "SF-2027"
TEAMS = [f"Team {n}" for n in range(1, 9)]
COMMUNITIES = ["Wenquan", "Dongjie", "Nanmen", "Xihu", "Beiyuan", "Hualin"]

#: The plan's targets: list name, category code, how many.
MARGINAL_GROUPS = [
    ("ethnic-minority and Taiwan-compatriot families", "ethnic_taiwan", 40),
    ("serious-illness patients", "serious_illness", 162),
    ("disabled households", "disabled", 135),
    ("poor students' families", "poor_student", 2),
    ("elderly 70+ living alone", "elderly_alone", 191),
    ("landless farmer families", "landless_farmer", 985),
    ("women's-federation targets", "womens_federation", 28),
    ("low-income families", "low_income", 318),
]
ENTITLED_GROUPS = [
    ("key entitled persons", "entitled_group", 22, 80_000),
    ("war and nuclear-test veterans", "war_nuclear_veteran", 16, 70_000),
    ("streamlined 1960s workers", "streamlined_worker", 2, 60_000),
    ("massacre survivors", "massacre_survivor", 2, 60_000),
]
MINIMUM_ALLOWANCE_SIZES = [1] * 41 + [2] * 30 + [3] * 22  # 93 households

STANDARDS = [
    AidStandard(category="minimum_allowance", tiers=((1, 55_000), (2, 90_000), (3, 110_000))),
    *(AidStandard(category=code, tiers=((1, 70_000),)) for _, code, _ in MARGINAL_GROUPS),
    AidStandard(category="marginal", tiers=((1, 70_000),)),
    *(
        AidStandard(category=code, tiers=((1, fen),), basis="person")
        for _, code, _, fen in ENTITLED_GROUPS
    ),
]


class SeasonClock:
    """The demo's "now": set to each step's moment of the season."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def to(self, day: date, hour: int = 9, minute: int = 0) -> datetime:
        self.now = max(
            self.now, datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)
        )
        return self.now


#: Makes the (done, total) callback of one stage of the season, given the stage's label.
Progress = Callable[[str], Callable[[int, int], None]]


def progress(label: str) -> Callable[[int, int], None]:
    """A one-line progress counter on the terminal."""
    started = time.perf_counter()

    live = sys.stdout.isatty()

    def show(done: int, total: int) -> None:
        if done == total or (live and done % 100 == 0):
            end = "\n" if done == total else "\r"
            elapsed = time.perf_counter() - started
            print(f"  {label}: {done:,}/{total:,} ({elapsed:.1f} s)", end=end, flush=True)

    return show


@attrs.frozen
class Season:
    """What the season left for the summary."""

    targets: list[tuple[str, tuple[str, ...], int]]
    enrolled: list[tuple[str, tuple[str, ...], int]]
    owed: Counter[str]
    refused: list[str]
    patrols: int
    calls: list[str]
    correction: str
    """The household whose category was corrected late (recorded 30 Jan, effective 10 Jan)."""


def play(  # noqa: PLR0912, PLR0915 - the season, in order
    app: Warmcase, clock: SeasonClock, rng: random.Random, progress: Progress = progress
) -> Season:
    """Play the season; returns what the summary needs."""
    refused: list[str] = []

    def refuse(what: str, command: Callable[[], object]) -> None:
        try:
            command()
        except CommandRefused as error:
            refused.append(f"{what}: {type(error).__name__}: {error}")
        else:  # pragma: no cover - the demo's refusals are meant to be refused
            refused.append(f"{what}: unexpectedly accepted")

    clock.to(date(2026, 11, 15))
    app.open_campaign(
        CAMPAIGN,
        name="Spring Festival visits 2027 (送温暖)",
        owner="Gulou street office",
        starts_on=date(2026, 11, 15),
        ends_on=date(2027, 3, 15),
        standards=STANDARDS,
        actor="office.chen",
    )

    # Survey (调查摸底): every target household, some on two lists.
    targets: list[tuple[str, tuple[str, ...], int]] = []
    for size in MINIMUM_ALLOWANCE_SIZES:
        categories: tuple[str, ...] = ("minimum_allowance",)
        if rng.random() < 0.12:  # also on a marginal list: the highest tier applies
            categories += (rng.choice(MARGINAL_GROUPS)[1],)
        targets.append((f"H-{len(targets) + 1:04d}", categories, size))
    for _, code, count in MARGINAL_GROUPS:
        targets.extend(
            (f"H-{len(targets) + 1:04d}", (code,), rng.choice([1, 1, 2])) for _ in range(count)
        )
    for _, code, count, _ in ENTITLED_GROUPS:
        targets.extend((f"H-{len(targets) + 1:04d}", (code,), 1) for _ in range(count))

    show = progress("households surveyed, verified and posted")
    for number, (ref, categories, size) in enumerate(targets, start=1):
        clock.to(date(2026, 11, 20) + timedelta(days=number % 10), 9 + number % 8)
        app.register_household(
            ref,
            district="Gulou",
            street="Dongjie",
            community=COMMUNITIES[number % len(COMMUNITIES)],
            grid=f"G-{number % 12 + 1:02d}",
            address_detail=f"Building {number % 40 + 1}, Room {number % 6 + 1}01",
            head_name=f"户主{number:04d}",
            head_id_number=f"350102{1940 + number % 60}0101{number % 10000:04d}",
            phone=f"138{number:08d}",
            members=[
                NewMember(name=f"家属{number:04d}-{k}", relation="family") for k in range(size - 1)
            ],
            categories=categories,
            hardship_level=1 + number % 3,
            actor=f"surveyor.{number % 5}",
        )
        app.verify_household(ref, actor="community.wang")
        app.post_household(ref, place="community notice board", actor="community.wang")
        show(number, len(targets))

    # A duplicate registration (same person, new reference) is found and merged.
    clock.to(date(2026, 12, 2), 10)
    app.register_household(
        "H-9001",
        district="Gulou",
        street="Dongjie",
        community="Wenquan",
        grid="G-02",
        address_detail="Building 2, Room 201",
        head_name="户主0001",
        head_id_number="350102194101010001",
        phone="13800000001",
        categories=["marginal"],
        hardship_level=2,
        actor="surveyor.9",
    )
    app.merge_households(
        "H-9001", into="H-0001", reason="same ID number as H-0001", actor="office.chen"
    )
    # Objections during the posting window: one dismissed, one upheld.
    app.raise_objection(
        "H-0500",
        objection_id="O-1",
        grounds="owns a shop",
        raised_by="neighbour",
        actor="community.wang",
    )
    app.resolve_objection(
        "H-0500",
        objection_id="O-1",
        upheld=False,
        reason="shop closed in 2025",
        actor="office.chen",
    )
    app.raise_objection(
        "H-0700",
        objection_id="O-2",
        grounds="income above the line",
        raised_by="neighbour",
        actor="community.wang",
    )
    clock.to(date(2026, 12, 5))
    app.resolve_objection(
        "H-0700", objection_id="O-2", upheld=True, reason="payslips confirm it", actor="office.chen"
    )

    show = progress("households enrolled")
    enrolled: list[tuple[str, tuple[str, ...], int]] = []
    for number, target in enumerate(targets, start=1):
        clock.to(date(2026, 12, 20), 9)
        if target[0] == "H-0700":
            refuse(
                "enrolling H-0700",
                lambda: app.enroll_household("H-0700", campaign=CAMPAIGN, actor="office.chen"),
            )
        else:
            app.enroll_household(target[0], campaign=CAMPAIGN, actor="office.chen")
            enrolled.append(target)
        show(number, len(targets))

    # Donated goods (物资): received, inspected, moved, counted, written off.
    clock.to(date(2027, 1, 5))
    donations = [
        ("L-QUILT-1", "Fuzhou Textile Co.", "quilt", "piece", 120, "Gulou store", None),
        ("L-COAT-1", "Minjiang Garments", "cotton coat", "piece", 80, "Gulou store", None),
        ("L-RICE-1", "Grain bureau", "rice", "bag", 150, "Dongjie depot", date(2027, 6, 30)),
        (
            "L-OIL-1",
            "Jinlong Oils",
            "cooking oil",
            "bottle",
            100,
            "Dongjie depot",
            date(2027, 1, 15),
        ),
        ("L-HEAT-1", "Haier dealer", "heater", "piece", 30, "Nanmen hall", None),
        ("L-COAL-1", "Gas company", "CO alarm", "piece", 60, "Nanmen hall", None),
    ]
    for ref, donor, item, unit, quantity, store, expires in donations:
        app.receive_lot(
            ref,
            donor=donor,
            item=item,
            unit=unit,
            quantity=quantity,
            warehouse=store,
            expires_on=expires,
            actor="store.lin",
        )
    app.receive_lot(
        "L-CASH-1",
        donor="Charity federation",
        item="cash",
        unit="yuan",
        kind="cash",
        quantity=5_000_000,
        warehouse="Office safe",
        actor="finance.xu",
    )
    clock.to(date(2027, 1, 6))
    app.inspect_lot(
        "L-QUILT-1",
        accepted=114,
        rejected=6,
        rejections=[(4, "holes"), (2, "visible stains")],
        actor="store.lin",
    )
    app.inspect_lot(
        "L-COAT-1", accepted=77, rejected=3, rejections=[(3, "zips missing")], actor="store.lin"
    )
    for ref in ("L-RICE-1", "L-OIL-1", "L-HEAT-1", "L-COAL-1"):
        quantity = next(d[4] for d in donations if d[0] == ref)
        app.inspect_lot(ref, accepted=quantity, actor="store.lin")
    app.transfer_lot(
        "L-HEAT-1",
        to_warehouse="Gulou store",
        reason="closer to the visit routes",
        actor="store.lin",
    )

    # Street patrols (街面巡查): 3 a week in each area; daily during a cold wave.
    areas = ["Gulou station area", "Dongjie bridges"]
    clock.to(date(2027, 1, 8), 8)
    app.warn_cold_wave(
        CAMPAIGN,
        area="Gulou station area",
        starts_at=datetime(2027, 1, 10, tzinfo=SHANGHAI),
        ends_at=datetime(2027, 1, 14, tzinfo=SHANGHAI),
        actor="duty.officer",
    )
    patrols = 0
    calls: list[str] = []
    for day_offset in range(12):
        day = date(2027, 1, 7) + timedelta(days=day_offset)
        if day == date(2027, 1, 12):
            for number, (minutes, far) in enumerate(
                [(22, False), (41, False), (55, True)], start=1
            ):
                ref = f"C-{number:03d}"
                clock.to(day, 13 + number, 0)
                app.log_hotline_call(
                    ref,
                    campaign=CAMPAIGN,
                    area=areas[0],
                    place="underpass by the station",
                    far=far,
                    description="person lying on cardboard",
                    actor="hotline.operator",
                )
                clock.to(day, 13 + number, 5)
                app.dispatch_call(ref, team="Patrol team", actor="hotline.operator")
                clock.to(day, 13 + number, minutes)
                app.arrive_on_call(ref, actor="captain.song")
                calls.append(ref)
        for area in areas:
            cold = area == "Gulou station area" and date(2027, 1, 10) <= day < date(2027, 1, 14)
            if not cold and day.weekday() not in (0, 2, 4):
                continue
            patrols += 1
            ref = f"P-{day:%m%d}-{areas.index(area) + 1}"
            clock.to(day, 19)
            app.schedule_patrol(
                ref,
                campaign=CAMPAIGN,
                area=area,
                team="Patrol team",
                leader="captain.song",
                scheduled_for=datetime(day.year, day.month, day.day, 20, tzinfo=SHANGHAI),
                night=True,
                actor="duty.officer",
            )
            clock.to(day, 20)
            app.start_patrol(ref, actor="captain.song")
            app.check_place(
                ref,
                kind="station" if "station" in area else "bridge_culvert",
                name=area,
                actor="captain.song",
            )
            if rng.random() < 0.5:
                app.log_encounter(
                    ref,
                    encounter_id="E1",
                    outcome="refused_given_supplies",
                    condition="cold",
                    description="man, about 50",
                    supplies=[("L-COAT-1", 1)],
                    note="will check again tomorrow",
                    actor="captain.song",
                )
            if cold and day == date(2027, 1, 11):
                refuse(
                    "leaving a minor on the street",
                    partial(
                        app.log_encounter,
                        ref,
                        encounter_id="E9",
                        outcome="refused_given_supplies",
                        condition="cold",
                        minor=True,
                        description="boy, about 14",
                        supplies=[("L-QUILT-1", 1)],
                        actor="captain.song",
                    ),
                )
            if cold:
                app.log_encounter(
                    ref,
                    encounter_id="E2",
                    outcome="accepted_shelter",
                    condition="cold",
                    description="woman, about 60",
                    actor="captain.song",
                )
            clock.to(day, 23)
            app.end_patrol(ref, actor="captain.song")
    clock.to(date(2027, 1, 19), 8)
    app.count_stock(
        "L-COAT-1",
        counted=app.load(lot.KIND, "L-COAT-1").on_hand - 2,
        reason="2 coats found damp and set aside",
        actor="store.lin",
    )
    app.write_off(
        "L-OIL-1", quantity=100, reason="expired on 15 January before issue", actor="store.lin"
    )

    # Home visits (走访慰问), 20 to 28 January, by 8 teams.
    show = progress("visits planned and completed")
    paid = Counter[str]()
    quilts = 114
    clock.to(date(2027, 1, 19), 9)
    plans = []
    for number, (ref, categories, _) in enumerate(enrolled, start=1):
        team = TEAMS[number % len(TEAMS)]
        day = date(2027, 1, 20) + timedelta(days=number % 9)
        visit_ref = f"V-{number:04d}"
        app.plan_visit(
            visit_ref,
            campaign=CAMPAIGN,
            household=ref,
            team=team,
            leader=f"leader {team[-1]}",
            planned_on=day,
            actor="office.chen",
        )
        plans.append((day, number, visit_ref, ref, categories, team))
    for done, (day, number, visit_ref, ref, categories, team) in enumerate(sorted(plans), start=1):
        clock.to(day, 9 + done * 9 // len(plans) % 9, number % 60)
        state = app.load(household.KIND, ref)
        amount = max(
            (s.amount_for(state.size) for s in STANDARDS if s.category in state.categories),
            default=0,
        ) - state.paid_fen(CAMPAIGN)
        goods: list[tuple[str, int]] = []
        if "minimum_allowance" in categories and quilts > 0:
            goods = [("L-QUILT-1", 1), ("L-RICE-1", 1)]
            quilts -= 1
        problems = (
            [ProblemReport(problem_id="P1", description="heating broken")]
            if number % 50 == 0
            else []
        )
        app.complete_visit(
            visit_ref,
            goods=goods,
            cash_fen=amount,
            signed_by="1",
            signer_phone=f"138{number:08d}",
            needs=["winter clothing"] if number % 7 == 0 else [],
            problems=problems,
            actor=team.lower().replace(" ", "."),
        )
        paid[ref] += amount
        if problems:
            app.assign_problem(
                visit_ref,
                problem_id="P1",
                department="Housing office",
                assignee="engineer.zhao",
                due_on=day + timedelta(days=5),
                actor="office.chen",
            )
        show(done, len(plans))
    clock.to(date(2027, 1, 29), 10)
    for _, number, visit_ref, *_ in plans:
        if number % 50 == 0:
            app.resolve_problem(
                visit_ref, problem_id="P1", outcome="boiler repaired", actor="engineer.zhao"
            )
            app.report_problem_back(
                visit_ref, problem_id="P1", note="told the household by phone", actor="office.chen"
            )

    # Refused entries: a second payment, a proxy signature, more goods than the shelf holds.
    clock.to(date(2027, 1, 29), 15)
    app.plan_visit(
        "V-9001",
        campaign=CAMPAIGN,
        household="H-0002",
        team="Team 1",
        leader="leader 1",
        planned_on=date(2027, 1, 29),
        actor="office.chen",
    )
    refuse(
        "second payment to H-0002",
        lambda: app.complete_visit(
            "V-9001", cash_fen=55_000, signed_by="1", signer_phone="13800000002", actor="team.1"
        ),
    )
    refuse(
        "signature by a non-member",
        lambda: app.complete_visit(
            "V-9001",
            goods=[("L-COAT-1", 1)],
            signed_by="7",
            signer_phone="13800000002",
            actor="team.1",
        ),
    )
    refuse(
        "200 heaters from a lot of 30",
        lambda: app.complete_visit(
            "V-9001",
            goods=[("L-HEAT-1", 200)],
            signed_by="1",
            signer_phone="13800000002",
            actor="team.1",
        ),
    )
    app.cancel_visit("V-9001", reason="duplicate visit planned by mistake", actor="office.chen")

    # A backdated correction: recorded on 30 January, effective 10 January.
    clock.to(date(2027, 1, 30), 10)
    correction = next(t for t in enrolled if t[1] == ("minimum_allowance",) and t[2] == 1)[0]
    app.update_household(
        correction,
        categories=["minimum_allowance", "entitled_group"],
        reason="veteran status confirmed late",
        actor="office.chen",
        effective_at=datetime(2027, 1, 10, 9, tzinfo=SHANGHAI),
    )
    app.plan_visit(
        "V-9002",
        campaign=CAMPAIGN,
        household=correction,
        team="Team 2",
        leader="leader 2",
        planned_on=date(2027, 1, 31),
        actor="office.chen",
    )
    clock.to(date(2027, 1, 31), 10)
    app.complete_visit(
        "V-9002",
        cash_fen=80_000 - 55_000,
        cash_lot="L-CASH-1",
        signed_by="1",
        signer_phone="13800000009",
        actor="team.2",
    )
    paid[correction] += 25_000

    # After-festival audit callbacks on a 10% sample.
    clock.to(date(2027, 2, 20))
    for number in rng.sample(range(1, len(enrolled) + 1), len(enrolled) // 10):
        app.verify_visit(
            f"V-{number:04d}",
            method=rng.choice(["phone", "door"]),
            result="confirmed",
            actor="inspector.he",
        )

    return Season(
        targets=targets,
        enrolled=enrolled,
        owed=paid,
        refused=refused,
        patrols=patrols,
        calls=calls,
        correction=correction,
    )


def report(app: Warmcase, season: Season) -> None:
    """Print what the books say at the end of the season."""
    states = [app.load(household.KIND, ref) for ref, _, _ in season.enrolled]
    ledger = sum(state.paid_fen(CAMPAIGN) for state in states)
    paid_households = sum(1 for state in states if state.paid_fen(CAMPAIGN))
    print("\nHouseholds")
    print(
        f"  surveyed {len(season.targets) + 1:,} (one duplicate merged), "
        f"enrolled {len(season.enrolled):,}, paid {paid_households:,}"
    )
    owed = sum(season.owed.values())
    print(f"  cash paid {ledger / 100:,.2f} yuan; sum of the tiers owed {owed / 100:,.2f} yuan")
    by_category = Counter(payment.category for s in states for payment in s.payments(CAMPAIGN))
    for category, count in sorted(by_category.items()):
        print(f"    {category:<22} {count:>5} payments")
    print("\nStock on the shelf")
    for ref in ("L-QUILT-1", "L-COAT-1", "L-RICE-1", "L-OIL-1", "L-HEAT-1", "L-COAL-1", "L-CASH-1"):
        state = app.load(lot.KIND, ref)
        figure = (
            f"{state.available / 100:>12,.2f}"
            if state.kind == "cash"
            else f"{state.available:>12,}"
        )
        print(
            f"  {ref:<10} {state.item:<12} at {state.warehouse:<14} available {figure} {state.unit}"
        )
    print("\nPatrols and hotline")
    print(f"  {season.patrols} night patrols; hotline calls:")
    for ref in season.calls:
        call = app.load(hotline.KIND, ref)
        verdict = "within target" if call.within_target else "LATE"
        print(
            f"    {ref}: on scene in {call.response_minutes} min "
            f"(target {call.target_minutes}): {verdict}"
        )
    print("\nRefused, and nothing appended")
    for line in season.refused:
        print(f"  - {line[:160]}")
    print(f"\nStore: {app.recorder.max_notification_id():,} events.")
    answers(app, season)


def answers(app: Warmcase, season: Season) -> None:
    """Print what the projections answer, now and as the books stood on 20 January."""
    rebuilt = app.rebuild()
    print(
        f"\nProjections rebuilt from the log: {rebuilt.events:,} events read in "
        f"{rebuilt.seconds:.2f} s ({rebuilt.events_per_second:,.0f} events/s), "
        f"{rebuilt.checkpoints} checkpoints saved"
    )
    on_20th = datetime(2027, 1, 20, 18, tzinfo=SHANGHAI)
    for label, basis in (("now", {}), ("as the books stood on 20 January", {"as_of": on_20th})):
        total = app.coverage(CAMPAIGN, **basis).total  # type: ignore[arg-type]
        print(
            f"  coverage {label}: enrolled {total.households.enrolled:,}, reached "
            f"{total.households.reached:,}, not yet reached {total.households.missed:,}; "
            f"cash {total.cash.fen / 100:,.2f} yuan in {total.cash.payments:,} payments"
        )
    duplicates = app.duplicate_aid(CAMPAIGN)
    print(
        f"  duplicate aid: {len(duplicates.repeat_payments)} households paid more than once, "
        f"{len(duplicates.above_tier)} above their tier, {len(duplicates.overrides)} overrides, "
        f"{len(duplicates.duplicate_registrations)} suspected duplicate registrations"
    )
    ref = season.correction
    trail = app.audit_trail(ref)
    before = app.audit_trail(ref, as_of=datetime(2027, 1, 29, 18, tzinfo=SHANGHAI))
    print(
        f"  audit trail of {ref}: {len(trail.entries)} events now, "
        f"{len(before.entries)} as the books stood on 29 January; the late correction:"
    )
    for entry in trail.entries:
        if entry.recorded_at.date() != entry.effective_at.date() and entry.position > (
            before.basis.position
        ):
            print(
                f"    #{entry.position} recorded {entry.recorded_at:%Y-%m-%d}, effective "
                f"{entry.effective_at:%Y-%m-%d}, by {entry.actor}: {entry.summary[:90]}"
            )


def main(argv: list[str] | None = None) -> int:
    """Run the demo on a fresh SQLite store."""
    parser = argparse.ArgumentParser(description="Play the Spring Festival campaign demo.")
    parser.add_argument(
        "--store", default="demo-store/warmcase-demo.db", help="SQLite file (replaced)"
    )
    parser.add_argument("--seed", type=int, default=2027)
    arguments = parser.parse_args(argv)
    path = Path(arguments.store)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    clock = SeasonClock(datetime(2026, 11, 15, 8, tzinfo=SHANGHAI))
    app = warmcase.open(f"sqlite:///{path}", clock=clock)
    started = time.perf_counter()
    print(f"Playing the Spring Festival 2027 campaign into {path} ...")
    # Deterministic for a seed; nothing here is secret.
    season = play(app, clock, random.Random(arguments.seed))  # noqa: S311
    report(app, season)
    print(f"Done in {time.perf_counter() - started:.1f} s. The store is {path}.")
    app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
