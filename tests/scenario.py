"""Building blocks of the reference scenario, played through the public commands.

The street office's Spring Festival 2027 campaign: opened in November 2026, visits in
the week of 20 January 2027. Tests that need an enrolled household or a stocked lot
start from these instead of repeating the steps.
"""

from __future__ import annotations

from datetime import date, timedelta

from tests.clocks import ManualClock, at
from tests.strategies.campaign import spring_festival_standards
from warmcase.app import Warmcase
from warmcase.domain.household import NewMember

CAMPAIGN = "SF-2027"


def open_campaign(app: Warmcase, ref: str = CAMPAIGN) -> str:
    """Open the Spring Festival campaign, backdated to its first day."""
    return app.open_campaign(
        ref,
        name="Spring Festival visits 2027",
        owner="Gulou street office",
        starts_on=date(2026, 11, 15),
        ends_on=date(2027, 3, 15),
        standards=spring_festival_standards(),
        actor="office",
        effective_at=at(15, month=11, year=2026),
    )


def register(
    app: Warmcase,
    ref: str,
    *,
    categories: tuple[str, ...] = ("minimum_allowance",),
    head_name: str = "王建国",
    head_id_number: str | None = "350102195001011234",
    phone: str = "13800138000",
    community: str = "Wenquan",
    members: int = 0,
) -> str:
    """Register a surveyed household of 1 + `members` persons, backdated to December."""
    return app.register_household(
        ref,
        district="Gulou",
        street="Dongjie",
        community=community,
        grid="G-03",
        address_detail="Building 3, Room 402",
        head_name=head_name,
        head_id_number=head_id_number,
        phone=phone,
        members=[NewMember(name=f"家属{i}", relation="spouse") for i in range(members)],
        categories=categories,
        hardship_level=2,
        actor="surveyor",
        effective_at=at(1, month=12, year=2026),
    )


def enrol(app: Warmcase, ref: str, campaign: str = CAMPAIGN) -> str:
    """Verify, post (window closed by January) and enrol a registered household."""
    app.verify_household(ref, actor="community", effective_at=at(2, month=12, year=2026))
    app.post_household(
        ref,
        place="community notice board",
        actor="community",
        effective_at=at(3, month=12, year=2026),
    )
    return app.enroll_household(
        ref, campaign=campaign, actor="office", effective_at=at(20, month=12, year=2026)
    )


def enrolled_household(app: Warmcase, ref: str = "H-0001", **survey: object) -> str:
    """A registered, verified, posted and enrolled household."""
    register(app, ref, **survey)  # type: ignore[arg-type]
    return enrol(app, ref)


def later(clock: ManualClock, days: int = 1) -> None:
    """Move the clock on by `days`."""
    clock.advance(timedelta(days=days))
