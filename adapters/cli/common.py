"""What every subcommand shares: the store option, opening it, time arguments, errors.

Exit codes follow the usual CLI conventions: 0 done, 1 refused by the books (the
typed message of :mod:`warmcase.errors` on stderr), 2 a usage error (a bad option, a
missing store file, an unreadable time).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, NoReturn
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import warmcase
from warmcase.app import Warmcase
from warmcase.clock import DEFAULT_TIMEZONE
from warmcase.errors import WarmcaseError

#: Where `warmcase demo` writes, and so where the other commands look without --store.
DEFAULT_STORE = "demo-store/warmcase-demo.db"

EXIT_REFUSED = 1
EXIT_USAGE = 2

# Piped into a file or a CI log, rich would wrap every table at 80 columns; reports are
# wider than that, so a non-terminal gets a wide page unless COLUMNS says otherwise.
_PAGE = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160
console = Console(highlight=False, width=_PAGE)
err_console = Console(stderr=True, highlight=False, width=_PAGE)

StoreOption = Annotated[
    str,
    typer.Option(
        "--store",
        envvar="WARMCASE_STORE",
        help="SQLite file path, or a postgresql:// URL.",
        show_default=True,
    ),
]

AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help=(
            "What the books said then: a position (e.g. 1200), a date (its end, "
            "2027-01-20) or a time (2027-01-20T18:00, Beijing time unless an offset is given)."
        ),
    ),
]

EffectiveOption = Annotated[
    str | None,
    typer.Option(
        "--effective",
        help="What was true in the world then: a date (its end) or a time. Defaults to the as-of.",
    ),
]


def is_url(store: str) -> bool:
    """Whether `store` names a server or an in-memory store rather than a SQLite file."""
    return ("://" in store and not store.startswith("sqlite://")) or store.startswith("memory:")


def sqlite_path(store: str) -> Path:
    """The file a SQLite store argument names (a bare path or a sqlite:/// URL)."""
    return Path(store.removeprefix("sqlite:///")) if store.startswith("sqlite:///") else Path(store)


def open_app(store: str, *, create: bool = False) -> Warmcase:
    """Open the store; a SQLite file must exist unless the command creates it."""
    if is_url(store):
        with refusals():
            return warmcase.open(store)
    path = sqlite_path(store)
    if not create and not path.exists():
        fail(
            f"no store at {path}: run `warmcase demo` to make one there, or pass "
            f"--store PATH (or set WARMCASE_STORE) to an existing SQLite file or a "
            f"postgresql:// URL",
            EXIT_USAGE,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with refusals():
        return warmcase.open(f"sqlite:///{path}")


@contextmanager
def progress_bars() -> Iterator[Progress]:
    """Progress bars on the console: label, bar, done of total, time elapsed."""
    with Progress(
        TextColumn("  {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bars:
        yield bars


def fail(message: str, code: int = EXIT_REFUSED) -> NoReturn:
    """Print `message` on stderr and leave with `code`."""
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def refusals() -> Iterator[None]:
    """Turn warmcase's typed errors into exit 1 with the type and message on stderr."""
    try:
        yield
    except WarmcaseError as error:
        fail(f"{type(error).__name__}: {error}", EXIT_REFUSED)


def _moment(text: str, option: str) -> datetime | date:
    try:
        if len(text) == len("2027-01-20"):
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date (2027-01-20) or a time (2027-01-20T18:00[+08:00])",
            param_hint=option,
        ) from None
    # Officials read local wall-clock times; a time without an offset is Beijing time.
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(DEFAULT_TIMEZONE))


def parse_as_of(text: str | None) -> datetime | date | int | None:
    """`--as-of`: a position, a date (its end) or a time; None means now."""
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    return _moment(text, "--as-of")


def parse_effective(text: str | None) -> datetime | date | None:
    """`--effective`: a date (its end) or a time; None means as of the basis."""
    return None if text is None else _moment(text, "--effective")
