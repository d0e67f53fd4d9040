"""A city-wide winter season of about N events in one SQLite file (`--scale city`).

The city has street offices, each running the reference plan's Spring Festival campaign
(``warmcase_adapters.demo``: the same categories, tiers and proportions), and a city
trade-union campaign that visits some of the same households (overlapping aid). Each
office surveys, verifies, posts and enrols its households, with objections, changed
circumstances, duplicate registrations merged, and a few corrections entered days late
(backdated); receives, inspects, moves, reserves, issues, counts and writes off donated
lots; plans and completes visits with signed payments, problems followed up and audit
callbacks; patrols its areas (daily in cold waves) with encounters and supplies, and
answers hotline calls. At the end a few closed households are erased.

Every command goes through warmcase's own command code (so the same rules are
enforced), but against records held in memory: loading reads the in-memory state, and
saving collects the envelopes. Batches are appended through the store's own recorder
(``app.recorder.insert_events``) with a season clock, so the recorded-time index is
written as in production and recorded times advance through the season. Keys of
personal data go to the store's key table in one transaction per batch, just before the
events they seal. A refused command appends nothing, as in production; refusals are
counted.

Run: ``warmcase demo --scale city --store PATH [--events N] [--seed N]``, or
``python -m benchmarks.generate PATH --events 1000000 [--seed N]``.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import attrs

import warmcase
from warmcase.app import Warmcase
from warmcase.domain import campaign as campaign_kind
from warmcase.domain import household, lot, visit
from warmcase.domain.campaign import AidStandard
from warmcase.domain.household import NewMember
from warmcase.domain.stream import Kind, Stream
from warmcase.domain.visit import ProblemReport
from warmcase.errors import CommandRefused
from warmcase.events import Envelope
from warmcase.personal import Keyring
from warmcase.transaction import Transaction
from warmcase_adapters.demo import (
    ENTITLED_GROUPS,
    MARGINAL_GROUPS,
    SHANGHAI,
    STANDARDS,
    SeasonClock,
)
from warmcase_adapters.keyring import DIGEST_SUBJECT, id_digest, new_key
from warmcase_adapters.sqlite_store import SQLiteKeyring

SEASON_START = date(2026, 11, 15)
SEASON_END = date(2027, 3, 15)
HOUSEHOLDS_PER_OFFICE = 1_900
"""About the reference plan's street office (1,903 households and persons)."""
EVENTS_PER_HOUSEHOLD = 8.45
"""Measured events per household of an office, its lots, patrols and calls included."""
BATCH_EVENTS = 1_000
"""Most events per insert (each insert is one write, with one recorded time)."""
BATCH_SPAN = timedelta(minutes=5)
"""Longest stretch of the season one insert covers: events are recorded within minutes
of taking effect, as at a desk, so only the deliberate late entries are backdated."""
UNION_CAMPAIGN = "UNION-2027"
UNION_SHARE = 0.08
"""Share of households the trade union also visits (overlapping aid, as in real cities)."""
TEAMS = [f"Team {n}" for n in range(1, 9)]
DISTRICTS = ["Gulou", "Taijiang", "Cangshan", "Jinan", "Mawei", "Changle"]
COMMUNITIES = ["Wenquan", "Dongjie", "Nanmen", "Xihu", "Beiyuan", "Hualin"]
PLACES = ["station", "underpass", "bridge_culvert", "busy_street", "hospital", "urban_fringe"]

Action = Callable[..., object]
"""A command to run at its moment (loop values are bound as default arguments)."""
Step = tuple[datetime, int, Action]


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A moment of the season in the city's time zone."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def category_mix(rng: random.Random) -> tuple[tuple[str, ...], int]:
    """Categories and size of one household, in the reference plan's proportions."""
    minimum = 93
    marginal = sum(count for _, _, count in MARGINAL_GROUPS)
    entitled = sum(count for _, _, count, _ in ENTITLED_GROUPS)
    pick = rng.randrange(minimum + marginal + entitled)
    if pick < minimum:
        categories: tuple[str, ...] = ("minimum_allowance",)
        if rng.random() < 0.12:
            categories += (rng.choice(MARGINAL_GROUPS)[1],)
        return categories, rng.choice([1, 1, 2, 2, 3, 4])
    pick -= minimum
    for _, code, count in MARGINAL_GROUPS:
        if pick < count:
            return (code,), rng.choice([1, 1, 2])
        pick -= count
    pick -= marginal - sum(count for _, _, count in MARGINAL_GROUPS)
    for _, code, count, _ in ENTITLED_GROUPS:
        if pick < count:
            return (code,), 1
        pick -= count
    return ("low_income",), 1  # pragma: no cover - the ranges above cover every pick


