"""`warmcase demo`: play the demo campaign into a fresh SQLite store and print its books.

``--scale street`` (the default) is the street office's Spring Festival campaign at the
reference plan's size (:mod:`warmcase_adapters.demo`); ``--scale city`` writes a city-wide
season of about a million events (:mod:`warmcase_adapters.city`) for benchmarks.
"""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

import warmcase
from warmcase_adapters import city
from warmcase_adapters import demo as season
from warmcase_adapters.cli.common import (
    DEFAULT_STORE,
    EXIT_USAGE,
    StoreOption,
    console,
    fail,
    is_url,
    progress_bars,
    sqlite_path,
)
from warmcase_adapters.cli.report import show_reports


class Scale(enum.StrEnum):
    """How big a season the demo plays."""

    street = "street"
    city = "city"


def _stage_bars(bars: Progress) -> season.Progress:
    """The demo's per-stage progress callbacks, each drawn as a bar."""

    def stage(label: str) -> Callable[[int, int], None]:
        task = bars.add_task(label, total=None)

        def show(done: int, total: int) -> None:
            bars.update(task, completed=done, total=total)

        return show

    return stage


def _fresh(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)


def _street(path: Path, seed: int) -> None:
    clock = season.SeasonClock(datetime(2026, 11, 15, 8, tzinfo=season.SHANGHAI))
    app = warmcase.open(f"sqlite:///{path}", clock=clock)
    try:
        with progress_bars() as bars:
            # Deterministic for a seed; nothing here is secret.
            played = season.play(app, clock, random.Random(seed), _stage_bars(bars))  # noqa: S311
        season.report(app, played)
        console.print()
        show_reports(app, season.CAMPAIGN, console)
    finally:
        app.close()


def _city(path: Path, seed: int, events: int) -> None:
    with progress_bars() as bars:
        task = bars.add_task("events written", total=events)
        appended, refused = city.generate(
            path, events=events, seed=seed, show=lambda done: bars.update(task, completed=done)
        )
        bars.update(task, completed=appended, total=appended)
    console.print(
        f"\n{appended:,} events appended; {sum(refused.values()):,} commands refused "
        f"(and nothing appended for them): "
        + ", ".join(f"{kind} {count:,}" for kind, count in refused.most_common())
    )


def _next_steps(store: str) -> None:
    option = "" if store == DEFAULT_STORE else f" --store {store}"
    console.print("\n[bold]Next, try:[/]")
    for line in (
        f"warmcase report coverage --campaign {season.CAMPAIGN}{option}",
        f"warmcase report coverage --campaign {season.CAMPAIGN} --as-of 2027-01-20{option}",
        f"warmcase report duplicates --format xlsx --output duplicates.xlsx{option}",
        f"warmcase trail H-0001{option}",
        f"warmcase sample --campaign {season.CAMPAIGN} --rate 0.10 --by community "
        f"--seed 2027 --output sample.json{option}",
        f"warmcase sample --verify sample.json{option}",
        f"warmcase export events --format jsonl --output events.jsonl{option}",
    ):
        console.print(f"  {line}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add `warmcase demo` to the command line."""

    @app.command()
    def demo(
        store: StoreOption = DEFAULT_STORE,
        seed: Annotated[int, typer.Option(help="Seed of the season's choices.")] = 2027,
        scale: Annotated[
            Scale, typer.Option(help="street: the reference campaign; city: ~1M events.")
        ] = Scale.street,
        events: Annotated[
            int, typer.Option(min=1_000, help="With --scale city: about how many events.")
        ] = 1_000_000,
    ) -> None:
        """Play the Spring Festival campaign into a fresh SQLite store, then print its books."""
        if is_url(store):
            fail(
                f"the demo writes a fresh SQLite file and will not write into {store}: "
                f"pass --store PATH (the file is replaced)",
                EXIT_USAGE,
            )
        path = sqlite_path(store)
        _fresh(path)
        started = time.perf_counter()
        if scale is Scale.city:
            console.print(f"Writing a city-wide season of about {events:,} events into {path} ...")
            _city(path, seed, events)
        else:
            console.print(f"Playing the Spring Festival 2027 campaign into {path} ...")
            _street(path, seed)
        console.print(f"\nDone in {time.perf_counter() - started:.1f} s. The store is {path}.")
        _next_steps(store)