class BatchKeyring(Keyring):
    """Keys cached in memory; new ones written to the store's key table once per batch.

    The store is fresh, so no key exists before this run makes it. ``destroy`` first
    appends everything pending (sealed with the key), then destroys it in the store.
    """

    def __init__(self, store: SQLiteKeyring, flush: Callable[[], None]) -> None:
        self._store = store
        self._flush = flush
        self._keys: dict[str, bytes] = {}
        self._new: dict[str, bytes] = {}

    def key_for(self, subject: str, *, create: bool) -> bytes | None:
        """The subject's key, made on first use when `create`."""
        key = self._keys.get(subject)
        if key is None and create:
            key = self._keys[subject] = self._new[subject] = new_key()
        return key

    def write_new_keys(self) -> None:
        """Store the keys made since the last call, in one transaction."""
        if not self._new:
            return
        with self._store.datastore.transaction(commit=True) as cursor:
            cursor.executemany(
                "INSERT INTO warmcase_keys (subject, key) VALUES (?, ?)", list(self._new.items())
            )
        self._new.clear()

    def destroy(self, subject: str) -> bool:
        """Append what is pending, then destroy the key in the store."""
        self._flush()
        self._keys.pop(subject, None)
        return self._store.destroy(subject)

    def id_digest(self, id_number: str) -> str:
        """Keyed hash under the store's secret."""
        secret = self.key_for(DIGEST_SUBJECT, create=True)
        assert secret is not None
        return id_digest(secret, id_number)


class Writer:
    """Runs warmcase's commands against in-memory records and appends in batches."""

    def __init__(self, app: Warmcase, clock: SeasonClock) -> None:
        self.app = app
        self.clock = clock
        self.streams: dict[UUID, Stream[Any]] = {}
        self.pending: list[Envelope] = []
        self.since = clock.now
        """The moment of the first pending event."""
        self.appended = 0
        self.refused: Counter[str] = Counter()
        store_keyring = app.keyring
        assert isinstance(store_keyring, SQLiteKeyring)
        self.keyring = BatchKeyring(store_keyring, self.flush)
        # The command code is warmcase's own; only where records come from and go to changes.
        app.keyring = self.keyring
        app.mapper.codec.keyring = self.keyring  # type: ignore[attr-defined]
        app._load = self._load  # type: ignore[method-assign]
        app._commit = self.pending.extend  # type: ignore[method-assign,assignment]
        app._remember = self._remember  # type: ignore[method-assign]

    def _load(self, kind: Kind[Any], ref: str) -> Stream[Any] | None:
        return self.streams.get(kind.stream_id(ref))

    def _remember(self, tx: Transaction) -> None:
        for _, stream in tx.touched():
            self.streams[stream.id] = stream

    def state(self, kind: Kind[Any], ref: str) -> Any:
        """The in-memory state of a record (None if it does not exist)."""
        stream = self._load(kind, ref)
        return None if stream is None else stream.state

    def run(self, action: Action, what: str) -> bool:
        """Run one command; a refusal appends nothing and is counted."""
        try:
            action()
        except CommandRefused as error:
            self.refused[f"{what}: {type(error).__name__}"] += 1
            return False
        return True

    def flush(self) -> None:
        """Append the pending events through the store's recorder, at the clock's now."""
        if not self.pending:
            return
        mapper = self.app.mapper
        stored = [mapper.to_stored_event(envelope) for envelope in self.pending]
        self.keyring.write_new_keys()
        self.app.recorder.insert_events(stored)
        self.appended += len(stored)
        self.pending.clear()


@attrs.frozen
class Office:
    """One street office: its campaign, households and areas."""

    number: int
    households: int
    areas: int

    @property
    def code(self) -> str:
        """Short code used in references."""
        return f"{self.number:02d}"

    @property
    def campaign(self) -> str:
        """The office's campaign reference."""
        return f"SF-2027-{self.code}"

    @property
    def district(self) -> str:
        """The district the office belongs to."""
        return DISTRICTS[self.number % len(DISTRICTS)]


class Season:
    """Builds the time-ordered steps of every office and runs them."""

    def __init__(self, writer: Writer, offices: list[Office], seed: int) -> None:
        self.w = writer
        self.app = writer.app
        self.offices = offices
        self.seed = seed
        self._sequence = 0

    def _rng(self, office: Office, stream: str) -> random.Random:
        # Deterministic per office and activity; nothing here is secret.
        return random.Random(f"{self.seed}:{office.number}:{stream}")

    def _step(self, moment: datetime, action: Action) -> Step:
        self._sequence += 1
        return (moment, self._sequence, action)

    def streams(self) -> list[Iterator[Step]]:
        """Every activity of every office, each in time order."""
        found: list[Iterator[Step]] = [self.city()]
        for office in self.offices:
            found += [
                self.households(office),
                self.lots(office),
                self.patrols(office),
                self.hotline(office),
            ]
        return found

    def play(self, show: Callable[[int], None]) -> None:
        """Run every step in time order, appending in batches as the clock moves on."""
        merged = heapq.merge(*self.streams(), key=lambda step: (step[0], step[1]))
        for moment, _, action in merged:
            if moment > self.w.clock.now and (
                len(self.w.pending) >= BATCH_EVENTS or moment - self.w.since > BATCH_SPAN
            ):
                self.w.flush()
                show(self.w.appended)
            if not self.w.pending:
                self.w.since = moment
            self.w.clock.now = max(self.w.clock.now, moment)
            action()
        self.w.flush()
        show(self.w.appended)

    # -- the city ------------------------------------------------------------------------

    def city(self) -> Iterator[Step]:
        """Campaigns opened; cold waves warned for every office; the union campaign."""
        app, run = self.app, self.w.run
        yield self._step(
            at(SEASON_START, 8),
            lambda: [
                run(
                    lambda o=office: app.open_campaign(
                        o.campaign,
                        name=f"Spring Festival visits 2027, office {o.code}",
                        owner=f"{o.district} street office {o.code}",
                        starts_on=SEASON_START,
                        ends_on=SEASON_END,
                        standards=STANDARDS,
                        actor="office.chen",
                    ),
                    "open_campaign",
                )
                for office in self.offices
            ],
        )
        codes = sorted({s.category for s in STANDARDS} - {"marginal"})
        yield self._step(
            at(SEASON_START, 9),
            lambda: run(
                lambda: app.open_campaign(
                    UNION_CAMPAIGN,
                    name="Trade-union winter visits 2027",
                    owner="City federation of trade unions",
                    starts_on=SEASON_START,
                    ends_on=SEASON_END,
                    standards=[AidStandard(category=c, tiers=((1, 100_000),)) for c in codes],
                    actor="union.zhou",
                ),
                "open_campaign",
            ),
        )
        for start in (date(2026, 12, 18), date(2027, 1, 10), date(2027, 2, 8)):
            yield self._step(
                at(start - timedelta(days=2), 8),
                lambda start=start: [
                    run(
                        lambda o=office, area=area: app.warn_cold_wave(
                            o.campaign,
                            area=area,
                            starts_at=at(start, 0),
                            ends_at=at(start + timedelta(days=4), 0),
                            actor="duty.officer",
                        ),
                        "warn_cold_wave",
                    )
                    for office in self.offices
                    for area in self.areas(office)
                ],
            )

    @staticmethod
    def areas(office: Office) -> list[str]:
        """The patrol areas of an office."""
        return [f"Area {office.code}-{n}" for n in range(1, office.areas + 1)]

    # -- households, enrolment and visits --------------------------------------------------

    def households(self, office: Office) -> Iterator[Step]:
        """Survey to audit callbacks for an office's households, in time order."""
        rng = self._rng(office, "households")
        app, run = self.app, self.w.run
        refs = [f"H-{office.code}-{n:05d}" for n in range(1, office.households + 1)]
        plans: dict[str, tuple[tuple[str, ...], int]] = {r: category_mix(rng) for r in refs}
        survey_days = 12
        steps: list[Step] = []

        def register(ref: str, number: int, when: datetime) -> None:
            categories, size = plans[ref]
            community = COMMUNITIES[number % len(COMMUNITIES)]
            run(
                lambda: app.register_household(
                    ref,
                    district=office.district,
                    street=f"Street {office.code}",
                    community=community,
                    grid=f"G-{number % 12 + 1:02d}",
                    address_detail=f"Building {number % 40 + 1}, Room {number % 6 + 1}01",
                    head_name=f"户主{office.code}{number:05d}",
                    head_id_number=f"3501{office.number % 100:02d}{1940 + number % 60}0101"
                    f"{number % 10000:04d}",
                    phone=f"13{office.number % 10}{number:08d}",
                    members=[
                        NewMember(name=f"家属{office.code}{number:05d}-{k}", relation="family")
                        for k in range(size - 1)
                    ],
                    categories=categories,
                    hardship_level=1 + number % 3,
                    actor=f"surveyor.{office.code}.{number % 5}",
                ),
                "register_household",
            )

        withdrawn: set[str] = set()
        for number, ref in enumerate(refs, start=1):
            day = date(2026, 11, 18) + timedelta(days=number * survey_days // len(refs))
            minute = number % 480
            surveyed = at(day, 9 + minute // 60, minute % 60)
            steps.append(
                self._step(surveyed, lambda r=ref, n=number, s=surveyed: register(r, n, s))
            )
            verified = surveyed + timedelta(days=1)
            steps.append(
                self._step(
                    verified,
                    lambda r=ref: run(
                        lambda: app.verify_household(r, actor="community.wang"), "verify"
                    ),
                )
            )
            posted = surveyed + timedelta(days=2)
            steps.append(
                self._step(
                    posted,
                    lambda r=ref: run(
                        lambda: app.post_household(
                            r, place="community notice board", actor="community.wang"
                        ),
                        "post",
                    ),
                )
            )
            if rng.random() < 0.01:  # an objection while posted; one in four upheld
                upheld = rng.random() < 0.25
                if upheld:  # withdrawn from the list: never enrolled
                    withdrawn.add(ref)
                steps.append(
                    self._step(
                        posted + timedelta(days=3),
                        lambda r=ref: run(
                            lambda: app.raise_objection(
                                r,
                                objection_id="O-1",
                                grounds="income above the line",
                                raised_by="neighbour",
                                actor="community.wang",
                            ),
                            "raise_objection",
                        ),
                    )
                )
                steps.append(
                    self._step(
                        posted + timedelta(days=5),
                        lambda r=ref, u=upheld: run(
                            lambda: app.resolve_objection(
                                r,
                                objection_id="O-1",
                                upheld=u,
                                reason="payslips checked" if u else "shop closed in 2025",
                                actor="office.chen",
                            ),
                            "resolve_objection",
                        ),
                    )
                )
            if rng.random() < 0.004:  # registered twice (same ID number), merged on review
                twin = f"{ref}-D"
                plans[twin] = plans[ref]
                steps.append(
                    self._step(
                        surveyed + timedelta(days=4),
                        lambda r=twin, n=number, s=surveyed: register(r, n, s),
                    )
                )
                steps.append(
                    self._step(
                        surveyed + timedelta(days=6),
                        lambda d=twin, r=ref: run(
                            lambda: app.merge_households(
                                d, into=r, reason="same ID number", actor="office.chen"
                            ),
                            "merge_households",
                        ),
                    )
                )
        steps.sort(key=lambda step: (step[0], step[1]))
        yield from steps
        # Built only now, so one phase of every office is in memory at a time.
        steps = []
        enrol_day = date(2026, 12, 20)
        refs = [ref for ref in refs if ref not in withdrawn]
        union = rng.sample(refs, int(len(refs) * UNION_SHARE))
        for number, ref in enumerate(refs, start=1):
            steps.append(
                self._step(
                    at(enrol_day, 9 + number % 8, number % 60),
                    lambda r=ref: run(
                        lambda: app.enroll_household(
                            r, campaign=office.campaign, actor="office.chen"
                        ),
                        "enroll",
                    ),
                )
            )
            if rng.random() < 0.03:  # changed circumstances during the season
                when = at(date(2027, 1, 3) + timedelta(days=rng.randrange(40)), 10)
                late = rng.random() < 0.3  # entered days after it happened
                steps.append(
                    self._step(
                        when,
                        lambda r=ref, n=number, when=when, late=late: run(
                            lambda: app.update_household(
                                r,
                                phone=f"15{office.number % 10}{n:08d}",
                                hardship_level=1 + (n + 1) % 3,
                                reason="new phone; circumstances reviewed",
                                actor="community.wang",
                                effective_at=when - timedelta(days=6) if late else None,
                            ),
                            "update_household",
                        ),
                    )
                )
        for number, ref in enumerate(union, start=1):
            steps.append(
                self._step(
                    at(date(2027, 1, 25), 9 + number % 8, number % 60),
                    lambda r=ref: run(
                        lambda: app.enroll_household(
                            r, campaign=UNION_CAMPAIGN, actor="union.zhou"
                        ),
                        "enroll",
                    ),
                )
            )
        visits = [(f"V-{office.code}-{n:05d}", ref, office.campaign) for n, ref in enumerate(refs)]
        visits += [(f"U-{office.code}-{n:05d}", ref, UNION_CAMPAIGN) for n, ref in enumerate(union)]
        goods_rng = self._rng(office, "goods")
        for number, (visit_ref, ref, campaign) in enumerate(visits):
            own = campaign == office.campaign
            day = (date(2027, 1, 20) if own else date(2027, 2, 1)) + timedelta(days=number % 9)
            team = TEAMS[number % len(TEAMS)]
            steps.append(
                self._step(
                    at(date(2027, 1, 19) if own else date(2027, 1, 30), 9, number % 60),
                    lambda v=visit_ref, r=ref, c=campaign, d=day, t=team: run(
                        lambda: app.plan_visit(
                            v,
                            campaign=c,
                            household=r,
                            team=t,
                            leader=f"leader {t[-1]}",
                            planned_on=d,
                            actor="office.chen",
                        ),
                        "plan_visit",
                    ),
                )
            )
            done = at(day, 9 + number % 9, number % 60)
            late = rng.random() < 0.05  # the signature sheet is entered days later
            entered = done + timedelta(days=rng.randint(2, 5)) if late else done
            problem = rng.random() < 0.02
            pick = goods_rng.random()
            backdated = done if late else None
            steps.append(
                self._step(
                    entered,
                    lambda v=visit_ref, r=ref, c=campaign, t=team, b=backdated, p=problem, g=pick: (
                        self.complete(office, v, r, c, t, b, p, g)
                    ),
                )
            )
            if problem:
                for offset, action in (
                    (
                        1,
                        lambda v=visit_ref, d=day: app.assign_problem(
                            v,
                            problem_id="P1",
                            department="Housing office",
                            assignee="engineer.zhao",
                            due_on=d + timedelta(days=10),
                            actor="office.chen",
                        ),
                    ),
                    (
                        4,
                        lambda v=visit_ref: app.follow_up_problem(
                            v, problem_id="P1", note="parts ordered", actor="engineer.zhao"
                        ),
                    ),
                    (
                        8,
                        lambda v=visit_ref: app.resolve_problem(
                            v, problem_id="P1", outcome="boiler repaired", actor="engineer.zhao"
                        ),
                    ),
                    (
                        9,
                        lambda v=visit_ref: app.report_problem_back(
                            v,
                            problem_id="P1",
                            note="told the household by phone",
                            actor="office.chen",
                        ),
                    ),
                ):
                    steps.append(
                        self._step(
                            entered + timedelta(days=offset),
                            lambda a=action: run(a, "problem follow-up"),
                        )
                    )
            if rng.random() < 0.10:  # the after-festival 10% audit sample
                steps.append(
                    self._step(
                        at(date(2027, 2, 20) + timedelta(days=number % 5), 10, number % 60),
                        lambda v=visit_ref, n=number: (
                            self.completed(v)
                            and run(
                                lambda: app.verify_visit(
                                    v,
                                    method="phone" if n % 3 else "door",
                                    result="confirmed" if n % 40 else "discrepancy",
                                    note=None if n % 40 else "household says goods were fewer",
                                    actor="inspector.he",
                                ),
                                "verify_visit",
                            )
                        ),
                    )
                )
            elif rng.random() < 0.01:
                steps.append(
                    self._step(
                        at(date(2027, 3, 1), 10, number % 60),
                        lambda v=visit_ref: run(
                            lambda: app.record_return_visit(
                                v, note="heating works now", actor="community.wang"
                            ),
                            "return visit",
                        ),
                    )
                )
        steps.sort(key=lambda step: (step[0], step[1]))
        yield from steps
        steps = []
        closing = rng.sample(refs, max(1, len(refs) // 1000))
        for number, ref in enumerate(closing):
            moment = at(date(2027, 3, 10), 10, number % 60)
            steps.append(
                self._step(
                    moment,
                    lambda r=ref: run(
                        lambda: app.close_household(
                            r, cause="moved", reason="moved to another city", actor="office.chen"
                        ),
                        "close_household",
                    ),
                )
            )
            steps.append(
                self._step(
                    moment + timedelta(hours=2),
                    lambda r=ref: run(
                        lambda: app.erase_household(
                            r, reason="moved away; asked for erasure", actor="office.chen"
                        ),
                        "erase_household",
                    ),
                )
            )
        steps.sort(key=lambda step: (step[0], step[1]))
        yield from steps

    def complete(
        self,
        office: Office,
        visit_ref: str,
        ref: str,
        campaign: str,
        team: str,
        effective_at: datetime | None,
        problem: bool,
        goods_pick: float,
    ) -> None:
        """Deliver a visit: exactly what remains of the household's tier, and goods in stock."""
        app, w = self.app, self.w
        state = w.state(household.KIND, ref)
        if state is None:
            return
        running = w.state(campaign_kind.KIND, campaign)
        amount, _ = running.entitlement(state.categories, state.size) if running else (0, None)
        amount -= state.paid_fen(campaign)
        goods: list[tuple[str, int]] = []
        if campaign == office.campaign:
            wanted = ["quilt", "rice"] if "minimum_allowance" in state.categories else []
            if goods_pick < 0.3:
                wanted.append("cotton coat")
            when = effective_at or w.clock.now
            for item in wanted:
                found = self.lot_with_stock(office, item, when)
                if found is not None:
                    goods.append((found, 1))
        if amount <= 0 and not goods:
            w.run(
                lambda: app.cancel_visit(visit_ref, reason="nothing due", actor="office.chen"),
                "cancel_visit",
            )
            return
        w.run(
            lambda: app.complete_visit(
                visit_ref,
                goods=goods,
                cash_fen=max(amount, 0),
                signed_by="1",
                signer_phone=f"138{zlib.crc32(ref.encode()) % 10**8:08d}",
                needs=["winter clothing"] if goods_pick > 0.9 else [],
                problems=[ProblemReport(problem_id="P1", description="heating broken")]
                if problem
                else [],
                actor=team.lower().replace(" ", "."),
                effective_at=effective_at,
            ),
            "complete_visit",
        )

    def completed(self, visit_ref: str) -> bool:
        """Whether the visit was delivered (a cancelled one has no callback)."""
        state = self.w.state(visit.KIND, visit_ref)
        return state is not None and state.status == visit.COMPLETED

    def lot_with_stock(self, office: Office, item: str, when: datetime) -> str | None:
        """The first of the office's lots of `item` with a unit available at `when`."""
        for number in range(1, self._lot_count(office, item) + 1):
            ref = f"L-{office.code}-{item.replace(' ', '')[:5].upper()}-{number}"
            state = self.w.state(lot.KIND, ref)
            if state is not None and state.available_at(when) > 0 and state.available > 0:
                return ref
        return None

    # -- donated lots ------------------------------------------------------------------------

    ITEMS: tuple[tuple[str, str, str, int, date | None], ...] = (
        ("quilt", "Fuzhou Textile Co.", "piece", 120, None),
        ("cotton coat", "Minjiang Garments", "piece", 100, None),
        ("rice", "Grain bureau", "bag", 150, date(2027, 6, 30)),
        ("cooking oil", "Jinlong Oils", "bottle", 100, date(2027, 1, 15)),
        ("heater", "Haier dealer", "piece", 30, None),
        ("CO alarm", "Gas company", "piece", 60, None),
    )

    def _lot_count(self, office: Office, item: str) -> int:
        need = {"quilt": 0.06, "rice": 0.06, "cotton coat": 0.32}.get(item, 0.02)
        size = next(entry[3] for entry in self.ITEMS if entry[0] == item)
        return max(1, math.ceil(office.households * need / size))

    def lots(self, office: Office) -> Iterator[Step]:
        """Receipts, inspections, moves, reservations, issues, counts and write-offs."""
        rng = self._rng(office, "lots")
        app, run = self.app, self.w.run
        steps: list[Step] = []
        for item, donor, unit, size, expires in self.ITEMS:
            for number in range(1, self._lot_count(office, item) + 1):
                ref = f"L-{office.code}-{item.replace(' ', '')[:5].upper()}-{number}"
                received = at(date(2027, 1, 5) + timedelta(days=number % 5), 10, number % 60)
                rejected = rng.randrange(0, 5) if unit == "piece" else 0
                steps.append(
                    self._step(
                        received,
                        lambda r=ref, i=item, d=donor, u=unit, s=size, e=expires: run(
                            lambda: app.receive_lot(
                                r,
                                donor=d,
                                item=i,
                                unit=u,
                                quantity=s,
                                warehouse=f"Store {office.code}",
                                expires_on=e,
                                actor="store.lin",
                            ),
                            "receive_lot",
                        ),
                    )
                )
                steps.append(
                    self._step(
                        received + timedelta(days=1),
                        lambda r=ref, s=size, x=rejected: run(
                            lambda: app.inspect_lot(
                                r,
                                accepted=s - x,
                                rejected=x,
                                rejections=[(x, "holes or stains")] if x else [],
                                actor="store.lin",
                            ),
                            "inspect_lot",
                        ),
                    )
                )
                if rng.random() < 0.2:
                    steps.append(
                        self._step(
                            received + timedelta(days=2),
                            lambda r=ref: run(
                                lambda: app.transfer_lot(
                                    r,
                                    to_warehouse=f"Hall {office.code}",
                                    reason="closer to the visit routes",
                                    actor="store.lin",
                                ),
                                "transfer_lot",
                            ),
                        )
                    )
                if item in ("heater", "CO alarm"):  # handed out at a distribution point
                    point = f"D-{office.code}-{number}"
                    steps.append(
                        self._step(
                            received + timedelta(days=3),
                            lambda r=ref, p=point: run(
                                lambda: app.reserve_lot(
                                    r,
                                    reservation_id=f"R-{p}",
                                    quantity=10,
                                    for_ref=p,
                                    actor="store.lin",
                                ),
                                "reserve_lot",
                            ),
                        )
                    )
                    steps.extend(
                        self._step(
                            received + timedelta(days=5, hours=k),
                            lambda r=ref, p=point: run(
                                lambda: app.issue_lot(
                                    r,
                                    quantity=1,
                                    channel="distribution",
                                    to=p,
                                    reservation_id=f"R-{p}",
                                    actor="volunteer.qian",
                                ),
                                "issue_lot",
                            ),
                        )
                        for k in range(8)
                    )
                    steps.append(
                        self._step(
                            received + timedelta(days=6),
                            lambda r=ref, p=point: run(
                                lambda: app.release_lot(
                                    r, reservation_id=f"R-{p}", actor="store.lin"
                                ),
                                "release_lot",
                            ),
                        )
                    )
                if item == "cooking oil":
                    steps.append(
                        self._step(
                            at(date(2027, 1, 16), 9, number % 60),
                            lambda r=ref: run(
                                lambda: app.write_off(
                                    r,
                                    quantity=self.w.state(lot.KIND, r).on_hand,
                                    reason="expired on 15 January before issue",
                                    actor="store.lin",
                                ),
                                "write_off",
                            ),
                        )
                    )
                    continue
                for count_day, damp in ((date(2027, 1, 19), 0.1), (date(2027, 2, 25), 0.05)):
                    short = 1 if rng.random() < damp else 0
                    late = rng.random() < 0.2  # the count sheet is entered days later
                    moment = at(count_day, 8, number % 60)
                    steps.append(
                        self._step(
                            moment + timedelta(days=3) if late else moment,
                            lambda r=ref, s=short, m=moment, late=late: self.count(r, s, m, late),
                        )
                    )
        steps.sort(key=lambda step: (step[0], step[1]))
        yield from steps

    def count(self, ref: str, short: int, moment: datetime, late: bool) -> None:
        """A physical count at `moment`: the book, or one unit short (with the reason)."""
        book = self.w.state(lot.KIND, ref).balance_at(moment).on_hand
        counted = max(0, book - short)
        self.w.run(
            lambda: self.app.count_stock(
                ref,
                counted=counted,
                reason="one found damp and set aside" if counted != book else None,
                actor="store.lin",
                effective_at=moment if late else None,
            ),
            "count_stock",
        )

    # -- patrols and the hotline -----------------------------------------------------------

    def patrols(self, office: Office) -> Iterator[Step]:
        """Three night patrols a week per area, daily in a cold wave; encounters with supplies."""
        rng = self._rng(office, "patrols")
        app, run = self.app, self.w.run
        waves = [(date(2026, 12, 18), 4), (date(2027, 1, 10), 4), (date(2027, 2, 8), 4)]
        day = SEASON_START + timedelta(days=1)
        while day < SEASON_END:
            cold = any(start <= day < start + timedelta(days=n) for start, n in waves)
            for index, area in enumerate(self.areas(office), start=1):
                if not cold and day.weekday() not in (0, 2, 4):
                    continue
                ref = f"P-{office.code}-{day:%m%d}-{index}"
                yield self._step(
                    at(day, 19, index),
                    lambda r=ref, a=area, d=day: run(
                        lambda: app.schedule_patrol(
                            r,
                            campaign=office.campaign,
                            area=a,
                            team=f"Patrol {office.code}",
                            leader="captain.song",
                            scheduled_for=at(d, 20),
                            night=True,
                            actor="duty.officer",
                        ),
                        "schedule_patrol",
                    ),
                )
                yield self._step(
                    at(day, 20, index),
                    lambda r=ref: run(lambda: app.start_patrol(r, actor="captain.song"), "start"),
                )
                for k in range(rng.randint(1, 3)):
                    yield self._step(
                        at(day, 20, 10 + 10 * k + index),
                        lambda r=ref, k=k, a=area: run(
                            lambda: app.check_place(
                                r,
                                kind=PLACES[k % len(PLACES)],
                                name=f"{a} place {k}",
                                actor="captain.song",
                            ),
                            "check_place",
                        ),
                    )
                for k in range(rng.choice([0, 0, 1, 1, 2, 3] if cold else [0, 0, 0, 1, 1, 2])):
                    outcome = rng.choice(
                        ["refused_given_supplies", "accepted_shelter", "helped_home"]
                    )
                    night = at(day, 21)
                    yield self._step(
                        at(day, 21, 10 * k + index),
                        lambda r=ref, k=k, o=outcome, m=night: self.encounter(
                            office, r, f"E{k + 1}", o, m
                        ),
                    )
                yield self._step(
                    at(day, 23, index),
                    lambda r=ref: run(lambda: app.end_patrol(r, actor="captain.song"), "end"),
                )
            day += timedelta(days=1)

    def encounter(self, office: Office, ref: str, eid: str, outcome: str, moment: datetime) -> None:
        """Log a person met; one refusing help gets a coat if one is in stock."""
        supplies: list[tuple[str, int]] = []
        reason = None
        if outcome == "refused_given_supplies":
            found = self.lot_with_stock(office, "cotton coat", moment)
            if found is None:
                reason = "no coats in stock yet; contact left"
            else:
                supplies = [(found, 1)]
        self.w.run(
            lambda: self.app.log_encounter(
                ref,
                encounter_id=eid,
                outcome=outcome,
                condition="cold",
                description="person sleeping rough",
                supplies=supplies,
                note="will check again tomorrow",
                reason=reason,
                actor="captain.song",
            ),
            "log_encounter",
        )

    def hotline(self, office: Office) -> Iterator[Step]:
        """About two calls a week: logged, dispatched, arrived within the target, closed."""
        rng = self._rng(office, "hotline")
        app, run = self.app, self.w.run
        day = SEASON_START + timedelta(days=2)
        number = 0
        area = self.areas(office)[0]
        while day < SEASON_END:
            number += 1
            ref = f"C-{office.code}-{number:04d}"
            far = rng.random() < 0.2
            received = at(day, 13 + rng.randrange(8), rng.randrange(60))
            minutes = rng.randint(10, 70 if far else 40)
            yield self._step(
                received,
                lambda r=ref, f=far: run(
                    lambda: app.log_hotline_call(
                        r,
                        campaign=office.campaign,
                        area=area,
                        place="underpass by the station",
                        far=f,
                        description="person lying on cardboard",
                        caller_phone="13900000000",
                        actor="hotline.operator",
                    ),
                    "log_hotline_call",
                ),
            )
            yield self._step(
                received + timedelta(minutes=5),
                lambda r=ref: run(
                    lambda: app.dispatch_call(
                        r, team=f"Patrol {office.code}", actor="hotline.operator"
                    ),
                    "dispatch_call",
                ),
            )
            yield self._step(
                received + timedelta(minutes=minutes),
                lambda r=ref: run(lambda: app.arrive_on_call(r, actor="captain.song"), "arrive"),
            )
            yield self._step(
                received + timedelta(minutes=minutes + 20),
                lambda r=ref: run(
                    lambda: app.close_call(r, outcome="accepted_shelter", actor="captain.song"),
                    "close_call",
                ),
            )
            day += timedelta(days=rng.choice([2, 3, 4]))


def city_plan(events: int) -> list[Office]:
    """Offices of about the reference size whose season adds up to about `events` events."""
    households = max(20, round(events / EVENTS_PER_HOUSEHOLD))
    count = max(1, round(households / HOUSEHOLDS_PER_OFFICE))
    per_office = households // count
    return [
        Office(number=n, households=per_office, areas=max(1, per_office // 950))
        for n in range(1, count + 1)
    ]


def generate(
    path: Path, *, events: int, seed: int = 2027, show: Callable[[int], None] | None = None
) -> tuple[int, Counter[str]]:
    """Build the store at `path` (replaced); the events appended and the refusals by kind."""
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    clock = SeasonClock(at(SEASON_START, 8))
    app = warmcase.open(f"sqlite:///{path}", clock=clock)
    try:
        writer = Writer(app, clock)
        Season(writer, city_plan(events), seed).play(show or (lambda _: None))
        return writer.appended, writer.refused
    finally:
        app.close()


def main(argv: list[str] | None = None) -> int:
    """Generate a store and say what is in it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="SQLite file to create (replaced)")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2027)
    arguments = parser.parse_args(argv)
    started = time.perf_counter()
    live = sys.stdout.isatty()

    def show(done: int) -> None:
        if live:
            elapsed = time.perf_counter() - started
            print(f"  {done:,} events ({elapsed:.0f} s)", end="\r", flush=True)

    offices = city_plan(arguments.events)
    print(
        f"Generating {len(offices)} street offices x {offices[0].households:,} households "
        f"into {arguments.path} ..."
    )
    appended, refused = generate(
        arguments.path, events=arguments.events, seed=arguments.seed, show=show
    )
    elapsed = time.perf_counter() - started
    print(f"{appended:,} events in {elapsed:.1f} s ({appended / elapsed:,.0f} events/s)")
    if refused:
        print("Refused (nothing appended):")
        for what, count in refused.most_common():
            print(f"  {count:>6}  {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
